"""Versioning runs with the cyclic collector paused, so it must not leave
reference cycles behind: anything it builds has to be freed by reference
counting alone, or a long run over many units would keep every unit's
die_map alive until the collector ran again."""

from __future__ import annotations

import gc

import pytest

from batchver.gendwarfksyms.gendwarfksyms import version_object
from batchver.errors import VersioningError
from batchver.gcpause import collector_paused

from .conftest import compile_c

SOURCE = """
struct node;
typedef void (*callback)(struct node *, void (*)(struct node *));
union payload { long l; struct node *next; };
enum kind { KIND_A = 1, KIND_B = -1 };
struct node { struct node *self; callback cb; union payload p; enum kind k; unsigned bits : 3;
              const char name[8]; };
int walk(struct node *n, callback cb) { return n->k; }
struct node exported_node;
"""


@pytest.fixture
def collected_garbage():
    """Run with the collector off and keep what it would have freed."""
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        yield gc.garbage
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        if was_enabled:
            gc.enable()


def test_versioning_leaves_no_cycles_of_its_own(tmp_path, collected_garbage):
    obj = compile_c(tmp_path, SOURCE, "cycles", ("-gdwarf-5",))
    for stable in (False, True):
        result = version_object(str(obj), ["walk", "exported_node"], stable=stable)
        assert result.versions["walk"] is not None and result.versions["exported_node"] is not None
        del result
    gc.collect()
    ours = sorted({type(o).__module__ + "." + type(o).__qualname__ for o in collected_garbage
                   if type(o).__module__.startswith("batchver")})
    assert ours == []


def test_pauses_nest_and_restore_the_collector():
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()  # it was off before: it stays off
    finally:
        gc.enable()


def test_collector_resumes_after_a_failed_object(tmp_path):
    bad = tmp_path / "bad.o"
    bad.write_bytes(b"\x7fELF" + b"\0" * 60)
    with pytest.raises(VersioningError):
        version_object(str(bad), ["anything"])
    assert gc.isenabled()
