#!/usr/bin/env python3
"""Version a vmlinux as a linked file (kbuild semantics) and say, row by row,
how its exports compare with kbuild's own CRCs and with another batchver.

    python -m tools.evidence.linked_vmlinux_check BUILD/vmlinux --symvers BUILD/Module.symvers \\
        --before CHECKOUT -o results/NAME

* With ``--symvers`` (the build's own Module.symvers, whose vmlinux CRCs
  modpost took from gendwarfksyms run per object): every vmlinux row is
  ``equal``, ``unversioned`` (batchver writes 0x00000000 where kbuild has a
  CRC, and ``report.json`` names the reason), ``flagged`` (a different CRC
  ``report.json`` marks ``not_as_kbuild``) or ``silent`` (a different CRC
  nobody is told about: the one outcome that must never happen).
* With ``--before CHECKOUT`` (a checkout of another batchver revision, e.g.
  ``git worktree add <dir> <commit>``): the same vmlinux is versioned
  by both, and every export whose status or CRC moved is listed, with the
  reason the current revision gives.  On a distro vmlinux (genksyms CRCs,
  or none) this is the only comparison there is.

Writes ``NAME.md`` and ``NAME.json``.  Source paths in unit names are
written from the kernel source root (``<src>/arch/...``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from batchver.symvers import parse_symvers

REPO = Path(__file__).resolve().parents[2]
#: Top-level directories of a kernel source tree: a unit name's path is
#: written from the one it starts with, wherever the build put the sources.
SOURCE_DIRS = ("arch", "block", "certs", "crypto", "drivers", "fs", "include", "init", "io_uring", "ipc",
               "kernel", "lib", "mm", "net", "rust", "samples", "security", "sound", "virt", "usr")
_SOURCE_PREFIX = re.compile(r"(?<![\w<])/\S*?/(?=(?:%s)/)" % "|".join(SOURCE_DIRS))


def from_source_root(text: str | None) -> str | None:
    return None if text is None else _SOURCE_PREFIX.sub("<src>/", text)


def version(vmlinux: Path, checkout: Path, jobs: int) -> dict[str, dict]:
    """report.json's exports of ``vmlinux`` versioned by the batchver in ``checkout``."""
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "tree"
        tree.mkdir()
        (tree / "vmlinux").symlink_to(vmlinux.resolve())
        env = dict(os.environ, PYTHONPATH=str(checkout))
        proc = subprocess.run([sys.executable, "-m", "batchver", "run", str(tree), "--kind", "linked",
                               "-o", str(Path(tmp) / "out"), "--quiet", "--jobs", str(jobs)],
                              env=env, cwd=checkout, capture_output=True, text=True)
        if proc.returncode not in (0, 1):
            sys.exit(f"batchver in {checkout} failed on {vmlinux}: {proc.stderr.strip()}")
        report = json.loads((Path(tmp) / "out" / "report.json").read_text())
    return {e["symbol"]: e for e in report["exports"].values() if e["module"] == "vmlinux"}


def against_kbuild(ours: dict[str, dict], symvers: Path) -> dict:
    kbuild = {row.symbol: f"0x{row.crc or 0:08x}"
              for row in parse_symvers(str(symvers), zero_is_unknown=False) if row.module == "vmlinux"}
    outcome: dict[str, list] = {"equal": [], "unversioned": [], "flagged": [], "silent": [],
                                "missing": sorted(set(kbuild) - set(ours)),
                                "extra": sorted(set(ours) - set(kbuild))}
    for symbol in sorted(set(kbuild) & set(ours)):
        entry, want = ours[symbol], kbuild[symbol]
        got = entry["crc"] or "0x00000000"
        if got == want:
            outcome["equal"].append(symbol)
        elif entry["crc"] is None:
            outcome["unversioned"].append({"symbol": symbol, "kbuild": want,
                                           "reason": from_source_root(entry.get("unversioned"))})
        else:
            kind = "flagged" if entry.get("not_as_kbuild") else "silent"
            outcome[kind].append({"symbol": symbol, "kbuild": want, "batchver": got,
                                  "reason": from_source_root(entry.get("not_as_kbuild"))})
    outcome["rows"] = len(kbuild)
    return outcome


