"""Retry policies for the load runner. Pure: the runner asks, the policy answers.

* ``none`` (default): measure raw behaviour; a failed attempt is final.
* ``honor-retry-after``: after a 429 (or a 503 carrying Retry-After), wait exactly what the
  server advertised (``retry-after-ms``, else ``retry-after``), then retry.
* ``exponential``: ``min(cap, base * 2**(attempt-1))`` scaled by full jitter ``U(0, 1)`` (the
  AWS "full jitter" scheme), for 429, 5xx, timeouts and connection errors.

Every attempt is its own record; end-to-end latency over retries is derived in analysis.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

RETRYABLE_STATUSES = frozenset({"rate_limited", "timeout", "connection_error"})
POLICIES = ("none", "honor-retry-after", "exponential")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    kind: str = "none"
    max_attempts: int = 3
    base_s: float = 0.5
    cap_s: float = 30.0
    max_wait_s: float = 120.0  # never wait longer than this, whatever the server says

    def __post_init__(self) -> None:
        if self.kind not in POLICIES:
            raise ValueError(f"retry: unknown policy {self.kind!r} (known: {', '.join(POLICIES)})")
        if self.max_attempts < 1:
            raise ValueError(f"retry max attempts: must be >= 1, got {self.max_attempts}")

    def next_delay(
        self,
        attempt: int,
        status: str,
        http_status: int | None,
        retry_after_s: float | None,
        rng: random.Random,
    ) -> float | None:
        """Seconds to wait before attempt ``attempt + 1``, or ``None`` for no retry."""
        if self.kind == "none" or status == "ok" or attempt >= self.max_attempts:
            return None
        if self.kind == "honor-retry-after":
            if retry_after_s is None or not (status == "rate_limited" or http_status == 503):
                return None
            return min(retry_after_s, self.max_wait_s)
        retryable = status in RETRYABLE_STATUSES or (http_status or 0) >= 500
        if not retryable:
            return None
        return rng.uniform(0.0, min(self.cap_s, self.base_s * 2 ** (attempt - 1)))
