"""Self-contained SVG charts: the nightly trend page's plots and the
benchmarks' bar charts share one writer, so both scale and label alike.

Charts are plain strings with no scripts or fonts to fetch: they are opened
from CI artifacts and archives long after the run.
"""

from __future__ import annotations

import html
import math


def svg_open(width: int, height: int, label: str) -> str:
    """The opening ``<svg>`` tag of a chart that scales to its container."""
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
            f'width="100%" role="img" aria-label="{html.escape(label)}" '
            'font-family="sans-serif" font-size="13">')


def nice_ticks(top: float, count: int = 5, whole: bool = False) -> list[float]:
    """0 and round steps (1, 2, 5 x 10^k; at least 1 when ``whole``) up to
    at least ``top``."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    if whole:
        step = max(1, step)
    ticks, value = [0.0], 0.0
    while value < top - 1e-9:
        value += step
        ticks.append(round(value, 10))
    return ticks


def bar_chart(rows: list[tuple[str, float]], title: str, unit: str = "s") -> str:
    """A horizontal bar chart of ``(label, value)`` rows on a shared scale
    with round grid steps."""
    width, bar, gap, left, right = 760, 26, 10, 260, 90
    height = 50 + len(rows) * (bar + gap)
    ticks = nice_ticks(max((v for _, v in rows), default=0.0))
    span = width - left - right

    def x(value: float) -> float:
        return left + span * value / ticks[-1]

    parts = [svg_open(width, height, title),
             f'<text x="10" y="22" font-size="15" font-weight="bold">{html.escape(title)}</text>']
    for tick in ticks:
        parts.append(f'<line x1="{x(tick):.1f}" x2="{x(tick):.1f}" y1="34" y2="{height - 10}" '
                     f'stroke="#ddd"/>')
    for i, (label, value) in enumerate(rows):
        y = 40 + i * (bar + gap)
        parts.append(f'<text x="10" y="{y + 18}">{html.escape(label)}</text>')
        parts.append(f'<rect x="{left}" y="{y}" width="{x(value) - left:.1f}" height="{bar}" '
                     'fill="#4a7bb7"/>')
        parts.append(f'<text x="{x(value) + 6:.1f}" y="{y + 18}">{value:.1f} {html.escape(unit)}</text>')
    parts.append("</svg>\n")
    return "\n".join(parts)
