"""``limits`` from options to a run directory: records, manifest and ``limits.json``.

Order: one request to read the key's rate-limit headers (which plan is it?), the sustainable
requests/min (tiny requests), the sustainable tokens/min (large prompts), Retry-After honesty,
the reset and remaining headers of both dimensions, and burst recovery. Each measurement that a
cap or a warning sign cuts short leaves its findings "unknown" and the rest is still written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

from auraon_bench.analysis.limits import (
    Finding,
    LimitsSummary,
    Trial,
    rate_finding,
    remaining_finding,
    reset_finding,
    retry_after_finding,
)
from auraon_bench.analysis.plan_fit import DOCUMENTED_PLANS
from auraon_bench.catalog import PriceTable
from auraon_bench.client.http import MeasuringClient, Timeouts
from auraon_bench.errors import ConfigError
from auraon_bench.limits import checks
from auraon_bench.limits.prober import Caps, Prober, ProbeStopped, RequestKind, request_kind
from auraon_bench.load.session import write_json
from auraon_bench.load.target import Target, open_target
from auraon_bench.results.manifest import Manifest, new_run_dir
from auraon_bench.results.sink import RecordSink

LIMITS_FILE = "limits.json"
FLUSH_INTERVAL_S = 1.0
UNLIMITED_CEILING_RPS = 100.0  # requests/s the ramp stops at when no limit is documented
UNLIMITED_TOKEN_CEILING_RPS = 10.0  # large requests/s, likewise
UNKNOWN_START_RPS = 2.0  # first trial's rate when no limit is documented


@dataclass(frozen=True)
class LimitsOptions:
    model: str = "gpt-4o-mini"
    plan_hint: str | None = None  # starter, pro, enterprise; None: read from the headers
    caps: Caps = field(default_factory=Caps)
    base_url: str | None = None
    api_key: str | None = None
    plan: str = "starter"  # the embedded emulator's demo key
    time_scale: float = 1.0
    catalog: str | None = None  # embedded emulator only: an overlay (e.g. a lying plan)
    dimensions: tuple[str, ...] = ("requests", "tokens")  # which limits to measure
    timeouts: Timeouts = field(default_factory=Timeouts)
    out: Path | None = None
    results_dir: Path = Path("results")
    command: tuple[str, ...] = ()


@dataclass
class LimitsResult:
    run_dir: Path
    target: Target
    plan: str | None
    findings: list[Finding]
    stop_reason: str | None
    requests: int
    summary: LimitsSummary

    @property
    def status(self) -> str:
        return "complete" if self.stop_reason is None else "interrupted"

    @property
    def warnings(self) -> list[str]:
        return list(self.summary.warnings)


def plan_from_headers(limit_requests: int | None, limit_tokens: int | None) -> str | None:
    """The documented plan whose figures the key's ``x-ratelimit-limit-*`` headers state."""
    if limit_requests is None and limit_tokens is None:
        return None
    for name, (rpm, tpm) in DOCUMENTED_PLANS.items():
        if rpm == limit_requests and tpm == limit_tokens:
            return name
    return None


def estimate(options: LimitsOptions, prices: PriceTable) -> tuple[int, int, float]:
    price = prices.lookup(options.model)
    per_token = (price.input_per_mtok / 1e6) if price else 15.0 / 1e6
    return options.caps.max_requests, options.caps.max_tokens, options.caps.max_tokens * per_token


def run_limits(
    options: LimitsOptions,
    *,
    confirm: Callable[[str], bool] = lambda _: True,
    on_phase: Callable[[str], None] | None = None,
    target: Target | None = None,
) -> LimitsResult:
    """Probe the key's limits (blocking). ``target``: an already open one (an experiment's
    parts share it); by default the options' URL and key, or a fresh embedded emulator."""
    if target is not None:
        return _confirm_and_probe(options, target, confirm, on_phase)
    with open_target(
        options.base_url,
        options.api_key,
        plan=options.plan,
        time_scale=options.time_scale,
        catalog=options.catalog,
    ) as opened:
        return _confirm_and_probe(options, opened, confirm, on_phase)


