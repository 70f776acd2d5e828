"""``auraon-bench limits``: what a key's rate limits really are, against what its plan says."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from auraon_bench.cli.exports import export_options, exporting, pop_exports
from auraon_bench.cli.options import FiniteFloatRange, target_options

if TYPE_CHECKING:
    from auraon_bench.analysis.limits import Finding
    from auraon_bench.limits.session import LimitsResult

VERDICT_STYLE = {"pass": "green", "fail": "bold red", "unknown": "yellow"}
UNITS = {"requests": "requests/min", "tokens": "tokens/min"}


def _figure(value: Any, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "share":
        return f"{value:.0%}"
    if unit == "s":
        return f"{value:.2f} s"
    return f"{value:,.1f}"


def documented_cell(finding: Finding, plan: str | None) -> str:
    """The "documented" column: the plan's figure; "unlimited" only when the plan is known and
    its documentation says so for that limit; "unknown" when the plan is not known (nothing is
    documented for a plan nobody named), never "unlimited"."""
    from auraon_bench.analysis.plan_fit import DOCUMENTED_PLANS

    if not finding.check.startswith("sustainable") or finding.documented is not None:
        return _figure(finding.documented, finding.unit)
    limits = DOCUMENTED_PLANS.get(plan) if plan else None
    if limits is None:
        return "unknown (plan unknown)"
    rpm, tpm = limits
    return "unlimited" if (rpm if "requests" in finding.check else tpm) is None else "-"


def print_limits(result: LimitsResult) -> None:
    from rich.table import Table

    from auraon_bench.cli.render import out

    plan = result.plan or "unknown (pass --plan-hint to compare with a documented plan)"
    where = result.target.label
    table = Table(
        title=f"rate limits of this key: plan {plan}, target {where}", title_justify="left"
    )
    for name in ("check", "measured", "documented", "unit", "verdict"):
        table.add_column(name, justify="right" if name in ("measured", "documented") else "left")
    for f in result.findings:
        style = VERDICT_STYLE.get(f.verdict, "")
        table.add_row(
            f.check,
            _figure(f.measured, f.unit),
            documented_cell(f, result.plan),
            f.unit,
            f"[{style}]{f.verdict.upper()}[/]",
        )
    out.print(table)
    for f in result.findings:
        if f.detail and not f.check.startswith("limiter kind"):
            out.print(f"- {f.check}: {f.detail}")
    print_limiters(result)
    for warning in result.summary.warnings:
        out.print(f"[bold yellow]WARNING[/]: {warning}")
    status = result.status if result.stop_reason is None else (
        f"{result.status} (stopped: {result.stop_reason})")  # fmt: skip
    click.echo(f"{result.requests} requests sent; {status}; limits.json in {result.run_dir}")


def print_limiters(result: LimitsResult) -> None:
    """Each limit's kind, the evidence, and sustainable against advertised."""
    from rich.markup import escape

    from auraon_bench.analysis.limits import LIMITER_LABELS
    from auraon_bench.cli.render import out

    time_note = " (simulated time)" if result.target.simulated else ""
    for dim, limiter in result.summary.limiters.items():
        unit = UNITS.get(dim, f"{dim}/min")
        label = LIMITER_LABELS.get(limiter.kind, limiter.kind)
        window = ""
        if limiter.window_s is not None and limiter.allowance is not None:
            window = (
                f", window {limiter.window_s:.1f} s{time_note}, "
                f"{limiter.allowance:,.0f} {dim} per window"
            )
        out.print(f"[bold]{dim} limit: {label}[/]{window}", soft_wrap=True)
        sustainable = (
            "not measured"
            if limiter.sustainable_per_min is None
            else f"{limiter.sustainable_per_min:,.1f} {unit}"
        )
        advertised = (
            "none advertised"
            if limiter.advertised_per_min is None
            else f"advertised {limiter.advertised_per_min:,.0f} {unit}"
        )
        comparison = ""
        if limiter.sustainable_per_min is not None and limiter.advertised_per_min:
            error = limiter.sustainable_per_min / limiter.advertised_per_min - 1
            comparison = f" (measured {error:+.1%} against advertised)"
        # Whole lines (no wrapping at the console's width): they are read and grepped.
        out.print(f"  sustainable {sustainable} (n={limiter.n} identification attempts); "
                  f"{advertised}{comparison}", soft_wrap=True)  # fmt: skip
        out.print(f"  evidence: {escape(limiter.evidence)}", soft_wrap=True)


