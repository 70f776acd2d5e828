"""Latency charts: CDFs, TTFT/TPOT distributions, and latency against the offered rate.

Samples are the ``ok``, non-warm-up attempts of each arm, with TTFT, TPOT and latency taken from
:mod:`auraon_bench.analysis.records` so that a chart and the summary table never disagree on a
definition. The rate chart reads the per-stage percentiles of the part's summary rather than
recomputing them, for the same reason.
"""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from auraon_bench.analysis.load_summary import ArmSummary
from auraon_bench.analysis.records import latency_column, tpot_column, ttft_column
from auraon_bench.analysis.stats import finite
from auraon_bench.report.charts.base import (
    Note,
    Series,
    Sources,
    arm_order,
    chart,
    clip_axis,
    ecdf,
    failed_note,
    finish,
    format_n,
    iter_series,
    legend_outside,
    load_summaries,
    log_if_wide,
    new_figure,
    register_arms,
)
from auraon_bench.report.palette import Palette

_PERCENT_GUIDES = (50.0, 95.0)


def _samples(series: Series) -> dict[str, np.ndarray]:
    rows = series.rows
    return {
        "ttft_ms": finite(ttft_column(rows)) * 1000.0,
        "latency_s": finite(latency_column(rows)),
        "tpot_ms": finite(tpot_column(rows)) * 1000.0,
    }


def _streamed(sources: Sources) -> bool:
    """Whether any part asked for streamed answers (its manifest's options, else its records)."""
    for _, part in sources:
        option = part.options.get("stream")
        if option is None and "stream" in part.records.columns:
            option = bool(part.records["stream"].fillna(False).astype(bool).any())
        if option is None or option:
            return True
    return False


def _why_no_ttft(sources: Sources, needs: str) -> str:
    """Why no attempt has a TTFT; ``needs`` opens the sentence ("it needs", "both need")."""
    if not _streamed(sources):
        return f"{needs} streamed answers and this run did not stream (--no-stream)"
    return "no ok attempt reported a first token"


@chart
def latency_cdf(
    sources: Sources, palette: Palette, simulated: bool = False
) -> Figure | Note | None:
    """Empirical CDFs per arm of TTFT (ms) and end-to-end latency (s); ok, non-warm-up attempts.

    A panel with no values at all (TTFT of a run that did not stream) is left out and the figure
    says why; a long tail is cut at a stated percentile, with the attempts beyond it counted.
    """
    register_arms(sources, palette)
    failed = failed_note(sources, "latency to show")
    if failed is not None:
        return failed
    series = [(s, _samples(s)) for s in iter_series(sources, ok_only=True)]
    panels = _with_data(
        series,
        ("ttft_ms", "TTFT", "ms", "time to first token"),
        ("latency_s", "end-to-end latency", "s", "end-to-end latency of one attempt"),
    )
    if not panels:
        return None
    fig, axes = new_figure(ncols=len(panels), sharey=True)
    for ax, (key, name, unit, title) in zip(axes, panels, strict=True):
        samples = [(s, v[key]) for s, v in series if v[key].size]
        for s, values in samples:
            x, y = ecdf(values)
            ax.step(
                x,
                y,
                where="post",
                color=palette.colour(s.arm),
                linestyle=s.linestyle,
                label=s.label(values.size),
            )
        _percent_guides(ax)
        log = log_if_wide(ax, np.concatenate([v for _, v in samples]))
        xlabel = f"{name} ({unit}, log scale)" if log else f"{name} ({unit})"
        cut = clip_axis(ax, [v for _, v in samples], "x", unit)
        ax.set_xlabel(f"{xlabel}\n{cut}" if cut else xlabel)
        ax.set_ylim(0, 101)
        ax.set_title(title)
        # Each panel has its own legend because a series' n can differ between the panels.
        ax.legend(loc="lower right")
    axes[0].set_ylabel("attempts at or below x (%)")
    title = "Latency CDF per arm (ok, non-warm-up attempts)"
    if panels[0][0] != "ttft_ms":
        title += f"\nTTFT not shown: {_why_no_ttft(sources, 'it needs')}"
    return finish(fig, title, simulated=simulated)


