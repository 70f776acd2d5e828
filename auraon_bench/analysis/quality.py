"""Quality, cost and paired comparisons of graded evaluation records (pure functions).

Input: an evaluation's records after grading, one row per attempt: ``arm``, ``prompt_id``,
``category``, ``status``, ``correct`` (nullable bool), ``score`` (0..1), ``cost_usd``,
``latency_s``, ``ttft_s``, ``routed_to``, optional ``repeat``; missing columns read as empty.

Rows (:func:`graded_records`)
    Warm-up rows are dropped; with ``request_id`` and ``attempt`` only each request's last
    attempt is kept (evaluations do not retry: in practice every row); rows without ``arm`` or
    ``prompt_id`` are dropped. A failed row (``status != "ok"``) is incorrect with score 0 and
    stays in the denominator; an ok row with a null ``correct`` (``score``) is *ungraded* (e.g.
    awaiting a judge) and leaves that measure's denominator.

Unit: the prompt
    A prompt's value for an arm is the mean over its graded rows (its repeats), so ``correct``
    becomes a fraction. Accuracy = mean over the graded prompts, with the percentile bootstrap
    CI over prompts (:func:`.stats.bootstrap_ci`). failure rate = failed rows / rows.

Cost (per row = per request)
    per request = :func:`.accounting.cost_per_request` (mean ``cost_usd`` of ok rows with one,
    the load summary's definition); per 1k requests = 1000 x that; total = every row with a
    cost (billed failures included); per correct answer = total cost / correct rows (None if none).
    Latency and TTFT percentiles are over ok rows, with ``n``.

Paired comparison of a and b (the prompts both graded); every test is at the prompt level
    (``--repeat`` gives several rows per prompt and arm; they are not independent samples)
    difference = mean_p (Q_a(p) - Q_b(p)), CI by the paired cluster bootstrap over prompts (one
    draw of prompt indices resamples both arms and every repeat of a drawn prompt with it).
    Clustered exact McNemar: a_only / b_only = pairs (prompt, repeat) where only a / only b is
    correct; each prompt's discordance d_p = its a_only - b_only pairs. Under H0 (a and b
    exchangeable within a prompt) every d_p flips sign independently, as a whole: p = P(|sum_p
    e_p d_p| >= |a_only - b_only|) over the 2^n sign vectors e, computed exactly by convolving
    the per-magnitude binomials. With one pair per prompt (d_p = +-1) it is McNemar's exact
    binomial test, a_only ~ Bin(a_only + b_only, 1/2); 1.0 without discordant pairs. cost ratio
    = sum_p C_a(p) / sum_p C_b(p) over prompts with both costs, cluster-bootstrap CI. Versus a
    reference b: quality retained Q_a / Q_b, cost saved 1 - ratio (CI: 1 - the ratio's).
    Across fixed arms McNemar p-values get Holm's correction: sorted p_(1..m), adjusted p_(i) =
    max_{j <= i} min(1, (m - j + 1) p_(j)). ``method`` names these in every result.

Oracle (an upper bound of routing among the fixed arms)
    per prompt every fixed arm graded: the best quality, the cheapest among ties (unknown cost
    last, then the given order), ties of all-wrong included. Accuracy = mean best quality; cost
    = mean cost of the chosen arms.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace

import numpy as np
import pandas as pd
from scipy.stats import binom

from auraon_bench.analysis._json import jsonable
from auraon_bench.analysis.accounting import cost_per_request
from auraon_bench.analysis.records import column, measured
from auraon_bench.analysis.stats import Percentiles, bootstrap_ci, percentiles

__all__ = [
    "METRICS",
    "AccuracyRow",
    "AccuracyTable",
    "CostRow",
    "CostTable",
    "Oracle",
    "PairedComparison",
    "VersusAll",
    "accuracy_table",
    "clustered_mcnemar_p",
    "cost_table",
    "graded_records",
    "holm",
    "oracle",
    "paired_comparison",
    "prompt_table",
    "versus_all",
    "versus_reference",
]

# Quality measure -> its column in graded_records().
METRICS: dict[str, str] = {"correct": "correct_value", "score": "score_value"}
Interval = tuple[float | None, float | None]


class _Result:
    """Mixin of the frozen result dataclasses: ``to_dict()`` is every field, JSON-ready."""

    __slots__ = ()

    def to_dict(self) -> dict[str, object]:
        return jsonable({f.name: getattr(self, f.name) for f in fields(self)})  # type: ignore[arg-type]


def _metric_column(metric: str) -> str:
    if metric not in METRICS:
        raise ValueError(f"metric: one of {sorted(METRICS)}, got {metric!r}")
    return METRICS[metric]


def _opt(value: object) -> float | None:
    """A finite Python float, else None."""
    if value is None:
        return None
    v = float(value)  # type: ignore[arg-type]
    return v if np.isfinite(v) else None


def _strings(df: pd.DataFrame, name: str) -> pd.Series:
    if name not in df.columns:
        return pd.Series([None] * len(df), index=df.index, dtype=object)
    values = df[name].astype(object)
    return values.where(values.notna(), None)


def graded_records(df: pd.DataFrame) -> pd.DataFrame:
    """Normalised rows: ``arm, prompt_id, category, routed_to, failed, correct_value,
    score_value, cost, latency, ttft, rep`` (floats, NaN when missing; see the module doc)."""
    df = measured(df)
    if "status" in df.columns and len(df):
        # An attempt the run's own stop cut in flight has no answer to grade: it is no wrong
        # answer either (the prompt stays ungraded for that arm).
        df = df.loc[(df["status"].astype(object) != "cancelled").to_numpy(dtype=bool)]
    if {"request_id", "attempt"} <= set(df.columns) and len(df):
        keys = [c for c in ("run_id", "request_id") if c in df.columns]
        last = df.groupby(keys, dropna=False)["attempt"].transform("max")
        keep = df["request_id"].isna() | df["attempt"].isna() | (df["attempt"] == last)
        df = df.loc[keep.to_numpy(dtype=bool)]
    failed = np.zeros(len(df), dtype=bool)
    if "status" in df.columns:
        failed = np.array(df["status"].astype(object) != "ok", dtype=bool)
    out = pd.DataFrame(
        {
            **{name: _strings(df, name) for name in ("arm", "prompt_id", "category", "routed_to")},
            "failed": failed,
            "correct_value": np.where(failed, 0.0, column(df, "correct")),
            "score_value": np.where(failed, 0.0, column(df, "score")),
            "cost": column(df, "cost_usd"),
            "latency": column(df, "latency_s"),
            "ttft": column(df, "ttft_s"),
            "rep": column(df, "repeat"),
        },
        index=df.index,
    )
    out = out.loc[out["prompt_id"].notna().to_numpy() & out["arm"].notna().to_numpy()]
    if "repeat" not in df.columns:  # the n-th answer of an arm to a prompt is repeat n
        out["rep"] = out.groupby(["arm", "prompt_id"]).cumcount().astype(np.float64)
    return out.reset_index(drop=True)


def prompt_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Per (arm, prompt_id): means over the repeats of :func:`graded_records` rows."""
    return (
        rows.groupby(["arm", "prompt_id"], sort=True)
        .agg(
            category=("category", "first"),
            n_rows=("failed", "size"),
            failed=("failed", "mean"),
            correct_value=("correct_value", "mean"),
            score_value=("score_value", "mean"),
            cost=("cost", "mean"),
        )
        .reset_index()
    )


