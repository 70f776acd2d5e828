"""One capacity step judged: its SLO verdicts, goodput and figures, and the search's result.

Method
    * A step's figures come from one summary of its records (:func:`summarize_arm`), computed
      once with per-request SLOs so that it holds the step's goodput.
    * **Goodput** (vLLM's definition): requests per second of the step's window that are ok
      and meet every per-request SLO. An SLO on a latency percentile (``ttft_p95 <= 800 ms``)
      becomes the per-request limit ``ttft <= 800 ms``; shares (error and 429 rates) and cost
      have no per-request form and only judge the step.
    * **Verdict**: ``void`` when the load generator could not keep the step's schedule (its
      self-check); else ``fail`` when any SLO fails or cannot be judged (no samples: a step
      where nothing succeeded has no TTFT, and that is no pass), else ``pass``. The *binding*
      SLO of a failing step is the first that failed; of a passing step, the one closest to its
      limit (measured / threshold, highest), so a user sees what would give first.
    * **Quality under load** (graded datasets): ``accuracy`` = correct / graded over the step's
      ok, non-warm-up answers (items no grader could score, e.g. judge-graded ones without a
      judge, are left out; n = ``graded``); ``quality_goodput`` = answers that are ok, meet every
      per-request SLO *and* are correct, per second of the step's window; ``routed_to`` = ok
      answers per serving model, so a shift to cheaper or fallback models under load shows.
    * **The key's limit** (:mod:`auraon_bench.capacity.plans`): a step offered above the rate
      the key's stated limits sustain fails on that limit (``binding`` = ``requests/min`` or
      ``tokens/min``), whatever its 429 rate, unless it is void.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from auraon_bench.analysis._json import JsonFields
from auraon_bench.analysis.slo import Slo, SloResult, check_slos
from auraon_bench.capacity.plans import KeyLimits, PlanTable
from auraon_bench.capacity.search import FAIL, PASS, VOID

# Per-request limits an SLO on a percentile of these metrics implies (summary SLO names).
PER_REQUEST = {"ttft": "ttft_s", "tpot": "tpot_s", "latency": "latency_s"}


@dataclass(frozen=True)
class CapacityStep(JsonFields):
    arm: str
    rate: float  # offered: requests (or conversations) per second, Poisson unless stated
    requests: int  # measured attempts (n)
    verdict: str  # pass, fail, void
    binding: str | None  # the SLO key that failed first, or that came closest to its limit
    slos: tuple[SloResult, ...]
    achieved_rate: float | None  # scheduled sends per second the client achieved
    throughput: float | None  # ok requests per second of the window
    goodput: float | None  # ok requests meeting every per-request SLO, per second
    good_fraction: float | None
    error_rate: float | None
    rate_limited_rate: float | None
    cost_per_1k_usd: float | None
    cost_per_request_usd: float | None
    tokens_per_request: float | None  # prompt + completion tokens of an ok request, mean
    ttft_p50_s: float | None
    ttft_p95_s: float | None
    latency_p95_s: float | None
    run_dir: str  # the step's own run directory (records, manifest, summary)
    routed_to: dict[str, int] = field(default_factory=dict)  # ok answers per serving model
    accuracy: float | None = None  # graded datasets only
    graded: int = 0
    quality_goodput: float | None = None  # ok, within the per-request SLOs and correct, per s
    key_bound_rps: float | None = None  # the rate the key's stated limits sustain (run's time)


@dataclass(frozen=True)
class CapacityResult(JsonFields):
    arm: str
    capacity: float | None  # the highest passing rate (None: none passed)
    first_failing: float | None  # the lowest failing rate (None: none failed)
    binding: str | None  # the SLO (or the key's limit) that failed at first_failing
    stop_reason: str
    client_bound_at: float | None  # a void step's rate
    steps: tuple[CapacityStep, ...]
    plans: PlanTable | None = None  # the capacity under each plan, and the money
    key_limits: KeyLimits | None = None  # as the key's responses stated them


def with_quality(step: CapacityStep, records: Any, window_s: float | None,
                 limits: dict[str, float]) -> CapacityStep:  # fmt: skip
    """``step`` with its routing mix, and with its accuracy and quality goodput when the
    records carry grades (``correct``)."""
    from auraon_bench.analysis.conversations import serving_model
    from auraon_bench.analysis.records import measured, ok_mask, slo_mask

    m = measured(records)
    ok = ok_mask(m)
    models = [str(x) for x in serving_model(m)[ok] if x is not None]
    routed = {k: models.count(k) for k in sorted(set(models), key=models.index)}
    if "correct" not in m.columns or m["correct"].isna().all():
        return replace(step, routed_to=routed)
    correct = m["correct"].astype("boolean")
    graded = ok & correct.notna().to_numpy()
    right = graded & correct.fillna(False).to_numpy(dtype=bool)
    good = slo_mask(m, limits) & right
    return replace(
        step,
        routed_to=routed,
        accuracy=int(right.sum()) / int(graded.sum()) if graded.any() else None,
        graded=int(graded.sum()),
        quality_goodput=int(good.sum()) / window_s if window_s else None,
    )


def per_request_slos(slos: Sequence[Slo]) -> dict[str, float]:
    """The per-request limits of the latency SLOs (the tightest when several name a metric)."""
    limits: dict[str, float] = {}
    for slo in slos:
        name = PER_REQUEST.get(slo.metric)
        if name is not None and slo.percentile is not None:
            limits[name] = min(limits.get(name, slo.threshold), slo.threshold)
    return limits


def judge_step(
    arm: str,
    rate: float,
    summary: Any,  # ArmSummary of the step, computed with per_request_slos
    slos: Sequence[Slo],
    kept_schedule: bool,
    run_dir: str,
) -> CapacityStep:
    """The step's verdict and figures (module docstring)."""
    results = tuple(v.result() for v in check_slos(slos, "capacity", {arm: summary}))
    failing = [r for r in results if r.verdict != "pass"]
    verdict = VOID if not kept_schedule else FAIL if failing else PASS
    binding = failing[0].slo if failing else _closest(slos, results)
    goodput = summary.goodput
    return CapacityStep(
        arm=arm,
        rate=rate,
        requests=summary.requests,
        verdict=verdict,
        binding=binding,
        slos=results,
        achieved_rate=summary.achieved_rate,
        throughput=summary.request_throughput,
        goodput=goodput.request_goodput if goodput is not None else None,
        good_fraction=goodput.good_fraction if goodput is not None else None,
        error_rate=summary.errors.error_rate,
        rate_limited_rate=summary.errors.rate_limited_rate,
        cost_per_1k_usd=summary.cost.per_1k_requests_usd,
        cost_per_request_usd=summary.cost.per_request_usd,
        tokens_per_request=(
            (summary.tokens.prompt_tokens + summary.tokens.completion_tokens) / summary.ok
            if summary.ok
            else None
        ),
        ttft_p50_s=summary.ttft_s.p50,
        ttft_p95_s=summary.ttft_s.p95,
        latency_p95_s=summary.latency_s.p95,
        run_dir=run_dir,
    )


def against_key(step: CapacityStep, bound: float | None, dimension: str) -> CapacityStep:
    """The step judged against the rate the key sustains (module docstring)."""
    if bound is None:
        return step
    step = replace(step, key_bound_rps=bound)
    if step.verdict == VOID or step.rate <= bound:
        return step
    return replace(step, verdict=FAIL, binding=dimension)


def _closest(slos: Sequence[Slo], results: Sequence[SloResult]) -> str | None:
    """The SLO whose measured figure is nearest its limit (a passing step's weakest point)."""
    best, best_ratio = None, -1.0
    for slo, result in zip(slos, results, strict=False):
        if result.measured is None or slo.threshold <= 0:
            continue
        ratio = (
            result.measured / slo.threshold
            if slo.bound == "max"
            else slo.threshold / max(result.measured, 1e-12)
        )
        if ratio > best_ratio:
            best, best_ratio = slo.key, ratio
    return best
