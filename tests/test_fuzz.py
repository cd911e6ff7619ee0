"""Corrupt objects given to ``batchver gendwarfksyms``: seeded mutants (bit
flips, byte changes and truncations aimed at the ELF header, the section
headers, the debug sections, their relocations and the symbol table) of
small objects compiled at test time.

Every mutant must give one answer, exit 0 or exit 1 with one upstream-style
error line, without a traceback and within a timeout.  The targeted mutants
encode the rules learnt from upstream gendwarfksyms (libdw 0.188) with
``python -m tests.support.fuzz_objects --reference``: each says whether upstream refuses
the object, and batchver must answer the same.  When the reference binary
is at hand (``BATCHVER_UPSTREAM_GENDWARFKSYMS``), the test also checks that
upstream still answers as encoded; CI has none and checks batchver alone.
"""

from __future__ import annotations

import json
import os
import struct

import pytest

from batchver.dwarf.constants import DW_AT_type, DW_TAG_subprogram
from batchver.dwarf.leb128 import read_uleb
from batchver.dwarf.reader import DwarfReader
from batchver.elf.file import ElfObject

from .conftest import example

from tests.support import fuzz_objects as fuzz

RANDOM_MUTANTS = 4000  # about 20 s on a 2-core machine
UPSTREAM = os.environ.get("BATCHVER_UPSTREAM_GENDWARFKSYMS")


@pytest.fixture(scope="module")
def objects(tmp_path_factory, cc) -> list[str]:
    return fuzz.build_objects(str(tmp_path_factory.mktemp("fuzz")))


def _answer(tmp_path, data: bytes, name: str = "mutant.o") -> tuple[int, str, str]:
    """batchver's answer on ``data``, checked for its form: exit 0, or exit
    1 with nothing on stdout and exactly one upstream-style error line that
    no unanticipated exception produced."""
    path = tmp_path / name
    path.write_bytes(data)
    status, out, err = fuzz.run_batchver(str(path), fuzz.EXPORTS)
    assert "Traceback" not in err and "internal error" not in err, err
    assert status in (0, 1), (status, err)
    if status == 1:
        assert out == ""
        assert [line.startswith("error: gendwarfksyms: ") for line in err.splitlines()] == [True]
    return status, out, err


def test_random_mutants_answer_in_one_line_without_hanging(objects, tmp_path):
    """Seeded; fails on a traceback, an internal error, an exit status other
    than 0 or 1, a malformed error, or a mutant taking longer than
    fuzz.TIMEOUT seconds (fuzz.Timeout propagates)."""
    found = fuzz.mutants(objects, RANDOM_MUTANTS, seed=20261130)
    assert len(found) > RANDOM_MUTANTS * 0.9  # only no-op changes are dropped
    statuses = {0: 0, 1: 0}
    for mutant in found:
        status, _, _ = _answer(tmp_path, mutant.data)
        statuses[status] += 1
    print(f"{len(found)} mutants: {statuses[0]} versioned, {statuses[1]} refused")
    assert statuses[0] and statuses[1]


# -- targeted mutants: upstream's rules --------------------------------------
def _layout(path: str) -> dict:
    """Where the parts a targeted mutant changes are, read from the intact
    object (the mutants break them, not the reading)."""
    elf = ElfObject(path)
    try:
        sections = {s.name: s for s in elf.sections}
        e = "<" if elf.little_endian else ">"
        raw = open(path, "rb").read()
        rela = sections[".rela.debug_info"]
        symtab = sections[".symtab"]
        first = struct.unpack_from(e + "QQq", raw, rela.offset)
        reader = DwarfReader(elf)
        private = next(key for key, tag in reader.child_entries(reader.unit_die(reader.units[0]))
                       if tag == DW_TAG_subprogram and reader.die(key).name == "fz_private")
        info = sections[".debug_info"]
        unit = reader.units[0]
        # where fz_sum's DW_AT_type (DW_FORM_ref4, its return type) is
        returns = next(key for key, tag in reader.child_entries(reader.unit_die(unit))
                       if tag == DW_TAG_subprogram and reader.die(key).name == "fz_sum")
        code, pos = read_uleb(unit.data, returns - unit.key_base)
        for at, form, _ in unit.abbrevs[code][2]:
            if at == DW_AT_type:
                break
            pos = reader._skip_form(unit.data, pos, form, unit)
        # a debug section libdw loads but versioning never reads
        unread = next(name for name in (".debug_aranges", ".debug_rnglists", ".debug_loclists",
                                        ".debug_ranges", ".debug_loc", ".debug_frame")
                      if name in sections)
        return {"unread": unread, "e": e, "raw": raw, "sections": sections, "rela": rela, "symtab": symtab,
                "first_symbol": first[1] >> 32, "shoff": struct.unpack_from(e + "Q", raw, 0x28)[0],
                "private_die": info.offset + private - reader.units[0].key_base,
                "dwarf": reader.units[0].version, "codes": max(reader.units[0].abbrevs) + 1,
                "return_type": info.offset + pos, "unit_length": unit.length}
        # (an unknown code below 0x80 takes the place of the one-byte code)
    finally:
        elf.close()


