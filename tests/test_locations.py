"""Source locations recorded beside the symtypes: the path rules, and the
locations of a linked file's exporting units."""

from __future__ import annotations

import json
import subprocess

import pytest

from batchver.cli import main as batchver_main
from batchver.tree.locations import source_relative, source_tree


DEBIAN = "debian/build/build_amd64_none_cloud-amd64"


@pytest.mark.parametrize("path, comp_dir, expected", [
    # in-tree kbuild: comp_dir is the top of the tree
    ("include/linux/device.h", "/srv/k/linux", "include/linux/device.h"),
    ("/srv/k/linux/include/linux/device.h", "/srv/k/linux", "include/linux/device.h"),
    ("./include/linux/../linux/device.h", "/srv/k/linux", "include/linux/device.h"),
    # Debian: -ffile-prefix-map leaves source paths relative, comp_dir is the
    # relative build directory, generated headers live under it
    ("include/linux/device.h", DEBIAN, "include/linux/device.h"),
    (f"{DEBIAN}/include/generated/autoconf.h", DEBIAN, "include/generated/autoconf.h"),
    # a distribution's unpacked source outside comp_dir
    ("/build/reproducible-path/linux-6.12.57/include/linux/device.h", "/srv/obj",
     "include/linux/device.h"),
    ("/usr/src/debug/kernel-6.12/linux-6.12.0-1.fc41.x86_64/include/linux/device.h", "/x",
     "include/linux/device.h"),
    # anything else stays as it is
    ("/usr/lib/gcc/x86_64-linux-gnu/12/include/stddef.h", "/srv/k/linux",
     "/usr/lib/gcc/x86_64-linux-gnu/12/include/stddef.h"),
    ("include/linux/device.h", "", "include/linux/device.h"),
])
def test_source_relative(path, comp_dir, expected):
    assert source_relative(path, comp_dir) == expected


def test_out_of_tree_build():
    """``make O=``: comp_dir is the object tree, sources are absolute in the
    source tree (even under a directory named linux-*), generated headers
    relative to the object tree."""
    src, obj = "/srv/k/linux-7.3.4/src", "/srv/k/linux-7.3.4/small"
    paths = [f"{src}/fs/mbcache.c", f"{src}/include/linux/atomic/atomic-long.h",
             f"{src}/include/linux/fs.h", "./include/generated/autoconf.h",
             "/usr/lib/gcc/x86_64-linux-gnu/12/include/stddef.h"]
    srctree = source_tree(paths, obj)
    assert srctree == src
    assert [source_relative(p, obj, srctree) for p in paths] == [
        "fs/mbcache.c", "include/linux/atomic/atomic-long.h", "include/linux/fs.h",
        "include/generated/autoconf.h", "/usr/lib/gcc/x86_64-linux-gnu/12/include/stddef.h"]
    # built in its sources: comp_dir is the source tree, nothing more to find
    assert source_tree([f"{src}/include/linux/fs.h", "include/linux/fs.h"], src) == ""


def test_linked_module_locations_per_exporting_unit(cc, tmp_path):
    """A module linked from two objects, versioned per exporting unit
    (kbuild semantics): each unit's block locates its own types."""
    src = tmp_path / "src"
    (src / "include").mkdir(parents=True)
    (src / "include" / "t.h").write_text("struct t_a {\n\tint x;\n\tlong y;\n};\n"
                                         "typedef int t_num;\n")
    (src / "a.c").write_text('#include "include/t.h"\nint t_use(struct t_a *a)\n'
                             '{ return a->x; }\n'
                             '__attribute__((section("__ksymtab"))) void *__ksymtab_t_use = t_use;\n')
    (src / "b.c").write_text('#include "include/t.h"\n\nt_num t_count(t_num n) { return n; }\n'
                             '__attribute__((section("__ksymtab"))) void *__ksymtab_t_count = '
                             't_count;\n')
    for name in ("a", "b"):
        subprocess.run([cc, "-g", "-O2", "-c", f"{name}.c", "-o", f"{name}.o"], cwd=src,
                       check=True)
    tree = tmp_path / "tree" / "kernel" / "drivers"
    tree.mkdir(parents=True)
    subprocess.run(["ld", "-r", "-o", str(tree / "tmod.ko"), "a.o", "b.o"], cwd=src, check=True)
    out = tmp_path / "out"
    status = batchver_main(["run", str(tmp_path / "tree"), "-o", str(out), "--symtypes",
                            "--quiet", "--jobs", "1"])
    blocks = [json.loads(line) for line in
              (out / "symtypes" / "drivers" / "tmod.locations.jsonl").read_text().splitlines()]
    located = {b["origin"]: {k: (b["files"][v[0]], v[1]) for k, v in b["at"].items()}
               for b in blocks}
    assert status == 0
    assert located == {
        "kernel/drivers/tmod.ko:a.c": {"t_use": ("a.c", 2), "s#t_a": ("include/t.h", 1)},
        "kernel/drivers/tmod.ko:b.c": {"t_count": ("b.c", 3), "t#t_num": ("include/t.h", 5)},
    }


def test_location_evidence_verdicts():
    """tools/evidence/location_evidence.py's judgement of a source line."""
    from tools.evidence import location_evidence as tool
    assert [tool.verdict(line, *tool._name_of(key)) for line, key in [
        ("struct bus_type {", "s#bus_type"),
        ("struct bus_type_ops {", "s#bus_type"),
        ("\tbus_type;", "s#bus_type"),
        ("} demo_cookie_t;", "t#demo_cookie_t"),
        ("int usb_register_driver(struct usb_driver *new_driver, struct module *owner,",
         "usb_register_driver"),
        ("", "s#x"),
        (None, "s#x"),
    ]] == ["declares it", "name not on the line", "keyword not on the line", "declares it",
           "declares it", "line past the end", "file missing"]
