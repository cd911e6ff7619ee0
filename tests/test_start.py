"""The drop-in's start: kbuild runs ``batchver gendwarfksyms`` once per
object, so answering ``--help`` (or a usage error) must not load the
versioning core, the release gate, the nightly, YAML, joblib or tqdm."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from .conftest import REPO

#: Prefixes of the modules a start-up must not import.
HEAVY = ("batchver.gendwarfksyms", "batchver.dwarf", "batchver.elf", "batchver.tree", "batchver.gate",
         "batchver.nightly", "yaml", "joblib", "tqdm", "argparse")

_PROBE = """
import sys
from batchver.cli import main
code = main(sys.argv[1:])
loaded = sorted(m for m in sys.modules if m.startswith({heavy!r}))
print(code, *loaded)
"""


#: What the drop-in's start does not import either, though an environment's
#: site packages may (an interpreter started without them shows it).
STANDARD = ("typing", "importlib.util")


def _loaded(*argv: str, heavy: tuple[str, ...] = HEAVY, flags: tuple[str, ...] = ()) -> tuple[str, list[str]]:
    """(exit code, the ``heavy`` modules loaded) of ``batchver ARGV`` in a fresh interpreter."""
    proc = subprocess.run([sys.executable, *flags, "-c", _PROBE.format(heavy=heavy), *argv], cwd=REPO,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    code, *loaded = proc.stdout.split()
    return code, loaded


@pytest.mark.parametrize("argv", [("gendwarfksyms", "--help"), ("gendwarfksyms", "--no-such-option"),
                                  ("gendwarfksyms",)])
def test_dropin_answers_without_loading_the_core(argv):
    code, loaded = _loaded(*argv)
    assert (code, loaded) == ("0" if "--help" in argv else "1", [])


def test_dropin_help_imports_no_typing():
    # each of these costs a few milliseconds of every start, which kbuild pays per object
    assert _loaded("gendwarfksyms", "--help", heavy=STANDARD, flags=("-S",)) == ("0", [])


def test_a_run_loads_the_core(tmp_path):
    # the probe can see what a start loads: versioning one object does load the core
    empty = tmp_path / "empty.o"
    empty.write_bytes(b"")
    code, loaded = _loaded("gendwarfksyms", str(empty))
    assert code == "0" and "batchver.gendwarfksyms.gendwarfksyms" in loaded


def test_a_one_job_run_starts_no_pool(tmp_path):
    """``batchver run --jobs 1`` versions every file in its own process, as
    joblib's sequential backend would, without importing joblib (which
    imports numpy where it is installed): that start is a noticeable part
    of a run over a few small objects.  Two jobs do use the pool."""
    from tools.build_example_tree import build

    tree = build(str(tmp_path / "tree"))
    code, loaded = _loaded("run", str(tree), "-o", str(tmp_path / "one"), "--jobs", "1", "--quiet")
    assert code == "0" and "batchver.tree.scheduler" in loaded and "joblib" not in loaded
    code, loaded = _loaded("run", str(tree), "-o", str(tmp_path / "two"), "--jobs", "2", "--quiet")
    assert code == "0" and "joblib" in loaded
    assert (tmp_path / "one" / "Module.symvers").read_text() == (tmp_path / "two" / "Module.symvers").read_text()


def test_pool_workers_import_only_the_tasks():
    # a pool worker unpickles functions of batchver.tree.tasks: importing it
    # must not bring the parent's progress bar, discovery or cache along
    probe = ("import sys, batchver.tree.tasks; print(*sorted(m for m in sys.modules if m.startswith("
             "('tqdm', 'batchver.tree.scheduler', 'batchver.tree.discover', 'batchver.tree.cache', "
             "'joblib', 'yaml'))))")
    proc = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert (proc.returncode, proc.stdout.split()) == (0, [])
    # and what the scheduler hands to the pool lives there
    from batchver.tree import scheduler, tasks

    handed = [scheduler.indexed, scheduler.started, scheduler.exit_with_parent, scheduler.run_object,
              scheduler.run_linked_file, scheduler.run_unit_groups, scheduler.run_file_range,
              scheduler.scan_file]
    assert {f.__module__ for f in handed} == {tasks.__name__}
