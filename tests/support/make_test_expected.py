#!/usr/bin/env python3
"""Make (or check) the upstream outputs the tests compare batchver with.

The tests never compare batchver with itself: every expected file under
tests/data is what upstream ``scripts/gendwarfksyms`` printed.  This script is
how those files were made and how they are re-checked:

* ``tests/data/built/<case>/``: C sources the tests compile with gcc at test
  time (``cases.json`` lists the compiler flags of each variant and whether
  ``--stable`` is run too).  The script compiles them exactly as the tests do
  and writes ``expected/<case>.<variant>[.stable].{symver,symtypes,stderr}``:
  upstream's stdout, ``-T`` file and stderr of
  ``gendwarfksyms --dump-versions -T FILE [--stable] OBJECT < <case>.exports``.
* ``tests/data/corpus/``: committed objects with committed outputs;
  ``--check`` runs upstream on each, with and without ``--stable``, and
  compares byte for byte (and does the same for the built cases instead of
  writing them).

The reference binary is the one ``tools/fetch/get_upstream_gendwarfksyms.sh``
builds; its default place is ``$XDG_CACHE_HOME/batchver/upstream/gendwarfksyms``
(else ``~/.cache/batchver/upstream/gendwarfksyms``); ``--reference PATH``
overrides it.

    python -m tests.support.make_test_expected [--check] [--reference PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tools.helpers.roots import default_cache

DATA = Path(__file__).resolve().parent.parent / "data"
BUILT = DATA / "built"
CORPUS = DATA / "corpus"


def default_reference() -> Path:
    return default_cache() / "upstream" / "gendwarfksyms"


def manifest() -> dict:
    """tests/data/built/cases.json: the compiler and, per case, its variants."""
    return json.loads((BUILT / "cases.json").read_text())


def compiler_mismatch() -> str | None:
    """Why objects built here would differ from the ones the expected files
    were made from (another compiler version emits other DWARF), or None."""
    name, version = manifest()["compiler"]
    path = shutil.which(name)
    if path is None:
        return f"{name} is not installed"
    found = subprocess.run([path, "-dumpfullversion"], capture_output=True, text=True).stdout.strip()
    if found != version:
        return f"expected outputs were made from {name} {version} objects; this {name} is {found}"
    return None


def build(case: str, variant: str, workdir: Path) -> Path:
    """Compile one case's variant in ``workdir`` (its sources are copied
    there first, so nothing is written into the repository)."""
    flags = manifest()["cases"][case]["variants"][variant]
    src = workdir / case
    if not src.is_dir():
        shutil.copytree(BUILT / case, src, ignore=shutil.ignore_patterns("expected"))
    obj = src / f"{case}.{variant}.o"
    subprocess.run([manifest()["compiler"][0], "-c", "-O0", *flags, "-o", obj.name, f"{case}.c"],
                   cwd=src, check=True)
    return obj


def built_runs() -> list[tuple[str, str, bool]]:
    """(case, variant, stable) of every expected set under tests/data/built."""
    runs = []
    for case, spec in manifest()["cases"].items():
        for variant in spec["variants"]:
            runs.extend((case, variant, stable) for stable in ((False, True) if spec["stable"] else (False,)))
    return runs


def corpus_cases(root: Path) -> list[tuple[str, Path, Path]]:
    """(case id, object, expected-file prefix) for every export list of a
    corpus laid out like tests/data/corpus (the shared corpus is too):
    ``<part>/expected/NAME.exports`` names ``<part>/NAME.o`` for fixtures,
    else ``<part>/kernel/<path>.ko`` or ``<part>/objects/<path>.o`` with
    ``+`` in NAME for ``/`` in the path."""
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


def run_reference(reference: Path, obj: Path, exports: Path, stable: bool, dump: bool,
                  workdir: Path) -> dict[str, bytes]:
    symtypes = workdir / "out.symtypes"
    args = [str(reference), *(["--dump-versions"] if dump else []), "-T", str(symtypes),
            *(["--stable"] if stable else []), str(obj)]
    with open(exports, "rb") as stdin:
        done = subprocess.run(args, stdin=stdin, capture_output=True)
    if done.returncode != 0:
        sys.exit(f"{reference} failed on {obj}: {done.stderr.decode(errors='replace')}")
    return {".symver": done.stdout, ".symtypes": symtypes.read_bytes(), ".stderr": done.stderr}


def compare(outputs: dict[str, bytes], prefix: Path) -> list[str]:
    return [f"{prefix.name}{suffix}" for suffix, data in outputs.items()
            if not prefix.with_name(prefix.name + suffix).is_file()
            or prefix.with_name(prefix.name + suffix).read_bytes() != data]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="compare with the committed files instead of writing them")
    parser.add_argument("--reference", type=Path, default=default_reference(),
                        help="upstream gendwarfksyms binary (default: %(default)s)")
    args = parser.parse_args()
    if not os.access(args.reference, os.X_OK):
        parser.error(f"no upstream binary at {args.reference} (tools/fetch/get_upstream_gendwarfksyms.sh "
                     "builds it; or pass --reference)")
    why = compiler_mismatch()
    if why:
        parser.error(why)
    mismatches, checked = [], 0
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for case, variant, stable in built_runs():
            obj = build(case, variant, work)
            outputs = run_reference(args.reference, obj, BUILT / case / f"{case}.exports", stable, True, work)
            prefix = BUILT / case / "expected" / f"{case}.{variant}{'.stable' if stable else ''}"
            checked += 1
            if args.check:
                mismatches += compare(outputs, prefix)
                continue
            prefix.parent.mkdir(exist_ok=True)
            for suffix, data in outputs.items():
                prefix.with_name(prefix.name + suffix).write_bytes(data)
        if args.check:
            for _, obj, prefix in corpus_cases(CORPUS):
                for stable in (False, True):
                    outputs = run_reference(args.reference, obj, prefix.with_name(prefix.name + ".exports"),
                                            stable, False, work)
                    del outputs[".stderr"]
                    stable_prefix = prefix.with_name(prefix.name + (".stable" if stable else ""))
                    mismatches += compare(outputs, stable_prefix)
                    checked += 1
    print(f"{checked} upstream runs, {len(mismatches)} differ" + "".join(f"\n  {m}" for m in mismatches))
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
