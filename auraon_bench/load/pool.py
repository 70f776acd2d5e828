"""The coordinator of a multi-worker run: starts N workers, starts them together, relays stops
and stage barriers, keeps the live counters, and reports every worker's fate.

To the load session a :class:`WorkerPool` looks like a :class:`~auraon_bench.load.runner.LoadRunner`
(``stats``, ``stop_reason``, ``stop()``, ``interrupt()``, ``hurry()``, ``interrupted``,
``cancelled_in_flight``, ``closed_loop_workers``, ``cpu_share()``), so the rest of a run
(manifest, compaction, summary, self-check) is the same code whatever the worker count. Signals
reach the coordinator only (workers ignore them): a first Ctrl-C is relayed as ``stop``, a second
as ``hurry``, which ends every worker's grace period at once.

Where the workers run is an :class:`Executor`: local child processes (``LocalExecutor``, fresh
interpreters in sessions of their own, one pipe each) or Ray actors
(``auraon_bench.load.ray_executor``). The pool only exchanges small messages with them (see
``auraon_bench.load.worker``); records go straight from each worker to Parquet parts.
"""

from __future__ import annotations

import collections
import contextlib
import multiprocessing
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import anyio

from auraon_bench.errors import AuraonBenchError, WorkerError
from auraon_bench.load.live import InterruptibleRun, LiveStats
from auraon_bench.load.worker import PipeLink, WorkerJob, WorkerReport

READY_TIMEOUT_S = 120.0  # spawning Python and importing pandas/pyarrow on a busy machine
START_DELAY_NS = 200_000_000  # time for the start message to reach every worker
POLL_S = 0.02
GRACE_S = 10.0


class Handle(Protocol):
    """One running worker, as an executor gives it to the pool."""

    def send(self, message: tuple[str, Any]) -> None: ...

    def poll(self) -> tuple[str, Any] | None: ...

    def alive(self) -> bool: ...

    def describe_exit(self) -> str: ...


class Executor(Protocol):
    def start(self, jobs: Sequence[WorkerJob]) -> list[Handle]: ...

    def collect(self, handles: Sequence[Handle], parts_dir: Path) -> None: ...

    def shutdown(self, handles: Sequence[Handle]) -> None: ...


@dataclass
class _Worker:
    handle: Handle
    snapshot: dict[str, Any] = field(default_factory=dict)
    stage: int | None = None  # the stage it waits to start
    report: WorkerReport | None = None
    failure: str | None = None

    @property
    def finished(self) -> bool:
        return self.report is not None or self.failure is not None


