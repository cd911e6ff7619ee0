"""Merge task results into the run's outputs, written atomically.

* ``Module.symvers`` in modpost's format,
  ``0x%08x<TAB>symbol<TAB>module<TAB>EXPORT_SYMBOL[_GPL]<TAB>namespace``,
  sorted by module (``vmlinux`` first, then modules by name) and then by
  symbol name; an export without a version gets ``0x00000000``, as kbuild
  would embed.
* ``symtypes/<module>.symtypes`` (with ``--symtypes``): the blocks of the
  module's objects (built tree: in link order) or exporting CUs (linked tree:
  in DWARF order), each sorted as upstream writes it.
* ``report.json``: per-file status, counts, errors, where each export was
  versioned, and the toolchain seen.  Everything in it is deterministic
  except the ``timing`` object, which holds all the clock readings.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

from batchver import __version__
from batchver.atomic import atomic_write
from batchver.tree.discover import VMLINUX, Discovery, module_sort_key
from batchver.tree.scheduler import RunOptions, RunOutcome

REPORT_SCHEMA = 1


@dataclass
class ExportRow:
    name: str
    module: str
    crc: int | None
    export_type: str
    namespace: str
    status: str  # "ok", "no-information" or "failed"
    versioned_in: str | None
    file: str


@dataclass
class Merged:
    rows: list[ExportRow] = field(default_factory=list)
    files: list[dict] = field(default_factory=list)
    # module -> its symtypes file's text, as the blocks it is made of (a
    # whole kernel's symtypes are hundreds of megabytes: not joined twice)
    symtypes: dict[str, list[str]] = field(default_factory=dict)
    symtypes_index: dict[str, list[dict]] = field(default_factory=dict)
    producers: list[str] = field(default_factory=list)
    dwarf_versions: list[int] = field(default_factory=list)

    @property
    def failed_files(self) -> list[dict]:
        return [f for f in self.files if f["status"] != "ok"]

    def count(self, status: str) -> int:
        return sum(1 for r in self.rows if r.status == status)


def merge(discovery: Discovery, outcome: RunOutcome) -> Merged:
    merged = Merged()
    producers: set[str] = set()
    dwarf: set[int] = set()
    blocks: dict[str, list[tuple[tuple, str, str]]] = {}
    link_order = {m: {os.path.normpath(p): i for i, p in enumerate(paths)}
                  for m, paths in discovery.member_order.items()}
    for item in discovery.items:
        results = outcome.results.get(item.rel, [])
        error = next((r.error for r in results if r.error), None)
        versions: dict[str, int | None] = {}
        origins: dict[str, str] = {}
        warnings: list[str] = []
        for r in results:
            versions.update(r.versions)
            origins.update(r.versioned_in)
            warnings.extend(r.warnings)
            producers.update(r.producers)
            dwarf.update(r.dwarf_versions)
            position = link_order.get(item.module, {}).get(os.path.normpath(item.rel), len(link_order))
            for key, origin, text in r.symtypes:
                blocks.setdefault(item.module, []).append(((position, key), origin, text))
        missing = []
        for export in item.exports:
            crc = None if error else versions.get(export.name)
            status = "failed" if error else ("ok" if crc is not None else "no-information")
            if status == "no-information":
                missing.append(export.name)
            merged.rows.append(ExportRow(export.name, item.module, crc, export.export_type,
                                         export.namespace, status, origins.get(export.name),
                                         item.rel))
        merged.files.append({
            "file": item.rel, "module": item.module,
            "status": "failed" if error else ("incomplete" if missing else "ok"),
            "exports": len(item.exports),
            "versioned": len(item.exports) - len(missing) if not error else 0,
            "no_information": missing,
            "error": error,
            "warnings": sorted(set(warnings)),
            "split_into": outcome.split.get(item.rel, 1),
            "cache": outcome.cache.get(item.rel, "off"),
            **({"paired_with": item.paired_with} if item.paired_with else {}),
        })
    merged.rows.sort(key=lambda r: (module_sort_key(r.module), r.name, r.file))
    for module, parts in blocks.items():
        ordered = sorted(parts, key=lambda p: p[0])
        merged.symtypes[module] = [text for _, _, text in ordered]
        index, line = [], 0
        for _, origin, text in ordered:
            count = text.count("\n")
            index.append({"origin": origin, "start": line, "count": count})
            line += count
        merged.symtypes_index[module] = index
    merged.producers = sorted(producers)
    merged.dwarf_versions = sorted(dwarf)
    return merged


def symvers_text(rows: list[ExportRow]) -> str:
    return "".join(f"0x{(r.crc or 0):08x}\t{r.name}\t{r.module}\t{r.export_type}\t{r.namespace}\n"
                   for r in rows)


def report_dict(discovery: Discovery, outcome: RunOutcome, merged: Merged, opts: RunOptions) -> dict:
    return {
        "schema": REPORT_SCHEMA,
        "tool": {"name": "batchver", "version": __version__},
        "tree": discovery.tree,
        "kind": discovery.kind,
        "options": {"semantics": opts.semantics if discovery.kind == "linked" else "kbuild",
                    "stable": opts.stable, "symtypes": opts.symtypes},
        "kernel": discovery.kernel,
        "toolchain": {"producers": merged.producers, "dwarf_versions": merged.dwarf_versions},
        "counts": {
            "files": len(merged.files),
            "failed_files": len(merged.failed_files),
            "modules": len({f["module"] for f in merged.files}),
            "exports": len(merged.rows),
            "versioned": merged.count("ok"),
            "no_information": merged.count("no-information"),
            "failed_exports": merged.count("failed"),
        },
        "notes": discovery.notes,
        "files": merged.files,
        "symtypes_blocks": merged.symtypes_index if opts.symtypes else {},
        "exports": {f"{r.module}:{r.name}": {
            "symbol": r.name, "module": r.module, "crc": None if r.crc is None else f"0x{r.crc:08x}",
            "export_type": r.export_type, "namespace": r.namespace, "status": r.status,
            "versioned_in": r.versioned_in} for r in merged.rows},
        "timing": {
            "wall_seconds": round(outcome.wall_seconds, 3),
            "cache_hits": outcome.cache_hits,
            "cache_lookups": len(outcome.cache),
            "jobs": opts.workers,
            "file_seconds": {rel: round(sum(r.seconds for r in rs), 3)
                             for rel, rs in sorted(outcome.results.items())},
            "stage_seconds": _stage_totals(outcome),
            "peak_worker_rss_mib": round(max((r.peak_rss_kib for rs in outcome.results.values()
                                              for r in rs), default=0) / 1024, 1),
        },
    }


def _stage_totals(outcome: RunOutcome) -> dict[str, float]:
    totals: dict[str, float] = {}
    for results in outcome.results.values():
        for r in results:
            for stage, seconds in r.stages.items():
                totals[stage] = totals.get(stage, 0.0) + seconds
    return {stage: round(seconds, 3) for stage, seconds in sorted(totals.items())}


def write_outputs(outdir: str, discovery: Discovery, outcome: RunOutcome, merged: Merged,
                  opts: RunOptions, earlier: str | None = None) -> dict:
    """Write every output atomically; return the report.  ``earlier`` is an
    earlier run's output directory: symtypes files that come out identical
    are hard-linked from it rather than written again."""
    os.makedirs(outdir, exist_ok=True)
    report = report_dict(discovery, outcome, merged, opts)
    if opts.symtypes:
        for module, texts in sorted(merged.symtypes.items()):
            name = os.path.join("symtypes", (module or VMLINUX) + ".symtypes")
            path = os.path.join(outdir, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            atomic_write(path, texts, os.path.join(earlier, name) if earlier else None)
    atomic_write(os.path.join(outdir, "Module.symvers"), symvers_text(merged.rows))
    atomic_write(os.path.join(outdir, "report.json"), report_json(report))
    return report


def report_json(report: dict) -> str:
    """``report.json``'s text: one line per top-level key and, for lists and
    objects, one line per item.  Diffable and greppable like an indented
    dump, but each line is encoded by json's C encoder (``indent`` falls
    back to the pure-Python one: a second per whole-tree run)."""
    lines = ["{"]
    keys = list(report)
    for i, key in enumerate(keys):
        value = report[key]
        head = f" {json.dumps(key)}: "
        tail = "," if i < len(keys) - 1 else ""
        if isinstance(value, dict) and value:
            items = [f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in value.items()]
            lines += [head + "{", ",\n".join(items), " }" + tail]
        elif isinstance(value, list) and value:
            lines += [head + "[", ",\n".join(f"  {json.dumps(v)}" for v in value), " ]" + tail]
        else:
            lines.append(head + json.dumps(value) + tail)
    lines.append("}")
    return "\n".join(lines) + "\n"


def summary_lines(report: dict) -> list[str]:
    c = report["counts"]
    lines = [f"{c['exports']} exports in {c['files']} files ({c['modules']} modules): "
             f"{c['versioned']} versioned, {c['no_information']} without DWARF information, "
             f"{c['failed_exports']} in failed files; wall time "
             f"{report['timing']['wall_seconds']:.1f} s with {report['timing']['jobs']} jobs"]
    for f in report["files"]:
        if f["status"] == "failed":
            lines.append(f"FAILED {f['file']}: {f['error']}")
        elif f["status"] == "incomplete":
            shown = ", ".join(f["no_information"][:5])
            more = len(f["no_information"]) - 5
            lines.append(f"no DWARF for {len(f['no_information'])} export(s) of {f['file']}: {shown}"
                         + (f" (+{more} more)" if more > 0 else ""))
    return lines
