"""The probe's measurements in order, and the findings they make. Called by
:mod:`auraon_bench.limits.session`, which owns the run directory.

Order: a few requests to read the key's rate-limit headers (which plan, what it advertises);
then for requests/min (tiny requests) and tokens/min (large prompts): identify the limiter kind
(:mod:`auraon_bench.limits.identify`) and measure the sustainable rate the way that kind
allows: a window kind's allowance over its window, a sliding window counter's refill slope
after a fresh exhaustion, a token bucket's paced search; then Retry-After honesty, the reset
and remaining headers of both dimensions, and burst recovery, actively for refilling kinds and
from the identification's own polls for window kinds (whose every retry costs up to a window).
Each measurement that a cap or a warning sign cuts short leaves its findings "unknown" and the
rest is still written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from auraon_bench.analysis.limits import (
    Finding,
    LimiterFinding,
    Trial,
    advertised_finding,
    kind_finding,
    rate_finding,
    remaining_finding,
    reset_finding,
    retry_after_finding,
)
from auraon_bench.analysis.plan_fit import DOCUMENTED_PLANS
from auraon_bench.limits import checks, identify, kinds
from auraon_bench.limits.prober import Prober, RequestKind, request_kind
from auraon_bench.limits.search import RateSearch
from auraon_bench.results.schema import RequestRecord

UNLIMITED_CEILING_RPS = 100.0  # requests/s the ramp stops at when no limit is documented
UNLIMITED_TOKEN_CEILING_RPS = 10.0  # large requests/s, likewise
UNKNOWN_START_RPS = 2.0  # first trial's rate when no limit is documented


@dataclass
class Measured:
    """A sustainable rate, however it was measured (in requests of the probe's kind)."""

    dimension: str
    per_second: float | None  # target seconds
    limited: bool  # a limit was reached (below the search's ceiling)
    tokens_per_request: float  # mean prompt + completion tokens of the accepted requests
    n: int  # attempts of the measurement (identification included)
    burst_accepted: int  # accepted back to back from a full budget (or a fresh window)
    search: RateSearch | None = None

    @property
    def per_minute(self) -> float | None:
        if self.per_second is None:
            return None
        scale = self.tokens_per_request if self.dimension == "tokens" else 1.0
        return self.per_second * 60 * scale


def plan_from_headers(limit_requests: int | None, limit_tokens: int | None) -> str | None:
    """The documented plan whose figures the key's ``x-ratelimit-limit-*`` headers state."""
    if limit_requests is None and limit_tokens is None:
        return None
    for name, (rpm, tpm) in DOCUMENTED_PLANS.items():
        if rpm == limit_requests and tpm == limit_tokens:
            return name
    return None


def _advertise(state: dict[str, Any], records: list[RequestRecord]) -> None:
    """The key's own ``x-ratelimit-limit-*`` (per minute, as OpenAI and LiteLLM mean them),
    from any response that states it (a 429 may not: LiteLLM's do not)."""
    advertised = state.setdefault("advertised", {"requests": None, "tokens": None})
    for dim in ("requests", "tokens"):
        values = [getattr(r, f"ratelimit_limit_{dim}") for r in records]
        found = [float(v) for v in values if v is not None]
        if advertised[dim] is not None:
            found.append(advertised[dim])
        advertised[dim] = max(found) if found else None


def _tokens(records: list[RequestRecord], fallback: float) -> float:
    totals = [(r.prompt_tokens or 0) + (r.completion_tokens or 0) for r in records
              if r.status == "ok"]  # fmt: skip
    return sum(totals) / len(totals) if totals else fallback


async def measure(prober: Prober, options: Any, state: dict[str, Any]) -> None:
    prober.phase("discover")
    small = request_kind("small", "requests", options.model, prompt_tokens=16, max_tokens=1)
    # A few in a row: their headers name the plan, and a counter falling faster than they
    # spend it means another client shares the key (the probe then stops).
    discovered = await prober.sequential(small, 4)
    first = discovered[0]
    latencies = [r.latency_s for r in discovered if r.status == "ok" and r.latency_s]
    from_headers = plan_from_headers(first.ratelimit_limit_requests, first.ratelimit_limit_tokens)
    plan = options.plan_hint or from_headers
    state["plan"] = plan
    state["plan_source"] = "--plan-hint" if options.plan_hint else ("headers" if plan else None)
    rpm, tpm = DOCUMENTED_PLANS.get(plan, (None, None)) if plan else (None, None)
    state["documented"] = (plan is not None, rpm, tpm)
    _advertise(state, discovered)
    state["ceilings"] = {}
    state["dimensions"] = options.dimensions
    state["identified"] = {}
    typical = sorted(latencies)[len(latencies) // 2] if latencies else None  # real seconds
    scale = prober.scale
    prober.fit_drain_workers(rpm / 60 if rpm else None, typical)

    if "requests" in options.dimensions:
        requests_ceiling = 4 * rpm / 60 if rpm else UNLIMITED_CEILING_RPS
        state["ceilings"]["requests"] = requests_ceiling
        drain_max = int(rpm * 2 + 50) if rpm else 300
        found = await identify.identify(prober, small, discovered, drain_max=drain_max)
        state["identified"]["requests"] = found
        _advertise(state, found.records)
        state["requests"] = await _sustainable(
            prober, small, found,
            start=(rpm / 60 / 2) if rpm else UNKNOWN_START_RPS,
            ceiling=requests_ceiling,
            drain_max=drain_max,
            carry=(rpm / 60) * (typical / scale) if rpm and typical else 0.0,
        )  # fmt: skip
        _trace(state, state["requests"])

    per_request = max(4000, int(2 * tpm / rpm)) if rpm and tpm else 4000
    large = request_kind("large", "tokens", options.model, prompt_tokens=per_request, max_tokens=16)
    if "tokens" in options.dimensions:
        if state.get("requests") is not None:
            await _wait_for_full_requests_budget(prober, small)
        tokens_ceiling = 4 * tpm / 60 / per_request if tpm else UNLIMITED_TOKEN_CEILING_RPS
        state["ceilings"]["tokens"] = tokens_ceiling * per_request
        drain_max = int(2 * tpm / per_request + 20) if tpm else 100
        found = await identify.identify(prober, large, drain_max=drain_max)
        state["identified"]["tokens"] = found
        _advertise(state, found.records)
        state["tokens"] = await _sustainable(
            prober, large, found,
            start=(tpm / 60 / per_request / 2) if tpm else UNKNOWN_START_RPS / 2,
            ceiling=tokens_ceiling,
            drain_max=drain_max,
            carry=(tpm / 60 / per_request) * (typical / scale) if tpm and typical else 0.0,
        )  # fmt: skip
        _trace(state, state["tokens"])

    await _follow_ups(prober, state, small, large)


async def _sustainable(
    prober: Prober, kind: RequestKind, found: identify.Identification, **search: Any
) -> Measured:
    """A window kind: its allowance over its window. A refilling kind, or none seen: the paced
    search, which is right for them (see :mod:`auraon_bench.limits.search`)."""
    identified = found.identified
    n = len(found.records)
    per_request = _tokens(found.records, kind.tokens)
    if identified.kind in kinds.WINDOW_KINDS and identified.window_s and identified.allowance:
        rate = identified.allowance / identified.window_s
        return Measured(kind.dimension, rate, True, per_request, n, identified.allowance)
    if identified.kind == kinds.SLIDING_WINDOW:
        # Its refill slope after a fresh exhaustion is its whole window's allowance decaying;
        # the paced search would judge a trial by how full the previous window happened to be.
        return Measured(kind.dimension, identified.slope_per_s, True, per_request, n,
                        _burst(found))  # fmt: skip
    if identified.kind == kinds.UNKNOWN:
        return Measured(kind.dimension, None, True, per_request, n, 0)
    drained = (found.drained, found.limited) if identified.kind == kinds.NONE else None
    result = await checks.sustainable_rate(prober, kind, drained=drained, **search)
    extra = 0 if identified.kind == kinds.NONE else n
    return Measured(
        kind.dimension,
        result.search.sustainable,
        result.search.limited,
        result.tokens_per_request,
        result.n + extra,
        _burst(found),  # the identification drained a full budget; the search did not
        result.search,
    )


def _burst(found: identify.Identification) -> int:
    return sum(1 for r in found.drained if r.status == "ok") if found.limited else 0


async def _follow_ups(
    prober: Prober, state: dict[str, Any], small: RequestKind, large: RequestKind
) -> None:
    requests, tokens = state.get("requests"), state.get("tokens")
    found = state["identified"]
    if requests is not None and requests.limited and found["requests"].kind != kinds.UNKNOWN:
        kind = found["requests"].kind
        if kind in kinds.WINDOW_KINDS:
            # Every retry costs up to a window: the identification's polls already were retries.
            log = found["requests"].retry
            state["retry_after"] = (log.on_time, log.early, log.recoveries)
            identified = found["requests"].identified
            allowed = (identified.window_s or 60.0) + identify.POLL_GAP_S
            state["burst_recovery"] = (identified.recovery_s, allowed, "passive")
        else:
            state["retry_after"] = await checks.retry_after_checks(prober, small)
        refill = requests.per_second if kind == kinds.TOKEN_BUCKET else 0.0
        state["headers_requests"] = await checks.reset_and_remaining(prober, small, refill, 1)
        if kind not in kinds.WINDOW_KINDS and requests.per_second:
            window = identify.SPEND_WINDOW_S if kind == kinds.SLIDING_WINDOW else 0.0
            seconds = await checks.burst_recovery(prober, small, requests.per_second, window)
            state["burst_recovery"] = (seconds, 60.0, "active")
    if tokens is not None and tokens.limited and found["tokens"].kind != kinds.UNKNOWN:
        kind = found["tokens"].kind
        refill = tokens.per_second if kind == kinds.TOKEN_BUCKET else 0.0
        state["headers_tokens"] = await checks.reset_and_remaining(
            prober, large, refill, tokens.tokens_per_request
        )
    state["burst_recovery_s"] = state.get("burst_recovery", (None,))[0]


async def _wait_for_full_requests_budget(prober: Prober, small: RequestKind) -> None:
    """The requests measurement leaves that budget empty; the tokens one must not be throttled
    by it, so wait until it is full again (its advertised reset)."""
    prober.phase("tokens: wait for the requests budget")
    record = await prober.send(small)
    reset = record.ratelimit_reset_requests_s
    if reset:
        await prober.sleep(reset * 1.02 / prober.scale)  # the header is in real seconds


def _trace(state: dict[str, Any], result: Measured) -> None:
    scale = result.tokens_per_request if result.dimension == "tokens" else 1.0
    if result.search is not None:
        state.setdefault("trials", {})[result.dimension] = [
            Trial(per_min=rate * 60 * scale, limited=hit) for rate, hit in result.search.trials
        ]
    state.setdefault("burst_accepted", {})[result.dimension] = result.burst_accepted


def limiter_findings(state: dict[str, Any]) -> dict[str, LimiterFinding]:
    """The identified kind of each measured dimension, with what it rests on."""
    out = {}
    advertised = state.get("advertised", {})
    for dim, found in state.get("identified", {}).items():
        identified = found.identified
        result: Measured | None = state.get(dim)
        per_request = result.tokens_per_request if result and dim == "tokens" else 1.0
        out[dim] = LimiterFinding(
            dimension=dim,
            kind=identified.kind,
            evidence=identified.evidence,
            window_s=identified.window_s,
            allowance=identified.allowance * per_request if identified.allowance else None,
            sustainable_per_min=result.per_minute if result else None,
            advertised_per_min=advertised.get(dim),
            recovery_s=identified.recovery_s,
            n=len(found.records),
        )
    return out


def findings(state: dict[str, Any]) -> list[Finding]:
    known, rpm, tpm = state.get("documented", (False, None, None))
    ceilings = state.get("ceilings", {})
    limiters = limiter_findings(state)
    out = []
    for dim, documented, unit in (("requests", rpm, "requests/min"), ("tokens", tpm, "tokens/min")):
        if dim not in state.get("dimensions", (dim,)):
            continue
        if dim in limiters:
            out.append(kind_finding(limiters[dim]))
        result: Measured | None = state.get(dim)
        if result is None:
            detail = "not measured (the probe stopped first)"
            out.append(Finding(f"sustainable {unit}", None, documented, unit, "unknown", detail, 0))
            continue
        ceiling = ceilings.get(dim, 0.0) * 60  # per target second -> per minute
        out.append(rate_finding(f"sustainable {unit}", result.per_minute, result.limited,
                                documented, known, ceiling, result.n, unit))  # fmt: skip
        advertised = state.get("advertised", {}).get(dim)
        out.append(advertised_finding(dim, result.per_minute, result.limited, advertised,
                                      result.n))  # fmt: skip
    if "retry_after" in state:
        out += retry_after_finding(*state["retry_after"])
    for dim in ("requests", "tokens"):
        header = state.get(f"headers_{dim}")
        if header is not None:
            out.append(reset_finding(dim, header.limit, header.accepted, header.waited_s))
            out.append(
                remaining_finding(dim, header.limit, header.remaining_errors, header.in_flight)
            )
    if "burst_recovery" in state:
        out.append(_burst_finding(*state["burst_recovery"]))
    return out


def _burst_finding(recovery: float | None, allowed: float, how: str) -> Finding:
    verdict = "unknown" if recovery is None else ("pass" if recovery <= allowed else "fail")
    if how == "passive":
        detail = (
            "from exhausting the budget to the first request accepted again: "
            + ("nothing came back" if recovery is None else f"{recovery:.2f} s (a window of "
               f"{allowed - identify.POLL_GAP_S:.1f} s allows at most that, plus one poll gap)")
        )  # fmt: skip
    else:
        detail = (
            "sending at 90% of the sustainable rate right after exhausting the budget: "
            + ("never accepted three in a row" if recovery is None else f"{recovery:.2f} s until "
               "three in a row were accepted (a per-minute window allows at most 60 s)")
        )  # fmt: skip
    return Finding("burst recovery", recovery, allowed, "s", verdict, detail, 0)
