#!/usr/bin/env python3
"""Benchmark batchver on a named corpus, optionally against upstream.

Runs ``batchver run`` over a tree with each requested ``--jobs`` value (and
semantics), and, with ``--reference PATH``, upstream gendwarfksyms over the
same files with the same export lists, serially, in the same invocation, so
the ratios compare like with like on the same machine state.  With
``--semantics file`` the CRCs are also compared with upstream's, file by file.

Writes ``results/bench-<date>[-<label>].json`` and a bar chart ``.svg``:
wall and CPU time, peak RSS per worker, objects/s, exports/s, MB of
``.debug_info``/s, and per-stage seconds (loading and relocating DWARF, unit
walks, rendering type strings, CRCs).

    python -m tools.bench.bench --corpus shared28 --jobs 1,2 --repeat 3 --reference <cache>/upstream/gendwarfksyms
    python -m tools.bench.bench --corpus debian --jobs 2 --semantics kbuild
    python -m tools.bench.bench --corpus debian --subset modules --jobs 2 --reference ...
    python -m tools.bench.bench --corpus debian --subset vmlinux --jobs 2 --reference ...
    python -m tools.bench.bench --corpus debian --subset modules --jobs 1 --code main=$MAIN,new=$WT \
        --symtypes --keep-outputs DIR --reference ...   # two versions of batchver side by side

``--subset`` benchmarks part of a linked tree (its modules, or vmlinux
alone) through a staged tree of symlinks, so batchver and upstream see the
same files.

Corpora: ``shared28`` is ``<shared>/corpus/debian-6.12.117-cloud/kernel``
(``<shared>``: $BATCHVER_SHARED, else ../shared beside the repository);
``debian`` is the tree tools/fetch/fetch_debian_kernel.py unpacks under
``<cache>`` ($XDG_CACHE_HOME/batchver, else ~/.cache/batchver; ``--cache``);
``kbuild`` and ``kbuild-small`` are the built 7.3.4 trees
tools/fixtures/build_kernel_tree.py makes there (x86_64 defconfig, and tinyconfig plus
tools/fixtures/kbuild-small.config): upstream then runs once per exporting object with
that object's exports, as kbuild does.  ``--tree`` overrides any of them.  Paths in the results are written relative to
these roots (tools/helpers/roots.py).
"""

from __future__ import annotations

import argparse
import atexit
import datetime as dt
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from batchver.charts import bar_chart
from batchver.tree.discover import discover
from batchver.elf.file import ElfObject
from tools.bench.nightly_timing import stage_tree
from tools.helpers.roots import CACHE_HELP, Roots, default_cache, shared_root

# Each corpus's tree under its root (shared corpus, or the cache).
CORPORA = {
    "shared28": lambda cache: str(shared_root() / "corpus" / "debian-6.12.117-cloud" / "kernel"),
    "debian": lambda cache: str(cache / "debian-6.12.117-cloud/root/usr/lib/debug/lib/modules/"
                                        "6.12.117+deb12-cloud-amd64"),
    # trees tools/fixtures/build_kernel_tree.py builds: x86_64 defconfig, and tinyconfig + kbuild-small.config
    "kbuild": lambda cache: str(cache / "kbuild/linux-7.3.4/build"),
    "kbuild-small": lambda cache: str(cache / "kbuild/linux-7.3.4/build-small"),
}


def stage_subset(tree: str, subset: str) -> str:
    """A symlink tree holding only ``subset`` of a linked tree ("modules"
    or "vmlinux"); it keeps the tree's name, which carries the release."""
    dest = os.path.join(tempfile.mkdtemp(prefix="bench-tree-"), os.path.basename(tree.rstrip("/")))
    if subset == "modules":
        stage_tree(tree, dest, modules_only=True)
    else:
        os.makedirs(dest)
        os.symlink(os.path.realpath(os.path.join(tree, "vmlinux")), os.path.join(dest, "vmlinux"))
    return dest


