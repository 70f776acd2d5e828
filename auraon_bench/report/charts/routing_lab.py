"""The routing lab's chart: the cost-quality plane of an outcome table.

Fixed models as points with the zero-router frontier (their non-decreasing convex hull), each
simulated router's curve (its operating points, joined in order of strong share), the
single-point routers and the auto modes as labelled markers, the oracle as a star. Costs are
mean USD per request over the common prompts (log scale when they span more than 20x);
quality is the table's metric. Every figure is read from the typed lab report.
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

from auraon_bench.report.charts import save_figure
from auraon_bench.report.charts.base import chart, finish, format_n, new_figure
from auraon_bench.report.palette import arm_colour
from auraon_bench.routing.lab import LabReport


@chart
def cost_quality_plane(report: LabReport) -> Figure:
    a = report.analysis
    fig, (ax,) = new_figure(size=(8.0, 5.2))
    fixed = {m: p for m, p in a.points.items() if m not in report.auto_arms}
    priced = [p.cost for p in a.points.values() if p.cost is not None]
    for model, point in fixed.items():
        if point.cost is None or point.quality is None:
            continue
        ax.scatter(point.cost, point.quality, color="#444444", zorder=3, s=24)
        ax.annotate(model, (point.cost, point.quality), fontsize=7, xytext=(4, 3),
                    textcoords="offset points")  # fmt: skip
    hull = [(v.cost, v.quality) for v in a.frontier.vertices]
    if len(hull) >= 2:
        ax.plot(*zip(*hull, strict=True), color="#444444", linestyle=":", linewidth=1,
                label="frontier of the fixed models")  # fmt: skip
    for curve in report.simulated:
        pts = [(p.cost, p.quality) for p in curve.points if p.cost is not None]
        if len(pts) < 2:
            continue
        apgr = "-" if curve.apgr is None else f"{curve.apgr:.3f}"
        aiq = "-" if curve.aiq is None else f"{curve.aiq:.3f}"
        ax.plot(*zip(*pts, strict=True), marker=".", linewidth=1.2, color=arm_colour(curve.name),
                label=f"{curve.name} (APGR {apgr}, AIQ {aiq})")  # fmt: skip
    for point in report.simulated_points:
        if point.cost is not None and point.quality is not None:
            ax.scatter(point.cost, point.quality, marker="D", s=36, zorder=4,
                       color=arm_colour(point.arm), label=point.arm)  # fmt: skip
    for arm in report.auto_arms:
        point = a.points.get(arm)
        if point is not None and point.cost is not None and point.quality is not None:
            ax.scatter(point.cost, point.quality, marker="^", s=48, zorder=5,
                       color=arm_colour(arm), label=f"{arm} (measured)")  # fmt: skip
    oracle = a.oracle
    if oracle.cost_per_request is not None and oracle.accuracy is not None:
        ax.scatter(oracle.cost_per_request, oracle.accuracy, marker="*", s=90, zorder=5,
                   color="#B8860B", label="oracle")  # fmt: skip
    if priced and max(priced) > 20 * min(priced) > 0:
        ax.set_xscale("log")
    ax.set_xlabel("mean cost per request (USD)")
    ax.set_ylabel(f"quality ({report.metric}, share of prompts)")
    ax.legend(fontsize=7, loc="lower right")
    title = f"Cost and quality of every router ({format_n(a.n_prompts)} prompts)"
    return finish(fig, title, simulated=report.stamp)


def write_chart(report: LabReport, out: Path) -> list[Path]:
    """``OUT/charts/routing-cost-quality.png|svg``; none when the table has no costs."""
    if all(p.cost is None for p in report.analysis.points.values()):
        return []
    return save_figure(cost_quality_plane(report), out / "charts" / "routing-cost-quality")
