#!/usr/bin/env python3
"""Whole-tree evidence on a Debian cloud debug kernel (6.12 and 7.x layouts).

1. Runs ``batchver run TREE -o OUT --jobs N`` (kbuild semantics) and records
   wall time and peak memory (the run's own peak and its workers' peaks,
   from report.json and ``wait4`` rusage), and how many exports were
   versioned by a guess rather than in their exporting CU.
2. Compares the symbol, module, export-type and namespace columns of
   ``OUT/Module.symvers`` with Debian's own Module.symvers (its CRCs come
   from genksyms, or are all zero since Debian turned MODVERSIONS off in
   6.18, so only those columns are comparable), row by row.
3. With ``--reference PATH``: runs ``batchver run --semantics file`` and
   upstream gendwarfksyms (niced) on every file (``--reference-skip
   vmlinux``, the default, leaves out the one that takes upstream half an
   hour) and counts CRCs that are equal.

Writes ``results/debian-<release>-tree-check[-modules].json`` and ``.md``; paths in
them are written relative to ``$TREE``, ``<cache>`` and ``<upstream>``.

    python -m tools.fetch.fetch_debian_kernel --version 7.3.4+deb13 --headers
    python -m tools.evidence.debian_tree_check --version 7.3.4+deb13 --jobs 2 --reference PATH/gendwarfksyms

``--cache`` is the same cache root as fetch_debian_kernel.py's (default
``$XDG_CACHE_HOME/batchver``, else ``~/.cache/batchver``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from batchver.tree.discover import discover
from tools.helpers.roots import Roots
from tools.fetch.fetch_debian_kernel import (DEFAULT_FLAVOUR, DEFAULT_VERSION, FetchError, default_cache,
                                 dest_dir, module_tree)


def timed_run(cmd: list[str]) -> tuple[int, float, float, str]:
    """Run a command; return (status, wall seconds, peak RSS MiB of the
    largest process in its tree that was waited for, stderr)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, stderr = proc.communicate()
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return proc.returncode, wall, peak, stderr


def columns(path: str) -> list[tuple[str, ...]]:
    with open(path) as handle:
        return sorted(tuple(line.rstrip("\n").split("\t")[1:5]) for line in handle if line.strip())


def crcs(path: str) -> dict[tuple[str, str], str]:
    out = {}
    with open(path) as handle:
        for line in handle:
            crc, name, module = line.split("\t")[:3]
            out[(module, name)] = crc
    return out


def modules_mirror(tree: str, mirror: str) -> str:
    """The tree without vmlinux: its ``.ko`` files linked at the same
    relative paths (module names come from those paths)."""
    for root, _, files in os.walk(tree):
        for name in files:
            if name.endswith(".ko"):
                rel = os.path.relpath(os.path.join(root, name), tree)
                os.makedirs(os.path.dirname(os.path.join(mirror, rel)), exist_ok=True)
                os.symlink(os.path.join(root, name), os.path.join(mirror, rel))
    return mirror


def only_modules(symvers: str, out: str) -> str:
    with open(symvers) as src, open(out, "w") as dst:
        dst.writelines(line for line in src if line.split("\t")[2:3] != ["vmlinux"])
    return out


