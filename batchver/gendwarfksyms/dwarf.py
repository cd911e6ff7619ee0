"""Render the DIEs reached from exported symbols into cached fragment lists.

This is the stage upstream calls ``die_map``.  Every DIE rendered for a
symbol gets an :class:`Entry` keyed by (DIE, state) holding *fragments*:
literal strings, line-break markers (+1, 0, -1) and child DIEs (the decoded
:class:`~batchver.dwarf.reader.Die` itself, so replaying never looks one up).
Type strings and CRCs are later built from these entries (see
:mod:`batchver.gendwarfksyms.types`), so the rules here decide every byte of output:

* structs, unions, enums and classes are expanded at most once per exported
  symbol (a per-symbol *expansion set* cuts recursion), never when they are
  declarations, ``declonly`` or defined in a ``.c`` file;
* an entry already rendered in the wanted state is walked again instead of
  re-read, which keeps ``--dump-dies`` output and expansion marks right
  (:mod:`.reuse` skips the walks that cannot change anything);
* with ``--stable``, ``__kabi_*`` names and reserved/ignored/renamed unions
  are applied, including upstream's stateful quirks (the renamed-member name
  is carried in per-symbol state, and a skipped list item leaves the "first
  item" flag set so no comma is written).

The per-unit steps of dwarf.c are here too: :class:`Scopes` gives fully
qualified names (resolve_fqns) and :func:`process_cu` matches a unit's
DIEs to exported symbols and renders them.  Nothing here does I/O: dumps go
to the ``dump`` callback.
"""

from __future__ import annotations

from typing import Callable, Final, Iterator, Union

from batchver.dwarf.constants import (
    DW_AT_abstract_origin, DW_AT_accessibility, DW_AT_alignment, DW_AT_bit_size, DW_AT_byte_size,
    DW_AT_const_value, DW_AT_count, DW_AT_data_bit_offset, DW_AT_data_member_location,
    DW_AT_decl_file, DW_AT_declaration, DW_AT_discr_value, DW_AT_encoding, DW_AT_linkage_name,
    DW_AT_name, DW_AT_type, DW_AT_upper_bound, DW_TAG_array_type, DW_TAG_atomic_type,
    DW_TAG_base_type, DW_TAG_class_type, DW_TAG_const_type, DW_TAG_enumeration_type,
    DW_TAG_enumerator, DW_TAG_formal_parameter, DW_TAG_immutable_type, DW_TAG_member,
    DW_TAG_namespace, DW_TAG_packed_type, DW_TAG_pointer_type, DW_TAG_reference_type,
    DW_TAG_restrict_type, DW_TAG_rvalue_reference_type, DW_TAG_shared_type,
    DW_TAG_structure_type, DW_TAG_subprogram, DW_TAG_subrange_type, DW_TAG_subroutine_type,
    DW_TAG_template_type_parameter, DW_TAG_typedef, DW_TAG_union_type, DW_TAG_unspecified_type,
    DW_TAG_variable, DW_TAG_variant, DW_TAG_variant_part, DW_TAG_volatile_type)
from batchver.dwarf.decode import MASK64
from batchver.dwarf.reader import Die, DwarfReader, Unit
from batchver.errors import VersioningError
from batchver.gendwarfksyms.kabi import KabiRules
from batchver.gendwarfksyms.symbols import SYMBOL_PTR_PREFIX, UNPROCESSED, Symbol, TaggedSymbols

INCOMPLETE: Final = 0
UNEXPANDED: Final = 1
COMPLETE: Final = 2
SYMBOL: Final = 3
#: One fragment of an entry's text (see Entry.frags).
Frag = Union[str, int, Die]
STATE_NAMES: Final = ("incomplete", "unexpanded", "complete", "symbol")


EXPANDED_TAGS: Final = frozenset((DW_TAG_structure_type, DW_TAG_class_type, DW_TAG_union_type, DW_TAG_enumeration_type))
PREFIX_TAGS: Final = frozenset((DW_TAG_namespace, DW_TAG_class_type, DW_TAG_structure_type))
SKIPPED_STRUCT_CHILDREN: Final = frozenset((DW_TAG_class_type, DW_TAG_enumeration_type, DW_TAG_structure_type, DW_TAG_template_type_parameter,
                                            DW_TAG_union_type, DW_TAG_subprogram))

