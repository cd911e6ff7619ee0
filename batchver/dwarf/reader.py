"""A small, lazy DWARF 2-5 reader: unit headers, abbreviations, DIEs by offset.

Versioning reaches only the DIEs that exported symbols lead to, so DIEs are
decoded on demand by offset and memoised; nothing builds a whole tree up
front.  Values are normalised the way libdw's accessors see them, because
upstream's output depends on that: ``dwarf_formudata`` accepts constant and
section-offset forms (sign-extended ``sdata`` becomes an unsigned 64-bit
value), ``dwarf_formstring`` accepts the string forms, and a reference becomes
a *key*: an integer naming the DIE's position (``.debug_types`` DIEs live
above :data:`TYPES_BASE` so keys never collide).

Hand-written rather than pyelftools because pyelftools takes 30 times as long
over the same objects (docs/reader.md has the figures); tests/test_oracle.py
checks every DIE of every test object against pyelftools.
"""

from __future__ import annotations

import bisect
import struct
from typing import Callable, Final, Iterator, Literal, cast

from batchver.dwarf.constants import (
    DW_AT_name, DW_AT_sibling, DW_AT_stmt_list, DW_AT_str_offsets_base, DW_FORM_implicit_const,
    DW_FORM_indirect, DW_FORM_line_strp, DW_FORM_sec_offset, DW_TAG_member)
from batchver.dwarf.decode import (
    MASK64, NULL_STRING, OTHER_VALUE, PLAN_BLOCK, PLAN_BLOCK1, PLAN_FIXED, PLAN_IMPLICIT, PLAN_SKIP,
    PLAN_SLEB, PLAN_STRING, PLAN_ULEB, SLOT_COUNT, SLOTS, SLOTTED, STEP_BLOCK, STEP_BLOCK1,
    STEP_BLOCK_SIZED, STEP_FIXED, STEP_LEB, STEP_SIBLING_LEB, STEP_SIBLING_REF, STEP_STRING, STR,
    Attrs, PlanStep, Spec, Step, decode_plan, decode_value, encode, step_plan)
from batchver.dwarf.forms import (
    BLOCK_LENGTH_WIDTHS, FORMS, OTHER_UNIT_FORMS, SIZE_BLOCK, SIZE_BLOCK1, SIZE_FIXED, SIZE_REF_ADDR,
    SIZE_SLEB, SIZE_STRING, SIZE_ULEB, UNIT_REF_WIDTHS, VALUE_FLAG, VALUE_FLAG_PRESENT,
    VALUE_IMPLICIT, VALUE_LINE_STRP, VALUE_NONE, VALUE_REF_ADDR, VALUE_SIG8,
    VALUE_SIGNED, VALUE_STRP, VALUE_STRX, VALUE_UNIT_REF, VALUE_UNSIGNED, Form, width)
from batchver.dwarf.leb128 import read_sleb, read_uleb
from batchver.dwarf.lines import LineTableError, read_files, read_paths
from batchver.elf.file import ElfObject
from batchver.errors import VersioningError

TYPES_BASE: Final = 1 << 48
_SIBLING_SLOT: Final = SLOTS[DW_AT_sibling]
_NO_VALUES: Final[list[object]] = [None] * SLOT_COUNT  # copied for each DIE decoded by a plan


class Die:
    """One decoded DIE.  ``values`` holds the attributes versioning reads,
    each at its slot (:data:`~batchver.dwarf.decode.SLOTS`) as
    :func:`~batchver.dwarf.decode.encode` keeps it, None where absent;
    ``end`` is the offset just past its attributes (its first child when it
    has children)."""

    __slots__ = ("key", "tag", "has_children", "values", "end", "unit")

    def __init__(self, key: int, tag: int, has_children: bool, values: list[object], end: int, unit: Unit):
        self.key = key
        self.tag = tag
        self.has_children = has_children
        self.values = values
        self.end = end
        self.unit = unit

    def value(self, at: int) -> object:
        """The attribute as kept (see :func:`~batchver.dwarf.decode.encode`),
        or None; always None for an attribute nobody reads."""
        return self.values[SLOTS[at]] if at < len(SLOTS) else None

    def udata(self, at: int) -> int | None:
        """The attribute as ``dwarf_formudata`` reads it, or None."""
        v = self.value(at)
        return v if isinstance(v, int) and not isinstance(v, bool) and v >= 0 else None

    def string(self, at: int) -> str | None:
        v = self.value(at)
        return v if isinstance(v, str) else None

    def flag(self, at: int) -> bool:
        return self.value(at) is True

    def ref(self, at: int) -> int | None:
        v = self.value(at)
        return ~v if isinstance(v, int) and not isinstance(v, bool) and v < 0 else None

    @property
    def attrs(self) -> Attrs:
        """The kept attributes as ``(value class, value)`` by attribute
        number, as :meth:`DwarfReader.decode_attributes` gives them (a FLAG
        as 1 or 0): for the tests, never the hot path."""
        out: Attrs = {}
        for slot, at in enumerate(SLOTTED, 1):
            kept = self.values[slot]
            if kept is not None:
                out[at] = decode_value(kept)
        return out

    @property
    def name(self) -> str | None:
        return self.string(DW_AT_name)


