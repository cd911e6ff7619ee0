"""Which path runs: the hot modules compiled by mypyc, or their pure source.

The Python source is the only source of the algorithm.  An ordinary install
(``pip install .``, ``pip install -e .``, a wheel) compiles the modules
``setup.py`` lists with mypyc, and records the SHA-256 of each one's source
(with its size and modification time) in :data:`BUILD_RECORD` beside them.  Both forms then sit side by side, and
Python would import the compiled one.  This module decides, once per
process when ``batchver`` is imported, whether that may happen:

* ``BATCHVER_PURE=1`` in the environment: the pure modules run;
* no build record (no compiler at install time, or ``BATCHVER_PURE=1``
  then): the pure modules run;
* a source edited since it was compiled (the common case in an editable
  install), or a compiled file missing: the pure modules run, all of them,
  because mypyc's compiled modules call each other directly and one stale
  module would leak into the others.  The edit takes effect; ``batchver
  --version`` and report.json's ``tool`` section say why the pure path ran.

A source whose size and modification time are still those recorded is the
one compiled; only another is hashed, so that a start (``batchver
gendwarfksyms`` runs once per object under kbuild) reads no sources and
loads no hash library.

Both paths give the same bytes: the test suite runs on each.
"""

from __future__ import annotations

import importlib.machinery
import os
import sys

# Not ``typing.TYPE_CHECKING``: typing, like importlib.util, is not imported
# at run time, since every start of the drop-in imports this module.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import ModuleType
    from typing import Sequence

#: Written by setup.py next to this file: a line "compiler mypyc", then one
#: line per compiled module: its name, and the SHA-256, size and st_mtime_ns
#: of its .py.
BUILD_RECORD = "_native_build.txt"
PURE_VARIABLE = "BATCHVER_PURE"

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def _source(name: str) -> str:
    """The .py file of module ``name`` (``batchver.x.y``)."""
    return os.path.join(_PACKAGE_DIR, *name.split(".")[1:]) + ".py"


def _compiled_file(name: str) -> str | None:
    folder = os.path.dirname(_source(name))
    stem = name.rsplit(".", 1)[-1]
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        if os.path.isfile(os.path.join(folder, stem + suffix)):
            return os.path.join(folder, stem + suffix)
    return None


def _sha256(path: str) -> str:
    import hashlib  # only for a source that is not as recorded

    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def _as_recorded(path: str, size: str, mtime_ns: str) -> bool:
    """Whether the file still has the size and modification time recorded
    when it was compiled."""
    st = os.stat(path)
    return (str(st.st_size), str(st.st_mtime_ns)) == (size, mtime_ns)


def _read_record() -> dict[str, tuple[str, str, str]] | None:
    """The build record: each compiled module's (sha256, size, mtime_ns)
    of its source; None without a readable record."""
    try:
        with open(os.path.join(_PACKAGE_DIR, BUILD_RECORD), encoding="utf-8") as handle:
            lines = [line.split() for line in handle]
    except (OSError, ValueError):
        return None
    if not lines or lines[0] != ["compiler", "mypyc"] or any(len(line) != 4 for line in lines[1:]):
        return None
    return {name: (digest, size, mtime) for name, digest, size, mtime in lines[1:]}


class _PureFinder:
    """A meta path finder that finds the listed modules' ``.py`` files
    ahead of their compiled twins."""

    def __init__(self, names: frozenset[str]):
        self.names = names

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname not in self.names:
            return None
        import importlib.util  # only when the pure path runs

        return importlib.util.spec_from_file_location(fullname, _source(fullname))


def _decide() -> tuple[str, frozenset[str]]:
    """(what runs, in words; the modules to load from source)."""
    modules = _read_record()
    if modules is None:
        return "pure Python (not compiled at install)", frozenset()
    names = frozenset(modules)
    if os.environ.get(PURE_VARIABLE, "") not in ("", "0"):
        return f"pure Python ({PURE_VARIABLE}={os.environ[PURE_VARIABLE]})", names
    for name, (digest, size, mtime_ns) in sorted(modules.items()):
        if _compiled_file(name) is None:
            return f"pure Python (no compiled file for {name}: reinstall to compile)", names
        try:
            changed = not _as_recorded(_source(name), size, mtime_ns) and _sha256(_source(name)) != digest
        except OSError:
            return f"pure Python ({name}'s source is missing)", names
        if changed:
            return (f"pure Python ({os.path.relpath(_source(name), os.path.dirname(_PACKAGE_DIR))} "
                    "changed since it was compiled: reinstall to compile again)"), names
    return f"compiled by mypyc ({len(names)} modules)", frozenset()


STATUS, PURE_MODULES = _decide()
COMPILED = STATUS.startswith("compiled")


def install() -> None:
    """Make the pure modules win, when they must (see the module docstring).
    Called once, by ``batchver/__init__.py``, before any hot module loads."""
    if PURE_MODULES and not any(isinstance(f, _PureFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _PureFinder(PURE_MODULES))
