"""Render a :class:`~.check.CheckResult` as text, JSON or JUnit XML (HTML
lives in :mod:`.html`, and :mod:`.formats` picks one by name).  Every format
is a pure function of the result, so they cannot disagree."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from batchver.gate.check import CheckResult, SymbolResult
from batchver.gate.classify import KIND_TITLES
from batchver.gate.consumers import ConsumerResult, Problem

MAX_LISTED = 20  # symbols listed per root cause in text
#: what each refusal reason means, as the kernel would say it
REASON_TEXT = {"crc": "disagrees about version of symbol", "missing": "unknown symbol",
               "gpl_only": "GPL-only symbol used by a non-GPL module",
               "namespace": "symbol from a namespace the module does not import",
               "no_version": "no symbol version for"}


def render_json(result: CheckResult) -> str:
    return json.dumps(result.to_json(), indent=1) + "\n"


# -- text --------------------------------------------------------------------
def headline(result: CheckResult) -> str:
    """The one-line verdict every format starts with."""
    s = result.summary()
    v = s["verdicts"]
    parts = []
    if result.baseline is not None:
        parts.append(f"{v['fail']} failing, {v['warn']} warned, {v['pass']} accepted change(s) "
                     f"among {s['symbols']} symbols")
    if result.consumers is not None:
        c = s["consumers"]
        parts.append(f"{c['refusing']} of {c['modules']} consumer module(s) refuse to load"
                     + (f", {c['unreadable']} unreadable" if c["unreadable"] else ""))
    return (f"batchver check: {result.verdict.upper()} (exit {result.exit_status}): "
            + "; ".join(parts))


def summary_lines(result: CheckResult) -> list[str]:
    s = result.summary()
    if result.baseline is None:
        return [f"current:  {result.current.path} ({result.current.form}, "
                f"{s['current_exports']} exports)"]
    kinds = ", ".join(f"{KIND_TITLES[k]} {n}" for k, n in s["kinds"].items()
                      if n and k != "unchanged")
    protected = ("every baseline export (no --stablelist)" if result.stablelist is None
                 else f"{len(result.stablelist.symbols)} listed")
    e = s["explanations"]
    lines = [
        f"baseline: {result.baseline.path} ({result.baseline.form}, "
        f"{s['baseline_exports']} exports)",
        f"current:  {result.current.path} ({result.current.form}, "
        f"{s['current_exports']} exports)",
        f"symbols:  {s['kinds']['unchanged']} unchanged; {kinds or 'no changes'}",
        f"protected: {s['protected']} ({protected}); {s['protected_changed']} of them changed",
        f"root causes: {s['root_causes']} (CRC changes explained {e['explained']}, "
        f"unexplained {e['unexplained']}, not explainable {e['unavailable']})",
    ]
    return lines


def _tag(sym: SymbolResult) -> str:
    return sym.decision.verdict.upper()


def _symbol_line(sym: SymbolResult) -> str:
    c = sym.change
    why = sym.decision.reason + (f" ({sym.decision.rule})" if sym.decision.rule else "")
    return f"  {_tag(sym):4} {c.key}: {'; '.join(c.details())} [{why}]"


def path_text(sym: SymbolResult, rc_id: str) -> str:
    """``usb_register_driver -> s#usb_driver.driver -> s#bus_type``, or ""."""
    path = sym.explanation.paths.get(rc_id) if sym.explanation else None
    return " -> ".join(path) if path else ""


def _via(sym: SymbolResult, rc_id: str) -> str:
    path = sym.explanation.paths.get(rc_id) if sym.explanation else None
    return f"  via {' -> '.join(path)}" if path and len(path) > 1 else ""


def render_explain(result: CheckResult, name: str) -> str | None:
    """Everything the check knows about one symbol (``symbol`` or
    ``module:symbol``): its changes and verdict, and for each root cause its
    location, diff and the chain of references that reaches it.  None when
    no symbol of either side has that name."""
    matches = [s for s in result.symbols if name in (s.change.symbol, s.change.key)]
    if not matches:
        return None
    by_id = {rc.id: rc for rc in result.root_causes}
    out = []
    for sym in matches:
        c, e = sym.change, sym.explanation
        out.append(f"{c.key}: {'; '.join(c.details()) or 'unchanged'} "
                   f"[{sym.decision.verdict.upper()}: {sym.decision.reason}]")
        if e is None:
            continue
        if e.reason:
            out.append(f"  {e.status}: {e.reason}")
        for rc_id in e.root_causes:
            rc = by_id[rc_id]
            out.append(f"  [{rc.id}] {rc.title()} {rc.status}")
            out.append(f"    path: {path_text(sym, rc_id)}")
            out.extend(f"    {line}" for line in rc.diff_lines())
    return "\n".join(out) + "\n"


