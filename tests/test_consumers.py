"""``batchver check --consumers``: will these modules load, and why not.

The modules are built at test time with gcc as objects carrying the
sections a linked ``.ko`` has for the loader (``.modinfo``,
``.gnu.linkonce.this_module``, ``__versions``, ``__version_ext_crcs`` +
``__version_ext_names``, ``__ksymtab``/``__kcrctab`` exports, undefined
symbols), and every decision is asserted exactly, derived by hand from
``kernel/module/main.c`` and ``kernel/module/version.c``.  kmod's depmod,
when installed, is an independent oracle for the CRC and missing-symbol
refusals on the same files.
"""

from __future__ import annotations

import json
import lzma
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from batchver.cli.check import main as check_main
from batchver.compressed import decompress
from batchver.elf.modinfo import read_module
from batchver.errors import VersioningError

from .test_check import Builds

# 70 characters: longer than a __versions record's 56-byte name field, as
# Rust's mangled names are; only the extended tables can carry it.
RUST_NAME = "_RNvNtCs1234567890abc_6kernel4sync9lock_class_key_register_with_a_long_path"

CURRENT = [  # (crc, symbol, module, export type, namespace) of CURRENT's Module.symvers
    (0x11111111, "good_sym", "vmlinux", "EXPORT_SYMBOL", ""),
    (0x22222222, "changed_sym", "vmlinux", "EXPORT_SYMBOL", ""),
    (0x33333333, "gpl_sym", "vmlinux", "EXPORT_SYMBOL_GPL", ""),
    (0x44444444, "ns_sym", "vmlinux", "EXPORT_SYMBOL", "NS_A"),
    (0x55555555, "modns_sym", "vmlinux", "EXPORT_SYMBOL", "module:stack-*,lonely"),
    (0x66666666, "unversioned_sym", "vmlinux", "EXPORT_SYMBOL", ""),
    (0x77777777, "module_layout", "vmlinux", "EXPORT_SYMBOL", ""),
    (0x88888888, RUST_NAME, "vmlinux", "EXPORT_SYMBOL_GPL", ""),
    (0x99999999, "drv_helper", "drivers/x/drv", "EXPORT_SYMBOL", ""),
]
LAYOUT = (0x77777777, "module_layout")


@dataclass
class Spec:
    """One module to build.  ``versions``/``ext`` are (crc, name) records;
    ``exports`` (name, gpl, namespace, crc)."""

    name: str
    license: str | None = "GPL"
    import_ns: list[str] = field(default_factory=list)
    imports: list[str] = field(default_factory=list)
    weak: list[str] = field(default_factory=list)
    versions: list[tuple[int, str]] | None = None
    ext: list[tuple[int, str]] | None = None
    exports: list[tuple[str, bool, str, int]] = field(default_factory=list)
    raw_versions: bytes | None = None  # a hand-made __versions section instead


def _c_string(parts: list[str]) -> str:
    """A C literal of NUL-separated strings (each part its own literal, so
    no escape runs into the next character)."""
    return ' "\\0" '.join(json.dumps(p) for p in parts) or '""'


