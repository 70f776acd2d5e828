"""Tests for auraon_bench.analysis.records and .accounting on small hand-computed frames."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from auraon_bench import formulas
from auraon_bench.analysis.accounting import (
    summarize_cost,
    summarize_errors,
    summarize_logical,
    summarize_tokens,
)
from auraon_bench.analysis.records import (
    connect_column,
    gateway_overhead,
    latency_column,
    logical_requests,
    measurement_window,
    output_tps,
    output_tps_column,
    pooled_itl,
    reuse_masks,
    send_window,
    slo_mask,
    tpot,
    tpot_column,
    ttlt_column,
    validate_slos,
)

NAN = float("nan")


def records(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """A records frame in the load runner's schema from short row specs.

    Each row gives what matters (``t_sent``, ``ttft``, ``ttlt``, ``latency``, ``status``, ...);
    the timestamps and derived columns are filled in consistently, the rest get defaults
    (``ttlt``, the last content event, defaults to ``latency``).
    """
    out = []
    for i, spec in enumerate(rows):
        spec = dict(spec)
        t_sent = spec.pop("t_sent", float(i))
        ttft = spec.pop("ttft", NAN)
        latency = spec.pop("latency", NAN)
        ttlt = spec.pop("ttlt", latency)
        status = spec.pop("status", "ok")
        tokens = spec.pop("completion_tokens", 5 if status == "ok" else None)
        arm = spec.pop("arm", "model-a")
        row: dict[str, Any] = {
            "run_id": "run-1",
            "arm": arm,
            "attempt": 1,
            "request_id": f"req-{i}",
            "prompt_id": f"p{i}",
            "category": "chat",
            "stage": 0,
            "warmup": False,
            "worker": 0,
            "model_requested": arm,
            "model_reported": arm,
            "routed_to": arm,
            "routing_reason": None,
            "status": status,
            "http_status": 200 if status == "ok" else None,
            "error_type": None,
            "error_code": None,
            "error_message": None,
            "t_scheduled": t_sent,
            "t_sent": t_sent,
            "t_first_byte": t_sent + ttft,
            "t_first_token": t_sent + ttft,
            "t_last_token": t_sent + ttlt,
            "t_done": t_sent + latency,
            "schedule_lag_s": 0.0,
            "connect_s": None,
            "connection_reused": None,
            "ttft_s": ttft,
            "ttlt_s": ttlt,
            "latency_s": latency,
            "tpot_s": NAN,
            "itl_s": [],
            "n_events": 0,
            "prompt_tokens": 10,
            "completion_tokens": tokens,
            "token_source": "usage",
            "cost_usd": None,
            "cost_source": "none",
            "server_latency_ms": None,
            "retry_after_s": None,
            "stream": True,
            "finish_reason": "stop",
            "response_text": "",
            "correct": None,
            "score": None,
        }
        unknown = set(spec) - set(row)
        assert not unknown, unknown
        row.update(spec)
        out.append(row)
    df = pd.DataFrame(out)
    if df.empty:
        return df
    for name in ("prompt_tokens", "completion_tokens", "http_status"):
        df[name] = df[name].astype("Int64")
    df["cost_usd"] = df["cost_usd"].astype("Float64")
    df["correct"] = df["correct"].astype("boolean")
    df["connection_reused"] = df["connection_reused"].astype("boolean")
    df["connect_s"] = df["connect_s"].astype("float64")
    return df


def test_tpot_helper() -> None:
    assert tpot(2.0, 0.5, 4) == pytest.approx(0.5)
    assert math.isnan(tpot(2.0, 0.5, 1))  # one token: no inter-token time
    assert math.isnan(tpot(2.0, 0.5, 0))
    assert math.isnan(tpot(2.0, 0.5, None))
    assert math.isnan(tpot(2.0, 0.5, pd.NA))
    assert math.isnan(tpot(NAN, 0.5, 4))
    got = tpot([2.0, 2.0, 3.0], [0.5, 0.5, 1.0], pd.array([4, 1, None], dtype="Int64"))
    assert np.allclose(got, [0.5, NAN, NAN], equal_nan=True)


def test_tpot_column_recomputes_and_drops_single_token_rows() -> None:
    df = records(
        [
            {"ttft": 0.2, "latency": 1.2, "completion_tokens": 11, "tpot_s": 99.0},
            {"ttft": 0.2, "latency": 0.3, "completion_tokens": 1, "tpot_s": 99.0},
        ]
    )
    assert np.allclose(tpot_column(df), [0.1, NAN], equal_nan=True)
    # without completion_tokens the stored column is the only source
    assert list(tpot_column(df.drop(columns="completion_tokens"))) == [99.0, 99.0]


def test_tpot_and_output_tps_end_at_the_last_content_event_not_the_last_byte() -> None:
    # Content from 0.2 s to 1.2 s (11 tokens: 10 gaps of 0.1 s); finish, usage and [DONE]
    # 0.8 s later. Latency includes that tail; TPOT and output tok/s must not.
    df = records([{"ttft": 0.2, "ttlt": 1.2, "latency": 2.0, "completion_tokens": 11}])
    assert list(latency_column(df)) == [2.0]
    assert list(ttlt_column(df)) == [pytest.approx(1.2)]
    assert list(tpot_column(df)) == [pytest.approx(0.1)]
    assert list(output_tps_column(df)) == [pytest.approx(10.0)]
    assert tpot(1.2, 0.2, 11) == pytest.approx(0.1)


def test_one_formula_for_numbers_and_arrays() -> None:
    """The client's scalar path and the analysis's array path of auraon_bench.formulas agree."""
    cases = [(0.2, 1.2, 11), (0.2, 1.2, 2), (0.2, 1.2, 1), (0.2, 0.2, 5), (None, 1.0, 3)]
    cases += [(0.1, None, 3), (0.1, 0.5, None), (0.5, 0.1, 3)]
    for first, last, tokens in cases:
        for f in (formulas.tpot, formulas.output_tps):
            one = f(first, last, tokens)
            many = f(np.array([first], dtype=float), np.array([last], dtype=float), [tokens])
            assert one is None or isinstance(one, float), (f, first, last, tokens)
            if one is None:
                assert np.isnan(many[0]), (f, first, last, tokens)
            else:
                assert many[0] == pytest.approx(one), (f, first, last, tokens)
    assert formulas.tpot(0.2, 1.2, 11) == pytest.approx(0.1)
    assert formulas.output_tps(0.2, 1.2, 11) == pytest.approx(10.0)
    assert formulas.tpot(0.2, 1.2, 1) is None and formulas.output_tps(0.2, 0.2, 5) is None


def test_ttlt_of_records_without_the_column() -> None:
    df = records(
        [
            {"ttft": 0.2, "ttlt": 1.2, "latency": 2.0},  # schema 2: ttlt_s itself
            {"ttft": 0.2, "ttlt": 1.5, "latency": 2.0, "ttlt_s": NAN},  # v1: t_last_token
            {"ttft": 0.2, "latency": 1.8, "ttlt_s": NAN, "t_last_token": NAN},  # v1 latency
            {"latency": 1.0, "ttlt_s": NAN, "t_last_token": NAN},  # non-streamed: none
        ]
    )
    got = ttlt_column(df)
    assert np.allclose(got, [1.2, 1.5, 1.8, NAN], equal_nan=True)
    # a frame from before the column existed at all
    assert np.allclose(ttlt_column(df.drop(columns="ttlt_s")), [1.2, 1.5, 1.8, NAN], equal_nan=True)


def test_connection_columns() -> None:
    df = records(
        [
            {"connect_s": 0.25, "connection_reused": False},
            {"connection_reused": True},
            {"connection_reused": False, "status": "connection_error"},  # opening failed
            {},  # unknown
        ]
    )
    assert np.allclose(connect_column(df), [0.25, NAN, NAN, NAN], equal_nan=True)
    reused, known = reuse_masks(df)
    assert list(reused) == [False, True, False, False]
    assert list(known) == [True, True, True, False]
    reused, known = reuse_masks(df.drop(columns="connection_reused"))
    assert not reused.any() and not known.any()


def test_output_tps() -> None:
    # (completion_tokens - 1) / (last - first content event): 9 gaps in 2 s
    assert output_tps(2.5, 0.5, 10) == pytest.approx(4.5)
    assert output_tps(2.5, 0.5, 10) == pytest.approx(1 / tpot(2.5, 0.5, 10))
    assert math.isnan(output_tps(0.5, 0.5, 10))  # no decode time
    assert math.isnan(output_tps(2.5, NAN, 10))
    assert math.isnan(output_tps(2.5, 0.5, 1))  # one token: no decode rate


def test_itl_is_the_concatenation_of_ok_rows() -> None:
    df = records(
        [
            {"itl_s": [0.1, 0.2]},
            {"itl_s": np.array([0.3])},
            {"status": "timeout", "itl_s": [9.0, 9.0]},  # failed: excluded
            {"warmup": True, "itl_s": [8.0]},  # warm-up: excluded
            {"itl_s": None},
            {"itl_s": NAN},
            {"itl_s": [0.4, NAN, 0.5]},
        ]
    )
    assert list(pooled_itl(df)) == [0.1, 0.2, 0.3, 0.4, 0.5]
    assert pooled_itl(df.drop(columns="itl_s")).size == 0
    assert pooled_itl(df.iloc[:0]).size == 0


def test_gateway_overhead_needs_both_values() -> None:
    df = records(
        [
            {"latency": 1.5, "server_latency_ms": 1200},
            {"latency": 1.5, "server_latency_ms": None},
        ]
    )
    assert np.allclose(gateway_overhead(df), [0.3, NAN], equal_nan=True)


def test_windows_exclude_warmup_and_use_first_attempts_for_sends() -> None:
    df = records(
        [
            {"warmup": True, "t_sent": 0.0, "latency": 1.0},
            {"t_sent": 2.0, "latency": 1.0},
            {"t_sent": 3.0, "latency": 5.0, "status": "timeout"},  # ends last
            {"t_sent": 6.0, "latency": 0.5, "attempt": 2, "request_id": "req-1"},
        ]
    )
    assert measurement_window(df) == (2.0, 8.0)
    assert send_window(df) == (2.0, 3.0)  # the retry is not a scheduled send
    assert measurement_window(df.iloc[:1]) is None
    assert measurement_window(records([])) is None


def test_logical_requests_span_retries_and_take_the_last_outcome() -> None:
    df = records(
        [
            # request A: 429, then timeout, then ok; rows deliberately out of order
            {"request_id": "A", "attempt": 3, "t_sent": 5.0, "ttft": 0.1, "latency": 1.0},
            {
                "request_id": "A",
                "attempt": 1,
                "t_sent": 1.0,
                "latency": 0.05,
                "status": "rate_limited",
            },
            {"request_id": "A", "attempt": 2, "t_sent": 2.0, "latency": 2.0, "status": "timeout"},
            # request B: ok then nothing; request C: ok, then a failed retry is the outcome
            {"request_id": "B", "t_sent": 1.5, "latency": 0.5},
            {
                "request_id": "C",
                "attempt": 1,
                "t_sent": 3.0,
                "latency": 0.2,
                "status": "http_error",
            },
            {"request_id": "C", "attempt": 2, "t_sent": 4.0, "latency": 0.3, "status": "timeout"},
            {"request_id": "W", "warmup": True, "t_sent": 0.0, "latency": 0.1},
            {"request_id": None, "t_sent": 7.0, "latency": 0.1},
            {"request_id": None, "t_sent": 8.0, "latency": 0.1},
        ]
    )
    lr = logical_requests(df).set_index("request_id", drop=False)
    assert len(lr) == 5  # W is warm-up; each row without an id is its own request
    a = lr.loc["A"]
    assert (a["attempts"], a["status"]) == (3, "ok")
    assert a["e2e_latency_s"] == pytest.approx(6.0 - 1.0)  # last t_done − first t_sent
    c = lr.loc["C"]
    assert (c["attempts"], c["status"]) == (2, "timeout")
    assert c["e2e_latency_s"] == pytest.approx(4.3 - 3.0)
    assert lr.loc["B", "attempts"] == 1

    s = summarize_logical(df)
    assert (s.requests, s.retried) == (5, 2)
    assert s.outcome_counts["ok"] == 4 and s.outcome_counts["timeout"] == 1
    assert s.outcome_shares["ok"] == pytest.approx(0.8)
    # e2e latency of ok outcomes: A 5.0, B 0.5, and the two id-less requests 0.1
    assert s.e2e_latency_s.n == 4
    assert s.e2e_latency_s.max == pytest.approx(5.0)


def test_logical_requests_of_an_empty_frame() -> None:
    assert len(logical_requests(records([]))) == 0
    assert summarize_logical(pd.DataFrame()).requests == 0


def test_slo_mask_counts_exactly() -> None:
    df = records(
        [
            {"ttft": 0.4, "latency": 2.0, "completion_tokens": 41},  # tpot 0.04: good
            {"ttft": 0.5, "latency": 2.5, "completion_tokens": 41},  # on both limits: good
            {"ttft": 0.6, "latency": 1.0, "completion_tokens": 9},  # ttft too slow
            {"ttft": 0.1, "latency": 4.1, "completion_tokens": 41},  # tpot 0.1 too slow
            {"ttft": 0.1, "latency": 0.2, "completion_tokens": 1},  # no tpot: good
            {"ttft": NAN, "latency": 1.0, "completion_tokens": 3},  # ttft unknown: not good
            {"ttft": 0.1, "latency": 0.2, "status": "timeout"},  # failed: not good
        ]
    )
    slos = {"ttft_s": 0.5, "tpot_s": 0.05}
    assert list(slo_mask(df, slos)) == [True, True, False, False, True, False, False]
    assert list(slo_mask(df, {"latency_s": 1.0})) == [False] * 2 + [True, False, True, True, False]
    assert list(slo_mask(df, None)) == [True] * 6 + [False]


def test_validate_slos() -> None:
    assert validate_slos({"ttft_s": 1}) == {"ttft_s": 1.0}
    assert validate_slos(None) == {}
    with pytest.raises(ValueError, match="unknown metric"):
        validate_slos({"ttft": 0.5})
    with pytest.raises(ValueError, match=">= 0"):
        validate_slos({"latency_s": -1})


def test_error_accounting_per_attempt() -> None:
    df = records(
        [
            {"latency": 1.0},
            {"latency": 1.0},
            {"status": "rate_limited", "http_status": 429, "error_type": "rate_limit"},
            {"status": "rate_limited", "http_status": 429, "error_type": "rate_limit"},
            {"status": "http_error", "http_status": 503, "error_type": "unavailable"},
            {"status": "timeout"},
            {"status": "timeout", "warmup": True},
        ]
    )
    s = summarize_errors(df)
    assert s.attempts == 6
    assert s.status_counts == {
        "ok": 2,
        "http_error": 1,
        "rate_limited": 2,
        "timeout": 1,
        "connection_error": 0,
        "protocol_error": 0,
        "cancelled": 0,
    }
    assert s.status_shares["rate_limited"] == pytest.approx(2 / 6)
    assert s.rate_limited == 2
    assert s.http_status_counts == {"429": 2, "503": 1}
    assert s.error_types == {"rate_limit": 2, "unavailable": 1}
    empty = summarize_errors(records([]))
    assert empty.attempts == 0 and empty.status_shares["ok"] is None


def test_cost_per_request_per_1k_and_per_1m_tokens() -> None:
    df = records(
        [
            {
                "cost_usd": 0.002,
                "prompt_tokens": 100,
                "completion_tokens": 50,
                "cost_source": "auraon",
            },
            {
                "cost_usd": 0.004,
                "prompt_tokens": 200,
                "completion_tokens": 150,
                "cost_source": "auraon",
            },
            # a billed failure: in the total and per token, not in the per-request mean
            {"status": "timeout", "cost_usd": 0.001, "prompt_tokens": 100, "completion_tokens": 0},
            # ok without a cost: in neither
            {"cost_usd": None, "prompt_tokens": 999, "completion_tokens": 999},
            {"warmup": True, "cost_usd": 1.0},
        ]
    )
    c = summarize_cost(df)
    assert c.total_usd == pytest.approx(0.007)
    assert c.rows_with_cost == 3
    assert c.per_request_usd == pytest.approx(0.003)
    assert c.per_1k_requests_usd == pytest.approx(3.0)
    assert c.per_1m_tokens_usd == pytest.approx(0.007 / 600 * 1e6)
    assert c.cost_sources == {"none": 2, "auraon": 2}

    none = summarize_cost(records([{"latency": 1.0}]))
    assert none.total_usd is None and none.per_request_usd is None
    assert none.per_1k_requests_usd is None and none.per_1m_tokens_usd is None


def test_token_totals_and_sources() -> None:
    df = records(
        [
            {"prompt_tokens": 10, "completion_tokens": 3, "token_source": "usage"},
            {"prompt_tokens": 20, "completion_tokens": None, "token_source": "estimated"},
            {"status": "timeout", "prompt_tokens": 40, "token_source": "none"},
        ]
    )
    t = summarize_tokens(df)
    assert (t.prompt_tokens, t.completion_tokens) == (30, 3)
    assert t.token_sources == {"estimated": 1, "none": 1, "usage": 1}
