"""Execute a nightly config: for each tree, produce it, version it, check it
against its baseline, keep the outputs and append one history line.

Per tree, in order (each stage's time is recorded in the history line):

1. **produce** - the tree is ``path``, or what ``command`` made: the command
   runs in the config's directory; the tree is then ``path`` if given, else
   the last line the command printed.
2. **discover** and **version** it with :func:`batchver.tree.pipeline.version_tree`
   (cache and backend from the config).
3. **write** ``Module.symvers``, ``report.json`` and ``symtypes/`` into
   ``OUTROOT/<tree>/<UTC timestamp>.partial/``, then rename it to
   ``OUTROOT/<tree>/<UTC timestamp>/``.
4. **check** it against its baseline with the gate (what ``batchver check``
   runs, called as a library, when a baseline is configured), the reports
   going into the same directory, and count the symbols that differ from the
   baseline's ``Module.symvers``.
5. Write ``run.json`` (the history record) there and append the record to
   the history.

A run killed at any point leaves either nothing, an ignored ``*.partial``
directory, or a directory without ``run.json`` and without a history line;
earlier lines and directories are never touched.  Results already versioned
are in the cache, so the next run picks up there.

A tree fails when it could not be versioned (``error``), a file failed, or
its check failed or had bad input; ``on_failure: stop`` then skips the
remaining trees (each recorded as ``skipped``).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, TextIO

from batchver import __version__
from batchver.atomic import atomic_write
from batchver.errors import InputError
from batchver.gate import run_check
from batchver.gate.formats import render
from batchver.gate.render import headline
from batchver.nightly.config import PREVIOUS, REPORT_FILES, NightlyConfig, TreeConfig, missing_paths
from batchver.nightly.history import RunRecord, append_record, latest_completed
from batchver.report import Report
from batchver.symvers import parse_symvers

#: how many recomputed files a history line names (the count is always exact)
LISTED_MISSES = 20


class TreeError(Exception):
    """A tree could not be versioned; the message names what and where."""


@dataclass
class NightlyResult:
    """What a nightly did: one history record per tree, in config order."""

    records: list[RunRecord] = field(default_factory=list)

    @property
    def failed(self) -> list[RunRecord]:
        return [r for r in self.records if r.failing]

    @property
    def exit_status(self) -> int:
        return 1 if self.failed else 0


def utc_stamp(moment: datetime) -> str:
    """The run directory name: sortable, no characters shells or URLs mind."""
    return moment.strftime("%Y%m%dT%H%M%SZ")


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# -- stage 1: produce the tree ------------------------------------------------
def produce_tree(config: NightlyConfig, tree: TreeConfig) -> str:
    """The tree's directory, after running its command if it has one."""
    if tree.command:
        try:
            done = subprocess.run(tree.command, shell=True, cwd=config.base, capture_output=True,
                                  text=True, errors="replace", timeout=tree.timeout)
        except subprocess.TimeoutExpired:
            raise TreeError(f"{tree.where(config, 'command')}: command did not finish within "
                            f"{tree.timeout:g} s (timeout)") from None
        if done.returncode != 0:
            tail = " | ".join(done.stderr.strip().splitlines()[-3:]) or "no output on stderr"
            raise TreeError(f"{tree.where(config, 'command')}: command exited with status "
                            f"{done.returncode}: {tail}")
        if not tree.path:
            lines = [line.strip() for line in done.stdout.splitlines() if line.strip()]
            if not lines:
                raise TreeError(f"{tree.where(config, 'command')}: command printed no tree path "
                                "(expected the tree's directory on its last line of output, "
                                "or set 'path')")
            produced = os.path.join(config.base, lines[-1])
            if not os.path.isdir(produced):
                raise TreeError(f"{tree.where(config, 'command')}: the command's last line "
                                f"'{lines[-1]}' is not a directory (expected the tree's path)")
            tree_dir = os.path.normpath(produced)
        else:
            tree_dir = tree.path
    else:
        tree_dir = tree.path or ""
    problems = missing_paths(config, tree, before_command=False)
    if problems:
        raise TreeError("; ".join(str(p) for p in problems))
    return tree_dir


