"""Money charts: cost against quality, where the auto router sends requests, cost per 1k requests.

The numbers are read from what the run already computed (its ``EvalReport`` and ``RunSummary``)
so that a chart cannot disagree with the tables beside it. The routing mix is the evaluation's
own; only an auto arm the evaluation has no routing section for (a load part, or an evaluation
without a fixed arm) gets it computed from the records, with
:func:`auraon_bench.analysis.routing.routing_mix`, the function the evaluation uses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

from auraon_bench.analysis.routing import RoutingMix, frontier
from auraon_bench.analysis.routing import routing_mix as compute_routing_mix
from auraon_bench.eval.report import EvalReport, is_auto
from auraon_bench.report.charts.base import (
    NEUTRAL,
    Note,
    Sources,
    arm_order,
    chart,
    failed_note,
    finish,
    format_n,
    legend_outside,
    log_if_wide,
    money_axis,
    new_figure,
    register_arms,
    run_hatch,
    series_label,
)
from auraon_bench.report.charts.scales import accuracy_range, format_money
from auraon_bench.report.palette import Palette
from auraon_bench.results.run import Part


def _num(value: float | None) -> float | None:
    if value is None:
        return None
    return float(value) if np.isfinite(value) else None


@dataclass(frozen=True)
class _Point:
    arm: str
    cost: float | None  # USD per request
    quality: float | None  # 0..1
    n: int
    ci: tuple[float, float] | None


def _eval_points(evaluation: EvalReport) -> tuple[list[_Point], list[tuple[float, float]], str]:
    """Points, frontier vertices (cost, quality) and the quality metric of one evaluation."""
    accuracy = {
        r.arm: r for r in evaluation.accuracy.rows if r.arm is not None and r.category is None
    }
    costs = evaluation.cost.rows
    routing = evaluation.routing
    if routing is not None and routing.points:
        metric = routing.metric
        raw = {str(a): (p.cost, p.quality) for a, p in routing.points.items()}
        front = routing.frontier
    else:
        # Without a routing section (no fixed arm to compare with) the points come from the
        # accuracy and cost tables, and the frontier from the same function the evaluation uses.
        metric = "correct"
        raw = {
            arm: (costs[arm].per_request_usd if arm in costs else None, row.accuracy)
            for arm, row in accuracy.items()
        }
        front = frontier({a: p for a, p in raw.items() if not is_auto(a)})
    hull = [(_num(v.cost), _num(v.quality)) for v in front.vertices]
    points = []
    for arm, (cost, quality) in raw.items():
        acc = accuracy.get(arm)
        n = (
            (acc.n if acc is not None else 0)
            or (costs[arm].n_requests if arm in costs else 0)
            or (routing.n_prompts if routing is not None else 0)
        )
        low, high = (_num(acc.ci_low), _num(acc.ci_high)) if acc is not None else (None, None)
        ci = (low, high) if metric == "correct" and low is not None and high is not None else None
        points.append(_Point(arm, _num(cost), _num(quality), int(n or 0), ci))
    clean = [(c, q) for c, q in hull if c is not None and q is not None and c > 0]
    return points, sorted(clean), metric


@chart
def cost_quality(
    sources: Sources, palette: Palette, simulated: bool = False
) -> Figure | Note | None:
    """Cost per request (USD, log) against accuracy (%): fixed models with their Pareto frontier,
    auto arms as labelled stars. Eval parts only; None when no part has an evaluation.

    The accuracy axis stays within 0-100% whatever the data; the title and legend name only
    what was drawn (stars only when an auto arm is on the chart, the frontier only when it has
    two vertices or more, error bars only when an interval has a width).
    """
    register_arms(sources, palette)
    evals = [
        (i, label, part.evaluation)
        for i, (label, part) in enumerate(sources)
        if part.evaluation is not None
    ]
    if not evals:
        return None
    overlay = len(sources) > 1
    # (run index, run label, points, frontier vertices, metric) of each evaluation
    found = [(i, label, *_eval_points(evaluation)) for i, label, evaluation in evals]
    every = [p for _, _, points, _, _ in found for p in points]
    drawn = [p for p in every if _placeable(p)]
    dropped = sorted({p.arm for p in every if not _placeable(p)})
    if not drawn:
        return Note(
            "no arm has a known, non-zero cost per request to place it "
            f"(arms: {', '.join(dropped) or 'none'})"
        )
    fig, (ax,) = new_figure(size=(9.5, 5.2))
    frontier = False
    metric = found[-1][4]
    for run_index, run_label, points, hull, _ in found:
        if len(hull) >= 2:  # one vertex is a point, not a line: nothing a reader could see
            frontier = True
            name = "Pareto frontier (fixed models)"
            ax.plot(
                [c for c, _ in hull],
                [q * 100 for _, q in hull],
                color=NEUTRAL,
                linewidth=1.1,
                linestyle=Palette.line_style(run_index),
                zorder=1,
                label=f"{name} · {run_label}" if overlay else name,
            )
        for point in filter(_placeable, points):
            _draw_point(ax, point, palette, run_index, run_label if overlay else None)
    ax.set_xscale("log")
    ax.set_xlabel("cost per request (USD, log scale)")
    quality_name = "accuracy" if metric == "correct" else f"mean {metric}"
    ax.set_ylabel(f"{quality_name} (%)")
    ax.margins(x=0.15)
    _accuracy_axis(ax, drawn)
    money_axis(ax, "x")
    if dropped:
        ax.annotate(
            "not drawn (no or zero cost): " + ", ".join(dropped),
            (0.0, -0.16),
            xycoords="axes fraction",
            fontsize=7,
            color="#666666",
        )
    with_bars = any(p.ci is not None and p.ci[1] > p.ci[0] for p in drawn)
    legend_outside([ax], title="error bars: 95% CI" if with_bars else None)
    return finish(fig, _cost_quality_title(drawn, frontier), simulated=simulated)


def _placeable(point: _Point) -> bool:
    """A log axis has no place for a zero or unknown cost."""
    return point.cost is not None and point.quality is not None and point.cost > 0


def _accuracy_axis(ax: Axes, points: list[_Point]) -> None:
    values = [p.quality * 100 for p in points if p.quality is not None]
    values += [v * 100 for p in points if p.ci is not None for v in p.ci]
    low, high = accuracy_range(values)
    # Room outside the range so a marker at 0% or 100% is not cut in half by the axes' edge,
    # while the ticks stay within it.
    room = 0.04 * (high - low)
    ax.set_ylim(low - room, high + room)
    ticks = MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]).tick_values(low, high)
    ax.set_yticks([t for t in ticks if low - 1e-9 <= t <= high + 1e-9])
    ax.yaxis.set_major_formatter(PercentFormatter(decimals=0))


def _cost_quality_title(points: list[_Point], frontier: bool) -> str:
    autos = any(is_auto(p.arm) for p in points)
    fixed = any(not is_auto(p.arm) for p in points)
    if autos and frontier:
        return "Cost vs quality: auto arms (stars) against the fixed models' frontier"
    if autos and fixed:
        return "Cost vs quality: auto arms (stars) and fixed models"
    if autos:
        return "Cost vs quality of the auto arms (stars)"
    if frontier:
        return "Cost vs quality: fixed models and their Pareto frontier"
    return "Cost vs quality per arm"


def _draw_point(
    ax: Axes, point: _Point, palette: Palette, run_index: int, run_label: str | None
) -> None:
    colour = palette.colour(point.arm)
    x, y = point.cost, point.quality * 100  # type: ignore[operator]
    auto = is_auto(point.arm)
    if point.ci is not None:
        low, high = point.ci[0] * 100, point.ci[1] * 100
        ax.errorbar(
            [x],
            [y],
            yerr=[[max(0.0, y - low)], [max(0.0, high - y)]],
            fmt="none",
            ecolor=colour,
            alpha=0.45,
            capsize=2,
            linewidth=1.0,
            zorder=2,
        )
    ax.plot(
        [x],
        [y],
        linestyle="none",
        marker="*" if auto else Palette.marker(run_index),
        markersize=15 if auto else 8,
        color=colour,
        markeredgecolor="#222222",
        markeredgewidth=0.6,
        zorder=3,
        label=series_label(point.arm, point.n, run_label),
    )
    ax.annotate(
        point.arm,
        (x, y),
        xytext=(7, 5),
        textcoords="offset points",
        fontsize=8,
        fontweight="bold" if auto else "normal",
        color="#222222",
    )


def _mix(part: Part, arm: str) -> RoutingMix:
    """The routing mix the evaluation reported for ``arm``; computed from the records (with the
    evaluation's own function) only for a part whose evaluation has none, such as a load part."""
    routing = part.evaluation.routing if part.evaluation is not None else None
    if routing is not None and arm in routing.arms:
        return routing.arms[arm].mix
    return compute_routing_mix(part.records, arm)


def _text_colour(colour: str) -> str:
    r, g, b = to_rgb(colour)
    return "#111111" if 0.299 * r + 0.587 * g + 0.114 * b > 0.55 else "#FFFFFF"


@chart
def routing_mix(sources: Sources, palette: Palette, simulated: bool = False) -> Figure | None:
    """Share of each auto arm's requests by routed model, per category (stacked bars)."""
    register_arms(sources, palette)
    overlay = len(sources) > 1
    panels = []
    for run_label, part in sources:
        for arm in (a for a in arm_order(part) if is_auto(a)):
            mix = _mix(part, arm)
            categories = {k: v for k, v in mix.by_category.items() if k != "(none)"}
            if mix.n and categories:
                panels.append((f"{arm} · {run_label}" if overlay else arm, mix, categories))
    if not panels:
        return None
    models = sorted({m for _, mix, _ in panels for m in mix.counts})
    for model in models:
        palette.colour(model)  # after the arms: a routed-only model must not take an arm's colour
    models.sort(key=palette.arms.index)
    totals = {m: sum(mix.counts.get(m, 0) for _, mix, _ in panels) for m in models}
    heights = [len(categories) + 1 for _, _, categories in panels]
    fig, axes = new_figure(
        nrows=len(panels),
        size=(10.0, 1.1 + 0.42 * sum(heights)),
        sharex=True,
        gridspec_kw={"height_ratios": heights},
    )
    for ax, (name, mix, categories) in zip(axes, panels, strict=True):
        bars = [(f"all ({format_n(mix.n)})", mix.counts, mix.n)]
        bars += [
            (f"{cat} ({format_n(int(c['n']))})", c["counts"], int(c["n"]))
            for cat, c in categories.items()
        ]
        _stacked(ax, bars, models, palette, totals)
        unknown = f"; {mix.unknown:,} without routed_to" if mix.unknown else ""
        ax.set_title(f"{name}: routed model by category{unknown}", loc="left")
    axes[-1].set_xlabel("share of the arm's requests (%)")
    legend_outside(axes, on=axes[0], title="routed to")
    return finish(fig, "Routing mix of the auto arms", simulated=simulated)


def _stacked(
    ax: Axes,
    bars: list[tuple[str, dict[str, int], int]],
    models: list[str],
    palette: Palette,
    totals: dict[str, int],
) -> None:
    y = np.arange(len(bars))
    left = np.zeros(len(bars))
    for model in models:
        shares = np.array([counts.get(model, 0) / n * 100 if n else 0.0 for _, counts, n in bars])
        colour = palette.colour(model)
        ax.barh(
            y,
            shares,
            left=left,
            color=colour,
            edgecolor="white",
            linewidth=0.6,
            height=0.7,
            label=series_label(model, totals[model]),
        )
        for yi, (x0, share) in enumerate(zip(left, shares, strict=True)):
            if share >= 8:
                ax.text(
                    x0 + share / 2,
                    yi,
                    f"{share:.0f}%",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color=_text_colour(colour),
                )
        left += shares
    ax.set_yticks(y, [label for label, _, _ in bars])
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_ylabel("category")
    ax.grid(axis="y", visible=False)


def _per_1k(part: Part) -> dict[str, tuple[float, int]]:
    """arm -> (USD per 1,000 requests, requests it rests on), as the part's results state it:
    the evaluation's cost table for an eval, else the load summary."""
    out: dict[str, tuple[float, int]] = {}
    if part.evaluation is not None:
        for arm, row in part.evaluation.cost.rows.items():
            value = _num(row.per_1k_requests_usd)
            if value is not None:
                out[str(arm)] = (value, row.n_with_cost)
        return out
    for s in part.load_summary.arms:
        value = _num(s.cost.per_1k_requests_usd)
        if value is not None:
            out[str(s.arm)] = (value, s.cost.rows_with_cost)
    return out


@chart
def cost_per_1k(
    sources: Sources, palette: Palette, simulated: bool = False
) -> Figure | Note | None:
    """Bars of USD per 1,000 requests per arm, one bar per run within each arm's group."""
    register_arms(sources, palette)
    per_run = [_per_1k(part) for _, part in sources]
    arms = list(dict.fromkeys(a for _, p in sources for a in arm_order(p)))
    arms += [a for values in per_run for a in values if a not in arms]
    arms = [a for a in arms if any(a in values for values in per_run)]
    if not arms:
        failed = failed_note(sources, "cost to show")
        if failed is not None:
            return failed
        if any(len(part.records) for _, part in sources):
            return Note("no answer has a known cost: the target reported none, no price is known")
        return None
    overlay = len(sources) > 1
    fig, (ax,) = new_figure(size=(min(12.0, max(7.0, 1.2 * len(arms) * len(sources) + 3)), 4.6))
    width = 0.8 / len(sources)
    heights = []
    for run_index, ((run_label, _), values) in enumerate(zip(sources, per_run, strict=True)):
        for x, arm in enumerate(arms):
            if arm not in values:
                continue
            value, n = values[arm]
            heights.append(value)
            colour = palette.colour(arm)
            xpos = x - 0.4 + width * (run_index + 0.5)
            ax.bar(
                [xpos],
                [value],
                width=width * 0.92,
                color=colour,
                edgecolor="#222222",
                linewidth=0.6,
                hatch=run_hatch(run_index),
                label=series_label(arm, n, run_label if overlay else None),
            )
            ax.annotate(
                format_money(value),
                (xpos, value),
                xytext=(0, 2),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=7,
            )
    # Slanted when many: side by side, long model names overrun one another.
    slant = {"rotation": 30, "ha": "right"} if len(arms) * len(sources) > 6 else {}
    ax.set_xticks(range(len(arms)), arms, **slant)
    ax.set_xlabel("arm")
    ylabel = "cost per 1,000 requests (USD)"
    if log_if_wide(ax, np.array(heights), axis="y"):
        ylabel = "cost per 1,000 requests (USD, log scale)"
    ax.set_ylabel(ylabel)
    ax.set_title("mean over the requests with a known cost (n in the legend)")
    ax.margins(y=0.12)
    money_axis(ax, "y")
    legend_outside([ax])
    return finish(fig, "Cost per 1,000 requests per arm", simulated=simulated)
