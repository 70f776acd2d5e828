"""``limits`` from options to a run directory: records, manifest and ``limits.json``.

What is measured, in which order, is :mod:`auraon_bench.limits.measure`. A probe that stops at
its own cap, or at a warning sign (a target unwell, a key shared), has **completed**: the stop
reason is written and the findings it could not reach are "unknown". Only the user stops it
short (Ctrl-C or SIGTERM): then it is **interrupted**, what was measured is still written, and
the command exits 130.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

from auraon_bench.analysis.limits import Finding, LimitsSummary
from auraon_bench.catalog import Price, PriceTable
from auraon_bench.client.http import MeasuringClient, Timeouts
from auraon_bench.errors import ConfigError
from auraon_bench.limits.measure import findings, limiter_findings, measure, plan_from_headers
from auraon_bench.limits.prober import Caps, Prober, ProbeStopped
from auraon_bench.load.preflight import require_listed
from auraon_bench.load.session import write_json
from auraon_bench.load.target import Target, open_target
from auraon_bench.observe.telemetry import active as active_telemetry
from auraon_bench.results.labels import simulated_warning
from auraon_bench.results.manifest import Manifest, new_run_dir
from auraon_bench.results.sink import RecordSink

__all__ = [
    "LimitsOptions",
    "LimitsResult",
    "estimate",
    "plan_from_headers",
    "run_limits",
    "token_cap_cost",
]

LIMITS_FILE = "limits.json"
FLUSH_INTERVAL_S = 1.0
INTERRUPTED = "interrupted by the user (Ctrl-C or SIGTERM)"


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
    allow_unlisted_models: bool = False  # probe a model the target's /models does not list


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
        """``complete`` (also when the probe stopped at its own cap) or ``interrupted``."""
        return self.summary.status

    @property
    def warnings(self) -> list[str]:
        return list(self.summary.warnings)


def estimate(options: LimitsOptions, prices: PriceTable) -> tuple[int, int, float | None]:
    """The probe's caps and what they could cost at most: every capped token at the model's
    dearer rate. ``None`` when the model has no known price (no price is invented)."""
    price = prices.lookup(options.model)
    caps = options.caps
    if price is None:
        return caps.max_requests, caps.max_tokens, None
    return caps.max_requests, caps.max_tokens, token_cap_cost(caps.max_tokens, price)


def token_cap_cost(max_tokens: int, price: Price) -> float:
    """What a probe's token cap can cost at most: every token at the dearer rate."""
    return max_tokens * max(price.input_per_mtok, price.output_per_mtok) / 1e6


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
        prices = PriceTable.builtin()
        n, tokens, usd = estimate(options, prices)
        cost = (
            f"estimated cost up to ${usd:.4f} (every token at the dearer rate of "
            f"{options.model}, {prices.source})"
            if usd is not None
            else f"cost cannot be estimated: no price for {options.model} in {prices.source}"
        )
        if not confirm(
            f"probing {target.base_url} with {options.model}: at most {n} requests and "
            f"{tokens:,} tokens; {cost}"
        ):
            raise ConfigError("aborted before sending any request", field="--yes")
    return anyio.run(_probe, options, target, on_phase)


async def _probe(
    options: LimitsOptions, target: Target, on_phase: Callable[[str], None] | None
) -> LimitsResult:
    scale = target.time_scale if target.simulated and target.time_scale else 1.0
    client = MeasuringClient(target.base_url, target.api_key, timeouts=options.timeouts)
    interrupted = anyio.Event()
    async with client:
        listing = await client.list_models()  # before anything is written or sent
        preflight = require_listed(
            listing, [options.model], options.allow_unlisted_models, base_url=target.base_url
        )
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
        telemetry = active_telemetry()
        if telemetry is not None:  # the probe keeps no in-flight count: sent minus recorded
            telemetry.watch(lambda: prober.requests - prober.recorded, client.t0_ns)
        if on_phase is not None:
            original = prober.phase

            def phase(name: str) -> None:
                original(name)
                on_phase(name)

            prober.phase = phase  # type: ignore[method-assign]
        state: dict[str, Any] = {}
        try:
            async with anyio.create_task_group() as group:
                group.start_soon(_flush_every, pending, sink)
                group.start_soon(_stop_on_signal, group.cancel_scope, interrupted)
                try:
                    await measure(prober, options, state)
                finally:
                    group.cancel_scope.cancel()
        except* ProbeStopped:  # raised inside task groups: it arrives wrapped
            pass  # the prober holds the reason; a probe stopped by its own cap has completed
        finally:
            await anyio.to_thread.run_sync(_flush, pending, sink)
            await anyio.to_thread.run_sync(sink.close)
    if interrupted.is_set():
        prober.stop_reason = INTERRUPTED
    status = "interrupted" if interrupted.is_set() else "complete"
    warnings = (
        [simulated_warning(target.twin_of)] if target.simulated else []
    )
    warnings += preflight
    if prober.stop_reason:
        warnings.append(f"PROBE STOPPED EARLY: {prober.stop_reason}")
    found = findings(state)
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
        findings=tuple(found),
        trials={k: tuple(v) for k, v in state.get("trials", {}).items()},
        burst_accepted=dict(state.get("burst_accepted", {})),
        burst_recovery_s=state.get("burst_recovery_s"),
        warnings=tuple(warnings),
        limiters=limiter_findings(state),
        status=status,
    )
    write_json(run_dir / LIMITS_FILE, summary.to_dict())
    counts = {"records": prober.recorded, "cancelled_in_flight": prober.requests - prober.recorded}
    manifest.update(status=status, warnings=warnings, counts=counts)
    return LimitsResult(
        run_dir, target, state.get("plan"), found, prober.stop_reason, prober.requests, summary
    )


async def _stop_on_signal(scope: anyio.CancelScope, interrupted: anyio.Event) -> None:
    """Ctrl-C or SIGTERM ends the measurements, not the process: what was measured is written.
    Signals can only be received on the main thread; elsewhere (an embedder's worker thread)
    the default handling stays."""
    try:
        receiver = anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM)
        with receiver as signals:
            async for _ in signals:
                interrupted.set()
                scope.cancel()
                return
    except (RuntimeError, ValueError, NotImplementedError):
        await anyio.sleep_forever()


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
