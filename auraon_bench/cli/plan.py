"""``auraon-bench plan``: which plan fits a workload, with what headroom, and what it costs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from auraon_bench.cli.options import FiniteFloatRange
from auraon_bench.errors import ConfigError

if TYPE_CHECKING:
    from auraon_bench.analysis.plan_advice import Advice

PLAN_FILE = "plan.json"


def _limit(value: float | None) -> str:
    return "unlimited" if value is None else f"{value:,.0f}"


def _months(verdict_months: float | None) -> str:
    if verdict_months is None:
        return "never"
    return "now" if verdict_months == 0 else f"in {verdict_months:.1f} months"


def print_advice(advice: Advice) -> None:
    from rich.markup import escape
    from rich.table import Table

    from auraon_bench.cli.render import out

    w = advice.workload
    out.print(
        f"workload ({w.source}): peak {w.peak_rpm:,.1f} requests/min, average "
        f"{w.average_rpm:,.1f}; {w.prompt_tokens:,.0f} prompt + {w.completion_tokens:,.0f} "
        f"completion tokens per request; peak {w.peak_tpm:,.0f} tokens/min; growth "
        f"{w.monthly_growth:.0%}/month"
    )
    if w.measured is not None:
        out.print(w.measured.describe())
    for caveat in advice.caveats:
        out.print(f"[bold yellow]caveat:[/] {escape(caveat)}")
    table = Table(
        title=f"plans (fits = at least {advice.headroom:.0%} headroom on both)",
        title_justify="left",
    )
    for name in ("plan", "req/min", "headroom", "tok/min", "headroom ", "fits", "breaks first"):
        table.add_column(
            name, justify="left" if name in ("plan", "fits", "breaks first") else "right"
        )
    for v in advice.plans:
        first = "-" if v.breaks_first is None else f"{v.breaks_first} {_months(v.breaks_in_months)}"
        table.add_row(
            v.plan.name,
            _limit(v.plan.rpm),
            f"{v.rpm_headroom:.0%}",
            _limit(v.plan.tpm),
            f"{v.tpm_headroom:.0%}",
            "yes" if v.fits else "no",
            first,
        )
    out.print(table)
    if advice.recommended:
        out.print(f"recommended: {advice.recommended} (the cheapest plan that fits)")
    else:
        out.print("no plan fits with that headroom")
    if advice.monthly_cost:
        costs = Table(
            title="projected monthly cost per arm (usage only; plan fees excluded)",
            title_justify="left",
        )
        costs.add_column("arm")
        costs.add_column("USD per month", justify="right")
        for arm, usd in sorted(advice.monthly_cost.items(), key=lambda kv: kv[1]):
            costs.add_row(arm, f"{usd:,.2f}")
        out.print(costs)


@click.command(name="plan")
@click.argument("run", required=False, type=click.Path(path_type=Path))
@click.option(
    "--workload",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="A workload description (TOML) instead of a measured run.",
)
@click.option(
    "--headroom",
    type=FiniteFloatRange(0, 0.99),
    default=0.30,
    show_default=True,
    help="Share of each limit to keep free.",
)
@click.option(
    "--growth",
    type=FiniteFloatRange(min=0),
    default=None,
    help="Monthly growth of the workload (0.1 = 10%); overrides the file's.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write plan.json (default: RUN/plan.json, or beside --workload).",
)
@click.option(
    "--traffic",
    default=None,
    help="A capacity RUN only: your traffic (120/min, 2/s, 5000/h), for the monthly cost and "
    "the cheapest plan that carries it.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Extrapolate from a run shorter than 60 s or with fewer than 200 attempts (marked so).",
)
def plan_command(
    run: Path | None,
    workload: Path | None,
    headroom: float,
    growth: float | None,
    out: Path | None,
    traffic: str | None,
    force: bool,
) -> None:
    """Advise a plan from a measured RUN or a --workload file: needed requests/min and
    tokens/min at peak, headroom under each plan, the cheapest plan that fits, what breaks
    first as the workload grows, and the monthly cost of each arm."""
    from auraon_bench.analysis.plan_advice import advise
    from auraon_bench.cli.options import check_output_file
    from auraon_bench.experiment.workload import workload_from_file, workload_from_run
    from auraon_bench.load.session import write_json
    from auraon_bench.results.run import read_run

    if (run is None) == (workload is None):
        raise ConfigError("give either a RUN directory or --workload FILE", field="RUN")
    from auraon_bench.report.capacity import is_capacity_run

    if run is not None and is_capacity_run(run):
        _capacity_plans(run, headroom, traffic, out)
        return
    if traffic is not None:
        raise ConfigError("applies to a capacity run only", field="--traffic")
    if workload is not None:
        described = workload_from_file(workload)
        if growth is not None:
            from dataclasses import replace

            described = replace(described, monthly_growth=growth)
        target = out or workload.with_suffix(".plan.json")
    else:
        assert run is not None
        described = workload_from_run(read_run(run), growth or 0.0)
        target = out or run / PLAN_FILE
    check_output_file(target, "--out", inputs=(workload,) if workload is not None else ())
    advice = advise(described, headroom=headroom, force=force)
    print_advice(advice)
    try:
        write_json(target, advice.to_dict())
    except OSError as exc:
        raise ConfigError(
            f"cannot write {target}: {exc.strerror or exc}", field="--out" if out else "RUN"
        ) from None
    click.echo(f"plan advice written to {target}")


def _capacity_plans(run: Path, headroom: float, traffic: str | None, out: Path | None) -> None:
    """A capacity run's plan tables, for another traffic or headroom (``capacity.plans``)."""
    from auraon_bench.capacity.plans import parse_traffic, replan
    from auraon_bench.capacity.session import read_capacity
    from auraon_bench.cli.capacity_view import print_plans
    from auraon_bench.cli.options import check_output_file
    from auraon_bench.load.session import write_json
    from auraon_bench.report.capacity import run_directory

    directory = run_directory(run)
    search = read_capacity(directory)
    try:
        traffic_rps = None if traffic is None else parse_traffic(traffic)
    except ValueError as exc:
        raise ConfigError(str(exc), field="--traffic") from None
    tables = []
    for result in search.results:
        if result.plans is None:
            continue
        table = replan(result.plans, traffic_rps, headroom)
        print_plans(table, search.time_scale)
        tables.append(table.to_dict())
    target = out or directory / PLAN_FILE
    check_output_file(target, "--out")
    write_json(target, {"capacity": str(directory), "plans": tables})
    click.echo(f"plan tables written to {target}")
