#!/usr/bin/env python3
"""Build the small example kernel tree shipped in examples/tree with gcc.

The result has the shape of a kbuild output directory (Linux 6.5+): objects
with real ``.export_symbol`` sections, a module made of two objects with its
``.mod`` file and its prelinked ``.o``, a one-object module, ``modules.order``
and a thin ``vmlinux.a``.  ``batchver run DEST`` versions it.

    python tools/build_example_tree.py example-tree
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys

SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples", "tree")
BUILTIN = ["kernel/core.o", "lib/util.o"]
MODULES = {"drivers/demo/demo": ["drivers/demo/demo_main.o", "drivers/demo/demo_helper.o"],
           "drivers/single/single": ["drivers/single/single.o"]}


def build(dest: str, cflags: tuple[str, ...] = ("-gdwarf-5", "-O2")) -> str:
    """Compile the example tree into ``dest`` (recreated); return its path."""
    dest = os.path.abspath(dest)
    if os.path.exists(dest):
        shutil.rmtree(dest)
    shutil.copytree(SOURCE, dest)
    objects = BUILTIN + [o for members in MODULES.values() for o in members]
    for obj in objects:
        _run(["gcc", "-c", *cflags, "-fno-pic", "-o", obj, obj[:-2] + ".c"], dest)
    for module, members in MODULES.items():
        with open(os.path.join(dest, module + ".mod"), "w") as handle:
            handle.write("\n".join(members) + "\n")
        if members != [module + ".o"]:  # kbuild prelinks composite modules
            _run(["ld", "-r", "-o", module + ".o", *members], dest)
    with open(os.path.join(dest, "modules.order"), "w") as handle:
        handle.write("".join(m + ".o\n" for m in MODULES))
    _run(["ar", "cDPrST", "vmlinux.a", *BUILTIN], dest)
    return dest


def _run(cmd: list[str], cwd: str) -> None:
    try:
        subprocess.run(cmd, cwd=cwd, check=True)
    except FileNotFoundError:
        sys.exit(f"build_example_tree: '{cmd[0]}' not found; install gcc and binutils")
    except subprocess.CalledProcessError as exc:
        sys.exit(f"build_example_tree: {' '.join(cmd)} failed with status {exc.returncode}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dest", help="directory to create (replaced if it exists)")
    args = parser.parse_args()
    print(f"built example tree in {build(args.dest)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