def debug_info_bytes(path: str) -> int:
    elf = ElfObject(path)
    try:
        sec = elf.section(".debug_info")
        return sec.size if sec else 0
    finally:
        elf.close()


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_batchver(tree: str, jobs: int, semantics: str, extra: list[str], roots: Roots,
                 code: str | None = None, keep: str | None = None) -> dict:
    """One ``batchver run``; ``code`` is the source tree to run it from
    (default: the installed one), ``keep`` a directory to leave the outputs
    in (default: they are deleted)."""
    out = keep or tempfile.mkdtemp(prefix="bench-out-")
    cmd = [sys.executable, "-m", "batchver", "run", tree, "-o", out, "--jobs", str(jobs),
           "--semantics", semantics, "--quiet", *extra]
    env = dict(os.environ, PYTHONPATH=code) if code else None
    cpu0, t0 = children_cpu(), time.perf_counter()
    try:
        # not from the caller's directory: `-m` puts it ahead of PYTHONPATH,
        # and from a checkout that would run the checkout instead of ``code``
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tempfile.gettempdir())
        wall, cpu = time.perf_counter() - t0, children_cpu() - cpu0
        if proc.returncode not in (0, 1):
            raise SystemExit(f"bench: {' '.join(cmd)} failed ({proc.returncode}): {proc.stderr[-2000:]}")
        with open(os.path.join(out, "report.json")) as handle:
            report = json.load(handle)
        crcs = {}
        with open(os.path.join(out, "Module.symvers")) as handle:
            for line in handle:
                crc, name, module = line.split("\t")[:3]
                crcs[(module, name)] = crc
    finally:
        if keep is None:
            shutil.rmtree(out, ignore_errors=True)
    return {"command": roots.plus({"<out>": out}).command(cmd), "wall_seconds": round(wall, 2),
            "cpu_seconds": round(cpu, 2),
            "exit_status": proc.returncode, "counts": report["counts"],
            "stage_seconds": report["timing"]["stage_seconds"],
            "peak_worker_rss_mib": report["timing"]["peak_worker_rss_mib"], "crcs": crcs}


