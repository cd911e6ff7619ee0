#!/usr/bin/env python3
"""Whole-tree evidence on Debian's cloud debug kernel (issue: whole-tree run).

1. Runs ``batchver run TREE -o OUT --jobs N`` (kbuild semantics) and records
   wall time and peak memory (the run's own peak and its workers' peaks,
   from report.json and ``wait4`` rusage).
2. Compares the symbol, module, export-type and namespace columns of
   ``OUT/Module.symvers`` with Debian's own Module.symvers (genksyms CRCs,
   so only those columns are comparable), row by row.
3. With ``--reference PATH``: runs ``batchver run --semantics file`` and
   upstream gendwarfksyms on every file (``--reference-skip vmlinux`` to
   leave out the one that takes upstream half an hour) and counts CRCs that
   are equal.

Writes ``results/debian-<version>-tree-check.json`` and ``.md``.

    python tools/fetch_debian_kernel.py --headers
    python tools/debian_tree_check.py --jobs 2 --reference /work/cache/upstream/gendwarfksyms
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from batchver.tree.discover import discover  # noqa: E402

DEFAULT_TREE = ("/work/cache/debian-6.12.117-cloud/root/usr/lib/debug/lib/modules/"
                "6.12.117+deb12-cloud-amd64")
DEFAULT_SYMVERS = os.path.join(REPO, "..", "shared", "corpus", "debian-6.12.117-cloud",
                               "Module.symvers.debian")


def timed_run(cmd: list[str]) -> tuple[int, float, float, str]:
    """Run a command; return (status, wall seconds, peak RSS MiB of the
    largest process in its tree that was waited for, stderr)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, stderr = proc.communicate()
    wall = time.perf_counter() - start
    import resource
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", default=DEFAULT_TREE)
    parser.add_argument("--symvers", default=DEFAULT_SYMVERS, help="Debian's Module.symvers")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--reference", help="upstream gendwarfksyms, for the --semantics file check")
    parser.add_argument("--reference-skip", default="vmlinux")
    parser.add_argument("--out", default=os.path.join(REPO, "results"))
    args = parser.parse_args()
    if not os.path.isdir(args.tree):
        raise SystemExit(f"debian_tree_check: {args.tree} not found; run tools/fetch_debian_kernel.py")
    version = os.path.basename(args.tree.rstrip("/"))
    work = tempfile.mkdtemp(prefix="tree-check-")
    result: dict = {"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                    "tree": args.tree, "jobs": args.jobs, "load_average_before": os.getloadavg()}

    out = os.path.join(work, "kbuild")
    cmd = [sys.executable, "-m", "batchver", "run", args.tree, "-o", out, "--jobs", str(args.jobs),
           "--quiet"]
    status, wall, peak, stderr = timed_run(cmd)
    with open(os.path.join(out, "report.json")) as handle:
        report = json.load(handle)
    ours, theirs = columns(os.path.join(out, "Module.symvers")), columns(args.symvers)
    result["kbuild_run"] = {
        "command": " ".join(cmd), "exit_status": status, "wall_seconds": round(wall, 1),
        "peak_rss_mib_largest_process": round(peak, 1),
        "peak_worker_rss_mib": report["timing"]["peak_worker_rss_mib"],
        "stage_seconds": report["timing"]["stage_seconds"], "counts": report["counts"],
        "split": report["timing"]["split_into"],
        "no_information": {f["file"]: f["no_information"] for f in report["files"]
                           if f["no_information"]}}
    result["columns"] = {
        "ours": len(ours), "debian": len(theirs), "equal": ours == theirs,
        "only_ours": [list(r) for r in sorted(set(ours) - set(theirs))][:50],
        "only_debian": [list(r) for r in sorted(set(theirs) - set(ours))][:50]}

    if args.reference:
        out_file = os.path.join(work, "file")
        cmd = [sys.executable, "-m", "batchver", "run", args.tree, "-o", out_file, "--jobs",
               str(args.jobs), "--semantics", "file", "--quiet"]
        status, wall, _, _ = timed_run(cmd)
        ours_crc = crcs(os.path.join(out_file, "Module.symvers"))
        skip = set(filter(None, args.reference_skip.split(",")))
        equal = compared = 0
        upstream_seconds = 0.0
        differing = []
        for item in discover(args.tree).items:
            if item.module in skip:
                continue
            names = "".join(e.name + "\n" for e in item.exports).encode()
            t0 = time.perf_counter()
            proc = subprocess.run([args.reference, item.path], input=names, capture_output=True)
            upstream_seconds += time.perf_counter() - t0
            for line in proc.stdout.decode().splitlines():
                _, name, crc = line.split()
                compared += 1
                if ours_crc.get((item.module, name)) == crc:
                    equal += 1
                else:
                    differing.append(f"{item.module}:{name}")
        result["file_semantics"] = {
            "command": " ".join(cmd), "wall_seconds": round(wall, 1),
            "upstream_serial_seconds": round(upstream_seconds, 1), "skipped": sorted(skip),
            "crcs_compared": compared, "crcs_equal": equal, "differing": differing[:50]}

    os.makedirs(args.out, exist_ok=True)
    base = os.path.join(args.out, f"debian-{version}-tree-check")
    with open(base + ".json", "w") as handle:
        json.dump(result, handle, indent=1)
    run = result["kbuild_run"]
    lines = [f"# Whole-tree run on Debian {version} cloud debug kernel", "",
             f"Date: {result['date']}; machine load average before: "
             f"{', '.join(f'{x:.1f}' for x in result['load_average_before'])}", "",
             f"Command: `{run['command']}`", "",
             f"* exit status {run['exit_status']}, wall time {run['wall_seconds']} s with "
             f"--jobs {args.jobs}; peak RSS of the largest process {run['peak_rss_mib_largest_process']} "
             f"MiB, of a worker {run['peak_worker_rss_mib']} MiB",
             f"* counts: {json.dumps(run['counts'])}",
             f"* stage seconds (summed over workers): {json.dumps(run['stage_seconds'])}",
             f"* split across workers by CU ranges: {json.dumps(run['split'])}",
             f"* exports without DWARF information: "
             f"{sum(len(v) for v in run['no_information'].values())} "
             f"({', '.join(f'{k}: {len(v)}' for k, v in run['no_information'].items())})",
             f"* symbol/module/export type/namespace columns vs Debian's Module.symvers: "
             f"{result['columns']['ours']} rows vs {result['columns']['debian']}, "
             f"identical: {result['columns']['equal']}"]
    if "file_semantics" in result:
        fs = result["file_semantics"]
        lines.append(f"* `--semantics file` vs upstream gendwarfksyms {args.reference} "
                     f"(skipping {', '.join(fs['skipped'])}): {fs['crcs_equal']} of "
                     f"{fs['crcs_compared']} CRCs equal; batchver {fs['wall_seconds']} s with "
                     f"--jobs {args.jobs}, upstream {fs['upstream_serial_seconds']} s serial")
    lines.append(f"\nReproduce: `python tools/debian_tree_check.py --jobs {args.jobs}"
                 + (f" --reference {args.reference}" if args.reference else "") + "`\n")
    with open(base + ".md", "w") as handle:
        handle.write("\n".join(lines))
    print("\n".join(lines))
    return 0 if result["columns"]["equal"] else 1


if __name__ == "__main__":
    sys.exit(main())
