"""Kernels as distributions ship them: compressed modules, split debuginfo,
other architectures, gzip'd symvers baselines, subsets of a tree.

Every shape is built at test time from real objects: modules of Debian's
6.12 kernel from the shared corpus (compressed with xz/zstd/gzip, split with
``eu-strip --reloc-debug-sections -f`` as Fedora/RHEL/SUSE do), and the
cross-compiled fixtures of ``tests/data/cross`` (made by
``tests/support/build_cross_fixtures.py``; expected files are upstream
gendwarfksyms' output on them, see that directory's README).  Each shape's
``Module.symvers`` must be byte-identical to the plain tree's, and the plain
tree's CRCs equal upstream's expected outputs.
"""

from __future__ import annotations

import gzip
import json
import lzma
import shutil
import subprocess
from pathlib import Path

import pytest
import zstandard

from batchver.cli import main as cli_main

from .conftest import LOCAL_CORPUS, REPO, run_dropin

CROSS = REPO / "tests" / "data" / "cross"
FIXTURES = REPO / "tests" / "data" / "corpus" / "fixtures"  # kabi_cases.c, which kexports.c includes
from tests.support import build_cross_fixtures as cross

DEBIAN = LOCAL_CORPUS / "debian-6.12.117-cloud"  # the real modules the repository carries
# real modules: one with namespaced exports (libeth), one per top directory
MODULES = ("crypto/cast_common", "drivers/nvdimm/nd_virtio", "drivers/comedi/drivers/ni_routing",
           "drivers/net/ethernet/intel/libeth/libeth")
VERSION = "6.12.0-shape"
COMPRESSORS = {".xz": lzma.compress, ".zst": zstandard.ZstdCompressor().compress,
               ".gz": gzip.compress}
TARGET_IDS = [t.name for t in cross.TARGETS]


def run(tree, out, *extra) -> dict:
    """``batchver run`` in-process under whole-file semantics (upstream's
    CRCs on each file); the report, after checking the exit status."""
    rc = cli_main(["run", str(tree), "-o", str(out), "-j", "1", "-q", "--semantics", "file",
                   *map(str, extra)])
    report = json.loads((Path(out) / "report.json").read_text())
    assert rc == 0, report
    return report


def symvers(out) -> str:
    return (Path(out) / "Module.symvers").read_text()


def compress(path: Path, suffix: str) -> Path:
    """Replace ``path`` by its compressed copy, as kbuild's MODULE_COMPRESS_*."""
    target = path.with_name(path.name + suffix)
    target.write_bytes(COMPRESSORS[suffix](path.read_bytes()))
    path.unlink()
    return target


