"""Per-key rate limits: a token bucket for requests and one for tokens. Pure; time is passed in.

Method (documented in the README, "Emulator rate limits"):

* Each limited dimension is a bucket of capacity ``limit`` (one minute's allowance, so a full
  minute's burst is accepted) refilled continuously at ``limit / 60`` per simulated second.
* Charging rule: a request reserves 1 request and ``prompt_tokens + max_tokens`` tokens up front
  (``default_max_tokens`` when the request gives none), atomically: both buckets must have room or
  neither is charged. When the answer is done the unused part of the output reservation is
  refunded, so a workload is charged its actual usage (Anthropic-style refund).
* A rejected request charges nothing. Retry-After is therefore honest: it is the time until the
  short bucket holds the deficit, and a retry sent then succeeds if nothing else spent the budget.
* A request that reserves more tokens than the bucket can ever hold is rejected for good
  (non-retryable 429, "Request too large").
* Requests that fail after authentication (400s, upstream errors) still cost one request, as at
  OpenAI; 401s cost nothing because they never reach a limiter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from auraon_bench.catalog import Plan

SECONDS_PER_MINUTE = 60.0


@dataclass(slots=True)
class Bucket:
    capacity: float
    rate_per_s: float
    level: float
    updated: float

    @classmethod
    def per_minute(cls, limit: int, now: float) -> Bucket:
        return cls(
            capacity=float(limit),
            rate_per_s=limit / SECONDS_PER_MINUTE,
            level=float(limit),
            updated=now,
        )

    def refill(self, now: float) -> None:
        if now > self.updated:
            self.level = min(self.capacity, self.level + (now - self.updated) * self.rate_per_s)
            self.updated = now

    def wait_for(self, amount: float) -> float:
        """Seconds until the (already refilled) bucket holds ``amount``."""
        return max(0.0, (amount - self.level) / self.rate_per_s)

    def reset_after(self) -> float:
        """Seconds until the bucket is full again (OpenAI's ``x-ratelimit-reset-*``)."""
        return (self.capacity - self.level) / self.rate_per_s


@dataclass(frozen=True, slots=True)
class Dimension:
    """What the ``x-ratelimit-*-<dimension>`` headers say about one bucket."""

    limit: int
    remaining: int
    reset_s: float


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    limit_type: str | None = None  # "requests" or "tokens" when rejected
    retry_after_s: float = 0.0  # simulated seconds until a retry succeeds
    too_large: bool = False
    requests: Dimension | None = None
    tokens: Dimension | None = None


class KeyLimiter:
    """The two buckets of one API key under one plan (``None`` limits are unlimited)."""

    def __init__(self, plan: Plan, now: float) -> None:
        self.plan = plan
        self.requests = (
            Bucket.per_minute(plan.requests_per_min, now) if plan.requests_per_min else None
        )
        self.tokens = Bucket.per_minute(plan.tokens_per_min, now) if plan.tokens_per_min else None

    def try_acquire(self, tokens: int, now: float) -> Verdict:
        """Reserve one request and ``tokens`` tokens, or charge nothing and say why not."""
        self._refill(now)
        if self.tokens is not None and tokens > self.tokens.capacity:
            return self._verdict(False, "tokens", math.inf, too_large=True)
        waits = []
        if self.requests is not None:
            waits.append((self.requests.wait_for(1.0), "requests"))
        if self.tokens is not None:
            waits.append((self.tokens.wait_for(tokens), "tokens"))
        blocking = [(w, kind) for w, kind in waits if w > 0]
        if blocking:
            wait, kind = max(blocking)
            return self._verdict(False, kind, wait)
        if self.requests is not None:
            self.requests.level -= 1.0
        if self.tokens is not None:
            self.tokens.level -= tokens
        return self._verdict(True)

    def charge_failed_request(self, now: float) -> None:
        """A request that failed after authentication still costs one request (if any is left)."""
        self._refill(now)
        if self.requests is not None and self.requests.level >= 1.0:
            self.requests.level -= 1.0

    def refund(self, tokens: int, now: float) -> None:
        """Give back the unused part of a token reservation."""
        if self.tokens is not None and tokens > 0:
            self._refill(now)
            self.tokens.level = min(self.tokens.capacity, self.tokens.level + tokens)

    def snapshot(self, now: float) -> Verdict:
        self._refill(now)
        return self._verdict(True)

    def _refill(self, now: float) -> None:
        for bucket in (self.requests, self.tokens):
            if bucket is not None:
                bucket.refill(now)

    def _verdict(
        self, allowed: bool, kind: str | None = None, wait: float = 0.0, too_large: bool = False
    ) -> Verdict:
        return Verdict(
            allowed=allowed,
            limit_type=kind,
            retry_after_s=wait,
            too_large=too_large,
            requests=_dimension(self.requests),
            tokens=_dimension(self.tokens),
        )


def _dimension(bucket: Bucket | None) -> Dimension | None:
    if bucket is None:
        return None
    return Dimension(
        limit=int(bucket.capacity),
        remaining=max(0, math.floor(bucket.level)),
        reset_s=bucket.reset_after(),
    )


def go_duration(seconds: float) -> str:
    """Format like Go's ``time.Duration.String`` in milliseconds: ``12ms``, ``1s``, ``6m0s``.

    Rounded up, so a client that waits the advertised time never waits too little.
    """
    ms = math.ceil(max(0.0, seconds) * 1000 - 1e-9)
    if ms == 0:
        return "0s"
    if ms < 1000:
        return f"{ms}ms"
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs = f"{rest / 1000:.3f}".rstrip("0").rstrip(".")
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"
