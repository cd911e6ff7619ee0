"""Benchmark ``batchver check --rules`` matching against the regular-expression
translation batchver used before, on the two inputs that made it hang.

Both sides judge the same synthetic exports (87, as in the report that found
the problem: 30 in vmlinux, the rest in driver modules) with the same rules,
in one invocation:

* ``regex``: each glob translated to a regular expression (``*`` -> ``.*``,
  ``?`` -> ``.``) and every rule tried on every export, as before;
* ``batchver``: :class:`batchver.gate.policy.Policy` (linear globs and the
  rule index of :mod:`batchver.gate.globs`).

Cases: the module rule ``*/*?*?...*Q`` with K ``*?`` pairs (backtracking
grows like the name length to the power K), and text rules files of N lines.
The regex side runs in a child process killed after ``--timeout`` seconds.

    python -m tools.bench.bench_rules [--timeout 60] [-o results/bench-rules-DATE.json]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
import sys
import time


from batchver.symvers import ExportRecord
from batchver.gate.policy import Policy, parse_text_rules


def exports() -> list[ExportRecord]:
    out = []
    for i in range(87):
        module = "vmlinux" if i < 30 else f"drivers/net/ethernet/vendor{i % 7}/driver_module_{i}"
        out.append(ExportRecord(f"export_symbol_number_{i}", module, i, "EXPORT_SYMBOL_GPL", "", line=i + 1))
    return out


def cases() -> list[tuple[str, str]]:
    found = [(f"module pattern, {k} '*?' pairs", "*/" + "*?" * k + "*Q FAIL\n")
             for k in (3, 5, 7, 11)]
    found += [(f"{n} text rules", "".join(f"*symbol_{i}_*x PASS\n" for i in range(n)))
              for n in (2000, 20000, 200000)]
    return found


def regex_side(text: str) -> float:
    """The old matcher: a regular expression per rule, every rule per export."""
    start = time.perf_counter()
    rules = [line.split()[0] for line in text.splitlines()]
    compiled = [re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c)
                                   for c in p) + r"\Z") for p in rules]
    attrs = ["module" if "/" in p or p == "vmlinux" else
             "namespace" if p == p.upper() else "symbol" for p in rules]
    for export in exports():
        for attr, regex in zip(attrs, compiled):
            value = getattr(export, attr)
            if value or attr != "namespace":
                regex.match(value)
    return time.perf_counter() - start


def batchver_side(text: str) -> float:
    start = time.perf_counter()
    policy = Policy(parse_text_rules("rules", text), None)
    policy.count_matches(exports())
    return time.perf_counter() - start


def _child(text: str, queue) -> None:
    queue.put(regex_side(text))


def timed_regex(text: str, timeout: float) -> float | None:
    queue = multiprocessing.Queue()
    child = multiprocessing.Process(target=_child, args=(text, queue))
    child.start()
    child.join(timeout)
    if child.is_alive():
        child.kill()
        child.join()
        return None
    return queue.get()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("-o", "--output")
    ns = parser.parse_args()
    load = os.getloadavg()[0]
    rows = []
    for name, text in cases():
        new = batchver_side(text)
        old = timed_regex(text, ns.timeout)
        ratio = f"{old / new:.1f}x" if old is not None else f">{ns.timeout / new:.0f}x"
        rows.append({"case": name, "batchver_s": round(new, 4),
                     "regex_s": None if old is None else round(old, 4),
                     "regex_timed_out_after_s": None if old is not None else ns.timeout,
                     "speedup": ratio})
        print(f"{name:32} batchver {new:8.3f} s   regex "
              f"{'>' + str(ns.timeout) if old is None else f'{old:.3f}'} s   {ratio}", flush=True)
    result = {"exports": 87, "load_average_at_start": load, "rows": rows,
              "cpu_count": os.cpu_count()}
    if ns.output:
        with open(ns.output, "w") as handle:
            json.dump(result, handle, indent=1)
            handle.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
