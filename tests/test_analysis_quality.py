"""Tests for auraon_bench.analysis.quality: accuracy, cost, paired comparisons, Holm, oracle."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binomtest

from auraon_bench.analysis.quality import (
    accuracy_table,
    cost_table,
    graded_records,
    holm,
    oracle,
    paired_comparison,
    versus_all,
    versus_reference,
)
from auraon_bench.analysis.stats import bootstrap_ci


def record(arm, prompt, correct, cost, *, status="ok", category=None, routed_to=None, **extra):
    failed = status != "ok"
    return {
        "arm": arm,
        "prompt_id": prompt,
        "category": category,
        "status": status,
        "correct": None if correct is None else bool(correct),
        "score": np.nan if failed or correct is None else float(correct),
        "cost_usd": cost,
        "latency_s": extra.get("latency_s", 1.0),
        "ttft_s": extra.get("ttft_s", 0.1),
        "routed_to": routed_to if routed_to is not None else arm,
        **{k: v for k, v in extra.items() if k not in ("latency_s", "ttft_s")},
    }


def small_table() -> pd.DataFrame:
    """A: right, right, wrong, failed (+ an ungraded p5); B: right, wrong, right, right."""
    cat = {"p1": "math", "p2": "math", "p3": "text", "p4": "text", "p5": "text"}
    rows = [
        record("A", "p1", True, 0.01, category=cat["p1"], latency_s=1.0),
        record("A", "p2", True, 0.01, category=cat["p2"], latency_s=2.0),
        record("A", "p3", False, 0.01, category=cat["p3"], latency_s=3.0),
        record("A", "p4", None, np.nan, status="timeout", category=cat["p4"], latency_s=30.0),
        record("A", "p5", None, 0.01, category=cat["p5"], latency_s=4.0),
    ]
    rows += [
        record("B", p, c, 0.03, category=cat[p], latency_s=5.0)
        for p, c in [("p1", True), ("p2", False), ("p3", True), ("p4", True)]
    ]
    frame = pd.DataFrame(rows)
    frame["correct"] = frame["correct"].astype("boolean")
    return frame


def test_graded_records_failed_rows_are_incorrect_and_ungraded_rows_are_nan() -> None:
    rows = graded_records(small_table()).set_index(["arm", "prompt_id"])
    assert rows.loc[("A", "p4"), "correct_value"] == 0.0  # failed: stays in the denominator
    assert rows.loc[("A", "p4"), "score_value"] == 0.0
    assert np.isnan(rows.loc[("A", "p5"), "correct_value"])  # ok but ungraded


def test_graded_records_keeps_the_last_attempt_and_drops_warmup() -> None:
    df = pd.DataFrame(
        [
            record("A", "p1", None, 0.01, status="rate_limited", request_id=1, attempt=1),
            record("A", "p1", True, 0.01, request_id=1, attempt=2),
            record("A", "p2", False, 0.01, request_id=2, attempt=1, warmup=True),
        ]
    )
    rows = graded_records(df)
    assert len(rows) == 1 and rows["correct_value"].tolist() == [1.0]


def test_accuracy_table_by_arm_hand_computed() -> None:
    table = accuracy_table(small_table(), n_resamples=300)
    a, b = table.row("A"), table.row("B")
    assert (a.n, a.n_rows, a.ungraded, a.correct, a.accuracy) == (4, 5, 1, 2, 0.5)
    assert a.failure_rate == pytest.approx(1 / 5)
    assert a.mean_score == pytest.approx(0.5)  # scores 1, 1, 0, failed -> 0 (p5 ungraded)
    assert (b.n, b.correct, b.accuracy, b.failure_rate) == (4, 3, 0.75, 0.0)
    assert (b.ci_low, b.ci_high) == pytest.approx(bootstrap_ci([1, 0, 1, 1], n_resamples=300))
    assert 0.0 <= b.ci_low <= 0.75 <= b.ci_high <= 1.0
    d = table.to_dict()
    assert d["by"] == ["arm"] and d["rows"][0]["arm"] == "A"
    assert set(d["rows"][0]) == {
        "arm", "category", "n", "n_rows", "ungraded", "correct", "accuracy", "ci_low", "ci_high",
        "failure_rate", "mean_score",
    }  # fmt: skip
    json.dumps(d, allow_nan=False)


def test_accuracy_table_by_arm_and_category() -> None:
    table = accuracy_table(small_table(), by=("arm", "category"), n_resamples=100)
    got = {(r.arm, r.category): r.accuracy for r in table.rows}
    assert got == {("A", "math"): 1.0, ("A", "text"): 0.0, ("B", "math"): 0.5, ("B", "text"): 1.0}
    assert table.row("A", "math").ci_low == table.row(arm="A", category="math").ci_high == 1.0
    with pytest.raises(ValueError):
        accuracy_table(small_table(), by=("status",))


def test_accuracy_table_averages_repeats_per_prompt() -> None:
    df = pd.DataFrame(
        [record("A", "p1", c, 0.0, repeat=r) for r, c in enumerate([True, True, False, True])]
        + [record("A", "p2", False, 0.0, repeat=0)]
    )
    row = accuracy_table(df, n_resamples=50).row("A")
    assert (row.n, row.n_rows, row.correct) == (2, 5, 0.75)
    assert row.accuracy == pytest.approx(0.375)


def test_cost_table_hand_computed() -> None:
    table = cost_table(small_table())
    a, b = table.rows["A"], table.rows["B"]
    assert (a.n_requests, a.n_with_cost, a.correct) == (5, 4, 2)
    assert a.total_usd == pytest.approx(0.04)
    assert a.per_request_usd == pytest.approx(0.01)
    assert a.per_1k_requests_usd == pytest.approx(10.0)
    assert a.per_correct_usd == pytest.approx(0.02)
    assert b.per_correct_usd == pytest.approx(0.12 / 3)
    # Latency over ok rows only (the 30 s timeout is left out): 1, 2, 3, 4.
    assert (a.latency_s.n, a.latency_s.p50) == (4, 2.5)
    assert a.latency_s.p95 == pytest.approx(3.85)
    d = table.to_dict()["rows"]
    assert d["A"]["latency_s"]["p50"] == 2.5 and d["A"]["ttft_s"]["n"] == 4
    json.dumps(d, allow_nan=False)


def test_cost_per_correct_is_none_without_a_correct_answer() -> None:
    df = pd.DataFrame([record("A", "p1", False, 0.5)])
    assert cost_table(df).rows["A"].per_correct_usd is None


def test_paired_comparison_hand_computed() -> None:
    cmp = paired_comparison(small_table(), "A", "B", seed=1, n_resamples=300)
    assert cmp.n_prompts == 4  # p5 is ungraded for A and absent for B
    assert (cmp.quality_a, cmp.quality_b, cmp.difference) == (0.5, 0.75, -0.25)
    expected = bootstrap_ci([0, 1, -1, -1], n_resamples=300, seed=1)
    assert cmp.difference_ci == pytest.approx(expected)
    assert (cmp.n_pairs, cmp.a_only, cmp.b_only) == (4, 1, 2)
    assert cmp.mcnemar_p == pytest.approx(binomtest(1, 3, 0.5).pvalue) == 1.0
    # Cost over the prompts both arms have a cost for (p1-p3): 0.03 / 0.09.
    assert cmp.n_cost_prompts == 3
    assert cmp.cost_ratio == pytest.approx(1 / 3)
    assert cmp.cost_ratio_ci == pytest.approx((1 / 3, 1 / 3))  # every prompt has the same ratio
    json.dumps(cmp.to_dict(), allow_nan=False)


def test_paired_comparison_without_discordant_pairs_has_p_one() -> None:
    df = pd.DataFrame([record(arm, "p1", True, 1.0) for arm in ("A", "B")])
    cmp = paired_comparison(df, "A", "B", n_resamples=20)
    assert (cmp.a_only, cmp.b_only, cmp.mcnemar_p, cmp.difference) == (0, 0, 1.0, 0.0)


def test_paired_comparison_is_deterministic_by_seed() -> None:
    rng = np.random.default_rng(3)
    df = pd.DataFrame(
        [record(arm, f"p{i}", rng.random() < 0.7, rng.random()) for i in range(40) for arm in "AB"]
    )
    one = paired_comparison(df, "A", "B", seed=5, n_resamples=200).to_dict()
    assert one == paired_comparison(df, "A", "B", seed=5, n_resamples=200).to_dict()
    assert one != paired_comparison(df, "A", "B", seed=6, n_resamples=200).to_dict()


def test_holm_known_values() -> None:
    got = holm({"a": 0.01, "b": 0.04, "c": 0.03, "d": 0.005})
    # sorted d, a, c, b: 4 x .005, 3 x .01, 2 x .03, max(.06, 1 x .04)
    assert got == pytest.approx({"a": 0.03, "b": 0.06, "c": 0.06, "d": 0.02})
    assert list(got) == ["a", "b", "c", "d"]
    assert holm({"x": 0.6, "y": 0.4, "z": None}) == {"x": 0.8, "y": 0.8, "z": None}
    assert holm({"only": 0.2}) == {"only": 0.2}
    assert holm({}) == {}


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(0.0, 1.0), min_size=1, max_size=12))
def test_holm_properties(ps: list[float]) -> None:
    raw = {f"h{i}": p for i, p in enumerate(ps)}
    adjusted = holm(raw)
    assert all(raw[k] <= adjusted[k] <= 1.0 for k in raw)
    order = sorted(raw, key=raw.get)
    assert [adjusted[k] for k in order] == sorted(adjusted[k] for k in order)  # monotone
    assert adjusted[order[0]] == pytest.approx(min(1.0, len(ps) * raw[order[0]]))


def test_versus_reference_and_versus_all() -> None:
    df = small_table()
    v = versus_reference(df, "A", "B", n_resamples=100)
    assert v.quality_retained == pytest.approx(0.5 / 0.75)
    assert v.cost_saved == pytest.approx(2 / 3)
    assert v.cost_saved_ci == pytest.approx((2 / 3, 2 / 3))
    c_rows = [record("C", p, False, 0.02) for p in ("p1", "p2", "p3", "p4")]
    df = pd.concat([df, pd.DataFrame(c_rows)], ignore_index=True)
    both = versus_all(df, "A", ["B", "C"], n_resamples=100)
    raw = {arm: both.versus[arm].mcnemar_p for arm in ("B", "C")}
    assert raw["C"] == pytest.approx(binomtest(2, 2, 0.5).pvalue)  # A beats C on p1, p2
    adjusted = {arm: both.versus[arm].mcnemar_p_holm for arm in ("B", "C")}
    assert adjusted == pytest.approx(holm(raw))
    d = both.to_dict()
    assert set(d["versus"]) == {"B", "C"} and d["versus"]["C"]["mcnemar_p_holm"] == 1.0
    json.dumps(d, allow_nan=False)


def test_oracle_hand_computed_cheapest_among_ties() -> None:
    table = {"cheap": (1.0, [1, 0, 0]), "mid": (2.0, [0, 0, 0]), "dear": (3.0, [1, 1, 0])}
    df = pd.DataFrame(
        [
            record(arm, f"p{i + 1}", c, cost)
            for arm, (cost, correct) in table.items()
            for i, c in enumerate(correct)
        ]
    )
    o = oracle(df, ["cheap", "mid", "dear"])
    assert o.n_prompts == 3
    assert o.accuracy == pytest.approx(2 / 3)
    assert o.choices == {"p1": "cheap", "p2": "dear", "p3": "cheap"}  # p3: all wrong -> cheapest
    assert o.cost_per_request == pytest.approx(5 / 3)
    assert o.choice_counts == {"cheap": 2, "mid": 0, "dear": 1}
    json.dumps(o.to_dict(), allow_nan=False)


def test_oracle_unknown_cost_ranks_last_and_order_breaks_ties() -> None:
    df = pd.DataFrame([record("x", "p1", True, np.nan), record("y", "p1", True, np.nan)])
    assert oracle(df, ["y", "x"]).choices == {"p1": "y"}
    df.loc[0, "cost_usd"] = 5.0
    assert oracle(df, ["y", "x"]).choices == {"p1": "x"}
