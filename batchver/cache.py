"""A content-addressed cache of task results, for incremental re-runs.

A task's result depends only on the bytes of the file it reads, the exports
it versions (and, for a range of a split file, which units), the options, and
the batchver version.  Those go into a SHA-256 key; the entry is the task's
result as JSON, stored under ``CACHE/ab/<key>.json`` after a first line
holding the SHA-256 of that JSON text, so checking an entry hashes its bytes
(a vmlinux entry is hundreds of megabytes) rather than re-encoding it.  An
entry that cannot be read, fails its checksum or does not parse is deleted
and recomputed, never trusted.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, fields

from . import __version__
from .atomic import atomic_write
from .tasks import TaskResult

_CHUNK = 1 << 20


def file_digest(path: str) -> str:
    """SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while True:
            block = handle.read(_CHUNK)
            if not block:
                break
            digest.update(block)
    return digest.hexdigest()


def task_key(kind: str, content: str, names: list[str], options: dict, extra: object = None) -> str:
    """The cache key of one task."""
    material = json.dumps({"batchver": __version__, "kind": kind, "content": content,
                           "names": sorted(names), "options": options, "extra": extra},
                          sort_keys=True, default=str)
    return hashlib.sha256(material.encode()).hexdigest()


class ResultCache:
    """Task results by key, in a directory shared by every run that uses it."""

    def __init__(self, root: str):
        self.root = root
        os.makedirs(root, exist_ok=True)

    def _path(self, key: str) -> str:
        return os.path.join(self.root, key[:2], key + ".json")

    def get(self, key: str) -> tuple[list[TaskResult] | None, str]:
        """The cached results of one file (or None) and why: ``hit``,
        ``absent`` or ``corrupt: <cause>`` (the bad entry is removed)."""
        path = self._path(key)
        if not os.path.exists(path):
            return None, "absent"
        try:
            with open(path, "rb") as handle:
                data = handle.read()
            digest, newline, text = data.partition(b"\n")
            if not newline:
                raise ValueError("no checksum line: truncated or not a cache entry")
            if digest != hashlib.sha256(text).hexdigest().encode():
                raise ValueError("checksum mismatch")
            results = [_from_json(item) for item in json.loads(text.decode("utf-8", "surrogateescape"))]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            try:
                os.remove(path)
            except OSError:
                pass
            return None, f"corrupt entry discarded ({exc})"
        return results, "hit"

    def put(self, key: str, results: list[TaskResult]) -> None:
        """Remember a file's results; failures are retried, not remembered."""
        if any(r.error is not None for r in results):
            return
        text = json.dumps([_to_json(r) for r in results]).encode("utf-8", "surrogateescape")
        path = self._path(key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        atomic_write(path, hashlib.sha256(text).hexdigest().encode() + b"\n" + text)


def _to_json(result: TaskResult) -> dict:
    data = asdict(result)
    data["symtypes"] = [list(block) for block in result.symtypes]
    return data


def _from_json(data: dict) -> TaskResult:
    names = {f.name for f in fields(TaskResult)}
    if set(data) != names:
        raise ValueError("unexpected fields")
    data = dict(data)
    data["symtypes"] = [tuple(block) for block in data["symtypes"]]
    data["seconds"] = 0.0  # nothing was computed this time
    data["stages"] = {}
    data["peak_rss_kib"] = 0
    if len({len(b) for b in data["symtypes"]} - {3}):
        raise ValueError("bad symtypes blocks")
    return TaskResult(**data)
