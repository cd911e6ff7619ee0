"""Which changes matter: stablelists, severity rules and verdicts.

**Stablelist** (``--stablelist FILE``, repeatable): the kABI-protected
symbols.  One symbol per line; ``#`` starts a comment; ``[section]`` headers
(the style of RHEL's ``kabi_stablelist_<arch>`` files, whose symbols are
indented under ``[rhel9_x86_64_stablelist]``-like headers) are accepted and
recorded.  Anything else on a line is an error naming file and line.  Names
that neither side exports are warned about with their line, and a list none
of whose names exist anywhere is an error: it is the wrong list.

**Severity rules** (``--rules FILE``) in one of two forms:

* the text form release engineers already keep, as SUSE's suse-kabi-tools
  defines it (``suse-kabi-tools(5)``, "kABI severity rules"): one rule per
  line, ``PATTERN PASS|FAIL``, ``#`` comments, first matching rule wins.
  PATTERN is a module when it contains ``/`` or is ``vmlinux``, a namespace
  when it is all capitals (``pattern == pattern.upper()``; note that ``*``
  is therefore a namespace pattern, exactly as there), otherwise a symbol;
  ``*`` and ``?`` are the only wildcards.  A namespace rule matches only
  symbols that have a namespace;
* a YAML form (``.yaml``/``.yml``, or a file starting with ``rules:``) that
  can also say ``warn`` and name change kinds::

      rules:
        - symbol: "demo_*"          # and/or module:, namespace: (globs)
          changes: [crc_changed]    # optional: the kinds this rule judges
          verdict: warn             # pass | warn | fail

A rule without ``changes`` judges every kind except ``added``, in both
forms, as ``ksymvers compare`` does: an addition breaks nothing built
against the baseline, so a rule guarding existing symbols must not fail the
gate when one is added.  Listing ``added`` makes a YAML rule judge them.

**Verdicts.**  Each change kind of a symbol is judged by the first rule that
matches it, else by the default: a protected symbol that is removed or
changed in any way fails, anything else warns (including a symbol with no
version on either side: it cannot be compared, but nothing is seen to
change).  The symbol's verdict is the worst of its kinds.  Without a
stablelist every baseline export counts as protected, so a bare ``check``
is a strict gate rather than a silent pass.

**Stale rules**: a rule whose pattern matches no symbol of either side is
reported, since stale rules are how gates silently rot.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import yaml

from batchver.errors import InputError
from batchver.symvers import ExportRecord
from batchver.gate.classify import CHANGE_KINDS, SymbolChange
from batchver.gate.globs import GlobIndex
from batchver.yamlschema import Bad, Checker, Key, Reader, list_of, shown, yaml_problem

VERDICTS = ("pass", "warn", "fail")
_RANK = {"none": -1, "pass": 0, "warn": 1, "fail": 2}
_SYMBOL = re.compile(r"[A-Za-z_.$][\w.$]*\Z")
_SECTION = re.compile(r"\[([^\]\s]+)\]\Z")


# -- stablelists -------------------------------------------------------------
@dataclass
class Stablelist:
    """The union of the protected-symbol lists given on the command line."""

    files: list[str] = field(default_factory=list)
    symbols: dict[str, tuple[str, int, str]] = field(default_factory=dict)  # name -> (file, line, section)
    sections: list[str] = field(default_factory=list)

    def __contains__(self, name: str) -> bool:
        return name in self.symbols


def load_stablelists(paths: list[str]) -> Stablelist:
    """Parse every stablelist; raise :class:`InputError` on anything that is
    not a comment, a ``[section]`` header or one symbol name."""
    result = Stablelist()
    for path in paths:
        try:
            with open(path, encoding="utf-8", errors="surrogateescape") as handle:
                lines = handle.read().split("\n")
        except FileNotFoundError:
            raise InputError(path, "no such file (stablelist)") from None
        except OSError as exc:
            raise InputError(path, f"cannot read stablelist: {exc.strerror}") from None
        result.files.append(path)
        section = ""
        found = 0
        for number, raw in enumerate(lines, 1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            header = _SECTION.match(line)
            if header:
                section = header.group(1)
                result.sections.append(section)
                continue
            words = line.split()
            if len(words) > 1 and words[0].startswith("0x"):
                raise InputError(path, "looks like a Module.symvers line; a stablelist has one "
                                       "symbol name per line", number)
            if len(words) > 1 or not _SYMBOL.match(line):
                raise InputError(path, f"expected one symbol name per line, got {line[:60]!r}",
                                 number)
            result.symbols.setdefault(line, (path, number, section))
            found += 1
        if found == 0:
            raise InputError(path, "stablelist names no symbol (a check must not pass because "
                                   "an input was empty)")
    return result


def check_stablelist_names(stablelist: Stablelist, known: set[str]) -> list[str]:
    """Warnings for listed names no side exports; an error when none exists."""
    absent = [(name, where) for name, where in stablelist.symbols.items() if name not in known]
    if absent and len(absent) == len(stablelist.symbols):
        raise InputError(stablelist.files[0] if len(stablelist.files) == 1
                         else ", ".join(stablelist.files),
                         f"none of its {len(absent)} symbols is exported by baseline or current: "
                         "wrong list for this kernel?")
    return [f"{path}:{line}: protected symbol {name} is exported by neither baseline nor current"
            for name, (path, line, _) in absent]


# -- rules -------------------------------------------------------------------
@dataclass
class Rule:
    """One severity rule; ``matchers`` maps symbol/module/namespace to a glob
    and every matcher must match."""

    source: str  # "file:line"
    text: str
    verdict: str
    matchers: dict[str, str]
    changes: frozenset[str] | None = None  # None: every kind the rule format judges
    matched_symbols: int = 0
    decided: int = 0

    def judges(self, kind: str) -> bool:
        """Whether the rule decides changes of this kind: the kinds it
        lists, else every kind but ``added`` (see the module doc)."""
        return kind in self.changes if self.changes is not None else kind != "added"

    def describe(self) -> dict[str, Any]:
        return {"source": self.source, "rule": self.text, "verdict": self.verdict,
                "matched_symbols": self.matched_symbols, "decided": self.decided,
                "stale": self.matched_symbols == 0}


def _suse_pattern_kind(pattern: str) -> str:
    if "/" in pattern or pattern == "vmlinux":
        return "module"
    return "namespace" if pattern == pattern.upper() else "symbol"


def parse_text_rules(path: str, text: str) -> list[Rule]:
    """suse-kabi-tools' severity file: ``PATTERN PASS|FAIL`` per line."""
    rules = []
    for number, raw in enumerate(text.split("\n"), 1):
        words = raw.split("#", 1)[0].split()
        if not words:
            continue
        if len(words) == 1:
            raise InputError(path, f"rule '{words[0]}' does not specify a verdict (PASS or FAIL)",
                             number)
        if words[1] not in ("PASS", "FAIL"):
            raise InputError(path, f"invalid verdict '{words[1]}', must be either PASS or FAIL",
                             number)
        if len(words) > 2:
            raise InputError(path, f"unexpected '{words[2]}' after the verdict", number)
        rules.append(Rule(f"{path}:{number}", f"{words[0]} {words[1]}", words[1].lower(),
                          {_suse_pattern_kind(words[0]): words[0]}))
    return rules


