"""``auraon-bench emulator``: one-line errors for bad input, and the demo end to end."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from auraon_bench.cli.main import cli


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_bad_catalog_is_one_line_naming_file_and_field(tmp_path: Path) -> None:
    catalog = tmp_path / "c.toml"
    catalog.write_text('[meta]\nextends = "builtin"\n[plans.starter]\nrequests_per_min = -5\n')
    result = run("emulator", "serve", "--catalog", str(catalog), "--port", "0")
    assert result.exit_code == 2  # USAGE: a library error, as click's own usage errors
    assert result.output.strip().splitlines() == [
        f"Error: {catalog}, field 'plans.starter.requests_per_min': must be >= 1, got -5"
    ]


def test_bad_dataset_names_file_line_and_field(tmp_path: Path) -> None:
    dataset = tmp_path / "d.jsonl"
    dataset.write_text(
        '{"id": "a", "category": "math", "difficulty": "easy", "prompt": "1+1?", '
        '"answer": 2, "grader": "numeric"}\n'
        '{"id": "b", "category": "math", "difficulty": "extreme", "prompt": "x"}\n'
    )
    result = run("emulator", "serve", "--dataset", str(dataset), "--port", "0")
    assert result.exit_code == 2
    assert (
        result.output.strip()
        == f"Error: {dataset}:2, field 'difficulty': must be one of easy, medium, hard"
    )


def test_non_loopback_bind_needs_a_flag() -> None:
    result = run("emulator", "serve", "--host", "0.0.0.0", "--port", "0")
    assert result.exit_code == 2 and "--allow-remote" in result.output
    assert isinstance(result.exception, SystemExit)  # a clean exit, not a crash


def test_bad_fault_flag() -> None:
    result = run("emulator", "serve", "--fault", "meteor=0.5")
    assert result.exit_code == 2 and "NAME=RATE" in result.output
    result = run("emulator", "serve", "--fault", "error=1.5")
    assert result.exit_code == 2 and "[0, 1]" in result.output


@pytest.mark.slow
def test_demo_prints_answer_usage_and_metadata() -> None:
    result = run("emulator", "demo", "--time-scale", "0.01", "--model", "gpt-4o")
    assert result.exit_code == 0, result.output
    assert "answer: " in result.output
    assert "'routed_to': 'gpt-4o'" in result.output
    assert "simulated" in result.output


def test_help_lists_the_emulator() -> None:
    result = run("--help")
    assert result.exit_code == 0 and "emulator" in result.output