def _section(title: str) -> list[str]:
    return ["", title, "-" * len(title)]


def render_text(result: CheckResult) -> str:
    out = [headline(result), *summary_lines(result)]
    if result.prominent or result.warnings:
        out.append("")
    if result.prominent:
        out.append("!! The two builds differ in ways that move CRCs by themselves:")
        out.extend(f"!!   {d.text()}" for d in result.prominent)
    out.extend(f"warning: {w}" for w in result.warnings)
    by_key = {s.change.key: s for s in result.symbols}
    if result.root_causes:
        out += _section(f"Root causes ({len(result.root_causes)})")
        for rc in result.root_causes:
            syms = [by_key[k] for k in rc.symbols]
            verdicts = ", ".join(f"{sum(1 for s in syms if s.decision.verdict == v)} {v}"
                                 for v in ("fail", "warn", "pass")
                                 if any(s.decision.verdict == v for s in syms))
            out.append(f"[{rc.id}] {rc.title()} {rc.status}: {len(syms)} symbol(s) ({verdicts})")
            out.extend(f"    {rc.title()}: {line}" for line in rc.diff_lines())
            if rc.same_symbols_as:
                out.append(f"      (the same symbols as {rc.same_symbols_as})")
                continue
            for sym in syms[:MAX_LISTED]:
                out.append(f"      {_tag(sym):4} {sym.change.key}{_via(sym, rc.id)}")
            if len(syms) > MAX_LISTED:
                out.append(f"      ... and {len(syms) - MAX_LISTED} more")
    # Everything not fully told by a root cause: other kinds, and CRC changes
    # without one (each with why, unless no side could explain anything).
    explainable = result.baseline is not None and result.baseline.can_explain \
        and result.current.can_explain
    rest = [s for s in result.changed if s.change.kinds != ["crc_changed"]
            or s.explanation is None or s.explanation.status != "explained"]
    if rest:
        out += _section(f"Changes not grouped under a root cause ({len(rest)})")
        order = {"fail": 0, "warn": 1, "pass": 2}
        for sym in sorted(rest, key=lambda s: order[s.decision.verdict]):
            e = sym.explanation
            why = f" {e.status}: {e.reason}" if e and e.reason and explainable else ""
            out.append(_symbol_line(sym) + why)
    if result.consumers is not None:
        out += consumer_text(result)
    if result.rules:
        out += _section(f"Rules ({result.rules_form} form)")
        for rule in result.rules:
            state = " STALE: matches no symbol" if rule.matched_symbols == 0 else ""
            out.append(f"  {rule.source} '{rule.text}': names {rule.matched_symbols} symbol(s), "
                       f"decided {rule.decided} change(s){state}")
    if result.differences or result.notes:
        out += _section("Notes")
        out.extend(f"  {d.text()}" for d in result.differences if not d.moves_crcs)
        out.extend(f"  {n}" for n in result.notes)
    return "\n".join(out) + "\n"


# -- consumers ---------------------------------------------------------------
def problem_text(problem: Problem) -> str:
    """``crc module_put: disagrees about version of symbol (module
    0x12345678, kernel 0x9abcdef0)``."""
    crcs = [f"{side} 0x{crc:08x}" for side, crc in (("module", problem.want_crc),
                                                     ("kernel", problem.have_crc))
            if crc is not None]
    return (f"{problem.reason} {problem.symbol}: {REASON_TEXT[problem.reason]}"
            + (f" ({', '.join(crcs)})" if crcs else ""))


def _consumer_name(r: ConsumerResult) -> str:
    return f"{r.module} ({r.path})" if r.module else r.path


