"""Fan the work of a discovered tree out across processes.

Scheduling, in order:

1. Linked files larger than ``split_bytes`` whose DWARF needs no
   relocating (``vmlinux``) are cut into ranges of units of similar DWARF
   size; a module is versioned whole (see :func:`_cut`).  A first round scans the ranges in
   parallel for candidate DIEs; the parent then assigns each export to a
   unit (kbuild semantics: the CU that exported it; whole-file semantics:
   where upstream's first-match search would take it) and each range is
   versioned by its own task.  Under whole-file semantics the ranges return
   type strings, and CRCs are computed once they are merged, so upstream's
   object-wide rules (longest string per type, first match) still hold.
2. Every other file is one task.  Tasks run largest first on a joblib
   process pool; results come back as small records in any order and are
   merged by file and unit order, so the output does not depend on the
   number of jobs or on scheduling.
"""

from __future__ import annotations

import collections
import contextlib
import os
import signal
import sys
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Protocol, cast

from batchver.tree.cache import ResultCache, file_digest, task_key
from batchver.tree.discover import Discovery, WorkItem
from batchver.dwarf.reader import DwarfReader
from batchver.elf.file import ElfObject
from batchver.errors import VersioningError
from batchver.tree.kinds import Semantics, TreeKind
from batchver.tree.linked import UnitCandidates, file_assignment, kbuild_assignment, unit_ranges
from batchver.tree.tasks import (Failure, RangeResult, TaskResult, exit_with_parent, finish_file, indexed,
                                 note_assignment, run_file_range, run_linked_file, run_object,
                                 run_unit_groups, scan_file, started)


@dataclass
class RunOptions:
    jobs: int = 0
    stable: bool = False
    symtypes: bool = False
    semantics: Semantics = Semantics.KBUILD  # its value ("kbuild", "file") is accepted too
    split_bytes: int = 64 << 20
    quiet: bool = False
    cache_dir: str | None = None
    backend: str = "loky"  # any joblib backend; "dask" uses scheduler (or a local cluster)
    scheduler: str | None = None

    def __post_init__(self) -> None:
        self.semantics = Semantics(self.semantics)

    @property
    def workers(self) -> int:
        return self.jobs if self.jobs > 0 else (os.cpu_count() or 1)


@dataclass
class RunOutcome:
    """Everything the merge step needs, keyed by the item's relative path."""

    results: dict[str, list[TaskResult]] = field(default_factory=dict)
    split: dict[str, int] = field(default_factory=dict)
    cache: dict[str, str] = field(default_factory=dict)
    # cache key -> results computed this run, for ResultCache.store once the
    # outputs are written
    to_store: dict[str, list[TaskResult]] = field(default_factory=dict)
    wall_seconds: float = 0.0

    @property
    def cache_hits(self) -> int:
        return sum(1 for why in self.cache.values() if why == "hit")


@dataclass
class _Call:
    """One task: what runs in a worker, where its result goes in the parent
    (each kind of task returns its own record, so the scheduler never has
    to guess what came back), how many exports it versions (its weight on
    the progress bar) and how many bytes it reads (tasks start largest
    first, so the longest ones do not come last)."""

    func: Callable[..., object]
    args: tuple[object, ...]
    deliver: Callable[[Any], None]
    weight: int = 0
    size: int = 0


@dataclass
class _Plan:
    """What a run has to do once the cache has answered: the items to
    version, split into big linked files (cut into unit ranges) and the
    rest (one task each), and the cache keys to store results under.
    ``ranges`` collects, per split file versioned under whole-file
    semantics, its ranges' results until :func:`_merge` turns them into
    the file's."""

    todo: list[WorkItem]
    split: list[WorkItem]
    whole: list[WorkItem]
    keys: dict[str, str]
    ranges: dict[str, list[RangeResult]] = field(default_factory=dict)


class Bar(Protocol):
    """What a run asks of its progress bar (tqdm's, or :class:`_NoBar`)."""

    def update(self, n: float = 1) -> bool | None: ...

    def set_description(self, desc: str | None = None, refresh: bool = True) -> None: ...

    def close(self) -> None: ...


