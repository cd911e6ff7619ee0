"""Linux 7.x built trees (CONFIG_GENDWARFKSYMS=y), laid out as kbuild does.

A small tree is built at test time from ``tests/data/kbuild-built-tree``: thin
archives nested with ``ar cDPrST`` (``vmlinux.a`` of ``built-in.a`` files),
assembler objects with the ``<obj>.gendwarfksyms.o`` stand-in kbuild
compiles for them (``cmd_gensymtypes_S``), namespaced and
``EXPORT_SYMBOL_FOR_MODULES`` exports, and modules with ``.mod`` files and
``modules.order``.  ``batchver run`` on it must write the Module.symvers
that kbuild and modpost would: ``Module.symvers.expected`` there holds the
CRCs the upstream gendwarfksyms binary printed for the same gcc-compiled
objects (see that directory's README.md for how it was made).

The Rust half lays out rustc-built objects as ``rust/Makefile`` does: a
crate object and a C helper object whose global symbols a generated
``rust/exports.o`` exports.  Its CRCs depend on the rustc version, so they
are compared with the upstream binary when one is given
(``GENDWARFKSYMS=/path/to/gendwarfksyms``), and the rest is checked always.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from batchver.cli import main as cli_main
from batchver.elf.archive import read_thin_archive
from batchver.elf.exports import crate_exports, object_exports
from batchver.elf.file import ElfObject

DATA = Path(__file__).resolve().parent / "data" / "kbuild-built-tree"
#: The EXPORT_SYMBOL* emulation the example tree uses, 7.x forms included.
EXPORT_H = Path(__file__).resolve().parent.parent / "examples" / "tree" / "include"
CFLAGS = ["-O2", "-gdwarf-5", "-fno-pic", "-Iinclude", f"-I{EXPORT_H}"]
#: Directory -> its objects, in link order, as the tree's Makefiles would say.
#: Objects with no export, with paths of 13 to 17 bytes: GNU ar (2.40)
#: leaves a stray "/" after "/<offset>" in the name field of a member whose
#: path is 15 bytes long (``kernel/ucount.o`` in a real tree).
FILLERS = [f"lib/{'f' * n}.o" for n in range(7, 12)]
BUILTIN = {
    "kernel/sched": ["kernel/sched/completion.o", "kernel/sched/wait_bit_ops.o"],
    "kernel": ["kernel/resource.o", "kernel/sched/built-in.a"],
    "lib": ["lib/memcpy_fast.o", *FILLERS, "lib/noproto.o"],
}
TOP = ["kernel/built-in.a", "lib/built-in.a"]
MODULES = {"drivers/demo/demo": ["drivers/demo/demo_main.o", "drivers/demo/demo_helper.o"],
           "drivers/tiny/tiny": ["drivers/tiny/tiny.o"]}
#: kbuild's getexportsymbols: nm output through sed.
EXPORT_LINE = re.compile(r".* __export_symbol_(.*)")


def run(cmd: list[str], cwd: Path, stdin: bytes | None = None) -> bytes:
    return subprocess.run(cmd, cwd=cwd, input=stdin, check=True, capture_output=True).stdout


def export_names(obj: Path) -> list[str]:
    """``nm $@ | sed -n 's/.* __export_symbol_\\(.*\\)/\\1/p'``."""
    out = run(["nm", obj.name], obj.parent).decode()
    return [m.group(1) for m in map(EXPORT_LINE.fullmatch, out.splitlines()) if m]


def write_cmd(tree: Path, obj: str, source: str) -> None:
    """The two header lines of kbuild's ``.<obj>.cmd`` file."""
    folder, base = os.path.split(obj)
    (tree / folder / f".{base}.cmd").write_text(
        f"savedcmd_{obj} := gcc -c -o {obj} $(srctree)/{source}\n\n"
        f"source_{obj} := $(srctree)/{source}\n\ndeps_{obj} := \\\n")