# Tags rendered as "<name>_type <fqn> { <DW_AT_type> }" plus sizes.
MODIFIER_LABELS: Final = {
    DW_TAG_atomic_type: "atomic_type", DW_TAG_const_type: "const_type",
    DW_TAG_immutable_type: "immutable_type", DW_TAG_packed_type: "packed_type",
    DW_TAG_pointer_type: "pointer_type", DW_TAG_reference_type: "reference_type",
    DW_TAG_restrict_type: "restrict_type", DW_TAG_rvalue_reference_type: "rvalue_reference_type",
    DW_TAG_shared_type: "shared_type", DW_TAG_template_type_parameter: "template_type_parameter_type",
    DW_TAG_volatile_type: "volatile_type", DW_TAG_typedef: "typedef_type",
}
STRUCT_LABELS: Final = {DW_TAG_structure_type: "structure_type", DW_TAG_class_type: "class_type"}

# Attributes a member or parameter line ends with, in upstream's order.
LIST_ITEM_ATTRS: Final = ((DW_AT_accessibility, "accessibility"), (DW_AT_bit_size, "bit_size"),
                          (DW_AT_data_bit_offset, "data_bit_offset"),
                          (DW_AT_data_member_location, "data_member_location"))

KABI_PREFIX: Final = "__kabi_"
KABI_NORMAL: Final = 1
KABI_RESERVED: Final = 2
KABI_IGNORED: Final = 3


class Entry:
    """One die_map entry: a DIE rendered in one state (die.c's ``struct
    die``), numbered in creation order by ``seq``."""

    __slots__ = ("key", "state", "tag", "fqn", "frags", "mapped", "seq",
                 "refs", "frontier", "closed", "low")

    def __init__(self, key: int, seq: int):
        self.key = key
        self.seq = seq
        self.state = INCOMPLETE
        self.tag = -1
        self.fqn: str | None = None
        # text, a line break with an indent change (int), or a reference
        # to the DIE whose entry's text goes there
        self.frags: list[Frag] = []
        self.mapped = False
        # Kept by batchver.gendwarfksyms.reuse.ReusingDieMap; the reference
        # path never reads them (see that module for their meaning).
        self.refs: list[Die] | None = None
        self.frontier: list[Die] | None = None
        self.closed = False
        self.low = seq


class SymbolState:
    """Per exported symbol rendering state (upstream's ``struct state``)."""

    __slots__ = ("sym", "die", "expand", "current_fqn", "expanded", "first_list_item", "orig_name")

    def __init__(self, sym: Symbol | None = None, die: Die | None = None):
        self.sym = sym
        self.die = die
        self.expand = True
        self.current_fqn: str | None = None
        self.expanded: set[int] = set()
        self.first_list_item = False
        self.orig_name: str | None = None


class KabiScan:
    """Scratch state for inspecting a union's first members."""

    __slots__ = ("members", "orig_name", "placeholder")

    def __init__(self) -> None:
        self.members = 0
        self.orig_name: str | None = None
        self.placeholder: Die | None = None


#: What a container renders each chosen child with.
ChildRenderer = Callable[[SymbolState, "Entry", Die], None]


def kabi_status(name: str | None) -> tuple[int, str | None]:
    """Classify a member name: (status, original name for ``__kabi_renamed``)."""
    if name is not None and name.startswith(KABI_PREFIX):
        rest = name[len(KABI_PREFIX):]
        if rest.startswith("reserved"):
            return KABI_RESERVED, None
        if rest.startswith("ignored"):
            return KABI_IGNORED, None
        if rest.startswith("renamed"):
            return KABI_RESERVED, rest[len("renamed"):]
    return KABI_NORMAL, None


def symbol_name(die: Die) -> str | None:
    """The name exports are matched against: linkage name first (rustc, C++)."""
    name = die.string(DW_AT_linkage_name)
    return name if name is not None else die.string(DW_AT_name)


# Tags the unit walk always decodes: scopes it descends into and candidates.
WALK_DECODED: Final = frozenset((DW_TAG_namespace, DW_TAG_class_type, DW_TAG_structure_type, DW_TAG_subprogram, DW_TAG_variable))
# ... and the tag it never needs to see (nothing asks for a member's fqn).
MEMBERS: Final = frozenset((DW_TAG_member,))