class _NoBar:
    """The bar of a run that shows none (``--quiet``, or no terminal): it
    spares such a run importing tqdm, a fifth of a small run's start."""

    def update(self, n: float = 1) -> bool | None:
        return None

    def set_description(self, desc: str | None = None, refresh: bool = True) -> None:
        return None

    def close(self) -> None:
        return None


def _progress(total: int, desc: str, quiet: bool) -> Bar:
    if quiet or not sys.stderr.isatty():
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="export", dynamic_ncols=True, smoothing=0.1)


def _parallel(jobs: int, calls: list[_Call], bar: Bar) -> None:
    """Run ``calls`` (in the order given), handing each result to its call's
    ``deliver`` as it finishes and moving the bar by the call's weight."""
    if not calls:
        return
    n_jobs = min(jobs, len(calls)) if jobs > 0 else -1
    if n_jobs == 1:
        # in this process and in order, as joblib's sequential backend would,
        # without importing joblib (and the numpy it imports): a small run's
        # start is a noticeable part of its time
        for call in calls:
            bar.update(call.weight)
            call.deliver(call.func(*call.args))
        return
    for i, result in _dispatch(n_jobs, [(call.func, call.args) for call in calls]):
        bar.update(calls[i].weight)
        calls[i].deliver(result)


def _dispatch(n_jobs: int, work: list[tuple[Callable[..., object], tuple[object, ...]]]
              ) -> Iterator[tuple[int, object]]:
    """Hand ``work`` to the active joblib backend's workers and return
    ``(index in work, result)`` pairs as they finish.  joblib gives the
    workers their first calls (starting them, with SIGINT ignored) before it
    returns."""
    from joblib import Parallel, delayed

    with _workers_ignore_sigint():
        return cast(Iterator[tuple[int, object]], Parallel(n_jobs=n_jobs, return_as="generator_unordered")(
            delayed(indexed)(i, func, args) for i, (func, args) in enumerate(work)))


@contextlib.contextmanager
def _workers_ignore_sigint() -> Iterator[None]:
    """Ignore SIGINT while the pool's workers are started, so that they
    inherit the disposition (an ignored signal survives exec, and Python
    then keeps it ignored).  Ctrl-C goes to the whole process group: the run
    itself stops the pool and says so in one line, where each worker
    would otherwise print a KeyboardInterrupt traceback of whatever it was
    importing or computing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def workers_starting(opts: RunOptions) -> Iterator[None]:
    """Start the pool's workers while the body runs, and wait until they
    are ready at its end.  A worker takes a few tenths of a second to start
    and import the versioning code: started before discovery, the workers
    do that while the caller walks the tree, instead of after it.  The pool
    is loky's reusable one, which the run's own tasks then find running
    (same size, same initializer).  Without a pool (one job, or Dask, whose
    workers live elsewhere) there is nothing to start.  The wait happens
    when the body fails too: joblib would stop a pool whose warm-up was
    abandoned, while its workers are still starting."""
    if opts.backend != "loky" or opts.workers == 1:
        yield
        return
    with _backend(opts):  # each worker imports the tasks' module to run its warm-up
        ready = _dispatch(opts.workers, [(started, ())] * opts.workers)
    try:
        yield
    finally:
        collections.deque(ready, maxlen=0)


def _file_assignment(item: WorkItem, names: list[str], scans: list[UnitCandidates]
                     ) -> tuple[dict[int, list[str]], list[str]]:
    elf = ElfObject(item.path)
    try:
        return file_assignment(names, scans, elf)
    finally:
        elf.close()


def _split_ranges(item: WorkItem, parts: int) -> list[range]:
    """The file's unit ranges; one range when its DIEs may refer across
    units (LTO, type units), since a type a range refers to outside itself
    would be rendered there again.  Raises VersioningError for a file that
    cannot be read."""
    with contextlib.closing(ElfObject(item.path)) as elf:
        reader = DwarfReader(elf)
        return unit_ranges(reader, 1 if reader.refers_across_units() else parts)


def run(discovery: Discovery, opts: RunOptions) -> RunOutcome:
    """Version every export of the discovered tree."""
    with _backend(opts):
        return _run(discovery, opts)


@contextlib.contextmanager
def _backend(opts: RunOptions) -> Iterator[None]:
    """joblib's backend for the run.  For Dask, connect to the scheduler
    named (or start a local cluster); workers must see the tree's paths."""
    if opts.backend == "loky" and opts.workers == 1:
        yield  # no pool: every task runs in this process (see _parallel)
        return
    from joblib import parallel_config

    if opts.backend == "dask":
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise VersioningError("run", "the dask backend needs the 'distributed' package "
                                  "(pip install 'batchver[dask]')") from None
        try:
            if opts.scheduler:
                client = Client(opts.scheduler, timeout=10)
            else:
                client = Client(LocalCluster(n_workers=opts.workers, threads_per_worker=1,
                                             processes=True, dashboard_address=None))
        except (OSError, TimeoutError) as exc:
            raise VersioningError("run", f"cannot reach dask scheduler "
                                  f"{opts.scheduler or '(local cluster)'}: {exc}") from None
        try:
            with parallel_config(backend="dask"):
                yield
        finally:
            cluster = client.cluster
            client.close()
            if cluster is not None and not opts.scheduler:
                cluster.close()
    elif opts.backend == "loky":
        with parallel_config(backend="loky", initializer=exit_with_parent, initargs=(os.getpid(),)), \
                warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=LOKY_RESTART, category=UserWarning)
            yield
    else:
        with parallel_config(backend=opts.backend):
            yield


