"""The report's charts, built with matplotlib's object-oriented API only.

Nothing here imports ``matplotlib.pyplot`` or selects a backend: a figure is a bare
:class:`~matplotlib.figure.Figure`, drawn by whichever canvas its file format needs, so using
these functions from a notebook leaves the notebook's backend, open figures and rcParams as they
were. This package imports matplotlib at import time, which is why only the report imports it.

Every chart takes ``sources`` (``(run label, part)`` pairs), a shared ``Palette`` and
``simulated``, and returns a figure, a :class:`~auraon_bench.report.charts.base.Note` saying why
it has nothing to show, or ``None`` when it has no data of any kind; ``plan_fit_chart`` takes
``(label, PlanFit)`` pairs instead. :data:`CHARTS` is the one registry of them: the report draws
what it lists (key, caption, part kinds, what it needs), and the tests check what it lists.
The report of a capacity search draws :data:`CAPACITY_CHARTS` instead
(:mod:`~auraon_bench.report.charts.capacity`: they take the search's ``CapacityRun``).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import matplotlib
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine

from auraon_bench.report.charts.base import Note, Sources
from auraon_bench.report.charts.capacity import CAPACITY_CHARTS, CapacityChart
from auraon_bench.report.charts.conversations import conversation_turns
from auraon_bench.report.charts.cost import cost_per_1k, cost_quality, routing_mix
from auraon_bench.report.charts.latency import latency_cdf, latency_vs_rate, ttft_tpot_distribution
from auraon_bench.report.charts.plan import plan_fit_chart
from auraon_bench.report.charts.timeline import errors_timeline, throughput_timeline
from auraon_bench.report.palette import Palette

__all__ = [
    "CAPACITY_CHARTS",
    "CHARTS",
    "CapacityChart",
    "ChartSpec",
    "Kind",
    "Note",
    "conversation_turns",
    "cost_per_1k",
    "cost_quality",
    "errors_timeline",
    "figure_to_png_bytes",
    "freeze_layout",
    "latency_cdf",
    "latency_vs_rate",
    "plan_fit_chart",
    "routing_mix",
    "save_figure",
    "throughput_timeline",
    "ttft_tpot_distribution",
]

PNG_DPI = 110
# A fixed salt makes the SVG's generated ids (clip paths, hatches) the same on every save, and
# text kept as <text> (not glyph paths) is searchable and does not depend on the font cache.
_SVG_RC = {"svg.hashsalt": "auraon-bench", "svg.fonttype": "none"}


Kind = Literal["load", "eval", "limits"]


@dataclass(frozen=True)
class ChartSpec:
    """One chart of the report: the single place that says what it is called and where it goes.

    The report draws every spec, in :data:`CHARTS` order, for each group of matched parts that
    holds a part of one of its ``kinds``; the tests draw every spec from every fixture run it
    applies to. A chart added here therefore appears in the report, its files and its tests.
    A spec with a :attr:`section` is drawn by that section of the report instead (only for
    parts with the figures it shows), so a run without them gets no note about it.
    """

    key: str  # file-safe: the report writes it as charts/<group>-<key>.png and .svg
    title: str  # its caption in the report
    kinds: frozenset[Kind]  # the part kinds it is drawn for
    function: Callable[..., Figure | Note | None]
    description: str
    units: tuple[str, ...]  # what its axis labels state (checked by the tests)
    needs: str  # the note when the parts have no data for it: what it would take to draw it
    takes: Literal["sources", "fits"] = "sources"  # (label, Part) pairs or (label, PlanFit) pairs
    kind_titles: tuple[tuple[Kind, str], ...] = ()  # another caption when drawn for one kind only
    # A chart of one report section (e.g. "conversations"): drawn there, for the parts that
    # section is written for, and not among the charts of every group of its kinds.
    section: str | None = None

    @property
    def name(self) -> str:
        """The chart function's name, e.g. ``"latency_cdf"``."""
        return self.function.__name__

    def applies(self, kinds: Collection[str]) -> bool:
        """Whether a group of parts of these ``kinds`` gets this chart."""
        return not self.kinds.isdisjoint(kinds)

    def title_for(self, kinds: Collection[str]) -> str:
        for kind, title in self.kind_titles:
            if set(kinds) == {kind}:
                return title
        return self.title

    def draw(self, sources: Sources, palette: Palette, simulated: bool = False) -> Figure | Note:
        """The figure of ``(run label, part)`` pairs, or a note saying why there is none: the
        chart's own, or :attr:`needs` when it found no data at all. Never an empty figure.

        A chart of plan fits gets each part's own :attr:`~auraon_bench.results.run.Part.plan_fit`
        (computed once per part), for the parts of its kinds.
        """
        if self.takes == "fits":
            fits = [
                (label, part.plan_fit)
                for label, part in sources
                if part.kind in self.kinds and part.plan_fit is not None
            ]
            drawn = self.function(fits, palette, simulated=simulated)
        else:
            drawn = self.function(list(sources), palette, simulated=simulated)
        return Note(self.needs) if drawn is None else drawn


_EVAL: frozenset[Kind] = frozenset({"eval"})
_LOAD: frozenset[Kind] = frozenset({"load"})
_MEASURED: frozenset[Kind] = frozenset({"eval", "load"})
_OVER_TIME: frozenset[Kind] = frozenset({"load", "limits"})

