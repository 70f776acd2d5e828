"""Executes precomputed schedules against a target with structured concurrency.

One task group per stage: an open-loop *pacer* sleeps until each scheduled send time and starts a
request task (so a slow target never delays the schedule, it shows up as latency), or a closed
loop of workers sends back to back (``concurrency`` of them, never more than there are requests
to send: :func:`~auraon_bench.load.split.closed_loop_workers`). With ``max_concurrency`` the pacer
takes a slot before it starts a request's task, so requests due while the cap is full wait in the
pacer (and are sent late, which their schedule lag shows) instead of piling up as tasks.

A scheduled request whose prompt has follow-up turns is a *conversation*: its task sends turn 1,
and each later turn ``think_time`` after the previous answer arrived, the answers carried into
the history, so one schedule entry becomes up to ``turns`` logical requests (ids
``session_id * TURN_STRIDE + turn - 1``) and a closed loop's ``concurrency`` counts
conversations. A replayed prompt (``Prompt.body``) is sent as recorded, the arm's model put in
(the ``recorded`` arm keeps the body's own), streamed or not as the body asks.

Every attempt's record goes through a bounded memory stream to one *writer* task, which hands
full batches to the sink in a worker thread (so Parquet writing never stalls the event loop) and
keeps the live counters; a batch that cannot be written stops the run (``write_error``) rather
than measuring what cannot be kept.

Stopping (Ctrl-C, SIGTERM, the money guard) stops new sends at once and lets requests in flight
finish for ``grace_s``; :meth:`LoadRunner.hurry` (a second Ctrl-C) ends the grace at once. Those
still in flight then are cancelled and recorded with status ``cancelled``: they were sent and may
be billed, so they are kept, with their send time, what the client had seen of the answer, and
``t_done`` at the cancel. Every completed record is kept.
"""

from __future__ import annotations

import contextlib
import gc
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio
import numpy as np
from anyio.abc import ObjectReceiveStream, ObjectSendStream

from auraon_bench.client.http import NS, MeasuringClient
from auraon_bench.client.wire import chat_body
from auraon_bench.data.prompts import Lengths, Prompt, turn_messages
from auraon_bench.data.replay import RECORDED_ARM, body_for_arm, replay_stream
from auraon_bench.errors import AuraonBenchError
from auraon_bench.load.arrivals import Schedule, ScheduledRequest
from auraon_bench.load.live import InterruptibleRun, LiveStats
from auraon_bench.load.retry import RetryPolicy
from auraon_bench.load.split import Shard, closed_loop_workers, with_id_offsets
from auraon_bench.results.schema import TURN_STRIDE, RequestRecord

GRACE_S = 5.0  # how long requests in flight may finish after a stop
# Pauses shorter than this are plain sleeps: a stop waits for them, and the pacer's hot path
# stays free of a cancel scope per request.
SHORT_PAUSE_S = 0.05


@dataclass(frozen=True)
class RunnerConfig:
    run_id: str
    prompts: Sequence[Prompt]
    stream: bool = True
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    max_concurrency: int | None = None
    max_cost_usd: float | None = None
    duration_s: float | None = None  # hard stop for closed loops (open loops carry their own)
    grace_s: float = GRACE_S
    batch_rows: int = 2000
    flush_interval_s: float = 2.0
    stream_buffer: int = 8192
    seed: int = 0
    shard: Shard = field(default_factory=Shard)  # this process's share of every schedule
    # Awaited before each stage (its number); returns the stage's start in perf_counter ns.
    # Worker processes use it to start every stage together; alone, a stage starts at once.
    stage_start: Callable[[int], Awaitable[int]] | None = None
    # Seconds between an answer and a conversation's next turn: a constant or a distribution.
    think_time: float | Lengths | None = None
    # The client keeps answers for conversations' histories; records keep them only if asked.
    drop_answers: bool = False


