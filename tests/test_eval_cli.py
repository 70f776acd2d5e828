"""``auraon-bench eval`` end to end on the embedded emulator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from auraon_bench.cli.main import cli
from auraon_bench.eval.session import DEFAULT_ARMS
from auraon_bench.results.reader import read_records
from tests.conftest import FIXTURES

# auto, its three modes and four fixed models: the default arms.
ARMS = DEFAULT_ARMS


@pytest.mark.slow
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
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    df = read_records(out)
    assert len(df) == len(ARMS) * 4 * 2
    pairs = df.groupby(["arm", "prompt_id"]).size()
    assert len(pairs) == len(ARMS) * 4 and set(pairs) == {2}
    assert df["correct"].notna().all() and df["extraction_method"].notna().all()
    # The emulator's answers are deterministic per (seed, model, item): repeats agree.
    fixed_rows = df[~df["arm"].str.startswith("auto")]
    assert (fixed_rows.groupby(["arm", "prompt_id"])["correct"].nunique() == 1).all()
    report = json.loads((out / "evaluation.json").read_text())
    assert report["simulated"] is True
    accuracy = {row["arm"]: row for row in report["accuracy"]["rows"]}
    assert set(accuracy) == set(ARMS)
    assert all(row["n"] == 4 and 0 <= row["accuracy"] <= 1 for row in accuracy.values())
    routing = report["routing"]
    assert set(routing["arms"]) == {"auto", "auto:fast", "auto:quality", "auto:cheap"}
    fixed = [a for a in ARMS if not a.startswith("auto")]
    assert len(fixed) >= 4
    assert routing["oracle"]["accuracy"] >= max(accuracy[a]["accuracy"] for a in fixed)
    # The four modes are unrelated routers: one point each, no curve (no APGR), a note says so.
    assert routing["curves"] == [] and len(routing["single_points"]) == 4
    assert any("no APGR" in note for note in routing["notes"])
    assert routing["reference"] == routing["strong"] in fixed
    versus = [a["versus_reference"] for a in routing["arms"].values()]
    assert all(v["arm_b"] == routing["reference"] for v in versus)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["arms"]["gpt-4o"]["gateway_overhead_s"]["n"] == 8
    assert "quality and cost per arm" in result.output and "auto versus fixed" in result.output


def test_eval_rejects_a_bad_dataset_before_starting(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "category": "math", "difficulty": "easy"}\n')
    result = CliRunner().invoke(cli, ["eval", "--dataset", str(bad)])
    assert result.exit_code == 2  # USAGE
    assert result.output.strip().startswith(f"Error: {bad}:1")


@pytest.mark.slow
def test_the_judge_rates_judge_items_and_its_cost_is_apart(tmp_path: Path) -> None:
    dataset = tmp_path / "mixed.jsonl"
    dataset.write_text(
        '{"id": "j1", "category": "chat", "difficulty": "easy", "prompt": "Say something kind.",'
        ' "grader": "judge", "grader_options": {"rubric": "Kind and short."}}\n'
        '{"id": "n1", "category": "math", "difficulty": "easy", "prompt": "What is 2+3?",'
        ' "answer": 5, "grader": "numeric"}\n'
    )
    out = tmp_path / "judged"
    result = CliRunner().invoke(
        cli,
        [
            "eval",
            "--time-scale",
            "0.01",
            "--dataset",
            str(dataset),
            "--model",
            "auto",
            "--model",
            "gpt-4o",
            "--judge",
            "gpt-4o-mini",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    df = read_records(out)
    judged = df[df["prompt_id"] == "j1"]
    assert judged["correct"].notna().all()
    assert set(judged["extraction_method"]) == {"judge_verdict"}
    judge_records = read_records(out / "judge")
    assert len(judge_records) == 2 and set(judge_records["arm"]) == {"judge:gpt-4o-mini"}
    report = json.loads((out / "evaluation.json").read_text())
    assert report["judge"]["requests"] == 2 and report["judge"]["cost_usd"] > 0
    arm_cost = sum(row["total_usd"] for row in report["cost"]["rows"].values())
    assert abs(arm_cost - df["cost_usd"].sum()) < 1e-9  # the judge's cost is not in the arms'
    assert "judge gpt-4o-mini: 2 ratings" in result.output
