"""Does a measured workload fit a plan's per-minute limits?

Method
    *Needed* requests/min and tokens/min are the workload's peak over a sliding window of
    ``window_s`` seconds (default 60, the length the plans are stated for), scaled to a minute:
    ``peak count in any window / window_s * 60``. Every attempt sent counts, rate-limited ones
    included, since the gateway counts them against the budget too; tokens are prompt plus
    completion tokens of each attempt (what the token budget is charged). A run shorter than the
    window uses its whole length as the window, and says so (``window_s`` < 60): a short run's peak
    minute is an extrapolation.

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


@dataclass(frozen=True)
class PlanFit:
    needed_rpm: float
    needed_tpm: float
    window_s: float  # the sliding window used (60 unless the run was shorter)
    n_requests: int
    plans: tuple[PlanLimit, ...]

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
    if sent.size > 1:
        window_s = min(window_s, float(sent.max() - sent.min()) or window_s)
    return PlanFit(
        needed_rpm=peak_per_minute(sent, np.ones(sent.size), window_s),
        needed_tpm=peak_per_minute(sent, tokens, window_s),
        window_s=window_s,
        n_requests=int(sent.size),
        plans=tuple(plans) if plans is not None else documented_plans(),
    )
