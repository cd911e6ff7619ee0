"""``batchver run``: version a whole kernel tree into one set of outputs."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
from types import FrameType
from typing import Iterator, NoReturn

from batchver.tree.discover import Discovery
from batchver.tree.kinds import Semantics, TreeKind


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("tree", metavar="TREE")
    parser.add_argument("-o", "--output", required=True, metavar="OUTDIR",
                        help="directory for Module.symvers, report.json and symtypes/")
    parser.add_argument("-j", "--jobs", type=int, default=0,
                        help="worker processes (default: all cores)")
    parser.add_argument("-s", "--stable", action="store_true",
                        help="apply kABI stability rules, as gendwarfksyms --stable")
    parser.add_argument("--symtypes", action="store_true", help="also write per-module symtypes")
    parser.add_argument("--semantics", choices=[s.value for s in Semantics], default=Semantics.KBUILD.value,
                        help="linked trees only: 'kbuild' (default) versions each export in the "
                             "CU that exported it, giving the CRCs a kernel build embeds; 'file' "
                             "runs upstream on each whole linked file")
    parser.add_argument("--kind", choices=["auto", *(k.value for k in TreeKind)], default="auto",
                        help="what TREE is (default: detect)")
    parser.add_argument("--vmlinux", metavar="PATH", help="linked trees: vmlinux, if not in TREE")
    parser.add_argument("--module", action="append", metavar="GLOB", dest="modules",
                        help="version only modules whose modpost name matches this shell "
                             "pattern (e.g. 'drivers/nvdimm/*', 'vmlinux'); repeatable")
    parser.add_argument("--split-mb", type=int, default=64, metavar="MB",
                        help="split a linked file larger than this whose DWARF needs no "
                             "relocating (vmlinux) across workers by CU ranges; modules are "
                             "versioned whole (default: 64)")
    parser.add_argument("--cache", metavar="DIR",
                        help="reuse results of unchanged files from this content-addressed "
                             "cache (and store new ones); report.json says per file why")
    parser.add_argument("--strict", action="store_true",
                        help="exit 1 when an export has no DWARF information (by default such "
                             "exports are counted and warned about, as upstream and kbuild do: "
                             "assembler exports of every real kernel have none)")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="run the work on a Dask cluster (tcp://HOST:PORT of a running "
                             "'dask scheduler' with 'dask worker' processes that see TREE at the "
                             "same path) instead of local processes; --jobs is then ignored")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    parser.add_argument("--debug", action="store_true",
                        help="print the Python traceback of each internal error (report.json "
                             "and the summary give one line per failed file)")


DESCRIPTION = ("Version every exported symbol of a kernel tree and write one Module.symvers, "
               "report.json and (with --symtypes) per-module symtypes. TREE is a kbuild output "
               "directory (objects with .export_symbol sections, modules.order, *.mod, vmlinux.a) "
               "or a linked debug tree (vmlinux and kernel/**/*.ko, compressed .ko.xz/.ko.zst/.ko.gz "
               "or split .ko.debug, e.g. /usr/lib/debug/lib/modules/VERSION, or a subdirectory "
               "of one).")
EPILOG = ("Exit status: 0 outputs written and no file failed (exports without DWARF information, "
          "e.g. assembler exports, are warned about and counted in report.json); "
          "1 outputs written but some file failed, or some export had no DWARF information under "
          "--strict; or the outputs could not be written (full disk: the previous outputs are kept); "
          "2 bad arguments, found before any versioning: TREE missing or with nothing to version, "
          "OUTDIR or --cache not a writable directory, --scheduler unreachable; "
          "130 interrupted (SIGINT), 143 terminated (SIGTERM): the previous outputs are kept. "
          "OUTDIR's Module.symvers, report.json and symtypes/ are replaced as one set.")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="batchver run", description=DESCRIPTION, epilog=EPILOG)
    add_arguments(parser)
    return parser


class Terminated(BaseException):
    """SIGTERM, raised where the run is, so that it unwinds as for Ctrl-C:
    workers stopped, staging removed, previous outputs intact."""


@contextlib.contextmanager
def terminate_as_exception() -> Iterator[None]:
    """Turn SIGTERM into :class:`Terminated` for the duration (commands
    that write outputs unwind on it as on Ctrl-C)."""
    def raise_terminated(signum: int, frame: FrameType | None) -> NoReturn:  # noqa: ARG001 - signal handler signature
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(args: list[str]) -> int:
    ns = build_parser().parse_args(args)
    from batchver.errors import VersioningError
    from batchver.tree.outputs import summary_lines
    from batchver.tree.pipeline import DiscoveryError, SchedulerError, UnusableDirectory, version_tree
    from batchver.tree.scheduler import RunOptions

    def show(found: Discovery) -> None:
        if not ns.quiet:
            print(found.summary(), file=sys.stderr)
            for note in found.notes:
                print(f"note: {note}", file=sys.stderr)

    written = []
    kept = "the previous outputs are kept"
    opts = RunOptions(ns.jobs, ns.stable, ns.symtypes, ns.semantics, ns.split_mb << 20, ns.quiet,
                      ns.cache, backend="dask" if ns.scheduler else "loky", scheduler=ns.scheduler)
    try:
        with terminate_as_exception():
            done = version_tree(ns.tree, ns.output, opts, kind=None if ns.kind == "auto" else ns.kind,
                                vmlinux=ns.vmlinux, modules=ns.modules, on_discovered=show,
                                on_written=lambda: written.append(True))
    except (DiscoveryError, UnusableDirectory, SchedulerError) as exc:
        print(f"batchver run: {exc}", file=sys.stderr)
        return 2
    except VersioningError as exc:
        print(f"batchver run: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"batchver run: cannot write outputs: {exc.filename or ns.output}: "
              f"{exc.strerror or exc}; {kept}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, Terminated) as exc:
        what = "terminated" if isinstance(exc, Terminated) else "interrupted"
        state = "the new outputs were written; the cache was not updated" if written else kept
        print(f"batchver run: {what}; {state}", file=sys.stderr)
        return 143 if isinstance(exc, Terminated) else 130
    report = done.report
    for warning in done.warnings:
        print(f"batchver run: warning: {warning}", file=sys.stderr)
    if ns.debug:
        for rel, text in sorted(done.tracebacks.items()):
            print(f"traceback for {rel}:\n{text}", file=sys.stderr, end="")
    if not ns.quiet:
        for line in summary_lines(report):
            print(line, file=sys.stderr)
        print(f"wrote {ns.output}/Module.symvers and report.json", file=sys.stderr)
    counts = report.counts
    return 1 if counts.failed_files or (ns.strict and counts.no_information) else 0
