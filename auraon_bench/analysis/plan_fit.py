"""Does a measured workload fit a plan's per-minute limits?

Method
    *Needed* requests/min and tokens/min are the workload's peak over a sliding window of
    ``window_s`` seconds (default 60, the length the plans are stated for), scaled to a minute:
    ``peak count in any window / window_s * 60``. Every attempt sent counts, rate-limited ones
    included, since the gateway counts them against the budget too; tokens are prompt plus
    completion tokens of each attempt (what the token budget is charged). A run shorter than the
    window uses its whole length as the window, and says so (``window_s`` < 60): a short run's peak
    minute is an extrapolation.

    *Uncertainty of the peak*: a moving-block bootstrap over the send times binned in
    ``window_s / 12`` bins (blocks of one window, 1,000 resamples, seeded), each resample's peak
    window scaled to a minute; the 95% percentile interval is reported as ``peak_rpm_low`` and
    ``peak_rpm_high``. A run shorter than two windows has no interval: one window cannot say how
    much its busiest minute varies.

    *Headroom* under a plan is ``1 - needed / limit`` per dimension (negative: over the limit);
    an unlimited dimension has headroom 1. A plan fits with headroom ``h`` when both dimensions
    have at least ``h``.

Pure: a records frame and plan limits in, numbers out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

MINUTE_S = 60.0

# Auraon's documented plans (API reference, "Rate limits"): requests/min and tokens/min;
# None means unlimited.
DOCUMENTED_PLANS: Mapping[str, tuple[float | None, float | None]] = {
    "starter": (60.0, 100_000.0),
    "pro": (1_000.0, 2_000_000.0),
    "enterprise": (None, None),
}


@dataclass(frozen=True)
class PlanLimit:
    name: str
    rpm: float | None  # None: unlimited
    tpm: float | None

    def headroom(self, needed_rpm: float, needed_tpm: float) -> tuple[float, float]:
        return (_headroom(needed_rpm, self.rpm), _headroom(needed_tpm, self.tpm))

    def fits(self, needed_rpm: float, needed_tpm: float, headroom: float = 0.0) -> bool:
        return min(self.headroom(needed_rpm, needed_tpm)) >= headroom


MIN_MEASURED_S = 60.0
MIN_MEASURED_REQUESTS = 200


@dataclass(frozen=True)
class Measurement:
    """What a measured workload's peak rests on (the busiest part's plan fit)."""

    requests: int  # attempts sent
    seconds: float  # first to last send
    window_s: float  # the sliding window of the peak (60 unless the run was shorter)
    peak_rpm_low: float | None = None  # 95% bootstrap interval of the peak, when it has one
    peak_rpm_high: float | None = None

    def too_short(self) -> str | None:
        """Why this is too little to extrapolate a month from, or None."""
        if self.seconds >= MIN_MEASURED_S and self.requests >= MIN_MEASURED_REQUESTS:
            return None
        return (
            f"the run measured {self.requests} attempts over {self.seconds:.1f} s; a peak minute "
            f"extrapolated from less than {MIN_MEASURED_S:g} s or {MIN_MEASURED_REQUESTS} "
            "attempts is a guess"
        )

    def describe(self) -> str:
        interval = (
            f"95% interval {self.peak_rpm_low:,.1f}-{self.peak_rpm_high:,.1f} requests/min "
            "(moving-block bootstrap over the run's windows)"
            if self.peak_rpm_low is not None and self.peak_rpm_high is not None
            else "no interval: the run spans less than two windows"
        )
        return (
            f"measured {self.requests:,} attempts over {self.seconds:,.1f} s, peak over a "
            f"{self.window_s:,.1f} s window; {interval}"
        )


@dataclass(frozen=True)
class PlanFit:
    needed_rpm: float
    needed_tpm: float
    window_s: float  # the sliding window used (60 unless the run was shorter)
    n_requests: int
    plans: tuple[PlanLimit, ...]
    duration_s: float = 0.0  # first to last send: how long the run measured
    peak_rpm_low: float | None = None  # 95% bootstrap interval of needed_rpm (see the module)
    peak_rpm_high: float | None = None

    @property
    def measurement(self) -> Measurement:
        return Measurement(
            requests=self.n_requests,
            seconds=self.duration_s,
            window_s=self.window_s,
            peak_rpm_low=self.peak_rpm_low,
            peak_rpm_high=self.peak_rpm_high,
        )

    def cheapest_fit(self, headroom: float = 0.3) -> str | None:
        """The first plan (plans are listed cheapest first) with at least ``headroom``."""
        for plan in self.plans:
            if plan.fits(self.needed_rpm, self.needed_tpm, headroom):
                return plan.name
        return None

    def to_dict(self) -> dict[str, object]:
        return {
            "needed_rpm": self.needed_rpm,
            "needed_tpm": self.needed_tpm,
            "window_s": self.window_s,
            "n_requests": self.n_requests,
            "duration_s": self.duration_s,
            "peak_rpm_interval": (
                None if self.peak_rpm_low is None else [self.peak_rpm_low, self.peak_rpm_high]
            ),
            "plans": [
                {
                    "name": p.name,
                    "rpm": p.rpm,
                    "tpm": p.tpm,
                    "rpm_headroom": p.headroom(self.needed_rpm, self.needed_tpm)[0],
                    "tpm_headroom": p.headroom(self.needed_rpm, self.needed_tpm)[1],
                }
                for p in self.plans
            ],
        }


def _headroom(needed: float, limit: float | None) -> float:
    if limit is None:
        return 1.0
    return 1.0 - needed / limit


def documented_plans() -> tuple[PlanLimit, ...]:
    return tuple(PlanLimit(name, rpm, tpm) for name, (rpm, tpm) in DOCUMENTED_PLANS.items())


def peak_per_minute(times: np.ndarray, weights: np.ndarray, window_s: float) -> float:
    """Largest ``sum(weights)`` over any closed window ``[t, t + window_s]`` starting at a
    send time, scaled to 60 s."""
    if times.size == 0 or window_s <= 0:
        return 0.0
    order = np.argsort(times, kind="stable")
    t, w = times[order], weights[order]
    cum = np.concatenate(([0.0], np.cumsum(w)))
    ends = np.searchsorted(t, t + window_s, side="right")
    peak = float(np.max(cum[ends] - cum[np.arange(t.size)]))
    return peak / window_s * MINUTE_S


def plan_fit(
    df: pd.DataFrame,
    plans: Sequence[PlanLimit] | None = None,
    window_s: float = MINUTE_S,
) -> PlanFit:
    """Needed requests/min and tokens/min of the records' attempts against ``plans``."""
    sent = pd.to_numeric(df["t_sent"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    keep = np.isfinite(sent)
    sent = sent[keep]
    tokens = np.zeros(sent.size)
    for name in ("prompt_tokens", "completion_tokens"):
        if name in df:
            values = pd.to_numeric(df[name], errors="coerce").to_numpy(dtype=float, na_value=0.0)
            tokens += np.nan_to_num(values[keep])
    duration = float(sent.max() - sent.min()) if sent.size > 1 else 0.0
    interval = peak_interval(sent, window_s)
    if sent.size > 1:
        window_s = min(window_s, duration or window_s)
    return PlanFit(
        needed_rpm=peak_per_minute(sent, np.ones(sent.size), window_s),
        needed_tpm=peak_per_minute(sent, tokens, window_s),
        window_s=window_s,
        n_requests=int(sent.size),
        plans=tuple(plans) if plans is not None else documented_plans(),
        duration_s=duration,
        peak_rpm_low=None if interval is None else interval[0],
        peak_rpm_high=None if interval is None else interval[1],
    )


BINS_PER_WINDOW = 12
RESAMPLES = 1000


def peak_interval(
    times: np.ndarray, window_s: float = MINUTE_S, *, seed: int = 0, level: float = 0.95
) -> tuple[float, float] | None:
    """95% moving-block bootstrap interval of the peak requests/min (see the module docstring),
    or None when the sends span less than two windows."""
    if times.size < 2 or window_s <= 0:
        return None
    width = window_s / BINS_PER_WINDOW
    counts = np.bincount(((times - times.min()) // width).astype(np.int64))
    n_bins = counts.size
    if n_bins < 2 * BINS_PER_WINDOW:
        return None
    rng = np.random.default_rng(seed)
    n_blocks = -(-n_bins // BINS_PER_WINDOW)
    starts = rng.integers(0, n_bins - BINS_PER_WINDOW + 1, size=(RESAMPLES, n_blocks))
    peaks = np.empty(RESAMPLES)
    # In chunks of resamples: a week-long run has 120,960 bins, too many to hold 1,000 copies.
    chunk = max(1, min(RESAMPLES, 2_000_000 // n_bins))
    for first in range(0, RESAMPLES, chunk):
        part = starts[first : first + chunk]
        # Each resample: whole blocks of one window, laid end to end, cut to the run's length.
        series = counts[part[..., None] + np.arange(BINS_PER_WINDOW)].reshape(len(part), -1)
        cum = np.cumsum(series[:, :n_bins], axis=1)
        cum = np.concatenate((np.zeros((len(part), 1)), cum), axis=1)
        peaks[first : first + len(part)] = (
            cum[:, BINS_PER_WINDOW:] - cum[:, :-BINS_PER_WINDOW]
        ).max(axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(peaks / window_s * MINUTE_S, [tail, 100 - tail])
    return float(low), float(high)
