"""The capacity search: the highest arrival rate at which every SLO holds. Pure.

Method
    * **Steps.** Each step offers one arrival rate for long enough to judge the tail it is
      asked about: at least :func:`required_requests` requests, the smallest n for which the
      sample holds a distribution-free two-sided confidence interval for the p-quantile at the
      asked confidence (order statistics: the interval's upper end is the largest sample only if
      ``1 - p**n >= 1 - alpha/2``, so ``n >= ln(alpha/2) / ln(p)``; 72 for p95 at 95%, 368 for
      p99), and at least ``min_step_s`` seconds of arrivals.
    * **Bracket.** A geometric ramp from ``low`` (times ``factor`` per step) until a step fails
      or ``high`` passes; then bisection (geometric mean of the bracket, since capacity is a
      ratio scale) until the bracket's width is at most ``tolerance`` of its lower end. The
      capacity is the last passing rate, reported with the first failing one.
    * **Void steps.** A step whose load generator could not keep its schedule (the run's
      self-check) judges the client, not the target: it is *void*, neither pass nor fail, and
      the search stops there, reporting the bracket it had ("client-bound above X").

The search is a state machine (:class:`CapacitySearch`): ask :meth:`next_rate`, run the step,
:meth:`record` its verdict. Nothing here sends a request or reads a clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

PASS, FAIL, VOID = "pass", "fail", "void"


def required_requests(percentile: float, confidence: float = 0.95) -> int:
    """Smallest n whose sample bounds the ``percentile`` (e.g. 95) at ``confidence`` (module)."""
    p = percentile / 100.0
    if not 0 < p < 1:
        raise ValueError(f"percentile must be between 0 and 100, got {percentile}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    alpha = 1.0 - confidence
    return math.ceil(math.log(alpha / 2) / math.log(p))


def step_requests(rate: float, min_requests: int, min_step_s: float) -> int:
    """Requests of a step at ``rate``: enough for the tail and for ``min_step_s`` of arrivals."""
    return max(min_requests, math.ceil(rate * min_step_s))


@dataclass
class CapacitySearch:
    """Ramp, then bisect; see the module. Rates are requests (or conversations) per second."""

    low: float
    high: float
    factor: float = 2.0
    tolerance: float = 0.1
    max_steps: int = 20
    steps: list[tuple[float, str]] = field(default_factory=list)
    passed: float | None = None  # highest passing rate so far
    failed: float | None = None  # lowest failing rate so far
    void: float | None = None  # the rate at which the client fell behind
    stop_reason: str | None = None

    def __post_init__(self) -> None:
        if not 0 < self.low <= self.high or not math.isfinite(self.high):
            raise ValueError(f"rates: need 0 < low <= high, got {self.low} and {self.high}")
        if self.factor <= 1:
            raise ValueError(f"factor must be > 1, got {self.factor}")
        if not 0 < self.tolerance < 1:
            raise ValueError(f"tolerance must be between 0 and 1, got {self.tolerance}")

    def next_rate(self) -> float | None:
        """The next rate to offer, or None when the search is over (see ``stop_reason``)."""
        if self.stop_reason is not None:
            return None
        if len(self.steps) >= self.max_steps:
            return self._stop("step limit reached")
        if self.failed is None:  # still ramping
            rate = self.low if self.passed is None else self.passed * self.factor
            if self.passed is not None and self.passed >= self.high:
                return self._stop(f"every rate passed up to the ceiling {self.high:g}/s")
            return min(rate, self.high)
        if self.passed is None:
            return self._stop(f"the lowest rate, {self.low:g}/s, already fails")
        if self.failed - self.passed <= self.tolerance * self.passed:
            return self._stop("bracket within tolerance")
        return math.sqrt(self.passed * self.failed)

    def record(self, rate: float, verdict: str) -> None:
        if verdict not in (PASS, FAIL, VOID):
            raise ValueError(f"verdict must be pass, fail or void, got {verdict!r}")
        self.steps.append((rate, verdict))
        if verdict == PASS:
            self.passed = rate if self.passed is None else max(self.passed, rate)
        elif verdict == FAIL:
            self.failed = rate if self.failed is None else min(self.failed, rate)
        else:
            self.void = rate
            self._stop(f"the client could not keep {rate:g}/s: steps from there are void")

    def _stop(self, reason: str) -> None:
        self.stop_reason = self.stop_reason or reason
        return None
