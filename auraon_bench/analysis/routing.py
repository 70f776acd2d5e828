"""Evaluation of the ``auto`` router against the fixed models (pure functions).

Definitions from the router literature (ANCHORS.md), re-derived. An arm's point is (cost,
quality): mean cost per request and accuracy (or mean score) over the same prompts. Routing mix:
counts and shares of the auto rows' ``routed_to`` (rows without one: ``unknown``), by category.

Zero-router frontier Z (RouterBench's non-decreasing convex hull, NDCH) of the fixed points: keep
    the best quality among equal costs, drop points not strictly better than every cheaper one,
    take the upper convex hull of the rest (it ends at the cheapest best-quality point); Z is
    linear between the vertices, flat right of the best. The hull starts at the cheapest model:
    Z(c < c_min) is undefined (None). Z^-1(q) = min{c >= c_min : Z(c) >= q}, None above the best.
    Quality gain at equal cost = Q_a - Z(C_a); cost saving at equal quality = 1 - C_a / Z^-1(Q_a),
    None when Q_a beats every fixed model (flagged ``above_best_model``: the headline itself).

AIQ (RouterBench), one cost range for every router compared: [c_min, c_max] = the span of the
    union of their points' costs (the fixed models' and every curve's). A router's quality
    R(c) is the NDCH of its own points, 0 left of its cheapest point, flat (its best) right of
    its dearest; AIQ = integral of R over [c_min, c_max] / (c_max - c_min) (R(c_min) when the
    range is one cost). A router integrated over its own span alone looks better the narrower
    and dearer that span is: routers are compared only over the shared range.

PGR (RouteLLM), weak w, strong s: PGR = (Q_a - Q_w) / (Q_s - Q_w); strong share = share of auto's
    routed rows sent to s; a random router has PGR = share, so routing skill = PGR - share.
    A curve is one router's operating points (e.g. a threshold sweep) as (strong share,
    quality), plus the sweep's extremes all-weak (0, Q_w) and all-strong (1, Q_s) with
    ``endpoints`` (default; RouteLLM's sweep contains both) unless a point sits there; sorted
    by share, equal shares averaged. APGR = the trapezoid over the actual (share, PGR) points
    divided by the span of shares (RouteLLM: (AUC - AUC_weak) / (AUC_strong - AUC_weak) over
    the same shares; the span is 1 with the endpoints), no resampling onto a grid; one share:
    its PGR. CPT(x) = the smallest share (from the first point's) with PGR >= x, linear in a
    segment, as fractions (CPT(0.5) = 0.1102 is "CPT(50%) = 11.02%"); None if never reached.
    Unrelated routers (``auto``, ``auto:fast``, ``auto:quality``, ``auto:cheap``: one point
    each) form no curve: they are reported point by point, without APGR, CPT or AIQ.

Shuffled control (do the decisions beat their own mix?), at the prompt level: on the prompts
    every fixed arm graded, V[p, m] = fixed arm m's quality on prompt p and S[p, m] = the share
    of auto's routed rows of p sent to m (one row per prompt without repeats). Observed = mean_p
    sum_m S[p, m] V[p, m]: auto's decisions replayed on the fixed arms' answers (answer noise
    stays out; auto's own accuracy, mean over the same prompts, is reported beside it).
    Permuting the rows of S across prompts B times (a prompt's repeats move together, so the
    routing counts are kept) gives B accuracies; one-sided p = (1 + #{permuted >= observed}) /
    (1 + B). Permuting single rows would treat a prompt's repeats as independent decisions and
    understate the spread under the null when a router routes a prompt the same way each time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from auraon_bench.analysis import quality as _q
from auraon_bench.analysis.quality import _metric_column, _opt, _Result, _wide

__all__ = [
    "SHUFFLED_METHOD",
    "ArmPoint",
    "AutoArmReport",
    "Frontier",
    "FrontierPosition",
    "FrontierVertex",
    "OperatingPoint",
    "RoutingCurve",
    "RoutingMix",
    "RoutingReport",
    "ShuffledControl",
    "aiq",
    "apgr",
    "cost_saving_at_equal_quality",
    "cpt",
    "evaluate_routing",
    "frontier",
    "frontier_cost",
    "frontier_position",
    "frontier_quality",
    "pgr",
    "quality_gain_at_equal_cost",
    "routing_mix",
    "routing_v1_to_v2",
    "shared_cost_range",
    "shuffled_control",
    "strong_share",
]

_EPS = 1e-12
_PERMUTATION_CHUNK = 1 << 21  # floats per batch of permutations (bounds the memory)
Points = Mapping[str, tuple[float | None, float | None]]  # model -> (cost, quality)
Curve = Sequence[tuple[float, float]]  # (strong share, quality) operating points


@dataclass(frozen=True, slots=True)
class RoutingMix(_Result):
    auto_arm: str
    unknown: int  # rows without a routed_to
    n: int  # rows with one
    counts: dict[str, int]
    shares: dict[str, float]
    by_category: dict[str, dict[str, object]]  # category -> {n, counts, shares}


def _mix(routed: pd.Series) -> dict:
    counts = {str(k): int(v) for k, v in routed.dropna().value_counts().sort_index().items()}
    n = sum(counts.values())
    return {"n": n, "counts": counts, "shares": {k: v / n for k, v in counts.items()}}


def routing_mix(df: pd.DataFrame, auto_arm: str) -> RoutingMix:
    """Counts and shares of ``routed_to`` of ``auto_arm``, overall and per category."""
    rows = _q.graded_records(df)
    rows = rows.loc[rows["arm"] == auto_arm]
    groups = rows.groupby(rows["category"].fillna("(none)"), sort=True)["routed_to"]
    total = _mix(rows["routed_to"])
    by_category = {str(cat): _mix(routed) for cat, routed in groups}
    return RoutingMix(auto_arm, len(rows) - total["n"], **total, by_category=by_category)


@dataclass(frozen=True, slots=True)
class FrontierVertex(_Result):
    model: str
    cost: float
    quality: float


@dataclass(frozen=True, slots=True)
class Frontier(_Result):
    vertices: tuple[FrontierVertex, ...]  # cost and quality both strictly increasing
    dominated: tuple[str, ...]  # valid points not on the frontier
    excluded: tuple[str, ...]  # points with a missing cost or quality
    c_min: float | None
    c_max: float | None


def frontier(points: Points | Frontier) -> Frontier:
    """The NDCH of ``{model: (cost, quality)}`` (see the module docstring)."""
    if isinstance(points, Frontier):
        return points
    excluded = [str(m) for m, (c, q) in points.items() if _opt(c) is None or _opt(q) is None]
    ok = {str(m): (float(c), float(q)) for m, (c, q) in points.items() if str(m) not in excluded}
    valid = sorted((c, -q, m) for m, (c, q) in ok.items())  # by cost, best quality first, name
    hull: list[tuple[float, float, str]] = []
    for c, neg_q, name in valid:
        if hull and -neg_q <= hull[-1][1]:  # not better than a cheaper (or as cheap) point
            continue
        # Pop the last vertex while it does not make a right turn (it lies under the chord).
        while len(hull) >= 2:
            (c0, q0, _), (c1, q1, _) = hull[-2], hull[-1]
            if (c1 - c0) * (-neg_q - q0) - (q1 - q0) * (c - c0) < 0:
                break
            hull.pop()
        hull.append((c, -neg_q, name))
    on_hull = {name for _, _, name in hull}
    return Frontier(
        vertices=tuple(FrontierVertex(name, c, q) for c, q, name in hull),
        dominated=tuple(name for _, _, name in valid if name not in on_hull),
        excluded=tuple(excluded),
        c_min=valid[0][0] if valid else None,
        c_max=valid[-1][0] if valid else None,
    )


def frontier_quality(points: Points | Frontier, cost: float) -> float | None:
    """Z(cost); None left of the cheapest model (or without points)."""
    front = frontier(points)
    if not front.vertices or not np.isfinite(cost) or cost < front.vertices[0].cost - _EPS:
        return None
    costs, quals = _hull_arrays(front)
    return float(np.interp(cost, costs, quals))


def _hull_arrays(front: Frontier) -> tuple[np.ndarray, np.ndarray]:
    """The vertices' costs and qualities."""
    return (
        np.array([v.cost for v in front.vertices], dtype=np.float64),
        np.array([v.quality for v in front.vertices], dtype=np.float64),
    )