def _wide(table: pd.DataFrame, values: str, arms: Sequence[str]) -> pd.DataFrame:
    """Prompts x ``arms`` of one per-prompt column (NaN where an arm has no value)."""
    return table.pivot(index="prompt_id", columns="arm", values=values).reindex(columns=arms)


@dataclass(frozen=True, slots=True)
class AccuracyRow(_Result):
    arm: str | None  # None when the table is not by arm
    category: str | None  # None when not by category (or no category)
    n: int  # graded prompts
    n_rows: int  # records in the group
    ungraded: int  # prompts without a graded record
    correct: float  # sum of per-prompt correctness (a whole number without repeats)
    accuracy: float | None
    ci_low: float | None
    ci_high: float | None
    failure_rate: float | None
    mean_score: float | None


@dataclass(frozen=True, slots=True)
class AccuracyTable(_Result):
    by: tuple[str, ...]
    confidence: float
    rows: tuple[AccuracyRow, ...]

    def row(self, arm: str | None = None, category: str | None = None) -> AccuracyRow:
        """The row of ``arm`` and/or ``category`` (KeyError if absent)."""
        for r in self.rows:
            if (r.arm, r.category) == (arm, category):
                return r
        raise KeyError((arm, category))


def accuracy_table(
    df: pd.DataFrame,
    by: Sequence[str] = ("arm",),
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int | None = 0,
) -> AccuracyTable:
    """Accuracy with a bootstrap CI over prompts, failure rate and mean score per group."""
    by = tuple(by)
    if not by or not set(by) <= {"arm", "category"}:
        raise ValueError(f"by: a non-empty subset of ('arm', 'category'), got {by!r}")
    out = []
    for key, group in prompt_table(graded_records(df)).groupby(list(by), dropna=False):
        values = group["correct_value"].to_numpy()
        graded = values[np.isfinite(values)]
        low, high = bootstrap_ci(graded, np.mean, confidence, n_resamples, seed)
        n_rows = int(group["n_rows"].sum())
        names = dict(zip(by, (None if pd.isna(k) else str(k) for k in key), strict=True))
        out.append(
            AccuracyRow(
                arm=names.get("arm"),
                category=names.get("category"),
                n=int(graded.size),
                n_rows=n_rows,
                ungraded=int(values.size - graded.size),
                correct=float(graded.sum()),
                accuracy=float(graded.mean()) if graded.size else None,
                ci_low=_opt(low),
                ci_high=_opt(high),
                failure_rate=float((group["failed"] * group["n_rows"]).sum()) / n_rows,
                mean_score=_opt(group["score_value"].mean()),
            )
        )
    return AccuracyTable(by, confidence, tuple(out))


