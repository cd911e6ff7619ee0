"""``report.json``, the record of one ``batchver run``, as typed records.

``batchver run`` writes it (:mod:`batchver.tree.outputs` builds a
:class:`Report`); ``batchver check`` reads it back as one side of a check
and the nightly reads the previous run's to explain cache misses.  One set
of dataclasses is the contract between them: :meth:`Report.to_json` gives
the keys in the order the file has always had them, and
:meth:`Report.from_json` validates a parsed file once, against the same
dataclasses (:mod:`batchver.records`), before anything is used.  A report
of the wrong shape (hand-edited, another tool's, another batchver's) must be
bad input naming the key, never a traceback or, worse, a "fail" made of
misread fields.  What a reader can do without has a default.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from batchver.errors import InputError
from batchver.records import OMIT_NONE, ShapeError, encode_record, record_decoder
from batchver.symvers import ExportStatus  # report.json's exports[].status

REPORT_SCHEMA = 1  # report.json's "schema"

FileStatus = Literal["ok", "incomplete", "failed", "skipped"]

@dataclass(kw_only=True)
class Tool:
    """Which batchver wrote the report; ``code`` (the code's digest) keys
    the cache, so a nightly names a change of it as why nothing was reused;
    ``path`` says whether the native core ran."""

    name: str
    # absent from reports of batchvers that did not record them
    version: str | None = field(default=None, metadata=OMIT_NONE)
    code: str | None = field(default=None, metadata=OMIT_NONE)
    path: str | None = field(default=None, metadata=OMIT_NONE)


@dataclass(kw_only=True)
class Options:
    """The options that change outputs (``semantics`` is ``kbuild`` for a
    built tree, whatever was asked)."""

    semantics: str | None = None
    stable: bool | None = None
    symtypes: bool | None = None


@dataclass(kw_only=True)
class Toolchain:
    """What compiled the tree, as its DWARF says: what can move CRCs
    without any source change."""

    producers: list[str] = field(default_factory=list)
    dwarf_versions: list[int] = field(default_factory=list)


@dataclass(kw_only=True)
class Counts:
    """Totals over files and exports (``exports`` is what a reader checks
    the export table against, so it is required)."""

    files: int = 0
    failed_files: int = 0
    incomplete_files: int = 0
    skipped_files: int = 0
    modules: int = 0
    exports: int
    versioned: int = 0
    no_information: int = 0
    failed_exports: int = 0
    not_as_kbuild: int = 0


@dataclass(kw_only=True)
class FileEntry:
    """One file looked at: ``skipped`` when it exports nothing; ``paired_with``
    names a split vmlinux's other half; ``not_as_kbuild`` is absent for a
    skipped file."""

    file: str
    module: str
    status: FileStatus
    exports: int
    versioned: int = 0
    no_information: list[str] = field(default_factory=list)
    not_as_kbuild: dict[str, str] | None = field(default=None, metadata=OMIT_NONE)
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    cache: str = "off"
    paired_with: str | None = field(default=None, metadata=OMIT_NONE)


@dataclass(kw_only=True)
class Block:
    """Where one object's (or CU's) type map sits in its module's symtypes
    file: ``count`` lines from line ``start``."""

    origin: str
    start: int
    count: int


@dataclass(kw_only=True)
class ExportEntry:
    """One export.  ``crc`` is ``0x%08x`` text, null without a version;
    ``versioned_in`` the object or CU whose types versioned it; a caveat
    is ``not_as_kbuild`` when it has a CRC (which may not be kbuild's) and
    ``unversioned`` when it has none."""

    symbol: str = ""
    module: str = ""
    crc: str | None = None
    export_type: str = ""
    namespace: str = ""
    status: ExportStatus = "ok"
    versioned_in: str | None = None
    not_as_kbuild: str | None = field(default=None, metadata=OMIT_NONE)
    unversioned: str | None = field(default=None, metadata=OMIT_NONE)


@dataclass(kw_only=True)
class Timing:
    """Every clock reading of the run, and the scheduling choices that depend
    on ``--jobs``: the only part of a report that differs between two runs
    of the same tree."""

    wall_seconds: float = 0.0
    cache_hits: int = 0
    cache_lookups: int = 0
    jobs: int = 0
    split_into: dict[str, int] = field(default_factory=dict)
    file_seconds: dict[str, float] = field(default_factory=dict)
    stage_seconds: dict[str, float] = field(default_factory=dict)
    peak_worker_rss_mib: float = 0.0
    peak_rss_mib: float = 0.0


@dataclass(kw_only=True)
class Report:
    """The whole of ``report.json``, fields in the file's key order."""

    schema: int = REPORT_SCHEMA
    tool: Tool
    tree: str | None = None
    kind: str | None = None
    options: Options
    kernel: dict[str, str] | None = None
    toolchain: Toolchain
    counts: Counts
    notes: list[str] = field(default_factory=list)
    files: list[FileEntry] = field(default_factory=list)
    symtypes_blocks: dict[str, list[Block]] | None = None  # {} without --symtypes
    exports: dict[str, ExportEntry]
    timing: Timing = field(default_factory=Timing)

    def to_json(self) -> dict[str, Any]:
        """The report as JSON values, keys in the file's order."""
        return encode_record(self)

    @classmethod
    def from_json(cls, value: object) -> Report:
        """A parsed report.json as a Report; raises :class:`ShapeError`
        naming the first key that does not fit."""
        return record_decoder(cls)(value)

    @classmethod
    def read(cls, path: str) -> Report:
        """Read and validate ``path``; every problem is an :class:`InputError`
        naming the file (exit 2 for a check)."""
        try:
            with open(path, encoding="utf-8") as handle:
                data = json.load(handle)
        except json.JSONDecodeError as exc:
            raise InputError(path, f"not valid JSON ({exc.msg}; truncated?)", exc.lineno) from None
        except (ValueError, RecursionError) as exc:  # not UTF-8, a 5000-digit number, deep nesting
            raise InputError(path, f"not valid JSON ({type(exc).__name__}: {str(exc)[:80]})") from None
        except OSError as exc:
            raise InputError(path, f"cannot read: {exc.strerror}") from None
        tool = data.get("tool") if isinstance(data, dict) else None
        if not isinstance(tool, dict) or tool.get("name") != "batchver":
            raise InputError(path, "not a batchver report.json (no tool.name 'batchver')")
        if data.get("schema") != REPORT_SCHEMA:
            raise InputError(path, f"unsupported report.json schema {data.get('schema')!r} "
                                   f"(this batchver reads schema {REPORT_SCHEMA})")
        try:
            return cls.from_json(data)
        except ShapeError as exc:
            raise InputError(path, f"malformed: {exc}") from None


def report_text(report: Report) -> str:
    """``report.json``'s text: one line per top-level key and, for lists and
    objects, one line per item.  Diffable and greppable like an indented
    dump, but each line is encoded by json's C encoder (``indent`` falls
    back to the pure-Python one: a second per whole-tree run)."""
    data = report.to_json()
    lines = ["{"]
    keys = list(data)
    for i, key in enumerate(keys):
        value = data[key]
        head = f" {json.dumps(key)}: "
        tail = "," if i < len(keys) - 1 else ""
        if isinstance(value, dict) and value:
            items = [f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in value.items()]
            lines += [head + "{", ",\n".join(items), " }" + tail]
        elif isinstance(value, list) and value:
            lines += [head + "[", ",\n".join(f"  {json.dumps(v)}" for v in value), " ]" + tail]
        else:
            lines.append(head + json.dumps(value) + tail)
    lines.append("}")
    return "\n".join(lines) + "\n"
