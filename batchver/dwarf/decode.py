"""Compiled DIE decoders, one per abbreviation layout.

Decoding DIEs form by form in Python is the hot loop of versioning.  Every
DIE with the same abbreviation has the same attribute layout, so this module
turns a layout into a small Python function: consecutive fixed-size fields
become one ``struct.unpack_from`` call (fields nobody reads become padding),
and only the attributes versioning reads are stored.  Values are normalised
exactly as :meth:`DwarfReader._decode_generic` does; layouts it cannot
compile (``DW_FORM_indirect``, unknown forms) return None and the generic
decoder is used.
"""

from __future__ import annotations

import struct

from batchver.dwarf.constants import (
    DW_AT_abstract_origin, DW_AT_accessibility, DW_AT_alignment, DW_AT_bit_size, DW_AT_byte_size,
    DW_AT_const_value, DW_AT_count, DW_AT_data_bit_offset, DW_AT_data_member_location,
    DW_AT_comp_dir, DW_AT_decl_file, DW_AT_decl_line, DW_AT_declaration, DW_AT_discr_value, DW_AT_encoding, DW_AT_language,
    DW_AT_linkage_name, DW_AT_name, DW_AT_producer, DW_AT_sibling, DW_AT_stmt_list,
    DW_AT_str_offsets_base, DW_AT_type, DW_AT_upper_bound, DW_FORM_GNU_addr_index,
    DW_FORM_GNU_ref_alt, DW_FORM_GNU_str_index, DW_FORM_GNU_strp_alt, DW_FORM_addr,
    DW_FORM_addrx, DW_FORM_addrx1, DW_FORM_addrx2, DW_FORM_addrx3, DW_FORM_addrx4,
    DW_FORM_block, DW_FORM_block1, DW_FORM_block2, DW_FORM_block4, DW_FORM_data1,
    DW_FORM_data16, DW_FORM_data2, DW_FORM_data4, DW_FORM_data8, DW_FORM_exprloc, DW_FORM_flag,
    DW_FORM_flag_present, DW_FORM_implicit_const, DW_FORM_line_strp, DW_FORM_loclistx,
    DW_FORM_ref1, DW_FORM_ref2, DW_FORM_ref4, DW_FORM_ref8, DW_FORM_ref_addr, DW_FORM_ref_sig8,
    DW_FORM_ref_sup4, DW_FORM_ref_sup8, DW_FORM_ref_udata, DW_FORM_rnglistx, DW_FORM_sdata,
    DW_FORM_sec_offset, DW_FORM_string, DW_FORM_strp, DW_FORM_strp_sup, DW_FORM_strx,
    DW_FORM_strx1, DW_FORM_strx2, DW_FORM_strx3, DW_FORM_strx4, DW_FORM_udata)
from batchver.dwarf.leb128 import read_sleb, read_uleb
from batchver.elf.file import UINT_CODES

MASK64 = (1 << 64) - 1

# Attribute value classes (what libdw's accessors would accept).
CONST, REF, STR, FLAG, OTHER = range(5)

# Sizes of forms whose size does not depend on the unit.
FIXED_FORMS = {DW_FORM_data1: 1, DW_FORM_data2: 2, DW_FORM_data4: 4, DW_FORM_data8: 8,
               DW_FORM_flag: 1, DW_FORM_ref1: 1, DW_FORM_ref2: 2, DW_FORM_ref4: 4, DW_FORM_ref8: 8,
               DW_FORM_ref_sig8: 8, DW_FORM_data16: 16, DW_FORM_flag_present: 0,
               DW_FORM_implicit_const: 0, DW_FORM_ref_sup4: 4, DW_FORM_ref_sup8: 8,
               DW_FORM_strx1: 1, DW_FORM_strx2: 2, DW_FORM_strx3: 3, DW_FORM_strx4: 4,
               DW_FORM_addrx1: 1, DW_FORM_addrx2: 2, DW_FORM_addrx3: 3, DW_FORM_addrx4: 4}
OFFSET_SIZED_FORMS = (DW_FORM_strp, DW_FORM_line_strp, DW_FORM_sec_offset, DW_FORM_strp_sup,
                      DW_FORM_GNU_ref_alt, DW_FORM_GNU_strp_alt)