def module_source(spec: Spec) -> str:
    info = ([f"license={spec.license}"] if spec.license is not None else []) + \
        [f"name={spec.name}"] + [f"import_ns={ns}" for ns in spec.import_ns]
    lines = [f'static const char modinfo[] __attribute__((used, section(".modinfo"))) = '
             f"{_c_string(info)};",
             'char this_module[64] __attribute__((section(".gnu.linkonce.this_module")));']
    if spec.versions is not None:
        lines.append("struct modversion_info { unsigned long crc; "
                     "char name[64 - sizeof(unsigned long)]; };")
        records = ", ".join(f"{{ {crc:#x}UL, {json.dumps(n)} }}" for crc, n in spec.versions)
        lines.append("static const struct modversion_info versions[] "
                     f'__attribute__((used, section("__versions"))) = {{ {records} }};')
    if spec.ext is not None:
        crcs = ", ".join(f"{crc:#x}U" for crc, _ in spec.ext)
        lines.append("static const unsigned int ext_crcs[] "
                     f'__attribute__((used, section("__version_ext_crcs"))) = {{ {crcs} }};')
        lines.append("static const char ext_names[] "
                     '__attribute__((used, section("__version_ext_names"))) = '
                     f"{_c_string([n for _, n in spec.ext])};")
    for name in spec.imports:
        lines.append(f"extern void {name}(void);")
    for name in spec.weak:
        lines.append(f"extern void {name}(void) __attribute__((weak));")
    calls = "".join(f"{n}(); " for n in spec.imports + spec.weak)
    lines.append(f"void {spec.name}_init(void) {{ {calls}}}")
    for name, gpl, ns, crc in spec.exports:
        section = "__ksymtab_gpl" if gpl else "__ksymtab"
        lines += [f"void {name}(void) {{}}",
                  f'static const void *__ksymtab_{name} __attribute__((used, section("{section}"))) '
                  f"= (const void *){name};",
                  f'static const char __kstrtabns_{name}[] __attribute__((used, '
                  f'section("__ksymtab_strings"))) = {json.dumps(ns)};',
                  f'static const unsigned int __crc_{name} __attribute__((used, '
                  f'section("__kcrctab"))) = {crc:#x}U;']
    return "\n".join(lines) + "\n"


def build(cc: str, directory: Path, spec: Spec, flags: tuple[str, ...] = ()) -> Path:
    """Compile ``spec`` into ``directory/<name>.ko``."""
    directory.mkdir(parents=True, exist_ok=True)
    src = directory / f"{spec.name}.c"
    src.write_text(module_source(spec))
    out = directory / f"{spec.name}.ko"
    subprocess.run([cc, "-c", "-O0", "-fno-pic", *flags, str(src), "-o", str(out)], check=True)
    src.unlink()
    if spec.raw_versions is not None:
        raw = directory / "versions.bin"
        raw.write_bytes(spec.raw_versions)
        subprocess.run(["objcopy", "--add-section", f"__versions={raw}", str(out)], check=True)
        raw.unlink()
    return out


def write_symvers(path: Path, rows=CURRENT) -> Path:
    path.write_text("".join(f"0x{crc:08x}\t{sym}\t{mod}\t{kind}\t{ns}\n"
                            for crc, sym, mod, kind, ns in rows))
    return path


