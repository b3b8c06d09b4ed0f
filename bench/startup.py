"""Startup time of the command line: how long a person waits for commands that train nothing.

    python bench/startup.py [--runs 7]

Runs each command below ``--runs`` times in a fresh subprocess (the same interpreter as this
script, cwd and environment unchanged) and prints one JSON object: per command, the median and the
minimum wall-clock seconds. ``python -c pass`` is the interpreter's own start, the floor nothing in
nlpseq can go below; the others should stay close to it, because ``import nlpseq``, ``--help``,
``recipes`` and ``data list`` import no torch, datasets or matplotlib (``nlpseq/cli.py``). To see
what a command imports: ``python -X importtime -m nlpseq recipes 2>&1 | sort -t'|' -k2 -n | tail``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

COMMANDS = {
    "python -c pass": ["-c", "pass"],
    "import nlpseq": ["-c", "import nlpseq"],
    "nlpseq --help": ["-m", "nlpseq", "--help"],
    "nlpseq recipes": ["-m", "nlpseq", "recipes"],
    "nlpseq data list": ["-m", "nlpseq", "data", "list"],
}


def time_command(args: list[str], runs: int) -> dict[str, float]:
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, *args], check=True, stdout=subprocess.DEVNULL)
        seconds.append(time.perf_counter() - start)
    return {"median_s": round(statistics.median(seconds), 3), "min_s": round(min(seconds), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="runs per command (default 7)")
    args = parser.parse_args()
    results = {name: time_command(command, args.runs) for name, command in COMMANDS.items()}
    print(json.dumps({"runs": args.runs, "python": sys.executable, "commands": results}, indent=1))


if __name__ == "__main__":
    main()
