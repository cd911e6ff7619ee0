"""The exported-symbol registry: names, ELF addresses, aliases, output order.

Upstream keeps symbols in fixed-size hash tables and everything order-
dependent follows from that: ``#SYMVER`` lines come out bucket by bucket
(FNV-1 32-bit hash of the name modulo 4096, newest first within a bucket),
and symbols sharing an ELF address ``{section index, value}`` are aliases that
share a DIE, a pointer DIE and a CRC.  This module reproduces that order and
aliasing exactly, so the drop-in prints the same lines in the same order.
"""

from __future__ import annotations

import re
from typing import Callable, Collection, Final, Iterable, Iterator

from batchver.elf.file import ElfObject
from batchver.errors import VersioningError
from batchver.gendwarfksyms.options import Diagnostics

SYMBOL_PTR_PREFIX: Final = "__gendwarfksyms_ptr_"
SHN_UNDEF: Final = 0
NAME_BUCKETS: Final = 4096

UNPROCESSED: Final = 0
MAPPED: Final = 1
PROCESSED: Final = 2


def fnv32(name: str) -> int:
    """Upstream's ``hash_str``: FNV over C ``char`` values (sign-extended)."""
    h = 2166136261
    for b in name.encode("utf-8", "surrogateescape"):
        if b >= 0x80:
            b = (b - 256) & 0xFFFFFFFF
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


#: A DIE as a symbol records it: (which object of the run, the DIE's key in
#: that object's reader).  A run may read several objects, whose DIE keys
#: overlap.
DieRef = tuple[int, int]


class Symbol:
    __slots__ = ("name", "section", "address", "state", "die_key", "ptr_key", "crc", "seq")

    def __init__(self, name: str, seq: int):
        self.name = name
        self.seq = seq
        self.section = SHN_UNDEF
        self.address = 0
        self.state = UNPROCESSED
        self.die_key: DieRef | None = None
        self.ptr_key: DieRef | None = None
        self.crc = 0


class SymbolTable:
    """Exported names read from the symbol list, with upstream's lookups."""

    def __init__(self, names: Iterable[str]):
        self._by_name: dict[str, Symbol] = {}
        for name in names:
            if self.is_exported(name):
                continue  # duplicates are dropped silently
            self._by_name[name] = Symbol(name, len(self._by_name))
        # Iteration order: bucket ascending, newest first inside a bucket.
        self.ordered: list[Symbol] = sorted(
            self._by_name.values(), key=lambda s: (fnv32(s.name) % NAME_BUCKETS, -s.seq))
        # {section, address} -> symbols with that address, newest first.
        self._by_addr: dict[tuple[int, int], list[Symbol]] = {}

    def __len__(self) -> int:
        return len(self._by_name)

    def __iter__(self) -> Iterator[Symbol]:
        return iter(self.ordered)

    def names(self) -> list[str]:
        return list(self._by_name)

    def _lookup(self, name: str | None) -> Symbol | None:
        if not name:
            return None
        if name.startswith(SYMBOL_PTR_PREFIX):
            name = name[len(SYMBOL_PTR_PREFIX):]
        return self._by_name.get(name)

    def for_each(self, name: str | None, func: Callable[[Symbol], None] | None) -> int:
        """Call ``func`` on the symbol called ``name`` (a
        ``__gendwarfksyms_ptr_`` prefix is stripped) and on every symbol at
        the same ELF address; return how many were visited."""
        match = self._lookup(name)
        if match is None:
            return 0
        if func is not None:
            func(match)
        if match.section == SHN_UNDEF:
            return 1
        visited = 1
        for other in self._by_addr[(match.section, match.address)]:
            if other is not match:
                if func is not None:
                    func(other)
                visited += 1
        return visited

    def is_exported(self, name: str) -> bool:
        return self.for_each(name, None) > 0

    def get_unprocessed(self, name: str | None) -> Symbol | None:
        """The symbol (or alias) still waiting for a DIE; the last visited wins."""
        found: list[Symbol] = []
        self.for_each(name, lambda s: found.append(s) if s.state == UNPROCESSED else None)
        return found[-1] if found else None

    def set_address(self, name: str, section: int, address: int, warn: Callable[[str, str], None],
                    debug: Callable[[str, str], None]) -> None:
        """Record an ELF address for an exported name (first address wins)."""
        if section == SHN_UNDEF:
            return

        def assign(sym: Symbol) -> None:
            if sym.section == SHN_UNDEF:
                sym.section, sym.address = section, address
                self._by_addr.setdefault((section, address), []).insert(0, sym)
                debug("set_symbol_addr", f"{sym.name} -> {{ {section}, {address:x} }}")
            elif (sym.section, sym.address) != (section, address):
                warn("set_symbol_addr", f"multiple addresses for symbol {sym.name}?")

        self.for_each(name, assign)

    def _set_all(self, sym: Symbol, func: Callable[[Symbol], None]) -> None:
        if self.for_each(sym.name, func) == 0:
            raise VersioningError("symbol_set", f"no matching symbols: '{sym.name}'")

    def set_die(self, sym: Symbol, key: DieRef) -> None:
        def assign(s: Symbol) -> None:
            s.die_key = key
            s.state = MAPPED
        self._set_all(sym, assign)

    def set_ptr(self, sym: Symbol, key: DieRef) -> None:
        def assign(s: Symbol) -> None:
            s.ptr_key = key
        self._set_all(sym, assign)

    def set_crc(self, sym: Symbol, crc: int, warn: Callable[[str, str], None]) -> None:
        def assign(s: Symbol) -> None:
            if s.state == PROCESSED and s.crc != crc:
                warn("set_crc", f"overriding version for symbol {s.name} (crc {s.crc:x} vs. {crc:x})")
            s.state = PROCESSED
            s.crc = crc
        self._set_all(sym, assign)


