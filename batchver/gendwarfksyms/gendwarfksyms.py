"""Version exported symbols of ELF objects: the upstream-compatible core.

:class:`Versioner` reproduces one run of upstream ``gendwarfksyms`` over one
or more objects sharing one symbol list; :func:`version_object` is the
one-object convenience the whole-tree runner calls.  The core does no
scheduling and no file output: diagnostics go to a callback, results come
back as plain data.

Per object, as upstream: read ELF symbol addresses (aliases), read kABI rules
(``--stable``), then for each unit in DWARF order work out fully qualified
names, match exported symbols to DIEs and render them, render symbols known
only through ``__gendwarfksyms_ptr_`` variables, and finally build the
type map, the CRCs and the sorted symtypes lines.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

from batchver.dwarf.constants import (
    DW_AT_name, DW_AT_producer, DW_TAG_class_type, DW_TAG_enumerator, DW_TAG_member,
    DW_TAG_namespace, DW_TAG_structure_type, DW_TAG_subprogram, DW_TAG_subroutine_type,
    DW_TAG_variable)
from batchver.deepstack import call_deep
from batchver.dwarf.reader import Die, DwarfReader, Unit
from batchver.elf.file import ElfObject
from batchver.errors import VersioningError
from batchver.gcpause import collector_paused
from batchver.gendwarfksyms.kabi import KabiRules, RULE_SECTION
from batchver.gendwarfksyms.symbols import (
    MAPPED, PROCESSED, SYMBOL_PTR_PREFIX, Symbol, SymbolTable, UNPROCESSED)
from batchver.gendwarfksyms.dwarf import DieMap, PREFIX_TAGS, SYMBOL, SymbolState, symbol_name
from batchver.gendwarfksyms.reuse import ReusingDieMap

# Tags the unit walk always decodes: scopes it descends into and candidates.
WALK_DECODED = frozenset((DW_TAG_namespace, DW_TAG_class_type, DW_TAG_structure_type, DW_TAG_subprogram, DW_TAG_variable))
# ... and the tag it never needs to see (nothing asks for a member's fqn).
MEMBERS = frozenset((DW_TAG_member,))
from batchver.gendwarfksyms.types import TypeMap, crc32_text


@dataclass
class Options:
    """Upstream's command-line flags, and ``accelerations``: off, a run
    takes the reference path alone (no reuse of finished type graphs, see
    :mod:`.reuse`; no unit groups, see :meth:`Versioner._chunks`; no
    remembered expansions, see :meth:`.types.TypeMap.version_text`), which
    the corpus tests compare with the default byte for byte."""

    stable: bool = False
    symtypes: bool = False
    debug: bool = False
    dump_dies: bool = False
    dump_die_map: bool = False
    dump_types: bool = False
    dump_versions: bool = False
    accelerations: bool = True


class Diagnostics:
    """Formats upstream's stderr lines; ``write`` receives finished text."""

    def __init__(self, options: Options, write: Callable[[str], None] | None = None):
        self.options = options
        self.write = write or (lambda text: None)
        self.warnings: list[str] = []

    def debug(self, where: str, message: str) -> None:
        if self.options.debug:
            self.write(f"gendwarfksyms: {where}: {message}\n")

    def warn(self, where: str, message: str) -> None:
        line = f"warning: gendwarfksyms: {where}: {message}"
        self.warnings.append(message)
        self.write(line + "\n")


@dataclass
class ObjectResult:
    """What one object contributed: its sorted symtypes block and, for each
    symbol matched in it, the unit (by offset and name) that supplied it."""

    path: str
    symtypes: list[tuple[str, str]] = field(default_factory=list)
    matched_in: dict[str, tuple[int, str]] = field(default_factory=dict)
    producers: list[str] = field(default_factory=list)
    dwarf_versions: list[int] = field(default_factory=list)
    stages: dict[str, float] = field(default_factory=dict)  # seconds per pipeline stage
    partial: "PartialTypes | None" = None