class Scopes:
    """Fully qualified names, as upstream's per-CU pre-pass (resolve_fqns)
    computes them.

    Only scopes that can pass a prefix (namespace, class, struct) matter, and
    those are exactly the containers the symbol search descends into, so one
    walk serves both.  A DIE outside that walk (nested in a function, say)
    triggers a full walk of its unit.  A DIE in a unit after the current one
    has no name yet, exactly as upstream's pass has not reached it.
    """

    def __init__(self, reader: DwarfReader):
        self.reader = reader
        self.fqns: dict[int, str] = {}
        self.plain: set[int] = set()  # DIEs whose fqn is their own name
        self.fully_walked: set[int] = set()
        self.unit_index = reader.unit_numbers
        self.current = -1
        self.walked: dict[int, list[Die]] = {}  # unit start key -> its candidates

    @staticmethod
    def _names(die: Die, prefix: str | None) -> tuple[str, str | None]:
        """(this DIE's fqn, the prefix it passes to its children)."""
        name = die.string(DW_AT_name)
        passes = die.tag in PREFIX_TAGS
        if prefix is not None and (passes or name is not None):
            scoped = f"{prefix}::{name if name is not None else '<anonymous>'}"
            return (scoped if name is not None else ""), (scoped if passes else None)
        if name is not None:
            return name, (name if passes else None)
        return "", None

    def walk_unit(self, unit: Unit) -> list[Die]:
        """Record scopes of the unit's top level and of every namespace,
        class and struct below it; return the subprograms and variables
        found there, in DWARF order (the candidates for matching).

        Only DIEs that matter are decoded: scopes, candidates, and types
        nested in a scope.  Other DIEs are only noted as having no scoped
        name (their fqn is their own name); struct members are not even
        seen, since nothing asks for their fqn (a DIE never seen here gets a
        full walk of its unit if it ever is asked for).

        A unit is walked once per instance: kbuild semantics scans every
        unit of a file for its exports, then versions the exporting ones
        with the same instance."""
        start = unit.start
        known = self.walked.get(start)
        if known is not None:
            return known
        reader = self.reader
        candidates: list[Die] = []
        self.walked[start] = candidates
        cu = reader.unit_die(unit)
        if cu is None:
            return candidates
        index = reader.tree_index(unit)
        plain = self.plain
        stack: list[tuple[Iterator[tuple[int, int]], str | None]] = [(reader.child_entries(cu, MEMBERS), None)]
        prefix: str | None
        while stack:
            entries, prefix = stack[-1]
            for key, tag in entries:
                if tag in WALK_DECODED or prefix is not None:
                    if prefix is None and tag in PREFIX_TAGS and index is not None and \
                            (key not in index.ends or key in index.member_only):
                        # a top-level scope with nothing but members below
                        # it: the walk would find nothing there, and its
                        # fqn is its own name, so it need not be decoded
                        plain.add(key)
                        continue
                    die = reader.die(key, unit)
                    assert die is not None, "child_entries yields no null entries"
                    fqn, passed = self._names(die, prefix)
                    self.fqns[key] = fqn
                    if tag in PREFIX_TAGS:
                        stack.append((reader.child_entries(die, MEMBERS), passed))
                        break
                    if tag in (DW_TAG_subprogram, DW_TAG_variable):
                        candidates.append(die)
                elif prefix is None:
                    plain.add(key)
            else:
                stack.pop()
        reader.drop_tree_index(unit)
        return candidates

    def _walk_all(self, unit: Unit) -> None:
        self.fully_walked.add(unit.start)
        cu = self.reader.unit_die(unit)
        stack: list[tuple[Iterator[Die], str | None]] = \
            [(self.reader.children(cu), None)] if cu is not None else []
        prefix: str | None
        while stack:
            children, prefix = stack[-1]
            for die in children:
                fqn, passed = self._names(die, prefix)
                self.fqns[die.key] = fqn
                if die.has_children:
                    stack.append((self.reader.children(die), passed))
                    break
            else:
                stack.pop()

    def fqn(self, die: Die) -> str:
        unit = die.unit
        if self.unit_index[unit.start] > self.current:
            return ""
        known = self.fqns.get(die.key)
        if known is not None:
            return known
        if die.key in self.plain or die.tag == DW_TAG_enumerator:  # an enum passes no prefix to its enumerators
            return die.string(DW_AT_name) or ""
        if unit.start not in self.fully_walked:
            self._walk_all(unit)
        return self.fqns.get(die.key, "")


class _Dumper:
    """``--dump-dies`` output: fragments as upstream prints them while it
    renders, a line break starting a new line at the current indent only
    once more text follows."""

    __slots__ = ("write", "indent", "pending_break")

    def __init__(self, write: Callable[[str], None]):
        self.write = write
        self.indent = 0
        self.pending_break = False

    def echo(self, frag: str | int) -> None:
        """Print a text fragment, or note a line break (its indent change)."""
        if isinstance(frag, int):
            self.indent += frag
            self.pending_break = True
            return
        if self.pending_break:
            self.write("\n" + "  " * self.indent)
            self.pending_break = False
        self.write(frag)


