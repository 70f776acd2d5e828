"""One schedule over several load-generating processes: local workers and a local Ray cluster,
against the emulator. Every scheduled request must be sent exactly once, at its scheduled time,
and a run must mean the same as the single-process run of the same seed."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest

from auraon_bench.load.arrivals import ScheduleSpec, Stage, build_schedule
from auraon_bench.load.pool import WorkerPool
from auraon_bench.load.session import LoadOptions, run_load
from auraon_bench.report.tables import worker_table
from auraon_bench.results.run import read_run

ARMS = ("gpt-4o", "gpt-4o-mini")


def options(out: Path, spec: ScheduleSpec, **kwargs) -> LoadOptions:
    return LoadOptions(
        arms=ARMS, spec=spec, out=out, time_scale=0.02, output_tokens=16, n_prompts=16, **kwargs
    )


def rows(run_dir: Path) -> list[dict]:
    return pq.read_table(run_dir / "requests.parquet").to_pylist()


def check_exactly_once(records: list[dict], spec: ScheduleSpec, workers: int) -> None:
    schedule = build_schedule(spec, ARMS, 16)
    planned = {r.index: r for r in schedule.iter_requests()}
    ids = [r["request_id"] for r in records]
    assert sorted(ids) == sorted(planned)  # every scheduled request, none twice
    start = min(r["t_scheduled"] for r in records if r["request_id"] == 0)
    for record in records:
        request = planned[record["request_id"]]
        assert record["worker"] == request.index % workers
        assert record["arm"] == request.arm
        # Sent by whichever worker, at its place in the one schedule (a shared start).
        assert record["t_scheduled"] - start == pytest.approx(request.offset_s, abs=1e-6)


@pytest.mark.slow
def test_two_local_workers_send_the_single_process_schedule(tmp_path: Path) -> None:
    spec = ScheduleSpec(profile="poisson", rate=60, duration=3, seed=11)
    alone = run_load(options(tmp_path / "one", spec))
    shared = run_load(options(tmp_path / "two", spec, workers=2))

    check_exactly_once(rows(shared.run_dir), spec, 2)

    def planned(run_dir: Path) -> tuple[list[tuple], list[float]]:
        records = sorted(rows(run_dir), key=lambda r: r["request_id"])
        start = records[0]["t_scheduled"]
        return (
            [(r["request_id"], r["arm"], r["prompt_id"]) for r in records],
            [r["t_scheduled"] - start for r in records],
        )

    (one_sent, one_times), (two_sent, two_times) = planned(alone.run_dir), planned(shared.run_dir)
    assert one_sent == two_sent
    assert two_times == pytest.approx(one_times, abs=1e-6)
    # The same statistics, in the same shape, from one set of records.
    one = orjson.loads((alone.run_dir / "summary.json").read_bytes())
    two = orjson.loads((shared.run_dir / "summary.json").read_bytes())
    assert one.keys() == two.keys() and one["overall"].keys() == two["overall"].keys()
    assert two["overall"]["requests"] == one["overall"]["requests"]
    assert two["overall"]["errors"]["status_counts"]["ok"] == one["overall"]["requests"]
    # Per-worker health in the self-check, measured from each worker's records.
    health = two["self_check"]["workers"]
    assert [w["worker"] for w in health] == [0, 1]
    assert sum(w["requests"] for w in health) == len(rows(shared.run_dir))
    assert all(w["error"] is None and w["client_cpu_share"] > 0 for w in health)
    assert two["self_check"]["executor"] == "local"
    assert not (shared.run_dir / "requests.parts").exists()  # compacted into one file
    table = worker_table(read_run(shared.run_dir).parts[0])
    assert table is not None and [row[0] for row in table.rows] == [0, 1]


@pytest.mark.slow
def test_ctrl_c_stops_every_worker_and_keeps_their_records(tmp_path: Path) -> None:
    out = tmp_path / "interrupted"
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "auraon_bench", "load", "--model", "gpt-4o", "--rate", "40"),
            *("--duration", "120", "--time-scale", "0.02", "--workers", "2", "--out", str(out)),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, as a terminal gives a command
    )
    try:
        deadline = time.monotonic() + 60
        while not list((out / "requests.parts").glob("part-*.parquet")):
            assert time.monotonic() < deadline, "no records flushed"
            time.sleep(0.2)
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C does: every process of the group
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 130, output  # INTERRUPTED, after the summary was written
    manifest = orjson.loads((out / "manifest.json").read_bytes())
    assert manifest["status"] == "interrupted"
    records = rows(out)
    assert len(records) == manifest["counts"]["records"] > 0
    assert {r["worker"] for r in records} == {0, 1}
    assert b"run interrupted" in output


@pytest.mark.slow
def test_closed_loop_stages_start_together_on_every_worker(tmp_path: Path) -> None:
    spec = ScheduleSpec(
        profile="sweep", stages=(Stage(concurrency=2), Stage(concurrency=4)), requests=30
    )
    result = run_load(options(tmp_path / "sweep", spec, workers=2))
    records = rows(result.run_dir)
    assert sorted(r["request_id"] for r in records) == list(range(60))
    assert {r["worker"] for r in records} == {0, 1}
    by_stage = {s: [r for r in records if r["stage"] == s] for s in (0, 1)}
    assert len(by_stage[0]) == len(by_stage[1]) == 30
    # A barrier between stages: no worker starts stage 1 before every stage-0 answer is in.
    assert min(r["t_sent"] for r in by_stage[1]) >= max(r["t_done"] for r in by_stage[0])
    # Stage 1 keeps 4 requests in flight across the two workers, 2 each.
    for worker in (0, 1):
        mine = sorted((r["t_sent"], r["t_done"]) for r in by_stage[1] if r["worker"] == worker)
        peak = max(sum(1 for s, d in mine if s <= t < d) for t, _ in mine)
        assert peak == 2


@pytest.mark.slow
def test_a_killed_worker_is_reported_and_the_others_records_kept(tmp_path: Path) -> None:
    spec = ScheduleSpec(profile="constant", rate=40, duration=30)
    killed: list[int] = []

    def kill_worker_one(pool, target, run_dir) -> None:
        def kill() -> None:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if isinstance(pool, WorkerPool) and pool.workers and pool.stats.records > 40:
                    pid = pool.workers[1].handle.process.pid
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                    return
                time.sleep(0.1)

        threading.Thread(target=kill, daemon=True).start()

    result = run_load(options(tmp_path / "killed", spec, workers=2), on_start=kill_worker_one)
    assert killed
    assert result.status == "failed"
    manifest = orjson.loads((result.run_dir / "manifest.json").read_bytes())
    assert manifest["status"] == "failed" and "worker 1" in manifest["error"]
    assert "killed by signal 9" in manifest["error"]
    assert any(w.startswith("WORKER FAILED: worker 1") for w in result.warnings)
    records = rows(result.run_dir)
    assert {r["worker"] for r in records} >= {0}
    assert len(records) < 40 * 30  # the run stopped: the others were told to
    assert len({r["request_id"] for r in records}) == len(records)


@pytest.mark.slow
def test_a_local_ray_cluster_runs_the_same_schedule(tmp_path: Path) -> None:
    spec = ScheduleSpec(profile="poisson", rate=40, duration=3, seed=5)
    result = run_load(options(tmp_path / "ray", spec, workers=2, executor="ray"))
    check_exactly_once(rows(result.run_dir), spec, 2)
    summary = orjson.loads((result.run_dir / "summary.json").read_bytes())
    assert summary["self_check"]["executor"] == "ray"
    assert [w["worker"] for w in summary["self_check"]["workers"]] == [0, 1]
    assert all(w["error"] is None for w in summary["self_check"]["workers"])
    assert result.status == "complete"


def _children(pid: int) -> list[int]:
    # Per thread: the workers are started from a worker thread of the coordinator.
    found = []
    for path in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            found += [int(p) for p in path.read_text().split()]
    return found


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"  # a zombie has exited; only its parent's wait is missing


@pytest.mark.slow
def test_workers_stop_and_exit_when_the_coordinator_is_killed(tmp_path: Path) -> None:
    out = tmp_path / "orphaned"
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "auraon_bench", "load", "--model", "gpt-4o", "--rate", "40"),
            *("--duration", "120", "--time-scale", "0.02", "--workers", "2", "--out", str(out)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while len({p.name for p in (out / "requests.parts").glob("part-*.parquet")}) < 2:
            assert time.monotonic() < deadline, "no records flushed"
            time.sleep(0.2)
        # The embedded emulator, the two workers (and multiprocessing's resource tracker).
        children = _children(process.pid)
        assert len(children) >= 3
        process.kill()
        process.wait(10)
        deadline = time.monotonic() + 30  # the grace period for in-flight requests, and more
        while any(_running(pid) for pid in children):
            assert time.monotonic() < deadline, "a worker outlived its coordinator"
            time.sleep(0.2)
    finally:
        for pid in _children(process.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    records = pq.read_table(out / "requests.parts").to_pylist()
    assert {r["worker"] for r in records} == {0, 1}
    assert len({r["request_id"] for r in records}) == len(records)


@pytest.mark.slow
def test_a_worker_that_cannot_start_is_a_one_line_error(tmp_path: Path) -> None:
    import anyio

    from auraon_bench.data.prompts import synthetic_prompts
    from auraon_bench.errors import WorkerError
    from auraon_bench.load.pool import LocalExecutor
    from auraon_bench.load.split import Shard
    from auraon_bench.load.worker import WorkerJob

    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    spec = ScheduleSpec(profile="constant", rate=5, duration=1)
    jobs = [
        WorkerJob(
            Shard(i, 2),
            "run",
            blocker / "run",  # the worker cannot create its parts there
            "http://127.0.0.1:9/v1",
            None,
            options(tmp_path / "unused", spec, workers=2),
            tuple(synthetic_prompts(2, 8, 4)),
        )
        for i in range(2)
    ]
    pool = WorkerPool(jobs, LocalExecutor())
    with pytest.raises(WorkerError, match=r"worker \d could not start: .*Not a directory"):
        anyio.run(pool.run, tmp_path / "parts")
    assert all(not w.handle.alive() for w in pool.workers)  # none left behind
