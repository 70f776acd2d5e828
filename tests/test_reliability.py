"""Nothing lost, nothing leaked: a run killed with SIGKILL stays readable and reportable (and its
embedded emulator does not outlive it); an API key appears in no file, output or help text."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest
from click.testing import CliRunner

from auraon_bench.cli.main import cli
from auraon_bench.emulator.launcher import DEMO_KEYS, EmulatorProcess
from auraon_bench.results.layout import PART_PATTERN, PARTS_DIR
from auraon_bench.results.run import read_run
from tests.conftest import FIXTURES

LONG_RUN = """\
# a load test that runs far longer than the test waits
name = "killed"
arms = ["gpt-4o-mini"]

[[load]]
name = "steady"
rate = 40.0
duration = 120.0
output_tokens = 16

[output]
report = []
"""


def _wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _refuses(url: str) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname, parsed.port), timeout=0.5):
            return False
    except OSError:
        return True


@pytest.mark.slow
def test_kill_9_leaves_a_readable_partial_run_and_no_orphan_emulator(tmp_path: Path) -> None:
    experiment = tmp_path / "long.toml"
    experiment.write_text(LONG_RUN)
    out = tmp_path / "run"
    log = (tmp_path / "stderr.txt").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "auraon_bench", "run", str(experiment), "--time-scale", "0.05",
         "--out", str(out)],
        stdout=subprocess.DEVNULL, stderr=log, stdin=subprocess.DEVNULL, cwd=tmp_path,
    )  # fmt: skip
    try:
        parts = out / "steady" / PARTS_DIR

        def flushed() -> bool:
            return parts.is_dir() and any(PART_PATTERN.match(p.name) for p in parts.iterdir())

        _wait_for(flushed, 60, "the first flushed batch of records")
        emulator_url = json.loads((out / "manifest.json").read_text())["target"]["base_url"]
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        log.close()
    # The embedded emulator noticed its parent's death (its stdin pipe closed) and stopped.
    _wait_for(lambda: _refuses(emulator_url), 10, "the orphaned emulator to stop")
    run = read_run(out)
    assert not run.complete and run.status == "running"
    assert len(run.part("steady").records) > 0
    report = CliRunner().invoke(cli, ["report", str(out), "--format", "md"])
    assert report.exit_code == 0, report.output
    head = (out / "report" / "report.md").read_text().split("## What was run")[0]
    assert "INCOMPLETE RUN" in head


SECRET_RUN = """\
name = "secrets"
arms = ["gpt-4o-mini"]

[eval]
datasets = ["{dataset}"]

[[load]]
name = "steady"
rate = 50.0
requests = 20

[[load]]
name = "split"  # the key also travels to worker processes
rate = 50.0
requests = 20
workers = 2
"""


@pytest.mark.slow
def test_the_api_key_appears_in_no_output(emulator: EmulatorProcess, tmp_path: Path) -> None:
    key = DEMO_KEYS["enterprise"]
    experiment = tmp_path / "secret.toml"
    experiment.write_text(SECRET_RUN.format(dataset=FIXTURES / "sample.jsonl"))
    out = tmp_path / "run"
    result = CliRunner().invoke(
        cli,
        ["run", str(experiment), "--base-url", emulator.base_url, "--api-key", key, "--yes",
         "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert key not in result.output
    files = [p for p in out.rglob("*") if p.is_file()]
    assert any(p.suffix == ".parquet" for p in files) and any(p.name == "index.html" for p in files)
    leaked = [str(p) for p in files if key.encode() in p.read_bytes()]
    assert leaked == []
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["target"]["api_key"].startswith("br-…")  # a masked prefix, never the key


def test_help_never_shows_a_key_from_the_environment(monkeypatch) -> None:
    key = "br-secret-key-1234567890"
    monkeypatch.setenv("AURAON_API_KEY", key)
    for command in ("load", "eval", "run", "limits"):
        result = CliRunner().invoke(cli, [command, "--help"])
        assert result.exit_code == 0 and key not in result.output, command
    assert os.environ["AURAON_API_KEY"] == key


@pytest.mark.slow
def test_an_unusable_results_directory_fails_before_any_load(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    result = CliRunner().invoke(
        cli, ["load", "--model", "gpt-4o", "--requests", "3", "--out", str(blocker / "run")]
    )
    assert result.exit_code == 2  # USAGE: the command could not run as asked
    lines = result.output.strip().splitlines()
    assert lines[-1].startswith("Error: ") and str(blocker / "run") in lines[-1]
    assert "Not a directory" in lines[-1] and "Traceback" not in result.output
    assert "target:" not in result.output  # failed before the target was started or used


def _limit_file_size() -> None:
    # A real OS-level write failure (EFBIG) at a chosen size, as a full disk would give. Python
    # ignores SIGXFSZ, so the write returns the error instead of killing the process.
    import resource

    resource.setrlimit(resource.RLIMIT_FSIZE, (48_000, 48_000))


@pytest.mark.slow
def test_a_failing_write_stops_the_run_and_says_what_was_kept(tmp_path: Path) -> None:
    out = tmp_path / "run"
    done = subprocess.run(
        [
            *(sys.executable, "-m", "auraon_bench", "load", "--model", "gpt-4o"),
            # Parts grow with the rate (one every 2 s), so early ones fit under the limit and a
            # later one does not: the run fails mid-way, with records on both sides.
            *("--profile", "ramp", "--rate", "10", "--ramp-to", "300", "--duration", "20"),
            *("--time-scale", "0.01", "--output-tokens", "16", "--out", str(out)),
        ],
        preexec_fn=_limit_file_size,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr  # a library error (ResultsWriteError): USAGE
    error = [line for line in done.stdout.splitlines() + done.stderr.splitlines() if line]
    assert "Traceback" not in done.stderr
    message = error[-1]
    assert message.startswith("Error: ") and "cannot write request records" in message
    assert "File too large" in message
    saved = int(message.rsplit("; ", 1)[1].split(" are in ")[0].replace(",", ""))
    unsaved = int(message.split("; ")[-2].split(" measured")[0].replace(",", ""))
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "failed" and manifest["error"] == message[len("Error: ") :]
    assert manifest["counts"]["unsaved"] == unsaved
    assert saved + unsaved == manifest["counts"]["records"]  # nothing lost silently
    assert saved > 0 and unsaved > 0
    # It stopped at the failing write, not after the 20 s schedule (3,100 requests).
    assert manifest["counts"]["records"] < 3_000
    # What was saved is readable, and exactly as many rows as the message says.
    assert len(read_run(out).parts[0].records) == saved
