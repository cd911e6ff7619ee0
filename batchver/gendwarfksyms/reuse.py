"""Skip walks over finished type graphs that cannot change an output.

Upstream walks a cached entry's whole type graph again every time an
exported symbol (or a member) reaches it, only to mark the structs, unions
and enums behind it as expanded for that symbol.  On a kernel that is most
of the run.  :class:`ReusingDieMap` is :class:`~.dwarf.DieMap` with three
shortcuts, each proven to leave every entry, every mark a later lookup
depends on and so every output byte unchanged:

* *frontiers*: a replay only needs the structs, unions and enums an entry
  reaches through entries of other tags (those neither mark nor change the
  expansion flag), so each entry remembers that list and a replay visits
  it with an explicit stack (:meth:`ReusingDieMap._silent_replay`);
* *unexpanded twins*: a struct, union or enum gets its UNEXPANDED entry as
  soon as its COMPLETE one exists (:meth:`ReusingDieMap._unexpanded_twin`);
* *closed entries*: an entry whose whole closure exists in every state a
  lookup could want is never replayed at all (:meth:`ReusingDieMap._close`).

It overrides only the hooks DieMap names; :class:`DieMap` itself is the
reference path, and ``Options(accelerations=False)`` runs it alone (the
corpus tests run both and demand the same bytes).  Dumps print every walk,
so a dumping run is always the reference path; ``--stable`` keeps the
frontiers but never closes entries (its union placeholders make an
UNEXPANDED entry lead somewhere).
"""

from __future__ import annotations

from typing import Callable

from batchver.dwarf.reader import Die, DwarfReader
from batchver.gendwarfksyms.dwarf import COMPLETE, EXPANDED_TAGS, UNEXPANDED, DieMap, Entry, SymbolState
from batchver.gendwarfksyms.kabi import KabiRules
from batchver.gendwarfksyms.symbols import TaggedSymbols