class Scopes:
    """Fully qualified names, computed as upstream's per-CU pre-pass would.

    Only scopes that can pass a prefix (namespace, class, struct) matter, and
    those are exactly the containers the symbol search descends into, so one
    walk serves both.  A DIE outside that walk (nested in a function, say)
    triggers a full walk of its unit.  A DIE in a unit after the current one
    has no name yet, exactly as upstream's pass has not reached it.
    """

    def __init__(self, reader: DwarfReader):
        self.reader = reader
        self.fqns: dict[int, str] = {}
        self.plain: set[int] = set()  # DIEs whose fqn is their own name
        self.fully_walked: set[int] = set()
        self.unit_index = reader.unit_numbers
        self.current = -1
        self.walked: dict[int, list[Die]] = {}  # unit start key -> its candidates

    @staticmethod
    def _names(die: Die, prefix: str | None) -> tuple[str, str | None]:
        """(this DIE's fqn, the prefix it passes to its children)."""
        name = die.string(DW_AT_name)
        passes = die.tag in PREFIX_TAGS
        if prefix is not None and (passes or name is not None):
            scoped = f"{prefix}::{name if name is not None else '<anonymous>'}"
            return (scoped if name is not None else ""), (scoped if passes else None)
        if name is not None:
            return name, (name if passes else None)
        return "", None

    def walk_unit(self, unit: Unit) -> list[Die]:
        """Record scopes of the unit's top level and of every namespace,
        class and struct below it; return the subprograms and variables
        found there, in DWARF order (the candidates for matching).

        Only DIEs that matter are decoded: scopes, candidates, and types
        nested in a scope.  Other DIEs are only noted as having no scoped
        name (their fqn is their own name); struct members are not even
        seen, since nothing asks for their fqn (a DIE never seen here gets a
        full walk of its unit if it ever is asked for).

        A unit is walked once per instance: kbuild semantics scans every
        unit of a file for its exports, then versions the exporting ones
        with the same instance."""
        start = unit.start
        candidates = self.walked.get(start)
        if candidates is not None:
            return candidates
        reader = self.reader
        candidates = self.walked[start] = []
        cu = reader.unit_die(unit)
        if cu is None:
            return candidates
        plain = self.plain
        stack = [(reader.child_entries(cu, MEMBERS), None)]
        while stack:
            entries, prefix = stack[-1]
            for key, tag in entries:
                if tag in WALK_DECODED or prefix is not None:
                    die = reader.die(key, unit)
                    fqn, passed = self._names(die, prefix)
                    self.fqns[key] = fqn
                    if tag in PREFIX_TAGS:
                        stack.append((reader.child_entries(die, MEMBERS), passed))
                        break
                    if tag in (DW_TAG_subprogram, DW_TAG_variable):
                        candidates.append(die)
                elif prefix is None:
                    plain.add(key)
            else:
                stack.pop()
        return candidates

    def _walk_all(self, unit: Unit) -> None:
        self.fully_walked.add(unit.start)
        cu = self.reader.unit_die(unit)
        stack = [(self.reader.children(cu), None)] if cu is not None else []
        while stack:
            children, prefix = stack[-1]
            for die in children:
                fqn, passed = self._names(die, prefix)
                self.fqns[die.key] = fqn
                if die.has_children:
                    stack.append((self.reader.children(die), passed))
                    break
            else:
                stack.pop()

    def fqn(self, die: Die) -> str:
        unit = die.unit
        if self.unit_index[unit.start] > self.current:
            return ""
        known = self.fqns.get(die.key)
        if known is not None:
            return known
        if die.key in self.plain or die.tag == DW_TAG_enumerator:  # an enum passes no prefix to its enumerators
            return die.string(DW_AT_name) or ""
        if unit.start not in self.fully_walked:
            self._walk_all(unit)
        return self.fqns.get(die.key, "")


