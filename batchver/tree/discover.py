"""Find the work in a kernel tree: which files export what, for which module.

Two kinds of tree:

* **built** (a kbuild output directory, Linux 6.5+): every ``.o`` whose
  ``.export_symbol`` section declares exports.  ``modules.order`` lists the
  modules and each module's ``.mod`` file lists the objects linked into it;
  other objects belong to ``vmlinux`` when the ``vmlinux.a`` thin archive
  (or a top-level ``built-in.a``) lists them.
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
from typing import Callable

from batchver.atomic import open_regular
from batchver.elf.file import SHT_SYMTAB, ElfObject
from batchver.errors import VersioningError
from batchver.elf.archive import read_thin_archive
from batchver.elf.exports import Export, linked_exports, object_exports

VMLINUX = "vmlinux"
_SKIP_OBJECTS = ("vmlinux.o", ".vmlinux.export.o")


@dataclass
class WorkItem:
    """One file to version and what it exports."""

    path: str
    rel: str
    module: str
    exports: list[Export]
    size: int


@dataclass
class Discovery:
    tree: str
    kind: str  # "built" or "linked"
    items: list[WorkItem] = field(default_factory=list)
    modules: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    # (rel, module, cause) of files looked at that have nothing to version
    skipped: list[tuple[str, str, str]] = field(default_factory=list)
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


def _add_file(found: Discovery, path: str, rel: str, module: str,
              read_exports: Callable[[ElfObject], list[Export]]) -> None:
    """Read one file's exports and record it: as an item to version, as an
    item that failed (unreadable; no symbol table, as after ``strip``, so
    its exports cannot be known), or as skipped because it exports
    nothing.  Every file discovery looks at ends up in the report."""
    try:
        elf = ElfObject(path)
        try:
            exports = read_exports(elf)
            problem = None if exports else _why_unreadable(elf)
        finally:
            elf.close()
    except VersioningError as exc:
        found.errors.append((rel, str(exc)))
        exports = []
    else:
        if problem:
            found.errors.append((rel, f"{rel}: {problem}: its exports cannot be read"))
        elif not exports:
            found.skipped.append((rel, module, "exports nothing"))
            return
    found.items.append(WorkItem(path, rel, module, exports, _size(path)))


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
        rel = os.path.relpath(path, found.tree)
        base = os.path.basename(rel)
        if base in _SKIP_OBJECTS or base.endswith(".mod.o") or not _mentions_exports(path):
            continue
        module = owner.get(rel)
        if module == "":
            continue  # the prelinked output of a composite module
        if module is None:
            if builtin_set is not None and rel not in builtin_set:
                found.notes.append(f"{rel}: exports but is linked into no module or vmlinux; skipped")
                continue
            module = VMLINUX
        _add_file(found, path, rel, module, object_exports)


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
        _add_file(found, path, rel, module, linked_exports)
