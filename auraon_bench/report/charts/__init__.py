"""The report's charts, built with matplotlib's object-oriented API only.

Nothing here imports ``matplotlib.pyplot`` or selects a backend: a figure is a bare
:class:`~matplotlib.figure.Figure`, drawn by whichever canvas its file format needs, so using
these functions from a notebook leaves the notebook's backend, open figures and rcParams as they
were. This package imports matplotlib at import time, which is why only the report imports it.

Every chart takes ``sources`` (``(run label, part)`` pairs), a shared ``Palette`` and
``simulated``, and returns a figure or ``None`` when it has nothing to draw; ``plan_fit_chart``
takes ``(label, PlanFit)`` pairs instead. :data:`CHARTS` lists them all for the report.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import matplotlib
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine

from auraon_bench.report.charts.cost import cost_per_1k, cost_quality, routing_mix
from auraon_bench.report.charts.latency import latency_cdf, latency_vs_rate, ttft_tpot_distribution
from auraon_bench.report.charts.plan import plan_fit_chart
from auraon_bench.report.charts.timeline import errors_timeline, throughput_timeline

__all__ = [
    "CHARTS",
    "ChartSpec",
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


@dataclass(frozen=True)
class ChartSpec:
    """One chart of the report: its function, what it shows, and which parts it reads."""

    name: str
    function: Callable[..., Figure | None]
    description: str
    reads: Literal["load", "eval", "both"]
    takes: Literal["sources", "fits"] = "sources"  # (label, Part) pairs or (label, PlanFit) pairs


CHARTS: dict[str, ChartSpec] = {
    spec.name: spec
    for spec in (
        ChartSpec(
            "latency_cdf",
            latency_cdf,
            "Empirical CDFs of TTFT (ms) and end-to-end latency (s) per arm.",
            "both",
        ),
        ChartSpec(
            "ttft_tpot_distribution",
            ttft_tpot_distribution,
            "Box plots of TTFT (ms) and TPOT (ms/token) per arm, outliers shown.",
            "both",
        ),
        ChartSpec(
            "throughput_timeline",
            throughput_timeline,
            "Completed requests/s and median latency per time bin, per arm.",
            "both",
        ),
        ChartSpec(
            "errors_timeline",
            errors_timeline,
            "429s and other errors per time bin, per arm (zero drawn, not omitted).",
            "both",
        ),
        ChartSpec(
            "cost_quality",
            cost_quality,
            "Cost per request vs accuracy: fixed models, their Pareto frontier, auto arms.",
            "eval",
        ),
        ChartSpec(
            "routing_mix",
            routing_mix,
            "Share of each auto arm's requests by routed model, per category.",
            "both",
        ),
        ChartSpec(
            "cost_per_1k",
            cost_per_1k,
            "Cost per 1,000 requests (USD) per arm, grouped by run.",
            "both",
        ),
        ChartSpec(
            "latency_vs_rate",
            latency_vs_rate,
            "Latency p50/p95 against the achieved rate of each sweep stage, per arm.",
            "load",
        ),
        ChartSpec(
            "plan_fit_chart",
            plan_fit_chart,
            "Needed vs available requests/min and tokens/min per plan, with headroom.",
            "load",
            takes="fits",
        ),
    )
}


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
