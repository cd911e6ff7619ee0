"""Linked files of modern kernels (6.12 and 7.x layouts) under kbuild semantics.

Each fixture is a small "module" made at test time the way kbuild makes one:
objects compiled with gcc from C that spells out what the kernel's macros
expand to (``EXPORT_SYMBOL``'s ``__ADDRESSABLE`` variable and
``.export_symbol`` entry, ``CONFIG_GENDWARFKSYMS``' symbol pointer), a
``.mod.c``-like object with modpost's ksymtab entries (``__ksymtab_gpl`` up
to 6.x, ``__kflagstab`` flags since 7.x), linked with ``ld -r`` and a
linker script like ``scripts/module.lds``.

The CRCs asserted are upstream's on the object kbuild would have versioned
(``tests/data/linked-kbuild-semantics/*.symver``, made by the reference binary; see
the README there).  Sources are simple enough that any gcc gives the same
DWARF type strings.  With ``BATCHVER_REFERENCE`` naming an upstream
gendwarfksyms binary, the objects built here are also checked against it
live.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from batchver.cli import main as cli_main
from batchver.dwarf.reader import DwarfReader
from batchver.elf.exports import Export, linked_exports
from batchver.elf.file import ElfObject
from batchver.tree.linked import addressed_names, scan_units
from batchver.report import Report
from batchver.tree.outputs import summary_lines

from .conftest import LOCAL_CORPUS, run_dropin, symbol_list, symver_by_name

DATA = Path(__file__).resolve().parent / "data" / "linked-kbuild-semantics"

MODULE_LDS = """SECTIONS {
 /DISCARD/ : { *(.discard) *(.discard.*) *(.export_symbol) }
 __ksymtab 0 : ALIGN(8) { *(SORT(___ksymtab+*)) }
 __ksymtab_gpl 0 : ALIGN(8) { *(SORT(___ksymtab_gpl+*)) }
 __kflagstab 0 : ALIGN(1) { *(SORT(___kflagstab+*)) }
}
"""

# --- what the kernel's macros expand to ------------------------------------


def export_symbol(sym: str, gpl: bool = False, namespace: str = "", *, addressable: str | None = None,
                  pointer: bool = False) -> str:
    """C for ``EXPORT_SYMBOL*(sym)`` in the exporting file: the
    ``__ADDRESSABLE`` variable named ``addressable`` (6.x or 7.x spelling),
    the ``__gendwarfksyms_ptr_`` variable with ``pointer``, and the
    ``.export_symbol`` entry (discarded when the module is linked)."""
    lines = [f"extern __typeof__({sym}) {sym};"]
    if addressable:
        lines.append(addressable_variable(sym, addressable))
    if pointer:
        lines.append(f'static __typeof__({sym}) * __gendwarfksyms_ptr_{sym} '
                     f'__attribute__((used, section(".discard.gendwarfksyms"))) = &{sym};')
    lines.append(f'asm(".section \\".export_symbol\\",\\"a\\"\\n__export_symbol_{sym}:\\n'
                 f'.asciz \\"{"GPL" if gpl else ""}\\"\\n.ascii \\"{namespace}\\\\0\\"\\n'
                 f'.balign 8\\n.quad {sym}\\n.previous");')
    return "\n".join(lines) + "\n"


def addressable_variable(sym: str, name: str) -> str:
    """``__ADDRESSABLE(sym)``: a static pointer to it, named ``name``."""
    return (f'static void * __attribute__((used, section(".discard.addressable"))) '
            f"{name} = (void *)(unsigned long)&{sym};")


def ksymtab(exports: list[Export], layout: str) -> str:
    """Assembler for modpost's ``.mod.c`` entries of these exports:
    ``layout`` "6.12" puts GPL-only ones in ``___ksymtab_gpl+`` sections,
    "7.x" puts all in ``___ksymtab+`` with a ``__flags_`` byte each."""
    out = []
    for e in exports:
        section = "___ksymtab_gpl+" if layout == "6.12" and e.gpl else "___ksymtab+"
        out += ['.section "__ksymtab_strings","aMS",%progbits,1',
                f'"__kstrtab_{e.name}":', f'.asciz "{e.name}"',
                f'"__kstrtabns_{e.name}":', f'.asciz "{e.namespace}"',
                f'.section "{section}{e.name}","a"', ".balign 4",
                f'"__ksymtab_{e.name}":', f'.long "{e.name}" - .',
                f'.long "__kstrtab_{e.name}" - .', f'.long "__kstrtabns_{e.name}" - .']
        if layout == "7.x":
            out += [f'.section "___kflagstab+{e.name}","a"', f'"__flags_{e.name}":',
                    f".byte {1 if e.gpl else 0}"]
    out.append('.section .note.GNU-stack,"",%progbits')
    return "\n".join(out) + "\n"


def compile_c(directory: Path, rel: str, source: str, flags: tuple[str, ...] = ()) -> Path:
    """Compile ``directory/rel`` from the directory, so the CU is named
    ``rel`` as in a kbuild build."""
    src = directory / rel
    src.parent.mkdir(parents=True, exist_ok=True)
    src.write_text(source)
    obj = src.with_suffix(".o")
    subprocess.run(["gcc", "-c", "-O2", "-gdwarf-5", "-fno-pic", *flags, "-o", str(obj), rel],
                   check=True, cwd=directory)
    return obj


def link_module(directory: Path, out: Path, objects: list[Path], exports: list[Export],
                layout: str) -> Path:
    """``ld -r`` the objects and a ksymtab object into a ``.ko``."""
    mod = directory / (out.stem + ".mod.s")
    mod.write_text(ksymtab(exports, layout))
    mod_o = mod.with_suffix(".o")
    subprocess.run(["as", "-o", str(mod_o), str(mod)], check=True)
    lds = directory / "module.lds"
    lds.write_text(MODULE_LDS)
    out.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["ld", "-r", "-T", str(lds), "-o", str(out), *map(str, objects), str(mod_o)],
                   check=True)
    return out


def reference(obj: Path, names: list[str]) -> dict[str, str] | None:
    """Upstream's CRCs on one object, when BATCHVER_REFERENCE names it."""
    binary = os.environ.get("BATCHVER_REFERENCE")
    if not binary:
        return None
    proc = subprocess.run([binary, str(obj)], input=symbol_list(names), capture_output=True, check=True)
    return symver_by_name(proc.stdout.decode())


