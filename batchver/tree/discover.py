"""Find the work in a kernel tree: which files export what, for which module.

Two kinds of tree:

* **built** (a kbuild output directory, Linux 6.5+): every ``.o`` whose
  ``.export_symbol`` section declares exports.  ``modules.order`` lists the
  modules and each module's ``.mod`` file lists the objects linked into it;
  other objects belong to ``vmlinux`` when the ``vmlinux.a`` thin archive
  (or a top-level ``built-in.a``) lists them.  Each export is versioned in
  the file kbuild runs gendwarfksyms on, whose ``#SYMVER`` lines modpost
  reads back from the object's ``.cmd`` file: the object itself for C, the
  ``<obj>.gendwarfksyms.o`` stand-in kbuild compiles for an assembler
  object (``cmd_gensymtypes_S``), and for the exports of ``rust/exports.o``
  the Rust crate or C helper object that defines them (``rust/Makefile``).
* **linked** (what distros ship as debug info, e.g.
  ``/usr/lib/debug/lib/modules/<version>/``): ``vmlinux`` and
  ``kernel/**/*.ko``, exports read from their ksymtab labels; module names
  are modpost's (``kernel/fs/nfs/nfs.ko`` -> ``fs/nfs/nfs``).
"""

from __future__ import annotations

import hashlib
import mmap
import os
import re
from dataclasses import dataclass, field
from typing import Callable, TypeVar