def _patch(raw: bytes, offset: int, fmt: str, value: int) -> bytes:
    data = bytearray(raw)
    struct.pack_into(fmt, data, offset, value)
    return bytes(data)


def _shdr(at: dict, name: str, field: int) -> int:
    """File offset of a field of a section header (ELF64)."""
    return at["shoff"] + 64 * at["sections"][name].index + field


# (what is changed, upstream's answer, the change); each was checked against
# upstream gendwarfksyms with tests/support/fuzz_objects.py's reference runs.
TARGETED = [
    ("truncated inside .debug_info", 1,
     lambda at: at["raw"][:at["sections"][".debug_info"].offset + 40]),
    ("truncated inside the section header table", 1, lambda at: at["raw"][:-10]),
    ("relocation offset past .debug_info", 1,
     lambda at: _patch(at["raw"], at["rela"].offset, at["e"] + "Q", 1 << 30)),
    ("relocation symbol past the symbol table", 1,
     lambda at: _patch(at["raw"], at["rela"].offset + 12, at["e"] + "I", 0xFFFF)),
    ("relocated symbol in a reserved section index", 1,
     lambda at: _patch(at["raw"], at["symtab"].offset + 24 * at["first_symbol"] + 6,
                       at["e"] + "H", 0xFF05)),
    ("program header offset past the end", 1,
     lambda at: _patch(at["raw"], 0x20, at["e"] + "Q", len(at["raw"]))),
    ("a debug section versioning never reads past the end of the file", 1,
     lambda at: _patch(at["raw"], _shdr(at, at["unread"], 32), at["e"] + "Q", 1 << 40)),
    ("no symbol table in a relocatable object", 1,
     lambda at: _patch(at["raw"], _shdr(at, ".symtab", 4), at["e"] + "I", 0x2002)),
    ("line table default_is_stmt 2", 1,
     lambda at: _patch(at["raw"], at["sections"][".debug_line"].offset
                       + (14 if at["dwarf"] >= 5 else 12), "B", 2)),
    ("line table version 1", 1,
     lambda at: _patch(at["raw"], at["sections"][".debug_line"].offset + 4, at["e"] + "H", 1)),
    ("unknown abbreviation in a DIE versioning never reads", 1,
     lambda at: _patch(at["raw"], at["private_die"], "B", at["codes"])),
    ("a return type reference at its unit's length (no DIE: void)", 0,
     lambda at: _patch(at["raw"], at["return_type"], at["e"] + "I", at["unit_length"])),
    ("a return type reference far past its unit (no DIE: void)", 0,
     lambda at: _patch(at["raw"], at["return_type"], at["e"] + "I", 0x7FFFFFFF)),
    ("a return type reference to the unit's last byte (a null entry)", 1,
     lambda at: _patch(at["raw"], at["return_type"], at["e"] + "I", at["unit_length"] - 1)),
    ("unknown relocation type (left unapplied)", 0,
     lambda at: _patch(at["raw"], at["rela"].offset + 8, at["e"] + "I", 0x7FF0)),
    ("e_shentsize 0x140 (not checked)", 0,
     lambda at: _patch(at["raw"], 0x3A, at["e"] + "H", 0x140)),
    ("local symbol name past the string table", 0,
     lambda at: _patch(at["raw"], at["symtab"].offset + 24, at["e"] + "I", 0xFFFFFF)),
]