def _pattern(node: yaml.Node, base: str) -> str:
    """A pattern, verdict or change kind as written: one plain string
    (``symbol: 2024*`` is the pattern ``2024*``); a list, a mapping or an
    empty value is an error, not a pattern made of its Python spelling."""
    if not isinstance(node, yaml.ScalarNode) or node.tag.endswith(":null") or not node.value:
        raise Bad(f"expected one string, got {shown(node)}")
    value: str = node.value  # a scalar node's value is its text
    return value


def _one_of(options: tuple[str, ...], fold: bool = False) -> Checker:
    def check(node: yaml.Node, base: str) -> str:
        value = _pattern(node, base)
        value = value.lower() if fold else value
        if value not in options:
            raise Bad(f"expected one of {', '.join(options)}, got {shown(node)}")
        return value
    return check


_RULE_KEYS: dict[str, Key] = {
    "symbol": Key(_pattern), "module": Key(_pattern), "namespace": Key(_pattern),
    "changes": Key(list_of(_one_of(CHANGE_KINDS), "change kinds", allow_single=True,
                           non_empty=True)),
    "verdict": Key(_one_of(VERDICTS, fold=True), required=True),
}
_TOP_KEYS: dict[str, Key] = {
    "rules": Key(lambda node, base: node, required=True),  # each rule checked below
    "version": Key(lambda node, base: node),
}


def parse_yaml_rules(path: str, text: str) -> list[Rule]:
    """The YAML form: a ``rules`` list of mappings (see the module doc),
    checked node by node like a nightly config (:mod:`batchver.yamlschema`);
    the first problem by line is the error."""
    reader = Reader(path)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        problem = yaml_problem(path, exc)
        raise InputError(path, problem.message, problem.line) from None
    if root is None:
        raise InputError(path, "empty; expected a mapping with a 'rules' list")
    top, _ = reader.mapping(root, "", _TOP_KEYS, "a mapping with a 'rules' list")
    node = top.get("rules")
    rules = []
    if node is not None and not isinstance(node, yaml.SequenceNode):
        reader.problem(node, "rules", f"expected a list of rules, got {shown(node)}")
    elif node is not None:
        for index, item in enumerate(node.value):
            label = f"rules[{index}]"
            before = len(reader.problems)
            values, lines = reader.mapping(item, label, _RULE_KEYS, "a mapping with a 'verdict'")
            matchers: dict[str, str] = {k: values[k] for k in ("symbol", "module", "namespace")
                                        if k in values}
            if isinstance(item, yaml.MappingNode) and not matchers:
                reader.problem(item, label, "expected at least one of symbol, module, namespace")
            if len(reader.problems) > before:
                continue
            changes = frozenset(values["changes"]) if "changes" in values else None
            verdict = values["verdict"]
            text_form = " ".join(f"{k}={v}" for k, v in matchers.items())
            if changes is not None:
                text_form += f" changes={','.join(sorted(changes))}"
            rules.append(Rule(f"{path}:{lines['']}", f"{text_form} {verdict}", verdict, matchers,
                              changes))
    if reader.problems:
        first = min(reader.problems, key=lambda p: (p.line or 0, p.key))
        raise InputError(path, f"{first.key}: {first.message}" if first.key else first.message,
                         first.line)
    return rules


