#!/usr/bin/env python3
"""Compare ``batchver check --consumers`` with kmod's depmod on a real kernel.

Takes the modules and Module.symvers that ``fetch_debian_modules.py``
unpacked (``<cache>/debian-6.12.117-cloud`` by default) and

1. checks every module as a consumer of the kernel's own Module.symvers:
   all must load (and depmod must report nothing);
2. alters the Module.symvers: a seeded random choice of vmlinux exports
   gets another CRC, another choice is removed (only vmlinux rows: depmod
   reads nothing else of a symvers file, module exports it takes from the
   modules themselves, and so does batchver for consumers);
3. runs ``depmod -b ROOT -e -E ALTERED -n RELEASE`` and ``batchver check
   ALTERED --consumers MODULES --format json`` and compares, module by
   module and symbol by symbol, depmod's "disagrees about version of
   symbol" with batchver's ``crc`` refusals and depmod's "needs unknown
   symbol" with batchver's ``missing`` ones.

``--tree DIR`` does the same for any directory of modules and its
Module.symvers (a kbuild output directory of a 7.x kernel, say), staged
for depmod as ``lib/modules/<release>`` by symbolic links.

Writes ``results/consumers-debian-<version>.json`` (or ``--output``) and
prints it;
paths are written relative to the named roots.  Exit status 0 when both
tools agree everywhere and the unaltered run has no refusal.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from tools.fetch.fetch_debian_kernel import DEFAULT_FLAVOUR, DEFAULT_VERSION, dest_dir
from tools.helpers.roots import REPO, Roots, default_cache

_DEPMOD = re.compile(r"^depmod: WARNING: (\S+) (needs unknown symbol|disagrees about version "
                     r"of symbol) (\S+)$")
_KIND = {"needs unknown symbol": "missing", "disagrees about version of symbol": "crc"}


def depmod_refusals(root: Path, release: str, symvers: Path) -> set[tuple[str, str, str]]:
    """(module path, reason, symbol) of every depmod warning of the two kinds."""
    proc = subprocess.run(["depmod", "-b", str(root), "-e", "-E", str(symvers), "-n", release],
                          capture_output=True, text=True, check=True)
    found = set()
    for line in proc.stderr.splitlines():
        match = _DEPMOD.match(line)
        if match:
            found.add((match[1], _KIND[match[2]], match[3]))
        elif line.strip():
            print(f"depmod: {line}", file=sys.stderr)
    return found


def batchver_refusals(symvers: Path, modules: Path) -> tuple[set[tuple[str, str, str]], dict]:
    """(module path, reason, symbol) of every refusal, and the counts."""
    proc = subprocess.run([sys.executable, "-m", "batchver", "check", str(symvers),
                           "--consumers", str(modules), "--format", "json"],
                          capture_output=True, text=True, cwd=REPO,
                          env=dict(os.environ, PYTHONPATH=str(REPO)))
    if proc.returncode not in (0, 1):
        raise SystemExit(f"batchver check failed ({proc.returncode}): {proc.stderr}")
    report = json.loads(proc.stdout)
    found = {(c["path"], p["reason"], p["symbol"]) for c in report["consumers"]
             for p in c["problems"]}
    reasons: dict[str, int] = {}
    for _, reason, _ in found:
        reasons[reason] = reasons.get(reason, 0) + 1
    return found, {"modules": len(report["consumers"]),
                   "refusing": sum(1 for c in report["consumers"] if c["loads"] is False),
                   "unreadable": sum(1 for c in report["consumers"] if c["error"]),
                   "problems_by_reason": dict(sorted(reasons.items()))}


def alter(symvers: Path, out: Path, seed: int, changed: int, removed: int) -> dict:
    """Write the altered copy; return what was altered."""
    lines = symvers.read_text().splitlines(keepends=True)
    # module_layout is left alone: the kernel checks it for every module, but
    # it is no undefined symbol of any, so depmod never compares it
    vmlinux = [i for i, line in enumerate(lines) if line.split("\t")[2] == "vmlinux"
               and line.split("\t")[1] != "module_layout"]
    rng = random.Random(seed)
    picked = rng.sample(vmlinux, changed + removed)
    to_change, to_remove = set(picked[:changed]), set(picked[changed:])
    text = []
    for i, line in enumerate(lines):
        if i in to_remove:
            continue
        if i in to_change:
            crc, rest = line.split("\t", 1)
            line = f"0x{int(crc, 16) ^ 0x5A5A5A5A:08x}\t{rest}"
        text.append(line)
    out.write_text("".join(text))
    return {"vmlinux_rows": len(vmlinux), "crc_changed": changed, "removed": removed,
            "seed": seed}


def stage(tree: Path, target: Path) -> Path:
    """Symbolic links to every module under ``tree``, at the same relative
    paths under ``target`` (depmod reads only ``lib/modules/<release>``)."""
    for path in sorted(tree.rglob("*.ko*")):
        if path.name.endswith((".ko", ".ko.xz", ".ko.zst", ".ko.gz")) and path.is_file():
            link = target / path.relative_to(tree)
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(path.resolve())
    return target


def compare(ours: set, theirs: set, roots: Roots) -> dict:
    """Agreement on the kinds depmod reports."""
    ours = {x for x in ours if x[1] in ("crc", "missing")}
    def show(items):
        return [f"{roots.path(p)} {reason} {sym}" for p, reason, sym in sorted(items)][:50]
    return {"batchver": len(ours), "depmod": len(theirs), "both": len(ours & theirs),
            "only_batchver": show(ours - theirs), "only_depmod": show(theirs - ours),
            "modules_batchver": len({p for p, _, _ in ours}),
            "modules_depmod": len({p for p, _, _ in theirs})}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--version", default=DEFAULT_VERSION)
    ap.add_argument("--flavour", default=DEFAULT_FLAVOUR)
    ap.add_argument("--cache", type=Path, default=default_cache())
    ap.add_argument("--seed", type=int, default=23)
    ap.add_argument("--change", type=int, default=400, help="vmlinux CRCs to change")
    ap.add_argument("--remove", type=int, default=200, help="vmlinux exports to remove")
    ap.add_argument("--output", type=Path, default=None,
                    help="JSON results (default: results/consumers-debian-<version>.json)")
    ap.add_argument("--tree", type=Path, default=None,
                    help="instead of the Debian kernel: a directory of modules (a kbuild output "
                         "directory, say), staged as lib/modules/<--release> for depmod")
    ap.add_argument("--symvers", type=Path, default=None,
                    help="with --tree: its Module.symvers (default: TREE/Module.symvers)")
    ap.add_argument("--release", default="0.0.0-tree", help="with --tree: the release name staged")
    args = ap.parse_args(argv)
    roots = Roots(cache=args.cache)
    with tempfile.TemporaryDirectory() as tmp:
        if args.tree is not None:
            symvers = args.symvers or args.tree / "Module.symvers"
            root, release = Path(tmp) / "root", args.release
            modules = stage(args.tree, root / "lib/modules" / release)
            result: dict = {"kernel": release, "modules": roots.path(str(args.tree)),
                            "symvers": roots.path(str(symvers))}
        else:
            dest = dest_dir(args.cache, args.version, args.flavour)
            root, symvers = dest / "image", dest / "Module.symvers"
            releases = sorted((root / "lib/modules").glob("*"))
            if not releases or not symvers.is_file():
                print(f"run tools/fetch/fetch_debian_modules.py first ({dest} is incomplete)",
                      file=sys.stderr)
                return 2
            modules, release = releases[-1], releases[-1].name
            result = {"kernel": release, "modules": roots.path(str(modules)),
                      "symvers": roots.path(str(symvers))}
        ours, counts = batchver_refusals(symvers, modules)
        result["unaltered"] = {"batchver": counts,
                               "depmod_warnings": len(depmod_refusals(root, release, symvers))}
        altered = Path(tmp) / "Module.symvers"
        result["altered"] = alter(symvers, altered, args.seed, args.change, args.remove)
        ours, counts = batchver_refusals(altered, modules)
        theirs = depmod_refusals(root, release, altered)
        result["altered"]["batchver"] = counts
        result["altered"]["agreement"] = compare(ours, theirs, roots.plus({"<staged>": modules}))
    out = args.output or REPO / "results" / f"consumers-debian-{args.version}.json"
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    agreement = result["altered"]["agreement"]
    same = not agreement["only_batchver"] and not agreement["only_depmod"]
    return 0 if same and result["unaltered"]["batchver"]["refusing"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