# loky (with psutil installed) ends a worker whose memory has grown by 300 MB
# since its first task and starts another for the tasks still queued, with
# this warning.  A worker that versioned a vmlinux part keeps that much
# heap, legitimately: the restart gives the memory back, no task is lost,
# and the warning (from loky's manager thread, addressed to loky's users)
# would only alarm the run's.
LOKY_RESTART = "A worker stopped while some jobs were given to the executor"


def _digest(path: str) -> str | None:
    """A file's digest, or None when it cannot be read now: the task then
    runs uncached and reports the file's own error."""
    try:
        return file_digest(path)
    except OSError:
        return None


def _cache_keys(items: list[WorkItem], opts: RunOptions, linked: bool,
                cut: set[str]) -> dict[str, str]:
    """Cache keys of the exporting items.  Hashing a distro tree's files is
    most of an unchanged re-run; hashlib releases the GIL, so threads share
    the work."""
    items = [item for item in items if item.exports]
    with ThreadPoolExecutor(max_workers=max(1, min(opts.workers, os.cpu_count() or 1))) as pool:
        digests = list(pool.map(_digest, [item.path for item in items]))
    return {item.rel: task_key(TreeKind.LINKED if linked else "object", digest, item.symbol_list,
                               {"semantics": opts.semantics if linked else "kbuild",
                                "stable": opts.stable, "symtypes": opts.symtypes,
                                "split": item.rel in cut})
            for item, digest in zip(items, digests) if digest is not None}


def _cut(item: WorkItem, opts: RunOptions, linked: bool) -> bool:
    """Whether a file is cut into unit ranges: an exporting linked file
    larger than ``split_bytes`` whose DWARF needs no relocating.

    Every range's task opens the file again, and the scan round opens it
    once more per range.  For a vmlinux that is cheap, and the ranges bound
    each worker's memory.  A relocatable file (every module) has all its
    debug sections relocated at each opening, as libdwfl does, which costs
    about as much as versioning it, while each range still holds the whole
    relocated file: cut, the largest Debian module took three times the CPU
    for hardly less memory (results/issue12-fourth-pass-2026-11-30.md).  So
    modules are versioned whole, whatever their size."""
    if not (linked and item.exports and item.size > opts.split_bytes):
        return False
    try:
        elf = ElfObject(item.path)
    except VersioningError:
        return False  # its task reports why it cannot be read
    try:
        return not elf.is_relocatable
    finally:
        elf.close()


