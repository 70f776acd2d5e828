"""Every run under a results directory, read from its own files into two tables.

``read_history(root)`` walks ``root`` for run directories (a directory with a ``manifest.json``),
reads each with :func:`~auraon_bench.results.run.read_run` and returns a :class:`History`:

* ``runs``: one row per run (id, start time, experiment, status, target, parts, arms);
* ``index``: one row per (run, part, arm) with the headline metrics of :data:`METRICS`, each
  read from the part's own :class:`~auraon_bench.analysis.load_summary.RunSummary` (or, for
  accuracy, its :class:`~auraon_bench.eval.report.EvalReport`) as the file states it (a part
  cut short before writing ``summary.json`` has it computed once from its records, by
  :attr:`~auraon_bench.results.run.Part.load_summary`);
* ``unreadable``: ``(path, one-line reason)`` of every run directory that could not be read.

The walk does not enter a run directory: an experiment's parts are read through its manifest,
and anything else inside a run (``report/``, ``requests.parts/``) is not a run of its own. Runs
are ordered by the manifest's ``created_utc``; ``order`` is a run's position in that order.

A standalone ``load`` or ``eval`` run names its single part after its directory, which differs
from run to run; so that such runs line up into a series, their part is called by its kind.

Simulated is a property of each run, read from its own manifest (the built-in emulator marks its
target ``simulated``): a results directory can hold emulator runs beside runs against a real
gateway (Auraon, a LiteLLM proxy), and only the former are labelled SIMULATED.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from auraon_bench.errors import ConfigError
from auraon_bench.results.labels import simulated_label
from auraon_bench.results.layout import MANIFEST_FILE
from auraon_bench.results.run import Part, Run, read_run

if TYPE_CHECKING:
    from auraon_bench.analysis.load_summary import ArmSummary
    from auraon_bench.eval.report import EvalReport

REPORT_DIR = "report"


@dataclass(frozen=True)
class Metric:
    """A column of the index, and how people read it: ``value * scale`` in ``unit``."""

    name: str
    label: str
    unit: str
    scale: float = 1.0

    def display(self, value: float) -> str:
        return f"{value * self.scale:.4g} {self.unit}"


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("ttft_p50_s", "TTFT p50", "ms", 1000.0),
        Metric("ttft_p95_s", "TTFT p95", "ms", 1000.0),
        Metric("latency_p50_s", "latency p50", "s"),
        Metric("latency_p95_s", "latency p95", "s"),
        Metric("tpot_p50_s", "TPOT p50", "ms", 1000.0),
        Metric("throughput_rps", "throughput", "req/s"),
        Metric("error_rate", "error rate excl. 429s", "%", 100.0),
        Metric("rate_limited_rate", "429 rate", "%", 100.0),
        # Per-request costs are fractions of a cent: per 1,000 requests reads as the
        # report's cost chart does.
        Metric("cost_per_request_usd", "cost per 1,000 requests", "USD", 1000.0),
        Metric("accuracy", "accuracy", "%", 100.0),
    )
}
DEFAULT_METRICS = ("latency_p95_s", "ttft_p50_s", "cost_per_request_usd", "accuracy", "error_rate")

RUN_COLUMNS = (
    "order", "run_id", "created_utc", "experiment", "experiment_sha256", "kind", "status",
    "simulated", "twin_of", "target", "parts", "arms", "path",
)  # fmt: skip
INDEX_COLUMNS = (
    "order", "run_id", "created_utc", "experiment", "experiment_sha256", "kind", "part", "arm",
    "status", "simulated", *METRICS, "n", "path",
)  # fmt: skip


@dataclass(frozen=True)
class History:
    root: Path
    runs: pd.DataFrame  # RUN_COLUMNS, one row per run, in run order
    index: pd.DataFrame  # INDEX_COLUMNS, one row per (run, part, arm)
    unreadable: tuple[tuple[Path, str], ...] = ()

    @property
    def simulated(self) -> bool:
        """Every run came from the built-in emulator (and there is at least one)."""
        return bool(len(self.runs)) and bool(self.runs["simulated"].all())

    @property
    def n_simulated(self) -> int:
        """How many of the runs came from the built-in emulator."""
        return int(self.runs["simulated"].sum())

    @property
    def twins_of(self) -> tuple[str, ...]:
        """The runs that simulated runs here were twins of (``emulator fit``), in run order."""
        values = self.runs.loc[self.runs["simulated"].astype(bool), "twin_of"].dropna()
        return tuple(dict.fromkeys(str(v) for v in values))

    @property
    def simulated_label(self) -> str:
        """``" (SIMULATED)"`` when every run is, ``" (3 of 12 SIMULATED)"`` when some are, else
        "": a summary line must not call runs against a real gateway simulated."""
        if self.simulated:
            return " (SIMULATED)"
        if self.n_simulated:
            return f" ({self.n_simulated} of {len(self.runs)} SIMULATED)"
        return ""

    @property
    def mixed(self) -> bool:
        """Runs of several experiments (or experiments and standalone runs) are indexed, so
        series labels must name the experiment."""
        return self.index["experiment"].nunique(dropna=False) > 1

    @property
    def experiments(self) -> list[str]:
        return sorted(self.runs["experiment"].dropna().unique())

    def select(self, experiment: str) -> History:
        """Only the runs of experiment ``experiment``, renumbered; ConfigError if it has none."""
        runs = self.runs[self.runs["experiment"].eq(experiment).fillna(False)]
        if runs.empty:
            known = ", ".join(self.experiments) or "none"
            raise ConfigError(
                f"no run of experiment {experiment!r} under {self.root} (experiments: {known})",
                field="--experiment",
            )
        runs = _renumber(runs)
        index = self.index[self.index["path"].isin(runs["path"])]
        return replace(self, runs=runs, index=_renumber(index, runs))


def find_run_dirs(root: Path | str) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Run directories under ``root`` (``root`` itself included), sorted; and the directories
    the walk could not list, with the reason."""
    found: list[Path] = []
    failed: list[tuple[Path, str]] = []

    def failed_listing(exc: OSError) -> None:
        failed.append((Path(exc.filename or root), f"cannot list directory: {exc.strerror}"))

    for current, dirs, files in os.walk(root, onerror=failed_listing):
        if MANIFEST_FILE in files:
            found.append(Path(current))
            dirs.clear()
            continue
        # Reports hold no runs; hidden directories are tools' (.git) or writes in progress.
        dirs[:] = sorted(d for d in dirs if d != REPORT_DIR and not d.startswith("."))
    return sorted(found), failed


