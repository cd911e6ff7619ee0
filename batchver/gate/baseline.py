"""Load one side of a check (baseline or current), refusing bad input loudly.

Two input forms are accepted:

* a **batchver output directory** (``batchver run TREE -o DIR``):
  ``Module.symvers`` + ``report.json`` (+ ``symtypes/`` with
  ``--symtypes``).  It records how it was made (tool version, ``--stable``,
  compilers, DWARF versions, kernel identity) and, with symtypes, lets CRC
  changes be explained;
* a **plain Module.symvers** from any kernel build (a file, or a directory
  holding ``Module.symvers`` but no ``report.json``, such as a kbuild output
  directory, or only a compressed ``Module.symvers.gz``/``.xz``/``.zst``, as
  some distros' kernel packages ship it).  Its changes are classified but
  cannot be explained.

A gate that passes because an input was empty or half-written is worse than
no gate, so every problem found here raises :class:`InputError` naming the
file and, where there is one, the line: a missing file, a line that is not
modpost's format, a last line without its newline (a truncated copy), no
exports at all, no CRCs at all, and a ``report.json`` that disagrees with the
``Module.symvers`` beside it.
"""

from __future__ import annotations

import json
import os
from array import array
from dataclasses import dataclass, field
from typing import Any

from batchver.compressed import COMPRESSED_SUFFIXES
from batchver.errors import InputError
from batchver.report import Block, Report
from batchver.symvers import ExportRecord, parse_symvers

_CHUNK = 16 << 20  # bytes read at a time when counting symtypes lines


@dataclass
class Provenance:
    """How a batchver output was made: what can move CRCs without any source
    change."""

    tool_version: str
    stable: bool
    semantics: str
    kind: str
    symtypes: bool
    producers: list[str]
    dwarf_versions: list[int]
    kernel: dict[str, str]
    tree: str

    @property
    def compilers(self) -> list[str]:
        """Compiler identities without per-file flags (``GNU C11 12.2.0``):
        the flags vary from file to file, the compiler release does not."""
        return sorted({compiler_identity(p) for p in self.producers})


def compiler_identity(producer: str) -> str:
    """``GNU C11 12.2.0 -m64 -O2 ...`` -> ``GNU C11 12.2.0``."""
    words = []
    for word in producer.split():
        if word.startswith("-"):
            break
        words.append(word)
    return " ".join(words) or producer


# (device, inode, size, mtime) -> (newlines, last byte): a nightly's unchanged
# symtypes files are links to the previous run's, so a check of one run
# against the other would otherwise count each of them twice.
_LINE_COUNTS: dict[tuple[int, int, int, int], tuple[int, bytes]] = {}


def _count_lines(path: str) -> tuple[int, bytes]:
    """Newlines in a file and its last byte (``\\n`` for an empty file)."""
    with open(path, "rb") as handle:
        st = os.fstat(handle.fileno())
        identity = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        known = _LINE_COUNTS.get(identity)
        if known is not None:
            return known
        lines, last = 0, b"\n"
        while chunk := handle.read(_CHUNK):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    _LINE_COUNTS[identity] = (lines, last)
    return lines, last


