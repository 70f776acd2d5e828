"""``auraon-bench history RESULTS_DIR``: every run under a directory, trends and steps."""

from __future__ import annotations

from pathlib import Path

import click

from auraon_bench.cli.report import FORMATS, parse_formats
from auraon_bench.errors import ConfigError

HISTORY_DIR = "history"
# The names of auraon_bench.history.index.METRICS, spelled out so that --help imports no pandas
# (tests/test_imports.py checks that they agree).
METRIC_NAMES = (
    "ttft_p50_s",
    "ttft_p95_s",
    "latency_p50_s",
    "latency_p95_s",
    "tpot_p50_s",
    "throughput_rps",
    "error_rate",
    "rate_limited_rate",
    "cost_per_request_usd",
    "accuracy",
)


@click.command(name="history")
@click.argument("results_dir", type=click.Path(path_type=Path))
@click.option(
    "--metric",
    "metrics",
    multiple=True,
    metavar="NAME",
    help="Metric to chart and search for steps; repeat or comma-separate. Known: "
    f"{', '.join(METRIC_NAMES)}. Default: latency_p95_s, ttft_p50_s, cost_per_request_usd, "
    "accuracy, error_rate.",
)
@click.option(
    "--experiment",
    default=None,
    metavar="NAME",
    help="Only the runs of this experiment (its name in the experiment file).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help=f"Page directory (default: RESULTS_DIR/{HISTORY_DIR}).",
)
@click.option(
    "--format",
    "formats",
    default=",".join(FORMATS),
    show_default=True,
    help="Comma-separated: html, md, png, svg, csv.",
)
def history_command(
    results_dir: Path,
    metrics: tuple[str, ...],
    experiment: str | None,
    out: Path | None,
    formats: str,
) -> None:
    """Index every run under RESULTS_DIR, chart each metric over the runs and flag steps.

    A step is a persistent change of level (at least 3 runs on each side), not one noisy
    night. Unreadable run directories are listed and skipped.
    """
    from auraon_bench.history.index import metrics_named, read_history
    from auraon_bench.history.report import find_steps, write_history

    wanted = parse_formats(formats)
    chosen = metrics_named(metrics)
    history = read_history(results_dir)
    for path, reason in history.unreadable:
        click.echo(f"WARNING: unreadable run {path}: {reason}", err=True)
    if history.runs.empty:
        raise ConfigError(
            f"no readable run directory (one with a manifest.json) under it; "
            f"{len(history.unreadable)} unreadable",
            source=str(results_dir),
        )
    if experiment is not None:
        history = history.select(experiment)
    out = out if out is not None else results_dir / HISTORY_DIR
    steps = find_steps(history, chosen)
    files = write_history(history, out, chosen, wanted, steps)
    simulated = history.simulated_label
    click.echo(
        f"history: {len(history.runs)} runs{simulated}, {len(history.unreadable)} unreadable, "
        f"{len(steps)} steps"
    )
    for step in steps:
        click.echo(f"step: {step.describe(history.mixed)}")
    html = [p for p in files if p.name == "index.html"]
    click.echo(f"page: {html[0] if html else out} ({len(files)} files)")
