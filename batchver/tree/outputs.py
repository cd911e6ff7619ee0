"""Merge task results into the run's outputs, written atomically.

* ``Module.symvers`` in modpost's format,
  ``0x%08x<TAB>symbol<TAB>module<TAB>EXPORT_SYMBOL[_GPL]<TAB>namespace``,
  sorted by module (``vmlinux`` first, then modules by name) and then by
  symbol name; an export without a version gets ``0x00000000``, as kbuild
  would embed.
* ``symtypes/<module>.symtypes`` (with ``--symtypes``): the blocks of the
  module's objects (built tree: in link order) or exporting CUs (linked tree:
  in DWARF order), each sorted as upstream writes it; beside it
  ``<module>.locations.jsonl``, the source locations of each block's keys
  (:mod:`batchver.tree.locations`).
* ``report.json``: per-file status (``ok``, ``incomplete``, ``failed``, or
  ``skipped`` for a file looked at that exports nothing), counts, errors, where each export was
  versioned, and the toolchain seen (its records: :mod:`batchver.report`).
  Everything in it is deterministic except the ``timing`` object, which
  holds all the clock readings.

The outputs are one set: a run's ``Module.symvers``, ``report.json`` and
``symtypes/`` always come from the same run.  They are written into a
staging directory inside OUTDIR (``.batchver-staging-*``), where a full
disk or an interrupt costs nothing but the staging directory, and then
committed by renames: a journal file (``.batchver-commit``) naming the
staging directory is written first, so a run killed while renaming is
finished by the next one (:func:`recover`), which also removes what killed
runs left behind (staging directories, ``.tmp-*`` files).  ``symtypes/`` is
replaced as a whole, so symtypes of modules that no longer exist go with it.
"""

from __future__ import annotations

import fcntl
import resource
import os
import signal
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterator

from batchver import __version__, native
from batchver.atomic import TMP_PREFIX, atomic_write, read_regular, remove_any
from batchver.report import (Block, Counts, ExportEntry, FileEntry, Options, Report, Timing, Tool,
                             Toolchain, report_text)
from batchver.symvers import ExportRecord, ExportStatus, format_symvers
from batchver.tree.cache import code_digest
from batchver.tree.discover import VMLINUX, Discovery, module_sort_key
from batchver.tree.kinds import Semantics, TreeKind
from batchver.tree.locations import LOCATIONS_SUFFIX
from batchver.tree.scheduler import RunOptions, RunOutcome

@dataclass
class Merged:
    rows: list[ExportRecord] = field(default_factory=list)
    files: list[FileEntry] = field(default_factory=list)
    # export key -> why its CRC may not be kbuild's (linked files, kbuild semantics)
    caveats: dict[str, str] = field(default_factory=dict)
    # module -> its symtypes file's text, as the blocks it is made of (a
    # whole kernel's symtypes are hundreds of megabytes: not joined twice)
    symtypes: dict[str, list[str]] = field(default_factory=dict)
    symtypes_index: dict[str, list[Block]] = field(default_factory=dict)
    # module -> its locations file's lines, in the order of its symtypes blocks
    locations: dict[str, list[str]] = field(default_factory=dict)
    producers: list[str] = field(default_factory=list)
    dwarf_versions: list[int] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for r in self.rows if r.status == status)

    def count_files(self, status: str) -> int:
        return sum(1 for f in self.files if f.status == status)


