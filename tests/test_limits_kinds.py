"""Identifying a limiter from how a drained budget comes back, and the findings made of it:
pure functions on synthetic observations (no server, no event loop)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from auraon_bench.analysis.limits import (
    Finding,
    LimiterFinding,
    LimitsSummary,
    Recovery,
    advertised_finding,
    kind_finding,
    limit_dimension,
    retry_after_finding,
)
from auraon_bench.limits import kinds
from auraon_bench.limits.kinds import Take, Watch
from auraon_bench.results.files import read_result

SPEND = [10.0 + i / 60 for i in range(60)]  # 60 accepted within a second, from t=10 s


def watch(**fields: object) -> Watch:
    base = dict(gap=2.0, unit="requests", spent=60, spend_first=10.0, spend_half=SPEND[29],
                spend_last=SPEND[-1], exhausted=11.05)  # fmt: skip
    return Watch(**{**base, **fields})  # type: ignore[arg-type]


def ones(start: float, n: int, every: float = 1.0) -> tuple[Take, ...]:
    return tuple(Take(start + i * every, start + i * every, 1) for i in range(n))


def test_a_fixed_window_gives_everything_back_at_once_twice() -> None:
    found = kinds.classify(watch(
        takes=(Take(40.0, 40.1, 30), Take(49.2, 49.3, 30)), pause_after=0, pause_s=9.1,
        full_at=49.35, second=(Take(100.0, 100.2, 60),),
    ))  # fmt: skip
    assert found.kind == kinds.FIXED_WINDOW
    assert found.window_s == pytest.approx(60.0) and found.allowance == 60
    assert found.recovery_s == pytest.approx(40.0 - 11.05)
    assert "all 60 came back at once again 60.0 s after the first return" in found.evidence


def test_a_sliding_log_replays_the_two_halves() -> None:
    round_one = [40.0 + i / 100 for i in range(30)] + [49.2 + i / 100 for i in range(30)]
    found = kinds.classify(watch(
        exhausted=11.05, takes=(Take(70.0, 70.3, 30), Take(79.2, 79.5, 30)), pause_after=0,
        pause_s=9.2, full_at=79.6, second=(Take(130.0, 130.3, 30), Take(139.2, 139.5, 30)),
        accepted=tuple(SPEND + [t + 30 for t in round_one]),
    ))  # fmt: skip
    assert found.kind == kinds.SLIDING_LOG
    assert found.window_s == pytest.approx(60.0) and found.allowance == 60
    assert "only 30 came back 60.0 s after the first return, 30 more 9.2 s later" in (
        found.evidence
    )


def test_a_token_bucket_refills_from_exhaustion_and_again_after_a_rest() -> None:
    found = kinds.classify(watch(
        takes=ones(12.0, 20), confirm_exhausted=250.0, confirm_takes=ones(250.8, 20),
    ))  # fmt: skip
    assert found.kind == kinds.TOKEN_BUCKET and found.slope_per_s == pytest.approx(1.0)
    assert "token bucket" in found.evidence and "60.0/min" in found.evidence


def test_a_sliding_window_counter_waits_for_its_boundary() -> None:
    found = kinds.classify(watch(takes=ones(40.0, 20)))  # nothing for 29 s, then 1/s
    assert found.kind == kinds.SLIDING_WINDOW and found.slope_per_s == pytest.approx(1.0)
    assert "nothing came back for 28.9 s" in found.evidence


def test_a_counter_that_looked_like_a_bucket_is_caught_by_the_confirmation() -> None:
    # Exhausted just before a boundary: it refills at once, as a bucket would; the second
    # exhaustion, half a window off, waits for the boundary.
    found = kinds.classify(watch(
        takes=ones(12.0, 20), confirm_exhausted=250.0, confirm_takes=ones(280.0, 20),
    ))  # fmt: skip
    assert found.kind == kinds.SLIDING_WINDOW and found.slope_per_s == pytest.approx(1.0)
    unconfirmed = kinds.classify(watch(takes=ones(12.0, 20)))
    assert unconfirmed.kind == kinds.TOKEN_BUCKET and "not confirmed" in unconfirmed.evidence


def test_nothing_back_is_unknown() -> None:
    assert kinds.classify(watch()).kind == kinds.UNKNOWN
    assert kinds.classify(watch(takes=(Take(40.0, 40.0, 1),))).kind == kinds.UNKNOWN


def test_at_once_compares_the_return_with_the_spend() -> None:
    fast = watch(takes=(Take(40.0, 40.4, 30),))
    assert kinds.at_once(fast, 40.4)  # as fast as it was spent (plus poll gaps)
    assert not kinds.at_once(fast, 40.0 + 30.0)  # one a second: a refill
    assert kinds.at_once_bound(fast) == pytest.approx(1.25 * (SPEND[29] - 10.0) + 3 * 2.0)


def test_slopes_and_the_rules_around_them() -> None:
    assert kinds.slope(ones(12.0, 11, every=0.5)) == pytest.approx(2.0)
    assert kinds.slope(ones(12.0, 1)) is None
    assert not kinds.enough_for_slope(ones(12.0, 5))  # 4 s of returns: too short
    assert kinds.enough_for_slope(ones(12.0, 16))
    assert kinds.short(1.1, 1.0, 2.0) and not kinds.short(30.0, 1.0, 2.0)
    assert kinds.half_of(5) == 3 and kinds.half_of(0) == 1
    assert kinds.pause_for(50.0, 2.0) == pytest.approx(7.5)
    assert kinds.pause_for(1.0, 2.0) == pytest.approx(6.0)


@pytest.mark.parametrize(("spend_first", "quiet_from"), [(10.0, 40.0), (10.0, 95.0), (33.3, 70.0)])
def test_the_confirmation_starts_half_a_window_off_after_the_quiet(
    spend_first: float, quiet_from: float
) -> None:
    start = kinds.confirmation_start(spend_first, spend_first + 1.0, quiet_from)
    assert (start - spend_first) % 60.0 == pytest.approx(30.0)
    assert quiet_from + 91.0 <= start < quiet_from + 91.0 + 60.0


def test_the_log_allowance_counts_the_window_before_a_refusal() -> None:
    assert kinds.allowance_in_log([1.0, 2.0, 50.0, 61.0, 62.0], at=62.0, window=60.0) == 3


def record(message: str, remaining_tokens: int | None = None) -> SimpleNamespace:
    return SimpleNamespace(status="rate_limited", error_message=message,
                           ratelimit_remaining_tokens=remaining_tokens)  # fmt: skip


def test_litellm_429s_say_which_limit_they_hit() -> None:
    litellm = (
        "litellm.RateLimitError: No deployments available for selected model. Deployments="
        "{'856c': {'current_tpm': 120, 'tpm_limit': inf, 'current_rpm': 4, 'rpm_limit': 5}}"
    )
    assert limit_dimension(record(litellm)) == "requests"
    tokens = litellm.replace("'current_tpm': 120, 'tpm_limit': inf",
                             "'current_tpm': 990, 'tpm_limit': 1000")  # fmt: skip
    assert limit_dimension(record(tokens.replace("'current_rpm': 4", "'current_rpm': 1"))) == (
        "tokens"
    )
    v3 = "Rate limit exceeded for api_key: k. Limit type: tokens. Current limit: 10"
    assert limit_dimension(record(v3)) == "tokens"


def test_the_advertised_limit_is_checked_against_what_was_measured() -> None:
    litellm = advertised_finding("requests", 4.0, True, 5.0, 70)
    assert litellm.verdict == "fail" and "LOWER than advertised" in litellm.detail
    assert litellm.measured == 4.0 and litellm.documented == 5.0 and litellm.n == 70
    assert advertised_finding("requests", 59.0, True, 60.0, 10).verdict == "pass"
    assert advertised_finding("requests", 59.0, True, None, 10).verdict == "unknown"
    assert advertised_finding("tokens", None, False, 1e5, 10).verdict == "unknown"


def test_the_kind_is_a_finding_with_its_evidence() -> None:
    found = kind_finding(LimiterFinding("requests", "fixed_window", "all 60 at once", 60.0))
    assert found.verdict == "pass" and found.detail == "fixed window: all 60 at once"
    assert kind_finding(LimiterFinding("tokens", "unknown", "nothing came back")).verdict == (
        "unknown"
    )


def test_retry_after_without_early_retries_still_times_the_recovery() -> None:
    honest, error = retry_after_finding([True, True], [], [Recovery(60.0, 36.0, 38.0)])
    assert honest.verdict == "unknown"
    assert error.verdict == "fail" and error.measured == pytest.approx(37.0 / 60 - 1)


def test_a_version_2_limits_file_still_reads(tmp_path: Path) -> None:
    v2 = {"schema_version": 2, "simulated": True, "model": "m", "plan": "starter",
          "plan_source": "headers", "stop_reason": "request cap reached (60 requests)",
          "requests_sent": 60, "tokens_reserved": 1020,
          "findings": [Finding("x", 1.0, 1.0, "s", "pass", "", 1).to_dict()]}  # fmt: skip
    path = tmp_path / "limits.json"
    path.write_text(json.dumps(v2))
    summary = read_result(path, LimitsSummary)
    assert summary is not None and summary.status == "complete" and summary.limiters == {}
    limiter = LimiterFinding("requests", "sliding_log", "why", 60.0, 60.0, 59.9, 60.0, 50.0, 9)
    newer = LimitsSummary(True, "m", None, None, None, 1, 1, (), limiters={"requests": limiter},
                          status="interrupted")  # fmt: skip
    path.write_text(json.dumps(newer.to_dict()))
    assert read_result(path, LimitsSummary) == newer
    assert newer.to_dict()["schema_version"] == 3
