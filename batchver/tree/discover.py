"""Find the work in a kernel tree: which files export what, for which module.

Two kinds of tree:

* **built** (a kbuild output directory, Linux 6.5+): every ``.o`` whose
  ``.export_symbol`` section declares exports.  ``modules.order`` lists the
  modules and each module's ``.mod`` file lists the objects linked into it;
  other objects belong to ``vmlinux`` when the ``vmlinux.a`` thin archive
  (or a top-level ``built-in.a``) lists them.  TREE may be a directory
  inside the build: membership then comes from the build root above it
  (:func:`build_root`), and only the objects under TREE are versioned, with
  the names and paths a whole-tree run gives them.  Each export is versioned in
  the file kbuild runs gendwarfksyms on, whose ``#SYMVER`` lines modpost
  reads back from the object's ``.cmd`` file: the object itself for C, the
  ``<obj>.gendwarfksyms.o`` stand-in kbuild compiles for an assembler
  object (``cmd_gensymtypes_S``), and for the exports of ``rust/exports.o``
  the Rust crate or C helper object that defines them (``rust/Makefile``).
* **linked** (what distros ship as debug info, e.g.
  ``/usr/lib/debug/lib/modules/<version>/``): ``vmlinux`` and
  ``kernel/**/*.ko``, exports read from their ksymtab labels; module names
  are modpost's (``kernel/fs/nfs/nfs.ko`` -> ``fs/nfs/nfs``).  Modules may
  be compressed (``.ko.xz``/``.zst``/``.gz``) or split by ``eu-strip -f``
  into a stripped file and a ``.ko.debug`` file: the two halves are paired
  (:func:`_open_pair`), wherever TREE points within the distro's layout.
"""

from __future__ import annotations

import fnmatch
import hashlib
import mmap
import os
import re
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, TypeVar

from batchver.atomic import open_regular
from batchver.compressed import COMPRESSED_SUFFIXES
from batchver.elf.file import SHT_SYMTAB, ElfObject
from batchver.errors import VersioningError
from batchver.elf.archive import read_thin_archive
from batchver.elf.exports import Export, crate_exports, linked_exports, object_exports
from batchver.tree.kinds import TreeKind

T = TypeVar("T")
VMLINUX = "vmlinux"
_SKIP_OBJECTS = ("vmlinux.o", ".vmlinux.export.o")
#: What kbuild (7.x, ``cmd_gensymtypes_S``) compiles beside an assembler
#: object: ``asm/asm-prototypes.h`` plus one EXPORT_SYMBOL per export.
GENDWARFKSYMS_STAND_IN = ".gendwarfksyms.o"
#: The object ``rust/Makefile`` declares the Rust crates' exports in, and
#: never runs gendwarfksyms on (``skip_gendwarfksyms``): the crates and
#: helpers that define the symbols are versioned instead.
RUST_EXPORT_SHIM = "rust/exports.o"


@dataclass
class WorkItem:
    """One file to version and what it exports.

    ``rel`` names the object the exports belong to; ``path`` is the file
    whose DWARF versions them, which for an assembler object is its
    ``.gendwarfksyms.o`` stand-in.  ``symbol_list`` is the symbol list
    kbuild gives gendwarfksyms for it: the exports' names, except for a
    Rust crate (its whole ``rust_exports`` list) and an object kbuild
    versions no export of (an empty list)."""

    path: str
    rel: str
    module: str
    exports: list[Export]
    size: int
    # the other half of a split file (the stripped file beside a debug file,
    # or the reverse): where section contents of the exports came from
    paired_with: str | None = None
    symbol_list: list[str] = field(default_factory=list)


@dataclass
class Discovery:
    tree: str
    kind: TreeKind
    # a built tree's kbuild output directory, at or above ``tree``: what
    # ``modules.order``, ``*.mod``, ``vmlinux.a`` and object names are
    # relative to (``tree`` itself when no build root is found)
    root: str = ""
    items: list[WorkItem] = field(default_factory=list)
    modules: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    # (rel, module, cause) of files looked at that have nothing to version
    skipped: list[tuple[str, str, str]] = field(default_factory=list)
    member_order: dict[str, list[str]] = field(default_factory=dict)
    kernel: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.kind = TreeKind(self.kind)  # its value ("built", "linked") is accepted too

    @property
    def export_count(self) -> int:
        return sum(len(i.exports) for i in self.items)

    def summary(self) -> str:
        mods = {i.module for i in self.items}
        return (f"{self.kind} tree {self.tree}: {len(self.items)} exporting "
                f"{'objects' if self.kind is TreeKind.BUILT else 'files'}, {len(mods)} modules "
                f"(incl. vmlinux) with exports, {self.export_count} exports"
                + (f", {len(self.errors)} unreadable" if self.errors else ""))