# In the order the report shows them.
CHARTS: tuple[ChartSpec, ...] = (
    ChartSpec(
        "cost-quality",
        "Cost versus quality",
        _EVAL,
        cost_quality,
        "Cost per request vs accuracy: fixed models, their Pareto frontier, auto arms.",
        ("USD", "accuracy (%)"),
        "no evaluation results (evaluation.json) to place the arms by",
    ),
    ChartSpec(
        "routing-mix",
        "Routing mix by category",
        _EVAL,
        routing_mix,
        "Share of each auto arm's requests by routed model, per category.",
        ("(%)",),
        "no auto arm with categorised prompts to break down",
    ),
    ChartSpec(
        "latency-cdf",
        "Latency distributions",
        _MEASURED,
        latency_cdf,
        "Empirical CDFs of TTFT (ms) and end-to-end latency (s) per arm.",
        ("TTFT (ms)", "latency (s)", "(%)"),
        "no ok attempt to draw",
    ),
    ChartSpec(
        "ttft-tpot",
        "TTFT and TPOT",
        _MEASURED,
        ttft_tpot_distribution,
        "Box plots of TTFT (ms) and TPOT (ms/token) per arm, outliers shown.",
        ("TTFT (ms)", "TPOT (ms/token)"),
        "no ok attempt to draw",
    ),
    ChartSpec(
        "cost-per-1k",
        "Cost per 1,000 requests",
        _MEASURED,
        cost_per_1k,
        "Cost per 1,000 requests (USD) per arm, grouped by run.",
        ("(USD",),
        "no attempt to price",
    ),
    ChartSpec(
        "throughput-time",
        "Throughput and latency over time",
        _OVER_TIME,
        throughput_timeline,
        "Completed requests/s and median latency per time bin, per arm.",
        ("requests/s", "latency (s)", "run start (s)"),
        "no completed attempt to draw",
        kind_titles=(("limits", "Accepted requests over time"),),
    ),
    ChartSpec(
        "errors-time",
        "Errors and 429s over time",
        _OVER_TIME,
        errors_timeline,
        "429s and other errors per time bin, per arm; a run without either gets a note.",
        ("(count)", "run start (s)"),
        "no attempt to draw",
        kind_titles=(("limits", "429s over time during the probe"),),
    ),
    ChartSpec(
        "latency-rate",
        "Latency versus achieved rate",
        _LOAD,
        latency_vs_rate,
        "Latency p50/p95 against the achieved rate of each sweep stage, per arm.",
        ("(req/s)", "p50 (s)", "p95 (s)"),
        "a single rate was run; the chart needs a sweep of two or more stages (--sweep)",
    ),
    ChartSpec(
        "plan-fit",
        "Plan fit",
        _LOAD,
        plan_fit_chart,
        "Needed vs available requests/min and tokens/min per plan, with headroom.",
        ("requests/min", "tokens/min"),
        "no attempt was sent: no traffic to fit a plan to",
        takes="fits",
    ),
    ChartSpec(
        "conversation-turns",
        "Conversations by turn",
        _MEASURED,
        conversation_turns,
        "TTFT p50 (ms), cost per request (USD) and cache hit rate (%) by turn index, per arm.",
        ("turn", "TTFT p50 (ms)", "(USD)", "(%"),
        "no arm has conversation figures: the run sent single-turn requests",
        section="conversations",
    ),
)


def _paths(path_without_suffix: Path | str, formats: Sequence[str]) -> list[tuple[str, Path]]:
    base = Path(path_without_suffix)
    # Appended, not with_suffix: a chart named "latency.auto" must not lose its ".auto".
    return [(fmt, base.with_name(f"{base.name}.{fmt}")) for fmt in formats]


def freeze_layout(fig: Figure) -> None:
    """Lay the figure out and pin that layout, so every later draw (and file) is the same.

    Constrained layout starts from the previous positions and tick labels depend on the axes
    size, so each draw moves the axes by a little less than the last: the second PNG of a figure
    differed from its first. Two passes come within 1e-9 of the fixed point; then the engine is
    switched off. Idempotent; a figure without constrained layout is left as it is.
    """
    if isinstance(fig.get_layout_engine(), ConstrainedLayoutEngine):
        for _ in range(2):
            fig.draw_without_rendering()
        fig.set_layout_engine("none")


def save_figure(
    fig: Figure, path_without_suffix: Path | str, formats: Sequence[str] = ("png", "svg")
) -> list[Path]:
    """Write ``fig`` once per format next to ``path_without_suffix``; the written paths.

    PNG at 110 dpi without a Software tag; SVG without a date and with a fixed hash salt, so the
    same figure gives the same bytes (reports can be diffed and cached). The first save pins the
    figure's layout (:func:`freeze_layout`).
    """
    freeze_layout(fig)
    written = []
    for fmt, path in _paths(path_without_suffix, formats):
        path.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "svg":
            with matplotlib.rc_context(_SVG_RC):
                fig.savefig(path, format="svg", metadata={"Date": None})
        elif fmt == "png":
            fig.savefig(path, format="png", dpi=PNG_DPI, metadata={"Software": None})
        else:
            fig.savefig(path, format=fmt, dpi=PNG_DPI)
        written.append(path)
    return written


def figure_to_png_bytes(fig: Figure) -> bytes:
    """The PNG ``save_figure`` would write, in memory (for embedding in HTML or a notebook)."""
    freeze_layout(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=PNG_DPI, metadata={"Software": None})
    return buffer.getvalue()