def expected(name: str) -> dict[str, str]:
    return symver_by_name((DATA / f"{name}.symver").read_text())


def run_tree(tree: Path, out: Path, *extra: str) -> tuple[int, dict, dict[str, str]]:
    rc = cli_main(["run", str(tree), "-o", str(out), "--quiet", *extra])
    report = json.loads((out / "report.json").read_text())
    rows = {line.split("\t")[1]: line.split("\t")[0]
            for line in (out / "Module.symvers").read_text().splitlines()}
    return rc, report, rows


# --- 1. export type from either layout -------------------------------------

LAYOUT_EXPORTS = [Export("lay_gpl", True, ""), Export("lay_ns", False, "LAY_NS"),
                  Export("lay_ns_gpl", True, "module:lay_a,lay_b"), Export("lay_plain", False, "")]


@pytest.fixture(scope="module")
def layouts(tmp_path_factory, cc):
    directory = tmp_path_factory.mktemp("layouts")
    source = "".join(f"int {e.name}(int x) {{ return x + {i}; }}\n" + export_symbol(
        e.name, e.gpl, e.namespace, addressable=f"__UNIQUE_ID_addressable_{e.name}_{i}")
        for i, e in enumerate(LAYOUT_EXPORTS))
    obj = compile_c(directory, "lay.c", source)
    return {layout: link_module(directory, directory / layout / "kernel" / "lay" / "lay.ko", [obj],
                                LAYOUT_EXPORTS, layout) for layout in ("6.12", "7.x")}


