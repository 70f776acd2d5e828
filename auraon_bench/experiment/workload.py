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

From a run: the peak is the busiest 60 s window of its load parts' attempts (the whole run when
shorter), the average is all attempts over the run's length, token sizes are the means of ok
attempts, and cost per request per arm is the mean reported cost of the arm's ok attempts.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from auraon_bench.analysis.plan_advice import Workload
from auraon_bench.analysis.plan_fit import plan_fit
from auraon_bench.analysis.records import column, ok_mask, warmup_mask
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
    parts = [p for p in run.parts if p.kind == "load"] or list(run.parts)
    frames = [p.records for p in parts if not p.records.empty]
    if not frames:
        raise ConfigError("the run has no records to derive a workload from", source=str(run.path))
    peak = max(plan_fit(df.loc[~warmup_mask(df)]).needed_rpm for df in frames)
    averages, prompt, completion = [], [], []
    costs: dict[str, list[float]] = {}
    for df in frames:
        measured = df.loc[~warmup_mask(df)]
        sent = column(measured, "t_sent")
        span = np.nanmax(sent) - np.nanmin(sent) if np.isfinite(sent).any() else 0.0
        if span > 0:
            averages.append(len(measured) / span * 60)
        ok = measured.loc[ok_mask(measured)]
        prompt += column(ok, "prompt_tokens")[np.isfinite(column(ok, "prompt_tokens"))].tolist()
        done = column(ok, "completion_tokens")
        completion += done[np.isfinite(done)].tolist()
        for arm, rows in ok.groupby(ok["arm"].astype("string"), observed=True):
            cost = column(rows, "cost_usd")
            costs.setdefault(str(arm), []).extend(cost[np.isfinite(cost)].tolist())
    return Workload(
        peak_rpm=peak,
        average_rpm=float(np.mean(averages)) if averages else peak,
        prompt_tokens=float(np.mean(prompt)) if prompt else 0.0,
        completion_tokens=float(np.mean(completion)) if completion else 0.0,
        monthly_growth=monthly_growth,
        cost_per_request={arm: float(np.mean(v)) for arm, v in costs.items() if v},
        source=str(run.path),
    )


__all__ = ["workload_from_file", "workload_from_run"]