# Units of one die map when a big object is versioned in groups (see Versioner._chunks).
CHUNK_BYTES = 16 << 20


class Versioner:
    """One upstream-equivalent run: a symbol list, then objects in order."""

    def __init__(self, names: Iterable[str], options: Options | None = None,
                 diagnostics: Diagnostics | None = None):
        self.options = options or Options()
        self.diag = diagnostics or Diagnostics(self.options)
        self.symbols = SymbolTable(names)
        for name in self.symbols.names():
            self.diag.debug("symbol_read_exports", name)
        self.diag.debug("symbol_read_exports", f"{len(self.symbols)} exported symbols")
        self._object_id = 0

    @collector_paused()
    def process_object(self, path: str) -> ObjectResult:
        """Version the symbols found in one ELF file; raises
        :class:`VersioningError` for anything upstream treats as fatal.
        The collector stays paused until the file's decoded DIEs are freed
        (see :mod:`.gcpause`)."""
        elf = ElfObject(path)
        try:
            return self.process_reader(DwarfReader(elf, defer=True), path)
        except VersioningError as exc:
            if exc.path is None:
                exc.path = path
            raise
        finally:
            elf.close()

    def process_reader(self, reader: DwarfReader, path: str, units: list[int] | None = None,
                       finalize: bool = True, scopes: Scopes | None = None) -> ObjectResult:
        """Run upstream's per-object pipeline on an open file, optionally
        limited to some of its units (a per-CU run of a linked file).  With
        ``finalize`` off, stop before CRCs and leave ``result.partial``.
        ``scopes`` may bring units already walked over ``reader``.
        Runs on a deep stack, since rendering recurses as deep as the type
        graph, and with the cyclic collector paused (see :mod:`.gcpause`)."""
        with collector_paused():
            return call_deep(self._process_reader, reader, path, units, finalize, scopes)

    def _process_reader(self, reader: DwarfReader, path: str, units: list[int] | None,
                        finalize: bool, scopes: Scopes | None) -> ObjectResult:
        opts = self.options
        elf = reader.elf
        self._object_id += 1
        clock = time.perf_counter()
        read_addresses(self.symbols, elf, self.diag)
        rules = read_rules(elf, self.diag) if opts.stable else KabiRules()
        self.diag.debug("process_module", path)
        reader.load()
        if scopes is None:
            scopes = Scopes(reader)
        result = ObjectResult(path)
        stages = result.stages
        stages["load"] = time.perf_counter() - clock
        indices = range(len(reader.units)) if units is None else units
        result.dwarf_versions = sorted({reader.units[i].version for i in indices})
        chunks = self._chunks(reader, list(indices))
        partials: list[PartialTypes] = []
        for chunk in chunks:
            die_map = self._die_map(reader, rules, scopes)
            for index in chunk:
                scopes.current = index
                self._process_unit(reader, scopes, die_map, reader.units[index], result)
                # What later units and the type map need of this unit's DIEs
                # is held by the die map's entries; the rest of what was
                # decoded (members, scopes, unused candidates) would
                # otherwise stay for the whole run.
                reader.forget()
                scopes.walked.pop(reader.units[index].start, None)
            if len(chunks) > 1 or not finalize:
                clock = time.perf_counter()
                partials.append(self._partial(die_map, rules))
                stages["crc"] = stages.get("crc", 0.0) + time.perf_counter() - clock
        clock = time.perf_counter()
        if not finalize:
            result.partial = PartialTypes([t for p in partials for t in p.types],
                                          {n: v for p in partials for n, v in p.symbols.items()})
        elif len(chunks) == 1:
            self._versions(die_map, rules, result)
        else:
            result.symtypes = assign_merged_versions(self.symbols, partials, rules, opts, self.diag)
        stages["crc"] = stages.get("crc", 0.0) + time.perf_counter() - clock
        return result

    def _die_map(self, reader: DwarfReader, rules: KabiRules, scopes: Scopes) -> DieMap:
        """A die map for one group of units: the reference path when
        dumping (every walk is printed) or when accelerations are off."""
        opts = self.options
        if opts.dump_dies or opts.dump_die_map:
            return DieMap(reader, rules, opts.stable, scopes.fqn, self.diag.write,
                          self.diag.write if opts.dump_die_map else None)
        if not opts.accelerations:
            return DieMap(reader, rules, opts.stable, scopes.fqn)
        return ReusingDieMap(reader, rules, opts.stable, scopes.fqn)

    def _chunks(self, reader: DwarfReader, indices: list[int]) -> list[list[int]]:
        """The units in consecutive groups of about CHUNK_BYTES of DWARF,
        each rendered with its own die map whose type strings are kept and
        whose DIEs and entries are freed before the next group: a vmlinux
        run then holds one group's entries at a time instead of every
        unit's, as the tree runner's split of big files does across
        processes.  With no reference across units, a unit's types are
        rendered only while that unit is, so the strings, the
        longest-per-name choice (earlier on a tie) and the CRCs are those
        of one die map; an object that may refer across units (LTO, type
        units) is one group.  Dumps and debug output print the die map as
        it grows, so with any of them the object is one group too, as
        upstream's."""
        opts = self.options
        units = reader.units
        if not opts.accelerations or opts.debug or opts.dump_dies or opts.dump_die_map or opts.dump_types or \
                sum(units[i].length for i in indices) <= 2 * CHUNK_BYTES or \
                reader.refers_across_units():
            return [indices]
        chunks: list[list[int]] = [[]]
        size = 0
        for index in indices:
            if size >= CHUNK_BYTES:
                chunks.append([])
                size = 0
            chunks[-1].append(index)
            size += units[index].length
        return chunks

    def _partial(self, die_map: DieMap, rules: KabiRules) -> "PartialTypes":
        """A die map's named type strings in its order, and the strings of
        the symbols it rendered (see :class:`PartialTypes`)."""
        types = TypeMap(die_map, rules, self.options.stable, self.diag.debug,
                        reuse_expansions=self.options.accelerations)
        types.build()
        pieces = {}
        for sym in self.symbols:
            found = self._symbol_pieces(die_map, types, sym)
            if found is not None:
                pieces[sym.name] = found
        return PartialTypes([(n, p) for n, (p, _) in types.types.items()], pieces)

    def _process_unit(self, reader: DwarfReader, scopes: Scopes, die_map: DieMap, unit: Unit,
                      result: ObjectResult) -> None:
        clock = time.perf_counter()
        candidates = scopes.walk_unit(unit)
        walked = time.perf_counter()
        result.stages["walk"] = result.stages.get("walk", 0.0) + walked - clock
        cu = reader.unit_die(unit)
        producer = cu.string(DW_AT_producer) if cu is not None else None
        if producer and producer not in result.producers:
            result.producers.append(producer)
        unit_name = (cu.string(DW_AT_name) if cu is not None else None) or f"unit@{unit.offset:#x}"
        symbols = self.symbols
        for die in candidates:
            origin = die_map.origin_of(die)
            source = origin if origin is not None else die
            sym = symbols.get_unprocessed(symbol_name(die))
            if sym is None and origin is not None:
                sym = symbols.get_unprocessed(symbol_name(origin))
            if sym is None:
                continue
            st = SymbolState(sym, source)
            name = symbol_name(source)
            if name is not None and name.startswith(SYMBOL_PTR_PREFIX):
                die_map.save_symbol_ptr(st, _TaggedSymbols(symbols, self._object_id))
            else:
                self._render(die_map, st, source, die.tag == DW_TAG_subprogram)
                result.matched_in.setdefault(sym.name, (unit.offset, unit_name))
        for sym in symbols:
            if sym.state != UNPROCESSED or sym.ptr_key is None or sym.ptr_key[0] != self._object_id:
                continue
            self.diag.debug("process_symbol_ptr", sym.name)
            target = reader.die(sym.ptr_key[1])
            st = SymbolState(sym, target)
            self._render(die_map, st, target, target.tag == DW_TAG_subroutine_type)
            result.matched_in.setdefault(sym.name, (unit.offset, unit_name))
        die_map.srcfile_cache.clear()
        result.stages["render"] = result.stages.get("render", 0.0) + time.perf_counter() - walked

    def _render(self, die_map: DieMap, st: SymbolState, die: Die, as_function: bool) -> None:
        die_map.process_symbol(st, die, as_function, _TaggedSymbols(self.symbols, self._object_id),
                               self.diag.debug)

    def _versions(self, die_map: DieMap, rules: KabiRules, result: ObjectResult) -> None:
        opts = self.options
        dump_types = self.diag.write if opts.dump_types else None
        types = TypeMap(die_map, rules, opts.stable, self.diag.debug, dump_types,
                        reuse_expansions=opts.accelerations)
        types.build()
        assign_versions(self.symbols, types, lambda sym: self._symbol_pieces(die_map, types, sym),
                        opts, self.diag)
        result.symtypes = types.symtypes_lines()

    def _symbol_pieces(self, die_map: DieMap, types: TypeMap, sym: Symbol) -> list[str] | None:
        """The symbol's own type string, if this object rendered it."""
        if sym.die_key is None or sym.die_key[0] != self._object_id:
            return None
        entry = die_map.get(sym.die_key[1], SYMBOL)
        return None if entry is None else types.symbol_pieces(sym.name, entry)

    def finish(self) -> list[tuple[str, int, bool]]:
        """``(name, crc, has_information)`` in upstream's output order; warns
        for every symbol that got no version."""
        return version_lines(self.symbols, self.diag)


