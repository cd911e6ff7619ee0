#!/usr/bin/env python3
"""Time batchver's ELF/DWARF reader against pyelftools on the same objects.

Both readers run in this one process, interleaved object by object, over
``--rounds`` rounds (the fastest round of each is kept, since a shared VM
drifts).  For each object each side opens the file, applies the relocations
of its debug sections and decodes every DIE of every unit:

* ``batchver``: ``DwarfReader(ElfObject(path))`` and every DIE through
  ``DwarfReader.die`` (the path versioning uses: decoding plans keeping the
  attributes versioning reads);
* ``batchver-all``: the same, but every DIE through the form-by-form decoder
  that keeps every attribute (what pyelftools gives);
* ``pyelftools``: ``ELFFile(f).get_dwarf_info(relocate_dwarf_sections=True)``
  and ``iter_DIEs()`` of every compile and type unit.

Writes ``results/reader-speed-<date>.json`` and ``.md`` with per-object
seconds, totals, the ratios and the machine load.

    python -m tools.bench.reader_speed [--rounds 3] [--shared DIR] [OBJECT...]

Without objects, the ELF files under tests/data/corpus are timed, plus
those of DIR/corpus with ``--shared DIR``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

from batchver.dwarf.reader import DwarfReader, read_uleb
from batchver.elf.file import ElfObject


def walk(reader: DwarfReader, decode) -> int:
    """Decode every DIE of every unit in file order; returns the count."""
    count = 0
    for unit in reader.units:
        pos = unit.die_offset
        while pos < unit.end:
            code, after = read_uleb(unit.data, pos)
            count += 1
            if code == 0:
                pos = after
                continue
            pos = decode(reader, unit, pos, code, after) - unit.key_base
    return count


def production(reader, unit, pos, code, after):
    return reader.die(unit.key_base + pos, unit).end


def generic(reader, unit, pos, code, after):
    return reader.decode_attributes(unit.key_base + pos, unit, unit.abbrevs[code][2], after)[1]


def time_batchver(path: Path, decode) -> tuple[float, int]:
    start = time.perf_counter()
    count = walk(DwarfReader(ElfObject(str(path))), decode)
    return time.perf_counter() - start, count


def time_pyelftools(path: Path) -> tuple[float, int]:
    from elftools.elf.elffile import ELFFile

    start = time.perf_counter()
    count = 0
    with open(path, "rb") as handle:
        info = ELFFile(handle).get_dwarf_info(relocate_dwarf_sections=True)
        units = list(info.iter_CUs()) + (list(info.iter_TUs()) if info.has_debug_types() else [])
        for unit in units:
            count += sum(1 for _ in unit.iter_DIEs())
    return time.perf_counter() - start, count


SIDES = {"batchver": lambda p: time_batchver(p, production),
         "batchver-all": lambda p: time_batchver(p, generic),
         "pyelftools": time_pyelftools}


def objects_under(root: Path) -> list[Path]:
    def is_elf(p: Path) -> bool:
        with open(p, "rb") as handle:
            return handle.read(4) == b"\x7fELF"
    return sorted(p for p in root.rglob("*") if p.is_file() and is_elf(p))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("objects", nargs="*", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--shared", type=Path, help="also time the objects of DIR/corpus")
    parser.add_argument("--out", type=Path, default=ROOT / "results")
    args = parser.parse_args()
    roots = {"tests/data/corpus": ROOT / "tests" / "data" / "corpus"}
    if args.shared:
        roots["<shared>/corpus"] = args.shared / "corpus"
    named = [(str(p), p) for p in args.objects] or [
        (f"{label}/{p.relative_to(root)}", p) for label, root in roots.items() for p in objects_under(root)]
    import elftools

    load_before = os.getloadavg()
    best: dict[str, dict[str, float]] = {name: {} for name, _ in named}
    dies: dict[str, int] = {}
    for _ in range(args.rounds):
        for name, path in named:
            for side, timer in SIDES.items():
                seconds, count = timer(path)
                best[name][side] = min(seconds, best[name].get(side, seconds))
                if dies.setdefault(name, count) != count:
                    sys.exit(f"{name}: {side} decoded {count} DIEs, another side {dies[name]}")
    totals = {side: sum(best[name][side] for name, _ in named) for side in SIDES}
    result = {
        "date": datetime.date.today().isoformat(),
        "command": "python -m tools.bench.reader_speed " + " ".join(sys.argv[1:]),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "pyelftools": elftools.__version__,
                    "load_avg_1_5_15_before": load_before, "load_avg_1_5_15_after": os.getloadavg()},
        "rounds": args.rounds,
        "objects": [{"object": name, "bytes": path.stat().st_size, "dies": dies[name],
                     **{f"{side}_s": round(best[name][side], 4) for side in SIDES}} for name, path in named],
        "total_s": {side: round(seconds, 3) for side, seconds in totals.items()},
        "ratio_pyelftools_over_batchver": round(totals["pyelftools"] / totals["batchver"], 2),
        "ratio_pyelftools_over_batchver_all": round(totals["pyelftools"] / totals["batchver-all"], 2),
        "dies": sum(dies.values()),
    }
    args.out.mkdir(exist_ok=True)
    stem = args.out / f"reader-speed-{result['date']}"
    stem.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [f"# batchver's reader vs pyelftools, {result['date']}", "",
             f"`{result['command']}`: {len(named)} objects, {result['dies']:,} DIEs, fastest of "
             f"{args.rounds} rounds; {os.cpu_count()} CPUs, load average before/after "
             f"{load_before[0]:.2f}/{result['machine']['load_avg_1_5_15_after'][0]:.2f}; Python "
             f"{result['machine']['python']}, pyelftools {elftools.__version__}.", "",
             "| side | seconds | pyelftools / side |", "| --- | --- | --- |"]
    for side in SIDES:
        lines.append(f"| {side} | {totals[side]:.2f} | {totals['pyelftools'] / totals[side]:.1f}x |")
    lines += ["", "| object | DIEs | batchver s | batchver-all s | pyelftools s |", "| --- | --- | --- | --- | --- |"]
    lines += [f"| {o['object']} | {o['dies']:,} | {o['batchver_s']:.3f} | {o['batchver-all_s']:.3f} | "
              f"{o['pyelftools_s']:.3f} |" for o in result["objects"]]
    stem.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines[:9]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