def run_check(*args: str) -> tuple[int, dict]:
    """``batchver check ... --format json``: (status, report)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp, "report.json")
        status = check_main([*args, "--format", "json", "-o", str(out)])
        return status, json.loads(out.read_text())


def decisions(report: dict) -> dict[str, tuple]:
    """module -> (loads, problems as tuples, warnings as tuples, error)."""
    def rows(items):
        return [(p["symbol"], p["reason"], p["want_crc"], p["have_crc"]) for p in items]
    return {c["module"] or os.path.basename(c["path"]): (c["loads"], rows(c["problems"]),
                                                         rows(c["warnings"]), c["error"])
            for c in report["consumers"]}


# -- the modules of the main scenario -------------------------------------------
GOOD = Spec("good", imports=["good_sym", "gpl_sym", "ns_sym"], import_ns=["NS_A"],
            versions=[LAYOUT, (0x11111111, "good_sym"), (0x33333333, "gpl_sym"),
                      (0x44444444, "ns_sym")])
BAD = Spec("bad", license="Proprietary",
           imports=["good_sym", "changed_sym", "gpl_sym", "ns_sym", "absent_sym",
                    "unversioned_sym"],
           weak=["weak_absent", "weak_gpl_only"],
           versions=[LAYOUT, (0x11111111, "good_sym"), (0x2222222f, "changed_sym"),
                     (0x33333333, "gpl_sym"), (0x44444444, "ns_sym"), (0x0badc0de, "absent_sym"),
                     (0x33333333, "weak_gpl_only")])
# 7.x module namespaces: "module:stack-*,lonely" admits stack_spl ("-" and "_"
# alike, as module names are compared) and lonely
STACK_SPL = Spec("stack_spl", imports=["modns_sym"], versions=[LAYOUT, (0x55555555, "modns_sym")],
                 exports=[("spl_alloc", False, "", 0xabcdef01), ("spl_ns_fn", True, "SPL", 0x1234)])
STACK_ZFS = Spec("stack_zfs", imports=["spl_alloc", "spl_ns_fn", "drv_helper"],
                 import_ns=["SPL"], versions=[LAYOUT, (0xabcdef01, "spl_alloc"),
                                              (0x1234, "spl_ns_fn"), (0x99999999, "drv_helper")])
ZFS_OLD = Spec("zfs_old", imports=["spl_alloc", "spl_ns_fn", "modns_sym"],
               versions=[LAYOUT, (0xabcdef00, "spl_alloc"), (0x1234, "spl_ns_fn"),
                         (0x55555555, "modns_sym")])
LONELY = Spec("lonely", imports=["modns_sym"], versions=[LAYOUT, (0x55555555, "modns_sym")])
# importing a module: namespace explicitly is refused by 7.x, even by a module it names
PUSHY = Spec("stack_pushy", imports=["modns_sym"], import_ns=["module:stack_*,lonely"],
             versions=[LAYOUT, (0x55555555, "modns_sym")])
# a Rust module: the extended tables win over __versions; what they miss only warns
RUST = Spec("rust_drv", imports=[RUST_NAME, "good_sym", "unversioned_sym"],
            versions=[(0xdeadbeef, "good_sym")],
            ext=[LAYOUT, (0x88888888, RUST_NAME), (0x11111111, "good_sym")])
RUST_BAD = Spec("rust_bad", imports=[RUST_NAME], license="GPL v2",
                ext=[LAYOUT, (0x88888880, RUST_NAME)])
UNVERSIONED = Spec("unversioned", imports=["good_sym"])
ALL_SPECS = [GOOD, BAD, STACK_SPL, STACK_ZFS, ZFS_OLD, LONELY, PUSHY, RUST, RUST_BAD, UNVERSIONED]

EXPECTED = {
    "good": (True, [], [], None),
    "bad": (False, [("changed_sym", "crc", "0x2222222f", "0x22222222"),
                    ("gpl_sym", "gpl_only", "0x33333333", "0x33333333"),
                    ("ns_sym", "namespace", "0x44444444", "0x44444444"),
                    ("absent_sym", "missing", "0x0badc0de", None),
                    ("unversioned_sym", "no_version", None, "0x66666666")], [], None),
    "stack_spl": (True, [], [], None),
    "stack_zfs": (True, [], [], None),
    "zfs_old": (False, [("spl_alloc", "crc", "0xabcdef00", "0xabcdef01"),
                        ("spl_ns_fn", "namespace", "0x00001234", "0x00001234"),
                        ("modns_sym", "namespace", "0x55555555", "0x55555555")], [], None),
    "lonely": (True, [], [], None),
    "stack_pushy": (False, [("module:stack_*,lonely", "namespace", None, None)], [], None),
    "rust_drv": (True, [], [("unversioned_sym", "no_version", None, "0x66666666")], None),
    "rust_bad": (False, [(RUST_NAME, "crc", "0x88888880", "0x88888888")], [], None),
    "unversioned": (False, [("module_layout", "no_version", None, "0x77777777"),
                            ("good_sym", "no_version", None, "0x11111111")], [], None),
}


@pytest.fixture(scope="module")
def scenario(tmp_path_factory, cc) -> Path:
    root = tmp_path_factory.mktemp("consumers")
    for spec in ALL_SPECS:
        build(cc, root / "lib/modules/7.3.0/extra", spec)
    write_symvers(root / "Module.symvers")
    return root


def test_every_reason_decided_as_the_kernel_does(scenario):
    status, report = run_check(str(scenario / "Module.symvers"), "--consumers",
                               str(scenario / "lib"))
    assert status == 1
    assert decisions(report) == EXPECTED
    assert report["summary"]["consumers"] == {"modules": 10, "refusing": 5, "unreadable": 0}
    assert report["summary"]["verdict"] == "fail"
    assert "baseline" not in [k for k, v in report["inputs"].items() if v is not None]


def test_what_the_module_reader_sees(scenario):
    """The long name survives only in the extended table, which wins."""
    rust = read_module(str(scenario / "lib/modules/7.3.0/extra/rust_drv.ko"))
    assert rust.extended and rust.versions == {"module_layout": 0x77777777,
                                               RUST_NAME: 0x88888888, "good_sym": 0x11111111}
    assert [i.name for i in rust.imports] == [RUST_NAME, "good_sym", "unversioned_sym"]
    bad = read_module(str(scenario / "lib/modules/7.3.0/extra/bad.ko"))
    assert (bad.name, bad.license, bad.import_ns, bad.extended) == ("bad", "Proprietary", (), False)
    assert [(i.name, i.weak) for i in bad.imports][-2:] == [("weak_absent", True),
                                                            ("weak_gpl_only", True)]
    spl = read_module(str(scenario / "lib/modules/7.3.0/extra/stack_spl.ko"))
    assert [(x.export.name, x.export.gpl, x.export.namespace, x.crc) for x in spl.exports] == [
        ("spl_alloc", False, "", 0xabcdef01), ("spl_ns_fn", True, "SPL", 0x1234)]


def test_one_module_file_and_text_report(scenario, capsys):
    status = check_main([str(scenario / "Module.symvers"), "--consumers",
                         str(scenario / "lib/modules/7.3.0/extra/zfs_old.ko")])
    out = capsys.readouterr().out
    assert status == 1
    assert out.splitlines()[0] == ("batchver check: FAIL (exit 1): 1 of 1 consumer module(s) "
                                   "refuse to load")
    path = scenario / "lib/modules/7.3.0/extra/zfs_old.ko"
    assert f"  REFUSE zfs_old ({path})" in out
    # spl is not given: its exports are unknown, so they are missing
    assert "    missing spl_alloc: unknown symbol (module 0xabcdef00)" in out


def test_junit_and_html_name_the_refusals(scenario, tmp_path):
    junit = tmp_path / "r.xml"
    assert check_main([str(scenario / "Module.symvers"), "--consumers", str(scenario / "lib"),
                       "--format", "junit", "-o", str(junit)]) == 1
    text = junit.read_text()
    assert 'failures="5"' in text and text.count('classname="consumers"') == 10
    assert "crc changed_sym: disagrees about version of symbol (module 0x2222222f, kernel " \
           "0x22222222)" in text
    html = tmp_path / "r.html"
    assert check_main([str(scenario / "Module.symvers"), "--consumers", str(scenario / "lib"),
                       "--format", "html", "-o", str(html)]) == 1
    assert "Consumers (10 modules, 5 refuse, 0 unreadable)" in html.read_text()


def test_write_stablelist(scenario, tmp_path):
    out = tmp_path / "kabi.list"
    check_main([str(scenario / "Module.symvers"), "--consumers", str(scenario / "lib"),
                "--write-stablelist", str(out), "-o", str(tmp_path / "r.txt")])
    # what the modules import and CURRENT exports (whether they load or not)
    assert out.read_text() == "".join(f"{n}\n" for n in sorted(
        ["good_sym", "gpl_sym", "ns_sym", "changed_sym", "unversioned_sym", "modns_sym",
         "drv_helper", RUST_NAME]))
    # the file is what --stablelist reads
    assert check_main(["--baseline", str(scenario / "Module.symvers"),
                       str(scenario / "Module.symvers"), "--stablelist", str(out),
                       "-o", str(tmp_path / "r2.txt")]) == 0


def test_compressed_consumers_and_bad_ones(scenario, tmp_path, cc):
    """A compressed module reads the same; a truncated or lying __versions is
    that module's error (exit 2), the others are still decided."""
    mods = tmp_path / "mods"
    mods.mkdir()
    good = (scenario / "lib/modules/7.3.0/extra/good.ko").read_bytes()
    (mods / "good.ko.xz").write_bytes(lzma.compress(good))
    build(cc, mods, Spec("short", imports=["good_sym"], raw_versions=b"\0" * 100))
    build(cc, mods, Spec("unterminated", imports=["good_sym"], raw_versions=b"\1" * 64))
    build(cc, mods, Spec("halfext", imports=["good_sym"], ext=[(1, "a"), (2, "b")]))
    halfext = mods / "halfext.ko"
    subprocess.run(["objcopy", "--remove-section", "__version_ext_names", str(halfext)],
                   check=True)
    (mods / "empty.ko").write_bytes(b"")
    status, report = run_check(str(scenario / "Module.symvers"), "--consumers", str(mods))
    assert status == 2
    got = {os.path.basename(c["path"]): (c["loads"], c["error"]) for c in report["consumers"]}
    assert got == {
        "empty.ko": (None, f"'{mods}/empty.ko' is empty, not an ELF file"),
        "good.ko.xz": (True, None),
        "halfext.ko": (None, f"'{mods}/halfext.ko': __version_ext_crcs without its companion "
                             "section (the kernel refuses the module)"),
        "short.ko": (None, f"'{mods}/short.ko': __versions is 100 bytes, not a whole number "
                           "of 64-byte records (truncated or not modpost's table)"),
        "unterminated.ko": (None, f"'{mods}/unterminated.ko': __versions record 0 (offset "
                                  "0x0) has a name without its terminating NUL"),
    }