def frontier_cost(points: Points | Frontier, quality: float) -> float | None:
    """Z^-1(quality) = min{c : Z(c) >= quality}; None above the best quality."""
    front = frontier(points)
    if (
        not front.vertices
        or not np.isfinite(quality)
        or quality > front.vertices[-1].quality + _EPS
    ):
        return None
    costs, quals = _hull_arrays(front)
    return float(np.interp(quality, quals, costs))  # the qualities strictly increase


def quality_gain_at_equal_cost(points: Points | Frontier, c_a: float, q_a: float) -> float | None:
    """Q_a - Z(C_a); None when C_a is below the cheapest fixed model."""
    z = frontier_quality(points, c_a)
    return None if z is None else q_a - z


def cost_saving_at_equal_quality(points: Points | Frontier, c_a: float, q_a: float) -> float | None:
    """1 - C_a / Z^-1(Q_a); None when Q_a beats every fixed model (or Z^-1(Q_a) is 0)."""
    z = frontier_cost(points, q_a)
    return None if z is None or z <= 0 else 1.0 - c_a / z


@dataclass(frozen=True, slots=True)
class FrontierPosition(_Result):
    frontier_quality: float | None  # Z(C_a)
    frontier_cost: float | None  # Z^-1(Q_a)
    quality_gain: float | None
    cost_saving: float | None
    above_best_model: bool  # Q_a beats every fixed model: cost saving undefined
    below_cheapest_cost: bool  # C_a below every fixed model: quality gain undefined


