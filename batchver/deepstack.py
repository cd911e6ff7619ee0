"""Run deeply recursive work on a thread with a large stack.

Rendering follows the type graph depth first, as upstream's C does, and a
real kernel chains structs deeply: ``nfsv4.ko`` of Debian's 6.12 kernel needs
over a thousand Python frames, past the interpreter's default limit, while
upstream only needs more C stack.  Rather than cap the depth we can handle,
the work runs on a thread whose stack is large enough for a much deeper
limit (the stack is reserved, not committed: memory is used only as deep as
the recursion really goes).  Where the system refuses a large reservation
(``ulimit -v``), a smaller stack with a proportionally smaller limit is
used.  The limit is raised while deep calls run and put back afterwards, so
other threads keep their usual protection.

A deep thread is kept once its call returns and serves the next call: a
tree run versions hundreds of small objects one after another, and starting
a thread with such a stack for each of them cost a tenth of the run.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Callable, ParamSpec, TypeVar

T = TypeVar("T")
P = ParamSpec("P")

STACK_SIZES = (1 << 30, 1 << 28, 1 << 26)  # tried in order
FRAME_BYTES = 4096  # C stack allowed per Python frame: generous for CPython 3.10+

_state = threading.local()
_lock = threading.Lock()
_active: list[int] = []  # recursion limits of the deep calls now running
_saved_limit = 0


def _enter(limit: int) -> None:
    """Raise the process-wide limit for one more running deep call; with
    several, the smallest stack decides."""
    global _saved_limit
    with _lock:
        if not _active:
            _saved_limit = sys.getrecursionlimit()
        _active.append(limit)
        sys.setrecursionlimit(max(_saved_limit, min(_active)))


def _leave(limit: int) -> None:
    with _lock:
        _active.remove(limit)
        sys.setrecursionlimit(max(_saved_limit, min(_active)) if _active else _saved_limit)


class _DeepThread:
    """A thread with a large stack that runs the calls handed to it, one
    at a time, and waits for the next while idle."""

    def __init__(self, limit: int):
        self.limit = limit  # the recursion limit its stack allows
        self.job: Callable[[], None] | None = None
        self.ready = threading.Semaphore(0)  # a job has been handed over
        self.done = threading.Semaphore(0)  # ... and has finished
        self.thread = threading.Thread(target=self._serve, name="batchver-deep", daemon=True)

    def _serve(self) -> None:
        _state.deep = True
        while True:
            self.ready.acquire()
            job, self.job = self.job, None
            assert job is not None
            job()
            del job  # an idle thread keeps nothing of its last call alive
            self.done.release()


_idle: list[_DeepThread] = []  # deep threads waiting for a call


def _start() -> _DeepThread:
    """A new deep thread, with the largest stack the system grants."""
    with _lock:  # a stack size applies to threads started while it is set
        for size in STACK_SIZES:
            deep = _DeepThread(size // FRAME_BYTES)
            previous = threading.stack_size(size)
            try:
                deep.thread.start()
                return deep
            except RuntimeError:  # the reservation was refused: try a smaller one
                continue
            finally:
                threading.stack_size(previous)
    raise RuntimeError(f"cannot start a thread with a stack of even "
                       f"{STACK_SIZES[-1] >> 20} MiB for deep type graphs")


def call_deep(func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``func(*args, **kwargs)``, run where deep recursion is safe; its
    result or exception comes back as if it had been called directly."""
    if getattr(_state, "deep", False):  # already on a deep thread
        return func(*args, **kwargs)
    with _lock:
        deep = _idle.pop() if _idle else None
    if deep is None:
        deep = _start()
    values: list[T] = []  # func's result, or
    errors: list[BaseException] = []  # what it raised
    limit = deep.limit

    def job() -> None:
        _enter(limit)
        try:
            values.append(func(*args, **kwargs))
        except BaseException as exc:  # handed to the caller below
            errors.append(exc)
        finally:
            _leave(limit)

    deep.job = job
    deep.ready.release()
    deep.done.acquire()  # if this is interrupted, the busy thread is never reused
    with _lock:
        _idle.append(deep)
    if errors:
        raise errors[0]
    return values[0]


# A forked child has none of its parent's threads.
os.register_at_fork(after_in_child=_idle.clear)