def detect_kind(tree: str) -> TreeKind:
    """A tree with kbuild's bookkeeping files (or loose objects) is a built
    tree; one with only linked ELF files is a linked tree."""
    for marker in ("modules.order", "vmlinux.a", "built-in.a", "Module.symvers", ".config"):
        if os.path.isfile(os.path.join(tree, marker)) and _has_objects(tree):
            return TreeKind.BUILT
    return TreeKind.BUILT if _has_objects(tree) and not _has_modules(tree) else TreeKind.LINKED


def _walk_files(tree: str, suffix: str | tuple[str, ...]) -> Iterator[str]:
    for root, dirs, files in os.walk(tree):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".git"))
        for name in sorted(files):
            if name.endswith(suffix):
                yield os.path.join(root, name)


def _size(path: str) -> int:
    """A file's size for scheduling; 0 for one that cannot be stat'ed (a
    dangling symlink or a loop), which is reported when it is opened."""
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _has_objects(tree: str) -> bool:
    return next(_walk_files(tree, ".o"), None) is not None


def _has_modules(tree: str) -> bool:
    return next(_walk_files(tree, MODULE_SUFFIXES), None) is not None


def discover(tree: str, kind: TreeKind | str | None = None, vmlinux: str | None = None,
             modules: list[str] | None = None) -> Discovery:
    """Find every exporting file in ``tree`` and attribute it to a module;
    with ``modules`` (shell patterns), keep only the modules matching one."""
    tree = os.path.abspath(tree)
    if not os.path.isdir(tree):
        raise VersioningError("discover", f"tree '{tree}' is not a directory", tree)
    kind = TreeKind(kind) if kind else detect_kind(tree)
    found = Discovery(tree, kind, root=tree)
    if kind is TreeKind.BUILT:
        _find_build_root(found)
        _discover_built(found)
    else:
        _discover_linked(found, vmlinux, _module_filter(modules))
    if modules:
        _select_modules(found, modules)
    found.items.sort(key=lambda i: (module_sort_key(i.module), i.rel))
    found.kernel = kernel_identity(found.root, kind)
    return found


#: What only the top of a kbuild output directory holds: subdirectories
#: have their own ``modules.order`` and ``built-in.a`` (with names relative
#: to the top), but not these.
BUILD_ROOT_MARKERS = ("vmlinux.a", ".config")


def build_root(tree: str) -> str | None:
    """The kbuild output directory ``tree`` is in (``tree`` itself or the
    nearest directory above holding a :data:`BUILD_ROOT_MARKERS` file), or
    None."""
    folder = tree
    while True:
        if any(os.path.isfile(os.path.join(folder, marker)) for marker in BUILD_ROOT_MARKERS):
            return folder
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent


def _find_build_root(found: Discovery) -> None:
    """Take membership from the build TREE lies in; without one, from TREE
    alone, saying so."""
    root = build_root(found.tree)
    if root is None:
        found.notes.append(f"no kbuild build root (a directory holding {' or '.join(BUILD_ROOT_MARKERS)}) "
                           f"at or above {found.tree}: objects are named relative to it and modules "
                           "come from its own modules.order, if any")
    elif root != found.tree:
        found.root = root
        found.notes.append(f"{found.tree} is inside the build at {root}: modules and object names come "
                           "from there; only the objects under the tree are versioned")


def _module_filter(patterns: list[str] | None) -> Callable[[str], bool]:
    """Whether a module (``vmlinux`` included) is selected by ``--module``."""
    if not patterns:
        return lambda module: True
    return lambda module: any(fnmatch.fnmatchcase(module, p) for p in patterns)