def reference_check(reference: str, tree: str, ours_crc: dict, skip: set[str]) -> dict:
    """Upstream on every exporting file but ``skip``, niced; CRCs compared."""
    equal = compared = 0
    upstream_seconds = 0.0
    differing = []
    for item in discover(tree).items:
        if item.module in skip:
            continue
        names = "".join(e.name + "\n" for e in item.exports).encode()
        t0 = time.perf_counter()
        proc = subprocess.run(["nice", "-n", "10", reference, item.path], input=names, capture_output=True)
        upstream_seconds += time.perf_counter() - t0
        for line in proc.stdout.decode().splitlines():
            _, name, crc = line.split()
            compared += 1
            if ours_crc.get((item.module, name)) == crc:
                equal += 1
            else:
                differing.append(f"{item.module}:{name}")
    return {"upstream_serial_seconds": round(upstream_seconds, 1), "skipped": sorted(skip),
            "crcs_compared": compared, "crcs_equal": equal, "differing": differing[:50]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--version", default=DEFAULT_VERSION,
                        help="Debian kernel ABI version fetched by fetch_debian_kernel.py (default: %(default)s)")
    parser.add_argument("--flavour", default=DEFAULT_FLAVOUR)
    parser.add_argument("--cache", type=Path, default=default_cache(),
                        help="fetch_debian_kernel.py's cache root (default: %(default)s)")
    parser.add_argument("--tree", help="the debug module tree (default: from --cache/--version)")
    parser.add_argument("--symvers", help="Debian's Module.symvers (default: from --cache/--version)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--reference", help="upstream gendwarfksyms, for the --semantics file check")
    parser.add_argument("--reference-skip", default="vmlinux", help="modules not given to upstream "
                        "(comma-separated; empty for none; default: %(default)s)")
    parser.add_argument("--modules-only", action="store_true",
                        help="leave vmlinux out of every run (it is most of the time: on a shared "
                             "machine the modules alone fit where the whole tree does not)")
    parser.add_argument("--out", default=os.path.join(REPO, "results"))
    args = parser.parse_args()
    dest = dest_dir(args.cache, args.version, args.flavour)
    try:
        tree = args.tree or str(module_tree(dest / "root"))
    except FetchError as exc:
        raise SystemExit(f"debian_tree_check: {exc}; run python -m tools.fetch.fetch_debian_kernel --version "
                         f"{args.version} --headers") from None
    symvers = args.symvers or str(dest / "Module.symvers")
    release = os.path.basename(tree.rstrip("/"))
    work = tempfile.mkdtemp(prefix="tree-check-")
    if args.modules_only:
        tree_modules = modules_mirror(tree, os.path.join(work, "modules"))
        symvers = only_modules(symvers, os.path.join(work, "Module.symvers.modules"))
    else:
        tree_modules = tree
    redact = Roots({"$TREE": tree, "$TREE_MODULES": os.path.join(work, "modules"), "$OUT": work,
                    "<upstream>": os.path.dirname(args.reference or "")}, cache=args.cache)
    result: dict = {"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                    "tree": redact(tree), "release": release, "jobs": args.jobs,
                    "vmlinux": "left out (--modules-only)" if args.modules_only else "included",
                    "cpus": os.cpu_count(), "load_average_before": os.getloadavg()}

    # Export lists of the whole tree (vmlinux too), read without versioning.
    found = sorted((e.name, i.module, e.export_type, e.namespace) for i in discover(tree).items
                   for e in i.exports)
    debian = columns(args.symvers or str(dest / "Module.symvers"))
    result["columns_whole_tree"] = {"ours": len(found), "debian": len(debian), "equal": found == debian}

    out = os.path.join(work, "kbuild")
    cmd = [sys.executable, "-m", "batchver", "run", tree_modules, "-o", out, "--jobs", str(args.jobs),
           "--quiet"]
    status, wall, peak, _ = timed_run(cmd)
    with open(os.path.join(out, "report.json")) as handle:
        report = json.load(handle)
    ours, theirs = columns(os.path.join(out, "Module.symvers")), columns(symvers)
    result["kbuild_run"] = {
        "command": redact.command(cmd), "exit_status": status, "wall_seconds": round(wall, 1),
        "peak_rss_mib_largest_process": round(peak, 1),
        "peak_worker_rss_mib": report["timing"]["peak_worker_rss_mib"],
        "stage_seconds": report["timing"]["stage_seconds"], "counts": report["counts"],
        "split": report["timing"]["split_into"],
        "no_information": {f["file"]: f["no_information"] for f in report["files"] if f["no_information"]},
        "not_as_kbuild": {f["file"]: f.get("not_as_kbuild", {}) for f in report["files"]
                          if f.get("not_as_kbuild")},
        "load_average_after": os.getloadavg()}
    result["columns"] = {
        "ours": len(ours), "debian": len(theirs), "equal": ours == theirs,
        "only_ours": [list(r) for r in sorted(set(ours) - set(theirs))][:50],
        "only_debian": [list(r) for r in sorted(set(theirs) - set(ours))][:50]}

    if args.reference:
        out_file = os.path.join(work, "file")
        cmd = [sys.executable, "-m", "batchver", "run", tree_modules, "-o", out_file, "--jobs",
               str(args.jobs), "--semantics", "file", "--quiet"]
        _, wall, _, _ = timed_run(cmd)
        check = reference_check(args.reference, tree_modules, crcs(os.path.join(out_file, "Module.symvers")),
                                set(filter(None, args.reference_skip.split(","))))
        result["file_semantics"] = {"command": redact.command(cmd), "wall_seconds": round(wall, 1),
                                    **check, "load_average_after": os.getloadavg()}

    os.makedirs(args.out, exist_ok=True)
    base = os.path.join(args.out, f"debian-{release}-tree-check" + ("-modules" if args.modules_only else ""))
    with open(base + ".json", "w") as handle:
        json.dump(result, handle, indent=1)
        handle.write("\n")
    write_markdown(base + ".md", result, args)
    return 0 if result["columns"]["equal"] and result["columns_whole_tree"]["equal"] else 1


