"""A unit's line table, read and checked as libdw 0.188 does.

Upstream asks for a unit's source files (``dwarf_getsrcfiles``) to tell
whether a type is defined in a ``.c`` file.  libdw answers by reading the
whole line table, header *and* line-number program, and refuses the table,
so upstream exits 1 with ``dwarf_getsrcfiles failed: '<reason>'``, for any
of the faults checked here: a header field past the end of the table, a
directory index past the directory list, a file table that does not end
where the header length says, an opcode whose operand count disagrees with
the header, or an extended opcode that runs past the end.  batchver needs
only the file names, but it must refuse exactly those tables, or a corrupt
object would get versions where upstream gives none.

:class:`LineTableError` carries libdw's message for the fault.
"""

from __future__ import annotations

from typing import Callable, Final, NamedTuple

from batchver.dwarf.constants import (
    DW_FORM_block, DW_FORM_block1, DW_FORM_block2, DW_FORM_block4, DW_FORM_data1, DW_FORM_data2,
    DW_FORM_data4, DW_FORM_data8, DW_FORM_data16, DW_FORM_flag, DW_FORM_line_strp, DW_FORM_sdata,
    DW_FORM_sec_offset, DW_FORM_string, DW_FORM_strp, DW_FORM_strp_sup, DW_FORM_strx,
    DW_FORM_strx1, DW_FORM_strx2, DW_FORM_strx3, DW_FORM_strx4, DW_FORM_udata)
from batchver.dwarf.forms import (
    BLOCK_LENGTH_WIDTHS, FORMS, SIZE_BLOCK, SIZE_FIXED, SIZE_OFFSET, SIZE_SLEB, SIZE_STRING, SIZE_ULEB,
    VALUE_LINE_STRP, VALUE_STRING, VALUE_STRP, VALUE_UNSIGNED)

# libdw's messages (dwarf_errmsg) for the faults a line table can have
INVALID_LINE: Final = "invalid .debug_line section"
INVALID_DWARF: Final = "invalid DWARF"
INVALID_DIR_INDEX: Final = "invalid directory index"
INVALID_VERSION: Final = "invalid DWARF version"

# Forms a DWARF 5 directory or file entry may use (libdw_valid_user_form).
_ENTRY_FORMS: Final = frozenset((
    DW_FORM_block, DW_FORM_block1, DW_FORM_block2, DW_FORM_block4, DW_FORM_data1, DW_FORM_data2,
    DW_FORM_data4, DW_FORM_data8, DW_FORM_data16, DW_FORM_flag, DW_FORM_line_strp, DW_FORM_sdata,
    DW_FORM_sec_offset, DW_FORM_string, DW_FORM_strp, DW_FORM_strp_sup, DW_FORM_strx,
    DW_FORM_strx1, DW_FORM_strx2, DW_FORM_strx3, DW_FORM_strx4, DW_FORM_udata))
# ... of which those that name a path, and those that count (a directory index)
_STRING_FORMS: Final = frozenset(f for f in _ENTRY_FORMS if FORMS[f].value in (VALUE_STRING, VALUE_STRP, VALUE_LINE_STRP))
_NUMBER_FORMS: Final = frozenset(f for f in _ENTRY_FORMS
                                 if FORMS[f].value == VALUE_UNSIGNED and FORMS[f].size in (SIZE_FIXED, SIZE_ULEB))
# line-table constants (DWARF 5, 6.2.5 and 6.2.4.1); Final, so that compiled
# code reads them as constants in the program loop
DW_LNCT_path: Final = 1
DW_LNCT_directory_index: Final = 2
DW_LNS_copy: Final = 1
DW_LNS_advance_line: Final = 3
DW_LNS_set_column: Final = 5
DW_LNS_negate_stmt: Final = 6
DW_LNS_const_add_pc: Final = 8
DW_LNS_fixed_advance_pc: Final = 9
DW_LNS_set_isa: Final = 12
DW_LNE_end_sequence: Final = 1
DW_LNE_set_address: Final = 2
DW_LNE_define_file: Final = 3
DW_LNE_set_discriminator: Final = 4
# standard opcodes -> the operand count libdw insists the header gives them
_OPERANDS: Final = {1: 0, 2: 1, 3: 1, 4: 1, 5: 1, 6: 0, 7: 0, 8: 0, 9: 1, 10: 0, 11: 0, 12: 1}


