"""The upstream-compatible core, one module per stage of the kernel's
``scripts/gendwarfksyms`` so that each reads beside its C file:

* :mod:`.symbols` - symbols.c: the symbol list, aliases by address,
  ``__gendwarfksyms_ptr_`` pointers;
* :mod:`.dwarf` - dwarf.c and die.c: DIEs reached from exports rendered
  into cached fragment lists (the die map);
* :mod:`.types` - types.c: type strings, the type map, symtypes and CRCs;
* :mod:`.kabi` - kabi.c: ``--stable`` rules from ``.discard.gendwarfksyms.kabi_rules``;
* :mod:`.gendwarfksyms` - gendwarfksyms.c: one run over objects sharing
  one symbol list.

Nothing here schedules, caches or writes files.
"""
