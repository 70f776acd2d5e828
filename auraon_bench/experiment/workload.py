"""Workloads for plan advice: described in a TOML file, or measured by a run.

A workload file::

    peak_requests_per_min = 120       # the busiest minute
    average_requests_per_min = 40     # over a month
    prompt_tokens = 800               # per request
    completion_tokens = 300           # per request
    monthly_growth = 0.10             # 10% more every month (default 0)

    [cost_per_request_usd]            # optional, per arm: from your own measurements
    auto = 0.00021
    gpt-4o = 0.00035

From a run: every figure is read from its parts' own results, each computed once per part (see
:mod:`auraon_bench.analysis.plan_advice` for the method).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from auraon_bench.analysis.plan_advice import Workload
from auraon_bench.errors import ConfigError
from auraon_bench.experiment.fields import Fields, TomlText, at_least, read_toml
from auraon_bench.results.run import Run


def workload_from_file(path: str | Path) -> Workload:
    path = Path(path)
    text, data = read_toml(path, "workload file")
    toml = TomlText(str(path), text)
    f = Fields(data, toml, "")
    peak = f.require("peak_requests_per_min", "float", check=at_least(0))
    average = f.get("average_requests_per_min", "float", peak, check=at_least(0))
    if average > peak:
        f.fail("average_requests_per_min", "is above peak_requests_per_min")
    costs_table = f.get("cost_per_request_usd", "table", {})
    costs = Fields(costs_table, toml, "cost_per_request_usd", table_name="cost_per_request_usd")
    cost_per_request = {arm: costs.get(arm, "float", check=at_least(0)) for arm in costs_table}
    costs.done()
    workload = Workload(
        peak_rpm=peak,
        average_rpm=average,
        prompt_tokens=f.require("prompt_tokens", "float", check=at_least(0)),
        completion_tokens=f.require("completion_tokens", "float", check=at_least(0)),
        monthly_growth=f.get("monthly_growth", "float", 0.0, check=at_least(0)),
        cost_per_request=cost_per_request,
        source=str(path),
    )
    f.done()
    return workload


def workload_from_run(run: Run, monthly_growth: float = 0.0) -> Workload:
    """The workload a run measured, read from its parts' plan fit and summaries (see the
    module docstring); ``ConfigError`` when it has no records."""
    parts = [p for p in run.parts if p.kind == "load"] or list(run.parts)
    measured = [(fit, p.load_summary) for p in parts if (fit := p.plan_fit) is not None]
    if not measured:
        raise ConfigError("the run has no records to derive a workload from", source=str(run.path))
    busiest = max((fit for fit, _ in measured), key=lambda fit: fit.needed_rpm)
    peak = busiest.needed_rpm
    averages = [
        s.overall.requests / s.overall.window_s * 60
        for _, s in measured
        if s.overall.window_s is not None and s.overall.window_s > 0
    ]
    ok = sum(s.overall.ok for _, s in measured)
    prompt = sum(s.overall.tokens.prompt_tokens for _, s in measured)
    completion = sum(s.overall.tokens.completion_tokens for _, s in measured)
    costs: dict[str, list[tuple[float, int]]] = {}  # arm -> (cost per request, ok) per part
    for _, summary in measured:
        for arm in summary.arms:
            if arm.arm is not None and arm.cost.per_request_usd is not None and arm.ok:
                costs.setdefault(arm.arm, []).append((arm.cost.per_request_usd, arm.ok))
    return Workload(
        peak_rpm=peak,
        average_rpm=min(sum(averages) / len(averages), peak) if averages else peak,
        prompt_tokens=prompt / ok if ok else 0.0,
        completion_tokens=completion / ok if ok else 0.0,
        monthly_growth=monthly_growth,
        cost_per_request={arm: _weighted(values) for arm, values in costs.items()},
        source=str(run.path),
        measured=busiest.measurement,
    )


def _weighted(values: Sequence[tuple[float, int]]) -> float:
    """The mean of ``(value, weight)`` pairs; a single part's value as it is."""
    if len(values) == 1:
        return values[0][0]
    return sum(v * w for v, w in values) / sum(w for _, w in values)


__all__ = ["workload_from_file", "workload_from_run"]
