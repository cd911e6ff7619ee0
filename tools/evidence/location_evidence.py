#!/usr/bin/env python3
"""Do the root causes `batchver check` locates point at real declarations?

Versions two releases of Debian's cloud debug kernel (default 6.12.115 ->
6.12.117, the pair of tools/evidence/debian_abi_evidence.py, whose runs it shares in
``<cache>/evidence``), checks one against the other, and looks every located
root cause up in Debian's ``linux-source-6.12`` of the release its location
was read from (the current one, or the baseline for what current no longer
has): the file must exist, have that line, and the line must declare the
type (its name on the line, with ``struct``/``union``/``enum`` for those) or
the export.  It also checks each changed member's location the same way (the
member's name on its line) and that every explained symbol's path ends at
one of its root causes.  Writes ``RESULTS/debian-<old>-to-<new>-locations.md``
and ``.json``.

Inputs::

    python -m tools.fetch.fetch_debian_kernel --version 6.12.115+deb12 --headers
    python -m tools.fetch.fetch_debian_kernel --version 6.12.117+deb12 --headers

The source packages are fetched here, through the same private apt
configuration, into ``<cache>/debian-<version>-source``.  ``--modules-only``
leaves vmlinux out, as debian_abi_evidence.py does.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

from tools.evidence.debian_abi_evidence import Release, batchver_run, modules_mirror
from tools.fetch.fetch_debian_kernel import PrivateApt, default_suites, source_entries
from tools.helpers.roots import CACHE_HELP, Roots, default_cache

from batchver.gate.check import CheckResult, run_check

REPO = Path(__file__).resolve().parents[2]
KEYWORDS = {"s": "struct", "u": "union", "e": "enum", "t": "typedef"}
SAMPLE = 12
ATTRIBUTE = re.compile(r"[a-z_]+\(\d+\)")  # byte_size(4), bit_size(1) ...


def package_version(release: Release, cache: Path) -> str:
    """The Debian package version the debug image was built as
    (``6.12.117-1~deb12u1``), read from the name of the .deb it came from."""
    marker = release.root(cache) / f".extracted-linux-image-{release.release}-dbg"
    return marker.read_text().split("_")[1]


def source_tree(release: Release, cache: Path) -> Path:
    """``linux-source-6.12`` of the release, unpacked (fetched once)."""
    version = package_version(release, cache)
    dest = cache / f"debian-{release.version}-source"
    tree = dest / "linux-source-6.12"
    if (dest / ".unpacked").exists():
        return tree
    dest.mkdir(parents=True, exist_ok=True)
    entries = source_entries(default_suites(release.release), None)
    apt = PrivateApt(cache / "apt" / hashlib.sha256("\n".join(entries).encode()).hexdigest()[:12],
                     entries)
    pkg = "linux-source-6.12"
    debs = sorted(dest.glob(f"{pkg}_{version.replace('~', '?')}_*.deb"))
    if not debs:
        subprocess.run(["apt-get", "-q", "download", f"{pkg}={version}"], cwd=dest, env=apt.env,
                       check=True)
        debs = sorted(dest.glob(f"{pkg}_*.deb"))
    subprocess.run(["dpkg", "-x", str(debs[-1]), str(dest / "deb")], check=True)
    tarball = next((dest / "deb" / "usr" / "src").glob("linux-source-6.12.tar.*"))
    subprocess.run(["tar", "-xf", str(tarball), "-C", str(dest)], check=True)
    subprocess.run(["rm", "-rf", str(dest / "deb"), *map(str, debs)], check=True)
    (dest / ".unpacked").write_text(version + "\n")
    return tree


class Sources:
    """Lines of source files, read once each."""

    def __init__(self, tree: Path):
        self.tree = tree
        self._files: dict[str, list[str] | None] = {}

    def line(self, path: str, number: int) -> str | None:
        """The line, "" past the end, None when the file is not there."""
        if path not in self._files:
            target = self.tree / path
            self._files[path] = (target.read_text(errors="replace").splitlines()
                                 if not path.startswith("/") and target.is_file() else None)
        lines = self._files[path]
        if lines is None:
            return None
        return lines[number - 1] if 0 < number <= len(lines) else ""


def _name_of(key: str) -> tuple[str | None, str]:
    """(keyword, bare name) of a symtypes key; keyword None for an export."""
    if len(key) > 2 and key[1] == "#":
        return KEYWORDS.get(key[0]), key[2:].strip("'").split("::")[-1]
    return None, key


def verdict(line: str | None, keyword: str | None, name: str) -> str:
    """How a source line stands to the declaration expected there."""
    if line is None:
        return "file missing"
    if line == "":
        return "line past the end"
    if not re.search(rf"(?<![\w]){re.escape(name)}(?![\w])", line):
        return "name not on the line"
    if keyword in ("struct", "union", "enum") and not re.search(rf"\b{keyword}\b", line):
        return "keyword not on the line"
    return "declares it"


def examine(result: CheckResult, sources: dict[str, Sources]) -> dict:
    causes, members, samples = Counter(), Counter(), {}
    rows: list[dict] = []
    for rc in result.root_causes:
        keyword, name = _name_of(rc.key)
        if rc.location is None:
            state = "not located"
        else:
            side = sources[rc.located_in]
            state = verdict(side.line(rc.location.file, rc.location.line), keyword, name)
        kind = "type" if keyword else "export"
        causes[(kind, state)] += 1
        if rc.location is not None:
            source = sources[rc.located_in].line(rc.location.file, rc.location.line)
            rows.append({"key": rc.key, "location": rc.location.text(), "side": rc.located_in,
                         "symbols": len(rc.symbols), "source": (source or "").strip(),
                         "verdict": state})
        samples.setdefault((kind, state), []).append(
            f"{rc.key} at {rc.location.text() if rc.location else '-'}")
        for text, at in zip(rc.diff, rc.diff_locations):
            if at is None:
                continue
            member = re.match(r"(?:member|formal_parameter|enumerator) (\S+):", text)
            named = member.group(1) if member else None
            if named is None:  # added/removed: the last word before, attributes aside
                words = re.match(r"(.*?) (added|removed)\b", text)
                names = [w for w in (words.group(1).split() if words else [])
                         if not ATTRIBUTE.fullmatch(w)]
                named = names[-1] if names else None
            side = sources["current" if " removed" not in text else "baseline"]
            state = verdict(side.line(at.file, at.line), None, named or "")
            members[state] += 1
            samples.setdefault(("member", state), []).append(f"{rc.key} {named} at {at.text()}")
    ends = Counter()
    ids = {rc.id: rc.key for rc in result.root_causes}
    for sym in result.changed:
        e = sym.explanation
        if e is None or e.status != "explained":
            continue
        for rc_id in e.root_causes:
            path = e.paths.get(rc_id, [])
            ends["ends at the root cause" if path and path[-1] == ids[rc_id]
                 else "does not end at it"] += 1
    return {"rows": rows, "causes": {f"{k} {s}": n for (k, s), n in sorted(causes.items())},
            "members": dict(sorted(members.items())), "paths": dict(sorted(ends.items())),
            "samples": {" ".join(k): v[:SAMPLE] for k, v in sorted(samples.items())
                        if k[-1] != "declares it"}}


def coverage(out: Path) -> dict[str, int]:
    """How many symtypes keys of a batchver output have a location, and of
    those without, how many are declaration-only types (``s#x structure_type
    x { }``: gcc gives a declaration no DW_AT_decl_file) or something else."""
    report = json.loads((out / "report.json").read_text())
    counts = Counter()
    for module, blocks in report["symtypes_blocks"].items():
        lines = (out / "symtypes" / f"{module}.symtypes").read_text().split("\n")
        located = {}
        with open(out / "symtypes" / f"{module}.locations.jsonl") as handle:
            for line in handle:
                block = json.loads(line)
                located[block["origin"]] = block["at"]
        for block in blocks:
            at = located.get(block["origin"], {})
            for line in lines[block["start"]:block["start"] + block["count"]]:
                key, _, text = line.partition(" ")
                counts["keys"] += 1
                if key in at:
                    counts["located"] += 1
                elif text.endswith("{ }"):
                    counts["declaration-only types, not located"] += 1
                else:
                    counts["other keys, not located"] += 1
    return dict(counts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--old", default="6.12.115")
    parser.add_argument("--new", default="6.12.117")
    parser.add_argument("--cache", type=Path, default=default_cache(), help=CACHE_HELP)
    parser.add_argument("--results", type=Path, default=REPO / "results")
    parser.add_argument("--modules-only", action="store_true")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--reuse", action="store_true",
                        help="reuse batchver outputs in <cache>/evidence made from the same trees")
    ns = parser.parse_args(argv)
    work = ns.cache / "evidence"
    roots = Roots({"<work>": work}, ns.cache)
    scope = "modules" if ns.modules_only else "full"
    outs = []
    for rel in (Release(ns.old), Release(ns.new)):
        tree = rel.tree(ns.cache)
        if ns.modules_only:
            tree = modules_mirror(tree, work / "trees" / scope)
        out = work / "out" / f"{rel.release}-{scope}"
        out.parent.mkdir(parents=True, exist_ok=True)
        batchver_run(tree, out, ns.jobs, ns.reuse, roots)
        outs.append(out)
    result = run_check(str(outs[0]), str(outs[1]))
    sources = {"baseline": Sources(source_tree(Release(ns.old), ns.cache)),
               "current": Sources(source_tree(Release(ns.new), ns.cache))}
    found = examine(result, sources)
    found["coverage"] = coverage(outs[1])
    types = {k: v for k, v in found["causes"].items() if k.startswith("type ")}
    good = types.get("type declares it", 0)
    data = {"old": ns.old, "new": ns.new, "scope": scope,
            "command": roots.command([sys.executable, *sys.argv]),
            "root_causes": len(result.root_causes),
            "changed_crcs": sum(1 for s in result.changed if "crc_changed" in s.change.kinds),
            "named_types_declared": [good, sum(types.values())], **found}
    stem = f"debian-{ns.old}-to-{ns.new.rsplit('.', 1)[-1]}-locations"
    (ns.results / f"{stem}.json").write_text(json.dumps(data, indent=1) + "\n")
    lines = [f"# Root-cause locations checked against linux-source-6.12, {ns.old} -> {ns.new}",
             "", f"Command: `{data['command']}` ({'modules only' if ns.modules_only else 'vmlinux and modules'}; "
             f"batchver outputs in `<cache>/evidence/out`)", "",
             f"* changed CRCs: {data['changed_crcs']}, root causes: {data['root_causes']}",
             f"* root causes that are named types whose location is a line of that release's "
             f"`linux-source-6.12` declaring the type: **{good} of {sum(types.values())}**",
             f"* symtypes keys of {ns.new} with a location: {found['coverage']['located']} of "
             f"{found['coverage']['keys']}; not located: "
             + ", ".join(f"{k} {v}" for k, v in sorted(found["coverage"].items())
                         if k not in ("keys", "located")),
             "", "| root cause | location | count |", "| --- | --- | --- |",
             *[f"| {k.split(' ', 1)[0]} | {k.split(' ', 1)[1]} | {v} |"
               for k, v in found["causes"].items()],
             "", "| changed member, parameter or enumerator | count |", "| --- | --- |",
             *[f"| {k} | {v} |" for k, v in found["members"].items()],
             "", "| path from a changed symbol to its root cause | count |", "| --- | --- |",
             *[f"| {k} | {v} |" for k, v in found["paths"].items()],
             "", "| root cause | symbols | location (side read) | the source line there |",
             "| --- | --- | --- | --- |",
             *[f"| `{r['key']}` | {r['symbols']} | `{r['location']}` ({r['side']}) | "
               f"`{r['source'].replace('|', chr(92) + '|')}` |" for r in found["rows"]]]
    for what, sample in found["samples"].items():
        lines += ["", f"Examples, {what}:", ""] + [f"* `{s}`" for s in sample]
    (ns.results / f"{stem}.md").write_text(roots("\n".join(lines) + "\n"))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
