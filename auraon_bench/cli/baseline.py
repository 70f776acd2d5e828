"""``auraon-bench baseline set RUN``: keep a run as the baseline later runs are compared with."""

from __future__ import annotations

import shutil
from pathlib import Path

import click

from auraon_bench.errors import ConfigError

REPORT_DIR = "report"


@click.group(name="baseline")
def baseline_group() -> None:
    """Manage stored baselines (results/baselines/<name>)."""


@baseline_group.command(name="set")
@click.argument("run", type=click.Path(path_type=Path))
@click.option(
    "--name",
    default=None,
    help="Baseline name (default: the experiment's name, else the run's kind).",
)
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("results/baselines"),
    show_default=True,
)
@click.option("--allow-incomplete", is_flag=True, help="Accept an incomplete run (not advised).")
def set_command(run: Path, name: str | None, directory: Path, allow_incomplete: bool) -> None:
    """Copy RUN (records, manifests, summaries; not its report) to the baseline directory,
    replacing the previous baseline of that name. Move a baseline forward deliberately, after
    `regress` reported improvements you accept."""
    from auraon_bench.results.run import read_run

    loaded = read_run(run)
    if not loaded.complete and not allow_incomplete:
        raise ConfigError("is incomplete: " + "; ".join(loaded.problems), source=str(run))
    name = name or (loaded.manifest.get("experiment") or {}).get("name") or loaded.kind
    if not name or "/" in name or name.startswith("."):
        raise ConfigError(f"not a usable baseline name: {name!r}", field="--name")
    target = directory / name
    staging = directory / f".{name}.new"
    try:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(run, staging, ignore=shutil.ignore_patterns(REPORT_DIR, "*.tmp"))
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    except OSError as exc:
        raise ConfigError(
            f"cannot store the baseline: {exc.strerror}", source=str(target)
        ) from None
    click.echo(f"baseline {name!r}: {target} (run {loaded.run_id})")
