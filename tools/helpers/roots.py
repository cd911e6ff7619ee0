"""Named roots: where the tools keep their data, and how they write paths.

Results under results/ are committed and read on other machines, so a tool
never records one machine's absolute path: it writes a path relative to a
named root (``<cache>/debian-6.12.117-cloud/...``, ``<shared>/corpus/...``,
``<repo>/...``) and the interpreter as ``python``.  The roots are the same
everywhere: the cache is ``$XDG_CACHE_HOME/batchver`` (else
``~/.cache/batchver``), the shared corpus ``$BATCHVER_SHARED`` (else
``../shared`` beside the repository, as tests/conftest.py looks for it).
"""

from __future__ import annotations

import html
import os
import re
import sys
from pathlib import Path
from typing import Any, Mapping

REPO = Path(__file__).resolve().parents[2]
CACHE_HELP = "$XDG_CACHE_HOME/batchver, else ~/.cache/batchver"
SHARED_HELP = "$BATCHVER_SHARED, else ../shared beside the repository"


def default_cache() -> Path:
    """The user's cache directory for batchver (XDG base directory rule)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "batchver"


def shared_root() -> Path:
    """The directory holding the shared corpus (``corpus/``)."""
    return Path(os.environ.get("BATCHVER_SHARED") or REPO.parent / "shared")


class Roots:
    """Rewrites absolute paths as ``<name>/rest`` for the roots it is given.

    The repository, the cache and the shared corpus are always known; a tool
    adds its own (a temporary output, a staged tree).  Both the path as given
    and its resolved form are matched, longest first, and only at a path
    component boundary, so ``/a/cache2`` is not taken for ``/a/cache``.
    """

    def __init__(self, extra: Mapping[str, str | Path | None] | None = None,
                 cache: str | Path | None = None) -> None:
        self._extra, self._cache = dict(extra or {}), cache
        named: dict[str, str | Path | None] = {
            "<repo>": REPO, "<cache>": cache or default_cache(), "<shared>": shared_root()}
        named.update(extra or {})
        pairs = {}
        for name, path in named.items():
            if path:
                for form in (os.path.abspath(path), os.path.realpath(path)):
                    if form != os.sep:
                        pairs.setdefault(form, name)
        self._roots = sorted(pairs.items(), key=lambda pair: -len(pair[0]))
        self._pattern = re.compile("|".join(f"({re.escape(path)})(?![^/\\s\"'`),;:])"
                                            for path, _ in self._roots)) if self._roots else None

    def plus(self, extra: Mapping[str, str | Path | None]) -> Roots:
        """These roots and more (a run's temporary output, say)."""
        return Roots({**self._extra, **extra}, self._cache)

    def __call__(self, text: str) -> str:
        """``text`` with every absolute path under a root written by name."""
        if self._pattern is None:
            return text
        return self._pattern.sub(lambda match: self._roots[match.lastindex - 1][1], text)

    def html(self, page: str) -> str:
        """An HTML page with its paths written by name (the names escaped)."""
        if self._pattern is None:
            return page
        return self._pattern.sub(lambda match: html.escape(self._roots[match.lastindex - 1][1]), page)

    def path(self, path: str | Path) -> str:
        """One path, absolute or not, in its named form."""
        return self(os.path.abspath(path))

    def command(self, argv: list[str]) -> str:
        """A command line as it should be recorded: the interpreter as
        ``python``, a tool of this repository as the module it is run as
        (``python -m tools.bench.bench``: under ``-m``, ``sys.argv[0]`` is
        its file), every other path argument by its root."""
        python = os.path.realpath(sys.executable)
        return " ".join("python" if os.path.isabs(arg) and os.path.realpath(arg) == python
                        else _module_of(arg) or self(arg) for arg in argv)

    def data(self, value: Any) -> Any:
        """A JSON-able value with every string in it rewritten."""
        if isinstance(value, str):
            return self(value)
        if isinstance(value, dict):
            return {key: self.data(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.data(item) for item in value]
        return value


def _module_of(arg: str) -> str | None:
    """``-m tools.<kind>.<name>`` for a file of tools/ or tests/support/, as
    the tools are run; None for anything else."""
    path = Path(arg)
    if path.suffix != ".py" or not path.is_absolute():
        return None
    try:
        parts = path.resolve().relative_to(REPO).with_suffix("").parts
    except ValueError:
        return None
    if parts[:1] == ("tools",) or parts[:2] == ("tests", "support"):
        return "-m " + ".".join(parts)
    return None
