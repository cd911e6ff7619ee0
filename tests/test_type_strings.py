"""DWARF shapes rendered into type strings, symtypes lines and CRCs.

Small C sources are compiled with gcc at test time and run through the
``batchver gendwarfksyms`` drop-in.  The main fixtures live in
tests/data/built (``shapes``, ``symptr``), where upstream's whole outputs for
them are recorded and compared by test_corpus.test_built_matches_upstream.
The assertions here pin single rules, each derived from the gendwarfksyms
spec (section 6 for the type-string grammar, 6.2 for expansion, 7 for CRCs, 8
for symbol matching, 4.1 for the ``#SYMVER`` order); every one also holds
for upstream itself (run with ``BATCHVER_TEST_REFERENCE``, see
tests/data/README.md).  Each compares a whole line, so any change in a single
byte fails the test.
"""

from __future__ import annotations

import subprocess
import zlib

import pytest

from batchver.gendwarfksyms import types as types_module

from .conftest import (DATA, UPSTREAM_RUN, compile_c, dumped_versions, expected_tool, run_dropin, symbol_list,
                       symtypes_by_key, symver_by_name, write_files)

BUILT = expected_tool.BUILT

# The main fixture (tests/data/built/shapes): public types in shapes.h, a
# few private ones in shapes.c.
EXPORTS = (BUILT / "shapes" / "shapes.exports").read_text().split()

INT = "base_type int byte_size(4) encoding(5)"
UINT = "base_type unsigned int byte_size(4) encoding(7)"
U32 = f"typedef_type u32 {{ {UINT} }}"
COLOR = ("enumeration_type color { enumerator RED = 0 , enumerator GREEN = 1 , "
         "enumerator BLUE = 2 } byte_size(4)")


class Run:
    """One drop-in run over an object: exit status, outputs, parsed views."""

    def __init__(self, obj, names, extra=()):
        self.obj = obj
        symtypes = obj.with_suffix(".symtypes")
        self.rc, self.stdout, self.stderr = run_dropin(
            ["-T", symtypes, "--dump-versions", *extra, obj], symbol_list(names))
        assert self.rc == 0, self.stderr
        self.symtypes_text = symtypes.read_text()
        self.types = symtypes_by_key(self.symtypes_text)
        self.crcs = symver_by_name(self.stdout)
        self.versions = dumped_versions(self.stderr, names)


@pytest.fixture(scope="module")
def shapes(built_objects):
    return Run(built_objects("shapes", "gcc-dwarf5"), EXPORTS)


@pytest.fixture(scope="module")
def shapes_dwarf4(built_objects):
    return Run(built_objects("shapes", "gcc-dwarf4"), EXPORTS)


# -- structs, recursion, bitfields -------------------------------------------

NODE5 = ("s#node structure_type node { "
         "member pointer_type { s#node } byte_size(8) next data_member_location(0) , "
         "member pointer_type { s#inner } byte_size(8) in data_member_location(8) , "
         "member t#u32 flags bit_size(3) data_bit_offset(128) , "
         "member t#u32 mode bit_size(5) data_bit_offset(131) , "
         "member e#color c data_member_location(20) } byte_size(24)")


def test_struct_with_recursion_and_dwarf5_bitfields(shapes):
    assert shapes.types["s#node"] == NODE5
    assert shapes.types["f_node"] == (
        f"f_node subprogram ( formal_parameter pointer_type {{ s#node }} byte_size(8) n ) -> {INT}")