def version_lines(symbols: SymbolTable, diag: Diagnostics) -> list[tuple[str, int, bool]]:
    out = []
    for sym in symbols:
        if sym.state != PROCESSED:
            diag.warn("symbol_print_versions", f"no information for symbol {sym.name}")
        out.append((sym.name, sym.crc, sym.state == PROCESSED))
    return out


@dataclass
class PartialTypes:
    """What one range of units contributes before CRCs: its named type
    strings in die_map order, and the strings of the symbols it rendered."""

    types: list[tuple[str, list[str]]]
    symbols: dict[str, list[str]]


def assign_versions(symbols: SymbolTable, types: TypeMap,
                    pieces_of: Callable[[Symbol], list[str] | None], opts: Options,
                    diag: Diagnostics) -> None:
    """CRCs for every symbol with a type string, in upstream's order: an
    alias already versioned is not versioned again, and with symtypes each
    symbol's own line joins the type map."""
    for sym in symbols:
        if not opts.symtypes and sym.state == PROCESSED:
            continue
        pieces = pieces_of(sym)
        if pieces is None:
            continue
        if sym.state != PROCESSED:
            text = types.version_text(sym.name, pieces)
            crc = crc32_text(text)
            symbols.set_crc(sym, crc, diag.warn)
            diag.debug("expand_symbol", f"{sym.name} = {crc:x}")
            if opts.dump_versions:
                diag.write(f"{sym.name} {text}\n")
        if opts.symtypes:
            types.add(sym.name, pieces)


