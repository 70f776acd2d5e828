"""``auraon-bench routing analyze``: the routing analysis of any per-prompt outcome table, with
simulated routers beside the auto modes, optionally re-priced."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from auraon_bench.routing.lab import LabReport


@click.group(name="routing")
def routing_group() -> None:
    """Routing evaluation offline: from eval runs or outcome tables (long, RouterBench,
    RouteLLM layouts)."""


@routing_group.command(name="analyze")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--weak", default=None, help="Weak model (default: the cheapest fixed model).")
@click.option(
    "--strong", default=None, help="Strong model (default: the most accurate fixed model)."
)
@click.option(
    "--router",
    "routers",
    multiple=True,
    default=("random", "optimal", "cheapest-correct"),
    show_default=True,
    help="Simulated router; repeat: random, optimal, cheapest-correct, threshold:COLUMN, "
    "cascade:COLUMN, cascade:grader.",
)
@click.option(
    "--prices",
    "prices_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="Re-price every answer from its tokens with this prices file (then genai-prices).",
)
@click.option(
    "--reprice", is_flag=True, help="Re-price every answer with today's genai-prices data."
)
@click.option(
    "--seed",
    type=click.IntRange(0, 2**32 - 1),
    default=0,
    show_default=True,
    help="Seed of the bootstrap and the permutations.",
)
@click.option(
    "--chart/--no-chart",
    default=True,
    show_default=True,
    help="Draw the cost-quality plane to OUT/charts/routing-cost-quality.png and .svg.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Directory for routing.json and the chart (default: results/<run id>).",
)
def analyze_command(inputs: tuple[Path, ...], **flags: Any) -> None:
    """Analyse INPUTS (eval run directories, or CSV/Parquet/JSONL outcome tables, joined on
    prompt id): accuracy with CIs, cost, frontier, oracle, PGR, paired tests, the shuffled
    control, and each simulated router's curve with APGR, CPT(50%) and AIQ on one cost range.
    """
    from auraon_bench.load.preflight import price_table
    from auraon_bench.results.manifest import new_run_dir
    from auraon_bench.routing import analyze, join_tables, read_table, write_lab

    table = join_tables([read_table(p) for p in inputs])
    prices = None
    if flags["prices_file"] or flags["reprice"]:
        prices = price_table(flags["prices_file"])
    report = analyze(table, weak=flags["weak"], strong=flags["strong"],
                     simulate=flags["routers"], prices=prices, seed=flags["seed"])  # fmt: skip
    _, out = new_run_dir(flags["out"], Path("results"))  # refuses a directory holding files
    path = write_lab(out, report)
    print_lab(report)
    click.echo(f"routing: {path}")
    if flags["chart"]:
        from auraon_bench.report.charts.routing_lab import write_chart

        written = write_chart(report, out)
        click.echo(f"chart: {written[0]}" if written else "chart: none (the table has no costs)")


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.2f}%"


def _num(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _usd(value: float | None) -> str:
    return "-" if value is None else f"${value:.6f}"


def print_lab(report: LabReport) -> None:
    """Models, the weak/strong pair, the oracle, then each router: 80 columns."""
    from rich.table import Table

    from auraon_bench.cli.render import out

    a = report.analysis
    out.print(f"{report.source} ({report.layout}): {a.n_prompts:,} prompts every model graded; "
              f"metric {report.metric}; costs from {report.prices}")  # fmt: skip
    models = Table(title="models (quality over the common prompts)", title_justify="left")
    for name in ("model", "quality", "cost/request", "role"):
        models.add_column(name, justify="left" if name in ("model", "role") else "right")
    for model, point in a.points.items():
        role = {a.weak: "weak", a.strong: "strong"}.get(model, "auto" if model in
                                                          report.auto_arms else "")  # fmt: skip
        models.add_row(model, _pct(point.quality), _usd(point.cost), role)
    out.print(models)
    pair = report.strong_vs_weak
    if pair is not None and pair.mcnemar_p is not None:
        out.print(f"{a.strong} vs {a.weak}: {pair.a_only} prompts only {a.strong} answers, "
                  f"{pair.b_only} only {a.weak} (McNemar p = {pair.mcnemar_p:.3g}, "
                  f"n = {pair.n_prompts:,})")  # fmt: skip
    out.print(f"oracle: {_pct(a.oracle.accuracy)} at {_usd(a.oracle.cost_per_request)} a request")
    routers = Table(title="routers (APGR, CPT(50%) vs the weak/strong pair; AIQ on one cost "
                    "range)", title_justify="left")  # fmt: skip
    for name in ("router", "points", "APGR", "CPT(50%)", "AIQ"):
        routers.add_column(name, justify="left" if name == "router" else "right")
    for curve in report.simulated + a.curves:
        routers.add_row(curve.name, str(len(curve.points)), _num(curve.apgr), _pct(curve.cpt50),
                        _num(curve.aiq))  # fmt: skip
    for point in report.simulated_points + a.single_points:
        routers.add_row(f"{point.arm} (one point)", "1", "-", "-", "-")
    out.print(routers)
    for point in report.simulated_points + a.single_points:
        out.print(f"{point.arm}: quality {_pct(point.quality)}, cost {_usd(point.cost)}, strong "
                  f"share {_pct(point.strong_share)}, PGR {_num(point.pgr)}")  # fmt: skip
    for note in (*report.notes, *a.notes):
        out.print(f"note: {note}")
    if report.twin_of:
        from auraon_bench.results.labels import simulated_warning

        out.print(f"WARNING: {simulated_warning(report.twin_of)}")
    elif report.from_simulation:
        out.print("WARNING: SIMULATED: the answers come from the built-in emulator")