class DieMap:
    """All entries rendered for one object file, in creation order: the
    die map of die.c and the type walk of dwarf.c, read side by side with
    them.

    This is the reference path: every cached entry is walked again when a
    symbol reaches it, as upstream does.  :mod:`.reuse` subclasses it to
    skip walks that cannot change anything, and :class:`DumpingDieMap` to
    print what it does, through the hooks :meth:`process_type`,
    :meth:`_new_entry`, :meth:`_store`, :meth:`_render`,
    :meth:`_process_cached`, :meth:`_add_die` and :meth:`process_symbol`."""

    def __init__(self, reader: DwarfReader, rules: KabiRules, stable: bool,
                 fqn_of: Callable[[Die], str]):
        self.reader = reader
        self.rules = rules
        self.stable = stable
        self.fqn_of = fqn_of
        # Finished entries by slot (DIE key << 2 | state); see slot().
        self.entries: dict[int, Entry] = {}
        self.order: list[Entry] = []
        self.srcfile_cache: dict[int, bool] = {}

    # -- the map (die.c) ---------------------------------------------------
    def get(self, key: int, state: int) -> Entry | None:
        return self.entries.get(key << 2 | state)

    def _new_entry(self, key: int) -> Entry:
        entry = Entry(key, len(self.order))
        self.order.append(entry)
        return entry

    def _store(self, entry: Entry) -> bool:
        """Make a finished entry visible to lookups; True when it replaces
        an older entry of its slot.  A DIE can be rendered again while its
        first rendering is still in progress (a function type reached
        through its own parameters); upstream's table then answers with the
        newest *created* entry, which is the inner one, so an outer entry
        finishing later must not replace it."""
        slot = entry.key << 2 | entry.state
        existing = self.entries.get(slot)
        if existing is None or existing.seq < entry.seq:
            self.entries[slot] = entry
            return existing is not None
        return False

    def _add_die(self, parent: Entry | None, die: Die, entry: Entry) -> None:
        """die_map_add_die: ``parent`` refers to ``die`` (rendered as
        ``entry``) from here on."""
        if parent is not None:
            parent.frags.append(die)

    def _die(self, key: int) -> Die:
        die = self.reader.die(key)
        if die is None:
            raise VersioningError("dwarf_formref_die", f"reference to a null DIE at {key:#x}",
                                  self.reader.path)
        return die

    def _type_of(self, die: Die) -> Die | None:
        # the commonest lookup of all: Die.ref and _die, inlined
        key = die.ref(DW_AT_type)
        if key is None:
            return None
        target = self.reader.die(key)
        return target if target is not None else self._die(key)

    # -- fragment output ---------------------------------------------------
    def _fqn(self, entry: Entry, die: Die) -> None:
        put = entry.frags.append
        if entry.fqn is None:
            entry.fqn = self.fqn_of(die)
        if entry.fqn:
            put(" ")
        put(entry.fqn)

    def _udata_attr(self, entry: Entry, die: Die, at: int, label: str) -> None:
        value = die.udata(at)
        if value is not None:
            entry.frags.append(f" {label}({value})")

    def _byte_size(self, entry: Entry, die: Die) -> None:
        value = die.udata(DW_AT_byte_size)
        if value is not None:
            if self.stable:
                override = self.rules.byte_size(entry.fqn)
                if override is not None:
                    value = override
            entry.frags.append(f" byte_size({value})")

    # -- containers --------------------------------------------------------
    def _container(self, st: SymbolState, entry: Entry, die: Die, func: ChildRenderer,
                   tags: tuple[int, ...] | None) -> None:
        """Call ``func`` on the children whose tag is in ``tags`` (all when
        None), tracking the first list item as upstream does."""
        st.first_list_item = True
        for child in self.reader.children(die):
            if tags is None or child.tag in tags:
                func(st, entry, child)
        st.first_list_item = False

    def _type_attr(self, st: SymbolState, entry: Entry, die: Die) -> None:
        target = self._type_of(die)
        if target is not None:
            self.process_type(st, entry, target)
        else:
            entry.frags.append("base_type void")

    def _comma(self, st: SymbolState, entry: Entry) -> None:
        put = entry.frags.append
        if st.first_list_item:
            st.first_list_item = False
        else:
            put(" ,")
            put(0)

    # -- per-tag rendering -------------------------------------------------
    def _list_item(self, st: SymbolState, entry: Entry, die: Die) -> None:
        put = entry.frags.append
        name = die.string(DW_AT_name)
        if self.stable:
            if name is not None and name.startswith(KABI_PREFIX):
                name = None
            st.orig_name = None
        self._comma(st, entry)
        put("member " if die.tag == DW_TAG_member else "formal_parameter ")
        self._type_attr(st, entry, die)
        if self.stable and st.orig_name is not None:
            name = st.orig_name
        if name is not None:
            put(" ")
            put(name)
        for at, label in LIST_ITEM_ATTRS:
            value = die.udata(at)
            if value is not None:
                put(f" {label}({value})")

    def _modifier(self, st: SymbolState, entry: Entry, die: Die) -> None:
        put = entry.frags.append
        put(MODIFIER_LABELS[die.tag])
        self._fqn(entry, die)
        put(" {")
        put(1)
        self._type_attr(st, entry, die)
        put(-1)
        put("}")
        self._byte_size(entry, die)
        self._udata_attr(entry, die, DW_AT_alignment, "alignment")

    def _subrange(self, st: SymbolState, entry: Entry, die: Die) -> None:
        put = entry.frags.append
        count = die.udata(DW_AT_count)
        if count is not None:
            put(f"[{count}]")
            return
        upper = die.udata(DW_AT_upper_bound)
        if upper is not None:
            put(f"[{(upper + 1) & MASK64}]")
        else:
            put("[]")

    def _array(self, st: SymbolState, entry: Entry, die: Die) -> None:
        put = entry.frags.append
        put("array_type")
        self._container(st, entry, die, self.process_type, (DW_TAG_subrange_type,))
        put(" {")
        put(1)
        self._type_attr(st, entry, die)
        put(-1)
        put("}")

    def _subroutine_like(self, st: SymbolState, entry: Entry, die: Die, label: str) -> None:
        put = entry.frags.append
        put(label)
        put(" (")
        put(1)
        self._container(st, entry, die, self.process_type, (DW_TAG_formal_parameter,))
        put(-1)
        put(")")
        put(0)
        put("-> ")
        self._type_attr(st, entry, die)

    def _subroutine(self, st: SymbolState, entry: Entry, die: Die) -> None:
        self._subroutine_like(st, entry, die, "subroutine_type")

    def _variant(self, st: SymbolState, entry: Entry, die: Die) -> None:
        put = entry.frags.append
        self._comma(st, entry)
        put("variant {")
        put(1)
        self._container(st, entry, die, self.process_type, (DW_TAG_member,))
        put(-1)
        put("}")
        self._udata_attr(entry, die, DW_AT_discr_value, "discr_value")

    def _variant_part(self, st: SymbolState, entry: Entry, die: Die) -> None:
        put = entry.frags.append
        self._comma(st, entry)
        put("variant_part {")
        put(1)
        self._container(st, entry, die, self.process_type, None)
        put(-1)
        put("}")

    def _is_private(self, die: Die) -> bool:
        """Types defined in a ``.c`` file cannot be public ABI.  The cache is
        keyed by file number alone and reset per CU, as upstream's is."""
        filenum = die.udata(DW_AT_decl_file)
        if filenum is None:
            return False
        cached = self.srcfile_cache.get(filenum)
        if cached is not None:
            return cached
        files = self.reader.source_files(die.unit)
        if filenum >= len(files):
            raise VersioningError("is_definition_private",
                                  f"dwarf_filesrc failed: file number {filenum} not in the line "
                                  f"table", self.reader.path)
        private = files[filenum].endswith(".c")
        self.srcfile_cache[filenum] = private
        return private

    def _is_definition(self, entry: Entry, die: Die) -> bool:
        if die.flag(DW_AT_declaration):
            return False
        if self.stable and self.rules.is_declonly(entry.fqn):
            return False
        return not self._is_private(die)

    def _struct_body(self, st: SymbolState, entry: Entry, die: Die, label: str, func: ChildRenderer,
                     tags: tuple[int, ...] | None) -> None:
        put = entry.frags.append
        put(label)
        self._fqn(entry, die)
        put(" {")
        put(1)
        expand = st.expand and self._is_definition(entry, die)
        if expand:
            st.current_fqn = entry.fqn
            self._container(st, entry, die, func, tags)
        put(-1)
        put("}")
        if expand:
            self._byte_size(entry, die)
            self._udata_attr(entry, die, DW_AT_alignment, "alignment")

    def _struct_child(self, st: SymbolState, entry: Entry, die: Die) -> None:
        tag = die.tag
        if tag == DW_TAG_member:
            if not self._is_kabi_ignored(die):
                self.process_type(st, entry, die)
        elif tag == DW_TAG_variant_part:
            self.process_type(st, entry, die)
        elif tag not in SKIPPED_STRUCT_CHILDREN:
            raise VersioningError("___process_structure_type",
                                  f"unexpected structure_type child: {tag:x}", self.reader.path)

    def _structure(self, st: SymbolState, entry: Entry, die: Die) -> None:
        self._struct_body(st, entry, die, STRUCT_LABELS[die.tag], self._struct_child, None)

    def _union(self, st: SymbolState, entry: Entry, die: Die) -> None:
        status, placeholder, orig = self.union_kabi_status(die)
        if status == KABI_RESERVED:
            assert placeholder is not None, "a reserved union names its placeholder"
            st.orig_name = orig
            self.process_type(st, entry, placeholder)
        if status > KABI_NORMAL:
            return
        self._struct_body(st, entry, die, "union_type", self._struct_child, None)

    def _enumerator(self, st: SymbolState, entry: Entry, die: Die) -> None:
        put = entry.frags.append
        value = None
        if self.stable:
            if entry.fqn is None:
                entry.fqn = self.fqn_of(die)
            if self.rules.is_enumerator_ignored(st.current_fqn, entry.fqn):
                return
            value = self.rules.enumerator_value(st.current_fqn, entry.fqn)
        self._comma(st, entry)
        put("enumerator")
        self._fqn(entry, die)
        if value is None:
            value = die.udata(DW_AT_const_value)
        if value is not None:
            put(" = ")
            put(str(value))

    def _enumeration(self, st: SymbolState, entry: Entry, die: Die) -> None:
        self._struct_body(st, entry, die, "enumeration_type", self.process_type, (DW_TAG_enumerator,))

    def _base(self, st: SymbolState, entry: Entry, die: Die) -> None:
        entry.frags.append("base_type")
        self._fqn(entry, die)
        self._byte_size(entry, die)
        self._udata_attr(entry, die, DW_AT_encoding, "encoding")
        self._udata_attr(entry, die, DW_AT_alignment, "alignment")

    def _unspecified(self, st: SymbolState, entry: Entry, die: Die) -> None:
        entry.frags.append("unspecified_type")

    # -- kABI unions -------------------------------------------------------
    def union_kabi_status(self, die: Die) -> tuple[int, Die | None, str | None]:
        """Look at a union's first two members (and a struct member's first
        member) for ``__kabi_`` names.  Returns (status, placeholder type,
        original name); a status of 0 means the union had nothing to look at,
        which callers treat like a normal union, as upstream does."""
        if not self.stable:
            return KABI_NORMAL, None, None
        scan = KabiScan()
        result = 0
        for child in self.reader.children(die):
            if child.tag != DW_TAG_member:
                continue
            result = self._union_member_status(scan, child)
            if result:
                break
        if result == KABI_RESERVED:
            return result, scan.placeholder, scan.orig_name
        return result, None, None

    def _union_member_status(self, scan: KabiScan, member: Die) -> int:
        target = self._type_of(member)
        if target is None:
            raise VersioningError("check_union_member_kabi_status", "union member missing a type?",
                                  self.reader.path)
        status, scan.orig_name = kabi_status(member.string(DW_AT_name))
        if status == KABI_RESERVED:
            scan.placeholder = target
        if status != KABI_NORMAL:
            return status
        if target.tag == DW_TAG_structure_type:
            status = 0
            for inner in self.reader.children(target):
                if inner.tag != DW_TAG_member:
                    continue
                status, scan.orig_name = kabi_status(inner.string(DW_AT_name))
                if status == KABI_RESERVED:
                    scan.placeholder = self._type_of(inner)
                    if scan.placeholder is None:
                        raise VersioningError("check_struct_member_kabi_status",
                                              "structure member missing a type?", self.reader.path)
                break
        if status <= KABI_NORMAL:
            scan.members += 1
            if scan.members < 2:
                return 0
        return status

    def _is_kabi_ignored(self, member: Die) -> bool:
        if not self.stable:
            return False
        target = self._type_of(member)
        if target is None:
            raise VersioningError("is_kabi_ignored", "member missing a type?", self.reader.path)
        return target.tag == DW_TAG_union_type and self.union_kabi_status(target)[0] == KABI_IGNORED

    # -- the type walk (dwarf.c) --------------------------------------------
    def process_type(self, st: SymbolState, parent: Entry | None, die: Die) -> None:
        """Render ``die`` (or walk its cached entry again) and append a
        reference to it to ``parent``.

        A member is the exception: it is only ever rendered inside the one
        rendering of its struct, union or variant, so it needs no entry of
        its own and its fragments go straight into the parent's."""
        tag = die.tag
        if tag == DW_TAG_member:
            assert parent is not None, "a member is only reached from its container"
            self._list_item(st, parent, die)
            return
        saved_expand, saved_fqn = st.expand, st.current_fqn
        want = COMPLETE
        if tag in EXPANDED_TAGS:
            if die.key in st.expanded:
                st.expand = False
            if st.expand:
                st.expanded.add(die.key)
            else:
                want = UNEXPANDED
        entry = self.entries.get(die.key << 2 | want)
        if entry is not None:
            self._process_cached(st, parent, die, entry)
        else:
            entry = self._render(st, die, tag, want)
        self._add_die(parent, die, entry)
        st.expand, st.current_fqn = saved_expand, saved_fqn

    def _render(self, st: SymbolState, die: Die, tag: int, want: int) -> Entry:
        """Render ``die`` into a new entry in state ``want`` (process_type's
        switch over tags) and store it."""
        handler = _HANDLERS.get(tag)
        if handler is None:
            raise VersioningError("process_type", f"unexpected type: {tag:x}", self.reader.path)
        entry = self._new_entry(die.key)
        handler(self, st, entry, die)
        entry.tag = tag
        entry.state = want
        self._store(entry)
        return entry

    def _process_cached(self, st: SymbolState, parent: Entry | None, die: Die, entry: Entry) -> None:
        """process_cached: walk a cached entry again, so that the types it
        reaches are marked expanded for this symbol; ``parent`` and ``die``
        say where it is reached from, which only :mod:`.reuse` needs."""
        for frag in entry.frags:
            if isinstance(frag, Die):
                self.process_type(st, None, frag)

    # -- exported symbols --------------------------------------------------
    def process_symbol(self, st: SymbolState, die: Die, as_function: bool, symbols: TaggedSymbols,
                       debug: Callable[[str, str], None]) -> Entry | None:
        """Render an exported symbol's own DIE into its SYMBOL entry: as
        ``subprogram ( ... ) -> ...`` for functions (and subroutine types
        behind symbol pointers), else as ``variable <type>``.  Returns the
        new entry, None when the DIE already has one."""
        sym = st.sym
        assert sym is not None, "only a symbol's state renders one"
        symbols.set_die(sym, die.key)
        if die.key << 2 | SYMBOL in self.entries:
            return None
        entry = self._new_entry(die.key)
        entry.tag = die.tag
        debug("process_symbol", sym.name)
        if as_function:
            self._subroutine_like(st, entry, die, "subprogram")
        else:
            entry.frags.append("variable ")
            self._type_attr(st, entry, die)
        entry.state = SYMBOL
        self._store(entry)
        return entry

    def save_symbol_ptr(self, st: SymbolState, symbols: TaggedSymbols) -> None:
        """Remember a ``__gendwarfksyms_ptr_`` variable's target for symbols
        that have no DIE of their own (clang omits external declarations)."""
        sym, die = st.sym, st.die
        assert sym is not None and die is not None, "only a symbol's state saves its pointer"
        ptr_type = self._type_of(die)
        if ptr_type is None or ptr_type.tag != DW_TAG_pointer_type:
            raise VersioningError("save_symbol_ptr", f"{symbol_name(die)} must be a pointer type!",
                                  self.reader.path)
        target = self._type_of(ptr_type)
        if target is None:
            raise VersioningError("save_symbol_ptr",
                                  f"{symbol_name(die)} pointer missing a type attribute?",
                                  self.reader.path)
        symbols.set_ptr(sym, target.key if target.tag == DW_TAG_subroutine_type else ptr_type.key)

    def origin_of(self, die: Die) -> Die | None:
        key = die.ref(DW_AT_abstract_origin)
        return None if key is None else self._die(key)