def _percent_guides(ax: Axes) -> None:
    for p in _PERCENT_GUIDES:
        ax.axhline(p, color="#999999", linewidth=0.7, linestyle=(0, (1, 2)), zorder=0)
        ax.annotate(
            f"p{p:g}",
            (0.0, p),
            xycoords=("axes fraction", "data"),
            xytext=(2, 2),
            textcoords="offset points",
            fontsize=7,
            color="#777777",
        )


def _box(ax: Axes, position: float, values: np.ndarray, colour: str, linestyle: str) -> None:
    ax.boxplot(
        [values],
        positions=[position],
        widths=0.6,
        whis=1.5,
        showfliers=True,
        patch_artist=True,
        manage_ticks=False,
        boxprops={"facecolor": to_rgba(colour, 0.33), "edgecolor": colour, "linestyle": linestyle},
        whiskerprops={"color": colour, "linestyle": linestyle},
        capprops={"color": colour},
        medianprops={"color": "#222222", "linewidth": 1.4},
        flierprops={
            "marker": "o",
            "markersize": 3.5,
            "markerfacecolor": "none",
            "markeredgecolor": colour,
            "alpha": 0.8,
        },
    )


@chart
def ttft_tpot_distribution(
    sources: Sources, palette: Palette, simulated: bool = False
) -> Figure | Note | None:
    """Box plots per arm of TTFT (ms) and TPOT (ms/token), outliers drawn (beyond 1.5 IQR).

    Both need streamed answers: a run that did not stream gets a note instead. A TPOT panel
    with no value (every answer a single token) is left out and the figure says so.
    """
    register_arms(sources, palette)
    failed = failed_note(sources, "latency to show")
    if failed is not None:
        return failed
    series = [(s, _samples(s)) for s in iter_series(sources, ok_only=True)]
    if not series:
        return None
    if not any(v["ttft_ms"].size for _, v in series):
        return Note(f"not measured: {_why_no_ttft(sources, 'both need')}")
    panels = _with_data(
        series,
        ("ttft_ms", "TTFT", "ms", "time to first token"),
        ("tpot_ms", "TPOT", "ms/token", "time per output token (answers of 2+ tokens)"),
    )
    fig, axes = new_figure(ncols=len(panels))
    overlay = len(sources) > 1
    for ax, (key, name, unit, title) in zip(axes, panels, strict=True):
        ticks, labels, pooled = [], [], []
        for position, (s, values) in enumerate(series, start=1):
            sample = values[key]
            arm = f"{s.arm}\n{s.run_label}" if overlay else s.arm
            ticks.append(position)
            labels.append(f"{arm}\n({format_n(sample.size)})")
            if sample.size:
                _box(ax, position, sample, palette.colour(s.arm), s.linestyle)
                pooled.append(sample)
        ax.set_xticks(ticks, labels, fontsize=7.5, rotation=30 if len(series) > 5 else 0)
        ax.set_xlim(0.4, len(series) + 0.6)
        log = log_if_wide(ax, np.concatenate(pooled), axis="y")
        ax.set_ylabel(f"{name} ({unit}, log scale)" if log else f"{name} ({unit})")
        # Under the arms' names: a title this long would run into the next panel's.
        ax.set_xlabel(clip_axis(ax, pooled, "y", unit.split("/")[0], sep=":\n"))
        ax.set_title(title)
    # Boxes have no legend entries of their own; proxies give each arm (and run) its key.
    proxies = [
        Patch(
            facecolor=to_rgba(palette.colour(s.arm), 0.33),
            edgecolor=palette.colour(s.arm),
            linestyle=s.linestyle,
            label=s.label(values["ttft_ms"].size),
        )
        for s, values in series
    ]
    # The reading key goes in the legend title: notes under the axes collide with tick labels.
    key = "ok attempts\nbox: quartiles, median\nwhiskers: 1.5 IQR\ncircles: outliers"
    legend_outside([axes[-1]], handles=proxies, title=key)
    title = "TTFT and TPOT distributions per arm"
    if len(panels) == 1:
        title += "\nTPOT not shown: no answer had 2 or more tokens"
    return finish(fig, title, simulated=simulated)


