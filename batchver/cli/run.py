"""``batchver run``: version a whole kernel tree into one set of outputs."""

from __future__ import annotations

import argparse
import sys

from batchver.tree.discover import Discovery


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("tree", metavar="TREE")
    parser.add_argument("-o", "--output", required=True, metavar="OUTDIR",
                        help="directory for Module.symvers, report.json and symtypes/")
    parser.add_argument("-j", "--jobs", type=int, default=0,
                        help="worker processes (default: all cores)")
    parser.add_argument("-s", "--stable", action="store_true",
                        help="apply kABI stability rules, as gendwarfksyms --stable")
    parser.add_argument("--symtypes", action="store_true", help="also write per-module symtypes")
    parser.add_argument("--semantics", choices=("kbuild", "file"), default="kbuild",
                        help="linked trees only: 'kbuild' (default) versions each export in the "
                             "CU that exported it, giving the CRCs a kernel build embeds; 'file' "
                             "runs upstream on each whole linked file")
    parser.add_argument("--kind", choices=("auto", "built", "linked"), default="auto",
                        help="what TREE is (default: detect)")
    parser.add_argument("--vmlinux", metavar="PATH", help="linked trees: vmlinux, if not in TREE")
    parser.add_argument("--module", action="append", metavar="GLOB", dest="modules",
                        help="version only modules whose modpost name matches this shell "
                             "pattern (e.g. 'drivers/nvdimm/*', 'vmlinux'); repeatable")
    parser.add_argument("--split-mb", type=int, default=64, metavar="MB",
                        help="split linked files larger than this across workers by CU ranges "
                             "(default: 64)")
    parser.add_argument("--cache", metavar="DIR",
                        help="reuse results of unchanged files from this content-addressed "
                             "cache (and store new ones); report.json says per file why")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")


DESCRIPTION = ("Version every exported symbol of a kernel tree and write one Module.symvers, "
               "report.json and (with --symtypes) per-module symtypes. TREE is a kbuild output "
               "directory (objects with .export_symbol sections, modules.order, *.mod, vmlinux.a) "
               "or a linked debug tree (vmlinux and kernel/**/*.ko, compressed .ko.xz/.ko.zst/.ko.gz "
               "or split .ko.debug, e.g. /usr/lib/debug/lib/modules/VERSION, or a subdirectory "
               "of one).")
EPILOG = ("Exit status: 0 every export versioned; 1 some file failed or some export had no DWARF "
          "information (see the summary and report.json); 2 bad arguments or nothing to do.")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="batchver run", description=DESCRIPTION, epilog=EPILOG)
    add_arguments(parser)
    return parser


def main(args: list[str]) -> int:
    ns = build_parser().parse_args(args)
    from batchver.tree.outputs import summary_lines
    from batchver.tree.pipeline import DiscoveryError, version_tree
    from batchver.tree.scheduler import RunOptions
    from batchver.errors import VersioningError

    def show(found: Discovery) -> None:
        if not ns.quiet:
            print(found.summary(), file=sys.stderr)
            for note in found.notes:
                print(f"note: {note}", file=sys.stderr)

    opts = RunOptions(ns.jobs, ns.stable, ns.symtypes, ns.semantics, ns.split_mb << 20, ns.quiet,
                      ns.cache)
    try:
        done = version_tree(ns.tree, ns.output, opts, kind=None if ns.kind == "auto" else ns.kind,
                            vmlinux=ns.vmlinux, modules=ns.modules, on_discovered=show)
    except DiscoveryError as exc:
        print(f"batchver run: {exc}", file=sys.stderr)
        return 2
    except VersioningError as exc:
        print(f"batchver run: {exc}", file=sys.stderr)
        return 1
    report = done.report
    if not ns.quiet:
        for line in summary_lines(report):
            print(line, file=sys.stderr)
        print(f"wrote {ns.output}/Module.symvers and report.json", file=sys.stderr)
    counts = report["counts"]
    return 0 if counts["failed_files"] == 0 and counts["no_information"] == 0 else 1
