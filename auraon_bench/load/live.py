"""Live counters of a running load test: what the progress bar shows and the self-check uses.

Kept by the single writer task, so no locks, and bounded in memory whatever the run's length:
the self-check's exact figures (schedule lag percentiles, achieved rate) come from the records
afterwards, not from here.
"""

from __future__ import annotations

import time
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
    last_done: float | None = None
    recent_ttft: deque[float] = field(default_factory=lambda: deque(maxlen=RECENT))

    def restart(self) -> None:
        """Count time and CPU from now (a worker that waited for a shared start)."""
        self.started = time.perf_counter()
        self.cpu_started = time.process_time()

    def observe(self, record: RequestRecord) -> None:
        self.records += 1
        self.statuses[record.status] += 1
        if record.cost_usd:
            self.cost_usd += record.cost_usd
        if record.completion_tokens:
            self.completion_tokens += record.completion_tokens
        if record.t_done is not None:
            self.last_done = (
                record.t_done if self.last_done is None else max(self.last_done, record.t_done)
            )
        if record.ttft_s is not None:
            self.recent_ttft.append(record.ttft_s)

    @property
    def errors(self) -> int:
        """Failed attempts: not ok, not 429s, and not ``cancelled`` (cut by the run's own stop,
        which says nothing of the target)."""
        s = self.statuses
        return self.records - s["ok"] - s["rate_limited"] - s["cancelled"]

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


class InterruptibleRun:
    """The signal protocol the load runner and the worker pool share: the first Ctrl-C (or
    SIGTERM) stops the run, the next ends the grace period at once. Subclasses provide
    ``stop(reason)`` and ``hurry()`` and set ``interrupted = False`` when constructed."""

    interrupted: bool

    def stop(self, reason: str) -> None:
        raise NotImplementedError

    def hurry(self) -> None:
        raise NotImplementedError

    def interrupt(self) -> None:
        if self.interrupted:
            self.hurry()
            return
        self.interrupted = True
        self.stop("interrupted")