class LoadRunner(InterruptibleRun):
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
        self._conversations = any(p.follow_ups for p in config.prompts)
        self._np_rng = np.random.default_rng([config.seed, config.shard.index, 7])
        self._limiter = (
            anyio.CapacityLimiter(config.max_concurrency) if config.max_concurrency else None
        )
        self.write_error: AuraonBenchError | None = None
        self.interrupted = False  # a Ctrl-C or SIGTERM arrived, whatever stopped the run first
        self.cancelled_in_flight = 0  # attempts cut at the end of the grace (status cancelled)
        self.closed_loop_workers = 0  # the most closed-loop workers one stage ran
        self._hurried = anyio.Event()
        self._cut: str | None = None  # why requests still in flight were cancelled

    # -- control ---------------------------------------------------------------------------
    def cpu_share(self) -> float:
        """This process's CPU time over the run's wall time (1.0 = one core busy)."""
        return self.stats.cpu_share()

    def stop(self, reason: str) -> None:
        """Stop sending new requests; in-flight ones get ``grace_s`` to finish."""
        if self.stop_reason is None:
            self.stop_reason = reason
            self._stopping.set()

    def hurry(self) -> None:
        """End the grace period now: requests still in flight are cancelled and recorded."""
        self.stop("interrupted")
        self._hurried.set()

    async def _end_grace(self) -> None:
        await self._stopping.wait()
        with anyio.move_on_after(self.config.grace_s):
            await self._hurried.wait()
        self._cut = (
            "still in flight when a second interrupt ended the grace period"
            if self._hurried.is_set()
            else f"still in flight {self.config.grace_s:g}s after the run stopped "
            f"({self.stop_reason})"
        )
        if self._stage_scope is not None:
            self._stage_scope.cancel()

    async def _pause(self, seconds: float) -> None:
        """Sleep ``seconds``, or less if the run stops meanwhile."""
        if seconds <= SHORT_PAUSE_S:
            await anyio.sleep(seconds)
            return
        with anyio.move_on_after(seconds):
            await self._stopping.wait()

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
            group.start_soon(self._end_grace)
            async with send:
                for schedule, first_id in with_id_offsets(schedules):
                    if self.stop_reason:
                        break
                    await self._run_stage(schedule, first_id, send)
            await self._drained.wait()
            group.cancel_scope.cancel()  # only the grace watcher can be left
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
            if self._cut is not None:  # the grace ended while this stage was starting
                scope.cancel()
            async with anyio.create_task_group() as group:
                if schedule.is_closed_loop:
                    deadline = (
                        stage_t0 + int(self.config.duration_s * NS)
                        if self.config.duration_s
                        else None
                    )
                    warmup_ns = int(schedule.spec.warmup_seconds * NS)
                    workers = closed_loop_workers(
                        shard, schedule.concurrency or 1, schedule.n_requests
                    )
                    self.closed_loop_workers = max(self.closed_loop_workers, workers)
                    for _ in range(workers):
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
        limiter = self._limiter
        for request in requests:
            target = stage_t0 + int(request.offset_s * NS)
            delay = (target - time.perf_counter_ns()) / NS
            if delay > 0:
                await self._pause(delay)
            if self.stop_reason:
                return
            slot = None
            if limiter is not None:
                slot = object()
                await limiter.acquire_on_behalf_of(slot)
                if self.stop_reason:  # waited for the cap while the run stopped
                    limiter.release_on_behalf_of(slot)
                    return
            group.start_soon(self._request, request, first_id, target, send, slot)

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
            if not request.warmup and warmup_ns > 0 and now - stage_t0 < warmup_ns:
                request = request._replace(warmup=True)
            await self._request(request, first_id, now, send, deadline=deadline)

    async def _request(
        self,
        request: ScheduledRequest,
        first_id: int,
        t_scheduled_ns: int,
        send: ObjectSendStream[RequestRecord],
        slot: object | None = None,
        deadline: int | None = None,
    ) -> None:
        """One scheduled request, or a whole conversation. ``slot``: a place under
        ``max_concurrency`` the pacer already took for the first attempt (released here);
        ``deadline``: a closed loop's hard stop (perf_counter ns), which no later turn passes."""
        prompt = self.config.prompts[request.prompt_index]
        self.stats.in_flight += 1
        try:
            if self._conversations:  # every prompt is one then, one-turn ones too: one id space
                await self._conversation(
                    request, prompt, first_id, t_scheduled_ns, send, slot, deadline
                )
                return
            body = self._body(request.arm, request.prompt_index, prompt)
            await self._logical(
                request, prompt, body, first_id + request.index, t_scheduled_ns, send, slot
            )
        finally:
            self.stats.in_flight -= 1

    async def _conversation(
        self,
        request: ScheduledRequest,
        prompt: Prompt,
        first_id: int,
        t_scheduled_ns: int,
        send: ObjectSendStream[RequestRecord],
        slot: object | None,
        deadline: int | None,
    ) -> None:
        """Turn k+1 goes out ``think_time`` after turn k's answer arrives, with that answer in
        its history; a turn without an answer (it failed after its retries) ends the
        conversation, as a user without a reply would not go on."""
        session_id = first_id + request.index
        history: tuple[Mapping[str, Any], ...] = ()
        for turn in range(1, prompt.turns + 1):
            messages = turn_messages(prompt, history, turn)
            cap = prompt.cap(turn)
            body = chat_body(
                request.arm, messages, stream=self.config.stream, max_tokens=cap, extra=prompt.extra
            )
            answer = await self._logical(
                request,
                prompt,
                body,
                session_id * TURN_STRIDE + turn - 1,
                t_scheduled_ns,
                send,
                slot,
                session=(session_id, turn, cap),
            )
            slot = None
            if answer is None or self.stop_reason or turn == prompt.turns:
                return
            history = (*messages, {"role": "assistant", "content": answer})
            think = self._think_time()
            if think > 0:
                await self._pause(think)
                if self.stop_reason:
                    return
            t_scheduled_ns = time.perf_counter_ns()
            if deadline is not None and t_scheduled_ns >= deadline:
                return

    def _think_time(self) -> float:
        think = self.config.think_time
        if think is None or isinstance(think, int | float):
            return float(think or 0.0)
        return max(float(think.sample(1, self._np_rng)[0]), 0.0)

    async def _logical(
        self,
        request: ScheduledRequest,
        prompt: Prompt,
        body: bytes,
        request_id: int,
        t_scheduled_ns: int,
        send: ObjectSendStream[RequestRecord],
        slot: object | None,
        session: tuple[int, int, int | None] | None = None,
    ) -> str | None:
        """One logical request, retries included; the answer's text when it ended ok (``""``
        for an ok answer whose text the client did not keep), else None."""
        attempt = 1
        limiter = self._limiter
        session_id, turn, cap = session if session is not None else (None, None, prompt.max_tokens)
        stream, model = self.config.stream, request.arm
        if prompt.body is not None:  # a replayed body streams (or not) as it was recorded
            stream = replay_stream(prompt.body)
            if model == RECORDED_ARM:
                model = str(prompt.body.get("model"))
        while True:
            record = RequestRecord(
                run_id=self.config.run_id,
                arm=request.arm,
                status="ok",
                attempt=attempt,
                request_id=request_id,
                session_id=session_id,
                turn=turn,
                prompt_id=prompt.id,
                category=prompt.category,
                stage=request.stage,
                warmup=request.warmup,
                worker=self.config.shard.index,
                model_requested=model,
                max_tokens=cap,
                t_scheduled=self.client.seconds(t_scheduled_ns),
            )
            if limiter is not None:
                held, slot = slot, None
                if held is None:  # a retry, a later turn or a closed loop: take a place
                    held = object()
                    await limiter.acquire_on_behalf_of(held)
                try:
                    if self.stop_reason:  # queued behind the cap while the run stopped
                        return None
                    answer = await self._attempt(body, record, send, stream)
                finally:
                    limiter.release_on_behalf_of(held)
            else:
                answer = await self._attempt(body, record, send, stream)
            if record.status == "ok":
                return answer or ""
            delay = self.config.retry.next_delay(
                attempt, record.status, record.http_status, record.retry_after_s, self._rng
            )
            if delay is None or self.stop_reason:
                return None
            await self._pause(delay)
            if self.stop_reason:
                return None
            attempt += 1
            t_scheduled_ns = time.perf_counter_ns()

    async def _attempt(
        self,
        body: bytes,
        record: RequestRecord,
        send: ObjectSendStream[RequestRecord],
        stream: bool,
    ) -> str | None:
        """Send one attempt and hand its record to the writer, even when it is cancelled; the
        answer's text (kept in the record only when the run keeps answers)."""
        t_start_ns = time.perf_counter_ns()
        try:
            await self.client.chat(body, record, stream=stream)
        except anyio.get_cancelled_exc_class():
            self._mark_cancelled(record, t_start_ns)
            self.cancelled_in_flight += 1
            # The writer outlives every stage; only if it is gone too (the run failed) is
            # there nobody to take the record.
            with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
                await self._deliver(record, send)
            raise
        answer = record.response_text
        if self.config.drop_answers:
            record.response_text = None
        await self._deliver(record, send)
        return answer

    @staticmethod
    async def _deliver(record: RequestRecord, send: ObjectSendStream[RequestRecord]) -> None:
        try:
            send.send_nowait(record)
        except anyio.WouldBlock:
            # A full stream means the writer is behind, not gone: wait for it even while this
            # stage is being cancelled, or a sent request would vanish from the records.
            with anyio.CancelScope(shield=True):
                await send.send(record)

    def _mark_cancelled(self, record: RequestRecord, t_start_ns: int) -> None:
        """What is known of an attempt cut in flight: it is not an error of the target, and
        whatever the client had filled in (first byte, HTTP status, tokens so far) stays."""
        record.status = "cancelled"
        record.error_type = "cancelled"
        record.error_message = self._cut or "still in flight when the run was cancelled"
        if record.t_sent is None:  # the client stamps it only once the attempt ends
            started = (
                record.t_scheduled + record.schedule_lag_s
                if record.t_scheduled is not None and record.schedule_lag_s is not None
                else self.client.seconds(t_start_ns)
            )
            record.t_sent = started
        record.t_done = self.client.seconds(time.perf_counter_ns())
        record.latency_s = None  # no answer was read whole; in flight: t_done - t_sent
        if record.stream is None:
            record.stream = self.config.stream
        if record.completion_tokens is None and record.n_events:  # the tokens so far
            record.completion_tokens, record.token_source = record.n_events, "estimated"
        record.token_source = record.token_source or "none"
        record.cost_source = record.cost_source or "none"

    def _body(self, arm: str, index: int, prompt: Prompt) -> bytes:
        key = (arm, index)
        body = self._bodies.get(key)
        if body is None:
            if prompt.body is not None:  # a replayed request: as recorded, the arm's model in
                model = None if arm == RECORDED_ARM else arm
                body = self._bodies[key] = body_for_arm(prompt.body, model)
                return body
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
