"""Read a nightly configuration file, refusing anything it does not understand.

A nightly job runs unattended, so a typo must fail loudly before the run
instead of being ignored for months (``stablelsit:`` silently protecting
nothing).  The file is therefore read with PyYAML's composer, which keeps the
position of every node, and checked against a strict schema: every problem
is reported as ``FILE:LINE: KEY: message`` saying what was expected, every
unknown or duplicated key is an error, and all problems are reported at once
so one edit can fix them all.

Relative paths in the file are taken from the file's own directory, so the
same config works from cron, CI or a shell in any directory.

Paths that a tree's ``command`` may create only exist once the command ran,
so existence is checked by :func:`missing_paths`, which ``batchver validate``
calls at load time and ``batchver nightly`` calls per tree at run time (both
name the same ``FILE:LINE``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from batchver.tree.kinds import Semantics, TreeKind
from batchver.yamlschema import (Bad, Key, Problem, Reader, choice, list_of, scalar, shown, string,
                                 yaml_problem)

#: check report formats ``batchver check`` can write, with the file each goes to
REPORT_FILES = {"text": "check.txt", "json": "check.json", "junit": "check.junit.xml",
                "html": "check.html"}
#: joblib's backends a run can use: loky's process pool, threads, a Dask
#: cluster (joblib's ``multiprocessing`` backend cannot hand results back as
#: they finish, which the scheduler needs)
BACKENDS = ("loky", "threading", "dask")
KINDS = ("auto", *(k.value for k in TreeKind))
SEMANTICS = tuple(s.value for s in Semantics)
ON_FAILURE = ("continue", "stop")
#: ``baseline: previous`` compares with this tree's latest completed run
PREVIOUS = "previous"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*\Z")
_SCHEDULER = re.compile(r"(tcp|tls)://[^\s:/]+:\d{1,5}\Z")


class ConfigError(Exception):
    """A config that cannot be used; ``str()`` lists every problem, one a line."""

    def __init__(self, problems: list[Problem]):
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


@dataclass
class TreeConfig:
    """One tree (flavour) of a nightly run."""

    name: str
    path: str | None = None
    command: str | None = None
    timeout: float | None = None
    kind: str = "auto"
    vmlinux: str | None = None
    semantics: str = "kbuild"
    stable: bool = False
    symtypes: bool = True
    baseline: str | None = None
    stablelist: list[str] = field(default_factory=list)
    rules: str | None = None
    #: modules (files or directories) whose load on this tree is checked
    consumers: list[str] = field(default_factory=list)
    #: line of each key given (and of the tree's own entry, under ""), for run-time errors
    lines: dict[str, int] = field(default_factory=dict)
    index: int = 0

    def where(self, config: "NightlyConfig", key: str = "") -> str:
        """``FILE:LINE: trees[i].key`` for a message about this tree's key."""
        line = self.lines.get(key, self.lines.get(""))
        label = f"trees[{self.index}]" + (f".{key}" if key else "")
        return f"{config.file}:{line}: {label}"


@dataclass
class NightlyConfig:
    """A validated config; every path is absolute."""

    file: str
    output: str
    jobs: int = 0
    stable: bool = False
    cache: str | None = None
    reports: list[str] = field(default_factory=lambda: ["json", "text"])
    backend: str = "loky"
    scheduler: str | None = None
    on_failure: str = "continue"
    trees: list[TreeConfig] = field(default_factory=list)
    lines: dict[str, int] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return os.path.dirname(os.path.abspath(self.file))

    def where(self, key: str) -> str:
        return f"{self.file}:{self.lines.get(key, 1)}: {key}"


def _path(node: yaml.Node, base: str) -> str:
    return os.path.normpath(os.path.join(base, os.path.expanduser(string(node, base))))


def _bool(node: yaml.Node, base: str) -> bool:
    value = scalar(node)
    if not isinstance(value, bool):
        raise Bad(f"expected true or false, got {shown(node)}")
    return value