@pytest.mark.parametrize("layout", ["6.12", "7.x"])
def test_export_type_and_namespace_from_either_layout(layouts, layout):
    elf = ElfObject(str(layouts[layout]))
    try:
        assert {s.name for s in elf.sections} >= (
            {"__ksymtab", "__ksymtab_gpl"} if layout == "6.12" else {"__ksymtab", "__kflagstab"})
        assert linked_exports(elf) == LAYOUT_EXPORTS
    finally:
        elf.close()


def test_7x_file_missing_a_flags_byte_fails_alone(layouts, tmp_path):
    tree = tmp_path / "tree"
    shutil.copytree(layouts["7.x"].parent.parent.parent, tree)
    broken = tree / "kernel" / "lay" / "broken.ko"
    subprocess.run(["objcopy", "--strip-symbol=__flags_lay_ns", str(layouts["7.x"]), str(broken)],
                   check=True)
    rc, report, rows = run_tree(tree, tmp_path / "out")
    assert rc == 1
    files = {f["file"]: f for f in report["files"]}
    assert files["kernel/lay/broken.ko"]["status"] == "failed"
    assert "export lay_ns has no __flags_lay_ns byte in __kflagstab" in files["kernel/lay/broken.ko"]["error"]
    assert "kernel/lay/broken.ko" in files["kernel/lay/broken.ko"]["error"]
    assert files["kernel/lay/lay.ko"]["status"] == "ok"


def test_module_symvers_columns_for_7x(layouts, tmp_path):
    rc, report, _ = run_tree(layouts["7.x"].parent.parent.parent, tmp_path / "out")
    assert rc == 0
    assert (tmp_path / "out" / "Module.symvers").read_text().split("\n")[:-1] == [
        f"{report['exports']['lay/lay:' + e.name]['crc']}\t{e.name}\tlay/lay\t{e.export_type}\t{e.namespace}"
        for e in LAYOUT_EXPORTS]


# --- 2. the exporting CU, not the defining one -------------------------------

JBD_HEADER = """struct jstate;
struct jhandle { int credits; struct jstate *state; };
int jb_start(struct jhandle *h, struct jstate *s);
long jb_op3(struct jstate *s);
int jb_v2(struct jhandle *h);
"""

# transaction.c defines everything, with struct jstate complete ...
TRANSACTION = JBD_HEADER + """struct jstate { int a; long b; };
int jb_start(struct jhandle *h, struct jstate *s) { h->state = s; return s->a; }
long jb_op3(struct jstate *s) { return s->b; }
int jb_v2(struct jhandle *h) { return h->credits; }
"""

# ... but journal.c exports them, seeing struct jstate only declared: kbuild
# versions the exports in journal.o, where the CRCs differ.  The three
# __ADDRESSABLE spellings: 6.x (counter pasted to a name ending in a digit)
# and 7.x (counter after an underscore).
JOURNAL = JBD_HEADER + "".join((
    export_symbol("jb_start", gpl=True, addressable="__UNIQUE_ID___addressable_jb_start12"),
    export_symbol("jb_op3", addressable="__UNIQUE_ID___addressable_jb_op345"),
    export_symbol("jb_v2", gpl=True, addressable="__UNIQUE_ID_addressable_jb_v2_7")))

JBD_NAMES = ["jb_op3", "jb_start", "jb_v2"]


def build_jbd(directory: Path, layout: str) -> tuple[Path, Path]:
    """The two objects and the linked module; returns (journal.o, jbd.ko)."""
    transaction = compile_c(directory, "fs/jbd/transaction.c", TRANSACTION)
    journal = compile_c(directory, "fs/jbd/journal.c", JOURNAL)
    exports = [Export("jb_op3", False, ""), Export("jb_start", True, ""), Export("jb_v2", True, "")]
    module = link_module(directory, directory / "tree" / "kernel" / "fs" / "jbd" / "jbd.ko",
                         [transaction, journal], exports, layout)
    return journal, module


