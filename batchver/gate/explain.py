"""Explain changed CRCs: root-cause types and minimal token-level diffs.

A CRC covers the symbol's own type string plus, recursively, every type
string it reaches (see :meth:`batchver.gendwarfksyms.types.TypeMap.version_text`).  A type string refers to other named
types only by token (``s#demo_buf``), so when ``s#demo_buf`` changes, the
lines of the types that *reach* it do not change: only the lines whose own
definitions changed differ.  The root causes of one symbol's CRC change are
therefore the keys reachable from it, in both graphs, whose lines differ.
The walk follows only references present on both sides: a type newly
referenced by a changed line is part of that line's diff, not a cause of
its own.

Findings are grouped by (key, old line, new line): one struct change that
breaks 300 symbols is one finding listing 300 symbols, not 300 findings.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any, Union

from batchver.gate.baseline import BlockLocations, Location, Side
from batchver.gate.classify import SymbolChange

_ATTR = re.compile(r"[a-z_]+\(\d+\)\Z")
_LOCATION = re.compile(r"(data_member_location|data_bit_offset)\(\d+\)\Z")
_REF = re.compile(r"[sute]#")
_OPEN = {"{": "}", "(": ")"}
MAX_DIFF_LINES = 40
MAX_SHIFTS_SHOWN = 3


def tokenize(text: str) -> list[str]:
    """Split a type string on spaces, keeping quoted names (``s#'a b'``) whole."""
    out: list[str] = []
    pending: list[str] | None = None
    for word in text.split(" "):
        if pending is not None:
            pending.append(word)
            if word.endswith("'"):
                out.append(" ".join(pending))
                pending = None
        elif _REF.match(word) and word[2:3] == "'" and not (len(word) > 3 and word.endswith("'")):
            pending = [word]
        elif word:
            out.append(word)
    if pending:
        out.append(" ".join(pending))
    return out


def references(text: str) -> set[str]:
    return {t for t in tokenize(text) if _REF.match(t)}


# -- the walk ----------------------------------------------------------------
class _Graph:
    """One side's block with its reference sets cached."""

    def __init__(self, lines: dict[str, str]):
        self.lines = lines
        self._refs: dict[str, set[str]] = {}

    def refs(self, key: str) -> set[str]:
        found = self._refs.get(key)
        if found is None:
            found = self._refs[key] = references(self.lines[key])
        return found


def root_keys(symbol: str, old: _Graph, new: _Graph) -> tuple[list[str], dict[str, str]]:
    """Keys reachable from ``symbol`` on both sides whose lines differ, in
    walk order (the symbol's own key first when its declaration changed),
    and each reached key's parent in the walk.  The walk is breadth-first,
    so following parents back from a cause gives a shortest chain of
    references from the symbol to it."""
    seen = {symbol}
    parents: dict[str, str] = {}
    queue = deque([symbol])
    causes = []
    while queue:
        key = queue.popleft()
        before, after = old.lines.get(key), new.lines.get(key)
        if before is None or after is None:
            causes.append(key)
            continue
        if before == after:
            follow = old.refs(key)
        else:
            causes.append(key)
            follow = old.refs(key) & new.refs(key)
        for ref in sorted(follow - seen):
            seen.add(ref)
            parents[ref] = key
            queue.append(ref)
    return causes, parents


def chain(symbol: str, cause: str, parents: dict[str, str]) -> list[str]:
    """The keys from ``symbol`` to ``cause`` along the walk's parents."""
    keys = [cause]
    while keys[-1] != symbol:
        keys.append(parents[keys[-1]])
    return keys[::-1]


# A parsed type string: tokens, and bracketed groups of them.
Node = Union[str, "_Group"]


def via(line: str, ref: str) -> str | None:
    """The name of the member (or parameter) of ``line`` through which it
    refers to ``ref``: the innermost named item holding the reference, so an
    anonymous union's member is named rather than the union."""
    def search(nodes: list[Node]) -> str | None:
        for item in _split_items(nodes):
            if ref not in flatten(item):
                continue
            inner = next((found for node in item if isinstance(node, _Group)
                          for found in [search(node.children)] if found), None)
            return inner or item_name(item)
        return None
    _, body, _ = _body(_parse(tokenize(line)))
    return search(body.children) if body is not None else None


# -- token-level diffs -------------------------------------------------------
@dataclass
class _Group:
    open: str
    children: list[Node]
    close: str

    def tokens(self) -> list[str]:
        return [self.open, *flatten(self.children), self.close]


def _parse(tokens: list[str]) -> list[Node]:
    stack: list[list[Node]] = [[]]
    opens: list[str] = []
    for tok in tokens:
        if tok in _OPEN:
            opens.append(tok)
            stack.append([])
        elif opens and tok == _OPEN[opens[-1]]:
            children = stack.pop()
            stack[-1].append(_Group(opens.pop(), children, tok))
        else:
            stack[-1].append(tok)
    while opens:  # unbalanced text: keep it, flattened
        children = stack.pop()
        stack[-1].extend([opens.pop(), *children])
    return stack[0]


def flatten(nodes: list[Node]) -> list[str]:
    out: list[str] = []
    for node in nodes:
        out.extend(node.tokens() if isinstance(node, _Group) else [node])
    return out


def _text(nodes: list[Node]) -> str:
    return " ".join(flatten(nodes))


def _split_items(children: list[Node]) -> list[list[Node]]:
    items: list[list[Node]] = [[]]
    for node in children:
        if node == ",":
            items.append([])
        else:
            items[-1].append(node)
    return [i for i in items if i]


def item_name(item: list[Node]) -> str | None:
    """The declared name of a member, parameter or enumerator: the first
    plain word after the item's type expression ends."""
    if not item or not isinstance(item[0], str):
        return None
    if item[0] == "enumerator":
        return item[1] if len(item) > 1 and isinstance(item[1], str) else None
    if item[0] not in ("member", "formal_parameter"):
        return None
    type_done = in_base = False
    for node in item[1:]:
        if isinstance(node, _Group) or _REF.match(node):
            type_done = True
        elif _ATTR.match(node):
            type_done = type_done or in_base
        elif node == "base_type":
            in_base = True
        elif node == "->":
            type_done = in_base = False
        elif type_done:
            return node
    return None


def _keyed(items: list[list[Node]]) -> list[tuple[str, list[Node]]]:
    """(identity, item): the name, or kind + position among unnamed ones."""
    out: list[tuple[str, list[Node]]] = []
    seen: dict[str, int] = {}
    unnamed: dict[str, int] = {}
    for item in items:
        name = item_name(item)
        kind = item[0] if item and isinstance(item[0], str) else "item"
        if name is None:
            unnamed[kind] = unnamed.get(kind, 0) + 1
            ident = f"{kind} <unnamed #{unnamed[kind]}>"
        else:
            ident = f"{kind} {name}"
        seen[ident] = seen.get(ident, 0) + 1
        out.append((ident if seen[ident] == 1 else f"{ident} <{seen[ident]}>", item))
    return out


def _edits(a: list[str], b: list[str]) -> list[tuple[str, int, int, int, int]]:
    """Token edits, with edits one unchanged token apart merged, so that
    ``int`` -> ``long int`` reads as one replacement, not an insertion."""
    merged: list[tuple[str, int, int, int, int]] = []
    for tag, i1, i2, j1, j2 in SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        if merged and i1 - merged[-1][2] <= 1 and j1 - merged[-1][4] <= 1:
            _, start_a, _, start_b, _ = merged[-1]
            merged[-1] = ("replace", start_a, i2, start_b, j2)
        else:
            merged.append((tag, i1, i2, j1, j2))
    return merged


def token_changes(a: list[str], b: list[str]) -> list[str]:
    """Minimal token edits turning ``a`` into ``b``, each as one phrase."""
    out = []
    for tag, i1, i2, j1, j2 in _edits(a, b):
        old, new = " ".join(a[i1:i2]), " ".join(b[j1:j2])
        if tag == "replace":
            out.append(f"{old} -> {new}")
        elif tag == "delete":
            out.append(f"removed '{old}'" + (f" after '{a[i1 - 1]}'" if i1 else ""))
        elif tag == "insert":
            out.append(f"added '{new}'" + (f" after '{a[i1 - 1]}'" if i1 else " at the start"))
    return out


def _location(item: list[Node]) -> str | None:
    return next((n for n in reversed(item) if isinstance(n, str) and _LOCATION.match(n)), None)


def _without_location(item: list[Node]) -> str:
    return _text([n for n in item if not (isinstance(n, str) and _LOCATION.match(n))])


def _body(nodes: list[Node]) -> tuple[list[Node], _Group | None, list[Node]]:
    """(head, first top-level group, tail) of a parsed type string."""
    for i, node in enumerate(nodes):
        if isinstance(node, _Group):
            return nodes[:i], node, nodes[i + 1:]
    return nodes, None, []


# One phrase of a diff, with the item it is about (its name, and the side
# whose declaration of it to locate: "new", or "old" for a removed item).
Phrase = tuple[str, "str | None", str]
# (module, origin): one block of a module's symtypes
BlockKey = tuple[str, "str | None"]


def describe(old: str | None, new: str | None) -> list[str]:
    """The minimal description of how one line changed, one phrase a line."""
    return [text for text, _, _ in describe_items(old, new)]


def describe_items(old: str | None, new: str | None) -> list[Phrase]:
    """:func:`describe`, each phrase with the item it names (if any)."""
    if old is None:
        return [(f"defined only in current: {new}", None, "new")]
    if new is None:
        return [(f"defined only in baseline: {old}", None, "old")]
    a, b = _parse(tokenize(old)), _parse(tokenize(new))
    head_a, body_a, tail_a = _body(a)
    head_b, body_b, tail_b = _body(b)
    if body_a is None or body_b is None or flatten(head_a) != flatten(head_b) \
            or body_a.open != body_b.open:
        return _plain(token_changes(flatten(a), flatten(b)))
    items_a, items_b = _split_items(body_a.children), _split_items(body_b.children)
    out: list[Phrase] = []
    if not items_a and items_b and not tail_a:
        out.append((f"was a declaration only, now defined with {len(items_b)} item(s)", None,
                    "new"))
    elif items_a and not items_b and not tail_b:
        out.append((f"now a declaration only (was defined with {len(items_a)} item(s); defined "
                    "in a .c file or declonly?)", None, "new"))
    else:
        out.extend(_item_changes(items_a, items_b))
    # The closing bracket gives a size that appears or vanishes its context.
    out.extend(_plain(token_changes([body_a.close, *flatten(tail_a)],
                                    [body_b.close, *flatten(tail_b)])))
    return out


def _plain(lines: list[str]) -> list[Phrase]:
    return [(line, None, "new") for line in lines]


def _item_changes(items_a: list[list[Node]], items_b: list[list[Node]]) -> list[Phrase]:
    keyed_a, keyed_b = _keyed(items_a), _keyed(items_b)
    old_map = dict(keyed_a)
    new_keys = {k for k, _ in keyed_b}
    out: list[Phrase] = []
    shifted: list[tuple[str, str | None, str | None]] = []
    for position, (ident, item) in enumerate(keyed_b, 1):
        before = old_map.get(ident)
        if before is None:
            where = _location(item)
            at = f"at {where}" if where else f"at position {position}"
            out.append((f"{_without_location(item)} added {at}", item_name(item), "new"))
            continue
        ta, tb = flatten(before), flatten(item)
        if ta == tb:
            continue
        if _without_location(before) == _without_location(item):
            shifted.append((ident.split(" ", 1)[-1], _location(before), _location(item)))
            continue
        out.append((f"{ident}: " + "; ".join(token_changes(ta, tb)), item_name(item), "new"))
    for ident, item in keyed_a:
        if ident not in new_keys:
            where = _location(item)
            out.append((f"{_without_location(item)} removed"
                        + (f" (was at {where})" if where else ""), item_name(item), "old"))
    if shifted:
        out.append((_shifted(shifted), None, "new"))
    return out


def _shifted(moves: list[tuple[str, str | None, str | None]]) -> str:
    """One line for members that only moved: ``3 later item(s) moved
    (data_member_location): a 8->16, b 16->24, c 24->32``."""
    def number(attr: str | None) -> str:
        return attr[attr.index("(") + 1:-1] if attr else "?"
    attrs = {a.split("(")[0] for _, old, new in moves for a in (old, new) if a}
    what = attrs.pop() if len(attrs) == 1 else "offsets"
    shown = ", ".join(f"{name} {number(old)}->{number(new)}"
                      for name, old, new in moves[:MAX_SHIFTS_SHOWN])
    more = len(moves) - MAX_SHIFTS_SHOWN
    return (f"{len(moves)} later item(s) moved ({what}): {shown}"
            + (f", and {more} more" if more > 0 else ""))


# -- findings ----------------------------------------------------------------
@dataclass
class RootCause:
    """One changed definition and every changed symbol it explains."""

    id: str
    key: str  # "s#demo_dev", or the export's own name when its declaration changed
    old: str | None
    new: str | None
    diff: list[str]
    symbols: list[str] = field(default_factory=list)  # "module:symbol"
    same_symbols_as: str | None = None  # an earlier finding breaking exactly these symbols
    location: Location | None = None  # where the key is declared
    located_in: str | None = None  # the side the location was read from
    diff_locations: list[Location | None] = field(default_factory=list)  # one per diff line

    @property
    def kind(self) -> str:
        return "type" if _REF.match(self.key) else "declaration"

    @property
    def status(self) -> str:
        return "added" if self.old is None else "removed" if self.new is None else "changed"

    def title(self) -> str:
        """``s#device_type (include/linux/device.h:88)``."""
        return self.key + (f" ({self.location.text()})" if self.location else "")

    def diff_lines(self) -> list[str]:
        """The diff, each line with its item's location when known."""
        return [line + (f" ({at.text()})" if at else "")
                for line, at in zip(self.diff, self.diff_locations)]

    def to_json(self) -> dict[str, Any]:
        at = self.location
        return {"id": self.id, "key": self.key, "kind": self.kind, "status": self.status,
                "file": at.file if at else None, "line": at.line if at else None,
                "located_in": self.located_in,
                "diff": self.diff,
                "diff_locations": [a.to_json() if a else None for a in self.diff_locations],
                "symbols": self.symbols,
                "same_symbols_as": self.same_symbols_as, "old": self.old, "new": self.new}


@dataclass
class Explanation:
    """Why one symbol's CRC changed, as far as the symtypes can tell."""

    status: str  # "explained", "unexplained", "unavailable"
    root_causes: list[str] = field(default_factory=list)  # RootCause ids
    reason: str = ""
    # RootCause id -> the shortest chain of references from the symbol to it,
    # e.g. ["usb_register_driver", "s#usb_driver.driver", "s#device_driver.bus", "s#bus_type"]
    paths: dict[str, list[str]] = field(default_factory=dict)


def _limit(phrases: list[Phrase]) -> list[Phrase]:
    if len(phrases) <= MAX_DIFF_LINES:
        return phrases
    return phrases[:MAX_DIFF_LINES] + [
        (f"... and {len(phrases) - MAX_DIFF_LINES} more change(s)", None, "new")]


class _Locator:
    """Locations of one pair of blocks, read only when a new finding needs
    them; the current side's declaration is preferred (it is the one to
    fix), the baseline's used for what current no longer has."""

    def __init__(self, baseline: Side, current: Side, old_block: BlockKey, new_block: BlockKey):
        self._sides = [(label, side.locations, block) for label, side, block in
                       (("new", current, new_block), ("old", baseline, old_block))
                       if side.locations is not None]
        self._loaded: dict[str, BlockLocations | None] | None = None

    def _blocks(self) -> dict[str, BlockLocations | None]:
        if self._loaded is None:
            self._loaded = {label: locations.block(*block)
                            for label, locations, block in self._sides}
        return self._loaded

    def _order(self, prefer: str) -> list[tuple[str, BlockLocations]]:
        blocks = [(label, b) for label, b in self._blocks().items() if b is not None]
        return sorted(blocks, key=lambda lb: lb[0] != prefer)

    def key(self, key: str, prefer: str) -> tuple[Location | None, str | None]:
        for label, block in self._order(prefer):
            if key in block.types:
                return block.types[key], "current" if label == "new" else "baseline"
        return None, None

    def item(self, key: str, name: str | None, prefer: str) -> Location | None:
        if name is None:
            return None
        for _, block in self._order(prefer):
            found = block.items.get(key, {}).get(name)
            if found is not None:
                return found
        return None


def _path(symbol: str, cause: str, parents: dict[str, str], old: _Graph, new: _Graph,
          labels: dict[tuple[str, str], str]) -> list[str]:
    """The chain from ``symbol`` to ``cause``, each intermediate type named
    with the member through which it reaches the next (``s#usb_driver.driver``)."""
    keys = chain(symbol, cause, parents)
    out = [symbol]
    for here, there in zip(keys[1:-1], keys[2:]):
        label = labels.get((here, there))
        if label is None:
            line = new.lines.get(here) or old.lines.get(here) or ""
            name = via(line, there)
            label = labels[(here, there)] = f"{here}.{name}" if name else here
        out.append(label)
    if len(keys) > 1:
        out.append(cause)
    return out


def explain(baseline: Side, current: Side, changes: list[SymbolChange]
            ) -> tuple[list[RootCause], dict[str, Explanation]]:
    """Root causes of every CRC change, grouped, with their source locations,
    and each symbol's explanation (keyed by ``SymbolChange.key``) with its
    path to each root cause."""
    explanations: dict[str, Explanation] = {}
    findings: dict[tuple[str, str | None, str | None], RootCause] = {}
    found: dict[str, list[tuple[RootCause, list[str]]]] = {}
    crc_changed = [c for c in changes if "crc_changed" in c.kinds]
    old_store, new_store = baseline.symtypes, current.symtypes
    if old_store is None or new_store is None:  # a side that cannot explain
        first = baseline if old_store is None else current
        reason = f"{first.label} has no symtypes ({first.form})"
        return [], {c.key: Explanation("unavailable", reason=reason) for c in crc_changed}
    # One pair of blocks at a time: each is read once and dropped after use.
    pairs: dict[tuple[str, str | None, str, str | None], list[SymbolChange]] = {}
    for change in crc_changed:
        old_export, new_export = change.pair()
        pair = (old_export.module, old_export.origin, new_export.module, new_export.origin)
        pairs.setdefault(pair, []).append(change)
    for (old_module, old_origin, new_module, new_origin), group in pairs.items():
        old_lines = old_store.block(old_module, old_origin) or {}
        new_lines = new_store.block(new_module, new_origin) or {}
        old, new = _Graph(old_lines), _Graph(new_lines)
        locator = _Locator(baseline, current, (old_module, old_origin), (new_module, new_origin))
        labels: dict[tuple[str, str], str] = {}
        for change in group:
            if change.symbol not in old_lines or change.symbol not in new_lines:
                side = "baseline" if change.symbol not in old_lines else "current"
                explanations[change.key] = Explanation(
                    "unavailable", reason=f"no symtypes line for {change.symbol} in {side}")
                continue
            causes = []
            keys, parents = root_keys(change.symbol, old, new)
            for key in keys:
                before, after = old_lines.get(key), new_lines.get(key)
                finding = findings.get((key, before, after))
                if finding is None:
                    finding = findings[(key, before, after)] = _finding(key, before, after,
                                                                         locator)
                finding.symbols.append(change.key)
                causes.append((finding, _path(change.symbol, key, parents, old, new, labels)))
            if causes:
                explanations[change.key] = Explanation("explained")
                found[change.key] = causes
            else:
                explanations[change.key] = Explanation(
                    "unexplained", reason="every reachable symtypes line is identical on both "
                                          "sides (CRCs computed differently?)")
    # Number findings by how many symbols they break, largest first; list
    # each finding's symbols in report order.
    order = {c.key: i for i, c in enumerate(changes)}
    ordered = sorted(findings.values(), key=lambda f: (-len(f.symbols), f.key, f.old or ""))
    first_with: dict[frozenset[str], str] = {}
    for number, finding in enumerate(ordered, 1):
        finding.id = f"rc{number}"
        finding.symbols.sort(key=order.__getitem__)
        # Changes made together (a member moved from one struct to another)
        # break the same symbols: say so rather than list them twice.
        finding.same_symbols_as = first_with.setdefault(frozenset(finding.symbols), finding.id)
        if finding.same_symbols_as == finding.id:
            finding.same_symbols_as = None
    for key, causes in found.items():
        explanations[key].root_causes = [f.id for f, _ in causes]
        explanations[key].paths = {f.id: path for f, path in causes}
    return ordered, explanations


def _finding(key: str, before: str | None, after: str | None, locator: _Locator) -> RootCause:
    """A new root cause, located: the key where the side that still has it
    declares it, each diff line at its item's declaration."""
    phrases = _limit(describe_items(before, after))
    location, side = locator.key(key, "old" if after is None else "new")
    return RootCause("", key, before, after, [text for text, _, _ in phrases],
                     location=location, located_in=side,
                     diff_locations=[locator.item(key, name, prefer)
                                     for _, name, prefer in phrases])
