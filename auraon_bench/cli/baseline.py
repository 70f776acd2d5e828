"""``auraon-bench baseline set RUN``: keep a run as the baseline later runs are compared with."""

from __future__ import annotations

import shutil
from pathlib import Path

import click

from auraon_bench.errors import ConfigError

REPORT_DIR = "report"
MAX_NAME_BYTES = 255  # a file name, on every common file system


@click.group(name="baseline")
def baseline_group() -> None:
    """Manage stored baselines (results/baselines/<name>)."""


def refuse_replacing(run: Path, directory: Path, target: Path) -> None:
    """What ``set`` must not do, checked before anything is copied or removed: replace the
    run it copies or a directory holding it (the run would be deleted), nest the baseline
    inside the run (it would be copied into itself), or replace a directory that is not a
    stored run (a results directory, anything else): only an earlier baseline is replaced."""
    try:
        _refuse_replacing(run, directory, target)
    except OSError as exc:
        raise ConfigError(f"cannot use {target}: {exc.strerror}", field="--dir") from None


def _refuse_replacing(run: Path, directory: Path, target: Path) -> None:
    source, where, replaced = run.resolve(), directory.resolve(), target.resolve()
    if replaced == source or replaced in source.parents:
        raise ConfigError(
            f"{target} is (or holds) the run being stored; choose another --name or --dir",
            field="--name",
        )
    if where == source or source in where.parents:
        raise ConfigError(f"{directory} lies inside the run being stored", field="--dir")
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise ConfigError(f"{target} exists and is not a baseline directory", field="--name")
    if target.is_dir() and any(target.iterdir()) and not (target / "manifest.json").is_file():
        raise ConfigError(
            f"{target} exists and is not a stored run (no manifest.json); refusing to replace "
            "it: choose another --name or --dir",
            field="--name",
        )


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
    experiment = loaded.manifest.get("experiment")
    name = name or (experiment.get("name") if isinstance(experiment, dict) else None) or loaded.kind
    if not isinstance(name, str) or not name or "/" in name or name.startswith("."):
        raise ConfigError(f"not a usable baseline name: {name!r}", field="--name")
    if len(f".{name}.new".encode()) > MAX_NAME_BYTES:  # the staging name must fit too
        raise ConfigError(
            f"longer than {MAX_NAME_BYTES - 5} bytes: {name[:40]!r}...", field="--name"
        )
    target = directory / name
    staging = directory / f".{name}.new"
    refuse_replacing(run, directory, target)
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
