"""The accelerations change no byte: every corpus object, and every object
built from tests/data/built, is versioned on the reference path alone
(``Options(accelerations=False)``: no reuse of finished type graphs, no unit
groups, no remembered expansions) and with the accelerations, with and
without ``--stable``, and the version lines, symtypes and warnings must be
equal.  test_corpus.py compares the accelerated run with upstream's recorded
outputs; this test makes the reference path answer for the same bytes."""

from __future__ import annotations

from pathlib import Path

import pytest

from batchver.cli.gendwarfksyms import split_lines
from batchver.gendwarfksyms.gendwarfksyms import Versioner
from batchver.gendwarfksyms.options import Diagnostics, Options
from batchver.gendwarfksyms.symbols import parse_symbol_list

from .conftest import CORPUS, LOCAL_CORPUS, corpus_cases, expected_tool, shared_corpus_present

_local = corpus_cases(LOCAL_CORPUS)
_local_ids = {case[0] for case in _local}
CASES = [pytest.param(obj, expected, id=case) for case, obj, expected in _local] + [
    pytest.param(obj, expected, id=f"shared/{case}")
    for case, obj, expected in (corpus_cases(CORPUS) if shared_corpus_present() else [])
    if case not in _local_ids]


def version(obj: Path, names: list[str], stable: bool, accelerations: bool) -> tuple:
    """Version lines, symtypes lines and warnings of one drop-in run."""
    opts = Options(stable=stable, symtypes=True, accelerations=accelerations)
    diag = Diagnostics(opts)
    versioner = Versioner(names, opts, diag)
    result = versioner.process_object(str(obj))
    return versioner.finish(), result.symtypes, diag.warnings


def assert_same_both_ways(obj: Path, names: list[str], stable: bool) -> None:
    reference = version(obj, names, stable, accelerations=False)
    accelerated = version(obj, names, stable, accelerations=True)
    assert reference[0], "a case with no exports proves nothing"
    assert accelerated == reference


@pytest.mark.parametrize("stable", [False, True], ids=["plain", "stable"])
@pytest.mark.parametrize("obj, expected", CASES)
def test_corpus_reference_path_matches(obj, expected, stable):
    names = parse_symbol_list(split_lines((expected.parent / f"{expected.name}.exports").read_bytes()))
    assert_same_both_ways(obj, names, stable)


@pytest.mark.parametrize("case, variant, stable", expected_tool.built_runs())
def test_built_reference_path_matches(case, variant, stable, built_objects):
    names = parse_symbol_list(split_lines((expected_tool.BUILT / case / f"{case}.exports").read_bytes()))
    assert_same_both_ways(built_objects(case, variant), names, stable)
