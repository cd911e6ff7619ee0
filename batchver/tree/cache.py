"""A content-addressed cache of task results, for incremental re-runs.

A task's result depends only on the bytes of the file it reads, the exports
it versions (and, for a range of a split file, which units), the options, and
the batchver version.  Those go into a SHA-256 key; the entry is stored under
``CACHE/ab/<key>.json`` as three parts: a first line holding the SHA-256 of
the rest, one line of JSON with the task's results, and then the results'
symtypes texts back to back, raw, their byte lengths given in the JSON.
Symtypes are nearly all of an entry (hundreds of megabytes for vmlinux), and
keeping them out of the JSON spares escaping and parsing them.  An entry that
cannot be read, fails its checksum or does not parse is deleted and
recomputed, never trusted.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, fields

from batchver import __version__
from batchver.atomic import atomic_write
from batchver.tree.tasks import TaskResult

_CHUNK = 1 << 20
ENTRY_FORMAT = 2  # part of every key: entries of another layout are simply not found


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
    material = json.dumps({"batchver": __version__, "format": ENTRY_FORMAT, "kind": kind, "content": content,
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
            results = _decode_entry(data)
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
        header, texts = [], []
        for result in results:
            data = asdict(result)
            blocks = [text.encode("utf-8", "surrogateescape") for _, _, text in result.symtypes]
            data["symtypes"] = [[sort_key, origin, len(block)]
                                for (sort_key, origin, _), block in zip(result.symtypes, blocks)]
            header.append(data)
            texts += blocks
        body = json.dumps(header).encode("utf-8", "surrogateescape") + b"\n" + b"".join(texts)
        path = self._path(key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        atomic_write(path, hashlib.sha256(body).hexdigest().encode() + b"\n" + body)


def _decode_entry(data: bytes) -> list[TaskResult]:
    """The results in an entry's bytes; ValueError (and friends) for
    anything but an intact entry of this layout."""
    view = memoryview(data)
    start = data.find(b"\n") + 1
    if not start:
        raise ValueError("no checksum line: truncated or not a cache entry")
    if data[:start - 1] != hashlib.sha256(view[start:]).hexdigest().encode():
        raise ValueError("checksum mismatch")
    texts = data.find(b"\n", start) + 1
    if not texts:
        raise ValueError("no header line")
    results = []
    for item in json.loads(data[start:texts]):
        blocks = []
        for sort_key, origin, size in item["symtypes"]:
            if not 0 <= size <= len(data) - texts:
                raise ValueError("symtypes text runs past the end")
            blocks.append((sort_key, origin, str(view[texts:texts + size], "utf-8", "surrogateescape")))
            texts += size
        item["symtypes"] = blocks
        results.append(_from_json(item))
    if texts != len(data):
        raise ValueError("bytes after the last symtypes text")
    return results


def _from_json(data: dict) -> TaskResult:
    names = {f.name for f in fields(TaskResult)}
    if set(data) != names:
        raise ValueError("unexpected fields")
    data = dict(data)
    data["seconds"] = 0.0  # nothing was computed this time
    data["stages"] = {}
    data["peak_rss_kib"] = 0
    return TaskResult(**data)