def merge_partials(elf: ElfObject, names: list[str], partials: list[PartialTypes],
                   opts: Options, diag: Diagnostics) -> tuple[list[tuple[str, int, bool]],
                                                              list[tuple[str, str]]]:
    """Finish a split whole-file run: merge the ranges' type maps in unit
    order (the longest string per name wins, the earlier on a tie, as in one
    run) and compute the CRCs.  Returns the version lines and symtypes."""
    symbols = SymbolTable(names)
    read_addresses(symbols, elf, diag)
    rules = read_rules(elf, diag) if opts.stable else KabiRules()
    for sym in symbols:
        if any(sym.name in part.symbols for part in partials):
            sym.state = MAPPED  # its range matched it to a DIE
    symtypes = assign_merged_versions(symbols, partials, rules, opts, diag)
    return version_lines(symbols, diag), symtypes


def assign_merged_versions(symbols: SymbolTable, partials: list[PartialTypes], rules: KabiRules,
                           opts: Options, diag: Diagnostics) -> list[tuple[str, str]]:
    """CRCs from partial type maps merged in order (the longest string per
    name wins, the earlier on a tie, as in one die map); returns the
    symtypes lines."""
    types = TypeMap(None, rules, opts.stable, diag.debug, reuse_expansions=opts.accelerations)
    pieces: dict[str, list[str]] = {}
    for part in partials:
        for name, text in part.types:
            types.add(name, text)
        pieces.update(part.symbols)
    assign_versions(symbols, types, lambda sym: pieces.get(sym.name), opts, diag)
    return types.symtypes_lines()