def _run(discovery: Discovery, opts: RunOptions) -> RunOutcome:
    """plan -> scan -> assign -> execute -> merge (see the module docstring)."""
    start = time.perf_counter()
    outcome = RunOutcome()
    jobs = opts.workers if opts.backend != "dask" else -1
    plan = _plan(discovery, opts, outcome)
    bar = _progress(discovery.export_count, "versioning", opts.quiet)
    bar.update(sum(len(i.exports) for i in discovery.items if i.rel in outcome.results))
    scanned = _scan(plan.split, jobs, outcome, bar)
    calls = _assign(plan, scanned, opts, outcome) + _whole_files(plan.whole, discovery, opts, outcome)
    _execute(calls, jobs, bar)
    _merge(plan, opts, outcome)
    bar.close()
    outcome.wall_seconds = time.perf_counter() - start
    return outcome


def _plan(discovery: Discovery, opts: RunOptions, outcome: RunOutcome) -> _Plan:
    """Serve what the cache has (recording why for every lookup) and sort
    the rest into files to split and files to version whole."""
    linked = discovery.kind is TreeKind.LINKED
    cache = ResultCache(opts.cache_dir) if opts.cache_dir else None
    # opening a big file to see whether it is cut is done once, for both uses
    cut = {i.rel for i in discovery.items if _cut(i, opts, linked)}
    keys = _cache_keys(discovery.items, opts, linked, cut) if cache is not None else {}
    todo = []
    for item in discovery.items:
        if item.rel in keys and cache is not None:  # keys is empty without a cache
            cached, why = cache.get(keys[item.rel])
            outcome.cache[item.rel] = why
            if cached is not None:
                outcome.results[item.rel] = cached
                continue
        todo.append(item)
    split = [i for i in todo if i.rel in cut]
    return _Plan(todo, split, [i for i in todo if i.rel not in cut], keys)


# A range's worker holds the rendered types of its units until it returns,
# so memory follows the range's size; this bound keeps the largest process of
# a whole-vmlinux run under 2 GiB under file semantics
# (results/memory-vmlinux-7.3.4-2026-11-30.md).  The output does not depend
# on how a file is cut (ranges merge in unit order).
RANGE_BYTES = 24 << 20


