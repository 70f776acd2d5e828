"""Reports from fixed run directories: golden markdown, CSV values, incomplete runs, and the
HTML page rendered by a real headless Chromium."""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from auraon_bench.analysis.limits import Finding, LimitsSummary, Trial
from auraon_bench.report.build import write_report
from auraon_bench.report.tables import limit_trials_table, limits_table, slo_table
from auraon_bench.results.run import Part, read_run
from tests.browser import check_page
from tests.conftest import FIXTURES

RUNS = FIXTURES / "runs"
GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("AURAON_BENCH_UPDATE_GOLDEN") == "1"


def assert_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.write_text(text)
    assert path.is_file(), f"no golden file {path}; run with AURAON_BENCH_UPDATE_GOLDEN=1"
    assert text == path.read_text(), f"{name} differs from its golden file"


@pytest.fixture(scope="module")
def experiment_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report")
    write_report([RUNS / "experiment"], out)
    return out


@pytest.fixture(scope="module")
def comparison_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("compare")
    write_report([RUNS / "load-sweep", RUNS / "load-sweep-b"], out, ("html", "md", "csv"))
    return out


@pytest.mark.slow
def test_experiment_report_markdown_matches_its_golden_file(experiment_report: Path) -> None:
    assert_golden("report-experiment.md", (experiment_report / "report.md").read_text())


@pytest.mark.slow
def test_comparison_markdown_matches_its_golden_file(comparison_report: Path) -> None:
    assert_golden("report-comparison.md", (comparison_report / "report.md").read_text())


@pytest.mark.slow
def test_the_report_says_simulated_and_warns_at_the_top(experiment_report: Path) -> None:
    lines = (experiment_report / "report.md").read_text().splitlines()
    assert lines[2].startswith("> **SIMULATED")
    first_heading = lines.index("## What was run")
    warnings = "\n".join(lines[:first_heading])
    assert "SLO MISSED" in warnings  # the sweep part reached the starter plan's limit
    assert "TOO FEW SAMPLES" in warnings


@pytest.mark.slow
def test_every_chart_is_written_as_png_and_svg(experiment_report: Path) -> None:
    from auraon_bench.report.charts import CHARTS

    charts = experiment_report / "charts"
    pngs = sorted(p.stem for p in charts.glob("*.png"))
    assert pngs == sorted(p.stem for p in charts.glob("*.svg"))
    # Every chart of the registry for the part's kind: the fixture parts have data for each;
    # a section's chart only where the section is (tests/test_report_conversations.py).
    expected = {
        f"{part}-{spec.key}"
        for part, kind in (("eval", "eval"), ("sweep", "load"))
        for spec in CHARTS
        if spec.applies({kind}) and spec.section is None
    }
    assert set(pngs) == expected
    for png in charts.glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    markdown = (experiment_report / "report.md").read_text()
    assert all(f"](charts/{name}.png)" in markdown for name in pngs)


