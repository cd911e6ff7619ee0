"""The whole-tree pipeline, once: discover -> schedule -> merge -> write.

``batchver run`` and every tree of a nightly call :func:`version_tree`, so a
rule about which files are versioned, how results merge or how outputs are
written cannot differ between the two.  Callers differ only in where the
outputs go and what they print, which they pass in.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

from batchver.errors import VersioningError
from batchver.tree.discover import Discovery, discover
from batchver.tree.outputs import merge, write_outputs
from batchver.tree.scheduler import RunOptions, run


class DiscoveryError(VersioningError):
    """The tree cannot be versioned at all (missing, or nothing exports):
    the caller's input is wrong, so commands exit 2 rather than 1."""


class SchedulerError(VersioningError):
    """The execution backend could not be used (e.g. an unreachable Dask
    scheduler): a configuration problem, not a problem of any one file."""


@dataclass
class TreeRun:
    """What one pipeline run produced: the discovery, the written report and
    how long each stage took."""

    discovery: Discovery
    report: dict
    seconds: dict[str, float] = field(default_factory=dict)


def version_tree(tree: str, outdir: str, opts: RunOptions, *, kind: str | None = None,
                 vmlinux: str | None = None, modules: list[str] | None = None,
                 earlier: str | None = None,
                 on_discovered: Callable[[Discovery], None] | None = None) -> TreeRun:
    """Version every export of ``tree`` and write ``outdir``'s outputs.

    ``earlier`` is a previous run's output directory whose identical
    symtypes files are linked instead of written again; ``on_discovered``
    sees the discovery before versioning starts (to print its summary);
    ``modules`` restricts the run to modules matching these shell patterns.
    Raises :class:`DiscoveryError` or :class:`SchedulerError`; a bad file
    never raises, it is reported in ``report.json``.
    """
    seconds: dict[str, float] = {}
    mark = time.perf_counter()

    def stage(name: str) -> None:
        nonlocal mark
        now = time.perf_counter()
        seconds[name] = round(now - mark, 3)
        mark = now

    try:
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
    report = write_outputs(outdir, found, outcome, merge(found, outcome), opts, earlier)
    stage("write")
    return TreeRun(found, report, seconds)
