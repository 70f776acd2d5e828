"""One load-generating worker: the same runner as a single-process run, on its share of the
schedule, in a process of its own (a local child process or a Ray actor).

A worker builds the run's schedule from the seed, keeps its :class:`~auraon_bench.load.split.Shard`
of it, and writes its own Parquet parts into the shared run directory (or, on a machine of its
own, into a directory whose parts the coordinator collects). It talks to the coordinator through
a small :class:`Link`: ``ready`` once set up, then it waits for ``start`` (a wall-clock instant in
ns shared by every worker), sends ``tick`` snapshots while running and a final ``done`` report;
``stop`` from the coordinator stops its runner as Ctrl-C would, and ``hurry`` (a second Ctrl-C)
ends its grace period at once: requests still in flight are recorded as ``cancelled``.

A local worker runs in a session of its own (see ``LocalExecutor``) and ignores SIGINT besides:
a worker that stopped (or died) on its own would stop without the coordinator's say, or lose its
unflushed records. The coordinator relays every interruption; if it is gone, the pipe's end stops
the worker.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Protocol

import anyio

from auraon_bench.catalog import PriceTable
from auraon_bench.client.http import MeasuringClient
from auraon_bench.data.prompts import Prompt
from auraon_bench.errors import AuraonBenchError
from auraon_bench.load.arrivals import Schedule, build_stages, paired_schedule, replay_schedule
from auraon_bench.load.live import LiveStats
from auraon_bench.load.runner import LoadRunner, RunnerConfig
from auraon_bench.load.split import PROCESS_MAX_IN_FLIGHT, Shard
from auraon_bench.results.sink import RecordSink

TICK_S = 0.25
POLL_S = 0.02


class Link(Protocol):
    """Messages to and from the coordinator, as ``(kind, payload)`` pairs."""

    def send(self, message: tuple[str, Any]) -> None: ...

    def poll(self) -> tuple[str, Any] | None: ...  # never blocks



def answer_handling(keep_text: bool, prompts: Iterable[Prompt]) -> tuple[bool, bool]:
    """(the client reads answers' text, the runner drops it from records): a conversation
    needs every answer for its next turn's history, whether or not the records keep it."""
    conversations = any(p.follow_ups for p in prompts)
    return keep_text or conversations, conversations and not keep_text

@dataclass(frozen=True)
class WorkerJob:
    """Everything a worker needs, picklable. ``options`` is the run's ``LoadOptions``."""

    shard: Shard
    run_id: str
    run_dir: Path
    base_url: str
    api_key: str | None
    options: Any
    prompts: tuple[Prompt, ...]
    prices: PriceTable | None = None  # the coordinator's table (a --prices file included)


@dataclass
class WorkerReport:
    """What a worker says when it ends; the coordinator's per-worker health comes from it."""

    worker: int
    records: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    cost_usd: float = 0.0
    cpu_share: float = 0.0
    stop_reason: str | None = None
    cancelled_in_flight: int = 0
    closed_loop_workers: int = 0
    rows_written: int = 0
    rows_unsaved: int = 0
    error: str | None = None
    host: str = ""


def schedules_for(options: Any, n_prompts: int) -> Iterable[Schedule]:
    """The run's schedules, built the same way in every process from the same options."""
    spec = options.spec
    replay = getattr(options, "replay", None)
    if replay is not None:
        return [
            replay_schedule(
                replace(spec, time_scale=1.0 / options.replay_speed),
                options.arms,
                replay.offsets() if replay.timed else None,
                len(replay.requests),
            )
        ]
    if options.repeat:
        return [
            paired_schedule(
                options.arms,
                n_prompts,
                repeat=options.repeat,
                concurrency=spec.concurrency or 1,
                seed=spec.seed,
            )
        ]
    return build_stages(spec, options.arms, n_prompts)


def write_batch(sink: RecordSink, batch: list[Any]) -> None:
    """One runner batch, one complete Parquet part: readable after a crash. If the part cannot
    be written the whole batch stays in the sink's buffer, for a last try at the end."""
    sink.add_many(batch, flush=False)
    sink.flush()


def snapshot(stats: LiveStats) -> dict[str, Any]:
    return {
        "records": stats.records,
        "in_flight": stats.in_flight,
        "statuses": dict(stats.statuses),
        "cost_usd": stats.cost_usd,
        "completion_tokens": stats.completion_tokens,
        "recent_ttft": list(stats.recent_ttft)[-100:],
    }


async def run_worker(
    job: WorkerJob,
    link: Link,
) -> WorkerReport:
    """Set up, report ready, wait for the start, run this worker's share, report done.

    Stage 0 starts at the shared instant; each later stage (a sweep) starts when the coordinator
    says ``go``, once every worker has finished the stage before (a barrier)."""
    report = WorkerReport(worker=job.shard.index, host=socket.gethostname())
    options = job.options
    sink = RecordSink(job.run_dir, shard=(job.shard.index, job.shard.count))
    link.send(("ready", None))
    start_epoch_ns = await _wait_for_start(link)
    if start_epoch_ns is None:  # stopped before the start
        sink.close(compact=False)
        report.stop_reason = "stopped before the start"
        return report
    # The shared wall-clock instant on this process's monotonic clock: records of every
    # worker then count seconds from the same start.
    t0_ns = time.perf_counter_ns() + (start_epoch_ns - time.time_ns())
    inbox = Inbox()

    async def stage_start(stage: int) -> int:
        if stage == 0:
            await anyio.sleep(max(0.0, (t0_ns - time.perf_counter_ns()) / 1e9))
            runner.stats.restart()  # CPU share and rates count from the shared start
            return t0_ns
        link.send(("stage", stage))
        await inbox.wait_go(stage)
        return time.perf_counter_ns()

    keep_text, drop_answers = answer_handling(options.keep_text, job.prompts)
    client = MeasuringClient(
        job.base_url,
        job.api_key,
        timeouts=options.timeouts,
        prices=job.prices if job.prices is not None else PriceTable.builtin(),
        keep_text=keep_text,
        max_connections=PROCESS_MAX_IN_FLIGHT,
        t0_ns=t0_ns,
    )
    config = RunnerConfig(
        run_id=job.run_id,
        prompts=job.prompts,
        stream=options.stream,
        retry=options.retry,
        max_concurrency=_share(options.spec.max_concurrency, job.shard),
        duration_s=options.spec.duration,
        seed=options.spec.seed + job.shard.index,  # retry jitter differs per worker
        grace_s=options.grace_s,
        shard=job.shard,
        stage_start=stage_start,
        think_time=options.think_time,
        drop_answers=drop_answers,
    )
    async with client:
        runner = LoadRunner(client, config, lambda batch: write_batch(sink, batch))
        async with anyio.create_task_group() as group:
            group.start_soon(_listen, link, runner, inbox)
            group.start_soon(_tick, link, runner)
            try:
                await runner.run(schedules_for(options, len(job.prompts)))
            except AuraonBenchError as exc:
                report.error = str(exc)
            group.cancel_scope.cancel()
    try:
        sink.close(compact=False)
    except AuraonBenchError as exc:
        report.error = report.error or str(exc)
    error = runner.write_error
    report.records = runner.stats.records
    report.statuses = dict(runner.stats.statuses)
    report.cost_usd = runner.stats.cost_usd
    report.cpu_share = runner.stats.cpu_share()
    report.stop_reason = runner.stop_reason
    report.cancelled_in_flight = runner.cancelled_in_flight
    report.closed_loop_workers = runner.closed_loop_workers
    report.rows_written = sink.rows_written
    report.rows_unsaved = sink.rows_buffered
    if error is not None:
        report.error = report.error or str(error)
    if report.rows_unsaved:
        report.error = (
            f"{report.error}; {report.rows_unsaved:,} measured records could not be saved, "
            f"{report.rows_written:,} were"
        )
    return report


def _share(cap: int | None, shard: Shard) -> int | None:
    return None if cap is None else max(1, shard.concurrency(cap))


async def _wait_for_start(link: Link) -> int | None:
    while True:
        message = link.poll()
        if message is None:
            await anyio.sleep(POLL_S)
        elif message[0] == "start":
            return int(message[1])
        elif message[0] == "stop":
            return None


class Inbox:
    """Stage ``go`` signals from the coordinator; a stop releases every wait."""

    def __init__(self) -> None:
        self.go: set[int] = set()
        self.changed = anyio.Event()
        self.stopped = False

    def release(self, stage: int | None) -> None:
        if stage is None:
            self.stopped = True
        else:
            self.go.add(stage)
        self.changed.set()
        self.changed = anyio.Event()

    async def wait_go(self, stage: int) -> None:
        while stage not in self.go and not self.stopped:
            await self.changed.wait()


async def _listen(link: Link, runner: LoadRunner, inbox: Inbox) -> None:
    while True:
        message = link.poll()
        if message is None:
            await anyio.sleep(POLL_S)
            continue
        if message[0] == "stop":
            runner.stop(str(message[1]))
            inbox.release(None)
        elif message[0] == "hurry":
            runner.hurry()
            inbox.release(None)
        elif message[0] == "go":
            inbox.release(int(message[1]))
        await anyio.sleep(0)  # never starve the runner, whatever arrives


async def _tick(link: Link, runner: LoadRunner) -> None:
    while True:
        await anyio.sleep(TICK_S)
        link.send(("tick", snapshot(runner.stats)))


# -- a local child process ----------------------------------------------------------------
class PipeLink:
    """A :class:`Link` over a ``multiprocessing`` pipe end; ``on_eof`` is what ``poll`` says
    once the other end is gone."""

    def __init__(self, conn: Any, on_eof: tuple[str, Any] | None = None) -> None:
        self.conn = conn
        self.on_eof = on_eof
        self.closed = False

    def send(self, message: tuple[str, Any]) -> None:
        self.conn.send(message)

    def poll(self) -> tuple[str, Any] | None:
        if self.closed:
            return None
        try:
            return self.conn.recv() if self.conn.poll(0) else None
        except (EOFError, OSError):
            self.closed = True  # said once: a closed pipe is "readable" forever
            return self.on_eof


def child_main() -> None:
    """Entry point of a local worker process: the coordinator's connection is the file
    descriptor given as the last argument, and the first message on it is the job."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the coordinator decides
    conn = Connection(int(sys.argv[-1]))
    try:
        job, use_uvloop = conn.recv()
    except (EOFError, OSError):
        return  # the coordinator is gone before it sent the job
    process_main(job, conn, use_uvloop)


def process_main(job: WorkerJob, conn: Any, use_uvloop: bool) -> None:
    """Run one worker on ``conn`` (a ``multiprocessing`` connection) and report its end."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the coordinator decides
    link = PipeLink(conn, on_eof=("stop", "the coordinator is gone"))
    try:
        report = anyio.run(run_worker, job, link, backend_options={"use_uvloop": use_uvloop})
    except Exception as exc:  # reported, never hidden: the coordinator marks the run failed
        report = WorkerReport(worker=job.shard.index, error=f"{type(exc).__name__}: {exc}")
    with contextlib.suppress(OSError):
        link.send(("done", report))
        conn.close()
