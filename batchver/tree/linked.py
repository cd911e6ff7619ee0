"""Versioning exports of *linked* files (modules, vmlinux, ``ld -r`` output).

kbuild runs gendwarfksyms on each object before linking, so the CRC the
kernel embeds for an export comes from the type map of one translation unit.
Run on a linked file, upstream instead shares one type map across all CUs and
takes the first matching DIE in DWARF order, which changes many CRCs.  This
module offers both:

* ``kbuild`` semantics: each export is versioned inside the CU that exported
  it (the CU with its ``__gendwarfksyms_ptr_`` variable, else the CU with its
  definition, else the first CU declaring it), with that CU's types only:
  an upstream run restricted to one unit, which is what the per-object run
  computes for a one-CU object.
* ``file`` semantics: upstream on the whole file.

Units are independent under kbuild semantics, so a huge file is processed as
ranges of units, each in its own worker.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from batchver.dwarf.constants import DW_AT_abstract_origin, DW_AT_declaration
from batchver.gendwarfksyms.gendwarfksyms import (
    Diagnostics, Options, Scopes, Versioner, read_addresses)
from batchver.dwarf.reader import DwarfReader
from batchver.elf.file import ElfObject
from batchver.gendwarfksyms.symbols import SYMBOL_PTR_PREFIX, Symbol, SymbolTable, UNPROCESSED
from batchver.gendwarfksyms.dwarf import symbol_name


@dataclass
class UnitCandidates:
    """The names a unit could supply, split by how it supplies them."""

    index: int
    pointers: set[str] = field(default_factory=set)
    definitions: set[str] = field(default_factory=set)
    declarations: set[str] = field(default_factory=set)
    # Candidate DIEs in DWARF order, as upstream's search meets them: (own
    # name, abstract origin's name, whether the DIE used is a symbol pointer).
    ordered: list[tuple[str | None, str | None, bool]] = field(default_factory=list)

    def keep(self, wanted: set[str]) -> None:
        """Drop what concerns no export (keeps results small)."""
        self.pointers &= wanted
        self.definitions &= wanted
        self.declarations &= wanted
        self.ordered = [c for c in self.ordered
                        if any(_bare(n) in wanted for n in c[:2] if n)]


def scan_units(reader: DwarfReader, indices: range | list[int],
               scopes: Scopes | None = None) -> list[UnitCandidates]:
    """Find, per unit, the exported-symbol candidates upstream's search would
    see: subprograms and variables at top level or inside namespaces,
    classes and structs, by linkage name or name, or their origin's.
    Pass ``scopes`` to keep the walks for versioning the same units."""
    if scopes is None:
        scopes = Scopes(reader)
    out = []
    for index in indices:
        unit = reader.units[index]
        scopes.current = index
        found = UnitCandidates(index)
        for die in scopes.walk_unit(unit):
            origin_key = die.ref(DW_AT_abstract_origin)
            origin = reader.die(origin_key) if origin_key is not None else None
            source = origin if origin is not None else die
            source_name = symbol_name(source)
            found.ordered.append((symbol_name(die), symbol_name(origin) if origin is not None else None,
                                  bool(source_name) and source_name.startswith(SYMBOL_PTR_PREFIX)))
            for name in {symbol_name(die), symbol_name(origin) if origin is not None else None}:
                if not name:
                    continue
                if name.startswith(SYMBOL_PTR_PREFIX):
                    found.pointers.add(name[len(SYMBOL_PTR_PREFIX):])
                elif die.flag(DW_AT_declaration):
                    found.declarations.add(name)
                else:
                    found.definitions.add(name)
        out.append(found)
    return out


def kbuild_assignment(names: list[str], scans: list[UnitCandidates]) -> tuple[dict[int, list[str]], list[str]]:
    """Map each export to the unit that exported it; also return the names
    no unit mentions (they get no version, as upstream)."""
    wanted = set(names)
    chosen: dict[str, int] = {}
    for kind in ("pointers", "definitions", "declarations"):
        for scan in scans:
            for name in getattr(scan, kind) & wanted:
                if name not in chosen:
                    chosen[name] = scan.index
        wanted -= chosen.keys()
    groups: dict[int, list[str]] = {}
    for name in names:
        if name in chosen:
            groups.setdefault(chosen[name], []).append(name)
    missing = [n for n in names if n not in chosen]
    return groups, missing


def _bare(name: str) -> str:
    return name[len(SYMBOL_PTR_PREFIX):] if name.startswith(SYMBOL_PTR_PREFIX) else name


def file_assignment(names: list[str], scans: list[UnitCandidates],
                    elf: ElfObject) -> tuple[dict[int, list[str]], list[str]]:
    """Which unit upstream's whole-file run versions each export in: replay
    its search (first unprocessed match in DWARF order, origin names, symbol
    pointers rendered at the end of their unit, aliases moving together)."""
    table = SymbolTable(names)
    read_addresses(table, elf, Diagnostics(Options()))  # the run itself reports any warnings
    chosen: dict[str, int] = {}

    def take(sym: Symbol, index: int) -> None:
        table.set_die(sym, index)
        table.for_each(sym.name, lambda s: chosen.setdefault(s.name, index))

    for scan in scans:
        for own, origin, is_pointer in scan.ordered:
            sym = table.get_unprocessed(own)
            if sym is None and origin is not None:
                sym = table.get_unprocessed(origin)
            if sym is None:
                continue
            if is_pointer:
                table.set_ptr(sym, scan.index)
            else:
                take(sym, scan.index)
        for sym in table:
            if sym.state == UNPROCESSED and sym.ptr_key is not None:
                take(sym, scan.index)
    groups: dict[int, list[str]] = {}
    for name in names:
        if name in chosen:
            groups.setdefault(chosen[name], []).append(name)
    return groups, [n for n in names if n not in chosen]


@dataclass
class GroupResult:
    """Versions of the exports assigned to one unit."""

    unit: int
    unit_name: str
    versions: dict[str, int | None]
    symtypes: list[tuple[str, str]]
    warnings: list[str]
    producers: list[str]
    stages: dict[str, float]


def version_unit_groups(reader: DwarfReader, path: str, groups: dict[int, list[str]],
                        stable: bool, symtypes: bool, scopes: Scopes | None = None) -> list[GroupResult]:
    """Run upstream's pipeline once per unit on that unit's exports only
    (``scopes``: the walks of a scan of these units, if there was one)."""
    out = []
    for index in sorted(groups):
        opts = Options(stable=stable, symtypes=symtypes)
        diag = Diagnostics(opts)
        versioner = Versioner(groups[index], opts, diag)
        result = versioner.process_reader(reader, path, [index], scopes=scopes)
        versions = {name: (crc if ok else None) for name, crc, ok in versioner.finish()}
        cu = reader.unit_die(reader.units[index])
        unit_name = (cu.name if cu is not None else None) or f"unit@{reader.units[index].offset:#x}"
        out.append(GroupResult(index, unit_name, versions, result.symtypes, diag.warnings,
                               result.producers, result.stages))
        reader.forget()
    return out


def unit_ranges(reader: DwarfReader, parts: int) -> list[range]:
    """Split the units into ``parts`` contiguous ranges of similar DWARF size."""
    units = reader.units
    if not units:
        return []
    sizes = [u.end - u.offset for u in units]
    total = sum(sizes)
    target = max(1, total // max(1, parts))
    ranges = []
    start = 0
    acc = 0
    for i, size in enumerate(sizes):
        acc += size
        if acc >= target and len(ranges) < parts - 1:
            ranges.append(range(start, i + 1))
            start, acc = i + 1, 0
    if start < len(units):
        ranges.append(range(start, len(units)))
    return ranges
