"""The search for the highest sustainable rate: ramp, then bisection. Pure: no I/O, no clock.

The prober drains the key's budget before every trial, so a trial at rate ``r`` answers one
question: with nothing saved up, does sending at ``r`` get a 429? Below the refill rate a token
bucket never runs dry; above it, it does within a trial of enough requests. So:

* **Ramp**: from ``start`` (a quarter of the documented rate when one is known), double the rate
  after each trial without a 429, until one gets a 429 or the rate would pass ``ceiling``.
* **Bisection**: between the highest rate without a 429 (``low``) and the lowest with one
  (``high``), try the midpoint, until ``(high - low) / low <= tolerance``.

The answer is ``low``: the highest rate actually seen to pass. A ramp that reaches the ceiling
without a 429 ends with ``limited = False`` (no limit found below the ceiling).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class RateSearch:
    start: float  # rate of the first trial (per second)
    ceiling: float  # never try faster than this
    tolerance: float = 0.05  # relative width at which bisection stops
    max_trials: int = 16
    low: float | None = None  # highest rate seen without a 429
    high: float | None = None  # lowest rate seen with a 429
    trials: list[tuple[float, bool]] = field(default_factory=list)  # (rate, limited)

    def __post_init__(self) -> None:
        if not 0 < self.start <= self.ceiling:
            raise ValueError(f"start: must be in (0, ceiling], got {self.start!r}")
        if not 0 < self.tolerance < 1:
            raise ValueError(f"tolerance: must be in (0, 1), got {self.tolerance!r}")

    def next_rate(self) -> float | None:
        """The next rate to try, or None when the search is over."""
        if len(self.trials) >= self.max_trials:
            return None
        if self.high is None:  # still ramping
            if not self.trials:
                return self.start
            assert self.low is not None  # every trial so far passed
            return None if self.low >= self.ceiling else min(self.low * 2, self.ceiling)
        if self.low is None:  # limited even at the start: halve down
            lowest = min(rate for rate, _ in self.trials)
            smallest = self.start / 2**8
            return lowest / 2 if lowest / 2 >= smallest else None
        if (self.high - self.low) / self.low <= self.tolerance:
            return None
        return (self.low + self.high) / 2

    def observe(self, rate: float, limited: bool) -> None:
        self.trials.append((rate, limited))
        if limited:
            self.high = rate if self.high is None else min(self.high, rate)
        else:
            self.low = rate if self.low is None else max(self.low, rate)
        if self.low is not None and self.high is not None and self.low >= self.high:
            # A later trial contradicted an earlier one (noise near the limit): trust the
            # contradicting pass by moving the upper bound just above it.
            self.high = self.low * (1 + self.tolerance)

    @property
    def done(self) -> bool:
        return self.next_rate() is None

    @property
    def limited(self) -> bool:
        """A 429 was seen at some rate: the key has a limit below the ceiling."""
        return self.high is not None

    @property
    def sustainable(self) -> float | None:
        """Highest rate seen to pass (None if every trial was limited)."""
        return self.low
