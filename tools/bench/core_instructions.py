#!/usr/bin/env python3
"""Count the instructions the upstream-compatible core spends on some linked
modules, for several source trees, with valgrind's cachegrind.

Instruction counts do not drift with the machine's load as CPU seconds do
on a shared machine, so they are the decisive comparison between two
versions of the core.  For each ``NAME=DIR`` the same child script runs under
``valgrind --tool=cachegrind`` with ``PYTHONPATH=DIR``: it discovers the
modules (symlinked into a staged linked tree) and runs the whole-file task
under both semantics (``file`` and ``kbuild``, with symtypes) on each,
printing a digest of every result; digests must agree between the trees.
A run that only starts up and discovers is counted too, so the figures can
be given net of it.

    python -m tools.bench.core_instructions --code main=$MAIN,new=$WT \\
        $CORPUS/net/ipv4/ip_tunnel.ko $CORPUS/drivers/net/ipvlan/ipvlan.ko \\
        $CORPUS/drivers/input/rmi4/rmi_core.ko
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

CHILD = """
import hashlib, sys
from batchver.tree.discover import discover
from batchver.tree.tasks import run_linked_file
found = discover(sys.argv[1])
if sys.argv[2] == "version":
    for item in found.items:
        names = [e.name for e in item.exports]
        for semantics in ("file", "kbuild"):
            r = run_linked_file(item.path, item.rel, names, False, True, semantics)
            print(item.rel, semantics, hashlib.sha1(repr((sorted(r.versions.items()), r.symtypes,
                                                          r.error)).encode()).hexdigest())
"""


def count(code: str, tree: str, mode: str) -> tuple[int, str]:
    """Instructions of one child run and its standard output."""
    with tempfile.TemporaryDirectory() as scratch:
        proc = subprocess.run(
            ["valgrind", "--tool=cachegrind", "--cache-sim=no",
             f"--cachegrind-out-file={os.path.join(scratch, 'out')}",
             os.path.realpath(sys.executable), "-c", CHILD, tree, mode],
            env=dict(os.environ, PYTHONPATH=code), capture_output=True, text=True, check=True,
            cwd=scratch)  # not the caller's directory, which `-c` would put first on sys.path
    refs = re.search(r"I\s+refs:\s+([\d,]+)", proc.stderr)
    return int(refs.group(1).replace(",", "")), proc.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--code", required=True, help="comma-separated NAME=DIR source trees")
    parser.add_argument("modules", nargs="+", help="linked modules (.ko) to version")
    args = parser.parse_args()
    codes = dict(part.split("=", 1) for part in args.code.split(","))
    with tempfile.TemporaryDirectory() as staged:
        # a linked tree needs a kernel-release directory holding kernel/
        tree = os.path.join(staged, "6.0.0-staged")
        kernel = os.path.join(tree, "kernel")
        os.makedirs(kernel)
        for module in args.modules:
            os.symlink(os.path.abspath(module), os.path.join(kernel, os.path.basename(module)))
        result = {"modules": [os.path.basename(m) for m in args.modules], "instructions": {}}
        digests = {}
        for name, code in codes.items():
            startup, _ = count(code, tree, "startup")
            total, digests[name] = count(code, tree, "version")
            result["instructions"][name] = {"total": total, "startup": startup, "net": total - startup}
    result["outputs_equal"] = len(set(digests.values())) == 1
    print(json.dumps(result, indent=1))
    return 0 if result["outputs_equal"] else 1


if __name__ == "__main__":
    sys.exit(main())