# -- stage 4: compare with the baseline ----------------------------------------
def read_symvers(path: str) -> dict[str, tuple[tuple[str, str, str, str], ...]]:
    """symbol -> sorted (crc, module, export type, namespace) rows; a symbol
    exported by several modules keeps all its rows."""
    rows: dict[str, list[tuple[str, str, str, str]]] = {}
    for r in parse_symvers(path, zero_is_unknown=False):
        rows.setdefault(r.symbol, []).append((f"{r.crc:08x}", r.module, r.export_type, r.namespace))
    return {name: tuple(sorted(found)) for name, found in rows.items()}


def symbols_changed(baseline_symvers: str, current_symvers: str) -> dict[str, int]:
    """How many symbols differ between two Module.symvers, by name: added,
    removed, changed (CRC, module, export type or namespace).  The trend
    plots this; the check report says what each change means."""
    old, new = read_symvers(baseline_symvers), read_symvers(current_symvers)
    changed = sum(1 for name in old.keys() & new.keys() if old[name] != new[name])
    added, removed = len(new.keys() - old.keys()), len(old.keys() - new.keys())
    return {"added": added, "removed": removed, "changed": changed,
            "total": added + removed + changed}


def resolve_baseline(config: NightlyConfig, tree: TreeConfig) -> str | None:
    """The baseline's path: as configured, or the tree's latest completed
    run for ``previous`` (None before there is one)."""
    if tree.baseline != PREVIOUS:
        return tree.baseline
    record = latest_completed(config.output, tree.name)
    return os.path.join(config.output, record.run_dir) if record and record.run_dir else None


def _symvers_of(path: str) -> str:
    return os.path.join(path, "Module.symvers") if os.path.isdir(path) else path


def gate_verdict(baseline: str | None, current: str, stablelists: list[str], rules: str | None,
                 formats: list[str], outdir: str, consumers: list[str] | None = None) -> dict[str, Any]:
    """The gate's verdict on ``current`` against ``baseline`` (what ``batchver
    check`` prints and exits with; without a baseline, only the consumers
    are decided), its reports written in every configured format: the
    history record's ``check``."""
    reports: list[str] = []

    def bad(message: str) -> dict[str, Any]:
        return {"status": "bad input", "exit": 2, "reports": reports, "message": message}

    try:
        result = run_check(baseline, current, stablelists, rules, consumers=consumers)
    except InputError as exc:
        return bad(f"batchver check: error: {exc}")
    except Exception as exc:  # the gate's bug must not lose the night's outputs
        return bad(f"check crashed: {type(exc).__name__}: {exc}")
    for fmt in formats:
        target = os.path.join(outdir, REPORT_FILES[fmt])
        try:
            atomic_write(target, render(result, fmt))
        except OSError as exc:
            return bad(f"batchver check: error: cannot write {target}: {exc.strerror or exc}")
        reports.append(REPORT_FILES[fmt])
    # what `batchver check` prints on stderr: the verdict, then its warnings
    messages = [headline(result)] + [f"warning: builds differ: {d.text()}" for d in result.prominent]
    messages += [f"warning: {w}" for w in result.warnings]
    return {"status": {0: "pass", 1: "fail"}.get(result.exit_status, "bad input"),
            "exit": result.exit_status, "reports": reports,
            "message": " | ".join(dict.fromkeys(messages))[:2000] or None}


