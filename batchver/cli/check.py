"""``batchver check``: the release gate's command line."""

from __future__ import annotations

import argparse
import os
import sys

from batchver.atomic import atomic_write
from batchver.errors import InputError
from batchver.gate.formats import FORMATS, render
from batchver.gate.render import headline

DESCRIPTION = """\
Compare a CURRENT kernel build with a BASELINE and decide whether the kernel
ABI moved in a way that matters.  BASELINE and CURRENT are each a 'batchver
run' output directory (Module.symvers + report.json, with symtypes/ when run
with --symtypes) or a plain Module.symvers from any kernel build (then CRC
changes are classified but cannot be explained, and the report says so).

Every symbol is classified (unchanged, added, removed, CRC changed, CRC not
comparable, export type changed, namespace changed, moved to another module),
judged by the rules and the stablelist, and each changed CRC is explained by
its root-cause types with a token-level diff (needs symtypes on both sides).
Differences in how the two were built (compiler, DWARF version, --stable,
kernel config) are reported first: they move CRCs by themselves.

With --consumers, each module given (.ko, .ko.xz, .ko.zst, .ko.gz, or a
directory searched for them) is decided the way CURRENT's kernel decides a
load: a CRC its version table disagrees with, a symbol nobody exports, a
GPL-only export used by a non-GPL module, a namespace it does not import,
a symbol missing from its version table.  The other consumers' exports
count (an out-of-tree stack exports to itself).  BASELINE is then
optional: with it, each CRC refusal is explained by the root cause of that
symbol's change."""

EPILOG = """\
verdicts: the first matching rule decides each change; without one, a
protected symbol that is removed or changed fails and anything else warns.
Without --stablelist every baseline export is protected.

exit status:
  0  pass: no change fails (warnings allowed)
  1  fail: at least one change fails the policy, or a consumer module
     refuses to load
  2  bad input: a missing, empty, truncated or malformed baseline, current,
     stablelist or rules file (the message names file and line), a consumer
     module that cannot be read (the others are still decided), or bad
     arguments

Formats, rules syntax and the JSON schema: docs/check.md."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="batchver check", description=DESCRIPTION,
                                     epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", metavar="BASELINE",
                        help="the reference: batchver output directory or Module.symvers "
                             "(required unless --consumers is given)")
    parser.add_argument("current", metavar="CURRENT",
                        help="the build to check: batchver output directory or Module.symvers")
    parser.add_argument("--stablelist", action="append", default=[], metavar="FILE",
                        help="kABI-protected symbols, one per line ('#' comments and [section] "
                             "headers allowed); repeatable")
    parser.add_argument("--rules", metavar="FILE",
                        help="severity rules: suse-kabi-tools text form ('PATTERN PASS|FAIL' "
                             "per line) or YAML (.yaml/.yml; can also say warn and name change "
                             "kinds)")
    parser.add_argument("--format", choices=FORMATS, default="text",
                        help="report format (default: text)")
    parser.add_argument("-o", "--output", metavar="FILE",
                        help="write the report here (atomically) instead of stdout")
    parser.add_argument("--no-explain", action="store_true",
                        help="skip the symtypes walk (faster; no root causes)")
    parser.add_argument("--consumers", action="append", default=[], metavar="PATH",
                        help="a module (.ko, .ko.xz, .ko.zst, .ko.gz) or a directory searched "
                             "recursively for them: decide whether each loads on CURRENT; "
                             "repeatable")
    parser.add_argument("--write-stablelist", metavar="FILE",
                        help="with --consumers: write the CURRENT exports the consumers import, "
                             "one per line (the form --stablelist reads)")
    parser.add_argument("--explain", metavar="SYMBOL",
                        help="print only what is known about SYMBOL (or MODULE:SYMBOL): its "
                             "changes, verdict, root causes with their source locations and "
                             "the chain of references from it to each")
    return parser


def main(args: list[str]) -> int:
    """Run ``batchver check`` with ``args``; return the exit status."""
    parser = build_parser()
    try:
        ns = parser.parse_args(args)
    except SystemExit as exc:  # --help (0) or a usage error (2)
        return int(exc.code or 0)
    if ns.baseline is None and (not ns.consumers or ns.stablelist or ns.rules):
        parser.print_usage(sys.stderr)
        print("batchver check: error: --baseline is required, unless --consumers is given "
              "(--stablelist and --rules judge changes from a baseline)", file=sys.stderr)
        return 2
    if ns.write_stablelist and not ns.consumers:
        parser.print_usage(sys.stderr)
        print("batchver check: error: --write-stablelist needs --consumers", file=sys.stderr)
        return 2
    from batchver.gate.check import run_check
    try:
        result = run_check(ns.baseline, ns.current, ns.stablelist, ns.rules,
                           with_explanations=not ns.no_explain, consumers=ns.consumers)
    except InputError as exc:
        print(f"batchver check: error: {exc}", file=sys.stderr)
        return 2
    if ns.write_stablelist and result.consumers is not None:
        if not _write(ns.write_stablelist, "".join(
                name + "\n" for name in result.consumers.stablelist())):
            return 2
    if ns.explain:
        from batchver.gate.render import render_explain
        text = render_explain(result, ns.explain)
        if text is None:
            print(f"batchver check: error: --explain {ns.explain}: exported by neither "
                  "baseline nor current", file=sys.stderr)
            return 2
        sys.stdout.write(text)
        return result.exit_status
    report = render(result, ns.format)
    if not ns.output:
        sys.stdout.write(report)
        if ns.format == "text":
            return result.exit_status
    elif not _write(ns.output, report):
        return 2
    # The verdict and the input warnings always reach the CI log.
    print(headline(result), file=sys.stderr)
    for difference in result.prominent:
        print(f"warning: builds differ: {difference.text()}", file=sys.stderr)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for consumer in result.consumers.unreadable if result.consumers is not None else []:
        print(f"batchver check: error: {consumer.error}", file=sys.stderr)
    return result.exit_status


def _write(path: str, text: str) -> bool:
    """Write a file atomically; False (after saying why) when it cannot be."""
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        atomic_write(path, text)
    except OSError as exc:
        print(f"batchver check: error: cannot write {path}: {exc.strerror}", file=sys.stderr)
        return False
    return True