class WorkerPool(InterruptibleRun):
    def __init__(
        self,
        jobs: Sequence[WorkerJob],
        executor: Executor,
        *,
        max_cost_usd: float | None = None,
    ) -> None:
        self.jobs = list(jobs)
        self.executor = executor
        self.max_cost_usd = max_cost_usd
        self.stats = LiveStats()
        self.stop_reason: str | None = None
        self.interrupted = False
        self.hurried = False
        self.cancelled_in_flight = 0
        self.closed_loop_workers = 0  # summed over the workers (each one's busiest stage)
        self.write_error: AuraonBenchError | None = None
        self.workers: list[_Worker] = []

    # -- what the session sees -------------------------------------------------------------
    def stop(self, reason: str) -> None:
        if self.stop_reason is None:
            self.stop_reason = reason
        for worker in self.workers:
            if not worker.finished:
                self._send(worker, ("stop", reason))

    def hurry(self) -> None:
        """End every worker's grace period now (their in-flight requests are recorded)."""
        self.stop("interrupted")
        self.hurried = True
        for worker in self.workers:
            if not worker.finished:
                self._send(worker, ("hurry", None))

    def cpu_share(self) -> float:
        """The busiest worker's CPU share: the one that decides whether the client kept up."""
        return max((w.report.cpu_share for w in self.workers if w.report), default=0.0)

    @property
    def reports(self) -> list[WorkerReport | None]:
        return [w.report for w in self.workers]

    @property
    def failures(self) -> list[str]:
        return [f"worker {i}: {w.failure}" for i, w in enumerate(self.workers) if w.failure] + [
            f"worker {w.report.worker}: {w.report.error}"
            for w in self.workers
            if w.report and w.report.error
        ]

    # -- the run ---------------------------------------------------------------------------
    async def run(self, parts_dir: Path) -> LiveStats:
        handles = await anyio.to_thread.run_sync(self.executor.start, self.jobs)
        self.workers = [_Worker(handle) for handle in handles]
        try:
            self._relay_stop()  # stopped while they started: none may wait for a start
            await self._until_ready()
            start_ns = time.time_ns() + START_DELAY_NS
            for worker in self.workers:
                if not worker.finished:
                    self._send(worker, ("start", start_ns))
            self.stats = LiveStats(started=time.perf_counter() + START_DELAY_NS / 1e9)
            self._relay_stop()  # stopped while they got ready
            await self._drive()
            await anyio.to_thread.run_sync(self.executor.collect, handles, parts_dir)
        except BaseException:
            for worker in self.workers:  # none may wait for a start or a stage that won't come
                if not worker.finished:
                    self._send(worker, ("stop", self.stop_reason or "the coordinator failed"))
            raise
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(self.executor.shutdown, handles)
        return self.stats

    def _relay_stop(self) -> None:
        """Tell every worker of a stop (and a hurry) that came before it could be told."""
        if self.stop_reason is not None:
            self.stop(self.stop_reason)
            if self.hurried:
                self.hurry()

    async def _until_ready(self) -> None:
        ready = [False] * len(self.workers)
        with anyio.move_on_after(READY_TIMEOUT_S) as scope:
            while not all(ready):
                for i, worker in enumerate(self.workers):
                    message = worker.handle.poll()
                    if message is not None and message[0] == "ready":
                        ready[i] = True
                    elif message is not None and message[0] == "done":
                        if self.stop_reason is None or message[1].error:
                            raise WorkerError(f"worker {i} could not start: {message[1].error}")
                        self._on_message(worker, *message)  # stopped before its start
                        ready[i] = True
                    elif not ready[i] and not worker.handle.alive():
                        raise WorkerError(
                            f"worker {i} could not start: {worker.handle.describe_exit()}"
                        )
                await anyio.sleep(POLL_S)
        if scope.cancelled_caught:
            late = [str(i) for i, r in enumerate(ready) if not r]
            raise WorkerError(f"worker(s) {', '.join(late)} not ready within {READY_TIMEOUT_S:g}s")

    async def _drive(self) -> None:
        while not all(w.finished for w in self.workers):
            for i, worker in enumerate(self.workers):
                if worker.finished:
                    continue
                while (message := worker.handle.poll()) is not None:
                    self._on_message(worker, *message)
                if not worker.finished and not worker.handle.alive():
                    # A last look: the report may have arrived as the process ended.
                    while (message := worker.handle.poll()) is not None:
                        self._on_message(worker, *message)
                    if not worker.finished:
                        worker.failure = (
                            f"ended without its report ({worker.handle.describe_exit()}); "
                            "its records up to its last flush are kept"
                        )
                        self.stop(f"worker {i} failed")
            self._release_stage()
            self._aggregate()
            await anyio.sleep(POLL_S)
        self._aggregate()

    def _on_message(self, worker: _Worker, kind: str, payload: Any) -> None:
        if kind == "tick":
            worker.snapshot = payload
        elif kind == "stage":
            worker.stage = int(payload)
        elif kind == "done":
            worker.report = payload
            worker.snapshot = {
                "records": payload.records,
                "statuses": payload.statuses,
                "cost_usd": payload.cost_usd,
                "in_flight": 0,
            }
            if payload.error and self.stop_reason is None:
                self.stop(f"worker {payload.worker} failed")

    def _release_stage(self) -> None:
        """A barrier: the next stage starts once every running worker waits for it."""
        waiting = [w for w in self.workers if not w.finished]
        if waiting and all(w.stage is not None for w in waiting):
            stage = max(w.stage for w in waiting if w.stage is not None)
            for worker in waiting:
                worker.stage = None
                self._send(worker, ("go", stage))

    def _aggregate(self) -> None:
        stats = self.stats
        snapshots = [w.snapshot for w in self.workers if w.snapshot]
        stats.records = sum(s.get("records", 0) for s in snapshots)
        stats.in_flight = sum(s.get("in_flight", 0) for s in snapshots)
        stats.statuses = collections.Counter()
        for s in snapshots:
            stats.statuses.update(s.get("statuses", {}))
        stats.cost_usd = sum(s.get("cost_usd", 0.0) for s in snapshots)
        stats.completion_tokens = sum(s.get("completion_tokens", 0) for s in snapshots)
        for s in snapshots:
            stats.recent_ttft.extend(s.pop("recent_ttft", ()))
        reports = [w.report for w in self.workers if w.report]
        self.cancelled_in_flight = sum(r.cancelled_in_flight for r in reports)
        self.closed_loop_workers = sum(r.closed_loop_workers for r in reports)
        if self.max_cost_usd is not None and stats.cost_usd >= self.max_cost_usd:
            self.stop("max_cost")

    def _send(self, worker: _Worker, message: tuple[str, Any]) -> None:
        # A worker that is gone is noticed by the drive loop.
        with contextlib.suppress(OSError, EOFError, ValueError):
            worker.handle.send(message)