def read_addresses(symbols: SymbolTable, elf: ElfObject, diag: Diagnostics) -> None:
    """Give the exported symbols their ELF addresses (aliases share one), in
    symbol-table order as upstream does.  Only the exported names (and their
    ``__gendwarfksyms_ptr_`` variables, which count as them) are looked up,
    so a run over a few exports of vmlinux does not walk its whole table."""
    names = symbols.names()
    for name, shndx, value in elf.global_symbols_named(names + [SYMBOL_PTR_PREFIX + n for n in names]):
        if symbols.is_exported(name):
            symbols.set_address(name, shndx, value, diag.warn, diag.debug)


def read_rules(elf: ElfObject, diag: Diagnostics) -> KabiRules:
    """The object's kABI rules (``--stable``); none when it has no section."""
    sec = elf.section(RULE_SECTION)
    if sec is None:
        diag.debug("kabi_read_rules", "kABI rules not found")
        return KabiRules()
    return KabiRules.parse(elf.data(sec), diag.warn, diag.debug)


class _TaggedSymbols:
    """The symbol table as the renderer sees it: DIE keys it stores are
    tagged with the current object, so a later object of the same run never
    mistakes an earlier object's DIE offset for one of its own."""

    def __init__(self, symbols: SymbolTable, object_id: int):
        self._symbols = symbols
        self._object_id = object_id

    def set_die(self, sym: Symbol, key: int) -> None:
        self._symbols.set_die(sym, (self._object_id, key))

    def set_ptr(self, sym: Symbol, key: int) -> None:
        self._symbols.set_ptr(sym, (self._object_id, key))


@dataclass
class VersionResult:
    """Versions of one object run on its own with its own export list (and
    seconds per stage: ELF/DWARF loading, unit walks, rendering, CRCs)."""

    path: str
    versions: dict[str, int | None]
    symtypes: list[tuple[str, str]]
    warnings: list[str]
    matched_in: dict[str, tuple[int, str]]
    producers: list[str]
    dwarf_versions: list[int]
    stages: dict[str, float]


def version_object(path: str, names: Iterable[str], stable: bool = False,
                   symtypes: bool = True) -> VersionResult:
    """Version ``names`` in the ELF file at ``path`` exactly as
    ``gendwarfksyms [--stable] -T ... path`` would; a name without DWARF
    gets ``None`` (upstream prints 0x00000000 and warns)."""
    opts = Options(stable=stable, symtypes=symtypes)
    diag = Diagnostics(opts)
    versioner = Versioner(names, opts, diag)
    result = versioner.process_object(path) if len(versioner.symbols) else ObjectResult(path)
    versions = {name: (crc if ok else None) for name, crc, ok in versioner.finish()}
    return VersionResult(path, versions, result.symtypes, diag.warnings, result.matched_in,
                         result.producers, result.dwarf_versions, result.stages)
