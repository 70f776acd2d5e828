"""Did the load generator keep its schedule? The verdict on the client, for the whole run and,
with several workers, for each worker: a run is only as trustworthy as its busiest worker.

Limits (ARCHITECTURE's self-check): schedule lag p99 at most 10 ms, achieved rate at least 95% of
the target for open-loop profiles, client CPU below 90% of a core.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from auraon_bench.analysis.load_summary import ArmSummary
from auraon_bench.analysis.records import scheduled_mask
from auraon_bench.load.arrivals import Profile, ScheduleSpec, build_schedule
from auraon_bench.load.worker import WorkerReport
from auraon_bench.results.reader import read_compact

LAG_P99_LIMIT_S = 0.010
RATE_SHORTFALL = 0.95
CPU_SATURATED = 0.90

__all__ = ["CPU_SATURATED", "LAG_P99_LIMIT_S", "RATE_SHORTFALL", "judge_client", "worker_health"]


def judge_client(
    overall: ArmSummary, spec: ScheduleSpec, cpu: float
) -> tuple[dict[str, Any], list[str]]:
    """Did the load generator keep its schedule? The verdict goes into the manifest."""
    lag_p50, lag_p99 = overall.schedule_lag_s.p50, overall.schedule_lag_s.p99
    achieved = overall.achieved_rate
    target_rate = target_rate_of(spec)
    scheduled = scheduled_rates(spec)[0] or target_rate
    warnings = []
    kept = True
    if lag_p99 is not None and lag_p99 > LAG_P99_LIMIT_S:
        kept = False
        warnings.append(
            f"CLIENT COULD NOT KEEP THE SCHEDULE: schedule lag p99 {lag_p99 * 1000:.1f} ms "
            f"(limit {LAG_P99_LIMIT_S * 1000:.0f} ms, n={overall.schedule_lag_s.n})"
        )
    if scheduled and achieved is not None and achieved < RATE_SHORTFALL * scheduled:
        kept = False
        warnings.append(
            f"CLIENT COULD NOT KEEP THE SCHEDULE: achieved {achieved:.1f} req/s of "
            f"{scheduled:.1f} req/s scheduled ({target_rate:g} req/s nominal)"
        )
    if cpu > CPU_SATURATED:
        warnings.append(f"client CPU at {cpu * 100:.0f}% of a core: figures may be client-bound")
    check = {
        "target_rate_rps": target_rate,
        "scheduled_rate_rps": scheduled,
        "achieved_rate_rps": achieved,
        "schedule_lag_p50_s": lag_p50,
        "schedule_lag_p99_s": lag_p99,
        "schedule_lag_n": overall.schedule_lag_s.n,
        "client_cpu_share": cpu,
        "kept_schedule": kept,
        "client_bound": not kept,
    }
    return check, warnings


def target_rate_of(spec: ScheduleSpec) -> float | None:
    open_loop = spec.profile in (Profile.CONSTANT, Profile.POISSON, Profile.GAMMA)
    return spec.rate if open_loop else None


def scheduled_rates(spec: ScheduleSpec, workers: int = 1) -> list[float | None]:
    """The rate the seeded schedule itself asks of each of ``workers`` (each sends every
    ``workers``-th arrival): (arrivals - 1) / their span. A short Poisson schedule differs from
    its nominal rate by chance; the client is judged on what it was asked to send."""
    if target_rate_of(spec) is None:
        return [None] * workers
    offsets = build_schedule(spec, ("-",), 1).offsets_s  # built once, whatever ``workers``
    rates: list[float | None] = []
    for index in range(workers):
        mine = offsets[index::workers] if offsets is not None else ()
        span = float(mine[-1] - mine[0]) if len(mine) > 1 else 0.0
        rates.append((len(mine) - 1) / span if span > 0 else None)
    return rates


def worker_health(
    run_dir: Path,
    reports: Sequence[WorkerReport | None],
    failures: Sequence[str],
    spec: ScheduleSpec,
) -> tuple[list[dict[str, Any]], list[str]]:
    """Per worker: requests sent, achieved rate against its share of the target, schedule lag,
    CPU share, how it ended. Measured from the records (the ``worker`` column), not from what
    the workers say about themselves, except CPU and errors which only they know."""
    frame = read_compact(run_dir, ["worker", "attempt", "turn", "t_sent", "schedule_lag_s"])
    first = frame[scheduled_mask(frame)]  # first attempts; of conversations, first turns
    workers = first["worker"].to_numpy()
    sent = first["t_sent"].to_numpy(dtype=float, na_value=np.nan)
    lag = first["schedule_lag_s"].to_numpy(dtype=float, na_value=np.nan)
    health, warnings = [], []
    shares = scheduled_rates(spec, len(reports))
    for index, report in enumerate(reports):
        share = shares[index]
        mine = workers == index
        times = sent[mine & ~np.isnan(sent)]
        lags = lag[mine & ~np.isnan(lag)]
        window = float(times.max() - times.min()) if len(times) > 1 else 0.0
        achieved = (len(times) - 1) / window if window > 0 else None
        p99 = float(np.percentile(lags, 99)) if len(lags) else None
        cpu = report.cpu_share if report else None
        failure = next((f for f in failures if f.startswith(f"worker {index}:")), None)
        kept = (
            failure is None
            and (p99 is None or p99 <= LAG_P99_LIMIT_S)
            and (share is None or achieved is None or achieved >= RATE_SHORTFALL * share)
        )
        health.append(
            {
                "worker": index,
                "host": report.host if report else None,
                "requests": int(mine.sum()),
                "scheduled_rate_rps": share,
                "achieved_rate_rps": achieved,
                "schedule_lag_p50_s": float(np.percentile(lags, 50)) if len(lags) else None,
                "schedule_lag_p99_s": p99,
                "client_cpu_share": cpu,
                "stop_reason": report.stop_reason if report else None,
                "error": failure,
                "kept_schedule": kept,
            }
        )
        if failure:
            warnings.append(f"WORKER FAILED: {failure}")
        elif not kept:
            warnings.append(
                f"WORKER {index} COULD NOT KEEP THE SCHEDULE: lag p99 "
                f"{'-' if p99 is None else f'{p99 * 1000:.1f} ms'}, achieved "
                f"{'-' if achieved is None else f'{achieved:.1f}'} of "
                f"{'-' if share is None else f'{share:.1f}'} req/s scheduled"
            )
        if cpu is not None and cpu > CPU_SATURATED:
            warnings.append(
                f"worker {index} CPU at {cpu * 100:.0f}% of a core: figures may be client-bound"
            )
    return health, warnings
