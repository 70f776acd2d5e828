"""What a person lifting tables and charts into slides reads: one "measured" column in the SLO
table, SIMULATED said of emulator runs only, dollars on the history's cost axis, and an arm in
the same colour in a report and in the history."""

from __future__ import annotations

import json
import logging
import re
import shutil
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from auraon_bench.cli.history import history_command
from auraon_bench.history import METRICS, read_history
from auraon_bench.history.report import (
    build_history_document,
    history_stamp,
    runs_table,
    trend_chart,
)
from auraon_bench.report import charts
from auraon_bench.report.build import table_csv
from auraon_bench.report.charts.base import FOOTER
from auraon_bench.report.palette import Palette, arm_colour
from auraon_bench.report.render import html_table, markdown_table, to_markdown
from auraon_bench.report.tables import slo_table
from auraon_bench.results.run import read_run
from tests.conftest import FIXTURES

RUNS = FIXTURES / "runs"
START = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
LITELLM = "http://127.0.0.1:4000/v1"


def test_the_slo_table_shows_one_measured_column_and_the_csv_keeps_the_number() -> None:
    table = slo_table(read_run(RUNS / "experiment"))
    assert table is not None
    shown = [c.name for c in table.display_columns]
    assert shown == ["part", "arm", "objective", "measured", "n", "verdict"]
    header = markdown_table(table).splitlines()[2]
    assert header.count("measured") == 1
    assert html_table(table).count("<th>measured") == 1
    assert all(len(row) == len(shown) for row in table.cells())
    csv_header, first, *_ = table_csv(table).splitlines()
    assert csv_header == 'part,arm,objective,measured,"measured (s, share or USD)",n,verdict'
    assert first.startswith("eval,auto,ttft p95 <= 2000 ms,969.1 ms,0.969")


def copy_run(
    dest: Path, day: int, *, gateway: str | None = None, twin_of: str | None = None
) -> Path:
    """A copy of the load-sweep fixture started ``day`` days after START; against ``gateway``
    (a real target, not simulated) or on a twin of run ``twin_of`` when given."""
    shutil.copytree(RUNS / "load-sweep", dest)
    manifest = json.loads((dest / "manifest.json").read_text())
    manifest["run_id"] = f"night-{day:02d}"
    manifest["created_utc"] = (START + timedelta(days=day)).isoformat(timespec="seconds")
    if gateway is not None:
        manifest["target"] = {"base_url": gateway, "api_key": "sk-…", "simulated": False}
        manifest["warnings"] = []
        summary = json.loads((dest / "summary.json").read_text())
        summary["simulated"] = False
        (dest / "summary.json").write_text(json.dumps(summary))
    if twin_of is not None:
        manifest["target"] = {**manifest["target"], "twin_of": twin_of}
    (dest / "manifest.json").write_text(json.dumps(manifest))
    return dest


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    """Two emulator runs and one against a LiteLLM proxy, in one results directory."""
    root = tmp_path / "results"
    copy_run(root / "a", 0)
    copy_run(root / "b", 1, gateway=LITELLM)
    copy_run(root / "c", 2)
    return root


def test_only_emulator_runs_are_called_simulated(mixed: Path) -> None:
    history = read_history(mixed)
    assert not history.simulated and history.n_simulated == 2
    assert history.simulated_label == " (2 of 3 SIMULATED)"
    targets = {row[0]: row[4] for row in runs_table(history).rows}
    assert targets == {
        "night-00": "SIMULATED (built-in emulator)",
        "night-01": LITELLM,
        "night-02": "SIMULATED (built-in emulator)",
    }
    markdown = to_markdown(build_history_document(history, [METRICS["latency_p95_s"]], []), {})
    banner = next(line for line in markdown.splitlines() if line.startswith("> **SIMULATED"))
    assert "2 of 3 runs" in banner and "night-00, night-02" in banner
    assert "night-01" not in banner


def test_a_mixed_history_chart_marks_simulated_points_not_the_whole_figure(mixed: Path) -> None:
    history = read_history(mixed)
    fig = trend_chart(history, METRICS["latency_p95_s"], [], Palette(), history.simulated)
    assert FOOTER not in [t.get_text() for t in fig.texts]
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "hollow point: a SIMULATED run (built-in emulator)" in legend
    hollow = [ln for ln in fig.axes[0].lines if ln.get_markerfacecolor() == "white"]
    assert hollow and all(list(ln.get_xdata()) == [0, 2] for ln in hollow)


