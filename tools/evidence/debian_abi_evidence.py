#!/usr/bin/env python3
"""Do DWARF-based symbol versions catch what genksyms versions catch?

Runs ``batchver run --symtypes`` on two releases of Debian's cloud debug
kernel (default 6.12.115 -> 6.12.117), runs ``batchver check`` between them,
and crosses the symbols whose DWARF CRC changed with the symbols whose CRC
changed in Debian's own ``Module.symvers`` of the same two releases (computed
by genksyms from the source).  Writes:

* ``RESULTS/debian-<old>-to-<new>-evidence.md`` and ``.json``: the table of
  symbols changed under both, DWARF only and genksyms only, with the root
  causes of the DWARF-only ones;
* ``RESULTS/check-debian-<old>-to-<new>.html``: the check's HTML report;
* ``RESULTS/check-debian-<old>-to-<new>.png``: a headless-Chromium
  screenshot of that page (Debian's ``chromium`` package).

Inputs (fetch them first; the script is idempotent and skips what it has)::

    python -m tools.fetch.fetch_debian_kernel --version 6.12.115+deb12 --headers
    python -m tools.fetch.fetch_debian_kernel --version 6.12.117+deb12 --headers

which unpack ``<cache>/debian-<version>-cloud/root/usr/lib/debug/lib/
modules/<release>/`` (vmlinux + kernel/**/*.ko) and copy Debian's
``Module.symvers`` to ``<cache>/debian-<version>-cloud/Module.symvers``;
``<cache>`` is ``--cache``, by default $XDG_CACHE_HOME/batchver, else
~/.cache/batchver.  Paths in the results are written relative to
``<cache>``, ``<work>`` (``--work``) and ``<repo>`` (tools/helpers/roots.py).

``--modules-only`` versions only ``kernel/**/*.ko`` (through a mirror tree
of symlinks without vmlinux) and leaves vmlinux's exports out of the table,
because versioning vmlinux takes far longer; the results say so.  Runs are
cached in WORK: ``--reuse`` keeps an existing batchver output made from the
same tree.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import batchver
from batchver.symvers import ExportRecord, parse_symvers
from batchver.gate.check import CheckResult, run_check
from batchver.gate.formats import render

from tools.helpers.roots import CACHE_HELP, Roots, default_cache

REPO = Path(__file__).resolve().parents[2]
FLAVOUR = "cloud-amd64"
SAMPLE = 8  # example symbols listed per row
# Kernel-generated export families, and what is known about how each is versioned.
FAMILIES = {
    "__SCT__": "static-call trampolines (`EXPORT_STATIC_CALL_TRAMP`), declared "
               "`extern typeof(func) __SCT__name;`. genksyms' lexer keeps `typeof(...)` of an "
               "expression as one literal phrase (`TYPEOF_PHRASE` in scripts/genksyms), so their "
               "genksyms CRC depends on how the declaration is spelled, not on the function type; "
               "DWARF records the resolved type, so a change of that type moves the DWARF CRC",
    "__SCK__": "static-call keys (`struct static_call_key`)",
    "__tracepoint_": "tracepoint structures",
    "__traceiter_": "tracepoint iterator functions",
}


@dataclass
class Release:
    """One Debian release's inputs."""

    version: str  # "6.12.115"

    @property
    def release(self) -> str:
        return f"{self.version}+deb12-{FLAVOUR}"

    def root(self, cache: Path) -> Path:
        return cache / f"debian-{self.version}-cloud"

    def tree(self, cache: Path) -> Path:
        return self.root(cache) / "root/usr/lib/debug/lib/modules" / self.release

    def symvers(self, cache: Path) -> Path:
        return self.root(cache) / "Module.symvers"


def log(message: str) -> None:
    print(f"[debian_abi_evidence] {message}", file=sys.stderr, flush=True)


def modules_mirror(tree: Path, dest: Path) -> Path:
    """A tree of symlinks to every ``kernel/**/*.ko`` and no vmlinux, named
    like the release so batchver records the kernel release."""
    mirror = dest / tree.name
    if mirror.exists():
        shutil.rmtree(mirror)
    count = 0
    for ko in sorted((tree / "kernel").rglob("*.ko")):
        link = mirror / ko.relative_to(tree)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(ko)
        count += 1
    if count == 0:
        raise SystemExit(f"no kernel/**/*.ko under {tree}")
    return mirror


