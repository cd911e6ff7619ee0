"""Turn rendered entries into symtypes strings and CRCs (upstream's type_map).

* Every named struct/class/union/enum/typedef entry is expanded into a list
  of *pieces*: literal text, plus one piece per reference token (``s#foo``).
  Anonymous types are inlined; a DIE's COMPLETE entry is preferred over its
  UNEXPANDED one.  A line break is one space unless the next fragment of the
  same entry is another line break.
* When several DIEs give one name, the longest text wins (first on a tie).
* A symbol's CRC is zlib's CRC-32 of its text with each reference token
  replaced, on its first appearance in that symbol, by the referenced type's
  own text (recursively); later appearances stay as tokens.

Pieces are kept separate because upstream decides "is this a reference?" per
piece (does it start with ``s#``, ``u#``, ``e#`` or ``t#``), not per word.  A
reference piece is a :class:`Ref`, literal text a ``str``: the kind is decided
once, when the pieces are made, and never by looking at text again.
"""

from __future__ import annotations

import zlib
from typing import Callable, Final, Iterator, Union

from batchver.dwarf.constants import (
    DW_TAG_class_type, DW_TAG_enumeration_type, DW_TAG_structure_type, DW_TAG_typedef,
    DW_TAG_union_type)
from batchver.errors import VersioningError
from batchver.gendwarfksyms.kabi import KabiRules
from batchver.gendwarfksyms.options import Diagnostics, Options
from batchver.gendwarfksyms.symbols import PROCESSED, Symbol, SymbolTable
from batchver.gendwarfksyms.dwarf import COMPLETE, DieMap, Entry, SYMBOL, UNEXPANDED

# Bytes of expansions one type map keeps for reuse (see
# TypeMap.version_text): a vmlinux has thousands of exports whose texts run to
# megabytes, and memory must stay bounded; past this the walk just runs.
FRESH_CHARS = 64 << 20

#: CRC-32's generator polynomial, bits reflected as zlib's crc32 reads them.
CRC32_POLY: Final = 0xEDB88320


def _multiply_mod(a: int, b: int) -> int:
    """a(x) * b(x) modulo CRC-32's polynomial, both 32-bit values in the
    reflected order zlib's CRC uses (bit 31 is the coefficient of x^0)."""
    product = 0
    bit = 1 << 31
    while bit:
        if a & bit:
            product ^= b
        bit >>= 1
        b = (b >> 1) ^ CRC32_POLY if b & 1 else b >> 1
    return product


def _squares() -> list[int]:
    """x^(2^k) modulo the polynomial for k = 0..31 (it repeats after 32:
    the polynomial is primitive, so x has order 2^32 - 1)."""
    out = []
    power = 1 << 30  # x^1
    for _ in range(32):
        out.append(power)
        power = _multiply_mod(power, power)
    return out


_X_TO_2_TO_K: Final = _squares()


def crc32_combine(crc1: int, crc2: int, length2: int) -> int:
    """The CRC-32 of A + B from the CRC-32 of A, that of B and B's length
    in bytes (zlib's crc32_combine, which Python's zlib module does not
    offer): A's CRC moved past B's bits, that is multiplied by x^(8 *
    length2), then B's added, by the linearity of the CRC."""
    shift = 1 << 31  # x^0
    k = 3  # bytes: 8 = 2^3 bits each
    n = length2
    while n:
        if n & 1:
            shift = _multiply_mod(_X_TO_2_TO_K[k & 31], shift)
        n >>= 1
        k += 1
    return _multiply_mod(shift, crc1) ^ crc2


class Expansion:
    """A remembered expansion (see TypeMap.version_text): its text, encoded,
    with that text's CRC-32, so that a symbol's CRC steps over it with
    :func:`crc32_combine` instead of reading its bytes again.  On a built
    kernel object, remembered expansions are nine tenths of the bytes
    whose CRCs are taken, each read four times on average."""

    __slots__ = ("data", "crc")

    def __init__(self, data: bytes):
        self.data = data
        self.crc = zlib.crc32(data)


#: A symbol's version text in order: literal text and tokens (``str``), and
#: remembered expansions (see TypeMap.version_text).
Segments = list[Union[str, Expansion]]

TYPE_PREFIX: Final = {DW_TAG_class_type: "s", DW_TAG_structure_type: "s", DW_TAG_union_type: "u", DW_TAG_enumeration_type: "e", DW_TAG_typedef: "t"}
REF_STARTS: Final = ("s#", "u#", "e#", "t#")


def is_reference(piece: str) -> bool:
    return piece[:2] in REF_STARTS


