"""The whole-tree pipeline, once: discover -> schedule -> merge -> write.

``batchver run`` and every tree of a nightly call :func:`version_tree`, so a
rule about which files are versioned, how results merge or how outputs are
written cannot differ between the two.  Callers differ only in where the
outputs go and what they print, which they pass in.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass, field
from typing import Callable

from batchver.atomic import TMP_PREFIX
from batchver.errors import VersioningError
from batchver.report import Report
from batchver.tree.cache import ResultCache
from batchver.tree.discover import Discovery, discover
from batchver.tree.outputs import merge, write_outputs
from batchver.tree.scheduler import RunOptions, run, workers_starting


class DiscoveryError(VersioningError):
    """The tree cannot be versioned at all (missing, or nothing exports):
    the caller's input is wrong, so commands exit 2 rather than 1."""


class UnusableDirectory(VersioningError):
    """The output directory or the cache cannot be written (a file, under a
    file, read-only, in /proc): bad input too, found before any work.
    ``role`` is ``"output"`` or ``"cache"``."""

    def __init__(self, role: str, message: str, path: str):
        super().__init__(role, message, path)
        self.role = role


class SchedulerError(VersioningError):
    """The execution backend could not be used (e.g. an unreachable Dask
    scheduler): a configuration problem, not a problem of any one file."""


@dataclass
class TreeRun:
    """What one pipeline run produced: the discovery, the written report and
    how long each stage took."""

    discovery: Discovery
    report: Report
    seconds: dict[str, float] = field(default_factory=dict)
    # problems that cost no output (a cache that could not be updated)
    warnings: list[str] = field(default_factory=list)
    # file -> traceback of an internal error (``batchver run --debug``)
    tracebacks: dict[str, str] = field(default_factory=dict)


def writable_directory(path: str, role: str) -> None:
    """Create ``path`` if needed and prove that a file can be made in it,
    so that a run never versions a whole tree only to fail writing.
    Raises :class:`UnusableDirectory` with one line naming the cause."""
    label = {"output": "output directory", "cache": "cache directory"}[role]
    try:
        if os.path.lexists(path) and not os.path.isdir(path):
            raise NotADirectoryError(0, "exists and is not a directory", path)
        os.makedirs(path, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=TMP_PREFIX, suffix="-probe", dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise UnusableDirectory(role, f"{label} '{path}' cannot be used: "
                                f"{exc.strerror or exc}", path) from None


def version_tree(tree: str, outdir: str, opts: RunOptions, *, kind: str | None = None,
                 vmlinux: str | None = None, modules: list[str] | None = None,
                 earlier: str | None = None,
                 on_discovered: Callable[[Discovery], None] | None = None,
                 on_written: Callable[[], None] | None = None) -> TreeRun:
    """Version every export of ``tree`` and write ``outdir``'s outputs.

    ``earlier`` is a previous run's output directory whose identical
    symtypes files are linked instead of written again; ``on_discovered``
    sees the discovery before versioning starts (to print its summary),
    ``on_written`` is called once the new outputs are in place (so that an
    interrupt can be described truthfully: see :func:`write_outputs`);
    ``modules`` restricts the run to modules matching these shell patterns.
    Raises :class:`UnusableDirectory` (before any work), :class:`DiscoveryError`,
    :class:`SchedulerError`, or OSError when the outputs cannot be written
    (the previous ones are then intact); a bad file never raises, it is
    reported in ``report.json``.  The cache is updated after the outputs
    are written: a cache that fails then costs a warning, not the outputs.
    """
    writable_directory(outdir, "output")
    if opts.cache_dir:
        writable_directory(opts.cache_dir, "cache")
    seconds: dict[str, float] = {}
    mark = time.perf_counter()

    def stage(name: str) -> None:
        nonlocal mark
        now = time.perf_counter()
        seconds[name] = round(now - mark, 3)
        mark = now

    try:
        with workers_starting(opts):  # they start while the tree is discovered
            found = discover(tree, kind, vmlinux, modules)
    except VersioningError as exc:
        raise DiscoveryError(exc.where, exc.message, exc.path) from None
    if on_discovered is not None:
        on_discovered(found)
    if not found.items:
        raise DiscoveryError("discover", f"no exporting files found in {found.tree}", found.tree)
    stage("discover")
    try:
        outcome = run(found, opts)
    except VersioningError as exc:
        raise SchedulerError(exc.where, exc.message, exc.path) from None
    stage("version")
    report = write_outputs(outdir, found, outcome, merge(found, outcome), opts, earlier, on_written)
    stage("write")
    warnings = []
    if opts.cache_dir:
        problem = ResultCache(opts.cache_dir).store(outcome.to_store)
        if problem:
            warnings.append(problem)
        stage("cache")
    tracebacks = {rel: r.traceback for rel, results in outcome.results.items()
                  for r in results if r.traceback}
    return TreeRun(found, report, seconds, warnings, tracebacks)
