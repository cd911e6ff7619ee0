"""The compiled per-abbreviation DIE decoders agree with the generic one."""

from __future__ import annotations

import pytest

from batchver.dwarf import reader as dwarfreader
from batchver.dwarf.decode import WANTED
from batchver.dwarf.leb128 import read_uleb
from batchver.dwarf.reader import DwarfReader
from batchver.elf.file import ElfObject

from .conftest import LOCAL_CORPUS

FILES = sorted(LOCAL_CORPUS.glob("fixtures/*.o")) + [
    LOCAL_CORPUS / "debian-6.12.117-cloud/kernel/drivers/nvdimm/nd_virtio.ko",
    LOCAL_CORPUS / "linux-6.12-defconfig/objects/lib/dim/net_dim.o",
]


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_compiled_decoder_matches_generic(path, monkeypatch):
    monkeypatch.setattr(dwarfreader, "COMPILE_AFTER", 1)  # compile every layout at once
    reader = DwarfReader(ElfObject(str(path)))
    decoded = 0
    for unit in reader.units:
        pos = unit.die_offset
        while pos < unit.end:
            code, attrs_pos = read_uleb(unit.data, pos)
            if code == 0:
                pos = attrs_pos
                continue
            tag, children, specs = unit.abbrevs[code]
            fast = reader._decode(unit.key_base + pos, unit)
            slow = reader._decode_generic(unit.key_base + pos, unit, tag, children, specs, attrs_pos)
            assert fast.attrs == {k: v for k, v in slow.attrs.items() if k in WANTED}
            assert (fast.tag, fast.has_children, fast.end) == (slow.tag, slow.has_children, slow.end)
            decoded += 1
            pos = fast.end - unit.key_base
    assert decoded > 100


def test_rare_layouts_are_decoded_generically_until_they_recur(monkeypatch):
    """A layout is compiled once it has been met COMPILE_AFTER times; before
    that the generic decoder serves it (all attributes, same values)."""
    monkeypatch.setattr(dwarfreader, "_DECODERS", {})
    monkeypatch.setattr(dwarfreader, "_SEEN", {})
    reader = DwarfReader(ElfObject(str(FILES[0])))
    unit = reader.units[0]
    specs = next(specs for tag, _, specs in unit.abbrevs.values() if tag == 0x0D)  # a member
    for _ in range(dwarfreader.COMPILE_AFTER - 1):
        assert reader._decoder(unit, specs) is None
    assert callable(reader._decoder(unit, specs))
    assert callable(reader._decoder(unit, specs))  # and it stays compiled


@pytest.mark.parametrize("prefill", [True, False])
def test_string_table_answers_as_libdw_does(prefill, monkeypatch):
    # dwarf_formstring: the bytes from the offset to the next NUL; an offset
    # into a string (a linker's tail merging) gives its tail; a last string
    # without its NUL runs to the section's end; an offset at or past the
    # end gives NULL.  Whole-section decoding must answer exactly the same.
    if not prefill:
        monkeypatch.setattr(dwarfreader, "PREFILL_BYTES", 0)
    table = dwarfreader.StringTable(b"ab\0cd\0\xff\0\0tail", "x.o")
    expected = {0: "ab", 1: "b", 2: "", 3: "cd", 4: "d", 6: "\udcff", 8: "", 9: "tail", 12: "l",
                13: None, 14: None}
    assert {offset: table[offset] for offset in expected} == expected
    # all ASCII (decoded whole), and UTF-8 with a character of two bytes
    # (offsets in bytes, not characters), each with its last NUL
    ascii_table = dwarfreader.StringTable(b"ab\0\0cd\0", "x.o")
    assert [ascii_table[o] for o in range(8)] == ["ab", "b", "", "", "cd", "d", "", None]
    utf8 = dwarfreader.StringTable(b"\xc3\xa9x\0cd\0", "x.o")
    assert [utf8[o] for o in range(7)] == ["\u00e9x", "\udca9x", "x", "", "cd", "d", ""]
    empty = dwarfreader.StringTable(b"", "x.o")
    assert (empty[0], empty[1]) == (None, None)
