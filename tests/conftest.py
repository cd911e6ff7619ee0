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

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "data"
LOCAL_CORPUS = DATA / "corpus"
SHARED = Path(os.environ.get("BATCHVER_SHARED", REPO.parent / "shared"))
CORPUS = SHARED / "corpus"
CORPUS_PARTS = ("fixtures", "debian-6.12.117-cloud", "linux-6.12-defconfig")
SHARED_MISSING = (f"shared corpus not found at {CORPUS} (set BATCHVER_SHARED to the directory "
                  "holding corpus/); only the in-repo corpus under tests/data was used")


def shared_corpus_present() -> bool:
    return all((CORPUS / part / "expected").is_dir() for part in CORPUS_PARTS)


def corpus_cases(root: Path) -> list[tuple[str, Path, Path]]:
    """(case id, object path, expected dir/name prefix) for every export list
    of a corpus laid out like tests/data/corpus."""
    cases = []
    for exports in sorted(root.glob("*/expected/*.exports")):
        top = exports.parent.parent
        stem = exports.name[: -len(".exports")]
        rel = stem.replace("+", "/")
        if top.name == "fixtures":
            obj = top / f"{stem}.o"
        elif (top / "kernel").is_dir():
            obj = top / "kernel" / f"{rel}.ko"
        else:
            obj = top / "objects" / f"{rel}.o"
        cases.append((f"{top.name}/{stem}", obj, exports.parent / stem))
    return cases


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

def run_dropin(args, stdin: bytes = b"") -> tuple[int, str, str]:
    """Run ``batchver gendwarfksyms`` in-process: (exit status, stdout, stderr)."""
    import io

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
