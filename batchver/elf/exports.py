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
* a linked module or ``vmlinux``: ``__ksymtab_<name>`` labels in the
  ``__ksymtab`` or ``__ksymtab_gpl`` section, with the namespace string at
  ``__kstrtabns_<name>`` (absent or empty for no namespace).
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
    namespaces: dict[str, tuple[int, int]] = {}
    for name, shndx, value, _ in symbols:
        if name.startswith(KSTRTABNS_PREFIX):
            namespaces[name[len(KSTRTABNS_PREFIX):]] = (shndx, value)
    found: dict[str, Export] = {}
    for name, shndx, value, _ in symbols:
        if not name.startswith(KSYMTAB_PREFIX) or not 0 < shndx < len(elf.sections):
            continue
        section = elf.sections[shndx].name
        if section not in ("__ksymtab", "__ksymtab_gpl"):
            continue  # e.g. the __ksymtab_strings section symbol
        symbol = name[len(KSYMTAB_PREFIX):]
        namespace = ""
        ns_at = namespaces.get(symbol)
        if ns_at is not None:
            where = elf.section_offset(*ns_at)
            if where is not None:
                namespace = elf.cstring_at(*where)
        found.setdefault(symbol, Export(symbol, section == "__ksymtab_gpl", namespace))
    return [found[n] for n in sorted(found)]
