"""Exit codes end to end: 0 all good, 1 a failed SLO, part or arm, 2 a usage or configuration
error, 130 interrupted. The failing arm is a model the emulator lists (so a check of the model
list lets it through) whose every upstream attempt fails: a catalog overlay sets its
``error_rate`` to 1, the way a gateway answers for a model it cannot serve."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from auraon_bench.cli import exit_codes
from auraon_bench.cli.main import cli
from auraon_bench.emulator.launcher import EmulatorProcess
from auraon_bench.errors import ConfigError
from auraon_bench.eval.report import EvalReport
from auraon_bench.results.files import read_result
from auraon_bench.results.run import read_run
from tests.conftest import FIXTURES

BROKEN = "gpt-4o-mini"
UNAVAILABLE = "503 service_unavailable: Selected model is temporarily unavailable."
OVERLAY = f"""\
[meta]
extends = "builtin"
[models."{BROKEN}".faults]
error_rate = 1.0
"""


@pytest.fixture(scope="module")
def overlay(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("catalog") / "broken.toml"
    path.write_text(OVERLAY)
    return path


@pytest.fixture(scope="module")
def broken_emulator(overlay: Path) -> Iterator[EmulatorProcess]:
    """An emulator on which BROKEN answers every request with a 503 (fixed models do not fall
    back), with the sample dataset loaded for evaluations."""
    datasets = [str(FIXTURES / "sample.jsonl")]
    with EmulatorProcess(time_scale=0.01, seed=5, catalog=str(overlay), datasets=datasets) as emu:
        yield emu


def against(emulator: EmulatorProcess, *args: str) -> list[str]:
    return [*args, "--base-url", emulator.base_url, "--api-key", "br-demo-pro", "--yes"]


def test_the_codes_and_which_one_wins() -> None:
    assert (exit_codes.OK, exit_codes.FAILED, exit_codes.USAGE) == (0, 1, 2)
    assert exit_codes.INTERRUPTED == 128 + signal.SIGINT == 130
    assert exit_codes.outcome_code(interrupted=False, failed=False) == 0
    assert exit_codes.outcome_code(interrupted=False, failed=True) == 1
    # A run cut short is first of all incomplete, whatever it measured before the stop.
    assert exit_codes.outcome_code(interrupted=True, failed=True) == 130


# --- load and eval: 1 when an arm failed on every attempt -------------------------------------


@pytest.mark.slow
def test_load_exits_1_and_says_why_when_an_arm_fails_every_attempt(
    broken_emulator: EmulatorProcess, tmp_path: Path
) -> None:
    out = tmp_path / "load"
    args = ["load", "--model", BROKEN, "--model", "llama-3.1-8b", "--requests", "20",
            "--concurrency", "4", "--output-tokens", "4", "--out", str(out)]  # fmt: skip
    result = CliRunner().invoke(cli, against(broken_emulator, *args))
    assert result.exit_code == exit_codes.FAILED, result.output
    lines = [line.strip() for line in result.output.splitlines()]
    at = lines.index(f"{BROKEN}: all 10 attempts failed")
    assert lines[at + 1].startswith(f"10  http_error {UNAVAILABLE}")
    assert f"FAILED: no ok attempt for {BROKEN}" in lines
    assert not any(line.startswith("llama-3.1-8b:") for line in lines)  # it had no error
    groups = json.loads((out / "summary.json").read_text())["arms"][BROKEN]["errors"]["top_errors"]
    assert [(g["status"], g["http_status"], g["count"]) for g in groups] == [
        ("http_error", 503, 10)
    ]
    # The same target and arms minus the broken one: nothing failed, exit 0.
    args = ["load", "--model", "llama-3.1-8b", *args[5:-1], str(tmp_path / "ok")]
    healthy = CliRunner().invoke(cli, against(broken_emulator, *args))
    assert healthy.exit_code == exit_codes.OK, healthy.output
    assert "attempts failed" not in healthy.output


def test_eval_exits_1_and_never_calls_a_failed_arm_accurate(
    broken_emulator: EmulatorProcess, tmp_path: Path
) -> None:
    out = tmp_path / "eval"
    args = ["eval", "--dataset", str(FIXTURES / "sample.jsonl"), "--model", BROKEN,
            "--model", "llama-3.1-8b", "--model", "gpt-4o", "--out", str(out)]  # fmt: skip
    result = CliRunner().invoke(cli, against(broken_emulator, *args))
    assert result.exit_code == exit_codes.FAILED, result.output
    # The quality table, then the one by category: both say it failed, neither shows 0%
    # (at 80 columns the first cuts the arm's name short).
    quality, by_category = [
        line for line in result.output.splitlines() if line.startswith(f"│ {BROKEN[:9]}")
    ]
    assert quality.split("│")[3].strip() == "ALL FAILED"
    assert "failed (1)" in by_category and "0.0%" not in by_category
    assert f"{BROKEN}: all 4 attempts failed" in result.output
    report = read_result(out / "evaluation.json", EvalReport)
    assert report is not None and report.failed_arms == (BROKEN,)
    best = report.best()
    assert best is not None and best.arm in ("llama-3.1-8b", "gpt-4o")


# --- run: 1 for a failed part or a missed SLO; report: 0 or 2 ---------------------------------

EXPERIMENT = """\
name = "exit-codes"
seed = 2
arms = ["{broken}", "llama-3.1-8b"]

