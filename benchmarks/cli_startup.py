"""How long does ``auraon-bench --help`` take? Start-up wall time of fresh processes, counted.

Every measured command is a new process of this interpreter's environment, timed from
``subprocess.run`` to its exit (``time.perf_counter``), output discarded:

  - ``python -c pass``: the interpreter's own floor (information);
  - ``python -c "import auraon_bench"``: the package's import;
  - ``auraon-bench --help`` (the console script beside this interpreter);
  - ``auraon-bench SUBCOMMAND --help`` for every subcommand the CLI lists.

Each command runs twice as a warm-up (page cache, .pyc files), then N times (30; 5 with
``--quick``), the commands taken in turn so that a slow moment of the machine spreads over all of
them. The target is a median under 0.5 s for every row but the floor; p90 is shown beside it.
One more run of each, untimed, with ``PYTHONPROFILEIMPORTTIME=1`` lists which of pandas, scipy,
matplotlib, pyarrow and numpy it imported, and how many modules in all. Nothing is pinned: one
short process at a time, on an otherwise idle machine (the load average at the start is shown).

usage: python benchmarks/cli_startup.py [--quick] [--runs N] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
SCRIPT = str(Path(PY).parent / "auraon-bench")
NEUTRAL = tempfile.gettempdir()  # working directory of every run: not the source tree
TARGET_S = 0.5
WARMUP = 2
HEAVY = ("matplotlib", "numpy", "pandas", "pyarrow", "scipy")
BUSY_LOADAVG = 0.3  # per core: above this at the start, the figures are not results

sys.path.append(str(ROOT))  # after PYTHONPATH: another checkout given there is measured
from proc_tools import machine  # noqa: E402


def subcommands() -> list[str]:
    """The names the CLI lists, without resolving (importing) any of them."""
    import click

    from auraon_bench.cli.main import cli

    return list(cli.list_commands(click.Context(cli)))


def commands() -> list[tuple[str, list[str], bool]]:
    """(label, argv, has a target) of every measured command."""
    rows = [
        ("python -c pass", [PY, "-c", "pass"], False),
        ('python -c "import auraon_bench"', [PY, "-c", "import auraon_bench"], True),
        ("auraon-bench --help", [SCRIPT, "--help"], True),
    ]
    return rows + [(f"auraon-bench {name} --help", [SCRIPT, name, "--help"], True)
                   for name in subcommands()]  # fmt: skip


def environment() -> dict[str, str]:
    drop = ("PYTHONPROFILEIMPORTTIME", "PYTHONSTARTUP", "AURAON_BASE_URL", "AURAON_API_KEY")
    return {k: v for k, v in os.environ.items() if k not in drop}


def timed(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=NEUTRAL, env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, timeout=60)  # fmt: skip
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{shlex.join(argv)} exited {done.returncode}:\n{done.stderr.decode()}")
    return elapsed


def imported(argv: list[str], env: dict[str, str]) -> tuple[list[str], int]:
    """Heavy top-level packages a run imports, and its number of imported modules."""
    done = subprocess.run(argv, cwd=NEUTRAL, env={**env, "PYTHONPROFILEIMPORTTIME": "1"},
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                          timeout=60)  # fmt: skip
    names = [line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines()
             if line.startswith("import time:") and line.count("|") == 2]  # fmt: skip
    modules = [n for n in names if n != "imported package"]
    return sorted({m.split(".")[0] for m in modules} & set(HEAVY)), len(modules)


def p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10, method="inclusive")[8]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="5 runs per command (smoke test)")
    parser.add_argument("--runs", type=int, default=None, help="timed runs per command (30)")
    parser.add_argument("--out", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args()
    runs = args.runs or (5 if args.quick else 30)
    m = machine()
    env = environment()
    measured = commands()
    for _ in range(WARMUP):
        for _label, argv, _ in measured:
            timed(argv, env)
    times: dict[str, list[float]] = {label: [] for label, _, _ in measured}
    for _ in range(runs):
        for label, argv, _ in measured:
            times[label].append(timed(argv, env))
    rows = []
    for label, argv, has_target in measured:
        heavy, n_modules = imported(argv, env)
        median = statistics.median(times[label])
        passed = median < TARGET_S if has_target else None
        rows.append({
            "command": label, "median_s": round(median, 4), "p90_s": round(p90(times[label]), 4),
            "min_s": round(min(times[label]), 4), "n": runs, "heavy_imported": heavy,
            "modules_imported": n_modules,
            "target": f"median < {TARGET_S} s" if has_target else "- (interpreter floor)",
            "status": "info" if passed is None else ("PASS" if passed else "FAIL"),
        })  # fmt: skip
    notes = []
    if float(m["loadavg_at_start"][0]) > BUSY_LOADAVG * (m["cpus"] or 1):
        notes.append(f"load average {m['loadavg_at_start'][0]} at the start: the machine was "
                     "not idle, figures perturbed; rerun on an idle machine")  # fmt: skip
    report = {"machine": m, "command": shlex.join(["python", *sys.argv]), "results": rows,
              "notes": notes}  # fmt: skip
    print_report(report)
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")


def print_report(report: dict[str, Any]) -> None:
    m = report["machine"]
    print(f"\n## auraon-bench start-up time, {m['date']}\n\n"
          f"- machine: {m['cpus']} cores, {m['cpu_model']}; Python {m['python']}; unpinned; "
          f"load average at start {' '.join(m['loadavg_at_start'])}\n"
          f"- command: `{report['command']}`\n\n"
          "| command | median | p90 | n | heavy modules imported (modules in all) | target "
          "| result |\n|---|---:|---:|---:|---|---|---|")  # fmt: skip
    for r in report["results"]:
        heavy = ", ".join(r["heavy_imported"]) or "none"
        print(f"| `{r['command']}` | {r['median_s']:.3f} s | {r['p90_s']:.3f} s | {r['n']} | "
              f"{heavy} ({r['modules_imported']}) | {r['target']} | {r['status']} |")  # fmt: skip
    print()
    for line in report["notes"]:
        print(f"- {line}")


if __name__ == "__main__":
    main()
