#!/usr/bin/env python3
"""Check batchver on a real non-x86 distro debug kernel.

On a tree fetched by ``tools/fetch/fetch_debian_foreign.py`` (default: Debian
bookworm's 6.12 ``cloud-arm64``):

1. ``batchver run TREE`` (kbuild semantics): its symbol, module, export type
   and namespace columns against Debian's own ``Module.symvers`` from
   ``linux-headers`` (Debian's CRCs come from genksyms, so only those
   columns compare);
2. ``batchver run TREE --semantics file --module ...`` on a sample of the
   exporting modules and the reference gendwarfksyms on the same files: CRCs
   equal;
3. the first modules of that sample split as Fedora does
   (``eu-strip --reloc-debug-sections -f``, stripped modules xz-compressed):
   ``Module.symvers`` equal to step 2's rows for them.

Writes ``results/debian-<release>-check.json`` and ``.md`` (paths relative
to the cache directory).  Both sides run in this one invocation.

    python -m tools.fetch.fetch_debian_foreign --cache CACHE
    python -m tools.evidence.foreign_kernel_check --cache CACHE --reference PATH/gendwarfksyms
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import lzma
import os
import shutil
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from batchver.tree.discover import VMLINUX, discover


def batchver(tree: str, out: str, *extra: str) -> tuple[float, dict]:
    """Run ``batchver run``; wall seconds and report.json."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "batchver", "run", tree, "-o", out, "-q", *extra],
                   cwd=REPO, check=False)
    with open(os.path.join(out, "report.json"), encoding="utf-8") as handle:
        return time.perf_counter() - start, json.load(handle)


def upstream(reference: str, item) -> list[tuple[tuple[str, str], str]]:
    """The reference gendwarfksyms' ``((module, symbol), crc)`` on one file."""
    names = "".join(e.name + "\n" for e in item.exports).encode()
    proc = subprocess.run([reference, item.path], input=names, capture_output=True, check=True)
    return [((item.module, fields[1]), fields[2])
            for fields in map(str.split, proc.stdout.decode().splitlines())]


def rows(path: str) -> list[list[str]]:
    with open(path, encoding="utf-8") as handle:
        return [line.rstrip("\n").split("\t") for line in handle if line.strip()]


