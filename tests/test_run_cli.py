"""``auraon-bench run`` and ``auraon-bench report`` end to end on the embedded emulator."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from click.testing import CliRunner

from auraon_bench.cli.main import cli
from auraon_bench.results.run import read_run
from tests.conftest import FIXTURES, ROOT

EXPERIMENT = """\
# two quick parts
name = "cli"
seed = 1
arms = ["auto", "gpt-4o-mini"]

[eval]
datasets = ["{dataset}"]

[[load]]
name = "steady"
rate = 20.0
requests = 30

[slo]
ttft_p95_ms = 0.001

[output]
report = ["md", "csv"]
"""


def write_experiment(tmp_path: Path, text: str = EXPERIMENT) -> Path:
    path = tmp_path / "cli.toml"
    path.write_text(text.format(dataset=FIXTURES / "sample.jsonl"))
    return path


def test_run_writes_one_run_directory_with_parts_manifest_summary_and_report(
    tmp_path: Path,
) -> None:
    path = write_experiment(tmp_path)
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, ["run", str(path), "--time-scale", "0.01", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert f"report: {out / 'report'}" in result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert manifest["experiment"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert manifest["experiment"]["content"] == path.read_text()
    assert [p["name"] for p in manifest["parts"]] == ["eval", "steady"]
    run = read_run(out)
    assert run.complete and run.simulated
    eval_part, steady = run.parts
    assert len(eval_part.records) == 4 * 2  # every arm on every prompt
    assert len(steady.records) == 30
    summary = json.loads((out / "summary.json").read_text())
    # A 1 microsecond TTFT objective cannot be met: every arm of both parts fails it.
    assert {v["verdict"] for v in summary["slo"]} == {"fail"}
    assert len(summary["slo"]) == 4
    assert any(w.startswith("SLO MISSED") for w in summary["warnings"])
    assert (out / "report" / "report.md").is_file()
    assert (out / "report" / "tables" / "slo.csv").is_file()
    assert not (out / "report" / "index.html").exists()  # only md and csv were asked for


def test_a_bad_experiment_fails_in_one_line_before_anything_runs(tmp_path: Path) -> None:
    path = write_experiment(tmp_path, EXPERIMENT.replace("rate = 20.0", "rate = -1.0"))
    result = CliRunner().invoke(cli, ["run", str(path), "--out", str(tmp_path / "run")])
    assert result.exit_code == 1
    message = result.output.strip()
    assert message.startswith("Error: ") and "\n" not in message
    assert "field 'load.steady.rate'" in message and str(path) in message
    assert not (tmp_path / "run").exists()


def test_report_command_compares_runs_and_rejects_unknown_formats(tmp_path: Path) -> None:
    runs = [str(FIXTURES / "runs" / "load-sweep"), str(FIXTURES / "runs" / "load-sweep-b")]
    out = tmp_path / "cmp"
    result = CliRunner().invoke(cli, ["report", *runs, "--out", str(out), "--format", "md,csv"])
    assert result.exit_code == 0, result.output
    assert (out / "report.md").read_text().startswith("# auraon-bench comparison of 2 runs")
    assert (out / "tables" / "compare-load.csv").is_file()
    bad = CliRunner().invoke(cli, ["report", runs[0], "--out", str(out), "--format", "pdf"])
    assert bad.exit_code == 1 and "unknown format 'pdf'" in bad.output


def test_report_on_a_missing_run_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["report", str(tmp_path / "nope")])
    assert result.exit_code == 1
    assert "no such run directory" in result.output and "Traceback" not in result.output


def test_the_quickstart_experiment_runs_and_leaves_a_report(tmp_path: Path) -> None:
    """The README's main command, with the emulator 50x faster."""
    out = tmp_path / "quick"
    result = CliRunner().invoke(
        cli,
        ["run", str(ROOT / "experiments" / "quickstart.toml"), "--time-scale", "0.02",
         "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (out / "report" / "index.html").is_file()
    assert {p.name for p in read_run(out).parts} == {"eval", "steady"}


def test_an_experiment_can_probe_rate_limits_as_a_part(tmp_path: Path) -> None:
    path = tmp_path / "probe.toml"
    path.write_text(
        '# a probe only\nname = "probe"\n\n[target]\nplan = "starter"\n\n'
        '[limits]\nplan_hint = "starter"\nonly = "requests"\nmax_requests = 1500\n\n'
        '[output]\nreport = ["md"]\n'
    )
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, ["run", str(path), "--time-scale", "0.02", "--out", str(out)])
    assert result.exit_code == 0, result.output
    run = read_run(out)
    assert [p.kind for p in run.parts] == ["limits"]
    findings = {f["check"]: f for f in run.parts[0].limits["findings"]}
    assert findings["sustainable requests/min"]["verdict"] == "pass"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["parts"]["limits"]["plan"] == "starter"
    assert "**Rate limits: limits**" in (out / "report" / "report.md").read_text()
