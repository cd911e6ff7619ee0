"""The package's shape, as ARCHITECTURE.md draws it: data flows one way
through the stage packages, and nothing imports in a circle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "batchver"

# Lower layers never import from higher ones.  Shared modules at the top of
# the package (errors, atomic, compressed, ...) sit below every stage.
LAYERS = ["elf", "dwarf", "gendwarfksyms", "tree", "gate", "nightly", "cli"]


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    """Every batchver module and the batchver modules it imports, at any
    depth of the file (lazy imports in functions count too)."""
    graph: dict[str, set[str]] = {}
    modules = {_module_name(p) for p in PACKAGE.rglob("*.py")}
    for path in PACKAGE.rglob("*.py"):
        name = _module_name(path)
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            found.update(t for t in targets if t in modules and t != name)
        graph[name] = found
    return graph


def _layer(module: str) -> int | None:
    parts = module.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 and parts[1] in LAYERS else None


def test_no_import_cycles():
    graph = _imports()
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            # a package's __init__ re-exporting its own modules is not a cycle
            if nxt.startswith(node + ".") or node.startswith(nxt + "."):
                continue
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [])
    assert cycles == []


@pytest.mark.parametrize("layer", LAYERS)
def test_imports_flow_one_way(layer):
    """A stage imports only from stages before it (and shared modules)."""
    graph = _imports()
    rank = LAYERS.index(layer)
    wrong = sorted(f"{m} -> {t}" for m, targets in graph.items() if _layer(m) == rank
                   for t in targets if (_layer(t) or 0) > rank)
    assert wrong == []


def test_shared_modules_import_no_stage():
    graph = _imports()
    wrong = sorted(f"{m} -> {t}" for m, targets in graph.items()
                   if m not in ("batchver", "batchver.__main__") and _layer(m) is None
                   for t in targets if _layer(t) is not None)
    assert wrong == []