def batchver_run(tree: Path, out: Path, jobs: int, reuse: bool, roots: Roots) -> dict:
    """Version ``tree`` into ``out`` (or reuse it); return the run record."""
    record_path = out.with_name(out.name + ".run.json")
    if reuse and record_path.exists() and (out / "report.json").exists():
        record = json.loads(record_path.read_text())
        if not record["command"].startswith("python"):  # records of earlier tool versions
            record["command"] = "python " + record["command"]
        if record.get("tree") == roots.path(tree):
            log(f"reusing {out} ({record['seconds']:.0f} s when made)")
            return record
    command = [sys.executable, "-m", "batchver", "run", str(tree), "-o", str(out),
               "--symtypes", "--jobs", str(jobs), "--quiet"]
    log("running " + " ".join(command))
    start = time.perf_counter()
    status = subprocess.run(command).returncode
    seconds = time.perf_counter() - start
    if status not in (0, 1):  # 1: some exports without DWARF, reported in report.json
        raise SystemExit(f"batchver run failed with status {status}")
    record = {"tree": roots.path(tree), "command": roots.command(command), "status": status,
              "seconds": round(seconds, 1), "jobs": jobs}
    record_path.write_text(json.dumps(record, indent=1) + "\n")
    log(f"versioned {tree} in {seconds:.0f} s (status {status})")
    return record