# -- local child processes -------------------------------------------------------------------
# A fresh interpreter: nothing inherited from the coordinator's event loop or threads.
WORKER_MAIN = "from auraon_bench.load.worker import child_main; child_main()"


class _ProcessHandle(PipeLink):
    def __init__(self, process: subprocess.Popen[bytes], conn: Any) -> None:
        super().__init__(conn)
        self.process = process

    def alive(self) -> bool:
        return self.process.poll() is None

    def describe_exit(self) -> str:
        code = self.process.poll()
        if code is None:
            return "still running"
        return f"killed by signal {-code}" if code < 0 else f"exit code {code}"


class LocalExecutor:
    """Workers as child processes of this one, each in a session of its own: no signal sent to
    the coordinator's process group (a terminal's Ctrl-C, a SIGTERM to the group) reaches a
    worker, not even one still importing, which it would kill before it could ignore it. The
    coordinator alone decides, and relays ``stop`` and ``hurry``; if it is gone, the end of the
    worker's pipe stops the worker."""

    def __init__(self, use_uvloop: bool = False) -> None:
        self.use_uvloop = use_uvloop

    def start(self, jobs: Sequence[WorkerJob]) -> list[Handle]:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        handles: list[_ProcessHandle] = []
        for _ in jobs:
            parent_end, child_end = multiprocessing.Pipe()
            try:
                process = subprocess.Popen(
                    [sys.executable, "-c", WORKER_MAIN, str(child_end.fileno())],
                    pass_fds=(child_end.fileno(),),
                    stdin=subprocess.DEVNULL,
                    env=env,
                    start_new_session=True,
                )
            finally:
                child_end.close()
            handles.append(_ProcessHandle(process, parent_end))
        # Every interpreter starts before the first job is sent: they import side by side.
        for job, handle in zip(jobs, handles, strict=True):
            with contextlib.suppress(OSError):  # one that died already: the pool notices
                handle.conn.send((job, self.use_uvloop))
        return list(handles)

    def collect(self, handles: Sequence[Handle], parts_dir: Path) -> None:
        """Local workers wrote their parts into the run directory themselves."""

    def shutdown(self, handles: Sequence[Handle]) -> None:
        deadline = time.monotonic() + GRACE_S
        for handle in handles:
            assert isinstance(handle, _ProcessHandle)
            process = handle.process
            try:
                process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.terminate()
                try:
                    process.wait(2.0)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            handle.conn.close()