@dataclass
class SymtypesStore:
    """Per-module symtypes files and their block index.

    A block is the type map of one object (or one CU of a linked file); its
    lines are ``<key> <type string>``.  :meth:`validate` records where every
    line starts, so :meth:`block` reads just one block: vmlinux's symtypes
    file is far too large to hold while a check walks thousands of blocks.
    """

    root: str
    index: dict[str, list[Block]]
    _offsets: dict[str, array[int]] = field(default_factory=dict)
    _entries: dict[tuple[str, str], Block] = field(default_factory=dict)

    def path(self, module: str) -> str:
        return os.path.join(self.root, module + ".symtypes")

    def validate(self) -> None:
        """Every indexed file exists and has exactly the lines the index says
        (a truncated symtypes file would otherwise explain nothing silently).
        Lines are counted in large chunks: a whole kernel's symtypes run to
        hundreds of megabytes and most checks never open a block."""
        for module, blocks in self.index.items():
            path = self.path(module)
            expected = max((b.start + b.count for b in blocks), default=0)
            try:
                lines, last = _count_lines(path)
            except OSError as exc:
                raise InputError(path, f"cannot read symtypes file listed in report.json: "
                                       f"{exc.strerror}") from None
            if last != b"\n":
                raise InputError(path, "truncated: the last line has no newline", lines + 1)
            if lines != expected:
                raise InputError(path, f"has {lines} lines but report.json symtypes_blocks "
                                       f"says {expected} (truncated or from another run)")
            for entry in blocks:
                self._entries.setdefault((module, entry.origin), entry)

    def _line_offsets(self, module: str) -> array[int]:
        """Where each line of a module's file starts (and where the file
        ends), worked out the first time a block of it is read."""
        offsets = self._offsets.get(module)
        if offsets is None:
            offsets = array("q", [0])
            with open(self.path(module), "rb") as handle:
                for line in handle:
                    offsets.append(offsets[-1] + len(line))
            self._offsets[module] = offsets
        return offsets

    def block(self, module: str, origin: str | None) -> dict[str, str] | None:
        """The type map of ``module``'s block versioned as ``origin``."""
        entry = self._entries.get((module, origin)) if origin is not None else None
        if entry is None:
            return None
        offsets = self._line_offsets(module)
        first, count = entry.start, entry.count
        with open(self.path(module), "rb") as handle:
            handle.seek(offsets[first])
            data = handle.read(offsets[first + count] - offsets[first])
        parsed: dict[str, str] = {}
        for number, text in enumerate(data.decode("utf-8", "surrogateescape").split("\n")[:-1],
                                      first + 1):
            key, sep, rest = split_key(text)
            if not sep:
                raise InputError(self.path(module), "not a '<key> <type string>' line", number)
            parsed[key] = rest
        return parsed


LOCATIONS_SUFFIX = ".locations.jsonl"  # as batchver/tree/locations.py writes them
_ORIGIN_START = '{"origin":'


@dataclass
class Location:
    """Where something a symtypes key names is declared."""

    file: str
    line: int

    def text(self) -> str:
        return f"{self.file}:{self.line}"

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line}


@dataclass
class BlockLocations:
    """The source locations of one symtypes block's keys and their items."""

    types: dict[str, Location]
    items: dict[str, dict[str, Location]]  # key -> member/enumerator/parameter -> location


@dataclass
class LocationStore:
    """``<module>.locations.jsonl`` files beside the symtypes, one JSON
    object per block.  A module's file is scanned once for where each
    block's line is; a block's JSON is parsed only when a root cause in it
    is located, since vmlinux's file holds thousands of blocks."""

    root: str
    _lines: dict[str, dict[str, tuple[int, str]]] = field(default_factory=dict)

    def path(self, module: str) -> str:
        return os.path.join(self.root, module + LOCATIONS_SUFFIX)

    def has_any(self, modules: list[str]) -> bool:
        return any(os.path.isfile(self.path(m)) for m in modules)

    def _index(self, module: str) -> dict[str, tuple[int, str]]:
        found = self._lines.get(module)
        if found is not None:
            return found
        found = self._lines[module] = {}
        path = self.path(module)
        try:
            handle = open(path, encoding="utf-8", errors="surrogateescape")
        except FileNotFoundError:
            return found
        except OSError as exc:
            raise InputError(path, f"cannot read: {exc.strerror}") from None
        decoder = json.JSONDecoder()
        with handle:
            for number, line in enumerate(handle, 1):
                if not line.startswith(_ORIGIN_START) or not line.endswith("\n"):
                    raise InputError(path, "not a locations line (truncated, or not written by "
                                           "batchver run?)", number)
                try:
                    origin, _ = decoder.raw_decode(line, len(_ORIGIN_START))
                except json.JSONDecodeError as exc:
                    raise InputError(path, f"not valid JSON ({exc.msg})", number) from None
                found[str(origin)] = (number, line)
        return found

    def block(self, module: str, origin: str | None) -> BlockLocations | None:
        """The locations of ``module``'s block versioned as ``origin``."""
        entry = self._index(module).get(origin) if origin is not None else None
        if entry is None:
            return None
        number, line = entry
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(self.path(module), f"not valid JSON ({exc.msg}; truncated?)",
                             number) from None
        try:
            files = data["files"]
            types, items = {}, {}
            for key, at in data["at"].items():
                types[key] = Location(files[at[0]], int(at[1]))
                if len(at) > 2:
                    items[key] = {name: Location(files[f], int(n)) for name, (f, n) in at[2].items()}
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            raise InputError(self.path(module), "malformed locations block "
                                                f"({type(exc).__name__}: {exc})", number) from None
        return BlockLocations(types, items)


