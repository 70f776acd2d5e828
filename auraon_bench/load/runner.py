"""Executes precomputed schedules against a target with structured concurrency.

One task group per stage: an open-loop *pacer* sleeps until each scheduled send time and starts a
request task (so a slow target never delays the schedule, it shows up as latency), or a closed
loop of ``concurrency`` workers sends back to back. Every attempt's record goes through a bounded
memory stream to one *writer* task, which hands full batches to the sink in a worker thread (so
Parquet writing never stalls the event loop) and keeps the live counters; a batch that cannot be
written stops the run (``write_error``) rather than measuring what cannot be kept. Stopping (Ctrl-C,
SIGTERM, the money guard) stops new sends at once, lets in-flight requests finish for a grace
period, then cancels the rest; every completed record is kept.
"""

from __future__ import annotations

import gc
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import anyio
from anyio.abc import ObjectReceiveStream, ObjectSendStream

from auraon_bench.client.http import NS, MeasuringClient
from auraon_bench.client.wire import chat_body
from auraon_bench.data.prompts import Prompt
from auraon_bench.errors import AuraonBenchError
from auraon_bench.load.arrivals import Schedule, ScheduledRequest
from auraon_bench.load.live import LiveStats
from auraon_bench.load.retry import RetryPolicy
from auraon_bench.load.split import Shard, with_id_offsets
from auraon_bench.results.schema import RequestRecord


@dataclass(frozen=True)
class RunnerConfig:
    run_id: str
    prompts: Sequence[Prompt]
    stream: bool = True
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    max_concurrency: int | None = None
    max_cost_usd: float | None = None
    duration_s: float | None = None  # hard stop for closed loops (open loops carry their own)
    grace_s: float = 5.0
    batch_rows: int = 2000
    flush_interval_s: float = 2.0
    stream_buffer: int = 8192
    seed: int = 0
    shard: Shard = field(default_factory=Shard)  # this process's share of every schedule
    # Awaited before each stage (its number); returns the stage's start in perf_counter ns.
    # Worker processes use it to start every stage together; alone, a stage starts at once.
    stage_start: Callable[[int], Awaitable[int]] | None = None


