"""The window limiter kinds: fixed window, sliding log, sliding window counter. Pure; time is
passed in (simulated seconds). The rules they share (charging, refunds, honest Retry-After and
reset) are stated in :mod:`auraon_bench.emulator.limiter`.

Each answers the same questions as the token bucket, in closed form:

* ``wait_for``: the exact time until an amount fits. A fixed window: the next boundary. A
  sliding log: when enough of the oldest entries have expired. A sliding window counter: when
  the previous window's weight has decayed enough, or, if the current window alone is too full,
  some way into the next window (where the current count becomes the decaying one).
* ``reset_after``: the time until the meter is back to its initial state. A fixed window: the
  next boundary (when anything is counted). A sliding log: one window after the newest entry.
  A sliding window counter: the end of the next window when the current one counts anything
  (its count then decays over a whole window), else the end of this one.
"""

from __future__ import annotations

import math
from collections import deque

from auraon_bench.emulator.limiter import EPSILON, SECONDS_PER_MINUTE, Meter

WINDOW_S = SECONDS_PER_MINUTE


class _Windowed:
    """Boundaries at ``phase + k * WINDOW_S``; ``index(now)`` is the window holding ``now``."""

    def __init__(self, phase: float) -> None:
        self.phase = phase

    def index(self, t: float) -> int:
        # The slack puts a time computed as "exactly the next boundary" in the next window.
        return math.floor((t - self.phase) / WINDOW_S + EPSILON)

    def start(self, index: int) -> float:
        return self.phase + index * WINDOW_S


class FixedWindow(_Windowed, Meter):
    """A counter reset to zero at every boundary."""

    def __init__(self, limit: int, now: float, phase: float) -> None:
        super().__init__(phase)
        self.limit = limit
        self.window = self.index(now)
        self.used = 0.0

    def _roll(self, now: float) -> None:
        current = self.index(now)
        if current != self.window:
            self.window, self.used = current, 0.0

    def wait_for(self, amount: float, now: float) -> float:
        self._roll(now)
        if self.used + amount <= self.limit + EPSILON:
            return 0.0
        return max(0.0, self.start(self.window + 1) - now)

    def take(self, amount: float, now: float) -> None:
        self._roll(now)
        self.used += amount

    def give_back(self, amount: float, now: float, charged_at: float | None) -> None:
        self._roll(now)
        if charged_at is not None and self.index(charged_at) == self.window:
            self.used = max(0.0, self.used - amount)

    def remaining(self, now: float) -> float:
        self._roll(now)
        return max(0.0, self.limit - self.used)

    def reset_after(self, now: float) -> float:
        self._roll(now)
        return self.start(self.window + 1) - now if self.used > 0 else 0.0


class SlidingLog(Meter):
    """Every charge remembered as ``[time, amount]``; it stops counting one window later."""

    def __init__(self, limit: int, now: float) -> None:
        self.limit = limit
        self.log: deque[list[float]] = deque()
        self.used = 0.0

    def _expire(self, now: float) -> None:
        while self.log and self.log[0][0] <= now - WINDOW_S + EPSILON:
            self.used -= self.log.popleft()[1]
        if not self.log:
            self.used = 0.0  # no float residue once nothing is remembered

    def wait_for(self, amount: float, now: float) -> float:
        self._expire(now)
        excess = self.used + amount - self.limit
        if excess <= EPSILON:
            return 0.0
        freed = 0.0
        for at, entry in self.log:
            freed += entry
            if freed >= excess - EPSILON:
                return max(0.0, at + WINDOW_S - now)
        raise AssertionError("an amount within the limit always fits once the log is empty")

    def take(self, amount: float, now: float) -> None:
        self._expire(now)
        self.log.append([now, amount])
        self.used += amount

    def give_back(self, amount: float, now: float, charged_at: float | None) -> None:
        self._expire(now)
        if charged_at is None:
            return
        # The charge's own entry, newest first (the refund comes soon after the charge).
        for entry in reversed(self.log):
            if entry[0] < charged_at:
                break
            if entry[0] == charged_at and amount > 0:
                back = min(amount, entry[1])
                entry[1] -= back
                self.used -= back
                amount -= back

    def remaining(self, now: float) -> float:
        self._expire(now)
        return max(0.0, self.limit - self.used)

    def reset_after(self, now: float) -> float:
        self._expire(now)
        return max(0.0, self.log[-1][0] + WINDOW_S - now) if self.log else 0.0


class SlidingWindowCounter(_Windowed, Meter):
    """``prev * (1 - elapsed / window) + cur`` on fixed boundaries (Cloudflare's estimate)."""

    def __init__(self, limit: int, now: float, phase: float) -> None:
        super().__init__(phase)
        self.limit = limit
        self.window = self.index(now)
        self.previous = 0.0
        self.current = 0.0

    def _roll(self, now: float) -> None:
        current = self.index(now)
        if current == self.window + 1:
            self.previous, self.current = self.current, 0.0
        elif current != self.window:
            self.previous, self.current = 0.0, 0.0
        self.window = current

    def _elapsed(self, now: float) -> float:
        return min(WINDOW_S, max(0.0, now - self.start(self.window)))

    def estimate(self, now: float) -> float:
        self._roll(now)
        return self.previous * (1 - self._elapsed(now) / WINDOW_S) + self.current

    def wait_for(self, amount: float, now: float) -> float:
        if self.estimate(now) + amount <= self.limit + EPSILON:
            return 0.0
        elapsed = self._elapsed(now)
        room = self.limit - self.current - amount  # what the previous window's weight may use
        if room >= -EPSILON and self.previous > 0:
            # Within this window: previous * (1 - f) <= room once f >= 1 - room / previous.
            share = 1 - max(0.0, room) / self.previous
            return max(0.0, share * WINDOW_S - elapsed)
        # The current window alone is too full: in the next one it is the decaying count,
        # current * (1 - y / window) + amount <= limit once y >= window * (1 - (limit -
        # amount) / current).
        into_next = WINDOW_S * max(0.0, 1 - (self.limit - amount) / self.current)
        return WINDOW_S - elapsed + into_next

    def take(self, amount: float, now: float) -> None:
        self._roll(now)
        self.current += amount

    def give_back(self, amount: float, now: float, charged_at: float | None) -> None:
        self._roll(now)
        if charged_at is None:
            return
        charged = self.index(charged_at)
        if charged == self.window:
            self.current = max(0.0, self.current - amount)
        elif charged == self.window - 1:
            self.previous = max(0.0, self.previous - amount)

    def remaining(self, now: float) -> float:
        return max(0.0, self.limit - self.estimate(now))

    def reset_after(self, now: float) -> float:
        self._roll(now)
        to_boundary = WINDOW_S - self._elapsed(now)
        if self.current > 0:
            return to_boundary + WINDOW_S
        return to_boundary if self.previous > 0 else 0.0
