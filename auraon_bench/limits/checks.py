"""The probe's measurements, each a sequence of phases on a :class:`Prober`.

* :func:`sustainable_rate`: drain the budget, then ramp and bisect (``search.RateSearch``) with
  the budget drained again before every trial that might have saved some up.
* :func:`retry_after_checks`: after a 429, retry at the advertised time (should succeed), at
  half of it (should fail), and probe a grid of fractions of it to time the actual recovery.
* :func:`reset_and_remaining`: after a 429, wait the advertised ``x-ratelimit-reset-*`` and
  burst: the whole limit should be accepted, and each response's ``remaining`` should match
  what was accepted after it, less what refilled meanwhile.
* :func:`burst_recovery`: right after the budget is exhausted, send at 90% of the sustainable
  rate and time how long until three requests in a row are accepted.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from auraon_bench.analysis.limits import Recovery, limit_dimension
from auraon_bench.limits.prober import Prober, RequestKind
from auraon_bench.limits.search import RateSearch
from auraon_bench.results.schema import RequestRecord

TRIAL_REQUESTS = {"requests": 24, "tokens": 12}
MAX_TRIAL = 400
TRIAL_EXCESS = 0.03  # the smallest excess over the refill rate a trial is sized to notice
RECOVERY_GRID = (0.25, 0.5, 0.75, 0.9, 1.0, 1.1, 1.25, 1.5, 2.0, 3.0)
STREAK = 3
EARLY_LIMIT = 0.75  # an early retry that arrived later than this share of the wait is void
# "On time": a little past the advertised wait (factor, plus real seconds): header rounding, the
# clock's grain, and the few milliseconds by which the gateway may see a retry sooner after its
# 429 than the client sent them apart. A lie of half the wait is still far outside it.
ON_TIME = (1.05, 0.005)


def on_time_wait(advertised: float) -> float:
    """Real seconds after a 429 at which a retry counts as sent at its advertised time."""
    factor, extra = ON_TIME
    return advertised * factor + extra


@dataclass
class RateResult:
    dimension: str
    search: RateSearch
    tokens_per_request: float  # mean prompt + completion tokens of the accepted requests
    burst_accepted: int  # accepted by the first drain, sent back to back from a full budget
    n: int  # attempts of this measurement

    @property
    def per_minute(self) -> float | None:
        """Sustainable requests/min, or tokens/min for the tokens dimension."""
        rate = self.search.sustainable
        if rate is None:
            return None
        scale = self.tokens_per_request if self.dimension == "tokens" else 1.0
        return rate * 60 * scale


def trial_size(dimension: str, carry: float) -> int:
    """Requests per trial. A drain leaves about ``carry`` requests' worth of budget (what
    refills while its last requests are answered); a trial 3% above the refill rate only runs
    dry after ``carry / 0.03`` requests, so it must be at least that long to notice."""
    return int(min(MAX_TRIAL, max(TRIAL_REQUESTS[dimension], carry / TRIAL_EXCESS)))


def _ok(records: Sequence[RequestRecord]) -> list[RequestRecord]:
    return [r for r in records if r.status == "ok"]


def _tokens(records: Sequence[RequestRecord], fallback: float) -> float:
    totals = [(r.prompt_tokens or 0) + (r.completion_tokens or 0) for r in _ok(records)]
    return sum(totals) / len(totals) if totals else fallback


async def sustainable_rate(
    prober: Prober,
    kind: RequestKind,
    *,
    start: float,
    ceiling: float,
    tolerance: float = 0.05,
    drain_max: int = 600,
    carry: float = 0.0,
    drained: tuple[list[RequestRecord], bool] | None = None,
) -> RateResult:
    """Highest rate (requests per target second) sent with no 429 of ``kind``'s dimension.
    ``drained``: a drain just done (records, limited), instead of draining first."""
    dim = kind.dimension
    if drained is None:
        prober.phase(f"{dim}: drain")
        first, limited = await prober.drain(kind, max_requests=drain_max)
    else:
        first, limited = drained
    records = list(first)
    search = RateSearch(start=min(start, ceiling), ceiling=ceiling, tolerance=tolerance)
    drained = limited
    while (rate := search.next_rate()) is not None:
        if not drained:
            prober.phase(f"{dim}: drain")
            again, _ = await prober.drain(kind, max_requests=drain_max)
            records += again
        prober.phase(f"{dim}: trial {rate * 60:,.1f}/min")
        trial = await prober.paced(kind, rate, trial_size(dim, carry))
        records += trial
        hit = any(limit_dimension(r) == dim for r in trial)
        search.observe(rate, hit)
        drained = hit  # a trial that ended at a 429 left the budget empty
    burst = len(_ok(first)) if limited else 0
    return RateResult(dim, search, _tokens(records, kind.tokens), burst, len(records))


def _latest_429(records: Sequence[RequestRecord], dimension: str) -> RequestRecord | None:
    limited = [r for r in records if limit_dimension(r) == dimension]
    return max(limited, key=lambda r: r.t_done or 0.0) if limited else None


def _decided(record: RequestRecord) -> float:
    """When the gateway decided on ``record`` (client seconds): its send time. The one-way
    trip to the gateway is the same for a 429 and for the retry measured from it, so it cancels;
    an accepted request's answer time, by contrast, includes generation."""
    return record.t_sent or 0.0


