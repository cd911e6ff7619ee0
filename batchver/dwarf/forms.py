"""Every attribute form batchver reads: how its bytes are measured and what
value it carries, in one table.

Each walker over attribute values is derived from :data:`FORMS`, as
pyelftools derives its parsers from its form descriptions: the form-by-form
decoder and the skipping walks of :mod:`batchver.dwarf.reader`, and the
decoding and stepping plans of :mod:`batchver.dwarf.decode`.  A form
missing here is one no walker knows, and each refuses it the same way.

Values are normalised as libdw's accessors see them (upstream's output
depends on it): ``dwarf_formudata`` accepts the constant and section-offset
forms, with ``sdata`` sign-extended to an unsigned 64-bit value;
``dwarf_formstring`` the string forms; a unit-relative reference at or past
the unit's length names no DIE.
"""

from __future__ import annotations

from typing import Final, NamedTuple

from batchver.dwarf.constants import (
    DW_FORM_GNU_addr_index, DW_FORM_GNU_ref_alt, DW_FORM_GNU_str_index, DW_FORM_GNU_strp_alt,
    DW_FORM_addr, DW_FORM_addrx, DW_FORM_addrx1, DW_FORM_addrx2, DW_FORM_addrx3, DW_FORM_addrx4,
    DW_FORM_block, DW_FORM_block1, DW_FORM_block2, DW_FORM_block4, DW_FORM_data1,
    DW_FORM_data16, DW_FORM_data2, DW_FORM_data4, DW_FORM_data8, DW_FORM_exprloc, DW_FORM_flag,
    DW_FORM_flag_present, DW_FORM_implicit_const, DW_FORM_line_strp, DW_FORM_loclistx,
    DW_FORM_ref1, DW_FORM_ref2, DW_FORM_ref4, DW_FORM_ref8, DW_FORM_ref_addr, DW_FORM_ref_sig8,
    DW_FORM_ref_sup4, DW_FORM_ref_sup8, DW_FORM_ref_udata, DW_FORM_rnglistx, DW_FORM_sdata,
    DW_FORM_sec_offset, DW_FORM_string, DW_FORM_strp, DW_FORM_strp_sup, DW_FORM_strx,
    DW_FORM_strx1, DW_FORM_strx2, DW_FORM_strx3, DW_FORM_strx4, DW_FORM_udata)

# How a form's bytes are measured.  SIZE_FIXED takes Form.width bytes; the
# next three take a width the unit header gives (see width()).
SIZE_FIXED: Final = 0
SIZE_OFFSET: Final = 1
SIZE_ADDR: Final = 2
SIZE_REF_ADDR: Final = 3
SIZE_ULEB: Final = 4
SIZE_SLEB: Final = 5
SIZE_STRING: Final = 6
SIZE_BLOCK: Final = 7
SIZE_BLOCK1: Final = 8
SIZE_BLOCK2: Final = 9
SIZE_BLOCK4: Final = 10

# What a form's value becomes (the value classes are decode.CONST, ...):
# VALUE_NONE       nothing is stored (addresses nobody reads)
# VALUE_UNSIGNED   CONST, the number read
# VALUE_SIGNED     CONST, the number read as an unsigned 64-bit value
# VALUE_IMPLICIT   CONST, the abbreviation's value as an unsigned 64-bit value
# VALUE_UNIT_REF   REF to the unit's start plus the number, if inside the unit
# VALUE_REF_ADDR   REF to the number as a section offset
# VALUE_SIG8       REF to the type unit with that signature, if there is one
# VALUE_FLAG       FLAG, the byte read;  VALUE_FLAG_PRESENT  FLAG, 1
# VALUE_STRP       STR from .debug_str;  VALUE_LINE_STRP  STR from .debug_line_str
# VALUE_STRX       STR through .debug_str_offsets;  VALUE_STRING  STR inline
# VALUE_OTHER      OTHER, None: present, but nothing versioning reads as a value
VALUE_NONE: Final = 0
VALUE_UNSIGNED: Final = 1
VALUE_SIGNED: Final = 2
VALUE_IMPLICIT: Final = 3
VALUE_UNIT_REF: Final = 4
VALUE_REF_ADDR: Final = 5
VALUE_SIG8: Final = 6
VALUE_FLAG: Final = 7
VALUE_FLAG_PRESENT: Final = 8
VALUE_STRP: Final = 9
VALUE_LINE_STRP: Final = 10
VALUE_STRX: Final = 11
VALUE_STRING: Final = 12
VALUE_OTHER: Final = 13


class Form(NamedTuple):
    size: int  # SIZE_*
    width: int  # bytes, for SIZE_FIXED
    value: int  # VALUE_*
    other_unit: bool = False  # may name a DIE of another unit (or file)


