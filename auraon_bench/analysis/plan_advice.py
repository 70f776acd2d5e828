"""Plan advice: from a workload (measured or described) to needed capacity, headroom under each
plan, the cheapest plan that fits, what breaks first as the workload grows, and monthly cost.

Method
    * Needed requests/min = the workload's peak requests/min; needed tokens/min = peak
      requests/min x (prompt + completion tokens per request).
    * From a measured run (``experiment.workload.workload_from_run``) every figure is read
      from its parts' results, each computed once per part: the peak is the busiest part's
      :attr:`~auraon_bench.results.run.Part.plan_fit` (the busiest 60 s window of every attempt
      sent, :mod:`auraon_bench.analysis.plan_fit`, the report's plan-fit figure); from each
      part's :attr:`~auraon_bench.results.run.Part.load_summary`, the average is its attempts
      over its measurement window (first send to last completion), the token sizes are the ok
      attempts' token sums over their number, and an arm's cost per request is its summary's
      (mean reported cost of its ok attempts), weighted by ok attempts across parts. Load parts
      are used when the run has any; otherwise every part.
    * Headroom under a plan = 1 - needed / limit per dimension; a plan fits when both keep at
      least the stated headroom (default 30%); the recommendation is the first plan that fits,
      plans being listed cheapest first (Starter, Pro, Enterprise).
    * Growth g per month compounds: needed after m months = needed x (1 + g)^m. The dimension
      that breaks first under a plan is the one whose limit is reached soonest; the month it
      breaks is ``log(limit / needed) / log(1 + g)`` (never, with no growth or no limit).
    * Extrapolation needs a measurement: a run that sent fewer than 200 attempts or measured
      less than 60 s (first to last send) is refused unless forced, since its "peak minute" is a
      scaled-up fraction of a minute. Every measured workload states what it rests on: the
      attempts, the seconds measured, the window and the peak's 95% interval
      (:func:`auraon_bench.analysis.plan_fit.peak_interval`).
    * Monthly cost per arm = average requests/min x 43,200 (minutes in 30 days) x the arm's
      cost per request (measured: the gateway's reported cost). Plan fees are not published
      and not included.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from auraon_bench.analysis.plan_fit import Measurement, PlanFit, PlanLimit, documented_plans
from auraon_bench.errors import ConfigError

MINUTES_PER_MONTH = 60 * 24 * 30
DEFAULT_HEADROOM = 0.30
@dataclass(frozen=True)
class Workload:
    peak_rpm: float
    average_rpm: float
    prompt_tokens: float  # per request
    completion_tokens: float  # per request
    monthly_growth: float = 0.0
    cost_per_request: Mapping[str, float] = field(default_factory=dict)  # USD per arm
    source: str = ""
    measured: Measurement | None = None  # None: a described workload

    @property
    def peak_tpm(self) -> float:
        return self.peak_rpm * (self.prompt_tokens + self.completion_tokens)


@dataclass(frozen=True)
class PlanVerdict:
    plan: PlanLimit
    rpm_headroom: float
    tpm_headroom: float
    fits: bool
    breaks_first: str | None  # "requests", "tokens", or None (unlimited)
    breaks_in_months: float | None  # None: never (no growth, or unlimited); 0: already over


@dataclass(frozen=True)
class Advice:
    workload: Workload
    headroom: float
    plans: tuple[PlanVerdict, ...]
    recommended: str | None
    monthly_cost: dict[str, float]
    caveats: tuple[str, ...] = ()

    def plan_fit(self) -> PlanFit:
        """The needed figures as a :class:`PlanFit`, for the report's plan-fit chart."""
        w = self.workload
        return PlanFit(w.peak_rpm, w.peak_tpm, 60.0, 0, tuple(v.plan for v in self.plans))

    def to_dict(self) -> dict[str, Any]:
        w = self.workload
        return {
            "workload": {
                "source": w.source,
                "peak_requests_per_min": w.peak_rpm,
                "average_requests_per_min": w.average_rpm,
                "prompt_tokens": w.prompt_tokens,
                "completion_tokens": w.completion_tokens,
                "monthly_growth": w.monthly_growth,
                "peak_tokens_per_min": w.peak_tpm,
                "measured": None if w.measured is None else asdict(w.measured),
            },
            "caveats": list(self.caveats),
            "headroom": self.headroom,
            "plans": [
                {
                    "plan": v.plan.name,
                    "requests_per_min": v.plan.rpm,
                    "tokens_per_min": v.plan.tpm,
                    "rpm_headroom": v.rpm_headroom,
                    "tpm_headroom": v.tpm_headroom,
                    "fits": v.fits,
                    "breaks_first": v.breaks_first,
                    "breaks_in_months": v.breaks_in_months,
                }
                for v in self.plans
            ],
            "recommended": self.recommended,
            "monthly_cost_usd": self.monthly_cost,
        }


def months_until(needed: float, limit: float | None, growth: float) -> float | None:
    if limit is None:
        return None
    if needed >= limit:
        return 0.0
    if growth <= 0 or needed <= 0:
        return None
    return math.log(limit / needed) / math.log(1 + growth)


def advise(
    workload: Workload,
    plans: Sequence[PlanLimit] | None = None,
    headroom: float = DEFAULT_HEADROOM,
    *,
    force: bool = False,
) -> Advice:
    """Advice for ``workload``; ``ConfigError`` for a measurement too short to extrapolate
    from unless ``force`` (then the advice carries the caveat)."""
    caveats = []
    short = workload.measured.too_short() if workload.measured is not None else None
    if short is not None:
        if not force:
            raise ConfigError(f"{short}: measure longer, or pass --force to extrapolate anyway")
        caveats.append(f"extrapolated anyway (--force): {short}")
    verdicts = []
    for plan in plans if plans is not None else documented_plans():
        rpm_room, tpm_room = plan.headroom(workload.peak_rpm, workload.peak_tpm)
        times = {
            "requests": months_until(workload.peak_rpm, plan.rpm, workload.monthly_growth),
            "tokens": months_until(workload.peak_tpm, plan.tpm, workload.monthly_growth),
        }
        limited = {k: v for k, v in times.items() if v is not None}
        if limited:
            first = min(limited, key=lambda k: limited[k])
            when: float | None = limited[first]
        else:
            # No growth: the dimension closest to its limit is still the one that breaks first.
            rooms = {"requests": (plan.rpm, rpm_room), "tokens": (plan.tpm, tpm_room)}
            bounded = {k: room for k, (limit, room) in rooms.items() if limit is not None}
            first = min(bounded, key=lambda k: bounded[k]) if bounded else None
            when = None
        verdicts.append(
            PlanVerdict(
                plan,
                rpm_room,
                tpm_room,
                plan.fits(workload.peak_rpm, workload.peak_tpm, headroom),
                first,
                when,
            )
        )
    recommended = next((v.plan.name for v in verdicts if v.fits), None)
    monthly = {
        arm: workload.average_rpm * MINUTES_PER_MONTH * cost
        for arm, cost in workload.cost_per_request.items()
    }
    return Advice(workload, headroom, tuple(verdicts), recommended, monthly, tuple(caveats))