def run_reference(binary: str, items, timeout: float, skip: set[str], roots: Roots) -> dict:
    """Upstream, one process per file with that file's export list."""
    total, per_file, crcs, skipped = 0.0, {}, {}, []
    peak = 0
    cpu0 = children_cpu()
    for item in items:
        if item.module in skip:
            skipped.append(item.rel)
            continue
        names = "".join(e.name + "\n" for e in item.exports).encode()
        t0 = time.perf_counter()
        try:
            proc = subprocess.run([binary, item.path], input=names, capture_output=True,
                                  timeout=timeout)
        except subprocess.TimeoutExpired:
            skipped.append(f"{item.rel} (timeout {timeout:.0f} s)")
            continue
        seconds = time.perf_counter() - t0
        total += seconds
        per_file[item.rel] = round(seconds, 3)
        peak = max(peak, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
        for line in proc.stdout.decode().splitlines():
            _, name, crc = line.split()
            crcs[(item.module, name)] = crc
    return {"binary": roots.path(binary), "wall_seconds": round(total, 2),
            "cpu_seconds": round(children_cpu() - cpu0, 2), "files": len(per_file),
            "skipped": skipped, "peak_rss_mib": round(peak / 1024, 1), "file_seconds": per_file,
            "crcs": crcs}


def thirds(items: list) -> list[list]:
    """The files in three groups by file size, smallest first (the last
    takes the remainder)."""
    ordered = sorted(items, key=lambda item: (os.path.getsize(item.path), item.rel))
    size = len(ordered) // 3
    return [ordered[:size], ordered[size:2 * size], ordered[2 * size:]]


def run_third(items: list, ref: dict, semantics: str, roots: Roots, code: str | None) -> dict:
    """``batchver run --kind linked --jobs 1`` on some files of a linked
    tree staged flat in a directory of their own, against the sum of
    upstream's per-file times for the same files."""
    staged = tempfile.mkdtemp(prefix="bench-third-")
    try:
        for item in items:
            os.symlink(os.path.realpath(item.path), os.path.join(staged, os.path.basename(item.path)))
        run = run_batchver(staged, 1, semantics, ["--kind", "linked"], roots.plus({"<third>": staged}), code)
    finally:
        shutil.rmtree(staged, ignore_errors=True)
    upstream = sum(ref["file_seconds"].get(item.rel, 0.0) for item in items)
    sizes = [os.path.getsize(item.path) for item in items]
    return {"files": len(items), "smallest_bytes": min(sizes), "largest_bytes": max(sizes),
            "upstream_seconds": round(upstream, 2), "batchver_cpu_seconds": run["cpu_seconds"],
            "ratio": round(run["cpu_seconds"] / max(upstream, 1e-9), 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog=__doc__.split("\n\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", choices=sorted(CORPORA), default="shared28")
    parser.add_argument("--tree", help="override the corpus's tree path")
    parser.add_argument("--cache", type=Path, default=default_cache(),
                        help=f"fetch_debian_kernel.py's cache root (default: {CACHE_HELP})")
    parser.add_argument("--subset", choices=("all", "modules", "vmlinux"), default="all",
                        help="of a linked tree: everything, only the modules, or only vmlinux")
    parser.add_argument("--jobs", default="1,2", help="comma-separated --jobs values")
    parser.add_argument("--semantics", default="file",
                        help="comma-separated: file (same work as upstream), kbuild")
    parser.add_argument("--reference", help="upstream gendwarfksyms binary to compare with")
    parser.add_argument("--reference-timeout", type=float, default=7200)
    parser.add_argument("--reference-skip", default="", help="comma-separated modules "
                        "(e.g. vmlinux) not to run upstream on")
    parser.add_argument("--repeat", type=int, default=1,
                        help="rounds of every run and the reference, interleaved; the fastest of "
                             "each is reported (this machine's speed drifts by 10-20%%)")
    parser.add_argument("--code", default="", help="comma-separated NAME=DIR: run batchver from "
                        "each of these source trees (e.g. two git worktrees) in the same rounds, "
                        "instead of the installed one")
    parser.add_argument("--symtypes", action="store_true", help="batchver runs also write symtypes")
    parser.add_argument("--keep-outputs", metavar="DIR", help="keep each batchver run's outputs "
                        "in DIR/<code>-<semantics>-j<jobs> (from the last round), for comparing them")
    parser.add_argument("--thirds", action="store_true", help="with --reference: also run batchver "
                        "--jobs 1 on each third of the files by size (smallest first), each staged in a "
                        "directory of its own, against the sum of upstream's times for those files in "
                        "the fastest reference round (--repeat rounds, the fastest of each kept)")
    parser.add_argument("--label", default="", help="suffix for the result files")
    parser.add_argument("--out", default=os.path.join(REPO, "results"))
    args = parser.parse_args()
    tree = os.path.abspath(args.tree or CORPORA[args.corpus](args.cache))
    if not os.path.isdir(tree):
        raise SystemExit(f"bench: corpus tree {tree} not found (tools/fetch/fetch_debian_kernel.py fetches it)")
    roots = Roots(cache=args.cache)
    source = roots.path(tree)
    if args.subset != "all":
        tree = stage_subset(tree, args.subset)
        atexit.register(shutil.rmtree, os.path.dirname(tree), True)
        roots = roots.plus({"<staged>": os.path.dirname(tree)})
    found = discover(tree)
    info_bytes = sum(debug_info_bytes(i.path) for i in found.items)
    result = {"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
              "corpus": args.corpus, "subset": args.subset, "tree": source, "files": len(found.items),
              "exports": found.export_count, "debug_info_mib": round(info_bytes / 2**20, 1),
              "machine": {"cpus": os.cpu_count(), "load_average": os.getloadavg()},
              "runs": []}
    codes = dict(part.split("=", 1) for part in args.code.split(",") if part) or {"": None}
    roots = roots.plus({f"<{name}>": where for name, where in codes.items() if where}
                       | {"<out>": args.out, "<kept>": args.keep_outputs})
    result["command"] = roots.command(["python", *sys.argv])
    configs = [(code, semantics, int(jobs)) for code in codes for semantics in args.semantics.split(",")
               for jobs in args.jobs.split(",")]
    best: dict[tuple[str, str, int], dict] = {}
    walls: dict[tuple[str, str, int], list[float]] = {c: [] for c in configs}
    ref, ref_walls = None, []
    skip = set(filter(None, args.reference_skip.split(",")))
    # Rounds interleave every configuration and the reference, so a machine
    # that speeds up or slows down affects all of them; each keeps its fastest.
    for round_number in range(1, args.repeat + 1):
        for config in configs:
            code, semantics, jobs = config
            print(f"bench: round {round_number}: batchver {code} --jobs {jobs} --semantics {semantics} ...",
                  file=sys.stderr)
            keep = None
            if args.keep_outputs:
                keep = os.path.join(args.keep_outputs, f"{code or 'installed'}-{semantics}-j{jobs}")
                shutil.rmtree(keep, ignore_errors=True)
            run = run_batchver(tree, jobs, semantics, ["--symtypes"] if args.symtypes else [],
                               roots, codes[code], keep)
            walls[config].append(run["wall_seconds"])
            if config not in best or run["wall_seconds"] < best[config]["wall_seconds"]:
                best[config] = run
        if args.reference:
            print(f"bench: round {round_number}: upstream reference ...", file=sys.stderr)
            current = run_reference(args.reference, found.items, args.reference_timeout, skip, roots)
            ref_walls.append(current["wall_seconds"])
            if ref is None or current["wall_seconds"] < ref["wall_seconds"]:
                ref = current
    if args.thirds and ref is not None:
        # as many rounds as the runs, interleaved; each third keeps its fastest
        semantics = configs[0][1]
        kept: dict[tuple[int, str], dict] = {}
        cpus: dict[tuple[int, str], list[float]] = {}
        for _ in range(args.repeat):
            for index, part in enumerate(thirds(found.items)):
                for code in codes:
                    third = dict(run_third(part, ref, semantics, roots, codes[code]), code=code)
                    key = (index, code)
                    cpus.setdefault(key, []).append(third["batchver_cpu_seconds"])
                    if key not in kept or third["batchver_cpu_seconds"] < kept[key]["batchver_cpu_seconds"]:
                        kept[key] = third
        result["thirds"] = [dict(kept[key], batchver_cpu_seconds_all_rounds=cpus[key]) for key in kept]
    for config in configs:
        code, semantics, jobs = config
        run = best[config]
        if code:
            run["code"] = code
        run.update(jobs=jobs, semantics=semantics, wall_seconds_all_rounds=walls[config],
                   objects_per_second=round(len(found.items) / run["wall_seconds"], 2),
                   exports_per_second=round(found.export_count / run["wall_seconds"], 1),
                   debug_info_mib_per_second=round(info_bytes / 2**20 / run["wall_seconds"], 2))
        result["runs"].append(run)
    if ref is not None:
        ref["wall_seconds_all_rounds"] = ref_walls
        result["reference"] = ref
        for run in result["runs"]:
            run["ratio_to_reference"] = round(run["wall_seconds"] / max(ref["wall_seconds"], 1e-9), 2)
            run["cpu_ratio_to_reference"] = round(run["cpu_seconds"] / max(ref["cpu_seconds"], 1e-9), 3)
            if run["semantics"] == "file":
                compared = [k for k in ref["crcs"] if k in run["crcs"]]
                run["crcs_equal_to_reference"] = sum(ref["crcs"][k] == run["crcs"][k] for k in compared)
                run["crcs_compared"] = len(compared)
        ref.pop("crcs")
    for run in result["runs"]:
        run.pop("crcs")
    stamp = dt.date.today().isoformat() + (f"-{args.subset}" if args.subset != "all" else "") + \
        (f"-{args.label}" if args.label else "")
    os.makedirs(args.out, exist_ok=True)
    base = os.path.join(args.out, f"bench-{args.corpus}-{stamp}")
    with open(base + ".json", "w") as handle:
        json.dump(result, handle, indent=1)
    rows = [(f"batchver {r.get('code', '')} {r['semantics']} --jobs {r['jobs']}".replace("  ", " "),
             r["wall_seconds"]) for r in result["runs"]]
    if "reference" in result:
        rows.append(("upstream gendwarfksyms (serial)", result["reference"]["wall_seconds"]))
    with open(base + ".svg", "w") as handle:
        handle.write(bar_chart(rows, f"{args.corpus}: {len(found.items)} files, "
                                     f"{found.export_count} exports, wall time"))
    print(json.dumps({k: v for k, v in result.items() if k not in ("runs", "reference")} | {
        "runs": [{k: r[k] for k in ("code", "jobs", "semantics", "wall_seconds", "cpu_seconds",
                                    "ratio_to_reference", "cpu_ratio_to_reference",
                                    "crcs_equal_to_reference", "crcs_compared")
                  if k in r} for r in result["runs"]]}, indent=1, default=str))
    print(f"bench: wrote {base}.json and .svg", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