def test_fewer_extended_names_than_crcs(scenario, cc, tmp_path):
    path = build(cc, tmp_path, Spec("fewer", ext=[(1, "a"), (2, "b")]))
    data = path.read_bytes()
    # "a\0b\0" -> "a\0b\1": the second name loses its terminator
    at = data.index(b"a\0b\0")
    path.write_bytes(data[:at + 3] + b"\1" + data[at + 4:])
    with pytest.raises(VersioningError, match="2 CRCs in __version_ext_crcs but 1 names"):
        read_module(str(path))


@pytest.mark.parametrize("flags", [(), ("-m32",)], ids=["64-bit", "32-bit"])
def test_version_record_crc_is_an_unsigned_long_of_the_class(cc, tmp_path, flags):
    """The CRC is 8 bytes in a 64-bit module and 4 in a 32-bit one; a
    64-bit value with high bits set never equals a 32-bit CRC."""
    spec = Spec("cls", imports=["good_sym", "changed_sym"],
                versions=[LAYOUT, (0x11111111, "good_sym"),
                          ((0x1_22222222 if not flags else 0x22222222), "changed_sym")])
    build(cc, tmp_path / "m", spec, flags)
    status, report = run_check(str(write_symvers(tmp_path / "Module.symvers")), "--consumers",
                               str(tmp_path / "m"))
    want = [("changed_sym", "crc", "0x122222222", "0x22222222")] if not flags else []
    assert decisions(report)["cls"] == (not want, want, [], None)
    assert status == (1 if want else 0)


