"""``--stable``: kABI rules and the ``__kabi_`` union conventions.

Rules are emitted into ``.discard.gendwarfksyms.kabi_rules`` the way the
kernel's KABI_* macros do (tests/data/corpus/fixtures/kabi_cases.h): a static
char array per rule holding ``"1\\0" type "\\0" target "\\0" value`` plus the
array's own terminating NUL.  The main fixture is tests/data/built/kabi,
whose whole outputs (plain and ``--stable``) upstream recorded and
test_corpus.test_built_matches_upstream compares.  Malformed sections are
crafted byte by byte and attached with ``objcopy --add-section``.  Expected
strings follow spec sections 9 and 10 and hold for upstream too (run with
``BATCHVER_TEST_REFERENCE``, see tests/data/README.md).
"""

from __future__ import annotations

import shutil
import subprocess
import zlib

import pytest

from .conftest import (UPSTREAM_RUN, compile_c, dumped_versions, expected_tool, run_dropin, symbol_list,
                       symtypes_by_key, symver_by_name, write_files)

RULE_SECTION = ".discard.gendwarfksyms.kabi_rules"

KABI = expected_tool.BUILT / "kabi"
RULES_H = (KABI / "rules.h").read_text()  # the RULE(kind, target, value) macro
EXPORTS = (KABI / "kabi.exports").read_text().split()

INT = "base_type int byte_size(4) encoding(5)"
UINT = "base_type unsigned int byte_size(4) encoding(7)"
LONG = "base_type long int byte_size(8) encoding(5)"
GHOST = f"structure_type ghost {{ member {INT} n data_member_location(0) }} byte_size(4)"


class Run:
    def __init__(self, obj, names, stable):
        symtypes = obj.parent / ("stable.symtypes" if stable else "plain.symtypes")
        args = ["-T", symtypes, "--dump-versions"] + (["--stable"] if stable else []) + [obj]
        self.rc, self.stdout, self.stderr = run_dropin(args, symbol_list(names))
        assert self.rc == 0, self.stderr
        self.types = symtypes_by_key(symtypes.read_text())
        self.crcs = symver_by_name(self.stdout)
        self.versions = dumped_versions(self.stderr, names)


@pytest.fixture(scope="module")
def kabi_obj(built_objects):
    return built_objects("kabi", "gcc-dwarf5")


@pytest.fixture(scope="module")
def stable(kabi_obj):
    return Run(kabi_obj, EXPORTS, stable=True)


@pytest.fixture(scope="module")
def plain(kabi_obj):
    return Run(kabi_obj, EXPORTS, stable=False)


def crc(text: str) -> str:
    return "0x%08x" % zlib.crc32(text.encode())


# -- the five rule kinds -------------------------------------------------------

def test_declonly(stable):
    assert stable.types["s#opaque_def"] == "s#opaque_def structure_type opaque_def { }"
    assert stable.types["e#hidden_e"] == "e#hidden_e enumeration_type hidden_e { }"
    assert stable.versions["k_opaque"] == (
        "subprogram ( formal_parameter pointer_type { structure_type opaque_def { } } byte_size(8) p , "
        "formal_parameter enumeration_type hidden_e { } h ) -> base_type void")


def test_enumerator_ignore_and_value(stable):
    # S_NEW is left out (no dangling comma); S_MAX takes the later rule's value.
    assert stable.types["e#state"] == (
        "e#state enumeration_type state { enumerator S_A = 0 , enumerator S_B = 1 , "
        "enumerator S_MAX = 2 } byte_size(4)")
    assert stable.types["k_state"] == "k_state subprogram ( ) -> e#state"


def test_byte_size_rule_on_struct(stable):
    assert stable.types["s#grown"] == (
        f"s#grown structure_type grown {{ member {LONG} a data_member_location(0) , "
        f"member {LONG} b data_member_location(8) }} byte_size(8)")


