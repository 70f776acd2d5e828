"""``auraon-bench run EXPERIMENT.toml``: the main job, whatever the experiment file describes."""

from __future__ import annotations

import contextlib
import dataclasses
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from auraon_bench.cli.exports import export_options, exporting
from auraon_bench.cli.options import FiniteFloatRange
from auraon_bench.errors import ConfigError

if TYPE_CHECKING:
    from auraon_bench.cli.render import LiveLine
    from auraon_bench.experiment.runner import ExperimentResult, PlannedPart


class PartProgress:
    """A heading per part and a fresh live status line while it sends."""

    def __init__(self) -> None:
        self._live: LiveLine | None = None

    def part(self, item: PlannedPart, index: int, total: int) -> None:
        from auraon_bench.cli.render import LiveLine, err

        self.close()
        err.print(f"[bold]part {index + 1}/{total}: {item.name}[/] ({item.kind})")
        self._live = LiveLine()

    def start(self, *args: Any) -> None:
        if self._live:
            self._live.start(*args)

    def tick(self, runner: Any) -> None:
        if self._live:
            self._live.update(runner)

    def close(self) -> None:
        if self._live:
            self._live.__exit__(None, None, None)
            self._live = None


def print_result(result: ExperimentResult) -> None:
    from rich.markup import escape
    from rich.table import Table

    from auraon_bench.cli.render import out, print_errors
    from auraon_bench.experiment.runner import REPORT_DIR

    print_headline(result)
    table = Table(title="parts (n = attempts, warm-up excluded)", title_justify="left")
    for name in ("part", "kind", "status", "requests", "ok", "429", "cost (USD)", "accuracy"):
        table.add_column(name, justify="left" if name in ("part", "kind", "status") else "right")
    measured = []  # (part name, its RunSummary) of load and eval parts, for the error lines
    for item, outcome in result.parts:
        findings = getattr(outcome, "findings", None)
        if findings is not None:  # the rate-limit probe
            failed = sum(f.verdict == "fail" for f in findings)
            table.add_row(
                item.name,
                item.kind,
                outcome.status,
                str(outcome.requests),
                "-",
                "-",
                "-",
                f"{len(findings) - failed}/{len(findings)} checks not failed",
            )
            continue
        results = getattr(outcome, "results", None)
        if results is not None:  # a capacity search: its capacity per arm, its steps' n
            found = ", ".join(
                f"{r.arm} {'-' if r.capacity is None else f'{r.capacity:.3g}'}/s" for r in results
            )
            steps = [s for r in results for s in r.steps]
            rate_limited = sum(round((s.rate_limited_rate or 0) * s.requests) for s in steps)
            table.add_row(item.name, item.kind, outcome.status,
                          str(sum(s.requests for s in steps)), "-", str(rate_limited), "-",
                          f"capacity {found}")  # fmt: skip
            continue
        load = getattr(outcome, "load", outcome)
        overall = load.summary.overall
        measured.append((item.name, load.summary))
        report = getattr(outcome, "report", None)
        accuracy = "-"
        if report is not None:
            # Never an arm that failed on every request: its 0% is a refusal, not a quality.
            best = report.best()
            if best is not None:
                accuracy = f"best {best.arm} {best.accuracy:.0%} (n={best.n})"
            elif report.failed_arms:
                accuracy = "every arm failed"
        status = load.status + (", ALL FAILED" if overall.errors.all_failed else "")
        table.add_row(
            item.name,
            item.kind,
            status,
            str(overall.requests),
            str(overall.ok),
            str(overall.errors.rate_limited),
            f"{overall.cost.total_usd:.6f}" if overall.cost.total_usd is not None else "-",
            accuracy,
        )
    out.print(table)
    for name, summary in measured:
        print_errors(summary, heading=f"errors of part {name}")
    if result.slo:
        failed = [v for v in result.slo if v.verdict == "fail"]
        unknown = [v for v in result.slo if v.verdict == "unknown"]
        out.print(
            f"SLOs: {len(result.slo) - len(failed) - len(unknown)} pass, {len(failed)} fail, "
            f"{len(unknown)} unknown"
        )
        for v in failed:
            out.print(
                f"  FAIL {v.part}/{v.arm}: {v.slo.describe()}, measured "
                f"{v.slo.display(v.measured)} (n={v.n})"
            )
    for warning in result.warnings:
        out.print(f"[bold yellow]WARNING[/]: {warning}")
    for name, summary in measured:
        if summary.overall.errors.all_failed:
            out.print(
                f"[bold red]FAILED PART[/] {escape(name)}: all {summary.overall.requests} "
                "attempts failed",
                soft_wrap=True,
            )
    # Paths through click, not rich: rich would wrap a long path over two lines.
    click.echo(f"run {result.status}: {result.run_dir}")
    html = [p for p in result.report_files if p.name == "index.html"]
    if html:
        click.echo(f"report: {html[0]}")
    elif result.report_files:
        click.echo(f"report: {result.run_dir / REPORT_DIR}")


def print_headline(result: ExperimentResult) -> None:
    """The report's opening sentences, from the run directory read back as the report reads
    it, so the console and the report cannot disagree."""
    from rich.markup import escape

    from auraon_bench.cli.render import out
    from auraon_bench.errors import AuraonBenchError
    from auraon_bench.report.headline import headline
    from auraon_bench.results.run import read_run

    try:
        sentences = headline(read_run(result.run_dir))
    except AuraonBenchError:
        return  # an unreadable run has no headline; the table below still says what ran
    if sentences:
        out.print("[bold]In short[/]")
        for sentence in sentences:
            out.print(f"  {escape(sentence)}")


