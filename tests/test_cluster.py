"""``batchver run --scheduler``: a real Dask cluster, started the ordinary
way (``dask scheduler`` and ``dask worker`` processes on localhost), gives
the same outputs as one local process, split files included."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from batchver.cli import main as cli_main

from .conftest import compile_c, link_vmlinux

# Three units, each with its own types and an export declared the way
# EXPORT_SYMBOL does in an object (.export_symbol label: license, namespace).
UNITS = {
    "a": "struct a_state { int count; long total; };\n"
         "int a_fn(struct a_state *s) { return s->count; }\n",
    "b": "struct b_node { struct b_node *next; unsigned char key[4]; };\n"
         "long b_fn(struct b_node *n, int k) { return n ? n->key[k] : 0; }\n",
    "c": "union c_word { int i; float f; };\n"
         "typedef union c_word c_word_t;\n"
         "c_word_t c_fn(c_word_t w) { return w; }\n",
}


def _export(name: str, gpl: bool) -> str:
    license_ = "GPL" if gpl else ""
    return (f'static const char __export_symbol_{name}[] __attribute__((used, '
            f'section(".export_symbol"))) = "{license_}\\0";\n')


@pytest.fixture(scope="module")
def linked_tree(tmp_path_factory, cc) -> Path:
    """A linked file of three CUs, laid out as a linked tree."""
    work = tmp_path_factory.mktemp("cluster")
    objects = [str(compile_c(work, body + _export(f"{name}_fn", name != "a"), name))
               for name, body in UNITS.items()]
    tree = work / "tree"
    tree.mkdir()
    link_vmlinux(objects, tree / "vmlinux")
    return tree


def _wait_for(predicate, what: str, seconds: float = 60.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


@pytest.fixture
def cluster(tmp_path):
    """A scheduler and two single-threaded worker processes on 127.0.0.1."""
    distributed = pytest.importorskip("distributed")
    dask = shutil.which("dask")
    if dask is None:
        pytest.skip("the 'dask' command (package distributed) is not on PATH")
    info = tmp_path / "scheduler.json"
    common = ["--no-dashboard"]
    procs = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", "0",
                               "--scheduler-file", str(info), *common],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        _wait_for(lambda: info.is_file() and info.stat().st_size > 0, "the scheduler file")
        address = json.loads(info.read_text())["address"]
        procs.append(subprocess.Popen([dask, "worker", address, "--nworkers", "2", "--nthreads", "1",
                                       "--host", "127.0.0.1", *common],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        with distributed.Client(address, timeout=30) as client:
            _wait_for(lambda: len(client.scheduler_info()["workers"]) >= 2, "two workers")
        yield address
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def _outputs(out: Path) -> dict[str, object]:
    found: dict[str, object] = {}
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        rel = str(path.relative_to(out))
        if rel == "report.json":
            report = json.loads(path.read_text())
            report.pop("timing")
            found[rel] = report
        else:
            found[rel] = path.read_bytes()
    return found


@pytest.mark.parametrize("semantics", ["kbuild", "file"])
def test_cluster_run_equals_one_process(linked_tree, cluster, tmp_path, semantics):
    common = [str(linked_tree), "--kind", "linked", "--semantics", semantics, "--symtypes",
              "--split-mb", "0", "--quiet"]
    assert cli_main(["run", *common, "-o", str(tmp_path / "local"), "--jobs", "1"]) == 0
    assert cli_main(["run", *common, "-o", str(tmp_path / "dask"), "--scheduler", cluster]) == 0
    local, remote = _outputs(tmp_path / "local"), _outputs(tmp_path / "dask")
    assert set(local) == {"Module.symvers", "report.json", "symtypes/vmlinux.symtypes",
                          "symtypes/vmlinux.locations.jsonl"}
    assert remote == local
    timing = json.loads((tmp_path / "local" / "report.json").read_text())["timing"]
    assert timing["split_into"]["vmlinux"] > 1  # the file really was cut into unit ranges