def debian_arch(flavour: str) -> str:
    """The Debian architecture of a kernel flavour (``cloud-arm64``: arm64,
    ``powerpc64le-64k``: ppc64el), for the fetch command to print."""
    names = {"powerpc64le": "ppc64el", "686": "i386", "armmp": "armhf", "marvell": "armel",
             "rpi": "armel", "mips64r2el": "mips64el"}
    for part in flavour.split("-"):
        if part in names or part in ("amd64", "arm64", "riscv64", "s390x", "loong64"):
            return names.get(part, part)
    return flavour


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", required=True, help="fetch_debian_foreign.py's --cache")
    parser.add_argument("--release", default="6.12.117+deb12-cloud-arm64")
    parser.add_argument("--reference", required=True, help="upstream gendwarfksyms")
    parser.add_argument("--jobs", default="2")
    parser.add_argument("--every", type=int, default=1,
                        help="sample every Nth exporting module (default: all but vmlinux)")
    parser.add_argument("--split-sample", type=int, default=20)
    parser.add_argument("--out", default=os.path.join(REPO, "results"))
    args = parser.parse_args()
    base = os.path.join(args.cache, f"debian-{args.release}")
    tree = os.path.join(base, "root", "usr", "lib", "debug", "lib", "modules", args.release)
    work = tempfile.mkdtemp(prefix="foreign-check-")
    result: dict = {"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                    "release": args.release, "tree": f"<cache>/{os.path.relpath(tree, args.cache)}",
                    "load_average_before": [round(x, 2) for x in os.getloadavg()],
                    "jobs": args.jobs}

    seconds, report = batchver(tree, os.path.join(work, "kbuild"), "--jobs", args.jobs)
    ours = rows(os.path.join(work, "kbuild", "Module.symvers"))
    theirs = rows(os.path.join(base, "Module.symvers"))
    cols = sorted(tuple(r[1:5]) for r in ours), sorted(tuple((r + [""])[1:5]) for r in theirs)
    result["columns"] = {
        "command": f"batchver run <tree> -o OUT --jobs {args.jobs}",
        "wall_seconds": round(seconds, 1), "counts": report["counts"],
        "rows_batchver": len(cols[0]), "rows_debian": len(cols[1]),
        "identical": cols[0] == cols[1],
        "only_batchver": [list(r) for r in sorted(set(cols[0]) - set(cols[1]))][:20],
        "only_debian": [list(r) for r in sorted(set(cols[1]) - set(cols[0]))][:20]}

    items = [i for i in discover(tree).items if i.module != VMLINUX and i.exports]
    sample = items[::args.every]
    globs = [a for i in sample for a in ("--module", i.module)]
    seconds, _ = batchver(tree, os.path.join(work, "file"), "--jobs", args.jobs,
                          "--semantics", "file", *globs)
    ours_crc = {(r[2], r[1]): r[0] for r in rows(os.path.join(work, "file", "Module.symvers"))}
    start = time.perf_counter()
    theirs_crc = {key: crc for item in sample for key, crc in upstream(args.reference, item)}
    upstream_seconds = time.perf_counter() - start
    compared = len(theirs_crc)
    differing = [f"{module}:{name}" for (module, name), crc in sorted(theirs_crc.items())
                 if ours_crc.get((module, name)) != crc]
    result["file_semantics"] = {
        "modules": len(sample), "of_exporting_modules": len(items),
        "crcs_compared": compared, "crcs_equal": compared - len(differing),
        "differing": differing[:20], "batchver_seconds": round(seconds, 1),
        "upstream_serial_seconds": round(upstream_seconds, 1)}

    split = sample[:args.split_sample]
    root = os.path.join(work, "split")
    for item in split:
        rel = os.path.relpath(item.path, tree)
        stripped = os.path.join(root, "lib", "modules", args.release, rel)
        debug = os.path.join(root, "usr", "lib", "debug", "lib", "modules", args.release,
                             rel + ".debug")
        os.makedirs(os.path.dirname(stripped), exist_ok=True)
        os.makedirs(os.path.dirname(debug), exist_ok=True)
        subprocess.run(["eu-strip", "--reloc-debug-sections", "--remove-comment", "-f", debug,
                        "-o", stripped, item.path], check=True)
        with open(stripped, "rb") as src, open(stripped + ".xz", "wb") as dst:
            dst.write(lzma.compress(src.read()))
        os.remove(stripped)
    debug_tree = os.path.join(root, "usr", "lib", "debug", "lib", "modules", args.release)
    _, report = batchver(debug_tree, os.path.join(work, "split-out"), "--jobs", args.jobs,
                         "--semantics", "file")
    modules = {i.module for i in split}
    plain = [r for r in rows(os.path.join(work, "file", "Module.symvers")) if r[2] in modules]
    result["split_compressed"] = {
        "modules": len(split), "rows": len(plain),
        "paired": sum(1 for f in report["files"] if f.get("paired_with", "").endswith(".ko.xz")),
        "identical": rows(os.path.join(work, "split-out", "Module.symvers")) == plain}
    shutil.rmtree(work)

    os.makedirs(args.out, exist_ok=True)
    out = os.path.join(args.out, f"debian-{args.release}-check")
    with open(out + ".json", "w", encoding="utf-8") as handle:
        json.dump(result, handle, indent=1)
        handle.write("\n")
    c, f, s = result["columns"], result["file_semantics"], result["split_compressed"]
    version, flavour = args.release.split("-", 1)
    lines = [f"# batchver on Debian's {args.release} debug kernel", "",
             f"Date: {result['date']}; load average before: "
             f"{', '.join(map(str, result['load_average_before']))} (2-core VM shared with "
             "other jobs); tree `" + result["tree"] + "`", "",
             f"* kbuild semantics, `batchver run <tree> --jobs {args.jobs}`: "
             f"{c['wall_seconds']} s; counts {json.dumps(c['counts'])}",
             f"* symbol/module/export type/namespace columns vs Debian's Module.symvers "
             f"(linux-headers-{args.release}): {c['rows_batchver']} rows vs {c['rows_debian']}, identical: "
             f"{c['identical']}",
             f"* `--semantics file` vs upstream gendwarfksyms on {f['modules']} of "
             f"{f['of_exporting_modules']} exporting modules: {f['crcs_equal']} of "
             f"{f['crcs_compared']} CRCs equal (batchver {f['batchver_seconds']} s with --jobs "
             f"{args.jobs}, upstream {f['upstream_serial_seconds']} s serial)",
             f"* {s['modules']} of them split with `eu-strip --reloc-debug-sections -f` and "
             f"xz-compressed, TREE = the `.ko.debug` tree: {s['paired']} paired, "
             f"Module.symvers identical to the unsplit rows ({s['rows']}): {s['identical']}", "",
             f"Reproduce: `python -m tools.fetch.fetch_debian_foreign --arch {debian_arch(flavour)} "
             f"--flavour {flavour} --version {version} --cache CACHE && python -m "
             f"tools.evidence.foreign_kernel_check --cache CACHE --release {args.release} --reference "
             f"PATH/gendwarfksyms --every {args.every}`", ""]
    with open(out + ".md", "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines))
    print("\n".join(lines))
    return 0 if c["identical"] and not f["differing"] and s["identical"] else 1


if __name__ == "__main__":
    sys.exit(main())
