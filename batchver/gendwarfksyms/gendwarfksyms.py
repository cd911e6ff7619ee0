"""Version exported symbols of ELF objects: the upstream-compatible core.

:class:`Versioner` reproduces one run of upstream ``gendwarfksyms`` over one
or more objects sharing one symbol list; :func:`version_object` is the
one-object convenience the whole-tree runner calls.  The core does no
scheduling and no file output: diagnostics go to a callback, results come
back as plain data.

Per object, as upstream's gendwarfksyms.c: read ELF symbol addresses
(aliases, :func:`.symbols.read_addresses`), read kABI rules (``--stable``,
:func:`.kabi.read_rules`), then for each unit in DWARF order work out fully
qualified names, match exported symbols to DIEs and render them, and render
symbols known only through ``__gendwarfksyms_ptr_`` variables
(:func:`.dwarf.process_cu`), and finally build the type map, the CRCs and the
sorted symtypes lines (:mod:`.types`).  What is upstream's ends there; the
die map's reuse of finished type graphs (:mod:`.reuse`) and the versioning
of a big object in unit groups merged afterwards (:meth:`Versioner._chunks`,
:mod:`.partial`) are this package's own.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Collection, Iterable

from batchver.deepstack import call_deep
from batchver.dwarf.constants import DW_AT_name, DW_AT_producer
from batchver.dwarf.reader import DwarfReader, Unit
from batchver.elf.file import ElfObject
from batchver.errors import VersioningError
from batchver.gcpause import collector_paused
from batchver.gendwarfksyms.dwarf import SYMBOL, DieMap, DumpingDieMap, Scopes, process_cu
from batchver.gendwarfksyms.kabi import KabiRules, read_rules
from batchver.gendwarfksyms.options import Diagnostics, Options
from batchver.gendwarfksyms.partial import PartialTypes, assign_merged_versions
from batchver.gendwarfksyms.reuse import ReusingDieMap
from batchver.gendwarfksyms.symbols import Symbol, SymbolTable, TaggedSymbols, read_addresses, version_lines
from batchver.gendwarfksyms.types import Piece, TypeMap, assign_versions


@dataclass
class ObjectResult:
    """What one object contributed: its sorted symtypes block (with
    ``Options.symtypes``) and, for each
    symbol matched in it, the unit (by offset and name) that supplied it."""

    path: str
    symtypes: list[tuple[str, str]] = field(default_factory=list)
    matched_in: dict[str, tuple[int, str]] = field(default_factory=dict)
    producers: list[str] = field(default_factory=list)
    dwarf_versions: list[int] = field(default_factory=list)
    stages: dict[str, float] = field(default_factory=dict)  # seconds per pipeline stage
    partial: PartialTypes | None = None


# Units of one die map when a big object is versioned in groups (see Versioner._chunks).
CHUNK_BYTES = 16 << 20


class Versioner:
    """One upstream-equivalent run: a symbol list, then objects in order."""

    def __init__(self, names: Iterable[str], options: Options | None = None,
                 diagnostics: Diagnostics | None = None, undefined: Collection[str] = ()):
        """``undefined``: exported names the object being versioned does not
        define although the file does.  A per-CU run of a linked file stands
        for the object kbuild versioned, where a symbol the unit only
        declares (a linker-script alias such as x86's
        ``const_current_task``) is undefined: it has no address there, so
        it aliases nothing."""
        self.options = options or Options()
        self.diag = diagnostics or Diagnostics(self.options)
        self.symbols = SymbolTable(names)
        self.undefined = frozenset(undefined)
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
        read_addresses(self.symbols, elf, self.diag, self.undefined)
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
            result.partial = PartialTypes.joined(partials)
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
            return DumpingDieMap(reader, rules, opts.stable, scopes.fqn, self.diag.write,
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

    def _partial(self, die_map: DieMap, rules: KabiRules) -> PartialTypes:
        """A die map's named type strings in its order, and the strings of
        the symbols it rendered (see :class:`PartialTypes`)."""
        types = TypeMap(die_map, rules, self.options.stable, self.diag.debug,
                        reuse_expansions=self.options.accelerations)
        types.build()
        pieces: dict[str, list[Piece]] = {}
        for sym in self.symbols:
            found = self._symbol_pieces(die_map, types, sym)
            if found is not None:
                pieces[sym.name] = found
        return PartialTypes([(n, p) for n, (p, _) in types.types.items()], pieces)

    def _process_unit(self, reader: DwarfReader, scopes: Scopes, die_map: DieMap, unit: Unit,
                      result: ObjectResult) -> None:
        """process_cu, noting which unit supplied each symbol, the unit's
        producer and the seconds spent walking scopes and rendering."""
        clock = time.perf_counter()
        scopes.walk_unit(unit)
        walked = time.perf_counter()
        result.stages["walk"] = result.stages.get("walk", 0.0) + walked - clock
        cu = reader.unit_die(unit)
        producer = cu.string(DW_AT_producer) if cu is not None else None
        if producer and producer not in result.producers:
            result.producers.append(producer)
        unit_name = (cu.string(DW_AT_name) if cu is not None else None) or f"unit@{unit.offset:#x}"
        for name in process_cu(die_map, scopes, unit, TaggedSymbols(self.symbols, self._object_id),
                               self.diag.debug):
            result.matched_in.setdefault(name, (unit.offset, unit_name))
        result.stages["render"] = result.stages.get("render", 0.0) + time.perf_counter() - walked

    def _versions(self, die_map: DieMap, rules: KabiRules, result: ObjectResult) -> None:
        opts = self.options
        dump_types = self.diag.write if opts.dump_types else None
        types = TypeMap(die_map, rules, opts.stable, self.diag.debug, dump_types,
                        reuse_expansions=opts.accelerations)
        types.build()
        assign_versions(self.symbols, types, lambda sym: self._symbol_pieces(die_map, types, sym),
                        opts, self.diag)
        if opts.symtypes:  # a tenth of the type map's cost, for output nobody asked for
            result.symtypes = types.symtypes_lines()

    def _symbol_pieces(self, die_map: DieMap, types: TypeMap, sym: Symbol) -> list[Piece] | None:
        """The symbol's own type string, if this object rendered it."""
        if sym.die_key is None or sym.die_key[0] != self._object_id:
            return None
        entry = die_map.get(sym.die_key[1], SYMBOL)
        return None if entry is None else types.symbol_pieces(sym.name, entry)

    def finish(self) -> list[tuple[str, int, bool]]:
        """``(name, crc, has_information)`` in upstream's output order; warns
        for every symbol that got no version."""
        return version_lines(self.symbols, self.diag)


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
