"""The history as a table (for the terminal) and as a self-contained HTML
trend page with one inline SVG plot per metric.

The page has no scripts, fonts or stylesheets to fetch: it is attached to
mails, archived as a CI artifact and opened years later, so everything it
needs is inside it.  Hover text (SVG ``<title>``) gives each point's exact
value.  Runs that produced no outputs are marked with a red cross on the axis
of every plot, so a night without data is never mistaken for a night where a
metric was zero.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

from batchver import __version__
from batchver.charts import nice_ticks, svg_open
from batchver.nightly.history import RunRecord

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f")
FAIL = "#d62728"


@dataclass(frozen=True)
class Metric:
    """One plotted quantity: its title, unit, and how to read it from a record."""

    title: str
    unit: str
    value: Callable[[RunRecord], float | None]
    #: a log scale, for wall time: a cold run and cached runs differ 100-fold
    log: bool = False
    #: counts get whole-number ticks
    whole: bool = True


def _counts(key: str) -> Callable[[RunRecord], float | None]:
    return lambda r: (r.counts or {}).get(key)


def _changed(record: RunRecord) -> float | None:
    return (record.changed or {}).get("total")


def _hit_rate(record: RunRecord) -> float | None:
    rate = (record.cache or {}).get("hit_rate")
    return None if rate is None else 100.0 * rate


def _wall(record: RunRecord) -> float | None:
    return record.wall_seconds if record.status != "skipped" else None


METRICS = (
    Metric("Exports", "symbols", _counts("exports")),
    Metric("Symbols changed vs baseline", "symbols", _changed),
    Metric("Failures (files that could not be versioned)", "files", _counts("failed_files")),
    Metric("Wall time (log scale)", "s", _wall, log=True, whole=False),
    Metric("Cache hit rate", "%", _hit_rate, whole=False),
)


def run_key(record: RunRecord) -> str:
    """The nightly a record belongs to (trees of one nightly share it)."""
    return record.run_id or record.started


def _label(key: str) -> str:
    """``20261125T125800Z`` -> ``2026-11-25 12:58``."""
    try:
        moment = datetime.strptime(key[:16], "%Y%m%dT%H%M%SZ")
        return moment.strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return key[:16].replace("T", " ")


def _fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    if unit == "%":
        return f"{value:.1f}%"
    if unit == "s":
        return f"{value:.1f} s" if value >= 10 else f"{value:.2f} s"
    return f"{value:g}" if float(value).is_integer() else f"{value:.2f}"


# -- terminal table --------------------------------------------------------------
COLUMNS = ("run (UTC)", "tree", "status", "exports", "changed", "failures", "wall", "cache hits",
           "check")


def table_rows(records: list[RunRecord]) -> list[tuple[str, ...]]:
    """One row per record, in the columns of :data:`COLUMNS`."""
    rows: list[tuple[str, ...]] = []
    for r in records:
        rows.append((_label(run_key(r)), r.tree, r.status,
                     _fmt(_counts("exports")(r)), _fmt(_changed(r)),
                     _fmt(_counts("failed_files")(r)), _fmt(_wall(r), "s"),
                     _fmt(_hit_rate(r), "%"), (r.check or {}).get("status", "-")))
    return rows


def format_table(records: list[RunRecord]) -> str:
    rows = [COLUMNS] + table_rows(records)
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines) + "\n"


# -- SVG plots -----------------------------------------------------------------
def _svg_plot(metric: Metric, records: list[RunRecord], keys: list[str], colors: dict[str, str],
              width: int = 1180, height: int = 230) -> str:
    left, right, top, bottom = 70, 60, 16, 44
    inner_w, inner_h = width - left - right, height - top - bottom
    position = {k: i for i, k in enumerate(keys)}
    values = [v for r in records if (v := metric.value(r)) is not None]
    if metric.log:
        low = math.floor(math.log10(max(min((v for v in values if v > 0), default=1.0), 1e-3)))
        high = max(low + 1, math.ceil(math.log10(max(max(values, default=1.0), 1e-3))))
        ticks = [10.0 ** e for e in range(low, high + 1)]
    else:
        ticks = nice_ticks(max(values, default=0.0) if metric.unit != "%" else 100.0,
                           whole=metric.whole)

    def y(value: float) -> float:
        if metric.log:  # the axis floor for zero (and for crosses)
            span = math.log10(ticks[-1]) - math.log10(ticks[0])
            share = (math.log10(max(value, ticks[0])) - math.log10(ticks[0])) / span
        else:
            share = value / ticks[-1]
        return top + inner_h - inner_h * share

    def x(key: str) -> float:
        return left + (inner_w / 2 if len(keys) == 1 else inner_w * position[key] / (len(keys) - 1))

    parts = [svg_open(width, height, metric.title)]
    for tick in ticks:
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" '
                     f'class="grid"/><text x="{left - 8}" y="{y(tick) + 4:.1f}" class="ytick">'
                     f'{_fmt(tick, metric.unit if metric.unit == "%" else "")}</text>')
    step = max(1, math.ceil(len(keys) / 10))  # at most ~10 dates, always the last one
    last = len(keys) - 1
    shown = {i for i in range(0, len(keys), step) if last - i >= step} | {last}
    for i, key in enumerate(keys):
        if i in shown:
            parts.append(f'<text x="{x(key):.1f}" y="{height - 22}" class="xtick">'
                         f'{html.escape(_label(key))}</text>')
    parts.append(f'<text x="{left}" y="{height - 4}" class="unit">{html.escape(metric.unit)} per '
                 'night (hover a point for its value)</text>')
    for tree, color in colors.items():
        points = [(r, None if r.status == "error" else metric.value(r))
                  for r in records if r.tree == tree and r.status != "skipped"]
        segment: list[str] = []
        segments = []
        for record, value in points:  # a night without a value breaks the line
            if value is None:
                if segment:
                    segments.append(segment)
                segment = []
            else:
                segment.append(f"{x(run_key(record)):.1f},{y(value):.1f}")
        if segment:
            segments.append(segment)
        for seg in segments:
            if len(seg) > 1:
                parts.append(f'<polyline points="{" ".join(seg)}" fill="none" stroke="{color}" '
                             'stroke-width="2"/>')
        for record, value in points:
            tip = html.escape(f"{tree} {_label(run_key(record))}: ")
            if value is None and record.status == "error":
                px, py = x(run_key(record)), y(ticks[0])
                parts.append(f'<g class="err"><title>{tip}no outputs: '
                             f'{html.escape(record.error or "")}</title>'
                             f'<path d="M{px - 6:.1f},{py - 6:.1f}l12,12m0,-12l-12,12" '
                             f'stroke="{FAIL}" stroke-width="3"/></g>')
            elif value is not None:
                ring = f' stroke="{FAIL}" stroke-width="3"' if record.status == "failed" else \
                    ' stroke="#fff" stroke-width="1"'
                parts.append(f'<circle cx="{x(run_key(record)):.1f}" cy="{y(value):.1f}" r="4.5" '
                             f'fill="{color}"{ring}><title>{tip}{_fmt(value, metric.unit)} '
                             f'({html.escape(record.status)})</title></circle>')
    parts.append("</svg>")
    return "".join(parts)


_STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px auto;
max-width:1220px;color:#222;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:22px 0 4px}
.meta{color:#666;margin-bottom:12px}
table{border-collapse:collapse;margin:6px 0 12px;font-size:13px}
th,td{border-bottom:1px solid #ddd;padding:3px 10px;text-align:right;white-space:nowrap}
th{background:#f4f4f4}td:nth-child(-n+3),th:nth-child(-n+3){text-align:left}
.legend span{display:inline-block;margin-right:18px}
.sw{display:inline-block;width:12px;height:12px;border-radius:6px;margin-right:5px;
vertical-align:-1px}
.grid{stroke:#e5e5e5}.ytick{font-size:11px;text-anchor:end;fill:#555}
.xtick{font-size:11px;text-anchor:middle;fill:#555}.unit{font-size:11px;fill:#888}
.ok{color:#2a7a2a}.incomplete{color:#a66a00}.failed,.error{color:#d62728;font-weight:600}
.skipped{color:#888}
"""


