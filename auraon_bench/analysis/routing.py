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
    AIQ = integral of Z over [c_min, c_max] / (c_max - c_min), over all the given points.

PGR (RouteLLM), weak w, strong s: PGR = (Q_a - Q_w) / (Q_s - Q_w); strong share = share of auto's
    routed rows sent to s; a random router has PGR = share, so routing skill = PGR - share. A
    curve is a list of (strong share, quality) points, plus (0, Q_w) and (1, Q_s) with
    ``endpoints`` (default) unless a point sits there; sorted by share (equal shares averaged),
    joined linearly, flat outside the first and last point. APGR = trapezoids on 0, 0.1, ..., 1:
    0.1 * (PGR(0)/2 + PGR(0.1) + ... + PGR(0.9) + PGR(1)/2). CPT(x) = the smallest share (from
    the first point's) with PGR >= x, linear in a segment, as fractions (CPT(0.5) = 0.1102 is
    "CPT(50%) = 11.02%"); None if never reached.

Shuffled control (do the decisions beat their own mix?): on the prompts every fixed arm graded,
    an auto row routed to fixed arm m scores V[row, m] = m's per-prompt quality. Observed = mean
    V[row, routed_to(row)]: auto's decisions replayed on the fixed arms' answers (answer noise
    stays out; auto's own accuracy is reported beside it). Permuting the labels across the rows
    B times (counts kept) gives B accuracies; one-sided p = (1 + #{permuted >= observed}) / (1 + B).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from auraon_bench.analysis import quality as _q
from auraon_bench.analysis._json import jsonable
from auraon_bench.analysis.quality import _metric_column, _opt, _Result, _wide

__all__ = [
    "AutoArmReport",
    "Frontier",
    "FrontierPosition",
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
    "shuffled_control",
    "strong_share",
]

_EPS = 1e-12
_PERMUTATION_CHUNK = 1 << 21  # labels per batch of permutations (bounds the memory)
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
class Frontier(_Result):
    vertices: tuple[tuple[str, float, float], ...]  # (model, cost, quality), both increasing
    dominated: tuple[str, ...]  # valid points not on the frontier
    excluded: tuple[str, ...]  # points with a missing cost or quality
    c_min: float | None
    c_max: float | None

    def to_dict(self) -> dict[str, object]:
        vertices = [{"model": m, "cost": c, "quality": q} for m, c, q in self.vertices]
        return {**_Result.to_dict(self), "vertices": jsonable(vertices)}


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
        vertices=tuple((name, c, q) for c, q, name in hull),
        dominated=tuple(name for _, _, name in valid if name not in on_hull),
        excluded=tuple(excluded),
        c_min=valid[0][0] if valid else None,
        c_max=valid[-1][0] if valid else None,
    )


def frontier_quality(points: Points | Frontier, cost: float) -> float | None:
    """Z(cost); None left of the cheapest model (or without points)."""
    front = frontier(points)
    if not front.vertices or not np.isfinite(cost) or cost < front.vertices[0][1] - _EPS:
        return None
    _, costs, quals = zip(*front.vertices, strict=True)
    return float(np.interp(cost, costs, quals))


def frontier_cost(points: Points | Frontier, quality: float) -> float | None:
    """Z^-1(quality) = min{c : Z(c) >= quality}; None above the best quality."""
    front = frontier(points)
    if not front.vertices or not np.isfinite(quality) or quality > front.vertices[-1][2] + _EPS:
        return None
    _, costs, quals = zip(*front.vertices, strict=True)
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
        above_best_model=bool(front.vertices) and q_a > front.vertices[-1][2] + _EPS,
        below_cheapest_cost=front.c_min is not None and c_a < front.c_min - _EPS,
    )


def aiq(points: Points | Frontier) -> float | None:
    """RouterBench's AIQ: the mean of Z over [c_min, c_max]; None without points."""
    front = frontier(points)
    if front.c_min is None or front.c_max is None:
        return None
    if front.c_max <= front.c_min:
        return frontier_quality(front, front.c_min)
    _, costs, quals = zip(*front.vertices, strict=True)
    c = np.array([*costs, front.c_max])  # flat at the best quality up to c_max
    q = np.array([*quals, quals[-1]])
    return float(np.sum(np.diff(c) * (q[1:] + q[:-1]) / 2.0) / (front.c_max - front.c_min))


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
    """Area under PGR versus strong share: trapezoids over 0, 0.1, ..., 1."""
    shares, pgrs = _pgr_curve(curve, q_weak, q_strong, endpoints)
    values = np.interp(np.linspace(0.0, 1.0, 11), shares, pgrs)
    return float(0.1 * (values.sum() - (values[0] + values[-1]) / 2.0))


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


