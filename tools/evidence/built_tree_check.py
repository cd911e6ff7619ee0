#!/usr/bin/env python3
"""Check ``batchver run`` on a kbuild output directory against the tree's own Module.symvers.

For a tree built with CONFIG_GENDWARFKSYMS=y (tools/fixtures/build_kernel_tree.py
makes one), kbuild's Module.symvers holds the CRCs modpost read from the
``#SYMVER`` lines gendwarfksyms appended to each object's ``.cmd`` file, so
batchver must write the same file, every row and CRC included.

1. runs ``batchver run BUILD -o OUT --jobs N`` and records its exit status,
   wall time and counts;
2. compares OUT/Module.symvers with BUILD/Module.symvers row by row (all
   five columns) and in file order, listing every row that differs together
   with the ``.cmd`` file(s) whose ``#SYMVER`` line modpost took the CRC from;
3. with ``--reference BIN`` (upstream gendwarfksyms), counts what versioning
   each assembler object itself, instead of its ``.gendwarfksyms.o``
   stand-in, would give its exports: CRC 0, or a wrong non-zero CRC;
4. counts thin-archive members of ``vmlinux.a`` whose name field has GNU ar's
   stray ``/`` after ``/<offset>``;
5. with ``--subtree DIR`` (repeatable), runs ``batchver run BUILD/DIR`` and
   checks its rows are exactly kbuild's rows of the exports of the objects
   under DIR (module names and duplicates included);
6. writes ``OUT_DIR/kernel-<release>-built-check.json`` and ``.md`` with the
   build's own record (``BUILD/BUILD_DONE``: time taken, compiler, config).

Paths in the written files are relative to ``$BUILD``.

    python -m tools.evidence.built_tree_check BUILD --jobs 2 --out results
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def symvers_rows(path: str) -> list[tuple[str, ...]]:
    with open(path, encoding="utf-8", errors="surrogateescape") as handle:
        return [tuple(line.rstrip("\n").split("\t")) for line in handle if line.strip()]


def symver_lines(build: str, names: set[str]) -> dict[str, list[str]]:
    """Where kbuild recorded each of ``names``: "<cmd file>: <crc>" entries."""
    found: dict[str, list[str]] = {}
    for root, dirs, files in os.walk(build):
        dirs.sort()
        for name in sorted(files):
            if not (name.startswith(".") and name.endswith(".o.cmd")):
                continue
            path = os.path.join(root, name)
            with open(path, encoding="utf-8", errors="surrogateescape") as handle:
                for line in handle:
                    if line.startswith("#SYMVER "):
                        _, symbol, crc = line.split()
                        if symbol in names:
                            found.setdefault(symbol, []).append(
                                f"{os.path.relpath(path, build)}: {crc}")
    return found


def assembler_exports(build: str, reference: str, kbuild: dict[str, str]) -> dict:
    """What upstream on each assembler object itself gives its exports,
    against the CRCs kbuild took from the object's stand-in."""
    counts = {"exports": 0, "zero": 0, "wrong_nonzero": 0, "equal": 0}
    for root, dirs, files in os.walk(build):
        dirs.sort()
        for name in sorted(files):
            if not name.endswith(".gendwarfksyms.o"):
                continue
            obj = os.path.join(root, name[:-len(".gendwarfksyms.o")] + ".o")
            nm = subprocess.run(["nm", obj], capture_output=True, text=True).stdout
            names = [m.group(1) for m in re.finditer(r" __export_symbol_(\S+)$", nm, re.M)]
            out = subprocess.run([reference, obj], input="".join(n + "\n" for n in names),
                                 capture_output=True, text=True).stdout
            for line in out.splitlines():
                _, symbol, crc = line.split()
                counts["exports"] += 1
                key = "zero" if crc == "0x00000000" else (
                    "equal" if kbuild.get(symbol) == crc else "wrong_nonzero")
                counts[key] += 1
    return counts