def test_byte_size_rule_on_base_type(tmp_path, cc):
    write_files(tmp_path, {"rules.h": RULES_H,
                           "pair.h": "struct pair { int a; unsigned int b; };\n"})
    obj = compile_c(tmp_path, '#include "rules.h"\n#include "pair.h"\nRULE("byte_size", "int", "8");\n'
                    "int bs_fn(struct pair *p, int x) { return x; }\n", "bs")
    symtypes = tmp_path / "bs.symtypes"
    rc, out, err = run_dropin(["--stable", "-T", symtypes, obj], b"bs_fn\n")
    assert rc == 0, err
    int8 = "base_type int byte_size(8) encoding(5)"  # every int; unsigned int untouched
    assert symtypes.read_text() == (
        f"bs_fn subprogram ( formal_parameter pointer_type {{ s#pair }} byte_size(8) p , "
        f"formal_parameter {int8} x ) -> {int8}\n"
        f"s#pair structure_type pair {{ member {int8} a data_member_location(0) , "
        f"member {UINT} b data_member_location(4) }} byte_size(8)\n")
    rc, out_plain, err = run_dropin(["-T", symtypes, obj], b"bs_fn\n")
    assert rc == 0 and out_plain != out
    assert f"s#pair structure_type pair {{ member {INT} a data_member_location(0) , " \
           f"member {UINT} b data_member_location(4) }} byte_size(8)\n" in symtypes.read_text()


def test_type_string_overrides_and_defines_types(stable):
    assert stable.types["s#over"] == (
        "s#over structure_type over { member s#ghost g data_member_location(0) } byte_size(4)")
    # s#ghost exists only as a rule; it is written out because a CRC used it.
    assert stable.types["s#ghost"] == f"s#ghost {GHOST}"
    over_text = ("subprogram ( formal_parameter pointer_type { structure_type over { "
                 f"member {GHOST} g data_member_location(0) }} byte_size(4) }} byte_size(8) o ) "
                 "-> base_type void")
    assert stable.versions["k_over"] == over_text
    assert stable.crcs["k_over"] == crc(over_text)


def test_type_string_overrides_a_symbol(stable):
    assert stable.types["k_sym"] == "k_sym variable s#ghost"
    assert stable.versions["k_sym"] == f"variable {GHOST}"
    assert stable.crcs["k_sym"] == crc(f"variable {GHOST}")


# -- __kabi_ names and unions ------------------------------------------------

KABI_S_STABLE = (
    "s#kabi_s structure_type kabi_s { "
    f"member {INT} a data_member_location(0) , "
    f"member {LONG} data_member_location(8) , "            # __kabi_reserved_0: name dropped
    f"member {LONG} data_member_location(16) , "           # reserved union -> placeholder
    # the ignored union at offset 24 is gone, without a comma
    f"member {INT} old_count data_member_location(28) , "  # renamed
    f"member {LONG} data_member_location(32) , "           # reserved inside a struct
    f"member union_type {{ member structure_type {{ member {INT} x data_member_location(0) }} "
    f"byte_size(4) normal , member {LONG} y }} byte_size(8) data_member_location(40) }} byte_size(48)")

KABI_S_PLAIN = (
    "s#kabi_s structure_type kabi_s { "
    f"member {INT} a data_member_location(0) , "
    f"member {LONG} __kabi_reserved_0 data_member_location(8) , "
    f"member union_type {{ member {LONG} __kabi_reserved_1 , "
    "member pointer_type { s#opaque_def } byte_size(8) replaced } byte_size(8) data_member_location(16) , "
    "member union_type { member base_type char byte_size(1) encoding(6) __kabi_ignored_0 , "
    f"member {INT} added_in_hole }} byte_size(4) data_member_location(24) , "
    f"member union_type {{ member {INT} __kabi_renamedold_count , member {UINT} new_count }} "
    "byte_size(4) data_member_location(28) , "
    f"member union_type {{ member {UINT} new_x , "
    f"member structure_type {{ member {LONG} __kabi_reserved_2 data_member_location(0) }} byte_size(8) , "
    "member union_type { } byte_size(0) } byte_size(8) data_member_location(32) , "
    f"member union_type {{ member structure_type {{ member {INT} x data_member_location(0) }} "
    f"byte_size(4) normal , member {LONG} y }} byte_size(8) data_member_location(40) }} byte_size(48)")


