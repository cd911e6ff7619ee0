"""Read the parts of an ELF file that versioning needs.

Everything is read with ``struct`` over whole tables and sections: the ELF
and section headers, symbol tables, relocation of the ``.debug_*`` sections
of relocatable objects, decompression of compressed debug sections.  An
earlier version used pyelftools for the headers; building its parser objects
cost more than the reading itself on a distro tree's thousand files, and one
pyelftools object per symbol or relocation is far too slow for ``vmlinux``.

Like libdw, when a section name appears more than once the first one wins.

A module compressed as a whole (``.ko.xz``, ``.ko.zst``, ``.ko.gz``) is
decompressed into memory in the process that reads it
(:mod:`batchver.compressed`).
"""

from __future__ import annotations

import mmap
import os
import struct
import sys
from dataclasses import dataclass
from typing import Final, Iterable

from batchver.atomic import open_regular
from batchver.compressed import MAX_DECOMPRESSED, compression_of, decompress, zstd_decompress
from batchver.errors import VersioningError

SHT_SYMTAB: Final = 2
SHT_STRTAB: Final = 3
SHT_RELA: Final = 4
SHT_NOBITS: Final = 8
SHT_REL: Final = 9
SHT_SYMTAB_SHNDX: Final = 18
SHF_COMPRESSED: Final = 0x800
SHN_UNDEF: Final = 0
SHN_LORESERVE: Final = 0xFF00
SHN_XINDEX: Final = 0xFFFF
_SPECIAL_SECTIONS: Final = (0xFFF1, 0xFFF2, SHN_XINDEX)  # SHN_ABS, SHN_COMMON, SHN_XINDEX
SHF_GROUP: Final = 0x200
STB_LOCAL: Final = 0
ET_REL: Final = 1

# Relocation types that store S + A into debug sections, per machine:
# type -> (width in bytes, kind) where kind is "abs", "add" or "sub".
_RELOCS: Final[dict[int, dict[int, tuple[int, str]]]] = {
    62: {0: (0, "none"), 1: (8, "abs"), 10: (4, "abs"), 11: (4, "abs")},  # x86_64
    3: {0: (0, "none"), 1: (4, "abs")},  # i386
    183: {0: (0, "none"), 257: (8, "abs"), 258: (4, "abs")},  # aarch64
    40: {0: (0, "none"), 2: (4, "abs")},  # arm
    20: {0: (0, "none"), 1: (4, "abs")},  # ppc (32-bit)
    21: {0: (0, "none"), 1: (4, "abs"), 38: (8, "abs")},  # ppc64
    22: {0: (0, "none"), 4: (4, "abs"), 22: (8, "abs")},  # s390
    243: {  # riscv: label differences use add/sub pairs
        0: (0, "none"), 1: (4, "abs"), 2: (8, "abs"),
        33: (1, "add"), 34: (2, "add"), 35: (4, "add"), 36: (8, "add"),
        37: (1, "sub"), 38: (2, "sub"), 39: (4, "sub"), 40: (8, "sub"),
        54: (1, "abs"), 55: (2, "abs"), 56: (4, "abs"),
    },
    258: {  # loongarch
        0: (0, "none"), 1: (4, "abs"), 2: (8, "abs"),
        47: (1, "add"), 48: (2, "add"), 50: (4, "add"), 51: (8, "add"),
        52: (1, "sub"), 53: (2, "sub"), 55: (4, "sub"), 56: (8, "sub"),
    },
}


_NO_SECTION: Final = -1  # a symbol value that cannot be relocated against (see _symbol_values)
# Sections libdw loads (or libdwfl relocates) whenever upstream asks for DWARF.
_LIBDW_SECTIONS: Final = (".debug_", ".zdebug_", ".rela.debug_", ".rel.debug_")


def _items(buf: bytearray, residue: int, width: int) -> memoryview:
    """``buf`` from byte ``residue`` on, as unsigned items of ``width``
    bytes (the last partial item left out): byte offset ``o`` with
    ``o % width == residue`` is item ``o // width``."""
    view = memoryview(buf)[residue:]
    view = view[:len(view) - len(view) % width]
    return view.cast("H" if width == 2 else "I" if width == 4 else "Q")