@pytest.fixture(scope="module")
def jbd(tmp_path_factory, cc):
    directory = tmp_path_factory.mktemp("jbd")
    return build_jbd(directory, "7.x")


def test_addressable_names():
    assert addressed_names("__UNIQUE_ID___addressable_jb_op345") == ["jb_op34", "jb_op3", "jb_op"]
    assert addressed_names("__UNIQUE_ID_addressable_jb_v2_7") == ["jb_v2"]
    assert addressed_names("__UNIQUE_ID_addressable_x_1_23") == ["x_1"]
    assert addressed_names("__UNIQUE_ID_other_jb_v2_7") == []


def test_kbuild_semantics_versions_the_exporting_cu(jbd, tmp_path):
    journal, module = jbd
    rc, report, rows = run_tree(module.parent.parent.parent.parent, tmp_path / "out")
    assert rc == 0
    want = expected("jbd-journal")
    assert set(want) == set(JBD_NAMES)
    assert {n: rows[n] for n in JBD_NAMES} == want
    for name in JBD_NAMES:
        entry = report["exports"][f"fs/jbd/jbd:{name}"]
        assert entry["versioned_in"] == "kernel/fs/jbd/jbd.ko:fs/jbd/journal.c"
        assert "not_as_kbuild" not in entry
    live = reference(journal, JBD_NAMES)
    if live is not None:
        assert live == want


def test_exporting_cu_differs_from_defining_cu(jbd):
    # The fixture is only useful while the defining CU gives other CRCs.
    journal, _ = jbd
    transaction = journal.parent / "transaction.o"
    rc, out, err = run_dropin([transaction], symbol_list(JBD_NAMES))
    assert rc == 0, err
    assert symver_by_name(out) != expected("jbd-journal")


def test_file_semantics_unchanged(jbd, tmp_path):
    # --semantics file is upstream on the whole linked file, as before.
    _, module = jbd
    rc, report, rows = run_tree(module.parent.parent.parent.parent, tmp_path / "out", "--semantics", "file")
    assert rc == 0
    dropin_rc, out, _ = run_dropin([module], symbol_list(JBD_NAMES))
    assert dropin_rc == 0
    assert {n: rows[n] for n in JBD_NAMES} == symver_by_name(out)
    assert report["counts"]["not_as_kbuild"] == 0


# --- 3. what batchver cannot version as kbuild would is named ----------------

GUESSED = """struct gstate { int a; };
int g_defined(struct gstate *s) { return s->a; }
extern int g_asm(struct gstate *s);
int g_user(struct gstate *s) { return g_asm(s); }
int g_twice(struct gstate *s) { return -s->a; }
""" + export_symbol("g_twice", addressable="__UNIQUE_ID_addressable_g_twice_3")

# Another CU takes g_twice's address the way EXPORT_SYMBOL does (as
# KCFI_REFERENCE would): which of the two exported it is a guess.
GUESSED_OTHER = """struct gstate;
int g_twice(struct gstate *s);
""" + addressable_variable("g_twice", "__UNIQUE_ID_addressable_g_twice_8") + "\n"

GUESSED_ASM = """.text
.globl g_asm
.type g_asm, @function
g_asm:
    ret
.section .note.GNU-stack,"",%progbits
"""


