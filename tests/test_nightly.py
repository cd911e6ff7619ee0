"""Nightly runs: config validation (every error path, exact message), run
layout and history, crash safety, incremental reuse and its explanation,
bad input at run time, the trend page, and the Dask backend's equality with
a one-process run."""

from __future__ import annotations

import errno
import importlib.util
import json
import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from batchver.cli.nightly import history_main, nightly_main, validate_main
from batchver.nightly.config import ConfigError, load_config
from batchver.nightly.history import RunRecord, append_record, read_history
from batchver.nightly.runner import explain_cache, symbols_changed
from batchver.report import Counts, FileEntry, Options, Report, Timing, Tool, Toolchain
from batchver.charts import nice_ticks
from batchver.nightly.trend import format_table, render_trend

from .conftest import REPO

GATE = importlib.util.find_spec("batchver.gate") is not None


def write(directory: Path, text: str, name: str = "nightly.yaml") -> str:
    path = directory / name
    path.write_text(text)
    return str(path)


def problems(path: str, **kwargs) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path, **kwargs)
    return str(caught.value).splitlines()


def history(outroot: Path) -> list[dict]:
    """The history's records as the JSON each line holds."""
    return [r.to_json() for r in read_history(str(outroot)).records]


# -- config validation -------------------------------------------------------
TREE_KEYS = ("baseline, command, consumers, kind, name, path, rules, semantics, stable, stablelist, "
             "symtypes, timeout, vmlinux")
TOP_KEYS = "backend, cache, jobs, on_failure, output, reports, scheduler, stable, trees"