def split_key(line: str) -> tuple[str, str, str]:
    """Split a symtypes line into key, separator and type string; a quoted
    key (``s#'a b' ...``) keeps its spaces."""
    if "#'" in line[:3]:
        end = line.find("'", 3)
        if end > 0 and line[end + 1:end + 2] == " ":
            return line[:end + 1], " ", line[end + 2:]
    return line.partition(" ")


@dataclass
class Side:
    """One side of a check: its exports and whatever else it records."""

    label: str  # "baseline" or "current"
    path: str
    form: str  # "batchver" or "symvers"
    symvers_path: str
    exports: list[ExportRecord]
    provenance: Provenance | None = None
    symtypes: SymtypesStore | None = None
    locations: LocationStore | None = None  # None: made before locations were recorded
    notes: list[str] = field(default_factory=list)

    @property
    def can_explain(self) -> bool:
        return self.symtypes is not None

    def describe(self) -> dict[str, Any]:
        """What the reports say about this input."""
        out: dict[str, Any] = {"path": self.path, "form": self.form, "exports": len(self.exports),
                     "symtypes": self.can_explain, "locations": self.locations is not None}
        if self.provenance is not None:
            p = self.provenance
            out["made_by"] = {"batchver": p.tool_version, "stable": p.stable,
                              "semantics": p.semantics, "kind": p.kind, "tree": p.tree,
                              "compilers": p.compilers, "dwarf_versions": p.dwarf_versions,
                              "kernel": p.kernel}
        return out


def _check_blocks(path: str, index: dict[str, list[Block]]) -> None:
    """A module's symtypes blocks tile its file from line 0, in order, as
    ``batchver run`` writes them; anything else would read the wrong lines."""
    for module, blocks in index.items():
        line = 0
        for number, block in enumerate(blocks):
            if block.start != line or block.count < 0:
                raise InputError(path, f"symtypes_blocks[{json.dumps(module)}][{number}]: "
                                       f"start {block.start}, count {block.count} do not "
                                       f"follow the previous block (ends at line {line})")
            line += block.count


def _read_report(path: str) -> Report:
    report = Report.read(path)
    _check_blocks(path, report.symtypes_blocks or {})
    return report