class DumpingDieMap(DieMap):
    """The reference path, printing as upstream does while it renders
    (``--dump-dies``): each entry's text and line breaks when they are
    made, a cached entry's again when it is walked, a line break after each
    symbol; with ``--dump-die-map``, every lookup too.  An entry's
    fragments are printed when rendering moves on to a child or finishes,
    or fails (nothing else prints in between), so the entries stay plain
    lists."""

    def __init__(self, reader: DwarfReader, rules: KabiRules, stable: bool,
                 fqn_of: Callable[[Die], str], dump: Callable[[str], None],
                 debug_map: Callable[[str], None] | None = None):
        super().__init__(reader, rules, stable, fqn_of)
        self.dumper = _Dumper(dump)
        self.debug_map = debug_map
        self.printed: dict[int, int] = {}  # entry seq -> fragments printed so far

    def _print_new(self, entry: Entry) -> None:
        frags = entry.frags
        start = self.printed.get(entry.seq, 0)
        for frag in frags[start:]:
            if not isinstance(frag, Die):
                self.dumper.echo(frag)
        self.printed[entry.seq] = len(frags)

    def process_type(self, st: SymbolState, parent: Entry | None, die: Die) -> None:
        if parent is not None:
            self._print_new(parent)
        DieMap.process_type(self, st, parent, die)

    def _render(self, st: SymbolState, die: Die, tag: int, want: int) -> Entry:
        entry = DieMap._render(self, st, die, tag, want)
        self._print_new(entry)
        if self.debug_map is not None:
            self.debug_map(f"<new {die.key:x} {STATE_NAMES[want]}>")
        return entry

    def _process_cached(self, st: SymbolState, parent: Entry | None, die: Die, entry: Entry) -> None:
        if self.debug_map is not None:
            self.debug_map(f"<cached {die.key:x} {STATE_NAMES[entry.state]}>")
        for frag in entry.frags:
            if isinstance(frag, Die):
                self.process_type(st, None, frag)
            else:
                self.dumper.echo(frag)

    def process_symbol(self, st: SymbolState, die: Die, as_function: bool, symbols: TaggedSymbols,
                       debug: Callable[[str, str], None]) -> Entry | None:
        try:
            entry = DieMap.process_symbol(self, st, die, as_function, symbols, debug)
        except Exception:
            # upstream has printed everything made up to its error
            for pending in self.order:
                self._print_new(pending)
            raise
        if entry is not None:
            self._print_new(entry)
            self.dumper.write("\n")
        return entry