@pytest.mark.parametrize("number", range(len(TARGETED)), ids=[t[0] for t in TARGETED])
def test_refused_exactly_where_upstream_refuses(objects, tmp_path, number):
    what, upstream_status, change = TARGETED[number]
    for path in objects:
        data = change(_layout(path))
        status, out, err = _answer(tmp_path, data, os.path.basename(path))
        assert status == upstream_status, f"{os.path.basename(path)}: {what}: {err}"
        if UPSTREAM:
            theirs = fuzz.run_upstream(UPSTREAM, str(tmp_path / os.path.basename(path)),
                                       fuzz.EXPORTS)
            assert theirs[0] == upstream_status, f"upstream now answers {theirs}"
            if status == 0:
                assert theirs[1] == out


def test_intact_objects_version_like_upstream(objects, tmp_path):
    for path in objects:
        status, out, _ = _answer(tmp_path, open(path, "rb").read())
        assert status == 0 and out.count("#SYMVER") == len(fuzz.EXPORTS)
        if UPSTREAM:
            assert fuzz.run_upstream(UPSTREAM, path, fuzz.EXPORTS)[1] == out


# -- what batchver run says about a corrupt file -----------------------------


def _run(tree, out, *extra: str) -> tuple[int, dict]:
    from batchver.cli import main as batchver_main
    status = batchver_main(["run", str(tree), "-o", str(out), "--jobs", "1", *extra])
    return status, json.loads((out / "report.json").read_text())


def test_run_names_file_section_and_offset_of_a_corrupt_object(tmp_path, cc, capsys):
    """A DIE with an unknown abbreviation: report.json and the summary say
    which file, section, offset and unit, and every other file is versioned."""
    tree = tmp_path / "tree"
    example.build(str(tree))
    obj = tree / "lib" / "util.o"
    elf = ElfObject(str(obj))
    reader = DwarfReader(elf)
    unit = reader.units[0]
    child = reader.unit_die(unit).end - unit.key_base  # the first DIE below the unit's
    where = elf.section(".debug_info").offset + child
    unknown = max(unit.abbrevs) + 1
    elf.close()
    obj.write_bytes(_patch(obj.read_bytes(), where, "B", unknown))
    status, report = _run(tree, tmp_path / "out")
    assert status == 1
    message = (f"`dwarf_child(die, &current)` failed: -1 (invalid abbreviation code "
               f"{unknown} at .debug_info offset {child:#x} in unit at 0x0 of '{obj}')")
    failed = {f["file"]: f["error"] for f in report["files"] if f["status"] == "failed"}
    assert failed == {"lib/util.o": message}
    assert report["counts"]["versioned"] == report["counts"]["exports"] - 2  # util.o's two
    assert f"FAILED lib/util.o: {message}" in capsys.readouterr().err.splitlines()


def test_run_keeps_the_traceback_of_an_internal_error_for_debug(tmp_path, cc, capsys,
                                                                monkeypatch):
    """A defect (here an IndexError planted in the versioning step) is one
    line naming the code it came from; --debug prints its traceback."""
    import batchver.tree.tasks as tasks

    def broken(path, names, **kwargs):
        if path.endswith("util.o"):
            raise IndexError("index out of range")
        return version_object(path, names, **kwargs)

    version_object = tasks.version_object
    monkeypatch.setattr(tasks, "version_object", broken)
    tree = tmp_path / "tree"
    example.build(str(tree))
    status, report = _run(tree, tmp_path / "out", "--debug")
    (error,) = [f["error"] for f in report["files"] if f["status"] == "failed"]
    assert error.startswith("internal error: IndexError: index out of range (at test_fuzz.py:")
    assert error.endswith(" in broken)")
    err = capsys.readouterr().err
    assert "traceback for lib/util.o:\nTraceback (most recent call last):" in err
    assert 'raise IndexError("index out of range")' in err
