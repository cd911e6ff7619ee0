"""Error types shared by every stage.

Upstream gendwarfksyms reports fatal problems as
``error: gendwarfksyms: <function>: <message>`` and exits 1.  The core raises
:class:`VersioningError` carrying the same two parts, so the drop-in CLI can
print upstream's line while the whole-tree runner records the same text per
object without stopping the run.
"""

from __future__ import annotations


class VersioningError(Exception):
    """A fatal problem with one input (upstream would exit 1 on it)."""

    def __init__(self, where: str, message: str, path: str | None = None):
        super().__init__(message)
        self.where = where
        self.message = message
        self.path = path

    def upstream_line(self) -> str:
        """The text upstream prints on stderr for this error."""
        return f"error: gendwarfksyms: {self.where}: {self.message}"

    def __str__(self) -> str:
        prefix = f"{self.path}: " if self.path and self.path not in self.message else ""
        return f"{prefix}{self.message}"


class InputError(Exception):
    """Bad input: ``batchver check`` exits 2 and prints ``path[:line]: message``."""

    def __init__(self, path: str, message: str, line: int | None = None):
        super().__init__(message)
        self.path = path
        self.line = line
        self.message = message

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: {self.message}"