class Ref:
    """A piece that upstream treats as a type reference when hashing
    (``token``: ``s#name``).  A class of its own rather than a ``str``
    subclass, so that compiled code tells the two kinds of piece apart by
    type and keeps both native."""

    def __init__(self, token: str) -> None:
        self.token = token

    def __reduce__(self) -> tuple[type[Ref], tuple[str]]:
        # Split files' partial type maps reach the merging process by
        # pickle, and a compiled class is remade by calling it: with its token.
        return Ref, (self.token,)


#: One piece of a compiled type string: literal text, or a reference.
Piece = Union[str, Ref]


def piece_text(piece: Piece) -> str:
    return piece if isinstance(piece, str) else piece.token


def pieces_text(pieces: list[Piece]) -> str:
    """The type string compiled pieces spell (references as tokens)."""
    return "".join([piece_text(p) for p in pieces])


def compile_pieces(pieces: list[str]) -> list[Piece]:
    """Mark reference pieces and merge runs of literal pieces, so a CRC walk
    touches one string per run instead of one per fragment."""
    out: list[Piece] = []
    run: list[str] = []
    for piece in pieces:
        if is_reference(piece):
            if run:
                out.append("".join(run))
                run = []
            out.append(Ref(piece))
        else:
            run.append(piece)
    if run:
        out.append("".join(run))
    return out


def _flush(run: list[str], out: list[Piece]) -> None:
    """Append a run of literal fragments to compiled pieces as one string.
    Upstream treats any *fragment* starting with ``s#``, ``u#``, ``e#`` or
    ``t#`` as a reference; no rendered fragment ever does (names cannot
    hold ``#``), so the fragment-wise check runs only on the rare run that
    has a ``#`` at all."""
    if not run:
        return
    text = "".join(run)
    if "#" in text:
        out.extend(compile_pieces(run))
    else:
        out.append(text)
    run.clear()


def reference_name(entry: Entry) -> str | None:
    """The ``s#name`` token of a named type entry, or None (inlined)."""
    if entry.state in (SYMBOL,) or not entry.fqn:
        return None
    prefix = TYPE_PREFIX.get(entry.tag)
    if prefix is None:
        return None
    fqn = entry.fqn
    if " " in fqn:
        fqn = f"'{fqn}'"
    return f"{prefix}#{fqn}"


def parse_type_string(name: str, text: str) -> list[str]:
    """Split a ``type_string`` rule's value into pieces: any ``[sute]#``
    starts a reference, which runs to the next space (or the closing quote)."""
    if not text:
        raise VersioningError("type_parse", f"empty type string override for '{name}'")
    pieces: list[str] = []
    start = 0
    pos = 0
    n = len(text)
    while pos < n:
        if not (text[pos] in "sute" and pos + 1 < n and text[pos + 1] == "#"):
            pos += 1
            continue
        end = pos + 2
        marker = " "
        if end < n and text[end] == "'":
            marker = "'"
            end += 1
        while end < n and text[end] != marker:
            end += 1
        if marker == "'":
            if end >= n:
                raise VersioningError("type_parse", f"incomplete {text[pos]}# type reference for "
                                      f"'{name}' (string : '{text}')")
            empty = end == pos + 3
            end += 1
        else:
            empty = end == pos + 2
        if empty:
            raise VersioningError("type_parse", f"empty {text[pos]}# type name for '{name}' "
                                  f"(string: '{text}')")
        if pos > start:
            pieces.append(text[start:pos])
        pieces.append(text[pos:end])
        start = end
        pos = end
    if start < n:
        pieces.append(text[start:])
    return pieces