@pytest.mark.parametrize("compiler", ["s390x-linux-gnu-gcc", "powerpc-linux-gnu-gcc"])
def test_big_endian_modules(compiler, tmp_path):
    cross = shutil.which(compiler)
    if cross is None:
        pytest.skip(f"{compiler} not installed (.ci/run installs it)")
    spec = Spec("be", imports=["good_sym", "changed_sym"],
                versions=[LAYOUT, (0x11111111, "good_sym"), (0x2222222f, "changed_sym")],
                ext=None)
    build(cross, tmp_path / "m", spec)
    _, report = run_check(str(write_symvers(tmp_path / "Module.symvers")), "--consumers",
                          str(tmp_path / "m"))
    assert decisions(report)["be"] == (False, [("changed_sym", "crc", "0x2222222f",
                                                 "0x22222222")], [], None)


def test_usage_errors(scenario, capsys):
    assert check_main([str(scenario / "Module.symvers")]) == 2
    assert "--baseline is required, unless --consumers is given" in capsys.readouterr().err
    assert check_main([str(scenario / "Module.symvers"), "--write-stablelist", "x"]) == 2
    assert check_main([str(scenario / "Module.symvers"), "--consumers",
                       str(scenario / "nothing-here")]) == 2
    assert "nothing-here: no such file or directory" in capsys.readouterr().err