def test_guessed_cus_are_named(tmp_path, cc):
    # g_defined is exported without any marker in its CU (so the defining
    # CU is a guess); g_asm is an assembler export only declared in C.
    user = compile_c(tmp_path, "drivers/g/user.c", GUESSED)
    other = compile_c(tmp_path, "drivers/g/other.c", GUESSED_OTHER)
    (tmp_path / "drivers/g/asm.S").write_text(GUESSED_ASM)
    asm = tmp_path / "drivers/g/asm.o"
    subprocess.run(["gcc", "-c", "-g", "-o", str(asm), "drivers/g/asm.S"], check=True, cwd=tmp_path)
    exports = [Export("g_asm", False, ""), Export("g_defined", True, ""), Export("g_twice", False, "")]
    module = link_module(tmp_path, tmp_path / "tree" / "kernel" / "drivers" / "g" / "g.ko",
                         [user, other, asm], exports, "7.x")
    rc, report, rows = run_tree(module.parent.parent.parent.parent, tmp_path / "out")
    caveats = report["files"][0]["not_as_kbuild"]
    assert caveats == {
        "g_asm": "no CU defines it or holds its EXPORT_SYMBOL: versioned from a declaration in "
                 "drivers/g/user.c",
        "g_defined": "no CU holds its EXPORT_SYMBOL (no __gendwarfksyms_ptr_ or __ADDRESSABLE "
                     "variable): versioned in its defining CU drivers/g/user.c",
        "g_twice": "EXPORT_SYMBOL markers in 2 CUs (drivers/g/user.c, drivers/g/other.c): versioned "
                   "in the first"}
    assert report["counts"]["not_as_kbuild"] == 3
    assert report["exports"]["drivers/g/g:g_asm"]["not_as_kbuild"] == caveats["g_asm"]
    assert any(line == "possibly not kbuild's CRC for 3 export(s) of kernel/drivers/g/g.ko (see "
               "report.json): g_asm, g_defined, g_twice"
               for line in summary_lines(Report.from_json(report)))


# --- 4. a linked vmlinux: assembler exports and linker-script aliases --------

# arch/x86 exports current_task and const_current_task from one CU, where the
# second is only declared: vmlinux.lds.S makes it an alias of the first, so
# the two share an address in vmlinux but not in the object kbuild versioned.
PERCPU = """struct task { int pid; struct task *parent; };
struct task *cur_task;
extern struct task *const const_cur_task;
""" + export_symbol("cur_task", pointer=True, addressable="__UNIQUE_ID_addressable_cur_task_1") + \
    export_symbol("const_cur_task", pointer=True, addressable="__UNIQUE_ID_addressable_const_cur_task_2")

# Four assembler exports: get_thing is declared (and called) in a C unit,
# memcpy too (after a unit that only has gcc's builtin for it), asm_only
# nowhere, and asm_data, a data label, has no DIE at all.  kbuild versions both from a stand-in compiled from
# asm/asm-prototypes.h, which declares get_thing only (ASM_STAND_IN).
ASM_EXPORTS = """.text
.globl get_thing
.type get_thing, @function
get_thing:
    ret
.size get_thing, .-get_thing
.globl asm_only
.type asm_only, @function
asm_only:
    ret
.size asm_only, .-asm_only
.globl memcpy
.type memcpy, @function
memcpy:
    ret
.size memcpy, .-memcpy
.data
.globl asm_data
asm_data:
.quad 0
.section .note.GNU-stack,"",%progbits
"""
# kernel/user.c calls memcpy as gcc's builtin (its DIE is no prototype);
# lib/copy.c declares it, as asm/asm-prototypes.h does for the stand-in.
ASM_USER = """extern int get_thing(int);
int use_thing(int x) { return get_thing(x) + 1; }
void use_copy(void *d, const void *s, unsigned long n) { __builtin_memcpy(d, s, n); }
"""
MEMCPY = "void *memcpy(void *d, const void *s, unsigned long n);\n"
ASM_COPY = MEMCPY + "void copy_it(void *d, const void *s, unsigned long n) { memcpy(d, s, n); }\n"
ASM_STAND_IN = "extern int get_thing(int);\n" + MEMCPY + "".join(
    export_symbol(name, pointer=True) for name in ("get_thing", "memcpy"))