def _no_dwarf(path: str, cause: str) -> VersioningError:
    """What libdwfl or libdw refuses when opening a file for its DWARF
    (a bad relocation, a section past the end...): upstream then has no
    DWARF at all and fails with its no-debugging-information error; the
    cause is added in parentheses."""
    return VersioningError("process_module", f"dwarf_get_units failed: no debugging "
                           f"information? ('{path}': {cause})", path)


# struct format letters of unsigned integers by width (relocation fields and
# the fixed-size DWARF forms alike)
UINT_CODES: Final = {1: "B", 2: "H", 4: "I", 8: "Q"}

# How a relocation type combines its value with the bytes it relocates
# (the kinds named in _RELOCS).  Final, so that compiled code reads them as
# constants rather than looking them up in the module on every relocation.
_NONE: Final = 0
_ABS: Final = 1
_ADD: Final = 2
_SUB: Final = 3
_KINDS: Final = {"none": _NONE, "abs": _ABS, "add": _ADD, "sub": _SUB}
_SMALL: Final = (1 << 62) - 1  # the largest integer compiled code keeps unboxed


class Section:
    """One section header, read-only by convention.  A plain class, not a
    frozen dataclass: compiled, a frozen dataclass is built by Python code
    setting each field through ``object.__setattr__``, which cost 14,000
    instructions per section, or 2 % of versioning a small module (every
    module is opened twice, to discover its exports and to version them)."""

    __slots__ = ("index", "name", "type", "flags", "offset", "size", "link", "info", "entsize", "addr")

    def __init__(self, index: int, name: str, type: int, flags: int, offset: int, size: int,
                 link: int, info: int, entsize: int, addr: int):
        self.index = index
        self.name = name
        self.type = type
        self.flags = flags
        self.offset = offset
        self.size = size
        self.link = link
        self.info = info
        self.entsize = entsize
        self.addr = addr


@dataclass
class _Header:
    """The ELF header fields batchver uses."""

    e_type: int
    e_machine: int
    e_phoff: int
    e_shoff: int
    e_shnum: int
    e_shstrndx: int


