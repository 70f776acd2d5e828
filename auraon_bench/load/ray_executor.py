"""Workers as Ray actors: the same worker as a local process, on any machine of a Ray cluster.

Each actor runs :func:`~auraon_bench.load.worker.run_worker` on its own event loop (Ray async
actors run on asyncio, which anyio drives as usual), writes its Parquet parts to a temporary
directory on its own machine, and hands them to the coordinator at the end, one part per call,
so the run directory on the coordinator's machine ends up exactly as with local workers. The
coordinator and the actors exchange the pool's small messages in batches: each ``exchange`` call
delivers what the coordinator queued and returns what the worker said since the last one.

Needs the optional extra: ``pip install 'auraon-bench[ray]'``. Without ``--ray-address`` a local
Ray instance is started for the run (and stopped after); with it, the run joins that cluster.
Every machine of the cluster needs auraon-bench installed (same version) and must reach the
target; clocks are assumed NTP-synchronised, since the shared start is a wall-clock instant.
"""

from __future__ import annotations

import collections
import contextlib
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from auraon_bench.errors import ConfigError
from auraon_bench.load.worker import WorkerJob, WorkerReport, run_worker
from auraon_bench.results.layout import PARTS_DIR, list_parts, write_atomically


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError(
            "Ray is not installed: pip install 'auraon-bench[ray]'", field="--executor"
        ) from None
    return ray


class WorkerActor:
    """The body of one Ray actor (wrapped with ``ray.remote`` when the executor starts)."""

    def __init__(self) -> None:
        self.inbox: collections.deque[tuple[str, Any]] = collections.deque()
        self.outbox: list[tuple[str, Any]] = []
        self.directory = Path(tempfile.mkdtemp(prefix="auraon-bench-worker-"))
        self.task: Any = None

    # The Link the worker talks through.
    def send(self, message: tuple[str, Any]) -> None:
        self.outbox.append(message)

    def poll(self) -> tuple[str, Any] | None:
        return self.inbox.popleft() if self.inbox else None

    async def begin(self, job: WorkerJob) -> str:
        import asyncio
        import socket

        # The actor is the scope of this task: it lives until the worker reports done, and the
        # actor (with its loop) is killed by the coordinator after collecting the parts.
        self.task = asyncio.ensure_future(self._run(replace(job, run_dir=self.directory)))
        return socket.gethostname()

    async def _run(self, job: WorkerJob) -> None:
        try:
            report = await run_worker(job, self)
        except Exception as exc:  # reported, never hidden
            report = WorkerReport(worker=job.shard.index, error=f"{type(exc).__name__}: {exc}")
        self.outbox.append(("done", report))

    async def exchange(self, messages: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
        self.inbox.extend(messages)
        out, self.outbox = self.outbox, []
        return out

    async def part_names(self) -> list[str]:
        return [path.name for _, path in list_parts(self.directory / PARTS_DIR)]

    async def read_part(self, name: str) -> bytes:
        return (self.directory / PARTS_DIR / name).read_bytes()

    async def cleanup(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


class _ActorHandle:
    """One actor as the pool sees it: non-blocking polls over batched ``exchange`` calls."""

    def __init__(self, ray: Any, actor: Any) -> None:
        self.ray = ray
        self.actor = actor
        self.queued: list[tuple[str, Any]] = []
        self.received: collections.deque[tuple[str, Any]] = collections.deque()
        self.pending: Any = None
        self.dead: str | None = None

    def send(self, message: tuple[str, Any]) -> None:
        self.queued.append(message)

    def poll(self) -> tuple[str, Any] | None:
        if self.received:
            return self.received.popleft()
        if self.dead is not None:
            return None
        if self.pending is None:
            self.pending, self.queued = self.actor.exchange.remote(self.queued), []
        ready, _ = self.ray.wait([self.pending], timeout=0)
        if ready:
            try:
                self.received.extend(self.ray.get(self.pending))
            except Exception as exc:  # the actor died: RayActorError and friends
                self.dead = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
            self.pending = None
        return self.received.popleft() if self.received else None

    def alive(self) -> bool:
        return self.dead is None

    def describe_exit(self) -> str:
        return self.dead or "still running"


class RayExecutor:
    def __init__(self, address: str | None = None) -> None:
        self.address = address
        self.ray = _ray()
        self.started_here = False

    def start(self, jobs: Sequence[WorkerJob]) -> list[Any]:
        ray = self.ray
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"log_to_driver": False, "configure_logging": False}
            if self.address:
                kwargs["address"] = self.address
            else:
                # A private local instance for this run, with room for one actor per worker.
                kwargs.update(num_cpus=max(len(jobs), os.cpu_count() or 1))
                kwargs["include_dashboard"] = False
            ray.init(**kwargs)
            self.started_here = True
        remote = ray.remote(num_cpus=1, max_concurrency=8)(WorkerActor)
        handles = []
        for job in jobs:
            actor = remote.options(name=f"auraon-bench-{job.run_id}-{job.shard.index}").remote()
            actor.begin.remote(job)
            handles.append(_ActorHandle(ray, actor))
        return handles

    def collect(self, handles: Sequence[Any], parts_dir: Path) -> None:
        """Copy every actor's parts into the run directory, one part per call."""
        ray = self.ray
        parts_dir.mkdir(parents=True, exist_ok=True)
        for handle in handles:
            if handle.dead is not None:
                continue  # its failure is already reported; its parts died with it
            for name in ray.get(handle.actor.part_names.remote()):
                data = ray.get(handle.actor.read_part.remote(name))
                write_atomically(parts_dir / name, lambda tmp, data=data: tmp.write_bytes(data))

    def shutdown(self, handles: Sequence[Any]) -> None:
        ray = self.ray
        for handle in handles:
            with contextlib.suppress(Exception):
                ray.get(handle.actor.cleanup.remote(), timeout=10)
            with contextlib.suppress(Exception):
                ray.kill(handle.actor)
        if self.started_here:
            ray.shutdown()
