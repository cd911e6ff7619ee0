"""A content-addressed cache of task results, for incremental re-runs.

A task's result depends only on the bytes of the file it reads, the exports
it versions (and, for a range of a split file, which units), the options, and
the code that computed it.  Those go into a SHA-256 key.  The code is named
by :func:`code_digest`, a digest of every source file of the ``batchver``
package that is running, not by its version number: the version does not
move when a rendering rule is fixed between releases, and a cache keyed on it
would keep serving the old results.

The entry is stored under ``CACHE/ab/<key>.json`` as three parts: a first
line holding the SHA-256 of the rest, one line of JSON with the task's
results, and then the results' symtypes texts back to back, raw, their byte
lengths given in the JSON.  Symtypes are nearly all of an entry (hundreds of
megabytes for vmlinux), and keeping them out of the JSON spares escaping and
parsing them.  An entry that is not a regular file (a directory, a symbolic
link, a FIFO), cannot be read, fails its checksum or does not parse is
removed and recomputed, never trusted, and its lookup says so.

The cache is an accelerator: results are stored only after the run's
outputs are written (:meth:`ResultCache.store`), and a cache that cannot
be written (read-only, full) costs a warning, never an output.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import stat
from dataclasses import asdict, fields
from typing import Any

import batchver
from batchver.atomic import atomic_write, file_kind, open_regular, read_regular, remove_any
from batchver.tree.tasks import TaskResult

_CHUNK = 1 << 20
ENTRY_FORMAT = 3  # part of every key: entries of another layout are simply not found


@functools.lru_cache(maxsize=None)
def code_digest() -> str:
    """SHA-256 of the running ``batchver`` package's source: every ``*.py``
    below it, by relative path and bytes.  Computed once per process (about
    a millisecond); any edit, a rendering rule or anything else, changes it."""
    root = os.path.dirname(os.path.abspath(batchver.__file__))
    digest = hashlib.sha256()
    sources = []
    for directory, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        sources += [os.path.join(directory, name) for name in files if name.endswith(".py")]
    for path in sorted(sources, key=lambda p: os.path.relpath(p, root)):
        digest.update(os.path.relpath(path, root).encode() + b"\0")
        digest.update(hashlib.sha256(read_regular(path)).digest())
    return digest.hexdigest()


def file_digest(path: str) -> str:
    """SHA-256 of a (regular) file's bytes."""
    digest = hashlib.sha256()
    with os.fdopen(open_regular(path), "rb") as handle:
        while True:
            block = handle.read(_CHUNK)
            if not block:
                break
            digest.update(block)
    return digest.hexdigest()


def task_key(kind: str, content: str, names: list[str], options: dict[str, object],
             extra: object = None) -> str:
    """The cache key of one task."""
    material = json.dumps({"code": code_digest(), "format": ENTRY_FORMAT, "kind": kind, "content": content,
                           "names": sorted(names), "options": options, "extra": extra},
                          sort_keys=True, default=str)
    return hashlib.sha256(material.encode()).hexdigest()


class ResultCache:
    """Task results by key, in a directory shared by every run that uses it."""

    def __init__(self, root: str):
        self.root = root

    def _name(self, key: str) -> str:
        return os.path.join(key[:2], key + ".json")

    def get(self, key: str) -> tuple[list[TaskResult] | None, str]:
        """The cached results of one file (or None) and why: ``hit``,
        ``absent`` or ``corrupt entry <name> discarded (<cause>)``.  A bad
        entry is removed so that :meth:`store` can replace it."""
        name = self._name(key)
        path = os.path.join(self.root, name)
        try:
            mode = os.lstat(path).st_mode
            if not stat.S_ISREG(mode):
                raise ValueError(f"{file_kind(mode)}, not a file")
            results = _decode_entry(read_regular(path, follow=False))
        except FileNotFoundError:
            return None, "absent"
        except (OSError, ValueError, KeyError, TypeError) as exc:
            remove_any(path)  # a failure is for store() to report
            cause = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            return None, f"corrupt entry {name} discarded ({cause})"
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
        path = os.path.join(self.root, self._name(key))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        atomic_write(path, hashlib.sha256(body).hexdigest().encode() + b"\n" + body)

    def store(self, entries: dict[str, list[TaskResult]]) -> str | None:
        """:meth:`put` every entry (key -> results); on the first failure
        (read-only, full disk) stop and return one line naming the path and
        the cause: the outputs are already written, only reuse is lost."""
        for key, results in entries.items():
            try:
                self.put(key, results)
            except OSError as exc:
                where = exc.filename or os.path.join(self.root, self._name(key))
                return f"cache not updated: {where}: {exc.strerror or exc}"
        return None


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


def _from_json(data: dict[str, Any]) -> TaskResult:
    names = {f.name for f in fields(TaskResult)}
    if set(data) != names:
        raise ValueError("unexpected fields")
    data = dict(data)
    data["seconds"] = 0.0  # nothing was computed this time
    data["stages"] = {}
    data["peak_rss_kib"] = 0
    return TaskResult(**data)
