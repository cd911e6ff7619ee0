"""Bad input to the ``batchver gendwarfksyms`` drop-in: every failure is one
upstream-style ``error: gendwarfksyms: ...`` line and exit status 1, with
nothing on stdout, no traceback and no symtypes file left behind (spec
sections 3 and 13).
"""

from __future__ import annotations

import os
import subprocess
import sys
import zlib

import pytest

from .conftest import compile_c, run_dropin

USAGE = (
    "Usage: gendwarfksyms [options] elf-object-file ... < symbol-list\n\n"
    "Options:\n"
    "  -d, --debug          Print debugging information\n"
    "      --dump-dies      Dump DWARF DIE contents\n"
    "      --dump-die-map   Print debugging information about die_map changes\n"
    "      --dump-types     Dump type strings\n"
    "      --dump-versions  Dump expanded type strings used for symbol versions\n"
    "  -s, --stable         Support kABI stability features\n"
    "  -T, --symtypes file  Write a symtypes file\n"
    "  -h, --help           Print this message\n"
    "\n")

SOURCE = "int good_fn(int x) { return x; }\n"
GOOD_TEXT = ("subprogram ( formal_parameter base_type int byte_size(4) encoding(5) x ) "
             "-> base_type int byte_size(4) encoding(5)")
GOOD_LINE = f"#SYMVER good_fn 0x{zlib.crc32(GOOD_TEXT.encode()):08x}\n"


@pytest.fixture(scope="module")
def good_obj(tmp_path_factory, cc):
    return compile_c(tmp_path_factory.mktemp("good"), SOURCE, "good")


def check_error(result, symtypes=None) -> str:
    """The common shape of a fatal error; returns the single error line."""
    rc, out, err = result
    assert rc == 1
    assert out == ""
    assert "Traceback" not in err
    lines = err.splitlines()
    errors = [line for line in lines if line.startswith("error: gendwarfksyms:")]
    assert len(errors) == 1, err
    assert err.endswith("\n")
    if symtypes is not None:
        assert not os.path.lexists(symtypes)
        assert not [p for p in symtypes.parent.iterdir() if p.name.startswith(".tmp-")] \
            if symtypes.parent.is_dir() else True
    return errors[0]


def test_sanity_good_object(good_obj, tmp_path):
    symtypes = tmp_path / "out.symtypes"
    assert run_dropin(["-T", symtypes, good_obj], b"good_fn\n") == (0, GOOD_LINE, "")
    assert symtypes.read_text() == f"good_fn {GOOD_TEXT}\n"


# -- bad object files -------------------------------------------------------

def test_not_an_elf_file(tmp_path):
    path = tmp_path / "notelf.o"
    path.write_text("hello, world\n" * 10)
    symtypes = tmp_path / "out.symtypes"
    line = check_error(run_dropin(["-T", symtypes, path], b"good_fn\n"), symtypes)
    assert line == (f"error: gendwarfksyms: main: '{path}' is not a readable ELF file: "
                    "Magic number does not match")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.o"
    path.write_bytes(b"")
    symtypes = tmp_path / "out.symtypes"
    line = check_error(run_dropin(["-T", symtypes, path], b"good_fn\n"), symtypes)
    assert line == f"error: gendwarfksyms: main: '{path}' is empty, not an ELF file"