@pytest.mark.parametrize("text, expected", [
    ("trees: [\n  - name: x\n",
     ["F:2: malformed YAML: expected the node content, but found '-' (column 3), while parsing a "
      "flow node started at line 2"]),
    ("trees:\n  - name: a\n    path: .\n  foo\n",
     ["F:5: malformed YAML: could not find expected ':' (column 1), while scanning a simple key "
      "started at line 4"]),
    ("", ["F: empty config; expected a mapping with a 'trees' list"]),
    ("- 1\n", ["F:1: expected a mapping with a 'trees' list, got a list"]),
    ("jobs: 1\n", ["F:1: (top level): missing required key 'trees'"]),
    ("job: 2\ntrees:\n  - {name: a, path: .}\n",
     [f"F:1: job: unknown key (did you mean 'jobs'?); expected one of: {TOP_KEYS}"]),
    ("trees:\n  - name: a\n    path: .\n    stablelsit: x\n",
     [f"F:4: trees[0].stablelsit: unknown key (did you mean 'stablelist'?); expected one of: {TREE_KEYS}"]),
    ("trees:\n  - name: a\n    path: .\n    colour: red\n",
     [f"F:4: trees[0].colour: unknown key; expected one of: {TREE_KEYS}"]),
    ("jobs: 1\njobs: 2\ntrees:\n  - {name: a, path: .}\n",
     ["F:2: jobs: duplicate key (first given on line 1)"]),
    ("1: x\ntrees:\n  - {name: a, path: .}\n", ["F:1: (top level): expected a key name, got 1"]),
    ("trees: {name: a}\n", ["F:1: trees: expected a non-empty list of trees, got a mapping"]),
    ("trees: []\n", ["F:1: trees: expected a non-empty list of trees, got a list"]),
    ("trees:\n  - 42\n", ["F:2: trees[0]: expected a mapping with 'name' and 'path' or 'command', got 42"]),
    ("trees:\n  - path: .\n", ["F:2: trees[0]: missing required key 'name'"]),
    ("trees:\n  - name: a\n", ["F:2: trees[0]: expected 'path' (the tree) or 'command' (which "
                               "produces it), got neither"]),
    ("trees:\n  - name: a b\n    path: .\n",
     ["F:2: trees[0].name: expected a flavour name of letters, digits, '.', '_', '+' or '-' (it "
      "names the output directory), got 'a b'"]),
    ("trees:\n  - {name: a, path: .}\n  - {name: a, path: ..}\n",
     ["F:3: trees[1].name: duplicate tree name 'a' (first on line 2); expected unique names (each "
      "names an output directory)"]),
    ("jobs: two\ntrees:\n  - {name: a, path: .}\n",
     ["F:1: jobs: expected a whole number >= 0 (0 = all cores), got 'two'"]),
    ("jobs: -1\ntrees:\n  - {name: a, path: .}\n",
     ["F:1: jobs: expected a whole number >= 0 (0 = all cores), got -1"]),
    ("jobs: true\ntrees:\n  - {name: a, path: .}\n",
     ["F:1: jobs: expected a whole number >= 0 (0 = all cores), got True"]),
    ("stable: 1\ntrees:\n  - {name: a, path: .}\n", ["F:1: stable: expected true or false, got 1"]),
    ("trees:\n  - {name: a, path: ., symtypes: maybe}\n",
     ["F:2: trees[0].symtypes: expected true or false, got 'maybe'"]),
    ("trees:\n  - {name: a, path: ., kind: bilt}\n",
     ["F:2: trees[0].kind: expected one of auto, built, linked, got 'bilt'"]),
    ("trees:\n  - {name: a, path: ., semantics: cu}\n",
     ["F:2: trees[0].semantics: expected one of kbuild, file, got 'cu'"]),
    ("backend: spark\ntrees:\n  - {name: a, path: .}\n",
     ["F:1: backend: expected one of loky, threading, dask, got 'spark'"]),
    ("on_failure: retry\ntrees:\n  - {name: a, path: .}\n",
     ["F:1: on_failure: expected one of continue, stop, got 'retry'"]),
    ("reports: html\ntrees:\n  - {name: a, path: .}\n",
     ["F:1: reports: expected a list of report formats, got 'html'"]),
    ("reports:\n  - json\n  - pdf\ntrees:\n  - {name: a, path: .}\n",
     ["F:3: reports[1]: expected one of text, json, junit, html, got 'pdf'"]),
    ("backend: dask\nscheduler: localhost:8786\ntrees:\n  - {name: a, path: .}\n",
     ["F:2: scheduler: expected a Dask scheduler address tcp://HOST:PORT (or tls://), got "
      "'localhost:8786'"]),
    ("scheduler: tcp://h:8786\ntrees:\n  - {name: a, path: .}\n",
     ["F:1: scheduler: only used with 'backend: dask'; expected 'backend: dask' or no scheduler"]),
    ("trees:\n  - name: a\n    path: .\n    timeout: 5\n",
     ["F:4: trees[0].timeout: only used with 'command'; expected a 'command' or no timeout"]),
    ("reports: []\ntrees:\n  - {name: a, path: .}\n",
     ["F:1: reports: expected a non-empty list of report formats, got an empty list"]),
    ("trees:\n  - {name: a, command: make, timeout: 0}\n",
     ["F:2: trees[0].timeout: expected a number of seconds > 0, got 0"]),
    ("cache: 3\ntrees:\n  - {name: a, path: .}\n",
     ["F:1: cache: expected a directory path, or false for no cache, got 3"]),
    ("trees:\n  - {name: a, command: ''}\n",
     ["F:2: trees[0].command: expected a non-empty string, got ''"]),
    ("output: [a]\ntrees:\n  - {name: a, path: .}\n", ["F:1: output: expected a non-empty string, got a list"]),
    ("trees:\n  - name: a\n    path: .\n    stablelist:\n      - a.txt\n      - {x: 1}\n",
     ["F:6: trees[0].stablelist[1]: expected a non-empty string, got a mapping"]),
    ("trees:\n  - name: a\n    path: ~\n",
     ["F:3: trees[0].path: expected a non-empty string, got nothing (null)"]),
    # Several problems are all reported, in line order.
    ("jobs: x\ntrees:\n  - {name: a, path: ., kind: k}\n",
     ["F:1: jobs: expected a whole number >= 0 (0 = all cores), got 'x'",
      "F:3: trees[0].kind: expected one of auto, built, linked, got 'k'"]),
])
def test_config_errors(tmp_path, text, expected):
    path = write(tmp_path, text)
    assert problems(path) == [line.replace("F", path, 1) for line in expected]


def test_config_unreadable_inputs(tmp_path):
    missing = str(tmp_path / "nope.yaml")
    assert problems(missing) == [f"{missing}: cannot read config: No such file or directory"]
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"trees: \xff\n")
    assert problems(str(binary)) == [f"{binary}: not UTF-8 text (invalid start byte at byte 7)"]


def test_config_missing_paths(tmp_path):
    (tmp_path / "rules.txt").mkdir()
    path = write(tmp_path, "trees:\n  - name: a\n    path: gone\n    vmlinux: .\n"
                 "    baseline: base\n    stablelist: [s1.txt]\n    rules: rules.txt\n"
                 "  - name: b\n    command: make tree\n    path: later\n")
    assert problems(path, check_paths=True) == [
        f"{path}:3: trees[0].path: expected an existing directory; '{tmp_path}/gone' does not exist",
        f"{path}:4: trees[0].vmlinux: expected an existing file; '{tmp_path}' is not a file",
        f"{path}:5: trees[0].baseline: expected an existing file or directory; '{tmp_path}/base' does not exist",
        f"{path}:6: trees[0].stablelist: expected an existing file; '{tmp_path}/s1.txt' does not exist",
        f"{path}:7: trees[0].rules: expected an existing file; '{tmp_path}/rules.txt' is not a file",
    ]  # trees[1].path is made by its command: not required before it ran
    config = load_config(path)  # the nightly itself checks paths per tree, at run time
    assert [t.name for t in config.trees] == ["a", "b"]


