#!/usr/bin/env python3
"""Cross-compile the architecture fixtures and record upstream's outputs.

``tests/data/cross/kexports.c`` (the kABI fixture ``kabi_cases.c`` plus
kernel-style ``.export_symbol`` entries) is compiled with Debian's cross gcc
for each target below; the reference gendwarfksyms (which reads every
architecture through libdw) then writes the expected files beside each
object, with and without ``--stable``:

    python -m tests.support.build_cross_fixtures --reference PATH/gendwarfksyms

The tests compile the same source again whenever a cross compiler is
installed (:func:`compile_target`), so the build path is exercised too, and
compare batchver with these expected files.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import sys
from dataclasses import dataclass

CROSS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "cross")
# the kABI fixture the cross sources include, shared with the corpus fixtures
FIXTURES = os.path.join(CROSS, "..", "corpus", "fixtures")
SOURCE = "kexports.c"
CFLAGS = ("-c", "-O2", "-gdwarf-5", "-fno-pic")
# (license, namespace) of each export, as kexports.c declares them
EXPORTS = {"asm_defined_helper": ("GPL", ""), "node_color": ("", ""), "node_flag": ("", ""),
           "node_names": ("", "NODES"), "node_template": ("GPL", "NODES"),
           "node_walk": ("GPL", "")}


@dataclass(frozen=True)
class Target:
    """One cross target: the fixture's name, its compiler's triplet and the
    Debian package that provides it."""

    name: str
    triplet: str
    package: str
    what: str  # class, byte order and relocation flavour the target exercises

    @property
    def compiler(self) -> str:
        return f"{self.triplet}-gcc"


TARGETS = (
    Target("aarch64", "aarch64-linux-gnu", "gcc-aarch64-linux-gnu", "64-bit little-endian, RELA"),
    Target("ppc64le", "powerpc64le-linux-gnu", "gcc-powerpc64le-linux-gnu",
           "64-bit little-endian, RELA"),
    Target("s390x", "s390x-linux-gnu", "gcc-s390x-linux-gnu", "64-bit big-endian, RELA"),
    Target("riscv64", "riscv64-linux-gnu", "gcc-riscv64-linux-gnu",
           "64-bit little-endian, RELA with ADD/SUB label differences"),
    Target("i686", "i686-linux-gnu", "gcc-i686-linux-gnu", "32-bit little-endian, REL"),
    Target("armhf", "arm-linux-gnueabihf", "gcc-arm-linux-gnueabihf", "32-bit little-endian, REL"),
    Target("powerpc", "powerpc-linux-gnu", "gcc-powerpc-linux-gnu", "32-bit big-endian, RELA"),
)


def compile_target(target: Target, dest: str) -> str:
    """Compile the fixture for ``target`` into ``dest``/<name>.o; return its
    path.  Compiles in a scratch copy of the sources, whose path the DWARF
    records as ".", so the object is the same wherever it is built."""
    os.makedirs(dest, exist_ok=True)
    obj = f"{target.name}.o"
    with tempfile.TemporaryDirectory() as scratch:
        for folder, name in ((CROSS, SOURCE), (FIXTURES, "kabi_cases.c"), (FIXTURES, "kabi_cases.h")):
            shutil.copyfile(os.path.join(folder, name), os.path.join(scratch, name))
        subprocess.run([target.compiler, *CFLAGS, f"-fdebug-prefix-map={scratch}=.", "-o", obj,
                        SOURCE], cwd=scratch, check=True)
        shutil.move(os.path.join(scratch, obj), os.path.join(dest, obj))
    return os.path.join(dest, obj)


def symbol_list() -> bytes:
    return "".join(f"{name}\n" for name in sorted(EXPORTS)).encode()


def record_expected(reference: str, obj: str) -> None:
    """Upstream's ``#SYMVER`` lines and symtypes for ``obj``, with and
    without ``--stable``, written beside it."""
    stem = obj[:-2]
    with open(stem + ".exports", "wb") as handle:
        handle.write(symbol_list())
    for suffix, flags in ((".", []), (".stable.", ["--stable"])):
        run = subprocess.run([reference, *flags, "-T", stem + suffix + "symtypes", obj],
                             input=symbol_list(), capture_output=True, check=True)
        with open(stem + suffix + "symver", "wb") as handle:
            handle.write(run.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference", required=True, help="upstream gendwarfksyms binary")
    parser.add_argument("--only", action="append", help="target names (default: all)")
    args = parser.parse_args()
    for target in TARGETS:
        if args.only and target.name not in args.only:
            continue
        if shutil.which(target.compiler) is None:
            print(f"skipping {target.name}: {target.compiler} not found "
                  f"(apt-get install {target.package})", file=sys.stderr)
            continue
        obj = compile_target(target, CROSS)
        record_expected(args.reference, obj)
        print(f"{target.name}: {os.path.relpath(obj)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
