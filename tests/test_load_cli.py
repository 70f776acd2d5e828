"""``auraon-bench load`` end to end: embedded emulator, records, manifest, errors, stopping."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from auraon_bench.cli.main import cli
from auraon_bench.emulator.launcher import EmulatorProcess
from auraon_bench.results.reader import read_records
from tests.conftest import FIXTURES


def run(*args: str):
    return CliRunner().invoke(cli, ["load", *args])


def manifest(run_dir: Path) -> dict:
    return json.loads((run_dir / "manifest.json").read_text())


@pytest.mark.slow
def test_embedded_emulator_closed_loop_two_arms(tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = run(
        "--time-scale",
        "0.01",
        "--model",
        "auto",
        "--model",
        "gpt-4o",
        "--concurrency",
        "4",
        "--requests",
        "40",
        "--output-tokens",
        "8",
        "--out",
        str(out),
    )
    assert result.exit_code == 0, result.output
    df = read_records(out)
    assert len(df) == 40 and set(df["status"]) == {"ok"}
    assert df["arm"].value_counts().to_dict() == {"auto": 20, "gpt-4o": 20}
    assert sorted(df["request_id"]) == list(range(40))
    assert (df["completion_tokens"] == 8).all()
    assert set(df["cost_source"]) == {"blockrun"}
    data = manifest(out)
    assert data["status"] == "complete" and data["target"]["simulated"] is True
    assert data["target"]["api_key"].startswith("br-…")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["simulated"] is True and summary["arms"]["gpt-4o"]["ttft_s"]["n"] == 20
    assert "SIMULATED" in result.output and "TTFT p50 (ms)" in result.output
    assert not (out / "requests.parts").exists()


@pytest.mark.slow
def test_constant_rate_with_duration_and_warmup(tmp_path: Path) -> None:
    out = tmp_path / "rate"
    result = run(
        "--time-scale",
        "0.01",
        "--model",
        "llama-3.1-8b",
        "--rate",
        "40",
        "--duration",
        "1",
        "--warmup-requests",
        "5",
        "--no-stream",
        "--out",
        str(out),
    )
    assert result.exit_code == 0, result.output
    df = read_records(out)
    assert len(df) == 40 and df["warmup"].sum() == 5
    offsets = df.sort_values("t_scheduled")["t_scheduled"].diff().dropna()
    assert offsets.mean() == pytest.approx(1 / 40, rel=0.01)
    assert df["schedule_lag_s"].notna().all()
    check = manifest(out)["self_check"]
    assert check["target_rate_rps"] == 40 and check["schedule_lag_p99_s"] is not None


@pytest.mark.slow
def test_closed_loop_warmup_seconds_marks_the_first_seconds(tmp_path: Path) -> None:
    # A closed loop has no precomputed send offsets: the first --warmup-seconds must still be
    # marked warm-up as the requests go out, and left out of the summary.
    out = tmp_path / "closed"
    result = run(
        "--time-scale", "0.01", "--model", "gpt-4o-mini", "--concurrency", "2",
        "--duration", "1.2", "--warmup-seconds", "0.4", "--output-tokens", "4",
        "--out", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    df = read_records(out)
    since_start = df["t_scheduled"] - df["t_scheduled"].min()
    early, late = df[since_start < 0.38], df[since_start > 0.42]
    assert len(early) >= 4 and len(late) >= 4
    assert early["warmup"].all() and not late["warmup"].any()
    summary = json.loads((out / "summary.json").read_text())
    arm = summary["arms"]["gpt-4o-mini"]
    assert arm["warmup_requests"] == int(df["warmup"].sum())
    assert arm["requests"] == int((~df["warmup"]).sum())
    # The guard counts what was paid (warm-up included); the measured cost is the summary's.
    cost = manifest(out)["cost"]
    assert cost["spent_usd"] == pytest.approx(df["cost_usd"].sum())
    assert cost["measured_usd"] == pytest.approx(df.loc[~df["warmup"], "cost_usd"].sum())
    assert cost["measured_usd"] < cost["spent_usd"]


def test_unreachable_target_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    result = run(
        "--base-url", f"http://127.0.0.1:{port}/v1", "--yes", "--out", str(tmp_path / "never")
    )
    assert result.exit_code == 2  # USAGE: nothing ran, there is no result to judge
    assert result.output.startswith("Error: cannot reach") and result.output.count("\n") <= 2
    assert isinstance(result.exception, SystemExit)  # a clean exit, not a crash
    assert time.monotonic() - started < 10
    assert not (tmp_path / "never").exists()


def test_rejected_key_and_bad_flags(emulator) -> None:
    result = run("--base-url", emulator.base_url, "--api-key", "br-not-valid-9999", "--yes")
    assert result.exit_code == 2 and "rejected the API key" in result.output
    assert "not-valid" not in result.output
    bad = run("--profile", "constant", "--requests", "5")
    assert bad.exit_code == 2 and "--rate" in bad.output
    sweep = run("--sweep", "1,x")
    assert sweep.exit_code == 2 and "--sweep" in sweep.output


def test_real_target_needs_confirmation_without_yes(emulator) -> None:
    result = run("--base-url", emulator.base_url, "--api-key", "br-demo-pro", "--requests", "3")
    assert result.exit_code == 2
    assert "estimated cost up to $" in result.output and "--yes" in result.output


@pytest.mark.slow
def test_honor_retry_after_recovers_every_request(tmp_path: Path) -> None:
    with EmulatorProcess(time_scale=0.1, catalog=str(FIXTURES / "instant-llama.toml")) as emu:
        out = tmp_path / "retry"
        result = run(
            "--base-url",
            emu.base_url,
            "--api-key",
            "br-demo-starter",
            "--yes",
            "--model",
            "llama-3.1-8b",
            "--concurrency",
            "1",
            "--requests",
            "70",
            "--output-tokens",
            "1",
            "--retry",
            "honor-retry-after",
            "--max-attempts",
            "2",
            "--out",
            str(out),
        )
    assert result.exit_code == 0, result.output
    df = read_records(out)
    assert (df["status"] == "rate_limited").any() and (df["attempt"] > 1).any()
    # One client alone: a retry sent when Retry-After says succeeds, every time.
    last = df.sort_values("attempt").groupby("request_id").tail(1)
    assert len(last) == 70 and (last["status"] == "ok").all()
    # 60 fit the full bucket; how many of the last 10 meet a 429 depends on how fast the first
    # 60 went out (the bucket refills meanwhile), so only a floor is certain.
    assert (df["attempt"] == 2).sum() == (df["status"] == "rate_limited").sum() >= 5


def test_max_cost_stops_sending(tmp_path: Path, emulator) -> None:
    out = tmp_path / "cost"
    result = run(
        "--base-url",
        emulator.base_url,
        "--api-key",
        "br-demo-pro",
        "--yes",
        "--model",
        "claude-opus-4",
        "--requests",
        "400",
        "--concurrency",
        "2",
        "--output-tokens",
        "50",
        "--max-cost",
        "0.02",
        "--out",
        str(out),
    )
    assert result.exit_code == 0, result.output
    data = manifest(out)
    assert data["cost"]["stopped_by_cost"] is True
    assert data["cost"]["spent_usd"] >= 0.02
    assert len(read_records(out)) < 400


@pytest.mark.slow
def test_sigint_keeps_records_and_marks_the_run_interrupted(tmp_path: Path) -> None:
    out = tmp_path / "interrupted"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "auraon_bench",
            "load",
            "--time-scale",
            "0.01",
            "--rate",
            "50",
            "--duration",
            "60",
            "--out",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (out / "requests.parts").exists():
            time.sleep(0.1)
        time.sleep(1.0)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
    # 130 (INTERRUPTED), after the summary was printed and written.
    assert process.returncode == 130, stderr.decode()[-2000:]
    data = manifest(out)
    assert data["status"] == "interrupted"
    df = read_records(out)
    assert 20 < len(df) < 2500 and (df["status"] == "ok").all()
    assert b"interrupted" in stdout


@pytest.mark.slow
def test_dataset_prompts_and_their_categories(tmp_path: Path) -> None:
    out = tmp_path / "dataset"
    result = run(
        "--time-scale",
        "0.01",
        "--dataset",
        str(FIXTURES / "sample.jsonl"),
        "--model",
        "claude-opus-4",
        "--requests",
        "8",
        "--concurrency",
        "2",
        "--out",
        str(out),
    )
    assert result.exit_code == 0, result.output
    df = read_records(out)
    assert len(df) == 8 and (df["status"] == "ok").all()
    assert set(df["prompt_id"]) == {"f-1", "m-1", "c-1", "t-1"}
    assert set(df["category"]) == {"factual", "math", "multiple_choice", "tool_calling"}
    tool_rows = df[df["prompt_id"] == "t-1"]
    assert (tool_rows["finish_reason"] == "tool_calls").all()


@pytest.mark.slow
def test_traffic_flags_take_distributions_and_refuse_nonsense_in_one_line(tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = run(
        "--time-scale", "0", "--model", "gpt-4o-mini", "--concurrency", "2", "--requests", "3",
        "--turns", "uniform:2,3", "--think-time", "0.01", "--input-tokens", "normal:80,10,min=40",
        "--output-tokens", "lognormal:20,0.3,max=40", "--tokenizer", "cl100k_base",
        "--out", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    df = read_records(out)
    assert df["session_id"].nunique() == 3 and set(df["turn"]) <= {1, 2, 3}
    assert (df["max_tokens"] <= 40).all() and df["max_tokens"].nunique() > 1
    options = manifest(out)["options"]
    assert options["turns"]["kind"] == "uniform" and options["tokenizer"] == "cl100k_base"
    assert options["input_tokens"]["text"] == "normal:80,10,min=40"
    bad = {
        ("--input-tokens", "gauss:3,4"): "unknown distribution 'gauss'",
        ("--turns", "2000"): "must be <= 1024",
        ("--output-tokens", "normal:10,-1"): "SD must be >= 0",
        ("--think-time", "uniform:3,1"): "LO",
        ("--input-tokens", "file:missing.txt"): "missing.txt",
    }
    for (flag, value), message in bad.items():
        result = run(flag, value, "--out", str(tmp_path / "never"))
        assert result.exit_code == 2, (flag, value, result.output)
        assert message in result.output and flag in result.output
        assert "Traceback" not in result.output
    assert not (tmp_path / "never").exists()
    result = run("--replay", str(tmp_path / "x.jsonl"), "--dataset", str(FIXTURES / "sample.jsonl"))
    assert result.exit_code == 2 and "--replay and --dataset" in result.output


@pytest.mark.slow
def test_a_replay_refuses_what_it_cannot_honour_and_prices_recorded_models(tmp_path: Path) -> None:
    timed = tmp_path / "timed.jsonl"
    timed.write_text(
        json.dumps({"timestamp": 0, "body": {"model": "gpt-4o", "messages": [{"role": "user",
                    "content": "a"}], "max_tokens": 4}}) + "\n"
        + json.dumps({"timestamp": 0.1, "body": {"model": "gpt-4o-mini", "messages": [
                    {"role": "user", "content": "b"}], "max_tokens": 4}}) + "\n"
    )  # fmt: skip
    batch = tmp_path / "batch.jsonl"
    line = {"custom_id": "x", "method": "POST", "url": "/v1/chat/completions"}
    batch.write_text(json.dumps({**line, "body": {"messages": [{"role": "user", "content": "c"}]}}))
    refused = {
        (str(timed), "--rate", "5"): "--rate does not apply",
        (str(timed), "--sweep", "1,2"): "--sweep does not apply",
        (str(timed), "--turns", "3"): "--turns does not apply",
        (str(batch), "--profile", "ramp"): "--profile does not apply",
        (str(batch), "--requests", "3"): "--requests does not apply",
    }
    for (path, flag, value), message in refused.items():
        result = run("--replay", path, flag, value, "--out", str(tmp_path / "never"))
        assert result.exit_code == 2 and message in result.output, result.output
    result = run("--replay", str(batch), "--model", "recorded", "--out", str(tmp_path / "never"))
    assert result.exit_code == 2 and "batch.jsonl:1: the body has no model" in result.output
    assert not (tmp_path / "never").exists()
    out = tmp_path / "run"
    result = run("--replay", str(timed), "--model", "recorded", "--time-scale", "0", "--out",
                 str(out))  # fmt: skip
    assert result.exit_code == 0, result.output
    arms = {a["arm"]: a for a in manifest(out)["cost"]["estimate"]["arms"]}
    assert set(arms) == {"recorded (gpt-4o)", "recorded (gpt-4o-mini)"}
    assert all(a["usd"] is not None and a["requests"] == 1 for a in arms.values())


def test_a_shared_prefix_too_short_for_its_message_is_one_line(tmp_path: Path) -> None:
    result = run("--shared-prefix-tokens", "3", "--out", str(tmp_path / "never"))
    assert result.exit_code == 2 and "--shared-prefix-tokens" in result.output
    assert "must be 0 or above 4" in result.output and "Traceback" not in result.output
