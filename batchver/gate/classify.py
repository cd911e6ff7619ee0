"""Pair the exports of baseline and current and name what changed.

Symbols are paired by name, because a symbol keeps its name when it moves
to another module (modpost resolves by name too).  When a name is exported
by several modules on one side, exports of the same module are paired first;
what is left pairs one-to-one as a move, or counts as added/removed.

One symbol can change in several ways at once (moved *and* CRC changed), so
a change carries a list of kinds; an empty list means unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from batchver.gate.baseline import Side
from batchver.symvers import ExportRecord

# In report order: the kinds that break loading first.
CHANGE_KINDS = ("removed", "crc_changed", "crc_unavailable", "export_type_changed",
                "namespace_changed", "moved", "added")
KIND_TITLES = {
    "removed": "removed",
    "crc_changed": "CRC changed",
    "crc_unavailable": "CRC not comparable (a side has no version)",
    "export_type_changed": "export type changed (GPL-ness)",
    "namespace_changed": "namespace changed",
    "moved": "moved to another module",
    "added": "added",
}


@dataclass
class SymbolChange:
    """One symbol's fate between baseline (``old``) and current (``new``)."""

    symbol: str
    old: ExportRecord | None
    new: ExportRecord | None
    kinds: list[str] = field(default_factory=list)

    @property
    def module(self) -> str:
        """The module reports file it under: current's, else baseline's."""
        side = self.new if self.new is not None else self.old
        if side is None:
            raise ValueError(f"{self.symbol}: exported on neither side")
        return side.module

    def pair(self) -> tuple[ExportRecord, ExportRecord]:
        """(old, new) of a symbol on both sides: every kind but ``added``
        and ``removed`` compares the two."""
        if self.old is None or self.new is None:
            raise ValueError(f"{self.symbol}: not exported on both sides")
        return self.old, self.new

    @property
    def key(self) -> str:
        return f"{self.module}:{self.symbol}"

    @property
    def changed(self) -> bool:
        return bool(self.kinds)

    def details(self) -> list[str]:
        """One short human phrase per kind, with the old and new values."""
        out = []
        for kind in self.kinds:
            if kind == "crc_changed":
                old, new = self.pair()
                out.append(f"CRC {old.crc_text} -> {new.crc_text}")
            elif kind == "crc_unavailable":
                old, new = self.pair()
                out.append(f"CRC {old.crc_text or 'unknown'} -> {new.crc_text or 'unknown'}")
            elif kind == "export_type_changed":
                old, new = self.pair()
                out.append(f"{old.export_type} -> {new.export_type}")
            elif kind == "namespace_changed":
                old, new = self.pair()
                out.append(f"namespace '{old.namespace}' -> '{new.namespace}'")
            elif kind == "moved":
                old, new = self.pair()
                out.append(f"module {old.module} -> {new.module}")
            else:
                out.append(KIND_TITLES[kind])
        return out


def _compare(old: ExportRecord, new: ExportRecord) -> list[str]:
    kinds = []
    if old.crc is None or new.crc is None:
        kinds.append("crc_unavailable")
    elif old.crc != new.crc:
        kinds.append("crc_changed")
    if old.export_type != new.export_type:
        kinds.append("export_type_changed")
    if old.namespace != new.namespace:
        kinds.append("namespace_changed")
    if old.module != new.module:
        kinds.append("moved")
    return sorted(kinds, key=CHANGE_KINDS.index)


def _by_name(exports: list[ExportRecord]) -> dict[str, list[ExportRecord]]:
    out: dict[str, list[ExportRecord]] = {}
    for export in exports:
        out.setdefault(export.symbol, []).append(export)
    return out


def classify(baseline: Side, current: Side) -> list[SymbolChange]:
    """Every symbol of either side, unchanged ones included, sorted by
    (module, symbol) with vmlinux first."""
    old_by, new_by = _by_name(baseline.exports), _by_name(current.exports)
    changes: list[SymbolChange] = []
    for name in sorted(set(old_by) | set(new_by)):
        olds, news = list(old_by.get(name, [])), list(new_by.get(name, []))
        for old in list(olds):
            same = next((n for n in news if n.module == old.module), None)
            if same is not None:
                olds.remove(old)
                news.remove(same)
                changes.append(SymbolChange(name, old, same, _compare(old, same)))
        if len(olds) == 1 and len(news) == 1:
            changes.append(SymbolChange(name, olds[0], news[0], _compare(olds[0], news[0])))
            continue
        changes.extend(SymbolChange(name, old, None, ["removed"]) for old in olds)
        changes.extend(SymbolChange(name, None, new, ["added"]) for new in news)
    changes.sort(key=lambda c: (c.module != "vmlinux", c.module, c.symbol))
    return changes


def counts(changes: list[SymbolChange]) -> dict[str, int]:
    """How many symbols have each kind (a symbol can count under several)."""
    out = {"unchanged": sum(1 for c in changes if not c.kinds)}
    for kind in CHANGE_KINDS:
        out[kind] = sum(1 for c in changes if kind in c.kinds)
    return out
