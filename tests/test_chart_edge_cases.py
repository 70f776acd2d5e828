"""Every chart of the registry, drawn from runs at the edges: zero errors, all errors, one
request, no streaming, 0% and 100% accuracy, one arm, ten arms, fractions of a cent.

Each chart must show data or say in one line why it cannot (a note in the report), never an
empty panel, and drawing it must be silent: no Python warning (matplotlib's "No artists with
labels found to put in legend", numpy's empty slices) and no log record from matplotlib. The
runs are written with the project's own writer and read back (tests/chart_runs.py).
"""

from __future__ import annotations

import logging
import re
import warnings

import pandas as pd
import pytest
from matplotlib.figure import Figure

from auraon_bench.report import charts
from auraon_bench.report.build import write_report
from auraon_bench.report.charts.base import mark_stages, new_figure
from auraon_bench.report.palette import Palette
from auraon_bench.results.run import Run
from tests.chart_runs import EDGE_CASES, write_run

# The charts of a part kind that must be a note for these runs, and not a figure.
NOTES = {
    ("zero-errors", "errors-time"),
    ("all-errors", "latency-cdf"),
    ("all-errors", "ttft-tpot"),
    ("all-errors", "cost-per-1k"),
    ("all-errors", "throughput-time"),
    ("one-request", "throughput-time"),
    ("one-request", "errors-time"),
    ("non-streaming", "ttft-tpot"),
    ("eval-non-streaming", "ttft-tpot"),
    ("eval-100pct", "routing-mix"),
    ("one-arm", "errors-time"),
    ("tiny-costs", "errors-time"),
    *((case, "latency-rate") for case in EDGE_CASES),  # no run here is a sweep
    *((case, "conversation-turns") for case in EDGE_CASES),  # nor a multi-turn run
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    root = tmp_path_factory.mktemp("edge")
    return {name: write_run(root / name, shape) for name, shape in EDGE_CASES.items()}


def drawn(ax) -> int:
    return len(ax.lines) + len(ax.patches) + len(ax.collections)


def silently(make, caplog: pytest.LogCaptureFixture):
    """``make()``, laid out as a save would lay it out (where layout warnings come from),
    failing on any warning or matplotlib log record on the way."""
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="matplotlib"), warnings.catch_warnings():
        warnings.simplefilter("error")
        result = make()
        if isinstance(result, Figure):
            charts.freeze_layout(result)
    noisy = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert not noisy, [r.getMessage() for r in noisy]
    return result


@pytest.mark.parametrize("case", list(EDGE_CASES))
@pytest.mark.slow
def test_every_chart_shows_data_or_says_why_not_and_is_silent(runs, case, caplog) -> None:
    part = runs[case].parts[0]
    for spec in charts.CHARTS:
        if not spec.applies({part.kind}):
            continue
        result = silently(lambda s=spec: s.draw([("run", part)], Palette(), True), caplog)
        where = f"{case}/{spec.key}"
        if (case, spec.key) in NOTES:
            assert isinstance(result, charts.Note), where
            assert result.text.strip() and "\n" not in result.text, where
            continue
        assert isinstance(result, Figure), f"{where}: {result}"
        panels = [ax for ax in result.axes if ax.get_visible() and ax.get_label() != "<colorbar>"]
        assert panels and all(drawn(ax) for ax in panels), f"{where}: an empty panel"
        assert result.get_suptitle().strip(), where


@pytest.mark.slow
def test_a_report_prints_a_note_where_a_chart_has_nothing(runs, tmp_path, caplog) -> None:
    run = runs["non-streaming"]
    out = tmp_path / "report"
    silently(lambda: write_report([run], out, ("md", "html")), caplog)
    markdown = (out / "report.md").read_text()
    assert "_TTFT and TPOT: not measured: both need streamed answers" in markdown
    assert "no failed attempt" not in markdown  # it had 429s: the errors chart is drawn
    assert "](charts/load-errors-time.png)" in markdown
    html = (out / "index.html").read_text()
    assert re.search(r'<p class="chart-note" id="load-ttft-tpot">TTFT and TPOT: not measured', html)
    # Every chart block is an image or a note: nothing silently dropped. A section's chart is
    # not among them: a run without conversations gets no section, and no note about it.
    kinds = {part.kind for part in run.parts}
    specs = [spec for spec in charts.CHARTS if spec.applies(kinds) and spec.section is None]
    images = re.findall(r"\]\(charts/load-([a-z0-9-]+)\.png\)", markdown)
    notes = re.findall(r'class="chart-note" id="load-([a-z0-9-]+)"', html)
    assert sorted(images + notes) == sorted(spec.key for spec in specs)


def test_zero_errors_is_one_line_not_a_flat_chart(runs) -> None:
    note = charts.errors_timeline([("run", runs["zero-errors"].parts[0])], Palette())
    assert note == charts.Note("no failed attempt and no 429 in 80 attempts")


def test_a_non_streaming_run_draws_latency_alone_and_says_why(runs) -> None:
    fig = charts.latency_cdf([("run", runs["non-streaming"].parts[0])], Palette())
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    assert "latency (s)" in fig.axes[0].get_xlabel()
    assert "TTFT not shown: it needs streamed answers" in fig.get_suptitle()


