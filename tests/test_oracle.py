"""pyelftools as the independent oracle of batchver's ELF/DWARF reader.

batchver reads ELF and DWARF with its own code (docs/reader.md says why).  Here every unit and DIE of every object the tests have is decoded by
both and compared after relocation: unit headers, each DIE's offset, size,
tag and children flag, its abbreviation's attributes and forms, and every
attribute value as batchver normalises it (constants as unsigned 64-bit
values, references as keys, strings decoded).  The objects are every ELF file
under tests/data (whatever folder holds it, other architectures included),
the objects the other tests compile (tests/data/built and the example tree)
and, when present, the shared corpus.

pyelftools needs about 0.15 ms per relocation and 0.6 ms per DIE compared
here, so an object with more DIEs than the budget (:data:`DIE_BUDGET` for the
in-repo objects, which are all compared whole, :data:`SHARED_DIE_BUDGET` for
the shared corpus) is compared on a deterministic sample: every k-th DIE in
file order plus every unit's first DIE, each parsed by pyelftools on its own
at batchver's offset (a size or tag disagreement anywhere before it shows up
as a mismatch there).
"""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from batchver.dwarf.constants import DW_TAG_member
from batchver.dwarf.decode import CONST, FLAG, MASK64, OTHER, REF, STR, WANTED
from batchver.dwarf.reader import TYPES_BASE, DwarfReader, read_uleb
from batchver.elf.file import ElfObject

from .conftest import (CORPUS, DATA, LOCAL_CORPUS, SHARED_MISSING, example, expected_tool,
                       shared_corpus_present)

elftools = pytest.importorskip("elftools", reason="pyelftools is the oracle (pip install -e '.[test]')")
from elftools.common.exceptions import ELFRelocationError  # noqa: E402
from elftools.dwarf.die import DIE  # noqa: E402
from elftools.dwarf.enums import ENUM_DW_AT, ENUM_DW_FORM, ENUM_DW_TAG, ENUM_DW_UT  # noqa: E402
from elftools.elf.elffile import ELFFile  # noqa: E402
from elftools.elf.sections import SymbolTableSection  # noqa: E402

DIE_BUDGET = 20000  # every DIE of every in-repo object (the largest has 17,990)
SHARED_DIE_BUDGET = 2000  # the shared corpus is 25 times larger; its relocation dominates anyway


def forms(*names: str) -> set[int]:
    return {ENUM_DW_FORM[f"DW_FORM_{name}"] for name in names}


# Forms whose value batchver does not keep at all (addresses: nothing in
# versioning reads them).
ADDRESS_FORMS = forms("addr", "addrx", "GNU_addr_index")
REF_FORMS = forms("ref1", "ref2", "ref4", "ref8", "ref_udata")
CONST_FORMS = forms("data1", "data2", "data4", "data8", "udata", "sdata", "implicit_const", "sec_offset",
                    "loclistx", "rnglistx")
STR_FORMS = forms("strp", "line_strp", "string", "strx", "strx1", "strx2", "strx3", "strx4", "GNU_str_index")