def _load_batchver(label: str, directory: str, symvers: str, report_path: str) -> Side:
    rows = parse_symvers(symvers, zero_is_unknown=False)
    report = _read_report(report_path)
    recorded = report.exports
    if report.counts.exports != len(recorded):
        raise InputError(report_path, f"counts.exports is {report.counts.exports} but "
                                      f"{len(recorded)} exports are listed (truncated?)")
    listed = {e.key for e in rows}
    missing = sorted(set(recorded) - listed)
    extra = sorted(listed - set(recorded))
    if missing or extra:
        sample = (missing or extra)[:3]
        raise InputError(symvers, f"disagrees with report.json: {len(missing)} export(s) of "
                                  f"report.json missing here, {len(extra)} not in report.json "
                                  f"(e.g. {', '.join(sample)}); truncated or from another run")
    exports = []
    for row in rows:
        info = recorded[row.key]
        status = info.status
        crc = row.crc if status == "ok" else None
        recorded_crc = info.crc
        if status == "ok" and recorded_crc != f"0x{row.crc:08x}":
            raise InputError(symvers, f"CRC of {row.symbol} is 0x{row.crc:08x} but report.json "
                                      f"says {recorded_crc} (files from different runs?)",
                             row.line)
        exports.append(ExportRecord(row.symbol, row.module, crc, row.export_type, row.namespace,
                                    status, info.versioned_in, line=row.line))
    options = report.options
    provenance = Provenance(
        tool_version=report.tool.version or "?",
        stable=bool(options.stable), semantics=options.semantics or "kbuild",
        kind=report.kind or "?", symtypes=bool(options.symtypes),
        producers=report.toolchain.producers, dwarf_versions=report.toolchain.dwarf_versions,
        kernel=report.kernel or {}, tree=report.tree or "")
    side = Side(label, directory, "batchver", symvers, exports, provenance)
    symtypes_dir = os.path.join(directory, "symtypes")
    if provenance.symtypes:
        index = report.symtypes_blocks
        if index is None or not os.path.isdir(symtypes_dir):
            raise InputError(report_path if index is None else symtypes_dir,
                             "made with --symtypes but the symtypes index or directory is "
                             "missing")
        side.symtypes = SymtypesStore(symtypes_dir, index)
        side.symtypes.validate()
        locations = LocationStore(symtypes_dir)
        if locations.has_any(list(index)):
            side.locations = locations
    else:
        side.notes.append(f"{label} {directory} was made without --symtypes: CRC changes "
                          "cannot be explained (rerun batchver run with --symtypes)")
    unversioned = [e for e in exports if e.crc is None]
    if len(unversioned) == len(exports):
        raise InputError(symvers, "no export has a version (every file failed?): nothing to "
                                  "compare")
    if unversioned:
        side.notes.append(f"{label}: {len(unversioned)} export(s) have no version "
                          f"({unversioned[0].symbol}, ...): their CRCs cannot be compared")
    return side


def load_side(label: str, path: str) -> Side:
    """Load BASELINE or CURRENT, detecting its form."""
    if not os.path.exists(path):
        raise InputError(path, "no such file or directory")
    if os.path.isfile(path) and os.path.basename(path) == "report.json":
        path = os.path.dirname(path) or "."
    if os.path.isdir(path):
        symvers = os.path.join(path, "Module.symvers")
        report = os.path.join(path, "report.json")
        if os.path.isfile(report):
            if not os.path.isfile(symvers):
                raise InputError(symvers, "missing beside report.json (incomplete batchver "
                                          "output directory)")
            return _load_batchver(label, path, symvers, report)
        if not os.path.isfile(symvers):
            # a distro's kernel package keeps it compressed (Module.symvers.gz ...)
            found = [symvers + suffix for suffix in COMPRESSED_SUFFIXES
                     if os.path.isfile(symvers + suffix)]
            if len(found) > 1:
                raise InputError(path, f"holds {' and '.join(map(os.path.basename, found))}: "
                                       "name the one to compare")
            if not found:
                raise InputError(path, "neither a batchver output directory (Module.symvers + "
                                       "report.json) nor a directory holding a Module.symvers "
                                       f"(or Module.symvers{{{','.join(COMPRESSED_SUFFIXES)}}})")
            symvers = found[0]
        path = symvers
    exports = parse_symvers(path, zero_is_unknown=True)
    if all(e.crc is None for e in exports):
        raise InputError(path, "every CRC is 0x00000000: built without CONFIG_MODVERSIONS? "
                               "nothing to compare")
    side = Side(label, path, "symvers", path, exports)
    side.notes.append(f"{label} {path} is a plain Module.symvers: CRC changes are classified "
                      "but cannot be explained, and how it was built (compiler, DWARF version) "
                      "is unknown, so a toolchain change cannot be ruled out")
    return side
