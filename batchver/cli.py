"""The ``batchver`` command: one entry point, one subcommand per job."""

from __future__ import annotations

import argparse
import sys

from . import __version__


def _gendwarfksyms(args: list[str]) -> int:
    from .dropin import main as dropin_main
    return dropin_main(args)


SUBCOMMANDS = {
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
