"""Decoding plans, one per abbreviation layout, and the compact values a DIE keeps.

Decoding DIEs is the hot loop of versioning.  Every DIE with the same
abbreviation has the same attribute layout, so each layout becomes a *plan*
once per process: a short tuple of steps (:func:`decode_plan`) that
:meth:`batchver.dwarf.reader.DwarfReader` runs over a DIE's bytes, merging
runs of fixed-size attributes nobody reads into one step and storing only
the attributes versioning reads (:data:`WANTED`).  What each form takes and
stores comes from :data:`batchver.dwarf.forms.FORMS`, as in the reader's
form-by-form :meth:`~batchver.dwarf.reader.DwarfReader.decode_attributes`,
the reference every plan is tested against; layouts a plan cannot describe
(``DW_FORM_indirect``, unknown forms) are decoded by that one.

A decoded DIE keeps its wanted attributes in a list indexed by
:data:`SLOTS` rather than a dict of ``(class, value)`` pairs: one object per
DIE instead of a dict and a tuple per attribute (decoding and freeing those
was about a fifth of versioning a small module).  The value class is carried by
the value itself (:func:`encode`, :func:`decode_value`).
"""

from __future__ import annotations

from typing import Final, Union

from batchver.dwarf.constants import (
    DW_AT_abstract_origin, DW_AT_accessibility, DW_AT_alignment, DW_AT_bit_size, DW_AT_byte_size,
    DW_AT_const_value, DW_AT_count, DW_AT_data_bit_offset, DW_AT_data_member_location,
    DW_AT_comp_dir, DW_AT_decl_file, DW_AT_decl_line, DW_AT_declaration, DW_AT_discr_value, DW_AT_encoding, DW_AT_language,
    DW_AT_linkage_name, DW_AT_name, DW_AT_producer, DW_AT_sibling, DW_AT_stmt_list,
    DW_AT_str_offsets_base, DW_AT_type, DW_AT_upper_bound)
from batchver.dwarf.forms import (
    BLOCK_LENGTH_WIDTHS, FORMS, SIZE_BLOCK, SIZE_BLOCK1, SIZE_SLEB, SIZE_STRING, SIZE_ULEB,
    VALUE_NONE, VALUE_UNIT_REF, width)

MASK64: Final = (1 << 64) - 1

# Attribute value classes (what libdw's accessors would accept).
CONST: Final = 0
REF: Final = 1
STR: Final = 2
FLAG: Final = 3
OTHER: Final = 4

#: One decoded attribute: (value class, value).  A string form's value is
#: None where libdw's dwarf_formstring would give NULL.
Value = tuple[int, Union[int, str, None]]
#: A DIE's decoded attributes, by attribute number.
Attrs = dict[int, Value]
#: One attribute of an abbreviation: (DW_AT_*, DW_FORM_*, implicit value).
Spec = tuple[int, int, int]
#: One step of a stepping plan (see :func:`step_plan`): (operation, two
#: numbers whose meaning the operation gives).
Step = tuple[int, int, int]

# The attributes anything in batchver reads from a DIE.
WANTED: Final = frozenset((
    DW_AT_sibling,
    DW_AT_name,
    DW_AT_byte_size,
    DW_AT_bit_size,
    DW_AT_stmt_list,
    DW_AT_language,  # a Rust crate's unit, tree/linked.py
    DW_AT_discr_value,
    DW_AT_const_value,
    DW_AT_producer,
    DW_AT_upper_bound,
    DW_AT_abstract_origin,
    DW_AT_accessibility,
    DW_AT_count,
    DW_AT_data_member_location,
    DW_AT_decl_file,
    DW_AT_decl_line,  # source locations, tree/locations.py
    DW_AT_comp_dir,  # the same
    DW_AT_declaration,
    DW_AT_encoding,
    DW_AT_type,
    DW_AT_data_bit_offset,
    DW_AT_linkage_name,
    DW_AT_str_offsets_base,
    DW_AT_alignment,
))

