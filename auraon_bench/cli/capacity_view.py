"""What ``auraon-bench capacity`` prints: a line per step as it ends, then a table per arm.

Everything is read from the typed objects of :mod:`auraon_bench.capacity.steps`; every figure
says its unit and n. 80 columns."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from auraon_bench.capacity.session import CapacityRun
from auraon_bench.capacity.steps import CapacityStep
from auraon_bench.cli.render import err, out


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.0f}"


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def print_capacity_step(step: CapacityStep) -> None:
    """One line as a step ends: its verdict and what judged it."""
    failed = [f"{s.objective} (got {s.shown}, n={s.n})" for s in step.slos if s.verdict != "pass"]
    why = {"void": "client could not keep the schedule", "fail": "; ".join(failed)}
    detail = why.get(step.verdict, f"closest: {step.binding}")
    err.print(
        f"{step.arm} at {step.rate:.3g}/s: {step.verdict.upper()} (n={step.requests}, goodput "
        f"{_rate(step.goodput)}/s) {detail}"
    )


def print_capacity(run: CapacityRun, run_dir: Path) -> None:
    """Per arm: the capacity with its bracket and binding SLO, then every step."""
    for result in run.results:
        if result.capacity is None:
            head = f"{result.arm}: no rate passed ({result.stop_reason})"
        else:
            above = (
                f", fails at {result.first_failing:.3g}/s on {result.binding}"
                if result.first_failing is not None
                else ""
            )
            head = f"{result.arm}: capacity {result.capacity:.3g}/s{above} ({result.stop_reason})"
        table = Table(title=head, title_justify="left")
        for name in ("rate/s", "verdict", "n", "goodput/s", "TTFT p95 ms", "err", "429", "$/1k"):
            table.add_column(name, justify="left" if name == "verdict" else "right")
        for step in result.steps:
            table.add_row(
                f"{step.rate:.3g}",
                step.verdict,
                str(step.requests),
                _rate(step.goodput),
                _ms(step.ttft_p95_s),
                _share(step.error_rate),
                _share(step.rate_limited_rate),
                "-" if step.cost_per_1k_usd is None else f"{step.cost_per_1k_usd:.3f}",
            )
        out.print(table)
    out.print(
        f"SLOs: {', '.join(run.slos)}; {run.arrivals} arrivals; at least {run.min_requests} "
        f"requests per step (confidence {run.confidence:g})"
    )
    if run.simulated:
        out.print("WARNING: SIMULATED: every figure comes from the built-in emulator")
    out.print(f"capacity: {run_dir / 'capacity.json'}")