# What vmlinux.lds.S adds to ld's own script: the export tables, and the alias.
VMLINUX_LDS = """SECTIONS {
 /DISCARD/ : { *(.discard) *(.discard.*) *(.export_symbol) }
 __ksymtab : ALIGN(8) { *(SORT(___ksymtab+*)) }
 __kflagstab : { *(SORT(___kflagstab+*)) }
}
INSERT AFTER .rodata;
const_cur_task = cur_task;
"""
PERCPU_NAMES = ["cur_task", "const_cur_task"]
ASM_NAMES = ["get_thing", "asm_only", "asm_data", "memcpy"]


def build_asm_alias(directory: Path) -> tuple[Path, Path, Path]:
    """Objects as kbuild versions them and the vmlinux linked from them:
    (common.o, the assembler object's stand-in, vmlinux)."""
    directory.mkdir(parents=True, exist_ok=True)
    common = compile_c(directory, "arch/x86/kernel/cpu/common.c", PERCPU)
    user = compile_c(directory, "kernel/user.c", ASM_USER)
    copy = compile_c(directory, "lib/copy.c", ASM_COPY)
    (directory / "arch/x86/lib").mkdir(parents=True, exist_ok=True)
    (directory / "arch/x86/lib/getuser.S").write_text(ASM_EXPORTS)
    asm = directory / "arch/x86/lib/getuser.o"
    subprocess.run(["gcc", "-c", "-gdwarf-5", "-o", str(asm), "arch/x86/lib/getuser.S"], check=True, cwd=directory)
    stand_in = compile_c(directory, "arch/x86/lib/getuser.gendwarfksyms.c", ASM_STAND_IN)
    exports = [Export(name, False, "") for name in sorted(PERCPU_NAMES + ASM_NAMES)]
    symtab = directory / "ksymtab.s"
    symtab.write_text(ksymtab(exports, "7.x"))
    subprocess.run(["as", "-o", str(symtab.with_suffix(".o")), str(symtab)], check=True)
    lds = directory / "vmlinux.lds"
    lds.write_text(VMLINUX_LDS)
    vmlinux = directory / "tree" / "vmlinux"
    vmlinux.parent.mkdir(parents=True)
    subprocess.run(["ld", "-o", str(vmlinux), "-e", "0", "--unresolved-symbols=ignore-all", "-T", str(lds),
                    str(common), str(user), str(copy), str(asm), str(symtab.with_suffix(".o"))], check=True)
    return common, stand_in, vmlinux


@pytest.mark.parametrize("cut", [[], ["--split-mb", "0", "--jobs", "2"]], ids=["whole", "cut-into-ranges"])
def test_linked_vmlinux_versions_asm_exports_and_aliases_as_kbuild(tmp_path, cc, cut):
    # A vmlinux is versioned whole or, when big, cut into unit ranges whose
    # exports are assigned in the parent: both must give the same rows.
    common, stand_in, vmlinux = build_asm_alias(tmp_path)
    rc, report, rows = run_tree(vmlinux.parent, tmp_path / "out", "--kind", "linked", *cut)
    assert rc == 0
    want = expected("vmlinux-asm-alias")
    assert set(want) == {"cur_task", "const_cur_task", "get_thing", "asm_only", "asm_data", "memcpy"}
    # the alias takes its own declaration's type, as in common.o; an
    # assembler export no C unit declares has no version, as in kbuild
    assert {n: rows[n] for n in want} == want
    assert want["cur_task"] != want["const_cur_task"]
    assert want["asm_only"] == want["asm_data"] == "0x00000000"
    entry = report["exports"]["vmlinux:asm_only"]
    assert entry["status"] == "no-information" and entry["crc"] is None
    assert entry["unversioned"] == ("an assembler export (defined in arch/x86/lib/getuser.S) that no C unit "
                                    "declares: kbuild versions it from a C stand-in that is not linked into "
                                    "this file")
    assert report["exports"]["vmlinux:asm_data"]["unversioned"] == (
        "no compile unit describes it: there is no type to version it with")
    assert report["counts"]["no_information"] == 2
    assert report["counts"]["not_as_kbuild"] == 2
    assert report["exports"]["vmlinux:memcpy"]["versioned_in"] == "vmlinux:lib/copy.c"
    assert report["exports"]["vmlinux:get_thing"]["not_as_kbuild"] == (
        "an assembler export (defined in arch/x86/lib/getuser.S): versioned from a declaration in kernel/user.c")
    assert report["exports"]["vmlinux:get_thing"]["versioned_in"] == "vmlinux:kernel/user.c"
    for obj, names in ((common, PERCPU_NAMES), (stand_in, ASM_NAMES)):
        live = reference(obj, names)
        if live is not None:
            assert live == {n: c for n, c in want.items() if n in names}


