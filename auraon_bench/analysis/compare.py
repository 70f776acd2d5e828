"""Differences between two runs' samples, with a confidence interval: ``current - baseline``.

Method
    Independent two-sample percentile bootstrap: resample each run's finite samples with
    replacement (seeded PCG64), evaluate the statistic on both, take the difference, and report
    the ``(1 - c) / 2`` and ``(1 + c) / 2`` quantiles of the differences for confidence ``c``
    (default 0.95). Runs are separate executions, so their samples are not paired. The point
    estimate is the statistic of the full samples. With fewer than :data:`MIN_N` samples on
    either side no interval is given (``None``): a bootstrap of a handful of values is not an
    interval worth printing.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from auraon_bench.analysis.stats import finite

MIN_N = 5
_CHUNK = 256
_RELATIVE_NOISE = 1e-9
_RELATIVE_NOISE = 1e-9


@dataclass(frozen=True)
class Difference:
    baseline: float | None
    current: float | None
    difference: float | None  # current - baseline
    ci_low: float | None
    ci_high: float | None
    n_baseline: int
    n_current: int

    @property
    def ratio(self) -> float | None:
        if self.baseline in (None, 0) or self.current is None:
            return None
        return self.current / self.baseline

    @property
    def excludes_zero(self) -> bool:
        """The interval lies entirely on one side of zero."""
        if self.ci_low is None or self.ci_high is None:
            return False
        return self.ci_low > 0 or self.ci_high < 0


def percentile_statistic(p: float) -> Callable[..., Any]:
    def statistic(x: np.ndarray, axis: int = -1) -> Any:
        return np.percentile(x, p, axis=axis, method="linear")

    return statistic


def difference_ci(
    baseline: Any,
    current: Any,
    statistic: Callable[..., Any] = np.mean,
    *,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
) -> Difference:
    """``statistic(current) - statistic(baseline)`` with its bootstrap interval."""
    a, b = finite(baseline), finite(current)
    point_a = float(statistic(a)) if a.size else None
    point_b = float(statistic(b)) if b.size else None
    # Equal constants (a fixed price per request) differ by rounding error only: that is zero.
    scale = max(abs(point_a or 0.0), abs(point_b or 0.0))
    diff = None if point_a is None or point_b is None else _clean(point_b - point_a, scale)
    if a.size < MIN_N or b.size < MIN_N:
        return Difference(point_a, point_b, diff, None, None, int(a.size), int(b.size))
    rng = np.random.default_rng(seed)
    values = np.empty(n_resamples)
    for start in range(0, n_resamples, _CHUNK):
        k = min(_CHUNK, n_resamples - start)
        ra = a[rng.integers(0, a.size, size=(k, a.size))]
        rb = b[rng.integers(0, b.size, size=(k, b.size))]
        values[start : start + k] = statistic(rb, axis=1) - statistic(ra, axis=1)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(values, [alpha, 1 - alpha], method="linear")
    return Difference(
        point_a, point_b, diff, _clean(low, scale), _clean(high, scale), int(a.size), int(b.size)
    )


def _clean(value: float | None, scale: float) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return 0.0 if abs(value) <= _RELATIVE_NOISE * scale else float(value)
