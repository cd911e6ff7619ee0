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
kernel config) are reported first: they move CRCs by themselves."""

EPILOG = """\
verdicts: the first matching rule decides each change; without one, a
protected symbol that is removed or changed fails and anything else warns.
Without --stablelist every baseline export is protected.

exit status:
  0  pass: no change fails (warnings allowed)
  1  fail: at least one change fails the policy
  2  bad input: a missing, empty, truncated or malformed baseline, current,
     stablelist or rules file (the message names file and line), or bad
     arguments

Formats, rules syntax and the JSON schema: docs/check.md."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="batchver check", description=DESCRIPTION,
                                     epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", required=True, metavar="BASELINE",
                        help="the reference: batchver output directory or Module.symvers")
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
    from batchver.gate.check import run_check
    try:
        result = run_check(ns.baseline, ns.current, ns.stablelist, ns.rules,
                           with_explanations=not ns.no_explain)
    except InputError as exc:
        print(f"batchver check: error: {exc}", file=sys.stderr)
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
    else:
        try:
            os.makedirs(os.path.dirname(os.path.abspath(ns.output)), exist_ok=True)
            atomic_write(ns.output, report)
        except OSError as exc:
            print(f"batchver check: error: cannot write {ns.output}: {exc.strerror}",
                  file=sys.stderr)
            return 2
    # The verdict and the input warnings always reach the CI log.
    print(headline(result), file=sys.stderr)
    for difference in result.prominent:
        print(f"warning: builds differ: {difference.text()}", file=sys.stderr)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return result.exit_status