def test_linked_vmlinux_under_file_semantics_keeps_upstream_aliases(tmp_path, cc):
    # Upstream on the whole vmlinux does alias the two: --semantics file is that.
    _, _, vmlinux = build_asm_alias(tmp_path)
    rc, _, rows = run_tree(vmlinux.parent, tmp_path / "out", "--kind", "linked", "--semantics", "file")
    assert rc == 0
    dropin_rc, out, _ = run_dropin([vmlinux], symbol_list(PERCPU_NAMES + ASM_NAMES))
    assert dropin_rc == 0
    assert {n: rows[n] for n in symver_by_name(out)} == symver_by_name(out)
    assert rows["const_cur_task"] == rows["cur_task"]


# --- 5. Rust: the crate is the object kbuild versions ----------------------

RUSTY = LOCAL_CORPUS / "fixtures" / "rusty.o"
# What rust/Makefile's rust_exports lists for rusty.o (nm -p --defined-only,
# T/R/D/B, no __pfx/__cfi/__odr_asan), in nm's order.
RUSTY_EXPORTS = [
    "_ZN4core4hash11BuildHasher8hash_one17h049ceccd657f9d9bE",
    "_ZN52_$LT$Q$u20$as$u20$hashbrown..Equivalent$LT$K$GT$$GT$10equivalent17hc8eca50a5d3670faE",
    "rb_area", "rb_lookup", "rb_packet_len", "rb_parse", "RB_COUNTER"]
C_NAMED = ["rb_area", "rb_lookup", "rb_packet_len", "rb_parse", "RB_COUNTER"]


def rust_exports_c(names: list[str]) -> str:
    """rust/exports.c: ``extern int sym; EXPORT_SYMBOL_GPL(sym)`` per export
    (C names only: the legacy-mangled ones are exported by the ksymtab
    alone here), with CONFIG_GENDWARFKSYMS' pointers too."""
    return "".join(f"extern int {n};\n" + export_symbol(n, gpl=True, pointer=True,
                                                         addressable=f"__UNIQUE_ID_addressable_{n}_{i}")
                   for i, n in enumerate(names))


def rust_exports(obj: Path) -> list[str]:
    """rust/Makefile's ``rust_exports``: ``nm -p --defined-only``, types
    T/R/D/B, no ``__pfx``/``__cfi``/``__odr_asan`` symbols."""
    nm = subprocess.run(["nm", "-p", "--defined-only", str(obj)], capture_output=True, text=True,
                        check=True).stdout
    return [f[2] for f in (line.split() for line in nm.splitlines())
            if len(f) == 3 and f[1] in "TRDB" and not any(x in f[2] for x in ("__pfx", "__cfi", "__odr_asan"))]