# -- with a baseline: each CRC refusal gets its root cause ----------------------
def test_refusals_grouped_by_root_cause(tmp_path_factory, cc, tmp_path, capsys):
    """A module built against the example tree's base refuses on the tree
    whose struct demo_dev gained a member, and the refusal names it."""
    builds = Builds(tmp_path_factory.mktemp("rc"))
    base, current = builds.out("base"), builds.out("member_added")
    crcs = {line.split("\t")[1]: int(line.split("\t")[0], 16)
            for line in Path(base, "Module.symvers").read_text().splitlines()}
    spec = Spec("partner", imports=["demo_register", "demo_sum"],
                versions=[(crcs["demo_register"], "demo_register"),
                          (crcs["demo_sum"], "demo_sum")])
    build(cc, tmp_path / "m", spec)
    status, report = run_check("--baseline", base, current, "--consumers", str(tmp_path / "m"))
    assert status == 1
    new = {line.split("\t")[1]: line.split("\t")[0]
           for line in Path(current, "Module.symvers").read_text().splitlines()}
    assert decisions(report)["partner"] == (
        False, [("demo_register", "crc", f"0x{crcs['demo_register']:08x}", new["demo_register"])],
        [], None)
    rc = next(r for r in report["root_causes"] if r["key"] == "s#demo_dev")
    assert report["consumer_root_causes"] == [
        {"root_cause": rc["id"], "modules": ["partner"], "symbols": ["demo_register"]}]
    check_main(["--baseline", base, current, "--consumers", str(tmp_path / "m")])
    out = capsys.readouterr().out
    assert f"[{rc['id']}] 1 module(s) refuse because s#demo_dev changed: demo_register" in out
    assert f"    crc demo_register: disagrees about version of symbol (module " \
           f"0x{crcs['demo_register']:08x}, kernel {new['demo_register']}) " \
           f"[root cause {rc['id']}]" in out
    html = tmp_path / "r.html"
    check_main(["--baseline", base, current, "--consumers", str(tmp_path / "m"),
                "--format", "html", "-o", str(html)])
    assert (f'1 module(s) refuse because <a href="#{rc["id"]}"><code>s#demo_dev</code></a> '
            "changed") in html.read_text()


# -- kmod's depmod as an oracle ------------------------------------------------
def test_depmod_agrees_on_crc_and_missing(tmp_path, cc):
    """On what depmod models (``__versions`` tables, vmlinux rows of the
    symvers file, exports of the modules beside), its "disagrees about
    version" and "needs unknown symbol" warnings are batchver's ``crc`` and
    ``missing`` refusals.  Outside that model depmod differs by design: it
    reads no extended tables, compares a symbol absent from ``__versions``
    as CRC 0, and knows no GPL or namespace rule."""
    depmod = shutil.which("depmod") or shutil.which("depmod", path="/usr/sbin:/sbin")
    if depmod is None:
        pytest.skip("kmod's depmod not installed (.ci/run installs kmod)")
    classic = Spec("classic", license="Proprietary",
                   imports=["good_sym", "changed_sym", "absent_sym", "other_absent"],
                   versions=[LAYOUT, (0x11111111, "good_sym"), (0x2222222f, "changed_sym"),
                             (0x0badc0de, "absent_sym"), (0x1, "other_absent")])
    for spec in (GOOD, classic, STACK_SPL, ZFS_OLD):
        build(cc, tmp_path / "lib/modules/7.3.0/extra", spec)
    symvers = write_symvers(tmp_path / "Module.symvers",
                            [row for row in CURRENT if row[2] == "vmlinux"])
    proc = subprocess.run([depmod, "-b", str(tmp_path), "-e", "-E", str(symvers), "-n", "7.3.0"],
                          capture_output=True, text=True, check=True)
    theirs = set()
    for line in proc.stderr.splitlines():
        for phrase, reason in (("needs unknown symbol", "missing"),
                               ("disagrees about version of symbol", "crc")):
            if f" {phrase} " in line:
                path, symbol = line.split(": WARNING: ", 1)[1].split(f" {phrase} ")
                theirs.add((os.path.basename(path), reason, symbol))
    _, report = run_check(str(symvers), "--consumers", str(tmp_path / "lib"))
    ours = {(os.path.basename(c["path"]), p["reason"], p["symbol"]) for c in report["consumers"]
            for p in c["problems"] if p["reason"] in ("crc", "missing")}
    assert ours == {("classic.ko", "crc", "changed_sym"), ("classic.ko", "missing", "absent_sym"),
                    ("classic.ko", "missing", "other_absent"), ("zfs_old.ko", "crc", "spl_alloc")}
    assert theirs == ours