def test_truncated_elf(good_obj, tmp_path):
    data = good_obj.read_bytes()
    path = tmp_path / "truncated.o"
    path.write_bytes(data[: len(data) // 2])
    symtypes = tmp_path / "out.symtypes"
    line = check_error(run_dropin(["-T", symtypes, path], b"good_fn\n"), symtypes)
    # The cause comes from the ELF parser; the file and the kind of failure
    # are ours.
    assert line.startswith(f"error: gendwarfksyms: main: '{path}' is not a readable ELF file: ")
    assert len(line) > len(f"error: gendwarfksyms: main: '{path}' is not a readable ELF file: ")


@pytest.mark.parametrize("mangle, cause", [
    (lambda d: d[:4] + b"\x03" + d[5:], "Invalid EI_CLASS 3"),
    (lambda d: d[:5] + b"\x00" + d[6:], "Invalid EI_DATA 0"),
    (lambda d: d[:40], "the ELF header is truncated (40 bytes)"),
    # (e_shentsize is not checked: libelf, so upstream, reads the table
    # with its own entry size whatever the header says)
])
def test_malformed_elf_header(good_obj, tmp_path, mangle, cause):
    path = tmp_path / "mangled.o"
    path.write_bytes(mangle(good_obj.read_bytes()))
    symtypes = tmp_path / "out.symtypes"
    line = check_error(run_dropin(["-T", symtypes, path], b"good_fn\n"), symtypes)
    assert line == f"error: gendwarfksyms: main: '{path}' is not a readable ELF file: {cause}"


def test_object_without_debug_info(tmp_path, cc):
    obj = compile_c(tmp_path, SOURCE, "nodebug", flags=("-g0",))
    symtypes = tmp_path / "out.symtypes"
    line = check_error(run_dropin(["-T", symtypes, obj], b"good_fn\n"), symtypes)
    # Upstream's exact text (spec 5, step 3); it does not name the file.
    assert line == "error: gendwarfksyms: process_module: dwarf_get_units failed: no debugging information?"


def test_nonexistent_file(tmp_path):
    path = tmp_path / "missing.o"
    symtypes = tmp_path / "out.symtypes"
    line = check_error(run_dropin(["-T", symtypes, path], b"good_fn\n"), symtypes)
    assert line == f"error: gendwarfksyms: main: open failed for '{path}': No such file or directory"


def test_failure_in_a_later_object_leaves_nothing(good_obj, tmp_path):
    # Outputs are only written after every object succeeded.
    bad = tmp_path / "bad.o"
    bad.write_bytes(b"\x7fELF")
    symtypes = tmp_path / "out.symtypes"
    line = check_error(run_dropin(["-T", symtypes, good_obj, bad], b"good_fn\n"), symtypes)
    assert line.startswith(f"error: gendwarfksyms: main: '{bad}' is not a readable ELF file: ")


# -- unwritable symtypes paths ----------------------------------------------

def test_symtypes_in_missing_directory(good_obj, tmp_path):
    symtypes = tmp_path / "no" / "such" / "dir" / "out.symtypes"
    line = check_error(run_dropin(["-T", symtypes, good_obj], b"good_fn\n"))
    assert line == f"error: gendwarfksyms: main: fopen failed for '{symtypes}': No such file or directory"
    assert not (tmp_path / "no").exists()


def test_symtypes_path_is_a_directory(good_obj, tmp_path):
    symtypes = tmp_path / "adir"
    symtypes.mkdir()
    line = check_error(run_dropin(["-T", symtypes, good_obj], b"good_fn\n"))
    assert line == f"error: gendwarfksyms: main: fopen failed for '{symtypes}': Is a directory"
    assert symtypes.is_dir() and list(symtypes.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adir"]


def test_symtypes_written_through_symlink(good_obj, tmp_path):
    target = tmp_path / "target.symtypes"
    target.write_text("old\n")
    link = tmp_path / "link.symtypes"
    link.symlink_to(target)
    assert run_dropin(["-T", link, good_obj], b"good_fn\n") == (0, GOOD_LINE, "")
    assert link.is_symlink()
    assert target.read_text() == f"good_fn {GOOD_TEXT}\n"


def test_symtypes_is_checked_before_objects_are_opened(tmp_path):
    symtypes = tmp_path / "adir"
    symtypes.mkdir()
    line = check_error(run_dropin(["-T", symtypes, tmp_path / "missing.o"], b"good_fn\n"))
    assert line == f"error: gendwarfksyms: main: fopen failed for '{symtypes}': Is a directory"


# -- the symbol list -----------------------------------------------------------

@pytest.mark.parametrize("stdin, shown", [
    (b"good_fn\n\nother\n", "\n"),
    (b"good_fn\n \t \nother\n", " \t \n"),
    (b"\n", "\n"),
], ids=["empty-line", "blank-line", "only-empty-line"])
def test_malformed_symbol_list(good_obj, tmp_path, stdin, shown):
    symtypes = tmp_path / "out.symtypes"
    result = run_dropin(["-T", symtypes, good_obj], stdin)
    check_error(result, symtypes)
    # The offending line is printed as read, newline included.
    assert result[2] == f"error: gendwarfksyms: symbol_read_exports: malformed input line: {shown}\n"


def test_symbol_list_is_read_before_objects_are_opened(tmp_path):
    missing = tmp_path / "missing.o"
    result = run_dropin([missing], b"a\n\n")
    check_error(result)
    assert result[2] == "error: gendwarfksyms: symbol_read_exports: malformed input line: \n\n"


def test_empty_symbol_list_does_nothing(good_obj, tmp_path):
    symtypes = tmp_path / "out.symtypes"
    assert run_dropin(["-T", symtypes, good_obj], b"") == (0, "", "")
    assert not symtypes.exists()
    # Nothing is opened at all: neither a missing object nor a bad -T path matters.
    assert run_dropin(["-T", tmp_path / "no" / "dir", tmp_path / "missing.o"], b"") == (0, "", "")
    assert list(tmp_path.iterdir()) == []


def test_symbol_list_tolerated_forms(good_obj):
    # Leading whitespace, trailing junk, duplicates and a last line without
    # a newline are all fine.
    stdin = b"  good_fn  anything else\ngood_fn\n\tother_sym"
    rc, out, err = run_dropin([good_obj], stdin)
    assert rc == 0
    assert sorted(out.splitlines()) == sorted([GOOD_LINE.strip(), "#SYMVER other_sym 0x00000000"])
    assert err == "warning: gendwarfksyms: symbol_print_versions: no information for symbol other_sym\n"


@pytest.mark.parametrize("stdin, expected", [
    (b"good_fn\0junk\n", (0, GOOD_LINE, "")),
    (b"good_fn\n\0\n", (1, "", "error: gendwarfksyms: symbol_read_exports: malformed input line: \n")),
], ids=["nul-inside", "nul-first"])
def test_nul_byte_in_symbol_list(good_obj, stdin, expected):
    assert run_dropin([good_obj], stdin) == expected


# -- the command line ----------------------------------------------------------

def test_help(good_obj):
    assert run_dropin(["-h"], b"\n") == (0, "", USAGE)
    assert run_dropin(["--help", good_obj], b"good_fn\n") == (0, "", USAGE)


@pytest.mark.parametrize("args, complaint", [
    (["-x"], "gendwarfksyms: invalid option -- 'x'"),
    (["--bogus"], "gendwarfksyms: unrecognized option '--bogus'"),
    (["-T"], "gendwarfksyms: option requires an argument -- 'T'"),
], ids=["short", "long", "missing-argument"])
def test_bad_option(good_obj, args, complaint):
    rc, out, err = run_dropin([*args, good_obj] if args != ["-T"] else args, b"good_fn\n")
    assert (rc, out, err) == (1, "", f"{complaint}\n{USAGE}")


def test_no_input_files(tmp_path):
    # Checked before stdin is read: a malformed list is not even looked at.
    rc, out, err = run_dropin([], b"\n")
    assert (rc, out, err) == (1, "", USAGE + "error: gendwarfksyms: main: no input files?\n")
    symtypes = tmp_path / "x.symtypes"
    rc, out, err = run_dropin(["--stable", "-T", symtypes], b"good_fn\n")
    assert (rc, out, err) == (1, "", USAGE + "error: gendwarfksyms: main: no input files?\n")
    assert not symtypes.exists()


# -- the real process ------------------------------------------------------------

def run_process(args, stdin: bytes, env=None, timeout=120):
    return subprocess.run([sys.executable, "-m", "batchver", "gendwarfksyms", *map(str, args)],
                          input=stdin, capture_output=True, timeout=timeout, env=env)


def test_process_level_error_has_no_traceback(tmp_path):
    path = tmp_path / "notelf.o"
    path.write_bytes(b"\x00" * 100)
    symtypes = tmp_path / "out.symtypes"
    proc = run_process(["-T", symtypes, path], b"good_fn\n")
    assert proc.returncode == 1
    assert proc.stdout == b""
    assert proc.stderr == (f"error: gendwarfksyms: main: '{path}' is not a readable ELF file: "
                           "Magic number does not match\n").encode()
    assert not symtypes.exists()


def test_process_level_success(good_obj, tmp_path):
    symtypes = tmp_path / "out.symtypes"
    proc = run_process(["-T", symtypes, good_obj], b"good_fn\n")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, GOOD_LINE.encode(), b"")
    assert symtypes.read_text() == f"good_fn {GOOD_TEXT}\n"


def test_process_passes_non_utf8_names_through(good_obj):
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    proc = run_process([good_obj], b"bad\xff\n", env=env)
    assert b"Traceback" not in proc.stderr
    assert proc.returncode == 0
    assert proc.stdout == b"#SYMVER bad\xff 0x00000000\n"
    assert proc.stderr == (b"warning: gendwarfksyms: symbol_print_versions: "
                           b"no information for symbol bad\xff\n")


# -- corrupt DWARF ---------------------------------------------------------------

def corrupt_first_sibling(obj, out):
    """Point the first DW_AT_sibling (DW_FORM_ref4) in .debug_info back at
    its own DIE, returning the DIE's offset."""
    import struct

    from elftools.elf.elffile import ELFFile

    data = bytearray(obj.read_bytes())
    with open(obj, "rb") as handle:
        elf = ELFFile(handle)
        section = elf.get_section_by_name(".debug_info")
        dwarf = elf.get_dwarf_info(relocate_dwarf_sections=False)
        for cu in dwarf.iter_CUs():
            for die in cu.iter_DIEs():
                attr = die.attributes.get("DW_AT_sibling")
                if attr is not None and attr.form == "DW_FORM_ref4":
                    struct.pack_into("<I", data, section["sh_offset"] + attr.offset,
                                     die.offset - cu.cu_offset)
                    out.write_bytes(bytes(data))
                    return die.offset
    raise AssertionError("no DW_AT_sibling to corrupt")


def jump_sibling_over_next(obj, out):
    """Point the DW_AT_sibling (DW_FORM_ref4) of the first top-level
    subprogram followed by another past that one, to the DIE after it;
    return the name of the subprogram jumped over."""
    import struct

    from elftools.elf.elffile import ELFFile

    data = bytearray(obj.read_bytes())
    with open(obj, "rb") as handle:
        elf = ELFFile(handle)
        section = elf.get_section_by_name(".debug_info")
        cu = next(elf.get_dwarf_info().iter_CUs())
        top = list(cu.get_top_DIE().iter_children())
        first = next(d for d, after in zip(top, top[1:]) if d.tag == after.tag == "DW_TAG_subprogram"
                     and "DW_AT_sibling" in d.attributes)
        jumped, target = top[top.index(first) + 1], top[top.index(first) + 2]
        attr = first.attributes["DW_AT_sibling"]
        assert attr.form == "DW_FORM_ref4"
        struct.pack_into("<I", data, section["sh_offset"] + attr.offset, target.offset - cu.cu_offset)
    out.write_bytes(bytes(data))
    return jumped.attributes["DW_AT_name"].value.decode()


def test_a_sibling_that_jumps_over_a_die_is_followed(tmp_path, cc):
    """libdw steps to a DIE's next sibling by its DW_AT_sibling, even where
    the tree's structure continues elsewhere: a function jumped over is
    never seen, so it gets no version (upstream: 0x00000000 with a warning),
    and the others keep theirs."""
    obj = compile_c(tmp_path, "".join(f"int {n}_fn(int {n}) {{ return {n}; }}\n" for n in "abcd"), "jump")
    bad = tmp_path / "jump_bad.o"
    jumped = jump_sibling_over_next(obj, bad)
    names = "".join(f"{n}_fn\n" for n in "abcd").encode()
    _, clean, _ = run_dropin([obj], names)
    code, out, err = run_dropin([bad], names)
    versions = dict(line.split()[1:] for line in out.splitlines())
    assert code == 0 and versions[jumped] == "0x00000000"
    assert {n: v for n, v in versions.items() if n != jumped} == {
        n: v for n, v in (line.split()[1:] for line in clean.splitlines()) if n != jumped}
    assert err == f"warning: gendwarfksyms: symbol_print_versions: no information for symbol {jumped}\n"


def test_sibling_pointing_backwards_is_an_error_not_a_hang(tmp_path, cc):
    obj = compile_c(tmp_path, "int a_fn(int x) { return x; }\nint b_fn(int y) { return y; }\n", "sib")
    bad = tmp_path / "sib_bad.o"
    corrupt_first_sibling(obj, bad)
    symtypes = tmp_path / "out.symtypes"
    try:
        proc = run_process(["-T", symtypes, bad], b"b_fn\n", timeout=6)
    except subprocess.TimeoutExpired:
        pytest.fail("gendwarfksyms did not finish within 6 s on a corrupt DW_AT_sibling")
    assert proc.returncode == 1
    assert proc.stdout == b""
    assert b"Traceback" not in proc.stderr
    lines = proc.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: gendwarfksyms: ")
    assert not symtypes.exists()
