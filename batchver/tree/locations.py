"""Source locations of what a symtypes block names, kept beside the symtypes.

A root cause is far more useful with the header line that declares it, so
``batchver run --symtypes`` also records, per symtypes block, the
``DW_AT_decl_file``/``DW_AT_decl_line`` of every named type of the block
(``s#``, ``u#``, ``e#``, ``t#`` keys, named as the type map names them) and
of each export's own declaration, with the members, enumerators and
parameters that carry one.  The symtypes themselves stay byte-identical to
upstream's: locations live in ``symtypes/<module>.locations.jsonl``, one
JSON object per block::

    {"origin": "fs/x.o", "files": ["include/linux/device.h", ...],
     "at": {"s#device_type": [0, 88, {"need_parent_lock": [0, 95]}], "x_open": [1, 12]}}

``files`` are indices of ``[file, line(, {item: [file, line]})]``.

Paths are made relative to the kernel source root so that two builds made in
different directories compare: a file's line-table directory and name are
joined onto the unit's ``DW_AT_comp_dir`` (kbuild compiles from the top of the
tree, so that is the source root of an in-tree build), then

* a path under ``DW_AT_comp_dir`` loses that prefix (``/src/linux/include/x.h``
  with comp_dir ``/src/linux`` -> ``include/x.h``; Debian's relative comp_dir
  ``debian/build/build_amd64_none_cloud-amd64`` is stripped the same way,
  whether a directory repeats it or is relative to it);
* a path under the unit's source tree, when it was built outside it
  (``make O=``: comp_dir is the object tree), loses that prefix; the source
  tree is the directory holding the ``include/linux`` the unit's headers
  come from (:func:`source_tree`);
* another absolute path loses everything up to its last directory named
  ``linux-*``, the way distributions name the unpacked source
  (``/build/reproducible-path/linux-6.12.57/include/x.h`` -> ``include/x.h``);
* anything else (gcc's ``stddef.h``) is kept as it is.
"""

from __future__ import annotations

import json
import posixpath
from typing import TypedDict, Union

from batchver.dwarf.constants import (
    DW_AT_comp_dir, DW_AT_decl_file, DW_AT_decl_line, DW_AT_declaration, DW_AT_name,
    DW_TAG_class_type, DW_TAG_enumerator, DW_TAG_formal_parameter, DW_TAG_member,
    DW_TAG_namespace, DW_TAG_structure_type, DW_TAG_subprogram, DW_TAG_variable)
from batchver.dwarf.reader import Die, DwarfReader, Unit
from batchver.elf.file import ElfObject
from batchver.errors import VersioningError
from batchver.gendwarfksyms.dwarf import Scopes
from batchver.gendwarfksyms.types import TYPE_PREFIX

LOCATIONS_SUFFIX = ".locations.jsonl"

# DIEs a location may be recorded for, and the containers whose children can
# be named types too (the prefix-passing scopes of the type map's names).
_TYPES = frozenset(TYPE_PREFIX)
_DECLARATIONS = frozenset((DW_TAG_subprogram, DW_TAG_variable))
_SCOPES = frozenset((DW_TAG_namespace, DW_TAG_class_type, DW_TAG_structure_type))
_ITEMS = frozenset((DW_TAG_member, DW_TAG_enumerator, DW_TAG_formal_parameter))
_WANTED = _TYPES | _DECLARATIONS | _SCOPES


def _rooted(path: str, root: str) -> str:
    """``path`` joined onto ``root`` (the unit's comp_dir), normalised; a
    path that already repeats a relative comp_dir is rooted there."""
    full = posixpath.normpath(path)
    if root and not full.startswith(root + "/"):
        full = posixpath.normpath(posixpath.join(root, path))
    return full


def _comp_root(comp_dir: str) -> str:
    root = posixpath.normpath(comp_dir) if comp_dir else ""
    return "" if root == "." else root


def source_tree(paths: list[str], comp_dir: str) -> str:
    """The source root of a unit built outside its sources (``make O=``):
    the directory holding the ``include/linux`` its headers come from (the
    shortest, should there be several), or "" when that is comp_dir itself
    or no such header is included."""
    root = _comp_root(comp_dir)
    found = ""
    for path in paths:
        full = _rooted(path, root)
        at = full.find("/include/linux/")
        if at > 0 and (not found or at < len(found)):
            found = full[:at]
    return "" if found == root else found


def source_relative(path: str, comp_dir: str, srctree: str = "") -> str:
    """``path`` (relative to ``comp_dir`` unless absolute) relative to the
    kernel source root, by the rules of the module docstring; ``srctree``
    is :func:`source_tree` of the unit."""
    root = _comp_root(comp_dir)
    full = _rooted(path, root)
    for prefix in (root, srctree):
        if prefix and full.startswith(prefix + "/"):
            return full[len(prefix) + 1:]
    if full.startswith("/"):
        parts = full.split("/")
        for index in range(len(parts) - 2, 0, -1):
            if parts[index].startswith("linux-"):
                return "/".join(parts[index + 1:])
    return full