def parse_symbol_list(lines: Iterable[str]) -> list[str]:
    """Names from a symbol list as upstream reads stdin: the first
    whitespace-separated token of each line; a line without one is an error."""
    names = []
    for line in lines:
        line = line.split("\0", 1)[0]  # sscanf sees a C string
        token = _TOKEN.search(line)
        if token is None:
            raise VersioningError("symbol_read_exports", f"malformed input line: {line}")
        names.append(token.group())
    return names


# C's isspace() set, which sscanf uses; Python's str.split() knows more.
_TOKEN: Final = re.compile(r"[^ \t\n\v\f\r]+")


def read_addresses(symbols: SymbolTable, elf: ElfObject, diag: Diagnostics,
                   undefined: Collection[str] = ()) -> None:
    """symbol_read_symtab: give the exported symbols their ELF addresses
    (aliases share one), in symbol-table order as upstream does.  Only the exported names (and their
    ``__gendwarfksyms_ptr_`` variables, which count as them) are looked up,
    so a run over a few exports of vmlinux does not walk its whole table.
    Names in ``undefined`` keep no address (see :class:`.gendwarfksyms.Versioner`)."""
    names = [n for n in symbols.names() if n not in undefined]
    for name, shndx, value in elf.global_symbols_named(names + [SYMBOL_PTR_PREFIX + n for n in names]):
        if symbols.is_exported(name):
            symbols.set_address(name, shndx, value, diag.warn, diag.debug)


def version_lines(symbols: SymbolTable, diag: Diagnostics) -> list[tuple[str, int, bool]]:
    """symbol_print_versions: ``(name, crc, has_information)`` in output
    order, warning for every symbol that got no version."""
    out = []
    for sym in symbols:
        if sym.state != PROCESSED:
            diag.warn("symbol_print_versions", f"no information for symbol {sym.name}")
        out.append((sym.name, sym.crc, sym.state == PROCESSED))
    return out


class TaggedSymbols:
    """The symbol table as one object's renderer sees it: DIE keys it stores are
    tagged with the current object, so a later object of the same run never
    mistakes an earlier object's DIE offset for one of its own."""

    def __init__(self, symbols: SymbolTable, object_id: int):
        self.table = symbols
        self.object_id = object_id

    def set_die(self, sym: Symbol, key: int) -> None:
        self.table.set_die(sym, (self.object_id, key))

    def set_ptr(self, sym: Symbol, key: int) -> None:
        self.table.set_ptr(sym, (self.object_id, key))
