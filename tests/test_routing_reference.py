"""Without ``--reference`` auto is compared with the most accurate fixed model (cheapest on
ties), and evaluation.json says which."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from auraon_bench.eval.report import build_report

# Per fixed model: cost per request and which of the 10 prompts it answers correctly.
FIXED = {
    "cheap": (0.1, range(4)),  # 40%
    "dear": (2.0, range(8)),  # 80%
    "mid": (0.5, range(1, 9)),  # 80%, cheaper than dear: the reference
    "poor": (0.05, range(2)),  # 20%
}


def table() -> pd.DataFrame:
    rows = []
    for i in range(10):
        for arm, (cost, right) in FIXED.items():
            rows.append(
                {"arm": arm, "prompt_id": f"p{i}", "status": "ok", "correct": i in right,
                 "cost_usd": cost, "routed_to": arm}
            )  # fmt: skip
        for arm, routed in (("auto", "mid" if i % 2 else "cheap"), ("auto:cheap", "poor")):
            cost, right = FIXED[routed]
            rows.append(
                {"arm": arm, "prompt_id": f"p{i}", "status": "ok", "correct": i in right,
                 "cost_usd": cost, "routed_to": routed}
            )  # fmt: skip
    return pd.DataFrame(rows)


ARMS = ["auto", "auto:cheap", "cheap", "dear", "mid", "poor"]


def test_default_reference_is_the_most_accurate_fixed_model_cheapest_on_ties() -> None:
    report = build_report(table(), ARMS)
    routing = report.routing
    assert routing.reference == "mid" == routing.strong
    for arm in ("auto", "auto:cheap"):
        versus = routing.arms[arm].versus_reference
        assert versus is not None and versus.arm_b == "mid"
        assert versus.quality_b == pytest.approx(0.8)
        assert versus.mcnemar_p_holm == routing.arms[arm].versus_fixed.versus["mid"].mcnemar_p_holm
    # auto: mid on odd prompts (p1, p3, p5, p7 right; p9 wrong), cheap on even (p0, p2 right).
    auto = routing.arms["auto"].versus_reference
    assert auto.quality_a == pytest.approx(0.6) and auto.difference == pytest.approx(-0.2)
    assert auto.cost_saved == pytest.approx(1 - (5 * 0.5 + 5 * 0.1) / (10 * 0.5))  # 0.4
    out = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert out["routing"]["reference"] == "mid"
    assert all(a["versus_reference"]["arm_b"] == "mid" for a in out["routing"]["arms"].values())


def test_an_explicit_reference_is_kept_and_a_non_fixed_one_is_noted() -> None:
    routing = build_report(table(), ARMS, reference="dear").routing
    assert routing.reference == "dear"
    assert routing.arms["auto"].versus_reference.arm_b == "dear"
    routing = build_report(table(), ARMS, reference="auto:cheap").routing
    assert routing.reference == "mid"
    assert any("'auto:cheap' is not a graded fixed arm" in note for note in routing.notes)