FORMS: Final[dict[int, Form]] = {
    DW_FORM_addr: Form(SIZE_ADDR, 0, VALUE_NONE),
    DW_FORM_block2: Form(SIZE_BLOCK2, 0, VALUE_OTHER),
    DW_FORM_block4: Form(SIZE_BLOCK4, 0, VALUE_OTHER),
    DW_FORM_data2: Form(SIZE_FIXED, 2, VALUE_UNSIGNED),
    DW_FORM_data4: Form(SIZE_FIXED, 4, VALUE_UNSIGNED),
    DW_FORM_data8: Form(SIZE_FIXED, 8, VALUE_UNSIGNED),
    DW_FORM_string: Form(SIZE_STRING, 0, VALUE_STRING),
    DW_FORM_block: Form(SIZE_BLOCK, 0, VALUE_OTHER),
    DW_FORM_block1: Form(SIZE_BLOCK1, 0, VALUE_OTHER),
    DW_FORM_data1: Form(SIZE_FIXED, 1, VALUE_UNSIGNED),
    DW_FORM_flag: Form(SIZE_FIXED, 1, VALUE_FLAG),
    DW_FORM_sdata: Form(SIZE_SLEB, 0, VALUE_SIGNED),
    DW_FORM_strp: Form(SIZE_OFFSET, 0, VALUE_STRP),
    DW_FORM_udata: Form(SIZE_ULEB, 0, VALUE_UNSIGNED),
    DW_FORM_ref_addr: Form(SIZE_REF_ADDR, 0, VALUE_REF_ADDR, True),
    DW_FORM_ref1: Form(SIZE_FIXED, 1, VALUE_UNIT_REF),
    DW_FORM_ref2: Form(SIZE_FIXED, 2, VALUE_UNIT_REF),
    DW_FORM_ref4: Form(SIZE_FIXED, 4, VALUE_UNIT_REF),
    DW_FORM_ref8: Form(SIZE_FIXED, 8, VALUE_UNIT_REF),
    DW_FORM_ref_udata: Form(SIZE_ULEB, 0, VALUE_UNIT_REF),
    # DW_FORM_indirect names its form in the DIE itself: walkers read that first.
    DW_FORM_sec_offset: Form(SIZE_OFFSET, 0, VALUE_UNSIGNED),
    DW_FORM_exprloc: Form(SIZE_BLOCK, 0, VALUE_OTHER),
    DW_FORM_flag_present: Form(SIZE_FIXED, 0, VALUE_FLAG_PRESENT),
    DW_FORM_strx: Form(SIZE_ULEB, 0, VALUE_STRX),
    DW_FORM_addrx: Form(SIZE_ULEB, 0, VALUE_NONE),
    DW_FORM_ref_sup4: Form(SIZE_FIXED, 4, VALUE_OTHER),
    DW_FORM_strp_sup: Form(SIZE_OFFSET, 0, VALUE_OTHER),
    DW_FORM_data16: Form(SIZE_FIXED, 16, VALUE_OTHER),
    DW_FORM_line_strp: Form(SIZE_OFFSET, 0, VALUE_LINE_STRP),
    DW_FORM_ref_sig8: Form(SIZE_FIXED, 8, VALUE_SIG8, True),
    DW_FORM_implicit_const: Form(SIZE_FIXED, 0, VALUE_IMPLICIT),
    DW_FORM_loclistx: Form(SIZE_ULEB, 0, VALUE_UNSIGNED),  # constants to libdw
    DW_FORM_rnglistx: Form(SIZE_ULEB, 0, VALUE_UNSIGNED),
    DW_FORM_ref_sup8: Form(SIZE_FIXED, 8, VALUE_OTHER),
    DW_FORM_strx1: Form(SIZE_FIXED, 1, VALUE_STRX),
    DW_FORM_strx2: Form(SIZE_FIXED, 2, VALUE_STRX),
    DW_FORM_strx3: Form(SIZE_FIXED, 3, VALUE_STRX),
    DW_FORM_strx4: Form(SIZE_FIXED, 4, VALUE_STRX),
    DW_FORM_addrx1: Form(SIZE_FIXED, 1, VALUE_OTHER),
    DW_FORM_addrx2: Form(SIZE_FIXED, 2, VALUE_OTHER),
    DW_FORM_addrx3: Form(SIZE_FIXED, 3, VALUE_OTHER),
    DW_FORM_addrx4: Form(SIZE_FIXED, 4, VALUE_OTHER),
    DW_FORM_GNU_addr_index: Form(SIZE_ULEB, 0, VALUE_NONE),
    DW_FORM_GNU_str_index: Form(SIZE_ULEB, 0, VALUE_STRX),
    DW_FORM_GNU_ref_alt: Form(SIZE_OFFSET, 0, VALUE_OTHER, True),
    DW_FORM_GNU_strp_alt: Form(SIZE_OFFSET, 0, VALUE_OTHER),
}

# Forms whose size varies from one DIE to the next (see width()).
VARIABLE_SIZES: Final = frozenset((SIZE_ULEB, SIZE_SLEB, SIZE_STRING, SIZE_BLOCK, SIZE_BLOCK1, SIZE_BLOCK2,
                                   SIZE_BLOCK4))
# Bytes of the length that starts a DW_FORM_block1/2/4.
BLOCK_LENGTH_WIDTHS: Final = {SIZE_BLOCK1: 1, SIZE_BLOCK2: 2, SIZE_BLOCK4: 4}
# Unit-relative references of fixed width, by form: what a DW_AT_sibling
# that walks can follow without decoding the DIE must be.
UNIT_REF_WIDTHS: Final = {form: f.width for form, f in FORMS.items()
                          if f.value == VALUE_UNIT_REF and f.size == SIZE_FIXED}
# Forms that may name a DIE outside the unit they sit in.
OTHER_UNIT_FORMS: Final = frozenset(form for form, f in FORMS.items() if f.other_unit)


def width(form: Form, offset_size: int, addr_size: int, version: int) -> int | None:
    """The bytes a form takes in a unit with these header sizes; None when
    it varies from one DIE to the next."""
    size = form.size
    if size == SIZE_FIXED:
        return form.width
    if size == SIZE_OFFSET:
        return offset_size
    if size == SIZE_ADDR:
        return addr_size
    if size == SIZE_REF_ADDR:
        return addr_size if version == 2 else offset_size
    return None
