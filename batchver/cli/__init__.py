"""The ``batchver`` command: one entry point, one module per subcommand.

Each subcommand module (:mod:`.run`, :mod:`.gendwarfksyms`, :mod:`.check`,
:mod:`.nightly`) owns its argument parser and its exit codes; this module
only lists them and hands over the rest of the command line, so that
``batchver --help`` shows one line per command and ``batchver COMMAND
--help`` the command's own options.

A known command is handed over without building the top-level parser:
``batchver gendwarfksyms`` stands in for a C program that kbuild starts once
per object, so its start-up must cost no more than the interpreter's and its
own options'.
"""

from __future__ import annotations

import importlib
import sys
from batchver import __version__, native

TYPE_CHECKING = False  # typing itself is not imported: see native.py
if TYPE_CHECKING:
    import argparse
    from typing import Callable

# name -> (module, function, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str, str]] = {
    "run": ("run", "main", "version a whole kernel tree into one Module.symvers + report.json"),
    "gendwarfksyms": ("gendwarfksyms", "main", "drop-in for the kernel's scripts/gendwarfksyms "
                      "(same options, stdin symbol list, #SYMVER lines on stdout)"),
    "check": ("check", "main", "compare a build with a stored baseline and explain every break "
              "(exit 0 pass, 1 failing change, 2 bad input)"),
    "nightly": ("nightly", "nightly_main", "run every tree of a YAML config, check, and keep history"),
    "validate": ("nightly", "validate_main", "check a nightly YAML config without running it"),
    "history": ("nightly", "history_main", "print the run history and write the HTML trend page"),
}


def build_parser() -> argparse.ArgumentParser:
    import argparse  # only for the top level's own options and errors (see main)

    parser = argparse.ArgumentParser(
        prog="batchver",
        description="Compute Linux kernel symbol versions (modversions CRCs) from DWARF, "
                    "byte-compatible with scripts/gendwarfksyms.",
        epilog="Run 'batchver COMMAND --help' for a command's options.")
    parser.add_argument("--version", action="version",
                        version=f"batchver {__version__}, {native.STATUS}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (_, _, summary) in SUBCOMMANDS.items():
        sub = commands.add_parser(name, help=summary, add_help=False)
        sub.add_argument("args", nargs=argparse.REMAINDER)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv[0] if argv else ""
    if command not in SUBCOMMANDS:  # --help, --version, a typo: the parser answers
        command = build_parser().parse_args(argv[:1]).command
    module, function, _ = SUBCOMMANDS[command]
    entry: Callable[[list[str]], int] = getattr(importlib.import_module(f"batchver.cli.{module}"), function)
    return entry(argv[1:])
