"""Shared test helpers: where the conformance corpora live, and compiling
fixture sources at test time.

Two corpora share one layout (``<part>/expected/NAME.exports`` beside the
object, see tests/data/README.md): the in-repo one under ``tests/data/corpus``,
always present, and the larger shared one (``$BATCHVER_SHARED/corpus``, else
``../shared/corpus`` beside the repository), used in addition when present.
Tests that need the shared one skip, naming where they looked, without it."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support import make_test_expected as expected_tool
from tools import build_example_tree as example  # examples/tree's builder, as the README runs it

REPO = Path(__file__).resolve().parent.parent
corpus_cases = expected_tool.corpus_cases  # one layout rule for the tests and the tool
DATA = REPO / "tests" / "data"
LOCAL_CORPUS = DATA / "corpus"
SHARED = Path(os.environ.get("BATCHVER_SHARED", REPO.parent / "shared"))
CORPUS = SHARED / "corpus"
CORPUS_PARTS = ("fixtures", "debian-6.12.117-cloud", "linux-6.12-defconfig")
SHARED_MISSING = (f"shared corpus not found at {CORPUS} (set BATCHVER_SHARED to the directory "
                  "holding corpus/); only the in-repo corpus under tests/data was used")


# Set to an upstream gendwarfksyms binary, run_dropin runs it instead of
# batchver: the tests' hand-derived expectations are then checked against
# upstream itself; the few places batchver deliberately differs test this.
UPSTREAM_RUN = os.environ.get("BATCHVER_TEST_REFERENCE", "")


def shared_corpus_present() -> bool:
    return all((CORPUS / part / "expected").is_dir() for part in CORPUS_PARTS)


@pytest.fixture(scope="session")
def shared_corpus() -> Path:
    """The shared corpus directory; skips the test when it is absent."""
    if not shared_corpus_present():
        pytest.skip(SHARED_MISSING)
    return CORPUS


@pytest.fixture(scope="session")
def cc() -> str:
    compiler = shutil.which("gcc")
    if compiler is None:
        pytest.fail("gcc is required to build test fixtures (.ci/run installs it)")
    return compiler


@pytest.fixture(scope="session")
def example_tree(tmp_path_factory, cc) -> Path:
    """examples/tree compiled once for the session (a built tree: vmlinux.a,
    three modules, eleven exports).  Read-only: a test that changes a tree
    copies this one first."""
    return Path(example.build(str(tmp_path_factory.mktemp("example") / "tree")))


@pytest.fixture(scope="session")
def built_objects(tmp_path_factory, cc):
    """``get(case, variant)``: the object of a tests/data/built case, compiled
    once per session exactly as tests/support/make_test_expected.py compiles it."""
    workdir = tmp_path_factory.mktemp("built")
    objects: dict[tuple[str, str], Path] = {}

    def get(case: str, variant: str) -> Path:
        if (case, variant) not in objects:
            objects[case, variant] = expected_tool.build(case, variant, workdir)
        return objects[case, variant]

    return get


@pytest.fixture(scope="session")
def type_units_file(tmp_path_factory, cc):
    """``get(dwarf)``: tests/data/built/typeunits linked as a shared object
    with gcc's ``-fdebug-types-section`` (type units reached by
    DW_FORM_ref_sig8), built once per DWARF option."""
    workdir = tmp_path_factory.mktemp("typeunits")
    built: dict[str, Path] = {}

    def get(dwarf: str) -> Path:
        if dwarf not in built:
            linked = workdir / f"typeunits{dwarf}.so"
            subprocess.run([cc, "-shared", "-fPIC", "-O0", dwarf, "-fdebug-types-section", "-o",
                            str(linked), str(expected_tool.BUILT / "typeunits" / "typeunits.c")],
                           check=True)
            built[dwarf] = linked
        return built[dwarf]

    return get


def compile_c(tmp: Path, source: str, name: str = "fixture", flags: tuple[str, ...] = ("-gdwarf-5",),
              compiler: str = "gcc") -> Path:
    """Compile C source to an object with debug info; return the object path."""
    src = tmp / f"{name}.c"
    src.write_text(source)
    obj = tmp / f"{name}.o"
    subprocess.run([compiler, "-c", "-O0", *flags, "-o", str(obj), str(src)], check=True,
                   cwd=tmp)
    return obj


# --- helpers for the shape / kABI / Rust / bad-input tests -------------------

def link_vmlinux(objects, out: Path) -> Path:
    """Link ``objects`` into an executable, as vmlinux is linked: its DWARF
    needs no relocating, so ``batchver run`` may cut it into unit ranges
    (a relocatable file, ``ld -r``'s output, is versioned whole)."""
    subprocess.run(["ld", "-o", str(out), "-e", "0", "--unresolved-symbols=ignore-all",
                    *map(str, objects)], check=True)
    return out


def run_dropin(args, stdin: bytes = b"") -> tuple[int, str, str]:
    """Run ``batchver gendwarfksyms`` in-process: (exit status, stdout, stderr).

    With ``BATCHVER_TEST_REFERENCE=PATH`` the upstream binary at PATH runs
    instead, which checks the tests' hand-derived expectations against
    upstream itself (tests/data/README.md)."""
    import io

    if UPSTREAM_RUN:
        done = subprocess.run([UPSTREAM_RUN, *map(str, args)], input=stdin, capture_output=True)
        return done.returncode, done.stdout.decode(), done.stderr.decode()

    from batchver.cli.gendwarfksyms import main as dropin_main

    out, err = io.StringIO(), io.StringIO()
    rc = dropin_main([str(a) for a in args], stdin=io.BytesIO(stdin), stdout=out, stderr=err)
    return rc, out.getvalue(), err.getvalue()


def symbol_list(names) -> bytes:
    """A symbol list as kbuild feeds it on stdin: one name per line."""
    return "".join(f"{n}\n" for n in names).encode()


def symtypes_by_key(text: str) -> dict[str, str]:
    """Map each symtypes line's key to the full line (keys are unique within
    one object's block)."""
    lines = text.splitlines()
    by_key = {line.split(" ", 1)[0]: line for line in lines}
    assert len(by_key) == len(lines), "duplicate keys in one symtypes block"
    return by_key


def symver_by_name(stdout: str) -> dict[str, str]:
    """``#SYMVER name 0xcrc`` lines -> {name: '0xcrc'}."""
    out = {}
    for line in stdout.splitlines():
        tag, name, crc = line.split(" ")
        assert tag == "#SYMVER"
        out[name] = crc
    return out


def dumped_versions(stderr: str, names) -> dict[str, str]:
    """``--dump-versions`` lines (``name text``) for the given names."""
    wanted = set(names)
    out = {}
    for line in stderr.splitlines():
        name, _, text = line.partition(" ")
        if name in wanted:
            assert name not in out, f"{name} dumped twice"
            out[name] = text
    return out


def write_files(directory: Path, files: dict[str, str]) -> None:
    """Write auxiliary sources (headers) next to a fixture."""
    for name, text in files.items():
        (directory / name).write_text(text)