def process_cu(die_map: DieMap, scopes: Scopes, unit: Unit, symbols: TaggedSymbols,
               debug: Callable[[str, str], None]) -> list[str]:
    """process_cu: match the unit's subprograms and variables to exported
    symbols and render them (process_exported_symbols), then the symbols
    known only through a ``__gendwarfksyms_ptr_`` variable of this object
    (process_symbol_ptr).  Returns the names rendered, in order."""
    rendered: list[str] = []
    table = symbols.table
    for die in scopes.walk_unit(unit):
        origin = die_map.origin_of(die)
        source = origin if origin is not None else die
        sym = table.get_unprocessed(symbol_name(die))
        if sym is None and origin is not None:
            sym = table.get_unprocessed(symbol_name(origin))
        if sym is None:
            continue
        st = SymbolState(sym, source)
        name = symbol_name(source)
        if name is not None and name.startswith(SYMBOL_PTR_PREFIX):
            die_map.save_symbol_ptr(st, symbols)
        else:
            die_map.process_symbol(st, source, die.tag == DW_TAG_subprogram, symbols, debug)
            rendered.append(sym.name)
    for sym in table:
        if sym.state != UNPROCESSED or sym.ptr_key is None or sym.ptr_key[0] != symbols.object_id:
            continue
        debug("process_symbol_ptr", sym.name)
        target = die_map.reader.die(sym.ptr_key[1])
        if target is None:
            raise VersioningError("process_symbol_ptr", f"{sym.name}'s pointer target is a null entry",
                                  die_map.reader.path)
        st = SymbolState(sym, target)
        die_map.process_symbol(st, target, target.tag == DW_TAG_subroutine_type, symbols, debug)
        rendered.append(sym.name)
    die_map.srcfile_cache.clear()
    return rendered


# Renderer per tag.  A module-level table of plain functions rather than a
# per-instance dict of bound methods: that dict would tie every DieMap into
# a reference cycle, which only the cyclic collector could free (see
# :mod:`batchver.gcpause`).
_HANDLERS: Final[dict[int, Callable[[DieMap, SymbolState, Entry, Die], None]]] = {
    DW_TAG_structure_type: DieMap._structure, DW_TAG_class_type: DieMap._structure, DW_TAG_union_type: DieMap._union,
    DW_TAG_enumeration_type: DieMap._enumeration, DW_TAG_enumerator: DieMap._enumerator,
    DW_TAG_formal_parameter: DieMap._list_item, DW_TAG_member: DieMap._list_item, DW_TAG_subrange_type: DieMap._subrange,
    DW_TAG_variant: DieMap._variant, DW_TAG_variant_part: DieMap._variant_part,
    DW_TAG_array_type: DieMap._array, DW_TAG_base_type: DieMap._base,
    DW_TAG_subroutine_type: DieMap._subroutine, DW_TAG_unspecified_type: DieMap._unspecified,
    **{tag: DieMap._modifier for tag in MODIFIER_LABELS},
}
