"""Run every benchmark in this folder, one after the other, and print their reports.

Each benchmark times a baseline and energyssl side by side in one process and prints ratios;
this script only runs them in turn (each in its own process, so one's memory and threads do
not disturb the next). ``energyssl bench --only speed`` runs the same scripts and also reads
their ratios into results.json. Usage, from the repository root::

    python benchmarks/suite.py --quick      # every benchmark at small sizes, a few minutes
    python benchmarks/suite.py              # the sizes the issues name
    python benchmarks/suite.py --quick ebm_peers scaling --out figures

The benchmarks that draw a figure (``scaling``: scaling.png) write it into ``--out``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from energyssl.bench.speed import FIGURES
from energyssl.bench.speed import SCRIPTS as BENCHMARKS


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes")
    parser.add_argument("--out", default=".", help="folder for the figures (default: here)")
    parser.add_argument("names", nargs="*", help=f"any of {', '.join(BENCHMARKS)} (default all)")
    args = parser.parse_args()
    unknown = set(args.names) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmark {sorted(unknown)}; valid: {', '.join(BENCHMARKS)}")
    here = Path(__file__).resolve().parent
    failed = []
    for name in args.names or BENCHMARKS:
        command = [sys.executable, str(here / f"{name}.py"), *(["--quick"] if args.quick else [])]
        if name in FIGURES:
            command += ["--out", args.out]
        print(f"\n=== {name}: {' '.join(command[1:])}", flush=True)
        started = time.perf_counter()
        if subprocess.run(command, check=False).returncode != 0:
            failed.append(name)
        print(f"--- {name} took {time.perf_counter() - started:.1f} s", flush=True)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
