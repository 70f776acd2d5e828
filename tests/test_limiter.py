"""The token-bucket limiter, driven by an injected clock (no event loop, no sleeping)."""

from __future__ import annotations

import math

import pytest

from auraon_bench.catalog import Plan
from auraon_bench.emulator.limiter import KeyLimiter, go_duration

STARTER = Plan("starter", requests_per_min=60, tokens_per_min=100_000)


def test_a_full_minute_burst_is_accepted_then_the_next_request_waits_one_refill() -> None:
    limiter = KeyLimiter(STARTER, now=0.0)
    accepted = sum(limiter.try_acquire(10, now=0.0).allowed for _ in range(61))
    assert accepted == 60
    verdict = limiter.try_acquire(10, now=0.0)
    assert not verdict.allowed and verdict.limit_type == "requests"
    assert verdict.retry_after_s == pytest.approx(1.0)  # 60/min refills one request per second
    assert verdict.requests.remaining == 0


def test_retry_after_is_honest_at_the_advertised_time_and_not_before() -> None:
    limiter = KeyLimiter(STARTER, now=0.0)
    for _ in range(60):
        limiter.try_acquire(10, now=0.0)
    wait = limiter.try_acquire(10, now=0.0).retry_after_s
    assert not limiter.try_acquire(10, now=0.5 * wait).allowed
    assert limiter.try_acquire(10, now=wait).allowed


def test_sustained_rate_equals_the_plan_over_ten_minutes() -> None:
    limiter = KeyLimiter(STARTER, now=0.0)
    # Offer 2 requests/s for 600 s: a full bucket (60) plus 1/s refill gets through.
    accepted = sum(limiter.try_acquire(1, now=t / 2).allowed for t in range(1200))
    assert accepted == 60 + 599  # the refill of the last half second does not reach a full token


def test_token_budget_limits_and_a_rejection_charges_nothing() -> None:
    limiter = KeyLimiter(STARTER, now=0.0)
    assert limiter.try_acquire(90_000, now=0.0).allowed
    verdict = limiter.try_acquire(20_000, now=0.0)
    assert not verdict.allowed and verdict.limit_type == "tokens"
    assert verdict.tokens.remaining == 10_000
    assert verdict.requests.remaining == 59  # the rejected request took no request either
    # 10,000 missing tokens at 100,000/60 per second
    assert verdict.retry_after_s == pytest.approx(10_000 / (100_000 / 60))


def test_refund_returns_unused_output_reservation() -> None:
    limiter = KeyLimiter(STARTER, now=0.0)
    limiter.try_acquire(60_000, now=0.0)
    limiter.refund(50_000, now=0.0)
    assert limiter.snapshot(0.0).tokens.remaining == 90_000
    limiter.refund(10**9, now=0.0)
    assert limiter.snapshot(0.0).tokens.remaining == 100_000  # never above capacity


def test_request_larger_than_the_whole_budget_is_never_retryable() -> None:
    limiter = KeyLimiter(STARTER, now=0.0)
    verdict = limiter.try_acquire(100_001, now=0.0)
    assert verdict.too_large and not verdict.allowed and math.isinf(verdict.retry_after_s)


def test_failed_requests_cost_one_request_and_unlimited_plans_never_limit() -> None:
    limiter = KeyLimiter(STARTER, now=0.0)
    limiter.charge_failed_request(now=0.0)
    assert limiter.snapshot(0.0).requests.remaining == 59
    unlimited = KeyLimiter(Plan("enterprise", None, None), now=0.0)
    assert all(unlimited.try_acquire(10**7, now=0.0).allowed for _ in range(1000))
    assert unlimited.snapshot(0.0).requests is None


def test_reset_reports_time_until_the_bucket_is_full() -> None:
    limiter = KeyLimiter(STARTER, now=0.0)
    for _ in range(30):
        limiter.try_acquire(1, now=0.0)
    assert limiter.snapshot(0.0).requests.reset_s == pytest.approx(30.0)
    assert limiter.snapshot(10.0).requests.reset_s == pytest.approx(20.0)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (0.012, "12ms"),
        (0.0121, "13ms"),
        (1, "1s"),
        (1.5, "1.5s"),
        (360, "6m0s"),
        (3725.25, "1h2m5.25s"),
    ],
)
def test_go_duration_rounds_up(seconds: float, text: str) -> None:
    assert go_duration(seconds) == text
