"""Shared test helpers: where the conformance corpus lives, and compiling
fixture sources at test time."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("BATCHVER_SHARED", REPO.parent / "shared"))
CORPUS = SHARED / "corpus"


def corpus_cases() -> list[tuple[str, Path, Path]]:
    """(case id, object path, expected dir/name prefix) for every export list
    under the shared corpus.  The corpus must be present: a missing corpus is
    a test failure, never a silent pass."""
    if not CORPUS.is_dir():
        raise RuntimeError(f"conformance corpus not found at {CORPUS} (set BATCHVER_SHARED)")
    cases = []
    for exports in sorted(CORPUS.glob("*/expected/*.exports")):
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
