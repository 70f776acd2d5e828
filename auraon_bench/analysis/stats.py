"""Summary statistics of raw samples: percentiles, a bootstrap confidence interval, rates.

Percentiles
    :func:`percentiles` reports p50, p90, p95 and p99 of the *finite* samples (NaN, None
    and ±inf are undefined measurements and are dropped before counting), computed with
    numpy's ``method="linear"`` interpolation on the raw samples (no binning, no
    histogram sketch): for sorted samples ``x[0..n-1]`` the p-th percentile is
    ``x[h]`` linearly interpolated at ``h = (n - 1) p / 100``.

    p99.9 is reported only when ``n >= 10,000`` (:data:`P999_MIN_N`): below that the 0.1%
    tail holds fewer than ten samples and the value is an interpolation between the few
    largest observations, so it is ``None`` rather than a misleading number. The key is
    always present so that the schema of ``summary.json`` does not depend on ``n``.

    Every result carries ``n``. With ``n == 0`` every value is ``None``; nothing raises.
    ``std`` is the sample standard deviation (``ddof=1``), ``None`` when ``n < 2``.

Bootstrap
    :func:`bootstrap_ci` is the percentile bootstrap (Efron): resample the finite samples
    with replacement ``n_resamples`` times with a seeded ``numpy.random.Generator``
    (PCG64), evaluate the statistic on each resample, and take the ``(1 - c) / 2`` and
    ``(1 + c) / 2`` quantiles (linear) of those values as the interval for confidence
    ``c``. The same seed and samples give the same interval.

Rates
    :func:`rate` is ``count / window_s``, ``None`` when the window is missing, not finite
    or not positive (a single request has a zero window; a rate from it is meaningless).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "DEFAULT_PS",
    "P999_MIN_N",
    "Percentiles",
    "bootstrap_ci",
    "finite",
    "percentile_from_key",
    "percentile_key",
    "percentiles",
    "rate",
]

DEFAULT_PS: tuple[float, ...] = (50.0, 90.0, 95.0, 99.0)
P999_MIN_N = 10_000
_P999 = 99.9

# Upper bound on the floats one bootstrap chunk materialises (resamples x n): keeps the
# memory of a 100k-sample, 2000-resample bootstrap around 32 MB instead of 1.6 GB.
_BOOTSTRAP_CHUNK_FLOATS = 1 << 22


def finite(samples: Iterable[Any] | np.ndarray | pd.Series) -> np.ndarray:
    """The finite values of ``samples`` as a 1-D float64 array (NaN, None, pd.NA, inf dropped)."""
    if isinstance(samples, pd.Series | pd.Index):
        arr = pd.to_numeric(samples, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        if not isinstance(samples, np.ndarray | Sequence):
            samples = list(samples)
        try:
            arr = np.asarray(samples, dtype=np.float64)
        except (TypeError, ValueError):
            # pd.NA and other missing markers do not convert; pandas coerces them to NaN.
            arr = pd.to_numeric(pd.Series(list(samples), dtype=object), errors="coerce").to_numpy(
                dtype=np.float64, na_value=np.nan
            )
    arr = arr.ravel()
    return arr[np.isfinite(arr)]


def percentile_key(p: float) -> str:
    """The field name of percentile ``p``: ``50 -> "p50"``, ``99.9 -> "p999"``."""
    p = float(p)
    if p.is_integer():
        return f"p{int(p)}"
    # Tail percentiles are conventionally named by their digits (p999, p9999).
    return "p" + format(p, "g").replace(".", "")


def percentile_from_key(key: str) -> float:
    """The inverse of :func:`percentile_key`: ``"p50" -> 50.0``, ``"p999" -> 99.9``."""
    digits = key[1:]
    return float(digits if len(digits) <= 2 else f"{digits[:2]}.{digits[2:]}")


def _opt(value: float) -> float | None:
    """A Python float, or None for NaN/inf (JSON has no NaN)."""
    value = float(value)
    return value if math.isfinite(value) else None


@dataclass(frozen=True, slots=True)
class Percentiles:
    """Percentiles of one metric with the sample count they rest on.

    ``points`` holds ``(p, value)`` pairs in the order requested, p99.9 last; values are
    ``None`` when ``n == 0`` (and p99.9 also when ``n < P999_MIN_N``).
    """

    n: int
    mean: float | None
    std: float | None
    min: float | None
    max: float | None
    points: tuple[tuple[float, float | None], ...]

    def get(self, p: float) -> float | None:
        """The value at percentile ``p``; ``KeyError`` if ``p`` was not computed."""
        for q, value in self.points:
            if q == p:
                return value
        raise KeyError(f"percentile {p} was not computed (have {[q for q, _ in self.points]})")

    def _maybe(self, p: float) -> float | None:
        try:
            return self.get(p)
        except KeyError:
            return None

    @property
    def p50(self) -> float | None:
        return self._maybe(50.0)

    @property
    def p90(self) -> float | None:
        return self._maybe(90.0)

    @property
    def p95(self) -> float | None:
        return self._maybe(95.0)

    @property
    def p99(self) -> float | None:
        return self._maybe(99.0)

    @property
    def p999(self) -> float | None:
        return self._maybe(_P999)

    def to_dict(self) -> dict[str, int | float | None]:
        """Flat JSON-ready dict: ``n, mean, std, min, max, p50, p90, p95, p99, p999``."""
        out: dict[str, int | float | None] = {
            "n": self.n,
            "mean": self.mean,
            "std": self.std,
            "min": self.min,
            "max": self.max,
        }
        for p, value in self.points:
            out[percentile_key(p)] = value
        return out

    @classmethod
    def from_dict(
        cls, data: Any, *, source: str | None = None, where: str = "Percentiles"
    ) -> Percentiles:
        """The inverse of :meth:`to_dict` (keys ``p50`` ... ``p999`` back to points)."""
        from auraon_bench.results.typed import build_fields

        if not isinstance(data, dict):
            return build_fields(cls, data, source=source, where=where)  # raises, naming where
        points = tuple(
            (percentile_from_key(k), None if v is None else float(v))
            for k, v in data.items()
            if k.startswith("p") and k[1:].isdigit()
        )
        return build_fields(cls, data, source=source, where=where, points=points)


def percentiles(
    samples: Iterable[Any] | np.ndarray | pd.Series, ps: Sequence[float] = DEFAULT_PS
) -> Percentiles:
    """Linear-interpolation percentiles ``ps`` (plus p99.9 when ``n >= 10,000``) with ``n``."""
    wanted = [float(p) for p in ps]
    for p in wanted:
        if not 0.0 <= p <= 100.0:
            raise ValueError(f"ps: percentiles must be in [0, 100], got {p!r}")
    if _P999 not in wanted:
        wanted.append(_P999)
    keys = [percentile_key(p) for p in wanted]
    if len(set(keys)) != len(keys):
        raise ValueError(f"ps: two percentiles share a field name: {keys}")

    x = finite(samples)
    n = int(x.size)
    if n == 0:
        return Percentiles(0, None, None, None, None, tuple((p, None) for p in wanted))
    # One call for all ps: numpy partitions once around every needed order statistic.
    values = np.percentile(x, wanted, method="linear")
    points = tuple(
        (p, None if p == _P999 and n < P999_MIN_N else _opt(v))
        for p, v in zip(wanted, values, strict=True)
    )
    std = _opt(np.std(x, ddof=1)) if n >= 2 else None
    return Percentiles(n, _opt(np.mean(x)), std, _opt(x.min()), _opt(x.max()), points)


def _evaluate(statistic: Callable[..., Any], resamples: np.ndarray) -> np.ndarray:
    """``statistic`` of each row of ``resamples``, vectorised when it takes ``axis``."""
    try:
        out = np.asarray(statistic(resamples, axis=1), dtype=np.float64)
        if out.shape == (resamples.shape[0],):
            return out
    except TypeError:
        pass
    # Plain callables without an ``axis`` argument: one call per resample.
    return np.fromiter((statistic(row) for row in resamples), np.float64, len(resamples))


def bootstrap_ci(
    samples: Iterable[Any] | np.ndarray | pd.Series,
    statistic: Callable[..., Any] = np.mean,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int | None = 0,
) -> tuple[float, float]:
    """Percentile-bootstrap interval of ``statistic`` over the finite ``samples``.

    Returns ``(nan, nan)`` for no samples. ``statistic`` is called with ``axis=1`` on a
    2-D array of resamples when it accepts that (numpy reductions do), else per resample.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence: must be in (0, 1), got {confidence!r}")
    if n_resamples < 1:
        raise ValueError(f"n_resamples: must be >= 1, got {n_resamples!r}")
    x = finite(samples)
    n = x.size
    if n == 0:
        return (math.nan, math.nan)
    rng = np.random.default_rng(seed)
    values = np.empty(n_resamples, dtype=np.float64)
    # The chunk size depends only on n, so the draws (and the interval) are a pure
    # function of (samples, seed, n_resamples).
    chunk = max(1, _BOOTSTRAP_CHUNK_FLOATS // n)
    for start in range(0, n_resamples, chunk):
        k = min(chunk, n_resamples - start)
        idx = rng.integers(0, n, size=(k, n))
        values[start : start + k] = _evaluate(statistic, x[idx])
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(values, [alpha, 1.0 - alpha], method="linear")
    return (float(low), float(high))


def rate(count: float, window_s: float | None) -> float | None:
    """``count / window_s`` per second; None for a missing, non-finite or non-positive window."""
    if window_s is None:
        return None
    window = float(window_s)
    if not math.isfinite(window) or window <= 0.0:
        return None
    return float(count) / window
