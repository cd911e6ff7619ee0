"""Versioning exports of *linked* files (modules, vmlinux, ``ld -r`` output).

kbuild runs gendwarfksyms on each object before linking, so the CRC the
kernel embeds for an export comes from the type map of one translation unit.
Run on a linked file, upstream instead shares one type map across all CUs and
takes the first matching DIE in DWARF order, which changes many CRCs.  This
module offers both:

* ``kbuild`` semantics: each export is versioned inside the CU kbuild would
  have run gendwarfksyms on, with that CU's types only (an upstream run
  restricted to one unit, which is what the per-object run computes for a
  one-CU object).  That CU is found from what ``EXPORT_SYMBOL`` leaves in
  the exporting CU's DWARF (``include/linux/export.h``):

  1. the ``__gendwarfksyms_ptr_<sym>`` variable (``CONFIG_GENDWARFKSYMS``);
  2. else the static variable ``__ADDRESSABLE(sym)`` expands to,
     ``__UNIQUE_ID___addressable_<sym><N>`` (6.x) or
     ``__UNIQUE_ID_addressable_<sym>_<N>`` (7.x), there in every kernel
     since 6.5 whatever its configuration;
  3. else, as for a Rust crate (one object, one CU, versioned by
     ``rust/Makefile`` with the crate's own exported symbols), the CU that
     defines it;
  4. else the first CU declaring it (rustc describes a method as a
     declaration inside its type, so this is also how a crate's methods
     are found); gcc's declaration of a builtin it called (``__builtin_*``)
     is no prototype and does not count.

  A unit kbuild never versions although it exports (``rust/exports.c``,
  which declares every Rust export as an ``int``) is passed over, and so is
  an assembler unit (``DW_LANG_Mips_Assembler``): the assembler describes a
  label as a subprogram of unspecified type, which is no type at all.
  kbuild versions an assembler export from a C stand-in built from
  ``asm/asm-prototypes.h`` that is never linked, so such an export takes its
  type from a C unit declaring it, or has none (``no-information``, with
  the reason in :attr:`Assignment.caveats`).

  Each unit is versioned as the object it came from: an export the unit
  only declares was undefined there, so it is no alias of the export that
  shares its address in the linked file (a linker-script alias such as
  x86's ``const_current_task = current_task``).

  Steps 3 and 4 are guesses for C: an export they version, or one whose
  marker sits in several CUs, is named in :attr:`Assignment.caveats`, so a
  run reports it instead of calling a possibly wrong CRC "ok".
* ``file`` semantics: upstream on the whole file.

Units are independent under kbuild semantics, so a huge file is processed as
ranges of units, each in its own worker.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from batchver.dwarf.constants import (
    DW_AT_abstract_origin, DW_AT_declaration, DW_AT_language, DW_AT_name,
    DW_LANG_Mips_Assembler, DW_LANG_Rust)
from batchver.gendwarfksyms.gendwarfksyms import Versioner
from batchver.gendwarfksyms.options import Diagnostics, Options
from batchver.dwarf.reader import DwarfReader
from batchver.elf.file import ElfObject
from batchver.gendwarfksyms.symbols import SYMBOL_PTR_PREFIX, Symbol, SymbolTable, UNPROCESSED, read_addresses
from batchver.gendwarfksyms.dwarf import Scopes, symbol_name

# The variable ``__ADDRESSABLE(sym)`` defines in the exporting CU:
# ``__UNIQUE_ID_`` pasted to ``__addressable_<sym>`` and ``__COUNTER__`` up to
# 6.x, ``__UNIQUE_ID_addressable_<sym>_<counter>`` since 7.x (prefix, what
# separates the symbol from the counter).
ADDRESSABLE_FORMS = (("__UNIQUE_ID___addressable_", ""), ("__UNIQUE_ID_addressable_", "_"))

# Units holding EXPORT_SYMBOLs that kbuild never runs gendwarfksyms on: rust/
# Makefile sets ``skip_gendwarfksyms`` for ``exports.o``, whose
# ``extern int sym; EXPORT_SYMBOL_GPL(sym)`` lines export the symbols of the
# Rust crates and C helpers; those objects are versioned instead.
UNVERSIONED_UNITS = ("rust/exports.c",)


# gcc's declaration of a builtin it emitted a library call for (DW_AT_name
# ``__builtin_memcpy``, DW_AT_linkage_name ``memcpy``, no type, no
# parameters): it describes no prototype, so no export takes its type.
BUILTIN_PREFIX = "__builtin_"


def addressed_names(name: str) -> list[str]:
    """The symbols an ``__ADDRESSABLE`` variable's name can stand for: the
    counter's length is unknown, so every split of the trailing digits (the
    caller keeps those that are exports)."""
    for prefix, separator in ADDRESSABLE_FORMS:
        if not name.startswith(prefix):
            continue
        rest = name[len(prefix):]
        digits = len(rest) - len(rest.rstrip("0123456789"))
        out = []
        for width in range(1, digits + 1):
            head = rest[:-width]
            if separator and head.endswith(separator):
                head = head[:-len(separator)]
            elif separator:
                continue
            if head:
                out.append(head)
        return out
    return []


def is_unversioned_unit(name: str | None) -> bool:
    path = (name or "").replace("\\", "/")
    return any(path == unit or path.endswith("/" + unit) for unit in UNVERSIONED_UNITS)


@dataclass
class UnitCandidates:
    """The names a unit could supply, split by how it supplies them."""

    index: int
    name: str = ""
    rust: bool = False  # a Rust crate: DW_AT_language is DW_LANG_Rust
    assembler: bool = False  # a .S unit: DW_AT_language is DW_LANG_Mips_Assembler
    unversioned: bool = False  # kbuild never versions this unit (UNVERSIONED_UNITS)
    pointers: set[str] = field(default_factory=set)
    addressed: set[str] = field(default_factory=set)
    definitions: set[str] = field(default_factory=set)
    declarations: set[str] = field(default_factory=set)
    # Candidate DIEs in DWARF order, as upstream's search meets them: (own
    # name, abstract origin's name, whether the DIE used is a symbol pointer).
    ordered: list[tuple[str | None, str | None, bool]] = field(default_factory=list)

    @property
    def typed(self) -> bool:
        """Whether kbuild semantics may take an export's type from this unit."""
        return not (self.unversioned or self.assembler)

    def only_declared(self) -> set[str]:
        """The names this unit declares and does not define: undefined in
        the object it was compiled into.  In C a declaration is an
        ``extern``; rustc describes every method as a declaration inside
        its type, and a method LLVM merged into an identical one is an
        alias defined in the crate with no other DIE, so a Rust unit's
        declarations say nothing about what its object defines."""
        return set() if self.rust else self.declarations - self.definitions

    def keep(self, wanted: set[str]) -> None:
        """Drop what concerns no export (keeps results small)."""
        self.pointers &= wanted
        self.addressed &= wanted
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
        cu = reader.unit_die(unit)
        language = cu.udata(DW_AT_language) if cu is not None else None
        found = UnitCandidates(index, name=_unit_name(reader, index), rust=language == DW_LANG_Rust,
                               assembler=language == DW_LANG_Mips_Assembler)
        found.unversioned = is_unversioned_unit(found.name)
        for die in scopes.walk_unit(unit):
            origin_key = die.ref(DW_AT_abstract_origin)
            origin = reader.die(origin_key) if origin_key is not None else None
            source = origin if origin is not None else die
            source_name = symbol_name(source)
            found.ordered.append((symbol_name(die), symbol_name(origin) if origin is not None else None,
                                  (source_name or "").startswith(SYMBOL_PTR_PREFIX)))
            for name in {symbol_name(die), symbol_name(origin) if origin is not None else None}:
                if not name:
                    continue
                if name.startswith(SYMBOL_PTR_PREFIX):
                    found.pointers.add(name[len(SYMBOL_PTR_PREFIX):])
                elif addressed := addressed_names(name):
                    found.addressed.update(addressed)
                elif die.flag(DW_AT_declaration):
                    if not (die.string(DW_AT_name) or "").startswith(BUILTIN_PREFIX):
                        found.declarations.add(name)
                else:
                    found.definitions.add(name)
        out.append(found)
    return out