@pytest.mark.slow
def test_csv_tables_hold_raw_values_in_base_units(experiment_report: Path) -> None:
    with open(experiment_report / "tables" / "load-sweep.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    summary = json.loads((RUNS / "experiment" / "sweep" / "summary.json").read_text())
    for row in rows:
        arm = summary["arms"][row["arm"]]
        assert float(row["TTFT p50 (s)"]) == pytest.approx(arm["ttft_s"]["p50"])
        assert int(row["requests (n)"]) == arm["requests"]
    assert {r["arm"] for r in rows} == set(summary["arms"])


@pytest.mark.slow
def test_comparison_has_differences_with_intervals(comparison_report: Path) -> None:
    with open(comparison_report / "tables" / "compare-load.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    metrics = {r["metric (unit)"] for r in rows}
    assert {"TTFT p50 (ms)", "latency p95 (s)", "429 share (%)"} <= metrics
    ttft = next(r for r in rows if r["metric (unit)"] == "TTFT p50 (ms)")
    assert ttft["95% CI of difference"].startswith("[") and int(ttft["n baseline"]) > 0


@pytest.mark.slow
def test_an_interrupted_run_is_reported_and_labelled_incomplete(tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(RUNS / "experiment", run)
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["status"] = "running"  # as a kill -9 leaves it
    (run / "manifest.json").write_text(json.dumps(manifest))
    (run / "summary.json").unlink()
    sweep = run / "sweep"
    (sweep / "summary.json").unlink()
    part_manifest = json.loads((sweep / "manifest.json").read_text())
    part_manifest["status"] = "running"
    (sweep / "manifest.json").write_text(json.dumps(part_manifest))
    (sweep / "requests.parts").mkdir()
    (sweep / "requests.parquet").rename(sweep / "requests.parts" / "part-000001.parquet")
    loaded = read_run(run)
    assert not loaded.complete and any("INCOMPLETE" in p for p in loaded.problems)
    assert len(loaded.part("sweep").records) == 83  # every flushed record still counts
    write_report([run], tmp_path / "out", ("md",))
    head = (tmp_path / "out" / "report.md").read_text().split("## What was run")[0]
    assert "INCOMPLETE RUN" in head


@pytest.mark.slow
def test_html_report_renders_in_chromium_with_every_image(experiment_report: Path) -> None:
    html = (experiment_report / "index.html").read_text()
    assert "http://" not in html and "https://" not in html  # self-contained
    page = check_page(experiment_report / "index.html")
    assert page.console_errors == []
    assert page.external_requests == []
    assert len(page.images) == len(list((experiment_report / "charts").glob("*.png")))
    assert all(loaded and width > 300 for _, loaded, width in page.images)
    assert page.title.startswith("auraon-bench report: small")


@pytest.mark.slow
def test_comparison_html_renders_in_chromium(comparison_report: Path) -> None:
    page = check_page(comparison_report / "index.html")
    assert page.console_errors == [] and page.external_requests == []
    assert page.images and all(loaded for _, loaded, _ in page.images)


@pytest.mark.slow
def test_importing_the_package_draws_nothing() -> None:
    code = "import sys, auraon_bench, auraon_bench.report.build; print('matplotlib' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_the_public_api_reads_a_run_for_pandas() -> None:
    import auraon_bench

    run = auraon_bench.read_run(RUNS / "experiment")
    assert run.kind == "experiment" and [p.name for p in run.parts] == ["eval", "sweep"]
    df = run.records
    assert set(df["part"]) == {"eval", "sweep"} and len(df) == 96 + 83
    assert run.manifest["experiment"]["name"] == "small"
    assert run.part("eval").evaluation.routing is not None


def test_slo_table_shows_the_figure_the_run_wrote() -> None:
    run = read_run(RUNS / "experiment")
    assert run.summary is not None
    verdict = run.summary.slo[0]
    shown = dataclasses.replace(verdict, shown="969.1 ms")
    old = dataclasses.replace(verdict, shown=None)  # a summary.json from before ``shown``
    summary = dataclasses.replace(run.summary, slo=(shown, old))
    table = slo_table(dataclasses.replace(run, summary=summary))
    assert table is not None
    cells = table.cells()
    assert cells[0][3] == "969.1 ms" and cells[1][3] == f"{verdict.measured:,.4f}"
    assert [row[4] for row in table.rows] == [verdict.measured] * 2  # the raw value for CSV
    assert slo_table(dataclasses.replace(run, summary=None)) is None


def test_limits_tables_read_the_probe_summary(tmp_path: Path) -> None:
    findings = (
        Finding("sustainable requests/min", 58.5, 60.0, "requests/min", "pass", "-2.5%", 40),
        Finding("Retry-After honest", None, None, "share", "unknown", "no 429 seen", 0),
    )
    limits = LimitsSummary(
        simulated=True,
        model="gpt-4o-mini",
        plan="starter",
        plan_source="--plan-hint",
        stop_reason=None,
        requests_sent=123,
        tokens_reserved=0,
        findings=findings,
        time_scale=0.05,
        trials={"requests": (Trial(30.0, False), Trial(90.0, True))},
    )
    part = Part("probe", "limits", tmp_path, {}, None, None, limits)
    table = limits_table(part)
    assert table is not None
    assert [row[0] for row in table.rows] == [f.check for f in findings]
    assert table.cells()[0][1:5] == ["58.50", "60.00", "requests/min", "PASS"]
    assert "plan starter (from --plan-hint)" in table.note and "time scale 0.05" in table.note
    trials = limit_trials_table(part)
    assert trials is not None and trials.cells() == [
        ["requests", "1", "30.0", "no 429"],
        ["requests", "2", "90.0", "429"],
    ]
    empty = dataclasses.replace(part, limits=None)
    assert limits_table(empty) is None and limit_trials_table(empty) is None