class ReusingDieMap(DieMap):
    """A die map whose replays skip what is proven to change nothing."""

    def __init__(self, reader: DwarfReader, rules: KabiRules, stable: bool,
                 fqn_of: Callable[[Die], str]):
        super().__init__(reader, rules, stable, fqn_of)
        # Whether entries are closed (see _close).  A replaced slot turns
        # it off for the rest of the die map (see _store).
        self.closing = not stable
        self.open: list[Entry] = []  # entries not closed yet, oldest first
        self.active: dict[int, int] = {}  # DIE key -> seq of its COMPLETE entry being rendered
        self.replay_parent: Entry | None = None  # who a replay's new entries count toward

    # -- DieMap's hooks ----------------------------------------------------
    def _new_entry(self, key: int) -> Entry:
        entry = DieMap._new_entry(self, key)
        if self.closing:
            self.open.append(entry)
        return entry

    def _store(self, entry: Entry) -> bool:
        """As DieMap's; a replaced slot means what was closed may lead
        elsewhere now, so closing stops and every entry is open again."""
        replaced = DieMap._store(self, entry)
        if replaced and self.closing:
            self.closing = False
            self.open.clear()
            for other in self.order:
                other.closed = False
        return replaced

    def _render(self, st: SymbolState, die: Die, tag: int, want: int) -> Entry:
        """As DieMap's, noting while it runs that the DIE's COMPLETE entry
        is under way, then making a struct's twin and closing what can be."""
        if not self.closing:
            return DieMap._render(self, st, die, tag, want)
        if want != COMPLETE:
            entry = DieMap._render(self, st, die, tag, want)
        else:
            key = die.key
            outer = self.active.get(key)
            self.active[key] = len(self.order)  # the seq _new_entry gives it
            entry = DieMap._render(self, st, die, tag, want)
            if outer is None:
                del self.active[key]
            else:
                self.active[key] = outer
            if tag in EXPANDED_TAGS:
                self._unexpanded_twin(die)
        if self.closing:
            self._close(entry)
        return entry

    def _process_cached(self, st: SymbolState, parent: Entry | None, die: Die, entry: Entry) -> None:
        """Replay a cached entry through its frontier, unless it is closed;
        entries it renders count toward ``parent``'s closure."""
        if entry.closed:
            return
        frontier = entry.frontier
        if frontier is None:
            frontier = self._frontier(entry)
        if not frontier:
            return
        outer = self.replay_parent
        if parent is not None:
            self.replay_parent = parent
        self._silent_replay(st, frontier)
        self.replay_parent = outer

    def _add_die(self, parent: Entry | None, die: Die, entry: Entry) -> None:
        if parent is not None:
            parent.frags.append(die)
        if self.closing:
            self._reaches(parent, die, entry)

    def process_symbol(self, st: SymbolState, die: Die, as_function: bool, symbols: TaggedSymbols,
                       debug: Callable[[str, str], None]) -> Entry | None:
        entry = DieMap.process_symbol(self, st, die, as_function, symbols, debug)
        if entry is not None and self.closing:
            self._close(entry)
        return entry

    # -- the shortcuts -----------------------------------------------------
    def _unexpanded_twin(self, die: Die) -> None:
        """Render a struct, union or enum's UNEXPANDED entry as soon as its
        COMPLETE one exists, if it has none yet.

        Upstream makes it only when a symbol reaches the type a second
        time; made early it is the same text (the name in braces, which no
        expansion state changes) and never changes an output: a DIE with a
        COMPLETE entry is always typed from that one.  Having both states of
        every struct lets :meth:`_close` prove that replays create nothing."""
        if die.key << 2 | UNEXPANDED in self.entries:
            return
        scratch = SymbolState()
        scratch.expand = False
        DieMap._render(self, scratch, die, die.tag, UNEXPANDED).closed = True  # it leads nowhere

    @staticmethod
    def _refs(entry: Entry) -> list[Die]:
        """The child DIEs among a finished entry's fragments (what a replay
        visits), listed once."""
        refs = entry.refs
        if refs is None:
            refs = entry.refs = [frag for frag in entry.frags if type(frag) is Die]
        return refs

    def _frontier(self, entry: Entry) -> list[Die]:
        """The struct/union/enum DIEs a replay of ``entry`` reaches through
        entries of other tags, in the order a replay visits them.

        Other tags neither mark nor change the expansion flag, and their
        COMPLETE entries never change once made, so replaying ``entry`` is
        the same as visiting this list.  It is remembered only once every
        entry on the way exists (otherwise a replay must render the missing
        one, which upstream does with side effects); until then the child
        references themselves are returned."""
        if entry.frontier is not None:
            return entry.frontier
        entries = self.entries
        out: list[Die] = []
        on_path = {entry.key}
        stack = [(iter(self._refs(entry)), entry.key)]
        while stack:
            children, _ = stack[-1]
            for die in children:
                if die.tag in EXPANDED_TAGS:
                    out.append(die)
                    continue
                inner = entries.get(die.key << 2 | COMPLETE)
                if inner is None or die.key in on_path:
                    return self._refs(entry)
                on_path.add(die.key)
                stack.append((iter(self._refs(inner)), die.key))
                break
            else:
                on_path.discard(stack.pop()[1])
        entry.frontier = out
        return out

    def _close(self, entry: Entry) -> None:
        """Once ``entry`` is rendered, mark it *closed*, with every entry
        made while rendering it, if none of them reaches a type whose
        rendering is still under way or that has no COMPLETE entry.

        A replay of a closed entry renders nothing, whatever the symbol has
        marked expanded so far: every entry it reaches exists in every state
        a lookup could want (COMPLETE, and UNEXPANDED for structs, unions
        and enums, see _unexpanded_twin), so every lookup hits.  Its only
        effect would be the marks, and those only choose between entries
        that both exist: a later reach of a marked type wants UNEXPANDED,
        an unmarked one COMPLETE, both are there, and the parent records
        the DIE either way.  A type not yet rendered is in no closed
        closure, so its own state is the same with or without the skip.
        So replays of closed entries are skipped, which saves a walk over
        the type graph behind an entry for every symbol, and every member,
        that reaches it again.

        This is Tarjan's strongly connected components on the fly: ``low``
        is the oldest still-open entry a closure reaches (see _reaches),
        and an entry whose closure reaches nothing older than itself closes
        with everything opened after it.  Entries are never removed, so
        closed entries stay closed (a replaced slot stops it all, see
        _store).  UNEXPANDED entries lead nowhere without --stable, the
        only mode this runs in."""
        if entry.low < entry.seq:
            return
        open_entries = self.open
        while open_entries and open_entries[-1].seq >= entry.seq:
            open_entries.pop().closed = True

    def _reaches(self, parent: Entry | None, die: Die, entry: Entry) -> None:
        """Note that ``parent`` (or, in a replay, the entry the replay
        renders for) now reaches ``die``, found or rendered as ``entry``:
        its ``low`` takes the entry's, and a type whose COMPLETE entry is
        still being rendered, or missing, holds it open (a replay that
        does not mark the type would look that entry up)."""
        sink = parent if parent is not None else self.replay_parent
        if sink is None:
            return
        low = sink.low
        if not entry.closed and entry.low < low:
            low = entry.low
        if entry.state != COMPLETE:
            complete = self.entries.get(die.key << 2 | COMPLETE)
            if complete is None:
                low = min(low, self.active.get(die.key, -1))
            elif not complete.closed:
                low = min(low, complete.low)
        sink.low = low

    def _silent_replay(self, st: SymbolState, frontier: list[Die]) -> None:
        """A replay without output, as an explicit-stack walk, over the
        :meth:`_frontier` of the entry replayed.

        It applies process_type's rules for cached entries (mark a struct,
        union or enum on its first visit in this symbol and walk its COMPLETE
        entry; walk the UNEXPANDED entry, with expansion off, otherwise),
        over each entry's frontier.  Where the wanted entry does not exist
        yet, the full process_type renders it, with the same expansion flag
        upstream would have."""
        entries = self.entries
        expanded = st.expanded
        stack = [(iter(frontier), st.expand)]
        while stack:
            children, expand = stack[-1]
            for die in children:
                key = die.key
                child_expand = expand
                want = COMPLETE
                is_expanded_tag = die.tag in EXPANDED_TAGS
                if is_expanded_tag:
                    if key in expanded:
                        child_expand = False
                    if child_expand:
                        expanded.add(key)
                    else:
                        want = UNEXPANDED
                cached = entries.get(key << 2 | want)
                if cached is None:
                    saved = st.expand
                    st.expand = expand
                    if want == COMPLETE and is_expanded_tag:
                        expanded.discard(key)  # process_type marks it itself
                    self.process_type(st, None, die)
                    st.expand = saved
                    continue
                if cached.closed:
                    continue
                reached = cached.frontier
                if reached is None:
                    reached = self._frontier(cached)
                if reached:
                    stack.append((iter(reached), child_expand))
                    break
            else:
                stack.pop()
