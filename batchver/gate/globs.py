"""Glob matching for severity rules, linear in the name and never
backtracking, and an index that finds the rules matching a name without
trying every rule.

Rule patterns use suse-kabi-tools' wildcards: ``*`` (any run of characters)
and ``?`` (one character), matched against the whole name.  Translating them
into regular expressions, as batchver first did, makes Python's backtracking
engine try every way of splitting a name between the stars: the module rule
``*/*?*?*?*?*?*?*?*?*?*?*?*Q FAIL`` ran for minutes on 87 exports
(results/bench-rules-2026-11-30.json).

:class:`Glob` splits a pattern at its stars.  The part before the first star
must start the name and the part after the last star must end it; each part
in between is then searched for once, leftmost, after the previous one.
Taking the leftmost place is always safe (a later part that fits after a
later place also fits after an earlier one), so the search position only
moves forward: matching one pattern costs O(len(name) * len(pattern)) at
worst, whatever the stars.

:class:`GlobIndex` serves a rules file of 200,000 lines, where trying each
rule on each export is what costs.  A pattern without wildcards is a dictionary key.  Any other
pattern is filed under one short literal piece (up to three characters) that
every matching name must contain, the piece fewest patterns share; a name
then looks up only the pieces it contains (at most three per character) and
verifies the patterns filed there.  Patterns with no literal character at
all (``*``, ``?*``) are tried on every name; identical patterns are matched
once.
"""

from __future__ import annotations

import re
from collections import Counter

_GRAM = 3  # longest literal piece a pattern is filed under
_LITERALS = re.compile(r"[^*?]+")


def _literal_runs(part: str) -> list[tuple[int, str]]:
    """``(offset, text)`` of each stretch of ``part`` without ``?``."""
    runs, offset = [], 0
    for text in part.split("?"):
        if text:
            runs.append((offset, text))
        offset += len(text) + 1
    return runs


class _Part:
    """A piece of a pattern between stars: literal text and ``?``s."""

    __slots__ = ("length", "runs", "anchor")

    def __init__(self, text: str):
        self.length = len(text)
        self.runs = _literal_runs(text)
        # the longest literal run: searched for with str.find
        self.anchor = max(self.runs, key=lambda run: len(run[1])) if self.runs else None

    def fits(self, name: str, pos: int) -> bool:
        """Whether the part matches ``name`` at ``pos`` (bounds checked by
        the caller)."""
        return all(name.startswith(text, pos + offset) for offset, text in self.runs)

    def find(self, name: str, start: int, end: int) -> int:
        """The leftmost position in ``[start, end - length]`` where the part
        matches, or -1.  Candidates come from ``str.find`` on the anchor
        run and only move forward."""
        last = end - self.length
        if self.anchor is None:
            return start if start <= last else -1
        offset, text = self.anchor
        at = start
        while at <= last:
            found = name.find(text, at + offset, last + offset + len(text))
            if found < 0:
                return -1
            at = found - offset
            if len(self.runs) == 1 or self.fits(name, at):  # the anchor is all there is
                return at
            at += 1
        return -1


class Glob:
    """One pattern, whole-name match, ``*`` and ``?`` as wildcards."""

    __slots__ = ("text", "head", "tail", "middle", "minimum", "starred")

    def __init__(self, text: str):
        self.text = text
        parts = text.split("*")
        self.starred = len(parts) > 1
        self.head = _Part(parts[0])
        self.tail = _Part(parts[-1]) if self.starred else None
        self.middle = [_Part(p) for p in parts[1:-1] if p]
        self.minimum = sum(len(p) for p in parts)

    def match(self, name: str) -> bool:
        tail = self.tail
        if tail is None:  # not starred: the head is the whole pattern
            return len(name) == self.minimum and self.head.fits(name, 0)
        if len(name) < self.minimum:
            return False
        end = len(name) - tail.length
        if not (self.head.fits(name, 0) and tail.fits(name, end)):
            return False
        pos = self.head.length
        for part in self.middle:
            found = part.find(name, pos, end)
            if found < 0:
                return False
            pos = found + part.length
        return True


def _grams(text: str) -> set[str]:
    """The pieces of ``text`` of 1 to :data:`_GRAM` characters."""
    return {text[i:i + size] for size in range(1, _GRAM + 1)
            for i in range(len(text) - size + 1)}


class GlobIndex:
    """Many patterns; :meth:`matching` gives the numbers of those that match
    a name, in order, trying only patterns that could.  Building it costs a
    few dictionary operations per pattern; a pattern is compiled into a
    :class:`Glob` only when a name first needs it verified."""

    def __init__(self, patterns: list[str]):
        self._numbers: dict[str, list[int]] = {}  # distinct pattern -> its numbers
        for number, text in enumerate(patterns):
            self._numbers.setdefault(text, []).append(number)
        self._exact: set[str] = set()
        self._filed: dict[str, list[str]] = {}  # literal piece -> patterns filed under it
        self._everywhere: list[str] = []
        self._globs: dict[str, Glob] = {}
        keys: dict[str, list[str]] = {}
        for text in self._numbers:
            literals = _LITERALS.findall(text)
            if literals == [text]:
                self._exact.add(text)
            elif literals:
                longest = max(literals, key=len)
                keys[text] = [longest[i:i + _GRAM] for i in range(max(1, len(longest) - _GRAM + 1))]
            else:
                self._everywhere.append(text)
        # file each pattern under the piece of its longest literal that the
        # fewest patterns share, so that no piece collects most of them
        shared: Counter[str] = Counter()
        for pieces in keys.values():
            shared.update(set(pieces))
        for text, pieces in keys.items():
            self._filed.setdefault(min(pieces, key=shared.__getitem__), []).append(text)

    def _glob(self, text: str) -> Glob:
        glob = self._globs.get(text)
        if glob is None:
            glob = self._globs[text] = Glob(text)
        return glob

    def candidates(self, name: str) -> list[str]:
        """The wildcard patterns worth verifying against ``name``: those
        filed under a piece it contains, and those with no literal."""
        found = [text for piece in _grams(name) for text in self._filed.get(piece, ())]
        return found + self._everywhere

    def matching(self, name: str) -> list[int]:
        """The numbers of the patterns that match ``name``, ascending."""
        texts = [text for text in self.candidates(name) if self._glob(text).match(name)]
        if name in self._exact:
            texts.append(name)
        return sorted(number for text in texts for number in self._numbers[text])
