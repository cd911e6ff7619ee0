"""Will these modules load on CURRENT?  Each consumer module is decided the
way the target kernel decides it (``kernel/module/main.c``,
``kernel/module/version.c``), symbol by symbol, and each refusal gets a
reason:

* ``missing``: nothing exports the symbol (neither CURRENT nor another
  consumer given: an out-of-tree stack like zfs + spl exports to itself);
* ``gpl_only``: the export is GPL-only and the module's ``.modinfo``
  license is not GPL-compatible (``include/linux/license.h``; no license
  at all counts as proprietary).  The kernel then does not find the
  symbol, so a weak import of it stays unresolved instead;
* ``crc``: the module's version table records another CRC for it ("disagrees
  about version of symbol");
* ``no_version``: the symbol is not in the module's version table.  With
  ``__versions`` (or no table at all) the kernel refuses; with the extended
  tables it warns and loads, so that is a warning here;
* ``namespace``: the export is in a namespace the module does not
  ``import_ns``; a 7.x ``module:`` namespace instead names the modules
  allowed, with a trailing ``*`` as a prefix match (and a module that
  imports such a namespace explicitly is refused as a whole: its problem's
  symbol is that namespace).

The checks run in the kernel's order (find, version, namespace) and the
first failing one is the symbol's reason.  ``module_layout``, which the
kernel checks for every module before anything else, is checked whenever
CURRENT exports it.  An export without a CRC (a plain ``Module.symvers``'
``0x00000000``, or one ``batchver run`` could not version) is accepted, as
the kernel accepts an exporter without CRCs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from batchver.compressed import COMPRESSED_SUFFIXES
from batchver.elf.modinfo import ModuleInfo, read_module
from batchver.errors import InputError, VersioningError
from batchver.symvers import ExportRecord

REASONS = ("crc", "missing", "gpl_only", "namespace", "no_version")
MODULE_LAYOUT = "module_layout"
MODULE_NAMESPACE_PREFIX = "module:"
#: ``license_is_gpl_compatible()`` of include/linux/license.h
GPL_COMPATIBLE = frozenset({"GPL", "GPL v2", "GPL and additional rights", "Dual BSD/GPL",
                            "Dual MIT/GPL", "Dual MPL/GPL"})
MODULE_SUFFIXES = (".ko",) + tuple(".ko" + s for s in COMPRESSED_SUFFIXES)


@dataclass(frozen=True)
class Provider:
    """One export as the loader finds it: its CRC (None: not versioned),
    GPL-only or not, namespace, and who exports it."""

    crc: int | None
    gpl_only: bool
    namespace: str
    owner: str


@dataclass
class Problem:
    """One symbol the module cannot use.  ``want_crc`` is the CRC the
    module's version table records (what it was built against),
    ``have_crc`` the one the exporter has; ``root_causes`` are the ids of
    the baseline check's root causes when they explain a CRC refusal."""

    symbol: str
    reason: str
    want_crc: int | None
    have_crc: int | None
    root_causes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        def crc(value: int | None) -> str | None:
            return None if value is None else f"0x{value:08x}"
        return {"symbol": self.symbol, "reason": self.reason, "want_crc": crc(self.want_crc),
                "have_crc": crc(self.have_crc)}


@dataclass
class ConsumerResult:
    """The decision for one module file; ``error`` when it could not be read
    (then nothing is decided for it)."""

    path: str
    module: str | None
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    error: str | None = None
    #: imported symbols CURRENT exports (what a stablelist must keep)
    uses: list[str] = field(default_factory=list)

    @property
    def loads(self) -> bool | None:
        return None if self.error is not None else not self.problems

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "module": self.module, "loads": self.loads,
                "problems": [p.to_json() for p in self.problems],
                "warnings": [p.to_json() for p in self.warnings], "error": self.error}


@dataclass
class ConsumerReport:
    """Every consumer's decision, in path order."""

    results: list[ConsumerResult]

    @property
    def refusing(self) -> list[ConsumerResult]:
        return [r for r in self.results if r.loads is False]

    @property
    def unreadable(self) -> list[ConsumerResult]:
        return [r for r in self.results if r.error is not None]

    def stablelist(self) -> list[str]:
        """The CURRENT exports the consumers import, sorted."""
        return sorted({name for r in self.results for name in r.uses})

    def by_root_cause(self) -> dict[str, list[tuple[ConsumerResult, Problem]]]:
        """Refusals grouped by the root cause that explains them, in order
        of first appearance."""
        groups: dict[str, list[tuple[ConsumerResult, Problem]]] = {}
        for result in self.results:
            for problem in result.problems:
                for cause in problem.root_causes:
                    groups.setdefault(cause, []).append((result, problem))
        return groups


def find_modules(paths: list[str]) -> list[str]:
    """The module files named or found (recursively, in sorted order)
    under ``paths``; InputError for a path that does not exist or holds
    no module."""
    found: list[str] = []
    for path in paths:
        if os.path.isdir(path):
            inside = sorted(os.path.join(root, name) for root, _, names in os.walk(path)
                            for name in names if name.endswith(MODULE_SUFFIXES))
            if not inside:
                raise InputError(path, f"no module ({', '.join(MODULE_SUFFIXES)}) in this "
                                       "directory or below")
            found.extend(inside)
        elif os.path.isfile(path):
            found.append(path)
        else:
            raise InputError(path, "no such file or directory")
    return list(dict.fromkeys(found))


