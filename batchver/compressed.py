"""Files distributions ship compressed as a whole, read transparently.

Modules come as ``.ko.xz``, ``.ko.zst`` or ``.ko.gz`` (kbuild's
``MODULE_COMPRESS_*``) and RHEL/SUSE keep a kernel's symbol versions as
``/boot/symvers-<version>.gz``.  Compression is recognised by the magic
bytes, not the name (a renamed or uncompressed copy reads the same), and
the contents are decompressed in memory: nothing is written to disk.
"""

from __future__ import annotations

import gzip
import lzma
import zlib

from batchver.errors import VersioningError

# leading bytes of each whole-file compression
_MAGIC = ((b"\xfd7zXZ\x00", "xz"), (b"\x1f\x8b", "gzip"), (b"\x28\xb5\x2f\xfd", "zstd"))
# file name endings of compressed files, as kbuild and distros name them
COMPRESSED_SUFFIXES = (".xz", ".zst", ".gz")


def compression_of(data: bytes) -> str | None:
    """``"xz"``, ``"gzip"``, ``"zstd"`` or None (not compressed)."""
    head = bytes(data[:6])
    return next((kind for magic, kind in _MAGIC if head.startswith(magic)), None)


def zstd_decompress(payload: bytes, path: str, what: str, size: int = 0) -> bytes:
    """zstd is not in the standard library: the ``zstandard`` package (a
    declared dependency) reads it.  ``size`` is the known output size, if
    any; a frame without one (as ``zstd`` writes when streaming) is read as
    a stream."""
    try:
        import zstandard
    except ImportError:
        raise VersioningError("main", f"{what} is zstd-compressed; install the "
                              "'zstandard' package to read it", path) from None
    try:
        if size:
            return zstandard.ZstdDecompressor().decompress(payload, max_output_size=size)
        return zstandard.ZstdDecompressor().stream_reader(bytes(payload)).read()
    except zstandard.ZstdError as exc:
        raise VersioningError("main", f"cannot decompress {what} (zstd): {exc}",
                              path) from None


def decompress(data: bytes, kind: str, path: str) -> bytes:
    """A whole compressed file's contents (VersioningError, with the file as
    its path, when the data is corrupt or cut short)."""
    try:
        if kind == "xz":
            return lzma.decompress(data)
        if kind == "gzip":
            return gzip.decompress(data)
        return zstd_decompress(data, path, "the file")
    except (lzma.LZMAError, OSError, EOFError, zlib.error) as exc:
        raise VersioningError("main", f"cannot decompress ({kind}): {exc}",
                              path) from None


def read_file(path: str) -> bytes:
    """A file's contents, decompressed if it is compressed (OSError as
    ``open`` raises it)."""
    with open(path, "rb") as handle:
        data = handle.read()
    kind = compression_of(data)
    return data if kind is None else decompress(data, kind, path)