def build_tree(dest: Path) -> Path:
    """Compile the test tree into ``dest`` the way kbuild lays one out."""
    shutil.copytree(DATA, dest, ignore=shutil.ignore_patterns("*.expected", "*.md", "*.py"))
    for filler in FILLERS:
        (dest / filler).with_suffix(".c").write_text(f"int {Path(filler).stem}_unused;\n")
    sources = [o for objs in BUILTIN.values() for o in objs if o.endswith(".o")]
    sources += [o for objs in MODULES.values() for o in objs]
    for obj in sources:
        source = obj[:-2] + (".S" if (dest / obj).with_suffix(".S").exists() else ".c")
        run(["gcc", "-c", *CFLAGS, "-o", obj, source], dest)
        write_cmd(dest, obj, source)
    # cmd_gensymtypes_S: a C stand-in with the prototypes and one export per
    # export of the assembler object; noproto.o is left without one.
    obj = "lib/memcpy_fast.o"
    stand_in = "".join(["#include \"export.h\"\n#include \"asm-prototypes.h\"\n"]
                       + [f"EXPORT_SYMBOL({n});\n" for n in export_names(dest / obj)])
    run(["gcc", *CFLAGS, "-c", "-o", "lib/memcpy_fast.gendwarfksyms.o", "-xc", "-"], dest,
        stand_in.encode())
    for folder, members in BUILTIN.items():
        run(["ar", "cDPrST", f"{folder}/built-in.a", *members], dest)
    run(["ar", "cDPrST", "vmlinux.a", *TOP], dest)
    for module, members in MODULES.items():
        (dest / (module + ".mod")).write_text("".join(m + "\n" for m in members))
        if members != [module + ".o"]:
            run(["ld", "-r", "-o", module + ".o", *members], dest)
    (dest / "modules.order").write_text("".join(m + ".o\n" for m in MODULES))
    return dest


@pytest.fixture(scope="module")
def tree(tmp_path_factory, cc) -> Path:
    return build_tree(tmp_path_factory.mktemp("kbuild-built") / "tree")


def batchver_run(tree: Path, out: Path) -> tuple[int, dict]:
    rc = cli_main(["run", str(tree), "-o", str(out), "--jobs", "2", "--quiet"])
    return rc, json.loads((out / "report.json").read_text())


def test_nested_thin_archive_members_match_ar(tree):
    """vmlinux.a lists every object of the nested built-in.a files, as
    ``ar t`` does, though GNU ar (2.40) leaves a stray '/' in some name
    fields (the next test makes one by hand for any other binutils)."""
    listed = run(["ar", "t", "vmlinux.a"], tree).decode().split()
    assert [os.path.relpath(m, tree) for m in read_thin_archive(str(tree / "vmlinux.a"))] == listed
    assert listed[:2] == ["kernel/resource.o", "kernel/sched/completion.o"]
    assert len(listed) == 5 + len(FILLERS)


def test_thin_archive_name_field_with_stray_slash(tmp_path):
    """``/<offset>`` followed by spaces and a '/' in the 16-byte name field."""
    names = b"lib/fffffffff.o/\nkernel/ucount.o/\n"
    header = b"%-16s%-12s%-6s%-6s%-8s%-10d`\n"
    archive = (b"!<thin>\n" + header % (b"//", b"", b"", b"", b"", len(names)) + names
               + header % (b"/0             /", b"0", b"0", b"0", b"644", 900)
               + header % (b"/17            /", b"0", b"0", b"0", b"644", 900))
    (tmp_path / "vmlinux.a").write_bytes(archive)
    assert read_thin_archive(str(tmp_path / "vmlinux.a")) == [
        str(tmp_path / "lib/fffffffff.o"), str(tmp_path / "kernel/ucount.o")]


