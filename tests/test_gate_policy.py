"""The gate's decisions on hand-made inputs: how two sides' exports pair
up into changes (classify.py), which verdict each change gets (policy.py,
as its module docstring and suse-kabi-tools(5) define the rules), and how
one side is read (baseline.py, report.py).

No tree is built here: each case states its exports directly, so a
failure names one rule of the gate.
"""

from __future__ import annotations

import json

import pytest

from batchver.errors import InputError
from batchver.gate.baseline import Side, load_side
from batchver.gate.classify import classify, counts
from batchver.gate.policy import Policy, Stablelist, parse_text_rules
from batchver.report import Report, ShapeError
from batchver.symvers import ExportRecord


def export(symbol: str, crc: int | None = 1, module: str = "vmlinux", export_type: str = "EXPORT_SYMBOL",
           namespace: str = "") -> ExportRecord:
    return ExportRecord(symbol, module, crc, export_type, namespace)


def side(*exports: ExportRecord) -> Side:
    return Side("baseline", "-", "symvers", "-", list(exports))


def changes(old: list[ExportRecord], new: list[ExportRecord]) -> list[tuple[str, str, list[str]]]:
    return [(c.module, c.symbol, c.kinds) for c in classify(side(*old), side(*new))]


# -- classify.py ---------------------------------------------------------------
def test_each_kind_of_change_is_named():
    old = [export("same"), export("crc", 1), export("gpl"), export("ns"), export("gone"),
           export("lost", 5), export("moved", module="drivers/a")]
    new = [export("same"), export("crc", 2), export("gpl", export_type="EXPORT_SYMBOL_GPL"),
           export("ns", namespace="NS"), export("lost", None), export("moved", module="drivers/b"),
           export("new")]
    assert changes(old, new) == [
        ("vmlinux", "crc", ["crc_changed"]),
        ("vmlinux", "gone", ["removed"]),
        ("vmlinux", "gpl", ["export_type_changed"]),
        ("vmlinux", "lost", ["crc_unavailable"]),
        ("vmlinux", "new", ["added"]),
        ("vmlinux", "ns", ["namespace_changed"]),
        ("vmlinux", "same", []),
        ("drivers/b", "moved", ["moved"]),  # filed under current's module; vmlinux first
    ]


def test_a_symbol_exported_by_several_modules_pairs_by_module():
    """Same module first; one left on each side is a move; more cannot be
    paired and are removals and additions."""
    old = [export("dup", 1, "drivers/a"), export("dup", 1, "drivers/b")]
    new = [export("dup", 1, "drivers/a"), export("dup", 3, "drivers/c")]
    assert changes(old, new) == [("drivers/a", "dup", []), ("drivers/c", "dup", ["crc_changed", "moved"])]
    old.append(export("dup", 1, "drivers/d"))
    assert changes(old, new) == [("drivers/a", "dup", []), ("drivers/b", "dup", ["removed"]),
                                 ("drivers/c", "dup", ["added"]), ("drivers/d", "dup", ["removed"])]


def test_counts_count_symbols_per_kind():
    found = classify(side(export("a", 1), export("b", 1, namespace="X")),
                     side(export("a", 2), export("b", 2)))
    assert {k: v for k, v in counts(found).items() if v} == {"crc_changed": 2, "namespace_changed": 1}


# -- policy.py -----------------------------------------------------------------
def verdicts(policy: Policy, old: list[ExportRecord], new: list[ExportRecord]) -> dict[str, tuple]:
    return {c.symbol: (d.verdict, d.kind, d.rule) for c in classify(side(*old), side(*new))
            if (d := policy.decide(c)).verdict != "none"}


def test_without_a_stablelist_every_baseline_export_is_protected():
    policy = Policy([], None)
    assert verdicts(policy, [export("a", 1), export("gone")], [export("a", 2), export("new")]) == {
        "a": ("fail", "crc_changed", None), "gone": ("fail", "removed", None),
        "new": ("warn", "added", None)}


def test_with_a_stablelist_only_listed_symbols_fail():
    policy = Policy([], Stablelist(symbols={"a": ("list", 1, "")}))
    assert verdicts(policy, [export("a", 1), export("b", 1)], [export("a", 2), export("b", 2)]) == {
        "a": ("fail", "crc_changed", None), "b": ("warn", "crc_changed", None)}


def test_no_version_on_either_side_warns_even_when_protected():
    assert verdicts(Policy([], None), [export("a", None)], [export("a", None)]) == {
        "a": ("warn", "crc_unavailable", None)}