class Unit:
    """A unit header plus what is needed to decode its DIEs."""

    __slots__ = ("offset", "end", "version", "unit_type", "addr_size", "offset_size", "abbrevs",
                 "die_offset", "key_base", "data", "type_signature", "type_offset",
                 "str_offsets_base", "files", "start", "shapes", "checked",
                 "length")

    def __init__(self, data: bytes, offset: int, key_base: int):
        self.data = data  # the whole section
        self.offset = offset  # in it
        self.key_base = key_base  # of the section's keys
        self.start = key_base + offset  # the unit's key
        # the header's fields, as DwarfReader._read_units reads them
        self.end = 0
        self.length = 0  # header included, as unit-relative references count
        self.version = 0
        self.unit_type = 0
        self.addr_size = 0
        self.offset_size = 4
        self.die_offset = 0
        self.type_signature: int | None = None
        self.type_offset = 0
        self.abbrevs: dict[int, Abbrev] = {}
        # shared by the units with one abbreviation table and header sizes
        # (see DwarfReader._read_units)
        self.shapes: dict[int, Shape] = {}  # abbreviation code -> its Shape, as codes are met
        self.checked = False  # see DwarfReader.check_tree
        self.files: list[str] | None = None
        self.str_offsets_base: int | None = None

    @property
    def die_key(self) -> int:
        return self.key_base + self.die_offset


#: An abbreviation: (DW_TAG_*, has children, attribute list).
Abbrev = tuple[int, bool, tuple[Spec, ...]]
#: How to skip a DIE undecoded (see Shape).
Layout = tuple[int, bool, "int | None", "tuple[int, int] | None"]
#: How DwarfReader.check_tree steps over a DIE (see Shape).
StepInfo = tuple[int, bool, "int | None", "int | None", "int | None", "tuple[Step, ...] | None"]


class Shape:
    """The ways of reading the DIEs of one abbreviation in a unit with given
    header sizes, worked out once per process: compilers emit the same few
    hundred abbreviations in every file, and working them out again for
    each file cost a few percent of versioning a small module.

    * ``tag``, ``children``: the abbreviation's DW_TAG_* and children flag;
    * ``layout``: (tag, has children, size of the attributes or None when a
      form is variable-sized, (offset, form) of the first DW_AT_sibling when
      it sits at a fixed offset), for skipping DIEs undecoded;
    * ``step``: how :meth:`DwarfReader.check_tree` steps over such a DIE:
      (tag, has children, size of the attributes or None, offset and width
      of a DW_AT_sibling reference among fixed-size attributes (width 0
      for a form that is not a unit reference), the
      :func:`~batchver.dwarf.decode.step_plan` of a variable-sized one).
      As in the form-by-form walk, a DIE of fixed size is judged by its
      first DW_AT_sibling, one of variable size by its last;
    * ``plan``: its :func:`~batchver.dwarf.decode.decode_plan` (None: only
      the form-by-form decoder reads it)."""

    __slots__ = ("tag", "children", "layout", "step", "plan")

    def __init__(self, abbrev: Abbrev, offset_size: int, addr_size: int, version: int):
        tag, children, specs = abbrev
        self.tag = tag
        self.children = children
        size: int | None = 0
        sibling: tuple[int, int] | None = None
        for at, form, _ in specs:
            desc = FORMS.get(form)
            bytes_ = None if desc is None else width(desc, offset_size, addr_size, version)
            if at == DW_AT_sibling and size is not None and sibling is None:
                sibling = (size, form)
            if bytes_ is None:
                size = None
            elif size is not None:
                size += bytes_
        self.layout: Layout = (tag, children, size, sibling)
        sibling_at: int | None = None
        sibling_width: int | None = None
        plan: tuple[Step, ...] | None = None
        if size is not None:
            if sibling is not None:
                sibling_at, sibling_width = sibling[0], UNIT_REF_WIDTHS.get(sibling[1], 0)
        else:
            plan = step_plan(specs, offset_size, addr_size, version)
        self.step: StepInfo = (tag, children, size, sibling_at, sibling_width, plan)
        self.plan = decode_plan(specs, offset_size, addr_size, version)


#: Shapes by (abbreviation, offset size, address size, version).
_SHAPES: dict[tuple[Abbrev, int, int, int], Shape] = {}


class TreeIndex:
    """What :meth:`DwarfReader.check_tree` learns of a unit's shape while it
    steps over every DIE anyway, for the unit walk that follows: where each
    subtree ends (so that stepping over a DIE with children needs neither
    its DW_AT_sibling nor its decoded attributes), and which DIEs have only
    DW_TAG_member children (a struct or union body, which a walk looking
    for anything but members can pass over undecoded).

    libdw steps from a DIE to the next by its DW_AT_sibling where it has
    one, so the index stands for libdw's walk only while every DW_AT_sibling
    points where the tree's structure ends (as compilers write them);
    ``consistent`` says whether they all did."""

    __slots__ = ("ends", "member_only", "consistent")

    def __init__(self) -> None:
        self.ends: dict[int, int] = {}  # key of a DIE with children -> key past its subtree
        self.member_only: set[int] = set()
        self.consistent = True


def _uint(data: bytes, pos: int, width: int, little: bool) -> int:
    """The unsigned ``width``-byte integer at ``pos``, read byte by byte:
    compiled, this costs a fraction of slicing the bytes out for
    ``int.from_bytes``, and check_tree reads one for most DIEs with
    children (their DW_AT_sibling)."""
    if pos + width > len(data):  # what is there, as int.from_bytes reads a short slice
        return int.from_bytes(data[pos:pos + width], "little" if little else "big")
    if little and width == 4:  # the commonest (references, string offsets): no loop
        return data[pos] | data[pos + 1] << 8 | data[pos + 2] << 16 | data[pos + 3] << 24
    value = 0
    if little:
        for i in range(width - 1, -1, -1):
            value = value << 8 | data[pos + i]
    else:
        for i in range(width):
            value = value << 8 | data[pos + i]
    return value


