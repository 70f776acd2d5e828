"""Plans and money at capacity: which limit binds first, and what a month costs. Pure.

Method
    * **Plan bound.** Under a plan of R requests/min and T tokens/min, a workload of k tokens
      per request (prompt + completion, the mean of the ok requests at the highest passing
      step) is bounded at ``min(R / 60, T / 60 / k)`` requests per second; the smaller term
      names the limit that binds first. Unlimited dimensions bound nothing.
    * **Capacity under a plan** = min(measured capacity, plan bound): the measured one is the
      latency/error capacity of the search (the emulator or gateway as the search found it);
      the binding limit is the latency SLO when the measured capacity is the smaller (the
      search ceiling when every step passed, or the key's limit when the search stopped on
      it: then the figure is a lower bound), else the plan's dimension. The search's own
      plan (the key it ran with) is the measured truth;
      the others are what the same workload would meet under them.
    * **Money.** Monthly cost = rate x 2,592,000 s (30 days) x cost per request (the mean
      reported cost of the ok requests at the highest passing step), at capacity and at a given
      traffic. A plan *meets* a traffic when its capacity keeps ``headroom`` (30%) above it;
      the cheapest plan meeting it is the first in the plans' order (cheapest first). Plan
      fees are not published and not included.
    * **The key's own limits.** A gateway that answers with ``x-ratelimit-limit-requests|tokens``
      tells the key's plan: the most common value seen over a step's responses (n stated) is
      the key's limit, and its bound, computed as above, is the highest rate the key sustains.
      A step offered above it is judged failing on that limit even when no 429 came back: a
      token bucket lets a short step through on its burst, and a capacity is a rate one can
      keep. The key's row leads the plan table; it is never "the cheapest plan to buy".
    * **Simulated time.** On the emulator run with ``--time-scale s``, a real second of the run
      is ``1/s`` simulated seconds, so a rate of the run is ``rate x s`` in the gateway's time;
      plan bounds (per simulated minute) and money are stated in the gateway's time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from auraon_bench.analysis._json import JsonFields
from auraon_bench.analysis.plan_fit import PlanLimit

SECONDS_PER_MONTH = 30 * 24 * 3600
DEFAULT_HEADROOM = 0.30
LATENCY = "latency/error SLOs"
CEILING = "search ceiling"  # every step passed: the measured capacity is a lower bound
KEY_LIMIT = "this key's limit"  # the search stopped at its key's limit: a lower bound elsewhere


KEY_PLAN = "this key"  # the plan read from the key's own rate-limit headers


@dataclass(frozen=True)
class KeyLimits(JsonFields):
    """The key's limits as its responses state them (``x-ratelimit-limit-*``)."""

    requests_per_min: float | None
    tokens_per_min: float | None
    responses: int  # responses that carried a limit header (n)

    def plan(self) -> PlanLimit:
        return PlanLimit(KEY_PLAN, self.requests_per_min, self.tokens_per_min)


def key_limits(records: pd.DataFrame) -> KeyLimits | None:
    """The most common stated limit per dimension over the records; None when no response
    stated one (an unlimited key, or a gateway that sends no such header)."""
    found: dict[str, float | None] = {}
    seen = 0
    for column in ("ratelimit_limit_requests", "ratelimit_limit_tokens"):
        values = records[column].dropna() if column in records else pd.Series(dtype=float)
        seen = max(seen, len(values))
        found[column] = float(values.mode().iloc[0]) if len(values) else None
    if not seen:
        return None
    return KeyLimits(found["ratelimit_limit_requests"], found["ratelimit_limit_tokens"], seen)


def key_bound(
    limits: KeyLimits | None, tokens_per_request: float | None, time_scale: float = 1.0
) -> tuple[float | None, str]:
    """(the run's requests/s the key sustains, the dimension that binds); see the docstring."""
    if limits is None:
        return None, ""
    bound, dimension = plan_bound(limits.plan(), tokens_per_request)
    return (None, "") if bound is None else (bound / time_scale, dimension)


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
    key_bound: bool = False,
) -> PlanTable:
    """Every plan's capacity for this workload, and the money (module docstring).
    ``at_ceiling``: every step passed; ``key_bound``: the search stopped at the limit of the
    key it ran with. Either way the measured capacity is only a lower bound under other plans."""
    measured = CEILING if at_ceiling else KEY_LIMIT if key_bound else LATENCY
    rows = []
    for plan in plans:
        bound, dimension = plan_bound(plan, tokens_per_request)
        candidates = [(v, k) for v, k in ((measured_rps, measured), (bound, dimension)) if v]
        # a tie goes to the plan: a search on this key stops at its own limit
        capacity, binds = (
            min(candidates, key=lambda c: (c[0], c[1] == measured))
            if candidates
            else (None, measured)
        )
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
    meeting = [r.plan for r in rows if r.meets_traffic and r.plan != KEY_PLAN]  # plans to buy
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


def replan(table: PlanTable, traffic_rps: float | None, headroom: float) -> PlanTable:
    """The same measured capacity and workload under another traffic or headroom (what
    ``auraon-bench plan`` on a capacity run shows): the plans and the kind of the measured
    figure are the table's own, nothing is re-measured."""
    kinds = {row.binds for row in table.plans}
    return plan_table(
        table.arm,
        table.measured_rps,
        table.tokens_per_request,
        table.cost_per_request_usd,
        [PlanLimit(r.plan, r.requests_per_min, r.tokens_per_min) for r in table.plans],
        traffic_rps,
        headroom,
        at_ceiling=CEILING in kinds,
        key_bound=KEY_LIMIT in kinds,
    )