def test_dwarf4_bitfields_use_container_offset(shapes, shapes_dwarf4):
    # DWARF 4: data_member_location(container offset) and no bit offset at all.
    assert shapes_dwarf4.types["s#node"] == (
        "s#node structure_type node { "
        "member pointer_type { s#node } byte_size(8) next data_member_location(0) , "
        "member pointer_type { s#inner } byte_size(8) in data_member_location(8) , "
        "member t#u32 flags bit_size(3) data_member_location(16) , "
        "member t#u32 mode bit_size(5) data_member_location(16) , "
        "member e#color c data_member_location(20) } byte_size(24)")
    # gcc has no DW_TAG_atomic_type before DWARF 5: _Atomic is simply lost.
    assert shapes_dwarf4.types["s#quals"] == shapes.types["s#quals"].replace(
        "member atomic_type { base_type int byte_size(4) encoding(5) } a",
        "member base_type int byte_size(4) encoding(5) a")
    assert "atomic_type" not in shapes_dwarf4.types["s#quals"]
    # Every other line is identical between DWARF 4 and 5 ...
    differing = {k for k in shapes.types if shapes.types[k] != shapes_dwarf4.types.get(k)}
    assert differing == {"s#node", "s#quals"}
    assert set(shapes.types) == set(shapes_dwarf4.types)
    # ... but the CRCs of the symbols reaching struct node differ.
    assert shapes.crcs["f_node"] != shapes_dwarf4.crcs["f_node"]
    assert shapes.crcs["f_enum"] == shapes_dwarf4.crcs["f_enum"]


def test_dump_versions_expands_each_reference_once(shapes):
    # s#node is expanded at its first appearance; the self-references inside
    # stay tokens; t#u32 is expanded on first use, then stays a token;
    # e#color and the declaration s#inner are inlined.
    assert shapes.versions["f_node"] == (
        "subprogram ( formal_parameter pointer_type { structure_type node { "
        "member pointer_type { s#node } byte_size(8) next data_member_location(0) , "
        "member pointer_type { structure_type inner { } } byte_size(8) in data_member_location(8) , "
        f"member {U32} flags bit_size(3) data_bit_offset(128) , "
        "member t#u32 mode bit_size(5) data_bit_offset(131) , "
        f"member {COLOR} c data_member_location(20) }} byte_size(24) }} byte_size(8) n ) -> {INT}")


def test_dump_dies_shows_recursion_as_empty_struct(shapes):
    # --dump-dies prints the raw walk: named types expanded in place, the
    # recursive occurrence as an empty body, two spaces per nesting level.
    rc, out, err = run_dropin(["--dump-dies", shapes.obj], b"f_node\n")
    assert rc == 0
    assert out == f"#SYMVER f_node {shapes.crcs['f_node']}\n"
    assert err == (
        "subprogram (\n"
        "  formal_parameter pointer_type {\n"
        "    structure_type node {\n"
        "      member pointer_type {\n"
        "        structure_type node {\n"
        "        }\n"
        "      } byte_size(8) next data_member_location(0) ,\n"
        "      member pointer_type {\n"
        "        structure_type inner {\n"
        "        }\n"
        "      } byte_size(8) in data_member_location(8) ,\n"
        "      member typedef_type u32 {\n"
        "        base_type unsigned int byte_size(4) encoding(7)\n"
        "      } flags bit_size(3) data_bit_offset(128) ,\n"
        "      member typedef_type u32 {\n"
        "        base_type unsigned int byte_size(4) encoding(7)\n"
        "      } mode bit_size(5) data_bit_offset(131) ,\n"
        "      member enumeration_type color {\n"
        "        enumerator RED = 0 ,\n"
        "        enumerator GREEN = 1 ,\n"
        "        enumerator BLUE = 2\n"
        "      } byte_size(4) c data_member_location(20)\n"
        "    } byte_size(24)\n"
        "  } byte_size(8) n\n"
        ")\n"
        "-> base_type int byte_size(4) encoding(5)\n")


# -- unions, enums, typedefs ------------------------------------------------

def test_union_members_have_no_location(shapes):
    assert shapes.types["u#value"] == (
        f"u#value union_type value {{ member {INT} i , "
        "member base_type float byte_size(4) encoding(4) f } byte_size(4)")


def test_enums_and_negative_enumerator(shapes):
    assert shapes.types["e#color"] == f"e#color {COLOR}"
    assert shapes.types["e#neg"] == (
        "e#neg enumeration_type neg { enumerator NEG = 18446744073709551615 , "
        "enumerator POS = 1 } byte_size(4)")
    assert shapes.types["f_enum"] == (
        f"f_enum subprogram ( formal_parameter e#neg e , formal_parameter u#value v ) -> {INT}")


