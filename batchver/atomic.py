"""Atomic output files: write beside the target, fsync, then rename.

A reader (or a run killed half-way) sees either the old file or the complete
new one, never a truncated one.
"""

from __future__ import annotations

import os
import tempfile


def atomic_write(path: str, text: str | bytes) -> None:
    data = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else text
    path = os.path.realpath(path)  # write through symlinks, as open(path, "w") would
    try:
        mode = os.stat(path).st_mode & 0o7777  # keep an existing file's permissions
    except FileNotFoundError:
        mode = 0o666 & ~_umask()
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix="-" + os.path.basename(path), dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _umask() -> int:
    """The process umask (reading it requires setting it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
