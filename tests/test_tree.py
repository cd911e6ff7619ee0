"""The whole-tree runner: discovery, attribution, kbuild semantics, merge,
determinism and failure handling."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess

import pytest

from batchver.cli import main as cli_main
from batchver.elf.archive import read_thin_archive
from batchver.tree.discover import discover, linked_module_name
from batchver.cli.gendwarfksyms import main as dropin_main
from batchver.nightly.config import BACKENDS
from batchver.tree import scheduler
from batchver.tree.pipeline import version_tree

from .conftest import LOCAL_CORPUS, example, link_vmlinux

def kbuild_versions(obj: str, symtypes_path: str) -> tuple[dict[str, str], str]:
    """What kbuild computes for one object: nm | sed | gendwarfksyms."""
    nm = subprocess.run(["nm", obj], capture_output=True, text=True, check=True).stdout
    names = sorted({line.split(" __export_symbol_")[1] for line in nm.splitlines()
                    if " __export_symbol_" in line})
    out, err = io.StringIO(), io.StringIO()
    rc = dropin_main(["-T", symtypes_path, obj], io.BytesIO("\n".join(names).encode() + b"\n"), out, err)
    assert rc == 0, err.getvalue()
    versions = {line.split()[1]: line.split()[2] for line in out.getvalue().splitlines()}
    with open(symtypes_path) as handle:
        return versions, handle.read()


def run_cli(*args: str | os.PathLike) -> int:
    return cli_main(["run", *map(str, args), "--quiet"])


def test_discovery_and_attribution(example_tree):
    found = discover(example_tree)
    assert found.kind == "built"
    assert [(i.rel, i.module, [e.name for e in i.exports]) for i in found.items] == [
        ("kernel/core.o", "vmlinux", ["demo_cookie", "demo_core_version", "demo_register",
                                      "demo_unregister"]),
        ("lib/util.o", "vmlinux", ["demo_buf_total", "demo_sum"]),
        ("drivers/demo/demo_helper.o", "drivers/demo/demo", ["demo_queue", "demo_state_names"]),
        ("drivers/demo/demo_main.o", "drivers/demo/demo", ["demo_open", "demo_private_get"]),
        ("drivers/single/single.o", "drivers/single/single", ["single_probe"]),
    ]
    assert found.modules == ["drivers/demo/demo", "drivers/single/single"]
    assert read_thin_archive(os.path.join(example_tree, "vmlinux.a")) == [
        os.path.join(example_tree, "kernel/core.o"), os.path.join(example_tree, "lib/util.o")]


@pytest.mark.parametrize("backend", [b for b in BACKENDS if b != "dask"])  # dask: test_cluster.py
def test_every_local_backend_a_config_accepts_runs(example_tree, tmp_path, backend):
    # the same rows from every backend a nightly config may name
    rows = {}
    for name in ("loky", backend):
        version_tree(example_tree, str(tmp_path / name), scheduler.RunOptions(jobs=2, quiet=True, backend=name))
        rows[name] = (tmp_path / name / "Module.symvers").read_text()
    assert rows[backend] == rows["loky"] and rows["loky"].count("\n") >= 10


def test_module_symvers_is_kbuild_per_object(example_tree, tmp_path):
    out = tmp_path / "out"
    assert run_cli(example_tree, "-o", str(out), "--jobs", "1", "--symtypes") == 0
    crc = {}
    symtypes = {}
    for obj in ("kernel/core.o", "lib/util.o", "drivers/demo/demo_main.o",
                "drivers/demo/demo_helper.o", "drivers/single/single.o"):
        versions, text = kbuild_versions(os.path.join(example_tree, obj), str(tmp_path / "t.symtypes"))
        crc.update(versions)
        symtypes[obj] = text
    expected_rows = [
        ("demo_buf_total", "vmlinux", "EXPORT_SYMBOL", ""),
        ("demo_cookie", "vmlinux", "EXPORT_SYMBOL_GPL", "DEMO_INTERNAL"),
        ("demo_core_version", "vmlinux", "EXPORT_SYMBOL", ""),
        ("demo_register", "vmlinux", "EXPORT_SYMBOL_GPL", ""),
        ("demo_sum", "vmlinux", "EXPORT_SYMBOL", ""),
        ("demo_unregister", "vmlinux", "EXPORT_SYMBOL_GPL", ""),
        ("demo_open", "drivers/demo/demo", "EXPORT_SYMBOL_GPL", ""),
        ("demo_private_get", "drivers/demo/demo", "EXPORT_SYMBOL", ""),
        ("demo_queue", "drivers/demo/demo", "EXPORT_SYMBOL_GPL", "DEMO_INTERNAL"),
        ("demo_state_names", "drivers/demo/demo", "EXPORT_SYMBOL", ""),
        ("single_probe", "drivers/single/single", "EXPORT_SYMBOL_GPL", ""),
    ]
    assert (out / "Module.symvers").read_text() == "".join(
        f"{crc[name]}\t{name}\t{module}\t{kind}\t{ns}\n" for name, module, kind, ns in expected_rows)
    # Per-module symtypes: the objects' blocks in link order.
    assert (out / "symtypes" / "vmlinux.symtypes").read_text() == \
        symtypes["kernel/core.o"] + symtypes["lib/util.o"]
    assert (out / "symtypes" / "drivers" / "demo" / "demo.symtypes").read_text() == \
        symtypes["drivers/demo/demo_main.o"] + symtypes["drivers/demo/demo_helper.o"]
    report = json.loads((out / "report.json").read_text())
    assert report["counts"] == {"files": 5, "failed_files": 0, "incomplete_files": 0, "skipped_files": 0,
                                "modules": 3, "exports": 11,
                                "versioned": 11, "no_information": 0, "failed_exports": 0, "not_as_kbuild": 0}
    assert report["exports"]["drivers/demo/demo:demo_queue"]["versioned_in"] == \
        "drivers/demo/demo_helper.o"
    assert report["toolchain"]["dwarf_versions"] == [5]
    assert all(p.startswith("GNU C") for p in report["toolchain"]["producers"])


def _without_timing(path) -> dict:
    report = json.loads(path.read_text())
    report.pop("timing")
    return report


def test_output_independent_of_jobs(example_tree, tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    assert run_cli(example_tree, "-o", str(one), "--jobs", "1", "--symtypes") == 0
    assert run_cli(example_tree, "-o", str(two), "--jobs", "2", "--symtypes") == 0
    for rel in ("Module.symvers", "symtypes/vmlinux.symtypes", "symtypes/drivers/demo/demo.symtypes",
                "symtypes/drivers/single/single.symtypes"):
        assert (one / rel).read_bytes() == (two / rel).read_bytes()
    assert _without_timing(one / "report.json") == _without_timing(two / "report.json")


BUS_C = """#include "../../include/export.h"
struct bus { int id; };
int bus_probe(struct bus *b) { return b->id; }
EXPORT_SYMBOL_GPL(bus_probe);
"""


@pytest.fixture(scope="module")
def mixed_tree(example_tree, tmp_path_factory):
    """The example tree with a built-in object beside the modules under
    drivers/, and the per-directory ``modules.order`` files kbuild leaves
    (their entries relative to the build root)."""
    root = tmp_path_factory.mktemp("mixed") / "tree"
    shutil.copytree(example_tree, root)
    (root / "drivers/base").mkdir()
    (root / "drivers/base/bus.c").write_text(BUS_C)
    subprocess.run(["gcc", "-c", "-gdwarf-5", "-O2", "-fno-pic", "-o", "drivers/base/bus.o",
                    "drivers/base/bus.c"], cwd=root, check=True)
    (root / "vmlinux.a").unlink()
    subprocess.run(["ar", "cDPrST", "vmlinux.a", *example.BUILTIN, "drivers/base/bus.o"], cwd=root, check=True)
    modules = (root / "modules.order").read_text()
    for folder in ("drivers", "drivers/demo", "drivers/single"):
        (root / folder / "modules.order").write_text(
            "".join(line + "\n" for line in modules.split() if line.startswith(folder + "/")))
    return root


@pytest.mark.parametrize("subtree, names", [
    ("drivers/demo", {"demo_open", "demo_private_get", "demo_queue", "demo_state_names"}),  # prelinked composite
    ("drivers/single", {"single_probe"}),  # a one-object module
    ("drivers", {"demo_open", "demo_private_get", "demo_queue", "demo_state_names", "single_probe",
                 "bus_probe"}),  # built-in and modules
])
def test_subdirectory_of_built_tree_gives_the_whole_runs_rows(mixed_tree, tmp_path, subtree, names):
    assert run_cli(str(mixed_tree), "-o", str(tmp_path / "whole"), "--jobs", "1") == 0
    whole = (tmp_path / "whole" / "Module.symvers").read_text().splitlines()
    assert run_cli(str(mixed_tree / subtree), "-o", str(tmp_path / "part"), "--jobs", "1") == 0
    part = (tmp_path / "part" / "Module.symvers").read_text().splitlines()
    assert part == [line for line in whole if line.split("\t")[1] in names]
    modules = {line.split("\t")[1]: line.split("\t")[2] for line in part}
    assert modules.get("demo_open", "drivers/demo/demo") == "drivers/demo/demo"
    assert modules.get("bus_probe", "vmlinux") == "vmlinux"
    report = json.loads((tmp_path / "part" / "report.json").read_text())
    assert sorted(f["file"] for f in report["files"]) == sorted(
        f["file"] for f in json.loads((tmp_path / "whole" / "report.json").read_text())["files"]
        if f["file"].startswith(subtree + "/"))
    assert any(note.endswith("only the objects under the tree are versioned") for note in report["notes"])


def test_objects_outside_any_build_say_so(example_tree, tmp_path):
    loose = tmp_path / "loose"
    shutil.copytree(os.path.join(example_tree, "drivers", "single"), loose)
    found = discover(str(loose))
    assert [(i.rel, i.module) for i in found.items] == [("single.o", "vmlinux")]
    assert any(note.startswith("no kbuild build root (a directory holding vmlinux.a or .config) at or "
                               f"above {loose}") for note in found.notes)


def test_bad_objects_do_not_stop_the_run(example_tree, tmp_path, cc):
    bad = tmp_path / "bad"
    shutil.copytree(example_tree, bad)
    # A corrupt object that mentions an export, and one without debug info.
    (bad / "kernel" / "corrupt.o").write_bytes(b"\x7fELF garbage __export_symbol_x" + b"\0" * 64)
    src = bad / "kernel" / "nodebug.c"
    src.write_text('#include "../include/export.h"\nint nodebug_fn(void) { return 1; }\n'
                   "EXPORT_SYMBOL(nodebug_fn);\n")
    subprocess.run([cc, "-c", "-O2", "-o", str(bad / "kernel" / "nodebug.o"), str(src)], check=True)
    os.remove(bad / "vmlinux.a")  # attribute everything outside modules to vmlinux
    out = tmp_path / "out"
    assert run_cli(str(bad), "-o", str(out), "--jobs", "1") == 1
    report = json.loads((out / "report.json").read_text())
    files = {f["file"]: f for f in report["files"]}
    assert files["kernel/corrupt.o"]["status"] == "failed"
    assert "kernel/corrupt.o" in files["kernel/corrupt.o"]["error"]
    assert files["kernel/nodebug.o"]["status"] == "failed"
    assert "no debugging information" in files["kernel/nodebug.o"]["error"]
    assert report["exports"]["vmlinux:nodebug_fn"]["status"] == "failed"
    assert report["counts"]["versioned"] == 11  # every other export still versioned
    symvers = (out / "Module.symvers").read_text()
    assert "0x00000000\tnodebug_fn\tvmlinux\tEXPORT_SYMBOL\t\n" in symvers
    assert symvers.count("\n") == 12


def test_kbuild_semantics_on_ld_r_output(tmp_path, shared_corpus):
    """The 23 defconfig objects linked into one file: per-CU versioning gives
    each object's own (kbuild) CRCs."""
    objects = sorted(str(p) for p in (shared_corpus / "linux-6.12-defconfig" / "objects").rglob("*.o"))
    linked_dir = tmp_path / "linked"
    linked_dir.mkdir()
    subprocess.run(["ld", "-r", "-o", str(linked_dir / "vmlinux"), *objects], check=True)
    expected = {}
    for symver in (shared_corpus / "linux-6.12-defconfig" / "expected").glob("*.symver"):
        if ".stable." not in symver.name:
            for line in symver.read_text().splitlines():
                expected[line.split()[1]] = line.split()[2]
    results = {}
    for semantics in ("kbuild", "file"):
        out = tmp_path / semantics
        assert run_cli(str(linked_dir), "-o", str(out), "--jobs", "1", "--kind", "linked",
                       "--semantics", semantics, "--split-mb", "1") == 0
        results[semantics] = {line.split("\t")[1]: line.split("\t")[0]
                              for line in (out / "Module.symvers").read_text().splitlines()}
        # relocatable, so versioned whole however small --split-mb is
        assert "vmlinux" not in json.loads((out / "report.json").read_text())["timing"]["split_into"]
    assert len(expected) == 255
    assert results["kbuild"] == expected
    differ = sum(1 for name in expected if results["file"][name] != expected[name])
    assert differ > 0  # whole-file semantics is not what kbuild embeds
    # The same objects linked as vmlinux is (no relocations left) are cut
    # into CU ranges; whole-file semantics over the ranges equals one
    # unsplit run and the drop-in on the ld -r file, symtypes included.
    whole = tmp_path / "whole"
    assert run_cli(str(linked_dir), "-o", str(whole), "--jobs", "1", "--kind", "linked",
                   "--semantics", "file", "--symtypes") == 0
    split = tmp_path / "split"
    (tmp_path / "executable").mkdir()
    link_vmlinux(objects, tmp_path / "executable" / "vmlinux")
    assert run_cli(str(tmp_path / "executable"), "-o", str(split), "--jobs", "2", "--kind", "linked",
                   "--semantics", "file", "--symtypes", "--split-mb", "1") == 0
    assert json.loads((split / "report.json").read_text())["timing"]["split_into"]["vmlinux"] > 1
    assert (split / "Module.symvers").read_bytes() == (whole / "Module.symvers").read_bytes()
    dropin_crcs, dropin_symtypes = kbuild_versions(str(linked_dir / "vmlinux"), str(tmp_path / "d.symtypes"))
    assert results["file"] == dropin_crcs
    assert (split / "symtypes" / "vmlinux.symtypes").read_text() == dropin_symtypes