def test_one_outlier_does_not_stretch_the_latency_axis(runs) -> None:
    fig = charts.latency_cdf([("run", runs["one-arm"].parts[0])], Palette())
    latency = fig.axes[1]
    assert latency.get_xlim()[1] < 1.5  # the bulk is 0.3-0.9 s; the outlier 7.5 s
    label = latency.get_xlabel()
    assert "axis cut at p95 (" in label and "of 40 attempts beyond it, the largest 7.50 s" in label


def test_throughput_bins_are_round_and_stated(runs) -> None:
    fig = charts.throughput_timeline([("run", runs["zero-errors"].parts[0])], Palette())
    xlabel = fig.axes[0].get_xlabel()
    assert xlabel.startswith("time since run start (s), 1 s bins")
    (step, *_) = [p for p in fig.axes[0].patches if str(p.get_label()).startswith("auto (")]
    edges = step.get_data().edges
    assert list(edges[:10]) == [float(i) for i in range(10)]


def _tick_labels(fig: Figure, axis: str) -> list[str]:
    fig.draw_without_rendering()
    ax = fig.axes[0]
    target = ax.xaxis if axis == "x" else ax.yaxis
    return [t.get_text() for t in target.get_ticklabels() if t.get_text()]


@pytest.mark.parametrize(("case", "chart", "axis"), [
    ("tiny-costs", "cost_per_1k", "y"),
    ("eval-0pct", "cost_per_1k", "y"),
    ("eval-0pct", "cost_quality", "x"),
    ("eval-100pct", "cost_quality", "x"),
])  # fmt: skip
def test_money_axes_read_in_dollars(runs, case, chart, axis) -> None:
    fig = getattr(charts, chart)([("run", runs[case].parts[0])], Palette())
    labels = _tick_labels(fig, axis)
    assert labels and all(re.fullmatch(r"\$\d[\d,]*(\.\d+)?", t) for t in labels), labels
    ax = fig.axes[0]
    offset = (ax.xaxis if axis == "x" else ax.yaxis).get_offset_text().get_text()
    assert offset == ""


def test_accuracy_axis_at_0_and_100_percent_stays_within_them(runs) -> None:
    for case, (low, high) in (("eval-0pct", (0, 20)), ("eval-100pct", (80, 100))):
        fig = charts.cost_quality([("run", runs[case].parts[0])], Palette())
        ax = fig.axes[0]
        bottom, top = ax.get_ylim()
        assert low - 2 <= bottom < low and high < top <= high + 2, (case, bottom, top)
        ticks = [t for t in ax.get_yticks() if bottom <= t <= top]
        assert min(ticks) == low and max(ticks) == high
        assert all(0 <= t <= 100 for t in ticks)


def test_cost_quality_title_and_legend_name_only_what_is_drawn(runs) -> None:
    fixed_only = charts.cost_quality([("run", runs["eval-100pct"].parts[0])], Palette())
    assert "star" not in fixed_only.get_suptitle().lower()
    legend = [t.get_text() for t in fixed_only.axes[0].get_legend().get_texts()]
    assert not any(t.startswith("Pareto") for t in legend)  # one vertex: no line to show
    assert fixed_only.axes[0].get_legend().get_title().get_text() == ""  # CIs of zero width
    with_auto = charts.cost_quality([("run", runs["eval-0pct"].parts[0])], Palette())
    assert "auto arms (stars)" in with_auto.get_suptitle()
    assert any(line.get_marker() == "*" for line in with_auto.axes[0].lines)


def test_ten_arms_keep_ten_colours(runs) -> None:
    part = runs["ten-arms"].parts[0]
    fig = charts.latency_cdf([("run", part)], Palette())
    colours = {line.get_color() for line in fig.axes[0].lines if line.get_label()[0] != "_"}
    assert len(colours) == 10


def test_the_same_arm_wears_the_same_colour_in_different_reports(runs) -> None:
    """gpt-4o-mini sits beside auto in one run and alone-ish in another: same colour."""
    a = charts.latency_cdf([("run", runs["zero-errors"].parts[0])], Palette())
    b = charts.latency_cdf([("run", runs["one-request"].parts[0])], Palette(["zzz", "auto"]))

    def colour(fig: Figure, arm: str) -> str:
        (line,) = [ln for ln in fig.axes[-1].lines if ln.get_label().startswith(f"{arm} (")]
        return line.get_color()

    assert colour(a, "gpt-4o-mini") == colour(b, "gpt-4o-mini")


def test_stage_names_do_not_print_over_one_another() -> None:
    """A limits probe has twenty short phases: every start is marked, not every one named."""
    frame = pd.DataFrame({"stage": range(20), "t_sent": [2.0 * i for i in range(20)]})
    _, (ax,) = new_figure()
    mark_stages(ax, frame)
    assert len(ax.lines) == 19  # the first stage starts the run: no line
    names = [t.get_text() for t in ax.texts]
    assert 2 <= len(names) <= 10 and names[0] == "stage 1"