def rust_module(directory: Path, crate: Path, exported_in_c: list[str]) -> tuple[Path, dict[str, str]]:
    """A module of one crate and rust/exports.c, run under kbuild
    semantics; returns the module and its CRCs by name."""
    exports_o = compile_c(directory, "rust/exports.c", rust_exports_c(exported_in_c))
    names = rust_exports(crate)
    # rust/exports.c first: its int declarations come first in DWARF order.
    module = link_module(directory, directory / "tree" / "kernel" / "rust" / "rsmod.ko",
                         [exports_o, crate], [Export(n, True, "") for n in names], "7.x")
    rc, report, rows = run_tree(module.parent.parent.parent, directory / "out")
    assert rc == 0
    assert [f["not_as_kbuild"] for f in report["files"]] == [{}]
    # The crate's CU, never rust/exports.c, whose pointers and __ADDRESSABLE
    # variables declare every export as an int.
    assert unit_names(module)[0] == "rust/exports.c"
    assert {report["exports"][f"rust/rsmod:{n}"]["versioned_in"].split(":")[1] for n in names} == {
        unit_names(module)[1]}
    return module, {n: rows[n] for n in names}


def unit_names(path: Path) -> list[str]:
    elf = ElfObject(str(path))
    try:
        reader = DwarfReader(elf)
        return [reader.unit_die(u).name for u in reader.units]
    finally:
        elf.close()


def test_rust_crate_versioned_with_its_exports(tmp_path, cc):
    if not RUSTY.is_file():
        pytest.fail(f"fixture {RUSTY} missing from the repository")
    assert rust_exports(RUSTY) == RUSTY_EXPORTS
    crate = tmp_path / "rust" / "rusty.o"
    crate.parent.mkdir()
    shutil.copyfile(RUSTY, crate)
    _, crcs = rust_module(tmp_path, crate, C_NAMED)
    want = expected("rusty-crate")
    assert crcs == want
    live = reference(crate, RUSTY_EXPORTS)
    if live is not None:
        assert live == want


# rustc describes a method only as a declaration inside its type (the code
# is a DIE pointing at it by DW_AT_specification, with no name): the crate
# is still the unit to version it in, never rust/exports.c's int.
RUST_METHOD = """
pub struct Counter { pub hits: u64, pub name: &'static str }

impl Counter {
    #[inline(never)]
    pub fn bump(&mut self, by: u64) -> u64 { self.hits += by; self.hits }
}
"""


def test_rust_crate_built_now_with_v0_names(tmp_path, cc):
    # As the kernel builds crates: v0 mangling (C identifiers, so
    # rust/exports.c exports every symbol) and one codegen unit.  rustc's
    # DWARF changes between releases, so the CRCs are checked against the
    # per-object run of the crate (upstream's when BATCHVER_REFERENCE is set).
    rustc = shutil.which("rustc")
    if rustc is None:
        pytest.skip("rustc is not installed")
    (tmp_path / "rusty.rs").write_text((LOCAL_CORPUS / "fixtures" / "rusty.rs").read_text() + RUST_METHOD)
    crate = tmp_path / "rust" / "rusty.o"
    crate.parent.mkdir()
    subprocess.run([rustc, "--emit=obj", "-g", "-C", "opt-level=1", "-C", "symbol-mangling-version=v0",
                    "-C", "codegen-units=1", "--crate-type=lib", "-o", str(crate), "rusty.rs"],
                   check=True, cwd=tmp_path)
    names = rust_exports(crate)
    assert "_RNvMCs" in " ".join(names) and any(n.endswith("7Counter4bump") for n in names)
    _, crcs = rust_module(tmp_path, crate, names)
    rc, out, err = run_dropin([crate], symbol_list(names))
    assert rc == 0, err
    assert crcs == symver_by_name(out)
    live = reference(crate, names)
    if live is not None:
        assert live == crcs


def test_rust_unit_seen_through_decoding_plans(tmp_path, cc):
    # The decoding plans keep only the attributes versioning reads; they
    # must keep DW_AT_language, or a crate is taken for C.
    crate = tmp_path / "rusty.o"
    shutil.copyfile(RUSTY, crate)
    elf = ElfObject(str(crate))
    try:
        assert [scan.rust for scan in scan_units(DwarfReader(elf), [0])] == [True]
    finally:
        elf.close()
