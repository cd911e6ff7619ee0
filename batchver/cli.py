"""The ``batchver`` command: one entry point, one subcommand per job."""

from __future__ import annotations

import argparse
import sys

from . import __version__


def _gendwarfksyms(args: list[str]) -> int:
    from .dropin import main as dropin_main
    return dropin_main(args)


def _run(args: list[str]) -> int:
    from .errors import VersioningError
    parser = argparse.ArgumentParser(
        prog="batchver run",
        description="Version every exported symbol of a kernel tree and write one "
                    "Module.symvers, report.json and (with --symtypes) per-module symtypes. "
                    "TREE is a kbuild output directory (objects with .export_symbol sections, "
                    "modules.order, *.mod, vmlinux.a) or a linked debug tree (vmlinux and "
                    "kernel/**/*.ko, e.g. /usr/lib/debug/lib/modules/VERSION).",
        epilog="Exit status: 0 every export versioned; 1 some file failed or some export had "
               "no DWARF information (see the summary and report.json); 2 bad arguments or "
               "nothing to do.")
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
    parser.add_argument("--split-mb", type=int, default=64, metavar="MB",
                        help="split linked files larger than this across workers by CU ranges "
                             "(default: 64)")
    parser.add_argument("--cache", metavar="DIR",
                        help="reuse results of unchanged files from this content-addressed "
                             "cache (and store new ones); report.json says per file why")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    ns = parser.parse_args(args)
    from .discover import discover
    from .report import merge, summary_lines, write_outputs
    from .runner import RunOptions, run
    try:
        found = discover(ns.tree, None if ns.kind == "auto" else ns.kind, ns.vmlinux)
    except VersioningError as exc:
        print(f"batchver run: {exc}", file=sys.stderr)
        return 2
    if not ns.quiet:
        print(found.summary(), file=sys.stderr)
        for note in found.notes:
            print(f"note: {note}", file=sys.stderr)
    if not found.items:
        print(f"batchver run: no exporting files found in {found.tree}", file=sys.stderr)
        return 2
    opts = RunOptions(ns.jobs, ns.stable, ns.symtypes, ns.semantics, ns.split_mb << 20, ns.quiet,
                      ns.cache)
    outcome = run(found, opts)
    merged = merge(found, outcome)
    report = write_outputs(ns.output, found, outcome, merged, opts)
    if not ns.quiet:
        for line in summary_lines(report):
            print(line, file=sys.stderr)
        print(f"wrote {ns.output}/Module.symvers and report.json", file=sys.stderr)
    counts = report["counts"]
    return 0 if counts["failed_files"] == 0 and counts["no_information"] == 0 else 1


def _check(args: list[str]) -> int:
    from .gate.cli import main as check_main
    return check_main(args)


def _nightly(args: list[str]) -> int:
    from .nightly.cli import nightly_main
    return nightly_main(args)


def _validate(args: list[str]) -> int:
    from .nightly.cli import validate_main
    return validate_main(args)


def _history(args: list[str]) -> int:
    from .nightly.cli import history_main
    return history_main(args)


SUBCOMMANDS = {
    "run": (_run, "version a whole kernel tree into one Module.symvers + report.json"),
    "check": (_check, "compare a build with a stored baseline and explain every break "
                      "(exit 0 pass, 1 failing change, 2 bad input)"),
    "nightly": (_nightly, "run every tree of a YAML config, check, and keep history"),
    "validate": (_validate, "check a nightly YAML config without running it"),
    "history": (_history, "print the run history and write the HTML trend page"),
    "gendwarfksyms": (_gendwarfksyms, "drop-in for the kernel's scripts/gendwarfksyms "
                      "(same options, stdin symbol list, #SYMVER lines on stdout)"),
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        prog="batchver",
        description="Compute Linux kernel symbol versions (modversions CRCs) from DWARF, "
                    "byte-compatible with scripts/gendwarfksyms.",
        epilog="Run 'batchver COMMAND --help' for a command's options.")
    parser.add_argument("--version", action="version", version=f"batchver {__version__}")
    parser.add_argument("command", choices=sorted(SUBCOMMANDS),
                        help="; ".join(f"{k}: {v[1]}" for k, v in sorted(SUBCOMMANDS.items())))
    if not argv or argv[0] in ("-h", "--help", "--version"):
        parser.parse_args(argv)
        return 0
    command, rest = argv[0], argv[1:]
    if command not in SUBCOMMANDS:
        parser.parse_args(argv)  # prints the usage error and exits 2
    return SUBCOMMANDS[command][0](rest)
