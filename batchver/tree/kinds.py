"""The two choices that shape a whole run: what kind of tree it is, and
which compile units version a linked file's exports.

Both are written into ``report.json`` and compared with what users type
(``--kind``, ``--semantics``, a nightly config), so they are string enums:
a member is equal to, prints as and JSON-encodes as its value.
"""

from __future__ import annotations

from enum import Enum


class _Named(str, Enum):
    """A string enum whose members print as their values (``enum.StrEnum``
    from Python 3.11 on)."""

    __str__ = str.__str__

    def __format__(self, format_spec: str) -> str:
        return str.__format__(self, format_spec)


class TreeKind(_Named):
    """``built``: a kbuild tree with its objects, each versioned as kbuild
    does; ``linked``: only linked files (vmlinux, ``*.ko``), as a distro
    ships them with their debug information."""

    BUILT = "built"
    LINKED = "linked"


class Semantics(_Named):
    """Which DWARF versions a linked file's exports: ``kbuild``, the compile
    unit kbuild itself versioned each export in (the CRCs kbuild embeds);
    ``file``, upstream gendwarfksyms run on the whole linked file.  A built
    tree always has kbuild's."""

    KBUILD = "kbuild"
    FILE = "file"
