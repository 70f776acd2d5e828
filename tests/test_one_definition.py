"""One figure, one definition: the load summary and the evaluation tables agree on shared ones."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from auraon_bench.analysis.accounting import cost_per_request, summarize_cost
from auraon_bench.analysis.quality import cost_table


def _eval_frame() -> pd.DataFrame:
    # One arm: three answered prompts, one billed failure, one answer with an unknown price,
    # and a warm-up row that no statistic may count.
    return pd.DataFrame(
        {
            "run_id": ["r"] * 6,
            "arm": ["gpt-4o"] * 6,
            "request_id": [0, 1, 2, 3, 4, 5],
            "attempt": [1] * 6,
            "prompt_id": ["p0", "p1", "p2", "p3", "p4", "p5"],
            "category": ["qa"] * 6,
            "warmup": [False, False, False, False, False, True],
            "status": ["ok", "ok", "ok", "http_error", "ok", "ok"],
            "correct": [True, False, True, None, True, True],
            "score": [1.0, 0.0, 1.0, None, 1.0, 1.0],
            "cost_usd": [0.010, 0.020, 0.030, 0.500, np.nan, 9.0],
            "latency_s": [1.0, 1.0, 1.0, None, 1.0, 1.0],
            "ttft_s": [0.1, 0.1, 0.1, None, 0.1, 0.1],
        }
    )


def test_cost_per_request_is_the_mean_over_ok_rows_with_a_cost() -> None:
    cost = np.array([0.01, 0.02, 0.5, np.nan])
    ok = np.array([True, True, False, True])
    assert cost_per_request(cost, ok) == pytest.approx(0.015)
    assert cost_per_request(cost, np.zeros(4, dtype=bool)) is None


def test_load_summary_and_eval_table_show_one_cost_per_request() -> None:
    df = _eval_frame()
    load = summarize_cost(df)
    evaluation = cost_table(df).rows["gpt-4o"]
    assert load.per_request_usd == pytest.approx(0.02)  # (0.01 + 0.02 + 0.03) / 3, by hand
    assert evaluation.per_request_usd == load.per_request_usd
    assert evaluation.per_1k_requests_usd == load.per_1k_requests_usd
    # The billed failure is money spent: in the total, not in the price of an answer.
    assert load.total_usd == pytest.approx(0.56) and evaluation.total_usd == pytest.approx(0.56)


def test_run_comparison_accuracy_is_the_evaluation_accuracy() -> None:
    from auraon_bench.analysis.quality import accuracy_table
    from auraon_bench.report.comparison import METRICS

    df = _eval_frame()
    # a second answer to p0 (a repeat), wrong: p0 becomes half right
    extra = df.iloc[[0]].assign(request_id=6, correct=False, score=0.0)
    df = pd.concat([df, extra], ignore_index=True)
    accuracy = next(m for m in METRICS if m.name.startswith("accuracy"))
    samples = accuracy.samples(df)
    expected = accuracy_table(df, by=("arm",)).rows[0].accuracy
    # by hand: p0 0.5, p1 0, p2 1, p3 failed = 0, p4 1 -> 2.5 / 5
    assert expected == pytest.approx(0.5)
    assert float(np.mean(samples)) == pytest.approx(expected)