def code_identity(roots: Roots) -> str:
    """Which batchver made the numbers: version, and the git commit of the
    checkout it was imported from (with a note when it has local changes)."""
    package = Path(batchver.__file__).resolve().parent
    text = f"batchver {batchver.__version__} ({roots.path(package)})"
    try:
        commit = subprocess.run(["git", "-C", str(package), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(package), "status", "--porcelain", "."],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return text
    return text + f", git {commit}" + (" + uncommitted files" if dirty else "")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def by_name(exports: list[ExportRecord], modules_only: bool) -> dict[str, ExportRecord]:
    """Exports by symbol name (names are unique in a kernel's Module.symvers)."""
    return {e.symbol: e for e in exports if not (modules_only and e.module == "vmlinux")}


def cross(result: CheckResult, old_g: dict[str, ExportRecord], new_g: dict[str, ExportRecord],
          modules_only: bool) -> dict:
    """The table: every symbol both releases export, by which CRCs changed."""
    old_d = by_name(result.baseline.exports, modules_only)
    new_d = by_name(result.current.exports, modules_only)
    explanations = {s.change.symbol: s.explanation for s in result.symbols
                    if s.explanation is not None}
    groups: dict[str, list[str]] = {k: [] for k in ("both", "dwarf_only", "genksyms_only",
                                                   "neither")}
    not_compared: Counter = Counter()
    for name in sorted(set(old_g) & set(new_g)):
        if name not in old_d or name not in new_d:
            not_compared["exported per Debian's Module.symvers but not found by batchver"] += 1
            continue
        if None in (old_d[name].crc, new_d[name].crc, old_g[name].crc, new_g[name].crc):
            not_compared["no version on one side (no DWARF information, or 0x00000000)"] += 1
            continue
        dwarf = old_d[name].crc != new_d[name].crc
        genksyms = old_g[name].crc != new_g[name].crc
        key = ("both" if genksyms else "dwarf_only") if dwarf else \
            ("genksyms_only" if genksyms else "neither")
        groups[key].append(name)
    exports_agree = {
        "genksyms": {"added": sorted(set(new_g) - set(old_g)),
                     "removed": sorted(set(old_g) - set(new_g))},
        "dwarf": {"added": sorted(set(new_d) - set(old_d)),
                  "removed": sorted(set(old_d) - set(new_d))},
    }
    return {"groups": groups, "not_compared": dict(not_compared), "exports": exports_agree,
            "explanations": explanations, "modules": {n: (new_d.get(n) or old_d[n]).module
                                                      for n in set(old_d) | set(new_d)}}


def cause_table(result: CheckResult, names: list[str]) -> list[dict]:
    """Root causes of the given DWARF-changed symbols, largest first."""
    wanted = set(names)
    rows = []
    for rc in result.root_causes:
        hit = [k.split(":", 1)[1] for k in rc.symbols if k.split(":", 1)[1] in wanted]
        if hit:
            rows.append({"id": rc.id, "key": rc.key, "status": rc.status, "symbols": len(hit),
                         "diff": rc.diff, "examples": hit[:SAMPLE]})
    rows.sort(key=lambda r: (-r["symbols"], r["key"]))
    return rows


def family(name: str) -> str:
    return next((prefix for prefix in FAMILIES if name.startswith(prefix)), "other")


def pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def _count_lines(g: dict[str, int]) -> list[str]:
    total = sum(g.values())
    genk, dwarf = g["both"] + g["genksyms_only"], g["both"] + g["dwarf_only"]
    return [
        "| CRC changed under | symbols | share |", "| --- | ---: | ---: |",
        f"| both genksyms and DWARF | {g['both']} | {pct(g['both'], total)} |",
        f"| DWARF only | {g['dwarf_only']} | {pct(g['dwarf_only'], total)} |",
        f"| genksyms only | {g['genksyms_only']} | {pct(g['genksyms_only'], total)} |",
        f"| neither | {g['neither']} | {pct(g['neither'], total)} |",
        f"| **compared** | **{total}** | |", "",
        f"genksyms changed {genk} CRCs; DWARF changed {dwarf}.  DWARF caught "
        f"{pct(g['both'], genk)} of the genksyms changes and flagged {g['dwarf_only']} symbols "
        "genksyms did not.", ""]


ATTRIBUTION_NOTE = (
    "Exports outside the families above are listed with the CU batchver versioned them in "
    "(`versioned_in`).  On a linked vmlinux, kbuild semantics take the CU with the export's "
    "`__gendwarfksyms_ptr_`, else its definition, else the first CU declaring it; a variable "
    "whose DWARF has no named definition DIE falls to the first declaring CU, which need not be "
    "the file that exports it, and that CU can see more or fewer type definitions.  Compare the "
    "CU with the symbol's source file before reading such a row as a difference between the "
    "tools.")


def _family_lines(title: str, names: list[str], origins: dict[str, str]) -> list[str]:
    if not names:
        return [f"{title}: none.", ""]
    counts = Counter(family(n) for n in names)
    lines = [f"{title}, by kind of export:", "", "| kind | symbols | examples |",
             "| --- | ---: | --- |"]
    for fam, count in counts.most_common():
        sample = ", ".join(f"`{n}`" for n in names if family(n) == fam)
        sample = ", ".join(sample.split(", ")[:SAMPLE])
        label = f"`{fam}*`" if fam != "other" else "other"
        lines.append(f"| {label} | {count} | {sample} |")
    lines.append("")
    lines += [f"- `{fam}*`: {FAMILIES[fam]}." for fam in counts if fam != "other"]
    others = [n for n in names if family(n) == "other"]
    if others and len(others) <= 40:
        lines += ["", "| other export | versioned in |", "| --- | --- |"]
        lines += [f"| `{n}` | `{origins.get(n) or '?'}` |" for n in others]
        lines += ["", ATTRIBUTION_NOTE]
    return lines + [""]


def write_markdown(path: Path, data: dict) -> None:
    lines = [f"# DWARF (batchver) vs genksyms CRC changes: Debian {data['old']} -> {data['new']}",
             ""]
    if data["modules_only"]:
        lines += ["> **MODULES ONLY.** vmlinux was not versioned for this table: only the exports "
                  "of `kernel/**/*.ko` are compared (vmlinux's exports are left out of both the "
                  "DWARF and the genksyms side).", ""]
    lines += [f"Scope: {data['scope']}.  A symbol is compared when both releases export it, "
              "batchver versioned it in both, and Debian's Module.symvers has a CRC for it in "
              "both.  genksyms CRCs are Debian's own `Module.symvers`; DWARF CRCs are "
              "`batchver run` on the debug package of the same build.", ""]
    lines += _count_lines(data["counts"])
    if "modules_subset" in data:
        lines += ["Restricted to module exports (vmlinux left out), from the same runs:", ""]
        lines += _count_lines(data["modules_subset"])
    if data["not_compared"]:
        lines += ["Not compared: " + "; ".join(f"{n} {why}" for why, n in
                                              sorted(data["not_compared"].items())) + ".", ""]
    ex = data["exports"]
    lines += ["Export lists (added/removed between the releases): genksyms "
              f"+{len(ex['genksyms']['added'])}/-{len(ex['genksyms']['removed'])}, DWARF "
              f"+{len(ex['dwarf']['added'])}/-{len(ex['dwarf']['removed'])}"
              + (" (identical sets)." if ex["genksyms"] == ex["dwarf"] else "."), ""]
    lines += ["## DWARF-only changes", ""]
    lines += _family_lines("DWARF-only changes", data["groups"]["dwarf_only"], data["origins"])
    lines += ["Their root causes: named types whose own definition differs between the "
              "releases' symtypes (from `batchver check`; a symbol can have several):", "",
              "| root cause | DWARF-only symbols | change (first lines of the token diff) | "
              "examples |", "| --- | ---: | --- | --- |"]
    for row in data["dwarf_only_causes"]:
        diff = "<br>".join(_md(d) for d in row["diff"][:3]) + \
            ("<br>..." if len(row["diff"]) > 3 else "")
        lines.append(f"| `{_md(row['key'])}` ({row['status']}) | {row['symbols']} | {diff} | "
                     + ", ".join(f"`{s}`" for s in row["examples"]) + " |")
    unexplained = data["dwarf_only_unexplained"]
    if unexplained:
        lines += ["", f"DWARF-only changes without a root cause: {len(unexplained)} ("
                  + ", ".join(f"`{s}`" for s in unexplained[:SAMPLE]) + ")."]
    lines += ["", "## genksyms-only changes", "",
              "For these the DWARF type strings reachable from the symbol are identical in both "
              "releases.", ""]
    lines += _family_lines("genksyms-only changes", data["groups"]["genksyms_only"],
                           data["origins"])
    by_module = Counter(data["modules_of"][n] for n in data["groups"]["genksyms_only"])
    if by_module:
        lines += ["| module | symbols | examples |", "| --- | ---: | --- |"]
        for module, count in by_module.most_common(25):
            sample = [n for n in data["groups"]["genksyms_only"]
                      if data["modules_of"][n] == module][:SAMPLE]
            lines.append(f"| {module} | {count} | " + ", ".join(f"`{s}`" for s in sample) + " |")
        lines.append("")
    lines += ["## Root causes of the changes both caught (top 15)", "",
              "| root cause | symbols | change |", "| --- | ---: | --- |"]
    for row in data["both_causes"][:15]:
        lines.append(f"| `{_md(row['key'])}` ({row['status']}) | {row['symbols']} | "
                     + "<br>".join(_md(d) for d in row["diff"][:2]) + " |")
    lines += ["", "## How this was made", "", "```sh", data["command"], "```", "",
              f"- code: `{data['code']}`",
              "- batchver runs: " + "; ".join(
                  f"{r['label']}: `{r['command']}` took {r['seconds']:.0f} s with --jobs "
                  f"{r['jobs']}" for r in data["runs"]),
              "- check: `batchver check --baseline OLD_OUT NEW_OUT --format html` "
              f"(verdict {data['check']['verdict']}, {data['check']['root_causes']} root causes, "
              f"{data['check']['seconds']:.0f} s); HTML report: `{data['html']}`",
              "- toolchain seen in the DWARF (`DW_AT_producer`, flags dropped): " + "; ".join(
                  f"{label}: {', '.join(t['compilers'])}, DWARF "
                  f"{', '.join(map(str, t['dwarf_versions']))}"
                  for label, t in data["toolchain"].items()) + "; build differences the check "
              "reports: " + (", ".join(f"{d['field']} {d['baseline']} -> {d['current']}"
                                      for d in data["check"]["provenance"]) or "none"),
              "- genksyms CRCs: Debian's Module.symvers from "
              "`linux-headers-<release>` (sha256 " + ", ".join(
                  f"{k}: {v[:16]}..." for k, v in data["inputs_sha256"].items()) + ")",
              f"- machine: {os.cpu_count()} cores, shared with other work", ""]
    path.write_text("\n".join(lines))


def _md(text: str) -> str:
    """Table-cell safe: no column breaks, no code spans, no HTML tags."""
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("|", "\\|").replace("`", "'"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog=__doc__.split("\n\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--old", default="6.12.115", help="baseline release (default: %(default)s)")
    parser.add_argument("--new", default="6.12.117", help="current release (default: %(default)s)")
    parser.add_argument("--cache", type=Path, default=default_cache(),
                        help=f"where fetch_debian_kernel.py unpacked them (default: {CACHE_HELP})")
    parser.add_argument("--work", type=Path,
                        help="batchver outputs and mirror trees (default: <cache>/evidence)")
    parser.add_argument("--results", type=Path, default=REPO / "results",
                        help="where the table, HTML and screenshot go (default: %(default)s)")
    parser.add_argument("--modules-only", action="store_true",
                        help="version kernel/**/*.ko only, not vmlinux (much faster)")
    parser.add_argument("--jobs", type=int, default=2, help="batchver run --jobs (default: 2)")
    parser.add_argument("--reuse", action="store_true",
                        help="reuse batchver outputs already in WORK for the same trees")
    parser.add_argument("--chromium", help="browser binary (default: chromium from PATH)")
    ns = parser.parse_args(argv)
    ns.work = ns.work or ns.cache / "evidence"
    roots = Roots({"<work>": ns.work}, ns.cache)
    old, new = Release(ns.old), Release(ns.new)
    for rel in (old, new):
        for path in (rel.tree(ns.cache), rel.symvers(ns.cache)):
            if not path.exists():
                raise SystemExit(f"missing {path}: run python -m tools.fetch.fetch_debian_kernel --version "
                                 f"{rel.version}+deb12 --headers")
    scope_tag = "modules" if ns.modules_only else "full"
    runs, outs = [], []
    for label, rel in (("old", old), ("new", new)):
        tree = rel.tree(ns.cache)
        if ns.modules_only:
            tree = modules_mirror(tree, ns.work / "trees" / scope_tag)
        out = ns.work / "out" / f"{rel.release}-{scope_tag}"
        out.parent.mkdir(parents=True, exist_ok=True)
        record = batchver_run(tree, out, ns.jobs, ns.reuse, roots)
        runs.append({"label": f"{rel.version}", **record})
        outs.append(out)
    log("running batchver check")
    start = time.perf_counter()
    result = run_check(str(outs[0]), str(outs[1]))
    check_seconds = time.perf_counter() - start
    ns.results.mkdir(parents=True, exist_ok=True)
    stem = f"debian-{old.version}-to-{new.version.rsplit('.', 1)[-1]}"
    html = ns.results / f"check-{stem}.html"
    html.write_text(roots.html(render(result, "html")))
    log(f"wrote {html} ({html.stat().st_size >> 10} KiB; check took {check_seconds:.0f} s)")

    old_g = by_name(parse_symvers(str(old.symvers(ns.cache)), zero_is_unknown=True),
                    ns.modules_only)
    new_g = by_name(parse_symvers(str(new.symvers(ns.cache)), zero_is_unknown=True),
                    ns.modules_only)
    table = cross(result, old_g, new_g, ns.modules_only)
    groups = table["groups"]
    subset = None
    if not ns.modules_only:  # the same runs, seen as a modules-only table
        subset = cross(result, by_name(list(old_g.values()), True),
                       by_name(list(new_g.values()), True), True)["groups"]
    dwarf_only_unexplained = [n for n in groups["dwarf_only"]
                              if table["explanations"].get(n) is None
                              or table["explanations"][n].status != "explained"]
    command = "python -m tools.evidence.debian_abi_evidence " + " ".join(
        a for a in (argv if argv is not None else sys.argv[1:]))
    data = {
        "old": old.release, "new": new.release, "modules_only": ns.modules_only,
        "scope": ("exports of kernel/**/*.ko (vmlinux excluded)" if ns.modules_only
                  else "every export (vmlinux and modules)"),
        "counts": {k: len(v) for k, v in groups.items()},
        **({"modules_subset": {k: len(v) for k, v in subset.items()}} if subset else {}),
        "html": roots.path(html),
        "not_compared": table["not_compared"],
        "exports": table["exports"],
        "dwarf_only_causes": cause_table(result, groups["dwarf_only"]),
        "dwarf_only_unexplained": dwarf_only_unexplained,
        "both_causes": cause_table(result, groups["both"]),
        "groups": groups,
        "modules_of": {n: table["modules"][n] for k in ("both", "dwarf_only", "genksyms_only")
                       for n in groups[k]},
        "origins": {s.change.symbol: s.change.new.origin for s in result.symbols
                    if s.change.new is not None
                    and s.change.symbol in set(groups["dwarf_only"] + groups["genksyms_only"])},
        "check": {"verdict": result.verdict, "root_causes": len(result.root_causes),
                  "seconds": round(check_seconds, 1), "summary": result.summary(),
                  "provenance": [d.to_json() for d in result.differences]},
        "toolchain": {side.label: {"compilers": side.provenance.compilers,
                                   "dwarf_versions": side.provenance.dwarf_versions}
                      for side in (result.baseline, result.current)},
        "runs": runs, "code": code_identity(roots), "command": roots(command.strip()),
        "inputs_sha256": {f"{r.version} Module.symvers": sha256(r.symvers(ns.cache))
                          for r in (old, new)},
    }
    md = ns.results / f"{stem}-evidence.md"
    write_markdown(md, data)
    md.with_suffix(".json").write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    log(f"wrote {md} and {md.with_suffix('.json')}")
    from tools.helpers.browser import screenshot
    screenshot(html, ns.results / f"check-{stem}.png", ns.chromium)
    return 0


if __name__ == "__main__":
    sys.exit(main())