# -- bounded decompression -----------------------------------------------------
def test_decompression_bomb_is_refused_within_the_bound(tmp_path):
    """A small module followed by zeros: refused once the output passes the
    bound, whatever the compression, with the file named."""
    import gzip

    import zstandard

    payload = b"\x7fELF" + b"\0" * (3 << 20)
    for kind, packed in (("xz", lzma.compress(payload)), ("gzip", gzip.compress(payload)),
                         ("zstd", zstandard.ZstdCompressor().compress(payload))):
        with pytest.raises(VersioningError) as info:
            decompress(packed, kind, "bomb.ko", limit=1 << 20)
        assert str(info.value) == (f"bomb.ko: refused: the file decompresses ({kind}) to more "
                                   f"than 1,048,576 bytes from {len(packed):,} (a decompression "
                                   "bomb, or damaged)")
        assert decompress(packed, kind, "ok.ko", limit=len(payload)) == payload
        with pytest.raises(VersioningError, match=rf"cannot decompress \({kind}\)"):
            decompress(packed[:len(packed) // 2], kind, "cut.ko")


def test_decompression_counts_past_what_it_keeps(tmp_path, monkeypatch):
    """Past KEPT_WHILE_COUNTING the output is only counted, then the whole
    is decompressed again: the result is the same."""
    import batchver.compressed as compressed

    monkeypatch.setattr(compressed, "KEPT_WHILE_COUNTING", 1000)
    monkeypatch.setattr(compressed, "_CHUNK", 512)
    payload = bytes(range(256)) * 64
    assert decompress(lzma.compress(payload), "xz", "x") == payload
    assert decompress(lzma.compress(payload) + lzma.compress(b"tail"), "xz", "x") == \
        payload + b"tail"
    with pytest.raises(VersioningError, match=r"cannot decompress \(xz\)"):
        decompress(lzma.compress(payload)[:-20], "xz", "x")


# -- the nightly ---------------------------------------------------------------
def test_nightly_consumers_per_tree(tmp_path, cc):
    """``consumers:`` of a tree: checked on the first night already (no
    baseline needed); a missing path is named with its line."""
    from batchver.cli.nightly import nightly_main
    from batchver.nightly.config import ConfigError, load_config
    from batchver.nightly.history import read_history

    from .conftest import example

    tree = example.build(str(tmp_path / "tree"))
    build(cc, tmp_path / "partner", Spec("partner", imports=["demo_sum"],
                                         versions=[(0x1, "demo_sum")]))
    config = tmp_path / "nightly.yaml"
    config.write_text(f"output: out\njobs: 1\nreports: [json]\ntrees:\n"
                      f"  - name: demo\n    path: {tree}\n    consumers: partner\n")
    assert load_config(str(config)).trees[0].consumers == [str(tmp_path / "partner")]
    assert nightly_main([str(config), "-q"]) == 1
    (record,) = read_history(str(tmp_path / "out")).records
    assert record.check["status"] == "fail"
    run_dir = tmp_path / "out" / record.run_dir
    crc = next(line.split("\t")[0] for line in (run_dir / "Module.symvers").read_text().splitlines()
               if line.split("\t")[1] == "demo_sum")
    report = json.loads((run_dir / "check.json").read_text())
    assert decisions(report) == {"partner": (False, [("demo_sum", "crc", "0x00000001", crc)],
                                             [], None)}
    config.write_text(f"trees:\n  - name: demo\n    path: {tree}\n    consumers: [partner, gone]\n")
    with pytest.raises(ConfigError) as caught:
        load_config(str(config), check_paths=True)
    assert str(caught.value) == (f"{config}:4: trees[0].consumers: expected an existing file or "
                                 f"directory; '{tmp_path / 'gone'}' does not exist")