[target]
catalog = "{catalog}"
time_scale = 0.01

[eval]
datasets = ["{dataset}"]

[[load]]
name = "steady"
arms = ["{broken}"]
rate = 20.0
requests = 12

[output]
report = ["md"]
"""


@pytest.mark.slow
def test_run_exits_1_for_a_failed_part_and_the_report_says_so_first(
    overlay: Path, tmp_path: Path
) -> None:
    path = tmp_path / "exit-codes.toml"
    path.write_text(
        EXPERIMENT.format(broken=BROKEN, catalog=overlay, dataset=FIXTURES / "sample.jsonl")
    )
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, ["run", str(path), "--out", str(out)])
    # No SLO in the file: the failed part alone makes it 1.
    assert result.exit_code == exit_codes.FAILED, result.output
    assert "FAILED PART steady: all 12 attempts failed" in result.output
    # The eval part's best arm is never the one that failed (the cell wraps at 80 columns).
    lines = result.output.splitlines()
    eval_row = lines[next(i for i, line in enumerate(lines) if line.startswith("│ eval")) :]
    eval_row = eval_row[: next(i for i, line in enumerate(eval_row) if "│ steady" in line)]
    assert "best" in eval_row[0] and "llama-3.1-" in "".join(eval_row)
    assert BROKEN not in "".join(eval_row)
    assert "errors of part steady" in result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "complete"  # how it ended; "failed" says what it measured
    assert summary["parts"]["steady"]["failed"] is True
    assert summary["parts"]["eval"]["failed"] is False  # one arm of two answered
    run = read_run(out)
    assert run.summary is not None and run.summary.failed_parts == ["steady"]
    markdown = (out / "report" / "report.md").read_text()
    warnings = markdown[markdown.index("> **Warnings**") : markdown.index("## What was run")]
    first = warnings.splitlines()[2]
    assert first.startswith("> - FAILED PART steady: all 12 attempts failed")
    assert f"ARM FAILED: eval/{BROKEN}: all 4 attempts failed" in warnings
    assert "**Most frequent errors per arm: steady**" in markdown
    assert "**Most frequent errors per arm: eval**" in markdown
    again = CliRunner().invoke(cli, ["report", str(out), "--format", "md"])
    assert again.exit_code == exit_codes.OK, again.output  # a report of a failure is no failure


# --- errors outside a finished run ------------------------------------------------------------


@pytest.mark.parametrize(
    ("raised", "code", "said"),
    [
        (ConfigError("no such thing", field="--x"), exit_codes.USAGE, "Error: field '--x'"),
        (ExceptionGroup("tasks", [ConfigError("in a task")]), exit_codes.USAGE, "in a task"),
        (KeyboardInterrupt(), exit_codes.INTERRUPTED, "interrupted"),
        (click.Abort(), exit_codes.INTERRUPTED, "interrupted"),  # Ctrl-C at a prompt
        (BaseExceptionGroup("tasks", [KeyboardInterrupt()]), exit_codes.INTERRUPTED, "interr"),
    ],
    ids=["library-error", "library-error-in-a-group", "ctrl-c", "prompt", "ctrl-c-in-a-group"],
)
def test_what_escapes_a_command_becomes_its_code(
    monkeypatch: pytest.MonkeyPatch, raised: BaseException, code: int, said: str
) -> None:
    def write_report(*args: object, **kwargs: object) -> list[Path]:
        raise raised

    # Ctrl-C while the report is written: after the load loop, whose own SIGINT handler no
    # longer runs, so Python raises KeyboardInterrupt in the command.
    monkeypatch.setattr("auraon_bench.report.build.write_report", write_report)
    result = CliRunner().invoke(cli, ["report", str(FIXTURES / "runs" / "load-sweep")])
    assert result.exit_code == code, result.output
    assert said in result.output and "Traceback" not in result.output


# --- 130: interrupted, with what was measured printed and written ------------------------------

LONG_EXPERIMENT = """\
name = "interrupted"
arms = ["gpt-4o-mini"]

[target]
time_scale = 0.01

[[load]]
name = "long"
rate = 20.0
duration = 60.0

[output]
report = ["md"]
"""


@pytest.mark.slow
def test_run_interrupted_by_sigint_exits_130_after_printing_and_writing(tmp_path: Path) -> None:
    path = tmp_path / "long.toml"
    path.write_text(LONG_EXPERIMENT)
    out = tmp_path / "run"
    process = subprocess.Popen(
        [sys.executable, "-m", "auraon_bench", "run", str(path), "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (out / "long" / "requests.parts").exists():
            time.sleep(0.1)
        time.sleep(1.0)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == exit_codes.INTERRUPTED, stderr.decode()[-2000:]
    text = stdout.decode()
    assert "run interrupted:" in text and "report:" in text  # printed, and the report written
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "interrupted"
    assert summary["parts"]["long"]["status"] == "interrupted"
    assert 0 < summary["parts"]["long"]["requests"] < 1200  # stopped well before the end
    assert (out / "report" / "report.md").is_file()
