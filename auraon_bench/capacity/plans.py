"""Plans and money at capacity: which limit binds first, and what a month costs. Pure.

Method
    * **Plan bound.** Under a plan of R requests/min and T tokens/min, a workload of k tokens
      per request (prompt + completion, the mean of the ok requests at the highest passing
      step) is bounded at ``min(R / 60, T / 60 / k)`` requests per second; the smaller term
      names the limit that binds first. Unlimited dimensions bound nothing.
    * **Capacity under a plan** = min(measured capacity, plan bound): the measured one is the
      latency/error capacity of the search (the emulator or gateway as the search found it);
      the binding limit is the latency SLO when the measured capacity is the smaller (the
      search ceiling when every step passed: then the figure is a lower bound), else the
      plan's dimension. The search's own plan (the key it ran with) is the measured truth;
      the others are what the same workload would meet under them.
    * **Money.** Monthly cost = rate x 2,592,000 s (30 days) x cost per request (the mean
      reported cost of the ok requests at the highest passing step), at capacity and at a given
      traffic. A plan *meets* a traffic when its capacity keeps ``headroom`` (30%) above it;
      the cheapest plan meeting it is the first in the plans' order (cheapest first). Plan
      fees are not published and not included.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from auraon_bench.analysis._json import JsonFields
from auraon_bench.analysis.plan_fit import PlanLimit

SECONDS_PER_MONTH = 30 * 24 * 3600
DEFAULT_HEADROOM = 0.30
LATENCY = "latency/error SLOs"
CEILING = "search ceiling"  # every step passed: the measured capacity is a lower bound


@dataclass(frozen=True)
class PlanCapacity(JsonFields):
    plan: str
    requests_per_min: float | None
    tokens_per_min: float | None
    plan_bound_rps: float | None  # None: the plan limits nothing this workload uses
    capacity_rps: float | None  # min(measured capacity, plan bound)
    binds: str  # "requests/min", "tokens/min" or LATENCY
    monthly_cost_at_capacity_usd: float | None
    meets_traffic: bool | None  # None: no traffic given


@dataclass(frozen=True)
class PlanTable(JsonFields):
    arm: str
    measured_rps: float | None
    tokens_per_request: float | None
    cost_per_request_usd: float | None
    traffic_rps: float | None
    monthly_cost_at_traffic_usd: float | None
    headroom: float
    cheapest_meeting: str | None  # the first plan that meets the traffic with headroom
    plans: tuple[PlanCapacity, ...]


def plan_bound(plan: PlanLimit, tokens_per_request: float | None) -> tuple[float | None, str]:
    """(requests/s the plan allows this workload, the dimension that binds); (None, "") when
    it limits nothing."""
    bounds = []
    if plan.rpm is not None:
        bounds.append((plan.rpm / 60.0, "requests/min"))
    if plan.tpm is not None and tokens_per_request:
        bounds.append((plan.tpm / 60.0 / tokens_per_request, "tokens/min"))
    if not bounds:
        return None, ""
    return min(bounds)


def plan_table(
    arm: str,
    measured_rps: float | None,
    tokens_per_request: float | None,
    cost_per_request_usd: float | None,
    plans: Sequence[PlanLimit],
    traffic_rps: float | None = None,
    headroom: float = DEFAULT_HEADROOM,
    *,
    at_ceiling: bool = False,
) -> PlanTable:
    """Every plan's capacity for this workload, and the money (module docstring).
    ``at_ceiling``: every step passed, so the measured capacity is only a lower bound."""
    measured = CEILING if at_ceiling else LATENCY
    rows = []
    for plan in plans:
        bound, dimension = plan_bound(plan, tokens_per_request)
        candidates = [(v, k) for v, k in ((measured_rps, measured), (bound, dimension)) if v]
        capacity, binds = min(candidates) if candidates else (None, measured)
        rows.append(
            PlanCapacity(
                plan=plan.name,
                requests_per_min=plan.rpm,
                tokens_per_min=plan.tpm,
                plan_bound_rps=bound,
                capacity_rps=capacity,
                binds=binds,
                monthly_cost_at_capacity_usd=_monthly(capacity, cost_per_request_usd),
                meets_traffic=(
                    None
                    if traffic_rps is None
                    else capacity is not None and capacity >= traffic_rps * (1 + headroom)
                ),
            )
        )
    meeting = [r.plan for r in rows if r.meets_traffic]
    return PlanTable(
        arm=arm,
        measured_rps=measured_rps,
        tokens_per_request=tokens_per_request,
        cost_per_request_usd=cost_per_request_usd,
        traffic_rps=traffic_rps,
        monthly_cost_at_traffic_usd=_monthly(traffic_rps, cost_per_request_usd),
        headroom=headroom,
        cheapest_meeting=meeting[0] if meeting else None,
        plans=tuple(rows),
    )


def parse_traffic(text: str) -> float:
    """``120/min``, ``2/s``, ``5000/h`` or a bare number (per second) as requests per second."""
    value, _, unit = text.strip().partition("/")
    per = {"": 1.0, "s": 1.0, "sec": 1.0, "min": 60.0, "m": 60.0, "h": 3600.0, "hour": 3600.0}
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{text!r} is not a traffic; write e.g. 120/min, 2/s or 5000/h") from None
    if unit.strip() not in per or not number > 0:
        raise ValueError(f"{text!r} is not a traffic; write e.g. 120/min, 2/s or 5000/h")
    return number / per[unit.strip()]


def _monthly(rate: float | None, cost_per_request: float | None) -> float | None:
    if rate is None or cost_per_request is None:
        return None
    return rate * SECONDS_PER_MONTH * cost_per_request