@dataclass(frozen=True, slots=True)
class CostRow(_Result):
    n_requests: int
    n_with_cost: int
    total_usd: float | None
    per_request_usd: float | None
    per_1k_requests_usd: float | None
    correct: int
    per_correct_usd: float | None
    latency_s: Percentiles  # ok rows
    ttft_s: Percentiles


@dataclass(frozen=True, slots=True)
class CostTable(_Result):
    rows: dict[str, CostRow]  # arm -> row


def cost_table(df: pd.DataFrame) -> CostTable:
    """Per arm: cost per request, per 1k requests and per correct answer; latency and TTFT."""
    out = {}
    for arm, group in graded_records(df).groupby("arm", sort=True):
        costs = group["cost"].to_numpy()
        costs = costs[np.isfinite(costs)]
        total = float(costs.sum()) if costs.size else None
        per_request = cost_per_request(
            group["cost"].to_numpy(dtype=float), ~group["failed"].to_numpy(dtype=bool)
        )
        correct = int((group["correct_value"] == 1.0).sum())
        ok = group.loc[~group["failed"]]
        out[str(arm)] = CostRow(
            n_requests=len(group),
            n_with_cost=int(costs.size),
            total_usd=total,
            per_request_usd=per_request,
            per_1k_requests_usd=None if per_request is None else 1000.0 * per_request,
            correct=correct,
            per_correct_usd=total / correct if total is not None and correct else None,
            latency_s=percentiles(ok["latency"]),
            ttft_s=percentiles(ok["ttft"]),
        )
    return CostTable(out)


PAIRED_METHOD = (
    "difference and cost ratio: percentile cluster bootstrap over prompts; McNemar: exact "
    "sign-flip test of a_only - b_only over prompts (clustered pairs; McNemar's exact binomial "
    "test with one pair per prompt)"
)


def clustered_mcnemar_p(discordance: Sequence[int] | np.ndarray) -> float:
    """Two-sided exact p of the clustered McNemar test (see the module docstring).

    ``discordance``: per prompt, the integer a_only - b_only of its paired repeats. The null
    distribution of sum_p e_p d_p (independent fair signs e_p) is that of 2U - T with
    U = sum_m m K_m, K_m ~ Bin(c_m, 1/2) for the c_m prompts of magnitude |d_p| = m and
    T = sum_p |d_p|; U's distribution is built by convolution (exact up to rounding).
    """
    d = np.abs(np.asarray(discordance, dtype=np.int64))
    d = d[d > 0]
    if not d.size:
        return 1.0
    observed = abs(int(np.asarray(discordance, dtype=np.int64).sum()))
    magnitudes, counts = np.unique(d, return_counts=True)
    total = int(d.sum())
    dist = np.zeros(total + 1)
    dist[0] = 1.0
    reach = 0  # the largest U reachable so far: bounds the shifted adds
    for m, c in zip(magnitudes.tolist(), counts.tolist(), strict=True):
        pmf = binom.pmf(np.arange(c + 1), c, 0.5)
        step = np.zeros_like(dist)
        for k in np.flatnonzero(pmf > 0):
            shift = m * int(k)
            step[shift : shift + reach + 1] += pmf[k] * dist[: reach + 1]
        dist, reach = step, reach + m * c
    s = np.abs(2 * np.arange(total + 1) - total)
    return float(min(1.0, dist[s >= observed].sum()))


