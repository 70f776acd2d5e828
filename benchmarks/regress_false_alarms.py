"""How often does ``auraon-bench regress`` cry wolf? Pairs of unchanged runs, counted.

Runs the nightly experiment (``experiments/nightly.toml``) on the built-in emulator N+1 times,
each with the same file and seed but a different emulator seed (a new night of the same
simulated gateway), then compares run i with run i+1 for i = 1..N and counts the pairs with at
least one regression. The target is a false-alarm rate at or under alpha (5%, the default of the
experiment's [regress] table). Prints a markdown table with the machine and the command.

    python benchmarks/regress_false_alarms.py                 # 21 runs, 20 pairs, ~8 min
    python benchmarks/regress_false_alarms.py --pairs 3 --time-scale 0.05   # smoke test
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import itertools
import json
import platform
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from auraon_bench.experiment.runner import run_experiment  # noqa: E402
from auraon_bench.experiment.schema import load_experiment  # noqa: E402
from auraon_bench.regress.compare import compare_runs  # noqa: E402
from auraon_bench.results.manifest import environment_info  # noqa: E402
from auraon_bench.results.run import read_run  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=20)
    parser.add_argument("--time-scale", type=float, default=0.2)
    parser.add_argument("--experiment", default=str(ROOT / "experiments" / "nightly.toml"))
    parser.add_argument("--out", default=None, help="also write the figures as JSON")
    args = parser.parse_args()
    spec = load_experiment(args.experiment)
    spec = dataclasses.replace(
        spec, target=dataclasses.replace(spec.target, time_scale=args.time_scale)
    )
    alpha = spec.regress["alpha"]
    pairs = []
    with tempfile.TemporaryDirectory() as scratch:
        runs = []
        for night in range(args.pairs + 1):
            out = Path(scratch) / f"night-{night:02d}"
            runs.append(run_experiment(spec, out=out, emulator_seed=1000 + night).run_dir)
            print(f"run {night + 1}/{args.pairs + 1} done", file=sys.stderr)
        for before, after in itertools.pairwise(runs):
            result = compare_runs(read_run(before), read_run(after))
            flagged = [f"{c.part}/{c.arm}/{c.metric}" for c in result.regressions]
            pairs.append({"checks": len(result.checks), "regressions": flagged})
    alarms = sum(bool(p["regressions"]) for p in pairs)
    rate = alarms / len(pairs)
    env = environment_info()
    print(f"# regress false alarms ({dt.date.today()})\n")
    python = platform.python_version()
    print(f"machine: {env['cpu_model']}, {env['cpu_count']} CPUs, Python {python}")
    print(f"command: python benchmarks/regress_false_alarms.py {' '.join(sys.argv[1:])}\n")
    print("| pairs | checks per pair | pairs with a regression | false-alarm rate | target |")
    print("|---:|---:|---:|---:|:---|")
    checks = pairs[0]["checks"] if pairs else 0
    verdict = "PASS" if rate <= alpha else "FAIL"
    print(f"| {len(pairs)} | {checks} | {alarms} | {rate:.1%} | <= {alpha:.0%}: {verdict} |")
    for index, pair in enumerate(pairs, start=1):
        if pair["regressions"]:
            print(f"- pair {index}: {', '.join(pair['regressions'])}")
    if args.out:
        Path(args.out).write_text(json.dumps({"pairs": pairs, "rate": rate, "alpha": alpha}))
    return 0 if rate <= alpha else 1


if __name__ == "__main__":
    raise SystemExit(main())