from batchver.elf.file import ElfObject
from batchver.errors import VersioningError
from batchver.elf.archive import read_thin_archive
from batchver.elf.exports import Export, crate_exports, linked_exports, object_exports

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
    ``.gendwarfksyms.o`` stand-in.  ``names`` is the symbol list kbuild gives
    gendwarfksyms when it is not the exports' names: a Rust crate's whole
    ``rust_exports`` list, or none at all for an object kbuild versions no
    export of."""

    path: str
    rel: str
    module: str
    exports: list[Export]
    size: int
    names: list[str] | None = None

    @property
    def run_names(self) -> list[str]:
        """The names to version ``path`` with."""
        return [e.name for e in self.exports] if self.names is None else self.names


@dataclass
class Discovery:
    tree: str
    kind: str  # "built" or "linked"
    items: list[WorkItem] = field(default_factory=list)
    modules: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    member_order: dict[str, list[str]] = field(default_factory=dict)
    kernel: dict[str, str] = field(default_factory=dict)

    @property
    def export_count(self) -> int:
        return sum(len(i.exports) for i in self.items)

    def summary(self) -> str:
        mods = {i.module for i in self.items}
        return (f"{self.kind} tree {self.tree}: {len(self.items)} exporting "
                f"{'objects' if self.kind == 'built' else 'files'}, {len(mods)} modules "
                f"(incl. vmlinux) with exports, {self.export_count} exports"
                + (f", {len(self.errors)} unreadable" if self.errors else ""))


def detect_kind(tree: str) -> str:
    """A tree with kbuild's bookkeeping files (or loose objects) is a built
    tree; one with only linked ELF files is a linked tree."""
    for marker in ("modules.order", "vmlinux.a", "built-in.a", "Module.symvers", ".config"):
        if os.path.isfile(os.path.join(tree, marker)) and _has_objects(tree):
            return "built"
    return "built" if _has_objects(tree) and not _has_modules(tree) else "linked"


def _walk_files(tree: str, suffix: str):
    for root, dirs, files in os.walk(tree):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".git"))
        for name in sorted(files):
            if name.endswith(suffix):
                yield os.path.join(root, name)


def _has_objects(tree: str) -> bool:
    return next(_walk_files(tree, ".o"), None) is not None


def _has_modules(tree: str) -> bool:
    return next(_walk_files(tree, ".ko"), None) is not None


def discover(tree: str, kind: str | None = None, vmlinux: str | None = None) -> Discovery:
    """Find every exporting file in ``tree`` and attribute it to a module."""
    tree = os.path.abspath(tree)
    if not os.path.isdir(tree):
        raise VersioningError("discover", f"tree '{tree}' is not a directory", tree)
    kind = kind or detect_kind(tree)
    found = Discovery(tree, kind)
    if kind == "built":
        _discover_built(found)
    else:
        _discover_linked(found, vmlinux)
    found.items.sort(key=lambda i: (module_sort_key(i.module), i.rel))
    found.kernel = kernel_identity(tree, kind)
    return found


def kernel_identity(tree: str, kind: str) -> dict[str, str]:
    """What is known of the kernel built: its release string and a hash of
    its .config (a baseline records both; a config change moves CRCs)."""
    identity: dict[str, str] = {}
    release = os.path.join(tree, "include", "config", "kernel.release")
    if os.path.isfile(release):
        with open(release, encoding="utf-8", errors="replace") as handle:
            identity["release"] = handle.read().strip()
    elif kind == "linked" and re.match(r"\d+\.\d+", os.path.basename(tree)):
        identity["release"] = os.path.basename(tree)
    config = os.path.join(tree, ".config")
    if os.path.isfile(config):
        with open(config, "rb") as handle:
            identity["config_sha256"] = hashlib.sha256(handle.read()).hexdigest()
    return identity


def module_sort_key(module: str) -> tuple[int, str]:
    """vmlinux first, then modules by name: the order of every report."""
    return (0, "") if module == VMLINUX else (1, module)


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
    order = os.path.join(found.tree, "modules.order")
    if not os.path.isfile(order):
        found.notes.append("no modules.order: every exporting object is attributed to vmlinux")
        return owner
    with open(order, encoding="utf-8", errors="surrogateescape") as handle:
        entries = [line.strip() for line in handle if line.strip()]
    for entry in entries:
        module = _module_name(entry)
        found.modules.append(module)
        mod_file = os.path.join(found.tree, module + ".mod")
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
        path = os.path.join(found.tree, archive)
        if os.path.isfile(path):
            members = [os.path.relpath(m, found.tree) for m in read_thin_archive(path)]
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
        with open(path, "rb") as handle:
            if os.fstat(handle.fileno()).st_size == 0:
                return False
            with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
                return data.find(b"__export_symbol_") >= 0
    except (OSError, ValueError):
        return True  # let the real reader report it


def _discover_built(found: Discovery) -> None:
    owner = _read_modules(found)
    builtin = _builtin_objects(found)
    builtin_set = set(builtin) if builtin is not None else None
    for path in _walk_files(found.tree, ".o"):
        rel = os.path.relpath(path, found.tree)
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
        try:
            exports = _read_elf(path, object_exports)
        except VersioningError as exc:
            found.errors.append((rel, str(exc)))
            found.items.append(WorkItem(path, rel, module, [], os.path.getsize(path)))
            continue
        if exports:
            found.items.append(_versioned_as_kbuild_does(found, WorkItem(
                path, rel, module, exports, os.path.getsize(path))))
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
    elif _kbuild_source(found.tree, item.rel).endswith(".S"):
        item.names = []
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
        members = [os.path.relpath(p, found.tree) for p in _walk_files(
            os.path.join(found.tree, folder), ".o")]
    items = {i.rel: i for i in found.items}
    for rel in members:
        rel = os.path.normpath(rel)
        if not rel.startswith(folder) or rel == shim.rel or not wanted:
            continue
        path = os.path.join(found.tree, rel)
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
            item = WorkItem(path, rel, shim.module, [], os.path.getsize(path), [])
            found.items.append(item)
        item.names = list(dict.fromkeys(item.run_names + names))
        item.exports = sorted(item.exports + mine)
    shim.exports = sorted(wanted.values())
    shim.names = []
    if shim.exports:
        found.notes.append(f"{shim.rel}: {len(shim.exports)} export(s) defined by no object in "
                           f"{folder} are left unversioned")
    else:
        found.items.remove(shim)


# -- linked trees ------------------------------------------------------------
def _find_vmlinux(tree: str) -> str | None:
    for name in sorted(os.listdir(tree)):
        if name == VMLINUX or (name.startswith("vmlinux-") and not name.endswith((".map", ".gz"))):
            path = os.path.join(tree, name)
            if os.path.isfile(path):
                return path
    return None


def linked_module_name(rel: str) -> str:
    """modpost's name for a module file: its path below ``kernel/``
    without ``.ko``."""
    parts = rel.split(os.sep)
    if "kernel" in parts:
        parts = parts[parts.index("kernel") + 1:]
    name = "/".join(parts)
    return name[:-3] if name.endswith(".ko") else name


def _discover_linked(found: Discovery, vmlinux: str | None) -> None:
    files: list[tuple[str, str]] = []
    vmlinux = vmlinux or _find_vmlinux(found.tree)
    if vmlinux is not None:
        files.append((os.path.abspath(vmlinux), VMLINUX))
    else:
        found.notes.append("no vmlinux found (use --vmlinux): only modules are versioned")
    for path in _walk_files(found.tree, ".ko"):
        rel = os.path.relpath(path, found.tree)
        module = linked_module_name(rel)
        found.modules.append(module)
        files.append((path, module))
    for path, module in files:
        rel = os.path.relpath(path, found.tree) if path.startswith(found.tree) else path
        try:
            elf = ElfObject(path)
            try:
                exports = linked_exports(elf)
            finally:
                elf.close()
        except VersioningError as exc:
            found.errors.append((rel, str(exc)))
            found.items.append(WorkItem(path, rel, module, [], os.path.getsize(path)))
            continue
        if exports:
            found.items.append(WorkItem(path, rel, module, exports, os.path.getsize(path)))
