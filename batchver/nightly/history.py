"""The append-only run history: ``OUTROOT/history.jsonl``, one JSON line per
tree per nightly run.

Why JSON lines, appended and never rewritten: a nightly can be killed at any
moment (a reboot, the OOM killer, a CI timeout), and the history is the one
file every later run and every trend page depends on.  Each record is
written with a single ``write`` on a descriptor opened with ``O_APPEND``,
under an exclusive ``flock`` (two nightlies on one output root interleave
whole lines), then fsynced.  Earlier lines are therefore never touched; the
worst a crash can leave is a torn *last* line, which :func:`read_history`
skips with a warning and the next append isolates by starting on a fresh
line.  Each line is a :class:`RunRecord`; a line that is not one is
skipped the same way.
"""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import dataclass, field
from typing import Any, Literal

from batchver.records import encode_record, record_decoder

HISTORY_FILE = "history.jsonl"
HISTORY_SCHEMA = 1

RunStatus = Literal["ok", "incomplete", "failed", "error", "skipped"]
FAILING = ("failed", "error")


@dataclass(kw_only=True)
class RunRecord:
    """One tree in one nightly run: a line of the history and the run
    directory's ``run.json``.  A tree skipped after an earlier failure (or
    one that failed before it ran) leaves the run's fields null; older lines
    may lack any field but ``tree``."""

    schema: int = HISTORY_SCHEMA
    tree: str
    run_id: str = ""  # shared by the trees of one nightly
    started: str = ""
    finished: str | None = None
    batchver: str = ""
    config: str | None = None
    host: str | None = None
    backend: str | None = None
    jobs: int | None = None  # None on dask: the cluster's
    status: RunStatus = "error"
    error: str | None = None
    warning: str | None = None
    run_dir: str | None = None  # relative to the output root
    tree_path: str | None = None
    counts: dict[str, int] | None = None  # report.json's, for the trend
    changed: dict[str, int] | None = None  # symbols changed against the baseline
    baseline: str | None = None
    check: dict[str, Any] | None = None  # the gate's verdict
    cache_dir: str | None = None
    cache: dict[str, Any] | None = None  # hits, hit rate and why files were recomputed
    seconds: dict[str, float] = field(default_factory=dict)  # per stage
    wall_seconds: float | None = None

    @property
    def failing(self) -> bool:
        return self.status in FAILING

    def to_json(self) -> dict[str, Any]:
        return encode_record(self)

    @classmethod
    def from_json(cls, value: object) -> RunRecord:
        """Raises :class:`~batchver.records.ShapeError` naming the first
        field that does not fit."""
        return record_decoder(cls)(value)


def history_path(outroot: str) -> str:
    return os.path.join(outroot, HISTORY_FILE)


def append_record(outroot: str, record: RunRecord) -> None:
    """Append one record as one line; raises OSError (e.g. a full disk) with
    the file named, leaving every earlier line as it was."""
    path = history_path(outroot)
    line = (json.dumps(record.to_json(), sort_keys=True, separators=(",", ":")) + "\n").encode()
    os.makedirs(outroot, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            line = b"\n" + line  # a torn line from a killed writer stays on its own line
        written = os.write(fd, line)
        if written != len(line):
            raise OSError(f"short write to {path} ({written} of {len(line)} bytes)")
        os.fsync(fd)
    except OSError as exc:
        if exc.filename is None and not str(exc).startswith("short write"):
            raise OSError(exc.errno, exc.strerror, path) from None
        raise
    finally:
        os.close(fd)


@dataclass
class History:
    """The readable records (oldest first) and the lines that were not."""

    records: list[RunRecord] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def for_tree(self, tree: str) -> list[RunRecord]:
        return [r for r in self.records if r.tree == tree]

    @property
    def trees(self) -> list[str]:
        """Tree names in order of first appearance."""
        return list(dict.fromkeys(r.tree for r in self.records))


def read_history(outroot: str) -> History:
    """Every record in file order.  Unparsable lines (a torn last line from a
    killed run, a hand edit) are reported in ``skipped`` as ``file:line:
    why``, never fatal: one bad line must not hide a year of history."""
    path = history_path(outroot)
    history = History()
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, 1):
            if not raw.strip():
                continue
            try:
                data = json.loads(raw.rstrip(b"\n"))
                if not isinstance(data, dict) or not isinstance(data.get("tree"), str):
                    raise ValueError("not a history record (no 'tree')")
                record = RunRecord.from_json(data)
            except ValueError as exc:  # a ShapeError too
                why = "incomplete line (a run killed while writing it?)" if not raw.endswith(b"\n") \
                    else f"unreadable line ({exc})"
                history.skipped.append(f"{path}:{number}: {why}; skipped")
                continue
            history.records.append(record)
    return history


def latest_completed(outroot: str, tree: str) -> RunRecord | None:
    """The newest record of ``tree`` whose outputs exist (for ``baseline:
    previous``); None before the first completed run."""
    try:
        records = read_history(outroot).for_tree(tree)
    except FileNotFoundError:
        return None
    for record in reversed(records):
        run_dir = record.run_dir
        if run_dir and record.status != "error" and \
                os.path.isfile(os.path.join(outroot, run_dir, "Module.symvers")):
            return record
    return None
