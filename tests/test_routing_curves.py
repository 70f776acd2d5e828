"""APGR over a curve's actual points, one curve per routing configuration, and AIQ over one
shared cost range (hand-computed expectations)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from auraon_bench.analysis.routing import aiq, apgr, cpt, evaluate_routing, shared_cost_range


def test_apgr_is_the_trapezoid_over_off_grid_points() -> None:
    # PGR 0.3, 0.7, 0.95 at shares 0.05, 0.37, 0.81 (Q_w 0.6, Q_s 0.8: Q = 0.6 + 0.2 PGR), plus
    # the all-weak (0, 0) and all-strong (1, 1) ends of the sweep:
    # 0.05 * 0.3 / 2 + 0.32 * 1.0 / 2 + 0.44 * 1.65 / 2 + 0.19 * 1.95 / 2
    # = 0.0075 + 0.16 + 0.363 + 0.18525 = 0.71575.
    curve = [(0.05, 0.66), (0.37, 0.74), (0.81, 0.79)]
    assert apgr(curve, 0.6, 0.8) == pytest.approx(0.71575)
    # Resampled onto 0, 0.1, ..., 1 first (the old method) the area is 0.70896: the kinks
    # between grid lines are cut.
    shares, pgrs = [0.0, 0.05, 0.37, 0.81, 1.0], [0.0, 0.3, 0.7, 0.95, 1.0]
    grid = np.interp(np.linspace(0, 1, 11), shares, pgrs)
    assert 0.1 * (grid.sum() - (grid[0] + grid[-1]) / 2) == pytest.approx(0.708959, abs=1e-6)
    # CPT(50%) between (0.05, 0.3) and (0.37, 0.7): 0.05 + 0.32 * 0.2 / 0.4 = 0.21.
    assert cpt(curve, 0.5, 0.6, 0.8) == pytest.approx(0.21)


def test_apgr_without_endpoints_is_the_mean_over_the_covered_shares() -> None:
    # RouteLLM divides by the AUC of weak and strong over the same shares: (0.4 + 0.8) / 2
    # over [0.2, 0.6] is 0.24 / 0.4 = 0.6; nothing is extrapolated beyond the points.
    assert apgr([(0.2, 0.4), (0.6, 0.8)], 0.0, 1.0, endpoints=False) == pytest.approx(0.6)
    # With the endpoints: 0.2 * 0.4 / 2 + 0.4 * 1.2 / 2 + 0.4 * 1.8 / 2 = 0.04 + 0.24 + 0.36.
    assert apgr([(0.2, 0.4), (0.6, 0.8)], 0.0, 1.0) == pytest.approx(0.64)


def test_aiq_over_a_given_range_is_zero_left_and_flat_right() -> None:
    points = {"cheap": (1.0, 0.5), "good": (4.0, 0.9), "best": (6.0, 0.95), "dear": (8.0, 0.9)}
    # [0, 1]: 0; [1, 4]: 2.1; [4, 6]: 1.85; [6, 10] flat at 0.95: 3.8 -> 7.75 / 10.
    assert aiq(points, 0.0, 10.0) == pytest.approx(0.775)
    assert aiq(points) == pytest.approx((2.1 + 1.85 + 0.95 * 2) / 7)  # its own span [1, 8]
    assert aiq(points, 0.5, 0.5) == 0.0 and aiq(points, 9.0, 9.0) == 0.95
    with pytest.raises(ValueError):
        aiq(points, 2.0, 1.0)
    assert shared_cost_range({"a": (2.0, 0.1)}, points, {"x": (None, 0.3)}) == (1.0, 8.0)
    assert shared_cost_range({}) is None


def test_aiq_order_flips_when_routers_share_one_range() -> None:
    fixed = {"A": (1.0, 0.5), "B": (10.0, 0.9)}
    dear = {"x": (5.0, 0.75), "y": (6.0, 0.78)}  # a curve in a narrow, dear cost band
    # Each over its own span: fixed (0.5 + 0.9) / 2 = 0.7 < the curve's (0.75 + 0.78) / 2.
    assert aiq(fixed) == pytest.approx(0.7) and aiq(dear) == pytest.approx(0.765)
    # One range [1, 10]: the curve is 0 on [1, 5), 0.765 on [5, 6], 0.78 on [6, 10]:
    # (0.765 + 4 * 0.78) / 9 = 0.431667 < 0.7. The order flips.
    c_min, c_max = shared_cost_range(fixed, dear)
    assert (c_min, c_max) == (1.0, 10.0)
    assert aiq(dear, c_min, c_max) == pytest.approx(3.885 / 9)
    assert aiq(fixed, c_min, c_max) == pytest.approx(0.7)
    # The other way round: a curve from the cheapest cost up, (1, 0.5) and (2, 0.85), loses
    # over its own span (0.675) and wins over [1, 10]: (0.675 + 8 * 0.85) / 9 = 0.830556.
    cheap = {"u": (1.0, 0.5), "v": (2.0, 0.85)}
    assert aiq(cheap) == pytest.approx(0.675)
    assert aiq(cheap, *shared_cost_range(fixed, cheap)) == pytest.approx(7.475 / 9)


def record(arm: str, prompt: str, correct: bool, cost: float, routed_to: str) -> dict:
    return {
        "arm": arm,
        "prompt_id": prompt,
        "status": "ok",
        "correct": correct,
        "score": float(correct),
        "cost_usd": cost,
        "routed_to": routed_to,
    }


def sweep_table() -> pd.DataFrame:
    """20 prompts. weak (0.1 USD) right on p0..p9, strong (1 USD) on p0..p15. A threshold
    sweep t1, t2, t3 sends p10-p11, p10-p15 and p10-p19 to strong; auto and auto:fast are
    unrelated routers (all weak, all strong)."""
    sends = {
        "auto:t1": range(10, 12),
        "auto:t2": range(10, 16),
        "auto:t3": range(10, 20),
        "auto": range(0),
        "auto:fast": range(20),
    }
    rows = []
    for i in range(20):
        p = f"p{i}"
        weak_ok, strong_ok = i < 10, i < 16
        rows.append(record("weak", p, weak_ok, 0.1, "weak"))
        rows.append(record("strong", p, strong_ok, 1.0, "strong"))
        for arm, strong_prompts in sends.items():
            strong_pick = i in strong_prompts
            ok, cost = (strong_ok, 1.0) if strong_pick else (weak_ok, 0.1)
            rows.append(record(arm, p, ok, cost, "strong" if strong_pick else "weak"))
    return pd.DataFrame(rows)


def test_each_configuration_is_its_own_curve() -> None:
    autos = ["auto", "auto:fast", "auto:t3", "auto:t1", "auto:t2"]
    rep = evaluate_routing(
        sweep_table(),
        autos,
        ["weak", "strong"],
        curves={"threshold": ["auto:t3", "auto:t1", "auto:t2"]},
        n_resamples=50,
        n_permutations=50,
    )
    (curve,) = rep.curves
    assert curve.name == "threshold"
    # By hand: t1 share 0.1, quality 12/20 = 0.6, cost (18 x 0.1 + 2) / 20 = 0.19;
    # t2 0.3, 0.8, 0.37; t3 0.5, 0.8, 0.55. Q_w 0.5, Q_s 0.8: PGR 1/3, 1, 1.
    got = [(p.arm, p.strong_share, p.quality, p.cost, p.pgr) for p in curve.points]
    want = [
        ("auto:t1", 0.1, 0.6, 0.19, 1 / 3),
        ("auto:t2", 0.3, 0.8, 0.37, 1.0),
        ("auto:t3", 0.5, 0.8, 0.55, 1.0),
    ]
    for g, w in zip(got, want, strict=True):
        assert g[0] == w[0] and g[1:] == pytest.approx(w[1:])
    # APGR over (0, 0), (0.1, 1/3), (0.3, 1), (0.5, 1), (1, 1):
    # 0.1 * (1/3) / 2 + 0.2 * (4/3) / 2 + 0.2 + 0.5 = 1/60 + 8/60 + 12/60 + 30/60 = 0.85.
    assert curve.apgr == pytest.approx(0.85)
    assert curve.cpt50 == pytest.approx(0.1 + 0.2 * (0.5 - 1 / 3) / (2 / 3))  # 0.15
    # AIQ over [0.1, 1] (the fixed models' costs hold the curve's): hull (0.19, 0.6),
    # (0.37, 0.8); 0 on [0.1, 0.19), 0.18 * 1.4 / 2 = 0.126, flat 0.8 * 0.63 = 0.504 -> 0.7.
    assert rep.aiq_cost_range == pytest.approx((0.1, 1.0))
    assert curve.aiq == pytest.approx(0.63 / 0.9)
    assert rep.aiq_fixed == pytest.approx((0.5 + 0.8) / 2)
    # The unrelated modes: point by point, with the reason there is no APGR for them.
    assert [(p.arm, p.strong_share) for p in rep.single_points] == [
        ("auto", 0.0),
        ("auto:fast", 1.0),
    ]
    assert rep.single_points[1].pgr == pytest.approx(1.0)
    (note,) = [n for n in rep.notes if "no APGR" in n]
    assert note.startswith("auto, auto:fast:") and "unrelated" in note
    out = rep.to_dict()
    assert [c["name"] for c in out["curves"]] == ["threshold"]
    assert [p["arm"] for p in out["curves"][0]["points"]] == ["auto:t1", "auto:t2", "auto:t3"]
    assert out["aiq_cost_range"] == pytest.approx([0.1, 1.0])
    json.dumps(out, allow_nan=False)


def test_curves_keep_apart_and_share_the_aiq_range() -> None:
    df = sweep_table()
    # Two routers: the low thresholds and a "curve" of the two extreme modes.
    rep = evaluate_routing(
        df,
        ["auto", "auto:fast", "auto:t1", "auto:t2"],
        ["weak", "strong"],
        curves={"low": ["auto:t1", "auto:t2"], "extremes": ["auto", "auto:fast"]},
        n_resamples=50,
        n_permutations=50,
    )
    low, extremes = rep.curves
    assert [p.arm for p in low.points] == ["auto:t1", "auto:t2"]
    assert [p.arm for p in extremes.points] == ["auto", "auto:fast"]
    assert rep.single_points == ()
    # The extremes are the weak and strong models themselves: the random router's diagonal.
    assert extremes.apgr == pytest.approx(0.5) and extremes.cpt50 == pytest.approx(0.5)
    # low: (0, 0), (0.1, 1/3), (0.3, 1), (1, 1): 1/60 + 8/60 + 0.7 = 0.85.
    assert low.apgr == pytest.approx(0.85)
    # One range for all: [0.1, 1]. extremes = the fixed frontier itself: 0.65.
    assert rep.aiq_cost_range == pytest.approx((0.1, 1.0))
    assert extremes.aiq == pytest.approx(rep.aiq_fixed) and rep.aiq_fixed == pytest.approx(0.65)
    assert low.aiq == pytest.approx(0.7)
