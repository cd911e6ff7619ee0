"""Module.symvers, modpost's table of exports, and the one record of an
export that every stage uses for a row of it.

``batchver run`` writes the table (:func:`format_symvers`); ``batchver
check`` and the nightly read it back (:func:`parse_symvers`), from batchver
or from any kernel build, gzip'd as distros keep it or not.  One record and
one parser keep the writer and the readers from drifting apart, as
:mod:`batchver.report` does for ``report.json``, the table's companion.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from batchver.compressed import read_file
from batchver.errors import InputError, VersioningError

EXPORT_TYPES = ("EXPORT_SYMBOL", "EXPORT_SYMBOL_GPL", "EXPORT_SYMBOL_GPL_FUTURE",
                "EXPORT_UNUSED_SYMBOL", "EXPORT_UNUSED_SYMBOL_GPL")
_CRC = re.compile(r"0x[0-9a-fA-F]{1,8}\Z")
_SPACE = re.compile(r"\s")  # what str.isspace() accepts


# Why an export has a CRC or not (report.json's ``exports[].status``).
ExportStatus = Literal["ok", "no-information", "failed"]


@dataclass(frozen=True)
class ExportRecord:
    """One exported symbol: a row of Module.symvers and what batchver knows
    of it.

    ``crc`` is None when there is no version: batchver could not make one
    (``status`` says why: ``no-information`` or ``failed``), or a plain
    Module.symvers carries ``0x00000000`` (what kbuild writes when it has no
    version either).  ``origin`` is the object, or file and CU, whose type
    strings versioned it; ``source`` the tree file that exports it; ``line``
    the line of the Module.symvers it was read from.
    """

    symbol: str
    module: str
    crc: int | None
    export_type: str
    namespace: str
    status: ExportStatus = "ok"
    origin: str | None = None
    source: str | None = None
    line: int | None = None

    @property
    def key(self) -> str:
        return f"{self.module}:{self.symbol}"

    @property
    def crc_text(self) -> str | None:
        return None if self.crc is None else f"0x{self.crc:08x}"


def format_symvers(rows: list[ExportRecord]) -> str:
    """Module.symvers as modpost writes it (a missing version as 0)."""
    return "".join(f"0x{(r.crc or 0):08x}\t{r.symbol}\t{r.module}\t{r.export_type}\t{r.namespace}\n"
                   for r in rows)


def parse_symvers(path: str, *, zero_is_unknown: bool) -> list[ExportRecord]:
    """Parse modpost's ``Module.symvers`` strictly.

    Lines are ``crc<TAB>symbol<TAB>module<TAB>export type[<TAB>namespace]``
    (the namespace column exists since Linux 5.4).  ``zero_is_unknown``: a
    plain kernel file writes ``0x00000000`` for a symbol it had no version
    for, so that CRC means "unknown", not a value to compare.
    """
    try:
        data = read_file(path)  # distros keep it gzip'd: /boot/symvers-<version>.gz
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror}") from None
    except VersioningError as exc:
        raise InputError(path, exc.message) from None
    if not data.strip():
        raise InputError(path, "empty: no exports to compare (a check must not pass on an "
                               "empty input)")
    if data.startswith((b"{", b"[")):
        raise InputError(path, "this is JSON, not a Module.symvers (pass the batchver output "
                               "directory instead)", 1)
    text = data.decode("utf-8", "surrogateescape")
    lines = text.split("\n")
    if lines[-1] != "":
        raise InputError(path, "truncated: the last line has no newline", len(lines))
    exports: list[ExportRecord] = []
    seen: dict[tuple[str, str], int] = {}
    for number, line in enumerate(lines[:-1], 1):
        if not line.strip():
            continue
        fields = line.split("\t") if "\t" in line else line.split()
        if len(fields) not in (4, 5):
            raise InputError(path, f"expected 'crc<TAB>symbol<TAB>module<TAB>export type"
                                   f"<TAB>namespace', got {len(fields)} field(s): {line[:80]!r}",
                             number)
        crc_text, symbol, module, export_type = fields[:4]
        namespace = fields[4] if len(fields) == 5 else ""
        if not _CRC.match(crc_text):
            raise InputError(path, f"bad CRC {crc_text[:20]!r} (expected 0x and up to 8 hex "
                                   "digits)", number)
        if not symbol or not module or _SPACE.search(symbol) or _SPACE.search(module):
            raise InputError(path, "empty or malformed symbol/module column", number)
        if export_type not in EXPORT_TYPES:
            raise InputError(path, f"unknown export type {export_type[:40]!r} (expected one "
                                   f"of {', '.join(EXPORT_TYPES[:2])}, ...)", number)
        if (symbol, module) in seen:
            raise InputError(path, f"duplicate export of {symbol} by {module} (first at line "
                                   f"{seen[(symbol, module)]})", number)
        seen[(symbol, module)] = number
        crc = int(crc_text, 16)
        exports.append(ExportRecord(symbol, module, None if (crc == 0 and zero_is_unknown) else crc,
                                    export_type, namespace.strip(), line=number))
    if not exports:
        raise InputError(path, "no exports: nothing to compare")
    return exports