# -- cache explanation -----------------------------------------------------------
def explain_cache(report: Report, previous: Report | None,
                  same_cache: bool = True) -> list[tuple[str, str, str]]:
    """(file, ``reused``/``parsed``/``off``, why) for every file of a report.

    The cache knows only hit, absent or corrupt; *why* an entry was absent is
    read from the previous run's report of the same tree (tool version,
    options, whether the file existed, failed, or had other exports)."""
    files = [f for f in report.files if f.status != "skipped"]  # nothing to cache
    lookups = [f for f in files if f.cache != "off"]
    all_missed = bool(lookups) and all(f.cache != "hit" for f in lookups)
    old_files = {f.file: f for f in previous.files} if previous else {}
    general = None
    if previous is None:
        general = "no cached result, and no earlier run of this tree to compare with"
    elif previous.tool.code != report.tool.code:
        general = (f"batchver's code changed (version {previous.tool.version} -> "
                   f"{report.tool.version}, code {previous.tool.code or 'unrecorded'} -> "
                   f"{report.tool.code}); results of other code are never reused")
    elif previous.options != report.options:
        before, now = vars(previous.options), vars(report.options)
        moved = [f"{k}: {before[k]} -> {v}" for k, v in now.items() if before[k] != v]
        general = "options changed (" + ", ".join(moved) + ")"
    elif not same_cache:
        general = "cache location changed since the previous run"
    explained = []
    for f in files:
        state = f.cache
        if state == "off":
            explained.append((f.file, "off", "no cache configured"))
        elif state == "hit":
            explained.append((f.file, "reused", "same bytes, exports, options and batchver code"))
        elif state.startswith("corrupt"):
            explained.append((f.file, "parsed", state + "; recomputed"))
        else:
            old = old_files.get(f.file)
            if general:
                why = general
            elif old is None:
                why = "new file (not in the previous run)"
            elif old.status == "failed":
                why = "failed in the previous run (failures are never cached)"
            elif all_missed:
                why = "no entry for any file: the cache was emptied or is new"
            elif old.exports != f.exports:
                why = f"export list changed ({old.exports} -> {f.exports} exports)"
            else:
                why = "file contents changed since the previous run"
            explained.append((f.file, "parsed", why))
    return explained


def _cache_summary(report: Report, explained: list[tuple[str, str, str]]) -> dict[str, Any]:
    timing = report.timing
    parsed = [(rel, why) for rel, state, why in explained if state == "parsed"]
    return {
        "hits": timing.cache_hits, "lookups": timing.cache_lookups,
        "hit_rate": round(timing.cache_hits / timing.cache_lookups, 6)
        if timing.cache_lookups else None,
        "recomputed_count": len(parsed),
        "recomputed": [{"file": rel, "why": why} for rel, why in parsed[:LISTED_MISSES]],
    }


def _counts(report: Report) -> dict[str, int]:
    """The report's counts for the history: ``failed_files`` (could not be
    versioned) apart from ``incomplete_files`` (some exports without DWARF,
    normal for vmlinux), which are not failures of a nightly."""
    return {k: getattr(report.counts, k) for k in ("files", "failed_files", "incomplete_files", "modules",
                                             "exports", "versioned", "no_information")}


# -- one tree ------------------------------------------------------------------
@dataclass
class _Context:
    config: NightlyConfig
    run_id: str
    explain: bool
    quiet: bool
    say: Callable[[str], None]


def _claim_run_dir(tree_root: str, started: datetime) -> tuple[str, str]:
    """A fresh ``(final, partial)`` pair of directories: runs never share or
    overwrite one, even two in the same second."""
    os.makedirs(tree_root, exist_ok=True)
    stamp = utc_stamp(started)
    for attempt in range(1, 1000):
        name = stamp if attempt == 1 else f"{stamp}-{attempt}"
        final = os.path.join(tree_root, name)
        partial = final + ".partial"
        if os.path.exists(final):
            continue
        try:
            os.mkdir(partial)
        except FileExistsError:
            continue
        return final, partial
    raise TreeError(f"cannot claim a run directory under {tree_root}")


def _previous_report(config: NightlyConfig, tree: TreeConfig,
                     load: bool) -> tuple[RunRecord | None, Report | None]:
    """The tree's latest completed history record and (if ``load``) its
    report.json, which explains cache misses; an unchanged re-run has none
    and skips reading a large report."""
    record = latest_completed(config.output, tree.name)
    if record is None or record.run_dir is None or not load:
        return record, None
    try:
        return record, Report.read(os.path.join(config.output, record.run_dir, "report.json"))
    except InputError:
        return record, None