@dataclass(frozen=True, slots=True)
class PairedComparison(_Result):
    arm_a: str
    arm_b: str  # the reference
    metric: str
    n_prompts: int
    quality_a: float | None
    quality_b: float | None
    difference: float | None  # quality_a - quality_b
    difference_ci: Interval
    quality_retained: float | None  # quality_a / quality_b
    n_pairs: int  # (prompt, repeat) pairs with a graded ``correct`` in both arms
    a_only: int  # pairs where only a is correct
    b_only: int
    discordant_prompts: int | None  # prompts whose a_only - b_only != 0 (None: version 1)
    mcnemar_p: float | None  # clustered exact McNemar (prompt level)
    n_cost_prompts: int
    cost_a: float | None  # mean per prompt over the prompts with a cost in both arms
    cost_b: float | None
    cost_ratio: float | None  # cost_a / cost_b
    cost_ratio_ci: Interval
    cost_saved: float | None  # 1 - cost_ratio
    cost_saved_ci: Interval
    method: str  # the tests used: PAIRED_METHOD
    mcnemar_p_holm: float | None = None  # set by versus_all, across the fixed arms


def _ratio_ci(
    num: np.ndarray, den: np.ndarray, confidence: float, n_resamples: int, seed: int | None
) -> Interval:
    """Paired bootstrap of sum(num) / sum(den): the resampled samples are prompt indices."""

    def ratio(idx: np.ndarray, axis: int = 1) -> np.ndarray:
        i = idx.astype(np.intp)
        d = den[i].sum(axis=axis)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(d > 0, num[i].sum(axis=axis) / d, np.nan)

    low, high = bootstrap_ci(np.arange(num.size), ratio, confidence, n_resamples, seed)
    return _opt(low), _opt(high)


def paired_comparison(
    df: pd.DataFrame,
    arm_a: str,
    arm_b: str,
    seed: int | None = 0,
    *,
    metric: str = "correct",
    confidence: float = 0.95,
    n_resamples: int = 2000,
) -> PairedComparison:
    """Paired difference with CI, McNemar and cost ratio of ``arm_a`` versus ``arm_b``."""
    rows = graded_records(df)
    rows = rows.loc[rows["arm"].isin([arm_a, arm_b])]
    table = prompt_table(rows)
    q = _wide(table, _metric_column(metric), [arm_a, arm_b]).dropna()
    qa, qb = q[arm_a].to_numpy(), q[arm_b].to_numpy()
    diff = qa - qb
    low, high = bootstrap_ci(diff, np.mean, confidence, n_resamples, seed)

    pairs = rows.loc[rows["correct_value"].notna()].pivot_table(
        index=["prompt_id", "rep"], columns="arm", values="correct_value", aggfunc="mean"
    )
    pairs = pairs.reindex(columns=[arm_a, arm_b]).dropna()
    a_wins = (pairs[arm_a] == 1.0) & (pairs[arm_b] == 0.0)
    b_wins = (pairs[arm_b] == 1.0) & (pairs[arm_a] == 0.0)
    a_only, b_only = int(a_wins.sum()), int(b_wins.sum())
    # A prompt's repeats share its difficulty: the prompt, not the pair, is the unit that flips.
    per_prompt = (a_wins.astype(np.int64) - b_wins.astype(np.int64)).groupby(level=0).sum()
    p = clustered_mcnemar_p(per_prompt.to_numpy())

    c = _wide(table, "cost", [arm_a, arm_b])
    c = c.loc[c.index.isin(q.index)].dropna()
    ca, cb = c[arm_a].to_numpy(), c[arm_b].to_numpy()
    ratio = float(ca.sum() / cb.sum()) if len(c) and cb.sum() > 0 else None
    r_low, r_high = (None, None)
    if ratio is not None:
        r_low, r_high = _ratio_ci(ca, cb, confidence, n_resamples, seed)
    mean_a, mean_b = (_opt(x.mean()) if x.size else None for x in (qa, qb))
    return PairedComparison(
        arm_a=arm_a,
        arm_b=arm_b,
        metric=metric,
        n_prompts=int(diff.size),
        quality_a=mean_a,
        quality_b=mean_b,
        difference=_opt(diff.mean()) if diff.size else None,
        difference_ci=(_opt(low), _opt(high)),
        quality_retained=mean_a / mean_b if mean_a is not None and mean_b else None,
        n_pairs=len(pairs),
        a_only=a_only,
        b_only=b_only,
        discordant_prompts=int((per_prompt != 0).sum()),
        mcnemar_p=p if len(pairs) else None,
        n_cost_prompts=len(c),
        cost_a=_opt(ca.mean()) if ca.size else None,
        cost_b=_opt(cb.mean()) if cb.size else None,
        cost_ratio=ratio,
        cost_ratio_ci=(r_low, r_high),
        cost_saved=None if ratio is None else 1.0 - ratio,
        cost_saved_ci=(
            None if r_high is None else 1 - r_high,
            None if r_low is None else 1 - r_low,
        ),
        method=PAIRED_METHOD,
    )


