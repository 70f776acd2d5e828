"""What ``auraon-bench capacity`` prints: a line per step as it ends, then a table per arm.

Everything is read from the typed objects of :mod:`auraon_bench.capacity.steps`; every figure
says its unit and n. 80 columns."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from auraon_bench.capacity.plans import PlanTable
from auraon_bench.capacity.session import CapacityRun
from auraon_bench.capacity.steps import CapacityStep
from auraon_bench.cli.render import err, out
from auraon_bench.results.labels import simulated_warning


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.0f}"


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def print_capacity_step(step: CapacityStep) -> None:
    """One line as a step ends: its verdict and what judged it."""
    failed = [f"{s.objective} (got {s.shown}, n={s.n})" for s in step.slos if s.verdict != "pass"]
    if step.key_bound_rps is not None and step.rate > step.key_bound_rps:
        failed.insert(0, f"above the key's {step.binding} ({step.key_bound_rps:.3g}/s sustained)")
    why = {"void": "client could not keep the schedule", "fail": "; ".join(failed)}
    detail = why.get(step.verdict, f"closest: {step.binding}")
    err.print(
        f"{step.arm} at {step.rate:.3g}/s: {step.verdict.upper()} (n={step.requests}, goodput "
        f"{_rate(step.goodput)}/s) {detail}"
    )


def _money(value: float | None) -> str:
    return "-" if value is None else f"${value:,.2f}"


def print_plans(plans: PlanTable, time_scale: float) -> None:
    k = plans.tokens_per_request
    title = f"{plans.arm} under each plan ({'-' if k is None else f'{k:,.0f}'} tokens/request)"
    if time_scale != 1:
        title += f"\nrates in the gateway's time (the run's x {time_scale:g})"
    table = Table(title=title, title_justify="left")
    for name in ("plan", "limit", "binds", "capacity/s", "$/month there", "meets"):
        table.add_column(name, justify="right" if name in ("capacity/s", "$/month there")
                         else "left")  # fmt: skip
    for row in plans.plans:
        limit = "unlimited" if row.plan_bound_rps is None else f"{row.plan_bound_rps:.3g}/s"
        meets = "-" if row.meets_traffic is None else ("yes" if row.meets_traffic else "no")
        table.add_row(row.plan, limit, row.binds, _rate(row.capacity_rps),
                      _money(row.monthly_cost_at_capacity_usd), meets)  # fmt: skip
    out.print(table)
    if plans.traffic_rps is not None:
        cheapest = plans.cheapest_meeting or "none of the plans"
        out.print(
            f"at {plans.traffic_rps * 60:.4g}/min: {_money(plans.monthly_cost_at_traffic_usd)} "
            f"a month (30 days); cheapest plan with {plans.headroom:.0%} headroom: {cheapest}"
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
        key = result.key_limits
        if key is not None:
            rpm = "-" if key.requests_per_min is None else f"{key.requests_per_min:,.0f}"
            tpm = "-" if key.tokens_per_min is None else f"{key.tokens_per_min:,.0f}"
            out.print(
                f"the key's limits (x-ratelimit-limit-* headers, n={key.responses}): "
                f"{rpm} requests/min, {tpm} tokens/min"
            )
        if result.plans is not None:
            print_plans(result.plans, run.time_scale)
    out.print(
        f"SLOs: {', '.join(run.slos)}; {run.arrivals} arrivals; at least {run.min_requests} "
        f"requests per step (confidence {run.confidence:g})"
    )
    if run.simulated:
        out.print(f"WARNING: {simulated_warning(run.twin_of)}")
    out.print(f"capacity: {run_dir / 'capacity.json'}")
