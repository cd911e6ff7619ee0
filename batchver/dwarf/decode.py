"""Compiled DIE decoders, one per abbreviation layout.

Decoding DIEs form by form in Python is the hot loop of versioning.  Every
DIE with the same abbreviation has the same attribute layout, so this module
turns a layout into a small Python function: consecutive fixed-size fields
become one ``struct.unpack_from`` call (fields nobody reads become padding),
and only the attributes versioning reads are stored.  What each form takes
and stores comes from :data:`batchver.dwarf.forms.FORMS`, as in
:meth:`DwarfReader._decode_generic`; layouts it cannot compile
(``DW_FORM_indirect``, unknown forms) return None and the generic decoder is
used.
"""

from __future__ import annotations

import struct
from typing import Callable, Final, Union, cast

from batchver.dwarf.constants import (
    DW_AT_abstract_origin, DW_AT_accessibility, DW_AT_alignment, DW_AT_bit_size, DW_AT_byte_size,
    DW_AT_const_value, DW_AT_count, DW_AT_data_bit_offset, DW_AT_data_member_location,
    DW_AT_comp_dir, DW_AT_decl_file, DW_AT_decl_line, DW_AT_declaration, DW_AT_discr_value, DW_AT_encoding, DW_AT_language,
    DW_AT_linkage_name, DW_AT_name, DW_AT_producer, DW_AT_sibling, DW_AT_stmt_list,
    DW_AT_str_offsets_base, DW_AT_type, DW_AT_upper_bound)
from batchver.dwarf.forms import (
    BLOCK_LENGTH_WIDTHS, FORMS, SIZE_BLOCK, SIZE_BLOCK1, SIZE_SLEB, SIZE_STRING, SIZE_ULEB,
    VALUE_FLAG, VALUE_FLAG_PRESENT, VALUE_IMPLICIT, VALUE_LINE_STRP, VALUE_NONE, VALUE_OTHER,
    VALUE_REF_ADDR, VALUE_SIG8, VALUE_SIGNED, VALUE_STRING, VALUE_STRP, VALUE_STRX, VALUE_UNIT_REF,
    VALUE_UNSIGNED, width)
from batchver.dwarf.leb128 import read_sleb, read_uleb
from batchver.elf.file import UINT_CODES

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
#: A compiled decoder: ``(data, pos, unit start key, unit, reader) ->
#: (attrs, end)`` (the unit and reader are the reader module's classes).
Decoder = Callable[..., tuple[Attrs, int]]
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


def _value(kind: int, raw: str, implicit: int) -> str | None:
    """The expression a compiled decoder stores for a form's value (see
    :data:`~batchver.dwarf.forms.FORMS`), given the expression ``raw`` for
    the number (or text) read; None when nothing is stored."""
    if kind == VALUE_UNSIGNED:
        return f"({CONST}, {raw})"
    if kind == VALUE_UNIT_REF:
        return f"(({REF}, ub + {raw}) if {raw} < unit.length else _NONE)"  # see reader.unit_ref
    if kind == VALUE_SIGNED:
        return f"({CONST}, {raw} & MASK)"
    if kind == VALUE_IMPLICIT:
        return f"({CONST}, {implicit & MASK64})"
    if kind == VALUE_REF_ADDR:
        return f"({REF}, {raw})"
    if kind == VALUE_SIG8:
        return f"_sig(R.signatures, {raw})"
    if kind == VALUE_FLAG:
        return f"({FLAG}, {raw})"
    if kind == VALUE_FLAG_PRESENT:
        return f"({FLAG}, 1)"
    if kind == VALUE_STRP:
        return f"({STR}, R.strs[{raw}])"
    if kind == VALUE_LINE_STRP:
        return f"({STR}, R.line_strs[{raw}])"
    if kind == VALUE_STRX:
        return f"({STR}, R._strx(unit, {raw}))"
    if kind == VALUE_STRING:
        return f"({STR}, {raw})"
    if kind == VALUE_OTHER:
        return f"({OTHER}, None)"
    assert kind == VALUE_NONE
    return None


def signature_ref(signatures: dict[int, int], signature: int) -> Value:
    """A DW_FORM_ref_sig8 value: the type unit's DIE with this signature,
    or nothing when no unit has it."""
    target = signatures.get(signature)
    return (REF, target) if target is not None else (OTHER, None)


def compile_decoder(specs: tuple[Spec, ...], offset_size: int, addr_size: int, version: int,
                    endian: str) -> Decoder | None:
    """A function ``(data, pos, unit_base_key, unit, reader) -> (attrs,
    end)`` for DIEs with this attribute list, or None."""
    namespace: dict[str, object] = {"uleb": read_uleb, "sleb": read_sleb, "MASK": MASK64, "_sig": signature_ref,
                       "_NONE": (OTHER, None)}
    little = "little" if endian == "<" else "big"
    body: list[str] = []
    group: list[tuple[int, int | None, int]] = []  # (width, attribute if stored, value kind)

    def flush() -> None:
        if not group:
            return
        fmt = endian
        stores: list[tuple[int, int, bool]] = []
        for size, at, kind in group:
            if at is None or _value(kind, "v", 0) is None:
                fmt += f"{size}x"
                continue
            code = UINT_CODES.get(size)
            fmt += code or f"{size}s"
            stores.append((at, kind, code is not None))
        if stores:
            name = f"S{len(namespace)}"
            namespace[name] = struct.Struct(fmt)
            body.append(f"v = {name}.unpack_from(data, pos)")
            for i, (at, kind, number) in enumerate(stores):
                raw = f"v[{i}]" if number else f"int.from_bytes(v[{i}], '{little}')"
                body.append(f"a[{at}] = {_value(kind, raw, 0)}")
        body.append(f"pos += {sum(size for size, _, _ in group)}")
        group.clear()

    for at, form, implicit in specs:
        desc = FORMS.get(form)
        if desc is None:
            return None  # DW_FORM_indirect or unknown, decode generically
        wanted = at in WANTED
        size = width(desc, offset_size, addr_size, version)
        if size:
            group.append((size, at if wanted else None, desc.value))
            continue
        flush()

        def store(raw: str) -> None:
            value = _value(desc.value, raw, implicit)
            if wanted and value is not None:
                body.append(f"a[{at}] = {value}")

        if size == 0:  # the value is in the abbreviation
            store("")
        elif desc.size in (SIZE_ULEB, SIZE_SLEB):
            body.append(f"x, pos = {'uleb' if desc.size == SIZE_ULEB else 'sleb'}(data, pos)")
            store("x")
        elif desc.size == SIZE_STRING:
            body.append("e = data.index(b'\\0', pos)")
            store("data[pos:e].decode('utf-8', 'surrogateescape')")
            body.append("pos = e + 1")
        elif desc.size == SIZE_BLOCK:
            body.append("x, pos = uleb(data, pos)")
            store("")
            body.append("pos += x")
        elif desc.size == SIZE_BLOCK1:
            store("")
            body.append("pos += 1 + data[pos]")
        else:
            length = BLOCK_LENGTH_WIDTHS[desc.size]
            name = f"B{length}"
            namespace[name] = struct.Struct(endian + UINT_CODES[length])
            store("")
            body.append(f"pos += {length} + {name}.unpack_from(data, pos)[0]")
    flush()
    source = "def dec(data, pos, ub, unit, R):\n    a = {}\n" + \
        "".join(f"    {line}\n" for line in body) + "    return a, pos\n"
    exec(compile(source, "<dwarf decoder>", "exec"), namespace)  # noqa: S102 - generated from DWARF forms only
    return cast(Decoder, namespace["dec"])


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
