"""The reference port's building blocks, one function at a time: symbol
names and their hash (symbols.py), kABI rules (kabi.py), type strings and
CRCs (types.py), member names under ``--stable`` (dwarf.py).

Expected values come from upstream's rules (scripts/gendwarfksyms and the C
library calls it makes) and from published test vectors, never from
batchver's own output.
"""

from __future__ import annotations

import zlib

import pytest

from batchver.errors import VersioningError
from batchver.gendwarfksyms.dwarf import KABI_IGNORED, KABI_NORMAL, KABI_RESERVED, kabi_status
from batchver.gendwarfksyms.kabi import KabiRules, strtoul10
from batchver.gendwarfksyms.symbols import SymbolTable, fnv32, parse_symbol_list
from batchver.gendwarfksyms.types import Expansion, crc32_combine, crc32_segments, parse_type_string, segments_text


# -- symbols.py ----------------------------------------------------------------
@pytest.mark.parametrize("name, expected", [
    ("", 0x811C9DC5),  # FNV-1a's offset basis
    ("a", 0xE40C292C),  # the FNV authors' published vectors
    ("foobar", 0xBF9CF968),
])
def test_symbol_hash_is_fnv1a_32(name, expected):
    assert fnv32(name) == expected


def test_symbol_hash_sign_extends_bytes_as_c_char_does():
    """hash_str() walks ``char``, signed on x86: byte 0xe9 enters as
    0xffffffe9, so the hash is not FNV-1a over unsigned bytes."""
    basis, prime = 0x811C9DC5, 0x01000193
    as_signed = ((basis ^ 0xFFFFFFE9) * prime) & 0xFFFFFFFF
    as_unsigned = ((basis ^ 0xE9) * prime) & 0xFFFFFFFF
    assert fnv32("\xe9".encode("latin-1").decode("utf-8", "surrogateescape")) == as_signed != as_unsigned


def test_symbol_list_takes_each_lines_first_token():
    """symbol_read_exports: sscanf("%s") per line, so leading blanks and
    anything after the name are ignored; NUL ends the C string."""
    assert parse_symbol_list(["foo\n", "  bar baz\n", "\tqux\0ignored\n"]) == ["foo", "bar", "qux"]
    with pytest.raises(VersioningError, match="malformed input line: "):
        parse_symbol_list(["ok\n", " \n"])


def test_symbol_table_keeps_list_order_and_answers_membership():
    table = SymbolTable(["b", "a", "c"])
    assert (len(table), table.names()) == (3, ["b", "a", "c"])
    assert table.is_exported("a") and not table.is_exported("d")


# -- kabi.py -------------------------------------------------------------------
@pytest.mark.parametrize("text, value", [
    ("42", 42), (" \t42", 42), ("+7", 7), ("", 0),
    ("-1", (1 << 64) - 1),  # strtoul negates in unsigned long arithmetic
    ("18446744073709551615", (1 << 64) - 1),
])
def test_strtoul10_accepts_what_c_accepts(text, value):
    assert strtoul10(text) == value


@pytest.mark.parametrize("text", ["4x", "x", "18446744073709551616", "1 "])
def test_strtoul10_refuses_leftovers_and_overflow(text):
    with pytest.raises(VersioningError, match=f"invalid unsigned value '{text}'"):
        strtoul10(text)


def _rules(*rules: tuple[str, str, str]) -> bytes:
    """A rules section as the KABI_* macros lay it out: ``"1\\0" type
    "\\0" target "\\0" value "\\0"`` per rule."""
    return b"".join(f"1\0{kind}\0{target}\0{value}\0".encode() for kind, target, value in rules)


def test_kabi_rules_are_read_and_the_last_of_a_target_wins():
    warnings = []
    rules = KabiRules.parse(_rules(("declonly", "s", ""), ("byte_size", "s", "8"),
                                   ("byte_size", "s", "16"), ("enumerator_ignore", "e E_LAST", ""),
                                   ("enumerator_value", "e E_MAX", "7"),
                                   ("type_string", "s#s", "struct s { int a ; }")),
                            lambda where, text: warnings.append(text))
    assert (len(rules), warnings) == (5, [])
    assert rules.is_declonly("s") and not rules.is_declonly("t") and not rules.is_declonly(None)
    assert rules.byte_size("s") == 16
    assert rules.is_enumerator_ignored("e", "E_LAST") and not rules.is_enumerator_ignored("e", "E_MAX")
    assert rules.enumerator_value("e", "E_MAX") == 7 and rules.enumerator_value("e", "E_LAST") is None
    assert rules.type_string("s#s") == "struct s { int a ; }"