@pytest.mark.parametrize("where, modules_expected, rows_expected", [("local", 4, 20), ("shared", 28, 316)])
def test_linked_columns_match_debian(tmp_path, request, where, modules_expected, rows_expected):
    """Symbol, module, export type and namespace columns for the Debian
    modules of a corpus equal Debian's own Module.symvers rows."""
    corpus = LOCAL_CORPUS if where == "local" else request.getfixturevalue("shared_corpus")
    debian = corpus / "debian-6.12.117-cloud"
    out = tmp_path / "out"
    assert run_cli(str(debian / "kernel"), "-o", str(out), "--jobs", "2") == 0
    ours = [tuple(line.split("\t")[1:]) for line in (out / "Module.symvers").read_text().splitlines()]
    modules = {row[1] for row in ours}
    assert len(modules) == modules_expected
    theirs = [tuple(line.split("\t")[1:]) for line in
              (debian / "Module.symvers.debian").read_text().splitlines()
              if line.split("\t")[2] in modules]
    assert sorted(ours) == sorted(theirs)
    assert len(ours) == rows_expected


def test_module_names():
    assert linked_module_name("kernel/fs/nfs/nfs.ko") == "fs/nfs/nfs"
    assert linked_module_name("extra/foo.ko") == "extra/foo"


def test_files_referring_across_units_are_not_split(type_units_file):
    """A big linked file is cut into unit ranges for the workers, unless its
    DIEs may refer to other units' (here type units): a range would render a
    type of another range again.  A multi-CU Debian module's units are cut
    (though the scheduler versions a relocatable file whole, see _cut)."""
    linked = type_units_file("-gdwarf-4")
    module = sorted((LOCAL_CORPUS / "debian-6.12.117-cloud" / "kernel").rglob("*.ko"))[0]
    item = type("Item", (), {})()
    item.path = str(linked)
    assert len(scheduler._split_ranges(item, 4)) == 1
    item.path = str(module)
    assert len(scheduler._split_ranges(item, 4)) > 1
