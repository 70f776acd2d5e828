"""Tests for auraon_bench.analysis.stats: percentiles, bootstrap CI, rates."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auraon_bench.analysis.stats import (
    P999_MIN_N,
    Percentiles,
    bootstrap_ci,
    finite,
    percentile_key,
    percentiles,
    rate,
)

KEYS = ["n", "mean", "std", "min", "max", "p50", "p90", "p95", "p99", "p999"]


def test_percentiles_hand_computed_and_match_numpy_linear() -> None:
    x = [10.0, 1.0, 4.0, 2.0, 3.0]
    s = percentiles(x)
    # sorted 1 2 3 4 10; h = 4p/100: p90 -> h=3.6 -> 4 + 0.6*6 = 7.6, p95 -> 8.8, p99 -> 9.76
    assert s.n == 5
    assert s.p50 == pytest.approx(3.0)
    assert s.p90 == pytest.approx(7.6)
    assert s.p95 == pytest.approx(8.8)
    assert s.p99 == pytest.approx(9.76)
    assert (s.mean, s.min, s.max) == (4.0, 1.0, 10.0)
    assert s.std == pytest.approx(np.std(x, ddof=1))
    expected = np.percentile(x, [50, 90, 95, 99], method="linear")
    assert [s.p50, s.p90, s.p95, s.p99] == pytest.approx(list(expected), rel=0, abs=0)
    assert s.p999 is None


def test_undefined_samples_are_dropped_and_not_counted() -> None:
    s = percentiles(pd.Series([1.0, None, np.nan, 3.0, np.inf], dtype=object))
    assert s.n == 2
    assert s.p50 == 2.0
    assert percentiles(pd.array([1, None, 3], dtype="Int64")).n == 2
    assert percentiles([1.0, None, 2.0]).n == 2
    assert percentiles(v for v in (1.0, 2.0)).n == 2
    assert list(finite([1, pd.NA, 2])) == [1.0, 2.0]


@pytest.mark.parametrize("samples", [[], [np.nan, None], np.array([]), pd.Series([], dtype=float)])
def test_empty_samples_give_n0_and_none(samples: object) -> None:
    s = percentiles(samples)  # type: ignore[arg-type]
    assert s.n == 0
    d = s.to_dict()
    assert list(d) == KEYS
    assert d["n"] == 0
    assert all(d[k] is None for k in KEYS[1:])


def test_single_sample() -> None:
    s = percentiles([0.25])
    assert (s.n, s.p50, s.p99, s.min, s.max, s.std) == (1, 0.25, 0.25, 0.25, 0.25, None)


def test_p999_only_from_10000_samples() -> None:
    rng = np.random.default_rng(3)
    small = rng.exponential(size=P999_MIN_N - 1)
    big = rng.exponential(size=P999_MIN_N)
    assert P999_MIN_N == 10_000
    assert percentiles(small).p999 is None
    assert percentiles(small).to_dict()["p999"] is None
    s = percentiles(big)
    assert s.n == 10_000
    assert s.p999 == pytest.approx(np.percentile(big, 99.9, method="linear"))
    assert s.p99 is not None and s.p999 is not None and s.p99 <= s.p999 <= s.max


def test_custom_percentiles_and_keys() -> None:
    s = percentiles(np.arange(101.0), ps=(25, 75))
    assert s.get(25) == 25.0 and s.get(75) == 75.0
    assert s.p50 is None  # not requested
    assert list(s.to_dict()) == ["n", "mean", "std", "min", "max", "p25", "p75", "p999"]
    with pytest.raises(KeyError):
        s.get(90)
    assert percentile_key(99.9) == "p999" and percentile_key(50) == "p50"
    with pytest.raises(ValueError, match="ps"):
        percentiles([1.0], ps=(101,))
    with pytest.raises(ValueError, match="share a field name"):
        percentiles([1.0], ps=(2.5, 25))


def test_to_dict_is_plain_json() -> None:
    d = percentiles(np.float32([1, 2, 3])).to_dict()
    assert json.loads(json.dumps(d, allow_nan=False)) == d
    assert all(type(v) in (int, float) for v in d.values() if v is not None)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.floats(min_value=-1e12, max_value=1e12, allow_nan=False, allow_infinity=False),
        min_size=1,
        max_size=200,
    )
)
def test_percentiles_are_monotone_and_bounded(xs: list[float]) -> None:
    s = percentiles(xs)
    assert s.n == len(xs)
    values = [s.p50, s.p90, s.p95, s.p99]
    assert all(v is not None for v in values)
    assert s.min is not None and s.max is not None
    lo, hi = s.min, s.max
    assert lo == min(xs) and hi == max(xs)
    chain = [lo, *values, hi]
    assert all(a <= b for a, b in itertools.pairwise(chain)), chain  # type: ignore[operator]


def test_bootstrap_ci_contains_mean_and_is_reproducible() -> None:
    x = np.random.default_rng(42).normal(loc=5.0, scale=2.0, size=400)
    low, high = bootstrap_ci(x, seed=7)
    assert low < x.mean() < high
    # the standard error is 0.1: a 95% interval is about +-0.2 wide
    assert 0.2 < high - low < 1.2
    assert bootstrap_ci(x, seed=7) == (low, high)
    assert bootstrap_ci(x, seed=8) != (low, high)
    wide = bootstrap_ci(x, confidence=0.99, seed=7)
    assert wide[0] < low and wide[1] > high


def test_bootstrap_ci_other_statistics_and_edges() -> None:
    x = np.random.default_rng(1).exponential(size=300)
    low, high = bootstrap_ci(x, statistic=np.median, n_resamples=500, seed=0)
    assert low <= np.median(x) <= high
    # a statistic without an axis argument is applied per resample, with the same draws
    per_row = bootstrap_ci(x, statistic=lambda r: float(np.mean(r)), n_resamples=500, seed=0)
    assert per_row == pytest.approx(bootstrap_ci(x, n_resamples=500, seed=0))
    assert all(math.isnan(v) for v in bootstrap_ci([]))
    assert bootstrap_ci([3.0, np.nan]) == (3.0, 3.0)
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_ci(x, confidence=1.0)
    with pytest.raises(ValueError, match="n_resamples"):
        bootstrap_ci(x, n_resamples=0)


def test_rate_is_safe_for_degenerate_windows() -> None:
    assert rate(10, 4.0) == 2.5
    assert rate(0, 4.0) == 0.0
    assert rate(10, 0.0) is None
    assert rate(10, -1.0) is None
    assert rate(10, None) is None
    assert rate(10, float("nan")) is None
    assert rate(10, float("inf")) is None
    assert isinstance(rate(np.int64(3), np.float64(2.0)), float)


def test_percentiles_is_frozen() -> None:
    s = percentiles([1.0])
    assert isinstance(s, Percentiles)
    with pytest.raises(AttributeError):
        s.n = 3  # type: ignore[misc]