async def _wait_from(prober: Prober, record: RequestRecord, seconds_real: float) -> None:
    """Sleep until ``seconds_real`` after the gateway decided on ``record``."""
    elapsed = prober.client.seconds(time.perf_counter_ns()) - _decided(record)
    await prober.sleep((seconds_real - elapsed) / prober.scale)


def _after(record: RequestRecord, reference: RequestRecord) -> float:
    """Real seconds from the gateway's decision on ``reference`` to ``record``'s arrival."""
    return _decided(record) - _decided(reference)


Action = Callable[[RequestRecord], Awaitable[Any]]


async def _after_fresh_429(
    prober: Prober, kind: RequestKind, action: Action, tries: int = 12
) -> tuple[RequestRecord, Any] | None:
    """Run ``action(reference)`` on a 429 that came right after the budget was spent: drain;
    wait out each advertised time until a request is accepted (a gateway that advertises too
    little refuses again, and its new, shorter wait is waited in turn); then ask at once, and
    again if that was accepted too, until refused. Nothing else is in flight when the action
    starts, so the budget's state is known: what refilled since the last accepted request."""
    records, limited = await prober.drain(kind)
    latest = _latest_429(records, kind.dimension)
    if not limited or latest is None:
        return None
    for _ in range(tries):
        if latest.retry_after_s is None:
            return None
        await _wait_from(prober, latest, on_time_wait(latest.retry_after_s))
        probe = await prober.send(kind)
        if probe.status == "ok":
            break
        if limit_dimension(probe) != kind.dimension:
            return None
        latest = probe
    else:
        return None
    for _ in range(3):
        reference = await prober.send(kind)
        if limit_dimension(reference) == kind.dimension and reference.retry_after_s:
            return reference, await action(reference)
        if reference.status != "ok":
            return None
    return None


async def retry_after_checks(
    prober: Prober, kind: RequestKind, rounds: int = 4
) -> tuple[list[bool], list[bool], list[Recovery]]:
    """(succeeded at the advertised time, succeeded at half of it, recovery timings).

    Times are measured, not assumed: a retry meant for half the advertised wait that arrived
    after 75% of it (a late timer) is discarded rather than counted as a success."""
    on_time: list[bool] = []
    early: list[bool] = []
    recoveries: list[Recovery] = []

    def retry_at(fraction: float) -> Action:
        async def retry(reference: RequestRecord) -> RequestRecord:
            advertised = reference.retry_after_s or 0.0
            # On time: a hair past the advertised wait (header rounding, the clock's grain).
            wait = on_time_wait(advertised) if fraction >= 1 else advertised * fraction
            await _wait_from(prober, reference, wait)
            return await prober.send(kind)

        return retry

    for label, fraction, outcomes in (("on time", 1.0, on_time), ("at half", 0.5, early)):
        prober.phase(f"retry-after: {label}")
        for _ in range(rounds):
            done = await _after_fresh_429(prober, kind, retry_at(fraction))
            if done is None:
                break
            reference, retry = done
            advertised = reference.retry_after_s or 0.0
            if fraction < 1 and _after(retry, reference) > EARLY_LIMIT * advertised:
                continue
            outcomes.append(retry.status == "ok")

    async def time_recovery(reference: RequestRecord) -> Recovery:
        advertised = reference.retry_after_s or 0.0
        last_fail = first_ok = None
        for fraction in RECOVERY_GRID:
            await _wait_from(prober, reference, advertised * fraction)
            probe = await prober.send(kind)
            if probe.status == "ok":
                first_ok = _after(probe, reference)
                break
            last_fail = _after(probe, reference)
        return Recovery(advertised, last_fail, first_ok)

    prober.phase("retry-after: recovery time")
    for _ in range(rounds):
        done = await _after_fresh_429(prober, kind, time_recovery)
        if done is None:
            break
        recoveries.append(done[1])
    return on_time, early, recoveries