class ElfObject:
    """One ELF file opened read-only (memory-mapped).

    Raises :class:`VersioningError` naming the file for anything that is not
    a readable ELF file, so callers never see a ``struct`` traceback.
    """

    def __init__(self, path: str):
        self.path = path
        try:
            fd = open_regular(path)  # a FIFO named *.o must not block
        except OSError as exc:
            raise VersioningError("main", f"open failed for '{path}': {exc.strerror}", path) from None
        try:
            size = os.fstat(fd).st_size
            if size == 0:
                raise VersioningError("main", f"'{path}' is empty, not an ELF file", path)
            mapped = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
        finally:
            os.close(fd)
        self._map: mmap.mmap | bytes = mapped
        self.compression = compression_of(mapped)
        if self.compression is not None:
            self._map = self._decompress_file(mapped, self.compression)
            size = len(self._map)
        self.size = size  # of the ELF image: what splitting and weighting work should see
        try:
            header = self._read_header(size)
            self.sections = self._read_section_headers(header, size)
        except (struct.error, ValueError, IndexError) as exc:
            raise VersioningError("main", f"'{path}' is not a readable ELF file: {exc}", path) from None
        self.is_relocatable = header.e_type == ET_REL
        self._phoff = header.e_phoff
        self._first_by_name: dict[str, Section] = {}
        # libdw reads the debug sections outside section groups only: the
        # type units gcc -fdebug-types-section puts in COMDAT groups (each a
        # .debug_info of its own, ahead of the compile unit's) are not seen
        self._first_debug: dict[str, Section] = {}
        for sec in self.sections:
            self._first_by_name.setdefault(sec.name, sec)
            if not sec.flags & SHF_GROUP:
                self._first_debug.setdefault(sec.name, sec)
        self._endian = "<" if self.little_endian else ">"
        self._symvalues: dict[int, list[int | None]] = {}
        self._all_symbols: list[tuple[str, int, int, int]] | None = None
        self._global_index: dict[str, list[tuple[int, str, int, int]]] | None = None
        self._data_cache: dict[int, bytes] = {}
        self._partner: ElfObject | None = None

    def _decompress_file(self, mapped: mmap.mmap, kind: str) -> bytes:
        """The whole file's ELF image, from a compressed module (whose
        mapping is closed: only the image is read from then on)."""
        try:
            return decompress(mapped, kind, self.path)
        finally:
            mapped.close()

    def _read_header(self, size: int) -> "_Header":
        """The ELF header, read with ``struct`` (ValueError: what is wrong
        with it).  It is 64 bytes of fixed
        layout; pyelftools spent 1.2 ms per file building its parsers for
        it, most of the time of discovering a distro tree's 1,139 files."""
        ident = self._map[:16]
        if len(ident) < 16 or ident[:4] != b"\x7fELF":
            raise ValueError("Magic number does not match")
        if ident[4] not in (1, 2):
            raise ValueError(f"Invalid EI_CLASS {ident[4]}")
        if ident[5] not in (1, 2):
            raise ValueError(f"Invalid EI_DATA {ident[5]}")
        if ident[6] != 1:
            raise ValueError(f"Invalid EI_VERSION {ident[6]}")
        self.elfclass = 32 * ident[4]
        self.little_endian = ident[5] == 1
        fmt = ("<" if self.little_endian else ">") + \
            ("HHIQQQIHHHHHH" if self.elfclass == 64 else "HHIIIIIHHHHHH")
        if size < 16 + struct.calcsize(fmt):
            raise ValueError(f"the ELF header is truncated ({size} bytes)")
        fields = struct.unpack_from(fmt, self._map, 16)
        header = _Header(e_type=fields[0], e_machine=fields[1], e_phoff=fields[4],
                         e_shoff=fields[5], e_shnum=fields[11], e_shstrndx=fields[12])
        self.machine = header.e_machine
        return header

    def _read_section_headers(self, header: "_Header", size: int) -> list[Section]:
        """The section header table, read with ``struct`` (ValueError: what
        is wrong with it).  Building
        pyelftools' section objects cost more than anything else when
        discovering a distro tree: its 1,138 modules have 73,000 sections."""
        e = "<" if self.little_endian else ">"
        fmt = e + ("IIQQQQIIQQ" if self.elfclass == 64 else "IIIIIIIIII")
        entsize = struct.calcsize(fmt)
        offset = header.e_shoff
        count = header.e_shnum
        if count == 0 and offset:  # 65,280 sections or more: the count is section 0's sh_size
            count = struct.unpack_from(fmt, self._map, offset)[5]
        if offset + count * entsize > size:
            raise ValueError(f"the section header table (offset {offset:#x}, {count} entries) "
                             f"runs past the end of the file ({size} bytes)")
        raw = list(struct.iter_unpack(fmt, self._map[offset:offset + count * entsize]))
        names_index = header.e_shstrndx
        if names_index == SHN_XINDEX and raw:
            names_index = raw[0][6]  # sh_link of section 0
        names = b""
        self._names_readable = False  # as libelf's elf_strptr sees .shstrtab
        if 0 < names_index < count:
            _, names_type, _, _, names_offset, names_size, *_ = raw[names_index]
            names = self._map[names_offset:names_offset + names_size]
            self._names_readable = names_type == SHT_STRTAB and names_offset + names_size <= size
        sections = []
        self._unnamed = []  # sections whose name libelf could not read
        for index, (name, sh_type, flags, addr, sh_offset, sh_size, link, info, _, sh_entsize) \
                in enumerate(raw):
            end = names.find(b"\0", name)
            label = names[name:end].decode("utf-8", "surrogateescape") if end >= 0 else ""
            # libdw reads the name of every section but NOBITS and group members
            if index and (name >= len(names) or end < 0) and sh_type != SHT_NOBITS \
                    and not flags & SHF_GROUP:
                self._unnamed.append(index)
            sections.append(Section(index, label, sh_type, flags, sh_offset, sh_size, link, info,
                                    sh_entsize, addr))
        return sections

    def close(self) -> None:
        if isinstance(self._map, mmap.mmap):
            self._map.close()

    def section(self, name: str) -> Section | None:
        """The first section with this name (libdw ignores later duplicates)."""
        return self._first_by_name.get(name)

    def borrow_from(self, other: "ElfObject") -> None:
        """Read sections this file has as ``SHT_NOBITS`` from ``other``.

        ``eu-strip -f`` and ``objcopy --only-keep-debug`` split a file in
        two: the debug file keeps the symbol table and the DWARF, with every
        other section emptied to ``SHT_NOBITS``; the stripped file keeps
        their contents.  Paired this way, one object answers both (e.g. an
        export's namespace string, which lives in ``__ksymtab_strings``)."""
        self._partner = other

    def has_dwarf(self) -> bool:
        """Whether the file carries DWARF (not a stripped file)."""
        sec = self.section(".debug_info") or self.section(".zdebug_info")
        return sec is not None and sec.type != SHT_NOBITS and sec.size > 0

    def build_id(self) -> str | None:
        """The GNU build-id note as hex: what names a file's debug file
        under ``/usr/lib/debug/.build-id/``."""
        sec = self.section(".note.gnu.build-id")
        if sec is None or sec.type == SHT_NOBITS:
            return None
        data = self.data(sec)
        if len(data) < 16:
            return None
        namesz, descsz, _ = struct.unpack_from(self._endian + "III", data, 0)
        start = 12 + (namesz + 3) // 4 * 4
        desc = data[start:start + descsz]
        return desc.hex() if len(desc) == descsz and descsz else None

    def debuglink(self) -> str | None:
        """The file name in ``.gnu_debuglink`` (a stripped file's pointer to
        its debug file)."""
        sec = self.section(".gnu_debuglink")
        if sec is None or sec.type == SHT_NOBITS:
            return None
        name = self.cstring_at(sec, 0)
        return name or None

    def raw(self, sec: Section) -> bytes:
        """A section's bytes as stored in the file, checked against its size
        (from the paired file when this one has the section emptied)."""
        if sec.type == SHT_NOBITS:
            other = self._partner
            partner = other.section(sec.name) if other is not None else None
            if other is not None and partner is not None and partner.type != SHT_NOBITS \
                    and partner.size == sec.size:
                return other.raw(partner)
            return b""
        end = sec.offset + sec.size
        if end > len(self._map):
            raise VersioningError(
                "main", f"'{self.path}' is truncated: section {sec.name} ends at {end}, "
                f"file has {len(self._map)} bytes", self.path)
        return self._map[sec.offset:end]

    def data(self, sec: Section) -> bytes:
        """A section's contents, decompressed if it is a compressed section."""
        cached = self._data_cache.get(sec.index)
        if cached is not None:
            return cached
        data = self._load(sec)
        # the symbol table serves every relocation section and the export
        # scan; a relocation section is applied once (hundreds of MB for a
        # big module), so it is not kept
        if sec.type == SHT_SYMTAB or sec.name == ".strtab":
            self._data_cache[sec.index] = data
        return data

    def _load(self, sec: Section) -> bytes:
        raw = self.raw(sec)
        if sec.flags & SHF_COMPRESSED:
            return self._decompress_chdr(sec, raw)
        if sec.name.startswith(".zdebug") and raw[:4] == b"ZLIB":
            return self._inflate(sec, raw[12:], struct.unpack(">Q", raw[4:12])[0])
        return raw

    def _decompress_chdr(self, sec: Section, raw: bytes) -> bytes:
        if self.elfclass == 64:
            ch_type, _, ch_size, _ = struct.unpack_from(self._endian + "IIQQ", raw, 0)
            payload = raw[24:]
        else:
            ch_type, ch_size, _ = struct.unpack_from(self._endian + "III", raw, 0)
            payload = raw[12:]
        if ch_type == 1:
            return self._inflate(sec, payload, ch_size)
        if ch_type == 2:
            return zstd_decompress(payload, self.path, f"section {sec.name}", ch_size)
        raise VersioningError("main", f"'{self.path}': section {sec.name} uses unknown "
                              f"compression type {ch_type}", self.path)

    def _inflate(self, sec: Section, payload: bytes, size: int) -> bytes:
        """A zlib section, refused past its header's size (a header can lie)."""
        out = decompress(payload, "zlib", self.path, f"section {sec.name}",
                         min(size, MAX_DECOMPRESSED))
        if len(out) != size:
            raise VersioningError("main", f"'{self.path}': {sec.name} decompressed to {len(out)} "
                                  f"bytes, header says {size}", self.path)
        return out

    def check_for_dwarf(self, relocated: tuple[str, ...] = ()) -> None:
        """Refuse what libdwfl and libdw refuse when upstream opens the
        file for its DWARF (upstream then reports no debugging information
        at all), even in parts versioning never reads: a program header
        table offset past the end of the file, a section whose name cannot
        be read, a debug section (or its relocations) past the end of the
        file, and in a relocatable object no symbol table, a symbol table
        whose first-global index is past its end, or a relocation of any
        debug section that cannot be applied (checked by applying it; the
        caller names the sections it relocates anyway, in ``relocated``)."""
        size = len(self._map)
        if self._phoff and self._phoff >= size:
            raise _no_dwarf(self.path, f"program header table at {self._phoff:#x} is past "
                                 f"the end of the file ({size} bytes)")
        if self._unnamed or not self._names_readable:
            raise _no_dwarf(self.path, f"section {self._unnamed[0]} has no readable name"
                            if self._unnamed else "the section name table cannot be read")
        for sec in self.sections:
            if sec.name.startswith(_LIBDW_SECTIONS) and sec.type != SHT_NOBITS \
                    and sec.offset + sec.size > size:
                raise _no_dwarf(self.path, f"section {sec.name} ends at "
                                     f"{sec.offset + sec.size:#x}, past the end of the file "
                                     f"({size} bytes)")
        if not self.is_relocatable:
            return
        symtab = next((s for s in self.sections if s.type == SHT_SYMTAB), None)
        if symtab is None:
            raise _no_dwarf(self.path, "a relocatable object without a symbol table")
        if symtab.entsize and symtab.info > symtab.size // symtab.entsize:
            raise _no_dwarf(self.path, f"{symtab.name} says its first global symbol is "
                                 f"{symtab.info}, past its {symtab.size // symtab.entsize} symbols")
        for rsec in self.sections:
            if rsec.type in (SHT_RELA, SHT_REL) and rsec.info >= len(self.sections):
                raise _no_dwarf(self.path, f"{rsec.name} relocates section {rsec.info}, which "
                                "does not exist")
            if rsec.type in (SHT_RELA, SHT_REL) and 0 < rsec.info < len(self.sections):
                target = self.sections[rsec.info]
                if target.name.startswith(_LIBDW_SECTIONS) and target.type != SHT_NOBITS \
                        and target.name not in relocated:
                    self._apply(rsec, bytearray(self.data(target)), target)

    def debug_section(self, name: str) -> bytes | None:
        """A ``.debug_*`` section ready to parse: decompressed and, in a
        relocatable object, with its relocations applied (as libdwfl does)."""
        sec = self._first_debug.get(name) or self._first_debug.get(".z" + name[1:])
        if sec is None:
            return None
        data = self.data(sec)
        if not self.is_relocatable:
            return data
        relocs = [s for s in self.sections
                  if s.type in (SHT_RELA, SHT_REL) and s.info == sec.index]
        if not relocs:
            return data
        buf = bytearray(data)
        for rsec in relocs:
            self._apply(rsec, buf, sec)
        return bytes(buf)

    def _symbol_values(self, symtab_index: int) -> list[int | None]:
        """Each symbol's value for relocating, None for an undefined symbol
        (libdwfl leaves relocations against those unapplied) and
        :data:`_NO_SECTION` for one in a section that does not exist (which
        libdwfl refuses to relocate against)."""
        values = self._symvalues.get(symtab_index)
        if values is None:
            if not 0 < symtab_index < len(self.sections):
                raise _no_dwarf(self.path, f"relocations name symbol table {symtab_index}")
            sec = self.sections[symtab_index]
            data = self.data(sec)
            if self.elfclass == 64:
                fmt, size, pos, shndx = self._endian + "IBBHQQ", 24, 4, 3
            else:
                fmt, size, pos, shndx = self._endian + "IIIBBH", 16, 1, 5
            count = len(data) // size
            sections = len(self.sections)
            values = [None if e[shndx] == SHN_UNDEF and n else
                      _NO_SECTION if sections <= e[shndx] < SHN_LORESERVE or (
                          e[shndx] >= SHN_LORESERVE and e[shndx] not in _SPECIAL_SECTIONS)
                      else e[pos]
                      for n, e in enumerate(struct.iter_unpack(fmt, data[:count * size]))]
            self._symvalues[symtab_index] = values
        return values

    def _apply(self, rsec: Section, buf: bytearray, target: Section) -> None:
        """Apply one relocation section to ``buf``.  A debug section of a
        module has tens of thousands of relocations, which makes this a
        large share of versioning a small module: the fields are unpacked
        in one call and each type's handling is looked up once per run of
        equal types."""
        table = _RELOCS.get(self.machine)
        if table is None:
            raise VersioningError("main", f"'{self.path}': relocating {target.name} for machine "
                                  f"{self.machine} is not supported", self.path)
        # libdwfl relocates with the file's symbol table, whatever sh_link says
        symtab = next((s.index for s in self.sections if s.type == SHT_SYMTAB), rsec.link)
        symvals = self._symbol_values(symtab)
        nsyms = len(symvals)
        data = self.data(rsec)
        e = self._endian
        rela = rsec.type == SHT_RELA
        step = 3 if rela else 2
        if self.elfclass == 64:
            word, shift, type_mask, sign = 8, 32, 0xFFFFFFFF, 1 << 63
        else:
            word, shift, type_mask, sign = 4, 8, 0xFF, 1 << 31
        count = len(data) // (word * step)
        # every field unsigned; an addend's sign is restored below
        fields: tuple[int, ...] = struct.unpack_from(f"{e}{count * step}{UINT_CODES[word]}", data)
        limit = len(buf)
        # Storing into a memoryview of 4-byte (2-, 8-byte) items costs a
        # fraction of a pack_into call; a view per offset modulo the width
        # puts an item wherever a field starts.  Items are in the host's
        # byte order, so only an object of that order is relocated so.
        native = (e == "<") == (sys.byteorder == "little")
        # width << 3 | residue -> its view, widths up to 8 (a list: a dict
        # lookup per field costs more)
        views: list[memoryview | None] = [None] * (9 << 3)
        # rtype -> (width, kind, packer, mask), filled in as types appear
        handling: dict[int, tuple[int, int, struct.Struct, int]] = {}
        last_type = -1
        width, kind, mask = 0, _NONE, 0
        packer = struct.Struct(e + "B")
        end = count * step
        i = -step
        while i + step < end:  # compiled, a range() with a variable step is a generic iterator
            i += step
            offset = fields[i]
            info = fields[i + 1]
            rtype = info & type_mask
            if rtype != last_type:  # runs of one type are the rule: a dict lookup each costs 15 %
                how = handling.get(rtype)
                if how is None:
                    # a type the machine cannot store into debug data is left
                    # unapplied, as libdwfl does (its partial relocation)
                    size, name = table.get(rtype, (0, "none"))
                    how = handling[rtype] = (size, _KINDS[name], struct.Struct(e + UINT_CODES.get(size, "B")),
                                             (1 << (8 * size)) - 1)
                width, kind, packer, mask = how
                last_type = rtype
            if width == 0:
                continue
            symidx = info >> shift
            if symidx >= nsyms:
                raise _no_dwarf(self.path, f"{rsec.name} names symbol {symidx}, the table "
                                     f"has {nsyms}")
            symval = symvals[symidx]
            if symval is None:
                continue  # undefined: libdwfl cannot resolve it offline and skips it
            if symval == _NO_SECTION:
                raise _no_dwarf(self.path, f"{rsec.name} names symbol {symidx}, defined in "
                                     "a section that does not exist")
            if offset + width > limit:
                raise _no_dwarf(self.path, f"{rsec.name} relocates offset {offset:#x}, "
                                     f"{target.name} has {limit} bytes")
            if rela:
                addend = fields[i + 2]
                if addend > _SMALL and addend >= sign:
                    addend -= 2 * sign
                value = symval + addend
            else:
                value = symval + packer.unpack_from(buf, offset)[0]
            if kind == _ADD:
                value += packer.unpack_from(buf, offset)[0]
            elif kind == _SUB:
                value = packer.unpack_from(buf, offset)[0] - value
            if native and width in (2, 4, 8):
                # one item store into the view whose items start where this field does
                slot = width << 3 | offset % width
                view = views[slot]
                if view is None:
                    view = views[slot] = _items(buf, offset % width, width)
                view[offset // width] = value & mask
            else:
                packer.pack_into(buf, offset, value & mask)
        for each in views:
            if each is not None:
                each.release()

    def symbols(self) -> list[tuple[str, int, int, int]]:
        """``(name, section index, value, binding)`` of every named symbol in
        every ``SHT_SYMTAB``, with ``SHN_XINDEX`` resolved, in table order."""
        if self._all_symbols is not None:
            return self._all_symbols
        xndx_sec = next((s for s in self.sections if s.type == SHT_SYMTAB_SHNDX), None)
        xndx = None
        if xndx_sec is not None:
            raw = self.data(xndx_sec)
            xndx = struct.unpack(self._endian + f"{len(raw) // 4}I", raw[:len(raw) // 4 * 4])
        out: list[tuple[str, int, int, int]] = []
        for sec in self.sections:
            if sec.type != SHT_SYMTAB:
                continue
            data = self.data(sec)
            strtab = self.data(self.sections[sec.link]) if sec.link < len(self.sections) else b""
            if self.elfclass == 64:
                fmt, size = self._endian + "IBBHQQ", 24
                name_i, info_i, shndx_i, value_i = 0, 1, 3, 4
            else:
                fmt, size = self._endian + "IIIBBH", 16
                name_i, info_i, shndx_i, value_i = 0, 3, 5, 1
            if sec.entsize != size:
                raise VersioningError("elf_for_each_global",
                                      f"expected sh_entsize ({sec.entsize}) to be {size}", self.path)
            count = len(data) // size
            for n, ent in enumerate(struct.iter_unpack(fmt, data[:count * size])):
                if n == 0:
                    continue
                shndx = ent[shndx_i]
                if shndx == SHN_XINDEX and xndx is not None and n < len(xndx):
                    shndx = xndx[n]
                start = ent[name_i]
                end = strtab.find(b"\0", start)
                if start >= len(strtab) or end < 0:
                    if ent[info_i] >> 4 == STB_LOCAL:
                        continue  # upstream never asks for a local symbol's name
                    raise VersioningError("elf_for_each_global", "elf_strptr failed: invalid "
                                          "string offset", self.path)
                if end == start:
                    continue
                out.append((strtab[start:end].decode("utf-8", "surrogateescape"), shndx,
                            ent[value_i], ent[info_i] >> 4))
        self._all_symbols = out
        return out

    def global_symbols(self) -> list[tuple[str, int, int]]:
        """``(name, section index, value)`` of every non-local named symbol,
        the symbols upstream reads addresses (and so aliases) from."""
        return [(name, shndx, value) for name, shndx, value, bind in self.symbols()
                if bind != STB_LOCAL]

    def global_symbols_named(self, names: Iterable[str]) -> list[tuple[str, int, int]]:
        """:meth:`global_symbols` restricted to ``names``, still in table
        order.  A linked file is versioned in many small runs (one per
        exporting CU of vmlinux); each looks its few names up in an index
        built once instead of walking the whole symbol table."""
        if self._global_index is None:
            self._global_index = {}
            for position, (name, shndx, value) in enumerate(self.global_symbols()):
                self._global_index.setdefault(name, []).append((position, name, shndx, value))
        found = sorted(entry for name in set(names) for entry in self._global_index.get(name, ()))
        return [(name, shndx, value) for _, name, shndx, value in found]

    def cstring_at(self, sec: Section, offset: int) -> str:
        """The NUL-terminated string at ``offset`` inside a section."""
        data = self.data(sec)
        if sec.type == SHT_NOBITS and not data:
            raise VersioningError("main", f"'{self.path}': {sec.name} has no contents in this "
                                  "file (a debug file whose stripped file was not found)",
                                  self.path)
        end = data.find(b"\0", offset)
        if offset >= len(data) or end < 0:
            raise VersioningError("main", f"'{self.path}': no string at offset {offset:#x} of "
                                  f"{sec.name}", self.path)
        return data[offset:end].decode("utf-8", "surrogateescape")

    def section_offset(self, shndx: int, value: int) -> tuple[Section, int] | None:
        """Where a symbol's value points inside its section: an offset in a
        relocatable object, an address elsewhere."""
        if not 0 < shndx < len(self.sections):
            return None
        sec = self.sections[shndx]
        return sec, (value if self.is_relocatable else value - sec.addr)