def frontier_position(points: Points | Frontier, c_a: float, q_a: float) -> FrontierPosition:
    """Where auto's point (C_a, Q_a) lies relative to the fixed models' frontier."""
    front = frontier(points)
    return FrontierPosition(
        frontier_quality=frontier_quality(front, c_a),
        frontier_cost=frontier_cost(front, q_a),
        quality_gain=quality_gain_at_equal_cost(front, c_a, q_a),
        cost_saving=cost_saving_at_equal_quality(front, c_a, q_a),
        above_best_model=bool(front.vertices) and q_a > front.vertices[-1].quality + _EPS,
        below_cheapest_cost=front.c_min is not None and c_a < front.c_min - _EPS,
    )


def shared_cost_range(*routers: Points | Frontier) -> tuple[float, float] | None:
    """[c_min, c_max] over every valid point of every router: AIQ's common range."""
    costs = [
        c for front in map(frontier, routers) for c in (front.c_min, front.c_max) if c is not None
    ]
    return (min(costs), max(costs)) if costs else None


def aiq(
    points: Points | Frontier, c_min: float | None = None, c_max: float | None = None
) -> float | None:
    """RouterBench's AIQ of one router over [c_min, c_max] (default: its own cost span).

    The router's NDCH, 0 left of its cheapest point, flat right of its dearest, averaged over
    the range (see the module docstring); None without points.
    """
    front = frontier(points)
    if front.c_min is None or front.c_max is None:
        return None
    lo = front.c_min if c_min is None else float(c_min)
    hi = front.c_max if c_max is None else float(c_max)
    if hi < lo:
        raise ValueError(f"AIQ range: c_max {hi!r} < c_min {lo!r}")
    costs, quals = _hull_arrays(front)
    if hi - lo <= _EPS:
        return 0.0 if lo < costs[0] - _EPS else float(np.interp(lo, costs, quals))
    start = max(lo, float(costs[0]))  # the quality is 0 left of the cheapest point
    if hi <= start:
        return 0.0
    inner = costs[(costs > start) & (costs < hi)]
    c = np.array([start, *inner, hi])
    q = np.interp(c, costs, quals)  # np.interp is flat right of the last vertex
    return float(np.sum(np.diff(c) * (q[1:] + q[:-1]) / 2.0) / (hi - lo))