@dataclass
class Assignment:
    """Where kbuild semantics versions each export of a linked file."""

    groups: dict[int, list[str]]  # unit index -> its exports, in the caller's order
    missing: list[str]  # no unit gives them a type: no version, as upstream
    # export -> why its CRC may not be the one kbuild embeds, or (missing
    # exports) why it has none
    caveats: dict[str, str]
    # unit index -> the exports of its group it only declares (see
    # UnitCandidates.only_declared): they alias nothing in its run
    undefined: dict[int, list[str]]


MARKERS = ("pointers", "addressed")
KINDS = MARKERS + ("definitions", "declarations")


def kbuild_assignment(names: list[str], scans: list[UnitCandidates]) -> Assignment:
    """Map each export to the unit kbuild would have versioned it in (see
    the module's docstring for the order of the rules)."""
    wanted = set(names)
    found: dict[str, dict[str, list[UnitCandidates]]] = {}
    for scan in scans:
        for kind in KINDS:
            for name in getattr(scan, kind) & wanted:
                found.setdefault(name, {}).setdefault(kind, []).append(scan)
    chosen: dict[str, int] = {}
    caveats: dict[str, str] = {}
    for name, kinds in found.items():
        for kind in KINDS:
            units = [u for u in kinds.get(kind, ()) if u.typed]
            if units:
                chosen[name] = units[0].index
                why = _caveat(kind, units, kinds)
                if why:
                    caveats[name] = why
                break
        else:
            caveats[name] = _unversioned_because(kinds)
    groups: dict[int, list[str]] = {}
    for name in names:
        if name in chosen:
            groups.setdefault(chosen[name], []).append(name)
        elif name not in found:
            caveats[name] = "no compile unit describes it: there is no type to version it with"
    by_index = {scan.index: scan for scan in scans}
    undefined = {index: sorted(by_index[index].only_declared().intersection(group))
                 for index, group in groups.items()}
    return Assignment(groups, [n for n in names if n not in chosen], caveats,
                      {index: group for index, group in undefined.items() if group})