@click.command(name="limits")
@target_options
@click.option(
    "--plan-hint",
    type=click.Choice(["starter", "pro", "enterprise"]),
    default=None,
    help="Plan whose documented limits to compare with (default: read from the key's "
    "x-ratelimit-limit-* headers).",
)
@click.option(
    "--only",
    type=click.Choice(["requests", "tokens"]),
    default=None,
    help="Measure one limit only (default: both requests/min and tokens/min).",
)
@click.option("--model", default="gpt-4o-mini", show_default=True, help="Model to probe with.")
@click.option("--max-requests", type=click.IntRange(min=10), default=10_000, show_default=True)
@click.option(
    "--max-tokens",
    type=click.IntRange(min=1000),
    default=10_000_000,
    show_default=True,
    help="Cap on prompt + max_tokens of every request sent.",
)
@click.option(
    "--max-duration",
    type=FiniteFloatRange(min=1),
    default=600.0,
    show_default=True,
    help="Cap on wall-clock seconds.",
)
@click.option(
    "--timeout",
    type=FiniteFloatRange(min=0, min_open=True),
    default=60.0,
    show_default=True,
    help="Total seconds allowed per attempt.",
)
@click.option("--yes", is_flag=True, help="Do not ask before probing a real target.")
@click.option(
    "--allow-unlisted-models",
    is_flag=True,
    help="Probe a model the target's /models does not list (a warning, not an error).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Run directory (default results/<run-id>).",
)
@export_options
def limits_command(**flags: Any) -> None:
    """Measure the sustainable requests/min and tokens/min of a key, whether its Retry-After
    and x-ratelimit-* headers tell the truth, and how fast it recovers from a burst.

    First it identifies the limiter (token bucket, fixed window, sliding log, sliding window
    counter) from how a drained budget comes back, and says why. Every figure is compared with
    the plan's documented one and with the key's own x-ratelimit-limit-* headers: pass, fail or
    unknown. The probe is bounded by --max-requests, --max-tokens and --max-duration, stops if
    the target looks unwell or shared (a stop at a cap completes the probe, with the reason),
    and shows its worst-case cost before probing a real target. On the built-in emulator,
    --plan picks the demo key (starter, pro or enterprise). Exit codes: 0 complete, 130
    interrupted (Ctrl-C), 2 a configuration error.
    """
    from auraon_bench.cli.render import confirm_real_target, err
    from auraon_bench.client.http import Timeouts
    from auraon_bench.limits.prober import Caps
    from auraon_bench.limits.session import LimitsOptions, run_limits

    exports = pop_exports(flags)
    options = LimitsOptions(
        model=flags["model"],
        plan_hint=flags["plan_hint"],
        caps=Caps(flags["max_requests"], flags["max_tokens"], flags["max_duration"]),
        base_url=flags["base_url"],
        api_key=flags["api_key"],
        plan=flags["plan"],
        time_scale=flags["time_scale"],
        catalog=flags["catalog"],
        dimensions=(flags["only"],) if flags["only"] else ("requests", "tokens"),
        timeouts=Timeouts(total=flags["timeout"], read=flags["timeout"]),
        out=flags["out"],
        command=tuple(sys.argv),
        allow_unlisted_models=flags["allow_unlisted_models"],
    )
    with exporting(**exports):
        result = run_limits(
            options,
            confirm=confirm_real_target(flags["yes"]),
            on_phase=lambda name: err.print(f"[dim]{name}[/]"),
        )
    print_limits(result)
    if result.status == "interrupted":
        from auraon_bench.cli.exit_codes import INTERRUPTED

        raise click.exceptions.Exit(INTERRUPTED)
