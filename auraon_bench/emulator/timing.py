"""Simulated model timing: TTFT, inter-token gaps and answer lengths. Pure given a numpy Generator.

* TTFT = (prompt_tokens - cached_tokens) / prefill_tok_s + LogNormal(median = model.ttft_s,
  sigma = ttft_sigma): prompt tokens read from the prompt cache skip prefill. A model with
  ``timing.ttft_quantiles`` (a fitted twin's measured distribution) draws the second term from
  those quantiles instead: a uniform draw, linearly interpolated between them.
* Gap between content events = (1 / output_tok_s) * LogNormal(median 1, sigma = itl_jitter), and a
  share ``slow_tail_prob`` of gaps is ``slow_tail_factor`` times longer (the occasional slow tail,
  which puts the p99 gap at about 3-5x the p50).
* A free-text answer's length is LogNormal(median typical_output_tokens, sigma 0.6), at least 1.
* A stream's tail (last content event to its end) is LogNormal(median tail_s, sigma tail_sigma)
  for a model with a ``timing.tail_s``, else none.

Each figure is the model's own (``ModelProfile.timing``) when it has one, else ``[defaults]``'.
All values are simulated seconds; the server multiplies them by its time scale.
"""

from __future__ import annotations

import math

import numpy as np

from auraon_bench.catalog import Defaults, ModelProfile

OUTPUT_SIGMA = 0.6  # spread of free-text answer lengths when the model gives none


def _own(value: float | None, default: float) -> float:
    return default if value is None else value


def draw_ttft(
    model: ModelProfile,
    defaults: Defaults,
    prompt_tokens: int,
    rng: np.random.Generator,
    cached_tokens: int = 0,
) -> float:
    timing = model.timing
    uncached = prompt_tokens - min(max(cached_tokens, 0), prompt_tokens)
    prefill = uncached / _own(timing.prefill_tok_s, defaults.prefill_tok_s)
    if timing.ttft_quantiles:
        return prefill + draw_quantile(timing.ttft_quantiles, rng)
    if model.ttft_s <= 0:
        return prefill
    sigma = _own(timing.ttft_sigma, defaults.ttft_sigma)
    return prefill + float(rng.lognormal(math.log(model.ttft_s), sigma))


def draw_gaps(
    model: ModelProfile, defaults: Defaults, n_gaps: int, rng: np.random.Generator
) -> np.ndarray:
    if n_gaps <= 0:
        return np.zeros(0)
    timing = model.timing
    base = 1.0 / model.output_tok_s
    gaps = base * rng.lognormal(0.0, _own(timing.itl_jitter, defaults.itl_jitter), size=n_gaps)
    tail_prob = _own(timing.slow_tail_prob, defaults.slow_tail_prob)
    if tail_prob > 0:
        slow = rng.random(n_gaps) < tail_prob
        gaps[slow] *= _own(timing.slow_tail_factor, defaults.slow_tail_factor)
    return gaps


def draw_output_length(
    defaults: Defaults, rng: np.random.Generator, model: ModelProfile | None = None
) -> int:
    """Length of a free-text answer: LogNormal(median, sigma), >= 1; the model's own median and
    sigma when it has them, else ``typical_output_tokens`` and :data:`OUTPUT_SIGMA`."""
    timing = model.timing if model is not None else None
    median = _own(timing and timing.output_tokens, defaults.typical_output_tokens)
    sigma = _own(timing and timing.output_sigma, OUTPUT_SIGMA)
    return max(1, round(float(rng.lognormal(math.log(median), sigma))))


def draw_quantile(quantiles: tuple[float, ...], rng: np.random.Generator) -> float:
    """A draw from a distribution given by its quantiles at evenly spaced probabilities 0..1."""
    points = np.linspace(0.0, 1.0, len(quantiles))
    return float(np.interp(rng.random(), points, quantiles))


def draw_tail(model: ModelProfile, rng: np.random.Generator) -> float:
    """Seconds between a stream's last content event and its end; 0 (and no draw, so seeded
    runs of models without one are unchanged) unless the model has a ``timing.tail_s`` or
    ``timing.tail_quantiles``."""
    if model.timing.tail_quantiles:
        return draw_quantile(model.timing.tail_quantiles, rng)
    median = model.timing.tail_s
    if not median:
        return 0.0
    return float(rng.lognormal(math.log(median), model.timing.tail_sigma or 0.0))