@dataclass
class HeaderResult:
    dimension: str
    limit: int | None  # in requests (the tokens limit in requests of this kind)
    waited_s: float | None  # the advertised reset that was waited (target seconds)
    accepted: int  # accepted by the burst, less what refilled while it ran
    remaining_errors: list[float]
    in_flight: int = 1  # concurrent senders: each remaining figure may be off by this many


async def reset_and_remaining(
    prober: Prober, kind: RequestKind, rate: float | None, tokens_per_request: float
) -> HeaderResult:
    dim = kind.dimension
    prober.phase(f"{dim}: exhaust before reset check")
    records, limited = await prober.drain(kind)
    # The last decision, not the last 429: a request in flight when the 429 came may still be
    # accepted after it and move the reset later (a window kind's by a whole window).
    stated = [r for r in records if getattr(r, f"ratelimit_reset_{dim}_s") is not None]
    reference = max(stated, key=_decided) if stated else None
    reset = getattr(reference, f"ratelimit_reset_{dim}_s", None)
    raw_limit = getattr(reference, f"ratelimit_limit_{dim}", None)
    if not limited or reset is None or raw_limit is None:
        return HeaderResult(dim, None, None, 0, [])
    limit = raw_limit if dim == "requests" else int(raw_limit // max(1.0, tokens_per_request))
    await _wait_from(prober, reference, on_time_wait(reset))
    prober.phase(f"{dim}: burst after reset")
    burst, _ = await prober.drain(kind, max_requests=int(limit * 3) + 10)
    ok = sorted(_ok(burst), key=lambda r: r.t_done or 0.0)
    errors = []
    per_s = rate or 0.0
    span_all = ((ok[-1].t_done or 0.0) - (ok[0].t_sent or 0.0)) / prober.scale if ok else 0.0
    refilled = per_s * span_all
    for index, record in enumerate(ok):
        remaining = (
            record.ratelimit_remaining_requests
            if dim == "requests"
            else (record.ratelimit_remaining_tokens or 0) / max(1.0, tokens_per_request)
        )
        if remaining is None:
            continue
        after = len(ok) - index - 1
        span = ((ok[-1].t_done or 0.0) - (record.t_done or 0.0)) / prober.scale
        errors.append(after - (remaining + per_s * span))
    accepted = round(len(ok) - refilled)
    return HeaderResult(dim, limit, reset / prober.scale, accepted, errors, prober.drain_workers)


async def burst_recovery(
    prober: Prober, kind: RequestKind, rate: float, window_s: float = 0.0
) -> float | None:
    """Target seconds from exhaustion until ``STREAK`` requests in a row at 90% of ``rate``
    are accepted; None if that never happened within the trial, which lasts at least
    ``window_s`` (a sliding window counter may hold a drained key until its next boundary)."""
    prober.phase("burst recovery")
    records, limited = await prober.drain(kind)
    reference = _latest_429(records, kind.dimension)
    if not limited or reference is None:
        return None
    start = reference.t_done or 0.0
    n = max(8 * STREAK, int(0.9 * rate * window_s) + 8 * STREAK)
    trial = await prober.paced(kind, 0.9 * rate, n, stop_on_limit=False)
    streak = 0
    for record in trial:
        streak = streak + 1 if record.status == "ok" else 0
        if streak == STREAK:
            first = trial[trial.index(record) - STREAK + 1]
            return max(0.0, ((first.t_sent or 0.0) - start) / prober.scale)
    return None
