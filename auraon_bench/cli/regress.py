"""``auraon-bench regress BASELINE CURRENT``: exit 0 no regression, 1 regression, 2 invalid."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import orjson

from auraon_bench.errors import AuraonBenchError

if TYPE_CHECKING:
    from auraon_bench.regress.compare import Comparison

EXIT_OK, EXIT_REGRESSION, EXIT_INVALID = 0, 1, 2


def read_thresholds(path: Path) -> dict[str, float]:
    """A TOML file of thresholds: the keys of an experiment's [regress] table, top level or
    under [regress]."""
    from auraon_bench.experiment.fields import Fields, TomlText, at_least, read_toml
    from auraon_bench.experiment.schema import REGRESS_DEFAULTS

    text, data = read_toml(path, "thresholds")
    table = data.get("regress", data)
    f = Fields(
        table,
        TomlText(str(path), text),
        "regress" if "regress" in data else "",
        table_name="regress" if "regress" in data else "",
    )
    values = {k: f.get(k, "float", check=at_least(0)) for k in REGRESS_DEFAULTS if f.has(k)}
    f.done()
    return values


def check_outputs(outputs: dict[str, Path | None], inputs: tuple[Path, ...]) -> None:
    """Every output file given is new or replaceable: not an input, not one of a run's own
    files, and not given twice (the second write would replace the first)."""
    from auraon_bench.cli.options import check_output_file
    from auraon_bench.errors import ConfigError

    seen: dict[Path, str] = {}
    for flag, path in outputs.items():
        if path is None:
            continue
        check_output_file(path, flag, inputs)
        resolved = path.resolve()
        if resolved in seen:
            raise ConfigError(f"{path} is also given to {seen[resolved]}", field=flag)
        seen[resolved] = flag


def print_comparison(result: Comparison) -> None:
    from rich.table import Table
    from rich.text import Text

    from auraon_bench.cli.render import out
    from auraon_bench.regress.outputs import describe_change, describe_value

    shown = [c for c in result.checks if c.verdict != "no change"]
    table = Table(
        title=f"regress: {result.current.run_id} against {result.baseline.run_id} "
        f"({len(result.checks)} checks; within-threshold ones not shown)",
        title_justify="left",
    )
    for name in ("part", "arm", "metric", "baseline", "current", "change", "p", "verdict"):
        table.add_column(name, justify="right" if name in ("baseline", "current", "p") else "left")
    style = {"regression": "bold red", "improvement": "green", "not significant": "yellow"}
    for c in shown:
        # Cells are Text, not markup: names and verdicts may hold brackets, and a verdict
        # without a style ("too few samples") must not become an empty markup tag.
        table.add_row(
            *(
                Text(str(cell))
                for cell in (
                    c.part,
                    c.arm,
                    c.metric,
                    describe_value(c, c.baseline),
                    describe_value(c, c.current),
                    describe_change(c, with_limit=False),
                    "-" if c.p_adjusted is None else f"{c.p_adjusted:.3g}",
                )
            ),
            Text(c.verdict, style=style.get(c.verdict, "")),
        )
    out.print(table)
    counts = ", ".join(f"{v} {n}" for v, n in result.counts().items() if n)
    verdict = "REGRESSION" if result.regressions else "no regression"
    click.echo(f"{verdict}: {counts}")


@click.command(name="regress")
@click.argument("baseline", type=click.Path(path_type=Path))
@click.argument("current", type=click.Path(path_type=Path))
@click.option(
    "--thresholds",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="TOML file of thresholds (keys of an experiment's [regress] table).",
)
@click.option("--force", is_flag=True, help="Compare runs that are not comparable anyway.")
@click.option(
    "--markdown",
    "markdown_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the markdown summary here (default: $GITHUB_STEP_SUMMARY when set).",
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write every check as JSON here.",
)
@click.option(
    "--junit",
    "junit_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write JUnit XML here (one test case per check).",
)
def regress_command(
    baseline: Path,
    current: Path,
    thresholds: Path | None,
    force: bool,
    markdown_path: Path | None,
    json_path: Path | None,
    junit_path: Path | None,
) -> None:
    """Compare CURRENT with BASELINE: per arm and metric, a regression needs a change beyond
    its threshold AND statistical significance. Exit 0: no regression; 1: regression; 2: the
    input is invalid (unreadable, not comparable, incomplete, or client-bound)."""
    from auraon_bench.regress.compare import compare_runs
    from auraon_bench.regress.outputs import to_dict, to_junit, to_markdown
    from auraon_bench.results.run import read_run

    try:
        check_outputs(
            {"--markdown": markdown_path, "--json": json_path, "--junit": junit_path},
            inputs=(baseline, current) + ((thresholds,) if thresholds else ()),
        )
        override = read_thresholds(thresholds) if thresholds else None
        result = compare_runs(
            read_run(baseline), read_run(current), thresholds=override, force=force
        )
    except AuraonBenchError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(EXIT_INVALID)
    print_comparison(result)
    summary = markdown_path or (
        Path(os.environ["GITHUB_STEP_SUMMARY"]) if os.environ.get("GITHUB_STEP_SUMMARY") else None
    )
    writes: list[tuple[Path | None, Any]] = [
        (summary, lambda: to_markdown(result).encode()),
        (json_path, lambda: orjson.dumps(to_dict(result), option=orjson.OPT_INDENT_2)),
        (junit_path, lambda: to_junit(result)),
    ]
    for path, render in writes:
        if path is not None:
            try:
                with open(path, "ab" if path == summary and not markdown_path else "wb") as handle:
                    handle.write(render())
            except OSError as exc:
                click.echo(f"Error: {path}: cannot write: {exc.strerror}", err=True)
                sys.exit(EXIT_INVALID)
    sys.exit(EXIT_REGRESSION if result.regressions else EXIT_OK)
