"""Seeded mutants of small ELF objects, run through ``batchver gendwarfksyms``
and, with ``--reference``, through upstream gendwarfksyms to compare.

Mutants are truncations and byte changes aimed at one part of an object: the
ELF header, the section header table, a ``.debug_*`` section, a relocation
section of one, or the symbol table.  For each, batchver must answer in one
line, without a traceback and within a timeout, and it must refuse (exit 1)
what upstream refuses.  ``tests/test_fuzz.py`` runs these mutants on objects
compiled at test time; this tool runs them against the reference binary
(``tools/fetch/get_upstream_gendwarfksyms.sh`` builds it) and reports how often
the two agree:

    python -m tests.support.fuzz_objects --reference <cache>/upstream/gendwarfksyms \\
        [--count 400] [--seed 1] [OBJECT[=EXPORTS]...]

Without OBJECT it compiles :data:`SOURCE` with gcc at DWARF 4 and 5 (and
clang when installed); EXPORTS is a file of the object's exported names
(default: :data:`EXPORTS`).  Agreement means the same exit status and, when both
succeed, the same ``#SYMVER`` lines.
"""

from __future__ import annotations

import argparse
import collections
import io
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass


from batchver.elf.file import ElfObject

# Small, but reaching every kind of DIE versioning renders: structures with
# bit fields and nested unions, enumerations, typedefs, arrays, function
# pointers, a variable, a variadic function, a declaration-only structure;
# and a function that is not exported, whose DIEs versioning never reads.
SOURCE = r"""
typedef unsigned long size_t;
struct opaque;
enum fz_state { FZ_IDLE, FZ_RUN = 3, FZ_DONE };
union fz_word { int i; float f; unsigned char b[4]; };
struct fz_node {
	struct fz_node *next;
	const char *name;
	unsigned int flags : 3, kind : 5;
	enum fz_state state;
	union fz_word word;
	long counters[4];
	int (*cb)(struct fz_node *, void *);
	struct opaque *priv;
	volatile size_t len;
};
typedef struct fz_node fz_node_t;
fz_node_t fz_root;
int fz_count(const fz_node_t *node, ...) { return node ? (int)node->len : 0; }
long fz_sum(long *values, size_t n) { long s = 0; while (n--) s += values[n]; return s; }
void *fz_lookup(struct opaque *where, enum fz_state s, union fz_word w) { return (void *)where; }
int fz_private(int x) { return x + 1; }
"""
EXPORTS = ["fz_count", "fz_lookup", "fz_root", "fz_sum"]

# The parts of an object mutants aim at (a section name, or a header).
TARGETS = ("elf header", "section headers", ".debug_info", ".debug_abbrev", ".debug_line",
           ".debug_str", ".debug_line_str", ".debug_str_offsets", ".rela.debug_info",
           ".rela.debug_line", ".symtab", ".strtab")
OPERATIONS = ("flip bit", "random byte", "ones word", "zero word", "truncate")
TIMEOUT = 10  # seconds one mutant may take


@dataclass(frozen=True)
class Mutant:
    """One corrupted copy of an object."""

    source: str  # the object it was made from
    target: str
    operation: str
    offset: int  # in the file
    data: bytes

    @property
    def label(self) -> str:
        return (f"{os.path.basename(self.source)}: {self.operation} in {self.target} at "
                f"file offset {self.offset:#x}")


def build_objects(directory: str) -> list[str]:
    """Compile :data:`SOURCE` with every compiler and DWARF version at hand."""
    source = os.path.join(directory, "fuzz.c")
    with open(source, "w") as handle:
        handle.write(SOURCE)
    built = []
    for compiler in ("gcc", "clang"):
        if shutil.which(compiler) is None:
            continue
        for version in (4, 5):
            out = os.path.join(directory, f"fuzz.{compiler}-dwarf{version}.o")
            # the same bytes whatever the directory, so that a seed names
            # the same mutants everywhere
            subprocess.run([compiler, "-c", "-O1", f"-gdwarf-{version}",
                            f"-fdebug-prefix-map={directory}=/fuzz", "-o", out, "fuzz.c"],
                           check=True, capture_output=True, cwd=directory)
            built.append(out)
    return built


def _ranges(path: str) -> dict[str, tuple[int, int]]:
    """File offset ranges of each target present in the object."""
    elf = ElfObject(path)
    try:
        ranges = {"elf header": (0, 64 if elf.elfclass == 64 else 52)}
        with open(path, "rb") as handle:
            raw = handle.read(64)
        e = "<" if elf.little_endian else ">"
        import struct
        shoff = struct.unpack_from(e + "Q", raw, 0x28)[0] if elf.elfclass == 64 else \
            struct.unpack_from(e + "I", raw, 0x20)[0]
        ranges["section headers"] = (shoff, shoff + len(elf.sections) * (64 if elf.elfclass == 64 else 40))
        for sec in elf.sections:
            if sec.name in TARGETS and sec.size and sec.name not in ranges and sec.type != 8:
                ranges[sec.name] = (sec.offset, sec.offset + sec.size)
        return ranges
    finally:
        elf.close()