def test_config_defaults_and_relative_paths(tmp_path):
    path = write(tmp_path, "stable: true\ntrees:\n  - name: a\n    path: t\n    baseline: previous\n"
                 "  - name: b\n    path: /abs\n    stable: false\n    stablelist: s.txt\n")
    config = load_config(path)
    assert (config.output, config.cache, config.jobs, config.reports, config.backend,
            config.on_failure) == (str(tmp_path / "results"), str(tmp_path / "results" / ".cache"),
                                   0, ["json", "text"], "loky", "continue")
    a, b = config.trees
    assert (a.path, a.baseline, a.stable, a.symtypes) == (str(tmp_path / "t"), "previous", True, True)
    assert (b.path, b.stable, b.stablelist) == ("/abs", False, [str(tmp_path / "s.txt")])
    assert load_config(write(tmp_path, "cache: false\ntrees: [{name: a, path: .}]\n", "c.yaml")).cache is None


def test_validate_command(tmp_path, capsys):
    good = write(tmp_path, "trees:\n  - {name: a, path: .}\n", "good.yaml")
    bad = write(tmp_path, "trees:\n  - {name: a, path: nowhere}\n", "bad.yaml")
    assert validate_main([good]) == 0
    assert capsys.readouterr().out == f"{good}: valid (1 tree(s): a; output {tmp_path}/results)\n"
    assert validate_main([good, bad]) == 2
    err = capsys.readouterr().err
    assert err == (f"{bad}:2: trees[0].path: expected an existing directory; '{tmp_path}/nowhere' "
                   "does not exist\n")
    assert validate_main([bad, "--no-path-check"]) == 0


def _trees(config) -> list[tuple]:
    return [(t.name, t.path, t.command, t.kind, t.semantics, t.stable, t.baseline, t.stablelist, t.rules)
            for t in config.trees]


def test_shipped_examples_mean_what_their_comments_say():
    """Every key of the shipped configs, as written there (relative paths are
    relative to the config's directory; stable: is inherited by trees)."""
    single = load_config(str(REPO / "configs" / "nightly-single.yaml"))
    assert (single.output, single.jobs, single.stable, single.cache, single.reports, single.backend,
            single.on_failure) == (str(REPO / "results" / "nightly"), 0, False,
                                   str(REPO / "results" / "nightly" / ".cache"), ["text", "json"],
                                   "loky", "continue")
    assert _trees(single) == [
        ("debian-cloud-amd64", "/usr/lib/debug/lib/modules/6.12.117+deb12-cloud-amd64", None, "linked",
         "kbuild", False, "previous", [], None)]
    assert single.trees[0].symtypes is True
    multi = load_config(str(REPO / "configs" / "release-multi-flavour.yaml"))
    assert (multi.output, multi.stable, multi.cache, multi.reports, multi.backend, multi.scheduler,
            multi.on_failure) == ("/srv/kabi/results", True, "/srv/kabi/cache",
                                  ["text", "json", "junit", "html"], "dask",
                                  "tcp://kabi-scheduler.example.org:8786", "continue")
    assert _trees(multi) == [
        ("cloud-amd64", "/srv/kabi/trees/cloud-amd64/usr/lib/debug/lib/modules/6.12.117+deb12-cloud-amd64",
         "rm -rf /srv/kabi/trees/cloud-amd64 && dpkg-deb -x "
         "/srv/kabi/incoming/linux-image-cloud-amd64-dbg.deb /srv/kabi/trees/cloud-amd64",
         "linked", "kbuild", True, "/srv/kabi/baselines/6.12.115-cloud-amd64",
         ["/srv/kabi/stablelist/common", "/srv/kabi/stablelist/cloud-amd64"], "/srv/kabi/severity-rules"),
        ("rt-amd64", None, "./unpack-flavour rt-amd64", "linked", "kbuild", True,
         "/srv/kabi/baselines/6.12.115-rt-amd64/Module.symvers", ["/srv/kabi/stablelist/common"],
         "/srv/kabi/severity-rules"),
        ("amd64-nightly-build", "/srv/kabi/build/amd64", None, "built", "kbuild", False, "previous", [],
         None)]
    assert multi.trees[0].timeout == 1800