def run_tree(ctx: _Context, tree: TreeConfig) -> RunRecord:
    """Everything for one tree; returns its history record (never raises for
    a problem of the tree itself: that is recorded as ``error``)."""
    from batchver.tree.outputs import summary_lines
    from batchver.tree.pipeline import DiscoveryError, SchedulerError, UnusableDirectory, version_tree
    from batchver.tree.kinds import Semantics
    from batchver.tree.scheduler import RunOptions

    config = ctx.config
    started = datetime.now(timezone.utc)
    clock = time.perf_counter()
    seconds: dict[str, float] = {}
    record = RunRecord(
        tree=tree.name, run_id=ctx.run_id, started=_iso(started), batchver=__version__,
        config=os.path.abspath(config.file), host=platform.node(),
        backend=config.backend + (f" {config.scheduler}" if config.scheduler else ""))

    def stage(name: str, since: float) -> float:
        now = time.perf_counter()
        seconds[name] = round(now - since, 3)
        return now

    partial = None
    try:
        tree_dir = produce_tree(config, tree)
        record.tree_path = tree_dir
        mark = stage("produce", clock)
        source = tree.where(config, "path" if "path" in tree.lines else "command")
        opts = RunOptions(jobs=config.jobs, stable=tree.stable, symtypes=tree.symtypes,
                          semantics=Semantics(tree.semantics), quiet=ctx.quiet, cache_dir=config.cache,
                          backend=config.backend, scheduler=config.scheduler)
        record.jobs = opts.workers if config.backend != "dask" else None  # dask: the cluster's
        final, partial = _claim_run_dir(os.path.join(config.output, tree.name), started)
        earlier = latest_completed(config.output, tree.name)
        try:
            done = version_tree(tree_dir, partial, opts, kind=None if tree.kind == "auto" else tree.kind,
                                vmlinux=tree.vmlinux,
                                earlier=os.path.join(config.output, earlier.run_dir)
                                if earlier and earlier.run_dir else None)
        except DiscoveryError as exc:
            raise TreeError(f"{source}: {exc}") from None
        except SchedulerError as exc:
            key = "scheduler" if config.scheduler else "backend"
            raise TreeError(f"{config.where(key)}: {exc}") from None
        except UnusableDirectory as exc:
            raise TreeError(f"{config.where(exc.role)}: {exc}") from None
        seconds.update(done.seconds)
        if done.warnings:
            record.warning = "; ".join(done.warnings)
        mark = time.perf_counter()
        report = done.report
        record.counts = _counts(report)
        previous_record, previous = _previous_report(
            config, tree, load=any(f.cache == "absent" for f in report.files))
        explained = explain_cache(report, previous, previous_record is None or
                                  previous_record.cache_dir == config.cache)
        record.cache_dir = config.cache
        record.cache = _cache_summary(report, explained) if config.cache else None
        if ctx.explain:
            ctx.say(f"[{tree.name}] cache: {record.cache['hits'] if record.cache else 0} of "
                    f"{len(explained)} files reused")
            for rel, state, why in explained:
                ctx.say(f"[{tree.name}]   {state:6} {rel}: {why}")
        if not ctx.quiet:
            for line in summary_lines(report):
                ctx.say(f"[{tree.name}] {line}")
        os.rename(partial, final)  # before the check, whose reports name the directory
        partial = None
        record.run_dir = os.path.relpath(final, config.output)
        check_failed = _baseline_stage(ctx, tree, final, record)
        stage("check", mark)
        if report.counts.failed_files or check_failed:
            record.status = "failed"
        else:
            record.status = "incomplete" if report.counts.no_information else "ok"
    except TreeError as exc:
        record.error = str(exc)
    except OSError as exc:  # a full disk, a permission problem: name the file
        path = str(exc.filename or "")
        what = f"cannot write outputs under {config.output}" if path.startswith(config.output) \
            else f"tree '{tree.name}': I/O error"
        record.error = f"{what}:{' ' + path if path else ''}: {exc.strerror or exc}"
    finally:
        if partial is not None:
            shutil.rmtree(partial, ignore_errors=True)
    record.seconds = seconds
    record.wall_seconds = round(time.perf_counter() - clock, 3)
    record.finished = _iso(datetime.now(timezone.utc))
    return record