def merge(discovery: Discovery, outcome: RunOutcome) -> Merged:
    merged = Merged()
    producers: set[str] = set()
    dwarf: set[int] = set()
    # per module: ((link position, sort key), origin, text) of each block
    blocks: dict[str, list[tuple[tuple[int, str], str, str]]] = {}
    located: dict[str, list[tuple[tuple[int, str], str, str]]] = {}
    link_order = {m: {os.path.normpath(p): i for i, p in enumerate(paths)}
                  for m, paths in discovery.member_order.items()}
    for item in discovery.items:
        results = outcome.results.get(item.rel, [])
        error = next((r.error for r in results if r.error), None)
        versions: dict[str, int | None] = {}
        origins: dict[str, str] = {}
        warnings: list[str] = []
        caveats: dict[str, str] = {}
        for r in results:
            caveats.update(r.caveats)
            versions.update(r.versions)
            origins.update(r.versioned_in)
            warnings.extend(r.warnings)
            producers.update(r.producers)
            dwarf.update(r.dwarf_versions)
            position = link_order.get(item.module, {}).get(os.path.normpath(item.rel), len(link_order))
            for key, origin, text in r.symtypes:
                blocks.setdefault(item.module, []).append(((position, key), origin, text))
            for key, origin, line in r.locations:
                located.setdefault(item.module, []).append(((position, key), origin, line))
        missing = []
        for export in item.exports:
            crc = None if error else versions.get(export.name)
            status: ExportStatus = "failed" if error else ("ok" if crc is not None else "no-information")
            if status == "no-information":
                missing.append(export.name)
            merged.rows.append(ExportRecord(export.name, item.module, crc, export.export_type,
                                            export.namespace, status, origins.get(export.name),
                                            item.rel))
            if export.name in caveats and status != "failed":
                merged.caveats[f"{item.module}:{export.name}"] = caveats[export.name]
        merged.files.append(FileEntry(
            file=item.rel, module=item.module,
            status="failed" if error else ("incomplete" if missing else "ok"),
            exports=len(item.exports),
            versioned=len(item.exports) - len(missing) if not error else 0,
            no_information=missing,
            not_as_kbuild={} if error else {n: caveats[n] for n in sorted(caveats)
                                            if versions.get(n) is not None},
            error=error,
            warnings=sorted(set(warnings)),
            cache=outcome.cache.get(item.rel, "off"),
            paired_with=item.paired_with or None))
    for rel, module, cause in discovery.skipped:
        merged.files.append(FileEntry(file=rel, module=module, status="skipped", exports=0,
                                      warnings=[cause]))
    merged.files.sort(key=lambda f: (module_sort_key(f.module), f.file))
    merged.rows.sort(key=lambda r: (module_sort_key(r.module), r.symbol, r.source))
    for module, parts in blocks.items():
        ordered = sorted(parts, key=lambda p: p[0])
        merged.symtypes[module] = [text for _, _, text in ordered]
        index, start = [], 0
        for _, origin, text in ordered:
            count = text.count("\n")
            index.append(Block(origin=origin, start=start, count=count))
            start += count
        merged.symtypes_index[module] = index
    for module, parts in located.items():
        merged.locations[module] = [line for _, _, line in sorted(parts, key=lambda p: p[0])]
    merged.producers = sorted(producers)
    merged.dwarf_versions = sorted(dwarf)
    return merged


def build_report(discovery: Discovery, outcome: RunOutcome, merged: Merged, opts: RunOptions) -> Report:
    """The run's :class:`~batchver.report.Report`."""
    rows = merged.rows
    return Report(
        # the code's digest keys the cache: a nightly's --explain-cache names
        # a change of it as the reason nothing was reused
        tool=Tool(name="batchver", version=__version__, code=code_digest()[:16], path=native.STATUS),
        tree=discovery.tree,
        kind=discovery.kind,
        options=Options(
            semantics=opts.semantics if discovery.kind is TreeKind.LINKED else Semantics.KBUILD,
            stable=opts.stable, symtypes=opts.symtypes),
        kernel=discovery.kernel,
        toolchain=Toolchain(producers=merged.producers, dwarf_versions=merged.dwarf_versions),
        counts=Counts(
            files=len(discovery.items),
            failed_files=merged.count_files("failed"),
            incomplete_files=merged.count_files("incomplete"),
            skipped_files=merged.count_files("skipped"),
            modules=len({item.module for item in discovery.items}),
            exports=len(rows),
            versioned=merged.count("ok"),
            no_information=merged.count("no-information"),
            failed_exports=merged.count("failed"),
            not_as_kbuild=sum(1 for r in rows if r.key in merged.caveats and r.crc is not None)),
        notes=discovery.notes,
        files=merged.files,
        symtypes_blocks=merged.symtypes_index if opts.symtypes else {},
        exports={r.key: _export_entry(r, merged.caveats.get(r.key)) for r in rows},
        timing=Timing(
            wall_seconds=round(outcome.wall_seconds, 3),
            cache_hits=outcome.cache_hits,
            cache_lookups=len(outcome.cache),
            jobs=opts.workers,
            # how big linked files were cut for the workers: a scheduling
            # choice that depends on --jobs, so it lives with the clocks
            split_into=dict(sorted(outcome.split.items())),
            file_seconds={rel: round(sum(r.seconds for r in rs), 3)
                          for rel, rs in sorted(outcome.results.items())},
            stage_seconds=_stage_totals(outcome),
            peak_worker_rss_mib=round(max((r.peak_rss_kib for rs in outcome.results.values()
                                           for r in rs), default=0) / 1024, 1),
            # The parent merges split files and writes outputs: count it too.
            peak_rss_mib=round(max([resource.getrusage(resource.RUSAGE_SELF).ru_maxrss]
                                   + [r.peak_rss_kib for rs in outcome.results.values()
                                      for r in rs]) / 1024, 1)))


