"""Results of unit ranges versioned apart, merged into one object's.

A big object is versioned in ranges of units, in one process (see
:meth:`.gendwarfksyms.Versioner._chunks`) or in several (the tree runner's
split of big files): each range stops before CRCs with its named type
strings and its symbols' strings, and the merge here gives what one run
over the whole object gives.  Upstream has no counterpart; the rule it
must reproduce is type_map's (the longest string per name wins, the
earlier on a tie).
"""

from __future__ import annotations

from dataclasses import dataclass

from batchver.elf.file import ElfObject
from batchver.gendwarfksyms.kabi import KabiRules, read_rules
from batchver.gendwarfksyms.options import Diagnostics, Options
from batchver.gendwarfksyms.symbols import MAPPED, SymbolTable, read_addresses, version_lines
from batchver.gendwarfksyms.types import Piece, TypeMap, assign_versions


@dataclass
class PartialTypes:
    """What one range of units contributes before CRCs: its named type
    strings in die_map order, and the strings of the symbols it rendered."""

    types: list[tuple[str, list[Piece]]]
    symbols: dict[str, list[Piece]]

    @classmethod
    def joined(cls, parts: list[PartialTypes]) -> PartialTypes:
        """Consecutive ranges' results as one range's, in order."""
        return cls([t for p in parts for t in p.types],
                   {n: v for p in parts for n, v in p.symbols.items()})


def merge_partials(elf: ElfObject, names: list[str], partials: list[PartialTypes],
                   opts: Options, diag: Diagnostics) -> tuple[list[tuple[str, int, bool]],
                                                              list[tuple[str, str]]]:
    """Finish a split whole-file run: merge the ranges' type maps in unit
    order (the longest string per name wins, the earlier on a tie, as in one
    run) and compute the CRCs.  Returns the version lines and symtypes."""
    symbols = SymbolTable(names)
    read_addresses(symbols, elf, diag)
    rules = read_rules(elf, diag) if opts.stable else KabiRules()
    for sym in symbols:
        if any(sym.name in part.symbols for part in partials):
            sym.state = MAPPED  # its range matched it to a DIE
    symtypes = assign_merged_versions(symbols, partials, rules, opts, diag)
    return version_lines(symbols, diag), symtypes


def assign_merged_versions(symbols: SymbolTable, partials: list[PartialTypes], rules: KabiRules,
                           opts: Options, diag: Diagnostics) -> list[tuple[str, str]]:
    """CRCs from partial type maps merged in order (the longest string per
    name wins, the earlier on a tie, as in one die map); returns the
    symtypes lines."""
    types = TypeMap(None, rules, opts.stable, diag.debug, reuse_expansions=opts.accelerations)
    pieces: dict[str, list[Piece]] = {}
    for part in partials:
        for name, text in part.types:
            types.add(name, text)
        pieces.update(part.symbols)
    assign_versions(symbols, types, lambda sym: pieces.get(sym.name), opts, diag)
    return types.symtypes_lines()