def test_typedefs(shapes):
    assert shapes.types["t#u32"] == f"t#u32 {U32}"
    assert shapes.types["t#cb_t"] == (
        f"t#cb_t typedef_type cb_t {{ pointer_type {{ subroutine_type ( formal_parameter {INT} , "
        "formal_parameter pointer_type { base_type char byte_size(1) encoding(6) } byte_size(8) ) "
        f"-> {INT} }} byte_size(8) }}")


# -- arrays -------------------------------------------------------------------

def test_arrays_multidim_flexible_and_zero_length(shapes):
    assert shapes.types["s#arrays"] == (
        f"s#arrays structure_type arrays {{ member array_type[2][3] {{ {INT} }} m "
        "data_member_location(0) } byte_size(24)")
    assert shapes.types["s#flex"] == (
        f"s#flex structure_type flex {{ member {INT} n data_member_location(0) , "
        f"member array_type[] {{ {INT} }} data data_member_location(4) }} byte_size(4)")
    assert shapes.types["s#zero"] == (
        f"s#zero structure_type zero {{ member {INT} n data_member_location(0) , "
        f"member array_type[0] {{ {INT} }} data data_member_location(4) }} byte_size(4)")
    assert shapes.types["f_arrays"] == (
        "f_arrays subprogram ( formal_parameter pointer_type { s#arrays } byte_size(8) a , "
        "formal_parameter pointer_type { s#flex } byte_size(8) f , "
        "formal_parameter pointer_type { s#zero } byte_size(8) z ) -> base_type void")


# -- function pointers, qualifiers ------------------------------------------

def test_function_pointers(shapes):
    # A typedef'd function pointer is referenced; a void(void) one is inlined
    # with an empty parameter list.
    assert shapes.types["f_cb"] == (
        "f_cb subprogram ( formal_parameter t#cb_t cb , formal_parameter pointer_type { "
        f"subroutine_type ( ) -> base_type void }} byte_size(8) raw ) -> {INT}")
    assert shapes.types["f_params"] == "f_params subprogram ( ) -> base_type void"


def test_qualifiers(shapes):
    assert shapes.types["s#quals"] == (
        "s#quals structure_type quals { "
        f"member const_type {{ {INT} }} c data_member_location(0) , "
        f"member volatile_type {{ {INT} }} v data_member_location(4) , "
        f"member restrict_type {{ pointer_type {{ {INT} }} byte_size(8) }} r data_member_location(8) , "
        f"member atomic_type {{ {INT} }} a data_member_location(16) , "
        "member volatile_type { const_type { base_type char byte_size(1) encoding(6) } } cv "
        "data_member_location(20) } byte_size(24)")


# -- declarations, private definitions --------------------------------------

def test_declaration_only_struct(shapes):
    assert shapes.types["s#inner"] == "s#inner structure_type inner { }"


def test_types_defined_in_c_file_are_private(shapes):
    # struct priv is defined in shapes.c: never expanded, no byte_size.
    assert shapes.types["s#priv"] == "s#priv structure_type priv { }"
    # ... while typedefs written in shapes.c are expanded.
    assert shapes.types["t#priv_t"] == "t#priv_t typedef_type priv_t { s#priv }"
    assert shapes.types["t#local_long"] == (
        "t#local_long typedef_type local_long { base_type long int byte_size(8) encoding(5) }")
    assert shapes.types["f_priv"] == (
        "f_priv subprogram ( formal_parameter pointer_type { s#priv } byte_size(8) p , "
        "formal_parameter pointer_type { t#priv_t } byte_size(8) q , "
        "formal_parameter t#local_long l ) -> base_type void")
    assert shapes.versions["f_priv"] == (
        "subprogram ( formal_parameter pointer_type { structure_type priv { } } byte_size(8) p , "
        "formal_parameter pointer_type { typedef_type priv_t { s#priv } } byte_size(8) q , "
        "formal_parameter typedef_type local_long { base_type long int byte_size(8) encoding(5) } l"
        " ) -> base_type void")


