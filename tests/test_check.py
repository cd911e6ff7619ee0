"""The release gate (``batchver check``): classification, root causes, policy,
reports and bad input.

Each scenario compiles the example tree twice at test time -- once as is,
once with exactly one thing changed -- versions both with ``batchver run``
and checks them, asserting the exact classification, root cause, exit status
and JSON.
"""

from __future__ import annotations

import fnmatch
import gzip
import json
import os
import random
import shutil
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from batchver.cli import main as batchver_main
from batchver.cli.check import main as check_main
from batchver.gate.explain import describe, item_name, tokenize, _parse, _split_items
from batchver.gate.globs import Glob, GlobIndex

from .support.chromium import Page, find_chromium
from .conftest import example


KRULE = ('#define KRULE(kind, target, value) static const char kabi_rule_##kind[] '
         '__attribute__((used, aligned(1), section(".discard.gendwarfksyms.kabi_rules"))) = '
         '"1\\0" #kind "\\0" #target "\\0" #value\n')
ENUM_ADDED = [("include/demo.h", "DEMO_DONE };", "DEMO_DONE, DEMO_NEW };")]

# Each variant of the example tree: (file, text, replacement) edits.
VARIANTS: dict[str, list[tuple[str, str, str]]] = {
    "base": [],
    "member_added": [("include/demo.h", "\tlong counters[4];\n",
                      "\tlong counters[4];\n\tlong extra;\n")],
    "member_type": [("include/demo.h", "\tsize_t len;\n", "\tunsigned int len;\n")],
    "enum_added": ENUM_ADDED,
    "enum_added_ignored": ENUM_ADDED + [
        ("include/demo.h", "typedef unsigned long demo_cookie_t;",
         KRULE + "KRULE(enumerator_ignore, demo_state DEMO_NEW, );\n"
                 "typedef unsigned long demo_cookie_t;")],
    "removed": [("lib/util.c", "EXPORT_SYMBOL(demo_sum);\n", "")],
    "two_types": ENUM_ADDED + [("include/demo.h", "\tlong counters[4];\n",
                                "\tlong counters[4];\n\tlong extra;\n")],
    "return_type": [("lib/util.c", "int demo_sum(int count, ...)", "long demo_sum(int count, ...)")],
    "gpl": [("lib/util.c", "EXPORT_SYMBOL(demo_buf_total);", "EXPORT_SYMBOL_GPL(demo_buf_total);")],
    "namespace": [("include/export.h", "#define EXPORT_SYMBOL_GPL(sym)",
                   '#define EXPORT_SYMBOL_NS(sym, ns) __EXPORT(sym, "", #ns)\n'
                   "#define EXPORT_SYMBOL_GPL(sym)"),
                  ("lib/util.c", "EXPORT_SYMBOL(demo_sum);", "EXPORT_SYMBOL_NS(demo_sum, DEMO_MATH);")],
}
ALL = ["vmlinux:demo_buf_total", "vmlinux:demo_cookie", "vmlinux:demo_core_version",
       "vmlinux:demo_register", "vmlinux:demo_sum", "vmlinux:demo_unregister",
       "drivers/demo/demo:demo_open", "drivers/demo/demo:demo_private_get",
       "drivers/demo/demo:demo_queue", "drivers/demo/demo:demo_state_names",
       "drivers/single/single:single_probe"]
# Every export whose type reaches struct demo_dev.
REACH_DEMO_DEV = ["vmlinux:demo_cookie", "vmlinux:demo_register", "vmlinux:demo_unregister",
                  "drivers/demo/demo:demo_open", "drivers/demo/demo:demo_private_get",
                  "drivers/demo/demo:demo_queue", "drivers/single/single:single_probe"]


class Builds:
    """Example-tree variants, compiled and versioned once per test module."""

    def __init__(self, root: Path):
        self.root = root
        self.outs: dict[tuple, str] = {}

    def source(self, variant: str) -> Path:
        src = self.root / "src" / variant
        if not src.exists():
            shutil.copytree(example.SOURCE, src)
            for rel, old, new in VARIANTS[variant]:
                path = src / rel
                text = path.read_text()
                assert old in text, f"example source changed: {old!r} not in {rel}"
                path.write_text(text.replace(old, new, 1))
        return src

    def out(self, variant: str, stable: bool = False, cflags: tuple[str, ...] = ()) -> str:
        key = (variant, stable, cflags)
        if key not in self.outs:
            name = "-".join([variant, "stable" if stable else "plain", *cflags])
            tree = self.root / "trees" / name
            with pytest.MonkeyPatch.context() as mp:
                mp.setattr(example, "SOURCE", str(self.source(variant)))
                if cflags:
                    example.build(str(tree), cflags)
                else:
                    example.build(str(tree))
            out = self.root / "out" / name
            args = ["run", str(tree), "-o", str(out), "--symtypes", "--quiet", "--jobs", "1"]
            assert batchver_main(args + (["--stable"] if stable else [])) == 0
            self.outs[key] = str(out)
        return self.outs[key]


@pytest.fixture(scope="module")
def builds(tmp_path_factory, cc) -> Builds:
    return Builds(tmp_path_factory.mktemp("check"))