def _range_count(item: WorkItem, jobs: int) -> int:
    """How many unit ranges to cut a big file into: enough to keep every
    worker busy, and small enough to bound each worker's memory."""
    return max(4, 2 * jobs, -(-item.size // RANGE_BYTES))


def _scan(items: list[WorkItem], jobs: int, outcome: RunOutcome,
          bar: Bar) -> dict[str, list[tuple[int, range, list[UnitCandidates]]]]:
    """Round one: cut each big linked file into unit ranges and scan them in
    parallel for the DIEs each export could be versioned in.  Returns, per
    file, ``(part, units, scans)`` in unit order; a file that cannot be cut
    or scanned gets its failure (that of its first range) as its result."""
    calls: list[_Call] = []
    found: dict[str, list[tuple[int, range, list[UnitCandidates]]]] = {}
    failures: dict[str, dict[int, Failure]] = {}

    def collect(rel: str, part: int, units: range) -> Callable[[Any], None]:
        def deliver(scans: list[UnitCandidates] | Failure) -> None:
            if isinstance(scans, Failure):
                failures.setdefault(rel, {})[part] = scans
            else:
                found[rel].append((part, units, scans))
        return deliver

    for item in items:
        try:
            ranges = _split_ranges(item, _range_count(item, jobs))
        except VersioningError as exc:
            outcome.results[item.rel] = [TaskResult(item.rel, error=str(exc))]
            continue
        outcome.split[item.rel] = len(ranges)
        found[item.rel] = []
        names = [e.name for e in item.exports]
        for part, units in enumerate(ranges):
            calls.append(_Call(scan_file, (item.path, names, units), collect(item.rel, part, units)))
    if calls:
        bar.set_description("scanning units")
        _parallel(jobs, calls, bar)
        bar.set_description("versioning")
    for rel, failed in failures.items():
        outcome.results[rel] = [TaskResult.failed(rel, failed[min(failed)])]
        del found[rel]
    return {rel: sorted(parts, key=lambda p: p[0]) for rel, parts in found.items()}


def _assign(plan: _Plan, scanned: dict[str, list[tuple[int, range, list[UnitCandidates]]]],
            opts: RunOptions, outcome: RunOutcome) -> list[_Call]:
    """Give each export of a scanned file its unit (kbuild semantics: the CU
    kbuild versioned it in; file semantics: where upstream's first-match
    search takes it), then one task per range that versions anything."""
    calls: list[_Call] = []
    for item in plan.split:
        parts = scanned.get(item.rel)
        if parts is None:  # could not be cut or scanned: already failed
            continue
        ordered = [scan for _, _, scans in parts for scan in scans]
        names = [e.name for e in item.exports]
        kbuild = opts.semantics is Semantics.KBUILD
        undefined: dict[int, list[str]] = {}
        if kbuild:
            assignment = kbuild_assignment(names, ordered)
            groups, undefined = assignment.groups, assignment.undefined
            outcome.results[item.rel] = [TaskResult(item.rel)]
            note_assignment(outcome.results[item.rel][0], assignment)
        else:
            groups, _ = _file_assignment(item, names, ordered)
            plan.ranges[item.rel] = []
        size = item.size // outcome.split[item.rel]
        for part, units, _ in parts:
            part_groups = {u: groups[u] for u in units if u in groups}
            if not part_groups:
                continue
            weight = sum(len(v) for v in part_groups.values())
            if kbuild:
                calls.append(_Call(run_unit_groups, (item.path, item.rel, names, opts.stable,
                                                     opts.symtypes, part_groups,
                                                     {u: undefined[u] for u in part_groups if u in undefined},
                                                     part + 1),
                                   outcome.results[item.rel].append, weight, size))
            else:
                calls.append(_Call(run_file_range, (item.path, item.rel,
                                                    [n for g in part_groups.values() for n in g],
                                                    opts.stable, units, part + 1),
                                   plan.ranges[item.rel].append, weight, size))
    return calls


def _whole_files(items: list[WorkItem], discovery: Discovery, opts: RunOptions,
                 outcome: RunOutcome) -> list[_Call]:
    """One task per file versioned whole; a file discovery could not read
    gets its discovery error as its result."""
    calls: list[_Call] = []
    for item in items:
        if not item.exports:
            if item.rel not in outcome.results:
                outcome.results[item.rel] = [TaskResult(item.rel, error=next(
                    (msg for rel, msg in discovery.errors if rel == item.rel), "no exports"))]
            continue
        names = item.symbol_list
        func: Callable[..., TaskResult]
        args: tuple[object, ...]
        if discovery.kind is TreeKind.LINKED:
            func, args = run_linked_file, (item.path, item.rel, names, opts.stable, opts.symtypes,
                                           opts.semantics)
        else:
            func, args = run_object, (item.path, item.rel, names, opts.stable, opts.symtypes)
        calls.append(_Call(func, args, outcome.results.setdefault(item.rel, []).append,
                           len(names), item.size))
    return calls


def _execute(calls: list[_Call], jobs: int, bar: Bar) -> None:
    """Round two: every task, largest first, on the pool; each result goes
    where its call says."""
    _parallel(jobs, sorted(calls, key=lambda c: -c.size), bar)


def _merge(plan: _Plan, opts: RunOptions, outcome: RunOutcome) -> None:
    """Finish split files under file semantics (CRCs need every range's type
    strings), put each file's results in unit order whatever order they
    finished in, and note what the cache should store."""
    for item in plan.split:
        ranges = plan.ranges.get(item.rel)
        if ranges is not None:
            ranges.sort(key=lambda r: r.result.part)
            failed = [r.result for r in ranges if r.result.error]
            outcome.results[item.rel] = failed or [finish_file(
                item.path, item.rel, [e.name for e in item.exports], opts.stable, opts.symtypes,
                ranges)]
    for results in outcome.results.values():
        results.sort(key=lambda r: r.part)
    outcome.to_store = {plan.keys[item.rel]: outcome.results[item.rel] for item in plan.todo
                        if item.rel in plan.keys and item.rel in outcome.results}
