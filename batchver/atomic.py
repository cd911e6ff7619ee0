"""How batchver touches files it does not own: outputs are written
atomically, and inputs are opened only when they are regular files.

Atomic output files: write beside the target, fsync, then rename (or, for a
file identical to an earlier output, link that file beside the target and
rename the link).  A reader (or a run killed half-way) sees either the old
file or the complete new one, never a truncated one.

Regular inputs only: a FIFO, socket or device named like an object, a
symtypes file or a cache entry would block ``open`` or ``read`` forever (or
return endless bytes), so every input is opened non-blocking and refused
unless ``fstat`` says it is a regular file.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import tempfile
from contextlib import contextmanager
from typing import Iterator, Sequence

#: the name prefix of every temporary file: a leftover of a killed run is
#: recognised (and removed) by it
TMP_PREFIX = ".tmp-"


_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISLNK, "a symbolic link"))


def file_kind(mode: int) -> str:
    """What a ``st_mode`` is, in words ("a FIFO"), for error messages."""
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def open_regular(path: str, follow: bool = True) -> int:
    """A read-only descriptor of ``path``; OSError (``EINVAL``, with the
    file's kind as its text) unless it is a regular file.  Opening with
    ``O_NONBLOCK`` makes a FIFO without a writer fail the check instead of
    blocking; ``follow=False`` refuses a symbolic link itself.  A dangling
    symbolic link is named as such."""
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (0 if follow else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        if os.path.islink(path):  # "no such file" would puzzle whoever sees it listed
            raise FileNotFoundError(errno.ENOENT, f"dangling symbolic link (to '{os.readlink(path)}')",
                                    path) from None
        raise
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise OSError(errno.EINVAL, f"not a regular file ({file_kind(mode)})", path)
    os.set_blocking(fd, True)
    return fd


def read_regular(path: str, follow: bool = True) -> bytes:
    """The bytes of the regular file ``path`` (see :func:`open_regular`)."""
    with os.fdopen(open_regular(path, follow), "rb") as handle:
        return handle.read()


def remove_any(path: str) -> None:
    """Remove ``path`` whatever it is (a directory tree, a file, a FIFO, a
    symbolic link, not what it points to); what cannot be removed stays."""
    try:
        if stat.S_ISDIR(os.lstat(path).st_mode):
            shutil.rmtree(path, ignore_errors=True)
        else:
            os.unlink(path)
    except OSError:
        pass


def atomic_write(path: str, text: str | bytes | list[str], same_as: str | None = None) -> None:
    """Replace ``path`` with ``text`` (or the concatenation of a list of
    strings, which large outputs are made of).  When the file ``same_as`` already
    holds exactly these bytes (an unchanged output of an earlier nightly),
    it is hard-linked instead: outputs are only ever replaced, never edited
    in place, so sharing the inode is safe, and an unchanged tree's hundreds
    of megabytes of symtypes are not written again."""
    path = os.path.realpath(path)  # write through symlinks, as open(path, "w") would
    pieces = text if isinstance(text, list) else [text]
    if same_as is not None and _holds(same_as, pieces) and _link(same_as, path):
        return
    if isinstance(text, list):
        text = "".join(text)
    data = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else text
    try:
        mode = os.stat(path).st_mode & 0o7777  # keep an existing file's permissions
    except FileNotFoundError:
        mode = 0o666 & ~_umask()
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, suffix="-" + os.path.basename(path), dir=directory)
    with _removed_on_failure(tmp):
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)


@contextmanager
def _removed_on_failure(tmp: str) -> Iterator[None]:
    """Delete the temporary name ``tmp`` if the body fails, then re-raise."""
    try:
        yield
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


_COMPARE_CHUNK = 1 << 22


def _holds(path: str, pieces: Sequence[str | bytes]) -> bool:
    """Whether the file holds exactly the concatenation of ``pieces``
    (encoded as outputs are).  Compared a few megabytes at a time: joining,
    encoding or reading a whole symtypes file at once costs more in fresh
    memory than the comparison."""
    try:
        with os.fdopen(open_regular(path), "rb") as handle:
            for text in pieces:
                for start in range(0, len(text), _COMPARE_CHUNK):
                    piece = text[start:start + _COMPARE_CHUNK]
                    if isinstance(piece, str):
                        piece = piece.encode("utf-8", "surrogateescape")
                    if handle.read(len(piece)) != piece:
                        return False
            return handle.read(1) == b""
    except OSError:
        return False


def _link(existing: str, path: str) -> bool:
    """Atomically make ``path`` another name of ``existing``; False where
    links are impossible (another file system, no permission)."""
    tmp = os.path.join(os.path.dirname(path), f"{TMP_PREFIX}{os.getpid()}-{os.urandom(6).hex()}-"
                       + os.path.basename(path))
    try:
        os.link(existing, tmp)
    except OSError:
        return False
    with _removed_on_failure(tmp):
        os.replace(tmp, path)
    return True


def _umask() -> int:
    """The process umask (reading it requires setting it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
