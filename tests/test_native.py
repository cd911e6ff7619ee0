"""The compiled path and the pure path: which runs, that they agree, and that
an edited source is never shadowed by an older compiled module.

The suite as a whole runs on whatever path the install gave (CI installs
with a C compiler, so there it is the compiled one); the conformance tests
run again here on the pure path, in a child process with
``BATCHVER_PURE=1``.
"""

from __future__ import annotations

import json
import os
import pickle
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from batchver import native
from batchver.cli import main as cli_main
from batchver.gendwarfksyms.types import Ref, compile_pieces, pieces_text

from .conftest import REPO

PACKAGE = REPO / "batchver"
#: The tests that compare batchver with upstream's recorded outputs: every
#: expected file, both semantics, --stable.
CONFORMANCE = ["tests/test_corpus.py", "tests/test_kabi.py", "tests/test_kbuild_built_tree.py",
               "tests/test_linked_kbuild_semantics.py"]


def _hot_modules() -> list[str]:
    return runpy.run_path(str(REPO / "setup.py"), run_name="hot_modules_only")["hot_modules"]()


def _python(code: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(cwd), **env})


needs_compiled = pytest.mark.skipif(not native.COMPILED, reason=f"this install runs {native.STATUS}")


def test_ci_runs_the_compiled_path():
    # .ci/run installs with a C compiler: a run that fell back to the pure
    # modules there would leave the compiled path untested.
    if os.environ.get("CI"):
        assert native.COMPILED, native.STATUS


def test_every_compiled_module_is_strictly_typed():
    proc = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent",
                           *_hot_modules()], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_version_and_report_say_which_path_ran(tmp_path, capsys):
    with pytest.raises(SystemExit):
        cli_main(["--version"])
    assert capsys.readouterr().out.strip().endswith(native.STATUS)
    tree = tmp_path / "tree"
    subprocess.run([sys.executable, str(REPO / "tools" / "build_example_tree.py"), str(tree)], check=True,
                   capture_output=True)
    assert cli_main(["run", str(tree), "-o", str(tmp_path / "out"), "--quiet", "--jobs", "1"]) == 0
    assert json.loads((tmp_path / "out" / "report.json").read_text())["tool"]["path"] == native.STATUS


def test_pure_switch_names_itself(tmp_path):
    proc = _python("import batchver.native as n; print(n.STATUS)", REPO, BATCHVER_PURE="1")
    assert proc.returncode == 0, proc.stderr
    expected = "pure Python (BATCHVER_PURE=1)" if native.COMPILED else native.STATUS
    assert proc.stdout.strip() == expected


@needs_compiled
def test_an_edited_compiled_module_takes_effect(tmp_path):
    """An editable install leaves each compiled module beside its source:
    after an edit the source runs, and the run says why."""
    copy = tmp_path / "batchver"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    probe = ("import batchver.native as n, batchver.gendwarfksyms.symbols as s; "
             "print(n.STATUS); print(s.fnv32('x')); print(s.__file__.endswith('.py'))")
    before = _python(probe, tmp_path)
    assert before.stdout.split("\n")[0] == native.STATUS
    assert before.stdout.split("\n")[2] == "False"  # the compiled module
    source = copy / "gendwarfksyms" / "symbols.py"
    text = source.read_text()
    marker = "    h = 2166136261\n"
    assert marker in text
    source.write_text(text.replace(marker, "    return 7\n" + marker, 1))
    after = _python(probe, tmp_path)
    assert after.returncode == 0, after.stderr
    status, value, is_source = after.stdout.split("\n")[:3]
    assert status == ("pure Python (batchver/gendwarfksyms/symbols.py changed since it was compiled: "
                      "reinstall to compile again)")
    assert (value, is_source) == ("7", "True")


@needs_compiled
def test_an_unchanged_install_reads_no_source(tmp_path):
    """Sources with the size and modification time recorded at build are
    the ones compiled: the start hashes none of them (nor loads hashlib),
    while a source that only looks touched is hashed and still found equal."""
    copy = tmp_path / "batchver"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    probe = ("import sys, batchver.native as n; print(n.STATUS); print('hashlib' in sys.modules)")
    quiet = _python(probe, tmp_path)
    assert quiet.stdout.split("\n")[:2] == [native.STATUS, "False"], quiet.stderr
    source = copy / "gendwarfksyms" / "symbols.py"
    source.write_bytes(source.read_bytes())  # same bytes, a new modification time
    touched = _python(probe, tmp_path)
    assert touched.stdout.split("\n")[:2] == [native.STATUS, "True"], touched.stderr


@needs_compiled
def test_conformance_on_the_pure_path():
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *CONFORMANCE],
                          cwd=REPO, capture_output=True, text=True, env={**os.environ, "BATCHVER_PURE": "1"})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout.splitlines()[-1]


def test_compiled_pieces_cross_processes():
    # split files' partial type maps reach the merging process by pickle:
    # literal text stays text, and a reference stays a reference
    pieces = compile_pieces(["struct x {", " ", "s#y", " }"])
    back = pickle.loads(pickle.dumps(pieces))
    assert [type(p) for p in back] == [str, Ref, str]
    assert pieces_text(back) == "struct x { s#y }"
