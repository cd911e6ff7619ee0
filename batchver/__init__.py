"""batchver: Linux kernel symbol versions (modversions CRCs) from DWARF,
byte-compatible with the kernel's scripts/gendwarfksyms, for whole trees.

The stages, in the order data flows through them (each imports only from
the stages above it):

* :mod:`batchver.elf` reads ELF files: headers, sections, symbols,
  relocations (:mod:`.elf.file`), which symbols a file exports
  (:mod:`.elf.exports`) and thin archives (:mod:`.elf.archive`);
* :mod:`batchver.dwarf` decodes DWARF: forms and attributes
  (:mod:`.dwarf.decode`) and units and DIEs (:mod:`.dwarf.reader`);
* :mod:`batchver.gendwarfksyms` is the upstream-compatible core, one module
  per upstream file: :mod:`.symbols` (symbols.c), :mod:`.dwarf` (dwarf.c and
  die.c: DIEs to type strings), :mod:`.types` (types.c: type map and CRCs),
  :mod:`.kabi` (kabi.c) and :mod:`.gendwarfksyms` (gendwarfksyms.c: one run
  over objects).  It does no scheduling, caching or output;
* :mod:`batchver.tree` versions a whole tree: :mod:`.discover` finds the
  work, :mod:`.linked` decides which CU versions each export of a linked
  file, :mod:`.tasks` are the worker functions, :mod:`.scheduler` fans them
  out, :mod:`.cache` reuses results, :mod:`.outputs` merges and writes, and
  :mod:`.pipeline` wires them into the one ``version_tree()``;
* :mod:`batchver.gate` compares a run with a baseline (``batchver check``);
* :mod:`batchver.nightly` runs configured trees and keeps history;
* :mod:`batchver.cli` holds one module per command.

Shared by all: :mod:`.errors`, :mod:`.atomic` (atomic writes),
:mod:`.gcpause` and :mod:`.deepstack` (how versioning runs in Python).
"""

__version__ = "0.1.0"

from batchver import native as _native  # noqa: E402  (decides compiled or pure before any hot module loads)

_native.install()
