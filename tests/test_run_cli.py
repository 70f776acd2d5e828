"""``auraon-bench run`` and ``auraon-bench report`` end to end on the embedded emulator."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from auraon_bench.cli.main import cli
from auraon_bench.report.headline import headline
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


@pytest.mark.slow
def test_run_writes_one_run_directory_with_parts_manifest_summary_and_report(
    tmp_path: Path,
) -> None:
    path = write_experiment(tmp_path)
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, ["run", str(path), "--time-scale", "0.01", "--out", str(out)])
    # 1 (FAILED): the 1 microsecond TTFT objective below is missed; the run is still complete.
    assert result.exit_code == 1, result.output
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
    summary = run.summary
    assert summary is not None and summary.status == "complete"
    # A 1 microsecond TTFT objective cannot be met: every arm of both parts fails it.
    assert {v.verdict for v in summary.slo} == {"fail"}
    assert len(summary.slo) == 4
    assert any(w.startswith("SLO MISSED") for w in summary.warnings)
    # The headline figures are the parts' own, copied from their summaries.
    for part in run.parts:
        headline, own = summary.parts[part.name], part.load_summary.overall
        assert (headline.requests, headline.ok) == (own.requests, own.ok)
        assert headline.rate_limited == own.errors.rate_limited
    assert (out / "report" / "report.md").is_file()
    assert (out / "report" / "tables" / "slo.csv").is_file()
    assert not (out / "report" / "index.html").exists()  # only md and csv were asked for


def test_a_bad_experiment_fails_in_one_line_before_anything_runs(tmp_path: Path) -> None:
    path = write_experiment(tmp_path, EXPERIMENT.replace("rate = 20.0", "rate = -1.0"))
    result = CliRunner().invoke(cli, ["run", str(path), "--out", str(tmp_path / "run")])
    assert result.exit_code == 2  # USAGE
    message = result.output.strip()
    assert message.startswith("Error: ") and "\n" not in message
    assert "field 'load.steady.rate'" in message and str(path) in message
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_report_command_compares_runs_and_rejects_unknown_formats(tmp_path: Path) -> None:
    runs = [str(FIXTURES / "runs" / "load-sweep"), str(FIXTURES / "runs" / "load-sweep-b")]
    out = tmp_path / "cmp"
    result = CliRunner().invoke(cli, ["report", *runs, "--out", str(out), "--format", "md,csv"])
    assert result.exit_code == 0, result.output
    assert (out / "report.md").read_text().startswith("# auraon-bench comparison of 2 runs")
    assert (out / "tables" / "compare-load.csv").is_file()
    bad = CliRunner().invoke(cli, ["report", runs[0], "--out", str(out), "--format", "pdf"])
    assert bad.exit_code == 2 and "unknown format 'pdf'" in bad.output


def test_report_on_a_missing_run_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["report", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert "no such run directory" in result.output and "Traceback" not in result.output


@pytest.mark.slow
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
    run = read_run(out)
    assert {p.name for p in run.parts} == {"eval", "steady"}
    # Sized so that its figures are sound: the shipped default opens without a warning, with
    # the headline first, on the console as in the report.
    markdown = (out / "report" / "report.md").read_text()
    assert "**Warnings**" not in markdown, markdown[:2000]
    assert all(a.latency_s.n >= 30 for p in run.parts for a in p.load_summary.arms)
    sentences = headline(run)
    assert markdown.index("## In short") < markdown.index("## What was run")
    assert " ".join(sentences) in markdown
    assert result.output.index("In short") < result.output.index("parts (n = attempts")


@pytest.mark.slow
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
    limits = run.parts[0].limits
    assert limits is not None and limits.plan == "starter"
    findings = {f.check: f for f in limits.findings}
    assert findings["sustainable requests/min"].verdict == "pass"
    assert run.summary is not None and run.summary.parts["limits"].plan == "starter"
    assert "**Rate limits: limits**" in (out / "report" / "report.md").read_text()


def test_plan_reads_each_parts_plan_fit_and_summary_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from auraon_bench.analysis import load_summary, plan_fit
    from auraon_bench.experiment.workload import workload_from_run

    calls = {"plan_fit": 0, "summarize_run": 0}

    def counted(module: Any, name: str) -> None:
        real = getattr(module, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            calls[name] += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(module, name, wrapper)

    counted(plan_fit, "plan_fit")
    counted(load_summary, "summarize_run")
    run = read_run(FIXTURES / "runs" / "load-sweep")
    [part] = run.parts
    workload = workload_from_run(run, monthly_growth=0.05)
    workload_from_run(run)
    assert calls == {"plan_fit": 1, "summarize_run": 0}  # summary.json is read, not recomputed
    assert part.plan_fit is not None and workload.peak_rpm == part.plan_fit.needed_rpm
    summary = part.load_summary
    assert workload.cost_per_request == {
        a.arm: a.cost.per_request_usd for a in summary.arms if a.cost.per_request_usd is not None
    }
    overall = summary.overall
    assert workload.completion_tokens == overall.tokens.completion_tokens / overall.ok == 32
    assert workload.prompt_tokens == overall.tokens.prompt_tokens / overall.ok
    assert 0 < workload.average_rpm <= workload.peak_rpm and workload.monthly_growth == 0.05

    # A part cut short before its summary.json: summarised once from its records.
    shutil.copytree(FIXTURES / "runs" / "load-sweep", tmp_path / "cut")
    (tmp_path / "cut" / "summary.json").unlink()
    cut = read_run(tmp_path / "cut")
    assert workload_from_run(cut).cost_per_request == workload.cost_per_request
    workload_from_run(cut)
    assert calls == {"plan_fit": 2, "summarize_run": 1}


def test_plan_command_on_a_measured_run(tmp_path: Path) -> None:
    run = FIXTURES / "runs" / "load-sweep"
    target = tmp_path / "plan.json"
    # 100 attempts over 19 s: refused without --force, with the reason and the flag named.
    refused = CliRunner().invoke(cli, ["plan", str(run), "--out", str(target)])
    assert refused.exit_code == 2 and not target.exists()
    assert "100 attempts over 19.0 s" in " ".join(refused.output.split())
    assert "--force" in refused.output
    assert "Traceback" not in refused.output
    result = CliRunner().invoke(
        cli, ["plan", str(run), "--growth", "0.1", "--out", str(target), "--force"]
    )
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())  # the console wraps long lines
    assert "caveat: extrapolated anyway (--force)" in said
    assert "measured 100 attempts over 19.0 s" in said
    assert "no interval: the run spans less than two windows" in said
    advice = json.loads(target.read_text())
    assert advice["caveats"] and "100 attempts" in advice["caveats"][0]
    assert advice["workload"]["measured"]["requests"] == 100
    fit = read_run(run).parts[0].plan_fit
    assert fit is not None
    assert advice["workload"]["peak_requests_per_min"] == fit.needed_rpm
    assert advice["workload"]["monthly_growth"] == 0.1
    assert set(advice["monthly_cost_usd"]) == {"auto", "gpt-4o-mini"}
    assert f"plan advice written to {target}" in result.output


@pytest.mark.slow
def test_an_experiment_can_search_capacity_as_a_part(tmp_path: Path) -> None:
    """A [[load]] part, then the [capacity] search on the same emulator: its capacity.json
    in the part's directory, its capacity in summary.json and the table, its section in the
    experiment's report; the experiment's [slo] table is the search's SLOs."""
    path = tmp_path / "cap.toml"
    path.write_text(
        'name = "cap"\narms = ["gpt-4o-mini"]\n\n'
        '[[load]]\nname = "warm"\nprofile = "constant"\nrate = 50\nrequests = 20\n'
        "output_tokens = 8\n\n"
        "[capacity]\nmin_rate = 40\nmax_rate = 80\nmin_step_seconds = 0.5\n"
        "output_tokens = 8\n\n"
        "[slo]\nttft_p95_ms = 2000\nerror_rate = 0.01\n\n"
        '[output]\nreport = ["md"]\n'
    )
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, ["run", str(path), "--time-scale", "0.02", "--out", str(out)])
    assert result.exit_code == 0, result.output
    from auraon_bench.capacity.session import read_capacity

    search = read_capacity(out / "capacity")
    (arm,) = search.results
    assert [s.rate for s in arm.steps] == [40, 80] and arm.capacity == 80
    assert {r.slo for r in arm.steps[0].slos} == {"ttft_p95_ms", "error_rate"}
    run = read_run(out)
    assert [p.name for p in run.parts] == ["warm"] and run.complete, run.problems
    assert run.summary is not None
    headline = run.summary.parts["capacity"]
    assert headline.kind == "capacity" and headline.capacity == {"gpt-4o-mini": 80}
    assert headline.requests == sum(s.requests for s in arm.steps)
    assert "capacity" in result.output and "80/s" in " ".join(result.output.split())
    report = (out / "report" / "report.md").read_text()
    assert "capacity (capacity)" in report and "gpt-4o-mini: capacity and money" in report


