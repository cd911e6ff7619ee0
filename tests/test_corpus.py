"""Byte-for-byte conformance with upstream gendwarfksyms on the corpora.

Every object of the in-repo corpus (tests/data/corpus) and, when present,
of the shared corpus is run through ``batchver gendwarfksyms`` with ``-T``,
with and without ``--stable``, and stdout and the symtypes file are compared
with upstream's recorded outputs.  A shared case that is also in the repo is
run once.  The sources under tests/data/built are compiled here and compared
the same way, stderr of ``--dump-versions`` included.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from batchver.cli.gendwarfksyms import main as dropin_main
from batchver.dwarf.reader import DwarfReader
from batchver.elf.file import ElfObject
from batchver.gendwarfksyms import gendwarfksyms as core

from .conftest import (CORPUS, CORPUS_PARTS, LOCAL_CORPUS, SHARED_MISSING, corpus_cases, expected_tool,
                       run_dropin, shared_corpus_present)

LOCAL = corpus_cases(LOCAL_CORPUS)
SHARED_CASES = corpus_cases(CORPUS) if shared_corpus_present() else []
_local_ids = {case[0] for case in LOCAL}
CASES = [pytest.param(case, id=case[0]) for case in LOCAL] + [
    pytest.param(case, id=f"shared/{case[0]}") for case in SHARED_CASES if case[0] not in _local_ids]
if not SHARED_CASES:
    CASES.append(pytest.param(None, id="shared", marks=pytest.mark.skip(reason=SHARED_MISSING)))
SUFFIXES = (".symver", ".symtypes", ".stable.symver", ".stable.symtypes")


@pytest.mark.parametrize("stable", [False, True], ids=["plain", "stable"])
@pytest.mark.parametrize("case", CASES)
def test_matches_upstream(case, stable, tmp_path):
    _, obj, expected = case
    suffix = ".stable" if stable else ""
    symtypes = tmp_path / "out.symtypes"
    stdout, stderr = io.StringIO(), io.StringIO()
    args = ["-T", str(symtypes)] + (["--stable"] if stable else []) + [str(obj)]
    rc = dropin_main(args, stdin=io.BytesIO((expected.parent / f"{expected.name}.exports").read_bytes()),
                     stdout=stdout, stderr=stderr)
    assert rc == 0, stderr.getvalue()
    assert stdout.getvalue() == (expected.parent / f"{expected.name}{suffix}.symver").read_text()
    assert symtypes.read_bytes() == (expected.parent / f"{expected.name}{suffix}.symtypes").read_bytes()


@pytest.mark.parametrize("stable", [False, True], ids=["plain", "stable"])
@pytest.mark.parametrize("case", CASES)
def test_matches_upstream_unit_by_unit(case, stable, tmp_path, monkeypatch):
    """Objects with more DWARF than two groups are versioned one group of
    units at a time (vmlinux, to bound memory); with a group size of one
    byte every unit of every corpus object is its own group, and the outputs
    must still be upstream's."""
    monkeypatch.setattr(core, "CHUNK_BYTES", 1)
    test_matches_upstream(case, stable, tmp_path)


@pytest.mark.parametrize("dwarf", ["-gdwarf-4", "-gdwarf-5"])
def test_units_referring_across_units_stay_one_group(dwarf, type_units_file, monkeypatch):
    """A file whose DIEs refer to other units' (here type units, reached by
    DW_FORM_ref_sig8) is never cut into unit groups, whatever its size: a
    later group would render the referred type again.  A C object without
    such references is cut."""
    monkeypatch.setattr(core, "CHUNK_BYTES", 1)
    linked = type_units_file(dwarf)
    plain = sorted((LOCAL_CORPUS / "debian-6.12.117-cloud" / "kernel").rglob("*.ko"))[0]
    groups = {}
    for path in (linked, plain):
        reader = DwarfReader(ElfObject(str(path)), defer=True)
        reader.load()
        groups[path] = core.Versioner([])._chunks(reader, list(range(len(reader.units))))
        assert reader.refers_across_units() == (path == linked)
        assert len(reader.units) > 1
    assert len(groups[linked]) == 1
    assert len(groups[plain]) > 1


def built_params() -> list:
    """One parameter per tests/data/built expected set; a variant the manifest
    names as a known difference is a strict xfail, so fixing it is noticed."""
    params = []
    cases = expected_tool.manifest()["cases"]
    for case, variant, stable in expected_tool.built_runs():
        known = cases[case].get("known_difference", {}).get(variant)
        marks = [pytest.mark.xfail(strict=True, reason=known)] if known else []
        params.append(pytest.param(case, variant, stable, marks=marks,
                                   id=f"{case}.{variant}{'.stable' if stable else ''}"))
    return params


@pytest.mark.parametrize("case, variant, stable", built_params())
def test_built_matches_upstream(case, variant, stable, built_objects, tmp_path):
    why = expected_tool.compiler_mismatch()
    if why:
        pytest.skip(why)
    obj = built_objects(case, variant)
    source = expected_tool.BUILT / case
    symtypes = tmp_path / "out.symtypes"
    rc, out, err = run_dropin(["--dump-versions", "-T", symtypes, *(["--stable"] if stable else []), obj],
                              (source / f"{case}.exports").read_bytes())
    prefix = source / "expected" / f"{case}.{variant}{'.stable' if stable else ''}"
    assert rc == 0, err
    assert out == prefix.with_name(prefix.name + ".symver").read_text()
    assert symtypes.read_text() == prefix.with_name(prefix.name + ".symtypes").read_text()
    assert err == prefix.with_name(prefix.name + ".stderr").read_text()


def check_complete(cases: list[tuple[str, Path, Path]]) -> None:
    """Every case has its object and all four expected outputs."""
    for _, obj, expected in cases:
        assert obj.is_file(), obj
        for suffix in SUFFIXES:
            assert (expected.parent / f"{expected.name}{suffix}").is_file(), (expected, suffix)


def test_local_corpus_is_complete():
    """The in-repo corpus has all three parts and every case is complete."""
    assert {c[0].split("/")[0] for c in LOCAL} == set(CORPUS_PARTS)
    assert len(LOCAL) >= 6 + 4 + 3
    check_complete(LOCAL)


def test_shared_corpus_is_complete(shared_corpus):
    """All three shared parts are present and every case has all outputs."""
    tops = {c[0].split("/")[0] for c in SHARED_CASES}
    assert set(CORPUS_PARTS) <= tops
    assert len(SHARED_CASES) >= 28 + 23 + 6
    check_complete(SHARED_CASES)