class LineTableError(Exception):
    """A line table libdw would refuse; the message is libdw's."""


class _Cursor:
    """Reads a table bounded by ``end``; running past it is the fault libdw
    reports as an invalid .debug_line section."""

    def __init__(self, data: bytes, pos: int, end: int, endian: str):
        self.data, self.pos, self.end, self.endian = data, pos, end, endian

    def need(self, count: int) -> None:
        if count < 0 or self.end - self.pos < count:
            raise LineTableError(INVALID_LINE)

    def fixed(self, width: int) -> int:
        self.need(width)
        value = int.from_bytes(self.data[self.pos:self.pos + width],
                               "little" if self.endian == "<" else "big")
        self.pos += width
        return value

    def uleb(self) -> int:
        """A ULEB128 whose first byte must lie inside the table (libdw's
        reader stops at the end without failing)."""
        self.need(1)
        result = shift = 0
        while self.pos < self.end:
            byte = self.data[self.pos]
            self.pos += 1
            result |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                break
        return result

    def cstring(self) -> bytes:
        stop = self.data.find(b"\0", self.pos, self.end)
        if stop < 0:
            raise LineTableError(INVALID_LINE)
        text = self.data[self.pos:stop]
        self.pos = stop + 1
        return text


def read_files(data: bytes, offset: int, endian: str, address_size: int,
               string_at: Callable[[int, int], str | None]) -> list[str]:
    """The file names of the line table at ``offset`` (index 0 is libdw's
    ``???`` before DWARF 5), after checking the whole table as libdw does.
    ``string_at(form, offset)`` resolves ``DW_FORM_strp``/``line_strp``
    (None when the offset is bad)."""
    return [name for _, name in _read_table(data, offset, endian, address_size, string_at)]


def read_paths(data: bytes, offset: int, endian: str, address_size: int,
               string_at: Callable[[int, int], str | None]) -> list[str]:
    """The files of the line table at ``offset`` with their directories, as
    ``DW_AT_decl_file`` indexes them: ``directory/name``, or ``name`` alone
    when it is absolute or in directory 0 (the compilation directory, in
    every DWARF version).  Relative results are relative to the unit's
    ``DW_AT_comp_dir``; source locations resolve them from there."""
    return [name if not directory or name.startswith("/") else f"{directory}/{name}"
            for directory, name in _read_table(data, offset, endian, address_size, string_at)]


def _read_table(data: bytes, offset: int, endian: str, address_size: int,
                string_at: Callable[[int, int], str | None]) -> list[tuple[str, str]]:
    """(directory, name) of each file of a checked line table; directory 0
    (the compilation directory) is given as ""."""
    if offset >= len(data):
        raise LineTableError(INVALID_LINE)
    cur = _Cursor(data, offset, len(data), endian)
    length = cur.fixed(4)
    offset_size = 4
    if length == 0xFFFFFFFF:
        length = cur.fixed(8)
        offset_size = 8
    cur.need(length)
    cur.end = cur.pos + length
    version = cur.fixed(2)
    if not 2 <= version <= 5:
        raise LineTableError(INVALID_VERSION)
    if version >= 5 and (cur.fixed(1) != address_size or cur.fixed(1) != 0):
        raise LineTableError(INVALID_LINE)
    header_length = cur.fixed(offset_size)
    header_end = cur.pos + header_length
    cur.fixed(1)  # minimum_instruction_length
    if version >= 4 and cur.fixed(1) == 0:  # maximum_operations_per_instruction
        raise LineTableError(INVALID_LINE)
    cur.need(4)
    default_is_stmt = cur.fixed(1)
    line_base = cur.fixed(1)
    line_base -= (line_base & 0x80) << 1
    line_range = cur.fixed(1)
    opcode_base = cur.fixed(1)
    lengths = cur.pos - 1  # data[lengths + n]: operand count of standard opcode n
    cur.need(opcode_base - 1)
    cur.pos += max(opcode_base - 1, 0)
    program_end = cur.end
    cur.end = min(header_end, program_end)
    if version < 5:
        files, directories = _files_before_5(cur)
    else:
        files, directories = _files_5(cur, offset_size, address_size, string_at)
    if cur.pos != header_end:
        raise LineTableError(INVALID_DWARF)
    cur.end = program_end
    _check_program(cur, _Header(lengths, opcode_base, line_base, line_range, default_is_stmt,
                                address_size, len(directories)))
    return files


