"""Simulated model timing: TTFT and inter-token gaps. Pure given a numpy Generator.

* TTFT = (prompt_tokens - cached_tokens) / prefill_tok_s + LogNormal(median = model.ttft_s,
  sigma = ttft_sigma): prompt tokens read from the prompt cache skip prefill.
* Gap between content events = (1 / output_tok_s) * LogNormal(median 1, sigma = itl_jitter), and a
  share ``slow_tail_prob`` of gaps is ``slow_tail_factor`` times longer (the occasional slow tail,
  which puts the p99 gap at about 3-5x the p50).
All values are simulated seconds; the server multiplies them by its time scale.
"""

from __future__ import annotations

import math

import numpy as np

from auraon_bench.catalog import Defaults, ModelProfile


def draw_ttft(
    model: ModelProfile,
    defaults: Defaults,
    prompt_tokens: int,
    rng: np.random.Generator,
    cached_tokens: int = 0,
) -> float:
    uncached = prompt_tokens - min(max(cached_tokens, 0), prompt_tokens)
    prefill = uncached / defaults.prefill_tok_s
    if model.ttft_s <= 0:
        return prefill
    return prefill + float(rng.lognormal(math.log(model.ttft_s), defaults.ttft_sigma))


def draw_gaps(
    model: ModelProfile, defaults: Defaults, n_gaps: int, rng: np.random.Generator
) -> np.ndarray:
    if n_gaps <= 0:
        return np.zeros(0)
    base = 1.0 / model.output_tok_s
    gaps = base * rng.lognormal(0.0, defaults.itl_jitter, size=n_gaps)
    if defaults.slow_tail_prob > 0:
        slow = rng.random(n_gaps) < defaults.slow_tail_prob
        gaps[slow] *= defaults.slow_tail_factor
    return gaps


def draw_output_length(defaults: Defaults, rng: np.random.Generator) -> int:
    """Length of a free-text answer: LogNormal(median typical_output_tokens, sigma 0.6), >= 1."""
    return max(1, round(float(rng.lognormal(math.log(defaults.typical_output_tokens), 0.6))))
