"""Interrupts lose nothing: Ctrl-C (or SIGTERM) stops new sends, lets requests in flight finish
for the grace period, and records those still in flight as ``cancelled``; a second Ctrl-C ends
the grace at once; ``load``, ``eval`` and ``run`` all exit 130 with readable records and a
manifest that says ``interrupted``. Summaries count cancelled attempts, never as ok or as errors.

The command tests are real processes against the embedded emulator on 127.0.0.1, with answers
slow enough (time scale 1, thousands of tokens) to be in flight when the signal comes. They wait
for the load's connections to the emulator, not for a fixed time, and signal the whole process
group as a terminal's Ctrl-C does. No wall-clock speed is asserted; the one time bound proves
that a second Ctrl-C skipped a 60 s grace period.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import anyio
import numpy as np
import pandas as pd
import pytest

from auraon_bench.analysis.error_groups import every_attempt_failed
from auraon_bench.analysis.load_summary import summarize_run
from auraon_bench.analysis.records import measurement_window, status_counts
from auraon_bench.data.prompts import synthetic_prompts
from auraon_bench.load.arrivals import ScheduleSpec, build_stages
from auraon_bench.load.runner import LoadRunner, RunnerConfig
from auraon_bench.results.reader import read_records
from auraon_bench.results.schema import RequestRecord
from tests.conftest import FIXTURES

# Answers of this many tokens take tens of seconds at time scale 1: in flight when signalled.
SLOW = ("--time-scale", "1", "--output-tokens", "3000")
START_S = 90.0  # spawning Python, pandas, the emulator (and workers) on a busy machine
# The grace a launched load gets in the double-Ctrl-C test, far beyond anything else it waits.
LONG_GRACE_S = 60.0
# `auraon-bench` with a 60 s grace (the CLI has no flag for it): the same command otherwise.
LONG_GRACE = f"""
import dataclasses
from auraon_bench.load import session

@dataclasses.dataclass(frozen=True)
class LongGrace(session.LoadOptions):
    grace_s: float = {LONG_GRACE_S}

session.LoadOptions = LongGrace
from auraon_bench.cli.main import cli
cli(prog_name="auraon-bench")
"""


def start(args: list[str], cwd: Path, code: str | None = None) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-c", code] if code else [sys.executable, "-m", "auraon_bench"]
    return subprocess.Popen(
        [*command, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        cwd=cwd,
        start_new_session=True,  # its own process group, as a terminal gives a command
    )


def connections_to(port: int) -> int:
    """Established TCP connections to 127.0.0.1:``port``, counted at the client end (Linux)."""
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[3] == "01" and int(fields[2].split(":")[1], 16) == port:
            count += 1
    return count


def wait_in_flight(process: subprocess.Popen[bytes], run_dir: Path, connections: int) -> None:
    """Until the run's manifest names its emulator and ``connections`` requests reach it."""
    deadline = time.monotonic() + START_S
    manifest = run_dir / "manifest.json"
    port = None
    while port is None or connections_to(port) < connections:
        if process.poll() is not None:
            raise AssertionError(process.communicate()[0].decode(errors="replace")[-2000:])
        assert time.monotonic() < deadline, "the requests never got in flight"
        if port is None and manifest.is_file():
            with_target = json.loads(manifest.read_text()).get("target") or {}
            port = urlparse(with_target["base_url"]).port
        time.sleep(0.1)


def interrupt(process: subprocess.Popen[bytes], times: int = 1) -> str:
    try:
        for i in range(times):
            if i:
                time.sleep(1.0)
            os.killpg(process.pid, signal.SIGINT)
        output, _ = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return output.decode(errors="replace")


def manifest(run_dir: Path) -> dict:
    return json.loads((run_dir / "manifest.json").read_text())


def check_cancelled(run_dir: Path, at_least: int) -> pd.DataFrame:
    """The run's cancelled rows, checked: sent, ended at the cancel, counted in the manifest."""
    records = read_records(run_dir)
    cancelled = records.loc[records["status"] == "cancelled"]
    assert len(cancelled) >= at_least, records["status"].value_counts()
    assert cancelled["t_sent"].notna().all() and cancelled["t_scheduled"].notna().all()
    assert (cancelled["t_done"] > cancelled["t_sent"]).all()
    assert cancelled["latency_s"].isna().all()  # nothing was read whole
    assert set(cancelled["error_type"]) == {"cancelled"}
    data = manifest(run_dir)
    assert data["status"] == "interrupted"
    assert data["counts"]["cancelled"] == data["counts"]["cancelled_in_flight"] == len(cancelled)
    assert data["counts"]["records"] == len(records)
    return cancelled