def mutants(paths: list[str], count: int, seed: int) -> list[Mutant]:
    """``count`` mutants spread over the objects, targets and operations."""
    rng = random.Random(seed)
    originals = {}
    for path in paths:
        with open(path, "rb") as handle:
            originals[path] = (handle.read(), _ranges(path))
    out = []
    for _ in range(count):
        path = rng.choice(paths)
        data, ranges = originals[path]
        target = rng.choice(sorted(ranges))
        start, end = ranges[target]
        operation = rng.choice(OPERATIONS)
        offset = rng.randrange(start, end)
        buf = bytearray(data)
        if operation == "truncate":
            buf = buf[:offset]
        elif operation == "flip bit":
            buf[offset] ^= 1 << rng.randrange(8)
        elif operation == "random byte":
            buf[offset] = rng.randrange(256)
        else:
            buf[offset:offset + 4] = (b"\xff" if operation == "ones word" else b"\0") * 4
            buf = buf[:len(data)]
        if bytes(buf) != data:
            out.append(Mutant(path, target, operation, offset, bytes(buf)))
    return out


class Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise Timeout()


def run_batchver(path: str, exports: list[str], timeout: int = TIMEOUT) -> tuple[int, str, str]:
    """``batchver gendwarfksyms PATH`` in this process: (status, stdout,
    stderr).  Raises :class:`Timeout` after ``timeout`` seconds; any
    exception that escapes is a traceback a user would see."""
    from batchver.cli.gendwarfksyms import main

    stdin = io.BytesIO("".join(f"{name}\n" for name in exports).encode())
    out, err = io.StringIO(), io.StringIO()
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(timeout)
    try:
        status = main([path], stdin=stdin, stdout=out, stderr=err)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    return status, out.getvalue(), err.getvalue()


def run_upstream(reference: str, path: str, exports: list[str],
                 timeout: int = TIMEOUT) -> tuple[int, str, str]:
    try:
        done = subprocess.run([reference, path], input="".join(f"{n}\n" for n in exports),
                              capture_output=True, text=True, errors="replace", timeout=timeout)
    except subprocess.TimeoutExpired:
        return -1, "", "timeout"
    return done.returncode, done.stdout, done.stderr


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("objects", nargs="*", metavar="OBJECT[=EXPORTS]",
                        help="objects to mutate (default: compile SOURCE)")
    parser.add_argument("--reference", required=True, help="upstream gendwarfksyms binary")
    parser.add_argument("--count", type=int, default=400)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("-v", "--verbose", action="store_true", help="print every disagreement")
    parser.add_argument("--keep", metavar="DIR", help="write each disagreeing mutant there")
    ns = parser.parse_args()
    work = tempfile.mkdtemp(prefix="fuzz-")
    exports: dict[str, list[str]] = {}
    for argument in ns.objects:
        path, _, names = argument.partition("=")
        with open(names) if names else io.StringIO("\n".join(EXPORTS)) as handle:
            exports[path] = handle.read().split()
    try:
        paths = list(exports) or build_objects(work)
        found = mutants(paths, ns.count, ns.seed)
        tally: collections.Counter[str] = collections.Counter()
        by_target: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
        mutant_path = os.path.join(work, "mutant.o")
        for mutant in found:
            with open(mutant_path, "wb") as handle:
                handle.write(mutant.data)
            names = exports.get(mutant.source, EXPORTS)
            theirs = run_upstream(ns.reference, mutant_path, names)
            try:
                ours = run_batchver(mutant_path, names)
            except Timeout:
                ours = (-1, "", "timeout")
            if (theirs[0] != 0) == (ours[0] != 0) and (theirs[0] != 0 or theirs[1] == ours[1]):
                verdict = "agree"  # both refuse (upstream sometimes by crashing), or same output
            elif theirs[0] == 0 and ours[0] == 0:
                verdict = "both exit 0, different output"
            else:
                verdict = f"upstream {theirs[0]}, batchver {ours[0]}"
            tally[verdict] += 1
            by_target[mutant.target][verdict] += 1
            if ns.keep and verdict != "agree":
                os.makedirs(ns.keep, exist_ok=True)
                shutil.copy(mutant_path, os.path.join(ns.keep, f"{found.index(mutant):04d}.o"))
            if ns.verbose and verdict != "agree":
                print(f"{verdict}: #{found.index(mutant)} {mutant.label}\n  upstream: {theirs[2].strip()[-200:]}\n"
                      f"  batchver: {ours[2].strip()[-200:]}")
        total = sum(tally.values())
        print(f"{total} mutants (seed {ns.seed}) of {len(paths)} object(s): "
              f"{tally['agree']} agree ({100 * tally['agree'] / max(total, 1):.1f} %)")
        for verdict, number in tally.most_common():
            print(f"  {number:5}  {verdict}")
        for target, counts in sorted(by_target.items()):
            print(f"  {target:20} " + ", ".join(f"{v}: {n}" for v, n in counts.most_common()))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
