"""Members of GNU thin archives (``vmlinux.a``, ``built-in.a``).

kbuild links vmlinux from a thin archive: the archive lists member paths but
holds no member data, so which objects are built in is read from its member
headers and its long-name table alone.
"""

from __future__ import annotations

import os

from batchver.errors import VersioningError


def read_thin_archive(path: str) -> list[str]:
    """Member paths of a GNU thin archive (relative to the archive's folder),
    following nested thin archives."""
    with open(path, "rb") as handle:
        data = handle.read()
    if not data.startswith(b"!<thin>\n"):
        raise VersioningError("discover", f"'{path}' is not a thin archive", path)
    pos = 8
    names = b""
    members: list[str] = []
    base = os.path.dirname(path)
    while pos + 60 <= len(data):
        header = data[pos:pos + 60]
        name = header[:16].rstrip(b" ")
        size = int(header[48:58].strip() or b"0")
        pos += 60
        if name == b"//":
            names = data[pos:pos + size]
            pos += size + (size & 1)
            continue
        if name in (b"/", b"/SYM64/"):
            pos += size + (size & 1)
            continue
        if name.startswith(b"/") and names:
            start = int(name[1:])
            end = names.find(b"/\n", start)
            member = names[start:end if end >= 0 else len(names)]
        else:
            member = name.rstrip(b"/")
        rel = os.path.normpath(os.path.join(base, member.decode("utf-8", "surrogateescape")))
        if rel.endswith(".a") and os.path.isfile(rel):
            members.extend(read_thin_archive(rel))
        else:
            members.append(rel)
        # thin archive members have no data in the archive
    return members
