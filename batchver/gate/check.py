"""One check, start to finish: load, classify, judge, explain, compare builds.

:func:`run_check` raises :class:`~.baseline.InputError` for bad input (exit
status 2) and otherwise returns a :class:`CheckResult` whose
``exit_status`` is 1 when any change fails the policy and 0 otherwise.
Every renderer reads only the result, so all formats tell the same story.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from batchver import __version__
from batchver.gate.baseline import Side, load_side
from batchver.gate.classify import SymbolChange, classify, counts
from batchver.gate.consumers import ConsumerReport, check_consumers, explain_refusals
from batchver.gate.explain import Explanation, RootCause, explain
from batchver.gate.policy import (Decision, Policy, Rule, Stablelist, check_stablelist_names, load_rules,
                     load_stablelists)
from batchver.gate.provenance import Difference, compare, suspicious_share
from batchver.symvers import ExportRecord

CHECK_SCHEMA = 1


@dataclass
class SymbolResult:
    """One symbol: what changed, whether it is protected, the verdict and
    (for a changed CRC) why."""

    change: SymbolChange
    protected: bool
    decision: Decision
    explanation: Explanation | None = None

    def to_json(self) -> dict[str, Any]:
        def side(export: ExportRecord | None) -> dict[str, Any] | None:
            if export is None:
                return None
            return {"module": export.module, "crc": export.crc_text,
                    "export_type": export.export_type, "namespace": export.namespace}
        c, e = self.change, self.explanation
        return {
            "symbol": c.symbol, "module": c.module, "changes": c.kinds, "details": c.details(),
            "protected": self.protected, "verdict": self.decision.verdict,
            "decided_by": self.decision.rule or "default", "reason": self.decision.reason,
            "baseline": side(c.old), "current": side(c.new),
            "explanation": None if e is None else {
                "status": e.status, "root_causes": e.root_causes, "reason": e.reason,
                "paths": e.paths},
        }


@dataclass
class CheckResult:
    """A check's outcome.  Without a baseline (a consumers-only check)
    ``baseline`` is None and there are no symbol changes."""

    baseline: Side | None
    current: Side
    symbols: list[SymbolResult]
    root_causes: list[RootCause]
    differences: list[Difference]
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    stablelist: Stablelist | None = None
    rules: list[Rule] = field(default_factory=list)
    rules_form: str | None = None
    consumers: ConsumerReport | None = None

    @property
    def changed(self) -> list[SymbolResult]:
        return [s for s in self.symbols if s.change.kinds]

    def with_verdict(self, verdict: str) -> list[SymbolResult]:
        return [s for s in self.symbols if s.decision.verdict == verdict]

    @property
    def verdict(self) -> str:
        refused = self.consumers is not None and self.consumers.refusing
        return "fail" if self.with_verdict("fail") or refused else "pass"

    @property
    def exit_status(self) -> int:
        """1 on a failing change or a refusing consumer, else 2 when a
        consumer could not be read (bad input), else 0."""
        if self.verdict == "fail":
            return 1
        return 2 if self.consumers is not None and self.consumers.unreadable else 0

    @property
    def prominent(self) -> list[Difference]:
        return [d for d in self.differences if d.moves_crcs]

    def summary(self) -> dict[str, Any]:
        kinds = counts([s.change for s in self.symbols])
        explained = [s.explanation for s in self.symbols if s.explanation is not None]
        out = {
            "verdict": self.verdict, "exit_status": self.exit_status,
            "symbols": len(self.symbols),
            "baseline_exports": None if self.baseline is None else len(self.baseline.exports),
            "current_exports": len(self.current.exports),
            "changed": len(self.changed),
            "kinds": kinds,
            "verdicts": {v: len(self.with_verdict(v)) for v in ("fail", "warn", "pass")},
            "protected": sum(1 for s in self.symbols if s.protected),
            "protected_changed": sum(1 for s in self.changed if s.protected),
            "root_causes": len(self.root_causes),
            "explanations": {st: sum(1 for e in explained if e.status == st)
                             for st in ("explained", "unexplained", "unavailable")},
        }
        if self.consumers is not None:
            out["consumers"] = {"modules": len(self.consumers.results),
                                "refusing": len(self.consumers.refusing),
                                "unreadable": len(self.consumers.unreadable)}
        return out

    def to_json(self) -> dict[str, Any]:
        """The documented report (docs/check.md), deterministic for given inputs."""
        report = {
            "schema": CHECK_SCHEMA,
            "tool": {"name": "batchver check", "version": __version__},
            "summary": self.summary(),
            "inputs": {
                "baseline": None if self.baseline is None else self.baseline.describe(),
                "current": self.current.describe(),
                "stablelists": None if self.stablelist is None else {
                    "files": self.stablelist.files, "symbols": len(self.stablelist.symbols),
                    "sections": sorted(set(self.stablelist.sections))},
                "protected_by_default": self.stablelist is None,
                "rules": None if self.rules_form is None else {
                    "form": self.rules_form, "count": len(self.rules)},
            },
            "provenance": [d.to_json() for d in self.differences],
            "warnings": self.warnings,
            "notes": self.notes,
            "root_causes": [rc.to_json() for rc in self.root_causes],
            "symbols": [s.to_json() for s in self.changed],
            "protected_unchanged": sorted(s.change.key for s in self.symbols
                                          if s.protected and not s.change.kinds),
            "rules": [r.describe() for r in self.rules],
        }
        if self.consumers is not None:  # the keys exist only when consumers were given
            report["consumers"] = [r.to_json() for r in self.consumers.results]
            report["consumer_root_causes"] = [
                {"root_cause": cause, "modules": sorted({r.module or r.path for r, _ in refusals}),
                 "symbols": sorted({p.symbol for _, p in refusals})}
                for cause, refusals in self.consumers.by_root_cause().items()]
        return report


def _location_notes(baseline: Side, current: Side) -> list[str]:
    """Say where source locations come from when only one side has them."""
    if not (baseline.can_explain and current.can_explain):
        return []
    lacking = [s for s in (baseline, current) if s.locations is None]
    if len(lacking) == 1:
        has = current if lacking[0] is baseline else baseline
        return [f"source locations come from {has.label} only: {lacking[0].label} "
                f"{lacking[0].path} records none (made by a batchver that did not record them)"]
    if len(lacking) == 2:
        return ["neither side records source locations (rerun batchver run --symtypes)"]
    return []


def run_check(baseline_path: str | None, current_path: str, stablelists: list[str] | None = None,
              rules_path: str | None = None, with_explanations: bool = True,
              consumers: list[str] | None = None) -> CheckResult:
    """Run a whole check; raise InputError on bad input.  Without a
    baseline only the consumers are decided."""
    current = load_side("current", current_path)
    report = check_consumers(consumers, current.exports) if consumers else None
    if baseline_path is None:
        return CheckResult(None, current, [], [], [],
                           consumers=report)
    baseline = load_side("baseline", baseline_path)
    stablelist = load_stablelists(stablelists) if stablelists else None
    rules_form, rules = load_rules(rules_path) if rules_path else (None, [])
    warnings: list[str] = []
    notes = baseline.notes + current.notes
    known = {e.symbol for e in baseline.exports} | {e.symbol for e in current.exports}
    if stablelist is not None:
        warnings.extend(check_stablelist_names(stablelist, known))
    else:
        notes.append("no --stablelist: every baseline export is protected")
    policy = Policy(rules, stablelist)
    policy.count_matches(baseline.exports + current.exports)
    changes = classify(baseline, current)
    symbols = [SymbolResult(c, policy.protected(c), policy.decide(c)) for c in changes]
    warnings.extend(f"{r.source}: rule '{r.text}' matches no symbol of baseline or current "
                    "(stale rule?)" for r in rules if r.matched_symbols == 0)
    root_causes: list[RootCause] = []
    if with_explanations:
        root_causes, explanations = explain(baseline, current, changes)
        notes.extend(_location_notes(baseline, current))
        for s in symbols:
            s.explanation = explanations.get(s.change.key)
    differences = compare(baseline, current)
    share = suspicious_share(changes)
    if share:
        warnings.insert(0, share)
    if report is not None:
        explain_refusals(report, {
            s.change.symbol: (s.change.old.crc, s.explanation.root_causes) for s in symbols
            if s.explanation is not None and s.change.old is not None})
    return CheckResult(baseline, current, symbols, root_causes, differences, warnings, notes,
                       stablelist, rules, rules_form, report)

