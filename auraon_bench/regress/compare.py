"""Compare a current run with a baseline: are they comparable, are they valid, what changed.

Comparable: the same kind of run; for experiment runs the same experiment file (sha256); the
same target (both simulated at the same emulator time scale and plan, or the same base URL);
the same parts; each evaluation on the same datasets and sample. Valid: both complete, and no
part's load generator fell behind its schedule (the figures would measure the client). A run
that is not comparable is refused unless forced; an invalid run is always refused.

Checks per matched part and arm (both runs have it), on the non-warm-up attempts:
TTFT p50 and p95, latency p50 and p95, TPOT p50, gateway overhead p50, throughput (load parts),
error share and 429 share, cost per request; for evaluations accuracy (paired on prompts) and
cost per correct answer; for auto arms the routing mix. Methods: :mod:`~auraon_bench.analysis.
regression`.

The figures compared are the parts' own, as their ``summary.json`` and ``evaluation.json`` state
them (percentiles, error and 429 counts, cost per request, cost per correct answer); the records
only give the tests their samples. What no result file holds is computed from the records:
completions per second (throughput), means over the prompts both runs answered (an evaluation's
paired cost and accuracy, on the evaluation's own rows) and auto's routing mix.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from auraon_bench.analysis import regression as rg
from auraon_bench.analysis.accounting import ErrorSummary
from auraon_bench.analysis.quality import CostRow, graded_records
from auraon_bench.analysis.records import (
    column,
    gateway_overhead,
    latency_column,
    ok_mask,
    tpot_column,
    ttft_column,
    warmup_mask,
)
from auraon_bench.errors import AuraonBenchError
from auraon_bench.eval.report import is_auto
from auraon_bench.experiment.schema import REGRESS_DEFAULTS
from auraon_bench.results.run import Part, Run

THROUGHPUT_BIN_S = 1.0


class RegressInputError(AuraonBenchError):
    """The runs cannot be compared (exit code 2); the message says why."""


@dataclass
class Comparison:
    baseline: Run
    current: Run
    thresholds: dict[str, float]
    checks: list[rg.Check] = field(default_factory=list)
    not_comparable: list[str] = field(default_factory=list)  # reasons, when forced anyway

    @property
    def regressions(self) -> list[rg.Check]:
        return [c for c in self.checks if c.verdict == "regression"]

    @property
    def improvements(self) -> list[rg.Check]:
        return [c for c in self.checks if c.verdict == "improvement"]

    def counts(self) -> dict[str, int]:
        return {v: sum(c.verdict == v for c in self.checks) for v in rg.VERDICTS}


def thresholds_for(current: Run, override: Mapping[str, float] | None = None) -> dict[str, float]:
    """Documented defaults, then the experiment file's [regress] table, then ``override``."""
    merged = dict(REGRESS_DEFAULTS)
    merged.update((current.manifest.get("experiment") or {}).get("regress") or {})
    merged.update(override or {})
    return merged


def _target_key(run: Run) -> tuple[Any, ...]:
    target = run.manifest.get("target") or (
        run.parts[0].manifest.get("target") if run.parts else {}
    )
    target = target or {}
    if target.get("simulated"):
        return ("emulator", target.get("emulator_time_scale"), target.get("emulator_plan"))
    return ("url", target.get("base_url"))


def _datasets(part: Part) -> tuple[Any, ...]:
    options = part.options
    names = tuple(Path(str(d)).name for d in options.get("datasets") or ())
    return names, options.get("items_per_dataset"), options.get("repeat")


def comparability(baseline: Run, current: Run) -> list[str]:
    reasons = []
    if baseline.kind != current.kind:
        reasons.append(f"different kinds of run: {baseline.kind} and {current.kind}")
    sha = [(r.manifest.get("experiment") or {}).get("sha256") for r in (baseline, current)]
    if sha[0] != sha[1]:
        reasons.append(
            f"different experiment files (sha256 {str(sha[0])[:12]} and {str(sha[1])[:12]})"
        )
    if _target_key(baseline) != _target_key(current):
        reasons.append(f"different targets: {_target_key(baseline)} and {_target_key(current)}")
    names = [{p.name for p in r.parts} for r in (baseline, current)]
    if baseline.kind == "experiment" and names[0] != names[1]:
        reasons.append(f"different parts: {sorted(names[0])} and {sorted(names[1])}")
    for base, cur in matched(baseline, current):
        if base.kind == "eval" and _datasets(base) != _datasets(cur):
            reasons.append(f"part {cur.name}: different datasets or samples")
    return reasons