def test_export_entries_of_every_length(tree):
    """Namespaces make .export_symbol entries 24 or 32 bytes long, and
    EXPORT_SYMBOL_FOR_MODULES puts ``module:<mods>`` in the namespace."""
    elf = ElfObject(str(tree / "kernel/resource.o"))
    try:
        exports = {e.name: (e.export_type, e.namespace) for e in object_exports(elf)}
        section = elf.section(".export_symbol")
        # "" "", "GPL" "CXL", "GPL" "module:binfmt_misc", "GPL" "DMA_BUF"
        assert section is not None and section.size == 16 + 16 + 32 + 24
    finally:
        elf.close()
    assert exports == {
        "dma_resource_put": ("EXPORT_SYMBOL_GPL", "DMA_BUF"),
        "inc_ucount": ("EXPORT_SYMBOL_GPL", "module:binfmt_misc"),
        "insert_resource_expand": ("EXPORT_SYMBOL_GPL", "CXL"),
        "root_resource": ("EXPORT_SYMBOL", ""),
    }


def test_module_symvers_is_what_kbuild_writes(tree, tmp_path):
    rc, report = batchver_run(tree, tmp_path / "out")
    ours = (tmp_path / "out" / "Module.symvers").read_text().splitlines()
    expected = (DATA / "Module.symvers.expected").read_text().splitlines()
    assert sorted(ours) == sorted(expected), (
        "rows differ from kbuild's; tests/data/kbuild-built-tree/README.md names the gcc the "
        "expected CRCs were made with")
    # mb_orphan has no version, in kbuild too (modpost warns): not an input error
    assert rc != 2 and report["counts"]["no_information"] == 1
    assert {f["file"]: f["status"] for f in report["files"] if f["status"] != "ok"} == {
        "lib/noproto.o": "incomplete"}
    exports = report["exports"]
    # assembler exports come from the stand-in, which is what kbuild versions
    assert exports["vmlinux:mb_memcpy"]["status"] == "ok"
    assert exports["vmlinux:mb_memcpy"]["versioned_in"] == "lib/memcpy_fast.o"
    # an assembler object with no stand-in gets no CRC, and says why
    assert exports["vmlinux:mb_orphan"]["status"] == "no-information"
    assert any(n.startswith("lib/noproto.o: assembled from a .S file") for n in report["notes"])
    assert not any("gendwarfksyms.o" in f["file"] for f in report["files"])


def kbuild_crcs(gendwarfksyms: str, obj: Path, names: list[str]) -> dict[str, str]:
    """The ``#SYMVER`` lines one kbuild gendwarfksyms step appends to a .cmd file."""
    out = run([gendwarfksyms, obj.name], obj.parent, "".join(n + "\n" for n in names).encode())
    return {line.split()[1]: line.split()[2] for line in out.decode().splitlines()
            if line.startswith("#SYMVER ")}


# -- Rust, as rust/Makefile builds and versions it ---------------------------
RUST_CRATE = r"""
#![allow(dead_code)]
#[repr(C)]
pub struct Pin { pub line: u32, pub name: *const u8 }
pub enum Level { Low, High(u8) }

#[no_mangle]
pub extern "C" fn kc_pin_line(p: *const Pin) -> u32 { unsafe { (*p).line } }

#[no_mangle]
pub fn kc_level(l: &Level) -> u8 { match l { Level::Low => 0, Level::High(v) => *v } }

#[no_mangle]
pub static mut KC_COUNT: u64 = 0;
"""
RUST_HELPERS = """
#include "types.h"
int rust_helper_demo_mode(const struct demo_dev *dev) { return dev->mode; }
"""
#: rust/Makefile's rust_exports, run with the real nm and awk.
RUST_EXPORTS_AWK = "$2~/(T|R|D|B)/ && $3!~/__(pfx|cfi|odr_asan)/ { print $3 }"


def rust_exports(obj: Path) -> list[str]:
    out = run(["sh", "-c", f"nm -p --defined-only {obj.name} | awk '{RUST_EXPORTS_AWK}'"],
              obj.parent)
    return out.decode().split()


