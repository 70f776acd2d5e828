"""Tests for auraon_bench.analysis.routing against hand-computed tables and published anchors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binomtest

from auraon_bench.analysis.quality import oracle, paired_comparison
from auraon_bench.analysis.routing import (
    aiq,
    apgr,
    cost_saving_at_equal_quality,
    cpt,
    evaluate_routing,
    frontier,
    frontier_cost,
    frontier_position,
    frontier_quality,
    pgr,
    quality_gain_at_equal_cost,
    routing_mix,
    shuffled_control,
    strong_share,
)


def record(arm, prompt, correct, cost=1.0, routed_to=None, category=None, status="ok"):
    return {
        "arm": arm,
        "prompt_id": prompt,
        "category": category,
        "status": status,
        "correct": bool(correct),
        "score": float(correct),
        "cost_usd": cost,
        "latency_s": 1.0,
        "routed_to": arm if routed_to is None else routed_to,
    }


# RouteLLM GSM8K (Mixtral-8x7B weak vs gpt-4-1106 strong, 1,307 prompts): 63.73% and 85.77%,
# 382 prompts only the strong model answers, 94 only the weak one. Solved exactly:
# weak = round(.6373 * 1307) = 833 = both + 94 -> both = 739; strong = 739 + 382 = 1121
# (85.77%); neither = 1307 - 739 - 94 - 382 = 92; oracle = 739 + 94 + 382 = 1215 (92.96%).
N, WEAK_ONLY, STRONG_ONLY = 1307, 94, 382
BOTH = round(0.6373 * N) - WEAK_ONLY
NEITHER = N - BOTH - WEAK_ONLY - STRONG_ONLY
Q_WEAK, Q_STRONG, Q_ORACLE = (BOTH + WEAK_ONLY) / N, (BOTH + STRONG_ONLY) / N, 1215 / N


def gsm8k_table() -> pd.DataFrame:
    outcomes = [(1, 1)] * BOTH + [(1, 0)] * WEAK_ONLY + [(0, 1)] * STRONG_ONLY + [(0, 0)] * NEITHER
    rows = []
    for i, (weak, strong) in enumerate(outcomes):
        rows.append(record("mixtral", f"q{i}", weak, 0.1))
        rows.append(record("gpt-4", f"q{i}", strong, 1.0))
    return pd.DataFrame(rows)


def test_gsm8k_table_reproduces_the_published_accuracies() -> None:
    assert (BOTH, NEITHER) == (739, 92)
    assert (round(100 * Q_WEAK, 2), round(100 * Q_STRONG, 2)) == (63.73, 85.77)


def test_oracle_anchor_92_96() -> None:
    o = oracle(gsm8k_table(), ["mixtral", "gpt-4"])
    assert o.n_prompts == N
    assert round(100 * o.accuracy, 2) == 92.96
    # Strong only where it alone is right; the cheap weak model everywhere else.
    assert o.choice_counts == {"mixtral": N - STRONG_ONLY, "gpt-4": STRONG_ONLY}


def test_mcnemar_anchor_382_vs_94() -> None:
    cmp = paired_comparison(gsm8k_table(), "gpt-4", "mixtral", n_resamples=100)
    assert (cmp.a_only, cmp.b_only) == (STRONG_ONLY, WEAK_ONLY)
    expected = binomtest(STRONG_ONLY, STRONG_ONLY + WEAK_ONLY, 0.5).pvalue
    assert cmp.mcnemar_p == pytest.approx(expected, rel=1e-9)
    assert 0.0 < cmp.mcnemar_p < 1e-30
    assert cmp.difference == pytest.approx(Q_STRONG - Q_WEAK)


# --- PGR curves -------------------------------------------------------------------------


def test_pgr_and_routing_skill_pieces() -> None:
    assert pgr(0.8, 0.6, 0.9) == pytest.approx(2 / 3)
    assert pgr(0.6, 0.6, 0.9) == 0.0 and pgr(0.95, 0.6, 0.9) == pytest.approx(35 / 30)
    assert pgr(0.7, 0.6, 0.6) is None and pgr(None, 0.6, 0.9) is None


def test_random_router_apgr_half_and_cpt_identity() -> None:
    assert apgr([], Q_WEAK, Q_STRONG) == pytest.approx(0.5)
    # A random router at share s has quality Q_w + s (Q_s - Q_w): still on the diagonal.
    mid = [(s, Q_WEAK + s * (Q_STRONG - Q_WEAK)) for s in (0.25, 0.5, 0.8)]
    assert apgr(mid, Q_WEAK, Q_STRONG) == pytest.approx(0.5)
    for x in np.linspace(0.0, 1.0, 21):
        assert cpt([], x, Q_WEAK, Q_STRONG) == pytest.approx(x)
        assert cpt(mid, x, Q_WEAK, Q_STRONG) == pytest.approx(x)
    assert cpt([], 1.01, Q_WEAK, Q_STRONG) is None


def test_optimal_curve_anchor_apgr_1_1309_and_cpt50_11_02() -> None:
    # ANCHORS: qualities 63.73, 73.73, 83.73, 92.96 at shares 0, 0.1, 0.2, 0.3, then flat.
    # PGR uses the exact GSM8K accuracies (833/1307, 1121/1307; 92.96% = 1215/1307):
    # 0.1 * (0/2 + .45365 + .90746 + 7 x 1.32639 + 1.32639/2) = 1.13090.
    # "Then flat" is part of the anchor's curve: it reaches share 1 at 92.96%. APGR integrates
    # the actual points only (no flat extrapolation past the last one), so the flat end is a
    # point of the curve here; between 0.3 and 1 one trapezoid equals the grid's seven.
    stated = [(0.0, Q_WEAK), (0.1, 0.7373), (0.2, 0.8373), (0.3, Q_ORACLE), (1.0, Q_ORACLE)]
    assert round(apgr(stated, Q_WEAK, Q_STRONG, endpoints=False), 4) == 1.1309
    assert round(cpt(stated, 0.5, Q_WEAK, Q_STRONG, endpoints=False), 4) == 0.1102
    # The same curve written out on the whole grid (flat to share 1): no endpoint is added.
    full = stated + [(s / 10, Q_ORACLE) for s in range(4, 11)]
    assert round(apgr(full, Q_WEAK, Q_STRONG), 4) == 1.1309
    # The ideal router itself: every strong call adds one answer until the oracle's 1215.
    ideal = [(s / 10, min(BOTH + WEAK_ONLY + s / 10 * N, 1215) / N) for s in range(11)]
    assert round(apgr(ideal, Q_WEAK, Q_STRONG), 4) == 1.1309
    assert round(100 * cpt(ideal, 0.5, Q_WEAK, Q_STRONG), 2) == 11.02
    # With every figure rounded to 4 digits first the area is 1.13078: the anchor needs the
    # exact accuracies, not the printed percentages.
    rounded = [(0.0, 0.6373), (0.1, 0.7373), (0.2, 0.8373), (0.3, 0.9296), (1.0, 0.9296)]
    assert apgr(rounded, 0.6373, 0.8577, endpoints=False) == pytest.approx(1.130785, abs=1e-6)


def test_apgr_trapezoid_hand_computed_and_endpoints() -> None:
    # One point (0.5, PGR 0.8) plus endpoints (0, 0), (1, 1): area 0.5*0.4 + 0.5*0.9 = 0.65.
    assert apgr([(0.5, 0.8)], 0.0, 1.0) == pytest.approx(0.65)
    assert cpt([(0.5, 0.8)], 0.4, 0.0, 1.0) == pytest.approx(0.25)
    assert cpt([(0.5, 0.8)], 0.9, 0.0, 1.0) == pytest.approx(0.75)
    # Equal shares are averaged; without endpoints a single share's APGR is its PGR, and CPT
    # starts at the first point.
    assert apgr([(0.5, 0.6), (0.5, 1.0)], 0.0, 1.0) == pytest.approx(0.65)
    assert apgr([(0.5, 0.8)], 0.0, 1.0, endpoints=False) == pytest.approx(0.8)
    assert cpt([(0.5, 0.8)], 0.5, 0.0, 1.0, endpoints=False) == 0.5
    with pytest.raises(ValueError):
        apgr([(0.5, 0.8)], 0.5, 0.5)


# --- Frontier ---------------------------------------------------------------------------

POINTS = {
    "cheap": (1.0, 0.5),
    "mid": (2.0, 0.55),  # below the chord cheap -> good: not a vertex
    "dominated": (3.0, 0.5),
    "good": (4.0, 0.9),
    "tie": (4.0, 0.8),  # same cost as good, worse
    "best": (6.0, 0.95),
    "dearer_same": (8.0, 0.95),  # as good as best, dearer
}


def test_frontier_vertices_and_dominated() -> None:
    f = frontier(POINTS)
    assert [v.model for v in f.vertices] == ["cheap", "good", "best"]
    assert set(f.dominated) == {"mid", "dominated", "tie", "dearer_same"}
    assert (f.c_min, f.c_max) == (1.0, 8.0)
    d = f.to_dict()
    assert d["vertices"][1] == {"model": "good", "cost": 4.0, "quality": 0.9}
    json.dumps(d, allow_nan=False)


def test_frontier_interpolation_and_inverse() -> None:
    assert frontier_quality(POINTS, 0.5) is None  # left of the cheapest model: undefined
    assert frontier_quality(POINTS, 1.0) == 0.5
    assert frontier_quality(POINTS, 2.5) == pytest.approx(0.7)
    assert frontier_quality(POINTS, 5.0) == pytest.approx(0.925)
    assert frontier_quality(POINTS, 100.0) == 0.95  # flat right of the best
    assert frontier_cost(POINTS, 0.3) == 1.0
    assert frontier_cost(POINTS, 0.7) == pytest.approx(2.5)
    assert frontier_cost(POINTS, 0.95) == 6.0
    assert frontier_cost(POINTS, 0.96) is None


def test_gain_saving_and_position() -> None:
    assert quality_gain_at_equal_cost(POINTS, 2.5, 0.75) == pytest.approx(0.05)
    assert quality_gain_at_equal_cost(POINTS, 0.5, 0.75) is None
    assert cost_saving_at_equal_quality(POINTS, 2.0, 0.7) == pytest.approx(0.2)
    assert cost_saving_at_equal_quality(POINTS, 3.0, 0.97) is None  # beats every model
    above = frontier_position(POINTS, 3.0, 0.97)
    assert above.above_best_model and above.cost_saving is None
    assert above.quality_gain == pytest.approx(0.97 - (0.5 + 2 * 0.4 / 3))
    cheap = frontier_position(POINTS, 0.5, 0.6)
    assert cheap.below_cheapest_cost and cheap.quality_gain is None
    assert cheap.cost_saving == pytest.approx(1 - 0.5 / (1.0 + 0.1 * 3 / 0.4))
    json.dumps(above.to_dict(), allow_nan=False)


def test_frontier_edge_cases() -> None:
    single = frontier({"m": (2.0, 0.7)})
    assert [v.model for v in single.vertices] == ["m"] and single.dominated == ()
    assert [frontier_quality(single, c) for c in (2.0, 9.0, 1.0)] == [0.7, 0.7, None]
    assert frontier_cost(single, 0.1) == 2.0 and frontier_cost(single, 0.71) is None
    assert aiq({"m": (2.0, 0.7)}) == 0.7
    tie = frontier({"a": (1.0, 0.6), "b": (1.0, 0.8)})
    assert [v.model for v in tie.vertices] == ["b"] and tie.dominated == ("a",)
    line = frontier({"a": (1.0, 0.5), "b": (2.0, 0.6), "c": (3.0, 0.7)})  # collinear
    assert [v.model for v in line.vertices] == ["a", "c"]  # the collinear middle point adds nothing
    assert frontier_quality(line, 2.0) == pytest.approx(0.6)
    nan = frontier({"a": (1.0, 0.5), "b": (float("nan"), 0.9)})
    assert nan.excluded == ("b",) and len(nan.vertices) == 1
    empty = frontier({})
    assert frontier_quality(empty, 1.0) is None and frontier_cost(empty, 0.5) is None
    assert aiq({}) is None and aiq({"x": (None, 0.5)}) is None


@settings(max_examples=150, deadline=None)
@given(
    st.dictionaries(
        st.text("abcdefgh", min_size=1, max_size=2),
        st.tuples(st.integers(0, 50), st.integers(0, 100)),
        min_size=1,
        max_size=8,
    )
)
def test_frontier_properties(raw: dict[str, tuple[int, int]]) -> None:
    points = {m: (c / 10, q / 100) for m, (c, q) in raw.items()}
    f = frontier(points)
    costs, quals = [v.cost for v in f.vertices], [v.quality for v in f.vertices]
    assert costs == sorted(set(costs)) and quals == sorted(set(quals))  # strictly increasing
    slopes = np.diff(quals) / np.diff(costs)
    assert all(np.diff(slopes) <= 1e-9)  # concave
    assert quals[-1] == max(q for _, q in points.values()) and costs[0] == f.c_min
    for c, q in points.values():  # the frontier is on or above every model
        assert frontier_quality(f, c) >= q - 1e-12
    for v in f.vertices:
        assert frontier_cost(f, v.quality) == pytest.approx(v.cost)
    assert quals[0] - 1e-12 <= aiq(f) <= quals[-1] + 1e-12
    assert len(f.vertices) + len(f.dominated) == len(points)


def test_aiq_hand_computed() -> None:
    # [1,4]: (.5+.9)/2*3 = 2.1; [4,6]: (.9+.95)/2*2 = 1.85; [6,8] flat .95*2 = 1.9 -> 5.85/7.
    assert aiq(POINTS) == pytest.approx(5.85 / 7)


# --- Routing mix, strong share ---------------------------------------------------------


def mix_table() -> pd.DataFrame:
    return pd.DataFrame(
        [
            record("auto", "p1", 1, routed_to="s", category="math"),
            record("auto", "p2", 0, routed_to="w", category="math"),
            record("auto", "p3", 1, routed_to="s", category="text"),
            {**record("auto", "p4", 0, category="text", status="timeout"), "routed_to": None},
            record("w", "p1", 1),
        ]
    )


def test_routing_mix_counts_and_shares() -> None:
    mix = routing_mix(mix_table(), "auto")
    assert (mix.n, mix.unknown, mix.counts) == (3, 1, {"s": 2, "w": 1})
    assert mix.shares == pytest.approx({"s": 2 / 3, "w": 1 / 3})
    assert mix.by_category["math"] == {"n": 2, "counts": {"s": 1, "w": 1}, "shares": pytest.approx(
        {"s": 0.5, "w": 0.5})}  # fmt: skip
    assert mix.by_category["text"]["counts"] == {"s": 1}
    json.dumps(mix.to_dict(), allow_nan=False)


def test_strong_share() -> None:
    assert strong_share(mix_table(), "auto", "s") == pytest.approx(2 / 3)
    assert strong_share(mix_table(), "nobody", "s") is None


# --- Shuffled control ----------------------------------------------------------------


def synthetic(n: int = 200, seed: int = 11, router: str = "perfect") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    weak_ok, strong_ok = rng.random(n) < 0.55, rng.random(n) < 0.8
    rows = []
    for i in range(n):
        p, cat = f"p{i}", ("math", "text")[i % 2]
        rows.append(record("weak", p, weak_ok[i], 0.1, category=cat))
        rows.append(record("strong", p, strong_ok[i], 1.0, category=cat))
        if router == "perfect":  # the cheap model when it is right, else the strong one if right
            choice = "weak" if weak_ok[i] or not strong_ok[i] else "strong"
        else:
            choice = "strong" if rng.random() < 0.5 else "weak"
        ok = weak_ok[i] if choice == "weak" else strong_ok[i]
        cost = 0.1 if choice == "weak" else 1.0
        rows.append(record(f"auto:{router}", p, ok, cost, routed_to=choice, category=cat))
    return pd.DataFrame(rows)


def test_shuffled_control_perfect_router_is_significant() -> None:
    res = shuffled_control(synthetic(), "auto:perfect", ["weak", "strong"], 500, seed=1)
    assert res.n == 200 and res.n_dropped == 0 and not res.missing_models
    assert res.observed == res.auto_accuracy > res.permuted_mean
    assert res.p_value < 0.05 and res.p_value == pytest.approx(1 / 501)
    assert res.percentile == 100.0
    assert sum(res.routing_counts.values()) == 200


def test_shuffled_control_random_router_is_not_significant_and_deterministic() -> None:
    df = synthetic(router="random")
    res = shuffled_control(df, "auto:random", ["weak", "strong"], 500, seed=2)
    assert res.p_value > 0.05
    assert (
        res.to_dict() == shuffled_control(df, "auto:random", ["weak", "strong"], 500, 2).to_dict()
    )
    other = shuffled_control(df, "auto:random", ["weak", "strong"], 500, seed=3)
    assert other.observed == res.observed and other.p_value != res.p_value
    json.dumps(res.to_dict(), allow_nan=False)


def test_shuffled_control_hand_computed_two_prompts() -> None:
    df = pd.DataFrame(
        [
            record("s", "p1", 1),
            record("s", "p2", 0),
            record("w", "p1", 0),
            record("w", "p2", 1),
            record("auto", "p1", 1, routed_to="s"),
            record("auto", "p2", 1, routed_to="w"),
        ]
    )
    res = shuffled_control(df, "auto", ["s", "w"], 400, seed=0)
    # Two labelings: the observed one (accuracy 1) and the swap (0), each about half the time.
    assert res.observed == 1.0 and res.permuted_mean == pytest.approx(0.5, abs=0.1)
    assert 0.4 < res.p_value < 0.6


def test_shuffled_control_names_missing_models() -> None:
    df = synthetic(n=20)
    df.loc[df["arm"] == "auto:perfect", "routed_to"] = "mystery"
    res = shuffled_control(df, "auto:perfect", ["weak", "strong"], 50)
    assert res.missing_models == ("mystery",) and res.p_value is None


# --- Whole report ---------------------------------------------------------------------


def routed_table() -> pd.DataFrame:
    """Fixed weak/strong plus three auto modes sending 20%, 50% and 90% to strong."""
    df = synthetic(n=120, seed=4)
    fixed = df.loc[df["arm"].isin(["weak", "strong"])]
    wide = fixed.pivot(index="prompt_id", columns="arm", values="correct")
    rows = []
    for mode, share in (("auto:cheap", 0.2), ("auto", 0.5), ("auto:quality", 0.9)):
        for i, p in enumerate(wide.index):
            choice = "strong" if (i * 0.37) % 1 < share else "weak"
            cost = 1.0 if choice == "strong" else 0.1
            rows.append(record(mode, p, wide.at[p, choice], cost, routed_to=choice))
    return pd.concat([fixed, pd.DataFrame(rows)], ignore_index=True)


def test_evaluate_routing_bundles_every_figure() -> None:
    df = routed_table()
    autos = ["auto:cheap", "auto", "auto:quality"]
    rep = evaluate_routing(
        df,
        autos,
        ["weak", "strong"],
        reference="strong",
        n_resamples=100,
        n_permutations=100,
        curves={"sweep": autos},  # here the three modes are one router's thresholds
    )
    assert (rep.weak, rep.strong, rep.n_prompts, rep.notes) == ("weak", "strong", 120, ())
    q_w, q_s = rep.points["weak"].quality, rep.points["strong"].quality
    for arm in autos:
        r = rep.arms[arm]
        assert r.pgr == pytest.approx((r.quality - q_w) / (q_s - q_w))
        assert r.routing_skill == pytest.approx(r.pgr - r.strong_share)
        assert r.strong_share == pytest.approx(strong_share(df, arm, "strong"))
        assert r.versus_reference.arm_b == "strong"
        assert set(r.mix.counts) <= {"weak", "strong"}
        assert r.shuffled.p_value is not None
    (curve,) = rep.curves
    assert [p.arm for p in curve.points] == autos  # by strong share: 20%, 50%, 90%
    shares = [(p.strong_share, p.quality) for p in curve.points]
    assert curve.apgr == pytest.approx(apgr(shares, q_w, q_s))
    assert curve.cpt50 == cpt(shares, 0.5, q_w, q_s)
    assert rep.single_points == ()
    # One cost range for every AIQ: here the fixed models' span holds the curve's costs.
    assert rep.aiq_cost_range == pytest.approx((0.1, 1.0))
    assert curve.aiq == pytest.approx(
        aiq({p.arm: (p.cost, p.quality) for p in curve.points}, 0.1, 1.0)
    )
    assert rep.aiq_fixed == pytest.approx(aiq(rep.frontier))
    assert rep.oracle.accuracy >= q_s
    out = rep.to_dict()
    assert set(out["arms"]) == set(autos) and out["curves"][0]["points"][0]["arm"] == "auto:cheap"
    assert out["points"]["weak"] == {"cost": pytest.approx(0.1), "quality": q_w}
    assert set(out["arms"]["auto"]) >= {"position", "mix", "versus_fixed", "shuffled", "pgr"}
    json.dumps(out, allow_nan=False)


def test_evaluate_routing_unrelated_modes_are_points_not_a_curve() -> None:
    df = routed_table()
    autos = ["auto:cheap", "auto", "auto:quality"]
    rep = evaluate_routing(df, autos, ["weak", "strong"], n_resamples=50, n_permutations=50)
    assert rep.curves == ()
    assert [p.arm for p in rep.single_points] == autos
    for point in rep.single_points:
        r = rep.arms[point.arm]
        assert (point.cost, point.quality, point.strong_share, point.pgr) == (
            r.cost, r.quality, r.strong_share, r.pgr)  # fmt: skip
    (note,) = [n for n in rep.notes if "no APGR" in n]
    assert all(arm in note for arm in autos) and "unrelated" in note
    # No curve: the AIQ range is the fixed models' own span.
    assert rep.aiq_cost_range == pytest.approx((0.1, 1.0)) and rep.aiq_fixed == pytest.approx(
        aiq(rep.frontier)
    )


def test_evaluate_routing_one_operating_point_and_missing_arms() -> None:
    df = synthetic(n=40)
    rep = evaluate_routing(
        df,
        ["auto:perfect", "auto:gone"],
        ["weak", "strong"],
        n_resamples=50,
        n_permutations=50,
        curves={"lonely": ["auto:perfect", "auto:gone"]},
    )
    (curve,) = rep.curves
    assert [p.arm for p in curve.points] == ["auto:perfect"]
    assert curve.apgr is None and curve.cpt50 is None and curve.aiq is None
    assert any("'lonely'" in note and "no APGR" in note for note in rep.notes)
    assert any("auto:gone" in note for note in rep.notes)
    perfect = rep.arms["auto:perfect"]
    # The perfect router beats the best fixed model: the cost saving is undefined, flagged.
    assert perfect.position.above_best_model and perfect.position.cost_saving is None
    # Without --reference auto is compared with the most accurate fixed model.
    assert rep.reference == "strong" and perfect.versus_reference.arm_b == "strong"
    json.dumps(rep.to_dict(), allow_nan=False)