def consumer_text(result: CheckResult) -> list[str]:
    """Refusals by root cause (with a baseline that explains them), then
    each refusing or unreadable module with its problems."""
    report = result.consumers
    assert report is not None
    by_id = {rc.id: rc for rc in result.root_causes}
    out: list[str] = []
    groups = report.by_root_cause()
    if groups:
        out += _section(f"Consumers refusing by root cause ({len(groups)})")
        for cause, refusals in groups.items():
            rc = by_id[cause]
            modules = sorted({r.module or r.path for r, _ in refusals})
            symbols = sorted({p.symbol for _, p in refusals})
            out.append(f"[{cause}] {len(modules)} module(s) refuse because {rc.key} {rc.status}: "
                       f"{', '.join(symbols[:MAX_LISTED])}"
                       + (f" and {len(symbols) - MAX_LISTED} more" if len(symbols) > MAX_LISTED
                          else ""))
            out.extend(f"    {rc.key}: {line}" for line in rc.diff)
            out.extend(f"      {m}" for m in modules[:MAX_LISTED])
            if len(modules) > MAX_LISTED:
                out.append(f"      ... and {len(modules) - MAX_LISTED} more")
    refusing, unreadable = report.refusing, report.unreadable
    out += _section(f"Consumers: {len(report.results) - len(refusing) - len(unreadable)} load, "
                    f"{len(refusing)} refuse, {len(unreadable)} unreadable")
    for r in report.results:
        if r.error is not None:
            out.append(f"  ERROR {r.error}")
        elif r.problems:
            out.append(f"  REFUSE {_consumer_name(r)}")
            for p in r.problems:
                why = f" [root cause {', '.join(p.root_causes)}]" if p.root_causes else ""
                out.append(f"    {problem_text(p)}{why}")
        for p in r.warnings:
            out.append(f"  warning: {r.module}: {problem_text(p)} (loads: extended "
                       "versions only warn)")
    return out


# -- JUnit -------------------------------------------------------------------
def render_junit(result: CheckResult) -> str:
    """One test case per protected symbol (and per failing unprotected one),
    so CI dashboards show each kABI symbol's history; listed names that no
    side exports are skipped cases."""
    cases = [s for s in result.symbols if s.protected or s.decision.verdict == "fail"]
    absent = []
    if result.stablelist is not None:
        present = {s.change.symbol for s in result.symbols}
        absent = sorted(n for n in result.stablelist.symbols if n not in present)
    consumers = result.consumers.results if result.consumers is not None else []
    failures = sum(1 for s in cases if s.decision.verdict == "fail") + \
        sum(1 for r in consumers if r.loads is False)
    errors = sum(1 for r in consumers if r.error is not None)
    tests = str(len(cases) + len(absent) + len(consumers))
    suites = ET.Element("testsuites", name="batchver check", tests=tests, failures=str(failures))
    suite = ET.SubElement(suites, "testsuite", name="batchver check", tests=tests,
                          failures=str(failures), errors=str(errors), skipped=str(len(absent)))
    by_id = {rc.id: rc for rc in result.root_causes}
    for sym in cases:
        case = ET.SubElement(suite, "testcase", classname=sym.change.module.replace("/", "."),
                             name=sym.change.symbol)
        text = "\n".join(sym.change.details())
        if sym.explanation is not None:
            for rid in sym.explanation.root_causes:
                rc = by_id[rid]
                text += f"\nroot cause {rid}: {rc.title()}\n  path: {path_text(sym, rid)}\n" \
                    + "\n".join(f"  {rc.key}: {line}" for line in rc.diff_lines())
            if sym.explanation.reason:
                text += f"\n{sym.explanation.status}: {sym.explanation.reason}"
        if sym.decision.verdict == "fail":
            failure = ET.SubElement(case, "failure", type=sym.decision.kind or "change",
                                    message=f"{'; '.join(sym.change.details())}: "
                                            f"{sym.decision.reason}")
            failure.text = text
        elif sym.decision.verdict in ("warn", "pass"):
            ET.SubElement(case, "system-out").text = (
                f"{sym.decision.verdict.upper()}: {sym.decision.reason}\n{text}")
    for name in absent:
        case = ET.SubElement(suite, "testcase", classname="stablelist", name=name)
        ET.SubElement(case, "skipped", message="exported by neither baseline nor current")
    for r in consumers:  # one case per module: does it load?
        case = ET.SubElement(suite, "testcase", classname="consumers", name=r.path)
        if r.error is not None:
            ET.SubElement(case, "error", message=r.error)
        elif r.problems:
            failure = ET.SubElement(case, "failure", type="refused",
                                    message=f"{r.module} refuses to load: {len(r.problems)} "
                                            "symbol(s)")
            failure.text = "\n".join(problem_text(p) for p in r.problems)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, "unicode") + "\n"
