"""Per-key rate limits: one limiter kind per plan, the same rules for every kind. Pure; time is
passed in (simulated seconds).

Method (docs/emulator.md, "Rate limits", states it for users):

* **Kinds** (catalog ``[plans.X] limiter``; ``emulator serve --limiter KIND`` overrides every
  plan), each holding one minute's allowance per limited dimension (requests, tokens):

  - ``token_bucket`` (the default): a bucket of capacity ``limit``, so a full minute's burst is
    accepted, refilled continuously at ``limit / 60`` per second (this module).
  - ``fixed_window``: a counter that resets to zero at every window boundary. Boundaries are
    ``phase + k * 60`` with a seeded phase, so they are not aligned with the emulator's start.
  - ``sliding_log``: every admitted amount is remembered with its time and given back exactly
    one window (60 s) after it was admitted.
  - ``sliding_window``: the counter of the current fixed window plus the previous window's
    counter weighted by the share of the previous window still inside the last 60 s
    (``prev * (1 - elapsed / 60) + cur``), on the same boundaries as ``fixed_window``.

  The window kinds live in :mod:`auraon_bench.emulator.windows`; all four implement
  :class:`Meter`, and :class:`KeyLimiter` combines two meters (requests, tokens) atomically.
* **Charging rule**, every kind: a request reserves 1 request and ``prompt_tokens + max_tokens``
  tokens up front (``default_max_tokens`` when the request gives none), atomically: both meters
  must have room or neither is charged. When the answer is done the unused part of the output
  reservation is refunded to the window (or log entry) it was charged in, so a workload is
  charged its actual usage (Anthropic-style refund); a refund to a window already gone changes
  nothing, as a real window's counter that has expired cannot be lowered.
* A rejected request charges nothing. Retry-After is therefore honest for every kind: it is the
  exact time until the refused request fits (the bucket holds it, the window turns, the oldest
  log entries expire, the weighted counter decays), and a retry sent then succeeds if nothing
  else spent the budget. ``x-ratelimit-reset-*`` is the time until the limit is back to its
  initial state (full bucket, empty window, empty log, zero weighted count) and
  ``x-ratelimit-remaining-*`` what could still be admitted now.
* A request that reserves more tokens than the limit can ever hold is rejected for good
  (non-retryable 429, "Request too large").
* Requests that fail after authentication (400s, upstream errors) still cost one request, as at
  OpenAI; 401s cost nothing because they never reach a limiter.
* Lies, for testing tools that check honesty, work for every kind: a plan's
  ``retry_after_factor < 1`` scales the advertised Retry-After down (applied by the gateway), and
  an overlay that gives a documented plan's name lower limits enforces (and reports) those.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass

from auraon_bench.catalog import Plan

SECONDS_PER_MINUTE = 60.0
# Float slack for "fits exactly": a retry at exactly the advertised time must succeed even when
# ``(t + 60) - 60`` lands a hair below ``t``.
EPSILON = 1e-9


class Meter(ABC):
    """One limited dimension (requests or tokens) of one key, with a per-minute ``limit``."""

    limit: int

    @abstractmethod
    def wait_for(self, amount: float, now: float) -> float:
        """Seconds until ``amount`` fits (0: it fits now). ``amount <= limit`` always."""

    @abstractmethod
    def take(self, amount: float, now: float) -> None:
        """Charge ``amount`` (the caller checked that it fits)."""

    @abstractmethod
    def give_back(self, amount: float, now: float, charged_at: float | None) -> None:
        """Refund ``amount`` of a charge made at ``charged_at``."""

    @abstractmethod
    def remaining(self, now: float) -> float:
        """What could be admitted now."""

    @abstractmethod
    def reset_after(self, now: float) -> float:
        """Seconds until the meter is back to its initial state."""


class TokenBucket(Meter):
    """Capacity ``limit``, refilled continuously at ``limit / 60`` per second."""

    def __init__(self, limit: int, now: float) -> None:
        self.limit = limit
        self.capacity = float(limit)
        self.rate_per_s = limit / SECONDS_PER_MINUTE
        self.level = float(limit)
        self.updated = now

    def _refill(self, now: float) -> None:
        if now > self.updated:
            self.level = min(self.capacity, self.level + (now - self.updated) * self.rate_per_s)
            self.updated = now

    def wait_for(self, amount: float, now: float) -> float:
        self._refill(now)
        if self.level >= amount - EPSILON:
            return 0.0
        return (amount - self.level) / self.rate_per_s

    def take(self, amount: float, now: float) -> None:
        self._refill(now)
        self.level -= amount

    def give_back(self, amount: float, now: float, charged_at: float | None) -> None:
        # A bucket does not remember when it was charged: the refund is simply poured back.
        self._refill(now)
        self.level = min(self.capacity, self.level + amount)

    def remaining(self, now: float) -> float:
        self._refill(now)
        return self.level

    def reset_after(self, now: float) -> float:
        self._refill(now)
        return (self.capacity - self.level) / self.rate_per_s


def make_meter(kind: str, limit: int, now: float, phase: float) -> Meter:
    """A meter of ``kind`` (a catalog ``limiter`` value) for a per-minute ``limit``."""
    if kind == "token_bucket":
        return TokenBucket(limit, now)
    # Imported here: the window kinds subclass Meter from this module.
    from auraon_bench.emulator import windows

    if kind == "fixed_window":
        return windows.FixedWindow(limit, now, phase)
    if kind == "sliding_log":
        return windows.SlidingLog(limit, now)
    if kind == "sliding_window":
        return windows.SlidingWindowCounter(limit, now, phase)
    raise ValueError(f"unknown limiter kind {kind!r}")


@dataclass(frozen=True, slots=True)
class Dimension:
    """What the ``x-ratelimit-*-<dimension>`` headers say about one meter."""

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
    charged_at: float | None = None  # when an allowed request was charged (for its refund)


class KeyLimiter:
    """The two meters of one API key under one plan (``None`` limits are unlimited).

    ``phase``: simulated seconds of the first window boundary, for the window kinds.
    """

    def __init__(self, plan: Plan, now: float, phase: float = 0.0) -> None:
        self.plan = plan
        self.kind = plan.limiter
        self.requests = (
            make_meter(plan.limiter, plan.requests_per_min, now, phase)
            if plan.requests_per_min
            else None
        )
        self.tokens = (
            make_meter(plan.limiter, plan.tokens_per_min, now, phase)
            if plan.tokens_per_min
            else None
        )

    def try_acquire(self, tokens: int, now: float) -> Verdict:
        """Reserve one request and ``tokens`` tokens, or charge nothing and say why not."""
        if self.tokens is not None and tokens > self.tokens.limit:
            return self._verdict(now, False, "tokens", math.inf, too_large=True)
        waits = []
        if self.requests is not None:
            waits.append((self.requests.wait_for(1.0, now), "requests"))
        if self.tokens is not None:
            waits.append((self.tokens.wait_for(tokens, now), "tokens"))
        blocking = [(w, kind) for w, kind in waits if w > 0]
        if blocking:
            wait, kind = max(blocking)
            return self._verdict(now, False, kind, wait)
        if self.requests is not None:
            self.requests.take(1.0, now)
        if self.tokens is not None:
            self.tokens.take(tokens, now)
        return self._verdict(now, True, charged_at=now)

    def charge_failed_request(self, now: float) -> None:
        """A request that failed after authentication still costs one request (if any is left)."""
        if self.requests is not None and self.requests.wait_for(1.0, now) == 0:
            self.requests.take(1.0, now)

    def refund(self, tokens: int, now: float, charged_at: float | None = None) -> None:
        """Give back the unused part of a token reservation made at ``charged_at``."""
        if self.tokens is not None and tokens > 0:
            self.tokens.give_back(tokens, now, charged_at)

    def snapshot(self, now: float) -> Verdict:
        return self._verdict(now, True)

    def _verdict(
        self,
        now: float,
        allowed: bool,
        kind: str | None = None,
        wait: float = 0.0,
        too_large: bool = False,
        charged_at: float | None = None,
    ) -> Verdict:
        return Verdict(
            allowed=allowed,
            limit_type=kind,
            retry_after_s=wait,
            too_large=too_large,
            requests=_dimension(self.requests, now),
            tokens=_dimension(self.tokens, now),
            charged_at=charged_at,
        )


def _dimension(meter: Meter | None, now: float) -> Dimension | None:
    if meter is None:
        return None
    return Dimension(
        limit=meter.limit,
        remaining=max(0, math.floor(meter.remaining(now) + EPSILON)),
        reset_s=max(0.0, meter.reset_after(now)),
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