def check(*args: str, capsys=None) -> tuple[int, dict]:
    """Run ``batchver check --format json`` and return (status, report)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "r.json")
        status = check_main([*args, "--format", "json", "-o", out])
        report = json.load(open(out)) if os.path.exists(out) else {}
    return status, report


def kinds_of(report: dict) -> dict[str, list[str]]:
    return {f"{s['module']}:{s['symbol']}": s["changes"] for s in report["symbols"]}


def causes_of(report: dict) -> list[tuple[str, list[str], list[str]]]:
    return [(rc["key"], rc["diff"], rc["symbols"]) for rc in report["root_causes"]]


# -- one change at a time ----------------------------------------------------
def test_member_added(builds):
    status, report = check("--baseline", builds.out("base"), builds.out("member_added"))
    assert status == 1
    assert kinds_of(report) == {k: ["crc_changed"] for k in REACH_DEMO_DEV}
    assert causes_of(report) == [("s#demo_dev", [
        "member base_type long int byte_size(8) encoding(5) extra added at "
        "data_member_location(72)",
        "byte_size(72) -> byte_size(80)"], REACH_DEMO_DEV)]
    assert report["summary"]["verdicts"] == {"fail": 7, "warn": 0, "pass": 0}
    assert report["summary"]["kinds"]["unchanged"] == 4
    assert report["root_causes"][0]["same_symbols_as"] is None
    register = next(s for s in report["symbols"] if s["symbol"] == "demo_register")
    assert register == {
        "symbol": "demo_register", "module": "vmlinux", "changes": ["crc_changed"],
        "details": [f"CRC {register['baseline']['crc']} -> {register['current']['crc']}"],
        "protected": True, "verdict": "fail", "decided_by": "default",
        "reason": "protected symbol changed",
        "baseline": {"module": "vmlinux", "crc": register["baseline"]["crc"],
                     "export_type": "EXPORT_SYMBOL_GPL", "namespace": ""},
        "current": {"module": "vmlinux", "crc": register["current"]["crc"],
                    "export_type": "EXPORT_SYMBOL_GPL", "namespace": ""},
        "explanation": {"status": "explained", "root_causes": ["rc1"], "reason": "",
                        "paths": {"rc1": ["demo_register", "s#demo_dev"]}},
    }
    assert register["baseline"]["crc"] != register["current"]["crc"]
    # where: struct demo_dev opens on line 14 of include/demo.h, the new
    # member is on line 23 (after counters[4] on 22); the size has no line
    rc = report["root_causes"][0]
    assert (rc["file"], rc["line"], rc["located_in"], rc["diff_locations"]) == (
        "include/demo.h", 14, "current", [{"file": "include/demo.h", "line": 23}, None])
    assert report["provenance"] == []


def test_member_type_changed(builds):
    status, report = check("--baseline", builds.out("base"), builds.out("member_type"))
    assert status == 1
    reach_buf = sorted(REACH_DEMO_DEV + ["vmlinux:demo_buf_total"], key=ALL.index)
    assert kinds_of(report) == {k: ["crc_changed"] for k in reach_buf}
    # demo_dev only points at demo_buf: its own line is unchanged, so it is
    # not a root cause even though every symbol reaches demo_buf through it.
    assert causes_of(report) == [("s#demo_buf", [
        "member len: t#size_t -> base_type unsigned int byte_size(4) encoding(7)"], reach_buf)]


def test_enumerator_added_without_rule(builds):
    status, report = check("--baseline", builds.out("base", stable=True),
                           builds.out("enum_added", stable=True))
    assert status == 1
    assert kinds_of(report) == {k: ["crc_changed"] for k in REACH_DEMO_DEV}
    assert causes_of(report) == [("e#demo_state", ["enumerator DEMO_NEW = 3 added at position 4"],
                                  REACH_DEMO_DEV)]
    assert report["provenance"] == []


def test_enumerator_added_with_enumerator_ignore_rule(builds):
    status, report = check("--baseline", builds.out("base", stable=True),
                           builds.out("enum_added_ignored", stable=True))
    assert status == 0
    assert report["symbols"] == [] and report["root_causes"] == []
    assert report["summary"]["kinds"]["unchanged"] == 11
    assert report["summary"]["verdict"] == "pass"
    assert report["protected_unchanged"] == sorted(ALL)
    # The rule only acts under --stable: without it the enumerator counts.
    status, report = check("--baseline", builds.out("base"), builds.out("enum_added_ignored"))
    assert status == 1
    assert [rc["key"] for rc in report["root_causes"]] == ["e#demo_state"]


def test_own_declaration_changed(builds):
    status, report = check("--baseline", builds.out("base"), builds.out("return_type"))
    assert status == 1
    assert kinds_of(report) == {"vmlinux:demo_sum": ["crc_changed"]}
    (rc,) = report["root_causes"]
    assert (rc["key"], rc["kind"], rc["status"], rc["diff"], rc["symbols"]) == (
        "demo_sum", "declaration", "changed",
        ["int byte_size(4) -> long int byte_size(8)"],
        ["vmlinux:demo_sum"])


def test_two_types_changed_together(builds, capsys):
    status, report = check("--baseline", builds.out("base"), builds.out("two_types"))
    assert [(rc["id"], rc["key"], rc["symbols"], rc["same_symbols_as"])
            for rc in report["root_causes"]] == [
        ("rc1", "e#demo_state", REACH_DEMO_DEV, None),
        ("rc2", "s#demo_dev", REACH_DEMO_DEV, "rc1")]
    assert {s["explanation"]["root_causes"] == ["rc2", "rc1"] for s in report["symbols"]} == {True}
    check_main(["--baseline", builds.out("base"), builds.out("two_types")])
    assert "      (the same symbols as rc1)\n" in capsys.readouterr().out


def test_symbol_removed(builds):
    status, report = check("--baseline", builds.out("base"), builds.out("removed"))
    assert status == 1
    assert kinds_of(report) == {"vmlinux:demo_sum": ["removed"]}
    (sym,) = report["symbols"]
    assert (sym["verdict"], sym["reason"], sym["current"]) == (
        "fail", "protected symbol removed", None)
    assert report["root_causes"] == []


def test_export_turned_gpl(builds):
    status, report = check("--baseline", builds.out("base"), builds.out("gpl"))
    assert status == 1
    assert kinds_of(report) == {"vmlinux:demo_buf_total": ["export_type_changed"]}
    assert report["symbols"][0]["details"] == ["EXPORT_SYMBOL -> EXPORT_SYMBOL_GPL"]


def test_namespace_added(builds):
    status, report = check("--baseline", builds.out("base"), builds.out("namespace"))
    assert status == 1
    assert kinds_of(report) == {"vmlinux:demo_sum": ["namespace_changed"]}
    assert report["symbols"][0]["details"] == ["namespace '' -> 'DEMO_MATH'"]
    assert report["symbols"][0]["current"]["namespace"] == "DEMO_MATH"


def test_identical_builds_pass(builds):
    status, report = check("--baseline", builds.out("base"), builds.out("base"))
    assert (status, report["symbols"], report["summary"]["kinds"]["unchanged"]) == (0, [], 11)


# -- policy ------------------------------------------------------------------
def test_stablelist_sections_and_unknown_names(builds, tmp_path, capsys):
    stablelist = tmp_path / "kabi_stablelist_x86_64"
    stablelist.write_text("# kABI\n[rhel_x86_64_stablelist]\n\tdemo_register\n\tdemo_gone\n"
                          "[other]\nsingle_probe  # the driver entry point\n\n")
    status, report = check("--baseline", builds.out("base"), builds.out("member_added"),
                           "--stablelist", str(stablelist))
    assert status == 1
    verdicts = {f"{s['module']}:{s['symbol']}": s["verdict"] for s in report["symbols"]}
    assert verdicts == {k: "fail" if k in ("vmlinux:demo_register",
                                            "drivers/single/single:single_probe") else "warn"
                        for k in REACH_DEMO_DEV}
    assert report["warnings"] == [f"{stablelist}:4: protected symbol demo_gone is exported by "
                                  "neither baseline nor current"]
    assert report["inputs"]["stablelists"] == {"files": [str(stablelist)], "symbols": 3,
                                               "sections": ["other", "rhel_x86_64_stablelist"]}
    # Unprotected changes only warn: the same change passes the gate.
    only = tmp_path / "only"
    only.write_text("demo_sum\n")
    status, _ = check("--baseline", builds.out("base"), builds.out("member_added"),
                      "--stablelist", str(only))
    assert status == 0


def test_suse_rules_first_match_wins_and_stale_rules(builds, tmp_path):
    rules = tmp_path / "severities"
    rules.write_text("# suse-kabi-tools severity file\n"
                     "drivers/demo/* PASS\n"
                     "DEMO_INTERNAL  PASS   # namespace rule\n"
                     "demo_unreg*    PASS\n"
                     "vmlinux        FAIL\n"
                     "no_such_sym*   PASS\n")
    status, report = check("--baseline", builds.out("base"), builds.out("member_added"),
                           "--rules", str(rules))
    assert status == 1
    decided = {f"{s['module']}:{s['symbol']}": (s["verdict"], s["decided_by"])
               for s in report["symbols"]}
    assert decided == {
        "vmlinux:demo_cookie": ("pass", f"{rules}:3"),  # namespace before module rule
        "vmlinux:demo_register": ("fail", f"{rules}:5"),
        "vmlinux:demo_unregister": ("pass", f"{rules}:4"),
        "drivers/demo/demo:demo_open": ("pass", f"{rules}:2"),
        "drivers/demo/demo:demo_private_get": ("pass", f"{rules}:2"),
        "drivers/demo/demo:demo_queue": ("pass", f"{rules}:2"),
        "drivers/single/single:single_probe": ("fail", "default"),
    }
    assert [(r["source"], r["matched_symbols"], r["decided"], r["stale"])
            for r in report["rules"]] == [
        (f"{rules}:2", 4, 3, False), (f"{rules}:3", 2, 1, False), (f"{rules}:4", 1, 1, False),
        (f"{rules}:5", 6, 1, False), (f"{rules}:6", 0, 0, True)]
    assert report["warnings"] == [f"{rules}:6: rule 'no_such_sym* PASS' matches no symbol of "
                                  "baseline or current (stale rule?)"]


def test_yaml_rules_warn_and_change_kinds(builds, tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n"
                     "  - symbol: demo_sum\n"
                     "    changes: [removed]\n"
                     "    verdict: warn\n"
                     "  - module: vmlinux\n"
                     "    changes: [crc_changed]\n"
                     "    verdict: fail\n")
    status, report = check("--baseline", builds.out("base"), builds.out("removed"),
                           "--rules", str(rules))
    assert status == 0
    assert [(s["symbol"], s["verdict"], s["decided_by"]) for s in report["symbols"]] == [
        ("demo_sum", "warn", f"{rules}:2")]
    assert report["inputs"]["rules"] == {"form": "yaml", "count": 2}
    assert [r["stale"] for r in report["rules"]] == [False, False]


# -- other input forms -------------------------------------------------------
def test_plain_module_symvers_is_classified_not_explained(builds, tmp_path):
    plain = tmp_path / "Module.symvers"
    shutil.copy(os.path.join(builds.out("base"), "Module.symvers"), plain)
    status, report = check("--baseline", str(plain), builds.out("member_added"))
    assert status == 1
    assert kinds_of(report) == {k: ["crc_changed"] for k in REACH_DEMO_DEV}
    assert report["root_causes"] == []
    assert {s["explanation"]["status"] for s in report["symbols"]} == {"unavailable"}
    assert report["inputs"]["baseline"]["form"] == "symvers"
    assert any("plain Module.symvers" in n and "cannot be explained" in n for n in report["notes"])


def test_directory_with_a_compressed_module_symvers(builds, tmp_path, capsys):
    # a distro package's directory: Module.symvers.gz and no report.json
    with open(os.path.join(builds.out("base"), "Module.symvers"), "rb") as src:
        (tmp_path / "Module.symvers.gz").write_bytes(gzip.compress(src.read()))
    status, report = check("--baseline", str(tmp_path), builds.out("member_added"))
    assert status == 1
    assert kinds_of(report) == {k: ["crc_changed"] for k in REACH_DEMO_DEV}
    assert report["inputs"]["baseline"]["form"] == "symvers"
    (tmp_path / "Module.symvers.xz").write_bytes(b"")
    capsys.readouterr()
    assert _error(capsys, "--baseline", str(tmp_path), builds.out("member_added")) == (
        f"batchver check: error: {tmp_path}: holds Module.symvers.xz and Module.symvers.gz: "
        "name the one to compare")

def test_every_kind_on_plain_files(tmp_path):
    old = tmp_path / "old.symvers"
    new = tmp_path / "new.symvers"
    old.write_text("0x00000001\tkeep\tvmlinux\tEXPORT_SYMBOL\t\n"
                   "0x00000002\tgone\tvmlinux\tEXPORT_SYMBOL\t\n"
                   "0x00000003\tcrc\tfs/a\tEXPORT_SYMBOL\t\n"
                   "0x00000004\tgpl\tfs/a\tEXPORT_SYMBOL\t\n"
                   "0x00000005\tns\tfs/a\tEXPORT_SYMBOL_GPL\t\n"
                   "0x00000006\tmover\tfs/a\tEXPORT_SYMBOL\t\n"
                   "0x00000007\tunknown\tfs/a\tEXPORT_SYMBOL\t\n")
    new.write_text("0x00000001\tkeep\tvmlinux\tEXPORT_SYMBOL\t\n"
                   "0x00000033\tcrc\tfs/a\tEXPORT_SYMBOL\t\n"
                   "0x00000004\tgpl\tfs/a\tEXPORT_SYMBOL_GPL\t\n"
                   "0x00000005\tns\tfs/a\tEXPORT_SYMBOL_GPL\tFS_NS\n"
                   "0x00000006\tmover\tfs/b\tEXPORT_SYMBOL\t\n"
                   "0x00000000\tunknown\tfs/a\tEXPORT_SYMBOL\t\n"
                   "0x00000008\tfresh\tfs/b\tEXPORT_SYMBOL\t\n")
    status, report = check("--baseline", str(old), str(new))
    assert status == 1
    assert kinds_of(report) == {"vmlinux:gone": ["removed"], "fs/a:crc": ["crc_changed"],
                                "fs/a:gpl": ["export_type_changed"],
                                "fs/a:ns": ["namespace_changed"],
                                "fs/a:unknown": ["crc_unavailable"], "fs/b:fresh": ["added"],
                                "fs/b:mover": ["moved"]}
    assert {s["symbol"]: s["verdict"] for s in report["symbols"]}["fresh"] == "warn"


def test_no_version_on_either_side_warns(tmp_path):
    """An export that never had a version (vmlinux's exports without DWARF)
    is the same every night: the gate warns instead of failing, while losing
    a version is still a failing change."""
    old = tmp_path / "old.symvers"
    new = tmp_path / "new.symvers"
    old.write_text("0x00000000\tnever\tvmlinux\tEXPORT_SYMBOL\t\n"
                   "0x00000001\tlost\tvmlinux\tEXPORT_SYMBOL\t\n")
    new.write_text("0x00000000\tnever\tvmlinux\tEXPORT_SYMBOL\t\n"
                   "0x00000001\tlost\tvmlinux\tEXPORT_SYMBOL\t\n")
    status, report = check("--baseline", str(old), str(new))
    assert status == 0
    assert {s["symbol"]: (s["changes"], s["verdict"]) for s in report["symbols"]} == {
        "never": (["crc_unavailable"], "warn")}  # changed symbols only
    new.write_text("0x00000000\tnever\tvmlinux\tEXPORT_SYMBOL\t\n"
                   "0x00000000\tlost\tvmlinux\tEXPORT_SYMBOL\t\n"
                   "0x00000002\tfresh\tvmlinux\tEXPORT_SYMBOL\t\n")
    status, report = check("--baseline", str(old), str(new))
    assert status == 1
    assert {s["symbol"]: s["verdict"] for s in report["symbols"]} == {
        "never": "warn", "lost": "fail", "fresh": "warn"}


def test_build_differences_are_prominent(builds):
    status, report = check("--baseline", builds.out("base"),
                           builds.out("base", cflags=("-gdwarf-4", "-O2")))
    assert {"field": "DWARF versions", "baseline": [5], "current": [4], "moves_crcs": True} \
        in report["provenance"]
    status, report = check("--baseline", builds.out("base"), builds.out("base", stable=True))
    assert status == 0
    assert report["provenance"] == [{"field": "--stable", "baseline": False, "current": True,
                                     "moves_crcs": True}]


# -- reports -----------------------------------------------------------------
def test_text_report_summary_first_grouped_by_root_cause(builds, capsys):
    assert check_main(["--baseline", builds.out("base"), builds.out("member_added")]) == 1
    text = capsys.readouterr().out.splitlines()
    assert text[0] == ("batchver check: FAIL (exit 1): 7 failing, 0 warned, 0 accepted "
                       "change(s) among 11 symbols")
    start = text.index("[rc1] s#demo_dev (include/demo.h:14) changed: 7 symbol(s) (7 fail)")
    assert text[start + 1:start + 3] == [
        "    s#demo_dev (include/demo.h:14): member base_type long int byte_size(8) encoding(5) "
        "extra added at data_member_location(72) (include/demo.h:23)",
        "    s#demo_dev (include/demo.h:14): byte_size(72) -> byte_size(80)"]
    assert text[start + 3] == "      FAIL vmlinux:demo_cookie  via demo_cookie -> s#demo_dev"


def test_explain_one_symbol_shows_location_and_path(builds, capsys):
    """demo_register reaches struct demo_buf only through demo_dev's
    queue member: the path names it, and the changed member's line is
    the one edited (size_t len, line 10 of include/demo.h)."""
    assert check_main(["--baseline", builds.out("base"), builds.out("member_type"),
                       "--explain", "demo_register"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[1:] == [
        "  [rc1] s#demo_buf (include/demo.h:8) changed",
        "    path: demo_register -> s#demo_dev.queue -> s#demo_buf",
        "    member len: t#size_t -> base_type unsigned int byte_size(4) encoding(7) "
        "(include/demo.h:10)"]
    assert lines[0].startswith("vmlinux:demo_register: CRC 0x")
    assert check_main(["--baseline", builds.out("base"), builds.out("member_type"),
                       "--explain", "no_such_symbol"]) == 2


def test_locations_from_one_side_only(builds, tmp_path):
    """A baseline made before locations were recorded: the current side's
    are used, and a note says so."""
    old = tmp_path / "old"
    shutil.copytree(builds.out("base"), old)
    for path in old.rglob("*.locations.jsonl"):
        path.unlink()
    status, report = check("--baseline", str(old), builds.out("member_added"))
    assert status == 1
    rc = report["root_causes"][0]
    assert (rc["file"], rc["line"], rc["located_in"]) == ("include/demo.h", 14, "current")
    assert report["inputs"]["baseline"]["locations"] is False
    assert f"source locations come from current only: baseline {old} records none (made by " \
           "a batchver that did not record them)" in report["notes"]


def test_locations_with_dwarf4_line_tables(builds):
    """DWARF 4 numbers files from 1 with directory 0 the compilation
    directory; the locations are the same as with DWARF 5."""
    out = Path(builds.out("base", cflags=("-gdwarf-4", "-O2")))
    blocks = [json.loads(line) for line in
              (out / "symtypes" / "vmlinux.locations.jsonl").read_text().splitlines()]
    core = next(b for b in blocks if b["origin"] == "kernel/core.o")
    files = core["files"]
    at = core["at"]["s#demo_dev"]
    assert (files[at[0]], at[1], files[at[2]["counters"][0]], at[2]["counters"][1]) == (
        "include/demo.h", 14, "include/demo.h", 22)
    assert files[core["at"]["demo_register"][0]] == "kernel/core.c"


def test_text_report_flags_build_differences(builds, capsys):
    check_main(["--baseline", builds.out("base"), builds.out("base", cflags=("-gdwarf-4", "-O2"))])
    text = capsys.readouterr().out
    assert "!! The two builds differ in ways that move CRCs by themselves:\n" \
           "!!   DWARF versions: 5 -> 4\n" in text


def test_junit_one_case_per_protected_symbol(builds, tmp_path):
    stablelist = tmp_path / "list"
    stablelist.write_text("demo_register\ndemo_sum\nghost_symbol\n")
    out = tmp_path / "junit.xml"
    assert check_main(["--baseline", builds.out("base"), builds.out("member_added"),
                       "--stablelist", str(stablelist), "--format", "junit", "-o", str(out)]) == 1
    suite = ET.parse(out).getroot().find("testsuite")
    cases = {(c.get("classname"), c.get("name")): c for c in suite.findall("testcase")}
    assert sorted(cases) == [("stablelist", "ghost_symbol"), ("vmlinux", "demo_register"),
                             ("vmlinux", "demo_sum")]
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("3", "1", "1")
    failure = cases[("vmlinux", "demo_register")].find("failure")
    assert failure.get("type") == "crc_changed"
    assert "root cause rc1: s#demo_dev" in failure.text
    assert cases[("vmlinux", "demo_sum")].find("failure") is None


def test_html_report_is_self_contained(builds, tmp_path):
    out = tmp_path / "r.html"
    assert check_main(["--baseline", builds.out("base"), builds.out("member_added"),
                       "--format", "html", "-o", str(out)]) == 1
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>") and "<script>" in page
    assert "http://" not in page and "https://" not in page  # nothing fetched
    assert '<section class="rc" id="rc1">' in page
    assert "extra added at data_member_location(72)" in page
    assert page.count('<tr class="fail">') == 7


def _browser() -> str:
    """The system chromium; CI (.ci/run installs it) must not skip."""
    browser = find_chromium()
    if browser is None:
        if os.environ.get("BATCHVER_REQUIRE_BROWSER"):
            pytest.fail("chromium is required here (BATCHVER_REQUIRE_BROWSER is set)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return browser


def _what_a_person_sees(page: Page) -> list[str]:
    """The member_type report as a person checks it, one line per
    expectation that does not hold (empty: all hold).  Every one but the
    first three needs the page's script to have run."""
    problems = []
    seen = {
        "verdict": page.evaluate("document.querySelector('header').className + ' ' + "
                                 "document.querySelector('header h1').textContent.slice(0, 29)"),
        "root causes": page.evaluate("[...document.querySelectorAll('.card')].find(c => "
                                     "c.textContent.endsWith('root causes')).querySelector('b')"
                                     ".textContent + ' ' + document.querySelectorAll('section.rc')"
                                     ".length"),
        "location": page.evaluate("document.querySelector('#rc1 h3 .loc').textContent + ' ' + "
                                  "document.querySelector('#rc1 pre.diff').textContent"
                                  ".includes('(include/demo.h:10)')"),
        "counter": page.evaluate("document.getElementById('shown').textContent"),
    }
    expected = {"verdict": "fail batchver check: FAIL (exit 1)", "root causes": "1 1",
                "location": "include/demo.h:8 true", "counter": "8 of 8 shown"}
    problems += [f"{k}: {seen[k]!r}, expected {expected[k]!r}" for k in expected
                 if seen[k] != expected[k]]
    visible = "[...document.querySelectorAll('#symbols tbody tr')].filter(r => !r.hidden)" \
              ".map(r => r.cells[1].textContent).join(' ')"
    # a type on the path, not the root cause itself: the filter reaches paths
    page.type_into("#filter", "demo_dev.queue")
    page.wait_until("document.getElementById('shown').textContent.startsWith('6 of')")
    narrowed = page.evaluate(visible)
    if narrowed != ("demo_cookie demo_register demo_unregister demo_open demo_private_get "
                    "single_probe"):
        problems.append(f"typing demo_dev.queue left {narrowed!r}")
    page.evaluate("document.getElementById('filter').value = ''")
    page.type_into("#filter", "demo_queue")
    page.wait_until("document.getElementById('shown').textContent == '1 of 8 shown'")
    if page.evaluate(visible) != "demo_queue":
        problems.append(f"typing demo_queue left {page.evaluate(visible)!r}")
    # the filter emptied, then sorting by symbol twice: ascending, descending
    page.evaluate("(box => { box.value = ''; box.dispatchEvent(new Event('input')) })"
                  "(document.getElementById('filter'))")
    page.wait_until("document.getElementById('shown').textContent == '8 of 8 shown'")
    orders = []
    for _ in range(2):
        page.evaluate("document.querySelectorAll('#symbols th')[1].click()")
        orders.append(page.evaluate(visible))
    ascending = ("demo_buf_total demo_cookie demo_open demo_private_get demo_queue "
                 "demo_register demo_unregister single_probe")
    if orders != [ascending, " ".join(reversed(ascending.split()))]:
        problems.append(f"sorting by symbol gave {orders!r}")
    problems += [f"script error: {e}" for e in page.script_errors()]
    return problems


def test_html_report_in_chromium(builds, tmp_path):
    """Load the report in the system chromium and use it: verdict, root
    causes, a source location, and the list narrowing as text is typed."""
    browser = _browser()
    report = tmp_path / "r.html"
    assert check_main(["--baseline", builds.out("base"), builds.out("member_type"),
                       "--format", "html", "-o", str(report)]) == 1
    with Page(browser) as page:
        page.open(report.as_uri())
        assert _what_a_person_sees(page) == []
    # The same checks on the page with its script broken must fail.
    broken = tmp_path / "broken.html"
    broken.write_text(report.read_text().replace("const rowText=", "const rowText=nope.", 1))
    with Page(browser) as page:
        page.open(broken.as_uri())
        problems = _what_a_person_sees(page)
    assert any(p.startswith("script error: ReferenceError: nope is not defined") for p in problems)
    assert problems[0] == "counter: '', expected '8 of 8 shown'"


def test_html_report_filters_5000_symbols_in_chromium(tmp_path):
    """A report with 5,000 changed symbols loads and narrows to one row."""
    browser = _browser()
    lines = [f"0x{n:08x}\tsym_{n:05d}\tdrivers/m{n % 40}\tEXPORT_SYMBOL\t\n" for n in range(1, 5001)]
    (tmp_path / "old.symvers").write_text("".join(lines))
    (tmp_path / "new.symvers").write_text("".join(l.replace("0x0000", "0x1000", 1) for l in lines))
    report = tmp_path / "r.html"
    assert check_main(["--baseline", str(tmp_path / "old.symvers"), str(tmp_path / "new.symvers"),
                       "--format", "html", "-o", str(report)]) == 1
    with Page(browser, timeout=120) as page:
        page.open(report.as_uri())
        assert page.evaluate("document.getElementById('shown').textContent") == \
            "5000 of 5000 shown"
        page.type_into("#filter", "sym_04321")
        assert page.wait_until("document.getElementById('shown').textContent == "
                               "'1 of 5000 shown'", timeout=60)
        assert page.evaluate("[...document.querySelectorAll('#symbols tbody tr')]"
                             ".filter(r => !r.hidden).map(r => r.cells[1].textContent)") == \
            ["sym_04321"]
        assert page.script_errors() == []


# -- bad input ---------------------------------------------------------------
def _copy(builds, tmp_path, variant="base") -> Path:
    dest = tmp_path / variant
    shutil.copytree(builds.out(variant), dest)
    return dest


def _error(capsys, *args: str) -> str:
    assert check_main(list(args)) == 2
    return capsys.readouterr().err.strip()


def test_missing_inputs(builds, tmp_path, capsys):
    gone = tmp_path / "nowhere"
    assert _error(capsys, "--baseline", str(gone), builds.out("base")) == \
        f"batchver check: error: {gone}: no such file or directory"
    assert _error(capsys, "--baseline", builds.out("base"), builds.out("base"),
                  "--stablelist", str(gone)) == \
        f"batchver check: error: {gone}: no such file (stablelist)"


def test_truncated_module_symvers(builds, tmp_path, capsys):
    out = _copy(builds, tmp_path)
    symvers = out / "Module.symvers"
    data = symvers.read_bytes()
    symvers.write_bytes(data[:data.index(b"\n", 100) + 12])  # cut inside a line
    assert _error(capsys, "--baseline", str(out), builds.out("base")) == \
        f"batchver check: error: {symvers}:3: truncated: the last line has no newline"
    lines = data.decode().splitlines(keepends=True)
    symvers.write_text("".join(lines[:-2]))  # cut at a line boundary
    assert "disagrees with report.json: 2 export(s) of report.json missing here" in \
        _error(capsys, "--baseline", str(out), builds.out("base"))


def test_malformed_module_symvers_line(tmp_path, capsys):
    bad = tmp_path / "Module.symvers"
    bad.write_text("0x00000001\tok\tvmlinux\tEXPORT_SYMBOL\t\nzz\tbroken\tvmlinux\tEXPORT_SYMBOL\t\n")
    assert _error(capsys, "--baseline", str(bad), str(bad)) == \
        f"batchver check: error: {bad}:2: bad CRC 'zz' (expected 0x and up to 8 hex digits)"
    bad.write_text("0x00000001\tok\tvmlinux\tEXPORT_WHATEVER\t\n")
    assert f"{bad}:1: unknown export type 'EXPORT_WHATEVER'" in \
        _error(capsys, "--baseline", str(bad), str(bad))


def test_empty_inputs_never_pass(builds, tmp_path, capsys):
    empty = tmp_path / "Module.symvers"
    empty.write_text("")
    assert "empty: no exports to compare" in _error(capsys, "--baseline", str(empty),
                                                    builds.out("base"))
    comments = tmp_path / "list"
    comments.write_text("# nothing protected yet\n[section]\n")
    assert "stablelist names no symbol" in _error(
        capsys, "--baseline", builds.out("base"), builds.out("base"), "--stablelist", str(comments))
    no_rules = tmp_path / "severities"
    no_rules.write_text("# every rule retired\n\n")
    assert "no rules in the file" in _error(
        capsys, "--baseline", builds.out("base"), builds.out("base"), "--rules", str(no_rules))


def test_truncated_report_and_symtypes(builds, tmp_path, capsys):
    out = _copy(builds, tmp_path)
    report = out / "report.json"
    original = report.read_text()
    report.write_text(original[: len(original) // 2])
    assert "report.json:" in _error(capsys, "--baseline", str(out), builds.out("base"))
    report.write_text(original)
    symtypes = out / "symtypes" / "vmlinux.symtypes"
    symtypes.write_text("".join(symtypes.read_text().splitlines(keepends=True)[:-3]))
    assert _error(capsys, "--baseline", str(out), builds.out("base")) == (
        f"batchver check: error: {symtypes}: has 10 lines but report.json symtypes_blocks says "
        "13 (truncated or from another run)")


def test_truncated_locations(builds, tmp_path, capsys):
    """A cut locations file is bad input naming its line, found when a root
    cause in it is located."""
    out = _copy(builds, tmp_path, "member_added")
    locations = out / "symtypes" / "vmlinux.locations.jsonl"
    lines = locations.read_text().splitlines(keepends=True)
    locations.write_text(lines[0][:40] + "\n" + "".join(lines[1:]))
    assert _error(capsys, "--baseline", builds.out("base"), str(out)) == (
        f"batchver check: error: {locations}:1: not valid JSON (Invalid control character "
        "at; truncated?)")


def test_stablelist_in_the_wrong_format(builds, tmp_path, capsys):
    wrong = tmp_path / "list"
    wrong.write_text("demo_register\n0x38ef58a7\tdemo_register\tvmlinux\tEXPORT_SYMBOL_GPL\t\n")
    assert _error(capsys, "--baseline", builds.out("base"), builds.out("base"),
                  "--stablelist", str(wrong)) == (
        f"batchver check: error: {wrong}:2: looks like a Module.symvers line; a stablelist has "
        "one symbol name per line")
    wrong.write_text("# another kernel's list\nnot_here\nnor_here\n")
    assert _error(capsys, "--baseline", builds.out("base"), builds.out("base"),
                  "--stablelist", str(wrong)) == (
        f"batchver check: error: {wrong}: none of its 2 symbols is exported by baseline or "
        "current: wrong list for this kernel?")


def test_bad_rules(builds, tmp_path, capsys):
    rules = tmp_path / "severities"
    rules.write_text("vmlinux FAIL\ndemo_* IGNORE\n")
    assert _error(capsys, "--baseline", builds.out("base"), builds.out("base"),
                  "--rules", str(rules)) == (
        f"batchver check: error: {rules}:2: invalid verdict 'IGNORE', must be either PASS or FAIL")
    yaml_rules = tmp_path / "rules.yaml"
    yaml_rules.write_text("rules:\n  - symbol: x\n    verdict: fail\n  - symbol: y\n"
                          "    changes: [exploded]\n    verdict: warn\n")
    assert f"{yaml_rules}:5: rules[1].changes[0]: expected one of removed, crc_changed, " in _error(
        capsys, "--baseline", builds.out("base"), builds.out("base"), "--rules", str(yaml_rules))


def test_help_documents_exit_codes(capsys):
    assert check_main(["--help"]) == 0
    text = capsys.readouterr().out
    assert "exit status:" in text and "2  bad input" in text
    assert check_main(["--baseline"]) == 2


# -- token diffs -------------------------------------------------------------
def test_describe_is_minimal_and_names_members():
    old = ("structure_type s { member t#u32 a data_member_location(0) , member pointer_type "
           "{ s#s } byte_size(8) next data_member_location(8) } byte_size(16)")
    new = ("structure_type s { member t#u32 a data_member_location(0) , member t#u64 b "
           "data_member_location(8) , member pointer_type { s#s } byte_size(8) next "
           "data_member_location(16) } byte_size(24)")
    assert describe(old, new) == [
        "member t#u64 b added at data_member_location(8)",
        "1 later item(s) moved (data_member_location): next 8->16",
        "byte_size(16) -> byte_size(24)"]
    assert describe("structure_type s { }", new) == [
        "was a declaration only, now defined with 3 item(s)", "added 'byte_size(24)' after '}'"]
    assert describe("subprogram ( formal_parameter base_type int byte_size(4) encoding(5) x ) "
                    "-> base_type void",
                    "subprogram ( formal_parameter base_type int byte_size(4) encoding(5) x ) "
                    "-> base_type int byte_size(4) encoding(5)") == [
        "void -> int byte_size(4) encoding(5)"]


def test_tokens_and_item_names():
    assert tokenize("member s#'a b' x , member e#c y") == [
        "member", "s#'a b'", "x", ",", "member", "e#c", "y"]
    items = _split_items(_parse(tokenize(
        "member base_type unsigned int byte_size(4) encoding(7) flags bit_size(4) , "
        "member array_type[4] { base_type long int byte_size(8) encoding(5) } counters , "
        "member union_type { member base_type int byte_size(4) encoding(5) i } byte_size(4) "
        "data_member_location(8) , enumerator RED = 0")))
    assert [item_name(i) for i in items] == ["flags", "counters", None, "RED"]


# -- the Debian evidence tool's table ----------------------------------------
def test_evidence_table_crosses_dwarf_and_genksyms(builds, tmp_path):
    from tools.evidence import debian_abi_evidence as evidence
    from batchver.symvers import parse_symvers
    from batchver.gate.check import run_check
    base = os.path.join(builds.out("base"), "Module.symvers")
    # genksyms' view: demo_register and demo_sum changed, nothing else.
    old_g = tmp_path / "old.symvers"
    new_g = tmp_path / "new.symvers"
    shutil.copy(base, old_g)
    rows = []
    for line in open(base):
        crc, name, rest = line.split("\t", 2)
        rows.append("\t".join(["0x0badc0de" if name in ("demo_register", "demo_sum") else crc,
                               name, rest]))
    new_g.write_text("".join(rows))
    result = run_check(builds.out("base"), builds.out("member_added"))
    table = evidence.cross(result,
                           evidence.by_name(parse_symvers(str(old_g), zero_is_unknown=True), True),
                           evidence.by_name(parse_symvers(str(new_g), zero_is_unknown=True), True),
                           modules_only=True)
    assert table["groups"] == {
        "both": [],  # demo_register is vmlinux's: out of a modules-only table
        "dwarf_only": ["demo_open", "demo_private_get", "demo_queue", "single_probe"],
        "genksyms_only": [], "neither": ["demo_state_names"]}
    table = evidence.cross(result,
                           evidence.by_name(parse_symvers(str(old_g), zero_is_unknown=True), False),
                           evidence.by_name(parse_symvers(str(new_g), zero_is_unknown=True), False),
                           modules_only=False)
    groups = table["groups"]
    assert (groups["both"], groups["genksyms_only"]) == (["demo_register"], ["demo_sum"])
    assert groups["dwarf_only"] == ["demo_cookie", "demo_open", "demo_private_get",
                                    "demo_queue", "demo_unregister", "single_probe"]
    (row,) = evidence.cause_table(result, groups["dwarf_only"])
    assert (row["key"], row["symbols"], row["examples"]) == (
        "s#demo_dev", 6, ["demo_cookie", "demo_unregister", "demo_open", "demo_private_get",
                          "demo_queue", "single_probe"])


# -- report.json and rules files of the wrong shape ---------------------------
def _first(report: dict) -> str:
    return next(iter(report["exports"]))


WRONG_SHAPES = [
    # (what is changed in report.json, what the error says)
    (lambda r: r.update(tool="batchver"), "not a batchver report.json (no tool.name 'batchver')"),
    (lambda r: r["exports"].update({_first(r): "ok"}),
     'malformed: exports["vmlinux:demo_buf_total"]: expected an object, got a string'),
    (lambda r: r["exports"][_first(r)].update(status="weird"),
     'malformed: exports["vmlinux:demo_buf_total"].status: expected one of failed, '
     'no-information, ok, got "weird"'),
    (lambda r: r["exports"][_first(r)].update(crc=5),
     'malformed: exports["vmlinux:demo_buf_total"].crc: expected a string, got an integer'),
    (lambda r: r["counts"].update(exports=True),
     "malformed: counts.exports: expected an integer, got true or false"),
    (lambda r: r["toolchain"].update(producers="GNU C"),
     "malformed: toolchain.producers: expected a list, got a string"),
    (lambda r: r.update(kernel=[1]), "malformed: kernel: expected an object, got a list"),
    (lambda r: r["symtypes_blocks"]["vmlinux"][0].pop("start"),
     'malformed: symtypes_blocks["vmlinux"][0].start: missing (truncated, or not written by '
     'batchver run?)'),
    (lambda r: r["symtypes_blocks"]["vmlinux"][1].update(start=-20, count=33),
     'symtypes_blocks["vmlinux"][1]: start -20, count 33 do not follow the previous block '
     '(ends at line 9)'),
    (lambda r: r.pop("options"),
     "malformed: options: missing (truncated, or not written by batchver run?)"),
]


@pytest.mark.parametrize("number", range(len(WRONG_SHAPES)))
def test_report_json_of_the_wrong_shape_is_bad_input(builds, tmp_path, capsys, number):
    """Valid JSON that is not what batchver run writes: exit 2 with one line
    naming the file and the key, never a traceback or a "fail" verdict made
    of misread fields (a bad status used to fail the check, exit 1)."""
    change, message = WRONG_SHAPES[number]
    out = _copy(builds, tmp_path)
    report = json.loads((out / "report.json").read_text())
    change(report)
    (out / "report.json").write_text(json.dumps(report))
    assert _error(capsys, "--baseline", str(out), builds.out("base")) == \
        f"batchver check: error: {out / 'report.json'}: {message}"


def test_report_json_not_utf8_or_too_deep(builds, tmp_path, capsys):
    out = _copy(builds, tmp_path)
    (out / "report.json").write_bytes(b'{"tool": "\xff"}')
    assert "report.json: not valid JSON (UnicodeDecodeError" in \
        _error(capsys, "--baseline", str(out), builds.out("base"))
    (out / "report.json").write_text("[" * 100000 + "]" * 100000)
    assert "report.json: not valid JSON (RecursionError" in \
        _error(capsys, "--baseline", str(out), builds.out("base"))


@pytest.mark.parametrize("text, message", [
    ("rules: [{symbol: [a], verdict: fail}]", "1: rules[0].symbol: expected one string, got a list"),
    ("rules: [{symbol: null, verdict: fail}]", "1: rules[0].symbol: expected one string, got nothing (null)"),
    ("rules: [{symbol: a, changes: [{a: 1}], verdict: fail}]",
     "1: rules[0].changes[0]: expected one string, got a mapping"),
    ("rules: [{? [a, b] : c, verdict: fail}]", "1: rules[0]: expected a key name, got a list"),
    ("rules:\n  - symbol: a\n    verdict: fail\n    symbol: b\n", "4: rules[0].symbol: duplicate key (first given on line 2)"),
    ("rules: [{symbol: a, verdict: [fail]}]", "1: rules[0].verdict: expected one string, got a list"),
])
def test_yaml_rules_of_the_wrong_shape(tmp_path, capsys, text, message):
    symvers = tmp_path / "Module.symvers"
    symvers.write_text("0x00000001\ta\tvmlinux\tEXPORT_SYMBOL\t\n")
    rules = tmp_path / "rules.yaml"
    rules.write_text(text + "\n")
    assert _error(capsys, "--baseline", str(symvers), str(symvers), "--rules", str(rules)) == \
        f"batchver check: error: {rules}:{message}"


def test_rules_without_changes_do_not_judge_additions(tmp_path):
    """docs/check.md: a rule without ``changes:`` judges every kind but
    ``added`` (text and YAML alike); listing ``added`` judges additions."""
    old = tmp_path / "old.symvers"
    new = tmp_path / "new.symvers"
    old.write_text("0x00000001\tkept\tvmlinux\tEXPORT_SYMBOL\t\n"
                   "0x00000002\tchanged\tvmlinux\tEXPORT_SYMBOL\t\n")
    new.write_text("0x00000001\tkept\tvmlinux\tEXPORT_SYMBOL\t\n"
                   "0x00000003\tchanged\tvmlinux\tEXPORT_SYMBOL\t\n"
                   "0x00000004\tfresh\tvmlinux\tEXPORT_SYMBOL\t\n")
    stablelist = tmp_path / "list"
    stablelist.write_text("kept\n")  # neither changed nor fresh is protected
    for name, text, line in [("rules", "vmlinux FAIL\n", 1),
                             ("rules.yaml", "rules:\n  - module: vmlinux\n    verdict: fail\n", 2)]:
        rules = tmp_path / name
        rules.write_text(text)
        status, report = check("--baseline", str(old), str(new), "--rules", str(rules),
                               "--stablelist", str(stablelist))
        assert status == 1
        assert {s["symbol"]: (s["verdict"], s["decided_by"]) for s in report["symbols"]} == {
            "changed": ("fail", f"{rules}:{line}"), "fresh": ("warn", "default")}
    rules = tmp_path / "added.yaml"
    rules.write_text("rules:\n  - module: vmlinux\n    changes: [added]\n    verdict: fail\n")
    status, report = check("--baseline", str(old), str(new), "--rules", str(rules),
                           "--stablelist", str(stablelist))
    assert {s["symbol"]: (s["verdict"], s["decided_by"]) for s in report["symbols"]} == {
        "changed": ("warn", "default"), "fresh": ("fail", f"{rules}:2")}


# -- rule globs ---------------------------------------------------------------
class CountingName(str):
    """A name that counts the string searches a glob makes on it."""

    calls = 0

    def find(self, *args):
        CountingName.calls += 1
        return super().find(*args)

    def startswith(self, *args):
        CountingName.calls += 1
        return super().startswith(*args)


def _searches(pattern: str, name: str) -> tuple[bool, int]:
    CountingName.calls = 0
    matched = Glob(pattern).match(CountingName(name))
    return matched, CountingName.calls


def test_glob_matches_like_fnmatch():
    rnd = random.Random(11)
    for _ in range(20000):
        pattern = "".join(rnd.choice("ab/_*?") for _ in range(rnd.randint(0, 8)))
        name = "".join(rnd.choice("ab/_") for _ in range(rnd.randint(0, 10)))
        assert Glob(pattern).match(name) == fnmatch.fnmatchcase(name, pattern), (pattern, name)


def test_glob_never_backtracks():
    """The module rule that ran over 300 s as a regular expression: the
    matcher searches each piece between stars once, left to right, so the
    work is a handful of searches whatever the name (counted, not timed)."""
    pattern = "*/*?*?*?*?*?*?*?*?*?*?*?*Q"
    name = "drivers/net/ethernet/" + "x" * 100000
    assert _searches(pattern, name) == (False, 1)  # the end checked, no search
    assert _searches(pattern, name + "Q") == (True, 2)  # plus one search for "/"
    # A piece with '?' is searched by its literal part, each candidate once:
    # at most one search and one check per character of the name.
    name = "ab" * 5000
    matched, calls = _searches("*a?c*Q", name + "Q")
    assert not matched and calls <= 2 * len(name) + 3


def test_rule_index_tries_only_rules_that_can_match():
    """A 200,000-line rules file (74 s with one regular expression per rule
    and export): a name is verified only against the rules filed under a
    piece it contains (counted, not timed)."""
    patterns = [f"*symbol_{i}_*x" for i in range(200000)] + ["vmlinux", "*", "*number_5"]
    index = GlobIndex(patterns)
    names = [f"export_symbol_number_{i}" for i in range(87)]
    # trying every rule on every name: 17.4 million verifications
    assert sum(len(index.candidates(name)) for name in names) < 4 * 87
    assert index.matching("export_symbol_number_5") == [200001, 200002]
    assert index.matching("a_symbol_17_bx") == [17, 200001]
    assert index.matching("vmlinux") == [200000, 200001]


def test_rule_index_agrees_with_trying_every_rule():
    rnd = random.Random(5)
    patterns = ["".join(rnd.choice("abc/*?") for _ in range(rnd.randint(0, 9)))
                for _ in range(600)]
    index = GlobIndex(patterns)
    for _ in range(3000):
        name = "".join(rnd.choice("abc/") for _ in range(rnd.randint(0, 12)))
        assert index.matching(name) == [n for n, p in enumerate(patterns)
                                        if fnmatch.fnmatchcase(name, p)]