def _select_modules(found: Discovery, patterns: list[str]) -> None:
    """Keep the modules matching a pattern (a linked tree's discovery has
    already skipped reading the others)."""
    wanted = _module_filter(patterns)
    found.items = [i for i in found.items if wanted(i.module)]
    found.modules = [m for m in found.modules if wanted(m)]
    found.errors = [e for e in found.errors
                    if any(i.rel == e[0] for i in found.items)]
    found.notes.append(f"--module {' '.join(patterns)}: {len({i.module for i in found.items})} "
                       "exporting modules selected")


def kernel_identity(tree: str, kind: TreeKind) -> dict[str, str]:
    """What is known of the kernel built: its release string and a hash of
    its .config (a baseline records both; a config change moves CRCs)."""
    identity: dict[str, str] = {}
    release = os.path.join(tree, "include", "config", "kernel.release")
    if os.path.isfile(release):
        with open(release, encoding="utf-8", errors="replace") as handle:
            identity["release"] = handle.read().strip()
    elif kind is TreeKind.LINKED and re.match(r"\d+\.\d+", os.path.basename(tree)):
        identity["release"] = os.path.basename(tree)
    config = os.path.join(tree, ".config")
    if os.path.isfile(config):
        with open(config, "rb") as handle:
            identity["config_sha256"] = hashlib.sha256(handle.read()).hexdigest()
    return identity


def module_sort_key(module: str) -> tuple[int, str]:
    """vmlinux first, then modules by name: the order of every report."""
    return (0, "") if module == VMLINUX else (1, module)


def _add_file(found: Discovery, path: str, rel_of: Callable[[str], str], module: str,
              read: Callable[[str], FileExports]) -> WorkItem | None:
    """Read one file's exports and record it: as an item to version, as an
    item that failed (unreadable; no symbol table, as after ``strip``, so
    its exports cannot be known), or as skipped because it exports
    nothing.  Every file discovery looks at ends up in the report; the item
    recorded (None when skipped) is returned."""
    try:
        got = read(path)
    except VersioningError as exc:
        rel = rel_of(path)
        found.errors.append((rel, str(exc)))
        item = WorkItem(path, rel, module, [], _size(path))
        found.items.append(item)
        return item
    rel = rel_of(got.path)
    if got.problem:
        found.errors.append((rel, f"{rel}: {got.problem}: its exports cannot be read"))
    elif not got.exports:
        found.skipped.append((rel, module, "exports nothing"))
        return None
    item = WorkItem(got.path, rel, module, got.exports, got.size, got.paired_with,
                    [e.name for e in got.exports])
    found.items.append(item)
    return item


@dataclass
class FileExports:
    """What reading one file for discovery found: the file to version (for
    a split file, the half with DWARF), its ELF image's size, the other half
    if any, its exports, and why they cannot be known (or None)."""

    path: str
    size: int
    paired_with: str | None
    exports: list[Export]
    problem: str | None


def _read_exports(path: str, read_exports: Callable[[ElfObject], list[Export]]) -> FileExports:
    """One unpaired file's exports (built trees' objects)."""
    def read(elf: ElfObject) -> FileExports:
        exports = read_exports(elf)
        return FileExports(path, elf.size, None, exports, None if exports else _why_unreadable(elf))
    return _read_elf(path, read)


def _why_unreadable(elf: ElfObject) -> str | None:
    """Why a file without exports may have exports nobody can see: no
    section has a name (``e_shstrndx`` points outside the section table), or
    there is no symbol table (``strip --strip-all``)."""
    if len(elf.sections) > 1 and not any(sec.name for sec in elf.sections):
        return "no section has a name (e_shstrndx does not point at the section name table)"
    if not any(sec.type == SHT_SYMTAB for sec in elf.sections):
        return "no symbol table (stripped?)"
    return None


