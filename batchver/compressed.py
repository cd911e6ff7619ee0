"""Files distributions ship compressed as a whole, read transparently and
within a bound.

Modules come as ``.ko.xz``, ``.ko.zst`` or ``.ko.gz`` (kbuild's
``MODULE_COMPRESS_*``) and RHEL/SUSE keep a kernel's symbol versions as
``/boot/symvers-<version>.gz``.  Compression is recognised by the magic
bytes, not the name (a renamed or uncompressed copy reads the same), and
the contents are decompressed in memory: nothing is written to disk.

Compressed input is untrusted (a third party's module can be a
decompression bomb: a real module followed by gigabytes of zeros packs
into a few hundred kilobytes), so every decompression here is streamed
and refused past :data:`MAX_DECOMPRESSED`, holding at most
:data:`KEPT_WHILE_COUNTING` bytes while it finds out.  ELF sections
compressed with zlib or zstd (``SHF_COMPRESSED``, ``.zdebug_*``) go
through the same bounded path.
"""

from __future__ import annotations

import lzma
import mmap
import zlib
from typing import Iterator

from batchver.errors import VersioningError

# leading bytes of each whole-file compression
_MAGIC = ((b"\xfd7zXZ\x00", "xz"), (b"\x1f\x8b", "gzip"), (b"\x28\xb5\x2f\xfd", "zstd"))
# file name endings of compressed files, as kbuild and distros name them
COMPRESSED_SUFFIXES = (".xz", ".zst", ".gz")

#: The most bytes one compressed input may decompress to (1 GiB).  The
#: largest real module, a distro's debug ``.ko`` with full DWARF (amdgpu),
#: is about 250 MB: four times that leaves room for growth, while a bomb
#: is refused after decompressing no more than this, never exhausting the
#: machine.
MAX_DECOMPRESSED = 1 << 30
#: Output held in memory before the size of the whole is known (64 MiB).
#: Anything bigger is first only counted (discarding the output) up to the
#: bound, then decompressed again to keep: a bomb is refused holding no
#: more than this, and the rare real input this big costs one more pass.
KEPT_WHILE_COUNTING = 64 << 20
_CHUNK = 4 << 20  # output produced per step
#: What a compressed input may be: bytes in memory, or a mapped file (an ELF
#: file is mapped before its first bytes say it is compressed).
Data = bytes | mmap.mmap


def compression_of(data: Data) -> str | None:
    """``"xz"``, ``"gzip"``, ``"zstd"`` or None (not compressed)."""
    head = bytes(data[:6])
    return next((kind for magic, kind in _MAGIC if head.startswith(magic)), None)


def _failed(what: str | None, kind: str) -> str:
    return f"cannot decompress{'' if what is None else ' ' + what} ({kind})"


def _zstd_chunks(data: Data, path: str, what: str | None) -> Iterator[bytes]:
    """zstd is not in the standard library: the ``zstandard`` package (a
    declared dependency) reads it, as a stream across frames (one-shot
    decompression would allocate whatever size a frame header claims)."""
    try:
        import zstandard
    except ImportError:
        raise VersioningError("main", f"{what or 'the file'} is zstd-compressed; install the "
                              "'zstandard' package to read it", path) from None
    try:
        # the reader ends quietly where a cut-short frame ends: the size its
        # header declares (zstd and kbuild write it) tells the difference
        declared = zstandard.get_frame_parameters(bytes(data[:18])).content_size
        reader = zstandard.ZstdDecompressor().stream_reader(bytes(data), read_across_frames=True)
        total = 0
        while chunk := reader.read(_CHUNK):
            total += len(chunk)
            yield chunk
        if declared not in (zstandard.CONTENTSIZE_UNKNOWN, zstandard.CONTENTSIZE_ERROR) \
                and total < declared:
            raise zstandard.ZstdError(f"data ended after {total:,} of the {declared:,} bytes "
                                      "its frame declares")
    except zstandard.ZstdError as exc:
        raise VersioningError("main", f"{_failed(what, 'zstd')}: {exc}", path) from None


def _stream_chunks(data: Data, kind: str, path: str, what: str | None) -> Iterator[bytes]:
    """xz, gzip or raw zlib output in steps of at most ``_CHUNK`` bytes;
    concatenated xz streams or gzip members are read on, as ``xz -d`` and
    ``gzip -d`` do, and bytes after the last one that start no new stream
    are ignored, as the standard library's one-shot functions do."""
    def new() -> lzma.LZMADecompressor | zlib._Decompress:
        if kind == "xz":
            return lzma.LZMADecompressor()
        return zlib.decompressobj(wbits=31 if kind == "gzip" else 15)

    magic = dict((k, m) for m, k in _MAGIC).get(kind)
    pending = bytes(data)
    decoder = new()
    try:
        while True:
            if isinstance(decoder, lzma.LZMADecompressor):
                out = decoder.decompress(pending, max_length=_CHUNK)
                pending = b""
                stuck = decoder.needs_input
            else:
                out = decoder.decompress(pending, _CHUNK)
                pending = decoder.unconsumed_tail
                stuck = not pending
            if out:
                yield out
            if decoder.eof:
                rest = decoder.unused_data
                if magic is None or not rest.startswith(magic):
                    return
                pending, decoder = rest, new()
            elif stuck and not out:
                raise EOFError("compressed data ended before the end-of-stream marker")
    except (lzma.LZMAError, zlib.error, EOFError) as exc:
        raise VersioningError("main", f"{_failed(what, kind)}: {exc}", path) from None


def _chunks(data: Data, kind: str, path: str, what: str | None) -> Iterator[bytes]:
    if kind == "zstd":
        return _zstd_chunks(data, path, what)
    return _stream_chunks(data, kind, path, what)


def decompress(data: Data, kind: str, path: str, what: str | None = None,
               limit: int = MAX_DECOMPRESSED) -> bytes:
    """The whole of ``data`` decompressed (``kind``: ``xz``, ``gzip``,
    ``zstd`` or ``zlib``); ``what`` names a part of the file (a section)
    in messages.  VersioningError, with the file as its path,
    when the data is corrupt or cut short, or decompresses to more than
    ``limit`` bytes."""
    kept: list[bytes] | None = []
    total = 0
    for chunk in _chunks(data, kind, path, what):
        total += len(chunk)
        if total > limit:
            raise VersioningError(
                "main", f"refused: {what or 'the file'} decompresses ({kind}) to more than {limit:,} bytes "
                f"from {len(data):,} (a decompression bomb, or damaged)", path)
        if kept is not None:
            kept.append(chunk)
            if total > min(KEPT_WHILE_COUNTING, limit):
                kept = None  # only count from here on
    if kept is None:
        kept = list(_chunks(data, kind, path, what))
    return b"".join(kept)


def zstd_decompress(payload: bytes, path: str, what: str, size: int = 0) -> bytes:
    """A zstd payload whose decompressed size is known, like an ELF
    section's (``size``, 0 when unknown): refused past that size as past
    :data:`MAX_DECOMPRESSED`."""
    return decompress(payload, "zstd", path, what, min(size, MAX_DECOMPRESSED) or
                      MAX_DECOMPRESSED)


def read_file(path: str) -> bytes:
    """A file's contents, decompressed if it is compressed (OSError as
    ``open`` raises it)."""
    with open(path, "rb") as handle:
        data = handle.read()
    kind = compression_of(data)
    return data if kind is None else decompress(data, kind, path)