def read_history(root: Path | str) -> History:
    """Read every run under ``root``; ConfigError only if ``root`` is not a directory."""
    root = Path(root)
    if not root.is_dir():
        raise ConfigError("no such results directory", source=str(root))
    run_dirs, unreadable = find_run_dirs(root)
    runs, rows = [], []
    for path in run_dirs:
        try:
            run = read_run(path)
            run_rows = [row for part in run.parts for row in part_rows(run, part)]
            summary = run_row(run, run_rows)
        # A results directory holds whatever past versions and crashes left there: one bad
        # run must be listed, not stop the history of all the others.
        except Exception as exc:
            unreadable.append((path, _one_line(exc)))
            continue
        runs.append(summary)
        rows += run_rows
    runs_frame = _renumber(_sorted(pd.DataFrame(runs, columns=list(RUN_COLUMNS[1:]))))
    index = pd.DataFrame(rows, columns=list(INDEX_COLUMNS[1:]))
    numeric = {m: "float64" for m in (*METRICS, "n")}
    index = index.astype({"created_utc": "datetime64[ns, UTC]", **numeric})
    return History(root, runs_frame, _renumber(index, runs_frame), tuple(unreadable))


def run_row(run: Run, rows: list[dict[str, Any]]) -> dict[str, Any]:
    experiment = run.manifest.get("experiment") or {}
    return {
        "run_id": run.run_id,
        "created_utc": _timestamp(run.manifest.get("created_utc")),
        "experiment": experiment.get("name"),
        "experiment_sha256": experiment.get("sha256"),
        "kind": run.kind,
        "status": run.status,
        "simulated": run.simulated,
        "twin_of": run.twin_of,
        # A twin's runs name it: SIMULATED (twin of RUN-ID), not the emulator's loopback URL.
        "target": (
            simulated_label(run.twin_of)
            if run.twin_of
            else (run.manifest.get("target") or {}).get("base_url")
        ),
        "parts": ", ".join(part_name(run, p) for p in run.parts),
        "arms": ", ".join(dict.fromkeys(r["arm"] for r in rows)),
        "path": str(run.path),
    }


def part_name(run: Run, part: Part) -> str:
    """The part's name in an experiment; its kind in a standalone run (see the docstring)."""
    return part.name if run.kind == "experiment" else part.kind


def metrics_named(names: Iterable[str]) -> list[Metric]:
    """The :data:`METRICS` called ``names`` (commas split), in order; ConfigError if unknown."""
    wanted = [n.strip() for name in names for n in name.split(",") if n.strip()]
    unknown = [n for n in wanted if n not in METRICS]
    if unknown:
        raise ConfigError(
            f"unknown metric {unknown[0]!r} (known: {', '.join(METRICS)})", field="--metric"
        )
    return [METRICS[n] for n in dict.fromkeys(wanted or DEFAULT_METRICS)]