def validity(run: Run, role: str) -> list[str]:
    problems = [f"{role} run {run.run_id}: {p}" for p in run.problems]
    for part in run.parts:
        check = part.manifest.get("self_check") or {}
        if check.get("client_bound"):
            problems.append(
                f"{role} run {run.run_id}, part {part.name}: the load generator could not keep "
                "its schedule, so its figures measure the client"
            )
    return problems


def matched(baseline: Run, current: Run) -> list[tuple[Part, Part]]:
    if baseline.kind != "experiment" and current.kind != "experiment":
        return list(zip(baseline.parts, current.parts, strict=False))
    by_name = {p.name: p for p in baseline.parts}
    return [(by_name[p.name], p) for p in current.parts if p.name in by_name]


def _arm(df: pd.DataFrame, arm: str) -> pd.DataFrame:
    measured = df.loc[~warmup_mask(df)]
    return measured.loc[measured["arm"].astype("string") == arm]


def _throughput_bins(df: pd.DataFrame) -> np.ndarray:
    done = column(df.loc[ok_mask(df)], "t_done")
    sent = column(df, "t_sent")
    if not np.isfinite(done).any() or not np.isfinite(sent).any():
        return np.array([])
    start, end = np.nanmin(sent), np.nanmax(done)
    edges = np.arange(start, end + THROUGHPUT_BIN_S, THROUGHPUT_BIN_S)
    if edges.size < 3:
        return np.array([])
    counts, _ = np.histogram(done[np.isfinite(done)], bins=edges)
    return counts[:-1] / THROUGHPUT_BIN_S  # the last bin is partly covered


# (check name, summary field, samples of the arm's ok attempts, percentile)
PERCENTILE_CHECKS = (
    ("TTFT p50", "ttft_s", ttft_column, 50), ("TTFT p95", "ttft_s", ttft_column, 95),
    ("latency p50", "latency_s", latency_column, 50),
    ("latency p95", "latency_s", latency_column, 95),
    ("TPOT p50", "tpot_s", tpot_column, 50),
    ("gateway overhead p50", "gateway_overhead_s", gateway_overhead, 50),
)  # fmt: skip


def _failed(errors: ErrorSummary) -> int:
    """Failed attempts, 429s not counted (the SLO check's and the history's error rate)."""
    return errors.failed


def _limited(errors: ErrorSummary) -> int:
    return errors.rate_limited


def part_checks(base: Part, cur: Part, t: Mapping[str, float]) -> list[rg.Check]:
    """Every check of the arms both parts have. The figures are the parts' own (their
    :class:`~auraon_bench.analysis.load_summary.RunSummary` and, for an evaluation, its
    :class:`~auraon_bench.eval.report.EvalReport`); the records give the tests their samples."""
    checks: list[rg.Check] = []
    min_n = int(t["min_samples"])
    lat, tput = t["latency_ratio"], 1 / t["throughput_ratio"]
    base_arms = {str(a.arm): a for a in base.load_summary.arms}
    cur_arms = {str(a.arm): a for a in cur.load_summary.arms}
    for arm in [name for name in cur_arms if name in base_arms]:
        sa, sb = base_arms[arm], cur_arms[arm]
        a, b = _arm(base.records, arm), _arm(cur.records, arm)
        a_ok, b_ok = a.loc[ok_mask(a)], b.loc[ok_mask(b)]
        for metric, name, fn, pct in PERCENTILE_CHECKS:
            checks.append(
                rg.samples_check(
                    cur.name,
                    arm,
                    metric,
                    "s",
                    fn(a_ok),
                    fn(b_ok),
                    percentile=pct,
                    threshold=lat,
                    min_delta=t["latency_min_delta_s"],
                    min_samples=min_n,
                    held=(getattr(sa, name), getattr(sb, name)),
                )
            )
        if cur.kind == "load":
            checks.append(
                rg.samples_check(
                    cur.name,
                    arm,
                    "throughput",
                    "req/s",
                    _throughput_bins(a),
                    _throughput_bins(b),
                    percentile=50,
                    threshold=tput,
                    worse_when="lower",
                    min_samples=min(min_n, 5),
                )
            )
        for metric, hits in (("error share", _failed), ("429 share", _limited)):
            checks.append(
                rg.proportion_check(
                    cur.name,
                    arm,
                    metric,
                    hits(sa.errors),
                    sa.errors.judged,  # cancelled attempts had no outcome to count
                    hits(sb.errors),
                    sb.errors.judged,
                    threshold=t["error_rate_increase"],
                    min_samples=min_n,
                )
            )
        if cur.kind == "eval":
            checks += _eval_checks(base, cur, arm, a, b, t)
        else:
            checks.append(
                rg.mean_ratio_check(
                    cur.name,
                    arm,
                    "cost per request",
                    "USD",
                    column(a_ok, "cost_usd"),
                    column(b_ok, "cost_usd"),
                    threshold=t["cost_ratio"],
                    min_samples=min_n,
                    held=(sa.cost.per_request_usd, sb.cost.per_request_usd),
                )
            )
        if is_auto(arm):
            checks.append(
                rg.mix_check(
                    cur.name,
                    arm,
                    _mix(a_ok),
                    _mix(b_ok),
                    threshold=t["routing_shift"],
                    min_samples=min_n,
                )
            )
    return checks