def test_kabi_unions_and_names_with_stable(stable):
    assert stable.types["s#kabi_s"] == KABI_S_STABLE
    # The reserved union hides the new member's type from the CRC entirely.
    assert "opaque_def" not in stable.versions["k_struct"]
    assert stable.types["k_param"] == (
        f"k_param subprogram ( formal_parameter {INT} , formal_parameter {INT} kept ) -> base_type void")


def test_without_stable_nothing_applies(plain, stable):
    assert plain.types["s#kabi_s"] == KABI_S_PLAIN
    assert plain.types["s#opaque_def"] == (
        f"s#opaque_def structure_type opaque_def {{ member {INT} hidden data_member_location(0) }} "
        "byte_size(4)")
    assert plain.types["e#hidden_e"] == (
        "e#hidden_e enumeration_type hidden_e { enumerator H_A = 0 , enumerator H_B = 1 } byte_size(4)")
    assert plain.types["e#state"] == (
        "e#state enumeration_type state { enumerator S_A = 0 , enumerator S_B = 1 , "
        "enumerator S_NEW = 2 , enumerator S_MAX = 3 } byte_size(4)")
    assert plain.types["s#grown"] == (
        f"s#grown structure_type grown {{ member {LONG} a data_member_location(0) , "
        f"member {LONG} b data_member_location(8) }} byte_size(16)")
    assert plain.types["s#over"] == (
        f"s#over structure_type over {{ member {INT} whatever data_member_location(0) }} byte_size(4)")
    assert plain.types["k_sym"] == f"k_sym variable {INT}"
    assert plain.types["k_param"] == (
        f"k_param subprogram ( formal_parameter {INT} __kabi_param , formal_parameter {INT} kept ) "
        "-> base_type void")
    assert "s#ghost" not in plain.types
    # Every symbol's CRC changes with --stable here.
    for name in EXPORTS:
        assert plain.crcs[name] != stable.crcs[name], name


def test_static_rule_arrays_are_matched_by_dwarf_name(kabi_obj):
    # Matching does not depend on ELF: the static (STB_LOCAL) rule arrays
    # still get versions.
    rc, out, err = run_dropin(["--stable", kabi_obj], b"__gendwarfksyms_rule_0\n")
    assert rc == 0 and err == ""
    text = ("variable const_type { array_type[23] { const_type { "
            "base_type char byte_size(1) encoding(6) } } }")  # "1\0declonly\0opaque_def\0\0"
    assert out == f"#SYMVER __gendwarfksyms_rule_0 {crc(text)}\n"


# -- malformed rule sections -------------------------------------------------

BASE_SOURCE = "int f(int x) { return x; }\n"
F_LINE = "#SYMVER f 0xcb60df31\n"  # crc32 of f's text, independent of rules


@pytest.fixture(scope="module")
def base_obj(tmp_path_factory, cc):
    if shutil.which("objcopy") is None:
        pytest.fail("objcopy (binutils) is required for the rule-section tests")
    return compile_c(tmp_path_factory.mktemp("kabi_base"), BASE_SOURCE, "base")


def with_rules(base_obj, tmp_path, data: bytes):
    blob = tmp_path / "rules.bin"
    blob.write_bytes(data)
    out = tmp_path / "with_rules.o"
    subprocess.run(["objcopy", "--add-section", f"{RULE_SECTION}={blob}", base_obj, out], check=True)
    return out