def test_a_bad_capacity_table_fails_in_one_line(tmp_path: Path) -> None:
    cases = {
        '[capacity]\nslo = ["ttft<=1s"]\n': ("capacity.slo", ".toml:2,", "unknown objective"),
        "[capacity]\nmin_rate = 10\n": ("capacity.slo", "needs SLOs"),
        '[capacity]\nslo = ["error_rate<=1%"]\nmin_rate = 10\nmax_rate = 5\n': (
            "capacity.min_rate",
            "above max_rate",
        ),
        '[capacity]\nslo = ["ttft_p95<=1s"]\nstream = false\n': ("capacity.stream", "streamed"),
        '[capacity]\nslo = ["error_rate<=1%"]\nramp = 3\n': ("capacity.ramp", "unknown"),
    }
    for index, (text, wanted) in enumerate(cases.items()):
        path = tmp_path / f"bad{index}.toml"
        path.write_text(text)
        result = CliRunner().invoke(cli, ["run", str(path), "--out", str(tmp_path / f"r{index}")])
        assert result.exit_code == 2, (text, result.output)
        line = " ".join(result.output.split())  # the terminal of the test wraps at 80
        assert line.count("Error: ") == 1 and all(w in line for w in wanted), (text, line)
        assert "Traceback" not in result.output
        assert not (tmp_path / f"r{index}").exists()


@pytest.mark.slow
def test_run_no_pin_output_reaches_the_parts_requests(tmp_path: Path) -> None:
    """A twin re-running a gateway's experiment asks for what the gateway got: unpinned answers
    end where the model stops, not at max_tokens; a part whose file pins keeps its pin."""
    from auraon_bench.results.reader import read_records

    text = (
        'name = "pins"\nseed = 3\narms = ["gpt-4o-mini"]\n\n'
        '[[load]]\nname = "free"\nrate = 50.0\nrequests = 24\noutput_tokens = 900\n\n'
        '[[load]]\nname = "pinned"\nrate = 50.0\nrequests = 8\noutput_tokens = 900\n'
        "pin_output = true\n"
    )
    path = tmp_path / "pins.toml"
    path.write_text(text)
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, ["run", str(path), "--time-scale", "0.01", "--no-pin-output",
                                      "--no-report", "--out", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    free = read_records(out / "free")
    pinned = read_records(out / "pinned")
    assert (free["max_tokens"] == 900).all() and (free["completion_tokens"] < 900).mean() > 0.5
    assert (pinned["completion_tokens"] == 900).all()
