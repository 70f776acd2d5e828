"""``auraon-bench eval`` end to end on the embedded emulator."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from auraon_bench.cli.main import cli
from auraon_bench.results.reader import read_records
from tests.conftest import FIXTURES

ARMS = ("auto", "auto:cheap", "gpt-4o", "claude-opus-4", "llama-3.1-8b", "gpt-4o-mini")


def test_eval_grades_every_arm_on_every_prompt(tmp_path: Path) -> None:
    out = tmp_path / "eval"
    args = [
        "eval",
        "--time-scale",
        "0.01",
        "--dataset",
        str(FIXTURES / "sample.jsonl"),
        "--repeat",
        "2",
        "--out",
        str(out),
    ]
    for arm in ARMS:
        args += ["--model", arm]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    df = read_records(out)
    assert len(df) == len(ARMS) * 4 * 2
    pairs = df.groupby(["arm", "prompt_id"]).size()
    assert len(pairs) == len(ARMS) * 4 and set(pairs) == {2}
    assert df["correct"].notna().all() and df["extraction_method"].notna().all()
    # The emulator's answers are deterministic per (seed, model, item): repeats agree.
    fixed = df[~df["arm"].str.startswith("auto")]
    assert (fixed.groupby(["arm", "prompt_id"])["correct"].nunique() == 1).all()
    report = json.loads((out / "evaluation.json").read_text())
    assert report["simulated"] is True
    accuracy = {row["arm"]: row for row in report["accuracy"]["rows"]}
    assert set(accuracy) == set(ARMS)
    assert all(row["n"] == 4 and 0 <= row["accuracy"] <= 1 for row in accuracy.values())
    routing = report["routing"]
    assert set(routing["arms"]) == {"auto", "auto:cheap"}
    assert routing["oracle"]["accuracy"] >= max(accuracy[a]["accuracy"] for a in ARMS[2:])
    assert "quality and cost per arm" in result.output and "auto versus fixed" in result.output


def test_eval_rejects_a_bad_dataset_before_starting(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "category": "math", "difficulty": "easy"}\n')
    result = CliRunner().invoke(cli, ["eval", "--dataset", str(bad)])
    assert result.exit_code == 1
    assert result.output.strip().startswith(f"Error: {bad}:1")
