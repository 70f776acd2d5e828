"""Tests for auraon_bench.analysis.load_summary and .vllm_compat on hand-computed frames."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from auraon_bench.analysis import (
    SCHEMA_VERSION,
    ArmSummary,
    RunSummary,
    summarize_arm,
    summarize_run,
    vllm_view,
)
from tests.test_analysis_records import NAN, records

ARM_KEYS = [
    "arm",
    "requests",
    "warmup_requests",
    "ok",
    "window_s",
    "request_throughput",
    "output_token_throughput",
    "achieved_rate",
    "send_window_s",
    "ttft_s",
    "tpot_s",
    "itl_s",
    "latency_s",
    "output_tokens_per_s",
    "gateway_overhead_s",
    "schedule_lag_s",
    "goodput",
    "errors",
    "logical",
    "tokens",
    "cost",
    "ttlt_s",
    "connect_s",
    "connection_reused_share",
    "cache",
    "conversations",
    "output_caps",
]
PERCENTILE_FIELDS = ["ttft_s", "tpot_s", "itl_s", "latency_s", "output_tokens_per_s"]
PERCENTILE_FIELDS += ["gateway_overhead_s", "schedule_lag_s", "ttlt_s", "connect_s"]


def two_arms() -> pd.DataFrame:
    """Arm a: window 10 -> 20 s; arm b: 15 -> 25 s; a warm-up row at t=0 that must not count."""
    return records(
        [
            {"arm": "a", "warmup": True, "t_sent": 0.0, "ttft": 0.1, "latency": 1.0},
            {"arm": "a", "t_sent": 10.0, "ttft": 0.5, "latency": 2.0, "completion_tokens": 10},
            {"arm": "a", "t_sent": 11.0, "ttft": 0.25, "latency": 2.0, "completion_tokens": 20},
            {"arm": "a", "t_sent": 12.0, "latency": 8.0, "status": "timeout"},
            {"arm": "b", "t_sent": 15.0, "ttft": 1.0, "latency": 10.0, "completion_tokens": 30},
        ]
    )


def assert_plain_json(value: Any) -> None:
    """Only JSON types, recursively: no numpy scalars, no NaN."""
    if isinstance(value, dict):
        assert all(isinstance(k, str) for k in value)
        for v in value.values():
            assert_plain_json(v)
    elif isinstance(value, list):
        for v in value:
            assert_plain_json(v)
    else:
        assert value is None or type(value) in (str, int, float, bool), (type(value), value)
        if isinstance(value, float):
            assert value == value and abs(value) != float("inf")


def test_throughput_window_excludes_warmup_per_arm_and_overall() -> None:
    run = summarize_run(two_arms())
    a, b = run.arm("a"), run.arm("b")
    assert (a.requests, a.warmup_requests, a.ok) == (3, 1, 2)
    assert a.window_s == pytest.approx(10.0)  # 10 -> 20 (the timeout ends last)
    assert a.request_throughput == pytest.approx(0.2)
    assert a.output_token_throughput == pytest.approx(3.0)
    assert b.window_s == pytest.approx(10.0)
    assert b.request_throughput == pytest.approx(0.1)
    o = run.overall
    assert o.arm is None
    assert (o.requests, o.warmup_requests, o.ok) == (4, 1, 3)
    assert o.window_s == pytest.approx(15.0)  # union: 10 -> 25
    assert o.request_throughput == pytest.approx(0.2)
    assert o.output_token_throughput == pytest.approx(4.0)
    assert o.tokens.completion_tokens == 60


def test_latency_percentiles_use_ok_rows_and_carry_n() -> None:
    a = summarize_run(two_arms()).arm("a")
    assert a.ttft_s.n == 2
    assert a.ttft_s.p50 == pytest.approx(0.375)
    assert a.latency_s.n == 2 and a.latency_s.max == 2.0
    # tpot: (2 - 0.5) / 9 and (2 - 0.25) / 19
    assert a.tpot_s.n == 2
    assert a.tpot_s.mean == pytest.approx((1.5 / 9 + 1.75 / 19) / 2)
    assert a.output_tokens_per_s.min == pytest.approx(9 / 1.5)  # (tokens - 1) / decode time
    assert a.ttlt_s.n == 2 and a.ttlt_s.max == 2.0
    d = a.to_dict()
    for name in PERCENTILE_FIELDS:
        assert "n" in d[name]


def test_achieved_rate_and_schedule_lag() -> None:
    df = records(
        [
            {"t_sent": 1.0, "schedule_lag_s": 0.01, "latency": 1.0},
            {"t_sent": 2.0, "schedule_lag_s": 0.03, "latency": 1.0},
            {"t_sent": 3.0, "schedule_lag_s": 0.02, "latency": 1.0},
            {"t_sent": 5.0, "schedule_lag_s": 2.0, "attempt": 2, "request_id": "req-0"},
            {"t_sent": 0.0, "schedule_lag_s": 9.0, "warmup": True},
        ]
    )
    s = summarize_arm(df)
    assert s.send_window_s == pytest.approx(2.0)
    assert s.achieved_rate == pytest.approx(1.0)  # 3 first attempts, 2 gaps, over 1 -> 3 s
    assert s.schedule_lag_s.n == 3
    assert s.schedule_lag_s.max == pytest.approx(0.03)


def test_goodput_counts_exactly() -> None:
    df = records(
        [
            {"t_sent": 0.0, "ttft": 0.4, "latency": 2.0, "completion_tokens": 41},  # good
            {"t_sent": 1.0, "ttft": 0.6, "latency": 2.0, "completion_tokens": 41},  # ttft
            {"t_sent": 2.0, "ttft": 0.1, "latency": 8.0, "completion_tokens": 41},  # tpot
            {"t_sent": 3.0, "ttft": 0.2, "latency": 0.5, "completion_tokens": 1},  # good
            {"t_sent": 4.0, "latency": 6.0, "status": "rate_limited"},  # window end: 10
            {"t_sent": 5.0, "ttft": 0.1, "latency": 0.2, "warmup": True},  # ignored
        ]
    )
    s = summarize_arm(df, slos={"ttft_s": 0.5, "tpot_s": 0.05, "latency_s": 10})
    g = s.goodput
    assert g is not None
    assert g.good_requests == 2
    assert g.good_fraction == pytest.approx(2 / 5)
    assert g.request_goodput == pytest.approx(2 / 10)
    assert g.slos == {"ttft_s": 0.5, "tpot_s": 0.05, "latency_s": 10.0}
    assert summarize_arm(df).goodput is None
    with pytest.raises(ValueError, match="unknown metric"):
        summarize_arm(df, slos={"e2e": 1.0})


@pytest.mark.parametrize(
    "frame",
    [pd.DataFrame(), records([]), records([{"warmup": True, "latency": 1.0}])],
    ids=["no-columns", "no-rows", "only-warmup"],
)
def test_empty_frames_give_n0_without_exceptions(frame: pd.DataFrame) -> None:
    run = summarize_run(frame, slos={"ttft_s": 1.0})
    o = run.overall
    assert o.requests == 0 and o.ok == 0
    assert o.window_s is None and o.request_throughput is None
    for name in PERCENTILE_FIELDS:
        assert getattr(o, name).n == 0
    assert o.goodput is not None and o.goodput.good_fraction is None
    d = run.to_dict()
    assert_plain_json(d)
    assert json.loads(json.dumps(d, allow_nan=False)) == d
    assert vllm_view(frame)["completed"] == 0


def test_all_error_frame() -> None:
    df = records(
        [
            {"t_sent": 0.0, "latency": 30.0, "status": "timeout"},
            {"t_sent": 1.0, "latency": 0.1, "status": "rate_limited", "http_status": 429},
            {"t_sent": 2.0, "latency": 0.2, "status": "connection_error"},
        ]
    )
    s = summarize_arm(df)
    assert (s.requests, s.ok) == (3, 0)
    assert s.window_s == pytest.approx(30.0)
    assert s.request_throughput == 0.0 and s.output_token_throughput == 0.0
    assert s.ttft_s.n == s.latency_s.n == s.itl_s.n == s.tpot_s.n == 0
    assert s.ttft_s.p99 is None
    assert s.errors.rate_limited == 1 and s.errors.status_shares["ok"] == 0.0
    assert s.logical.outcome_counts["ok"] == 0
    json.dumps(s.to_dict(), allow_nan=False)


def test_retries_in_the_summary() -> None:
    df = records(
        [
            {
                "request_id": "A",
                "attempt": 1,
                "t_sent": 0.0,
                "latency": 0.1,
                "status": "rate_limited",
            },
            {"request_id": "A", "attempt": 2, "t_sent": 1.0, "ttft": 0.2, "latency": 1.0},
            {"request_id": "B", "attempt": 1, "t_sent": 0.5, "ttft": 0.2, "latency": 1.0},
        ]
    )
    s = summarize_arm(df)
    assert s.requests == 3 and s.ok == 2
    assert s.errors.rate_limited == 1
    assert (s.logical.requests, s.logical.retried) == (2, 1)
    assert s.logical.outcome_counts["ok"] == 2
    assert s.logical.e2e_latency_s.max == pytest.approx(2.0)  # A: 0.0 -> 2.0
    assert s.latency_s.max == pytest.approx(1.0)  # per attempt


def test_stages_only_when_several() -> None:
    assert summarize_run(two_arms()).stages == ()
    df = two_arms()
    df.loc[df["t_sent"] >= 12.0, "stage"] = 1
    run = summarize_run(df)
    assert [s.stage for s in run.stages] == [0, 1]
    s0, s1 = run.stages
    assert s0.overall.requests == 2 and s0.overall.warmup_requests == 1
    assert [a.arm for a in s0.arms] == ["a"]
    assert s1.overall.requests == 2 and [a.arm for a in s1.arms] == ["a", "b"]
    assert list(run.to_dict()["stages"]) == ["0", "1"]
    assert run.to_dict()["stages"]["1"]["stage"] == 1


def test_summary_to_dict_schema_and_json_round_trip() -> None:
    df = two_arms()
    df["cost_usd"] = pd.array([0.1, 0.01, 0.02, None, 0.03], dtype="Float64")
    df["server_latency_ms"] = [900.0, 1800.0, 1900.0, None, 9000.0]
    df["itl_s"] = [[0.1], [0.2, 0.3], [0.1] * 19, [], np.full(29, 0.3)]
    run = summarize_run(df, slos={"ttft_s": 0.5})
    assert isinstance(run, RunSummary)
    d = run.to_dict()
    # (what the load session adds after these, e.g. "simulated", is not the analysis's)
    assert list(d)[:6] == ["schema_version", "run_ids", "slos", "overall", "arms", "stages"]
    assert d["schema_version"] == SCHEMA_VERSION
    assert d["run_ids"] == ["run-1"]
    assert d["slos"] == {"ttft_s": 0.5}
    assert list(d["arms"]) == ["a", "b"]
    assert list(d["overall"]) == ARM_KEYS
    assert list(d["overall"]["ttft_s"]) == [
        *["n", "mean", "std", "min", "max"],
        *["p50", "p90", "p95", "p99", "p999"],
    ]
    assert list(d["overall"]["errors"]) == [
        "attempts",
        "status_counts",
        "status_shares",
        "rate_limited",
        "http_status_counts",
        "error_types",
        "top_errors",
        "distinct_errors",
    ]
    assert list(d["overall"]["logical"]) == [
        "requests",
        "retried",
        "outcome_counts",
        "outcome_shares",
        "e2e_latency_s",
    ]
    assert list(d["overall"]["tokens"]) == ["prompt_tokens", "completion_tokens", "token_sources"]
    assert list(d["overall"]["cost"]) == [
        "total_usd",
        "rows_with_cost",
        "per_request_usd",
        "per_1k_requests_usd",
        "per_1m_tokens_usd",
        "cost_sources",
    ]
    assert list(d["overall"]["goodput"]) == [
        "slos",
        "good_requests",
        "good_fraction",
        "request_goodput",
    ]
    assert_plain_json(d)
    assert json.loads(json.dumps(d, allow_nan=False)) == d
    o = d["overall"]
    assert o["itl_s"]["n"] == 2 + 19 + 29  # ok, non-warm-up rows only
    assert o["gateway_overhead_s"]["n"] == 3
    assert o["cost"]["total_usd"] == pytest.approx(0.06)


def test_p999_appears_in_a_summary_only_with_10000_samples() -> None:
    gaps = np.random.default_rng(0).exponential(0.02, size=5_000)
    df = records([{"itl_s": gaps, "latency": 1.0, "ttft": 0.1}, {"itl_s": gaps, "latency": 1.0}])
    s = summarize_arm(df)
    assert s.itl_s.n == 10_000 and s.itl_s.p999 is not None
    assert s.ttft_s.p999 is None
    assert summarize_arm(df.iloc[:1]).itl_s.p999 is None


def test_summarize_arm_infers_the_arm() -> None:
    df = two_arms()
    assert summarize_arm(df.loc[df["arm"] == "b"]).arm == "b"
    assert summarize_arm(df).arm is None
    assert summarize_arm(df, arm="label").arm == "label"
    assert isinstance(summarize_arm(df), ArmSummary)
    with pytest.raises(KeyError):
        summarize_run(df).arm("c")


def test_vllm_view_reproduces_vllm_names_and_values() -> None:
    df = two_arms()
    df["prompt_tokens"] = pd.array([5, 100, 200, 300, 400], dtype="Int64")
    df["itl_s"] = [[9.0], [0.1, 0.3], [], [5.0], [0.2]]
    v = vllm_view(df)
    assert v["duration"] == pytest.approx(15.0)
    assert (v["completed"], v["failed"]) == (3, 1)
    assert (v["total_input_tokens"], v["total_output_tokens"]) == (700, 60)
    assert v["request_throughput"] == pytest.approx(0.2)
    assert v["output_throughput"] == pytest.approx(4.0)
    assert v["total_token_throughput"] == pytest.approx(760 / 15)
    assert v["request_goodput"] is None
    ttft_ms = np.array([500.0, 250.0, 1000.0])
    assert v["mean_ttft_ms"] == pytest.approx(ttft_ms.mean())
    assert v["median_ttft_ms"] == pytest.approx(500.0)
    assert v["std_ttft_ms"] == pytest.approx(np.std(ttft_ms))  # population, as vLLM
    assert v["p99_ttft_ms"] == pytest.approx(np.percentile(ttft_ms, 99))
    assert v["mean_itl_ms"] == pytest.approx(200.0)  # 100, 300, 200 pooled
    assert v["median_e2el_ms"] == pytest.approx(2000.0)
    tpots = [1500 / 9, 1750 / 19, 9000 / 29]
    assert v["mean_tpot_ms"] == pytest.approx(np.mean(tpots))
    for metric in ("ttft", "tpot", "itl", "e2el"):
        for stat in ("mean", "median", "std", "p99"):
            assert f"{stat}_{metric}_ms" in v
    assert vllm_view(df, goodput={"ttft": 600})["request_goodput"] == pytest.approx(2 / 15)
    with pytest.raises(ValueError, match="goodput"):
        vllm_view(df, goodput={"ttft_s": 0.6})
    json.dumps(v, allow_nan=False)
    assert vllm_view(records([{"status": "timeout", "latency": NAN}]))["mean_ttft_ms"] is None


def test_frames_with_the_readers_nullable_dtypes() -> None:
    """Parquet-read frames: Int32/Int64/boolean with NA, string dtype, float32 ITL arrays."""
    df = two_arms()
    df["request_id"] = pd.array([0, 1, 2, 3, 4], dtype="Int64")
    df["attempt"] = pd.array([1, 1, 1, None, 1], dtype="Int32")
    df["stage"] = pd.array([0, 0, 0, 0, None], dtype="Int32")
    df["warmup"] = pd.array([True, False, None, False, False], dtype="boolean")
    df["status"] = df["status"].astype("string")
    df.loc[4, "status"] = pd.NA
    df["itl_s"] = [np.array([0.5], dtype=np.float32)] * 3 + [None, np.zeros(0, np.float32)]
    run = summarize_run(df)
    o = run.overall
    assert (o.requests, o.warmup_requests) == (4, 1)  # warmup NA counts as measured
    assert o.ok == 2  # the row with a missing status is not ok
    assert o.errors.status_counts["missing"] == 1
    assert o.itl_s.n == 2
    assert o.logical.requests == 4
    json.dumps(run.to_dict(), allow_nan=False)


def test_request_ids_are_scoped_by_run_and_stage() -> None:
    df = records(
        [
            {"request_id": 0, "stage": 0, "t_sent": 0.0, "latency": 1.0},
            {"request_id": 0, "stage": 1, "t_sent": 5.0, "latency": 1.0},
            {"request_id": 0, "stage": 1, "t_sent": 6.0, "latency": 1.0, "run_id": "run-2"},
        ]
    )
    s = summarize_arm(df)
    assert (s.logical.requests, s.logical.retried) == (3, 0)


def test_connection_setup_and_reuse_in_the_summary() -> None:
    df = records(
        [
            {"t_sent": 0.0, "latency": 1.0, "connect_s": 0.1, "connection_reused": False},
            {"t_sent": 1.0, "latency": 1.0, "connect_s": 0.3, "connection_reused": False},
            {"t_sent": 2.0, "latency": 1.0, "connection_reused": True},
            {"t_sent": 3.0, "latency": 1.0, "connection_reused": True},
            {"t_sent": 4.0, "status": "connection_error", "connection_reused": False},
            {"t_sent": 5.0, "latency": 1.0},  # a transport that cannot tell
            {"t_sent": 6.0, "warmup": True, "connect_s": 9.0, "connection_reused": False},
        ]
    )
    s = summarize_arm(df)
    assert s.connect_s.n == 2  # the connections opened, warm-up excluded
    assert s.connect_s.p50 == pytest.approx(0.2) and s.connect_s.max == pytest.approx(0.3)
    assert s.connection_reused_share == pytest.approx(2 / 5)  # of the 5 attempts that know
    d = s.to_dict()
    assert d["connect_s"]["n"] == 2 and d["connection_reused_share"] == pytest.approx(0.4)
    json.dumps(d, allow_nan=False)
    unknown = summarize_arm(df.drop(columns=["connect_s", "connection_reused"]))
    assert unknown.connect_s.n == 0 and unknown.connection_reused_share is None


def test_an_arm_summary_without_the_newer_fields_still_builds() -> None:
    """summary.json files written before ttlt_s and the connection figures existed."""
    s = summarize_arm(two_arms())
    newer = ("ttlt_s", "connect_s", "connection_reused_share", "cache", "conversations")
    newer += ("output_caps",)
    older = {f: getattr(s, f) for f in ARM_KEYS if f not in newer}
    rebuilt = ArmSummary(**older)
    assert rebuilt.ttlt_s.n == 0 and rebuilt.connect_s.n == 0
    assert rebuilt.connection_reused_share is None
    assert rebuilt.cache is None and rebuilt.conversations is None and rebuilt.output_caps is None
    assert list(ARM_KEYS[-6:]) == list(newer)  # appended at the end of the dataclass


def test_vllm_tpot_is_vllms_formula_and_the_summary_tpot_ends_at_the_last_token() -> None:
    # 11 tokens from 0.2 s to 1.2 s, then finish/usage/[DONE] at 2.0 s
    df = records([{"ttft": 0.2, "ttlt": 1.2, "latency": 2.0, "completion_tokens": 11}])
    assert summarize_arm(df).tpot_s.p50 == pytest.approx(0.1)
    v = vllm_view(df)
    assert v["mean_tpot_ms"] == pytest.approx((2000 - 200) / 10)  # (e2el - ttft) / (n - 1)
    assert v["mean_e2el_ms"] == pytest.approx(2000.0)
    assert vllm_view(df, goodput={"tpot": 170})["request_goodput"] == 0.0
    assert vllm_view(df, goodput={"tpot": 180})["request_goodput"] == pytest.approx(1 / 2.0)
