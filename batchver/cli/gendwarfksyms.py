"""``batchver gendwarfksyms``: a drop-in for upstream's command line.

Same options (GNU getopt rules: permuted arguments, bundled short options,
unique prefixes of long options), same stdin protocol, same stdout, same
symtypes file and exit codes.  One deliberate difference: the symtypes file
is written atomically when the run succeeds, so a failed run never leaves a
partial file behind (upstream may leave one).

kbuild starts the command once per object, so the core is imported only
once the options are parsed: ``--help`` and a usage error cost no more than
the interpreter's start.
"""

from __future__ import annotations

import getopt
import os
import sys

TYPE_CHECKING = False  # typing itself is not imported: see batchver/native.py
if TYPE_CHECKING:
    from typing import BinaryIO, TextIO

from batchver.errors import VersioningError

USAGE = (
    "Usage: gendwarfksyms [options] elf-object-file ... < symbol-list\n\n"
    "Options:\n"
    "  -d, --debug          Print debugging information\n"
    "      --dump-dies      Dump DWARF DIE contents\n"
    "      --dump-die-map   Print debugging information about die_map changes\n"
    "      --dump-types     Dump type strings\n"
    "      --dump-versions  Dump expanded type strings used for symbol versions\n"
    "  -s, --stable         Support kABI stability features\n"
    "  -T, --symtypes file  Write a symtypes file\n"
    "  -h, --help           Print this message\n"
    "\n"
)
LONG_OPTIONS = ["debug", "dump-dies", "dump-die-map", "dump-types", "dump-versions", "stable",
                "symtypes=", "help"]


def split_lines(data: bytes) -> list[str]:
    """Lines as ``getline`` returns them: split on newline only, newline kept."""
    parts = data.split(b"\n")
    lines = [p + b"\n" for p in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return [line.decode("utf-8", "surrogateescape") for line in lines]


def _getopt_message(exc: getopt.GetoptError) -> str:
    """glibc's wording for the complaint getopt prints."""
    opt = exc.opt
    if "requires argument" in exc.msg:
        return (f"gendwarfksyms: option '--{opt}' requires an argument" if len(opt) > 1
                else f"gendwarfksyms: option requires an argument -- '{opt}'")
    if "not unique" in exc.msg:
        return f"gendwarfksyms: option '--{opt}' is ambiguous"
    if "must not have an argument" in exc.msg:
        return f"gendwarfksyms: option '--{opt}' doesn't allow an argument"
    if len(opt) > 1:
        return f"gendwarfksyms: unrecognized option '--{opt}'"
    return f"gendwarfksyms: invalid option -- '{opt}'"


def main(argv: list[str], stdin: BinaryIO | None = None, stdout: TextIO | None = None,
         stderr: TextIO | None = None) -> int:
    stdin = stdin if stdin is not None else sys.stdin.buffer
    out = _RawText(stdout if stdout is not None else sys.stdout)
    err = _RawText(stderr if stderr is not None else sys.stderr)
    flags: dict[str, bool] = {}  # Options' fields set on the command line
    symtypes_path: str | None = None
    try:
        parsed, files = getopt.gnu_getopt(argv, "dsT:h", LONG_OPTIONS)
    except getopt.GetoptError as exc:
        err.write(_getopt_message(exc) + "\n" + USAGE)
        return 1
    for opt, value in parsed:
        if opt in ("-h", "--help"):
            err.write(USAGE)
            return 0
        if opt in ("-d", "--debug"):
            flags["debug"] = True
        elif opt in ("-s", "--stable"):
            flags["stable"] = True
        elif opt in ("-T", "--symtypes"):
            flags["symtypes"] = True
            symtypes_path = value
        else:
            flags[opt[2:].replace("-", "_")] = True
    if flags.get("dump_die_map"):
        flags["dump_dies"] = True
    if not files:
        err.write(USAGE)
        err.write("error: gendwarfksyms: main: no input files?\n")
        return 1

    from batchver.gendwarfksyms.gendwarfksyms import Versioner
    from batchver.gendwarfksyms.options import Diagnostics, Options
    from batchver.gendwarfksyms.symbols import parse_symbol_list

    opts = Options(**flags)

    def write(text: str) -> None:
        err.write(text)

    diag = Diagnostics(opts, write)
    current = None
    try:
        names = parse_symbol_list(split_lines(stdin.read()))
        versioner = Versioner(names, opts, diag)
        if len(versioner.symbols) == 0:
            return 0
        if symtypes_path is not None:
            _check_writable(symtypes_path)
        blocks = []
        for path in files:
            current = path
            result = versioner.process_object(path)
            blocks.append("".join(f"{key} {text}\n" for key, text in result.symtypes))
        if symtypes_path is not None:
            _write_symtypes(symtypes_path, "".join(blocks))
        lines = versioner.finish()
    except VersioningError as exc:
        err.write(exc.upstream_line() + "\n")
        return 1
    except OSError as exc:
        err.write(f"error: gendwarfksyms: main: {exc.filename or ''}: {exc.strerror}\n")
        return 1
    except (ValueError, IndexError, KeyError, TypeError, AttributeError, RecursionError,
            MemoryError) as exc:
        # A defect or an input no check above anticipated: still one line, no traceback.
        where = f" while reading '{current}'" if current else ""
        err.write(f"error: gendwarfksyms: main: internal error{where}: "
                     f"{type(exc).__name__}: {exc}\n")
        return 1
    out.write("".join(f"#SYMVER {name} 0x{crc:08x}\n" for name, crc, _ in lines))
    return 0


class _RawText:
    """Writes text to a stream's bytes, so names that are not valid UTF-8
    come out as the bytes they were read as, whatever the locale."""

    def __init__(self, stream: TextIO):
        self._stream = stream
        self._buffer = getattr(stream, "buffer", None)

    def write(self, text: str) -> None:
        if self._buffer is None:
            self._stream.write(text)
            return
        self._stream.flush()
        self._buffer.write(text.encode("utf-8", "surrogateescape"))
        self._buffer.flush()


def _write_symtypes(path: str, text: str) -> None:
    """Atomically for files; straight through for what is not a regular file
    (``-T /dev/null``), as upstream's fopen would."""
    from batchver.atomic import atomic_write

    target = os.path.realpath(path)
    if os.path.exists(target) and not os.path.isfile(target):
        with open(target, "wb") as handle:
            handle.write(text.encode("utf-8", "surrogateescape"))
        return
    atomic_write(target, text)


def _check_writable(path: str) -> None:
    """Fail up front where upstream's ``fopen(path, "w")`` would."""
    directory = os.path.dirname(os.path.abspath(path))
    reason = None
    if os.path.isdir(path):
        reason = "Is a directory"
    elif not os.path.isdir(directory):
        reason = "No such file or directory"
    elif not os.access(directory, os.W_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        reason = "Permission denied"
    if reason:
        raise VersioningError("main", f"fopen failed for '{path}': {reason}", path)
