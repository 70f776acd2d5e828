"""Estimators of a fitted twin: each turns measured samples into the emulator's parameters, with
its sample size and a goodness-of-fit figure. Pure (numpy and scipy, no I/O).

Methods
    * **TTFT** (:func:`fit_lognormal`): maximum likelihood of a lognormal (median = exp of the
      mean log, sigma = sample standard deviation of the logs, ddof 1), after prefill is taken
      off. Goodness: the one-sample Kolmogorov-Smirnov distance D between the samples and the
      fitted lognormal. Above :data:`GOOD_FIT_KS` (or the 5% critical value 1.36 / sqrt(n), if
      larger) the lognormal is called poor and the twin draws from :data:`QUANTILE_POINTS`
      empirical quantiles instead (``method = "empirical"``).
    * **Prefill** (:func:`fit_prefill`): the Theil-Sen slope of TTFT against uncached prompt
      tokens (the median of pairwise slopes, robust to TTFT's skew), ``prefill_tok_s = 1 /
      slope``. Only when prompt sizes vary (p90 at least 4x p10 and 500 tokens apart) and the
      slope's 95% interval is above 0; otherwise it is not identifiable and the built-in rate
      is kept (and taken off, so the twin adds back exactly what was removed).
    * **Inter-token gaps** (:func:`fit_gaps`): a lognormal body and a slow tail. The body's
      median and sigma come from the median and interquartile range of the logs (IQR / 1.349,
      robust to the tail), in two passes: gaps above the body's 99.9th percentile (median x
      exp(3.09 sigma)) are the tail; ``tail_prob`` is their share less the body's own 0.1%, and
      ``tail_factor`` their median over the body's. Goodness: the KS distance to the fitted
      mixture (on at most :data:`KS_SAMPLE` gaps, a seeded subsample).
    * **Output length** (:func:`fit_lengths`): a lognormal matched to quantiles below any cap:
      median = p50, sigma = (ln p50 - ln p10) / 1.2816, valid while fewer than half the answers
      were cut by ``max_tokens``.
    * **Prices** (:func:`fit_prices`): non-negative least squares of reported cost on uncached
      prompt, completion and (when any) cached tokens, per 1M tokens. Goodness: the largest
      relative error of the fitted prices over the requests. Needs the columns not to be
      collinear (prompt and completion sizes that vary apart).
    * **Comparison** (:func:`ks_two_sample`): scipy's two-sample KS statistic and p-value,
      and :func:`ks_within`, the same distance with a resolution ``r``: the largest of
      ``F_a(x - r) - F_b(x)`` and ``F_b(x - r) - F_a(x)`` over x (0 when one side is the other
      shifted by at most ``r``; the plain KS statistic at ``r = 0``). Differences below a
      measurement's resolution are no evidence against a twin; a deterministic server, whose
      TTFT spreads over a fraction of a millisecond, would otherwise fail any twin by the
      sub-millisecond overhead of another HTTP server.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

MIN_FIT_N = 30  # samples below which a figure is not fitted (the built-in value is kept)
GOOD_FIT_KS = 0.05  # one-sample KS D above which a lognormal TTFT is called poor
QUANTILE_POINTS = 41  # empirical TTFT quantiles written when the lognormal is poor
KS_SAMPLE = 20_000  # gaps the mixture's KS distance is computed on, at most
TAIL_Z = 3.09  # the body's 99.9th percentile, in sigmas of the log
IQR_PER_SIGMA = 1.349  # interquartile range of a standard normal
P10_Z = 1.2816  # z of the 10th percentile
PREFILL_SPREAD = 4.0  # p90 / p10 of prompt tokens needed to see prefill
PREFILL_MIN_RANGE = 500  # tokens between p10 and p90 needed to see prefill
PREFILL_SAMPLE = 2_000  # requests the Theil-Sen slope is computed on, at most (seeded)


def _finite_positive(values: Sequence[float] | np.ndarray) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    return array[np.isfinite(array) & (array > 0)]


@dataclass(frozen=True)
class LognormalFit:
    """A fitted distribution of positive seconds (or tokens)."""

    median: float
    sigma: float
    n: int
    ks: float  # one-sample KS distance to the fitted lognormal
    method: str  # "lognormal", or "empirical" when the lognormal fits poorly
    quantiles: tuple[float, ...] = ()  # empirical only: at evenly spaced probabilities 0..1

    @property
    def good(self) -> bool:
        return self.method == "lognormal"


def ks_threshold(n: int) -> float:
    """The KS distance above which a fit is called poor at ``n`` samples."""
    return max(GOOD_FIT_KS, 1.36 / math.sqrt(max(n, 1)))


def fit_lognormal(samples: Sequence[float] | np.ndarray) -> LognormalFit | None:
    """Lognormal by maximum likelihood, or empirical quantiles when it fits poorly; None below
    :data:`MIN_FIT_N` positive samples."""
    x = _finite_positive(samples)
    if x.size < MIN_FIT_N:
        return None
    logs = np.log(x)
    mu, sigma = float(logs.mean()), float(logs.std(ddof=1))
    median = math.exp(mu)
    if sigma <= 0:
        return LognormalFit(median, 0.0, int(x.size), 0.0, "lognormal")
    ks = float(stats.kstest(x, "lognorm", args=(sigma, 0, median)).statistic)
    if ks <= ks_threshold(x.size):
        return LognormalFit(median, sigma, int(x.size), ks, "lognormal")
    points = np.quantile(x, np.linspace(0.0, 1.0, QUANTILE_POINTS))
    return LognormalFit(
        median, sigma, int(x.size), ks, "empirical", tuple(float(q) for q in points)
    )


@dataclass(frozen=True)
class PrefillFit:
    tok_s: float | None  # None: not identifiable from these prompts
    n: int
    detail: str


def fit_prefill(
    prompt_tokens: Sequence[float] | np.ndarray, ttft_s: Sequence[float] | np.ndarray
) -> PrefillFit:
    """Prompt processing speed from how TTFT grows with uncached prompt tokens."""
    tokens = np.asarray(prompt_tokens, dtype=float)
    ttft = np.asarray(ttft_s, dtype=float)
    keep = np.isfinite(tokens) & np.isfinite(ttft) & (tokens >= 0) & (ttft > 0)
    tokens, ttft = tokens[keep], ttft[keep]
    n = int(tokens.size)
    if n < 3 * MIN_FIT_N:
        return PrefillFit(None, n, f"too few requests ({n}) to see prefill")
    p10, p90 = np.quantile(tokens, [0.1, 0.9])
    if p90 < PREFILL_SPREAD * max(p10, 1.0) or p90 - p10 < PREFILL_MIN_RANGE:
        return PrefillFit(
            None, n, f"prompt sizes too alike to see prefill (p10 {p10:.0f}, p90 {p90:.0f} tokens)"
        )
    if n > PREFILL_SAMPLE:  # Theil-Sen holds every pair: n^2 / 2 slopes
        pick = np.random.default_rng(0).choice(n, PREFILL_SAMPLE, replace=False)
        tokens, ttft = tokens[pick], ttft[pick]
    slope, _, low, _ = stats.theilslopes(ttft, tokens, alpha=0.95)
    if not (low > 0 and slope > 0):
        return PrefillFit(None, n, "TTFT does not grow measurably with prompt length")
    return PrefillFit(
        1.0 / float(slope), n, f"Theil-Sen slope {slope * 1e6:.3g} ms per 1,000 prompt tokens"
    )


@dataclass(frozen=True)
class GapFit:
    median: float  # the body's median gap, seconds
    sigma: float  # the body's lognormal sigma
    tail_prob: float
    tail_factor: float
    n: int
    ks: float  # KS distance to the fitted mixture


def _body(logs: np.ndarray) -> tuple[float, float]:
    q25, q50, q75 = np.quantile(logs, [0.25, 0.5, 0.75])
    return float(q50), float((q75 - q25) / IQR_PER_SIGMA)


def mixture_cdf(
    x: np.ndarray, median: float, sigma: float, tail_prob: float, tail_factor: float
) -> np.ndarray:
    """CDF of ``median * LogNormal(0, sigma)``, a share ``tail_prob`` of it ``tail_factor``
    times longer (the emulator's gap model)."""
    if sigma <= 0:
        body = (x >= median).astype(float)
        tail = (x >= median * tail_factor).astype(float)
    else:
        body = stats.lognorm.cdf(x, sigma, 0, median)
        tail = stats.lognorm.cdf(x, sigma, 0, median * tail_factor)
    return (1 - tail_prob) * body + tail_prob * tail


def fit_gaps(gaps: Sequence[float] | np.ndarray, seed: int = 0) -> GapFit | None:
    """The gap model's four parameters; None below :data:`MIN_FIT_N` positive gaps."""
    x = _finite_positive(gaps)
    if x.size < MIN_FIT_N:
        return None
    logs = np.log(x)
    mu, sigma = _body(logs)
    cut = mu + TAIL_Z * sigma
    mu, sigma = _body(logs[logs <= cut])  # second pass, without the tail
    cut = mu + TAIL_Z * sigma
    tail = x[logs > cut]
    expected_body_share = float(stats.norm.sf(TAIL_Z))
    tail_prob = max(0.0, tail.size / x.size - expected_body_share)
    median = math.exp(mu)
    factor = float(np.median(tail)) / median if tail.size and tail_prob > 0 else 1.0
    sample = x
    if x.size > KS_SAMPLE:
        sample = np.random.default_rng(seed).choice(x, KS_SAMPLE, replace=False)
    sample = np.sort(sample)
    cdf = mixture_cdf(sample, median, sigma, tail_prob, factor)
    i = np.arange(1, sample.size + 1)
    ks = float(max(np.max(i / sample.size - cdf), np.max(cdf - (i - 1) / sample.size)))
    return GapFit(median, sigma, tail_prob, factor, int(x.size), ks)


@dataclass(frozen=True)
class LengthFit:
    median: float  # tokens
    sigma: float
    n: int
    capped_share: float  # share of answers cut by max_tokens


def fit_lengths(
    completion_tokens: Sequence[float] | np.ndarray, capped: Sequence[bool] | np.ndarray
) -> LengthFit | None:
    """Free-text answer length; None below :data:`MIN_FIT_N` answers or when half or more
    were cut by ``max_tokens`` (the median is then not seen)."""
    tokens = np.asarray(completion_tokens, dtype=float)
    cut = np.asarray(capped, dtype=bool)
    keep = np.isfinite(tokens) & (tokens > 0)
    tokens, cut = tokens[keep], cut[keep]
    if tokens.size < MIN_FIT_N:
        return None
    capped_share = float(cut.mean())
    if capped_share >= 0.5:
        return None
    p10, p50 = np.quantile(tokens, [0.1, 0.5])
    sigma = max(0.0, (math.log(p50) - math.log(max(p10, 1.0))) / P10_Z)
    return LengthFit(float(p50), sigma, int(tokens.size), capped_share)


@dataclass(frozen=True)
class PriceFit:
    input_per_mtok: float
    output_per_mtok: float
    cache_read_per_mtok: float | None  # None: no cached tokens seen
    n: int
    max_error: float  # largest |fitted - reported| / reported over the requests


def fit_prices(
    prompt_tokens: Sequence[float] | np.ndarray,
    cached_tokens: Sequence[float] | np.ndarray,
    completion_tokens: Sequence[float] | np.ndarray,
    cost_usd: Sequence[float] | np.ndarray,
) -> PriceFit | None:
    """USD per 1M tokens from reported costs; None with fewer than :data:`MIN_FIT_N` priced
    requests, or when prompt and completion sizes do not vary apart (collinear)."""
    prompt = np.asarray(prompt_tokens, dtype=float)
    cached = np.nan_to_num(np.asarray(cached_tokens, dtype=float), nan=0.0)
    completion = np.asarray(completion_tokens, dtype=float)
    cost = np.asarray(cost_usd, dtype=float)
    keep = np.isfinite(prompt) & np.isfinite(completion) & np.isfinite(cost) & (cost > 0)
    prompt, cached, completion, cost = prompt[keep], cached[keep], completion[keep], cost[keep]
    if cost.size < MIN_FIT_N:
        return None
    cached = np.clip(cached, 0, prompt)
    columns = [prompt - cached, completion]
    with_cache = bool((cached > 0).sum() >= MIN_FIT_N)
    if with_cache:
        columns.append(cached)
    matrix = np.column_stack(columns) / 1e6
    if np.linalg.matrix_rank(matrix / matrix.max(axis=0).clip(min=1e-300)) < len(columns):
        return None
    prices, _ = optimize.nnls(matrix, cost)
    fitted = matrix @ prices
    max_error = float(np.max(np.abs(fitted - cost) / cost))
    return PriceFit(
        float(prices[0]),
        float(prices[1]),
        float(prices[2]) if with_cache else None,
        int(cost.size),
        max_error,
    )


def ks_within(
    a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, resolution: float
) -> float:
    """The two-sample KS distance of finite samples ``a`` and ``b`` where shifts of at most
    ``resolution`` do not count; evaluated at every sample point (shifted by ``resolution``)."""
    a = np.sort(np.asarray(a, dtype=float)[np.isfinite(a)])
    b = np.sort(np.asarray(b, dtype=float)[np.isfinite(b)])
    if a.size == 0 or b.size == 0:
        return math.nan

    def one_way(x: np.ndarray, y: np.ndarray) -> float:
        points = np.concatenate([x + resolution, y])
        shifted = np.searchsorted(x, points - resolution, side="right") / x.size
        other = np.searchsorted(y, points, side="right") / y.size
        return float(np.max(shifted - other))

    return max(0.0, one_way(a, b), one_way(b, a))


@dataclass(frozen=True)
class TwoSample:
    ks: float
    p_value: float
    n_real: int
    n_twin: int


def ks_two_sample(
    real: Sequence[float] | np.ndarray, twin: Sequence[float] | np.ndarray
) -> TwoSample | None:
    """The two-sample KS statistic of finite samples; None when either side is empty."""
    a = np.asarray(real, dtype=float)
    b = np.asarray(twin, dtype=float)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if a.size == 0 or b.size == 0:
        return None
    result = stats.ks_2samp(a, b)
    return TwoSample(float(result.statistic), float(result.pvalue), int(a.size), int(b.size))