#: The wanted attributes in slot order (slot 0 holds nothing).
SLOTTED: Final[tuple[int, ...]] = tuple(sorted(WANTED))
#: Length of a DIE's value list.
SLOT_COUNT: Final = len(SLOTTED) + 1
#: Attribute number -> its slot in a DIE's values; 0 (always empty) for an
#: attribute nobody reads.  Attribute numbers past the table have no slot.
SLOTS: Final[tuple[int, ...]] = tuple(SLOTTED.index(at) + 1 if at in WANTED else 0
                                      for at in range(max(WANTED) + 1))


class _Marker:
    """A value that is neither a number nor a string (see :func:`encode`)."""

    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return self.name


#: An attribute present with nothing versioning reads as a value (OTHER).
OTHER_VALUE: Final = _Marker("OTHER_VALUE")
#: A string attribute libdw's dwarf_formstring reads as NULL.
NULL_STRING: Final = _Marker("NULL_STRING")


def encode(value: Value) -> object:
    """A decoded attribute as a DIE keeps it: a CONST as its number (never
    negative: constants are unsigned), a REF as the bitwise complement of
    the DIE's key (always negative), a STR as its text or
    :data:`NULL_STRING`, a FLAG as a bool, OTHER as :data:`OTHER_VALUE`."""
    cls, raw = value
    if cls == CONST:
        return raw
    if cls == REF:
        assert isinstance(raw, int), "a reference is a key"
        return ~raw
    if cls == STR:
        return NULL_STRING if raw is None else raw
    if cls == FLAG:
        return bool(raw)
    return OTHER_VALUE


def decode_value(kept: object) -> Value:
    """The inverse of :func:`encode` for a present attribute; a FLAG comes
    back as 1 or 0, as libdw's dwarf_formflag reads it."""
    if isinstance(kept, bool):
        return FLAG, int(kept)
    if isinstance(kept, int):
        return (CONST, kept) if kept >= 0 else (REF, ~kept)
    if isinstance(kept, str):
        return STR, kept
    return (STR, None) if kept is NULL_STRING else (OTHER, None)


class PlanStep:
    """One step of a decoding plan (see :func:`decode_plan`).  A class, not
    a tuple, so that the compiled reader reads its numbers as fields rather
    than unpacking five boxed integers per attribute of every DIE."""

    __slots__ = ("operation", "size", "slot", "kind", "implicit")

    def __init__(self, operation: int, size: int, slot: int, kind: int, implicit: int):
        self.operation = operation  # PLAN_*
        self.size = size  # bytes, or the width of a sized block's length
        self.slot = slot  # where the value is kept; 0: read past, store nothing
        self.kind = kind  # VALUE_*
        self.implicit = implicit  # an implicit constant, masked to 64 bits


# Operations of a decoding plan (see decode_plan).
PLAN_SKIP: Final = 0  # width bytes nobody reads
PLAN_FIXED: Final = 1  # an unsigned number of width bytes
PLAN_ULEB: Final = 2
PLAN_SLEB: Final = 3
PLAN_STRING: Final = 4  # inline, NUL-terminated
PLAN_BLOCK: Final = 5  # a ULEB128 length, then that many bytes
PLAN_BLOCK1: Final = 6
PLAN_BLOCK_SIZED: Final = 7  # a width-byte length, then that many bytes
PLAN_IMPLICIT: Final = 8  # the value is in the abbreviation

# The operation for each form size that varies from DIE to DIE but for
# sized blocks (PLAN_BLOCK_SIZED, with the length's width).
_VARIABLE_OPS: Final[dict[int, int]] = {SIZE_ULEB: PLAN_ULEB, SIZE_SLEB: PLAN_SLEB, SIZE_STRING: PLAN_STRING,
                                        SIZE_BLOCK: PLAN_BLOCK, SIZE_BLOCK1: PLAN_BLOCK1}


