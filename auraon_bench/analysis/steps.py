"""Step detection in a series of runs: a persistent change of level, not one noisy night.

A **step** is a point in a series (one value per run, in run order) after which the values sit
at a different level and stay there. One outlying night moves a mean but hardly a median or a
rank test, so both tests below are rank- and median-based.

Method
    NaN, None and ±inf values are dropped first; what remains keeps its order. For every split
    ``k`` that leaves at least ``min_segment`` points on each side (``k`` in
    ``[min_segment, n - min_segment]``), the two segments ``x[:k]`` and ``x[k:]`` are compared
    with a two-sided Mann-Whitney U test (``scipy.stats.mannwhitneyu``) and with the relative
    change of their medians, ``(median(after) - median(before)) / |median(before)|``.

    The test's p-value is computed the same way for every split of a series: from the exact
    null distribution of U when the series has at most :data:`EXACT_MAX_N` points, else the
    normal approximation with tie and continuity corrections. (scipy's default picks per call,
    exact only for a segment of at most 8 points without ties: the short edge segments got
    exact p-values and the balanced middle ones approximate, larger ones, which pulled the
    chosen split off the step; and on tied values, such as error rates of 0, the approximation
    called 3 runs against 3 significant.) With ties the exact distribution is that of untied
    values, computed on mid-ranks: an approximation, and a conservative one when ties are many.

    The split with the smallest p-value is the candidate (ties: the larger absolute change,
    then the earlier split). Because the best of ``m`` splits was picked, its p-value is
    multiplied by ``m`` (Bonferroni; capped at 1). A step is reported when that adjusted p is
    below ``alpha`` **and** the absolute relative change is at least ``threshold``: significant
    but small changes (a 2% drift over 100 runs) and large but unsupported ones (a single
    night) are both not steps.

    Bonferroni is conservative here (neighbouring splits share most of their points and their
    tests are strongly correlated), so on pure noise the false-step rate is well below
    ``alpha``; the price is that a step needs a few runs on each side before it can be seen.
    With the defaults even a perfectly clean step needs 10 runs in all, 5 on each side (exact
    p = 2 / C(10, 5) ~ 0.008, x 5 splits ~ 0.04); 8 runs split 4 / 4 give 0.086, not a step.

Edge cases
    Fewer than ``2 * min_segment`` finite points, or a constant series: ``None``. A segment
    whose median is zero has no relative change: a move away from zero counts as infinitely
    large (``±inf``), a zero median on both sides as no change.

Pure: numbers in, a frozen dataclass (or ``None``) out; no I/O, no plotting.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

__all__ = [
    "DEFAULT_ALPHA",
    "DEFAULT_MIN_SEGMENT",
    "DEFAULT_THRESHOLD",
    "EXACT_MAX_N",
    "Step",
    "detect_step",
    "relative_change",
]

DEFAULT_MIN_SEGMENT = 3
DEFAULT_ALPHA = 0.05
DEFAULT_THRESHOLD = 0.10
# Exact U distributions cost O(n^2) per split, so O(n^3) per series: ~0.04 s at 60 points.
EXACT_MAX_N = 60


@dataclass(frozen=True)
class Step:
    """A persistent change of level found by :func:`detect_step`."""

    index: int  # position, in the series as given (NaNs counted), of the first value after it
    before: float  # median of the finite values before the step
    after: float  # median of the finite values from the step on
    change: float  # (after - before) / |before|; ±inf when before is 0
    p: float  # two-sided Mann-Whitney U p-value of the chosen split
    p_adjusted: float  # p x number of candidate splits, capped at 1
    n_before: int  # finite values before the step
    n_after: int  # finite values from the step on

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def relative_change(before: float, after: float) -> float:
    """``(after - before) / |before|``; ``±inf`` away from a zero ``before``, 0 if both are 0."""
    if before == 0:
        return 0.0 if after == 0 else math.copysign(math.inf, after)
    return (after - before) / abs(before)


def _finite_with_positions(values: Iterable[Any]) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(values, np.ndarray | pd.Series | Sequence):
        values = list(values)
    # pd.to_numeric turns None and pd.NA into NaN, which float conversion alone would not.
    arr = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(
        dtype=np.float64, na_value=np.nan
    )
    keep = np.isfinite(arr)
    return arr[keep], np.flatnonzero(keep)


def detect_step(
    values: Iterable[Any],
    *,
    min_segment: int = DEFAULT_MIN_SEGMENT,
    alpha: float = DEFAULT_ALPHA,
    threshold: float = DEFAULT_THRESHOLD,
) -> Step | None:
    """The most significant step in ``values`` (in run order), or ``None`` if there is none.

    See the module docstring for the method. ``min_segment`` must be at least 1, ``alpha`` in
    (0, 1] and ``threshold`` non-negative.
    """
    if min_segment < 1:
        raise ValueError(f"min_segment must be >= 1, not {min_segment}")
    if not 0 < alpha <= 1:
        raise ValueError(f"alpha must be in (0, 1], not {alpha}")
    if threshold < 0:
        raise ValueError(f"threshold must be >= 0, not {threshold}")
    x, positions = _finite_with_positions(values)
    n = x.size
    if n < 2 * min_segment or np.all(x == x[0]):
        return None
    splits = range(min_segment, n - min_segment + 1)
    method = "exact" if n <= EXACT_MAX_N else "asymptotic"
    candidates = []  # (p, -|change|, k): the smallest tuple is the chosen split
    for k in splits:
        before, after = x[:k], x[k:]
        p = float(stats.mannwhitneyu(before, after, alternative="two-sided", method=method).pvalue)
        change = relative_change(float(np.median(before)), float(np.median(after)))
        candidates.append((p, -abs(change), k))
    p, _, k = min(candidates)
    p_adjusted = min(1.0, p * len(splits))
    before_median, after_median = float(np.median(x[:k])), float(np.median(x[k:]))
    change = relative_change(before_median, after_median)
    if not (p_adjusted < alpha and abs(change) >= threshold):
        return None
    return Step(
        index=int(positions[k]),
        before=before_median,
        after=after_median,
        change=change,
        p=p,
        p_adjusted=p_adjusted,
        n_before=k,
        n_after=n - k,
    )
