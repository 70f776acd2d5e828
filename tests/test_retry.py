"""Retry policies: pure decisions, no sleeping."""

from __future__ import annotations

import random

import pytest

from auraon_bench.load.retry import RetryPolicy

RNG = random.Random(0)


def test_none_never_retries() -> None:
    assert RetryPolicy().next_delay(1, "rate_limited", 429, 2.0, RNG) is None


def test_honor_retry_after_waits_exactly_the_advertised_time() -> None:
    policy = RetryPolicy("honor-retry-after", max_attempts=3)
    assert policy.next_delay(1, "rate_limited", 429, 1.25, RNG) == 1.25
    assert policy.next_delay(1, "http_error", 503, 0.5, RNG) == 0.5
    assert policy.next_delay(1, "rate_limited", 429, None, RNG) is None  # nothing advertised
    assert policy.next_delay(1, "http_error", 400, 1.0, RNG) is None
    assert policy.next_delay(3, "rate_limited", 429, 1.0, RNG) is None  # attempts used up
    assert (
        RetryPolicy("honor-retry-after", max_wait_s=10).next_delay(
            1, "rate_limited", 429, 3600, RNG
        )
        == 10
    )


def test_exponential_backoff_full_jitter_bounds() -> None:
    policy = RetryPolicy("exponential", max_attempts=10, base_s=0.5, cap_s=4.0)
    rng = random.Random(1)
    for attempt, ceiling in ((1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (8, 4.0)):
        delays = [policy.next_delay(attempt, "timeout", None, None, rng) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > 0.8 * ceiling  # jitter spans the range
    assert policy.next_delay(1, "http_error", 500, None, rng) is not None
    assert policy.next_delay(1, "http_error", 400, None, rng) is None
    assert policy.next_delay(1, "ok", 200, None, rng) is None


def test_invalid_policies() -> None:
    with pytest.raises(ValueError, match="unknown policy"):
        RetryPolicy("forever")
    with pytest.raises(ValueError, match="max attempts"):
        RetryPolicy("exponential", max_attempts=0)