def license_is_gpl_compatible(license_: str | None) -> bool:
    return license_ in GPL_COMPATIBLE


def namespace_allows(namespace: str, module: str, imported: tuple[str, ...]) -> bool:
    """Whether ``module`` may use an export of ``namespace``: no namespace,
    one it imports, or a ``module:`` namespace whose comma-separated
    patterns (``name`` or ``prefix*``) match its name, ``-`` and ``_``
    alike (``module:kvm-amd`` admits ``kvm_amd``)."""
    if not namespace or namespace in imported:
        return True
    if not namespace.startswith(MODULE_NAMESPACE_PREFIX):
        return False
    name = module.replace("-", "_")  # the kernel compares module names so
    for pattern in namespace[len(MODULE_NAMESPACE_PREFIX):].replace("-", "_").split(","):
        if pattern.endswith("*") and name.startswith(pattern[:-1]) or pattern == name:
            return True
    return False


def providers(current: list[ExportRecord], modules: list[ModuleInfo]) -> dict[str, Provider]:
    """What the loader would find for each name: CURRENT's exports, then
    the consumers' own, first one wins.  A consumer named like one of
    CURRENT's modules is what gets loaded in its place (an ``updates/``
    build, or the in-tree module itself), so that module's rows give way
    to the consumer's exports and their CRCs, as kmod's depmod does too."""
    replaced = {m.name for m in modules}
    found: dict[str, Provider] = {}
    for e in current:
        if os.path.basename(e.module).replace("-", "_") in replaced:
            continue
        found.setdefault(e.symbol, Provider(e.crc, e.export_type.endswith("_GPL"), e.namespace,
                                            e.module))
    for m in modules:
        for x in m.exports:
            found.setdefault(x.export.name, Provider(x.crc, x.export.gpl, x.export.namespace,
                                                     m.name))
    return found


def _version_problem(module: ModuleInfo, name: str, have: int | None) -> Problem | None:
    """``check_version()``: None when the versions agree (or cannot be
    compared), else the problem, refusing or not (see :func:`decide`)."""
    if have is None:
        return None
    if module.versions is None:
        return Problem(name, "no_version", None, have)
    want = module.versions.get(name)
    if want is None:
        return Problem(name, "no_version", None, have)
    return None if want == have else Problem(name, "crc", want, have)


def decide(module: ModuleInfo, found: dict[str, Provider],
           current_names: set[str]) -> ConsumerResult:
    """One module's decision against the exports ``found``."""
    result = ConsumerResult(module.path, module.name)
    gpl_ok = license_is_gpl_compatible(module.license)

    def versioned(name: str, have: int | None) -> bool:
        problem = _version_problem(module, name, have)
        if problem is None:
            return True
        if problem.reason == "no_version" and module.extended:
            result.warnings.append(problem)  # the kernel warns and loads
            return True
        result.problems.append(problem)
        return False

    for namespace in module.import_ns:  # 7.x refuses importing the implicit kind
        if namespace.startswith(MODULE_NAMESPACE_PREFIX):
            result.problems.append(Problem(namespace, "namespace", None, None))
    layout = found.get(MODULE_LAYOUT)
    if layout is not None:
        versioned(MODULE_LAYOUT, layout.crc)
    for imp in module.imports:
        if imp.name in current_names:
            result.uses.append(imp.name)
        provider = found.get(imp.name)
        recorded = (module.versions or {}).get(imp.name)
        if provider is None or provider.gpl_only and not gpl_ok:
            if not imp.weak:
                reason = "missing" if provider is None else "gpl_only"
                result.problems.append(Problem(imp.name, reason, recorded,
                                               None if provider is None else provider.crc))
            continue
        if not versioned(imp.name, provider.crc):
            continue
        if not namespace_allows(provider.namespace, module.name, module.import_ns):
            result.problems.append(Problem(imp.name, "namespace", recorded, provider.crc))
    return result


def check_consumers(paths: list[str], current: list[ExportRecord]) -> ConsumerReport:
    """Decide every module under ``paths`` against CURRENT's exports (and
    each other's).  A module that cannot be read gets its error; the others
    are still decided.  InputError for a path that names nothing."""
    files = find_modules(paths)
    modules: list[ModuleInfo] = []
    results: dict[str, ConsumerResult] = {}
    for path in files:
        try:
            modules.append(read_module(path))
        except VersioningError as exc:
            results[path] = ConsumerResult(path, None, error=str(exc))
    found = providers(current, modules)
    current_names = {e.symbol for e in current}
    for module in modules:
        results[module.path] = decide(module, found, current_names)
    return ConsumerReport([results[p] for p in files])


def explain_refusals(report: ConsumerReport, changed: dict[str, tuple[int | None, list[str]]]
                     ) -> None:
    """Give each CRC refusal the root causes of its symbol's change from
    the baseline (``changed``: symbol -> baseline CRC and root cause ids),
    when the module was built against that baseline: its recorded CRC is
    the baseline's."""
    for result in report.results:
        for problem in result.problems:
            old = changed.get(problem.symbol)
            if problem.reason == "crc" and old is not None and old[0] == problem.want_crc:
                problem.root_causes = list(old[1])
