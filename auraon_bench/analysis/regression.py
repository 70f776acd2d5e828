"""Regression verdicts between a baseline run and a current one. Pure: samples in, checks out.

The figures a check shows (baseline, current) are the ones the runs' summaries and evaluations
hold, passed in by the caller (``held``); the samples serve the tests. Only a figure no result
file holds (completions per time bin, paired means over the prompts both runs answered) is
computed here.

A metric **regresses** only when the change is both beyond its threshold and statistically
significant; it **improves** under the mirror condition. Otherwise the verdict says why not:
"no change" (within the threshold), "not significant" (beyond it, but the test cannot tell it
from noise), or "too few samples" (fewer than ``min_samples`` on either side: never a verdict).

Tests, one-sided in the direction of the change being judged
    * Latency-like samples (TTFT, TPOT, latency, gateway overhead): Mann-Whitney U on the raw
      samples; the change is the ratio of the chosen percentile, current / baseline, against
      ``latency_ratio`` (a regression is ratio > threshold, an improvement ratio < 1/threshold),
      and the percentile must also move by at least ``latency_min_delta_s``.
    * Throughput: Mann-Whitney U on completions per time bin; ratio against ``throughput_ratio``
      (lower is worse).
    * Error and 429 rates: two-proportion z-test (pooled); the change is the difference of
      shares against ``error_rate_increase``.
    * Cost per request and per correct answer: percentile bootstrap of the ratio of means; the
      one-sided p is the share of resamples on the other side of 1; against ``cost_ratio``.
    * Accuracy, paired on the same prompts: exact McNemar (binomial test on the discordant pairs);
      the change is the difference of accuracies against ``accuracy_drop``.
    * Routing mix of an auto arm: chi-square test of the routed-model counts; the change is the
      total variation distance between the two mixes against ``routing_shift``.

Family-wise error: the p-values of the checks beyond their thresholds (the only ones that can
become regressions) are adjusted together with Holm's step-down method, so running many checks
does not make a false alarm likely; the false-alarm rate over pairs of unchanged runs is
measured by ``benchmarks/regress_false_alarms.py`` and reported in the README.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
from scipy import stats

from auraon_bench.analysis.quality import clustered_mcnemar_p
from auraon_bench.analysis.stats import Percentiles, finite

VERDICTS = ("regression", "improvement", "no change", "not significant", "too few samples")


@dataclass(frozen=True)
class Check:
    part: str
    arm: str
    metric: str  # e.g. "latency p95"
    unit: str  # of baseline and current: s, req/s, share, USD
    baseline: float | None
    current: float | None
    change: float | None  # ratio (current / baseline) or difference, see ``change_kind``
    change_kind: str  # "ratio" or "difference"
    threshold: float
    worse_when: str  # "higher" or "lower": which direction is a regression
    p: float | None  # one-sided, in the direction of the observed change
    n_baseline: int
    n_current: int
    verdict: str = "no change"
    p_adjusted: float | None = None
    min_delta: float = 0.0  # a ratio change must also move the value by this much (its unit)

    @property
    def beyond_threshold(self) -> bool:
        if self.change is None:
            return False
        if self.change_kind == "ratio":
            moved = (
                self.baseline is None
                or self.current is None
                or abs(self.current - self.baseline) >= self.min_delta
            )
            return moved and (self.change > self.threshold or self.change < 1 / self.threshold)
        return abs(self.change) > self.threshold

    @property
    def worse(self) -> bool:
        """The change points in the bad direction (whatever its size)."""
        if self.change is None:
            return False
        neutral = 1.0 if self.change_kind == "ratio" else 0.0
        return self.change > neutral if self.worse_when == "higher" else self.change < neutral

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _ratio(current: float | None, baseline: float | None) -> float | None:
    if current is None or baseline is None or baseline == 0:
        return None
    return current / baseline


def _n_ok(n_base: int, n_cur: int, min_samples: int) -> bool:
    return n_base >= min_samples and n_cur >= min_samples


def samples_check(
    part: str, arm: str, metric: str, unit: str, base: Any, cur: Any, *,
    percentile: float, threshold: float, worse_when: str = "higher", min_samples: int = 20,
    min_delta: float = 0.0, held: tuple[Percentiles, Percentiles] | None = None,
) -> Check:  # fmt: skip
    """Mann-Whitney U on samples; the change is the ratio of their ``percentile``, which must
    also differ by at least ``min_delta`` (a 10% change of a sub-millisecond figure is noise of
    the machine, not of the target).

    ``held``: the baseline's and the current run's percentiles of these very samples as their
    summaries hold them; the figures and ``n`` are read from them, and the samples serve the
    test only. Without it (a figure no summary holds, such as completions per time bin) the
    percentile is taken of the samples here.
    """
    a, b = finite(base), finite(cur)
    if held is not None:
        pa, pb = held[0].get(percentile), held[1].get(percentile)
        na, nb = held[0].n, held[1].n
    else:
        pa = float(np.percentile(a, percentile)) if a.size else None
        pb = float(np.percentile(b, percentile)) if b.size else None
        na, nb = int(a.size), int(b.size)
    change = _ratio(pb, pa)
    p = None
    if _n_ok(na, nb, min_samples) and a.size and b.size and change is not None:
        alternative = "greater" if change >= 1 else "less"
        p = float(stats.mannwhitneyu(b, a, alternative=alternative).pvalue)
    return Check(part, arm, metric, unit, pa, pb, change, "ratio", threshold, worse_when, p,
                 na, nb, min_delta=min_delta)  # fmt: skip


def proportion_check(
    part: str, arm: str, metric: str, base_hits: int, base_n: int, cur_hits: int, cur_n: int,
    *, threshold: float, min_samples: int = 20,
) -> Check:  # fmt: skip
    """Two-proportion z-test (pooled), one-sided in the direction of the observed change."""
    pa = base_hits / base_n if base_n else None
    pb = cur_hits / cur_n if cur_n else None
    change = None if pa is None or pb is None else pb - pa
    p = None
    if _n_ok(base_n, cur_n, min_samples) and change is not None:
        pooled = (base_hits + cur_hits) / (base_n + cur_n)
        se = math.sqrt(pooled * (1 - pooled) * (1 / base_n + 1 / cur_n))
        p = 1.0 if se == 0 else float(stats.norm.sf(abs(change) / se))
    return Check(part, arm, metric, "share", pa, pb, change, "difference", threshold, "higher", p,
                 base_n, cur_n)  # fmt: skip


def mean_ratio_check(
    part: str, arm: str, metric: str, unit: str, base: Any, cur: Any, *,
    threshold: float, min_samples: int = 20, n_resamples: int = 2000, seed: int = 0,
    paired: bool = False, held: tuple[float | None, float | None] | None = None,
) -> Check:  # fmt: skip
    """Ratio of means with a bootstrap one-sided p: the share of resampled ratios on the other
    side of 1 from the observed one. ``paired``: ``base[i]`` and ``cur[i]`` belong to the same
    prompt and are resampled together, which removes the prompts' own spread. ``held``: the
    two means as the runs' summaries hold them (the means of these very samples); without it
    they are taken here."""
    if paired:
        both = np.isfinite(np.asarray(base, float)) & np.isfinite(np.asarray(cur, float))
        base, cur = np.asarray(base, float)[both], np.asarray(cur, float)[both]
    a, b = finite(base), finite(cur)
    if held is not None:
        ma, mb = held
    else:
        ma = float(a.mean()) if a.size else None
        mb = float(b.mean()) if b.size else None
    change = _ratio(mb, ma)
    p = None
    if _n_ok(a.size, b.size, min_samples) and change is not None:
        if np.allclose(a, a[0]) and np.allclose(b, b[0]):
            # Fixed prices: no sampling noise at all, the observed ratio is the truth.
            p = 0.0 if not math.isclose(change, 1.0, rel_tol=1e-9) else 1.0
        else:
            rng = np.random.default_rng(seed)
            ia = rng.integers(0, a.size, (n_resamples, a.size))
            ib = ia if paired else rng.integers(0, b.size, (n_resamples, b.size))
            ra, rb = a[ia].mean(axis=1), b[ib].mean(axis=1)
            with np.errstate(divide="ignore", invalid="ignore"):
                ratios = rb / ra
            other_side = ratios <= 1 if change > 1 else ratios >= 1
            p = float((other_side.sum() + 1) / (n_resamples + 1))
    return Check(part, arm, metric, unit, ma, mb, change, "ratio", threshold, "higher", p,
                 int(a.size), int(b.size))  # fmt: skip


def paired_accuracy_check(
    part: str, arm: str, base: Mapping[str, bool], cur: Mapping[str, bool], *,
    threshold: float, min_samples: int = 20,
) -> Check:  # fmt: skip
    """Exact McNemar, one-sided in the direction of the change, at the prompt level.

    Keys are ``(prompt_id, repeat)`` pairs (or bare prompt ids): the repeats of one prompt are
    one cluster, so the test is the clustered sign-flip McNemar of
    :func:`~auraon_bench.analysis.quality.clustered_mcnemar_p` (per prompt, answers lost minus
    answers gained, signs flipped together). With one answer per prompt it is the exact
    binomial McNemar test. change = accuracy difference over the paired answers.
    """
    keys = sorted(set(base) & set(cur), key=str)
    n = len(keys)
    acc_a = sum(bool(base[k]) for k in keys) / n if n else None
    acc_b = sum(bool(cur[k]) for k in keys) / n if n else None
    change = None if acc_a is None or acc_b is None else acc_b - acc_a
    p = None
    if n >= min_samples and change is not None:
        sign = 1 if change <= 0 else -1  # count discordance in the direction that worsened
        per_prompt: dict[Any, int] = {}
        for k in keys:
            cluster = k[0] if isinstance(k, tuple) else k
            lost, gained = bool(base[k]) and not cur[k], bool(cur[k]) and not base[k]
            per_prompt[cluster] = per_prompt.get(cluster, 0) + sign * (int(lost) - int(gained))
        d = list(per_prompt.values())
        # The null is symmetric: P(S >= s) = P(|S| >= s) / 2 for s > 0.
        p = 1.0 if sum(d) <= 0 else min(1.0, clustered_mcnemar_p(d) / 2)
    return Check(part, arm, "accuracy", "share", acc_a, acc_b, change, "difference", threshold,
                 "lower", p, n, n)  # fmt: skip


def mix_check(
    part: str, arm: str, base: Mapping[str, int], cur: Mapping[str, int], *,
    threshold: float, min_samples: int = 20,
) -> Check:  # fmt: skip
    """Chi-square test of the routed-model counts; change = total variation distance."""
    models = sorted(set(base) | set(cur))
    na, nb = sum(base.values()), sum(cur.values())
    change = None
    p = None
    if na and nb:
        change = 0.5 * sum(abs(base.get(m, 0) / na - cur.get(m, 0) / nb) for m in models)
    if _n_ok(na, nb, min_samples) and change is not None:
        table = np.array([[base.get(m, 0) for m in models], [cur.get(m, 0) for m in models]])
        table = table[:, table.sum(axis=0) > 0]
        p = 1.0 if table.shape[1] < 2 else float(stats.chi2_contingency(table).pvalue)
    return Check(part, arm, "routing mix", "TVD", 0.0 if na else None, change, change,
                 "difference", threshold, "higher", p, na, nb)  # fmt: skip


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm's step-down adjustment; None stays None and does not count in the family."""
    indexed = sorted((p, i) for i, p in enumerate(p_values) if p is not None)
    m = len(indexed)
    adjusted: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(indexed):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[i] = running
    return adjusted


