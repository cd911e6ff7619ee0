"""Byte-for-byte conformance with upstream gendwarfksyms on the shared corpus.

Every object under ../shared/corpus is run through ``batchver gendwarfksyms``
with ``-T``, with and without ``--stable``, and stdout and the symtypes file
are compared with upstream's recorded outputs.
"""

from __future__ import annotations

import io

import pytest

from batchver.cli.gendwarfksyms import main as dropin_main

from .conftest import corpus_cases

CASES = corpus_cases()


@pytest.mark.parametrize("stable", [False, True], ids=["plain", "stable"])
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
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


def test_corpus_is_complete():
    """All three corpus parts are present and every case has all outputs."""
    tops = {c[0].split("/")[0] for c in CASES}
    assert {"fixtures", "debian-6.12.117-cloud", "linux-6.12-defconfig"} <= tops
    assert len(CASES) >= 28 + 23 + 6
    for _, obj, expected in CASES:
        assert obj.is_file(), obj
        for suffix in (".symver", ".symtypes", ".stable.symver", ".stable.symtypes"):
            assert (expected.parent / f"{expected.name}{suffix}").is_file()
