"""Compare how baseline and current were built.

DWARF-based CRCs move when the compiler changes (gcc and clang describe the
same source differently), when the DWARF version changes (bitfields), when
``--stable`` or the linked-tree semantics differ, and when the kernel
configuration changes.  A check across such a difference reports many CRC
changes that no source change caused, so the difference is reported
prominently, before anything else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from batchver.gate.baseline import Side
from batchver.gate.classify import SymbolChange

# Share of common symbols with changed CRCs above which both sides are
# probably not versioned the same way (for example genksyms vs DWARF).
SUSPICIOUS_SHARE = 0.9
SUSPICIOUS_MIN = 50


@dataclass
class Difference:
    """One way the two builds differ."""

    field: str
    baseline: object
    current: object
    moves_crcs: bool  # reported prominently when True

    def text(self) -> str:
        def show(value: object) -> str:
            if isinstance(value, list):
                return ", ".join(map(str, value)) or "(none)"
            return "(unknown)" if value in (None, "") else str(value)
        return f"{self.field}: {show(self.baseline)} -> {show(self.current)}"

    def to_json(self) -> dict[str, Any]:
        return {"field": self.field, "baseline": self.baseline, "current": self.current,
                "moves_crcs": self.moves_crcs}


def compare(baseline: Side, current: Side) -> list[Difference]:
    """What differs between the two builds.  Nothing can be compared when a
    side is a plain Module.symvers; that side's own note says so."""
    a, b = baseline.provenance, current.provenance
    if a is None or b is None:
        return []
    fields = [
        ("compilers", a.compilers, b.compilers, True),
        ("DWARF versions", a.dwarf_versions, b.dwarf_versions, True),
        ("--stable", a.stable, b.stable, True),
        ("semantics", a.semantics, b.semantics, True),
        ("tree kind", a.kind, b.kind, True),
        ("kernel config sha256", a.kernel.get("config_sha256"), b.kernel.get("config_sha256"),
         True),
        ("batchver version", a.tool_version, b.tool_version, True),
        ("kernel release", a.kernel.get("release"), b.kernel.get("release"), False),
    ]
    return [Difference(name, x, y, moves) for name, x, y, moves in fields if x != y]


def suspicious_share(changes: list[SymbolChange]) -> str | None:
    """A warning when nearly every common CRC changed: the two sides are
    probably versioned differently, not changed everywhere."""
    common = [(c.old.crc, c.new.crc) for c in changes if c.old is not None and c.new is not None
              and c.old.crc is not None and c.new.crc is not None]
    changed = sum(1 for old, new in common if old != new)
    if len(common) >= SUSPICIOUS_MIN and changed >= SUSPICIOUS_SHARE * len(common):
        return (f"{changed} of {len(common)} common symbols ({100 * changed // len(common)}%) "
                "changed CRC: are both sides versioned the same way (genksyms vs DWARF, another "
                "compiler)?")
    return None