def test_text_rules_first_match_wins_and_patterns_pick_their_attribute():
    rules = parse_text_rules("R", "# comment\ndemo_* PASS\ndrivers/x/* PASS  # a module\n"
                                  "NS_OK PASS\n* FAIL\n")
    assert [(r.source, r.matchers, r.verdict) for r in rules] == [
        ("R:2", {"symbol": "demo_*"}, "pass"), ("R:3", {"module": "drivers/x/*"}, "pass"),
        ("R:4", {"namespace": "NS_OK"}, "pass"), ("R:5", {"namespace": "*"}, "fail")]
    policy = Policy(rules, Stablelist())
    old = [export("demo_a", 1), export("mod_b", 1, "drivers/x/y"), export("ns_c", 1, namespace="NS_OK"),
           export("other", 1, namespace="NS_OTHER"), export("plain", 1)]
    new = [export(e.symbol, 2, e.module, namespace=e.namespace) for e in old] + [export("demo_new")]
    assert verdicts(policy, old, new) == {
        "demo_a": ("pass", "crc_changed", "R:2"), "mod_b": ("pass", "crc_changed", "R:3"),
        "ns_c": ("pass", "crc_changed", "R:4"), "other": ("fail", "crc_changed", "R:5"),
        # '*' is a namespace pattern, which needs a namespace; an addition
        # is judged by no text rule
        "plain": ("warn", "crc_changed", None), "demo_new": ("warn", "added", None)}


@pytest.mark.parametrize("text, message", [
    ("demo_*\n", "R:1: rule 'demo_*' does not specify a verdict (PASS or FAIL)"),
    ("demo_* pass\n", "R:1: invalid verdict 'pass', must be either PASS or FAIL"),
    ("demo_* PASS now\n", "R:1: unexpected 'now' after the verdict"),
])
def test_bad_text_rules_name_file_and_line(text, message):
    with pytest.raises(InputError) as caught:
        parse_text_rules("R", text)
    assert str(caught.value) == message


# -- baseline.py and report.py ---------------------------------------------------
def test_plain_module_symvers_side(tmp_path):
    path = tmp_path / "Module.symvers"
    path.write_text("0x00000001\ta\tvmlinux\tEXPORT_SYMBOL\t\n"
                    "0x00000000\tb\tdrivers/m\tEXPORT_SYMBOL_GPL\tNS\n")
    loaded = load_side("baseline", str(tmp_path))
    assert (loaded.form, loaded.can_explain, loaded.provenance) == ("symvers", False, None)
    assert [(e.key, e.crc, e.export_type, e.namespace) for e in loaded.exports] == [
        ("vmlinux:a", 1, "EXPORT_SYMBOL", ""), ("drivers/m:b", None, "EXPORT_SYMBOL_GPL", "NS")]


def test_a_directory_with_neither_file_is_bad_input(tmp_path):
    with pytest.raises(InputError, match="neither a batchver output directory"):
        load_side("current", str(tmp_path))


MINIMAL = {"schema": 1, "tool": {"name": "batchver"}, "options": {}, "toolchain": {},
           "counts": {"exports": 1},
           "exports": {"vmlinux:a": {"crc": "0x00000001"}}}


def test_report_reading_fills_what_a_reader_may_do_without():
    report = Report.from_json(MINIMAL)
    entry = report.exports["vmlinux:a"]
    assert (entry.crc, entry.status, entry.versioned_in) == ("0x00000001", "ok", None)
    assert (report.kind, report.symtypes_blocks, report.files, report.timing.jobs) == (None, None, [], 0)


@pytest.mark.parametrize("change, message", [
    ({"counts": {}}, "counts.exports: missing (truncated, or not written by batchver run?)"),
    ({"kind": 3}, "kind: expected a string, got an integer"),
    ({"files": [{"file": "a.o", "module": "vmlinux", "status": "ok", "exports": "2"}]},
     "files[0].exports: expected an integer, got a string"),
    ({"timing": {"wall_seconds": True}}, "timing.wall_seconds: expected a number, got true or false"),
])
def test_report_shape_errors_name_the_key(change, message):
    with pytest.raises(ShapeError) as caught:
        Report.from_json({**MINIMAL, **change})
    assert str(caught.value) == message


def test_report_text_keeps_the_writers_key_order():
    report = Report.from_json(MINIMAL)
    assert list(json.loads(json.dumps(report.to_json()))) == [
        "schema", "tool", "tree", "kind", "options", "kernel", "toolchain", "counts", "notes", "files",
        "symtypes_blocks", "exports", "timing"]
    assert list(report.to_json()["exports"]["vmlinux:a"]) == [
        "symbol", "module", "crc", "export_type", "namespace", "status", "versioned_in"]