def decode_plan(specs: tuple[Spec, ...], offset_size: int, addr_size: int,
                version: int) -> tuple[PlanStep, ...] | None:
    """How to decode a DIE with this attribute list in a unit with these
    header sizes, as :class:`PlanStep` steps; None for the layouts
    only the form-by-form decoder handles (``DW_FORM_indirect``, unknown
    forms).  An implicit constant is stored already masked to 64 bits."""
    plan: list[PlanStep] = []
    skipped = 0  # bytes of unread fixed-size forms not yet in the plan
    for at, form, implicit in specs:
        desc = FORMS.get(form)
        if desc is None:
            return None
        slot = SLOTS[at] if at < len(SLOTS) and desc.value != VALUE_NONE else 0
        size = width(desc, offset_size, addr_size, version)
        if size is not None and not slot:
            skipped += size
            continue
        if skipped:
            plan.append(PlanStep(PLAN_SKIP, skipped, 0, VALUE_NONE, 0))
            skipped = 0
        if size == 0:  # the value is in the abbreviation
            plan.append(PlanStep(PLAN_IMPLICIT, 0, slot, desc.value, implicit & MASK64))
        elif size is not None:
            plan.append(PlanStep(PLAN_FIXED, size, slot, desc.value, 0))
        elif desc.size in _VARIABLE_OPS:
            plan.append(PlanStep(_VARIABLE_OPS[desc.size], 0, slot, desc.value, 0))
        else:
            plan.append(PlanStep(PLAN_BLOCK_SIZED, BLOCK_LENGTH_WIDTHS[desc.size], slot, desc.value, 0))
    if skipped:
        plan.append(PlanStep(PLAN_SKIP, skipped, 0, VALUE_NONE, 0))
    return tuple(plan)


# Operations of a stepping plan (see step_plan).
STEP_FIXED: Final = 0
STEP_LEB: Final = 1
STEP_STRING: Final = 2
STEP_BLOCK: Final = 3
STEP_BLOCK1: Final = 4
STEP_BLOCK_SIZED: Final = 5
STEP_SIBLING_REF: Final = 6
STEP_SIBLING_LEB: Final = 7
STEP_SIBLING_OTHER: Final = 8


def step_plan(specs: tuple[Spec, ...], offset_size: int, addr_size: int,
              version: int) -> tuple[Step, ...] | None:
    """How to step over the attributes of a DIE of variable size with this
    attribute list, as ``(operation, n, m)`` steps (``STEP_FIXED``: n bytes;
    ``STEP_SIBLING_REF``: a reference n bytes on, m wide;
    ``STEP_BLOCK_SIZED``: a block after its n-byte length); None for the
    layouts that must be stepped over form by form (``DW_FORM_indirect``,
    unknown forms).

    It serves the validity walk over every DIE of a unit, which meets
    variable-sized layouts (strings, LEB128 constants, location blocks) on
    a good share of its DIEs: a plan merges runs of fixed-size forms into
    one step and skips LEB128 values nobody reads without decoding them,
    and, unlike a compiled decoder, costs nothing to make.  A DW_AT_sibling
    is read as the form-by-form walk reads it: its unit offset, or -1 for
    a form that is not a unit reference."""
    plan: list[Step] = []
    fixed = 0  # bytes of fixed-size forms not yet in the plan

    def flush() -> None:
        nonlocal fixed
        if fixed:
            plan.append((STEP_FIXED, fixed, 0))
            fixed = 0

    for at, form, _ in specs:
        desc = FORMS.get(form)
        if desc is None:
            return None  # DW_FORM_indirect or unknown
        size = width(desc, offset_size, addr_size, version)
        if at == DW_AT_sibling:
            if desc.value != VALUE_UNIT_REF:
                plan.append((STEP_SIBLING_OTHER, 0, 0))
            elif size is None:
                flush()
                plan.append((STEP_SIBLING_LEB, 0, 0))
                continue
            else:
                plan.append((STEP_SIBLING_REF, fixed, size))
        if size is not None:
            fixed += size
            continue
        flush()
        if desc.size in (SIZE_ULEB, SIZE_SLEB):
            plan.append((STEP_LEB, 0, 0))
        elif desc.size == SIZE_STRING:
            plan.append((STEP_STRING, 0, 0))
        elif desc.size == SIZE_BLOCK:
            plan.append((STEP_BLOCK, 0, 0))
        elif desc.size == SIZE_BLOCK1:
            plan.append((STEP_BLOCK1, 0, 0))
        else:
            plan.append((STEP_BLOCK_SIZED, BLOCK_LENGTH_WIDTHS[desc.size], 0))
    flush()
    return tuple(plan)
