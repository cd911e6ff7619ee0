"""Type graphs deeper than Python's default recursion limit.

Rendering follows types depth first, as upstream does; Debian's 6.12
``nfsv4.ko`` already needs more than a thousand frames.  A chain of
thousands of structs, each pointing at the next, must version like any other
object, in the drop-in and in the whole-tree runner.
"""

from __future__ import annotations

import sys
import zlib

import pytest

from .conftest import compile_c, dumped_versions, run_dropin, symbol_list, symtypes_by_key, write_files

DEPTH = 3000


def chain_header(depth: int) -> str:
    lines = [f"struct s{i};" for i in range(depth + 1)]
    lines += [f"struct s{i} {{ struct s{i + 1} *next; int v; }};" for i in range(depth)]
    lines.append(f"struct s{depth} {{ int end; }};")
    return "\n".join(lines) + "\n"


def test_chain_deeper_than_the_default_recursion_limit(tmp_path):
    write_files(tmp_path, {"chain.h": chain_header(DEPTH)})
    obj = compile_c(tmp_path, '#include "chain.h"\nint walk(struct s0 *p) { return p->v; }\n',
                    "chain", ("-gdwarf-5",))
    limit = sys.getrecursionlimit()
    rc, out, err = run_dropin(["--dump-versions", "-T", tmp_path / "out.symtypes", obj],
                              symbol_list(["walk"]))
    assert rc == 0, err
    assert sys.getrecursionlimit() == limit  # raised for the run only
    lines = symtypes_by_key((tmp_path / "out.symtypes").read_text())
    assert len(lines) == DEPTH + 2  # every struct, and the symbol
    assert lines["s#s0"] == ("s#s0 structure_type s0 { member pointer_type { s#s1 } byte_size(8) "
                             "next data_member_location(0) , member base_type int byte_size(4) "
                             "encoding(5) v data_member_location(8) } byte_size(16)")
    assert lines[f"s#s{DEPTH}"] == (f"s#s{DEPTH} structure_type s{DEPTH} {{ member base_type int "
                                    f"byte_size(4) encoding(5) end data_member_location(0) }} "
                                    f"byte_size(4)")
    assert lines["walk"] == ("walk subprogram ( formal_parameter pointer_type { s#s0 } byte_size(8) "
                             "p ) -> base_type int byte_size(4) encoding(5)")
    text = dumped_versions(err, ["walk"])["walk"]
    assert text.count("structure_type s") == DEPTH + 1
    assert out == f"#SYMVER walk 0x{zlib.crc32(text.encode()):08x}\n"


def test_smaller_stack_when_a_large_one_is_refused(monkeypatch):
    """Under a tight ``ulimit -v`` the large reservation fails: a smaller
    stack is used, with a proportionally smaller recursion limit."""
    from batchver import deepstack

    monkeypatch.setattr(deepstack, "STACK_SIZES", (1 << 46, 1 << 26))
    monkeypatch.setattr(deepstack, "_idle", [])  # no deep thread from an earlier call
    before = sys.getrecursionlimit()
    assert deepstack.call_deep(sys.getrecursionlimit) == (1 << 26) // deepstack.FRAME_BYTES
    assert sys.getrecursionlimit() == before


def test_errors_come_back_to_the_caller():
    from batchver import deepstack

    def fail() -> None:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="^boom$"):
        deepstack.call_deep(fail)


def test_one_deep_thread_serves_call_after_call():
    """Objects are versioned one after another on one deep thread (starting
    one per object cost a tenth of a tree run); it keeps nothing of a call
    alive, and the recursion limit is back to normal between calls."""
    import threading
    import weakref

    from batchver import deepstack

    class Payload:
        pass

    before = sys.getrecursionlimit()
    payload = Payload()
    gone = weakref.ref(payload)
    first = deepstack.call_deep(lambda p: (threading.get_ident(), sys.getrecursionlimit()), payload)
    del payload
    assert gone() is None
    assert sys.getrecursionlimit() == before
    second = deepstack.call_deep(lambda: (threading.get_ident(), sys.getrecursionlimit()))
    assert first == second
    assert first[0] != threading.get_ident() and first[1] > before
