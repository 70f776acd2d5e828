"""Rate-limit probe logic and plan advice: pure functions, no server, no event loop."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from auraon_bench.analysis.limits import (
    Recovery,
    limit_dimension,
    rate_finding,
    remaining_finding,
    reset_finding,
    retry_after_finding,
)
from auraon_bench.analysis.plan_advice import Workload, advise, months_until
from auraon_bench.errors import ConfigError
from auraon_bench.experiment.workload import workload_from_file, workload_from_run
from auraon_bench.limits.checks import trial_size
from auraon_bench.limits.search import RateSearch
from auraon_bench.limits.session import plan_from_headers
from auraon_bench.results.run import read_run
from tests.conftest import FIXTURES


def run_search(search: RateSearch, true_limit: float | None) -> RateSearch:
    while (rate := search.next_rate()) is not None:
        search.observe(rate, true_limit is not None and rate > true_limit)
    return search


@pytest.mark.parametrize("limit", [1.0, 0.37, 3.9, 16.6])
def test_ramp_then_bisection_ends_within_tolerance_below_the_limit(limit: float) -> None:
    search = run_search(RateSearch(start=0.5, ceiling=100.0, tolerance=0.05), limit)
    assert search.limited
    assert search.sustainable is not None
    assert limit * 0.95 <= search.sustainable <= limit
    assert len(search.trials) <= 16


def test_no_limit_below_the_ceiling_is_reported_as_unlimited() -> None:
    search = run_search(RateSearch(start=2.0, ceiling=100.0), None)
    assert not search.limited and search.sustainable == 100.0
    assert [r for r, _ in search.trials] == [2, 4, 8, 16, 32, 64, 100]


def test_a_contradicting_pass_moves_the_upper_bound_above_it() -> None:
    search = RateSearch(start=1.0, ceiling=10.0)
    search.observe(1.0, False)
    search.observe(2.0, True)
    search.observe(2.5, False)  # noise near the limit
    assert search.low == 2.5 and search.high is not None and search.high > 2.5


def test_search_rejects_a_start_above_its_ceiling() -> None:
    with pytest.raises(ValueError, match="start"):
        RateSearch(start=5.0, ceiling=1.0)


def test_trials_grow_with_what_a_drain_leaves_behind() -> None:
    assert trial_size("requests", 0.0) == 24
    assert trial_size("requests", 7.5) == 250
    assert trial_size("tokens", 1000.0) == 400


def record(status: str, message: str = "", remaining_tokens: int | None = None) -> SimpleNamespace:
    return SimpleNamespace(
        status=status, error_message=message, ratelimit_remaining_tokens=remaining_tokens
    )


def test_a_429_says_which_limit_it_hit() -> None:
    assert limit_dimension(record("ok")) is None
    assert (
        limit_dimension(record("rate_limited", "Rate limit reached for tokens per min")) == "tokens"
    )
    msg = "Rate limit reached for requests per min (RPM)"
    assert limit_dimension(record("rate_limited", msg)) == "requests"
    assert limit_dimension(record("rate_limited", "slow down", remaining_tokens=0)) == "tokens"
    assert limit_dimension(record("rate_limited", "slow down")) == "requests"


def test_rate_findings_pass_within_tolerance_and_fail_beyond() -> None:
    def finding(measured: float | None, limited: bool, documented: float | None, known=True):
        return rate_finding("rpm", measured, limited, documented, known, 240.0, 10, "requests/min")

    assert finding(57.0, True, 60.0).verdict == "pass"
    low = finding(40.0, True, 60.0)
    assert low.verdict == "fail" and "LOWER" in low.detail
    assert finding(80.0, True, 60.0).verdict == "fail"
    assert finding(None, False, 60.0).verdict == "unknown"  # no 429 below the cap
    assert finding(None, False, None).verdict == "pass"  # unlimited, and none seen
    assert finding(500.0, True, None).verdict == "fail"  # "unlimited", but limited
    assert finding(60.0, True, 60.0, known=False).verdict == "unknown"


def test_retry_after_findings_name_the_lie() -> None:
    honest, error = retry_after_finding(
        [True] * 4, [False] * 4, [Recovery(1.0, 0.9, 1.1), Recovery(1.0, 1.0, 1.1)]
    )
    assert honest.verdict == "pass" and error.verdict == "pass"
    assert error.measured == pytest.approx(0.025)
    short, error = retry_after_finding([False] * 4, [False] * 4, [Recovery(1.0, 1.5, 2.0)])
    assert short.verdict == "fail" and "TOO SHORT" in short.detail
    assert error.verdict == "fail" and error.measured == pytest.approx(0.75)
    long, _ = retry_after_finding([True] * 4, [True] * 4, [])
    assert long.verdict == "fail" and "too long" in long.detail
    half, _ = retry_after_finding([True] * 4, [True, True, False, False], [])
    assert half.verdict == "fail" and "too long" in half.detail
    # One early retry that the gateway's own scheduling delay let through is noise, not a lie.
    noisy, _ = retry_after_finding([True] * 4, [True, False, False, False], [])
    assert noisy.verdict == "pass" and "1/4" not in noisy.detail and "3/4" in noisy.detail
    unknown, _ = retry_after_finding([], [], [])
    assert unknown.verdict == "unknown"


def test_header_findings() -> None:
    assert reset_finding("requests", 60, 58, 59.5).verdict == "pass"
    assert reset_finding("requests", 60, 30, 59.5).verdict == "fail"
    assert reset_finding("requests", None, 0, None).verdict == "unknown"
    assert remaining_finding("requests", 60, [0.5, -1.0, 0.0]).verdict == "pass"
    assert remaining_finding("requests", 60, [20.0, 25.0]).verdict == "fail"


def test_the_plan_is_read_from_the_limit_headers() -> None:
    assert plan_from_headers(60, 100_000) == "starter"
    assert plan_from_headers(1000, 2_000_000) == "pro"
    assert plan_from_headers(None, None) is None
    assert plan_from_headers(42, 1) is None


def test_advice_recommends_the_cheapest_plan_with_headroom_and_what_breaks_first() -> None:
    workload = Workload(
        peak_rpm=120, average_rpm=40, prompt_tokens=800, completion_tokens=300,
        monthly_growth=0.10, cost_per_request={"auto": 0.0002, "gpt-4o": 0.0004},
    )  # fmt: skip
    advice = advise(workload)
    starter, pro, enterprise = advice.plans
    assert not starter.fits and starter.breaks_in_months == 0.0
    assert pro.fits and pro.breaks_first == "requests"
    assert pro.breaks_in_months == pytest.approx(months_until(120, 1000, 0.10))
    assert 1.1**pro.breaks_in_months * 120 == pytest.approx(1000)
    assert enterprise.breaks_first is None
    assert advice.recommended == "pro"
    assert advice.monthly_cost["auto"] == pytest.approx(40 * 43_200 * 0.0002)
    tight = advise(workload, headroom=0.9)
    assert tight.recommended == "enterprise"


def test_tokens_can_break_first() -> None:
    heavy = Workload(peak_rpm=30, average_rpm=10, prompt_tokens=3000, completion_tokens=500)
    starter = advise(heavy).plans[0]
    assert starter.breaks_first == "tokens" and not starter.fits


def test_a_workload_file_is_validated(tmp_path: Path) -> None:
    good = tmp_path / "w.toml"
    good.write_text(
        "peak_requests_per_min = 90\naverage_requests_per_min = 30\nprompt_tokens = 500\n"
        'completion_tokens = 200\n[cost_per_request_usd]\nauto = 0.0001\n"gpt-4o" = 0.0003\n'
    )
    workload = workload_from_file(good)
    assert workload.peak_tpm == 90 * 700 and workload.cost_per_request["gpt-4o"] == 0.0003
    bad = tmp_path / "bad.toml"
    bad.write_text("peak_requests_per_min = 10\naverage_requests_per_min = 30\n")
    with pytest.raises(ConfigError, match="above peak_requests_per_min") as info:
        workload_from_file(bad)
    assert info.value.line == 2
    bad.write_text(
        "peak_requests_per_min = 10\nprompt_tokens = 5\ncompletion_tokens = 5\npeek = 3\n"
    )
    with pytest.raises(ConfigError, match="unknown key"):
        workload_from_file(bad)


def test_a_measured_run_gives_its_workload() -> None:
    run = read_run(FIXTURES / "runs" / "load-sweep")
    workload = workload_from_run(run, monthly_growth=0.05)
    assert workload.peak_rpm > 200  # 10 req/s in the last stage
    assert workload.prompt_tokens > 100 and workload.completion_tokens == pytest.approx(32)
    assert set(workload.cost_per_request) == {"auto", "gpt-4o-mini"}
    assert workload.monthly_growth == 0.05