# -- variadic functions -------------------------------------------------------

def test_variadic_hashes_like_non_variadic(shapes):
    body = f"subprogram ( formal_parameter {INT} a ) -> {INT}"
    assert shapes.types["f_var"] == f"f_var {body}"
    assert shapes.types["f_novar"] == f"f_novar {body}"
    assert shapes.versions["f_var"] == shapes.versions["f_novar"] == body
    assert shapes.crcs["f_var"] == shapes.crcs["f_novar"]


# -- anonymous types, variables ----------------------------------------------

def test_anonymous_structs_are_inlined(shapes):
    assert shapes.types["s#anon_holder"] == (
        "s#anon_holder structure_type anon_holder { "
        f"member structure_type {{ member {INT} a data_member_location(0) }} byte_size(4) s "
        "data_member_location(0) , "
        f"member union_type {{ member {INT} x , member base_type long int byte_size(8) encoding(5) y }}"
        " byte_size(8) data_member_location(8) } byte_size(16)")
    assert shapes.types["anon_top"] == (
        "anon_top variable structure_type { member s#in_anon a data_member_location(0) } byte_size(4)")
    assert shapes.types["s#in_anon"] == (
        f"s#in_anon structure_type in_anon {{ member {INT} a data_member_location(0) }} byte_size(4)")
    # No type_map entry, hence no symtypes line, for anything anonymous.
    assert not [k for k in shapes.types if k.endswith("#")]


def test_exported_variables(shapes):
    assert shapes.types["anon_var"] == "anon_var variable s#anon_holder"
    assert shapes.types["counter"] == "counter variable base_type long int byte_size(8) encoding(5)"
    assert shapes.types["Zeta"] == f"Zeta variable {INT}"
    assert shapes.types["names"] == (
        "names variable const_type { array_type[2] { const_type { pointer_type { "
        "const_type { base_type char byte_size(1) encoding(6) } } byte_size(8) } } }")
    assert shapes.versions["anon_var"] == (
        "variable structure_type anon_holder { "
        f"member structure_type {{ member {INT} a data_member_location(0) }} byte_size(4) s "
        "data_member_location(0) , "
        f"member union_type {{ member {INT} x , member base_type long int byte_size(8) encoding(5) y }}"
        " byte_size(8) data_member_location(8) } byte_size(16)")


def test_symtypes_file_is_sorted_by_strcmp(shapes):
    lines = shapes.symtypes_text.splitlines()
    assert shapes.symtypes_text.endswith("\n")
    assert lines == sorted(lines, key=lambda line: line.split(" ", 1)[0].encode())
    # 'Z' (0x5a) sorts before every lowercase key: byte order, not locale order.
    assert lines[0] == f"Zeta variable {INT}"
    assert [k for k in shapes.types] == sorted(shapes.types, key=str.encode)
    assert set(shapes.types) == {
        "Zeta", "alias_fn", "anon_top", "anon_var", "counter", "e#color", "e#neg", "f_arrays",
        "f_cb", "f_enum", "f_node", "f_novar", "f_params", "f_priv", "f_quals", "f_var", "names",
        "real_fn", "s#anon_holder", "s#arrays", "s#flex", "s#in_anon", "s#inner", "s#node",
        "s#priv", "s#quals", "s#zero", "t#cb_t", "t#local_long", "t#priv_t", "t#u32", "u#value"}


# -- symbols without DWARF, aliases -----------------------------------------

