"""What a run is asked to do and how it reports: upstream's command-line
flags and its stderr messages (``gendwarfksyms.h``), shared by every stage
of the core."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass
class Options:
    """Upstream's command-line flags, and ``accelerations``: off, a run
    takes the reference path alone (no reuse of finished type graphs, see
    :mod:`.reuse`; no unit groups, see :meth:`Versioner._chunks`; no
    remembered expansions, see :meth:`.types.TypeMap.version_text`), which
    the corpus tests compare with the default byte for byte."""

    stable: bool = False
    symtypes: bool = False
    debug: bool = False
    dump_dies: bool = False
    dump_die_map: bool = False
    dump_types: bool = False
    dump_versions: bool = False
    accelerations: bool = True


class Diagnostics:
    """Formats upstream's stderr lines; ``write`` receives finished text."""

    def __init__(self, options: Options, write: Callable[[str], None] | None = None):
        self.options = options
        self.write = write or (lambda text: None)
        self.warnings: list[str] = []

    def debug(self, where: str, message: str) -> None:
        if self.options.debug:
            self.write(f"gendwarfksyms: {where}: {message}\n")

    def warn(self, where: str, message: str) -> None:
        line = f"warning: gendwarfksyms: {where}: {message}"
        self.warnings.append(message)
        self.write(line + "\n")