def decide(checks: Sequence[Check], alpha: float) -> list[Check]:
    """Give every check its verdict. Only a check beyond its threshold can be a regression or
    an improvement, so only those candidates form the family whose p-values Holm adjusts; the
    others keep their own p. (Which checks are candidates depends on the data; the resulting
    false-alarm rate is measured, see ``benchmarks/regress_false_alarms.py``.)"""
    candidates = [i for i, c in enumerate(checks) if c.p is not None and c.beyond_threshold]
    adjusted = dict(zip(candidates, holm([checks[i].p for i in candidates]), strict=True))
    out = []
    for index, check in enumerate(checks):
        p_adj = adjusted.get(index, check.p)
        if check.p is None or p_adj is None:
            verdict = "too few samples"
        elif not check.beyond_threshold:
            verdict = "no change"
        elif p_adj >= alpha:
            verdict = "not significant"
        else:
            verdict = "regression" if check.worse else "improvement"
        out.append(replace(check, verdict=verdict, p_adjusted=p_adj))
    return out


def cost_per_correct_check(
    part: str, arm: str, base_cost: Any, base_correct: Any, cur_cost: Any, cur_correct: Any,
    *, threshold: float, min_samples: int = 20, n_resamples: int = 2000, seed: int = 0,
    held: tuple[float | None, float | None] | None = None,
) -> Check:  # fmt: skip
    """Cost per correct answer (total cost / correct answers), rows resampled in pairs.
    ``held``: the two figures as the runs' evaluations hold them (of these very rows); without
    it they are taken here."""
    a_cost, a_ok = np.asarray(base_cost, float), np.asarray(base_correct, float)
    b_cost, b_ok = np.asarray(cur_cost, float), np.asarray(cur_correct, float)

    def per_correct(cost: np.ndarray, ok: np.ndarray) -> float | None:
        hits = np.nansum(ok)
        return float(np.nansum(cost) / hits) if hits else None

    if held is not None:
        va, vb = held
    else:
        va, vb = per_correct(a_cost, a_ok), per_correct(b_cost, b_ok)
    change = _ratio(vb, va)
    p = None
    if _n_ok(a_cost.size, b_cost.size, min_samples) and change is not None:
        rng = np.random.default_rng(seed)
        ia = rng.integers(0, a_cost.size, (n_resamples, a_cost.size))
        ib = rng.integers(0, b_cost.size, (n_resamples, b_cost.size))
        with np.errstate(divide="ignore", invalid="ignore"):
            ra = np.nansum(a_cost[ia], axis=1) / np.nansum(a_ok[ia], axis=1)
            rb = np.nansum(b_cost[ib], axis=1) / np.nansum(b_ok[ib], axis=1)
            ratios = rb / ra
        other_side = ratios <= 1 if change > 1 else ratios >= 1
        p = float((np.nansum(other_side) + 1) / (n_resamples + 1))
    return Check(part, arm, "cost per correct", "USD", va, vb, change, "ratio", threshold,
                 "higher", p, int(a_cost.size), int(b_cost.size))  # fmt: skip