def _baseline_stage(ctx: _Context, tree: TreeConfig, outdir: str, record: RunRecord) -> bool:
    """Count changes against the baseline and run the check; True when the
    check failed or could not read its inputs."""
    if not tree.baseline and not tree.consumers:
        return False
    baseline = resolve_baseline(ctx.config, tree) if tree.baseline else None
    if baseline is None:
        if tree.consumers:  # the load question needs no baseline
            record.check = gate_verdict(None, outdir, [], None, ctx.config.reports, outdir,
                                        tree.consumers)
            return record.check["status"] in ("fail", "bad input")
        record.check = {"status": "no baseline yet",
                        "message": "baseline: previous, and no earlier completed run"}
        return False
    record.baseline = baseline
    record.check = gate_verdict(baseline, outdir, tree.stablelist, tree.rules, ctx.config.reports, outdir,
                                   tree.consumers)
    try:
        changed = symbols_changed(_symvers_of(baseline), os.path.join(outdir, "Module.symvers"))
    except InputError:
        changed = None  # the gate has judged the baseline: bad input
    record.changed = changed
    if not ctx.quiet:
        counted = "symbols changed: not counted" if changed is None else (
            f"{changed['total']} symbols changed ({changed['added']} added, {changed['removed']} "
            f"removed, {changed['changed']} changed)")
        ctx.say(f"[{tree.name}] vs baseline {baseline}: {counted}; check: {record.check['status']}")
    return record.check["status"] in ("fail", "bad input")


# -- the whole config --------------------------------------------------------------
def run_nightly(config: NightlyConfig, *, trees: list[str] | None = None, explain_cache: bool = False,
                quiet: bool = False, out: TextIO | None = None) -> NightlyResult:
    """Run every tree of ``config`` (or those named in ``trees``), appending
    one history line each.  Raises OSError only when the history itself
    cannot be written."""
    stream = out or sys.stderr
    ctx = _Context(config, utc_stamp(datetime.now(timezone.utc)), explain_cache, quiet,
                   lambda text: print(text, file=stream, flush=True))
    result = NightlyResult()
    stopping: str | None = None
    for tree in config.trees:
        if trees and tree.name not in trees:
            continue
        if stopping:
            record = RunRecord(tree=tree.name, run_id=ctx.run_id,
                               started=_iso(datetime.now(timezone.utc)), batchver=__version__,
                               status="skipped", error=f"on_failure: stop after {stopping} failed")
        else:
            if not quiet:
                ctx.say(f"[{tree.name}] starting")
            record = run_tree(ctx, tree)
            if record.failing and config.on_failure == "stop":
                stopping = tree.name
        if record.run_dir:  # the run directory describes itself too
            try:
                atomic_write(os.path.join(config.output, record.run_dir, "run.json"),
                             json.dumps(record.to_json(), indent=1, sort_keys=True) + "\n")
            except OSError as exc:
                record.warning = f"run.json not written: {exc}"
        append_record(config.output, record)
        result.records.append(record)
        if not quiet or record.failing:
            check = record.check or {}
            detail = f": {record.error}" if record.error else (
                f": check {check['status']}" + (f": {check['message']}" if check.get("message") else "")
                if check.get("status") in ("fail", "bad input") else "")
            where = f" -> {os.path.join(config.output, record.run_dir)}" if record.run_dir else ""
            ctx.say(f"[{tree.name}] {record.status}{where}{detail}")
    return result
