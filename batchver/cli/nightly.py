"""``batchver nightly``, ``batchver validate`` and ``batchver history``.

Exit statuses follow the rest of batchver: 0 success, 1 the work ran but
something failed (a tree, a check), 2 bad input (an invalid config, a
missing history, an output root that cannot be written).
"""

from __future__ import annotations

import argparse
import os
import sys

from batchver.atomic import atomic_write
from batchver.cli.run import Terminated, terminate_as_exception
from batchver.nightly.config import ConfigError, load_config
from batchver.nightly.history import HISTORY_FILE, RunRecord, history_path, read_history
from batchver.nightly.runner import run_nightly
from batchver.nightly.trend import format_table, render_trend

TREND_PAGE = "trend.html"


def _write_trend(outroot: str, target: str, records: list[RunRecord]) -> None:
    atomic_write(target, render_trend(records, "batchver nightly trends", os.path.abspath(outroot)))


def nightly_main(args: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="batchver nightly",
        description="Run every tree of a nightly config: produce the tree (its path, or what its "
                    "command makes), version it reusing unchanged files from the cache, check it "
                    "against its baseline, write OUTROOT/<tree>/<UTC timestamp>/ (Module.symvers, "
                    "symtypes/, report.json, check reports, run.json), append one line per tree "
                    f"to OUTROOT/{HISTORY_FILE} and refresh OUTROOT/{TREND_PAGE}. "
                    "See docs/nightly.md for the config format.",
        epilog="Exit status: 0 every tree versioned (and its check passed); 1 a tree failed "
               "(could not be versioned, a file failed, or its check failed or had bad input); "
               "2 invalid config or the history could not be written; 130 interrupted (SIGINT), "
               "143 terminated (SIGTERM).")
    parser.add_argument("config", metavar="CONFIG.yaml")
    parser.add_argument("-o", "--output", metavar="OUTROOT",
                        help="output root instead of the config's 'output' (relative to the "
                             "current directory); the cache moves with it unless 'cache' is set")
    parser.add_argument("--tree", action="append", metavar="NAME",
                        help="run only this tree (repeatable)")
    parser.add_argument("--explain-cache", action="store_true",
                        help="print, per file, whether its cached result was reused and, if not, why")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="print only failures (and --explain-cache lines)")
    ns = parser.parse_args(args)
    try:
        config = load_config(ns.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    if ns.output:
        default_cache = os.path.join(config.output, ".cache")
        config.output = os.path.abspath(ns.output)
        if config.cache == default_cache:
            config.cache = os.path.join(config.output, ".cache")
    unknown = sorted(set(ns.tree or ()) - {t.name for t in config.trees})
    if unknown:
        print(f"batchver nightly: --tree {', '.join(unknown)}: no such tree in {ns.config} "
              f"(expected one of: {', '.join(t.name for t in config.trees)})", file=sys.stderr)
        return 2
    try:
        with terminate_as_exception():
            result = run_nightly(config, trees=ns.tree, explain_cache=ns.explain_cache,
                                 quiet=ns.quiet)
    except (KeyboardInterrupt, Terminated) as exc:
        what = "terminated" if isinstance(exc, Terminated) else "interrupted"
        print(f"batchver nightly: {what}; trees finished before are in "
              f"{history_path(config.output)}, the tree in progress left no run directory",
              file=sys.stderr)
        return 143 if isinstance(exc, Terminated) else 130
    except OSError as exc:
        print(f"batchver nightly: cannot write the history {history_path(config.output)}: "
              f"{exc.strerror or exc}", file=sys.stderr)
        return 2
    try:
        _write_trend(config.output, os.path.join(config.output, TREND_PAGE),
                     read_history(config.output).records)
    except OSError as exc:
        print(f"batchver nightly: warning: trend page not written: {exc}", file=sys.stderr)
    if not ns.quiet:
        failed = len(result.failed)
        print(f"nightly: {len(result.records)} tree(s), {failed} failed; history in "
              f"{history_path(config.output)}", file=sys.stderr)
    return result.exit_status


def validate_main(args: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="batchver validate",
        description="Check nightly configs without running anything: every key known, every "
                    "value of the expected type, and (unless --no-path-check) every input path "
                    "present.  Each problem is printed as FILE:LINE: KEY: what was expected.",
        epilog="Exit status: 0 every config is valid; 2 a config has problems (all are listed).")
    parser.add_argument("configs", nargs="+", metavar="CONFIG.yaml")
    parser.add_argument("--no-path-check", action="store_true",
                        help="do not require tree paths, baselines, stablelists and rules to exist "
                             "(e.g. validating on a machine other than the one that runs it)")
    ns = parser.parse_args(args)
    status = 0
    for file in ns.configs:
        try:
            config = load_config(file, check_paths=not ns.no_path_check)
        except ConfigError as exc:
            print(exc, file=sys.stderr)
            status = 2
            continue
        names = ", ".join(t.name for t in config.trees)
        print(f"{file}: valid ({len(config.trees)} tree(s): {names}; output {config.output})")
    return status


def history_main(args: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="batchver history",
        description="Print the nightly history of OUTROOT as a table (one row per tree per run) "
                    "and write a self-contained HTML trend page with plots of exports, symbols "
                    "changed vs baseline, failures, wall time and cache hit rate per night.",
        epilog=f"Exit status: 0 done; 2 no readable {HISTORY_FILE} in OUTROOT, or the page "
               "could not be written.")
    parser.add_argument("outroot", metavar="OUTROOT")
    parser.add_argument("--html", metavar="FILE",
                        help=f"where to write the trend page (default OUTROOT/{TREND_PAGE})")
    parser.add_argument("--no-html", action="store_true", help="only print the table")
    parser.add_argument("--tree", action="append", metavar="NAME", help="only this tree (repeatable)")
    parser.add_argument("--last", type=int, default=0, metavar="N",
                        help="print only the last N rows (the page keeps every run)")
    ns = parser.parse_args(args)
    try:
        history = read_history(ns.outroot)
    except OSError as exc:
        print(f"batchver history: cannot read {history_path(ns.outroot)}: {exc.strerror or exc} "
              f"(expected the output root of a nightly run)", file=sys.stderr)
        return 2
    for skipped in history.skipped:
        print(f"warning: {skipped}", file=sys.stderr)
    records = [r for r in history.records if not ns.tree or r.tree in ns.tree]
    if not records:
        print(f"batchver history: no runs{' of ' + ', '.join(ns.tree) if ns.tree else ''} in "
              f"{history_path(ns.outroot)}", file=sys.stderr)
        return 2
    sys.stdout.write(format_table(records[-ns.last:] if ns.last > 0 else records))
    if not ns.no_html:
        target = ns.html or os.path.join(ns.outroot, TREND_PAGE)
        try:
            _write_trend(ns.outroot, target, records)
        except OSError as exc:
            print(f"batchver history: cannot write {target}: {exc.strerror or exc}", file=sys.stderr)
            return 2
        print(f"wrote {target}", file=sys.stderr)
    return 0
