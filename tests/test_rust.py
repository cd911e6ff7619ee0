"""Rust objects: rustc's DWARF (linkage names, named pointer types, variant
parts, ``&str`` slices) rendered as upstream does.

The source is compiled at test time like shared/corpus/fixtures/rusty.rs
(``rustc --emit=obj -g -C opt-level=1 --crate-type=lib``).  The crate name
(``rsfix``, from the file name) is the prefix of every Rust type name.
"""

from __future__ import annotations

import shutil
import subprocess
import zlib

import pytest

from .conftest import dumped_versions, run_dropin, symbol_list, symtypes_by_key, symver_by_name

SOURCE = r"""
#![allow(dead_code)]

#[repr(C)]
pub struct Point { pub x: i32, pub y: i64 }

#[repr(u8)]
pub enum Mode { Off, On, Auto = 7 }

pub enum Shape { Circle { r: f64 }, Square(u32), Empty }

#[no_mangle]
pub extern "C" fn rs_point(p: *const Point) -> i32 { unsafe { (*p).x } }

#[no_mangle]
pub extern "C" fn rs_mode(m: Mode) -> u8 { m as u8 }

#[no_mangle]
pub fn rs_area(s: &Shape) -> f64 {
    match s {
        Shape::Circle { r } => r * r,
        Shape::Square(a) => (*a as f64) * (*a as f64),
        Shape::Empty => 0.0,
    }
}

#[no_mangle]
pub fn rs_len(s: &str) -> usize { s.len() }

#[no_mangle]
pub static mut RS_TABLE: [u16; 3] = [0; 3];
"""

EXPORTS = ["rs_point", "rs_mode", "rs_area", "rs_len", "RS_TABLE"]

I32 = "base_type i32 byte_size(4) encoding(5)"
U32 = "base_type u32 byte_size(4) encoding(7)"
F64 = "base_type f64 byte_size(8) encoding(4)"
USIZE = "base_type usize byte_size(8) encoding(7)"
STR = ("structure_type &str { member pointer_type { base_type u8 byte_size(1) encoding(7) } data_ptr "
       f"data_member_location(0) , member {USIZE} length data_member_location(8) }} "
       "byte_size(16) alignment(8)")


@pytest.fixture(scope="module")
def rust(tmp_path_factory):
    rustc = shutil.which("rustc")
    if rustc is None:
        pytest.skip("rustc is not installed")
    directory = tmp_path_factory.mktemp("rust")
    src = directory / "rsfix.rs"
    src.write_text(SOURCE)
    obj = directory / "rsfix.o"
    subprocess.run([rustc, "--emit=obj", "-g", "-C", "opt-level=1", "--crate-type=lib",
                    "-o", obj, src], check=True, cwd=directory)
    symtypes = directory / "rsfix.symtypes"
    rc, out, err = run_dropin(["-T", symtypes, "--dump-versions", obj], symbol_list(EXPORTS))
    assert rc == 0, err
    assert "warning:" not in err
    return symtypes_by_key(symtypes.read_text()), symver_by_name(out), dumped_versions(err, EXPORTS)


def test_repr_c_struct(rust):
    types, crcs, versions = rust
    assert types["s#rsfix::Point"] == (
        f"s#rsfix::Point structure_type rsfix::Point {{ member {I32} x accessibility(1) "
        "data_member_location(0) , member base_type i64 byte_size(8) encoding(5) y accessibility(1) "
        "data_member_location(8) } byte_size(16) alignment(8)")
    # rustc names its pointer types; the name is printed after pointer_type.
    assert types["rs_point"] == (
        "rs_point subprogram ( formal_parameter pointer_type *const rsfix::Point { s#rsfix::Point } p ) "
        f"-> {I32}")


def test_c_like_enum(rust):
    types, crcs, versions = rust
    assert types["e#rsfix::Mode"] == (
        "e#rsfix::Mode enumeration_type rsfix::Mode { enumerator Off = 0 , enumerator On = 1 , "
        "enumerator Auto = 7 } byte_size(1) alignment(1)")
    assert types["rs_mode"] == (
        "rs_mode subprogram ( formal_parameter e#rsfix::Mode m ) -> "
        "base_type u8 byte_size(1) encoding(7)")


def test_enum_with_data_is_a_variant_part(rust):
    types, crcs, versions = rust
    assert types["s#rsfix::Shape"] == (
        "s#rsfix::Shape structure_type rsfix::Shape { variant_part { "
        f"member {U32} data_member_location(0) , "
        "variant { member s#rsfix::Shape::Circle Circle data_member_location(0) } discr_value(0) , "
        "variant { member s#rsfix::Shape::Square Square data_member_location(0) } discr_value(1) , "
        "variant { member s#rsfix::Shape::Empty Empty data_member_location(0) } discr_value(2) "
        "} } byte_size(16) alignment(8)")
    assert types["s#rsfix::Shape::Circle"] == (
        f"s#rsfix::Shape::Circle structure_type rsfix::Shape::Circle {{ member {F64} r accessibility(1) "
        "data_member_location(8) } byte_size(16) alignment(8)")
    assert types["s#rsfix::Shape::Square"] == (
        f"s#rsfix::Shape::Square structure_type rsfix::Shape::Square {{ member {U32} __0 "
        "accessibility(1) data_member_location(4) } byte_size(16) alignment(8)")
    assert types["s#rsfix::Shape::Empty"] == (
        "s#rsfix::Shape::Empty structure_type rsfix::Shape::Empty { } byte_size(16) alignment(8)")
    assert types["rs_area"] == (
        "rs_area subprogram ( formal_parameter pointer_type &rsfix::Shape { s#rsfix::Shape } s ) "
        f"-> {F64}")


def test_str_parameter(rust):
    types, crcs, versions = rust
    assert types["s#&str"] == f"s#&str {STR}"
    assert types["rs_len"] == f"rs_len subprogram ( formal_parameter s#&str s ) -> {USIZE}"
    text = f"subprogram ( formal_parameter {STR} s ) -> {USIZE}"
    assert versions["rs_len"] == text
    assert crcs["rs_len"] == "0x%08x" % zlib.crc32(text.encode())


def test_static_array(rust):
    types, crcs, versions = rust
    text = "variable array_type[3] { base_type u16 byte_size(2) encoding(7) }"
    assert types["RS_TABLE"] == f"RS_TABLE {text}"
    assert crcs["RS_TABLE"] == "0x%08x" % zlib.crc32(text.encode())


def test_every_crc_is_crc32_of_its_text(rust):
    types, crcs, versions = rust
    assert set(versions) == set(EXPORTS)
    for name in EXPORTS:
        assert crcs[name] == "0x%08x" % zlib.crc32(versions[name].encode()), name