def _count(node: yaml.Node, base: str) -> int:
    value = scalar(node)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise Bad(f"expected a whole number >= 0 (0 = all cores), got {shown(node)}")
    return value


def _seconds(node: yaml.Node, base: str) -> float:
    value = scalar(node)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise Bad(f"expected a number of seconds > 0, got {shown(node)}")
    return float(value)


def _name(node: yaml.Node, base: str) -> str:
    value = scalar(node)
    if not isinstance(value, str) or not _NAME.match(value):
        raise Bad("expected a flavour name of letters, digits, '.', '_', '+' or '-' "
                   f"(it names the output directory), got {shown(node)}")
    return value


def _scheduler(node: yaml.Node, base: str) -> str:
    value = scalar(node)
    if not isinstance(value, str) or not _SCHEDULER.match(value):
        raise Bad(f"expected a Dask scheduler address tcp://HOST:PORT (or tls://), got {shown(node)}")
    return value


def _cache(node: yaml.Node, base: str) -> str | None:
    if scalar(node) is False:
        return None
    try:
        return _path(node, base)
    except Bad:
        raise Bad(f"expected a directory path, or false for no cache, got {shown(node)}") from None


def _baseline(node: yaml.Node, base: str) -> str:
    value = string(node, base)
    return PREVIOUS if value == PREVIOUS else _path(node, base)


_TREE_KEYS: dict[str, Key] = {
    "name": Key(_name, required=True),
    "path": Key(_path),
    "command": Key(string),
    "timeout": Key(_seconds),
    "kind": Key(choice(*KINDS)),
    "vmlinux": Key(_path),
    "semantics": Key(choice(*SEMANTICS)),
    "stable": Key(_bool),
    "symtypes": Key(_bool),
    "baseline": Key(_baseline),
    "stablelist": Key(list_of(_path, "file paths", allow_single=True)),
    "rules": Key(_path),
    "consumers": Key(list_of(_path, "module files or directories", allow_single=True,
                             non_empty=True)),
}

_TOP_KEYS: dict[str, Key] = {
    "output": Key(_path),
    "jobs": Key(_count),
    "stable": Key(_bool),
    "cache": Key(_cache),
    "reports": Key(list_of(choice(*REPORT_FILES), "report formats", allow_single=False,
                             non_empty=True)),
    "backend": Key(choice(*BACKENDS)),
    "scheduler": Key(_scheduler),
    "on_failure": Key(choice(*ON_FAILURE)),
    "trees": Key(lambda node, base: node, required=True),  # checked by Reader.trees
}


class _Reader(Reader):
    """The generic reader plus the one nightly-only check: the trees list."""

    def trees(self, node: yaml.Node, defaults: dict[str, Any]) -> list[TreeConfig]:
        if not isinstance(node, yaml.SequenceNode) or not node.value:
            self.problem(node, "trees", f"expected a non-empty list of trees, got {shown(node)}")
            return []
        trees = []
        seen: dict[str, int] = {}
        for index, tree_node in enumerate(node.value):
            label = f"trees[{index}]"
            values, lines = self.mapping(tree_node, label, _TREE_KEYS,
                                         "a mapping with 'name' and 'path' or 'command'")
            if not isinstance(tree_node, yaml.MappingNode):
                continue
            if "path" not in lines and "command" not in lines:
                self.problem(tree_node, label, "expected 'path' (the tree) or 'command' (which "
                             "produces it), got neither")
            if "timeout" in lines and "command" not in lines:
                self.problem(lines["timeout"], f"{label}.timeout",
                             "only used with 'command'; expected a 'command' or no timeout")
            name = values.get("name")
            if name in seen:
                self.problem(tree_node, f"{label}.name",
                             f"duplicate tree name '{name}' (first on line {seen[name]}); "
                             "expected unique names (each names an output directory)")
            elif name:
                seen[name] = lines["name"]
            given = {k: v for k, v in values.items() if v is not None}
            given.setdefault("stable", defaults["stable"])
            trees.append(TreeConfig(**given, lines=lines, index=index) if name else
                         TreeConfig(name="", lines=lines, index=index))
        return trees


