"""Units of work the scheduler fans out, and the small records they return.

The pool's workers import this module and nothing of the scheduler (its
progress bar, discovery and cache are the parent's), which keeps each
worker's start short.

Each task opens its own file, so nothing large crosses process boundaries:
a task gets a path and names, and returns versions, origins, symtypes text
and timings.  Any failure of one file is caught here (:func:`_task`) and
returned as data, so one bad object never stops a run.  Tasks run with the cyclic collector
paused (see :mod:`batchver.gcpause`): scanning a linked file's units
allocates as heavily as versioning does.
"""

from __future__ import annotations

import os
import resource
import threading
import time
import traceback
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterator

from batchver.gendwarfksyms.dwarf import Scopes
from batchver.gendwarfksyms.gendwarfksyms import Versioner, version_object
from batchver.gendwarfksyms.options import Diagnostics, Options
from batchver.gendwarfksyms.partial import PartialTypes, merge_partials
from batchver.dwarf.reader import DwarfReader
from batchver.elf.file import ElfObject
from batchver.errors import VersioningError
from batchver.gcpause import collector_paused
from batchver.tree.kinds import Semantics
from batchver.tree.locations import LocationsBlock, block_locations, file_locations, locations_line
from batchver.tree.linked import Assignment, UnitCandidates, kbuild_assignment, scan_units, version_unit_groups


@dataclass
class Failure:
    """Why a task could not do its work, carried back as data: one line
    naming the file and place (see :func:`_describe`), and for a defect the
    whole traceback, for ``--debug``."""

    error: str
    traceback: str | None = None

    @classmethod
    def of(cls, exc: BaseException) -> Failure:
        return cls(_describe(exc), None if isinstance(exc, VersioningError)
                   else "".join(traceback.format_exception(exc)))


