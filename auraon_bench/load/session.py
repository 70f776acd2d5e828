"""One load test from options to a finished run directory: the library side of ``load``.

Resolves the target (embedded emulator by default), checks it before any load is sent (reachable,
key accepted, every arm in its model list: :mod:`auraon_bench.load.preflight`), guards the money
(the estimate of :mod:`auraon_bench.prices.estimate`, confirmed against a real target), runs the
schedule with the runner, streams records to Parquet, judges whether the client kept up, and
writes the manifest and the summary. The CLI only parses flags and prints.

Ctrl-C and SIGTERM from the start of the load to the end of the ``after`` hook: the first stops
new sends and gives what is in flight (or the hook) ``grace_s``, the second ends the grace at once
(:class:`~auraon_bench.load.signals.Interrupts`); records flushed, manifest ``interrupted``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import anyio
import orjson

from auraon_bench.analysis.load_summary import (
    INPUT_COLUMNS,
    RunSummary,
    summarize_run,
)
from auraon_bench.client.http import MeasuringClient, Timeouts
from auraon_bench.client.listing import ModelListing
from auraon_bench.client.transport import Transport
from auraon_bench.data.lengths import LengthSpec
from auraon_bench.data.prompts import Prompt
from auraon_bench.data.replay import ReplayFile
from auraon_bench.data.tokenizers import DEFAULT_ENCODING
from auraon_bench.errors import ConfigError
from auraon_bench.load.arrivals import ScheduleSpec
from auraon_bench.load.live import LiveStats
from auraon_bench.load.pool import Executor, LocalExecutor, WorkerPool
from auraon_bench.load.preflight import (
    ExtraRequests,
    confirm_text,
    cost_section,
    estimate_load,
    price_table,
    require_listed,
)
from auraon_bench.load.retry import RetryPolicy
from auraon_bench.load.runner import GRACE_S, LoadRunner, RunnerConfig
from auraon_bench.load.selfcheck import judge_client, worker_health
from auraon_bench.load.signals import Interrupts, signal_handlers_kept
from auraon_bench.load.split import PROCESS_MAX_IN_FLIGHT, Shard, check_workers, concurrency_warning
from auraon_bench.load.target import Target, open_target
from auraon_bench.load.traffic import (
    discounts_for,
    load_prompts,
    options_record,
    sent_models,
)
from auraon_bench.load.worker import WorkerJob, answer_handling, schedules_for, write_batch
from auraon_bench.observe.telemetry import active as active_telemetry
from auraon_bench.prices.estimate import CostEstimate
from auraon_bench.prices.table import PriceTable
from auraon_bench.results.labels import simulated_warning
from auraon_bench.results.layout import PARTS_DIR
from auraon_bench.results.manifest import Manifest, new_run_dir
from auraon_bench.results.reader import read_compact
from auraon_bench.results.sink import RecordSink, ResultsWriteError


@dataclass(frozen=True)
class LoadOptions:
    arms: tuple[str, ...]
    spec: ScheduleSpec
    stream: bool = True
    datasets: tuple[str, ...] = ()
    items_per_dataset: int | None = None  # a seeded sample of N items of each dataset file
    keep_text: bool = False  # keep answers (evaluations grade them)
    repeat: int = 0  # > 0: paired design, every arm on every prompt this many times
    input_tokens: int | LengthSpec = 128  # per prompt, or per new user message of a turn
    output_tokens: int | LengthSpec | None = 64
    tokenizer: str = DEFAULT_ENCODING  # what synthetic prompts are sized in
    turns: int | LengthSpec = 1  # > 1: conversations; rate and concurrency count them
    think_time: float | LengthSpec | None = None  # s between an answer and the next turn
    shared_prefix_tokens: int = 0  # a system prompt of this many tokens, shared ...
    prefix_groups: int = 1  # ... by the prompts of each of this many groups
    replay: ReplayFile | None = None  # recorded request bodies, sent as they are
    replay_speed: float = 1.0  # a timed replay's pace: 2 sends twice as fast
    pin_output: bool | None = None  # None: on for the embedded emulator only
    n_prompts: int = 256
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    timeouts: Timeouts = field(default_factory=Timeouts)
    max_cost_usd: float | None = None
    grace_s: float = GRACE_S  # after a stop, how long requests in flight may finish
    out: Path | None = None
    results_dir: Path = Path("results")
    base_url: str | None = None
    api_key: str | None = None
    plan: str = "enterprise"
    time_scale: float = 1.0
    catalog: str | None = None  # embedded emulator only: a catalog overlay (e.g. a fitted twin)
    command: Sequence[str] = ()
    extra: dict[str, Any] = field(default_factory=dict)
    workers: int = 1  # load-generating processes sharing the schedule
    executor: str = "local"  # where workers run: "local" processes or "ray"
    ray_address: str | None = None  # an existing Ray cluster ("auto", "ray://host:10001")
    allow_unlisted_models: bool = False  # arms the target's /models lacks: warn, do not refuse
    prices_file: str | None = None  # --prices FILE: prices that win over genai-prices
    # The target's model list when the caller already read it (an experiment reads it once for
    # all its parts); None: read here, before anything is sent.
    listing: ModelListing | None = None


# Runs after the load, with the run's client and the target still open: (client, run_dir).
AfterHook = Callable[[MeasuringClient, Path], Awaitable[Any]]


@dataclass
class LoadResult:
    run_dir: Path
    target: Target
    stats: LiveStats
    status: str
    self_check: dict[str, Any]
    warnings: list[str]
    estimated_cost_usd: float | None
    summary: RunSummary
    after: Any = None  # what the ``after`` hook returned
    estimate: CostEstimate | None = None  # the money guard's estimate, with its basis
    price_source: str = ""  # where price_table costs came from (genai-prices, a file)


def run_load(
    options: LoadOptions,
    *,
    confirm: Callable[[str], bool] = lambda _: True,
    on_start: Callable[[LoadRunner, Target, Path], None] | None = None,
    on_tick: Callable[[LoadRunner], None] | None = None,
    after: AfterHook | None = None,
    target: Target | None = None,
    transport: Transport | None = None,
    extra: ExtraRequests | None = None,
) -> LoadResult:
    """Run one load test to completion (or interruption). Blocking.

    ``target``: an already open target (an experiment's parts share one); by default the
    options' URL and key, or a fresh embedded emulator. ``transport``: the HTTP layer under the
    measuring client (default: aiohttp with the options' timeouts). ``extra``: requests sent
    besides the load (checked and estimated with it)."""
    if options.workers > 1:
        if active_telemetry() is not None:
            raise ConfigError(
                "--metrics-port and --otel-* export one process's records: use --workers 1",
                field="--workers",
            )
        try:
            check_workers(options.workers, options.spec)
        except ValueError as exc:
            raise ConfigError(str(exc), field="--workers") from None
    prices = price_table(options.prices_file)  # a bad file fails here, first
    hooks = (confirm, on_start, on_tick, after, transport, extra)
    if target is not None:
        return _run_on(options, target, prices, *hooks)
    with open_target(
        options.base_url,
        options.api_key,
        plan=options.plan,
        time_scale=options.time_scale,
        seed=options.spec.seed,
        datasets=options.datasets,
        catalog=options.catalog,
    ) as opened:
        return _run_on(options, opened, prices, *hooks)


def _run_on(
    options: LoadOptions,
    target: Target,
    prices: PriceTable,
    confirm: Callable[[str], bool],
    on_start: Callable[..., None] | None,
    on_tick: Callable[[LoadRunner], None] | None,
    after: AfterHook | None,
    transport: Transport | None,
    extra: ExtraRequests | None,
) -> LoadResult:
    prompts = load_prompts(options, target.simulated)
    with signal_handlers_kept():
        return anyio.run(
            _execute,
            options,
            target,
            prompts,
            prices,
            confirm,
            on_start,
            on_tick,
            after,
            transport,
            extra,
            backend_options={"use_uvloop": _has_uvloop()},
        )


async def _execute(
    options: LoadOptions,
    target: Target,
    prompts: list[Prompt],
    prices: PriceTable,
    confirm: Callable[[str], bool],
    on_start: Callable[..., None] | None,
    on_tick: Callable[[LoadRunner], None] | None,
    after: AfterHook | None,
    transport: Transport | None,
    extra: ExtraRequests | None,
) -> LoadResult:
    client = MeasuringClient(
        target.base_url,
        target.api_key,
        timeouts=options.timeouts,
        prices=prices,
        keep_text=answer_handling(options.keep_text, prompts)[0],
        max_connections=PROCESS_MAX_IN_FLIGHT,
        transport=transport,
    )
    async with client:
        # Before any file is written or load is sent: reachable, key accepted, arms served.
        listing = options.listing or await client.list_models()
        preflight = list(
            require_listed(
                listing,
                sent_models(options),
                options.allow_unlisted_models,
                base_url=target.base_url,
            )
        )
        if extra is not None:
            preflight += require_listed(
                listing,
                extra.models,
                options.allow_unlisted_models,
                base_url=target.base_url,
                field=extra.field,
            )
        capped = concurrency_warning(options.spec, options.workers)
        if capped is not None:
            preflight.append(capped)
        estimate = estimate_load(
            options,
            prompts,
            prices,
            listing,
            emulator=target.simulated,
            extra=extra.demand if extra is not None else None,
        )
        if not target.simulated and not confirm(
            confirm_text(options.max_cost_usd, target.base_url, estimate)
        ):
            raise ConfigError("aborted before sending any request", field="--yes")
        run_id, run_dir = new_run_dir(options.out, options.results_dir)
        sink = RecordSink(run_dir)
        cost = cost_section(options.max_cost_usd, estimate, prices)
        manifest = Manifest.create(
            run_dir,
            run_id,
            list(options.command),
            target={**target.describe(), "models": listing.describe()},
            status="running",
            options=options_record(options),
            cost=cost,
            warnings=preflight,
        )
        runner, run = _engine(options, target, prompts, client, sink, run_id)
        if on_start:
            on_start(runner, target, run_dir)
        interrupts = Interrupts(runner, options.grace_s)
        after_result = failure = None
        async with anyio.create_task_group() as group:
            group.start_soon(interrupts.watch)
            if on_tick:
                group.start_soon(_tick, runner, on_tick)
            try:
                await run()
            except BaseException:
                # What was flushed stays readable; the manifest says the run failed.
                manifest.update(status="failed", counts={"records": runner.stats.records})
                raise
            cpu = runner.cpu_share()  # of the load itself, before compaction and analysis
            try:
                await anyio.to_thread.run_sync(_close_or_explain, sink, runner, manifest)
                # With the client still open and the target still up.
                if after is not None:
                    after_result = await interrupts.cut_short(lambda: after(client, run_dir))
            except Exception as exc:  # raised as itself below, not inside the group's
                failure = exc
            group.cancel_scope.cancel()
        if failure is not None:
            raise failure
    interrupted = runner.interrupted or runner.stop_reason == "interrupted"
    status = "interrupted" if interrupted else "complete"
    manifest.update(
        status=status,
        counts={
            "records": runner.stats.records,
            **dict(runner.stats.statuses),
            "cancelled_in_flight": runner.cancelled_in_flight,
        },
    )
    # Non-streamed runs have no content events: skip their columns (gaps are a list per row;
    # a million-request run reads every column it keeps into memory at once).
    columns = [c for c in INPUT_COLUMNS if options.stream or c not in STREAM_ONLY_COLUMNS]
    records = read_compact(run_dir, columns)
    summary = summarize_run(records, discounts=discounts_for(records, target, prices))
    manifest.update(
        cost={
            **cost,
            # What --max-cost counted: every attempt, warm-up included (it was paid for).
            "spent_usd": runner.stats.cost_usd,
            # The summary's figure: non-warm-up attempts, as every statistic.
            "measured_usd": summary.overall.cost.total_usd,
            "stopped_by_cost": runner.stop_reason == "max_cost",
        },
    )
    check, warnings = judge_client(summary.overall, options.spec, cpu)
    warnings = preflight + warnings
    if isinstance(runner, WorkerPool):
        health, worker_warnings = worker_health(
            run_dir, runner.reports, runner.failures, options.spec
        )
        check = {**check, "executor": options.executor, "workers": health}
        check["kept_schedule"] = check["kept_schedule"] and all(w["kept_schedule"] for w in health)
        check["client_bound"] = not check["kept_schedule"]
        warnings.extend(worker_warnings)
        if runner.failures:
            status = "failed"
            manifest.update(status=status, error="; ".join(runner.failures))
    if target.simulated:
        warnings.insert(0, simulated_warning(target.twin_of))
    how = {"stop_reason": runner.stop_reason, "closed_loop_workers": runner.closed_loop_workers}
    manifest.update(self_check={**check, **how}, warnings=warnings)
    summary = replace(
        summary,
        simulated=target.simulated,
        status=status,
        self_check=check,
        warnings=tuple(warnings),
    )
    write_json(run_dir / "summary.json", summary.to_dict())
    return LoadResult(
        run_dir,
        target,
        runner.stats,
        status,
        check,
        warnings,
        estimate.total_usd,
        summary,
        after_result,
        estimate,
        prices.source,
    )


STREAM_ONLY_COLUMNS = ("itl_s", "ttlt_s", "t_last_token")


async def _tick(runner: LoadRunner, on_tick: Callable[[LoadRunner], None]) -> None:
    while True:
        on_tick(runner)
        await anyio.sleep(0.5)


def _engine(
    options: LoadOptions,
    target: Target,
    prompts: list[Prompt],
    client: MeasuringClient,
    sink: RecordSink,
    run_id: str,
) -> tuple[LoadRunner | WorkerPool, Callable[[], Awaitable[Any]]]:
    """What sends the load: this process's runner, or a pool of worker processes each running
    the same runner on its share of the schedule (``options.workers`` > 1)."""
    if options.workers > 1:
        jobs = [
            WorkerJob(
                Shard(i, options.workers),
                run_id,
                sink.run_dir,
                target.base_url,
                target.api_key,
                replace(options, command=()),
                tuple(prompts),
                client.prices,
            )
            for i in range(options.workers)
        ]
        pool = WorkerPool(jobs, make_executor(options), max_cost_usd=options.max_cost_usd)
        return pool, lambda: pool.run(sink.run_dir / PARTS_DIR)
    config = RunnerConfig(
        run_id=run_id,
        prompts=prompts,
        stream=options.stream,
        retry=options.retry,
        max_concurrency=options.spec.max_concurrency,
        max_cost_usd=options.max_cost_usd,
        duration_s=options.spec.duration,
        grace_s=options.grace_s,
        seed=options.spec.seed,
        think_time=options.think_time,
        drop_answers=answer_handling(options.keep_text, prompts)[1],
    )
    runner = LoadRunner(client, config, lambda batch: write_batch(sink, batch))
    telemetry = active_telemetry()
    if telemetry is not None:
        telemetry.watch(lambda: runner.stats.in_flight, client.t0_ns)
    return runner, lambda: runner.run(schedules_for(options, len(prompts)))


def make_executor(options: LoadOptions) -> Executor:
    if options.executor == "ray":
        from auraon_bench.load.ray_executor import RayExecutor

        return RayExecutor(options.ray_address)
    return LocalExecutor(use_uvloop=_has_uvloop())


def _close_or_explain(
    sink: RecordSink, runner: LoadRunner | WorkerPool, manifest: Manifest
) -> None:
    """Close the sink (a last try at writing what failed before); if the results cannot be
    written, say exactly how many records were saved and how many were lost."""
    try:
        sink.close()
        if runner.write_error is None:
            return
        error = runner.write_error  # a later try succeeded: nothing lost, but the run stopped
        note = f"the run stopped early; all {sink.rows_written:,} measured records were saved"
    except ResultsWriteError as exc:
        error = exc
        note = (
            f"{sink.rows_buffered:,} measured records could not be saved; "
            f"{sink.rows_written:,} are in {sink.run_dir}"
        )
    explained = error.noting(note) if isinstance(error, ResultsWriteError) else error
    with contextlib.suppress(OSError):  # the manifest may be on the same full disk
        manifest.update(
            status="failed",
            error=str(explained),
            counts={"records": runner.stats.records, "unsaved": sink.rows_buffered},
        )
    raise explained


def write_json(path: Path, payload: Any) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(orjson.dumps(payload, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY))
    tmp.replace(path)


def _has_uvloop() -> bool:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True