def write_markdown(path: str, result: dict, args: argparse.Namespace) -> None:
    run = result["kbuild_run"]
    guessed = sum(len(v) for v in run["not_as_kbuild"].values())
    lines = [f"# Whole-tree run on Debian {result['release']} cloud debug kernel", "",
             f"Date: {result['date']}; {result['cpus']} CPUs; load average (1, 5, 15 min) before: "
             f"{', '.join(f'{x:.1f}' for x in result['load_average_before'])}, after the kbuild run: "
             f"{', '.join(f'{x:.1f}' for x in run['load_average_after'])} (other jobs shared the machine)",
             "", f"vmlinux: {result['vmlinux']}", "", f"Command: `{run['command']}`", "",
             f"* exit status {run['exit_status']}, wall time {run['wall_seconds']} s with "
             f"--jobs {args.jobs}; peak RSS of the largest process {run['peak_rss_mib_largest_process']} "
             f"MiB, of a worker {run['peak_worker_rss_mib']} MiB",
             f"* counts: {json.dumps(run['counts'])}",
             f"* stage seconds (summed over workers): {json.dumps(run['stage_seconds'])}",
             f"* split across workers by CU ranges: {json.dumps(run['split'])}",
             f"* exports without DWARF information: "
             f"{sum(len(v) for v in run['no_information'].values())} "
             f"({', '.join(f'{k}: {len(v)}' for k, v in run['no_information'].items())})",
             f"* exports versioned by a guess, not in a CU holding their EXPORT_SYMBOL (named in "
             f"report.json `not_as_kbuild`): {guessed}"
             + (f" ({', '.join(f'{k}: {len(v)}' for k, v in run['not_as_kbuild'].items())})" if guessed else ""),
             f"* symbol/module/export type/namespace columns of this run vs Debian's Module.symvers: "
             f"{result['columns']['ours']} rows vs {result['columns']['debian']}, "
             f"identical: {result['columns']['equal']}",
             f"* the same columns for the whole tree, vmlinux included (export lists as discovery "
             f"reads them): {result['columns_whole_tree']['ours']} rows vs "
             f"{result['columns_whole_tree']['debian']}, identical: {result['columns_whole_tree']['equal']}"]
    if "file_semantics" in result:
        fs = result["file_semantics"]
        lines.append(f"* `--semantics file` (`{fs['command']}`) vs upstream gendwarfksyms run niced on each "
                     f"file (skipping {', '.join(fs['skipped']) or 'nothing'}): {fs['crcs_equal']} of "
                     f"{fs['crcs_compared']} CRCs equal; batchver {fs['wall_seconds']} s with "
                     f"--jobs {args.jobs}, upstream {fs['upstream_serial_seconds']} s serial")
    lines.append(f"\nReproduce: `python -m tools.fetch.fetch_debian_kernel --version {args.version} --headers "
                 f"--cache <cache> && python -m tools.evidence.debian_tree_check --version {args.version} "
                 f"--cache <cache> --jobs {args.jobs}"
                 + (" --reference <upstream>/gendwarfksyms" if args.reference else "")
                 + (" --modules-only" if args.modules_only else "")
                 + (f" --reference-skip '{args.reference_skip}'" if args.reference and
                    args.reference_skip != "vmlinux" else "") + "`\n")
    with open(path, "w") as handle:
        handle.write("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
