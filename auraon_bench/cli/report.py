"""``auraon-bench report RUN [RUN ...]``: HTML, markdown, charts and CSV; several runs compared."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click

from auraon_bench.errors import ConfigError

# auraon_bench.report.build.FORMATS, spelled out so that --help imports no pandas or matplotlib
# (tests/test_imports.py checks that they agree).
FORMATS = ("html", "md", "png", "svg", "csv")


def parse_formats(text: str) -> tuple[str, ...]:
    formats = tuple(f.strip().lower() for f in text.split(",") if f.strip())
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ConfigError(
            f"unknown format {unknown[0]!r} (known: {', '.join(FORMATS)})"
            if unknown
            else "no format given",
            field="--format",
        )
    return formats


@click.command(name="report")
@click.argument("runs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Report directory (default: RUN/report for one run; for several, "
    "compare-<first>-<last> beside the first run).",
)
@click.option(
    "--format",
    "formats",
    default=",".join(FORMATS),
    show_default=True,
    help="Comma-separated: html, md, png, svg, csv.",
)
def report_command(runs: tuple[Path, ...], out: Path | None, formats: str) -> None:
    """Write a report of one run, or compare several (the first is the baseline).

    Works on finished, interrupted and crashed runs alike; an incomplete run is labelled so
    at the top of every page. A capacity search's directory (OUT of ``auraon-bench capacity``)
    gets its capacity report: latency and goodput against the offered rate, steps and plans;
    a routing lab's (OUT of ``auraon-bench routing analyze``) its routers and cost-quality plane;
    a twin validation's (``emulator fit --validate``) real and twin distributions overlaid.
    """
    from auraon_bench.report.build import write_report
    from auraon_bench.report.capacity import is_capacity_run
    from auraon_bench.results.run import read_run

    wanted = parse_formats(formats)
    from auraon_bench.report.routing_lab import is_lab_dir

    if any(is_lab_dir(path) for path in runs):
        _lab_report(runs, out, wanted)
        return
    from auraon_bench.report.twin import is_validation_dir

    if any(is_validation_dir(path) for path in runs):
        _validation_report(runs, out, wanted)
        return
    if any(is_capacity_run(path) for path in runs):
        _capacity_report(runs, out, wanted)
        return
    loaded = [read_run(path) for path in runs]
    if out is None:
        first = loaded[0]
        out = (
            first.path / "report"
            if len(loaded) == 1
            else first.path.parent / f"compare-{first.run_id}-{loaded[-1].run_id}"
        )
    files = write_report(loaded, out, wanted)
    for run in loaded:
        if not run.complete:
            click.echo(f"WARNING: {run.path}: " + "; ".join(run.problems), err=True)
    html = [p for p in files if p.name == "index.html"]
    click.echo(f"report: {html[0] if html else out} ({len(files)} files)")


def _lab_report(runs: tuple[Path, ...], out: Path | None, formats: tuple[str, ...]) -> None:
    from auraon_bench.report.routing_lab import write_lab_report

    _single_report("a routing lab", write_lab_report, runs, out, formats)


def _validation_report(runs: tuple[Path, ...], out: Path | None, formats: tuple[str, ...]) -> None:
    from auraon_bench.report.twin import write_validation_report

    _single_report("a twin validation", write_validation_report, runs, out, formats)


def _single_report(
    what: str,
    write: Callable[[Path, Path | None, tuple[str, ...]], list[Path]],
    runs: tuple[Path, ...],
    out: Path | None,
    formats: tuple[str, ...],
) -> None:
    """A report of one directory that is not a run (a lab, a validation)."""
    if len(runs) > 1:
        raise ConfigError(f"{what} is reported on its own; give one directory",
                          source=str(runs[0]))  # fmt: skip
    files = write(runs[0], out, formats)
    html = [p for p in files if p.name == "index.html"]
    click.echo(f"report: {html[0] if html else out} ({len(files)} files)")


def _capacity_report(runs: tuple[Path, ...], out: Path | None, formats: tuple[str, ...]) -> None:
    from auraon_bench.report.capacity import REPORT_DIR, run_directory, write_capacity_report

    if len(runs) > 1:
        raise ConfigError("a capacity search is reported on its own; give one directory",
                          source=str(runs[0]))  # fmt: skip
    out = out if out is not None else run_directory(runs[0]) / REPORT_DIR
    files = write_capacity_report(runs[0], out, formats)
    html = [p for p in files if p.name == "index.html"]
    click.echo(f"report: {html[0] if html else out} ({len(files)} files)")