def holm(p_values: Mapping[str, float | None]) -> dict[str, float | None]:
    """Holm-Bonferroni adjusted p-values (same keys; a missing or NaN p-value maps to None)."""
    valid = {k: float(v) for k, v in p_values.items() if v is not None and np.isfinite(v)}
    order = sorted(valid, key=lambda k: valid[k])
    adjusted, running = {}, 0.0
    for i, key in enumerate(order):
        running = max(running, min(1.0, (len(order) - i) * valid[key]))
        adjusted[key] = running
    return {k: adjusted.get(k) for k in p_values}


def versus_reference(
    df: pd.DataFrame, auto_arm: str, reference_arm: str, seed: int | None = 0, **options: object
) -> PairedComparison:
    """Quality retained, cost saved, paired difference and McNemar (options: paired_comparison)."""
    return paired_comparison(df, auto_arm, reference_arm, seed, **options)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class VersusAll(_Result):
    auto_arm: str
    versus: dict[str, PairedComparison]  # fixed arm -> comparison (mcnemar_p_holm set)


def versus_all(
    df: pd.DataFrame,
    auto_arm: str,
    fixed_arms: Sequence[str],
    seed: int | None = 0,
    **options: object,
) -> VersusAll:
    """:func:`versus_reference` against each fixed arm, McNemar p-values Holm-corrected."""
    results = {arm: versus_reference(df, auto_arm, arm, seed, **options) for arm in fixed_arms}
    adjusted = holm({arm: v.mcnemar_p for arm, v in results.items()})
    return VersusAll(
        auto_arm, {a: replace(v, mcnemar_p_holm=adjusted[a]) for a, v in results.items()}
    )


@dataclass(frozen=True, slots=True)
class Oracle(_Result):
    arms: tuple[str, ...]
    metric: str
    n_prompts: int
    accuracy: float | None
    cost_per_request: float | None
    choice_counts: dict[str, int]
    choices: dict[str, str]  # prompt_id -> chosen arm


def oracle(df: pd.DataFrame, fixed_arms: Sequence[str], metric: str = "correct") -> Oracle:
    """Per prompt the best fixed arm, the cheapest among ties (see the module docstring)."""
    arms = list(dict.fromkeys(fixed_arms))
    table = prompt_table(graded_records(df))
    q = _wide(table, _metric_column(metric), arms).dropna()
    c = _wide(table, "cost", arms).reindex(index=q.index)
    if q.empty:
        return Oracle(tuple(arms), metric, 0, None, None, dict.fromkeys(arms, 0), {})
    qv, cv = q.to_numpy(), c.to_numpy()
    best = qv.max(axis=1)
    # Among the best the cheapest, unknown cost last; nanargmin keeps the first of equal costs.
    key = np.where(qv >= best[:, None] - 1e-12, np.where(np.isnan(cv), np.inf, cv), np.nan)
    pick = np.nanargmin(key, axis=1)
    chosen = cv[np.arange(len(pick)), pick]
    counts = np.bincount(pick, minlength=len(arms))
    return Oracle(
        arms=tuple(arms),
        metric=metric,
        n_prompts=len(q),
        accuracy=float(best.mean()),
        cost_per_request=_opt(np.nanmean(chosen)) if np.isfinite(chosen).any() else None,
        choice_counts={arm: int(n) for arm, n in zip(arms, counts, strict=True)},
        choices={str(p): arms[i] for p, i in zip(q.index, pick, strict=True)},
    )
