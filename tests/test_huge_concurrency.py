"""A huge ``--concurrency`` costs what the run sends, not what it asks for: a closed loop starts
no more workers than requests (nor than one process can keep in flight), and an open loop under
``--max-concurrency`` keeps waiting requests in its pacer, not as tasks.

Bounds are counted (tasks alive, workers started), never timed."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import anyio
import pytest
from click.testing import CliRunner

from auraon_bench.cli.main import cli
from auraon_bench.data.prompts import synthetic_prompts
from auraon_bench.emulator.launcher import EmulatorProcess
from auraon_bench.load.arrivals import ScheduleSpec, build_stages
from auraon_bench.load.runner import LoadRunner, RunnerConfig
from auraon_bench.load.split import (
    PROCESS_MAX_IN_FLIGHT,
    Shard,
    closed_loop_workers,
    concurrency_warning,
)
from auraon_bench.results.reader import read_records
from auraon_bench.results.schema import RequestRecord

# The runner's own tasks besides its workers or request tasks: the writer, the grace watcher,
# the test's main task, and whatever asyncio keeps around; far below any bound tested here.
FEW = 16


class CountingClient:
    """Answers after ``delay_s``; notes the most tasks alive and the most requests in flight."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.t0_ns = time.perf_counter_ns()
        self.delay_s = delay_s
        self.in_flight = self.peak_in_flight = self.peak_tasks = 0

    def seconds(self, t_ns: int) -> float:
        return (t_ns - self.t0_ns) / 1e9

    async def chat(
        self, body: bytes, record: RequestRecord, *, stream: bool, headers: object = None
    ) -> RequestRecord:
        self.peak_tasks = max(self.peak_tasks, len(asyncio.all_tasks()))
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            record.t_sent = self.seconds(time.perf_counter_ns())
            await anyio.sleep(self.delay_s)
            record.t_done = self.seconds(time.perf_counter_ns())
        finally:
            self.in_flight -= 1
        return record


async def run(
    spec: ScheduleSpec, client: CountingClient, **config: object
) -> tuple[list[RequestRecord], LoadRunner]:
    written: list[RequestRecord] = []
    prompts = synthetic_prompts(4, 8, 4)
    runner = LoadRunner(client, RunnerConfig(run_id="r", prompts=prompts, **config), written.extend)
    await runner.run(build_stages(spec, ("a",), len(prompts)))
    return written, runner


@pytest.mark.anyio
async def test_a_million_concurrency_for_200_requests_starts_200_workers() -> None:
    client = CountingClient()
    spec = ScheduleSpec(profile="concurrent", concurrency=1_000_000, requests=200)
    written, runner = await run(spec, client)
    assert sorted(r.request_id for r in written) == list(range(200))
    assert runner.closed_loop_workers == 200
    # Counted, not trusted: every task alive while requests were sent.
    assert client.peak_tasks <= 200 + FEW


@pytest.mark.anyio
async def test_a_shard_starts_workers_for_its_own_share() -> None:
    client = CountingClient()
    spec = ScheduleSpec(profile="concurrent", concurrency=1_000_000, requests=200)
    written, runner = await run(spec, client, shard=Shard(1, 3))
    assert len(written) == 67  # requests 1, 4, ..., 199
    assert runner.closed_loop_workers == 67
    assert client.peak_tasks <= 67 + FEW


@pytest.mark.anyio
async def test_an_unbounded_closed_loop_stops_at_the_ceiling() -> None:
    client = CountingClient(delay_s=0.01)
    spec = ScheduleSpec(profile="concurrent", concurrency=1_000_000, duration=0.3)
    written, runner = await run(spec, client, duration_s=spec.duration)
    assert written and runner.closed_loop_workers == PROCESS_MAX_IN_FLIGHT
    assert client.peak_tasks <= PROCESS_MAX_IN_FLIGHT + FEW


@pytest.mark.anyio
async def test_max_concurrency_keeps_waiting_requests_out_of_memory() -> None:
    # 200 arrivals in 0.1 s, 10 at a time for 20 ms each: most of them wait for the cap.
    client = CountingClient(delay_s=0.02)
    spec = ScheduleSpec(profile="constant", rate=2000, duration=0.1, max_concurrency=10)
    written, _ = await run(spec, client, max_concurrency=10)
    assert sorted(r.request_id for r in written) == list(range(200))
    assert client.peak_in_flight == 10
    assert client.peak_tasks <= 10 + FEW
    late = [r for r in written if r.t_sent - r.t_scheduled > 0.05]
    assert late  # sent late behind the cap, and the records say so


def test_workers_and_the_ceiling_pure() -> None:
    assert closed_loop_workers(Shard(), 1_000_000, 2000) == 2000
    assert closed_loop_workers(Shard(), 8, 2000) == 8
    assert closed_loop_workers(Shard(), 1_000_000, None) == PROCESS_MAX_IN_FLIGHT
    assert closed_loop_workers(Shard(2, 3), 1_000_000, 7) == 2  # requests 2 and 5
    assert closed_loop_workers(Shard(2, 3), 10, 1000) == 3
    huge = ScheduleSpec(profile="concurrent", concurrency=1_000_000, duration=10)
    warning = concurrency_warning(huge, 1)
    assert warning is not None and "\n" not in warning
    assert "1,000,000" in warning and f"{PROCESS_MAX_IN_FLIGHT:,}" in warning
    assert concurrency_warning(huge, 300) is None  # 3,334 per process
    bounded = ScheduleSpec(profile="concurrent", concurrency=1_000_000, requests=2000)
    assert concurrency_warning(bounded, 1) is None


def test_the_command_with_a_million_concurrency(
    instant_emulator: EmulatorProcess, tmp_path: Path
) -> None:
    out = tmp_path / "huge"
    result = CliRunner().invoke(
        cli,
        [
            *("load", "--base-url", instant_emulator.base_url),
            *("--api-key", instant_emulator.demo_key("enterprise"), "--yes"),
            *("--model", "gpt-4o-mini", "--concurrency", "1000000", "--requests", "200"),
            *("--output-tokens", "4", "--out", str(out)),
        ],
    )
    assert result.exit_code == 0, result.output
    records = read_records(out)
    assert len(records) == 200 and set(records["status"]) == {"ok"}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert manifest["self_check"]["closed_loop_workers"] == 200
    assert not any("capped" in w for w in manifest["warnings"])