@dataclass
class TaskResult:
    """What one task learnt about one file (or a unit range of it)."""

    rel: str
    versions: dict[str, int | None] = field(default_factory=dict)
    versioned_in: dict[str, str] = field(default_factory=dict)
    # (sort key, origin as in versioned_in, text) per symtypes block
    symtypes: list[tuple[str, str, str]] = field(default_factory=list)
    # (sort key, origin, line) per symtypes block: its source locations
    locations: list[tuple[str, str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    producers: list[str] = field(default_factory=list)
    dwarf_versions: list[int] = field(default_factory=list)
    error: str | None = None
    traceback: str | None = None  # of an error that is not a VersioningError, for --debug
    # export -> why its CRC may not be the one kbuild embeds (kbuild semantics)
    caveats: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    part: int = 0
    stages: dict[str, float] = field(default_factory=dict)
    peak_rss_kib: int = 0  # of the worker process, when the task finished

    @classmethod
    def failed(cls, rel: str, failure: Failure) -> TaskResult:
        return cls(rel, error=failure.error, traceback=failure.traceback)


@dataclass
class RangeResult:
    """A range of a split file under whole-file semantics: its result and
    the type strings it rendered, which give CRCs only once every range of
    the file is merged (:func:`finish_file`).  None after a failure."""

    result: TaskResult
    partial: PartialTypes | None


@contextmanager
def _task(rel: str, part: int = 0) -> Iterator[TaskResult]:
    """The scaffolding every versioning task shares: a result to fill in,
    timed, with the worker's peak memory; any failure inside becomes the
    result's error, so one bad file never stops a run."""
    start = time.perf_counter()
    out = TaskResult(rel, part=part)
    try:
        yield out
    except Exception as exc:  # noqa: BLE001 - one bad file must not stop the run
        failure = Failure.of(exc)
        out.error, out.traceback = failure.error, failure.traceback
    out.seconds = time.perf_counter() - start
    out.peak_rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _add_stages(total: dict[str, float], stages: dict[str, float]) -> None:
    for stage, seconds in stages.items():
        total[stage] = total.get(stage, 0.0) + seconds


def _describe(exc: BaseException) -> str:
    """One line for report.json and the summary.  A VersioningError names
    the file and the place (section, offset, unit); anything else is a
    defect, named with the code line it came from (the whole traceback is
    kept for ``--debug`` by :class:`Failure`)."""
    if isinstance(exc, VersioningError):
        return str(exc)
    frame = traceback.extract_tb(exc.__traceback__)[-1]
    return (f"internal error: {type(exc).__name__}: {exc} (at "
            f"{os.path.basename(frame.filename)}:{frame.lineno} in {frame.name})")


def _block(lines: list[tuple[str, str]]) -> str:
    return "".join(f"{key} {text}\n" for key, text in lines)


def _locate(out: TaskResult, sort_key: str, origin: str, lines: list[tuple[str, str]],
            find: Callable[[set[str]], LocationsBlock]) -> None:
    """Record the source locations of a symtypes block (see
    :mod:`batchver.tree.locations`).  They only annotate explanations, so
    DWARF they cannot read costs a warning, never the file's versions."""
    try:
        block = find({key for key, _ in lines})
    except VersioningError as exc:
        out.warnings.append(f"no source locations for {origin}: {exc}")
        return
    out.locations.append((sort_key, origin, locations_line(origin, block)))


@collector_paused()
def run_object(path: str, rel: str, names: list[str], stable: bool, symtypes: bool,
               name_units: bool = False) -> TaskResult:
    """Upstream on one file with its exports: kbuild's own step for an
    unlinked object, or ``--semantics file`` for a linked one (then
    ``name_units`` records which CU supplied each export)."""
    with _task(rel) as out:
        result = version_object(path, names, stable=stable, symtypes=symtypes)
        out.versions = result.versions
        out.versioned_in = {
            n: (f"{rel}:{result.matched_in[n][1]}" if name_units and n in result.matched_in else rel)
            for n, v in result.versions.items() if v is not None}
        out.warnings = result.warnings
        out.producers = result.producers
        out.dwarf_versions = result.dwarf_versions
        out.stages = result.stages
        if symtypes:
            out.symtypes = [(rel, rel, _block(result.symtypes))]
            _locate(out, rel, rel, result.symtypes, lambda keys: file_locations(path, keys))
    return out


def run_linked_file(path: str, rel: str, names: list[str], stable: bool, symtypes: bool,
                    semantics: Semantics | str) -> TaskResult:
    """A whole linked file: upstream on the file, or per exporting CU."""
    if Semantics(semantics) is Semantics.FILE:
        return run_object(path, rel, names, stable, symtypes, name_units=True)
    return run_unit_groups(path, rel, names, stable, symtypes, None, {}, 0)


@collector_paused()
def scan_file(path: str, names: list[str], units: range) -> list[UnitCandidates] | Failure:
    """Phase one for a split file: which units mention which exports."""
    try:
        with closing(ElfObject(path)) as elf:
            reader = DwarfReader(elf)
            wanted = set(names)
            scans = []
            for index in units:
                (found,) = scan_units(reader, [index])
                found.keep(wanted)
                scans.append(found)
                reader.forget()
            return scans
    except Exception as exc:  # noqa: BLE001 - the file fails, not the run
        return Failure.of(exc)


def note_assignment(out: TaskResult, assignment: Assignment) -> None:
    """Record what the assignment of a file's exports leaves unversioned or
    uncertain, before its groups are versioned."""
    for name in assignment.missing:
        out.versions[name] = None
        why = assignment.caveats.get(name)
        out.warnings.append(f"no information for symbol {name}" + (f": {why}" if why else ""))
    out.caveats.update(assignment.caveats)


@collector_paused()
def run_unit_groups(path: str, rel: str, names: list[str], stable: bool, symtypes: bool,
                    groups: dict[int, list[str]] | None, undefined: dict[int, list[str]],
                    part: int) -> TaskResult:
    """Version exports per exporting CU (kbuild semantics).  ``groups`` maps
    unit indices to their exports, ``undefined`` to those the unit only
    declares (:attr:`Assignment.undefined`); None means scan the file and
    assign."""
    start = time.perf_counter()
    with _task(rel, part) as out, closing(ElfObject(path)) as elf:
        reader = DwarfReader(elf)
        scopes = None
        out.stages["load"] = time.perf_counter() - start
        if groups is None:  # the whole file: its scan's walks serve the versioning too
            clock = time.perf_counter()
            scopes = Scopes(reader)
            assignment = kbuild_assignment(names, scan_units(reader, range(len(reader.units)), scopes))
            reader.forget()
            out.stages["walk"] = time.perf_counter() - clock
            note_assignment(out, assignment)
            groups, undefined = assignment.groups, assignment.undefined
        out.dwarf_versions = sorted({u.version for u in reader.units})
        for group in version_unit_groups(reader, path, groups, undefined, stable, symtypes, scopes):
            out.versions.update(group.versions)
            for name, crc in group.versions.items():
                if crc is not None:
                    out.versioned_in[name] = f"{rel}:{group.unit_name}"
            out.warnings.extend(group.warnings)
            _add_stages(out.stages, group.stages)
            for producer in group.producers:
                if producer not in out.producers:
                    out.producers.append(producer)
            if symtypes:
                sort_key, origin = f"{rel}:{group.unit:08d}", f"{rel}:{group.unit_name}"
                out.symtypes.append((sort_key, origin, _block(group.symtypes)))

                def find(keys: set[str], unit: int = group.unit) -> LocationsBlock:
                    return block_locations(reader, [unit], keys)
                _locate(out, sort_key, origin, group.symtypes, find)
    return out


@collector_paused()
def run_file_range(path: str, rel: str, names: list[str], stable: bool, units: range,
                   part: int) -> RangeResult:
    """One range of a split file under whole-file semantics: render the
    exports assigned to these units; CRCs come after all ranges merge."""
    partial = None
    with _task(rel, part) as out, closing(ElfObject(path)) as elf:
        reader = DwarfReader(elf)
        opts = Options(stable=stable, symtypes=True)
        versioner = Versioner(names, opts, Diagnostics(opts))
        result = versioner.process_reader(reader, path, list(units), finalize=False)
        partial = result.partial
        out.versioned_in = {n: f"{rel}:{unit_name}" for n, (_, unit_name) in result.matched_in.items()}
        out.producers = result.producers
        out.dwarf_versions = result.dwarf_versions
        out.stages = result.stages
    return RangeResult(out, partial)


@collector_paused()
def finish_file(path: str, rel: str, names: list[str], stable: bool, symtypes: bool,
                ranges: list[RangeResult]) -> TaskResult:
    """Merge a split file's ranges (in unit order) into one whole-file result."""
    with _task(rel) as out:
        for r in ranges:
            out.versioned_in.update(r.result.versioned_in)
            out.producers.extend(p for p in r.result.producers if p not in out.producers)
            out.dwarf_versions = sorted(set(out.dwarf_versions) | set(r.result.dwarf_versions))
            _add_stages(out.stages, r.result.stages)
        with closing(ElfObject(path)) as elf:
            opts = Options(stable=stable, symtypes=symtypes)
            diag = Diagnostics(opts)
            partials: list[PartialTypes] = []
            for r in ranges:
                if r.partial is None:  # a failed range: _merge finishes none of those
                    raise ValueError(f"{rel}: range {r.result.part} has no type strings")
                partials.append(r.partial)
            lines, types = merge_partials(elf, names, partials, opts, diag)
        out.versions = {name: (crc if ok else None) for name, crc, ok in lines}
        out.versioned_in = {n: v for n, v in out.versioned_in.items() if out.versions.get(n) is not None}
        out.warnings = diag.warnings
        if symtypes:
            out.symtypes = [(rel, rel, _block(types))]
            _locate(out, rel, rel, types, lambda keys: file_locations(path, keys))
    out.seconds += sum(r.result.seconds for r in ranges)
    # The ranges ran in other processes: the file's peak is the largest of theirs.
    out.peak_rss_kib = max([out.peak_rss_kib] + [r.result.peak_rss_kib for r in ranges])
    return out


# -- what the pool's workers run around the tasks ------------------------------
def started() -> int:
    """The warm-up task of the scheduler's ``workers_starting``: unpickling it imports
    this module, and with it the versioning code, in the worker."""
    return os.getpid()


def indexed(index: int, func: Callable[..., object], args: tuple[object, ...]) -> tuple[int, object]:
    """A task's result with its index, for results that arrive in any order."""
    return index, func(*args)


def exit_with_parent(parent: int) -> None:
    """Make a loky worker exit as soon as the run that started it is gone
    (the pool's initializer).

    A run killed with SIGKILL cannot stop its pool, and loky's workers would
    otherwise live on for minutes holding the caller's stdout and stderr (a
    CI step or ``$(batchver run ...)`` then never ends); loky's resource
    trackers exit once the last of them has.  A daemon thread polls the
    parent pid: reparenting means the run died (loky starts every worker
    from the run's own process, so a worker whose parent is already
    someone else was orphaned while it started)."""
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="batchver-parent-watch", daemon=True).start()