def load_config(file: str, *, check_paths: bool = False) -> NightlyConfig:
    """Read and validate ``file``; raise :class:`ConfigError` listing every problem.

    ``check_paths`` also requires every input path (trees without a command,
    vmlinux, baselines, stablelists, rules, consumers) to exist, as ``batchver validate``
    does; ``batchver nightly`` checks them per tree instead, after the tree's
    command ran.
    """
    reader = _Reader(file)
    try:
        with open(file, encoding="utf-8") as handle:
            document = yaml.compose(handle, Loader=yaml.SafeLoader)
    except OSError as exc:
        raise ConfigError([Problem(file, None, "", f"cannot read config: {exc.strerror or exc}")]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError([Problem(file, None, "", f"not UTF-8 text ({exc.reason} at byte {exc.start})")]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([yaml_problem(file, exc)]) from None
    if document is None:
        raise ConfigError([Problem(file, None, "", "empty config; expected a mapping with a 'trees' list")])
    values, lines = reader.mapping(document, "", _TOP_KEYS, "a mapping with a 'trees' list")
    if values.get("scheduler") and values.get("backend") != "dask":
        reader.problem(lines["scheduler"], "scheduler",
                       "only used with 'backend: dask'; expected 'backend: dask' or no scheduler")
    defaults = {"stable": values.get("stable") or False}
    trees = reader.trees(values["trees"], defaults) if values.get("trees") is not None else []
    output = values.get("output") or os.path.join(reader.base, "results")
    config = NightlyConfig(
        file=file, output=output, jobs=values.get("jobs") or 0, stable=defaults["stable"],
        cache=(values["cache"] if "cache" in lines else os.path.join(output, ".cache")),
        reports=values.get("reports") or ["json", "text"],
        backend=values.get("backend") or "loky", scheduler=values.get("scheduler"),
        on_failure=values.get("on_failure") or "continue", trees=trees, lines=lines)
    if check_paths and not reader.problems:
        for tree in trees:
            reader.problems.extend(missing_paths(config, tree, before_command=True))
    if reader.problems:
        raise ConfigError(sorted(reader.problems, key=lambda p: (p.line or 0, p.key)))
    return config


def missing_paths(config: NightlyConfig, tree: TreeConfig, *, before_command: bool) -> list[Problem]:
    """Input paths of ``tree`` that do not exist.  Before the tree's command
    ran (``before_command``), its ``path`` and ``vmlinux`` are not required
    yet, since the command may create them."""
    wanted: list[tuple[str, str, str]] = []  # key, path, "directory" | "file" | "file or directory"
    if tree.path and not (before_command and tree.command):
        wanted.append(("path", tree.path, "directory"))
    if tree.vmlinux and not (before_command and tree.command):
        wanted.append(("vmlinux", tree.vmlinux, "file"))
    if tree.baseline and tree.baseline != PREVIOUS:
        wanted.append(("baseline", tree.baseline, "file or directory"))
    wanted += [("stablelist", path, "file") for path in tree.stablelist]
    if tree.rules:
        wanted.append(("rules", tree.rules, "file"))
    wanted += [("consumers", path, "file or directory") for path in tree.consumers]
    problems = []
    for key, path, kind in wanted:
        ok = {"directory": os.path.isdir, "file": os.path.isfile}.get(kind, os.path.exists)(path)
        if not ok:
            state = "does not exist" if not os.path.exists(path) else f"is not a {kind}"
            problems.append(Problem(config.file, tree.lines.get(key), f"trees[{tree.index}].{key}",
                                    f"expected an existing {kind}; '{path}' {state}"))
    return problems
