"""The upstream-compatible core, one module per stage of the kernel's
``scripts/gendwarfksyms`` so that each reads beside its C file:

* :mod:`.symbols` - symbols.c: the symbol list, aliases by address,
  ``__gendwarfksyms_ptr_`` pointers, the version lines;
* :mod:`.dwarf` - dwarf.c and die.c: fully qualified names, exports matched
  to DIEs, DIEs rendered into cached fragment lists (the die map);
* :mod:`.types` - types.c: type strings, the type map, symtypes and CRCs;
* :mod:`.kabi` - kabi.c: ``--stable`` rules from ``.discard.gendwarfksyms.kabi_rules``;
* :mod:`.gendwarfksyms` - gendwarfksyms.c: one run over objects sharing
  one symbol list;
* :mod:`.options` - gendwarfksyms.h: the flags and the debug and warning lines.

Beside them, with no upstream counterpart, what makes a run fast without
changing a byte: :mod:`.reuse` (walks of finished type graphs skipped) and
:mod:`.partial` (unit ranges versioned apart, merged as one run).

Nothing here schedules, caches or writes files.
"""
