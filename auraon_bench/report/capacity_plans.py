"""The money side of a capacity report: the plan table, the key's own limits, the traffic
sentence, and the formats they share with :mod:`auraon_bench.report.capacity`. Every figure is
read from the typed :class:`~auraon_bench.capacity.plans.PlanTable`, never recomputed."""

from __future__ import annotations

import math
from typing import Any

from auraon_bench.capacity.plans import PlanTable
from auraon_bench.capacity.steps import CapacityResult, CapacityStep
from auraon_bench.report.tables import Column, Table


def fmt_rate(value: Any) -> str:
    """Requests per second to three significant digits, never an exponent: 47.6, 160, 0.5."""
    if value is None or not math.isfinite(value):
        return "-"
    if value == 0:
        return "0"
    decimals = max(0, 2 - math.floor(math.log10(abs(value))))
    text = f"{value:,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def fmt_money(value: Any) -> str:
    """Dollars to three significant digits, at least the cents: $0.0240, $1,036.80."""
    if value is None or not math.isfinite(value):
        return "-"
    if value == 0:
        return "$0"
    decimals = max(2, 2 - math.floor(math.log10(abs(value))))
    return f"${value:,.{decimals}f}"


def _yes_no(value: Any) -> str:
    return "-" if value is None else ("yes" if value else "no")


def plans_table(plans: PlanTable, basis: CapacityStep | None, time_scale: float = 1.0) -> Table:
    rows = [
        (p.plan, p.requests_per_min, p.tokens_per_min, p.plan_bound_rps, p.binds,
         p.capacity_rps, p.monthly_cost_at_capacity_usd, p.meets_traffic)
        for p in plans.plans
    ]  # fmt: skip
    limit = lambda v: "unlimited" if v is None else f"{v:,.0f}"  # noqa: E731
    columns = (
        Column("plan", numeric=False),
        Column("requests/min (limit)", limit),
        Column("tokens/min (limit)", limit),
        Column("plan bound (req/s)", lambda v: "unlimited" if v is None else fmt_rate(v)),
        Column("binds first", numeric=False),
        Column("capacity (req/s)", fmt_rate),
        Column("$/month at capacity (USD)", fmt_money),
        Column("meets traffic", _yes_no, numeric=False),
    )
    k = plans.tokens_per_request
    where = (
        f"the highest passing step ({fmt_rate(basis.rate)}/s, n={basis.requests:,})"
        if basis is not None
        else "the last step (none passed)"
    )
    note = (
        f"workload of {where}: {'-' if k is None else f'{k:,.0f}'} tokens and "
        f"{fmt_money(plans.cost_per_request_usd)} per ok request; $/month = capacity x 30 days x "
        "cost per request; plan fees are not included"
    )
    if time_scale != 1:
        note += f"; rates in the gateway's time (the run's x {time_scale:g})"
    title = f"{plans.arm}: capacity and money under each plan"
    return Table(table_key("capacity-plans", plans.arm), title, columns, tuple(rows), note)


def traffic_text(plans: PlanTable) -> str | None:
    if plans.traffic_rps is None:
        return None
    cheapest = plans.cheapest_meeting or "none of the plans"
    return (
        f"At your traffic of {fmt_rate(plans.traffic_rps * 60)}/min "
        f"({fmt_rate(plans.traffic_rps)} requests/s), {plans.arm} costs "
        f"{fmt_money(plans.monthly_cost_at_traffic_usd)} a month (30 days); the cheapest plan "
        f"that carries it with {plans.headroom:.0%} headroom: {cheapest}."
    )


def key_text(result: CapacityResult) -> str | None:
    key = result.key_limits
    if key is None:
        return None
    limit = lambda v: "unlimited" if v is None else f"{v:,.0f}"  # noqa: E731
    return (
        f"The key's own limits, as {key.responses:,} responses stated them "
        f"(x-ratelimit-limit-* headers): {limit(key.requests_per_min)} requests/min and "
        f"{limit(key.tokens_per_min)} tokens/min; a step offered above the rate they sustain "
        "fails on that limit (plan \"this key\")."
    )


def table_key(*parts: str) -> str:
    return "-".join("".join(c if c.isalnum() or c in "-_" else "_" for c in p) for p in parts)
