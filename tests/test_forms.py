"""The one forms table every DIE walker derives from: it knows every form
batchver names, and measures each as the DWARF 5 standard (section 7.5.6)
and GCC's GNU extensions do."""

from __future__ import annotations

import pytest

from batchver.dwarf import constants
from batchver.dwarf.forms import FORMS, OTHER_UNIT_FORMS, UNIT_REF_WIDTHS, width

NAMED = {name: value for name, value in vars(constants).items() if name.startswith("DW_FORM_")}

# Bytes each form takes in a 32-bit DWARF unit with 8-byte addresses, as
# (DWARF 4, DWARF 2); None when the size varies from one value to the next.
EXPECTED = {
    "addr": (8, 8), "block2": (None, None), "block4": (None, None), "data2": (2, 2),
    "data4": (4, 4), "data8": (8, 8), "string": (None, None), "block": (None, None),
    "block1": (None, None), "data1": (1, 1), "flag": (1, 1), "sdata": (None, None),
    "strp": (4, 4), "udata": (None, None), "ref_addr": (4, 8), "ref1": (1, 1), "ref2": (2, 2),
    "ref4": (4, 4), "ref8": (8, 8), "ref_udata": (None, None), "sec_offset": (4, 4),
    "exprloc": (None, None), "flag_present": (0, 0), "strx": (None, None), "addrx": (None, None),
    "ref_sup4": (4, 4), "strp_sup": (4, 4), "data16": (16, 16), "line_strp": (4, 4),
    "ref_sig8": (8, 8), "implicit_const": (0, 0), "loclistx": (None, None),
    "rnglistx": (None, None), "ref_sup8": (8, 8), "strx1": (1, 1), "strx2": (2, 2),
    "strx3": (3, 3), "strx4": (4, 4), "addrx1": (1, 1), "addrx2": (2, 2), "addrx3": (3, 3),
    "addrx4": (4, 4), "GNU_addr_index": (None, None), "GNU_str_index": (None, None),
    "GNU_ref_alt": (4, 4), "GNU_strp_alt": (4, 4),
}


def test_every_named_form_is_described():
    """DW_FORM_indirect names its form in the DIE, so it alone is absent."""
    assert set(FORMS) == set(NAMED.values()) - {constants.DW_FORM_indirect}
    assert {f"DW_FORM_{name}" for name in EXPECTED} == set(NAMED) - {"DW_FORM_indirect"}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_form_widths(name):
    form = FORMS[NAMED[f"DW_FORM_{name}"]]
    assert (width(form, 4, 8, 4), width(form, 4, 8, 2)) == EXPECTED[name]


def test_references():
    assert UNIT_REF_WIDTHS == {constants.DW_FORM_ref1: 1, constants.DW_FORM_ref2: 2,
                               constants.DW_FORM_ref4: 4, constants.DW_FORM_ref8: 8}
    assert OTHER_UNIT_FORMS == {constants.DW_FORM_ref_addr, constants.DW_FORM_ref_sig8,
                                constants.DW_FORM_GNU_ref_alt}
