"""The report of a capacity search: ``auraon-bench report OUT`` on a real search on the emulator.

Its figures are ``capacity.json``'s (the Markdown cells are the typed steps' values formatted, the
CSV holds them raw); its charts mark each arm's capacity and each latency SLO; a run whose file
is malformed is a one-line error; and the HTML page renders in Chromium with every image.
"""

from __future__ import annotations

import csv
import dataclasses
import logging
import shutil
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner
from matplotlib.figure import Figure

from auraon_bench.capacity.search import FAIL, PASS, VOID
from auraon_bench.capacity.session import CapacityRun, read_capacity
from auraon_bench.cli.main import cli
from auraon_bench.report.capacity import capacity_document, write_capacity_report
from auraon_bench.report.capacity_plans import fmt_money, fmt_rate
from auraon_bench.report.charts import CAPACITY_CHARTS, Note, freeze_layout
from auraon_bench.report.palette import Palette
from auraon_bench.report.tables import fmt_ms, fmt_pct, fmt_s
from tests.browser import check_page

pytestmark = pytest.mark.slow  # its module fixture runs a capacity search

ARM = "gpt-4o-mini"
SPECS = {spec.key: spec for spec in CAPACITY_CHARTS}


@pytest.fixture(scope="module")
def search(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real search: three passing steps (40, 80, 160/s), each a load run on the emulator."""
    out = tmp_path_factory.mktemp("capacity") / "cap"
    result = CliRunner().invoke(
        cli,
        ["capacity", "--model", ARM, "--slo", "ttft_p95<=2s", "--time-scale", "0.02",
         "--min-rate", "40", "--max-rate", "160", "--min-step-seconds", "0.5",
         "--output-tokens", "8", "--traffic", "120/min", "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def report(search: Path) -> Path:
    result = CliRunner().invoke(cli, ["report", str(search)])
    assert result.exit_code == 0, result.output
    assert f"report: {search / 'report' / 'index.html'}" in result.output
    return search / "report"


def table_rows(markdown: str, title: str) -> list[dict[str, str]]:
    block = markdown.split(f"**{title}**\n\n", 1)[1].split("\n\n", 1)[0]
    lines = [line.strip().strip("|") for line in block.splitlines()]
    header = [c.strip() for c in lines[0].split(" | ")]
    return [dict(zip(header, [c.strip() for c in line.split(" | ")], strict=True))
            for line in lines[2:]]  # fmt: skip


@pytest.mark.slow
def test_the_markdown_holds_the_searchs_own_figures(search: Path, report: Path) -> None:
    run = read_capacity(search)
    (result,) = run.results
    markdown = (report / "report.md").read_text()
    assert markdown.startswith("# auraon-bench capacity report: cap\n\n> **SIMULATED")
    short = markdown.split("## In short\n\n", 1)[1].split("\n", 1)[0]
    n = min(s.requests for s in result.steps)
    assert f"{ARM} carries at least {fmt_rate(result.capacity)} requests/s within " in short
    assert f"ttft p95 <= 2 s (n >= {n} per step)" in short
    steps = table_rows(markdown, f"{ARM}: steps")
    assert len(steps) == len(result.steps) == 3
    for row, step in zip(steps, result.steps, strict=True):
        assert row["offered (req/s)"] == fmt_rate(step.rate)
        assert row["verdict"] == step.verdict == PASS
        assert row["requests (n)"] == str(step.requests)
        assert row["goodput (req/s)"] == fmt_rate(step.goodput)
        assert row["throughput (req/s)"] == fmt_rate(step.throughput)
        assert row["TTFT p50 (ms)"] == fmt_ms(step.ttft_p50_s)
        assert row["TTFT p95 (ms)"] == fmt_ms(step.ttft_p95_s)
        assert row["latency p95 (s)"] == fmt_s(step.latency_p95_s)
        assert row["errors (%)"] == fmt_pct(step.error_rate)
        assert row["429 (%)"] == fmt_pct(step.rate_limited_rate)
        assert row["cost per 1k req (USD)"] == fmt_money(step.cost_per_1k_usd)
        (slo,) = step.slos
        assert row["binding SLO: measured (n)"] == f"ttft p95: {slo.shown} (n={slo.n})"
    assert "accuracy (%)" not in steps[0]  # nothing was graded
    plans = result.plans
    assert plans is not None
    rows = table_rows(markdown, f"{ARM}: capacity and money under each plan")
    assert [r["plan"] for r in rows] == [p.plan for p in plans.plans]
    for row, plan in zip(rows, plans.plans, strict=True):
        assert row["capacity (req/s)"] == fmt_rate(plan.capacity_rps)
        assert row["binds first"] == plan.binds
        assert row["$/month at capacity (USD)"] == fmt_money(plan.monthly_cost_at_capacity_usd)
        assert row["meets traffic"] == ("yes" if plan.meets_traffic else "no")
    assert (
        f"At your traffic of 120/min (2 requests/s), {ARM} costs "
        f"{fmt_money(plans.monthly_cost_at_traffic_usd)} a month (30 days); the cheapest plan "
        f"that carries it with 30% headroom: {plans.cheapest_meeting}."
    ) in markdown
    assert "## Method\n\nEach step offers one rate (poisson arrivals" in markdown


def test_the_csv_tables_hold_the_raw_values(search: Path, report: Path) -> None:
    (result,) = read_capacity(search).results
    with open(report / "tables" / f"capacity-steps-{ARM}.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row, step in zip(rows, result.steps, strict=True):
        assert float(row["offered (req/s)"]) == step.rate
        assert float(row["goodput (req/s)"]) == step.goodput
        assert float(row["TTFT p95 (s)"]) == step.ttft_p95_s
        assert float(row["errors (share)"]) == step.error_rate
        assert row["run directory"] == f"steps/{Path(step.run_dir).name}"
        assert (search / row["run directory"] / "summary.json").is_file()
    with open(report / "tables" / "capacity.csv", newline="") as handle:
        (arm,) = csv.DictReader(handle)
    assert float(arm["capacity (req/s)"]) == result.capacity
    assert int(arm["requests (n)"]) == sum(s.requests for s in result.steps)


def test_charts_are_written_or_noted(report: Path) -> None:
    charts = report / "charts"
    assert sorted(p.name for p in charts.iterdir()) == [
        "capacity-goodput.png", "capacity-goodput.svg",
        "capacity-latency.png", "capacity-latency.svg",
    ]  # fmt: skip
    for png in charts.glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5_000
    for svg in charts.glob("*.svg"):
        words = " ".join(el.text or "" for el in ET.parse(svg).getroot().iter())
        assert ARM in words and "SIMULATED" in words and "n=100 per step" in words
    markdown = (report / "report.md").read_text()
    assert "![Latency versus offered rate](charts/capacity-latency.png)" in markdown
    assert "_Accuracy versus offered rate: no step was graded" in markdown
    assert "_Routing mix versus offered rate: every arm's answers came from one model" in markdown


def knee_run(run: CapacityRun) -> CapacityRun:
    """The real search as if 160/s had failed on its TTFT p95 and every step had been graded
    and routed to two models: a bracket, a binding SLO, accuracy and a routing mix."""
    (result,) = run.results
    steps = []
    for k, step in enumerate(result.steps):
        failed = step.rate == 160
        slos = tuple(dataclasses.replace(s, verdict=FAIL if failed else PASS) for s in step.slos)
        ok = sum(step.routed_to.values())
        steps.append(dataclasses.replace(
            step, verdict=FAIL if failed else PASS, slos=slos, accuracy=0.9 - 0.1 * k,
            graded=ok, routed_to={ARM: ok - 10 * k, "gpt-4o": 10 * k},
        ))  # fmt: skip
    knee = dataclasses.replace(
        result, capacity=80.0, first_failing=160.0, binding="ttft_p95_s", steps=tuple(steps),
        stop_reason="bracket within tolerance",
    )  # fmt: skip
    return dataclasses.replace(run, results=(knee,))


def quietly(make):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        figure = make()
        if isinstance(figure, Figure):
            freeze_layout(figure)
    return figure


def test_the_knee_and_the_slo_are_marked(search: Path) -> None:
    run = knee_run(read_capacity(search))
    (result,) = run.results
    fig = quietly(lambda: SPECS["capacity-latency"].draw(run, Palette([ARM]), simulated=True))
    ttft, latency = fig.axes[:2]
    assert "TTFT (ms" in ttft.get_ylabel() and "latency (s" in latency.get_ylabel()
    assert ttft.get_xscale() == "log" and "offered rate (requests/s" in ttft.get_xlabel()
    lines = {line.get_label(): line for line in ttft.lines}
    assert list(lines["SLO ttft p95 <= 2 s"].get_ydata()) == [2000.0, 2000.0]
    knee = lines[f"{ARM} capacity 80/s, fails at 160/s"]
    assert list(knee.get_xdata()) == [80.0, 80.0]
    p95 = lines[f"{ARM} TTFT p95 (n=100 per step)"]
    assert list(p95.get_ydata()) == [s.ttft_p95_s * 1000 for s in result.steps]
    goodput = quietly(lambda: SPECS["capacity-goodput"].draw(run, Palette(), simulated=False))
    series = {line.get_label(): line for line in goodput.axes[0].lines}
    identity = series["delivered = offered (y = x)"]
    assert list(identity.get_xdata()) == list(identity.get_ydata())
    assert list(series[f"{ARM} goodput (n=100 per step)"].get_ydata()) == [
        s.goodput for s in result.steps
    ]
    accuracy = quietly(lambda: SPECS["capacity-accuracy"].draw(run, Palette(), simulated=False))
    (acc_line,) = [x for x in accuracy.axes[0].lines if "graded per step" in str(x.get_label())]
    assert list(acc_line.get_ydata()) == pytest.approx([90.0, 80.0, 70.0])
    routing = quietly(lambda: SPECS["capacity-routing"].draw(run, Palette(), simulated=False))
    bars = routing.axes[0].patches
    assert len(bars) == 2 * len(result.steps)
    top = [b.get_y() + b.get_height() for b in bars[len(result.steps) :]]
    assert top == pytest.approx([100.0] * len(result.steps))


@pytest.mark.slow
def test_a_report_of_a_knee_says_the_bracket_and_draws_every_chart(search, tmp_path) -> None:
    run = knee_run(read_capacity(search))
    (tmp_path / "knee").mkdir()
    (tmp_path / "knee" / "capacity.json").write_bytes(orjson.dumps(run.to_dict()))
    files = write_capacity_report(tmp_path / "knee", tmp_path / "out", ("md", "png", "csv"))
    assert len([f for f in files if f.suffix == ".png"]) == len(CAPACITY_CHARTS)
    markdown = (tmp_path / "out" / "report.md").read_text()
    step = run.results[0].steps[-1]
    assert (
        f"{ARM} carries 80 requests/s within ttft p95 <= 2 s (bracket 80-160/s, n >= 100 per "
        f"step); binding: ttft p95 ({step.slos[0].shown} at 160/s, n={step.slos[0].n})."
    ) in markdown
    assert f"{ARM}'s accuracy: 90.0% at 40/s (n={step.graded}, answered by 1 model) and " in (
        markdown
    )
    steps = table_rows(markdown, f"{ARM}: steps")
    assert [r["accuracy (%)"] for r in steps] == ["90.0%", "80.0%", "70.0%"]
    mix = table_rows(markdown, f"{ARM}: routing mix per step (ok answers per serving model)")
    assert [r["gpt-4o (n)"] for r in mix] == ["0", "10", "20"]


def test_unjudged_void_and_interrupted_searches_are_warned_about(search, tmp_path) -> None:
    run = read_capacity(search)
    (result,) = run.results
    first = dataclasses.replace(result.steps[0], requests=40)
    void = dataclasses.replace(result.steps[1], verdict=VOID)
    short = dataclasses.replace(
        result, steps=(first, void), capacity=40.0, client_bound_at=void.rate
    )
    doc = capacity_document(dataclasses.replace(run, results=(short,), status="interrupted"), "x")
    text = str(doc.blocks)
    assert "INCOMPLETE CAPACITY SEARCH: status 'interrupted'" in text
    assert f"CLIENT-BOUND: {ARM} at 80/s" in text and "client-bound at 80/s" in text
    assert f"TOO FEW SAMPLES: {ARM} at 40/s has n=40" in text
    empty = capacity_document(dataclasses.replace(run, results=()), "empty")
    assert "No arm was searched." in str(empty.blocks)


@pytest.mark.parametrize(
    "content",
    [b"{not json", b'{"schema_version": 1, "results": 3}', b"[]", b'{"slos": ["x"]}'],
)
def test_a_malformed_capacity_file_is_one_line(search: Path, tmp_path: Path, content) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "capacity.json").write_bytes(content)
    result = CliRunner().invoke(cli, ["report", str(bad)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "capacity.json" in lines[0]
    assert not (bad / "report").exists()
    mixed = CliRunner().invoke(cli, ["report", str(search), str(search)])
    assert mixed.exit_code == 2 and mixed.output.count("\n") == 1
    assert "a capacity search is reported on its own" in mixed.output


@pytest.mark.slow
def test_drawing_is_silent(search: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Every chart, from the real run and the knee, draws without a warning or a log record;
    a chart with nothing to show is a one-line note."""
    run = read_capacity(search)
    for variant in (run, knee_run(run), dataclasses.replace(run, results=())):
        for spec in CAPACITY_CHARTS:
            with caplog.at_level(logging.DEBUG, logger="matplotlib"):
                drawn = quietly(lambda s=spec, v=variant: s.draw(v, Palette(), simulated=True))
            assert isinstance(drawn, Figure | Note)
            if isinstance(drawn, Note):
                assert drawn.text and "\n" not in drawn.text
            else:
                assert drawn.get_suptitle() and all(
                    ax.lines or ax.patches for ax in drawn.axes if ax.get_visible()
                )
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.mark.slow
def test_the_html_report_renders_with_every_image(search: Path, tmp_path: Path) -> None:
    copy = tmp_path / "cap"
    shutil.copytree(search, copy, ignore=shutil.ignore_patterns("report", "steps"))
    run = knee_run(read_capacity(copy))
    (copy / "capacity.json").write_bytes(orjson.dumps(run.to_dict()))
    result = CliRunner().invoke(cli, ["report", str(copy / "capacity.json"), "--format", "html"])
    assert result.exit_code == 0, result.output
    page = check_page(copy / "report" / "index.html")
    assert page.console_errors == [] and page.external_requests == []
    assert len(page.images) == len(CAPACITY_CHARTS)
    assert all(loaded and width > 300 for _, loaded, width in page.images)
    assert page.title == "auraon-bench capacity report: cap"


def test_plan_on_a_capacity_run_reuses_its_tables(search: Path, tmp_path: Path) -> None:
    """``auraon-bench plan`` on a capacity run: the search's own plan table for another
    traffic, nothing re-measured (the measured capacity and cost per request are the run's)."""
    from auraon_bench.capacity.plans import replan

    (result,) = read_capacity(search).results
    stored = result.plans
    assert stored is not None and stored.traffic_rps == pytest.approx(2.0)
    target = tmp_path / "plan.json"
    out = CliRunner().invoke(
        cli, ["plan", str(search), "--traffic", "6000/min", "--headroom", "0", "--out", str(target)]
    )
    assert out.exit_code == 0, out.output
    data = orjson.loads(target.read_text())
    (table,) = data["plans"]
    assert table["traffic_rps"] == pytest.approx(100.0)
    assert table["measured_rps"] == stored.measured_rps
    assert table["cost_per_request_usd"] == stored.cost_per_request_usd
    again = replan(stored, 100.0, 0.0)
    assert table == orjson.loads(orjson.dumps(again.to_dict()))
    # 100/s: Starter's 1/s and Pro's 16.7/s cannot carry it; the unlimited plan carries what
    # the search measured (the emulator at time scale 0.02: 160/s of the run is 3.2/s)
    assert [p["meets_traffic"] for p in table["plans"]] == [False, False, False]
    assert "under each plan" in out.output and "plan tables written to" in out.output
    bad = CliRunner().invoke(cli, ["plan", str(search), "--traffic", "lots", "--out", str(target)])
    assert bad.exit_code == 2 and "--traffic" in bad.output and "Traceback" not in bad.output
