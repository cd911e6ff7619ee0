"""CPU time (user + system) of commands run alternately, a few rounds each.

On a shared machine wall time says more about the neighbours than about the
command; CPU time of the same commands interleaved round by round is what
can be compared.  Each command is ``LABEL=COMMAND`` (run by the shell, with
stdin from ``--stdin`` and stdout discarded); prints one JSON object: per
label the CPU seconds of every round, their median, and the median ratio to
the first label.

    python -m tools.bench.cpu_rounds --rounds 5 --stdin syms.txt \\
        'compiled=batchver gendwarfksyms m.ko' 'pure=BATCHVER_PURE=1 batchver gendwarfksyms m.ko'
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess


def cpu_seconds(command: str, stdin: str | None) -> float:
    """The CPU seconds ``command`` (and everything it waits for) used."""
    with open(stdin or os.devnull, "rb") as source:
        proc = subprocess.Popen(command, shell=True, stdin=source, stdout=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed ({os.waitstatus_to_exitcode(status)}): {command}")
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("commands", nargs="+", metavar="LABEL=COMMAND")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--stdin", help="file every command reads as its standard input")
    args = parser.parse_args()
    commands = dict(item.split("=", 1) for item in args.commands)
    times: dict[str, list[float]] = {label: [] for label in commands}
    for _ in range(args.rounds):
        for label, command in commands.items():
            times[label].append(round(cpu_seconds(command, args.stdin), 3))
    first = statistics.median(next(iter(times.values())))
    print(json.dumps({label: {"rounds": values, "median": statistics.median(values),
                              "ratio_to_first": round(statistics.median(values) / first, 3)}
                      for label, values in times.items()}, indent=1))


if __name__ == "__main__":
    main()