def pgr(q_auto: float | None, q_weak: float | None, q_strong: float | None) -> float | None:
    """(Q_a - Q_w) / (Q_s - Q_w); None when undefined (equal or missing qualities)."""
    qa, qw, qs = _opt(q_auto), _opt(q_weak), _opt(q_strong)
    if qa is None or qw is None or qs is None or qs == qw:
        return None
    return (qa - qw) / (qs - qw)


def strong_share(df: pd.DataFrame, auto_arm: str, strong_model: str) -> float | None:
    """Share of ``auto_arm``'s rows with a ``routed_to`` that went to ``strong_model``."""
    mix = routing_mix(df, auto_arm)
    return mix.shares.get(strong_model, 0.0) if mix.n else None


def _pgr_curve(
    curve: Curve, q_weak: float, q_strong: float, endpoints: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct shares and their (averaged) PGR."""
    if q_strong == q_weak:
        raise ValueError("q_strong == q_weak: PGR is undefined")
    points = [(float(s), float(q)) for s, q in curve]
    if endpoints and not any(abs(s) < _EPS for s, _ in points):
        points.append((0.0, q_weak))
    if endpoints and not any(abs(s - 1.0) < _EPS for s, _ in points):
        points.append((1.0, q_strong))
    if not points:
        raise ValueError("curve: no operating points")
    shares, quals = np.array(points).T
    unique, inverse = np.unique(shares, return_inverse=True)
    mean_q = np.bincount(inverse, quals) / np.bincount(inverse)
    return unique, (mean_q - q_weak) / (q_strong - q_weak)


def apgr(curve: Curve, q_weak: float, q_strong: float, *, endpoints: bool = True) -> float:
    """RouteLLM's APGR: the trapezoid over the actual (strong share, PGR) points, divided by
    the span of shares (1 with the endpoints); one share: its PGR."""
    shares, pgrs = _pgr_curve(curve, q_weak, q_strong, endpoints)
    span = float(shares[-1] - shares[0])
    if span <= _EPS:
        return float(pgrs[0])
    return float(np.sum(np.diff(shares) * (pgrs[1:] + pgrs[:-1]) / 2.0) / span)


def cpt(
    curve: Curve, x: float, q_weak: float, q_strong: float, *, endpoints: bool = True
) -> float | None:
    """Smallest strong share whose PGR reaches ``x`` (a fraction), by linear interpolation."""
    shares, pgrs = _pgr_curve(curve, q_weak, q_strong, endpoints)
    reached = np.flatnonzero(pgrs >= x)
    if not reached.size or reached[0] == 0:
        return float(shares[0]) if reached.size else None
    i = reached[0]  # PGR crosses x between points i - 1 and i
    return float(np.interp(x, pgrs[i - 1 : i + 1], shares[i - 1 : i + 1]))


SHUFFLED_METHOD = (
    "prompt-level permutation test: each prompt's routing shares move to another prompt as a "
    "whole (repeats stay together); one-sided p = (1 + #{permuted >= observed}) / (1 + B)"
)


@dataclass(frozen=True, slots=True)
class ShuffledControl(_Result):
    auto_arm: str
    n: int  # routing decisions (rows) used
    n_prompts: int | None  # prompts they cover: the units permuted (None: a version-1 file)
    n_dropped: int  # auto rows without a usable routed_to or prompt
    missing_models: tuple[str, ...]  # models auto used that are not fixed arms (no test then)
    routing_counts: dict[str, int]  # rows per model
    n_permutations: int
    seed: int | None
    method: str  # SHUFFLED_METHOD
    observed: float | None = None  # auto's decisions replayed on the fixed arms' answers
    auto_accuracy: float | None = None  # auto's own answers on the same prompts
    permuted_mean: float | None = None
    permuted_std: float | None = None
    percentile: float | None = None  # % of the permutations strictly below observed
    p_value: float | None = None


def shuffled_control(
    df: pd.DataFrame,
    auto_arm: str,
    fixed_arms: Sequence[str],
    n_permutations: int = 1000,
    seed: int | None = 0,
    *,
    metric: str = "correct",
) -> ShuffledControl:
    """Prompt-level permutation test of auto's routing decisions against its own routing mix."""
    if n_permutations < 1:
        raise ValueError(f"n_permutations: must be >= 1, got {n_permutations!r}")
    arms, col = list(dict.fromkeys(fixed_arms)), _metric_column(metric)
    rows = _q.graded_records(df)
    auto = rows.loc[rows["arm"] == auto_arm]
    missing = tuple(sorted(set(auto["routed_to"].dropna()) - set(arms)))
    # Only prompts every fixed arm graded: a permutation may send any prompt to any model.
    wide = _wide(_q.prompt_table(rows.loc[rows["arm"].isin(arms)]), col, arms).dropna()
    used = auto.loc[auto["routed_to"].isin(arms) & auto["prompt_id"].isin(wide.index)]
    counts_by_prompt = pd.crosstab(used["prompt_id"], used["routed_to"]).reindex(
        columns=arms, fill_value=0
    )
    row_counts = counts_by_prompt.sum(axis=0)
    base = {
        "auto_arm": auto_arm,
        "n": len(used),
        "n_prompts": len(counts_by_prompt),
        "n_dropped": len(auto) - len(used),
        "missing_models": missing,
        "routing_counts": {m: int(k) for m, k in row_counts.items() if k},
        "n_permutations": n_permutations,
        "seed": seed,
        "method": SHUFFLED_METHOD,
    }
    if missing or not len(used):
        return ShuffledControl(**base)
    k_counts = counts_by_prompt.to_numpy(dtype=np.float64)
    shares = k_counts / k_counts.sum(axis=1, keepdims=True)
    values = wide.loc[counts_by_prompt.index].to_numpy()
    n = len(shares)
    observed = float((shares * values).sum(axis=1).mean())
    rng = np.random.default_rng(seed)
    permuted = np.empty(n_permutations)
    chunk = max(1, _PERMUTATION_CHUNK // (n * len(arms)))
    for start in range(0, n_permutations, chunk):
        k = min(chunk, n_permutations - start)
        order = rng.permuted(np.broadcast_to(np.arange(n), (k, n)), axis=1)
        permuted[start : start + k] = (shares[order] * values).sum(axis=2).mean(axis=1)
    own = used.groupby("prompt_id")[col].mean().to_numpy()  # per prompt, over its repeats
    return ShuffledControl(
        **base,
        observed=observed,
        auto_accuracy=float(np.nanmean(own)) if np.isfinite(own).any() else None,
        permuted_mean=float(permuted.mean()),
        permuted_std=float(permuted.std(ddof=1)) if n_permutations > 1 else None,
        percentile=100.0 * float((permuted < observed - _EPS).mean()),
        p_value=(1 + int((permuted >= observed - _EPS).sum())) / (1 + n_permutations),
    )


@dataclass(frozen=True, slots=True)
class AutoArmReport(_Result):
    cost: float | None
    quality: float | None
    strong_share: float | None
    pgr: float | None
    routing_skill: float | None  # PGR - strong share
    position: FrontierPosition | None
    mix: RoutingMix
    versus_reference: _q.PairedComparison | None  # the report's reference, Holm p included
    versus_fixed: _q.VersusAll
    shuffled: ShuffledControl


@dataclass(frozen=True, slots=True)
class ArmPoint(_Result):
    cost: float | None  # mean cost per request over the common prompts
    quality: float | None


@dataclass(frozen=True, slots=True)
class OperatingPoint(_Result):
    arm: str
    cost: float | None
    quality: float | None
    strong_share: float | None
    pgr: float | None


@dataclass(frozen=True, slots=True)
class RoutingCurve(_Result):
    name: str
    points: tuple[OperatingPoint, ...]  # the curve's arms, by strong share
    apgr: float | None  # None with < 2 points that have a strong share and a PGR
    cpt50: float | None  # CPT(50%) as a fraction
    aiq: float | None  # its own points' NDCH over the report's aiq_cost_range (>= 2 priced)


@dataclass(frozen=True, slots=True)
class RoutingReport(_Result):
    metric: str
    reference: str | None  # fixed arm auto is compared with (default: the most accurate)
    weak: str | None
    strong: str | None
    n_prompts: int  # prompts every evaluated arm graded: every figure uses these
    points: dict[str, ArmPoint]  # arm -> (cost, quality)
    frontier: Frontier
    aiq_cost_range: tuple[float, float] | None  # [c_min, c_max] shared by every AIQ
    aiq_fixed: float | None  # the fixed models' NDCH over aiq_cost_range
    oracle: _q.Oracle
    arms: dict[str, AutoArmReport]
    curves: tuple[RoutingCurve, ...]  # one per configuration with several operating points
    single_points: tuple[OperatingPoint, ...]  # auto arms in no curve: no APGR, CPT, AIQ
    notes: tuple[str, ...]


def _most_accurate(points: Mapping[str, ArmPoint], arms: Sequence[str]) -> str | None:
    """The arm of best quality, cheapest on ties (unknown cost last, then the given order)."""
    ranked = [
        (-q, float("inf") if c is None else c, i, a)
        for i, a in enumerate(arms)
        for c, q in [(points[a].cost, points[a].quality)]
        if q is not None
    ]
    return min(ranked)[3] if ranked else None


def routing_curve(
    name: str,
    points: Sequence[OperatingPoint],
    q_weak: float | None,
    q_strong: float | None,
    cost_range: tuple[float, float] | None,
) -> RoutingCurve:
    """APGR and CPT(50%) over the points with a PGR; AIQ over the priced ones."""
    ordered = tuple(sorted(points, key=lambda p: (p.strong_share is None, p.strong_share, p.arm)))
    shares = [
        (p.strong_share, p.quality)
        for p in ordered
        if p.pgr is not None and p.strong_share is not None
    ]
    priced = {p.arm: (p.cost, p.quality) for p in ordered if None not in (p.cost, p.quality)}
    apgr_value = cpt50 = aiq_value = None
    if len(shares) >= 2 and q_weak is not None and q_strong is not None:
        apgr_value = apgr(shares, q_weak, q_strong)
        cpt50 = cpt(shares, 0.5, q_weak, q_strong)
    if len(priced) >= 2 and cost_range is not None:
        aiq_value = aiq(priced, *cost_range)
    return RoutingCurve(name, ordered, apgr_value, cpt50, aiq_value)


def evaluate_routing(
    df: pd.DataFrame,
    auto_arms: Sequence[str],
    fixed_arms: Sequence[str],
    reference: str | None = None,
    weak: str | None = None,
    strong: str | None = None,
    seed: int | None = 0,
    *,
    curves: Mapping[str, Sequence[str]] | None = None,
    metric: str = "correct",
    n_resamples: int = 2000,
    n_permutations: int = 1000,
) -> RoutingReport:
    """Every routing figure of each auto arm, over the prompts all evaluated arms graded.

    Defaults: weak = the cheapest fixed arm; strong and reference = the most accurate fixed
    arm (cheapest on ties). ``curves`` names the auto arms that are operating points of one
    router (``{"threshold sweep": ["auto:t1", "auto:t2", ...]}``); APGR, CPT(50%) and AIQ are
    given per curve with >= 2 points, every AIQ over one shared cost range. Auto arms in no
    curve are unrelated routers: reported point by point, with a note saying why no APGR.
    """
    col, notes = _metric_column(metric), []
    table = _q.prompt_table(_q.graded_records(df))
    present = set(table["arm"])
    for arm in dict.fromkeys([*auto_arms, *fixed_arms]):
        if arm not in present:
            notes.append(f"arm {arm!r} has no graded records: left out")
    autos = [a for a in dict.fromkeys(auto_arms) if a in present]
    fixed = [a for a in dict.fromkeys(fixed_arms) if a in present]
    wide = _wide(table, col, autos + fixed)
    common = wide.dropna().index
    if len(common) < len(wide):
        notes.append(f"{len(wide) - len(common)} prompts not graded by every arm: left out")
    means = table.loc[table["prompt_id"].isin(common)].groupby("arm")[[col, "cost"]].mean()
    means = means.reindex(autos + fixed)
    points = {a: ArmPoint(_opt(means.at[a, "cost"]), _opt(means.at[a, col])) for a in autos + fixed}
    sub = df.loc[df["prompt_id"].isin(common)] if "prompt_id" in df.columns else df
    fixed_points = {a: (points[a].cost, points[a].quality) for a in fixed}
    front = frontier(fixed_points)
    priced = [a for a in fixed if None not in (points[a].cost, points[a].quality)]
    if priced:
        weak = weak or min(priced, key=lambda a: (points[a].cost, points[a].quality))
    strong = strong or _most_accurate(points, fixed)
    best = _most_accurate(points, fixed)
    if reference is not None and reference not in fixed:
        notes.append(f"reference {reference!r} is not a graded fixed arm: {best!r} used")
        reference = None
    reference = reference or best
    q_weak = points[weak].quality if weak in points else None
    q_strong = points[strong].quality if strong in points else None
    if pgr(q_strong, q_weak, q_strong) is None:
        notes.append(f"weak {weak!r} and strong {strong!r} have equal or no quality: no PGR")

    reports, operating = {}, {}
    options = {"metric": metric, "n_resamples": n_resamples}
    for arm in autos:
        cost, quality = points[arm].cost, points[arm].quality
        share = strong_share(sub, arm, strong) if strong is not None else None
        gain = pgr(quality, q_weak, q_strong)
        operating[arm] = OperatingPoint(arm, cost, quality, share, gain)
        versus_fixed = _q.versus_all(sub, arm, fixed, seed, **options)
        reports[arm] = AutoArmReport(
            cost=cost,
            quality=quality,
            strong_share=share,
            pgr=gain,
            routing_skill=None if gain is None or share is None else gain - share,
            position=None if None in (cost, quality) else frontier_position(front, cost, quality),
            mix=routing_mix(sub, arm),
            versus_reference=versus_fixed.versus.get(reference) if reference else None,
            versus_fixed=versus_fixed,
            shuffled=shuffled_control(sub, arm, fixed, n_permutations, seed, metric=metric),
        )

    members: dict[str, list[OperatingPoint]] = {}
    for name, arms in (curves or {}).items():
        members[str(name)] = []
        for arm in dict.fromkeys(arms):
            if arm in operating:
                members[str(name)].append(operating[arm])
            else:
                notes.append(f"curve {name!r}: {arm!r} is not an evaluated auto arm: left out")
    # Every AIQ is over one range: the fixed models' costs and those of every curve with an AIQ.
    curve_points = [
        {p.arm: (p.cost, p.quality) for p in pts if None not in (p.cost, p.quality)}
        for pts in members.values()
    ]
    cost_range = shared_cost_range(fixed_points, *(c for c in curve_points if len(c) >= 2))
    built = tuple(routing_curve(n, pts, q_weak, q_strong, cost_range) for n, pts in members.items())
    for c in built:
        if c.apgr is None:
            notes.append(f"curve {c.name!r}: fewer than 2 points with a PGR: no APGR, CPT(50%)")
        if c.aiq is None:
            notes.append(f"curve {c.name!r}: fewer than 2 priced points: no AIQ")
    in_curves = {p.arm for pts in members.values() for p in pts}
    single = tuple(operating[a] for a in autos if a not in in_curves)
    if single:
        notes.append(
            f"{', '.join(p.arm for p in single)}: one operating point each of unrelated "
            "routers: no APGR, CPT(50%) or AIQ (a curve needs several operating points of one "
            "router, e.g. a threshold sweep, named in curves)"
        )
    return RoutingReport(
        metric=metric,
        reference=reference,
        weak=weak,
        strong=strong,
        n_prompts=len(common),
        points=points,
        frontier=front,
        aiq_cost_range=cost_range,
        aiq_fixed=None if cost_range is None else aiq(front, *cost_range),
        oracle=_q.oracle(sub, fixed, metric),
        arms=reports,
        curves=built,
        single_points=single,
        notes=tuple(notes),
    )


# How version-1 evaluation.json files (before curves per configuration) computed their tests.
V1_PAIRED_METHOD = (
    "version 1: percentile bootstrap over prompts; McNemar's exact binomial test over (prompt, "
    "repeat) pairs, repeats counted as independent"
)
V1_SHUFFLED_METHOD = "version 1: permutation of single rows, repeats counted as independent"


def routing_v1_to_v2(routing: Mapping[str, Any]) -> dict[str, Any]:
    """A version-1 ``routing`` section of evaluation.json in the current layout (pure).

    Version 1 put every auto mode on one curve (``curve``, ``apgr``, ``cpt50``, ``aiq_auto``),
    mixing unrelated routers: those are dropped (a mixed curve cannot be split), every auto
    arm becomes a single point, and the AIQ range is the fixed models' span (the one version 1
    used for ``aiq_fixed``). Its tests get their version-1 method; counts version 1 did not
    keep (discordant prompts, prompts permuted) are None.
    """
    out = {k: v for k, v in routing.items() if k not in ("curve", "apgr", "cpt50", "aiq_auto")}
    front = out.get("frontier") or {}
    low, high = front.get("c_min"), front.get("c_max")
    out["aiq_cost_range"] = None if low is None or high is None else [low, high]
    out["curves"] = []
    arms = {}
    for name, arm in (out.get("arms") or {}).items():
        arm = dict(arm)
        versus = dict(arm.get("versus_fixed") or {})
        versus["versus"] = {k: _v1_paired(v) for k, v in (versus.get("versus") or {}).items()}
        arm["versus_fixed"] = versus
        if arm.get("versus_reference") is not None:
            arm["versus_reference"] = _v1_paired(arm["versus_reference"])
        arm["shuffled"] = {
            "n_prompts": None,
            **(arm.get("shuffled") or {}),
            "method": V1_SHUFFLED_METHOD,
        }
        arms[name] = arm
    out["arms"] = arms
    fields = ("cost", "quality", "strong_share", "pgr")
    out["single_points"] = [{"arm": a, **{f: r.get(f) for f in fields}} for a, r in arms.items()]
    out["notes"] = [
        *(out.get("notes") or []),
        "written by auraon-bench before curves per routing configuration: its one APGR over "
        "every auto mode mixed unrelated routers and is dropped; its McNemar and shuffled-control "
        "p-values counted repeats as independent",
    ]
    return out


def _v1_paired(comparison: Mapping[str, Any]) -> dict[str, Any]:
    return {"discordant_prompts": None, **comparison, "method": V1_PAIRED_METHOD}
