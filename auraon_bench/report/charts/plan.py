"""Plan-fit chart: the workload's needed requests/min and tokens/min against each plan's limits.

Reads :class:`~auraon_bench.analysis.plan_fit.PlanFit` values, not parts: the needed figures are
a peak over a sliding window, computed once by ``plan_fit`` and shown here as they are. Limits
span orders of magnitude (60 requests/min against 2,000,000 tokens/min), hence log axes; an
unlimited plan has no height, so it is drawn as a hatched bar to the top of the axis.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, NullFormatter

from auraon_bench.analysis.plan_fit import MINUTE_S, PlanFit, PlanLimit
from auraon_bench.report.charts.base import (
    NEUTRAL,
    chart,
    finish,
    legend_outside,
    new_figure,
)
from auraon_bench.report.palette import Palette

# (PlanLimit attribute, PlanFit attribute, unit, what it counts)
_DIMENSIONS = (
    ("rpm", "needed_rpm", "requests/min", "attempts sent, 429s included"),
    ("tpm", "needed_tpm", "tokens/min", "prompt + completion tokens"),
)
_NEEDED = "#B00020"
_BAR = "#D9D9D9"
# PlanFit.cheapest_fit's default: the margin a plan needs before the report calls it a fit.
_COMFORTABLE = 0.3


def _compact(value: float) -> str:
    """60 -> "60", 12,345 -> "12.3k", 2,000,000 -> "2M"."""
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.3g}{suffix}"
    return f"{value:.3g}"


def _headroom_text(needed: float, limit: float) -> tuple[str, str]:
    headroom = 1.0 - needed / limit
    if headroom < 0:
        return f"headroom {headroom:+.0%} (over)", "#B00020"
    colour = "#9A6700" if headroom < _COMFORTABLE else "#1A7F37"
    return f"headroom {headroom:+.0%}", colour


def _plans(fits: Sequence[tuple[str, PlanFit]]) -> list[PlanLimit]:
    """Every plan any fit was measured against, in order, by name (the first definition wins)."""
    plans: dict[str, PlanLimit] = {}
    for _, fit in fits:
        for plan in fit.plans:
            plans.setdefault(plan.name, plan)
    return list(plans.values())


@chart
def plan_fit_chart(
    fits: Sequence[tuple[str, PlanFit]],
    palette: Palette | None = None,
    simulated: bool = False,
) -> Figure | None:
    """Bars of each plan's requests/min and tokens/min limit (log), a line for the needed figure
    of each fit, and the headroom per plan; None when no fit saw a request or names a plan.

    ``palette`` is accepted so that every chart is called the same way; plans are not arms, so
    nothing here takes an arm colour (a plan drawn in an arm's colour would read as that arm).
    """
    del palette
    fits = [(label, fit) for label, fit in fits if fit.n_requests > 0]
    plans = _plans(fits)
    if not fits or not plans:
        return None
    overlay = len(fits) > 1
    fig, axes = new_figure(ncols=2)
    for ax, (limit_attr, needed_attr, unit, counted) in zip(axes, _DIMENSIONS, strict=True):
        limits = [getattr(p, limit_attr) for p in plans]
        needs = [(label, fit, float(getattr(fit, needed_attr))) for label, fit in fits]
        low, high = _range([*limits, *(n for _, _, n in needs)])
        ax.set_yscale("log")
        ax.set_ylim(low, high)
        # "100k" and "2M" as on the plans' price pages, not 10^5 and 2x10^6.
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: _compact(v)))
        ax.yaxis.set_minor_formatter(NullFormatter())
        _bars(ax, limits, low, high)
        for j, (label, fit, needed) in enumerate(needs):
            if needed <= 0:
                continue  # no tokens reported: nothing to draw on a log axis
            name = f"needed · {label}" if overlay else "needed"
            ax.axhline(
                needed,
                color=_NEEDED,
                linestyle=Palette.line_style(j),
                linewidth=1.6,
                label=f"{name} (n={fit.n_requests:,} requests): {_compact(needed)} {unit}",
            )
            for x, limit in enumerate(limits):
                if limit is not None:
                    text, colour = _headroom_text(needed, limit)
                    ax.annotate(
                        f"{label}: {text}" if overlay else text,
                        (x, limit),
                        xytext=(0, 3 + 11 * j),
                        textcoords="offset points",
                        ha="center",
                        va="bottom",
                        fontsize=7.5,
                        color=colour,
                    )
        ticks = [
            f"{p.name}\n{'unlimited' if v is None else _compact(v)}"
            for p, v in zip(plans, limits, strict=True)
        ]
        ax.set_xticks(range(len(plans)), ticks)
        ax.set_xlim(-0.6, len(plans) - 0.4)
        ax.set_xlabel("plan (limit)")
        ax.set_ylabel(f"{unit} (log scale)")
        ax.set_title(f"{unit} ({counted})")
        ax.grid(axis="x", visible=False)
    legend_outside(axes)
    return finish(fig, _title(fits), simulated=simulated)


def _range(values: Sequence[float | None]) -> tuple[float, float]:
    """Log-axis limits with room under the smallest value and above the largest for the labels."""
    positive = [v for v in values if v is not None and v > 0 and math.isfinite(v)]
    if not positive:
        return 1.0, 10.0
    return min(positive) / 4.0, max(positive) * 12.0


def _bars(ax: Axes, limits: Sequence[float | None], low: float, high: float) -> None:
    for x, limit in enumerate(limits):
        if limit is None:
            ax.bar(
                [x],
                [high - low],
                bottom=low,
                width=0.6,
                facecolor="none",
                edgecolor=NEUTRAL,
                hatch="//",
                linewidth=0.8,
                label="unlimited plan",
            )
            ax.text(
                x,
                math.sqrt(low * high),
                "unlimited",
                ha="center",
                va="center",
                fontsize=8,
                rotation=90,
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 1.5},
            )
        else:
            # Bars start at the bottom of the axis: a log axis has no zero to grow from.
            ax.bar(
                [x],
                [limit - low],
                bottom=low,
                width=0.6,
                color=_BAR,
                edgecolor=NEUTRAL,
                linewidth=0.8,
                label="plan limit",
            )


def _title(fits: Sequence[tuple[str, PlanFit]]) -> str:
    title = "Plan fit: needed vs available requests/min and tokens/min"
    short = [(label, fit) for label, fit in fits if fit.window_s < MINUTE_S]
    if len(fits) == 1 and short:
        title += f" (peak over {short[0][1].window_s:.0f} s, scaled to a minute)"
    elif short:
        windows = ", ".join(f"{label}: {fit.window_s:.0f} s" for label, fit in short)
        title += f" (peak over a window shorter than a minute, scaled to it; {windows})"
    if len(fits) == 1:
        best = fits[0][1].cheapest_fit(_COMFORTABLE)
        verdict = best or "none of the plans"
        title += f"\nsmallest plan with {_COMFORTABLE:.0%} headroom on both: {verdict}"
    return title