def _unversioned_because(kinds: dict[str, list[UnitCandidates]]) -> str:
    """Why the units that mention an export give it no type."""
    assembled = _assembled_in(kinds)
    if assembled:
        return (f"an assembler export (defined in {assembled}) that no C unit declares: kbuild versions it "
                "from a C stand-in that is not linked into this file")
    unit = next(u for units in kinds.values() for u in units)
    return f"only {unit.name} mentions it, and kbuild never versions that unit"


def _caveat(kind: str, units: list[UnitCandidates], kinds: dict[str, list[UnitCandidates]]) -> str:
    """Why the unit chosen by rule ``kind`` may not be kbuild's ('' if it is)."""
    if kind in MARKERS:
        if len(units) == 1:
            return ""
        return (f"EXPORT_SYMBOL markers in {len(units)} CUs ({', '.join(u.name for u in units[:3])}"
                f"{', ...' if len(units) > 3 else ''}): versioned in the first")
    if units[0].rust:
        return ""  # a Rust crate, versioned on its own by rust/Makefile (methods are declarations)
    if kind == "definitions" and any(kinds.get(marker) for marker in MARKERS):
        return ""  # exported from an unversioned unit: a helper object, versioned on its own
    if kind == "definitions":
        return (f"no CU holds its EXPORT_SYMBOL (no {SYMBOL_PTR_PREFIX} or __ADDRESSABLE variable): "
                f"versioned in its defining CU {units[0].name}")
    assembled = _assembled_in(kinds)
    if assembled:
        return (f"an assembler export (defined in {assembled}): versioned from a declaration in "
                f"{units[0].name}")
    return (f"no CU defines it or holds its EXPORT_SYMBOL: versioned from a declaration in "
            f"{units[0].name}")


def _assembled_in(kinds: dict[str, list[UnitCandidates]]) -> str:
    """The assembler unit defining an export ('' if none does)."""
    return next((u.name for u in kinds.get("definitions", ()) if u.assembler), "")


def _unit_name(reader: DwarfReader, index: int) -> str:
    cu = reader.unit_die(reader.units[index])
    return (cu.name if cu is not None else None) or f"unit@{reader.units[index].offset:#x}"


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
        table.set_die(sym, (0, index))

        def choose(s: Symbol) -> None:
            chosen.setdefault(s.name, index)
        table.for_each(sym.name, choose)

    for scan in scans:
        for own, origin, is_pointer in scan.ordered:
            sym = table.get_unprocessed(own)
            if sym is None and origin is not None:
                sym = table.get_unprocessed(origin)
            if sym is None:
                continue
            if is_pointer:
                table.set_ptr(sym, (0, scan.index))
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
                        undefined: dict[int, list[str]], stable: bool, symtypes: bool,
                        scopes: Scopes | None = None) -> list[GroupResult]:
    """Run upstream's pipeline once per unit on that unit's exports only,
    as on the object the unit came from, where the names ``undefined`` lists
    for it had no address (``scopes``: the walks of a scan of these units,
    if there was one)."""
    out = []
    for index in sorted(groups):
        opts = Options(stable=stable, symtypes=symtypes)
        diag = Diagnostics(opts)
        versioner = Versioner(groups[index], opts, diag, undefined=undefined.get(index, ()))
        result = versioner.process_reader(reader, path, [index], scopes=scopes)
        versions = {name: (crc if ok else None) for name, crc, ok in versioner.finish()}
        out.append(GroupResult(index, _unit_name(reader, index), versions, result.symtypes, diag.warnings,
                               result.producers, result.stages))
        reader.forget()
    return out


def unit_ranges(reader: DwarfReader, parts: int) -> list[range]:
    """Split the units into ``parts`` contiguous ranges of similar DWARF size."""
    units = reader.units
    if not units:
        return []
    sizes = [u.length for u in units]
    total = sum(sizes)
    target = max(1, total // max(1, parts))
    ranges: list[range] = []
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