def _disagrees(target: int, end: int) -> bool:
    """Whether a DW_AT_sibling's target (-1: none) is not where the tree's
    structure puts the next sibling (see TreeIndex.consistent).  Not ``not in
    (-1, end)``, which compiled code answers by building a tuple per DIE."""
    return target != -1 and target != end


def _sibling_value(data: bytes, pos: int, form: int, order: Literal["little", "big"]) -> int:
    """A DW_AT_sibling's unit offset; -1 (which no check accepts) for a
    form that is not a unit reference, which libdw's dwarf_siblingof
    refuses."""
    desc = FORMS.get(form)
    if desc is None or desc.value != VALUE_UNIT_REF:
        return -1
    if desc.size == SIZE_ULEB:
        return read_uleb(data, pos)[0]
    return int.from_bytes(data[pos:pos + desc.width], order)


# The sections load() relocates itself (check_for_dwarf need not).
_ALWAYS_READ: Final = (".debug_info", ".debug_types", ".debug_abbrev", ".debug_str", ".debug_line_str",
                       ".debug_str_offsets")


# String sections up to this size are decoded whole when opened (see StringTable).
PREFILL_BYTES = 16 << 20


class StringTable:
    """A string section's NUL-terminated strings by offset (``table[offset]``),
    each decoded on first use and a dict lookup for every later one.  Not a
    ``dict`` subclass, so that it compiles to a native class."""

    def __init__(self, data: bytes, path: str):
        self.data = data
        self.path = path
        self.strings: dict[int, str | None] = {}
        if 0 < len(data) <= PREFILL_BYTES:
            # Versioning reads most of a section's strings (nine in ten on
            # built objects, four in ten on linked modules): decoding them
            # all in one go costs a tenth of looking them up one by one.  An
            # offset into the middle of a string (a linker's tail merging)
            # is still found on demand.  A section of ASCII (the rule) is
            # decoded whole and split as text, where offsets in characters
            # are offsets in bytes: no bytes object per string.
            last = -1 if data.endswith(b"\0") else None  # nothing starts after the last NUL
            raw: list[str] | list[bytes]  # the strings as their lengths in bytes count
            if data.isascii():
                parts = raw = data.decode("ascii").split("\0")[:last]
            else:
                raw = data.split(b"\0")[:last]
                parts = [part.decode("utf-8", "surrogateescape") for part in raw]
            # a plain loop: compiled, it costs a third of accumulate and zip
            strings = self.strings
            start = 0
            for i in range(len(parts)):
                strings[start] = parts[i]
                start += len(raw[i]) + 1

    def __getitem__(self, offset: int) -> str | None:
        try:
            return self.strings[offset]
        except KeyError:
            return self._decode(offset)

    def _decode(self, offset: int) -> str | None:
        """The string at ``offset``; None when the offset is outside the
        section: libdw's dwarf_formstring then returns NULL and upstream
        carries on as if the attribute named nothing (a DIE without a
        name).  A last string without its NUL runs to the section's end."""
        data = self.data
        text: str | None = None
        if offset < len(data):
            end = data.find(b"\0", offset)
            if end < 0:
                end = len(data)
            text = data[offset:end].decode("utf-8", "surrogateescape")
        self.strings[offset] = text
        return text


