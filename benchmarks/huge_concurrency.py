"""What does an absurd ``--concurrency`` cost? Wall time and peak memory of one ``load``.

Runs, as a fresh process of this interpreter's environment, on the embedded emulator:

    auraon-bench load --concurrency 1000000 --requests 2000 --time-scale 0.01

and reads its wall time (``time.perf_counter`` around ``subprocess.run``) and the peak RSS of
the command and of its largest child (``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss``, the
figure ``/usr/bin/time -v`` prints). A closed loop starts no more workers than it has requests
to send, so this should cost about what ``--concurrency 2000`` costs; one worker task per slot
took 49 s and 3.7 GB. The run directory goes to a temporary folder and is dropped.

usage: python benchmarks/huge_concurrency.py [--concurrency N] [--requests N]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        command = [
            sys.executable, "-m", "auraon_bench", "load",
            "--concurrency", str(args.concurrency), "--requests", str(args.requests),
            "--time-scale", "0.01", "--out", str(Path(tmp) / "run"),
        ]  # fmt: skip
        start = time.perf_counter()
        done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"load exited {done.returncode}: {done.stderr.decode()[-2000:]}")
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"--concurrency {args.concurrency:,} --requests {args.requests:,}: {seconds:.1f} s wall, "
          f"peak RSS {peak_mb:.0f} MB (largest process), {os.cpu_count()} CPUs")  # fmt: skip


if __name__ == "__main__":
    main()