def _eval_checks(
    base: Part, cur: Part, arm: str, a: pd.DataFrame, b: pd.DataFrame, t: Mapping[str, float]
) -> list[rg.Check]:
    """Cost per request paired on prompts, accuracy paired on prompts, cost per correct answer.

    Rows are the evaluation's own (:func:`~auraon_bench.analysis.quality.graded_records`: a
    failed answer is wrong, an ungraded one left out), keyed by prompt and repeat."""
    min_n = int(t["min_samples"])
    ga, gb = graded_records(a), graded_records(b)
    # The same prompts in both runs: compare their costs prompt by prompt.
    cost_a, cost_b = _paired(ga.loc[~ga["failed"]], gb.loc[~gb["failed"]], "cost")
    checks = [
        rg.mean_ratio_check(
            cur.name,
            arm,
            "cost per request",
            "USD",
            cost_a,
            cost_b,
            threshold=t["cost_ratio"],
            min_samples=min_n,
            paired=True,
        ),
        rg.paired_accuracy_check(
            cur.name, arm, _graded(ga), _graded(gb), threshold=t["accuracy_drop"],
            min_samples=min_n,
        ),
    ]  # fmt: skip
    ca, cb = (_cost_row(p, arm) for p in (base, cur))
    checks.append(
        rg.cost_per_correct_check(
            cur.name,
            arm,
            ga["cost"].to_numpy(),
            (ga["correct_value"] == 1.0).to_numpy(dtype=float),
            gb["cost"].to_numpy(),
            (gb["correct_value"] == 1.0).to_numpy(dtype=float),
            threshold=t["cost_ratio"],
            min_samples=min_n,
            held=(ca.per_correct_usd if ca else None, cb.per_correct_usd if cb else None),
        )
    )
    return checks


def _cost_row(part: Part, arm: str) -> CostRow | None:
    return part.evaluation.cost.rows.get(arm) if part.evaluation is not None else None


def _keys(rows: pd.DataFrame) -> np.ndarray:
    """Each graded row's prompt key (prompt id and repeat number), for pairing two runs' rows."""
    repeat = rows["rep"].fillna(-1).astype("int64").astype(str)
    return (rows["prompt_id"].astype(str) + "#" + repeat).to_numpy()


def _graded(rows: pd.DataFrame) -> dict[tuple[str, int], bool]:
    """Each graded answer by (prompt id, repeat): the prompt is the test's cluster."""
    graded = rows.loc[rows["correct_value"].notna()]
    keys = zip(
        graded["prompt_id"].astype(str), graded["rep"].fillna(-1).astype("int64"), strict=True
    )
    return dict(zip(keys, (graded["correct_value"] == 1.0).tolist(), strict=True))


def _paired(a: pd.DataFrame, b: pd.DataFrame, name: str) -> tuple[np.ndarray, np.ndarray]:
    left = pd.Series(a[name].to_numpy(dtype=float), index=_keys(a))
    right = pd.Series(b[name].to_numpy(dtype=float), index=_keys(b))
    common = left.index.intersection(right.index)
    return left.loc[common].to_numpy(), right.loc[common].to_numpy()


def _mix(df: pd.DataFrame) -> dict[str, int]:
    if "routed_to" not in df:
        return {}
    counts = df["routed_to"].astype("string").dropna().value_counts()
    return {str(k): int(v) for k, v in counts.items()}


def compare_runs(
    baseline: Run,
    current: Run,
    *,
    thresholds: Mapping[str, float] | None = None,
    force: bool = False,
) -> Comparison:
    """All checks with their verdicts; ``RegressInputError`` for invalid or (unless forced)
    incomparable runs."""
    problems = validity(baseline, "baseline") + validity(current, "current")
    if problems:
        raise RegressInputError("invalid run: " + "; ".join(problems))
    reasons = comparability(baseline, current)
    if reasons and not force:
        raise RegressInputError(
            "runs are not comparable: " + "; ".join(reasons) + " (--force compares them anyway)"
        )
    merged = thresholds_for(current, thresholds)
    checks: list[rg.Check] = []
    for base, cur in matched(baseline, current):
        if cur.kind == "limits" or base.kind != cur.kind:
            continue
        checks += part_checks(base, cur, merged)
    decided = rg.decide(checks, merged["alpha"])
    return Comparison(baseline, current, merged, decided, reasons)
