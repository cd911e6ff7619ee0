#!/usr/bin/env python3
"""Write Module.symvers.expected: what kbuild and modpost make of the test tree.

Builds the tree exactly as tests/test_kbuild_built_tree.py does, then does what a
7.x kbuild does with CONFIG_GENDWARFKSYMS, using GNU binutils and the
upstream gendwarfksyms binary only (no batchver code):

* for every object of vmlinux (``ar t vmlinux.a``) and of each module (its
  ``.mod`` file) that has ``__export_symbol_`` labels (``nm``), run
  gendwarfksyms on the object, or on its ``<obj>.gendwarfksyms.o`` stand-in
  when it has one; an assembler object without a stand-in gets no run;
* like modpost, take each export's license and namespace from the object's
  ``.export_symbol`` section (``objcopy --dump-section``) and its CRC from the
  last ``#SYMVER`` line printed for it, else 0x00000000.

    python tests/data/kbuild-built-tree/make_expected.py /path/to/upstream/gendwarfksyms
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("kbuild_built_tree", HERE.parents[1] / "test_kbuild_built_tree.py")


def load_test_module():
    # The test module imports batchver only for its tests; building the tree
    # and kbuild_crcs use gcc, binutils and the given binary alone.
    module = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(module)
    return module


def export_entries(obj: Path) -> dict[str, tuple[str, str]]:
    """Export name -> (license, namespace) from the .export_symbol bytes."""
    with tempfile.TemporaryDirectory() as tmp:
        dump = Path(tmp) / "export_symbol"
        subprocess.run(["objcopy", "--dump-section", f".export_symbol={dump}", str(obj),
                        str(Path(tmp) / "copy.o")], check=True)
        data = dump.read_bytes()
    entries = {}
    nm = subprocess.run(["nm", str(obj)], check=True, capture_output=True, text=True).stdout
    for line in nm.splitlines():
        fields = line.split()
        if len(fields) == 3 and fields[2].startswith("__export_symbol_"):
            value, name = fields[0], fields[2]
            start = int(value, 16)
            license_, namespace = data[start:].split(b"\0")[:2]
            entries[name[len("__export_symbol_"):]] = (license_.decode(), namespace.decode())
    return entries


def main() -> int:
    if len(sys.argv) != 2:
        sys.exit(__doc__.strip().splitlines()[-1])
    gendwarfksyms = sys.argv[1]
    test = load_test_module()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tree = test.build_tree(Path(tmp) / "tree")
        members = {"vmlinux": subprocess.run(["ar", "t", "vmlinux.a"], cwd=tree, check=True,
                                             capture_output=True, text=True).stdout.split()}
        for module in test.MODULES:
            members[module] = (tree / (module + ".mod")).read_text().split()
        for module, objects in members.items():
            crcs: dict[str, str] = {}
            declared: dict[str, tuple[str, str]] = {}
            for rel in objects:
                obj = tree / rel
                names = test.export_names(obj)
                if not names:
                    continue
                declared.update(export_entries(obj))
                stand_in = obj.with_name(obj.stem + ".gendwarfksyms.o")
                if stand_in.exists():
                    crcs.update(test.kbuild_crcs(gendwarfksyms, stand_in, names))
                elif obj.with_suffix(".c").exists():
                    crcs.update(test.kbuild_crcs(gendwarfksyms, obj, names))
            for name, (license_, namespace) in declared.items():
                kind = "EXPORT_SYMBOL_GPL" if license_ == "GPL" else "EXPORT_SYMBOL"
                rows.append((module != "vmlinux", module, name,
                             f"{crcs.get(name, '0x00000000')}\t{name}\t{module}\t{kind}\t{namespace}\n"))
    (HERE / "Module.symvers.expected").write_text("".join(r[-1] for r in sorted(rows)))
    print(f"wrote {len(rows)} rows to {HERE / 'Module.symvers.expected'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