@pytest.mark.parametrize("data, message", [
    (b"2\0declonly\0opaque\0\0", "kabi_read_rules: unsupported kABI rule version: '2'"),
    (b"1\0x\0target\0value\0", "kabi_read_rules: unsupported kABI rule type: 'x'"),
    (b"1\0declonly\0opaque\0abc", "kabi_read_rules: kABI rules are not null-terminated"),
    (b"1\0\0\0", "kabi_read_rules: kABI rule section too small: 4 bytes"),
    (b"1\0x\0\0", "kabi_read_rules: kABI rule section too small: 5 bytes"),
    (b"", "kabi_read_rules: kABI rule section too small: 0 bytes"),
    (b"1\0declonly\0target\0", "get_rule_field: unexpected end of kABI rules"),
], ids=["version", "type", "not-nul-terminated", "too-small", "too-small-5", "empty",
        "missing-field"])
def test_bad_rule_section_is_fatal(base_obj, tmp_path, data, message):
    obj = with_rules(base_obj, tmp_path, data)
    symtypes = tmp_path / "out.symtypes"
    rc, out, err = run_dropin(["--stable", "-T", symtypes, obj], b"f\n")
    assert (rc, out, err) == (1, "", f"error: gendwarfksyms: {message}\n")
    assert UPSTREAM_RUN or not symtypes.exists()  # upstream leaves a partial file
    # Without --stable the section is never read.
    rc, out, err = run_dropin([obj], b"f\n")
    assert (rc, out, err) == (0, F_LINE, "")


def test_trailing_junk_only_warns(base_obj, tmp_path):
    # One valid entry, then 3 bytes: fewer than a minimal entry.
    obj = with_rules(base_obj, tmp_path, b"1\0declonly\0opaque\0\0ab\0")
    rc, out, err = run_dropin(["--stable", obj], b"f\n")
    assert (rc, out) == (0, F_LINE)
    assert err == ("warning: gendwarfksyms: kabi_read_rules: "
                   "unexpected data at the end of the kABI rules section\n")


def test_invalid_enumerator_value_is_fatal(tmp_path, cc):
    write_files(tmp_path, {"rules.h": RULES_H, "e.h": "enum ev { EV_A, EV_B };\n"})
    obj = compile_c(tmp_path, '#include "rules.h"\n#include "e.h"\n'
                    'RULE("enumerator_value", "ev EV_B", "12x");\n'
                    "void ev_fn(enum ev e) {}\n", "ev")
    symtypes = tmp_path / "ev.symtypes"
    rc, out, err = run_dropin(["--stable", "-T", symtypes, obj], b"ev_fn\n")
    assert (rc, out, err) == (1, "", "error: gendwarfksyms: get_ulong_value: invalid unsigned value '12x'\n")
    assert UPSTREAM_RUN or not symtypes.exists()  # upstream leaves a partial file
    rc, out, err = run_dropin([obj], b"ev_fn\n")
    assert rc == 0 and err == ""


def test_unknown_type_reference_is_fatal(tmp_path, cc):
    write_files(tmp_path, {"rules.h": RULES_H})
    obj = compile_c(tmp_path, '#include "rules.h"\n'
                    'RULE("type_string", "k_sym", "variable s#nope");\nint k_sym;\n', "unknown")
    symtypes = tmp_path / "unknown.symtypes"
    rc, out, err = run_dropin(["--stable", "-T", symtypes, obj], b"k_sym\n")
    assert (rc, out) == (1, "")
    expanding = "(null)" if UPSTREAM_RUN else "k_sym"  # batchver names the symbol
    assert err == ("error: gendwarfksyms: __calculate_version: unknown type reference to 's#nope' "
                   f"when expanding '{expanding}'\n")
    assert UPSTREAM_RUN or not symtypes.exists()  # upstream leaves a partial file
    # Without --stable the rule does not exist.
    assert run_dropin([obj], b"k_sym\n") == (
        0, "#SYMVER k_sym 0x%08x\n" % zlib.crc32(b"variable base_type int byte_size(4) encoding(5)"), "")