@pytest.mark.parametrize("data, message", [
    (b"1\0x\0", "kABI rule section too small: 4 bytes"),
    (b"1\0declonly\0s\0x", "kABI rules are not null-terminated"),
    (b"2\0declonly\0s\0\0", "unsupported kABI rule version: '2'"),
    (b"1\0frobnicate\0s\0\0", "unsupported kABI rule type: 'frobnicate'"),
])
def test_bad_kabi_rule_sections_are_errors(data, message):
    with pytest.raises(VersioningError, match=message):
        KabiRules.parse(data, lambda where, text: None)


def test_empty_rules_are_false():
    assert not KabiRules() and len(KabiRules()) == 0


# -- types.py ------------------------------------------------------------------
def test_crc_is_zlib_crc32_of_the_type_string():
    assert crc32_segments(["123456789"]) == 0xCBF43926  # CRC-32's check value
    assert crc32_segments([]) == 0
    # text and remembered (encoded) expansions, in any mix, are one text
    mixed = ["12", "3", Expansion(b"456"), "7", Expansion(b"8"), Expansion(b"9")]
    assert crc32_segments(mixed) == 0xCBF43926 and segments_text(mixed) == "123456789"
    assert crc32_segments(["\udcff", Expansion(b"x")]) == crc32_segments([Expansion(b"\xffx")])  # surrogates escape bytes
    assert crc32_segments([Expansion(b""), "123456789", Expansion(b"")]) == 0xCBF43926


@pytest.mark.parametrize("first, second", [
    (b"", b""), (b"", b"a"), (b"a", b""), (b"1234", b"56789"), (bytes(range(256)) * 3, b"\xff" * 4099),
    (b"x", bytes(range(7, 250)) * 1001)])
def test_crc32_combine_is_the_crc_of_the_concatenation(first, second):
    # lengths of zero, one, powers of two and not, past 2^18 bytes
    assert crc32_combine(zlib.crc32(first), zlib.crc32(second), len(second)) == zlib.crc32(first + second)


@pytest.mark.parametrize("text, pieces", [
    ("int", ["int"]),
    ("s#foo", ["s#foo"]),
    ("struct bar { s#foo a ; }", ["struct bar { ", "s#foo", " a ; }"]),
    ("union u { t#'x y' z ; }", ["union u { ", "t#'x y'", " z ; }"]),
    ("e#a e#b", ["e#a", " ", "e#b"]),
])
def test_type_string_rules_split_at_references(text, pieces):
    """A ``type_string`` rule's value: ``[sute]#`` starts a reference that
    runs to the next space, or to the closing quote of a quoted name."""
    assert parse_type_string("s#x", text) == pieces


@pytest.mark.parametrize("text, message", [
    ("", "empty type string override for 's#x'"),
    ("s# int", "empty s# type name for 's#x'"),
    ("t#'' x", "empty t# type name for 's#x'"),
    ("s#'open", "incomplete s# type reference for 's#x'"),
])
def test_bad_type_string_rules_are_errors(text, message):
    with pytest.raises(VersioningError, match=message):
        parse_type_string("s#x", text)


# -- dwarf.py ------------------------------------------------------------------
@pytest.mark.parametrize("name, status", [
    (None, (KABI_NORMAL, None)),
    ("field", (KABI_NORMAL, None)),
    ("__kabi_reserved_1", (KABI_RESERVED, None)),
    ("__kabi_ignored_0", (KABI_IGNORED, None)),
    ("__kabi_renamed_old_name", (KABI_RESERVED, "_old_name")),
    ("__kabi_other", (KABI_NORMAL, None)),
])
def test_kabi_member_names(name, status):
    """The KABI_* union macros name their members ``__kabi_reserved*``,
    ``__kabi_ignored*`` and ``__kabi_renamed<original>``."""
    assert kabi_status(name) == status
