"""The load runner's bookkeeping, with an instant in-process client double.

The real HTTP path is covered against the emulator (test_client_http, test_load_cli); here the
client answers at once, which is what stresses the writer: records arrive faster than it can
wait for them, so its drain-without-waiting path and the end of the stream are exercised.
"""

from __future__ import annotations

import time

import anyio
import pytest

from auraon_bench.data.prompts import synthetic_prompts
from auraon_bench.load.arrivals import ScheduleSpec, Stage, build_stages
from auraon_bench.load.runner import LoadRunner, RunnerConfig
from auraon_bench.results.schema import RequestRecord

pytestmark = pytest.mark.anyio


class InstantClient:
    """Answers every request at once with a fixed outcome and cost."""

    def __init__(self, cost: float = 0.0) -> None:
        self.t0_ns = time.perf_counter_ns()
        self.cost = cost
        self.calls = 0

    def seconds(self, t_ns: int) -> float:
        return (t_ns - self.t0_ns) / 1e9

    async def chat(
        self, body: bytes, record: RequestRecord, *, stream: bool, headers: object = None
    ) -> RequestRecord:
        self.calls += 1
        record.t_sent = self.seconds(time.perf_counter_ns())
        record.t_done = record.t_sent
        record.cost_usd = self.cost
        await anyio.sleep(0)
        return record


async def run(
    spec: ScheduleSpec, arms: tuple[str, ...], client: InstantClient, **config: object
) -> tuple[list[RequestRecord], LoadRunner]:
    written: list[RequestRecord] = []
    prompts = synthetic_prompts(8, 16, 4)
    runner = LoadRunner(client, RunnerConfig(run_id="r", prompts=prompts, **config), written.extend)
    await runner.run(build_stages(spec, arms, len(prompts)))
    return written, runner


async def test_every_scheduled_request_is_written_exactly_once() -> None:
    spec = ScheduleSpec(profile="concurrent", concurrency=16, requests=5000)
    written, runner = await run(spec, ("a", "b"), InstantClient())
    ids = [r.request_id for r in written]
    assert len(ids) == 5000 and sorted(ids) == list(range(5000))
    assert runner.stats.records == 5000
    assert {r.arm for r in written} == {"a", "b"}


async def test_open_loop_stages_are_all_sent() -> None:
    spec = ScheduleSpec(
        profile="sweep", stages=(Stage(rate=500.0), Stage(concurrency=4)), requests=50
    )
    written, _ = await run(spec, ("a",), InstantClient())
    assert sorted(r.stage for r in written) == [0] * 50 + [1] * 50
    scheduled = sorted(r.t_scheduled for r in written if r.stage == 0)
    assert scheduled[-1] - scheduled[0] == pytest.approx(49 / 500, abs=0.02)


async def test_money_guard_stops_sending() -> None:
    spec = ScheduleSpec(profile="concurrent", concurrency=2, requests=10_000)
    client = InstantClient(cost=0.01)
    written, runner = await run(spec, ("a",), client, max_cost_usd=0.5)
    assert runner.stop_reason == "max_cost"
    assert 50 <= len(written) < 10_000
    assert len(written) == client.calls  # nothing sent is lost


async def test_writer_ends_without_repeating_the_last_record() -> None:
    # The stream closes while the writer is busy flushing: the end must not re-add a record.
    written: list[RequestRecord] = []

    def slow_write(batch: list[RequestRecord]) -> None:
        time.sleep(0.05)
        written.extend(batch)

    runner = LoadRunner(
        InstantClient(), RunnerConfig(run_id="r", prompts=[], batch_rows=3), slow_write
    )
    send, receive = anyio.create_memory_object_stream[RequestRecord](10)
    async with anyio.create_task_group() as group:
        group.start_soon(runner._writer, receive)
        async with send:
            for i in range(3):
                await send.send(RequestRecord(run_id="r", arm="a", status="ok", request_id=i))
            await anyio.sleep(0.01)  # the writer takes all three and starts flushing
    assert [r.request_id for r in written] == [0, 1, 2]