def _confirm_and_probe(
    options: LimitsOptions,
    target: Target,
    confirm: Callable[[str], bool],
    on_phase: Callable[[str], None] | None,
) -> LimitsResult:
    if not target.simulated:
        n, tokens, usd = estimate(options, PriceTable.builtin())
        if not confirm(
            f"probing {target.base_url} with {options.model}: at most {n} requests and "
            f"{tokens:,} tokens, estimated cost up to ${usd:.4f}"
        ):
            raise ConfigError("aborted before sending any request", field="--yes")
    return anyio.run(_probe, options, target, on_phase)


async def _probe(
    options: LimitsOptions, target: Target, on_phase: Callable[[str], None] | None
) -> LimitsResult:
    scale = target.time_scale if target.simulated and target.time_scale else 1.0
    client = MeasuringClient(target.base_url, target.api_key, timeouts=options.timeouts)
    async with client:
        await client.check_target()
        run_id, run_dir = new_run_dir(options.out, options.results_dir)
        sink = RecordSink(run_dir)
        manifest = Manifest.create(
            run_dir,
            run_id,
            list(options.command),
            target=target.describe(),
            status="running",
            options={
                "kind": "limits",
                "model": options.model,
                "plan_hint": options.plan_hint,
                "caps": vars(options.caps),
            },
        )
        pending: list[Any] = []
        prober = Prober(
            client, run_id, options.model, pending.extend, caps=options.caps, time_scale=scale
        )
        if on_phase is not None:
            original = prober.phase

            def phase(name: str) -> None:
                original(name)
                on_phase(name)

            prober.phase = phase  # type: ignore[method-assign]
        state: dict[str, Any] = {}
        status = "complete"
        try:
            async with anyio.create_task_group() as group:
                group.start_soon(_flush_every, pending, sink)
                try:
                    await _measure(prober, options, state)
                finally:
                    group.cancel_scope.cancel()
        except* ProbeStopped:  # raised inside task groups: it arrives wrapped
            status = "interrupted"
        finally:
            await anyio.to_thread.run_sync(_flush, pending, sink)
            await anyio.to_thread.run_sync(sink.close)
    findings = _findings(state)
    warnings = (
        ["SIMULATED: every figure comes from the built-in emulator"] if target.simulated else []
    )
    if prober.stop_reason:
        warnings.append(f"PROBE STOPPED EARLY: {prober.stop_reason}")
    summary = LimitsSummary(
        simulated=target.simulated,
        time_scale=scale,
        model=options.model,
        plan=state.get("plan"),
        plan_source=state.get("plan_source"),
        stop_reason=prober.stop_reason,
        requests_sent=prober.requests,
        tokens_reserved=prober.tokens,
        phases=tuple(prober.phases),
        findings=tuple(findings),
        trials={k: tuple(v) for k, v in state.get("trials", {}).items()},
        burst_accepted=dict(state.get("burst_accepted", {})),
        burst_recovery_s=state.get("burst_recovery_s"),
        warnings=tuple(warnings),
    )
    write_json(run_dir / LIMITS_FILE, summary.to_dict())
    manifest.update(
        status=status,
        warnings=warnings,
        counts={"records": prober.requests},
    )
    return LimitsResult(
        run_dir, target, state.get("plan"), findings, prober.stop_reason, prober.requests, summary
    )


def _flush(pending: list[Any], sink: RecordSink) -> None:
    batch = pending[:]
    del pending[: len(batch)]
    if batch:
        sink.add_many(batch)
        sink.flush()


async def _flush_every(pending: list[Any], sink: RecordSink) -> None:
    """Records reach disk each second, from a worker thread: the probe's timers never wait on
    a Parquet write, and a killed probe loses at most a second of records."""
    while True:
        await anyio.sleep(FLUSH_INTERVAL_S)
        await anyio.to_thread.run_sync(_flush, pending, sink)