# [file number, line], and the {name: [file number, line]} of its items if any
Location = list[Union[int, dict[str, list[int]]]]


class LocationsBlock(TypedDict):
    """One block of a locations file, without its origin."""

    files: list[str]
    at: dict[str, Location]


class _Unit:
    """One unit's files, resolved once, and its interned file list."""

    def __init__(self, reader: DwarfReader, unit: Unit, files: list[str], numbers: dict[str, int]):
        cu = reader.unit_die(unit)
        comp_dir = (cu.string(DW_AT_comp_dir) if cu is not None else None) or ""
        try:
            paths = reader.source_paths(unit)
        except VersioningError:  # no line table: no locations, never a failed file
            paths = []
        srctree = source_tree(paths, comp_dir)
        self.paths = [source_relative(p, comp_dir, srctree) for p in paths]
        self.files = files
        self.numbers = numbers

    def at(self, die: Die) -> list[int] | None:
        """[file number, line] of a DIE, or None without both attributes."""
        index, line = die.udata(DW_AT_decl_file), die.udata(DW_AT_decl_line)
        if index is None or line is None or not 0 <= index < len(self.paths):
            return None
        path = self.paths[index]
        number = self.numbers.get(path)
        if number is None:
            number = self.numbers[path] = len(self.files)
            self.files.append(path)
        return [number, line]


def block_locations(reader: DwarfReader, units: list[int], keys: set[str]) -> LocationsBlock:
    """The locations of ``keys`` (a block's symtypes keys) found in
    ``units``, as one block of the locations file (without its origin).
    The first definition in DWARF order wins, as in the type map; a
    declaration counts only when no unit defines the type."""
    files: list[str] = []
    numbers: dict[str, int] = {}
    found: dict[str, Location] = {}
    declared: dict[str, Location] = {}
    for index in units:
        unit = reader.units[index]
        cu = reader.unit_die(unit)
        if cu is None:
            continue
        where = _Unit(reader, unit, files, numbers)
        pending: list[tuple[Die, str | None]] = [(cu, None)]
        while pending:
            scope, prefix = pending.pop()
            for key, tag in reader.child_entries(scope):
                if tag not in _WANTED:
                    continue
                die = reader.die(key, unit)
                assert die is not None, "child_entries yields no null entries"
                name, passes = Scopes._names(die, prefix)
                if passes is not None and die.has_children and tag in _SCOPES:
                    pending.append((die, passes))
                if not name:
                    continue
                token = _token(tag, name)
                if token not in keys or token in found:
                    continue
                at = where.at(die)
                if at is None:
                    continue
                location: Location = [*at]
                items = _items(reader, die, where)
                if items:
                    location.append(items)
                if die.flag(DW_AT_declaration):
                    declared.setdefault(token, location)
                else:
                    found[token] = location
    for token, declaration in declared.items():
        found.setdefault(token, declaration)
    return {"files": files, "at": dict(sorted(found.items()))}


def _token(tag: int, name: str) -> str:
    """The symtypes key of a named DIE: ``s#name`` for a type, quoted as
    the type map quotes a name with spaces, the bare name for an export's
    declaration, "" for a scope that is not a type (a namespace)."""
    if tag in _DECLARATIONS:
        return name
    prefix = TYPE_PREFIX.get(tag)
    if prefix is None:
        return ""
    return f"{prefix}#'{name}'" if " " in name else f"{prefix}#{name}"


def _items(reader: DwarfReader, die: Die, where: _Unit) -> dict[str, list[int]]:
    """Named members, enumerators and parameters of ``die`` that have a
    location (the first of a name wins: a name is an item's identity in
    the check's diffs)."""
    if not die.has_children:
        return {}
    items: dict[str, list[int]] = {}
    for child in reader.children(die):
        if child.tag not in _ITEMS:
            continue
        name = child.string(DW_AT_name)
        if name is None or name in items:
            continue
        at = where.at(child)
        if at is not None:
            items[name] = at
    return items


def locations_line(origin: str, block: LocationsBlock) -> str:
    """One line of a ``.locations.jsonl`` file."""
    return json.dumps({"origin": origin, **block}, separators=(",", ":")) + "\n"


def file_locations(path: str, keys: set[str]) -> LocationsBlock:
    """:func:`block_locations` over every unit of the file at ``path`` (an
    object versioned whole, or a linked file under ``--semantics file``)."""
    elf = ElfObject(path)
    try:
        reader = DwarfReader(elf)
        return block_locations(reader, list(range(len(reader.units))), keys)
    finally:
        elf.close()
