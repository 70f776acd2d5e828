"""Tests for the report's charts (report.charts), drawn from the two fixture runs."""

from __future__ import annotations

import dataclasses
import inspect
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from matplotlib.axes import Axes
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle, StepPatch

from auraon_bench.analysis.plan_fit import PlanFit, PlanLimit, plan_fit
from auraon_bench.report import charts
from auraon_bench.report.charts import conversations as conversation_charts
from auraon_bench.report.charts import cost as cost_charts
from auraon_bench.report.charts import latency as latency_charts
from auraon_bench.report.charts import plan as plan_charts
from auraon_bench.report.charts import timeline as timeline_charts
from auraon_bench.report.charts.base import FOOTER, time_bins
from auraon_bench.report.palette import Palette
from auraon_bench.results.run import Part, read_run

RUNS = Path(__file__).resolve().parent / "fixtures" / "runs"
ROOT = Path(__file__).resolve().parent.parent
EVAL_ARMS = ("auto", "auto:cheap", "gpt-4o", "gpt-4o-mini", "llama-3.1-8b")
LOAD_ARMS = ("auto", "gpt-4o-mini")

SPECS = {spec.name: spec for spec in charts.CHARTS}
FIXTURE_KINDS = ("eval", "load")  # the part kinds the fixture runs below hold
# (chart, fixture): every chart of the registry, from every fixture run of a kind it is drawn for;
# a section's chart needs figures the fixtures lack (tests/test_report_conversations.py has them).
DRAWN = [
    (spec.name, kind)
    for spec in charts.CHARTS
    for kind in FIXTURE_KINDS
    if kind in spec.kinds and spec.section is None
]


@pytest.fixture(scope="module")
def parts() -> dict[str, Part]:
    return {
        "eval": read_run(RUNS / "eval").parts[0],
        "load": read_run(RUNS / "load-sweep").parts[0],
    }


def draw(name: str, part: Part, palette: Palette | None = None, **kwargs) -> Figure | None:
    palette = palette if palette is not None else Palette()
    return SPECS[name].draw([("run", part)], palette, **kwargs)


def n_drawn(ax: Axes) -> int:
    return len(ax.lines) + len(ax.patches) + len(ax.collections)


