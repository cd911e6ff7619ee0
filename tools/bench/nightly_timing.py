#!/usr/bin/env python3
"""Time incremental reuse on a real distro tree: a full nightly run, an
unchanged re-run, and a run with one module replaced.

The tree is staged as a directory of symlinks (``vmlinux`` and every
``kernel/**/*.ko``; with ``--modules-only`` just the modules), so one module
can be swapped for another build of it without touching the original.  Each
run is ``batchver nightly CONFIG`` in its own process with a fresh cache at
the start, timed from outside; the history lines give the stage times and
what was reused.  Writes ``RESULTS/nightly-timing-<date>.json`` and ``.md``
(commands, wall times, ratio, reuse) and the trend page of the three runs as
``RESULTS/trend-example.html``.

    python -m tools.bench.nightly_timing                   # Debian 6.12.117 cloud, whole tree
    python -m tools.bench.nightly_timing --modules-only    # without vmlinux, labelled as such

The default trees are the ones tools/fetch/fetch_debian_kernel.py unpacks under
``<cache>`` ($XDG_CACHE_HOME/batchver, else ~/.cache/batchver; ``--cache``);
``--tree`` and ``--donor`` override them.  Paths in the results are written
relative to ``<cache>``, ``<work>`` (``--work``) and ``<repo>`` (tools/helpers/roots.py).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone

from tools.helpers.roots import CACHE_HELP, Roots, default_cache

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEBUG = "debian-{v}-cloud/root/usr/lib/debug/lib/modules/{v}+deb12-cloud-amd64"  # under the cache
TREE_VERSION, DONOR_VERSION = "6.12.117", "6.12.115"
DEFAULT_MODULE = "kernel/fs/nfs/nfs.ko"
RATIO_LIMIT = 0.05


def stage_tree(source: str, dest: str, modules_only: bool) -> int:
    """Mirror ``source`` as symlinks in ``dest`` (recreated); return the
    number of modules.  The directory keeps the release as its name, which
    is how batchver learns the kernel version of a linked tree."""
    if os.path.exists(dest):
        shutil.rmtree(dest)
    os.makedirs(dest)
    if not modules_only:
        os.symlink(os.path.realpath(os.path.join(source, "vmlinux")), os.path.join(dest, "vmlinux"))
    count = 0
    for root, dirs, files in os.walk(os.path.join(source, "kernel")):
        dirs.sort()
        for name in sorted(files):
            if name.endswith(".ko"):
                rel = os.path.relpath(os.path.join(root, name), source)
                os.makedirs(os.path.dirname(os.path.join(dest, rel)), exist_ok=True)
                os.symlink(os.path.realpath(os.path.join(root, name)), os.path.join(dest, rel))
                count += 1
    return count


def write_config(path: str, tree_name: str, tree: str, outroot: str, jobs: int) -> None:
    """The nightly config the three runs share (baseline: the previous run)."""
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(f"# written by tools/bench/nightly_timing.py\n"
                     f"output: {outroot}\n"
                     f"jobs: {jobs}\n"
                     f"trees:\n"
                     f"  - name: {tree_name}\n"
                     f"    path: {tree}\n"
                     f"    kind: linked\n"
                     f"    baseline: previous\n")


def nightly_command(config: str) -> list[str]:
    """``python -m batchver nightly`` once the subcommand is registered,
    else the same entry point called directly."""
    try:
        from batchver.cli import SUBCOMMANDS
        if "nightly" in SUBCOMMANDS:
            return [sys.executable, "-m", "batchver", "nightly", config, "--explain-cache"]
    except ImportError:
        pass
    return [sys.executable, "-c", "import sys; from batchver.cli.nightly import nightly_main; "
            "sys.exit(nightly_main(sys.argv[1:]))", config, "--explain-cache"]


def timed_run(label: str, config: str, outroot: str, log_dir: str, roots: Roots) -> dict:
    """Run one nightly; return its outside wall time and its history line."""
    command = nightly_command(config)
    log = os.path.join(log_dir, f"{label}.log")
    print(f"{label}: {shlex.join(command)}", file=sys.stderr, flush=True)
    start = time.perf_counter()
    with open(log, "w", encoding="utf-8") as handle:
        status = subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT).returncode
    wall = time.perf_counter() - start
    with open(os.path.join(outroot, "history.jsonl"), encoding="utf-8") as handle:
        record = json.loads(handle.readlines()[-1])
    print(f"{label}: {wall:.1f} s, exit {status}, status {record['status']}, cache "
          f"{record['cache']['hits']}/{record['cache']['lookups']}", file=sys.stderr, flush=True)
    return {"label": label, "command": roots.command(command), "exit": status,
            "wall_seconds": round(wall, 3), "history": roots.data(record), "log": roots.path(log)}


def summarise(runs: list[dict], meta: dict) -> str:
    """The Markdown table committed next to the JSON."""
    full, _, one = runs
    counts = full["history"]["counts"]
    lines = [f"# Nightly incremental reuse: {meta['label']}", "",
             f"Tree: `{meta['source']}` ({meta['scope']}): {counts['exports']} exports in "
             f"{counts['files']} exporting files; staged as symlinks in `{meta['staged']}`.",
             f"Machine: {meta['machine']}; jobs {meta['jobs']}; batchver "
             f"{full['history']['batchver']}; {meta['date']}.", "",
             "Each run is `batchver nightly` on the same config (cache in the output root, "
             "`baseline: previous`), timed from outside the process; the stage columns come from "
             "its history line.", "",
             "| run | wall, whole command (s) | discover | version | write | check | files reused "
             "| files parsed | status | exit |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |"]
    for run in runs:
        record, cache = run["history"], run["history"]["cache"]
        stages = " | ".join(f"{record['seconds'].get(s, 0):.1f}" for s in ("discover", "version", "write", "check"))
        lines.append(f"| {run['label']} | {run['wall_seconds']:.1f} | {stages} | {cache['hits']} | "
                     f"{cache['recomputed_count']} | {record['status']} | {run['exit']} |")
    reparsed = ", ".join(f"`{r['file']}` ({r['why']})" for r in one["history"]["cache"]["recomputed"])
    lines += ["", f"**Unchanged re-run / full run: {meta['ratio']:.4f}** (limit {RATIO_LIMIT}; "
              f"{'met' if meta['ratio'] <= RATIO_LIMIT else 'NOT met'}).", "",
              f"One module replaced: `{meta['replaced']}` swapped for its build from `{meta['donor']}`; "
              f"re-parsed: {reparsed or 'nothing'}; symbols changed vs the previous run: "
              f"{(one['history'].get('changed') or {}).get('total')}.", "",
              "Per run: files that failed / were incomplete (exports without DWARF), and the check "
              "against the previous run:", ""]
    for run in runs:
        record = run["history"]
        check = record.get("check") or {}
        lines.append(f"* {run['label']}: {record['counts']['failed_files']} failed, "
                     f"{record['counts']['incomplete_files']} incomplete "
                     f"({record['counts']['no_information']} exports without DWARF); check "
                     f"{check.get('status')}: {check.get('message')}")
    lines += ["", "Commands (each run's output, with `--explain-cache`, is in its log):", ""]
    lines += [f"    {run['command']}" for run in runs]
    lines += ["", f"Reproduce: `{meta['reproduce']}`", ""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog=__doc__.split("\n\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", default=str(default_cache()),
                        help=f"fetch_debian_kernel.py's cache root (default: {CACHE_HELP})")
    parser.add_argument("--tree", help=f"linked debug tree (default: <cache>/{DEBUG.format(v=TREE_VERSION)})")
    parser.add_argument("--donor", help="tree the replacement module is taken from "
                                        f"(default: <cache>/{DEBUG.format(v=DONOR_VERSION)})")
    parser.add_argument("--module", default=DEFAULT_MODULE, help=f"module to replace (default {DEFAULT_MODULE})")
    parser.add_argument("--modules-only", action="store_true", help="leave vmlinux out (labelled so)")
    parser.add_argument("--jobs", type=int, default=0, help="worker processes (default: all cores)")
    parser.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "batchver-nightly-timing"),
                        help="staging, outputs, cache, logs (default: %(default)s)")
    parser.add_argument("--results", default=os.path.join(REPO, "results"), help="where the summary goes")
    ns = parser.parse_args()
    ns.tree = ns.tree or os.path.join(ns.cache, DEBUG.format(v=TREE_VERSION))
    ns.donor = ns.donor or os.path.join(ns.cache, DEBUG.format(v=DONOR_VERSION))
    roots = Roots({"<work>": ns.work}, ns.cache)
    replacement = os.path.join(ns.donor, ns.module)
    if not os.path.isfile(replacement) or not os.path.isfile(os.path.join(ns.tree, ns.module)):
        parser.error(f"{ns.module} must exist in both --tree and --donor")
    if os.path.exists(ns.work):
        shutil.rmtree(ns.work)
    staged = os.path.join(ns.work, "tree", os.path.basename(ns.tree.rstrip("/")))
    outroot, logs = os.path.join(ns.work, "out"), os.path.join(ns.work, "logs")
    os.makedirs(logs)
    modules = stage_tree(ns.tree, staged, ns.modules_only)
    scope = f"modules only: {modules} .ko, no vmlinux" if ns.modules_only else \
        f"whole tree: vmlinux + {modules} .ko"
    tree_name = "debian-cloud-modules" if ns.modules_only else "debian-cloud"
    config = os.path.join(ns.work, "nightly.yaml")
    write_config(config, tree_name, staged, outroot, ns.jobs)
    runs = [timed_run("full", config, outroot, logs, roots), timed_run("unchanged", config, outroot, logs, roots)]
    target = os.path.join(staged, ns.module)
    os.unlink(target)
    os.symlink(os.path.realpath(replacement), target)
    runs.append(timed_run("one-module-replaced", config, outroot, logs, roots))
    date = datetime.now(timezone.utc)
    meta = {
        "label": "Debian 6.12.117 cloud debug tree, " + scope, "scope": scope,
        "source": roots.path(ns.tree), "staged": roots.path(staged), "donor": roots.path(ns.donor),
        "replaced": ns.module,
        "jobs": ns.jobs or os.cpu_count(), "date": date.strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, load average at end "
                   f"{', '.join(f'{x:.1f}' for x in os.getloadavg())} (shared machine)",
        "ratio": runs[1]["wall_seconds"] / runs[0]["wall_seconds"],
        "reproduce": "python -m tools.bench.nightly_timing" + (" --modules-only" if ns.modules_only else ""),
    }
    os.makedirs(ns.results, exist_ok=True)
    stem = os.path.join(ns.results, f"nightly-timing-{date.strftime('%Y-%m-%d')}")
    with open(stem + ".json", "w", encoding="utf-8") as handle:
        json.dump({"meta": meta, "runs": runs}, handle, indent=1, sort_keys=True)
        handle.write("\n")
    with open(stem + ".md", "w", encoding="utf-8") as handle:
        handle.write(summarise(runs, meta))
    from batchver.cli.nightly import history_main
    trend = os.path.join(ns.results, "trend-example.html")
    history_main([outroot, "--html", trend])
    with open(trend, encoding="utf-8") as handle:
        page = roots.html(handle.read())
    with open(trend, "w", encoding="utf-8") as handle:
        handle.write(page)
    from tools.helpers.browser import screenshot
    screenshot(trend, os.path.join(ns.results, "trend-example.png"))
    print(f"ratio {meta['ratio']:.4f}; wrote {stem}.json and .md", file=sys.stderr)
    return 0 if meta["ratio"] <= RATIO_LIMIT else 1


if __name__ == "__main__":
    sys.exit(main())