async def _measure(prober: Prober, options: LimitsOptions, state: dict[str, Any]) -> None:
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
    state["ceilings"] = {}
    state["dimensions"] = options.dimensions
    typical = sorted(latencies)[len(latencies) // 2] if latencies else None  # real seconds
    scale = prober.scale
    prober.fit_drain_workers(rpm / 60 if rpm else None, typical)

    rate = tokens = None
    if "requests" in options.dimensions:
        requests_ceiling = 4 * rpm / 60 if rpm else UNLIMITED_CEILING_RPS
        state["ceilings"]["requests"] = requests_ceiling
        rate = await checks.sustainable_rate(
            prober,
            small,
            start=(rpm / 60 / 2) if rpm else UNKNOWN_START_RPS,
            ceiling=requests_ceiling,
            drain_max=int(rpm * 2 + 50) if rpm else 300,
            carry=(rpm / 60) * (typical / scale) if rpm and typical else 0.0,
        )
        state["requests"] = rate
        _trace(state, rate)

    per_request = max(4000, int(2 * tpm / rpm)) if rpm and tpm else 4000
    large = request_kind("large", "tokens", options.model, prompt_tokens=per_request, max_tokens=16)
    if "tokens" in options.dimensions:
        if rate is not None:
            await _wait_for_full_requests_budget(prober, small)
        tokens_ceiling = 4 * tpm / 60 / per_request if tpm else UNLIMITED_TOKEN_CEILING_RPS
        state["ceilings"]["tokens"] = tokens_ceiling * per_request
        tokens = await checks.sustainable_rate(
            prober,
            large,
            start=(tpm / 60 / per_request / 2) if tpm else UNKNOWN_START_RPS / 2,
            ceiling=tokens_ceiling,
            drain_max=int(2 * tpm / per_request + 20) if tpm else 100,
            carry=(tpm / 60 / per_request) * (typical / scale) if tpm and typical else 0.0,
        )
        state["tokens"] = tokens
        _trace(state, tokens)

    if rate is not None and rate.search.limited:
        state["retry_after"] = await checks.retry_after_checks(prober, small)
        sustainable = rate.search.sustainable
        state["headers_requests"] = await checks.reset_and_remaining(prober, small, sustainable, 1)
        if sustainable:
            state["burst_recovery_s"] = await checks.burst_recovery(prober, small, sustainable)
    if tokens is not None and tokens.search.limited:
        state["headers_tokens"] = await checks.reset_and_remaining(
            prober, large, tokens.search.sustainable, tokens.tokens_per_request
        )


async def _wait_for_full_requests_budget(prober: Prober, small: RequestKind) -> None:
    """The requests search leaves that budget empty; the tokens search must not be throttled
    by it, so wait until it is full again (its advertised reset)."""
    prober.phase("tokens: wait for the requests budget")
    record = await prober.send(small)
    reset = record.ratelimit_reset_requests_s
    if reset:
        await anyio.sleep(reset * 1.02)


def _trace(state: dict[str, Any], result: checks.RateResult) -> None:
    scale = result.tokens_per_request if result.dimension == "tokens" else 1.0
    state.setdefault("trials", {})[result.dimension] = [
        Trial(per_min=rate * 60 * scale, limited=hit) for rate, hit in result.search.trials
    ]
    state.setdefault("burst_accepted", {})[result.dimension] = result.burst_accepted


def _findings(state: dict[str, Any]) -> list[Finding]:
    known, rpm, tpm = state.get("documented", (False, None, None))
    ceilings = state.get("ceilings", {})
    findings = []
    for dim, documented, unit in (("requests", rpm, "requests/min"), ("tokens", tpm, "tokens/min")):
        if dim not in state.get("dimensions", (dim,)):
            continue
        result = state.get(dim)
        if result is None:
            detail = "not measured (the probe stopped first)"
            findings.append(
                Finding(f"sustainable {unit}", None, documented, unit, "unknown", detail, 0)
            )
            continue
        ceiling = ceilings.get(dim, 0.0) * 60  # per target second -> per minute
        findings.append(
            rate_finding(
                f"sustainable {unit}",
                result.per_minute,
                result.search.limited,
                documented,
                known,
                ceiling,
                result.n,
                unit,
            )
        )
    if "retry_after" in state:
        findings += retry_after_finding(*state["retry_after"])
    for dim in ("requests", "tokens"):
        header = state.get(f"headers_{dim}")
        if header is not None:
            findings.append(reset_finding(dim, header.limit, header.accepted, header.waited_s))
            findings.append(
                remaining_finding(dim, header.limit, header.remaining_errors, header.in_flight)
            )
    recovery = state.get("burst_recovery_s")
    if "headers_requests" in state:
        verdict = "unknown" if recovery is None else ("pass" if recovery <= 60 else "fail")
        detail = (
            "sending at 90% of the sustainable rate right after exhausting the budget: "
            + ("never accepted three in a row" if recovery is None else f"{recovery:.2f} s until "
               "three in a row were accepted (a per-minute window allows at most 60 s)")
        )  # fmt: skip
        findings.append(Finding("burst recovery", recovery, 60.0, "s", verdict, detail, 0))
    return findings