class TypeMap:
    """Reference name -> longest expansion (as pieces), for one object."""

    def __init__(self, die_map: DieMap | None, rules: KabiRules, stable: bool,
                 debug: Callable[[str, str], None], dump_types: Callable[[str], None] | None = None,
                 reuse_expansions: bool = True):
        self.die_map = die_map
        self.rules = rules
        self.stable = stable
        self.debug = debug
        self.dump_types = dump_types
        self.types: dict[str, tuple[list[Piece], int]] = {}
        # Per die-map entry, by seq: its reference token ("" when it is
        # inlined) and its text as compiled pieces, once asked for.
        size = len(die_map.order) if die_map is not None else 0
        self._tokens: list[str | None] = [None] * size
        self._pieces: list[list[Piece] | None] = [None] * size
        # reference -> (its expansion, encoded, and the names it expands); see version_text
        self._fresh: dict[str, tuple[Expansion, frozenset[str]]] = {}
        # what may still be kept there (nothing on the reference path)
        self._fresh_room = FRESH_CHARS if reuse_expansions else 0

    # -- building ----------------------------------------------------------
    def entry_pieces(self, entry: Entry) -> list[Piece]:
        """``entry``'s text as compiled pieces (see :func:`compile_pieces`).

        The result is remembered: an unnamed type (a base type, a pointer,
        a function type) is inlined into every named type that uses it, and
        its text cannot change once rendering is done."""
        known = self._pieces[entry.seq]
        if known is not None:
            return known
        assert self.die_map is not None, "entries are only rendered from a die map"
        entries = self.die_map.entries
        pieces: list[Piece] = []
        run: list[str] = []  # literal text since the last reference
        line_break = False  # a run of line breaks is one space, written before what follows
        for frag in entry.frags:
            if isinstance(frag, int):
                line_break = True
                continue
            if line_break:
                run.append(" ")
                line_break = False
            if isinstance(frag, str):
                run.append(frag)
            else:
                key = frag.key << 2
                child = entries.get(key | COMPLETE) or entries.get(key | UNEXPANDED)
                if child is None:
                    raise VersioningError("__type_expand", f"unknown child: {frag.key:x}")
                token = self._tokens[child.seq]
                if token is None:
                    token = self._token(child)
                if token:
                    _flush(run, pieces)
                    pieces.append(Ref(token))
                    continue
                inner = self.entry_pieces(child)
                if not inner:
                    continue
                # splice: the child's leading and trailing text join this run
                head = inner[0]
                if isinstance(head, str):
                    run.append(head)
                    start = 1
                else:
                    _flush(run, pieces)
                    start = 0
                if len(inner) > start:
                    _flush(run, pieces)
                    pieces.extend(inner[start:-1])
                    tail = inner[-1]
                    if isinstance(tail, str):
                        run.append(tail)
                    else:
                        pieces.append(tail)
        if line_break:
            run.append(" ")
        _flush(run, pieces)
        self._pieces[entry.seq] = pieces
        return pieces

    def _token(self, entry: Entry) -> str:
        """:func:`reference_name`, remembered ("" when inlined): it is asked
        of every child reference and of every entry."""
        token = self._tokens[entry.seq]
        if token is None:
            token = self._tokens[entry.seq] = reference_name(entry) or ""
        return token

    def _expansion(self, name: str, entry: Entry) -> list[Piece]:
        override = self.rules.type_string(name) if self.stable else None
        if override is not None:
            return compile_pieces(parse_type_string(name, override))
        return self.entry_pieces(entry)

    def add(self, name: str, pieces: list[Piece]) -> None:
        """Keep the longest expansion for ``name`` (the first on a tie);
        ``pieces`` are compiled (see :func:`compile_pieces`)."""
        length = sum([len(piece_text(p)) for p in pieces])
        current = self.types.get(name)
        if current is not None:
            if length <= current[1]:
                return
            if self.dump_types is not None:
                self.debug("type_map_add", f"replacing {name}")
        elif self.dump_types is not None:
            self.debug("type_map_add", f"adding {name}")
        self.types[name] = (pieces, length)
        if self.dump_types is not None:
            self.dump_types(f"{name} {pieces_text(pieces)}\n")

    def build(self) -> None:
        """Add every named type rendered in the object (upstream's
        ``expand_type`` over die_map)."""
        assert self.die_map is not None, "only a die map's types are built"
        entries = self.die_map.entries
        for entry in self.die_map.order:
            if entry.mapped or entry.state not in (COMPLETE, UNEXPANDED):
                continue
            entry.mapped = True
            if entry.state == UNEXPANDED:
                complete = entries.get(entry.key << 2 | COMPLETE)
                if complete is not None:
                    if complete.mapped:
                        continue
                    complete.mapped = True
                    entry = complete
            name = self._token(entry)
            if not name:
                continue
            self.debug("expand_type", name)
            self.add(name, self._expansion(name, entry))

    def symbol_pieces(self, name: str, entry: Entry) -> list[Piece]:
        return self._expansion(name, entry)

    # -- versions ----------------------------------------------------------
    def lookup(self, name: str) -> list[Piece] | None:
        found = self.types.get(name)
        if found is not None:
            return found[0]
        override = self.rules.type_string(name) if self.stable else None
        if override is not None:
            self.add(name, compile_pieces(parse_type_string(name, override)))
            return self.types[name][0]
        return None

    def version_text(self, name: str, pieces: list[Piece]) -> Segments:
        """The fully expanded text a symbol's CRC is computed over, from
        the symbol's compiled pieces, in segments (:func:`crc32_segments`
        and :func:`segments_text` read them).

        Most symbols of an object expand the same big types (a driver's
        exports all take its device struct), and each would walk the same
        type graph piece by piece.  So the expansion of a reference made
        straight from a symbol's own pieces is remembered with the names it
        expanded, whenever that expansion met no name expanded before it
        (it is then the reference's text in any symbol).  A later symbol
        uses it wherever it expands that reference before any of those
        names: the walk would produce exactly that text and mark exactly
        those names.

        A remembered expansion (:class:`Expansion`) is kept encoded, with
        its CRC, and stays one segment of every text it joins: the CRC
        steps over it (:func:`crc32_segments`), where joining the whole
        text and encoding it copied it twice per symbol and hashing read
        it again (a big struct's expansion in each of a driver's
        exports)."""
        out: Segments = []
        seen: dict[str, int] = {}  # expanded name -> when
        added: list[str] = []  # expanded names, in order
        types = self.types
        fresh = self._fresh
        recording: tuple[str, int, int] | None = None  # (name, len(out), len(added)) at depth 1
        tainted = False
        # An explicit stack instead of recursion: kernel type graphs are deep.
        stack: list[tuple[str, Iterator[Piece]]] = [(name, iter(pieces))]
        while stack:
            owner, it = stack[-1]
            for item in it:
                if isinstance(item, str):
                    out.append(item)
                    continue
                piece = item.token
                when = seen.get(piece)
                if when is not None:
                    # a reference seen before was found then: it stays a token
                    if recording is not None and when < recording[2]:
                        tainted = True
                    out.append(piece)
                    continue
                known = fresh.get(piece)
                if known is not None and seen.keys().isdisjoint(known[1]):
                    out.append(known[0])
                    when = len(added)
                    seen[piece] = when
                    added.append(piece)
                    for other in known[1]:
                        seen[other] = when
                    added.extend(known[1])
                    continue
                found = types.get(piece)
                expansion = found[0] if found is not None else self.lookup(piece)
                if expansion is None:
                    raise VersioningError("__calculate_version", f"unknown type reference to "
                                          f"'{piece}' when expanding '{owner}'")
                if len(stack) == 1:
                    recording, tainted = (piece, len(out), len(added)), False
                seen[piece] = len(added)
                added.append(piece)
                stack.append((piece, iter(expansion)))
                break
            else:
                stack.pop()
                if len(stack) == 1 and recording is not None:
                    ref, start, first = recording
                    if not tainted and self._fresh_room > 0:
                        data = encode_segments(out[start:])
                        if self._fresh_room >= len(data):
                            self._fresh_room -= len(data)
                            remembered = Expansion(data)
                            fresh[ref] = (remembered, frozenset(added[first + 1:]))
                            del out[start:]
                            out.append(remembered)
                    recording = None
        return out

    def symtypes_lines(self) -> list[tuple[str, str]]:
        """``(key, text)`` for every entry, sorted by key bytes (strcmp)."""
        return sorted(((k, pieces_text(v[0])) for k, v in self.types.items()),
                      key=lambda kv: kv[0].encode("utf-8", "surrogateescape"))