class LoadRunner:
    def __init__(
        self,
        client: MeasuringClient,
        config: RunnerConfig,
        write_batch: Callable[[list[RequestRecord]], None],
    ) -> None:
        self.client = client
        self.config = config
        self.write_batch = write_batch
        self.stats = LiveStats()
        self.stop_reason: str | None = None
        self._stopping = anyio.Event()  # constructed inside the event loop, as anyio requires
        self._drained = anyio.Event()
        self._stage_scope: anyio.CancelScope | None = None
        self._bodies: dict[tuple[str, int], bytes] = {}
        self._rng = random.Random(config.seed)
        self._limiter = (
            anyio.CapacityLimiter(config.max_concurrency) if config.max_concurrency else None
        )
        self.cancelled_in_flight = 0
        self.write_error: AuraonBenchError | None = None

    # -- control ---------------------------------------------------------------------------
    def cpu_share(self) -> float:
        """This process's CPU time over the run's wall time (1.0 = one core busy)."""
        return self.stats.cpu_share()

    def stop(self, reason: str) -> None:
        """Stop sending new requests; in-flight ones get ``grace_s`` to finish."""
        if self.stop_reason is None:
            self.stop_reason = reason
            self._stopping.set()

    async def _cancel_after_grace(self) -> None:
        await self._stopping.wait()
        await anyio.sleep(self.config.grace_s)
        if self._stage_scope is not None:
            self.cancelled_in_flight = self.stats.in_flight
            self._stage_scope.cancel()

    # -- the run ---------------------------------------------------------------------------
    async def run(self, schedules: Iterable[Schedule]) -> LiveStats:
        # Everything alive before the load (libraries, prompts, bodies' sources) stays alive:
        # a full collection that walks it all pauses the loop for tens of ms, and every request
        # due meanwhile is sent late. Frozen objects are skipped by the collector for the run.
        gc.collect()
        gc.freeze()
        try:
            return await self._run(schedules)
        finally:
            gc.unfreeze()

    async def _run(self, schedules: Iterable[Schedule]) -> LiveStats:
        send, receive = anyio.create_memory_object_stream[RequestRecord](self.config.stream_buffer)
        async with anyio.create_task_group() as group:
            group.start_soon(self._writer, receive)
            group.start_soon(self._cancel_after_grace)
            async with send:
                for schedule, first_id in with_id_offsets(schedules):
                    if self.stop_reason:
                        break
                    await self._run_stage(schedule, first_id, send)
            await self._drained.wait()
            group.cancel_scope.cancel()  # only the grace watcher is left
        return self.stats

    async def _run_stage(
        self, schedule: Schedule, first_id: int, send: ObjectSendStream[RequestRecord]
    ) -> None:
        start = self.config.stage_start
        stage_t0 = await start(schedule.stage) if start else time.perf_counter_ns()
        shard = self.config.shard
        requests = shard.requests(schedule.iter_requests())
        with anyio.CancelScope() as scope:
            self._stage_scope = scope
            async with anyio.create_task_group() as group:
                if schedule.is_closed_loop:
                    deadline = (
                        stage_t0 + int(self.config.duration_s * NS)
                        if self.config.duration_s
                        else None
                    )
                    warmup_ns = int(schedule.spec.warmup_seconds * NS)
                    for _ in range(shard.concurrency(schedule.concurrency or 1)):
                        group.start_soon(
                            self._worker, requests, first_id, stage_t0, warmup_ns, deadline, send
                        )
                else:
                    await self._pace(requests, first_id, stage_t0, group, send)
        self._stage_scope = None

    async def _pace(
        self,
        requests: Iterator[ScheduledRequest],
        first_id: int,
        stage_t0: int,
        group: anyio.abc.TaskGroup,
        send: ObjectSendStream[RequestRecord],
    ) -> None:
        for request in requests:
            target = stage_t0 + int(request.offset_s * NS)
            delay = (target - time.perf_counter_ns()) / NS
            if delay > 0:
                await anyio.sleep(delay)
            if self.stop_reason:
                return
            group.start_soon(self._request, request, first_id, target, send)

    async def _worker(
        self,
        requests: Iterator[ScheduledRequest],
        first_id: int,
        stage_t0: int,
        warmup_ns: int,
        deadline: int | None,
        send: ObjectSendStream[RequestRecord],
    ) -> None:
        for request in requests:
            now = time.perf_counter_ns()
            if self.stop_reason or (deadline is not None and now >= deadline):
                return
            # A closed loop has no send offsets to mark in advance: the first warmup_seconds
            # are known only as the requests go out.
            if not request.warmup and now - stage_t0 < warmup_ns:
                request = request._replace(warmup=True)
            await self._request(request, first_id, now, send)

    async def _request(
        self,
        request: ScheduledRequest,
        first_id: int,
        t_scheduled_ns: int,
        send: ObjectSendStream[RequestRecord],
    ) -> None:
        prompt = self.config.prompts[request.prompt_index]
        body = self._body(request.arm, request.prompt_index, prompt)
        request_id = first_id + request.index
        attempt = 1
        self.stats.in_flight += 1
        try:
            while True:
                record = RequestRecord(
                    run_id=self.config.run_id,
                    arm=request.arm,
                    status="ok",
                    attempt=attempt,
                    request_id=request_id,
                    prompt_id=prompt.id,
                    category=prompt.category,
                    stage=request.stage,
                    warmup=request.warmup,
                    worker=self.config.shard.index,
                    model_requested=request.arm,
                    t_scheduled=self.client.seconds(t_scheduled_ns),
                )
                if self._limiter is not None:
                    async with self._limiter:
                        if self.stop_reason:  # queued behind the cap while the run stopped
                            return
                        await self.client.chat(body, record, stream=self.config.stream)
                else:
                    await self.client.chat(body, record, stream=self.config.stream)
                await send.send(record)
                delay = self.config.retry.next_delay(
                    attempt, record.status, record.http_status, record.retry_after_s, self._rng
                )
                if delay is None or self.stop_reason:
                    return
                await anyio.sleep(delay)
                if self.stop_reason:
                    return
                attempt += 1
                t_scheduled_ns = time.perf_counter_ns()
        finally:
            self.stats.in_flight -= 1

    def _body(self, arm: str, index: int, prompt: Prompt) -> bytes:
        key = (arm, index)
        body = self._bodies.get(key)
        if body is None:
            body = self._bodies[key] = chat_body(
                arm,
                prompt.messages,
                stream=self.config.stream,
                max_tokens=prompt.max_tokens,
                extra=prompt.extra,
            )
        return body

    # -- records ---------------------------------------------------------------------------
    async def _writer(self, receive: ObjectReceiveStream[RequestRecord]) -> None:
        """Drain whatever has arrived without a timer per record; wait with a deadline only
        when the stream is empty, so an idle run still flushes every ``flush_interval_s``."""
        batch: list[RequestRecord] = []
        last_flush = time.monotonic()
        interval = self.config.flush_interval_s
        ended = False
        async with receive:
            while not ended:
                record = None
                try:
                    record = receive.receive_nowait()
                except anyio.WouldBlock:
                    with anyio.move_on_after(interval):
                        try:
                            record = await receive.receive()
                        except anyio.EndOfStream:
                            ended = True
                except anyio.EndOfStream:
                    ended = True
                if record is not None:
                    self._observe(record)
                    batch.append(record)
                now = time.monotonic()
                if batch and (
                    ended or len(batch) >= self.config.batch_rows or now - last_flush >= interval
                ):
                    try:
                        await anyio.to_thread.run_sync(self.write_batch, batch)
                    except AuraonBenchError as exc:
                        # The disk is full or gone: sending more would measure what cannot be
                        # kept. Stop; the writer keeps what it could not write for the caller.
                        if self.write_error is None:
                            self.write_error = exc
                        self.stop("write_failed")
                    batch = []
                    last_flush = time.monotonic()
        self._drained.set()

    def _observe(self, record: RequestRecord) -> None:
        self.stats.observe(record)
        limit = self.config.max_cost_usd
        if limit is not None and self.stats.cost_usd >= limit:
            self.stop("max_cost")