def load_rules(path: str) -> tuple[str, list[Rule]]:
    """Read a rules file in either form; return (form, rules)."""
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as handle:
            text = handle.read()
    except FileNotFoundError:
        raise InputError(path, "no such file (rules)") from None
    except OSError as exc:
        raise InputError(path, f"cannot read rules: {exc.strerror}") from None
    first = next((ln.strip() for ln in text.split("\n")
                  if ln.strip() and not ln.lstrip().startswith("#")), "")
    is_yaml = (os.path.splitext(path)[1] in (".yaml", ".yml")
               or first.startswith(("rules:", "version:", "---")))
    form = "yaml" if is_yaml else "suse"
    rules = parse_yaml_rules(path, text) if is_yaml else parse_text_rules(path, text)
    if not rules:
        raise InputError(path, "no rules in the file (a check must not pass because an input "
                               "was empty)")
    return form, rules


# -- verdicts ----------------------------------------------------------------
@dataclass
class Decision:
    """The verdict on one symbol, with the kind and rule that decided it."""

    verdict: str  # "none" (unchanged), "pass", "warn", "fail"
    kind: str | None = None
    rule: str | None = None  # "file:line", or None for the default
    reason: str = ""


_MATCHED_ATTRS = ("symbol", "module", "namespace")


@dataclass
class Policy:
    """The rules and the stablelist.  Which rules match an export is worked
    out once per export through one :class:`~.globs.GlobIndex` per rule
    attribute, since both the stale-rule counts and every verdict need it."""

    rules: list[Rule]
    stablelist: Stablelist | None
    _indexes: dict[str, tuple[list[int], GlobIndex]] = field(default_factory=dict, repr=False)
    _matches: dict[tuple[str, str, str], list[Rule]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for attr in _MATCHED_ATTRS:
            numbers = [n for n, rule in enumerate(self.rules) if attr in rule.matchers]
            if numbers:
                self._indexes[attr] = (numbers, GlobIndex([self.rules[n].matchers[attr]
                                                           for n in numbers]))

    def protected(self, change: SymbolChange) -> bool:
        if self.stablelist is None:
            return change.old is not None  # every baseline export
        return change.symbol in self.stablelist

    def matching(self, export: ExportRecord) -> list[Rule]:
        """The rules every one of whose patterns matches the export, in file
        order.  A namespace rule needs a namespace (as ``ksymvers``)."""
        identity = (export.symbol, export.module, export.namespace)
        found = self._matches.get(identity)
        if found is None:
            hits: Counter[int] = Counter()
            for attr, (numbers, index) in self._indexes.items():
                value = getattr(export, attr)
                if value or attr != "namespace":
                    hits.update(numbers[i] for i in index.matching(value))
            found = self._matches[identity] = [
                self.rules[n] for n in sorted(hits) if hits[n] == len(self.rules[n].matchers)]
        return found

    def count_matches(self, exports: list[ExportRecord]) -> None:
        """Count, per rule, the distinct symbols it names on either side."""
        named: dict[int, set[str]] = {}
        for export in exports:
            for rule in self.matching(export):
                named.setdefault(id(rule), set()).add(export.symbol)
        for rule in self.rules:
            rule.matched_symbols = len(named.get(id(rule), ()))

    def decide(self, change: SymbolChange) -> Decision:
        if not change.kinds:
            return Decision("none")
        protected = self.protected(change)
        subject = change.new if change.old is None else change.old
        if subject is None:
            raise ValueError(f"{change.symbol}: exported on neither side")
        worst = Decision("none")
        for kind in change.kinds:
            rule = next((r for r in self.matching(subject) if r.judges(kind)), None)
            if rule is not None:
                rule.decided += 1
                decision = Decision(rule.verdict, kind, rule.source, f"rule {rule.text}")
            elif kind == "crc_unavailable" and all(e.crc is None for e in change.pair()):
                # Never versioned on either side (e.g. vmlinux exports without
                # DWARF, the same every night): nothing is seen to change.
                decision = Decision("warn", kind, None, "no version on either side")
            elif protected and kind != "added":
                decision = Decision("fail", kind, None, "protected symbol " + (
                    "removed" if kind == "removed" else "changed"))
            else:
                decision = Decision("warn", kind, None,
                                    "addition" if kind == "added" else "not protected")
            if _RANK[decision.verdict] > _RANK[worst.verdict]:
                worst = decision
        return worst
