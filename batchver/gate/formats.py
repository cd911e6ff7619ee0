"""The report formats of ``batchver check``, by name.

A module of its own so that the HTML renderer, which reuses the text
renderer's headline and summary, and the text renderer never import each
other.
"""

from __future__ import annotations

from typing import Callable

from batchver.gate.check import CheckResult
from batchver.gate.html import render_html
from batchver.gate.render import render_json, render_junit, render_text

RENDERERS: dict[str, Callable[[CheckResult], str]] = {
    "text": render_text, "json": render_json, "junit": render_junit, "html": render_html}
FORMATS = tuple(RENDERERS)


def render(result: CheckResult, fmt: str) -> str:
    """The report of ``result`` in format ``fmt`` (one of :data:`FORMATS`)."""
    return RENDERERS[fmt](result)