def _runs(segments: Segments) -> Iterator[bytes | Expansion]:
    """The segments with each run of text joined and encoded once (UTF-8,
    surrogates escaped as everywhere), remembered expansions as they are."""
    run: list[str] = []
    for seg in segments:
        if isinstance(seg, str):
            run.append(seg)
            continue
        if run:
            yield "".join(run).encode("utf-8", "surrogateescape")
            run.clear()
        yield seg
    if run:
        yield "".join(run).encode("utf-8", "surrogateescape")


def encode_segments(segments: Segments) -> bytes:
    return b"".join([part if isinstance(part, bytes) else part.data for part in _runs(segments)])


def crc32_segments(segments: Segments) -> int:
    """The CRC-32 of the segments' concatenated bytes: zlib's CRC continues
    over each run of text, and steps over a remembered expansion by its
    own CRC, so that no expansion is copied or read again."""
    crc = 0
    for part in _runs(segments):
        if isinstance(part, bytes):
            crc = zlib.crc32(part, crc)
        else:
            crc = crc32_combine(crc, part.crc, len(part.data))
    return crc & 0xFFFFFFFF


def segments_text(segments: Segments) -> str:
    return encode_segments(segments).decode("utf-8", "surrogateescape")


def assign_versions(symbols: SymbolTable, types: TypeMap,
                    pieces_of: Callable[[Symbol], list[Piece] | None], opts: Options,
                    diag: Diagnostics) -> None:
    """types.c's generate_symtypes_and_versions: CRCs for every symbol with
    a type string, in upstream's order: an alias already versioned is not
    versioned again, and with symtypes each symbol's own line joins the
    type map."""
    for sym in symbols:
        if not opts.symtypes and sym.state == PROCESSED:
            continue
        pieces = pieces_of(sym)
        if pieces is None:
            continue
        if sym.state != PROCESSED:
            segments = types.version_text(sym.name, pieces)
            crc = crc32_segments(segments)
            symbols.set_crc(sym, crc, diag.warn)
            diag.debug("expand_symbol", f"{sym.name} = {crc:x}")
            if opts.dump_versions:
                diag.write(f"{sym.name} {segments_text(segments)}\n")
        if opts.symtypes:
            types.add(sym.name, pieces)
