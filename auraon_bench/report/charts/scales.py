"""Pure decisions about the charts' axes: time bins, percentile clipping, accuracy range, money.

Nothing here touches matplotlib: each function takes numbers and returns numbers or strings,
so the rules a reader sees on a chart (bin widths, where an axis is cut, how a dollar amount is
written) are tested on their own. :mod:`~auraon_bench.report.charts.base` applies them.

* **Time bins** are a round width a person would say (0.5 s, 1 s, 2 s, 5 s, 10 s, 30 s, 1 min,
  ...), chosen so that a run gets about one bin per three events of its busiest series, and
  10 to 60 bins whenever the run is long enough to hold that many.
* **Clipping**: one slow attempt must not stretch an axis until the bulk of the data is a
  sliver. An axis ends at a stated percentile of the data (the highest of the series' own
  percentiles, so no series loses more than its tail) when the data beyond it would take more
  than a fifth of the axis; the attempts beyond are counted and their maximum is stated.
* **Accuracy** axes are percent, never below 0 or above 100, and at least 20 points tall.
* **Money** is written in dollars with as many decimals as the amount (or the tick step)
  needs: ``$0.00002``, ``$0.15``, ``$12.50``, never ``2e-05`` or an offset.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# Round widths, seconds: 1-2-5 below ten seconds, then the steps a clock face suggests.
HUMAN_WIDTHS: tuple[float, ...] = (
    *(m * 10.0**k for k in range(-3, 1) for m in (1, 2, 5)),
    10.0, 15.0, 20.0, 30.0,
    60.0, 120.0, 300.0, 600.0, 900.0, 1200.0, 1800.0,
    3600.0, 7200.0, 10800.0, 21600.0, 43200.0, 86400.0,
)  # fmt: skip
MIN_BINS, MAX_BINS = 10, 60
EVENTS_PER_BIN = 3  # a rate from fewer events per bin is mostly noise

CLIP_SHARE = 0.2  # cut an axis when what lies beyond the percentile would take this much of it
MIN_CLIP_SAMPLES = 20  # below this every point is worth showing
ACCURACY_MIN_SPAN = 20.0  # percentage points


def bin_width(t_end: float, n_events: int) -> float:
    """The human width (s) giving ``[0, t_end]`` 10 to 60 bins, the count nearest (in ratio) to
    ``n_events / 3``; a run too short for 10 bins of a millisecond gets the nearest count."""
    if not math.isfinite(t_end) or t_end <= 0:
        return 1.0
    wanted = min(MAX_BINS, max(MIN_BINS, n_events // EVENTS_PER_BIN))
    # Consecutive widths differ by 2.5x at most, so some width always fits a 6x range of counts.
    fitting = [w for w in HUMAN_WIDTHS if MIN_BINS <= t_end / w <= MAX_BINS]
    return min(fitting or HUMAN_WIDTHS, key=lambda w: (abs(math.log(t_end / w / wanted)), w))


def time_edges(t_end: float, width: float) -> np.ndarray:
    """Edges every ``width`` seconds from 0, the last one at ``t_end`` itself.

    The run rarely ends on a round number: a remainder of at least half a bin is a shorter last
    bin, a smaller one joins the bin before it, so no bin is a sliver whose rate is one event
    divided by almost nothing. Rates must therefore be divided by each bin's own width.
    """
    if not math.isfinite(t_end) or t_end <= 0:
        return np.array([0.0, width])
    full = math.floor(t_end / width * (1 + 1e-9))
    edges = [i * width for i in range(full + 1)]
    remainder = t_end - edges[-1]
    if full == 0 or remainder >= width / 2:
        edges.append(t_end)
    elif remainder > width * 1e-9:
        edges[-1] = t_end
    return np.array(edges, dtype=float)


def format_duration(seconds: float) -> str:
    """``0.5 s``, ``2 s``, ``1 min``, ``1.5 h``, ``20 ms``: how a bin width is spoken."""
    if seconds >= 3600:
        return f"{seconds / 3600:g} h"
    if seconds >= 60:
        return f"{seconds / 60:g} min"
    if seconds >= 0.1:
        return f"{seconds:.3g} s"
    return f"{seconds * 1000:.3g} ms"


def format_amount(value: float) -> str:
    """Three significant digits, never an exponent: ``0.889``, ``12.3``, ``7,500``."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    decimals = max(0, 2 - math.floor(math.log10(abs(value))))
    return f"{value:,.{decimals}f}"