def part_rows(run: Run, part: Part) -> list[dict[str, Any]]:
    """One row per arm of ``part``: the arms of its summary, then any only graded."""
    summary_arms = {str(a.arm): a for a in part.load_summary.arms}
    accuracy = arm_accuracy(part.evaluation)
    experiment = run.manifest.get("experiment") or {}
    common = {
        "run_id": run.run_id,
        "created_utc": _timestamp(run.manifest.get("created_utc")),
        "experiment": experiment.get("name"),
        "experiment_sha256": experiment.get("sha256"),
        "kind": part.kind,
        "part": part_name(run, part),
        "status": part.status,
        "simulated": run.simulated,
        "path": str(run.path),
    }
    arms = list(dict.fromkeys([*summary_arms, *accuracy]))
    return [
        {**common, "arm": arm, **arm_metrics(summary_arms.get(arm), accuracy.get(arm))}
        for arm in arms
    ]


def arm_accuracy(evaluation: EvalReport | None) -> dict[str, float | None]:
    """Each arm's accuracy as the evaluation states it (its by-arm table); empty without one."""
    if evaluation is None:
        return {}
    return {
        str(row.arm): row.accuracy
        for row in evaluation.accuracy.rows
        if row.arm is not None and row.category is None
    }


def arm_metrics(s: ArmSummary | None, accuracy: float | None) -> dict[str, float | None]:
    """The :data:`METRICS` of one arm's summary, as it states them (None where it has none:
    an arm only graded has no summary)."""
    if s is None:
        return {**dict.fromkeys(METRICS), "accuracy": accuracy, "n": None}
    errors = s.errors
    return {
        "ttft_p50_s": s.ttft_s.p50,
        "ttft_p95_s": s.ttft_s.p95,
        "latency_p50_s": s.latency_s.p50,
        "latency_p95_s": s.latency_s.p95,
        "tpot_p50_s": s.tpot_s.p50,
        "throughput_rps": s.request_throughput,
        "error_rate": errors.error_rate,
        "rate_limited_rate": errors.rate_limited_rate,
        "cost_per_request_usd": s.cost.per_request_usd,
        "accuracy": accuracy,
        "n": s.latency_s.n,
    }


@dataclass(frozen=True)
class SeriesKey:
    experiment: str | None
    part: str
    arm: str

    def label(self, with_experiment: bool = False) -> str:
        head = (
            f"{self.experiment}/{self.part}" if with_experiment and self.experiment else self.part
        )
        return f"{head}/{self.arm}"


def iter_series(index: pd.DataFrame, metric: str) -> Iterator[tuple[SeriesKey, pd.DataFrame]]:
    """One frame per (experiment, part, arm) with a value of ``metric``, in run order:
    ``order``, ``run_id``, ``created_utc``, ``experiment_sha256``, ``simulated`` and ``value``."""
    rows = index.dropna(subset=[metric])
    keys = ["experiment", "part", "arm"]
    for (experiment, part, arm), frame in rows.groupby(keys, dropna=False, sort=True):
        key = SeriesKey(None if pd.isna(experiment) else str(experiment), str(part), str(arm))
        columns = ["order", "run_id", "created_utc", "experiment_sha256", "simulated", metric]
        out = frame.sort_values("order")[columns].rename(columns={metric: "value"})
        yield key, out.reset_index(drop=True)


def _timestamp(value: Any) -> pd.Timestamp:
    return pd.to_datetime(value, utc=True, errors="coerce")


def _sorted(runs: pd.DataFrame) -> pd.DataFrame:
    runs = runs.astype({"created_utc": "datetime64[ns, UTC]"})
    # NaT last: a run without a start time goes after the dated ones rather than first.
    runs = runs.sort_values(["created_utc", "run_id", "path"], na_position="last", kind="stable")
    return runs.reset_index(drop=True)


def _renumber(frame: pd.DataFrame, runs: pd.DataFrame | None = None) -> pd.DataFrame:
    """``order`` = position of the row's run (by path) in ``runs``, or of the row itself."""
    frame = frame.drop(columns="order", errors="ignore").reset_index(drop=True)
    if runs is None:
        order = pd.Series(range(len(frame)), dtype="int64")
    else:
        order = frame["path"].map({path: i for i, path in enumerate(runs["path"])})
    frame.insert(0, "order", order.astype("int64"))
    return frame.sort_values("order", kind="stable").reset_index(drop=True)


def _one_line(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return text if isinstance(exc, ConfigError) else f"{type(exc).__name__}: {text}"
