"""Several runs side by side: which parts correspond, and their differences with CIs.

Parts are matched by name when the runs are experiments (``eval`` with ``eval``, ``steady`` with
``steady``); runs of a single part each (``load``, ``eval``) are compared with one another. The
first run given is the baseline; every other run is compared with it, arm by arm, with the
bootstrap intervals of :mod:`auraon_bench.analysis.compare`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from auraon_bench.analysis.compare import Difference, difference_ci, percentile_statistic
from auraon_bench.analysis.quality import graded_records, prompt_table
from auraon_bench.analysis.records import (
    column,
    latency_column,
    ok_mask,
    tpot_column,
    ttft_column,
    warmup_mask,
)
from auraon_bench.report.tables import (
    Column,
    Table,
    arm_names,
    fmt_int,
    fmt_ms,
    fmt_pct,
    fmt_s,
    fmt_usd,
)
from auraon_bench.results.run import Part, Run

Source = tuple[str, Part]  # (run label, part)


@dataclass(frozen=True)
class Metric:
    name: str  # with its unit
    samples: Callable[[pd.DataFrame], np.ndarray]  # from one arm's records
    statistic: Callable[..., object]
    fmt: Callable[[object], str]


def _ok(df: pd.DataFrame) -> pd.DataFrame:
    return df.loc[ok_mask(df) & ~warmup_mask(df)]


def _measured(df: pd.DataFrame) -> pd.DataFrame:
    return df.loc[~warmup_mask(df)]


def _graded(df: pd.DataFrame) -> np.ndarray:
    """Per-prompt accuracy as the evaluation defines it (failed answers wrong, repeats
    averaged per prompt), so the comparison's mean is the evaluation's accuracy."""
    if "correct" not in df or "prompt_id" not in df or not df["correct"].notna().any():
        return np.array([])  # nothing was graded: a load test has no accuracy
    values = prompt_table(graded_records(df))["correct_value"].to_numpy(dtype=float)
    return values[np.isfinite(values)]


P50, P95 = percentile_statistic(50), percentile_statistic(95)
METRICS = (
    Metric("TTFT p50 (ms)", lambda df: ttft_column(_ok(df)), P50, fmt_ms),
    Metric("TPOT p50 (ms)", lambda df: tpot_column(_ok(df)), P50, fmt_ms),
    Metric("latency p50 (s)", lambda df: latency_column(_ok(df)), P50, fmt_s),
    Metric("latency p95 (s)", lambda df: latency_column(_ok(df)), P95, fmt_s),
    Metric(
        "429 share (%)",
        lambda df: (_measured(df)["status"].astype("string") == "rate_limited").to_numpy(
            dtype=float, na_value=0.0
        ),
        np.mean,
        fmt_pct,
    ),
    Metric("cost per request (USD)", lambda df: column(_ok(df), "cost_usd"), np.mean, fmt_usd),
    Metric("accuracy (%)", _graded, np.mean, fmt_pct),
)


def matched_parts(runs: Sequence[Run]) -> list[tuple[str, list[Source]]]:
    """Groups of corresponding parts, each with one (run label, part) per run that has it."""
    if all(len(r.parts) == 1 and r.kind != "experiment" for r in runs):
        return [(runs[0].parts[0].kind, [(r.label, r.parts[0]) for r in runs])]
    names = list(dict.fromkeys(p.name for r in runs for p in r.parts))
    groups = []
    for name in names:
        sources = [(r.label, p) for r in runs for p in r.parts if p.name == name]
        groups.append((name, sources))
    return groups


def differences(
    baseline: pd.DataFrame, current: pd.DataFrame, arm: str, seed: int = 0
) -> list[tuple[Metric, Difference]]:
    a = baseline.loc[baseline["arm"].astype("string") == arm]
    b = current.loc[current["arm"].astype("string") == arm]
    out = []
    for metric in METRICS:
        diff = difference_ci(metric.samples(a), metric.samples(b), metric.statistic, seed=seed)
        if diff.n_baseline or diff.n_current:
            out.append((metric, diff))
    return out


def comparison_table(group: str, sources: Sequence[Source]) -> Table | None:
    """Every later run against the first, per arm both have, per metric."""
    if len(sources) < 2:
        return None
    base_label, base = sources[0]
    rows = []
    for label, part in sources[1:]:
        arms = [a for a in arm_names(base) if a in set(arm_names(part))]
        for arm in arms:
            for metric, d in differences(base.records, part.records, arm):
                ci = (
                    "-"
                    if d.ci_low is None
                    else f"[{metric.fmt(d.ci_low)}, {metric.fmt(d.ci_high)}]"
                )
                rows.append(
                    (
                        arm,
                        metric.name,
                        label,
                        metric.fmt(d.baseline),
                        metric.fmt(d.current),
                        metric.fmt(d.difference),
                        ci,
                        d.n_baseline,
                        d.n_current,
                        "yes" if d.excludes_zero else "no",
                    )
                )
    if not rows:
        return None
    columns = (
        Column("arm", numeric=False),
        Column("metric (unit)", numeric=False),
        Column("run", numeric=False),
        Column("baseline", numeric=False),
        Column("this run", numeric=False),
        Column("difference", numeric=False),
        Column("95% CI of difference", numeric=False),
        Column("n baseline", fmt_int),
        Column("n this run", fmt_int),
        Column("CI excludes 0", numeric=False),
    )
    note = (
        f"baseline: {base_label}; difference = this run - baseline, independent two-sample "
        "percentile bootstrap (2,000 resamples); no CI below 5 samples a side"
    )
    key = f"compare-{group}".replace(".", "_").replace(":", "_")
    return Table(key, f"Comparison with the baseline: {group}", columns, tuple(rows), note)