def _number(value: float | None) -> float:
    return float("nan") if value is None else float(value)


@chart
def latency_vs_rate(sources: Sources, palette: Palette, simulated: bool = False) -> Figure | None:
    """Latency p50 and p95 (s) per arm against each sweep stage's achieved rate (req/s).

    x is the stage's achieved send rate over all arms, since the gateway's queues feel the total
    load, not one arm's share of it. Parts without 2+ stages are skipped; None if none has them.
    """
    register_arms(sources, palette)
    swept = [
        (i, label, part, sorted(summary.stages, key=lambda st: st.stage))
        for i, label, part, summary in load_summaries(sources)
        if len(summary.stages) >= 2
    ]
    if not swept:
        return None
    overlay = len(sources) > 1
    fig, (ax50, ax95) = new_figure(ncols=2, sharex=True)
    for run_index, run_label, part, stages in swept:
        rates = np.array([_number(st.overall.achieved_rate) for st in stages])
        per_stage = [{str(a.arm): a for a in st.arms} for st in stages]
        staged = {arm for by_arm in per_stage for arm in by_arm}
        arms = [a for a in arm_order(part) if a in staged]
        arms += sorted(staged - set(arms))
        for arm in arms:
            cells = [by_arm.get(arm) for by_arm in per_stage]
            n = sum(c.latency_s.n for c in cells if c is not None)
            label = f"{arm} · {run_label}" if overlay else arm
            style = {
                "color": palette.colour(arm),
                "linestyle": Palette.line_style(run_index),
                "marker": Palette.marker(run_index),
                "label": f"{label} ({format_n(n)})",
            }
            p50 = np.array([_number(c.latency_s.p50 if c else None) for c in cells])
            p95 = np.array([_number(c.latency_s.p95 if c else None) for c in cells])
            ax50.plot(rates, p50, **style)
            ax95.plot(rates, p95, **style)
            _annotate_rate_limited(ax95, rates, p95, cells, style["color"], arms.index(arm))
    for ax, p in ((ax50, "p50"), (ax95, "p95")):
        ax.set_xlabel("achieved rate, all arms (req/s)")
        ax.set_ylabel(f"latency {p} (s)")
        ax.set_title(f"{p} of ok attempts per stage")
        ax.set_ylim(bottom=0)
        ax.set_xlim(left=0)
    legend_outside([ax50], on=ax95)
    title = "Latency against load: where the knee is"
    return finish(fig, f"{title} ({len(swept[0][3])}-stage sweep)", simulated=simulated)


def _annotate_rate_limited(
    ax: Axes,
    rates: np.ndarray,
    values: np.ndarray,
    cells: list[ArmSummary | None],
    colour: str,
    slot: int,
) -> None:
    """Say at which stages the arm was throttled: a flat p95 there means shed load, not health."""
    for x, y, cell in zip(rates, values, cells, strict=True):
        if cell is None:
            continue
        limited, requests = cell.errors.rate_limited, cell.requests
        if limited and requests and np.isfinite(x) and np.isfinite(y):
            ax.annotate(
                f"{limited / requests:.0%} got 429",
                (x, y),
                # One line per arm below the point: arms often share a stage's x.
                xytext=(-6, -10 - 9 * slot),
                textcoords="offset points",
                ha="right",
                fontsize=7,
                color=colour,
            )


def _with_data(series: list, *panels: tuple[str, str, str, str]) -> list[tuple[str, str, str, str]]:
    """The panels (key, name, unit, title) for which some series has a sample."""
    return [panel for panel in panels if any(v[panel[0]].size for _, v in series)]
