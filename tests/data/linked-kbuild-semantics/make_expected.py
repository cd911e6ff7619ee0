#!/usr/bin/env python3
"""Write this directory's expected files with the upstream reference binary.

    python tests/data/linked-kbuild-semantics/make_expected.py PATH/TO/gendwarfksyms

Builds the objects exactly as tests/test_linked_kbuild_semantics.py does and runs
upstream on the object kbuild would version, with kbuild's symbol list:

* ``jbd-journal.symver``: ``fs/jbd/journal.o`` (the exporting CU) with its
  three exports;
* ``vmlinux-asm-alias.symver``: ``arch/x86/kernel/cpu/common.o`` with
  ``cur_task`` and its linker-script alias ``const_cur_task``, then the
  assembler object's C stand-in with its two exports;
* ``rusty-crate.symver``: the shared fixture ``rusty.o`` (one Rust crate)
  with what rust/Makefile's ``rust_exports`` lists for it.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent.parent))

from tests.test_linked_kbuild_semantics import (  # noqa: E402
    ASM_NAMES, JBD_NAMES, PERCPU_NAMES, RUSTY, RUSTY_EXPORTS, build_asm_alias, build_jbd)


def upstream(binary: str, obj: Path, names: list[str]) -> str:
    proc = subprocess.run([binary, str(obj)], input="".join(n + "\n" for n in names).encode(),
                          capture_output=True, check=True)
    return proc.stdout.decode()


def main() -> int:
    binary = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        journal, _ = build_jbd(Path(tmp), "7.x")
        (HERE / "jbd-journal.symver").write_text(upstream(binary, journal, JBD_NAMES))
        common, stand_in, _ = build_asm_alias(Path(tmp) / "asm-alias")
        (HERE / "vmlinux-asm-alias.symver").write_text(
            upstream(binary, common, PERCPU_NAMES) + upstream(binary, stand_in, ASM_NAMES))
    (HERE / "rusty-crate.symver").write_text(upstream(binary, RUSTY, RUSTY_EXPORTS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