class DwarfReader:
    """The DWARF of one ELF file, as libdw would present it offline."""

    def __init__(self, elf: ElfObject, defer: bool = False):
        self.elf = elf
        self.path = elf.path
        self._loaded = False
        if not defer:
            self.load()

    def load(self) -> None:
        """Read and relocate the debug sections and the unit headers.  Kept
        apart from construction so that errors come after the ELF symbol
        and kABI-rule checks, in upstream's order."""
        if self._loaded:
            return
        self._loaded = True
        elf = self.elf
        elf.check_for_dwarf(relocated=_ALWAYS_READ)
        self.info = elf.debug_section(".debug_info")
        self.types = elf.debug_section(".debug_types")
        if not self.info and not self.types:
            raise VersioningError("process_module",
                                  "dwarf_get_units failed: no debugging information?", self.path)
        self.abbrev = elf.debug_section(".debug_abbrev") or b""
        # decoded once each, and kept by forget(): every unit shares them
        self.strs = StringTable(elf.debug_section(".debug_str") or b"", self.path)
        self.line_strs = StringTable(elf.debug_section(".debug_line_str") or b"", self.path)
        self.str_offsets = elf.debug_section(".debug_str_offsets") or b""
        self._line: bytes | None = None
        self.endian = "<" if elf.little_endian else ">"
        self._abbrev_tables: dict[int, dict[int, Abbrev]] = {}
        # by (abbreviation table offset, offset size, address size, version)
        self._shapes: dict[tuple[int, int, int, int], dict[int, Shape]] = {}  # see Unit.shapes
        self.little = elf.little_endian
        self._dies: dict[int, Die] = {}
        self._indexes: dict[int, TreeIndex] = {}  # unit start key -> its TreeIndex, until walked
        self.units: list[Unit] = []
        self.signatures: dict[int, int] = {}
        self._unit_header = ""
        try:
            self._read_units(self.info or b"", 0, False)
            self._read_units(self.types or b"", TYPES_BASE, True)
        except (IndexError, struct.error) as exc:
            raise VersioningError("process_module", f"corrupt DWARF unit header at "
                                  f"{self._unit_header}: {exc}", self.path) from None
        self._starts = [u.start for u in self.units]
        # unit start key -> index in DWARF order; built once per file, since
        # every per-unit run asks it (a per-run copy made vmlinux quadratic)
        self.unit_numbers = {start: i for i, start in enumerate(self._starts)}

    def refers_across_units(self) -> bool:
        """Whether any DIE may refer to another unit's: an abbreviation with
        DW_FORM_ref_addr (or the GNU alternate-file form), or type units
        reached by signature.  Without LTO, gcc and clang never make one."""
        if self.signatures:
            return True
        return any(form in OTHER_UNIT_FORMS
                   for table in self._abbrev_tables.values() for _, _, specs in table.values()
                   for _, form, _ in specs)

    def forget(self) -> None:
        """Drop decoded DIEs (between independent unit groups), bounding
        memory on files with thousands of units.  Decoded strings stay:
        ``.debug_str`` is shared by every unit (vmlinux's is 4.5 MB), so
        the next group needs most of them again."""
        self._dies = {}
        self._indexes = {}

    def tree_index(self, unit: Unit) -> TreeIndex | None:
        """The unit's :class:`TreeIndex`, once :meth:`check_tree` has run
        and until :meth:`drop_tree_index` (or :meth:`forget`); None for a
        unit whose DW_AT_sibling values disagree with its structure."""
        index = self._indexes.get(unit.start)
        return index if index is not None and index.consistent else None

    def drop_tree_index(self, unit: Unit) -> None:
        """Free the unit's index once its walk is done (on vmlinux,
        thousands of units are walked one after another)."""
        self._indexes.pop(unit.start, None)

    # -- units -------------------------------------------------------------
    def _read_units(self, data: bytes, key_base: int, is_types: bool) -> None:
        e = self.endian
        pos = 0
        section = ".debug_types" if is_types else ".debug_info"
        while pos < len(data):
            self._unit_header = f"{section} offset {pos:#x} of '{self.path}'"  # for messages
            u = Unit(data, pos, key_base)
            length = struct.unpack_from(e + "I", data, pos)[0]
            pos += 4
            u.offset_size = 4
            if length == 0xFFFFFFFF:
                length = struct.unpack_from(e + "Q", data, pos)[0]
                pos += 8
                u.offset_size = 8
            u.end = pos + length
            u.length = u.end - u.offset  # header included, as unit-relative references count
            if u.end > len(data) or length < 2:
                raise VersioningError("process_module", f"truncated DWARF unit at "
                                      f"{self._unit_header}", self.path)
            u.version = struct.unpack_from(e + "H", data, pos)[0]
            pos += 2
            if u.version < 2 or u.version > 5:
                raise VersioningError("process_module", f"unsupported DWARF version {u.version} "
                                      f"at {self._unit_header}", self.path)
            osize = "I" if u.offset_size == 4 else "Q"
            if u.version >= 5:
                u.unit_type = data[pos]
                u.addr_size = data[pos + 1]
                abbrev_off = struct.unpack_from(e + osize, data, pos + 2)[0]
                pos += 2 + u.offset_size
                if u.unit_type in (2, 6):  # DW_UT_type, DW_UT_split_type
                    u.type_signature = struct.unpack_from(e + "Q", data, pos)[0]
                    u.type_offset = struct.unpack_from(e + osize, data, pos + 8)[0]
                    pos += 8 + u.offset_size
                elif u.unit_type in (4, 5):  # skeleton / split_compile
                    pos += 8
            else:
                abbrev_off = struct.unpack_from(e + osize, data, pos)[0]
                u.addr_size = data[pos + u.offset_size]
                pos += u.offset_size + 1
                u.unit_type = 2 if is_types else 1
                if is_types:
                    u.type_signature = struct.unpack_from(e + "Q", data, pos)[0]
                    u.type_offset = struct.unpack_from(e + osize, data, pos + 8)[0]
                    pos += 8 + u.offset_size
            u.die_offset = pos
            u.abbrevs = self._abbrev_table(abbrev_off)
            # code -> Shape, shared by the units with the same abbreviation
            # table and header sizes
            u.shapes = self._shapes.setdefault((abbrev_off, u.offset_size, u.addr_size, u.version), {})
            if u.type_signature is not None:
                self.signatures.setdefault(u.type_signature, key_base + u.offset + u.type_offset)
            self.units.append(u)
            pos = u.end

    def _abbrev_table(self, offset: int) -> dict[int, Abbrev]:
        known = self._abbrev_tables.get(offset)
        if known is not None:
            return known
        table: dict[int, Abbrev] = {}
        data = self.abbrev
        pos = offset
        try:
            while True:
                code, pos = read_uleb(data, pos)
                if code == 0:
                    break
                tag, pos = read_uleb(data, pos)
                children = data[pos] != 0
                pos += 1
                specs: list[Spec] = []
                while True:
                    at, pos = read_uleb(data, pos)
                    form, pos = read_uleb(data, pos)
                    if at == 0 and form == 0:
                        break
                    implicit = 0
                    if form == DW_FORM_implicit_const:
                        implicit, pos = read_sleb(data, pos)
                    specs.append((at, form, implicit))
                table[code] = (tag, children, tuple(specs))
        except IndexError:
            raise VersioningError("process_module", f"truncated .debug_abbrev at offset {offset:#x} "
                                  f"in '{self.path}'", self.path) from None
        self._abbrev_tables[offset] = table
        return table

    def where(self, unit: Unit, key: int) -> str:
        """A DIE's place for messages: section, offset, unit and file."""
        section = ".debug_types" if unit.key_base == TYPES_BASE else ".debug_info"
        return f"{section} offset {key - unit.key_base:#x} in unit at {unit.offset:#x} of '{self.path}'"

    def unit_of(self, key: int) -> Unit:
        i = bisect.bisect_right(self._starts, key) - 1
        if i < 0:
            raise VersioningError("dwarf_formref_die", f"reference {key:#x} outside any unit "
                                  f"in '{self.path}'", self.path)
        return self.units[i]

    def unit_die(self, unit: Unit) -> Die | None:
        if not unit.checked:
            self.check_tree(unit)
        return self.die(unit.die_key, unit)

    def check_tree(self, unit: Unit) -> None:
        """Step over every DIE of the unit once, as upstream's first pass
        over each unit does (it names every DIE it meets, through
        dwarf_child and dwarf_siblingof): a DIE whose abbreviation code is
        unknown, or whose attributes cannot be stepped over within the unit,
        makes libdw fail there, and so does a DW_AT_sibling that does not
        point forward inside the unit; upstream then refuses the whole
        object even when versioning never reads that DIE.  Versioning itself
        decodes only the DIEs exports lead to, so without this walk batchver
        would version objects upstream refuses."""
        unit.checked = True
        data, end, base = unit.data, unit.end, unit.key_base
        pos = start = unit.die_offset
        depth = 0
        index = self._indexes[unit.start] = TreeIndex()
        ends, member_only = index.ends, index.member_only
        parents: list[int] = []  # keys of the DIEs whose children are being stepped over
        targets: list[int] = []  # ... the keys their DW_AT_sibling names (-1: none)
        only_members: list[bool] = []  # ... and whether all seen so far are members
        order: Literal["little", "big"] = "little" if self.endian == "<" else "big"
        little = self.endian == "<"
        shapes = unit.shapes
        lowest = -unit.offset  # a sibling must lie past start + lowest ...
        highest = unit.length  # ... and before this
        try:
            while pos < end:
                start = pos
                code = data[pos]
                if code < 0x80:  # nearly every abbreviation code fits one byte
                    pos += 1
                else:
                    code, pos = read_uleb(data, pos)
                if code == 0:
                    depth -= 1
                    if depth <= 0:
                        return
                    parent = parents.pop()
                    ends[parent] = base + pos
                    if _disagrees(targets.pop(), base + pos):
                        index.consistent = False
                    if only_members.pop():
                        member_only.add(parent)
                    continue
                # not ``shapes.get(code) or ...``: compiled, that asks the
                # runtime for the shape's truth, for every DIE of the unit
                shape = shapes.get(code)
                if shape is None:
                    shape = self._shape(unit, code)
                    if shape is None:
                        raise ValueError(f"invalid abbreviation code {code}")
                tag, children, size, sibling_at, sibling_width, plan = shape.step
                if tag != DW_TAG_member and only_members:
                    only_members[-1] = False
                sibling = None
                if size is not None:
                    if sibling_at is not None:
                        sibling = _uint(data, pos + sibling_at, sibling_width, little) if sibling_width else -1
                    pos += size
                elif plan is not None:
                    for operation, n, m in plan:
                        if operation == STEP_FIXED:
                            pos += n
                        elif operation == STEP_LEB:
                            while data[pos] > 0x7F:
                                pos += 1
                            pos += 1
                        elif operation == STEP_SIBLING_REF:
                            sibling = _uint(data, pos + n, m, little)
                        elif operation == STEP_STRING:
                            pos = data.index(b"\0", pos) + 1
                        elif operation == STEP_BLOCK:
                            length, pos = read_uleb(data, pos)
                            pos += length
                        elif operation == STEP_BLOCK1:
                            pos += 1 + data[pos]
                        elif operation == STEP_BLOCK_SIZED:
                            pos += n + int.from_bytes(data[pos:pos + n], order)
                        elif operation == STEP_SIBLING_LEB:
                            sibling, pos = read_uleb(data, pos)
                        else:  # STEP_SIBLING_OTHER
                            sibling = -1
                else:
                    for attribute, form, _ in unit.abbrevs[code][2]:
                        if attribute == DW_AT_sibling:
                            sibling = _sibling_value(data, pos, form, order)
                        pos = self._skip_form(data, pos, form, unit)
                if pos > end:
                    raise ValueError("attributes run past the end of the unit")
                if sibling is not None and not start + lowest < sibling < highest:
                    raise VersioningError(
                        "process_die_container", "`dwarf_siblingof(&current, &current)` "
                        f"failed: -1 (DW_AT_sibling {sibling:#x} does not point forward "
                        f"inside the unit, or is not a reference, at "
                        f"{self.where(unit, base + start)})", self.path)
                target = -1 if sibling is None else unit.start + sibling
                if children:
                    depth += 1
                    parents.append(base + start)
                    targets.append(target)
                    only_members.append(True)
                elif _disagrees(target, base + pos):
                    index.consistent = False
                if not children and depth == 0:
                    return
            for parent, target in zip(parents, targets):  # the unit's end ends every open list, as in libdw
                ends[parent] = base + end
                if _disagrees(target, base + end):
                    index.consistent = False
        except (ValueError, IndexError, struct.error, VersioningError) as exc:
            if isinstance(exc, VersioningError) and exc.where == "process_die_container":
                raise
            cause = (exc.message.replace(f" in '{self.path}'", "")
                     if isinstance(exc, VersioningError) else str(exc)
                     if isinstance(exc, ValueError) else "DIE runs past the end of the section")
            raise VersioningError(
                "process_die_container", f"`dwarf_child(die, &current)` failed: -1 ({cause} at "
                f"{self.where(unit, base + start)})", self.path) from None

    def _shape(self, unit: Unit, code: int) -> Shape | None:
        """The :class:`Shape` of an abbreviation code in this unit, entered
        in the unit's table (callers look there first); None for an unknown
        code."""
        abbrev = unit.abbrevs.get(code)
        if abbrev is None:
            return None
        key = (abbrev, unit.offset_size, unit.addr_size, unit.version)
        shape = _SHAPES.get(key)
        if shape is None:
            shape = _SHAPES[key] = Shape(abbrev, unit.offset_size, unit.addr_size, unit.version)
        unit.shapes[code] = shape
        return shape

    # -- DIEs --------------------------------------------------------------
    def die(self, key: int, unit: Unit | None = None) -> Die | None:
        """The DIE at ``key``; None for a null entry (end of a sibling list)."""
        d = self._dies.get(key)
        if d is not None:
            return d
        if unit is None:
            unit = self.unit_of(key)
        try:
            d = self._decode(key, unit)
        except (IndexError, struct.error) as exc:
            raise VersioningError("process_module", f"corrupt DIE at {self.where(unit, key)}: "
                                  f"{exc}", self.path) from None
        if d is not None:
            self._dies[key] = d
        return d

    def _decode(self, key: int, unit: Unit) -> Die | None:
        data = unit.data
        pos = key - unit.key_base
        if pos >= unit.end:
            raise VersioningError("process_module", f"DIE beyond its unit: "
                                  f"{self.where(unit, key)}", self.path)
        code = data[pos]
        if code < 0x80:  # nearly every abbreviation code fits one byte
            pos += 1
        else:
            code, pos = read_uleb(data, pos)
        shape = unit.shapes.get(code)
        if shape is None:
            if code == 0:
                return None
            shape = self._shape(unit, code)
            if shape is None:
                raise VersioningError("process_module", f"invalid abbreviation code {code} at "
                                      f"{self.where(unit, key)}", self.path)
        tag, children, plan = shape.tag, shape.children, shape.plan
        if plan is None:
            attrs, end = self.decode_attributes(key, unit, unit.abbrevs[code][2], pos)
            values = _NO_VALUES[:]
            for at, value in attrs.items():
                if at < len(SLOTS) and SLOTS[at]:
                    values[SLOTS[at]] = encode(value)
            return Die(key, tag, children, values, end, unit)
        values, pos = self._run_plan(plan, data, pos, unit)
        if pos > unit.end:
            raise IndexError("DIE runs past the end of its unit")
        return Die(key, tag, children, values, unit.key_base + pos, unit)

    def _run_plan(self, plan: tuple[PlanStep, ...], data: bytes, pos: int,
                  unit: Unit) -> tuple[list[object], int]:
        """A DIE's kept values by its abbreviation's plan (see
        :func:`~batchver.dwarf.decode.decode_plan`), and the position past
        its attributes, each value as :meth:`_kept` makes it."""
        values = _NO_VALUES[:]  # a copy costs less than making a list of Nones
        little = self.little
        for step in plan:
            operation, size, slot = step.operation, step.size, step.slot
            raw = 0
            if operation == PLAN_SKIP:
                pos += size
                continue
            if operation == PLAN_FIXED:
                if pos + size > len(data):
                    raise IndexError("attribute runs past the end of the section")
                raw = _uint(data, pos, size, little)
                pos += size
            elif operation == PLAN_ULEB:
                raw, pos = read_uleb(data, pos)
            elif operation == PLAN_SLEB:
                raw, pos = read_sleb(data, pos)
            elif operation == PLAN_STRING:
                end = data.index(b"\0", pos)
                if slot:
                    values[slot] = data[pos:end].decode("utf-8", "surrogateescape")
                pos = end + 1
                continue
            elif operation == PLAN_BLOCK:
                raw, pos = read_uleb(data, pos)
                pos += raw
            elif operation == PLAN_BLOCK1:
                pos += 1 + data[pos]
            elif operation == PLAN_IMPLICIT:
                raw = step.implicit
            else:  # PLAN_BLOCK_SIZED
                pos += size + _uint(data, pos, size, little)
            if slot:
                values[slot] = self._kept(step.kind, raw, unit)
        return values, pos

    def _kept(self, kind: int, raw: int, unit: Unit) -> object:
        """The number read for an attribute whose form gives a value of this
        ``VALUE_*`` kind (an implicit constant: the abbreviation's, masked
        to 64 bits), normalised as libdw's accessors see it and kept as
        :func:`~batchver.dwarf.decode.encode` says."""
        if kind == VALUE_UNIT_REF:  # the commonest
            # dwarf_formref_die gives no DIE for an offset at or past the
            # unit's length, and upstream then reads the attribute as absent
            # (a DW_AT_type that names nothing is ``void``)
            return ~(unit.start + raw) if raw < unit.length else OTHER_VALUE
        if kind == VALUE_STRP or kind == VALUE_LINE_STRP or kind == VALUE_STRX:
            text = (self.strs[raw] if kind == VALUE_STRP else self.line_strs[raw]
                    if kind == VALUE_LINE_STRP else self._strx(unit, raw))
            return NULL_STRING if text is None else text
        if kind == VALUE_UNSIGNED or kind == VALUE_IMPLICIT:
            return raw
        if kind == VALUE_SIGNED:
            return raw & MASK64
        if kind == VALUE_FLAG:
            return raw != 0
        if kind == VALUE_FLAG_PRESENT:
            return True
        if kind == VALUE_REF_ADDR:
            return ~raw
        if kind == VALUE_SIG8:
            target = self.signatures.get(raw)
            return OTHER_VALUE if target is None else ~target
        return OTHER_VALUE  # VALUE_OTHER

    def decode_attributes(self, key: int, unit: Unit, specs: tuple[Spec, ...],
                          pos: int) -> tuple[Attrs, int]:
        """Every attribute of the DIE at ``key`` (its attributes start at
        ``pos``), decoded form by form by
        :data:`~batchver.dwarf.forms.FORMS`, and the key past them: the
        reference the decoding plans are tested against (and pyelftools
        against it), and the decoder of the layouts no plan describes."""
        data = unit.data
        attrs: Attrs = {}
        order: Literal["little", "big"] = "little" if self.little else "big"
        for at, form, implicit in specs:
            while form == DW_FORM_indirect:
                form, pos = read_uleb(data, pos)
            desc = FORMS.get(form)
            if desc is None:
                raise VersioningError("process_module", f"unknown DWARF form {form:#x} at "
                                      f"{self.where(unit, key)}", self.path)
            kind, fixed, value, _ = desc
            raw = 0
            if kind <= SIZE_REF_ADDR:  # a width the form or the unit header gives
                size = fixed if kind == SIZE_FIXED else width(desc, unit.offset_size, unit.addr_size,
                                                              unit.version)
                if size:
                    if pos + size > len(data):
                        raise IndexError("attribute runs past the end of the section")
                    raw = int.from_bytes(data[pos:pos + size], order)
                    pos += size
            elif kind == SIZE_ULEB:
                raw, pos = read_uleb(data, pos)
            elif kind == SIZE_SLEB:
                raw, pos = read_sleb(data, pos)
            elif kind == SIZE_STRING:
                end = data.index(b"\0", pos)
                attrs[at] = (STR, data[pos:end].decode("utf-8", "surrogateescape"))
                pos = end + 1
                continue
            else:
                pos = self._skip_form(data, pos, form, unit)
            if value != VALUE_NONE:
                attrs[at] = decode_value(self._kept(value, implicit & MASK64 if value == VALUE_IMPLICIT else raw,
                                                    unit))
        return attrs, unit.key_base + pos

    def _offset(self, data: bytes, pos: int, unit: Unit) -> int:
        return cast(int, struct.unpack_from(self.endian + ("I" if unit.offset_size == 4 else "Q"), data, pos)[0])

    def _strx(self, unit: Unit, index: int) -> str | None:
        base = unit.str_offsets_base
        if base is None:
            base = self._str_offsets_base(unit)
        pos = base + index * unit.offset_size
        return self.strs[self._offset(self.str_offsets, pos, unit)]

    def _str_offsets_base(self, unit: Unit) -> int:
        """DW_AT_str_offsets_base of the unit DIE, read without resolving its
        own strx attributes (they may come before the base)."""
        data = unit.data
        pos = unit.die_offset
        code, pos = read_uleb(data, pos)
        _, _, specs = unit.abbrevs[code]
        base = 8 if unit.offset_size == 4 else 16
        for at, form, _ in specs:
            if at == DW_AT_str_offsets_base and form == DW_FORM_sec_offset:
                base = self._offset(data, pos, unit)
                break
            pos = self._skip_form(data, pos, form, unit)
        unit.str_offsets_base = base
        return base

    def _skip_form(self, data: bytes, pos: int, form: int, unit: Unit) -> int:
        """The position past one attribute value of this form."""
        while form == DW_FORM_indirect:
            form, pos = read_uleb(data, pos)
        desc = self._form(form)
        size = width(desc, unit.offset_size, unit.addr_size, unit.version)
        if size is not None:
            return pos + size
        kind = desc.size
        if kind in (SIZE_ULEB, SIZE_SLEB):
            return read_uleb(data, pos)[1]
        if kind == SIZE_STRING:
            return data.index(b"\0", pos) + 1
        if kind == SIZE_BLOCK:
            n, pos = read_uleb(data, pos)
            return pos + n
        if kind == SIZE_BLOCK1:
            return pos + 1 + data[pos]
        length = BLOCK_LENGTH_WIDTHS[kind]
        return pos + length + int.from_bytes(data[pos:pos + length], "little" if self.endian == "<" else "big")

    def _form(self, form: int) -> Form:
        """The form's description; an unknown form is a fault in the file."""
        desc = FORMS.get(form)
        if desc is None:
            raise VersioningError("process_module", f"unknown DWARF form {form:#x} in '{self.path}'",
                                  self.path)
        return desc

    # -- light walking -----------------------------------------------------
    def _layout(self, unit: Unit, code: int) -> Layout | None:
        """How to skip a DIE with this abbreviation code undecoded (see
        :attr:`Shape.layout`); None for an unknown code."""
        shape = unit.shapes.get(code)
        if shape is None:
            shape = self._shape(unit, code)
        return shape.layout if shape is not None else None

    def child_entries(self, die: Die, passed_over: frozenset[int] = frozenset()
                      ) -> Iterator[tuple[int, int]]:
        """Yield ``(key, tag)`` for the children of ``die`` without decoding
        their attributes (like :meth:`children`, but for scanning).
        Children whose tag is in ``passed_over`` are stepped over unseen:
        a unit walk meets hundreds of thousands of struct members and has
        nothing to do with any of them."""
        if not die.has_children:
            return
        unit = die.unit
        data = unit.data
        base = unit.key_base
        shapes = unit.shapes
        key = die.end
        end = unit.end
        index = self.tree_index(unit)
        ends = index.ends if index is not None else None
        # Every top-level DIE of every unit passes here: the shape table is
        # looked up once, a one-byte abbreviation code needs no call, and a
        # childless DIE of fixed size is stepped over without one.  The end
        # of the unit ends the list, as in libdw, terminator or not.
        while True:
            pos = key - base
            if pos >= end:
                return
            code = data[pos]
            if code < 0x80:
                pos += 1
            else:
                code, pos = read_uleb(data, pos)
            if code == 0:
                return
            shape = shapes.get(code)  # not ``or``: see check_tree
            if shape is None:
                shape = self._shape(unit, code)
                if shape is None:
                    self.die(key, unit)  # raises the decoding error
                    return
            layout = shape.layout
            tag, children, size, _ = layout
            if children and ends is not None and key in ends:
                following = ends[key]
            elif children or size is None:
                following = self._skip(key, base + pos, unit, layout)
            else:
                following = base + pos + size
            if tag not in passed_over:
                yield key, tag
            key = following

    def _skip(self, key: int, attrs_key: int, unit: Unit, layout: Layout) -> int:
        """The key of the DIE after ``key`` and its subtree."""
        _, children, size, sibling = layout
        if sibling is not None and sibling[1] in UNIT_REF_WIDTHS:
            pos = attrs_key - unit.key_base + sibling[0]
            return self._checked_sibling(key, unit, unit.start + _uint(
                unit.data, pos, UNIT_REF_WIDTHS[sibling[1]], self.endian == "<"))
        if size is not None:
            end = attrs_key + size
        else:
            decoded = self.die(key, unit)
            assert decoded is not None, "a DIE with a layout is no null entry"
            sib = decoded.ref(DW_AT_sibling)
            if sib is not None:
                return self._checked_sibling(key, unit, sib)
            end = decoded.end
        if not children:
            return end
        data = unit.data
        base = unit.key_base
        key = end
        while True:
            if key - base >= unit.end:
                return key
            code, pos = read_uleb(data, key - base)
            if code == 0:
                return key + 1
            inner = self._layout(unit, code)
            if inner is None:
                self.die(key, unit)
                return key + 1
            key = self._skip(key, base + pos, unit, inner)

    # -- tree walking ------------------------------------------------------
    def _checked_sibling(self, key: int, unit: Unit, sibling: int) -> int:
        """A DW_AT_sibling must point forward within the unit (libdw rejects
        anything else); a corrupt one must not send a walk round in circles."""
        if not key < sibling <= unit.key_base + unit.end:
            raise VersioningError("dwarf_siblingof", f"invalid DW_AT_sibling at "
                                  f"{self.where(unit, key)}", self.path)
        return sibling

    def children(self, die: Die) -> Iterator[Die]:
        """Yield the children of ``die`` in order (like dwarf_child and
        dwarf_siblingof), following DW_AT_sibling where present."""
        if not die.has_children:
            return
        key = die.end
        unit = die.unit
        while True:
            child = self.die(key, unit)
            if child is None:
                return
            yield child
            # the commonest child (a member or parameter) has neither
            # children nor DW_AT_sibling: its sibling follows it directly
            if child.has_children or child.values[_SIBLING_SLOT] is not None:
                key = self.next_sibling(child)
            else:
                key = child.end

    def next_sibling(self, die: Die) -> int:
        sib = die.ref(DW_AT_sibling)
        if sib is not None:
            return self._checked_sibling(die.key, die.unit, sib)
        if not die.has_children:
            return die.end
        key = die.end
        unit = die.unit
        while True:
            child = self.die(key, unit)
            if child is None:
                return key + 1
            key = self.next_sibling(child)

    # -- source files ------------------------------------------------------
    def _line_string(self, form: int, offset: int) -> str | None:
        """A line table's DW_FORM_strp or DW_FORM_line_strp string."""
        return (self.line_strs if form == DW_FORM_line_strp else self.strs)[offset]

    def source_files(self, unit: Unit) -> list[str]:
        """File names of the unit's line table, indexed as DW_AT_decl_file
        is (libdw puts a placeholder at index 0 before DWARF 5)."""
        if unit.files is None:
            unit.files = self._line_table(unit, read_files)
        return unit.files

    def source_paths(self, unit: Unit) -> list[str]:
        """The same files with their line-table directories (see
        :func:`~batchver.dwarf.lines.read_paths`), for source locations."""
        return self._line_table(unit, read_paths)

    def _line_table(self, unit: Unit, read: Callable[[bytes, int, str, int, Callable[[int, int], str | None]],
                                                    list[str]]) -> list[str]:
        cu = self.unit_die(unit)
        stmt = cu.udata(DW_AT_stmt_list) if cu is not None else None
        if stmt is None:
            raise VersioningError("is_definition_private",
                                  f"dwarf_getsrcfiles failed: no line table in '{self.path}'",
                                  self.path)
        line = self._line
        if line is None:
            line = self._line = self.elf.debug_section(".debug_line") or b""
        try:
            return read(line, stmt, self.endian, unit.addr_size, self._line_string)
        except LineTableError as exc:
            raise VersioningError("is_definition_private", f"dwarf_getsrcfiles failed: '{exc}' "
                                  f"(.debug_line offset {stmt:#x}, for unit at {unit.offset:#x} "
                                  f"of '{self.path}')", self.path) from None

