"""Validate YAML documents node by node, naming ``FILE:LINE: KEY`` for
every problem: the one way batchver reads YAML (nightly configs, check
rules).

A document is composed into nodes, never loaded into Python values first,
so every problem keeps the line it stands on, a value is checked as written
(``symbol: 2024*`` stays a string, ``on`` is not silently ``True`` where a
name is expected) and repeated or unknown keys are seen.  A schema maps each
key to a :data:`Checker`; :class:`Reader` collects every problem instead of
stopping at the first, so one run of ``batchver validate`` lists them all.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass
from typing import Any, Callable

import yaml


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a config, and where."""

    file: str
    line: int | None
    key: str
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class Bad(Exception):
    """A value check failed; the message says what was expected.  ``node``
    and ``suffix`` point at the offending item when it is inside a list."""

    def __init__(self, message: str, node: yaml.Node | None = None, suffix: str = ""):
        super().__init__(message)
        self.node = node
        self.suffix = suffix


def line_of(node: yaml.Node) -> int:
    return node.start_mark.line + 1


_SCALARS = yaml.SafeLoader("")  # only used to resolve scalar nodes to Python values


def scalar(node: yaml.Node) -> Any:
    if not isinstance(node, yaml.ScalarNode):
        return node  # callers check the kind they need
    return _SCALARS.construct_object(node, deep=True)


def shown(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    value = scalar(node)
    return "nothing (null)" if value is None else repr(value)


# -- value checkers: node -> value, raising Bad("expected ...") -------------
Checker = Callable[[yaml.Node, str], Any]


def string(node: yaml.Node, base: str) -> str:
    value = scalar(node)
    if not isinstance(value, str) or not value.strip():
        raise Bad(f"expected a non-empty string, got {shown(node)}")
    return value


def choice(*options: str) -> Checker:
    def check(node: yaml.Node, base: str) -> str:
        value = scalar(node)
        if not isinstance(value, str) or value not in options:
            raise Bad(f"expected one of {', '.join(options)}, got {shown(node)}")
        return value
    return check


def list_of(item: Checker, what: str, allow_single: bool, non_empty: bool = False) -> Checker:
    """A list whose items all pass ``item`` (or, if allowed, one bare item)."""
    def check(node: yaml.Node, base: str) -> list[Any]:
        if isinstance(node, yaml.SequenceNode):
            items = node.value
            if non_empty and not items:
                raise Bad(f"expected a non-empty list of {what}, got an empty list")
        elif allow_single and isinstance(node, yaml.ScalarNode):
            items = [node]
        else:
            raise Bad(f"expected a list of {what}, got {shown(node)}")
        values: list[Any] = []
        for position, child in enumerate(items):
            try:
                values.append(item(child, base))
            except Bad as exc:
                raise Bad(str(exc), child, f"[{position}]") from None
        return values
    return check


@dataclass(frozen=True)
class Key:
    check: Checker
    required: bool = False


class Reader:
    """Walks the composed document, collecting problems instead of stopping."""

    def __init__(self, file: str):
        self.file = file
        self.base = os.path.dirname(os.path.abspath(file))
        self.problems: list[Problem] = []

    def problem(self, where: yaml.Node | int | None, key: str, message: str) -> None:
        """Record a problem at a node or a line number."""
        line = line_of(where) if isinstance(where, yaml.Node) else where
        self.problems.append(Problem(self.file, line, key, message))

    def mapping(self, node: yaml.Node, label: str, schema: dict[str, Key],
                what: str) -> tuple[dict[str, Any], dict[str, int]]:
        """Check one mapping against its schema: values by key and their lines."""
        values: dict[str, Any] = {}
        lines: dict[str, int] = {}
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, label, f"expected {what}, got {shown(node)}")
            return values, {"": line_of(node)}
        prefix = f"{label}." if label else ""
        for key_node, value_node in node.value:
            key = scalar(key_node)
            if not isinstance(key, str):
                self.problem(key_node, label or "(top level)",
                             f"expected a key name, got {shown(key_node)}")
                continue
            if key in lines:
                self.problem(key_node, prefix + key, f"duplicate key (first given on line {lines[key]})")
                continue
            lines[key] = line_of(key_node)
            if key not in schema:
                close = difflib.get_close_matches(key, schema, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                self.problem(key_node, prefix + key,
                             f"unknown key{hint}; expected one of: {', '.join(sorted(schema))}")
                continue
            try:
                values[key] = schema[key].check(value_node, self.base)
            except Bad as exc:
                self.problem(exc.node or value_node, prefix + key + exc.suffix, str(exc))
                values[key] = None
        for key, spec in schema.items():
            if spec.required and key not in lines:
                self.problem(node, label or "(top level)", f"missing required key '{key}'")
        lines[""] = line_of(node)  # the mapping's own line, for messages about it as a whole
        return values, lines

def yaml_problem(file: str, exc: yaml.YAMLError) -> Problem:
    """PyYAML's error as one line: where it gave up, what it was doing."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    message = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    if mark is not None:
        message += f" (column {mark.column + 1})"
    context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if context and context_mark is not None:
        message += f", {context} started at line {context_mark.line + 1}"
    return Problem(file, mark.line + 1 if mark is not None else None, "", f"malformed YAML: {message}")
