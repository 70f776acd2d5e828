"""How long the routing lab takes on a RouterBench-size table.

    python benchmarks/routing_lab_speed.py [--rows 5000] [--models 11] [--repeat 3]

Generates a RouterBench wide-layout table (a score and a ``MODEL|total_cost`` column per model,
a difficulty and a confidence signal), writes it as Parquet, then times reading it and the whole
analysis (bootstrap CIs with 2,000 resamples, 1,000 permutations of the shuffled control, and
the simulated routers random, optimal, cheapest-correct, threshold:difficulty and
cascade:confidence). Prints the median of ``--repeat`` runs and the machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from auraon_bench.routing import analyze, read_table
from tests.test_routing_lab import routerbench_table

ROUTERS = ("random", "optimal", "cheapest-correct", "threshold:difficulty", "cascade:confidence")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--models", type=int, default=11)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "routerbench.parquet"
        routerbench_table(args.rows, args.models).to_parquet(path)
        reads, analyses = [], []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            table = read_table(path)
            t1 = time.perf_counter()
            report = analyze(table, simulate=ROUTERS)
            t2 = time.perf_counter()
            reads.append(t1 - t0)
            analyses.append(t2 - t1)
    python = platform.python_version()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {python}")
    print(f"table: {args.rows:,} prompts x {args.models} models ({args.rows * args.models:,} rows)")
    print(f"read: {statistics.median(reads):.2f} s, analysis: {statistics.median(analyses):.2f} s "
          f"(median of {args.repeat}); {len(report.simulated)} curves, "
          f"{report.analysis.n_prompts:,} prompts")


if __name__ == "__main__":
    main()