# The attributes anything in batchver reads from a DIE.
WANTED = frozenset((
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

def _fixed_width(form: int, offset_size: int, addr_size: int, version: int) -> int | None:
    width = FIXED_FORMS.get(form)
    if width is not None:
        return width
    if form in OFFSET_SIZED_FORMS:
        return offset_size
    if form == DW_FORM_ref_addr:
        return addr_size if version == 2 else offset_size
    if form == DW_FORM_addr:
        return addr_size
    return None


def _store(form: int, value: str, endian: str) -> str | None:
    """The expression stored for a fixed-size form's raw field, or None when
    the generic decoder stores nothing for it."""
    little = "little" if endian == "<" else "big"
    if form in (DW_FORM_data1, DW_FORM_data2, DW_FORM_data4, DW_FORM_data8, DW_FORM_sec_offset):
        return f"({CONST}, {value})"
    if form in (DW_FORM_ref1, DW_FORM_ref2, DW_FORM_ref4, DW_FORM_ref8):
        return f"(({REF}, ub + {value}) if {value} < unit.length else _NONE)"  # see reader.unit_ref
    if form == DW_FORM_ref_addr:
        return f"({REF}, {value})"
    if form == DW_FORM_ref_sig8:
        return f"_sig(R, {value})"
    if form == DW_FORM_flag:
        return f"({FLAG}, {value})"
    if form == DW_FORM_strp:
        return f"({STR}, R.strs[{value}])"
    if form == DW_FORM_line_strp:
        return f"({STR}, R.line_strs[{value}])"
    if form in (DW_FORM_strx1, DW_FORM_strx2, DW_FORM_strx4):
        return f"({STR}, R._strx(unit, {value}))"
    if form == DW_FORM_strx3:
        return f"({STR}, R._strx(unit, int.from_bytes({value}, '{little}')))"
    if form == DW_FORM_addr:
        return None
    return f"({OTHER}, None)"  # addrx1-4, data16, ref_sup4/8, strp_sup, GNU alt forms


def _sig(reader, signature: int) -> tuple:
    target = reader.signatures.get(signature)
    return (REF, target) if target is not None else (OTHER, None)


def compile_decoder(specs: tuple, offset_size: int, addr_size: int, version: int, endian: str):
    """A function ``(data, pos, unit_base_key, unit, reader) -> (attrs,
    end)`` for DIEs with this attribute list, or None."""
    namespace: dict = {"uleb": read_uleb, "sleb": read_sleb, "MASK": MASK64, "_sig": _sig,
                       "_NONE": (OTHER, None)}
    body: list[str] = []
    group: list[tuple[int, int | None, int]] = []

    def flush() -> None:
        if not group:
            return
        fmt = endian
        stores = []
        for width, at, form in group:
            if at is None or _store(form, "v", endian) is None:
                fmt += f"{width}x"
                continue
            fmt += UINT_CODES.get(width, f"{width}s")
            stores.append((at, form))
        size = sum(width for width, _, _ in group)
        if stores:
            name = f"S{len(namespace)}"
            namespace[name] = struct.Struct(fmt)
            body.append(f"v = {name}.unpack_from(data, pos)")
            for i, (at, form) in enumerate(stores):
                body.append(f"a[{at}] = {_store(form, f'v[{i}]', endian)}")
        body.append(f"pos += {size}")
        group.clear()

    for at, form, implicit in specs:
        wanted = at in WANTED
        width = _fixed_width(form, offset_size, addr_size, version)
        if width:
            group.append((width, at if wanted else None, form))
            continue
        flush()
        if form == DW_FORM_flag_present:
            if wanted:
                body.append(f"a[{at}] = ({FLAG}, 1)")
        elif form == DW_FORM_implicit_const:
            if wanted:
                body.append(f"a[{at}] = ({CONST}, {implicit & MASK64})")
        elif form in (DW_FORM_udata, DW_FORM_loclistx, DW_FORM_rnglistx):
            body.append("x, pos = uleb(data, pos)")
            if wanted:
                body.append(f"a[{at}] = ({CONST}, x)")
        elif form == DW_FORM_sdata:
            body.append("x, pos = sleb(data, pos)")
            if wanted:
                body.append(f"a[{at}] = ({CONST}, x & MASK)")
        elif form == DW_FORM_ref_udata:
            body.append("x, pos = uleb(data, pos)")
            if wanted:
                body.append(f"a[{at}] = ({REF}, ub + x) if x < unit.length else _NONE")
        elif form == DW_FORM_string:
            body.append("e = data.index(b'\\0', pos)")
            if wanted:
                body.append(f"a[{at}] = ({STR}, data[pos:e].decode('utf-8', 'surrogateescape'))")
            body.append("pos = e + 1")
        elif form in (DW_FORM_strx, DW_FORM_GNU_str_index):
            body.append("x, pos = uleb(data, pos)")
            if wanted:
                body.append(f"a[{at}] = ({STR}, R._strx(unit, x))")
        elif form in (DW_FORM_addrx, DW_FORM_GNU_addr_index):
            body.append("x, pos = uleb(data, pos)")
        elif form in (DW_FORM_exprloc, DW_FORM_block):
            body.append("x, pos = uleb(data, pos)")
            if wanted:
                body.append(f"a[{at}] = ({OTHER}, None)")
            body.append("pos += x")
        elif form == DW_FORM_block1:
            if wanted:
                body.append(f"a[{at}] = ({OTHER}, None)")
            body.append("pos += 1 + data[pos]")
        elif form in (DW_FORM_block2, DW_FORM_block4):
            code = "H" if form == DW_FORM_block2 else "I"
            namespace[f"B{form}"] = struct.Struct(endian + code)
            if wanted:
                body.append(f"a[{at}] = ({OTHER}, None)")
            body.append(f"pos += {2 if form == DW_FORM_block2 else 4} + B{form}.unpack_from(data, pos)[0]")
        else:
            return None  # DW_FORM_indirect or unknown, decode generically
    flush()
    source = "def dec(data, pos, ub, unit, R):\n    a = {}\n" + \
        "".join(f"    {line}\n" for line in body) + "    return a, pos\n"
    exec(compile(source, "<dwarf decoder>", "exec"), namespace)  # noqa: S102 - generated from DWARF forms only
    return namespace["dec"]



# Operations of a stepping plan (see step_plan).
STEP_FIXED, STEP_LEB, STEP_STRING, STEP_BLOCK, STEP_BLOCK1, STEP_BLOCK_SIZED, STEP_SIBLING_REF, \
    STEP_SIBLING_LEB, STEP_SIBLING_OTHER = range(9)
_LEB_FORMS = (DW_FORM_udata, DW_FORM_sdata, DW_FORM_ref_udata, DW_FORM_strx, DW_FORM_addrx,
              DW_FORM_loclistx, DW_FORM_rnglistx, DW_FORM_GNU_addr_index, DW_FORM_GNU_str_index)


def step_plan(specs: tuple, offset_size: int, addr_size: int, version: int,
              endian: str) -> tuple | None:
    """How to step over the attributes of a DIE of variable size with this
    attribute list, as ``(operation, argument)`` pairs; None for the
    layouts that must be stepped over form by form (``DW_FORM_indirect``,
    unknown forms).

    It serves the validity walk over every DIE of a unit, which meets
    variable-sized layouts (strings, LEB128 constants, location blocks) on
    a good share of its DIEs: a plan merges runs of fixed-size forms into
    one step and skips LEB128 values nobody reads without decoding them,
    and, unlike a compiled decoder, costs nothing to make.  A DW_AT_sibling
    is read as the form-by-form walk reads it: its unit offset, or -1 for
    a form that is not a unit reference."""
    plan: list[tuple] = []
    fixed = 0  # bytes of fixed-size forms not yet in the plan

    def flush() -> None:
        nonlocal fixed
        if fixed:
            plan.append((STEP_FIXED, fixed))
            fixed = 0

    for at, form, _ in specs:
        width = _fixed_width(form, offset_size, addr_size, version)
        if at == DW_AT_sibling:
            if form == DW_FORM_ref_udata:
                flush()
                plan.append((STEP_SIBLING_LEB, 0))
                continue
            if form in (DW_FORM_ref1, DW_FORM_ref2, DW_FORM_ref4, DW_FORM_ref8):
                plan.append((STEP_SIBLING_REF, (fixed, width)))
            else:
                plan.append((STEP_SIBLING_OTHER, 0))
        if width is not None:
            fixed += width
            continue
        flush()
        if form in _LEB_FORMS:
            plan.append((STEP_LEB, 0))
        elif form == DW_FORM_string:
            plan.append((STEP_STRING, 0))
        elif form in (DW_FORM_exprloc, DW_FORM_block):
            plan.append((STEP_BLOCK, 0))
        elif form == DW_FORM_block1:
            plan.append((STEP_BLOCK1, 0))
        elif form in (DW_FORM_block2, DW_FORM_block4):
            code = "H" if form == DW_FORM_block2 else "I"
            plan.append((STEP_BLOCK_SIZED, struct.Struct(endian + code)))
        else:
            return None  # DW_FORM_indirect or unknown
    flush()
    return tuple(plan)