def _html_table(records: list[RunRecord]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in COLUMNS)
    body = []
    for record, row in zip(records, table_rows(records)):
        cells = "".join(f"<td>{html.escape(c)}</td>" if i != 2 else
                        f'<td class="{html.escape(c)}">{html.escape(c)}</td>' for i, c in enumerate(row))
        error = record.error
        title = f' title="{html.escape(error)}"' if error else ""
        body.append(f"<tr{title}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def render_trend(records: list[RunRecord], title: str, outroot: str, full_rows: int = 200) -> str:
    """The trend page for ``records`` (oldest first) as one HTML document."""
    trees = list(dict.fromkeys(r.tree for r in records))
    colors = {tree: PALETTE[i % len(PALETTE)] for i, tree in enumerate(trees)}
    keys = sorted({run_key(r) for r in records})
    latest = [next(r for r in reversed(records) if r.tree == tree) for tree in trees]
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    legend = "".join(f'<span><i class="sw" style="background:{c}"></i>{html.escape(t)}</span>'
                     for t, c in colors.items())
    legend += (f'<span><i class="sw" style="background:#fff;border:3px solid {FAIL};width:7px;'
               'height:7px"></i>failed run</span>'
               f'<span style="color:{FAIL};font-weight:700">&#x2715;</span> no outputs (error)')
    sections = "".join(f"<h2>{html.escape(m.title)}</h2>{_svg_plot(m, records, keys, colors)}"
                       for m in METRICS)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        f'<div class="meta">{len(records)} runs of {len(trees)} tree(s) over {len(keys)} night(s) '
        f"in {html.escape(outroot)}; generated {generated} by batchver {__version__}</div>"
        f"<h2>Latest run of each tree</h2>{_html_table(latest)}"
        f'<div class="legend">{legend}</div>{sections}'
        f"<h2>History (newest first{', last %d' % full_rows if len(records) > full_rows else ''})</h2>"
        f"{_html_table(list(reversed(records))[:full_rows])}"
        "</body></html>\n")