@pytest.fixture(scope="module")
def rust_tree(tmp_path_factory, cc) -> Path:
    rustc = shutil.which("rustc")
    if rustc is None:
        pytest.skip("rustc is not installed")
    dest = build_tree(tmp_path_factory.mktemp("kbuild-built-rust") / "tree")
    rust = dest / "rust"
    (rust / "helpers").mkdir(parents=True, exist_ok=True)
    (rust / "kcrate.rs").write_text(RUST_CRATE)
    run([rustc, "--emit=obj", "-g", "-C", "opt-level=1", "--crate-type=lib",
         "-o", "rust/kcrate.o", "rust/kcrate.rs"], dest)
    (rust / "helpers" / "helpers.c").write_text(RUST_HELPERS)
    run(["gcc", "-c", *CFLAGS, "-o", "rust/helpers/helpers.o", "rust/helpers/helpers.c"], dest)
    names = rust_exports(rust / "kcrate.o") + rust_exports(rust / "helpers" / "helpers.o")
    (rust / "exports.c").write_text(
        "#include \"export.h\"\n"
        "#define EXPORT_SYMBOL_RUST_GPL(sym) extern int sym; EXPORT_SYMBOL_GPL(sym)\n"
        + "".join(f"EXPORT_SYMBOL_RUST_GPL({n});\n" for n in names))
    run(["gcc", "-c", *CFLAGS, "-o", "rust/exports.o", "rust/exports.c"], dest)
    members = ["rust/kcrate.o", "rust/helpers/helpers.o", "rust/exports.o"]
    run(["ar", "cDPrST", "rust/built-in.a", *members], dest)
    (dest / "vmlinux.a").unlink()
    run(["ar", "cDPrST", "vmlinux.a", *TOP, "rust/built-in.a"], dest)
    return dest


@pytest.fixture(scope="module")
def rust_report(rust_tree, tmp_path_factory) -> dict:
    rc, report = batchver_run(rust_tree, tmp_path_factory.mktemp("rust-out"))
    assert rc != 2 and report["counts"]["no_information"] == 1  # mb_orphan, as before
    return report


def rust_objects(rust_tree: Path) -> list[Path]:
    return [rust_tree / "rust" / "kcrate.o", rust_tree / "rust" / "helpers" / "helpers.o"]


def test_rust_crate_exports(rust_tree, rust_report):
    """Exports declared by rust/exports.o are versioned in the crate or helper
    object defining them, with that object's whole rust_exports list."""
    crate = rust_tree / "rust" / "kcrate.o"
    elf = ElfObject(str(crate))
    try:
        assert crate_exports(elf) == rust_exports(crate)
    finally:
        elf.close()
    rows = {r["symbol"]: r for r in rust_report["exports"].values() if r["module"] == "vmlinux"}
    assert "rust/exports.o" not in {f["file"] for f in rust_report["files"]}
    for obj in rust_objects(rust_tree):
        names = rust_exports(obj)
        assert names
        for name in names:
            assert rows[name]["export_type"] == "EXPORT_SYMBOL_GPL"
            assert rows[name]["status"] == "ok", name
            assert rows[name]["versioned_in"].split(":")[0] == os.path.relpath(obj, rust_tree)


def test_rust_crcs_are_upstreams(rust_tree, rust_report):
    """The CRCs are what kbuild's gendwarfksyms run on each object prints
    (rustc's DWARF varies by version, so compared with the binary at hand)."""
    reference = os.environ.get("GENDWARFKSYMS") or shutil.which("gendwarfksyms")
    if reference is None:
        pytest.skip("no upstream gendwarfksyms binary (set GENDWARFKSYMS) to compare CRCs with")
    crcs = {r["symbol"]: r["crc"] for r in rust_report["exports"].values()}
    for obj in rust_objects(rust_tree):
        expected = kbuild_crcs(reference, obj, rust_exports(obj))
        assert {n: crcs[n] for n in expected} == expected