@dataclass(frozen=True, slots=True)
class ShuffledControl(_Result):
    auto_arm: str
    n: int  # routing decisions used
    n_dropped: int  # auto rows without a usable routed_to or prompt
    missing_models: tuple[str, ...]  # models auto used that are not fixed arms (no test then)
    routing_counts: dict[str, int]
    n_permutations: int
    seed: int | None
    observed: float | None = None  # auto's decisions replayed on the fixed arms' answers
    auto_accuracy: float | None = None  # auto's own answers on the same rows
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
    """Permutation test of auto's routing decisions against its own routing mix."""
    if n_permutations < 1:
        raise ValueError(f"n_permutations: must be >= 1, got {n_permutations!r}")
    arms, col = list(dict.fromkeys(fixed_arms)), _metric_column(metric)
    rows = _q.graded_records(df)
    auto = rows.loc[rows["arm"] == auto_arm]
    missing = tuple(sorted(set(auto["routed_to"].dropna()) - set(arms)))
    # Only prompts every fixed arm graded: a permutation may send any prompt to any model.
    wide = _wide(_q.prompt_table(rows.loc[rows["arm"].isin(arms)]), col, arms).dropna()
    used = auto.loc[auto["routed_to"].isin(arms) & auto["prompt_id"].isin(wide.index)]
    values = wide.loc[used["prompt_id"]].to_numpy()
    labels = np.array([arms.index(m) for m in used["routed_to"]], dtype=np.intp)
    counts = {arms[i]: int(k) for i, k in enumerate(np.bincount(labels, minlength=len(arms))) if k}
    n = len(labels)
    base = (auto_arm, n, len(auto) - n, missing, counts, n_permutations, seed)
    if missing or not n:
        return ShuffledControl(*base)
    observed = float(values[np.arange(n), labels].mean())
    rng = np.random.default_rng(seed)
    permuted = np.empty(n_permutations)
    chunk = max(1, _PERMUTATION_CHUNK // n)
    for start in range(0, n_permutations, chunk):
        k = min(chunk, n_permutations - start)
        shuffled = rng.permuted(np.broadcast_to(labels, (k, n)), axis=1)
        permuted[start : start + k] = values[np.arange(n), shuffled].mean(axis=1)
    own = used[col].to_numpy()
    return ShuffledControl(
        *base,
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
    versus_reference: _q.PairedComparison | None
    versus_fixed: _q.VersusAll
    shuffled: ShuffledControl


@dataclass(frozen=True, slots=True)
class RoutingReport(_Result):
    metric: str
    reference: str | None
    weak: str | None
    strong: str | None
    n_prompts: int  # prompts every evaluated arm graded: every figure uses these
    points: dict[str, tuple[float | None, float | None]]  # arm -> (cost, quality)
    frontier: Frontier
    aiq_fixed: float | None
    oracle: _q.Oracle
    arms: dict[str, AutoArmReport]
    curve: tuple[tuple[str, float, float], ...]  # (auto arm, strong share, quality)
    apgr: float | None
    cpt50: float | None
    aiq_auto: float | None
    notes: tuple[str, ...]

    def to_dict(self) -> dict[str, object]:
        out = _Result.to_dict(self)
        out["points"] = {a: {"cost": c, "quality": q} for a, (c, q) in self.points.items()}
        out["curve"] = [{"arm": a, "strong_share": s, "quality": q} for a, s, q in self.curve]
        return jsonable(out)


def evaluate_routing(
    df: pd.DataFrame,
    auto_arms: Sequence[str],
    fixed_arms: Sequence[str],
    reference: str | None = None,
    weak: str | None = None,
    strong: str | None = None,
    seed: int | None = 0,
    *,
    metric: str = "correct",
    n_resamples: int = 2000,
    n_permutations: int = 1000,
) -> RoutingReport:
    """Every routing figure of each auto arm, over the prompts all evaluated arms graded.

    Defaults: weak = the cheapest fixed arm, strong = the most accurate (cheapest on ties).
    APGR, CPT(50%) and AIQ of auto need >= 2 auto operating points, else None and a note.
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
    points = {a: (_opt(means.at[a, "cost"]), _opt(means.at[a, col])) for a in autos + fixed}
    sub = df.loc[df["prompt_id"].isin(common)] if "prompt_id" in df.columns else df
    front = frontier({a: points[a] for a in fixed})
    priced = [a for a in fixed if None not in points[a]]
    if priced:
        weak = weak or min(priced, key=lambda a: points[a])  # cheapest, least accurate on ties
        strong = strong or max(priced, key=lambda a: (points[a][1], -points[a][0]))
    q_weak = points[weak][1] if weak in points else None
    q_strong = points[strong][1] if strong in points else None
    if pgr(q_strong, q_weak, q_strong) is None:
        notes.append(f"weak {weak!r} and strong {strong!r} have equal or no quality: no PGR")

    reports, curve = {}, []
    options = {"metric": metric, "n_resamples": n_resamples}
    for arm in autos:
        cost, quality = points[arm]
        share = strong_share(sub, arm, strong) if strong is not None else None
        gain = pgr(quality, q_weak, q_strong)
        if share is not None and gain is not None:
            curve.append((arm, share, quality))
        reports[arm] = AutoArmReport(
            cost=cost,
            quality=quality,
            strong_share=share,
            pgr=gain,
            routing_skill=None if gain is None or share is None else gain - share,
            position=None if None in (cost, quality) else frontier_position(front, cost, quality),
            mix=routing_mix(sub, arm),
            versus_reference=None
            if reference is None
            else _q.versus_reference(sub, arm, reference, seed, **options),
            versus_fixed=_q.versus_all(sub, arm, fixed, seed, **options),
            shuffled=shuffled_control(sub, arm, fixed, n_permutations, seed, metric=metric),
        )
    apgr_value = cpt50 = aiq_auto = None
    if len(curve) >= 2:
        shares = [(s, q) for _, s, q in curve]
        apgr_value = apgr(shares, q_weak, q_strong)
        cpt50 = cpt(shares, 0.5, q_weak, q_strong)
        aiq_auto = aiq({a: points[a] for a, _, _ in curve})
    else:
        notes.append(f"{len(curve)} auto operating point(s) with a PGR: APGR, CPT, AIQ need 2")
    return RoutingReport(
        metric=metric,
        reference=reference,
        weak=weak,
        strong=strong,
        n_prompts=len(common),
        points=points,
        frontier=front,
        aiq_fixed=aiq(front),
        oracle=_q.oracle(sub, fixed, metric),
        arms=reports,
        curve=tuple(curve),
        apgr=apgr_value,
        cpt50=cpt50,
        aiq_auto=aiq_auto,
        notes=tuple(notes),
    )