def is_elf(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(4) == b"\x7fELF"


def data_objects() -> list[Path]:
    return sorted(p for p in DATA.rglob("*") if p.is_file() and is_elf(p))


def shared_objects() -> list[Path]:
    """Shared corpus objects not also in the repository."""
    local = {p.relative_to(LOCAL_CORPUS) for p in LOCAL_CORPUS.rglob("*") if p.is_file()}
    return sorted(p for p in CORPUS.rglob("*") if p.suffix in (".o", ".ko") and p.relative_to(CORPUS) not in local)


def number(enum: dict, name) -> int:
    """pyelftools names known constants and leaves unknown ones as ints."""
    return enum[name] if isinstance(name, str) else name


@pytest.fixture
def quick_relocation(monkeypatch):
    """pyelftools re-parses a symbol (and re-derives the machine) for every
    relocation; remembering both keeps its results and takes a third of its
    time, which is what fits this test into the CI budget."""
    original = SymbolTableSection.get_symbol
    cache: dict[tuple, object] = {}

    def get_symbol(self, n):
        key = (id(self.stream), self["sh_offset"], n)
        if key not in cache:
            cache[key] = original(self, n)
        return cache[key]

    monkeypatch.setattr(SymbolTableSection, "get_symbol", get_symbol)
    monkeypatch.setattr(ELFFile, "get_machine_arch", functools.lru_cache(maxsize=None)(ELFFile.get_machine_arch))


def signature_of(header) -> int | None:
    """A type unit's signature (DWARF 5 and ``.debug_types`` name it apart)."""
    return header.get("type_signature", header.get("signature"))


class Oracle:
    """pyelftools' view of one file: its units in batchver's order, and the
    key batchver gives each type signature."""

    def __init__(self, handle):
        elf = ELFFile(handle)
        try:
            self.info = elf.get_dwarf_info(relocate_dwarf_sections=True)
        except ELFRelocationError as exc:
            pytest.skip(f"pyelftools cannot relocate {elf.get_machine_arch()} DWARF: {exc}")
        self.units = [(0, cu, self.info.debug_info_sec) for cu in self.info.iter_CUs()]
        if self.info.has_debug_types():
            self.units += [(TYPES_BASE, tu, self.info.debug_types_sec) for tu in self.info.iter_TUs()]
        self.signatures: dict[int, int] = {}
        for base, unit, _ in self.units:
            signature = signature_of(unit.header)
            if signature is not None:
                self.signatures.setdefault(signature, base + unit.cu_offset + unit.header["type_offset"])


def expected_value(form: int, attr, base: int, unit, oracle: Oracle) -> tuple:
    """The (class, value) batchver must hold for a pyelftools attribute."""
    raw = attr.raw_value
    if form in REF_FORMS:
        return REF, base + unit.cu_offset + raw
    if form == ENUM_DW_FORM["DW_FORM_ref_addr"]:
        return REF, raw
    if form == ENUM_DW_FORM["DW_FORM_ref_sig8"]:
        key = oracle.signatures.get(raw)
        return (REF, key) if key is not None else (OTHER, None)
    if form == ENUM_DW_FORM["DW_FORM_flag"]:
        return FLAG, int(raw != 0)  # as dwarf_formflag reads it
    if form == ENUM_DW_FORM["DW_FORM_flag_present"]:
        return FLAG, 1
    if form in STR_FORMS:
        return STR, attr.value.decode("utf-8", "surrogateescape")
    if form in CONST_FORMS:  # the raw value: libdw reads loclistx/rnglistx as plain indexes
        return CONST, raw & MASK64
    return OTHER, None  # blocks, expressions, data16, supplementary-file forms


def check_units(reader: DwarfReader, oracle: Oracle) -> None:
    ours = [(u.key_base, u.offset, u.version, u.addr_size, u.offset_size, u.key_base + u.die_offset,
             u.end, u.unit_type if u.version >= 5 else None, u.type_signature,
             u.type_offset if u.type_signature is not None else None) for u in reader.units]
    theirs = []
    for base, unit, _ in oracle.units:
        header = unit.header
        signature = signature_of(header)
        theirs.append((base, unit.cu_offset, header["version"], header["address_size"],
                       unit.structs.dwarf_format // 8, base + unit.cu_die_offset,
                       unit.cu_offset + unit.size,
                       number(ENUM_DW_UT, header["unit_type"]) if header["version"] >= 5 else None,
                       signature, header["type_offset"] if signature is not None else None))
    assert ours == theirs


def batchver_offsets(reader: DwarfReader) -> list[tuple[int, int]]:
    """(unit index, offset) of every DIE, null entries included, walked by
    batchver's form-by-form decoder."""
    out = []
    for index, unit in enumerate(reader.units):
        pos = unit.die_offset
        while pos < unit.end:
            out.append((index, pos))
            code, after = read_uleb(unit.data, pos)
            if code == 0:
                pos = after
                continue
            pos = reader.decode_attributes(unit.key_base + pos, unit, unit.abbrevs[code][2], after)[1] - unit.key_base
    return out


def check_die(reader: DwarfReader, oracle: Oracle, index: int, pos: int) -> None:
    unit = reader.units[index]
    base, their_unit, section = oracle.units[index]
    theirs = (their_unit.get_top_DIE() if pos == their_unit.cu_die_offset
              else DIE(cu=their_unit, stream=section.stream, offset=pos))
    where = f"DIE at {pos:#x} (unit {index})"
    code, after = read_uleb(unit.data, pos)
    if code == 0:
        assert theirs.is_null() and theirs.size == after - pos, where
        return
    tag, children, specs = unit.abbrevs[code]
    attrs, end = reader.decode_attributes(unit.key_base + pos, unit, specs, after)
    assert (tag, children, end - unit.key_base - pos) == (
        number(ENUM_DW_TAG, theirs.tag), theirs.has_children, theirs.size), where
    abbrev = their_unit.get_abbrev_table().get_abbrev(code)
    assert [(at, form) for at, form, _ in specs] == [
        (number(ENUM_DW_AT, name), number(ENUM_DW_FORM, form)) for name, form in abbrev.iter_attr_specs()
    ], where
    for name, attr in theirs.attributes.items():
        at, form = number(ENUM_DW_AT, name), number(ENUM_DW_FORM, attr.form)
        if form in ADDRESS_FORMS:
            assert at not in attrs, (where, name)
            continue
        assert attrs[at] == expected_value(form, attr, base, their_unit, oracle), (where, name, attr)
    assert len(attrs) == len([a for a in theirs.attributes.values()
                                   if number(ENUM_DW_FORM, a.form) not in ADDRESS_FORMS]), where
    # The production path (the layout's decoding plan, keeping only what
    # versioning reads) agrees.
    production = reader.die(unit.key_base + pos, unit)
    assert production.attrs == {k: v for k, v in attrs.items() if k in WANTED}, where
    assert production.end == end, where


def check_tree_index(reader: DwarfReader, oracle: Oracle) -> None:
    """What the first pass over each unit records for the walk (where each
    subtree ends, which DIEs have only DW_TAG_member children) agrees with
    pyelftools' tree of the unit."""
    for index, (_, their_unit, _) in enumerate(oracle.units):
        unit = reader.units[index]
        reader.unit_die(unit)  # the first pass, which records the index
        index_ = reader.tree_index(unit)
        assert index_ is not None
        ends: dict[int, int] = {}
        member_only: set[int] = set()
        open_: list[list] = []  # [key, only members so far]
        for die in their_unit.iter_DIEs():
            if die.is_null():
                key, only = open_.pop()
                ends[key] = unit.key_base + die.offset + die.size
                if only:
                    member_only.add(key)
                continue
            if open_ and number(ENUM_DW_TAG, die.tag) != DW_TAG_member:
                open_[-1][1] = False
            if die.has_children:
                open_.append([unit.key_base + die.offset, True])
        for key, _ in open_:  # lists the unit's end closes
            ends[key] = unit.key_base + unit.end
        ends.pop(unit.die_key, None)  # the unit's own DIE: the walk starts inside it
        member_only.discard(unit.die_key)
        assert (index_.ends, index_.member_only) == (ends, member_only), f"unit {index}"


def compare(path: Path, budget: int = DIE_BUDGET) -> int:
    """Compare both readers on one file; returns how many DIEs were checked."""
    elf = ElfObject(str(path))
    names = [sec.name for sec in elf.sections if sec.name.startswith(".debug_")]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        pytest.skip(f"{path.name} has several sections named {', '.join(twice)} (COMDAT type units): "
                    "pyelftools reads the last of each, batchver the first outside any section "
                    "group, as libdw does")
    reader = DwarfReader(elf)
    with open(path, "rb") as handle:
        oracle = Oracle(handle)
        check_units(reader, oracle)
        offsets = batchver_offsets(reader)
        if len(offsets) <= budget:
            # pyelftools' own tree walk reaches the same DIEs, null entries
            # included, in the same order.
            assert [(i, die.offset) for i, (_, unit, _) in enumerate(oracle.units)
                    for die in unit.iter_DIEs()] == offsets
            check_tree_index(reader, oracle)
            sample = offsets
        else:
            step = -(-len(offsets) // budget)
            firsts = {(i, unit.die_offset) for i, unit in enumerate(reader.units)}
            sample = [o for n, o in enumerate(offsets) if n % step == 0 or o in firsts]
        for index, pos in sample:
            check_die(reader, oracle, index, pos)
    return len(sample)


DATA_OBJECTS = data_objects()


@pytest.mark.parametrize("path", DATA_OBJECTS, ids=[str(p.relative_to(DATA)) for p in DATA_OBJECTS])
def test_data_objects(path, quick_relocation):
    assert compare(path) > 0


@pytest.mark.parametrize("case, variant", sorted({(c, v) for c, v, _ in expected_tool.built_runs()}))
def test_built_objects(case, variant, built_objects, quick_relocation):
    assert compare(built_objects(case, variant)) > 0


def test_example_tree_objects(tmp_path, cc, quick_relocation):
    tree = Path(example.build(str(tmp_path / "tree")))
    objects = sorted(p for p in tree.rglob("*.o") if is_elf(p))
    assert len(objects) >= 5
    for obj in objects:
        compare(obj)


@pytest.mark.parametrize("dwarf", ["-gdwarf-4", "-gdwarf-5"])
def test_linked_type_units(dwarf, type_units_file, quick_relocation):
    """Type units (``.debug_types`` in DWARF 4, ``DW_UT_type`` units in
    DWARF 5, ``DW_FORM_ref_sig8`` references) in a linked file, where the
    linker has merged gcc's per-type sections into one."""
    linked = type_units_file(dwarf)
    reader = DwarfReader(ElfObject(str(linked)))
    assert {u.type_signature is not None for u in reader.units} == {True, False}
    assert compare(linked) > 0


SHARED_OBJECTS = shared_objects() if shared_corpus_present() else []


@pytest.mark.parametrize("path", SHARED_OBJECTS or [pytest.param(None, marks=pytest.mark.skip(reason=SHARED_MISSING))],
                         ids=[str(p.relative_to(CORPUS)) for p in SHARED_OBJECTS] or ["shared"])
def test_shared_objects(path, quick_relocation):
    assert compare(path, SHARED_DIE_BUDGET) > 0


def test_the_oracle_sees_a_corrupted_value(tmp_path, quick_relocation, monkeypatch):
    """A reader that got one value wrong fails the comparison: batchver's
    DW_FORM_data1 constants are made one larger."""
    original = DwarfReader.decode_attributes

    def off_by_one(self, *args):
        attrs, end = original(self, *args)
        return {at: (CONST, value + 1) if cls == CONST else (cls, value)
                for at, (cls, value) in attrs.items()}, end

    monkeypatch.setattr(DwarfReader, "decode_attributes", off_by_one)
    with pytest.raises(AssertionError):
        compare(LOCAL_CORPUS / "fixtures" / "kabi_cases.gcc-dwarf5.o")
