"""Members of GNU thin archives (``vmlinux.a``, ``built-in.a``).

kbuild links vmlinux from a thin archive: the archive lists member paths but
holds no member data, so which objects are built in is read from its member
headers and its long-name table alone.

A member header's 16-byte name field holds either a short name ending in
``/`` or ``/<offset>`` into the ``//`` long-name table.  GNU ar (seen with
binutils 2.40) first writes the member's basename there, truncated and
ended with ``/``, and then writes ``/<offset>`` over its start without
clearing the rest, so some fields read ``/7388          /``: only the digits
right after the leading ``/`` are the offset.
"""

from __future__ import annotations

import os
import re

from batchver.errors import VersioningError

THIN_MAGIC = b"!<thin>\n"
HEADER_SIZE = 60
_LONG_NAME = re.compile(rb"/(\d+)")
_SYMBOL_TABLES = (b"/", b"/SYM64/")


def read_thin_archive(path: str) -> list[str]:
    """Member paths of a GNU thin archive (joined to the archive's folder),
    in archive order, following nested thin archives."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise VersioningError("discover", f"cannot read '{path}': {exc.strerror}", path) from None
    if not data.startswith(THIN_MAGIC):
        raise VersioningError("discover", f"'{path}' is not a thin archive", path)
    pos = len(THIN_MAGIC)
    names = b""
    members: list[str] = []
    base = os.path.dirname(path)
    while pos + HEADER_SIZE <= len(data):
        header = data[pos:pos + HEADER_SIZE]
        if header[58:60] != b"`\n":
            raise VersioningError("discover", f"'{path}': broken member header at byte {pos}", path)
        field = header[:16].rstrip(b" ")
        size_field = header[48:58].strip()
        if not size_field.isdigit():
            raise VersioningError("discover", f"'{path}': member size '{size_field.decode(errors='replace')}'"
                                  f" at byte {pos} is not a number", path)
        size = int(size_field)
        pos += HEADER_SIZE
        if field == b"//" or field in _SYMBOL_TABLES:
            # The only members whose data a thin archive holds.
            if field == b"//":
                names = data[pos:pos + size]
            pos += size + (size & 1)
            continue
        member = _member_name(field, names, path)
        rel = os.path.normpath(os.path.join(base, member.decode("utf-8", "surrogateescape")))
        if rel.endswith(".a") and os.path.isfile(rel):
            members.extend(read_thin_archive(rel))
        else:
            members.append(rel)
    return members


def _member_name(field: bytes, names: bytes, path: str) -> bytes:
    """A member's path from its header name field and the long-name table."""
    long_name = _LONG_NAME.match(field)
    if long_name is None:
        return field.rstrip(b"/")
    start = int(long_name.group(1))
    if start >= len(names):
        raise VersioningError("discover", f"'{path}': member name offset {start} is past the "
                              f"end of the name table ({len(names)} bytes)", path)
    end = names.find(b"/\n", start)
    return names[start:end if end >= 0 else len(names)]
