"""Live counters of a running load test: what the progress bar shows and the self-check uses.

Kept by the single writer task, so no locks. Memory is bounded except for the schedule-lag
samples (8 bytes per request: 8 MB per million), which the self-check needs whole for p99.
"""

from __future__ import annotations

import time
from array import array
from collections import Counter, deque
from dataclasses import dataclass, field

import numpy as np

from auraon_bench.results.schema import RequestRecord

RECENT = 1000


@dataclass
class LiveStats:
    started: float = field(default_factory=time.perf_counter)
    cpu_started: float = field(default_factory=time.process_time)
    records: int = 0
    in_flight: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    cost_usd: float = 0.0
    completion_tokens: int = 0
    first_sent: float | None = None
    last_sent: float | None = None
    last_done: float | None = None
    lags: array = field(default_factory=lambda: array("d"))
    recent_ttft: deque[float] = field(default_factory=lambda: deque(maxlen=RECENT))

    def observe(self, record: RequestRecord) -> None:
        self.records += 1
        self.statuses[record.status] += 1
        if record.cost_usd:
            self.cost_usd += record.cost_usd
        if record.completion_tokens:
            self.completion_tokens += record.completion_tokens
        if record.t_sent is not None and not record.warmup and record.attempt == 1:
            self.first_sent = (
                record.t_sent if self.first_sent is None else min(self.first_sent, record.t_sent)
            )
            self.last_sent = (
                record.t_sent if self.last_sent is None else max(self.last_sent, record.t_sent)
            )
            if record.schedule_lag_s is not None:
                self.lags.append(record.schedule_lag_s)
        if record.t_done is not None:
            self.last_done = (
                record.t_done if self.last_done is None else max(self.last_done, record.t_done)
            )
        if record.ttft_s is not None:
            self.recent_ttft.append(record.ttft_s)

    @property
    def errors(self) -> int:
        return self.records - self.statuses["ok"] - self.statuses["rate_limited"]

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def rate(self) -> float:
        elapsed = self.elapsed()
        return self.records / elapsed if elapsed > 0 else 0.0

    def p50_ttft(self) -> float | None:
        return float(np.median(self.recent_ttft)) if self.recent_ttft else None

    def cpu_share(self) -> float:
        """Client process CPU time over wall time (1.0 = one core busy all the time)."""
        elapsed = self.elapsed()
        return (time.process_time() - self.cpu_started) / elapsed if elapsed > 0 else 0.0

    def achieved_rate(self) -> float | None:
        n = len(self.lags)
        if n < 2 or self.first_sent is None or self.last_sent is None:
            return None
        window = self.last_sent - self.first_sent
        return (n - 1) / window if window > 0 else None

    def lag_percentiles(self) -> tuple[float | None, float | None]:
        if not self.lags:
            return None, None
        values = np.frombuffer(self.lags, dtype=np.float64)
        p50, p99 = np.percentile(values, [50, 99])
        return float(p50), float(p99)