# -- built trees -------------------------------------------------------------
def _module_name(entry: str) -> str:
    name = entry.strip()
    if name.startswith("kernel/"):
        name = name[len("kernel/"):]
    for suffix in (".ko", ".o"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _read_modules(found: Discovery) -> dict[str, str]:
    """Object path (relative) -> module name, from modules.order and *.mod."""
    owner: dict[str, str] = {}
    order = os.path.join(found.root, "modules.order")
    if not os.path.isfile(order):
        found.notes.append("no modules.order: every exporting object is attributed to vmlinux")
        return owner
    with open(order, encoding="utf-8", errors="surrogateescape") as handle:
        entries = [line.strip() for line in handle if line.strip()]
    for entry in entries:
        module = _module_name(entry)
        found.modules.append(module)
        mod_file = os.path.join(found.root, module + ".mod")
        if os.path.isfile(mod_file):
            with open(mod_file, encoding="utf-8", errors="surrogateescape") as handle:
                members = [m for m in handle.read().split() if m.endswith(".o")]
        else:
            found.notes.append(f"{module}.mod not found: {module}.o taken as its only object")
            members = [module + ".o"]
        found.member_order[module] = members
        for member in members:
            owner[os.path.normpath(member)] = module
        if members != [module + ".o"]:
            owner.setdefault(module + ".o", "")  # a composite module's link output
    return owner


def _builtin_objects(found: Discovery) -> list[str] | None:
    for archive in ("vmlinux.a", "built-in.a"):
        path = os.path.join(found.root, archive)
        if os.path.isfile(path):
            members = [os.path.relpath(m, found.root) for m in read_thin_archive(path)]
            found.member_order[VMLINUX] = members
            return members
    found.notes.append("no vmlinux.a or built-in.a: objects outside modules are taken as vmlinux")
    return None


def _read_elf(path: str, read: Callable[[ElfObject], T]) -> T:
    """``read`` applied to the ELF file at ``path``, which is closed after."""
    elf = ElfObject(path)
    try:
        return read(elf)
    finally:
        elf.close()


def _mentions_exports(path: str) -> bool:
    try:
        with os.fdopen(open_regular(path), "rb") as handle:
            if os.fstat(handle.fileno()).st_size == 0:
                return False
            with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
                return data.find(b"__export_symbol_") >= 0
    except (OSError, ValueError):
        return True  # let the real reader report it (a FIFO, a symlink loop)


def _discover_built(found: Discovery) -> None:
    owner = _read_modules(found)
    builtin = _builtin_objects(found)
    builtin_set = set(builtin) if builtin is not None else None
    for path in _walk_files(found.tree, ".o"):
        rel = os.path.relpath(path, found.root)
        base = os.path.basename(rel)
        if (base in _SKIP_OBJECTS or base.endswith((".mod.o", GENDWARFKSYMS_STAND_IN))
                or not _mentions_exports(path)):
            continue
        module = owner.get(rel)
        if module == "":
            continue  # the prelinked output of a composite module
        if module is None:
            if builtin_set is not None and rel not in builtin_set:
                found.notes.append(f"{rel}: exports but is linked into no module or vmlinux; skipped")
                continue
            module = VMLINUX
        item = _add_file(found, path, lambda _: rel, module,
                         lambda p: _read_exports(p, object_exports))
        if item is not None and item.exports:
            _versioned_as_kbuild_does(found, item)
    shim = next((i for i in found.items if i.rel == RUST_EXPORT_SHIM), None)
    if shim is not None:
        _version_rust_exports(found, shim)


def _versioned_as_kbuild_does(found: Discovery, item: WorkItem) -> WorkItem:
    """Point an assembler object's item at the stand-in kbuild versions its
    exports from; with no stand-in, kbuild embeds no CRC either (or, before
    7.x, one genksyms made from C prototypes), so none is claimed."""
    stand_in = item.path[:-len(".o")] + GENDWARFKSYMS_STAND_IN
    if os.path.isfile(stand_in):
        item.path, item.size = stand_in, os.path.getsize(stand_in)
    elif _kbuild_source(found.root, item.rel).endswith(".S"):
        item.symbol_list = []
        found.notes.append(f"{item.rel}: assembled from a .S file and no "
                           f"{os.path.basename(stand_in)} beside it: its exports are left "
                           "unversioned (kbuild versions them from that C stand-in)")
    return item


def _kbuild_source(tree: str, rel: str) -> str:
    """The source file kbuild built ``rel`` from, as its ``.<obj>.cmd`` file
    records it (``source_<obj> := <path>``); empty if unknown."""
    folder, base = os.path.split(rel)
    key = f"source_{rel} := ".encode("utf-8", "surrogateescape")
    try:
        with open(os.path.join(tree, folder, f".{base}.cmd"), "rb") as handle:
            for line in handle:
                if line.startswith(key):
                    return line[len(key):].strip().decode("utf-8", "surrogateescape")
                if line.strip() and not line.startswith((b"savedcmd_", b"source_")):
                    break  # the dependency list follows the two header lines
    except OSError:
        pass
    return ""


def _version_rust_exports(found: Discovery, shim: WorkItem) -> None:
    """Move each export of the Rust export shim to the item of the object of
    the same module, in the shim's directory, that defines it; that object
    is versioned with its whole ``rust_exports`` list, as kbuild does."""
    wanted = {e.name: e for e in shim.exports}
    folder = os.path.dirname(shim.rel) + os.sep
    members = found.member_order.get(shim.module)
    if members is None:  # no thin archive or .mod file to say which objects
        members = [os.path.relpath(p, found.root) for p in _walk_files(
            os.path.join(found.root, folder), ".o")]
    items = {i.rel: i for i in found.items}
    for rel in members:
        rel = os.path.normpath(rel)
        if not rel.startswith(folder) or rel == shim.rel or not wanted:
            continue
        path = os.path.join(found.root, rel)
        try:
            names = _read_elf(path, crate_exports)
        except VersioningError as exc:
            found.errors.append((rel, str(exc)))
            continue
        mine = [wanted.pop(n) for n in names if n in wanted]
        if not mine:
            continue
        item = items.get(rel)
        if item is None:
            item = WorkItem(path, rel, shim.module, [], os.path.getsize(path))
            found.items.append(item)
        item.symbol_list = list(dict.fromkeys(item.symbol_list + names))
        item.exports = sorted(item.exports + mine)
    shim.exports = sorted(wanted.values())
    shim.symbol_list = []
    if shim.exports:
        found.notes.append(f"{shim.rel}: {len(shim.exports)} export(s) defined by no object in "
                           f"{folder} are left unversioned")
    else:
        found.items.remove(shim)


# -- linked trees ------------------------------------------------------------
# How distros lay a kernel's files out: the modules under
# ``[/usr]/lib/modules/<version>/`` (stripped when debug info is split off),
# their debug files under ``/usr/lib/debug/lib/modules/<version>/``.
_LAYOUT = re.compile(r"^(?P<prefix>.*?)(?P<debug>/usr/lib/debug)?(?:/usr)?/lib/modules/"
                     r"(?P<version>[^/]+)(?=/|$)")
DEBUG_SUFFIX = ".debug"
MODULE_SUFFIXES = (".ko", ".ko" + DEBUG_SUFFIX) + tuple(".ko" + c for c in COMPRESSED_SUFFIXES)


@dataclass(frozen=True)
class Layout:
    """Where a linked tree sits: ``root`` is the directory module names are
    relative to (TREE itself, or the ``lib/modules/<version>`` directory or
    ``modules.order`` holder above a TREE that is a subdirectory of it);
    ``prefix`` and ``version`` locate the stripped and debug halves of a
    distro's split files when TREE is below ``lib/modules/<version>``."""

    root: str
    prefix: str | None = None
    version: str | None = None

    def debug_dirs(self) -> list[str]:
        if self.prefix is None or self.version is None:  # _LAYOUT sets both or neither
            return []
        return [os.path.join(self.prefix + "/usr/lib/debug/lib/modules", self.version)]

    def module_dirs(self) -> list[str]:
        if self.prefix is None or self.version is None:
            return []
        return [os.path.join(self.prefix + base, self.version)
                for base in ("/lib/modules", "/usr/lib/modules")]


def tree_layout(tree: str) -> Layout:
    """Find the root module names are taken from, so a TREE pointing at a
    subdirectory (``.../kernel/drivers/nvdimm``) keeps modpost's names
    (``drivers/nvdimm/nd_virtio``)."""
    match = _LAYOUT.match(tree)
    if match:
        return Layout(tree[:match.end()], match["prefix"], match["version"])
    ancestors = [tree]
    while os.path.dirname(ancestors[-1]) != ancestors[-1]:
        ancestors.append(os.path.dirname(ancestors[-1]))
    for directory in ancestors:
        if os.path.isfile(os.path.join(directory, "modules.order")):
            return Layout(directory)
    if not os.path.isdir(os.path.join(tree, "kernel")):
        for directory in ancestors:
            if os.path.basename(directory) == "kernel":
                return Layout(os.path.dirname(directory))
    return Layout(tree)


def _find_vmlinux(tree: str, layout: Layout) -> str | None:
    """``vmlinux`` in TREE, else, when TREE is a whole ``lib/modules/<version>``
    (not a subset of one), where distros keep it for this version."""
    places: list[tuple[str, str | None]] = [(tree, None)]
    if layout.prefix is not None and tree == layout.root:
        places += [(d, None) for d in layout.debug_dirs()]
        places.append((layout.prefix + "/usr/lib/debug/boot", f"vmlinux-{layout.version}"))
    for directory, wanted in places:
        if not os.path.isdir(directory):
            continue
        for name in sorted(os.listdir(directory)):
            if (name == wanted if wanted else
                    name == VMLINUX or (name.startswith("vmlinux-")
                                        and not name.endswith((".map", ".gz")))):
                path = os.path.join(directory, name)
                if os.path.isfile(path):
                    return path
    return None


def resolve_vmlinux(path: str) -> str:
    """``--vmlinux`` may name the boot image ``/boot/vmlinuz-<version>``
    (compressed, not ELF): its debug ``vmlinux`` is found by the version."""
    base = os.path.basename(path)
    if not base.startswith("vmlinuz-"):
        return path
    version = base[len("vmlinuz-"):]
    prefix = os.path.dirname(os.path.dirname(os.path.abspath(path)))
    prefix = "" if prefix == "/" else prefix
    for candidate in (f"{prefix}/usr/lib/debug/lib/modules/{version}/vmlinux",
                      f"{prefix}/usr/lib/debug/boot/vmlinux-{version}",
                      f"{prefix}/lib/modules/{version}/build/vmlinux"):
        if os.path.isfile(candidate):
            return candidate
    raise VersioningError("discover", f"'{path}' is a boot image; no debug vmlinux for "
                          f"{version} found under {prefix or '/'}usr/lib/debug", path)


def module_stem(rel: str) -> str | None:
    """A module file's path without ``.ko`` and any compression or
    ``.debug`` suffix (None for other files)."""
    if rel.endswith(DEBUG_SUFFIX):
        rel = rel[:-len(DEBUG_SUFFIX)]
    for compression in COMPRESSED_SUFFIXES:
        if rel.endswith(".ko" + compression):
            rel = rel[:-len(compression)]
    return rel[:-3] if rel.endswith(".ko") else None


def linked_module_name(rel: str) -> str:
    """modpost's name for a module file (relative to the tree's root): its
    path below ``kernel/`` without ``.ko`` or a compression/debug suffix."""
    parts = rel.split(os.sep)
    if "kernel" in parts:
        parts = parts[parts.index("kernel") + 1:]
    name = "/".join(parts)
    return module_stem(name) or name


def _first_file(paths: Iterable[str]) -> str | None:
    return next((p for p in paths if os.path.isfile(p)), None)


def _debug_file(elf: ElfObject, path: str, layout: Layout, rel_root: str) -> str | None:
    """The debug file of a stripped file, as gdb and libdwfl look for it:
    by build-id, by ``.gnu_debuglink``, or at its mirrored path under
    ``/usr/lib/debug/lib/modules/<version>/``."""
    prefix = layout.prefix or ""
    candidates = []
    build_id = elf.build_id()
    if build_id:
        candidates.append(f"{prefix}/usr/lib/debug/.build-id/{build_id[:2]}/{build_id[2:]}.debug")
    link = elf.debuglink()
    if link:
        directory = os.path.dirname(path)
        candidates += [os.path.join(directory, link), os.path.join(directory, ".debug", link),
                       f"{prefix}/usr/lib/debug{directory[len(prefix):]}/{link}"]
    stem = module_stem(rel_root)
    if stem is not None:
        candidates += [os.path.join(d, stem + ".ko" + DEBUG_SUFFIX) for d in layout.debug_dirs()]
    return _first_file(c for c in candidates if os.path.abspath(c) != os.path.abspath(path))


def _stripped_file(rel_root: str, module: str, layout: Layout) -> str | None:
    """The stripped file of a debug tree's ``.ko.debug`` file (the module
    under ``lib/modules/<version>``) or ``vmlinux`` (``/boot/vmlinux-<version>``)."""
    if layout.prefix is None:
        return None
    if module == VMLINUX:
        return _first_file([f"{layout.prefix}/boot/vmlinux-{layout.version}"])
    stem = module_stem(rel_root)
    if stem is None:
        return None
    return _first_file(os.path.join(d, stem + ".ko" + c)
                       for d in layout.module_dirs() for c in ("",) + COMPRESSED_SUFFIXES)


def _group_modules(found: Discovery, layout: Layout) -> list[list[str]]:
    """Module files grouped by module: a split module's stripped file and
    ``.ko.debug`` file in one tree are one module, DWARF file first."""
    groups: dict[str, list[str]] = {}
    for path in _walk_files(found.tree, MODULE_SUFFIXES):
        stem = module_stem(os.path.relpath(path, found.tree))
        if stem is None:  # every MODULE_SUFFIXES name has a stem
            raise ValueError(f"{path}: not a module file")
        groups.setdefault(stem, []).append(path)
    ordered = []
    for stem in sorted(groups):
        paths = sorted(groups[stem], key=lambda p: (not p.endswith(DEBUG_SUFFIX), p))
        if len([p for p in paths if not p.endswith(DEBUG_SUFFIX)]) > 1:
            names = ", ".join(os.path.basename(p) for p in paths)
            found.notes.append(f"{stem}: several module files ({names}); the first is versioned")
        ordered.append(paths)
    return ordered


def _open_pair(found: Discovery, path: str, module: str, partner: str | None,
               layout: Layout) -> FileExports:
    """Read one linked file's exports, pairing it with its other half when
    its debug info is split off: returns the file to version (the one with
    DWARF), its ELF image's size (decompressed), the paired file (or None)
    and the exports, read from the symbol table with section contents from
    whichever file has them."""
    rel_root = os.path.relpath(path, layout.root)
    elf = ElfObject(path)
    others: list[ElfObject] = []
    try:
        if partner is None:
            if elf.has_dwarf():
                partner = _stripped_file(rel_root, module, layout) \
                    if path.endswith(DEBUG_SUFFIX) or module == VMLINUX else None
            else:
                partner = _debug_file(elf, path, layout, rel_root)
        if partner is None:
            if not elf.has_dwarf():
                found.notes.append(f"{rel_root}: stripped, and no debug file found for it "
                                   "(by build-id, .gnu_debuglink or /usr/lib/debug path)")
            exports = linked_exports(elf)
            return FileExports(path, elf.size, None, exports,
                               None if exports else _why_unreadable(elf))
        other = ElfObject(partner)
        others.append(other)
        debug, stripped = (elf, other) if elf.has_dwarf() or not other.has_dwarf() else (other, elf)
        debug.borrow_from(stripped)
        exports = linked_exports(debug)
        return FileExports(debug.path, debug.size, stripped.path, exports,
                           None if exports else _why_unreadable(stripped))
    finally:
        elf.close()
        for other in others:
            other.close()


def _discover_linked(found: Discovery, vmlinux: str | None,
                     wanted: Callable[[str], bool]) -> None:
    layout = tree_layout(found.tree)
    files: list[tuple[list[str], str]] = []
    if wanted(VMLINUX):
        vmlinux = resolve_vmlinux(vmlinux) if vmlinux else _find_vmlinux(found.tree, layout)
        if vmlinux is not None:
            files.append(([os.path.abspath(vmlinux)], VMLINUX))
        else:
            found.notes.append("no vmlinux found (use --vmlinux): only modules are versioned")
    for paths in _group_modules(found, layout):
        module = linked_module_name(os.path.relpath(paths[0], layout.root))
        if not wanted(module):
            continue
        found.modules.append(module)
        files.append((paths, module))

    def rel_of(path: str) -> str:  # relative in TREE, else as found (e.g. a partner's path)
        inside = path.startswith(found.tree + os.sep)
        return os.path.relpath(path, found.tree) if inside else path

    for paths, module in files:
        path = paths[0]
        partner = paths[1] if len(paths) > 1 and path.endswith(DEBUG_SUFFIX) else None
        _add_file(found, path, rel_of, module,
                  lambda p: _open_pair(found, p, module, partner, layout))