# -- running -----------------------------------------------------------------
def nightly(config: str, *extra: str) -> int:
    return nightly_main([config, "-q", *extra])


def test_run_layout_history_reuse_and_trend(example_tree, tmp_path, capsys):
    out = tmp_path / "out"
    config = write(tmp_path, f"output: out\njobs: 1\nreports: [json]\ntrees:\n"
                   f"  - name: demo\n    path: {example_tree}\n    baseline: previous\n")
    assert nightly(config) == 0
    assert nightly(config, "--explain-cache") == 0
    explained = capsys.readouterr().err
    assert "[demo]   reused lib/util.o: same bytes, exports, options and batchver code\n" in explained
    first, second = history(out)
    assert first["tree"] == second["tree"] == "demo"
    assert first["run_dir"] != second["run_dir"]  # runs never overwrite each other
    for record in (first, second):
        run_dir = out / record["run_dir"]
        assert run_dir.parent == out / "demo" and run_dir.name.endswith("Z") or "Z-" in run_dir.name
        assert {"Module.symvers", "report.json", "run.json", "symtypes"} <= set(os.listdir(run_dir))
        assert json.loads((run_dir / "run.json").read_text()) == record
        assert record["counts"]["exports"] == 11 and record["status"] == "ok"
    assert (first["cache"]["hits"], first["cache"]["recomputed_count"]) == (0, 5)
    assert first["cache"]["recomputed"][0] == {
        "file": "kernel/core.o", "why": "no cached result, and no earlier run of this tree to compare with"}
    assert first["check"] == {"status": "no baseline yet",
                              "message": "baseline: previous, and no earlier completed run"}
    assert (second["cache"]["hits"], second["cache"]["hit_rate"]) == (5, 1.0)
    # An unchanged run's symtypes are the same files: linked, not written again.
    symtypes = sorted((out / first["run_dir"] / "symtypes").rglob("*.symtypes"))
    assert len(symtypes) == 3
    for earlier in symtypes:
        later = out / second["run_dir"] / earlier.relative_to(out / first["run_dir"])
        assert later.read_bytes() == earlier.read_bytes() and later.stat().st_ino == earlier.stat().st_ino
    assert second["changed"] == {"added": 0, "removed": 0, "changed": 0, "total": 0}
    assert second["baseline"] == str(out / first["run_dir"])
    if GATE:
        assert second["check"]["status"] == "pass" and second["check"]["reports"] == ["check.json"]
        assert (out / second["run_dir"] / "check.json").is_file()
    assert (out / "trend.html").is_file()  # refreshed by every nightly
    assert history_main([str(out), "--html", str(tmp_path / "t.html")]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["run", "(UTC)", "tree", "status", "exports", "changed", "failures",
                                "wall", "cache", "hits", "check"]
    assert len(table) == 4 and table[3].split()[2:6] == ["demo", "ok", "11", "0"]
    page = (tmp_path / "t.html").read_text()
    assert page.count("<svg") == 5 and "src=" not in page and "<script" not in page


def rebuild_one(tree_dir: Path, cc: str) -> None:
    """Change demo_sum's return type in lib/util.c and recompile that object only."""
    source = tree_dir / "lib" / "util.c"
    source.write_text(source.read_text().replace("int demo_sum(int count, ...)",
                                                 "long demo_sum(int count, ...)"))
    subprocess.run([cc, "-c", "-gdwarf-5", "-O2", "-fno-pic", "-o", "lib/util.o", "lib/util.c"],
                   cwd=tree_dir, check=True)


def test_one_changed_object_is_the_only_one_parsed(example_tree, tmp_path, cc, capsys):
    work = tmp_path / "tree"
    shutil.copytree(example_tree, work, symlinks=True)
    config = write(tmp_path, f"output: out\njobs: 1\ntrees:\n  - name: demo\n    path: {work}\n"
                   f"    baseline: previous\n")
    assert nightly(config) == 0
    rebuild_one(work, cc)
    status = nightly(config, "--explain-cache")
    record = history(tmp_path / "out")[-1]
    assert record["cache"]["recomputed"] == [{"file": "lib/util.o",
                                              "why": "file contents changed since the previous run"}]
    assert (record["cache"]["hits"], record["cache"]["lookups"]) == (4, 5)
    assert record["changed"] == {"added": 0, "removed": 0, "changed": 1, "total": 1}
    assert "[demo]   parsed lib/util.o: file contents changed since the previous run" in capsys.readouterr().err
    # Only the changed module's symtypes file is new; the others are linked.
    first, second = (tmp_path / "out" / r["run_dir"] / "symtypes" for r in history(tmp_path / "out"))
    linked = {p.relative_to(second).as_posix(): p.stat().st_ino == (first / p.relative_to(second)).stat().st_ino
              for p in second.rglob("*.symtypes")}
    assert linked == {"vmlinux.symtypes": False, "drivers/demo/demo.symtypes": True,
                      "drivers/single/single.symtypes": True}
    if GATE:  # no stablelist: every baseline export is protected, so a CRC change fails
        assert (status, record["status"], record["check"]["status"]) == (1, "failed", "fail")
    else:
        assert status == 0


def test_unreadable_baseline_is_bad_input_not_fatal(example_tree, tmp_path):
    """A baseline the gate cannot read fails its tree with the gate's own
    message; the tree before it keeps its result."""
    config = write(tmp_path, f"output: out\njobs: 1\ntrees:\n  - name: demo\n    path: {example_tree}\n"
                   f"  - name: bad\n    path: {example_tree}\n    baseline: nightly.yaml\n")
    assert nightly(config) == 1
    good, bad = history(tmp_path / "out")
    assert good["status"] == "ok"
    assert (bad["status"], bad["changed"]) == ("failed", None)
    assert bad["check"] == {"status": "bad input", "exit": 2, "reports": [], "message":
                            f"batchver check: error: {config}:1: expected 'crc<TAB>symbol"
                            "<TAB>module<TAB>export type<TAB>namespace', got 2 field(s): 'output: out'"}


def test_corrupt_cache_entry_is_discarded_and_recomputed(example_tree, tmp_path, capsys):
    config = write(tmp_path, f"output: out\njobs: 1\ntrees:\n  - name: demo\n    path: {example_tree}\n")
    assert nightly(config) == 0
    entries = sorted((tmp_path / "out" / ".cache").rglob("*.json"))
    assert len(entries) == 5
    entries[0].write_text("0" * 64 + "\n[]")  # a checksum that does not match
    entries[1].write_bytes(entries[1].read_bytes()[:40])  # cut inside the checksum line
    assert nightly(config, "--explain-cache") == 0
    first, second = history(tmp_path / "out")
    assert second["cache"]["hits"] == 3 and second["cache"]["recomputed_count"] == 2
    reasons = {r["why"] for r in second["cache"]["recomputed"]}
    names = [str(e.relative_to(e.parent.parent)) for e in entries[:2]]
    assert reasons == {f"corrupt entry {names[0]} discarded (checksum mismatch); recomputed",
                       f"corrupt entry {names[1]} discarded (no checksum line: truncated or not a "
                       "cache entry); recomputed"}
    out = tmp_path / "out"
    assert (out / first["run_dir"] / "Module.symvers").read_bytes() == \
        (out / second["run_dir"] / "Module.symvers").read_bytes()
    assert nightly(config) == 0  # the recomputed entries were stored again, and are sound
    assert history(out)[-1]["cache"]["hits"] == 5


def test_explain_cache_reasons():
    def report(version="0.1.0", code="c0de", stable=False, files=()):
        return Report(tool=Tool(name="batchver", version=version, code=code),
                      options=Options(semantics="kbuild", stable=stable, symtypes=False),
                      toolchain=Toolchain(), counts=Counts(exports=0), exports={},
                      files=[FileEntry(file=f, module="vmlinux", cache=c, exports=n, status=s)
                             for f, c, n, s in files],
                      timing=Timing(cache_hits=0, cache_lookups=len(files)))
    now = report(files=[("a.o", "absent", 2, "ok"), ("b.o", "absent", 1, "ok"), ("c.o", "absent", 3, "ok"),
                        ("d.o", "hit", 1, "ok"), ("e.o", "absent", 1, "ok")])
    before = report(files=[("a.o", "hit", 2, "ok"), ("b.o", "absent", 1, "failed"), ("c.o", "hit", 2, "ok"),
                           ("d.o", "hit", 1, "ok")])
    assert explain_cache(now, before) == [
        ("a.o", "parsed", "file contents changed since the previous run"),
        ("b.o", "parsed", "failed in the previous run (failures are never cached)"),
        ("c.o", "parsed", "export list changed (2 -> 3 exports)"),
        ("d.o", "reused", "same bytes, exports, options and batchver code"),
        ("e.o", "parsed", "new file (not in the previous run)"),
    ]
    assert explain_cache(now, report(version="0.0.9", code="01d"))[0][2] == \
        "batchver's code changed (version 0.0.9 -> 0.1.0, code 01d -> c0de); results of other code " \
        "are never reused"
    # the same version number with other code (a fix between releases) is no reuse either
    assert explain_cache(now, report(code="01d"))[0][2].startswith("batchver's code changed (version 0.1.0 -> 0.1.0")
    assert explain_cache(now, report(stable=True))[0][2] == "options changed (stable: True -> False)"
    assert explain_cache(now, before, same_cache=False)[0][2] == "cache location changed since the previous run"
    missed = report(files=[("a.o", "absent", 2, "ok")])
    assert explain_cache(missed, before)[0][2] == "no entry for any file: the cache was emptied or is new"


def test_symbols_changed(tmp_path):
    old, new = tmp_path / "old", tmp_path / "new"
    old.write_text("0x00000001\ta\tvmlinux\tEXPORT_SYMBOL\t\n0x2\tb\tm\tEXPORT_SYMBOL\t\n"
                   "0x00000003\tc\tm\tEXPORT_SYMBOL_GPL\t\n0x4\tgone\tm\tEXPORT_SYMBOL\n")
    new.write_text("0x1\ta\tvmlinux\tEXPORT_SYMBOL\t\n0x00000002\tb\tm2\tEXPORT_SYMBOL\t\n"
                   "0x00000003\tc\tm\tEXPORT_SYMBOL_GPL\tNS\n0x5\tnew\tm\tEXPORT_SYMBOL\t\n")
    assert symbols_changed(str(old), str(new)) == {"added": 1, "removed": 1, "changed": 2, "total": 4}


# -- failures, bad input and crash safety ---------------------------------------
def test_on_failure_stop_and_continue(example_tree, tmp_path, capsys):
    body = (f"output: out\njobs: 1\ntrees:\n  - name: broken\n    command: echo boom >&2; exit 3\n"
            f"  - name: gone\n    path: {tmp_path}/gone\n  - name: made\n    command: echo {example_tree}\n")
    stop = write(tmp_path, "on_failure: stop\n" + body, "stop.yaml")
    assert nightly(stop) == 1
    records = history(tmp_path / "out")
    assert [(r["tree"], r["status"]) for r in records] == [("broken", "error"), ("gone", "skipped"),
                                                           ("made", "skipped")]
    assert records[0]["error"] == f"{stop}:6: trees[0].command: command exited with status 3: boom"
    assert records[1]["error"] == "on_failure: stop after broken failed"
    assert f"[broken] error: {stop}:6: trees[0].command: command exited with status 3: boom" in \
        capsys.readouterr().err
    go_on = write(tmp_path, "on_failure: continue\n" + body, "continue.yaml")
    assert nightly(go_on) == 1
    records = history(tmp_path / "out")[3:]
    assert [(r["tree"], r["status"]) for r in records] == [("broken", "error"), ("gone", "error"),
                                                           ("made", "ok")]
    assert records[1]["error"] == (f"{go_on}:8: trees[1].path: expected an existing directory; "
                                   f"'{tmp_path}/gone' does not exist")
    assert records[2]["tree_path"] == str(example_tree)
    assert not list((tmp_path / "out").glob("*/*.partial"))


def test_a_failed_file_fails_the_tree(example_tree, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(example_tree, bad, symlinks=True)
    (bad / "kernel" / "corrupt.o").write_bytes(b"\x7fELF garbage __export_symbol_x" + b"\0" * 64)
    os.remove(bad / "vmlinux.a")  # attribute every object outside modules to vmlinux
    config = write(tmp_path, f"output: out\njobs: 1\ntrees:\n  - name: bad\n    path: {bad}\n")
    assert nightly(config) == 1
    record = history(tmp_path / "out")[0]
    assert (record["status"], record["error"]) == ("failed", None)
    assert record["counts"] == {"files": 6, "failed_files": 1, "incomplete_files": 0, "modules": 3,
                                "exports": 11, "versioned": 11, "no_information": 0}
    assert (tmp_path / "out" / record["run_dir"] / "Module.symvers").is_file()  # outputs kept


def test_command_output_problems(tmp_path):
    config = write(tmp_path, "output: out\ntrees:\n  - name: quiet\n    command: 'true'\n"
                   "  - name: slow\n    command: sleep 5\n    timeout: 0.2\n"
                   "  - name: nodir\n    command: echo not-a-dir\n"
                   "  - name: empty\n    command: mkdir -p empty && echo empty\n")
    assert nightly(config) == 1
    assert [r["error"] for r in history(tmp_path / "out")] == [
        f"{config}:4: trees[0].command: command printed no tree path (expected the tree's directory "
        "on its last line of output, or set 'path')",
        f"{config}:6: trees[1].command: command did not finish within 0.2 s (timeout)",
        f"{config}:9: trees[2].command: the command's last line 'not-a-dir' is not a directory "
        "(expected the tree's path)",
        f"{config}:11: trees[3].command: no exporting files found in {tmp_path}/empty"]


def test_full_disk_is_named_and_leaves_nothing_half_written(example_tree, tmp_path, monkeypatch, capsys):
    import batchver.tree.outputs

    def full(path, text, same_as=None):
        raise OSError(errno.ENOSPC, "No space left on device", path)

    config = write(tmp_path, f"output: out\njobs: 1\ntrees:\n  - name: demo\n    path: {example_tree}\n")
    monkeypatch.setattr(batchver.tree.outputs, "atomic_write", full)
    assert nightly(config) == 1
    record = history(tmp_path / "out")[0]
    assert record["status"] == "error" and record["run_dir"] is None
    assert record["error"].startswith(f"cannot write outputs under {tmp_path}/out: {tmp_path}/out/demo/")
    assert ".partial/.batchver-staging-" in record["error"]  # staged: nothing old was touched
    assert record["error"].endswith("/symtypes/drivers/demo/demo.symtypes: No space left on device")
    assert os.listdir(tmp_path / "out" / "demo") == []  # the partial directory was removed

    def no_history(outroot, record):
        raise OSError(errno.ENOSPC, "No space left on device", outroot + "/history.jsonl")

    monkeypatch.setattr("batchver.nightly.runner.append_record", no_history)
    assert nightly(config) == 2
    assert capsys.readouterr().err.endswith(
        f"batchver nightly: cannot write the history {tmp_path}/out/history.jsonl: No space left on device\n")


def test_killed_run_keeps_history_and_next_run_uses_cache(example_tree, tmp_path, monkeypatch):
    import batchver.tree.pipeline

    config = write(tmp_path, f"output: out\njobs: 1\ntrees:\n  - name: one\n    path: {example_tree}\n"
                   f"  - name: two\n    path: {example_tree}\n    stable: true\n")
    assert nightly(config) == 0
    hist = tmp_path / "out" / "history.jsonl"
    before = hist.read_bytes()
    real_run = batchver.tree.pipeline.run
    calls = []

    def killed_on_second_tree(discovery, opts):
        calls.append(opts.stable)
        if opts.stable:
            raise KeyboardInterrupt  # as if killed while versioning the second tree
        return real_run(discovery, opts)

    monkeypatch.setattr(batchver.tree.pipeline, "run", killed_on_second_tree)
    assert nightly(config) == 130  # one line, exit 130, as for Ctrl-C
    monkeypatch.setattr(batchver.tree.pipeline, "run", real_run)
    after = hist.read_bytes()
    assert after.startswith(before) and after.count(b"\n") == 3  # only tree one's line was added
    assert not list((tmp_path / "out").glob("*/*.partial"))
    # A torn last line (a writer killed mid-line) is skipped, never fatal,
    # and the next record starts on a line of its own.
    with open(hist, "ab") as handle:
        handle.write(b'{"tree": "two", "sta')
    assert nightly(config) == 0
    read = read_history(str(tmp_path / "out"))
    assert read.skipped == [f"{hist}:4: unreadable line (Unterminated string starting at: line 1 "
                            "column 17 (char 16)); skipped"]
    assert [r.tree for r in read.records] == ["one", "two", "one", "one", "two"]
    assert [r.cache["hit_rate"] for r in read.records[-2:]] == [1.0, 1.0]


def test_history_reader_and_command_errors(tmp_path, capsys):
    out = tmp_path / "out"
    assert history_main([str(out)]) == 2
    assert capsys.readouterr().err == (f"batchver history: cannot read {out}/history.jsonl: No such "
                                       "file or directory (expected the output root of a nightly run)\n")
    append_record(str(out), RunRecord(tree="a", run_id="20260101T000000Z", status="ok"))
    (out / "history.jsonl").open("ab").write(b"[1, 2]\n{\"tree\": \"b\"")
    read = read_history(str(out))
    assert [r.tree for r in read.records] == ["a"]
    assert read.skipped == [
        f"{out}/history.jsonl:2: unreadable line (not a history record (no 'tree')); skipped",
        f"{out}/history.jsonl:3: incomplete line (a run killed while writing it?); skipped"]
    assert history_main([str(out), "--tree", "zzz", "--no-html"]) == 2
    assert capsys.readouterr().err.endswith(f"batchver history: no runs of zzz in {out}/history.jsonl\n")
    config = write(tmp_path, "trees:\n  - {name: a, path: .}\n  - {name: b, path: .}\n")
    assert nightly_main([config, "--tree", "zzz"]) == 2
    assert capsys.readouterr().err == (f"batchver nightly: --tree zzz: no such tree in {config} "
                                       "(expected one of: a, b)\n")
    broken = write(tmp_path, "trees: 3\n", "broken.yaml")
    assert nightly_main([broken]) == 2  # nothing runs on an invalid config
    assert capsys.readouterr().err == f"{broken}:1: trees: expected a non-empty list of trees, got 3\n"
    assert not (tmp_path / "results").exists()


# -- trend page ----------------------------------------------------------------
def record(tree: str, night: int, status: str = "ok", exports: int | None = 100, changed: int | None = 0,
           failed: int = 0, wall: float = 10.0, hit: float | None = 1.0,
           error: str | None = None) -> RunRecord:
    return RunRecord(tree=tree, run_id=f"202601{night:02d}T020000Z", status=status, error=error,
                     counts=None if exports is None else {"exports": exports, "failed_files": failed},
                     changed=None if changed is None else {"total": changed}, wall_seconds=wall,
                     cache=None if hit is None else {"hit_rate": hit}, check={"status": "pass"})


def test_trend_table_and_page():
    records = [record("cloud", 1, changed=None, wall=600.0, hit=0.0),
               record("rt", 1, exports=90, wall=500.0, hit=0.0),
               record("cloud", 2, exports=101, changed=3, wall=12.5),
               record("rt", 2, status="error", exports=None, changed=None, hit=None,
                      error="trees[1].path: gone & <missing>"),
               record("cloud", 3, status="failed", failed=2, changed=40, wall=30.0, hit=0.995)]
    assert format_table(records[:2]) == (
        "run (UTC)         tree   status  exports  changed  failures  wall     cache hits  check\n"
        "----------------  -----  ------  -------  -------  --------  -------  ----------  -----\n"
        "2026-01-01 02:00  cloud  ok      100      -        0         600.0 s  0.0%        pass\n"
        "2026-01-01 02:00  rt     ok      90       0        0         500.0 s  0.0%        pass\n")
    page = render_trend(records, "T & trends", "/srv/out")
    assert page.startswith("<!DOCTYPE html>") and "<title>T &amp; trends</title>" in page
    assert page.count("<svg") == 5 and page.count("<polyline") >= 5
    assert "5 runs of 2 tree(s) over 3 night(s) in /srv/out" in page
    # the error night is a red cross with its message on every plot, never a zero
    assert page.count("rt 2026-01-02 02:00: no outputs: trees[1].path: gone &amp; &lt;missing&gt;") == 5
    assert "<title>cloud 2026-01-03 02:00: 99.5% (failed)</title>" in page
    assert "<title>cloud 2026-01-02 02:00: 3 (ok)</title>" in page
    assert nice_ticks(600) == [0, 200, 400, 600] and nice_ticks(0) == [0.0, 1.0]
    assert nice_ticks(7) == [0, 2, 4, 6, 8]


# -- Dask backend ---------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_dask_backend_outputs_equal_one_process(example_tree, tmp_path):
    distributed = pytest.importorskip("distributed")
    body = f"cache: false\ntrees:\n  - name: demo\n    path: {example_tree}\n"
    local = write(tmp_path, f"output: local\njobs: 1\n{body}", "local.yaml")
    assert nightly(local) == 0
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        dask = write(tmp_path, f"output: dask\nbackend: dask\nscheduler: {cluster.scheduler_address}\n{body}",
                     "dask.yaml")
        assert nightly(dask) == 0
    one, two = (tmp_path / name / history(tmp_path / name)[0]["run_dir"] for name in ("local", "dask"))
    files = sorted(str(p.relative_to(one)) for p in one.rglob("*") if p.is_file() and p.name != "run.json")
    assert files == sorted(str(p.relative_to(two)) for p in two.rglob("*") if p.is_file() and p.name != "run.json")
    assert len(files) == 8  # Module.symvers, report.json, three symtypes files and their locations
    for rel in files:
        if rel == "report.json":
            reports = [json.loads((d / rel).read_text()) for d in (one, two)]
            assert reports[0].pop("timing")["jobs"] == 1
            reports[1].pop("timing")
            assert reports[0] == reports[1]
        else:
            assert (one / rel).read_bytes() == (two / rel).read_bytes(), rel


def test_unreachable_scheduler_is_named(example_tree, tmp_path):
    pytest.importorskip("distributed")
    port = _free_port()
    config = write(tmp_path, f"output: out\nbackend: dask\nscheduler: tcp://127.0.0.1:{port}\n"
                   f"trees:\n  - name: demo\n    path: {example_tree}\n")
    assert nightly(config) == 1
    error = history(tmp_path / "out")[0]["error"]
    assert error.startswith(f"{config}:3: scheduler: cannot reach dask scheduler tcp://127.0.0.1:{port}: ")
