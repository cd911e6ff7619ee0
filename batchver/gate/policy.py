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
  symbols that have a namespace.  Text rules judge every change except an
  addition, as ``ksymvers compare`` does;
* a YAML form (``.yaml``/``.yml``, or a file starting with ``rules:``) that
  can also say ``warn`` and name change kinds::

      rules:
        - symbol: "demo_*"          # and/or module:, namespace: (globs)
          changes: [crc_changed]    # optional: the kinds this rule judges
          verdict: warn             # pass | warn | fail

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
from dataclasses import dataclass, field

import yaml

from batchver.gate.baseline import Export, InputError
from batchver.gate.classify import CHANGE_KINDS, SymbolChange

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
def _glob(pattern: str) -> re.Pattern:
    """suse-kabi-tools wildcards: ``*`` and ``?`` only, whole-string match."""
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts) + r"\Z")


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
    _compiled: dict[str, re.Pattern] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._compiled = {k: _glob(v) for k, v in self.matchers.items()}

    def matches_export(self, export: Export) -> bool:
        for attr, regex in self._compiled.items():
            value = getattr(export, attr)
            if attr == "namespace" and not value:
                return False  # as ksymvers: namespace rules need a namespace
            if not regex.match(value):
                return False
        return True

    def judges(self, kind: str) -> bool:
        return kind in self.changes if self.changes is not None else kind != "added"

    def describe(self) -> dict:
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


_YAML_KEYS = {"symbol", "module", "namespace", "changes", "verdict"}


def parse_yaml_rules(path: str, text: str) -> list[Rule]:
    """The YAML form: a ``rules`` list of mappings (see the module doc)."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise InputError(path, f"not valid YAML: {exc.problem}", line) from None
    if not isinstance(root, yaml.MappingNode):
        raise InputError(path, "expected a mapping with a 'rules' list", 1)
    top = {k.value: v for k, v in root.value}
    unknown = set(top) - {"rules", "version"}
    if unknown:
        raise InputError(path, f"unknown key(s) {', '.join(sorted(unknown))} (expected 'rules')",
                         root.start_mark.line + 1)
    node = top.get("rules")
    if not isinstance(node, yaml.SequenceNode):
        raise InputError(path, "'rules' must be a list", (node or root).start_mark.line + 1)
    rules = []
    for item in node.value:
        line = item.start_mark.line + 1
        if not isinstance(item, yaml.MappingNode):
            raise InputError(path, "each rule must be a mapping", line)
        data = yaml.safe_load(yaml.serialize(item))
        bad = set(data) - _YAML_KEYS
        if bad:
            raise InputError(path, f"unknown rule key(s) {', '.join(sorted(map(str, bad)))} "
                                   f"(allowed: {', '.join(sorted(_YAML_KEYS))})", line)
        verdict = str(data.get("verdict", "")).lower()
        if verdict not in VERDICTS:
            raise InputError(path, f"verdict must be one of {', '.join(VERDICTS)}, got "
                                   f"{data.get('verdict')!r}", line)
        matchers = {k: str(data[k]) for k in ("symbol", "module", "namespace") if k in data}
        if not matchers:
            raise InputError(path, "a rule needs at least one of symbol, module, namespace", line)
        changes = None
        if "changes" in data:
            listed = data["changes"] if isinstance(data["changes"], list) else [data["changes"]]
            wrong = [str(c) for c in listed if c not in CHANGE_KINDS]
            if wrong or not listed:
                raise InputError(path, f"unknown change kind(s) {', '.join(wrong) or '(none)'} "
                                       f"(known: {', '.join(CHANGE_KINDS)})", line)
            changes = frozenset(listed)
        text_form = " ".join(f"{k}={v}" for k, v in matchers.items())
        if changes is not None:
            text_form += f" changes={','.join(sorted(changes))}"
        rules.append(Rule(f"{path}:{line}", f"{text_form} {verdict}", verdict, matchers, changes))
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


@dataclass
class Policy:
    rules: list[Rule]
    stablelist: Stablelist | None

    def protected(self, change: SymbolChange) -> bool:
        if self.stablelist is None:
            return change.old is not None  # every baseline export
        return change.symbol in self.stablelist

    def count_matches(self, exports: list[Export]) -> None:
        """Count, per rule, the distinct symbols it names on either side."""
        for rule in self.rules:
            rule.matched_symbols = len({e.symbol for e in exports if rule.matches_export(e)})

    def decide(self, change: SymbolChange) -> Decision:
        if not change.kinds:
            return Decision("none")
        protected = self.protected(change)
        subject = change.new if change.old is None else change.old
        worst = Decision("none")
        for kind in change.kinds:
            rule = next((r for r in self.rules if r.judges(kind) and r.matches_export(subject)),
                        None)
            if rule is not None:
                rule.decided += 1
                decision = Decision(rule.verdict, kind, rule.source, f"rule {rule.text}")
            elif kind == "crc_unavailable" and change.old.crc is None and change.new.crc is None:
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