def changes(before: dict[str, dict], after: dict[str, dict]) -> list[dict]:
    out = []
    for symbol in sorted(set(before) | set(after)):
        old, new = before.get(symbol, {}), after.get(symbol, {})
        if (old.get("status"), old.get("crc")) != (new.get("status"), new.get("crc")):
            out.append({"symbol": symbol, "before": [old.get("status"), old.get("crc")],
                        "after": [new.get("status"), new.get("crc")],
                        "reason": from_source_root(new.get("unversioned") or new.get("not_as_kbuild"))})
    return out


def _reasons(rows: list[dict]) -> list[tuple[str, int, list[str]]]:
    """Rows grouped by reason (file names kept: they tell the assembler unit)."""
    groups: dict[str, list[str]] = {}
    for row in rows:
        groups.setdefault(row["reason"] or "(no reason given)", []).append(row["symbol"])
    return sorted(((r, len(s), s) for r, s in groups.items()), key=lambda g: (-g[1], g[0]))


def markdown(title: str, result: dict) -> str:
    lines = [f"# {title}", "", result["command"], ""]
    kb = result.get("kbuild")
    if kb:
        lines += ["## Against the build's own Module.symvers (vmlinux rows)", "",
                  "| outcome | rows |", "| --- | ---: |",
                  f"| CRC equal to kbuild's | {len(kb['equal'])} |",
                  f"| unversioned (0x00000000, reason in report.json) where kbuild has a CRC | {len(kb['unversioned'])} |",
                  f"| different CRC, flagged `not_as_kbuild` | {len(kb['flagged'])} |",
                  f"| **different CRC, not flagged** | **{len(kb['silent'])}** |",
                  f"| in kbuild's, not found by batchver | {len(kb['missing'])} |",
                  f"| found by batchver, not in kbuild's | {len(kb['extra'])} |",
                  f"| **rows** | **{kb['rows']}** |", ""]
        for name in ("unversioned", "flagged", "silent"):
            if kb[name]:
                lines += [f"### {name}", ""]
                lines += [f"- {count} x {reason}: {', '.join(f'`{s}`' for s in symbols[:8])}"
                          + (" ..." if count > 8 else "") for reason, count, symbols in _reasons(kb[name])]
                lines.append("")
    moved = result.get("changes")
    if moved is not None:
        lines += [f"## Exports whose status or CRC moved from {result['before']} ({len(moved)})", "",
                  "| symbol | before | after | reason |", "| --- | --- | --- | --- |"]
        lines += [f"| `{c['symbol']}` | {c['before'][0]} {c['before'][1] or ''} | {c['after'][0]} "
                  f"{c['after'][1] or ''} | {c['reason'] or ''} |" for c in moved]
        lines.append("")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("vmlinux", type=Path)
    parser.add_argument("--symvers", type=Path, help="the build's own Module.symvers")
    parser.add_argument("--before", type=Path, help="a checkout of another batchver revision")
    parser.add_argument("--label", default="", help="what the vmlinux is, for the title")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("-o", "--output", type=Path, required=True, help="NAME: writes NAME.md and NAME.json")
    args = parser.parse_args()
    after = version(args.vmlinux, REPO, args.jobs)
    result: dict = {"command": "`python -m tools.evidence.linked_vmlinux_check <vmlinux>"
                               + (" --symvers <Module.symvers>" if args.symvers else "")
                               + (" --before <checkout>" if args.before else "") + "`",
                    "exports": len(after)}
    if args.symvers:
        result["kbuild"] = against_kbuild(after, args.symvers)
    if args.before:
        before_rev = subprocess.run(["git", "-C", str(args.before), "rev-parse", "--short", "HEAD"],
                                    capture_output=True, text=True).stdout.strip() or "before"
        result["before"] = before_rev
        result["changes"] = changes(version(args.vmlinux, args.before, args.jobs), after)
    title = f"{args.label or 'vmlinux'} versioned as a linked file (kbuild semantics)"
    Path(f"{args.output}.json").write_text(json.dumps(result, indent=1) + "\n")
    Path(f"{args.output}.md").write_text(markdown(title, result))
    kb = result.get("kbuild")
    print(f"{len(after)} exports" + (f"; against kbuild: {len(kb['equal'])} equal, {len(kb['unversioned'])} "
                                     f"unversioned, {len(kb['flagged'])} flagged, {len(kb['silent'])} silent"
                                     if kb else "")
          + (f"; {len(result['changes'])} moved since {result['before']}" if args.before else ""))
    return 1 if kb and kb["silent"] else 0


if __name__ == "__main__":
    sys.exit(main())
