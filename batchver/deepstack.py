"""Run deeply recursive work on a thread with a large stack.

Rendering follows the type graph depth first, as upstream's C does, and a
real kernel chains structs deeply: ``nfsv4.ko`` of Debian's 6.12 kernel needs
over a thousand Python frames, past the interpreter's default limit, while
upstream only needs more C stack.  Rather than cap the depth we can handle,
the work runs on a thread whose stack is large enough for a much deeper
limit (the stack is reserved, not committed: memory is used only as deep as
the recursion really goes).  The limit is raised for the call and put back
afterwards, so the caller's thread keeps its usual protection.
"""

from __future__ import annotations

import sys
import threading
from typing import Callable, TypeVar

T = TypeVar("T")

STACK_BYTES = 1 << 30
RECURSION_LIMIT = 250_000

_state = threading.local()
_limit_lock = threading.Lock()
_active = 0  # deep calls running in this process (threads of a dask worker, say)
_saved_limit = 0


def call_deep(func: Callable[..., T], *args, **kwargs) -> T:
    """``func(*args, **kwargs)``, run where deep recursion is safe; its
    result or exception comes back as if it had been called directly."""
    if getattr(_state, "deep", False):  # already on a deep thread
        return func(*args, **kwargs)
    outcome: dict[str, object] = {}

    def target() -> None:
        _state.deep = True
        try:
            outcome["value"] = func(*args, **kwargs)
        except BaseException as exc:  # handed to the caller below
            outcome["error"] = exc

    global _active, _saved_limit
    with _limit_lock:
        if _active == 0:
            _saved_limit = sys.getrecursionlimit()
            sys.setrecursionlimit(max(_saved_limit, RECURSION_LIMIT))
        _active += 1
    try:
        worker = threading.Thread(target=target, name="batchver-deep", daemon=True)
        with _limit_lock:  # the size applies to threads started while it is set
            previous = threading.stack_size(STACK_BYTES)
            try:
                worker.start()
            finally:
                threading.stack_size(previous)
        worker.join()
    finally:
        with _limit_lock:
            _active -= 1
            if _active == 0:
                sys.setrecursionlimit(_saved_limit)
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]