@dataclass(frozen=True)
class Clip:
    """An axis cut at a percentile of its data."""

    percentile: float  # e.g. 99.0
    limit: float  # the value at that percentile (the highest of the series' own)
    beyond: int  # values above ``limit``
    total: int
    maximum: float

    @property
    def name(self) -> str:
        return f"p{self.percentile:g}"


def clip_percentile(n: int) -> float:
    """p99 once a sample has a hundred values; below that p99 is interpolated towards the
    maximum itself, so p95."""
    return 99.0 if n >= 100 else 95.0


def axis_clip(series: Sequence[np.ndarray], *, log: bool = False) -> Clip | None:
    """Where to cut an axis showing ``series`` (one array per arm), or None to show it all."""
    arrays = [a[np.isfinite(a)] for a in (np.asarray(s, dtype=float) for s in series)]
    arrays = [a for a in arrays if a.size]
    if not arrays:
        return None
    pooled = np.concatenate(arrays)
    if pooled.size < MIN_CLIP_SAMPLES:
        return None
    percentile = clip_percentile(pooled.size)
    limit = max(float(np.percentile(a, percentile)) for a in arrays)
    low, high = float(pooled.min()), float(pooled.max())
    if log and low > 0:
        low, cut, top = math.log(low), math.log(limit), math.log(high)
    else:
        cut, top = limit, high
    if top <= low or (top - cut) / (top - low) <= CLIP_SHARE:
        return None
    return Clip(percentile, limit, int((pooled > limit).sum()), int(pooled.size), high)


def clipped_range(clip: Clip, low: float, *, log: bool = False) -> tuple[float, float]:
    """Axis limits for data from ``low`` cut at ``clip``: a little room on either side, so the
    first and last values show, measured in the axis' own scale."""
    if log and low > 0:
        room = (clip.limit / low) ** 0.04
        return low / room, clip.limit * room
    room = 0.04 * (clip.limit - min(low, clip.limit))
    return low - room, clip.limit + room


def accuracy_range(values: Sequence[float]) -> tuple[float, float]:
    """Axis limits (percent) for accuracies and their interval ends: the data with some room,
    at least :data:`ACCURACY_MIN_SPAN` points tall, never past 0 or 100."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return 0.0, 100.0
    low, high = min(finite), max(finite)
    pad = max(5.0, 0.1 * (high - low))
    low, high = low - pad, high + pad
    short = ACCURACY_MIN_SPAN - (high - low)
    if short > 0:
        low, high = low - short / 2, high + short / 2
    if low < 0:
        low, high = 0.0, min(100.0, high - low)
    if high > 100:
        low, high = max(0.0, low - (high - 100)), 100.0
    return low, high


def money_decimals(value: float) -> int:
    """Decimals that show ``value`` (a dollar amount or a tick step) exactly to 2 significant
    digits, and never fewer than the cents."""
    value = abs(value)
    if value == 0 or not math.isfinite(value):
        return 2
    decimals = max(2, 1 - math.floor(math.log10(value)))
    # Drop a trailing zero the second significant digit does not need ($0.00002, not $0.000020).
    while decimals > 2 and round(value, decimals - 1) == round(value, decimals):
        decimals -= 1
    return min(decimals, 12)


def format_money(value: float, decimals: int | None = None) -> str:
    """``$0.00002``, ``$0.15``, ``$1,234.50``; ``-$0.10``; zero is ``$0``."""
    if value is None or not math.isfinite(value):
        return "-"
    if value == 0:
        return "$0"
    digits = money_decimals(value) if decimals is None else decimals
    sign = "-" if value < 0 else ""
    return f"{sign}${abs(value):,.{digits}f}"


def money_ticks(values: Sequence[float], *, log: bool = False) -> list[str]:
    """Tick labels of a money axis: on a linear axis every label has the decimals the tick
    step needs (``$0.00``, ``$0.05``, ``$0.10``); on a log axis each its own."""
    values = [float(v) for v in values]
    if all(v == round(v) for v in values):
        return [format_money(v, 0) for v in values]  # $200, not $200.00, between whole dollars
    if log or len(values) < 2:
        return [format_money(v) for v in values]
    steps = np.abs(np.diff(values))
    step = float(steps[steps > 0].min()) if np.any(steps > 0) else abs(values[0])
    decimals = max([money_decimals(step), *(money_decimals(v) for v in values if v)])
    return [format_money(v, decimals) for v in values]