def _export_entry(row: ExportRecord, caveat: str | None) -> ExportEntry:
    """An export's entry; its caveat says its CRC may not be kbuild's, or
    why it has none."""
    versioned = row.crc is not None
    return ExportEntry(symbol=row.symbol, module=row.module, crc=row.crc_text,
                       export_type=row.export_type, namespace=row.namespace, status=row.status,
                       versioned_in=row.origin,
                       not_as_kbuild=caveat if versioned else None,
                       unversioned=None if versioned else caveat)


def _stage_totals(outcome: RunOutcome) -> dict[str, float]:
    totals: dict[str, float] = {}
    for results in outcome.results.values():
        for r in results:
            for stage, seconds in r.stages.items():
                totals[stage] = totals.get(stage, 0.0) + seconds
    return {stage: round(seconds, 3) for stage, seconds in sorted(totals.items())}


STAGING_PREFIX = ".batchver-staging-"
COMMIT = ".batchver-commit"
SYMTYPES = "symtypes"
_OLD_SYMTYPES = ".old-symtypes"


def write_outputs(outdir: str, discovery: Discovery, outcome: RunOutcome, merged: Merged,
                  opts: RunOptions, earlier: str | None = None,
                  on_committed: Callable[[], None] | None = None) -> Report:
    """Write every output as one set (see the module's docstring); return the
    report.  Symtypes files identical to ``earlier``'s (an earlier run's
    output directory; by default OUTDIR's own previous outputs) are
    hard-linked from it rather than written again.  ``on_committed`` runs
    as soon as the new set is in place, before a signal held back during
    the commit is delivered, so a caller can tell which set OUTDIR holds."""
    os.makedirs(outdir, exist_ok=True)
    report = build_report(discovery, outcome, merged, opts)
    previous = earlier or outdir
    with _locked(outdir):
        recover(outdir)
        stage = tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=outdir)
        try:
            if opts.symtypes:
                for module, texts in sorted(merged.symtypes.items()):
                    name = os.path.join(SYMTYPES, (module or VMLINUX) + ".symtypes")
                    path = os.path.join(stage, name)
                    os.makedirs(os.path.dirname(path), exist_ok=True)
                    atomic_write(path, texts, os.path.join(previous, name))
                for module, lines in sorted(merged.locations.items()):
                    name = os.path.join(SYMTYPES, (module or VMLINUX) + LOCATIONS_SUFFIX)
                    atomic_write(os.path.join(stage, name), lines, os.path.join(previous, name))
            atomic_write(os.path.join(stage, "Module.symvers"), format_symvers(merged.rows))
            atomic_write(os.path.join(stage, "report.json"), report_text(report))
        except BaseException:
            remove_any(stage)
            raise
        with _signals_deferred():  # an interrupt now would cut the set in two
            # the point of no return: from here the set is committed, by this
            # run or, if it is killed, by the next one
            atomic_write(os.path.join(outdir, COMMIT),
                         f"{os.path.basename(stage)}\n{SYMTYPES if opts.symtypes else ''}\n")
            _roll_forward(outdir, stage, opts.symtypes)
            if on_committed is not None:
                on_committed()
    return report


@contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back for the few renames of a commit, then
    deliver them to the handlers they would have reached.  Done with Python
    handlers, not a signal mask: any thread may receive a signal, and
    Python then runs the handler in the main thread at once."""
    if threading.current_thread() is not threading.main_thread():
        yield  # handlers can only be changed (and only run) in the main thread
        return
    held: list[int] = []
    previous = {signum: signal.signal(signum, lambda number, frame: held.append(number))
                for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)
        for number in held:
            signal.raise_signal(number)


@contextmanager
def _locked(outdir: str) -> Iterator[None]:
    """Hold an exclusive lock on OUTDIR itself while its outputs change, so
    that a concurrent run's staging directory is never taken for a
    leftover."""
    fd = os.open(outdir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def recover(outdir: str) -> None:
    """Finish a commit a killed run had started, then remove what killed
    runs left: staging directories and ``.tmp-*`` files."""
    journal = os.path.join(outdir, COMMIT)
    try:
        lines = read_regular(journal, follow=False).decode("utf-8", "replace").split("\n")
    except OSError:  # none (the usual case), or not one a run wrote
        lines = [""]
    pending = lines[0]
    if pending.startswith(STAGING_PREFIX) and "/" not in pending \
            and os.path.isdir(os.path.join(outdir, pending)):
        _roll_forward(outdir, os.path.join(outdir, pending), lines[1:2] == [SYMTYPES])
    for name in os.listdir(outdir):
        if name.startswith((STAGING_PREFIX, TMP_PREFIX)) or name == COMMIT:
            remove_any(os.path.join(outdir, name))


def _roll_forward(outdir: str, stage: str, with_symtypes: bool) -> None:
    """Move a complete staging directory's outputs into OUTDIR.  Every step
    checks what is already done, so a run killed half-way is finished by
    :func:`recover` from wherever it stopped.  The previous ``symtypes/``
    leaves whether or not this set has one (it would describe other
    CRCs); ``report.json`` goes last: a reader that finds the new report
    finds the new set."""
    current, staged = os.path.join(outdir, SYMTYPES), os.path.join(stage, SYMTYPES)
    old = os.path.join(stage, _OLD_SYMTYPES)
    if os.path.lexists(current) and not os.path.lexists(old) and \
            (os.path.isdir(staged) or not with_symtypes):
        os.rename(current, old)
    if os.path.isdir(staged):
        os.rename(staged, current)
    for name in ("Module.symvers", "report.json"):
        if os.path.lexists(os.path.join(stage, name)):
            os.replace(os.path.join(stage, name), os.path.join(outdir, name))
    os.unlink(os.path.join(outdir, COMMIT))
    remove_any(stage)


def summary_lines(report: Report) -> list[str]:
    c = report.counts
    lines = [f"{c.exports} exports in {c.files} files ({c.modules} modules): "
             f"{c.versioned} versioned, {c.no_information} without DWARF information, "
             f"{c.failed_exports} in failed files; {c.failed_files} failed files, "
             f"{c.incomplete_files} incomplete files (exports without DWARF), "
             f"{c.skipped_files} files skipped (nothing to version); wall time "
             f"{report.timing.wall_seconds:.1f} s with {report.timing.jobs} jobs"]
    for f in report.files:
        if f.status == "failed":
            lines.append(f"FAILED {f.file}: {f.error}")
        elif f.status == "incomplete":
            shown = ", ".join(f.no_information[:5])
            more = len(f.no_information) - 5
            lines.append(f"no DWARF for {len(f.no_information)} export(s) of {f.file}: {shown}"
                         + (f" (+{more} more)" if more > 0 else ""))
        if f.not_as_kbuild:
            names = list(f.not_as_kbuild)
            more = len(names) - 5
            lines.append(f"possibly not kbuild's CRC for {len(names)} export(s) of {f.file} (see "
                         f"report.json): {', '.join(names[:5])}" + (f" (+{more} more)" if more > 0 else ""))
    return lines
