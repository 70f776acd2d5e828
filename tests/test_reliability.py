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
    head = (out / "report" / "report.md").read_text().split("## ")[0]
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
"""


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