# -- the commands ----------------------------------------------------------------------------
@pytest.mark.slow
def test_ctrl_c_records_the_requests_in_flight_as_cancelled(tmp_path: Path) -> None:
    out = tmp_path / "run"
    process = start(
        ["load", *SLOW, "--concurrency", "4", "--requests", "8", "--out", str(out)], tmp_path
    )
    wait_in_flight(process, out, 4)
    output = interrupt(process)
    assert process.returncode == 130, output[-2000:]
    cancelled = check_cancelled(out, 4)
    assert len(read_records(out)) == 4  # the other 4 were never sent
    assert cancelled["error_message"].str.contains("after the run stopped").all()
    assert cancelled["http_status"].notna().any()  # what had arrived stays
    # A stream cut after 5 s of grace had its first tokens: the TTFT and events are kept.
    assert cancelled["ttft_s"].notna().any() and (cancelled["n_events"] > 0).any()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "interrupted"
    assert summary["overall"]["errors"]["status_counts"]["cancelled"] == 4
    assert "run interrupted" in output


@pytest.mark.slow
def test_a_second_ctrl_c_skips_the_rest_of_the_grace(tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["load", *SLOW, "--concurrency", "4", "--requests", "8", "--out", str(out)]
    process = start(args, tmp_path, code=LONG_GRACE)
    wait_in_flight(process, out, 4)
    first = time.monotonic()
    output = interrupt(process, times=2)
    # Far short of the grace the first Ctrl-C started: the second one ended it.
    assert time.monotonic() - first < LONG_GRACE_S / 2, output[-2000:]
    assert process.returncode == 130, output[-2000:]
    cancelled = check_cancelled(out, 4)
    assert cancelled["error_message"].str.contains("second interrupt").all()
    assert not (out / "requests.parts").exists()  # flushed and compacted


@pytest.mark.slow
def test_ctrl_c_with_worker_processes(tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["load", *SLOW, "--concurrency", "4", "--requests", "8", "--workers", "2"]
    process = start([*args, "--out", str(out)], tmp_path)
    # The coordinator's idle preflight connection, and at least 3 of the 4 requests: each
    # worker keeps 2 in flight, so both are sending.
    wait_in_flight(process, out, 4)
    output = interrupt(process)
    assert process.returncode == 130, output[-2000:]
    cancelled = check_cancelled(out, 3)
    assert set(cancelled["worker"]) == {0, 1}


@pytest.mark.slow
def test_ctrl_c_during_an_evaluation(tmp_path: Path) -> None:
    out = tmp_path / "eval"
    # 30 times slower than real time: every answer takes several seconds.
    args = ["eval", "--dataset", str(FIXTURES / "sample.jsonl"), "--model", "gpt-4o-mini"]
    args += ["--time-scale", "30", "--concurrency", "2", "--out", str(out)]
    process = start(args, tmp_path)
    wait_in_flight(process, out, 2)
    output = interrupt(process)
    assert process.returncode == 130, output[-2000:]
    cancelled = check_cancelled(out, 1)
    assert set(cancelled["grade_failure"]) == {"cancelled"}  # no answer, so no wrong answer
    assert cancelled["correct"].isna().all()
    evaluation = json.loads((out / "evaluation.json").read_text())
    assert evaluation["status"] == "interrupted"


@pytest.mark.slow
def test_ctrl_c_during_an_experiment(tmp_path: Path) -> None:
    experiment = tmp_path / "slow.toml"
    experiment.write_text(
        'name = "slow"\narms = ["gpt-4o-mini"]\n\n'
        '[[load]]\nname = "steady"\nconcurrency = 2\nrequests = 4\noutput_tokens = 3000\n\n'
        '[[load]]\nname = "never"\nconcurrency = 2\nrequests = 4\n\n[output]\nreport = []\n'
    )
    out = tmp_path / "run"
    process = start(["run", str(experiment), "--time-scale", "1", "--out", str(out)], tmp_path)
    wait_in_flight(process, out / "steady", 2)
    output = interrupt(process)
    assert process.returncode == 130, output[-2000:]
    check_cancelled(out / "steady", 2)
    assert manifest(out)["status"] == "interrupted"
    assert not (out / "never").exists()


# -- the runner --------------------------------------------------------------------------------
class HangingClient:
    """Sends, gets headers and two tokens, then waits for an answer that never ends."""

    def __init__(self) -> None:
        self.t0_ns = time.perf_counter_ns()
        self.started = 0

    def seconds(self, t_ns: int) -> float:
        return (t_ns - self.t0_ns) / 1e9

    async def chat(
        self, body: bytes, record: RequestRecord, *, stream: bool, headers: object = None
    ) -> RequestRecord:
        record.schedule_lag_s = 0.0
        record.t_first_byte, record.http_status = self.seconds(time.perf_counter_ns()), 200
        record.ttft_s, record.n_events = 0.01, 2  # what a client saw before the cut
        self.started += 1
        await anyio.sleep_forever()
        raise AssertionError("unreachable")


async def hang(client: HangingClient, *, grace_s: float, hurry: bool, **config: object):
    written: list[RequestRecord] = []

    def write(batch: list[RequestRecord]) -> None:
        time.sleep(0.01)  # a writer slower than the cancellations: they must wait for it
        written.extend(batch)

    prompts = synthetic_prompts(4, 8, 4)
    spec = ScheduleSpec(profile="concurrent", concurrency=50, requests=100)
    runner = LoadRunner(
        client, RunnerConfig(run_id="r", prompts=prompts, grace_s=grace_s, **config), write
    )
    async with anyio.create_task_group() as group:
        group.start_soon(runner.run, build_stages(spec, ("a",), len(prompts)))
        while client.started < 50:
            await anyio.sleep(0.01)
        runner.interrupt()
        if hurry:
            runner.interrupt()
    return written, runner


@pytest.mark.anyio
@pytest.mark.parametrize("hurry", [False, True])
async def test_every_request_in_flight_is_recorded_at_the_cancel(hurry: bool) -> None:
    client = HangingClient()
    # A one-record stream: each cancelled request waits for the writer, shielded.
    written, runner = await hang(
        client, grace_s=30.0 if hurry else 0.2, hurry=hurry, stream_buffer=1, batch_rows=7
    )
    assert len(written) == 50 == runner.cancelled_in_flight == runner.stats.statuses["cancelled"]
    assert client.started == 50  # nothing sent after the stop
    assert runner.interrupted and runner.stop_reason == "interrupted"
    for record in written:
        assert record.status == "cancelled" and record.error_type == "cancelled"
        assert record.t_sent is not None and record.t_done >= record.t_sent
        assert record.t_first_byte is not None and record.http_status == 200
        assert record.ttft_s == 0.01 and record.completion_tokens == 2
        assert record.token_source == "estimated" and record.cost_source == "none"
    message = written[0].error_message
    assert ("second interrupt" in message) if hurry else ("0.2s after the run stopped" in message)
    assert runner.stats.errors == 0  # cut by the run, not failed by the target


# -- the summaries -----------------------------------------------------------------------------
def frame(statuses: list[str], t_done: list[float]) -> pd.DataFrame:
    n = len(statuses)
    return pd.DataFrame(
        {
            "run_id": ["r"] * n,
            "arm": ["a"] * n,
            "request_id": list(range(n)),
            "status": statuses,
            "t_sent": np.arange(n, dtype=float),
            "t_done": t_done,
            "latency_s": [d - s if st == "ok" else np.nan for s, d, st in
                          zip(range(n), t_done, statuses, strict=True)],
            "ttft_s": [0.1 if st == "ok" else np.nan for st in statuses],
        }
    )  # fmt: skip


def test_summaries_count_cancelled_attempts_apart() -> None:
    df = frame(["ok", "ok", "timeout", "cancelled"], [1.0, 2.0, 3.5, 60.0])
    counts = status_counts(df)
    assert counts["cancelled"] == 1 and list(counts)[-1] == "cancelled"  # always listed
    assert status_counts(df.iloc[:2])["cancelled"] == 0
    # The window ends with the target's last answer, not with the moment the run gave up.
    assert measurement_window(df) == (0.0, 3.5)
    summary = summarize_run(df, slos={"ttft_s": 1.0})
    overall = summary.overall
    assert overall.requests == 4 and overall.ok == 2
    assert overall.errors.status_counts["cancelled"] == 1
    assert overall.latency_s.n == 2
    assert overall.goodput is not None and overall.goodput.good_fraction == pytest.approx(2 / 3)
    assert {g.status for g in overall.errors.top_errors or ()} == {"timeout", "cancelled"}
    # Rates judge the attempts that got an outcome: 1 timeout of 3, not of 4.
    errors = overall.errors
    assert errors.cancelled == 1 and errors.judged == 3 and errors.failed == 1
    assert errors.error_rate == pytest.approx(1 / 3)
    assert errors.rate_limited_rate == 0.0
    assert not errors.all_failed
    only_cancelled = summarize_run(frame(["cancelled", "cancelled"], [5.0, 6.0])).overall.errors
    assert not only_cancelled.all_failed and only_cancelled.error_rate is None


def test_an_arm_whose_every_attempt_was_cancelled_did_not_fail() -> None:
    assert not every_attempt_failed(3, 0, cancelled=3)
    assert every_attempt_failed(3, 0, cancelled=2)  # the one it finished failed
    assert every_attempt_failed(3, 0)
    assert not every_attempt_failed(0, 0)
