"""What a linked kernel module tells the loader about itself: the symbol
versions it was built against, what it imports, its license, name and
imported namespaces, and what it exports with which CRC.

Everything is read from the module's own sections, as
``kernel/module/main.c`` and ``kernel/module/version.c`` read them:

* ``__versions``: modpost's table of the CRCs of the symbols the module
  uses, an array of ``struct modversion_info`` (64 bytes each: the CRC as
  an ``unsigned long`` of the module's ELF class and byte order, then the
  name, NUL-padded to fill the record);
* ``__version_ext_crcs`` + ``__version_ext_names`` (Linux 6.14+,
  ``CONFIG_EXTENDED_MODVERSIONS``): the same table for names of any length
  (Rust's), as an array of ``u32`` and as many NUL-terminated names.  When
  present, the kernel reads only these;
* ``.modinfo``: NUL-separated ``key=value`` strings; ``name``, the first
  ``license`` and every ``import_ns`` matter here;
* the symbol table: undefined symbols are the imports (weak ones may stay
  unresolved); ``__crc_<name>`` labels hold the CRC of each export, whose
  list and export type :mod:`.exports` reads.

A table the kernel itself would refuse or misread (one extended section
without the other, fewer names than CRCs, a ``__versions`` size that is
not a whole number of records, a name that fills its record without a
terminating NUL) raises :class:`VersioningError` naming the file and the
cause: the module's load cannot be decided from it.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass

from batchver.compressed import COMPRESSED_SUFFIXES
from batchver.elf.exports import Export, linked_exports
from batchver.elf.file import SHN_UNDEF, ElfObject, Section
from batchver.errors import VersioningError

VERSIONS = "__versions"
VERSION_EXT_CRCS = "__version_ext_crcs"
VERSION_EXT_NAMES = "__version_ext_names"
MODINFO = ".modinfo"
#: sizeof(struct modversion_info): the kernel's MODULE_NAME_LEN (64 minus
#: an unsigned long) of name after the CRC, on every architecture.
MODVERSION_INFO_SIZE = 64
CRC_PREFIX = "__crc_"
STB_WEAK = 2
EM_386, EM_X86_64, EM_PPC64 = 3, 62, 21
#: Undefined symbols the loader skips per machine (``ignore_undef_symbol``
#: and the powerpc64 loader's own TOC base symbol).
_IGNORED_UNDEFINED = {EM_386: ("_GLOBAL_OFFSET_TABLE_",), EM_X86_64: ("_GLOBAL_OFFSET_TABLE_",),
                      EM_PPC64: (".TOC.",)}


@dataclass(frozen=True)
class Import:
    """An undefined symbol of the module; a weak one may stay unresolved."""

    name: str
    weak: bool


@dataclass(frozen=True)
class ModuleExport:
    """An export of the module with the CRC its ``__crc_`` label holds
    (None: no label, as in a module built without CONFIG_MODVERSIONS)."""

    export: Export
    crc: int | None


@dataclass
class ModuleInfo:
    """One module as the loader sees it (see the module docstring)."""

    path: str
    name: str
    license: str | None
    import_ns: tuple[str, ...]
    #: symbol -> CRC of the table the kernel reads; None: no table at all
    versions: dict[str, int] | None
    #: True when ``versions`` came from the extended tables
    extended: bool
    imports: list[Import]
    exports: list[ModuleExport]
    machine: int


def module_name_of(path: str) -> str:
    """The name kbuild gives a module file: its base name without ``.ko``
    (and compression suffix), dashes as underscores."""
    base = os.path.basename(path)
    for suffix in COMPRESSED_SUFFIXES:
        base = base.removesuffix(suffix)
    return base.removesuffix(".ko").replace("-", "_")


def _bytes(elf: ElfObject, sec: Section) -> bytes:
    return bytes(elf.data(sec))


def modinfo_entries(elf: ElfObject) -> list[tuple[str, str]]:
    """``(key, value)`` of every ``key=value`` string in ``.modinfo``, in
    order (the padding NULs between them are skipped)."""
    sec = elf.section(MODINFO)
    if sec is None:
        return []
    out = []
    for raw in _bytes(elf, sec).split(b"\0"):
        key, sep, value = raw.decode("utf-8", "surrogateescape").partition("=")
        if sep:
            out.append((key, value))
    return out


def basic_versions(elf: ElfObject, sec: Section) -> dict[str, int]:
    """The ``__versions`` table: name -> CRC, first record of a name wins
    (the loader stops at the first match)."""
    data = _bytes(elf, sec)
    if len(data) % MODVERSION_INFO_SIZE:
        raise VersioningError("modversions", f"'{elf.path}': {VERSIONS} is {len(data)} bytes, "
                              f"not a whole number of {MODVERSION_INFO_SIZE}-byte records "
                              "(truncated or not modpost's table)", elf.path)
    width = elf.elfclass // 8
    crc_format = ("<" if elf.little_endian else ">") + ("Q" if width == 8 else "I")
    table: dict[str, int] = {}
    for number, start in enumerate(range(0, len(data), MODVERSION_INFO_SIZE)):
        (crc,) = struct.unpack_from(crc_format, data, start)
        field = data[start + width:start + MODVERSION_INFO_SIZE]
        end = field.find(b"\0")
        if end < 0:
            raise VersioningError("modversions", f"'{elf.path}': {VERSIONS} record {number} "
                                  f"(offset {start:#x}) has a name without its terminating NUL",
                                  elf.path)
        table.setdefault(field[:end].decode("utf-8", "surrogateescape"), crc)
    return table


def extended_versions(elf: ElfObject, crcs: Section, names: Section) -> dict[str, int]:
    """The extended tables: the n-th CRC belongs to the n-th name."""
    crc_data, name_data = _bytes(elf, crcs), _bytes(elf, names)
    if len(crc_data) % 4:
        raise VersioningError("modversions", f"'{elf.path}': {VERSION_EXT_CRCS} is "
                              f"{len(crc_data)} bytes, not a whole number of 32-bit CRCs",
                              elf.path)
    values = struct.unpack(("<" if elf.little_endian else ">") + f"{len(crc_data) // 4}I",
                           crc_data)
    listed = name_data.split(b"\0")
    if len(listed) - 1 < len(values):  # the part after the last NUL is no name
        raise VersioningError("modversions", f"'{elf.path}': {len(values)} CRCs in "
                              f"{VERSION_EXT_CRCS} but {len(listed) - 1} names in "
                              f"{VERSION_EXT_NAMES} (the kernel refuses the module)", elf.path)
    table: dict[str, int] = {}
    for raw, crc in zip(listed, values):
        table.setdefault(raw.decode("utf-8", "surrogateescape"), crc)
    return table


def _versions(elf: ElfObject) -> tuple[dict[str, int] | None, bool]:
    crcs, names = elf.section(VERSION_EXT_CRCS), elf.section(VERSION_EXT_NAMES)
    if (crcs is None) != (names is None):
        present = VERSION_EXT_CRCS if crcs is not None else VERSION_EXT_NAMES
        raise VersioningError("modversions", f"'{elf.path}': {present} without its companion "
                              "section (the kernel refuses the module)", elf.path)
    if crcs is not None and names is not None:
        return extended_versions(elf, crcs, names), True
    basic = elf.section(VERSIONS)
    return (None if basic is None else basic_versions(elf, basic)), False


def _exports(elf: ElfObject) -> list[ModuleExport]:
    crc_at = {name[len(CRC_PREFIX):]: (shndx, value) for name, shndx, value, _ in elf.symbols()
              if name.startswith(CRC_PREFIX)}
    fmt = ("<" if elf.little_endian else ">") + "I"
    out = []
    for export in linked_exports(elf):
        crc = None
        where = elf.section_offset(*crc_at[export.name]) if export.name in crc_at else None
        if where is not None:
            data = elf.data(where[0])
            if where[1] + 4 > len(data):
                raise VersioningError("modversions", f"'{elf.path}': {CRC_PREFIX}{export.name} "
                                      f"points past the end of {where[0].name}", elf.path)
            (crc,) = struct.unpack_from(fmt, data, where[1])
        out.append(ModuleExport(export, crc))
    return out


def read_module(path: str) -> ModuleInfo:
    """Everything the loader checks of one module file (``.ko``, compressed
    or not).  VersioningError for a file that is no readable module."""
    elf = ElfObject(path)
    try:
        if not elf.is_relocatable or (elf.section(".gnu.linkonce.this_module") is None
                                      and elf.section(MODINFO) is None):
            raise VersioningError("modversions", f"'{path}' is not a kernel module (no "
                                  f"{MODINFO} and no .gnu.linkonce.this_module section)", path)
        info = modinfo_entries(elf)
        versions, extended = _versions(elf)
        ignored = _IGNORED_UNDEFINED.get(elf.machine, ())
        imports: dict[str, Import] = {}
        for name, shndx, _, binding in elf.symbols():
            if shndx == SHN_UNDEF and name not in ignored:
                imports.setdefault(name, Import(name, binding == STB_WEAK))
        return ModuleInfo(
            path=path,
            name=next((v for k, v in info if k == "name"), None) or module_name_of(path),
            license=next((v for k, v in info if k == "license"), None),
            import_ns=tuple(v for k, v in info if k == "import_ns"),
            versions=versions, extended=extended, imports=list(imports.values()),
            exports=_exports(elf), machine=elf.machine)
    finally:
        elf.close()