def legend_texts(fig: Figure) -> list[str]:
    legends = [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    return [t.get_text() for legend in legends for t in legend.get_texts()]


def hexed(palette: Palette, arm: str) -> str:
    return to_hex(palette.colour(arm))


def bars(ax: Axes, prefix: str) -> list:
    """The bars whose container's legend label starts with ``prefix`` (bars carry no label)."""
    return [c.patches[0] for c in ax.containers if str(c.get_label()).startswith(prefix)]


def labelled(artists, prefix: str) -> list:
    return [a for a in artists if str(a.get_label()).startswith(prefix)]


@pytest.mark.parametrize(("name", "fixture"), DRAWN)
def test_chart_draws_titled_labelled_legended_figure(parts, name, fixture) -> None:
    fig = draw(name, parts[fixture])
    assert isinstance(fig, Figure)
    assert fig.get_suptitle().strip()
    drawn = [ax for ax in fig.axes if n_drawn(ax)]
    assert drawn, "no axes with anything drawn"
    labels = " | ".join(ax.get_xlabel() + " | " + ax.get_ylabel() for ax in fig.axes)
    for unit in SPECS[name].units:
        assert unit in labels, f"{unit!r} not in axis labels {labels!r}"
    for ax in drawn:
        assert ax.get_xlabel() or ax.get_ylabel()
    texts = legend_texts(fig)
    assert texts, "no legend"
    series = [t for t in texts if not t.startswith(("Pareto", "plan", "unlimited"))]
    assert series and all("(n=" in t for t in series), texts


@pytest.mark.parametrize(("name", "fixture"), DRAWN)
@pytest.mark.slow
def test_saved_png_and_svg_are_valid_and_name_the_arms(parts, tmp_path, name, fixture):
    fig = draw(name, parts[fixture], simulated=True)
    png, svg = charts.save_figure(fig, tmp_path / f"{name}.{fixture}")
    assert (png.name, svg.name) == (f"{name}.{fixture}.png", f"{name}.{fixture}.svg")
    data = png.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 5_000
    assert charts.figure_to_png_bytes(fig) == data
    text = svg.read_text(encoding="utf-8")
    root = ET.fromstring(text)
    assert root.tag.endswith("svg")
    words = " ".join(el.text or "" for el in root.iter() if el.tag.endswith("text"))
    assert FOOTER in words
    named = {
        "routing_mix": ("auto", "auto:cheap", "gemini-2.5-flash", "llama-3.1-8b"),
        "plan_fit_chart": ("starter", "pro", "enterprise"),  # plans, not arms
    }
    for arm in named.get(name, EVAL_ARMS if fixture == "eval" else LOAD_ARMS):
        assert arm in words, f"{arm} missing from the SVG of {name}"


def test_plan_fit_chart_draws_limits_needed_line_and_window(parts, tmp_path) -> None:
    fit = parts["load"].plan_fit
    assert fit is not None and fit == plan_fit(parts["load"].records)
    assert fit.window_s < 60
    fig = charts.plan_fit_chart([("sweep", fit)], Palette())
    assert fig is not None
    assert f"peak over {fit.window_s:.0f} s, scaled to a minute" in fig.get_suptitle()
    rpm_ax, tpm_ax = fig.axes[:2]
    assert "requests/min" in rpm_ax.get_ylabel() and "tokens/min" in tpm_ax.get_ylabel()
    for ax, needed in ((rpm_ax, fit.needed_rpm), (tpm_ax, fit.needed_tpm)):
        assert ax.get_yscale() == "log"
        lines = labelled(ax.lines, "needed")
        assert len(lines) == 1 and lines[0].get_ydata()[0] == pytest.approx(needed)
        rects = [p for p in ax.patches if isinstance(p, Rectangle)]
        assert len(rects) == 3
        unlimited = [b for b in rects if b.get_hatch()]
        assert len(unlimited) == 1 and unlimited[0].get_y() + unlimited[0].get_height() == (
            pytest.approx(ax.get_ylim()[1])
        )
        texts = [t.get_text() for t in ax.texts]
        assert "unlimited" in texts
        assert sum("headroom" in t for t in texts) == 2  # starter and pro; enterprise is unlimited
    headroom = 1 - fit.needed_rpm / 60.0
    assert any(f"{headroom:+.0%}" in t.get_text() for t in rpm_ax.texts)
    png, svg = charts.save_figure(fig, tmp_path / "plan")
    assert png.stat().st_size > 5_000
    assert "starter" in svg.read_text() and "enterprise" in svg.read_text()


def test_plan_fit_chart_none_without_requests() -> None:
    empty = PlanFit(0.0, 0.0, 60.0, 0, (PlanLimit("starter", 60.0, 1e5),))
    assert charts.plan_fit_chart([("empty", empty)]) is None


def test_same_arm_same_colour_across_charts(parts) -> None:
    palette = Palette()  # unseeded: a routed-only model must still not take an arm's colour
    mix = charts.routing_mix([("r", parts["eval"])], palette)
    cdf = charts.latency_cdf([("r", parts["eval"])], palette)
    per_1k = charts.cost_per_1k([("r", parts["eval"])], palette)
    assert mix is not None and cdf is not None and per_1k is not None
    colours = {}
    for arm in EVAL_ARMS:
        (line,) = labelled(cdf.axes[0].lines, f"{arm} (")
        (bar,) = bars(per_1k.axes[0], f"{arm} (")
        assert to_hex(line.get_color()) == to_hex(bar.get_facecolor()) == hexed(palette, arm)
        colours[arm] = hexed(palette, arm)
    assert len(set(colours.values())) == len(EVAL_ARMS)
    # auto:cheap routes to llama-3.1-8b and gpt-4o-mini: their segments wear the arms' colours.
    segment_colours = {to_hex(p.get_facecolor()) for ax in mix.axes for p in ax.patches}
    assert {colours["llama-3.1-8b"], colours["gpt-4o-mini"], colours["gpt-4o"]} <= segment_colours
    assert hexed(palette, "gemini-2.5-flash") not in colours.values()


def test_box_colours_follow_the_palette(parts) -> None:
    palette = Palette(["gpt-4o-mini", "auto"])
    fig = charts.ttft_tpot_distribution([("r", parts["load"])], palette)
    edges = {to_hex(p.get_edgecolor()) for p in fig.axes[0].patches}
    assert edges == {hexed(palette, "gpt-4o-mini"), hexed(palette, "auto")}
    medians = sorted(np.median(ln.get_ydata()) for ln in fig.axes[0].lines if ln.get_ydata().size)
    assert medians  # boxes were really drawn from data


def test_overlay_doubles_series_with_distinct_line_styles(parts) -> None:
    load = parts["load"]
    single = charts.latency_cdf([("A", load)], Palette())
    double = charts.latency_cdf([("A", load), ("B", load)], Palette())
    for ax_1, ax_2 in zip(single.axes, double.axes, strict=True):
        one = [ln for ln in ax_1.lines if not ln.get_label().startswith("_")]
        two = [ln for ln in ax_2.lines if not ln.get_label().startswith("_")]
        assert len(one) == len(LOAD_ARMS) and len(two) == 2 * len(one)
        for arm in LOAD_ARMS:
            (a,) = labelled(two, f"{arm} · A (")
            (b,) = labelled(two, f"{arm} · B (")
            assert a.get_color() == b.get_color()
            assert a.get_linestyle() != b.get_linestyle()
    timeline = charts.throughput_timeline([("A", load), ("B", load)], Palette())
    steps = [p for p in timeline.axes[0].patches if isinstance(p, StepPatch)]
    assert len(steps) == 2 * len(LOAD_ARMS)
    assert len({p.get_linestyle() for p in steps}) == 2


def test_latency_vs_rate_none_without_stages_and_one_point_per_stage(parts) -> None:
    assert charts.latency_vs_rate([("r", parts["eval"])], Palette()) is None
    fig = charts.latency_vs_rate([("r", parts["load"])], Palette())
    stages = sorted(parts["load"].load_summary.stages, key=lambda st: st.stage)
    rates = [st.overall.achieved_rate for st in stages]
    for ax, p in zip(fig.axes[:2], (50.0, 95.0), strict=True):
        for arm in LOAD_ARMS:
            (line,) = labelled(ax.lines, f"{arm} (")
            assert list(line.get_xdata()) == pytest.approx(rates)
            want = [next(a for a in st.arms if a.arm == arm).latency_s.get(p) for st in stages]
            assert list(line.get_ydata()) == pytest.approx(want)
    # stage 2 was throttled (starter plan): said at the point, not hidden in a flat p95
    assert any("429" in t.get_text() for t in fig.axes[1].texts)


def test_errors_timeline_counts_429s_and_notes_a_clean_run(parts) -> None:
    load = charts.errors_timeline([("r", parts["load"])], Palette())
    assert "22 rate-limited (429)" in load.get_suptitle()
    # No other error in the whole run: that panel would be flat zeros, so the title says it.
    assert "not drawn: no other error" in load.get_suptitle()
    (ax_429,) = load.axes
    counted = sum(p.get_data().values.sum() for p in ax_429.patches if isinstance(p, StepPatch))
    assert counted == 22
    clean = charts.errors_timeline([("r", parts["eval"])], Palette())
    assert isinstance(clean, charts.Note)
    assert clean.text == "no failed attempt and no 429 in 160 attempts"


def test_throughput_timeline_rates_add_up_to_completions(parts) -> None:
    part = parts["load"]
    fig = charts.throughput_timeline([("r", part)], Palette())
    for arm in LOAD_ARMS:
        (step,) = labelled(fig.axes[0].patches, f"{arm} (")
        values, edges = step.get_data().values, step.get_data().edges
        ok = part.records.query("arm == @arm and status == 'ok'")
        assert float(np.sum(values * np.diff(edges))) == pytest.approx(len(ok))
        assert edges[-1] == pytest.approx(part.records["t_done"].max())


def test_cost_quality_marks_auto_arms_and_draws_the_frontier(parts) -> None:
    routing = parts["eval"].evaluation.routing
    fig = charts.cost_quality([("r", parts["eval"])], Palette())
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    for arm in EVAL_ARMS:
        (point,) = labelled(ax.lines, f"{arm} (")
        assert (point.get_marker() == "*") == arm.startswith("auto")
        want = routing.points[arm]
        assert point.get_xdata()[0] == pytest.approx(want.cost)
        assert point.get_ydata()[0] == pytest.approx(want.quality * 100)
    assert {t.get_text() for t in ax.texts} >= set(EVAL_ARMS)
    (frontier,) = labelled(ax.lines, "Pareto")
    vertices = routing.frontier.vertices
    assert list(frontier.get_xdata()) == pytest.approx([v.cost for v in vertices])


def test_cost_quality_without_routing_falls_back_to_the_tables(parts) -> None:
    original = parts["eval"]
    evaluation = dataclasses.replace(original.evaluation, routing=None)
    part = dataclasses.replace(original, evaluation=evaluation)
    fig = charts.cost_quality([("r", part)], Palette())
    (frontier,) = labelled(fig.axes[0].lines, "Pareto")
    vertices = original.evaluation.routing.frontier.vertices
    assert list(frontier.get_xdata()) == pytest.approx([v.cost for v in vertices])
    assert list(frontier.get_ydata()) == pytest.approx([v.quality * 100 for v in vertices])
    assert len(labelled(fig.axes[0].lines, "auto")) == 2


def test_cost_per_1k_reads_the_summaries(parts) -> None:
    load, ev = parts["load"], parts["eval"]
    fig = charts.cost_per_1k([("L", load), ("E", ev)], Palette())
    ax = fig.axes[0]
    summary = load.load_summary
    for arm in LOAD_ARMS:
        (bar,) = bars(ax, f"{arm} · L (")
        assert bar.get_height() == summary.arm(arm).cost.per_1k_requests_usd
    rows = ev.evaluation.cost.rows
    for arm in EVAL_ARMS:
        (bar,) = bars(ax, f"{arm} · E (")
        assert bar.get_height() == rows[arm].per_1k_requests_usd
    (a,) = bars(ax, "auto · L (")
    (b,) = bars(ax, "auto · E (")
    assert a.get_hatch() != b.get_hatch() and a.get_facecolor() == b.get_facecolor()


def test_routing_mix_shares_by_category(parts) -> None:
    assert charts.routing_mix([("r", parts["load"])], Palette()) is None  # no categories
    palette = Palette()
    fig = charts.routing_mix([("r", parts["eval"])], palette)
    auto_ax = fig.axes[0]
    labels = [t.get_text() for t in auto_ax.get_yticklabels()]
    assert labels[0] == "all (n=32)" and "extraction (n=8)" in labels
    row = labels.index("extraction (n=8)")
    widths = {
        to_hex(p.get_facecolor()): p.get_width()
        for p in auto_ax.patches
        if abs(p.get_y() + p.get_height() / 2 - row) < 1e-9 and p.get_width() > 0
    }
    assert widths == {hexed(palette, "gpt-4o"): pytest.approx(100.0)}


def test_no_data_gives_none_and_the_report_a_note(parts) -> None:
    empty = dataclasses.replace(parts["load"])
    empty.__dict__["records"] = parts["load"].records.iloc[0:0]
    for name in ("latency_cdf", "ttft_tpot_distribution", "throughput_timeline", "errors_timeline"):
        assert SPECS[name].function([("run", empty)], Palette()) is None, name
        assert draw(name, empty) == charts.Note(SPECS[name].needs), name


def test_simulated_footer_only_when_simulated(parts) -> None:
    def footers(fig: Figure) -> list[str]:
        return [t.get_text() for t in fig.texts if t.get_text() == FOOTER]

    assert footers(draw("latency_cdf", parts["load"], simulated=True)) == [FOOTER]
    assert footers(draw("latency_cdf", parts["load"], simulated=False)) == []


def test_svg_is_byte_identical_across_saves(parts, tmp_path) -> None:
    first = draw("errors_timeline", parts["load"], simulated=True)
    second = draw("errors_timeline", parts["load"], simulated=True)
    (a,) = charts.save_figure(first, tmp_path / "a", formats=("svg",))
    (b,) = charts.save_figure(first, tmp_path / "b", formats=("svg",))
    (c,) = charts.save_figure(second, tmp_path / "c", formats=("svg",))
    assert a.read_bytes() == b.read_bytes() == c.read_bytes()
    assert b"<dc:date>" not in a.read_bytes()
    assert matplotlib.rcParams["svg.hashsalt"] is None  # set for the save only


def test_charts_leave_rcparams_alone(parts) -> None:
    before = {k: v for k, v in matplotlib.rcParams.items() if k != "backend"}
    draw("latency_cdf", parts["eval"])
    charts.figure_to_png_bytes(draw("cost_quality", parts["eval"]))
    after = {k: v for k, v in matplotlib.rcParams.items() if k != "backend"}
    assert after == before


def test_the_registry_is_every_chart_once() -> None:
    """A chart function the report cannot reach, or a file name two charts share, is a bug."""
    keys = [spec.key for spec in charts.CHARTS]
    assert len(set(keys)) == len(keys) and len(SPECS) == len(keys)
    defined = {
        name
        for module in (
            conversation_charts, cost_charts, latency_charts, plan_charts, timeline_charts
        )
        for name, value in vars(module).items()
        if inspect.isfunction(value) and value.__module__ == module.__name__
        and hasattr(value, "__wrapped__")  # drawn under the chart style: a chart
    }  # fmt: skip
    assert defined == set(SPECS)
    for spec in charts.CHARTS:
        assert getattr(charts, spec.name) is spec.function and spec.name in charts.__all__
        assert spec.key == spec.key.lower() and all(c.isalnum() or c == "-" for c in spec.key)
        assert spec.title and spec.description.endswith(".") and spec.units
        assert spec.kinds and spec.kinds <= {"load", "eval", "limits"}
        assert spec.title_for(spec.kinds) in {spec.title, *(t for _, t in spec.kind_titles)}
    assert SPECS["plan_fit_chart"].takes == "fits"
    assert {spec.section for spec in charts.CHARTS} == {None, "conversations"}
    assert SPECS["errors_timeline"].title_for({"limits"}) != SPECS["errors_timeline"].title


def test_time_bins_cover_the_run_exactly_in_round_widths() -> None:
    edges = time_bins(19.95, 39)
    assert edges[0] == 0 and edges[-1] == pytest.approx(19.95)
    widths = np.diff(edges)
    assert widths[0] == 1.0 and np.allclose(widths[:-1], 1.0)  # a round width, not 19.95 / k
    assert 0.5 <= widths[-1] < 1.5  # the run's end: a shorter last bin, or one a little longer
    assert 10 <= len(edges) - 1 <= 60


_IMPORT_PROBE = """
import sys
import matplotlib
before = matplotlib.get_backend(auto_select=False)
import auraon_bench, auraon_bench.results.run, auraon_bench.analysis.plan_fit
import auraon_bench.report.palette
assert "matplotlib.pyplot" not in sys.modules
from auraon_bench.report import charts
from auraon_bench.report.palette import Palette
from auraon_bench.results.run import read_run
part = read_run(sys.argv[1]).parts[0]
fig = charts.latency_cdf([("r", part)], Palette(), simulated=True)
charts.save_figure(fig, sys.argv[2])
charts.figure_to_png_bytes(fig)
print(before, matplotlib.get_backend(auto_select=False), "matplotlib.pyplot" in sys.modules)
"""


@pytest.mark.slow
def test_import_and_drawing_leave_backend_and_pyplot_alone(tmp_path) -> None:
    plain = subprocess.run(
        [sys.executable, "-c", "import sys, auraon_bench; print('matplotlib' in sys.modules)"],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )  # fmt: skip
    assert plain.stdout.split() == ["False"], "importing the package must not load matplotlib"
    probe = subprocess.run(
        [sys.executable, "-c", _IMPORT_PROBE, str(RUNS / "load-sweep"), str(tmp_path / "fig")],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )  # fmt: skip
    before, after, pyplot = probe.stdout.split()
    assert before == after and pyplot == "False", probe.stdout
    assert (tmp_path / "fig.png").stat().st_size > 5_000