def exit_code(result: ExperimentResult) -> int:
    """130 when a part was interrupted; 1 when a part or an arm failed (every attempt, or it
    ended ``failed``) or an SLO was missed; else 0 (codes: ``cli/exit_codes.py``)."""
    from auraon_bench.cli.exit_codes import failed_arms, outcome_code

    statuses, failed_part = [], False
    for _, outcome in result.parts:
        if getattr(outcome, "findings", None) is not None or hasattr(outcome, "results"):
            statuses.append(outcome.status)  # a probe's or a search's verdicts are no SLO
            continue
        load = getattr(outcome, "load", outcome)
        statuses.append(load.status)
        # An arm with no ok answer fails the run as it fails ``load`` and ``eval``: its
        # figures are errors, not a result (a gateway that does not serve it, a broken key).
        failed_part = (
            failed_part
            or load.summary.overall.errors.all_failed
            or bool(failed_arms(load.summary.arms))
        )
    failed = failed_part or "failed" in statuses or any(v.verdict == "fail" for v in result.slo)
    return outcome_code(interrupted="interrupted" in statuses, failed=failed)


@click.command(name="run")
@click.argument("experiment", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--base-url",
    envvar="AURAON_BASE_URL",
    default=None,
    metavar="URL",
    help="Target base URL (env AURAON_BASE_URL); overrides the file's [target] base_url. "
    "Neither, and no key: the built-in emulator.",
)
@click.option(
    "--api-key",
    envvar="AURAON_API_KEY",
    default=None,
    metavar="KEY",
    help="API key (env AURAON_API_KEY). Never read from the file, never written to results.",
)
@click.option(
    "--time-scale",
    type=FiniteFloatRange(min=0),
    default=None,
    help="Embedded emulator only: override the file's time_scale (0.01 = 100x faster).",
)
@click.option(
    "--catalog",
    type=click.Path(dir_okay=False),
    default=None,
    help="Embedded emulator only: override the file's [target] catalog (e.g. a twin fitted "
    "by `emulator fit`).",
)
@click.option(
    "--emulator",
    "force_emulator",
    is_flag=True,
    help="Run on the embedded emulator even when the file's [target] names a base_url (a "
    "twin's validation re-runs a measured experiment this way).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Run directory (default: the file's [output] dir, then the run id).",
)
@click.option(
    "--emulator-seed",
    type=click.IntRange(min=0),
    default=None,
    help="Embedded emulator only: seed its simulated latencies and answers apart from the "
    "experiment's seed (e.g. a new one each night).",
)
@click.option(
    "--pin-output/--no-pin-output",
    default=None,
    help="Synthetic prompts of parts whose file sets no pin_output: ask for exactly max_tokens "
    "tokens (ignore_eos). Default: on the embedded emulator only.",
)
@click.option("--yes", is_flag=True, help="Do not ask before sending load to a real target.")
@click.option("--report/--no-report", default=True, show_default=True, help="Write the report.")
@export_options
def run_command(
    experiment: Path,
    base_url: str | None,
    api_key: str | None,
    time_scale: float | None,
    catalog: str | None,
    force_emulator: bool,
    out: Path | None,
    emulator_seed: int | None,
    pin_output: bool | None,
    yes: bool,
    report: bool,
    metrics_port: int | None,
    otel_out: Path | None,
    otel_endpoint: str | None,
) -> None:
    """Run an experiment file: every part on one target, one run directory, then the report.

    The file is validated before any request is sent. The run directory holds one
    sub-directory per part, the manifest (with the file's content and sha256), summary.json
    and report/ (index.html, report.md, charts, CSV tables).
    """
    from auraon_bench.cli.render import confirm_real_target, err
    from auraon_bench.experiment.runner import REPORT_DIR, run_experiment
    from auraon_bench.experiment.schema import load_experiment

    spec = load_experiment(experiment)
    if time_scale is not None:
        spec = dataclasses.replace(
            spec, target=dataclasses.replace(spec.target, time_scale=time_scale)
        )
    if catalog is not None:
        spec = dataclasses.replace(spec, target=dataclasses.replace(spec.target, catalog=catalog))
    if force_emulator:
        if base_url or api_key:
            raise ConfigError(
                "--emulator runs no real target: drop --base-url and --api-key "
                "(and AURAON_BASE_URL, AURAON_API_KEY)",
                field="--emulator",
            )
        spec = dataclasses.replace(spec, target=dataclasses.replace(spec.target, base_url=None))
    if pin_output is not None:
        spec = spec.with_pin_output(pin_output)
    progress = PartProgress()

    def write(run_dir: Path) -> list[Path]:
        from auraon_bench.report.build import write_report

        progress.close()
        err.print("writing the report ...")
        return write_report([run_dir], run_dir / REPORT_DIR, spec.output.report)

    exports = spec.output
    stack = contextlib.ExitStack()  # the exports stay open until the report is written
    stack.enter_context(
        exporting(
            metrics_port if metrics_port is not None else exports.metrics_port,
            otel_out or (Path(exports.otel_out) if exports.otel_out else None),
            otel_endpoint or exports.otel_endpoint,
        )
    )
    try:
        result = run_experiment(
            spec,
            base_url=base_url,
            api_key=api_key,
            out=out,
            command=sys.argv,
            confirm=confirm_real_target(yes),
            on_part=progress.part,
            on_start=progress.start,
            on_tick=progress.tick,
            write_report=write if report else None,
            emulator_seed=emulator_seed,
        )
    finally:
        progress.close()
        stack.close()
    print_result(result)
    sys.exit(exit_code(result))