def test_twin_runs_are_named_in_the_history_banner_legend_and_footer(tmp_path: Path) -> None:
    root = tmp_path / "results"
    copy_run(root / "a", 0, gateway=LITELLM)
    copy_run(root / "b", 1, twin_of="night-00")
    copy_run(root / "c", 2)
    history = read_history(root)
    assert history.twins_of == ("night-00",) and history_stamp(history) is False
    targets = {row[0]: row[4] for row in runs_table(history).rows}
    assert targets["night-01"] == "SIMULATED (twin of night-00)"
    assert targets["night-02"] == "SIMULATED (built-in emulator)"
    markdown = to_markdown(build_history_document(history, [METRICS["latency_p95_s"]], []), {})
    banner = next(line for line in markdown.splitlines() if line.startswith("> **SIMULATED"))
    assert "1 of them on twins fitted to run night-00" in banner
    fig = trend_chart(history, METRICS["latency_p95_s"], [], Palette(), history_stamp(history))
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "hollow point: a SIMULATED run (built-in emulator or a fitted twin)" in legend

    only_twins = tmp_path / "twins"
    for day in (1, 2):
        copy_run(only_twins / f"t{day}", day, twin_of="night-00")
    history = read_history(only_twins)
    assert history_stamp(history) == "SIMULATED (twin of night-00)"
    markdown = to_markdown(build_history_document(history, [METRICS["latency_p95_s"]], []), {})
    banner = next(line for line in markdown.splitlines() if line.startswith("> **SIMULATED"))
    assert "twin of night-00" in banner and "fitted to run night-00" in banner
    fig = trend_chart(history, METRICS["latency_p95_s"], [], Palette(), history_stamp(history))
    assert "SIMULATED (twin of night-00)" in [t.get_text() for t in fig.texts]
    assert FOOTER not in [t.get_text() for t in fig.texts]


@pytest.mark.slow
def test_a_history_of_real_gateway_runs_never_says_simulated(tmp_path: Path) -> None:
    root = tmp_path / "results"
    for day in range(3):
        copy_run(root / f"r{day}", day, gateway=LITELLM)
    result = CliRunner().invoke(history_command, [str(root), "--format", "md,csv"])
    assert result.exit_code == 0, result.output
    assert "SIMULATED" not in result.output
    page = (root / "history" / "report.md").read_text()
    assert "SIMULATED" not in page


def test_the_history_cost_axis_reads_in_dollars_and_draws_silently(mixed, caplog) -> None:
    history = read_history(mixed)
    with caplog.at_level(logging.WARNING, logger="matplotlib"), warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = trend_chart(history, METRICS["cost_per_request_usd"], [], Palette())
        charts.freeze_layout(fig)
    assert not caplog.records
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.yaxis.get_ticklabels() if t.get_text()]
    assert labels and all(re.fullmatch(r"\$\d[\d,]*(\.\d+)?", t) for t in labels), labels
    assert ax.yaxis.get_offset_text().get_text() == ""


def test_an_arm_has_one_colour_in_reports_and_history(mixed: Path) -> None:
    history = read_history(mixed)
    trend = trend_chart(history, METRICS["latency_p95_s"], [], Palette(history.index["arm"]))
    part = read_run(RUNS / "load-sweep").parts[0]
    report = charts.latency_cdf([("run", part)], Palette(["something-else", "gpt-4o-mini"]))
    for arm in ("auto", "gpt-4o-mini"):
        (in_history,) = [ln for ln in trend.axes[0].lines if f"/{arm} (" in ln.get_label()]
        (in_report,) = [ln for ln in report.axes[0].lines if ln.get_label().startswith(f"{arm} (")]
        assert in_history.get_color() == in_report.get_color() == arm_colour(arm)


def test_the_load_tables_latency_n_counts_latencies_not_ttfts(tmp_path: Path) -> None:
    from auraon_bench.report.tables import load_table
    from tests.chart_runs import Shape, write_run

    run = write_run(tmp_path / "plain", Shape(stream=False, requests=12))
    table = load_table(run.parts[0])
    assert table is not None
    column = [c.name for c in table.columns].index("latency n")
    for row, arm in zip(table.rows, run.parts[0].load_summary.arms, strict=True):
        assert arm.ttft_s.n == 0  # not streamed: no first token to time
        assert row[column] == arm.latency_s.n == 12