def test_symbol_without_dwarf_gets_zero_crc_and_warning(shapes):
    assert shapes.crcs["missing_sym"] == "0x00000000"
    warnings = [line for line in shapes.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [
        "warning: gendwarfksyms: symbol_print_versions: no information for symbol missing_sym"]
    assert "missing_sym" not in shapes.types
    assert "missing_sym" not in shapes.versions


def test_address_alias_shares_crc_and_has_own_line(shapes):
    body = f"subprogram ( formal_parameter {INT} x ) -> {INT}"
    assert shapes.types["real_fn"] == f"real_fn {body}"
    assert shapes.types["alias_fn"] == f"alias_fn {body}"
    assert shapes.crcs["alias_fn"] == shapes.crcs["real_fn"]
    # The CRC is calculated once, for one of the two names only.
    assert len([n for n in ("real_fn", "alias_fn") if n in shapes.versions]) == 1


# -- CRCs -------------------------------------------------------------------

def test_crc_is_zlib_crc32_of_the_expanded_string(shapes):
    # Spec 7: the CRC is zlib's crc32 of the fully expanded type string,
    # written out here by hand (f_novar and counter need no expansion).
    assert shapes.crcs["f_novar"] == "0x%08x" % zlib.crc32(
        b"subprogram ( formal_parameter base_type int byte_size(4) encoding(5) a ) "
        b"-> base_type int byte_size(4) encoding(5)")
    assert shapes.crcs["counter"] == "0x%08x" % zlib.crc32(
        b"variable base_type long int byte_size(8) encoding(5)")



@pytest.mark.parametrize("room", ["default", 0])
def test_expansion_reused_only_where_nothing_in_it_was_expanded_before(tmp_path, monkeypatch, room):
    # Spec 7: a reference is expanded on its first appearance in a symbol,
    # and stays a token afterwards.  Upstream versions f3, f2, f1 in that
    # order (its symbol hash order): f3 expands s#a afresh; f2 expands s#c
    # before s#a, so inside s#a it stays a token; f1 needs s#a's fresh
    # expansion again, exactly as f3 had it.  With no room to keep
    # expansions every symbol walks its own, to the same texts.
    if room != "default":
        monkeypatch.setattr(types_module, "FRESH_CHARS", room)
    write_files(tmp_path, {"vt.h": "struct c { int z; };\nstruct b { struct c *p; };\n"
                                   "struct a { struct b *q; struct c *r; };\n"})
    obj = compile_c(tmp_path, '#include "vt.h"\nint f1(struct a *x) { return 0; }\n'
                    "int f2(struct c *y, struct a *x) { return 0; }\n"
                    "int f3(struct a *x) { return 0; }\n", name="vt")
    rc, _, err = run_dropin(["--dump-versions", obj], symbol_list(["f1", "f2", "f3"]))
    assert rc == 0, err
    c = f"structure_type c {{ member {INT} z data_member_location(0) }} byte_size(4)"

    def a(inner_c: str) -> str:
        return (f"structure_type a {{ member pointer_type {{ structure_type b {{ member pointer_type "
                f"{{ {inner_c} }} byte_size(8) p data_member_location(0) }} byte_size(8) }} "
                f"byte_size(8) q data_member_location(0) , member pointer_type {{ s#c }} byte_size(8) "
                f"r data_member_location(8) }} byte_size(16)")

    fresh = f"subprogram ( formal_parameter pointer_type {{ {a(c)} }} byte_size(8) x ) -> {INT}"
    assert dumped_versions(err, ["f1", "f2", "f3"]) == {
        "f3": fresh,
        "f2": f"subprogram ( formal_parameter pointer_type {{ {c} }} byte_size(8) y , formal_parameter "
              f"pointer_type {{ {a('s#c')} }} byte_size(8) x ) -> {INT}",
        "f1": fresh,
    }



def test_struct_nested_in_a_c_struct_gets_its_scoped_name(tmp_path):
    # Spec 6.1: a struct passes its name down as a prefix, whatever the
    # language.  gcc writes every C type at unit level, so only this made-up
    # C unit (tests/data/nested-c: g++'s DWARF with DW_LANG_C99) shows it.
    symtypes = tmp_path / "out.symtypes"
    rc, out, err = run_dropin(["-T", symtypes, DATA / "nested-c" / "nested_c_struct.o"],
                              symbol_list(["f"]))
    assert (rc, out, err) == (0, "#SYMVER f 0xb12cf6ad\n", "")
    assert symtypes.read_text() == (
        f"f subprogram ( formal_parameter pointer_type {{ s#outer }} byte_size(8) o ) -> {INT}\n"
        "s#outer structure_type outer { member s#outer::inner in data_member_location(0) } "
        "byte_size(4)\n"
        f"s#outer::inner structure_type outer::inner {{ member {INT} x data_member_location(0) }} "
        "byte_size(4)\n")


# -- #SYMVER order -------------------------------------------------------------

def fnv1_bucket(name: bytes, signed_chars: bool = True) -> int:
    """FNV-1 32-bit of a C string, modulo 4096 (spec 4.1)."""
    h = 2166136261
    for b in name:
        if signed_chars and b >= 0x80:
            b = (b - 256) & 0xFFFFFFFF
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h % 4096


def find_collision(prefix: str) -> tuple[str, str]:
    seen: dict[int, str] = {}
    i = 0
    while True:
        name = f"{prefix}{i}"
        bucket = fnv1_bucket(name.encode())
        if bucket in seen:
            return seen[bucket], name
        seen[bucket] = name
        i += 1


def expected_order(names: list[bytes], signed_chars: bool = True) -> list[bytes]:
    # Bucket ascending; inside a bucket, the name read last comes first.
    indexed = list(enumerate(names))
    indexed.sort(key=lambda item: (fnv1_bucket(item[1], signed_chars), -item[0]))
    return [n for _, n in indexed]


def test_symver_lines_follow_fnv_bucket_order(tmp_path, cc):
    first, second = find_collision("coll_")
    assert fnv1_bucket(first.encode()) == fnv1_bucket(second.encode())
    others = [f"plain_{i}" for i in range(12)]
    defined = [first, second, *others]
    source = "".join(f"int {n}(int v) {{ return v + {i}; }}\n" for i, n in enumerate(defined))
    obj = compile_c(tmp_path, source, "order")

    for names in ([first, second, *others], [second, *others[::-1], first]):
        rc, out, err = run_dropin([obj], symbol_list(names))
        assert rc == 0 and err == ""
        printed = [line.split(" ")[1] for line in out.splitlines()]
        assert printed == [n.decode() for n in expected_order([n.encode() for n in names])]
        assert printed != names  # hash order, not input order
        # The colliding pair is printed last-read first.
        pair = [n for n in printed if n in (first, second)]
        later = first if names.index(first) > names.index(second) else second
        assert pair[0] == later
        # Every line is complete and right-formatted.
        crc_body = "subprogram ( formal_parameter base_type int byte_size(4) encoding(5) v ) " \
                   "-> base_type int byte_size(4) encoding(5)"
        assert out.splitlines()[0] == f"#SYMVER {printed[0]} 0x{zlib.crc32(crc_body.encode()):08x}"


def test_symver_order_hashes_bytes_as_signed_chars(tmp_path, cc):
    # Names with bytes >= 0x80 (not in the object: they get 0x00000000).
    obj = compile_c(tmp_path, "int anchor(void) { return 0; }\n", "signed")
    names = [b"anchor"] + ["sym_\u00e9\u00e8_{}".format(i).encode() for i in range(10)]
    signed, unsigned = expected_order(names, True), expected_order(names, False)
    assert signed != unsigned  # the test tells the two hashings apart
    rc, out, err = run_dropin([obj], b"".join(n + b"\n" for n in names))
    assert rc == 0
    printed = [line.split(" ")[1].encode() for line in out.splitlines()]
    assert printed == signed


# -- __gendwarfksyms_ptr_ symbols, declarations, first match ----------------

# tests/data/built/symptr: __gendwarfksyms_ptr_ symbols, declarations, and
# symbol pointers without any DIE of the symbol's name.
PTR_SOURCE = (BUILT / "symptr" / "symptr.c").read_text()

F_DECL = "subprogram ( formal_parameter base_type unsigned int byte_size(4) encoding(7) ) -> base_type void"


def test_symbol_pointer_and_declaration_matching(tmp_path, built_objects):
    obj = built_objects("symptr", "gcc-dwarf5")
    symtypes = tmp_path / "ptr.symtypes"
    names = (BUILT / "symptr" / "symptr.exports").read_text().split()
    rc, out, err = run_dropin(["-d", "--dump-versions", "-T", symtypes, obj], symbol_list(names))
    assert rc == 0, err
    types = symtypes_by_key(symtypes.read_text())
    crcs = symver_by_name(out)
    debug = err.splitlines()

    # f: the extern declaration DIE matches (the __gendwarfksyms_ptr_f
    # variable only records a pointer), so the parameter has no name; the
    # CRC is the one the spec records for gcc's declaration.
    assert types["f"] == f"f {F_DECL}"
    assert crcs["f"] == "0xccda7080" == "0x%08x" % zlib.crc32(F_DECL.encode())
    assert "gendwarfksyms: process_symbol: f" in debug
    assert "gendwarfksyms: process_symbol_ptr: f" not in debug

    # g: the definition wins, with its parameter name, so a different CRC.
    g_text = ("subprogram ( formal_parameter base_type unsigned int byte_size(4) encoding(7) count )"
              " -> base_type void")
    assert types["g"] == f"g {g_text}"
    assert crcs["g"] == "0x%08x" % zlib.crc32(g_text.encode()) != crcs["f"]

    assert types["ext_var"] == "ext_var variable base_type long int byte_size(8) encoding(5)"

    # h, pv: only the pointer exists, so the pointer path renders them: a
    # subroutine target as a subprogram (unnamed parameters, the same CRC as
    # the declaration), any other target as a variable of the pointee type.
    assert "gendwarfksyms: process_symbol_ptr: h" in debug
    assert "gendwarfksyms: process_symbol_ptr: pv" in debug
    assert types["h"] == f"h {F_DECL}"
    assert crcs["h"] == crcs["f"]
    assert types["pv"] == "pv variable base_type long int byte_size(8) encoding(5)"
    assert crcs["pv"] == crcs["ext_var"]
    # No symtypes line for the pointer variables themselves.
    assert not [k for k in types if k.startswith("__gendwarfksyms_ptr_")]
    assert "warning:" not in err


def test_first_matching_die_wins_across_units(tmp_path, cc):
    # Unit A only declares (and calls) shared(); unit B defines it.  After
    # `ld -r`, whichever unit comes first supplies the DIE, and with it the
    # parameter names and the CRC.
    a = compile_c(tmp_path, "extern int shared(int);\nint use(void) { return shared(1); }\n", "a")
    b = compile_c(tmp_path, "int shared(int value) { return value; }\n", "b")
    decl = "subprogram ( formal_parameter base_type int byte_size(4) encoding(5) ) " \
           "-> base_type int byte_size(4) encoding(5)"
    defn = "subprogram ( formal_parameter base_type int byte_size(4) encoding(5) value ) " \
           "-> base_type int byte_size(4) encoding(5)"
    for order, text in (((a, b), decl), ((b, a), defn)):
        linked = tmp_path / "linked.o"
        subprocess.run(["ld", "-r", "-o", linked, *order], check=True)
        symtypes = tmp_path / "linked.symtypes"
        rc, out, err = run_dropin(["-T", symtypes, linked], b"shared\n")
        assert rc == 0, err
        assert out == f"#SYMVER shared 0x{zlib.crc32(text.encode()):08x}\n"
        assert symtypes.read_text() == f"shared {text}\n"


def test_debug_prints_each_recorded_address_once(tmp_path, cc):
    source = PTR_SOURCE + "int real_fn(int x) { return x; }\n" \
        "int alias_fn(int x) __attribute__((alias(\"real_fn\")));\n"
    obj = compile_c(tmp_path, source, "addr")
    rc, out, err = run_dropin(["-d", obj], symbol_list(["f", "g", "real_fn", "alias_fn"]))
    assert rc == 0
    addr_lines = [line for line in err.splitlines() if " -> { " in line]
    # f is only referenced (SHN_UNDEF): no address is recorded, nothing is
    # printed.  g, real_fn and alias_fn get one line each, when recorded.
    names = [line.split(": ")[2].split(" -> ")[0] for line in addr_lines]
    assert sorted(names) == ["alias_fn", "g", "real_fn"]
    assert all(line.endswith(" }") and "{ 1, " in line for line in addr_lines)


@pytest.mark.parametrize("source, message", [
    ("static int __gendwarfksyms_ptr_q __attribute__((used));\n",
     "save_symbol_ptr: __gendwarfksyms_ptr_q must be a pointer type!"),
    ("static void *__gendwarfksyms_ptr_q __attribute__((used));\n",
     "save_symbol_ptr: __gendwarfksyms_ptr_q pointer missing a type attribute?"),
], ids=["not-a-pointer", "void-pointer"])
def test_bad_symbol_pointer_is_fatal(tmp_path, cc, source, message):
    obj = compile_c(tmp_path, source, "badptr")
    symtypes = tmp_path / "badptr.symtypes"
    assert run_dropin(["-T", symtypes, obj], b"q\n") == (1, "", f"error: gendwarfksyms: {message}\n")
    assert UPSTREAM_RUN or not symtypes.exists()  # upstream leaves a partial file


# -- several objects in one run (spec 12) -------------------------------------

def test_address_aliasing_across_objects_reproduces_upstream(tmp_path, cc):
    # real_fn (alias.o) and other_fn (second.o) both sit at { 1, 0 }: with no
    # file identity in addresses they are treated as aliases, so real_fn ends
    # up with other_fn's CRC and gets a second line, with other_fn's type, in
    # the second block.  No warning.
    first = compile_c(tmp_path, "int real_fn(int x) { return x; }\n", "alias")
    second = compile_c(tmp_path, "long other_fn(long a, long b) { return a + b; }\n", "second")
    symtypes = tmp_path / "both.symtypes"
    rc, out, err = run_dropin(["-T", symtypes, first, second], b"real_fn\nother_fn\n")
    real = f"subprogram ( formal_parameter {INT} x ) -> {INT}"
    other = ("subprogram ( formal_parameter base_type long int byte_size(8) encoding(5) a , "
             "formal_parameter base_type long int byte_size(8) encoding(5) b ) "
             "-> base_type long int byte_size(8) encoding(5)")
    assert (rc, err) == (0, "")
    crc_other = "0x%08x" % zlib.crc32(other.encode())
    assert symver_by_name(out) == {"real_fn": crc_other, "other_fn": crc_other}
    assert symtypes.read_text() == (
        f"real_fn {real}\n"                       # block of alias.o
        f"other_fn {other}\nreal_fn {other}\n")   # block of second.o, sorted


def test_longest_type_string_wins_across_units(tmp_path, cc):
    # Unit A only has a declaration of struct s, unit B its definition (from
    # a header).  Whatever the unit order, type_map keeps the definition, and
    # the CRC of A's function is computed over it.
    write_files(tmp_path, {"s.h": "struct s { int v; };\n"})
    a = compile_c(tmp_path, "struct s;\nvoid use_a(struct s *p) {}\n", "a")
    b = compile_c(tmp_path, '#include "s.h"\nvoid use_b(struct s *p) {}\n', "b")
    definition = f"structure_type s {{ member {INT} v data_member_location(0) }} byte_size(4)"
    for order in ((a, b), (b, a)):
        linked = tmp_path / "linked.o"
        subprocess.run(["ld", "-r", "-o", linked, *order], check=True)
        symtypes = tmp_path / "linked.symtypes"
        rc, out, err = run_dropin(["-T", symtypes, "--dump-versions", linked], b"use_a\nuse_b\n")
        assert rc == 0
        assert symtypes.read_text() == (
            f"s#s {definition}\n"
            "use_a subprogram ( formal_parameter pointer_type { s#s } byte_size(8) p ) -> base_type void\n"
            "use_b subprogram ( formal_parameter pointer_type { s#s } byte_size(8) p ) -> base_type void\n")
        text = (f"subprogram ( formal_parameter pointer_type {{ {definition} }} byte_size(8) p ) "
                "-> base_type void")
        assert dumped_versions(err, ["use_a", "use_b"]) == {"use_a": text, "use_b": text}
        assert symver_by_name(out) == {"use_a": "0x%08x" % zlib.crc32(text.encode()),
                                       "use_b": "0x%08x" % zlib.crc32(text.encode())}