def need(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        pytest.skip(f"{tool} not installed (.ci/run installs it)")
    return found


# -- real modules: the plain tree and its upstream CRCs ------------------------
@pytest.fixture(scope="module")
def plain(tmp_path_factory) -> tuple[Path, str]:
    """A linked tree of real Debian modules and its Module.symvers."""
    if not DEBIAN.is_dir():
        pytest.skip(f"Debian corpus not found at {DEBIAN}")
    root = tmp_path_factory.mktemp("plain")
    tree = root / "tree"
    for module in MODULES:
        target = tree / "kernel" / f"{module}.ko"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(DEBIAN / "kernel" / f"{module}.ko", target)
    run(tree, root / "out")
    return tree, symvers(root / "out")


def test_plain_tree_has_upstream_crcs(plain):
    """The reference every shape is compared with: upstream's #SYMVER CRCs
    on each module, and modpost's names, license and namespace."""
    _, text = plain
    rows = [line.split("\t") for line in text.splitlines()]
    expected = {}
    for module in MODULES:
        for line in (DEBIAN / "expected" / (module.replace("/", "+") + ".symver")).read_text().splitlines():
            _, name, crc = line.split()
            expected[(name, module)] = f"0x{int(crc, 16):08x}"
    assert {(r[1], r[2]): r[0] for r in rows} == expected
    assert any(r[4] == "LIBETH" for r in rows)


def copy_tree(plain, dest: Path) -> Path:
    shutil.copytree(plain[0], dest)
    for path in dest.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return dest


@pytest.mark.parametrize("suffixes", [[".xz"], [".zst"], [".gz"], [".xz", "", ".zst", ".gz"]],
                         ids=["xz", "zst", "gz", "mixed"])
def test_compressed_modules(plain, tmp_path, suffixes):
    """.ko.xz/.ko.zst/.ko.gz, alone or mixed with plain .ko in one tree."""
    tree = copy_tree(plain, tmp_path / "tree")
    for n, path in enumerate(sorted(tree.rglob("*.ko"))):
        suffix = suffixes[n % len(suffixes)]
        if suffix:
            compress(path, suffix)
    report = run(tree, tmp_path / "out")
    assert symvers(tmp_path / "out") == plain[1]
    assert len(report["files"]) == len(MODULES)


def split_distro(plain, root: Path, compress_with: str = ".xz") -> tuple[Path, Path]:
    """Fedora's layout: stripped (and compressed) modules under
    lib/modules/<ver>, their ``.ko.debug`` files under
    usr/lib/debug/lib/modules/<ver>, split by eu-strip as find-debuginfo
    does."""
    eu_strip = need("eu-strip")
    modules = root / "lib" / "modules" / VERSION
    debug = root / "usr" / "lib" / "debug" / "lib" / "modules" / VERSION
    for module in MODULES:
        source = plain[0] / "kernel" / f"{module}.ko"
        stripped = modules / "kernel" / f"{module}.ko"
        debug_file = debug / "kernel" / f"{module}.ko.debug"
        stripped.parent.mkdir(parents=True, exist_ok=True)
        debug_file.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([eu_strip, "--reloc-debug-sections", "--remove-comment", "-f",
                        str(debug_file), "-o", str(stripped), str(source)], check=True)
        if compress_with:
            compress(stripped, compress_with)
    return modules, debug


@pytest.mark.parametrize("side", ["debug", "stripped"])
def test_split_debuginfo(plain, tmp_path, side):
    """TREE may be either half: DWARF comes from the .ko.debug file, the
    exports' section contents (namespace strings) from the stripped module,
    and report.json names both."""
    modules, debug = split_distro(plain, tmp_path)
    report = run(debug if side == "debug" else modules, tmp_path / "out")
    assert symvers(tmp_path / "out") == plain[1]
    for entry in report["files"]:
        assert entry["file"].endswith(".ko.debug")
        assert entry["paired_with"].startswith(str(modules)) and entry["paired_with"].endswith(".ko.xz")


def test_split_in_one_tree(plain, tmp_path):
    """Stripped module and .ko.debug side by side in one directory."""
    modules, debug = split_distro(plain, tmp_path, compress_with="")
    for path in debug.rglob("*.ko.debug"):
        shutil.move(path, modules / path.relative_to(debug))
    tree = tmp_path / "mixed"
    shutil.move(modules, tree)
    report = run(tree, tmp_path / "out")
    assert symvers(tmp_path / "out") == plain[1]
    assert all(e["paired_with"].endswith(".ko") for e in report["files"])


def test_stripped_without_debug_file_is_reported(plain, tmp_path):
    """A stripped module whose debug file is nowhere fails as upstream does
    on it (no debugging information; exit 1), with a note saying where the
    debug file was looked for."""
    modules, debug = split_distro(plain, tmp_path, compress_with="")
    shutil.rmtree(tmp_path / "usr")
    out = tmp_path / "out"
    assert cli_main(["run", str(modules), "-o", str(out), "-j", "1", "-q"]) == 1
    report = json.loads((out / "report.json").read_text())
    assert {e["status"] for e in report["files"]} == {"failed"}
    assert all("no debugging information" in e["error"] for e in report["files"])
    assert any("no debug file found" in note for note in report["notes"])


VMLINUX_SOURCE = r"""
#include "kexports.c"
void _start(void) {}
"""


def test_split_vmlinux(tmp_path):
    """A linked vmlinux split by eu-strip: found from the debug tree, from
    ``--vmlinux /boot/vmlinuz-<ver>``, and from the stripped file by its
    build-id; all three give the unsplit file's Module.symvers."""
    eu_strip, gcc = need("eu-strip"), need("gcc")
    build = tmp_path / "build"
    build.mkdir()
    for source in (CROSS / "kexports.c", FIXTURES / "kabi_cases.c", FIXTURES / "kabi_cases.h"):
        shutil.copyfile(source, build / source.name)
    (build / "vmlinux.c").write_text(VMLINUX_SOURCE)
    subprocess.run([gcc, "-O2", "-gdwarf-5", "-nostdlib", "-static", "-Wl,--build-id",
                    "-Wl,--defsym,asm_defined_helper=_start",
                    "-o", "vmlinux", "vmlinux.c"], cwd=build, check=True)
    plain_tree = tmp_path / "plain"
    plain_tree.mkdir()
    shutil.copyfile(build / "vmlinux", plain_tree / "vmlinux")
    run(plain_tree, tmp_path / "plain-out")
    expected = symvers(tmp_path / "plain-out")
    assert expected.count("\tvmlinux\t") == len(cross.EXPORTS)

    root = tmp_path / "root"
    debug_dir = root / "usr" / "lib" / "debug" / "lib" / "modules" / VERSION
    debug_dir.mkdir(parents=True)
    (root / "boot").mkdir()
    stripped = root / "boot" / f"vmlinux-{VERSION}"
    subprocess.run([eu_strip, "-f", str(debug_dir / "vmlinux"), "-o", str(stripped),
                    str(build / "vmlinux")], check=True)
    (root / "boot" / f"vmlinuz-{VERSION}").write_bytes(b"MZ not an ELF file")
    modules = root / "lib" / "modules" / VERSION
    (modules / "kernel").mkdir(parents=True)

    run(debug_dir, tmp_path / "out-debug")
    assert symvers(tmp_path / "out-debug") == expected
    run(modules, tmp_path / "out-vmlinuz", "--vmlinux", root / "boot" / f"vmlinuz-{VERSION}")
    assert symvers(tmp_path / "out-vmlinuz") == expected

    build_id = root / "usr" / "lib" / "debug" / ".build-id"
    shutil.move(debug_dir / "vmlinux", tmp_path / "vmlinux.debug")
    from batchver.elf.file import ElfObject
    elf = ElfObject(str(stripped))
    hex_id = elf.build_id()
    elf.close()
    assert hex_id, "gcc --build-id gave no build-id note"
    (build_id / hex_id[:2]).mkdir(parents=True)
    shutil.move(tmp_path / "vmlinux.debug", build_id / hex_id[:2] / f"{hex_id[2:]}.debug")
    report = run(modules, tmp_path / "out-build-id", "--vmlinux", stripped)
    assert symvers(tmp_path / "out-build-id") == expected
    assert report["files"][0]["paired_with"] == str(stripped)


# -- subsets -------------------------------------------------------------------
def rows_of(text: str, prefix: str | tuple[str, ...]) -> str:
    return "".join(line + "\n" for line in text.splitlines() if line.split("\t")[2].startswith(prefix))


def test_subdirectory_keeps_modpost_names(plain, tmp_path):
    """TREE = .../kernel/drivers of an installed tree: module names stay
    drivers/..., found from lib/modules/<ver> (and from modules.order when
    the tree is not under lib/modules)."""
    modules, _ = split_distro(plain, tmp_path, compress_with=".zst")
    run(modules / "kernel" / "drivers", tmp_path / "out")
    assert symvers(tmp_path / "out") == rows_of(plain[1], "drivers/")

    tree = copy_tree(plain, tmp_path / "anywhere" / "tree")
    (tree / "modules.order").write_text("".join(f"kernel/{m}.ko\n" for m in MODULES))
    run(tree / "kernel" / "drivers" / "nvdimm", tmp_path / "out2")
    assert symvers(tmp_path / "out2") == rows_of(plain[1], "drivers/nvdimm/")


def test_module_globs(plain, tmp_path):
    """``--module GLOB`` (repeatable) versions only the matching modules."""
    run(plain[0], tmp_path / "out", "--module", "drivers/*", "--module", "crypto/cast_common")
    assert symvers(tmp_path / "out") == "".join(
        line + "\n" for line in plain[1].splitlines()
        if line.split("\t")[2].startswith(("drivers/", "crypto/cast_common")))


def test_module_glob_matching_nothing(plain, tmp_path):
    assert cli_main(["run", str(plain[0]), "-o", str(tmp_path / "out"), "-q",
                     "--module", "nothing/*"]) == 2


# -- baselines as distros store them -------------------------------------------
def test_gzipped_symvers_baseline(plain, tmp_path):
    """/boot/symvers-<ver>.gz is read as the Module.symvers it holds, as
    baseline and as current."""
    boot = tmp_path / f"symvers-{VERSION}.gz"
    boot.write_bytes(gzip.compress(plain[1].encode()))
    plain_file = tmp_path / "Module.symvers"
    plain_file.write_text(plain[1])
    outs = []
    for baseline, current in ((plain_file, plain_file), (boot, plain_file), (plain_file, boot)):
        out = tmp_path / f"check-{len(outs)}.json"
        assert cli_main(["check", "--baseline", str(baseline), str(current), "--format", "json",
                         "-o", str(out)]) == 0
        report = json.loads(out.read_text())
        outs.append(report["summary"] if "summary" in report else report.get("counts"))
    assert outs[0] == outs[1] == outs[2]


def test_truncated_gzip_baseline_is_named(plain, tmp_path, capsys):
    bad = tmp_path / "symvers.gz"
    bad.write_bytes(gzip.compress(plain[1].encode())[:40])
    assert cli_main(["check", "--baseline", str(bad), str(bad)]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "decompress" in err and "Traceback" not in err


# -- other architectures -------------------------------------------------------
def expected_files(name: str, stable: bool) -> tuple[str, str]:
    infix = ".stable." if stable else "."
    return ((CROSS / f"{name}{infix}symver").read_text(),
            (CROSS / f"{name}{infix}symtypes").read_text())


def dropin(obj: Path, tmp: Path, stable: bool) -> tuple[str, str]:
    symtypes = tmp / f"{obj.stem}.symtypes"
    rc, out, err = run_dropin([*(["--stable"] if stable else []), "-T", symtypes, obj],
                              cross.symbol_list())
    assert rc == 0, err
    return out, symtypes.read_text()


@pytest.mark.parametrize("stable", [False, True], ids=["plain", "stable"])
@pytest.mark.parametrize("target", TARGET_IDS)
def test_cross_object_matches_upstream(tmp_path, target, stable):
    """The committed cross-compiled object: #SYMVER lines and symtypes
    byte-identical to upstream's (libdw reads every architecture)."""
    assert dropin(CROSS / f"{target}.o", tmp_path, stable) == expected_files(target, stable)


@pytest.mark.parametrize("target", cross.TARGETS, ids=TARGET_IDS)
def test_cross_compiled_now(tmp_path, target):
    """The same fixture cross-compiled at test time, when the compiler is
    installed: the build path CI exercises."""
    need(target.compiler)
    obj = Path(cross.compile_target(target, str(tmp_path)))
    for stable in (False, True):
        assert dropin(obj, tmp_path, stable) == expected_files(target.name, stable)


def test_cross_objects_as_compressed_tree(tmp_path):
    """Every architecture's object as a module of one linked tree, mixed
    compressions: Module.symvers carries upstream's CRCs, license and
    namespace for each."""
    tree = tmp_path / "tree"
    expected = []
    for n, target in enumerate(cross.TARGETS):
        module = tree / "kernel" / "cross" / f"{target.name}.ko"
        module.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(CROSS / f"{target.name}.o", module)
        suffix = (".xz", ".zst", ".gz", "")[n % 4]
        if suffix:
            compress(module, suffix)
        for line in (CROSS / f"{target.name}.symver").read_text().splitlines():
            _, name, crc = line.split()
            license_, namespace = cross.EXPORTS[name]
            expected.append((f"cross/{target.name}", name,
                             f"0x{int(crc, 16):08x}\t{name}\tcross/{target.name}\t"
                             f"EXPORT_SYMBOL{'_GPL' if license_ else ''}\t{namespace}\n"))
    run(tree, tmp_path / "out")
    assert symvers(tmp_path / "out") == "".join(line for *_, line in sorted(expected))


def test_corrupt_compressed_module_is_named(plain, tmp_path):
    """A truncated .ko.xz fails alone, its error naming the file and the
    cause; every other module is still versioned."""
    tree = copy_tree(plain, tmp_path / "tree")
    bad = compress(tree / "kernel" / "crypto" / "cast_common.ko", ".xz")
    bad.write_bytes(bad.read_bytes()[:1000])
    out = tmp_path / "out"
    assert cli_main(["run", str(tree), "-o", str(out), "-j", "1", "-q", "--semantics", "file"]) == 1
    report = json.loads((out / "report.json").read_text())
    failed = [f for f in report["files"] if f["status"] == "failed"]
    assert [f["file"] for f in failed] == ["kernel/crypto/cast_common.ko.xz"]
    assert "cannot decompress (xz)" in failed[0]["error"]
    assert symvers(out) == rows_of(plain[1], ("drivers/", "lib/"))


def test_nightly_reads_gzipped_symvers(plain, tmp_path):
    """The nightly's own symbol comparison reads a gzip'd baseline too."""
    from batchver.nightly.runner import read_symvers
    plain_file = tmp_path / "Module.symvers"
    plain_file.write_text(plain[1])
    boot = tmp_path / f"symvers-{VERSION}.gz"
    boot.write_bytes(gzip.compress(plain[1].encode()))
    assert read_symvers(str(boot)) == read_symvers(str(plain_file))
    assert len(read_symvers(str(boot))) == len(plain[1].splitlines())


def test_debug_tree_without_stripped_modules(plain, tmp_path):
    """Only the .ko.debug half: the namespace strings (every 6.12 export has
    a ``__kstrtabns_`` label, empty or not) were stripped away with
    ``__ksymtab_strings``, so no row can be written truthfully; each file
    fails with an error naming it and the missing half, and exit is 1."""
    modules, debug = split_distro(plain, tmp_path)
    shutil.rmtree(tmp_path / "lib")
    out = tmp_path / "out"
    assert cli_main(["run", str(debug), "-o", str(out), "-j", "1", "-q", "--semantics", "file"]) == 1
    report = json.loads((out / "report.json").read_text())
    assert len(report["files"]) == len(MODULES)
    for entry in report["files"]:
        assert entry["status"] == "failed"
        assert entry["file"] in entry["error"]
        assert "__ksymtab_strings has no contents" in entry["error"]
        assert "stripped file was not found" in entry["error"]
