"""Pause Python's cyclic garbage collector while an object is versioned.

Versioning allocates millions of small containers (decoded DIEs, their
attribute dicts, die_map entries) that all stay alive until the object is
done.  The cyclic collector is triggered by allocation counts, so it keeps
re-traversing that growing, cycle-free heap: on the 28 shared modules this
cost a quarter of the run time, while finding nothing to free.

The core therefore avoids reference cycles (everything it builds is freed by
reference counting once a run's result is taken) and runs with the collector
paused.  Pauses nest and may overlap across threads; the collector resumes
when the last one ends, and only if it was enabled when the first began.
"""

from __future__ import annotations

import gc
import threading
from contextlib import contextmanager
from typing import Iterator

_lock = threading.Lock()
_depth = 0
_resume = False


@contextmanager
def collector_paused() -> Iterator[None]:
    """Run the body with the cyclic collector disabled."""
    global _depth, _resume
    with _lock:
        if _depth == 0:
            _resume = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _resume:
                gc.enable()