def _files_before_5(cur: _Cursor) -> tuple[list[tuple[str, str]], list[str]]:
    directories = [""]  # the compilation directory is index 0
    while cur.pos < cur.end and cur.data[cur.pos] != 0:
        directories.append(cur.cstring().decode("utf-8", "surrogateescape"))
    if cur.pos >= cur.end:
        raise LineTableError(INVALID_LINE)
    cur.pos += 1
    if cur.pos >= cur.end:
        raise LineTableError(INVALID_LINE)
    files = [("", "???")]
    while cur.pos < cur.end and cur.data[cur.pos] != 0:
        name = cur.cstring()
        index = cur.uleb()
        if index >= len(directories):
            raise LineTableError(INVALID_DIR_INDEX)
        cur.uleb()  # modification time
        cur.uleb()  # length
        files.append((directories[index], name.decode("utf-8", "surrogateescape")))
    if cur.pos >= cur.end:
        raise LineTableError(INVALID_LINE)
    cur.pos += 1
    return files, directories


def _entry_formats(cur: _Cursor, wanted: tuple[int, ...]) -> tuple[list[int], dict[int, int]]:
    """A DWARF 5 entry format: the forms, and which form holds each
    wanted content type (all must be present when there are forms)."""
    forms, where = [], {}
    for index in range(cur.fixed(1)):
        content = cur.uleb()
        form = cur.uleb()
        if form not in _ENTRY_FORMS:
            raise LineTableError(INVALID_LINE)
        forms.append(form)
        if content in wanted:
            where[content] = index
    if forms and len(where) != len(wanted):
        raise LineTableError(INVALID_LINE)
    return forms, where


def _form_value(cur: _Cursor, form: int, offset_size: int) -> int | bytes | None:
    """Read one entry value: bytes for an inline string, an integer for an
    offset or a number, None for what neither names nor counts."""
    desc = FORMS[form]
    kind = desc.size
    if kind == SIZE_STRING:
        return cur.cstring()
    if kind == SIZE_OFFSET:
        return cur.fixed(offset_size)
    if kind in (SIZE_ULEB, SIZE_SLEB):
        return cur.uleb()
    if kind == SIZE_FIXED:
        value = cur.fixed(desc.width)
        return value if desc.value == VALUE_UNSIGNED else None
    size = cur.uleb() if kind == SIZE_BLOCK else cur.fixed(BLOCK_LENGTH_WIDTHS[kind])
    cur.need(size)
    cur.pos += size
    return None


