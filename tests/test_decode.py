"""The per-abbreviation decoding plans agree with the form-by-form decoder."""

from __future__ import annotations

import pytest

from batchver.dwarf import reader as dwarfreader
from batchver.dwarf.constants import DW_AT_name, DW_AT_type
from batchver.dwarf.decode import (
    CONST, FLAG, NULL_STRING, OTHER, OTHER_VALUE, REF, STR, WANTED, decode_value, encode)
from batchver.dwarf.leb128 import read_uleb
from batchver.dwarf.reader import DwarfReader
from batchver.elf.file import ElfObject

from .conftest import LOCAL_CORPUS

FILES = sorted(LOCAL_CORPUS.glob("fixtures/*.o")) + [
    LOCAL_CORPUS / "debian-6.12.117-cloud/kernel/drivers/nvdimm/nd_virtio.ko",
    LOCAL_CORPUS / "linux-6.12-defconfig/objects/lib/dim/net_dim.o",
]


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_plan_decoder_matches_form_by_form(path):
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
            attrs, end = reader.decode_attributes(unit.key_base + pos, unit, specs, attrs_pos)
            assert fast.attrs == {k: v for k, v in attrs.items() if k in WANTED}
            assert (fast.tag, fast.has_children, fast.end) == (tag, children, end)
            decoded += 1
            pos = fast.end - unit.key_base
    assert decoded > 100


@pytest.mark.parametrize("value, kept", [
    ((CONST, 0), 0), ((CONST, (1 << 64) - 1), (1 << 64) - 1), ((REF, 0), -1), ((REF, 1 << 48), ~(1 << 48)),
    ((STR, "x"), "x"), ((STR, ""), ""), ((STR, None), NULL_STRING), ((FLAG, 1), True), ((FLAG, 0), False),
    ((OTHER, None), OTHER_VALUE)])
def test_kept_values_keep_their_class(value, kept):
    # A DIE keeps each value without its class: numbers, references,
    # strings, NULL strings, flags and other values must stay apart, the
    # smallest and largest of each included.
    assert encode(value) == kept and type(encode(value)) is type(kept)
    assert decode_value(kept) == value


def test_a_die_answers_each_accessor_only_for_its_class():
    reader = DwarfReader(ElfObject(str(FILES[0])))
    unit = reader.units[0]
    die = reader.unit_die(unit)
    assert die is not None
    name = die.string(DW_AT_name)
    assert name and die.udata(DW_AT_name) is None and die.ref(DW_AT_name) is None
    member = next(d for d in (reader.die(k, unit) for k, _ in reader.child_entries(die))
                  if d is not None and d.ref(DW_AT_type) is not None)
    target = member.ref(DW_AT_type)
    assert target is not None and target >= unit.start
    assert member.udata(DW_AT_type) is None and member.string(DW_AT_type) is None
    assert not member.flag(DW_AT_type)


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