def subtree_check(build: str, sub: str, whole: dict, kbuild: list[tuple[str, ...]], work: str,
                  jobs: int) -> dict:
    """Version BUILD/sub alone; its rows must be kbuild's rows of the
    exports of the objects under it (which the whole run's report names)."""
    out = os.path.join(work, "sub-" + sub.replace("/", "_"))
    proc = subprocess.run([sys.executable, "-m", "batchver", "run", os.path.join(build, sub), "-o", out,
                           "--jobs", str(jobs), "--quiet"], capture_output=True, text=True, cwd=REPO)
    rows = symvers_rows(os.path.join(out, "Module.symvers")) if proc.returncode in (0, 1) else []
    keys = {(e["module"], e["symbol"]) for e in whole["exports"].values()
            if (e.get("versioned_in") or "").startswith(sub.rstrip("/") + "/")}
    keys |= {(f["module"], name) for f in whole["files"] if f["file"].startswith(sub.rstrip("/") + "/")
             for name in f["no_information"]}
    expected = sorted(r for r in kbuild if (r[2], r[1]) in keys)
    return {"exit_status": proc.returncode, "rows": len(rows), "rows_expected": len(expected),
            "equal_to_kbuild": sorted(rows) == expected}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("build", help="kbuild output directory (with Module.symvers)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", default=os.path.join(REPO, "results"),
                        help="where the .json and .md go (default: results/)")
    parser.add_argument("--reference", help="upstream gendwarfksyms binary (optional, step 3)")
    parser.add_argument("--name", help="result file stem (default kernel-<release>-built-check)")
    parser.add_argument("--subtree", action="append", default=[],
                        help="a directory of BUILD to version on its own as well (step 5; repeatable)")
    args = parser.parse_args()
    build = os.path.abspath(args.build)
    theirs_path = os.path.join(build, "Module.symvers")
    if not os.path.isfile(theirs_path):
        sys.exit(f"built_tree_check: {theirs_path} not found (is the build finished?)")
    with open(os.path.join(build, "include", "config", "kernel.release")) as handle:
        release = handle.read().strip()
    record = {}
    done = os.path.join(build, "BUILD_DONE")
    if os.path.isfile(done):
        with open(done) as handle:
            record = json.load(handle)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="built-check-") as work:
        out = os.path.join(work, "out")
        cmd = [sys.executable, "-m", "batchver", "run", build, "-o", out, "--jobs", str(args.jobs),
               "--quiet"]
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
        wall = time.perf_counter() - start
        if not os.path.isfile(os.path.join(out, "report.json")):
            sys.exit(f"built_tree_check: batchver run failed ({proc.returncode}):\n{proc.stderr}")
        with open(os.path.join(out, "report.json")) as handle:
            report = json.load(handle)
        ours = symvers_rows(os.path.join(out, "Module.symvers"))
        theirs = symvers_rows(theirs_path)
        subtrees = {sub: subtree_check(build, sub, report, theirs, work, args.jobs) for sub in args.subtree}
    ours_by_key = {(r[2], r[1]): r for r in ours}
    theirs_by_key = {(r[2], r[1]): r for r in theirs}
    differing = sorted(k for k in ours_by_key.keys() & theirs_by_key.keys()
                       if ours_by_key[k] != theirs_by_key[k])
    only_ours = sorted(ours_by_key.keys() - theirs_by_key.keys())
    only_theirs = sorted(theirs_by_key.keys() - ours_by_key.keys())
    recorded = symver_lines(build, {k[1] for k in differing + only_theirs})
    with open(os.path.join(build, "vmlinux.a"), "rb") as handle:
        stray = len(re.findall(rb"\n/\d+ +/", handle.read()))
    asm = (assembler_exports(build, args.reference, {r[1]: r[0] for r in theirs})
           if args.reference else None)
    stand_ins = sum(1 for f in report["files"] if f["file"].endswith(".o")
                    and os.path.isfile(os.path.join(build, f["file"][:-2] + ".gendwarfksyms.o")))
    result = {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "kernel_release": release,
        "load_average_before": [round(x, 2) for x in load_before],
        "build": record,
        "run": {"command": "python -m batchver run $BUILD -o OUT --jobs "
                           f"{args.jobs} --quiet",
                "exit_status": proc.returncode, "wall_seconds": round(wall, 1),
                "counts": report["counts"],
                "objects_versioned_from_gendwarfksyms_stand_in": stand_ins,
                "vmlinux_a_members_with_stray_slash": stray,
                "assembler_exports_if_versioned_from_the_object": asm,
                "notes": report["notes"]},
        "subtrees": subtrees,
        "module_symvers": {
            "rows_batchver": len(ours), "rows_kbuild": len(theirs),
            "rows_equal": sum(1 for k, r in ours_by_key.items() if theirs_by_key.get(k) == r),
            "identical_as_rows": sorted(ours) == sorted(theirs),
            "identical_file_order": ours == theirs,
            "differing": [{"module": k[0], "symbol": k[1], "batchver": "\t".join(ours_by_key[k]),
                           "kbuild": "\t".join(theirs_by_key[k]),
                           "kbuild_symver_lines": recorded.get(k[1], [])} for k in differing],
            "only_batchver": ["\t".join(ours_by_key[k]) for k in only_ours],
            "only_kbuild": ["\t".join(theirs_by_key[k]) for k in only_theirs]},
    }
    os.makedirs(args.out, exist_ok=True)
    base = os.path.join(args.out, args.name or f"kernel-{release}-built-check")
    with open(base + ".json", "w") as handle:
        json.dump(result, handle, indent=1)
        handle.write("\n")
    ms = result["module_symvers"]
    run = result["run"]
    build_line = "unknown (no BUILD_DONE record)"
    if record:
        build_line = (f"{record.get('make_seconds', 0) / 60:.1f} min of `make vmlinux modules` "
                      f"(-j{record.get('jobs')}, niced, on a shared 2-core machine), "
                      f"{record.get('total_seconds', 0) / 60:.1f} min with unpacking and configuring; "
                      f"base `{record.get('base')}`"
                      + (f" + {', '.join(record.get('fragments', []))}" if record.get("fragments") else "")
                      + f"; {record.get('modules')} modules; {record.get('gcc')}; {record.get('ld')}")
    lines = [f"# batchver run on a Linux {release} tree built with CONFIG_GENDWARFKSYMS=y", "",
             f"Date: {result['date']}; load average before: "
             f"{', '.join(f'{x:.1f}' for x in result['load_average_before'])}", "",
             f"Build: {build_line}", "",
             f"Run: `{run['command']}`: exit status {run['exit_status']}, "
             f"{run['wall_seconds']} s; counts {json.dumps(run['counts'])}; "
             f"{run['objects_versioned_from_gendwarfksyms_stand_in']} assembler objects versioned "
             f"from their `.gendwarfksyms.o` stand-ins; {stray} members of `vmlinux.a` have GNU ar's "
             "stray `/` in their name field", ""]
    if asm:
        lines += [f"* Versioning each assembler object itself (what batchver did before) would give "
                  f"its {asm['exports']} exports: {asm['zero']} CRC 0, {asm['wrong_nonzero']} a wrong "
                  f"non-zero CRC, {asm['equal']} the right one (upstream `{os.path.basename(args.reference)}` "
                  "run on the objects)"]
    lines += [f"* Module.symvers rows: batchver {ms['rows_batchver']}, kbuild {ms['rows_kbuild']}, "
              f"equal in all five columns {ms['rows_equal']}",
              f"* identical as a set of rows: {ms['identical_as_rows']}; identical in file order: "
              f"{ms['identical_file_order']} (modpost writes vmlinux, then modules in "
              "modules.order, each in link order; batchver sorts by module, then symbol)",
              f"* differing rows: {len(ms['differing'])}; only in batchver's: "
              f"{len(ms['only_batchver'])}; only in kbuild's: {len(ms['only_kbuild'])}"]
    for sub, check in subtrees.items():
        lines.append(f"* `batchver run BUILD/{sub}`: exit status {check['exit_status']}, {check['rows']} rows, "
                     f"equal to kbuild's {check['rows_expected']} rows of the objects under it: "
                     f"{check['equal_to_kbuild']}")
    for d in ms["differing"][:20]:
        lines.append(f"  * {d['module']}:{d['symbol']}: batchver `{d['batchver']}`, kbuild "
                     f"`{d['kbuild']}` ({'; '.join(d['kbuild_symver_lines']) or 'no #SYMVER line'})")
    lines += ["", "Reproduce (BUILD is the build directory tools/fixtures/build_kernel_tree.py printed):", "",
              "    python -m tools.fixtures.build_kernel_tree --dest <dir>"
              + (f" --base {record['base']}" if record.get("base", "defconfig") != "defconfig" else "")
              + "".join(f" --fragment tools/fixtures/{f}" for f in record.get("fragments", [])),
              f"    python -m tools.evidence.built_tree_check BUILD --jobs {args.jobs}"
              + (" --reference <upstream gendwarfksyms>" if args.reference else "")
              + "".join(f" --subtree {sub}" for sub in args.subtree), ""]
    with open(base + ".md", "w") as handle:
        handle.write("\n".join(lines))
    print("\n".join(lines))
    subtrees_ok = all(c["equal_to_kbuild"] and c["exit_status"] == 0 for c in subtrees.values())
    return 0 if ms["identical_as_rows"] and proc.returncode == 0 and subtrees_ok else 1


if __name__ == "__main__":
    sys.exit(main())