def _entries(cur: _Cursor, forms: list[int], where: dict[int, int], offset_size: int,
             string_at: Callable[[int, int], str | None]) -> list[tuple[str, int | None]]:
    """(path, directory index) of each DWARF 5 directory or file entry."""
    count = cur.uleb()
    if (not forms and count) or (forms and count > (cur.end - cur.pos) // len(forms)):
        raise LineTableError(INVALID_LINE)
    out = []
    for _ in range(count):
        path: str | None = None
        index: int | None = None
        for number, form in enumerate(forms):
            value = _form_value(cur, form, offset_size)
            if number == where.get(DW_LNCT_path):
                if isinstance(value, bytes):
                    path = value.decode("utf-8", "surrogateescape")
                elif form in _STRING_FORMS and value is not None:
                    path = string_at(form, value)
            elif number == where.get(DW_LNCT_directory_index):
                index = value if form in _NUMBER_FORMS and isinstance(value, int) else None
        if path is None:
            raise LineTableError(INVALID_LINE)
        out.append((path, index))
    return out


def _files_5(cur: _Cursor, offset_size: int, address_size: int,
             string_at: Callable[[int, int], str | None]
             ) -> tuple[list[tuple[str, str]], list[str]]:
    forms, where = _entry_formats(cur, (DW_LNCT_path,))
    directories = [path for path, _ in _entries(cur, forms, where, offset_size, string_at)]
    forms, where = _entry_formats(cur, (DW_LNCT_path, DW_LNCT_directory_index))
    files = []
    for path, index in _entries(cur, forms, where, offset_size, string_at):
        if index is None:
            raise LineTableError(INVALID_LINE)
        if index >= len(directories):
            raise LineTableError(INVALID_DIR_INDEX)
        files.append(("" if index == 0 else directories[index], path))
    return files or [("", "???")], directories


class _Header(NamedTuple):
    """What the line-number program is checked against."""

    lengths: int  # data[lengths + n]: operand count of standard opcode n
    opcode_base: int
    line_base: int
    line_range: int
    default_is_stmt: int
    address_size: int
    directories: int


def _sleb32(cur: _Cursor) -> int:
    """A signed LEB128 read into a C int, as libdw reads line advances."""
    start = cur.pos
    value = cur.uleb()
    bits = 7 * (cur.pos - start)
    if cur.data[cur.pos - 1] & 0x40:
        value -= 1 << bits
    return (value + (1 << 31)) % (1 << 32) - (1 << 31)


def _check_row(is_stmt: int, line: int, column: int) -> None:
    """Refuse a row libdw cannot store with these registers."""
    if is_stmt > 1 or not -(1 << 31) <= line < 1 << 31 or column > 0xFFFF:
        raise LineTableError(INVALID_LINE)


def _check_program(cur: _Cursor, header: _Header) -> None:
    """Run through the line-number program checking what libdw checks;
    rows themselves are not kept, but the registers a row stores in a
    narrower field are: a row whose is_stmt is not 0 or 1, whose line does
    not fit a C int or whose column does not fit 16 bits is refused (the
    header's default_is_stmt is copied into is_stmt as it is)."""
    data, lengths, opcode_base = cur.data, header.lengths, header.opcode_base
    line_base, line_range = header.line_base, header.line_range
    is_stmt, line, column = header.default_is_stmt, 1, 0
    while cur.pos < cur.end:
        opcode = data[cur.pos]
        cur.pos += 1
        if opcode >= opcode_base:
            if line_range == 0:
                raise LineTableError(INVALID_LINE)
            line += line_base + (opcode - opcode_base) % line_range
            _check_row(is_stmt, line, column)
        elif opcode == 0:
            cur.need(2)
            length = data[cur.pos]
            cur.pos += 1
            cur.need(length)
            sub = data[cur.pos]
            cur.pos += 1
            if sub == DW_LNE_end_sequence:
                _check_row(is_stmt, line, column)
                is_stmt, line, column = header.default_is_stmt, 1, 0
            elif sub == DW_LNE_set_address:
                if header.address_size not in (4, 8):
                    raise LineTableError(INVALID_LINE)
                cur.fixed(header.address_size)
            elif sub == DW_LNE_define_file:
                cur.cstring()
                if cur.uleb() >= header.directories:
                    raise LineTableError(INVALID_LINE)
                cur.uleb()  # modification time
                cur.uleb()  # length
            elif sub == DW_LNE_set_discriminator:
                if data[lengths + sub] != 1:
                    raise LineTableError(INVALID_LINE)
                cur.uleb()
            else:
                # unknown: skipped by its length, counted from the
                # sub-opcode (a length of 0 steps back onto it, as in libdw)
                if cur.end - (cur.pos - 1) < length:
                    raise LineTableError(INVALID_LINE)
                cur.pos += length - 1
        elif opcode <= DW_LNS_set_isa:
            if data[lengths + opcode] != _OPERANDS[opcode]:
                raise LineTableError(INVALID_LINE)
            if opcode == DW_LNS_copy:
                _check_row(is_stmt, line, column)
            elif opcode == DW_LNS_const_add_pc and line_range == 0:
                raise LineTableError(INVALID_LINE)
            elif opcode == DW_LNS_fixed_advance_pc:
                cur.fixed(2)
            elif opcode == DW_LNS_advance_line:
                line += _sleb32(cur)
            elif opcode == DW_LNS_negate_stmt:
                is_stmt = (1 - is_stmt) & 0xFF
            elif opcode == DW_LNS_set_column:
                column = cur.uleb() & 0xFFFFFFFF
            elif _OPERANDS[opcode]:
                cur.uleb()
        else:
            for _ in range(data[lengths + opcode]):
                cur.uleb()
