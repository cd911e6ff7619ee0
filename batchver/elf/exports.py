"""Which symbols an ELF file exports, with export type and namespace.

Two sources, as the kernel has them:

* an object before linking (Linux 6.5+): each ``EXPORT_SYMBOL*`` emits a
  label ``__export_symbol_<name>`` in section ``.export_symbol`` pointing at
  two strings, the license (``"GPL"`` or ``""``) and the namespace.  kbuild
  feeds gendwarfksyms the names after ``__export_symbol_`` in ``nm`` output,
  so local labels count too.
* a Rust crate object (and ``rust/helpers/helpers.o``): no
  ``.export_symbol`` at all.  ``rust/Makefile`` exports every global symbol
  the object defines from a separate C file (``rust/exports.o``) and gives
  gendwarfksyms that same list, taken with ``nm`` (:func:`crate_exports`).
* a linked module or ``vmlinux``: ``__ksymtab_<name>`` labels, with the
  namespace string at ``__kstrtabns_<name>`` (absent or empty for no
  namespace).  Where the export type lives depends on the kernel:

  - up to 6.x, ``EXPORT_SYMBOL_GPL`` entries sit in their own section,
    ``__ksymtab_gpl``, the others in ``__ksymtab``;
  - since 7.x (``include/linux/export-internal.h``), every entry sits in
    ``__ksymtab`` and modpost adds a byte ``__flags_<name>`` in
    ``__kflagstab`` whose bit 0 (``KSYM_FLAG_GPL_ONLY``,
    ``include/linux/module_symbol.h``) marks GPL-only exports.

  The layout is read from what the file contains (a ``__kflagstab`` section
  or not), so both kinds of kernel are understood without being told.
"""

from __future__ import annotations

from dataclasses import dataclass

from batchver.elf.file import ElfObject
from batchver.errors import VersioningError

EXPORT_PREFIX = "__export_symbol_"
KSYMTAB_PREFIX = "__ksymtab_"
KSTRTABNS_PREFIX = "__kstrtabns_"
STB_GLOBAL = 1
SHF_ALLOC = 0x2
#: Compiler-made companions of a symbol that rust/Makefile leaves out.
_RUST_EXPORT_SKIP = ("__pfx", "__cfi", "__odr_asan")
FLAGS_PREFIX = "__flags_"
KFLAGSTAB = "__kflagstab"
KSYM_FLAG_GPL_ONLY = 1 << 0


@dataclass(frozen=True, order=True)
class Export:
    name: str
    gpl: bool
    namespace: str

    @property
    def export_type(self) -> str:
        return "EXPORT_SYMBOL_GPL" if self.gpl else "EXPORT_SYMBOL"


def object_exports(elf: ElfObject) -> list[Export]:
    """Exports declared by an unlinked object's ``.export_symbol`` section,
    sorted by name (duplicates, which kbuild would drop, kept once)."""
    found: dict[str, Export] = {}
    for name, shndx, value, _ in elf.symbols():
        if not name.startswith(EXPORT_PREFIX):
            continue
        where = elf.section_offset(shndx, value)
        if where is None or where[0].name != ".export_symbol":
            raise VersioningError("object_exports", f"'{elf.path}': {name} is not in the "
                                  ".export_symbol section", elf.path)
        sec, offset = where
        license_ = elf.cstring_at(sec, offset)
        namespace = elf.cstring_at(sec, offset + len(license_.encode("utf-8", "surrogateescape")) + 1)
        if license_ not in ("", "GPL"):
            raise VersioningError("object_exports", f"'{elf.path}': export {name[len(EXPORT_PREFIX):]}"
                                  f" has unknown license '{license_}'", elf.path)
        export = Export(name[len(EXPORT_PREFIX):], license_ == "GPL", namespace)
        found.setdefault(export.name, export)
    return [found[n] for n in sorted(found)]


def crate_exports(elf: ElfObject) -> list[str]:
    """The names ``rust/Makefile``'s ``rust_exports`` lists for an object, in
    symbol-table order: ``nm -p --defined-only`` lines of type T, R, D or B,
    which are the global (not weak) symbols defined in an allocated section,
    minus names containing ``__pfx``, ``__cfi`` or ``__odr_asan``."""
    names: dict[str, None] = {}
    for name, shndx, _, binding in elf.symbols():
        if binding != STB_GLOBAL or not 0 < shndx < len(elf.sections):
            continue  # local, weak, undefined, absolute or common
        if not elf.sections[shndx].flags & SHF_ALLOC:
            continue  # nm calls these N or n
        if not any(skip in name for skip in _RUST_EXPORT_SKIP):
            names.setdefault(name)
    return list(names)


def has_export_section(elf: ElfObject) -> bool:
    return elf.section(".export_symbol") is not None


def linked_exports(elf: ElfObject) -> list[Export]:
    """Exports of a linked module or vmlinux, from its ksymtab labels; an
    ``ld -r`` output (like ``vmlinux.o``) still has ``.export_symbol``."""
    if has_export_section(elf):
        return object_exports(elf)
    symbols = elf.symbols()
    labels: dict[str, dict[str, tuple[int, int]]] = {KSTRTABNS_PREFIX: {}, FLAGS_PREFIX: {}}
    for name, shndx, value, _ in symbols:
        for prefix, found_at in labels.items():
            if name.startswith(prefix):
                found_at[name[len(prefix):]] = (shndx, value)
    flagged = elf.section(KFLAGSTAB) is not None
    found: dict[str, Export] = {}
    for name, shndx, value, _ in symbols:
        if not name.startswith(KSYMTAB_PREFIX) or not 0 < shndx < len(elf.sections):
            continue
        section = elf.sections[shndx].name
        if section not in ("__ksymtab", "__ksymtab_gpl"):
            continue  # e.g. the __ksymtab_strings section symbol
        symbol = name[len(KSYMTAB_PREFIX):]
        namespace = ""
        ns_at = labels[KSTRTABNS_PREFIX].get(symbol)
        if ns_at is not None:
            where = elf.section_offset(*ns_at)
            if where is not None:
                namespace = elf.cstring_at(*where)
        gpl = _flags(elf, symbol, labels[FLAGS_PREFIX].get(symbol)) & KSYM_FLAG_GPL_ONLY \
            if flagged else section == "__ksymtab_gpl"
        found.setdefault(symbol, Export(symbol, bool(gpl), namespace))
    return [found[n] for n in sorted(found)]


def _flags(elf: ElfObject, symbol: str, at: tuple[int, int] | None) -> int:
    """The ``__kflagstab`` byte of one export.  A 7.x file without it for
    some export is damaged: guessing its export type would be wrong."""
    where = elf.section_offset(*at) if at is not None else None
    if where is None or where[0].name != KFLAGSTAB or where[1] >= len(elf.data(where[0])):
        raise VersioningError("linked_exports", f"'{elf.path}': export {symbol} has no "
                              f"{FLAGS_PREFIX}{symbol} byte in {KFLAGSTAB}", elf.path)
    sec, offset = where
    return elf.data(sec)[offset]
