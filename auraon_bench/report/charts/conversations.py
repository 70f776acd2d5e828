"""Conversations turn by turn: TTFT p50, cost per request and cache hit rate by turn, per arm.

Every point is a :class:`~auraon_bench.analysis.conversations.TurnSummary` of the part's
summary (``ArmSummary.conversations.by_turn``), the figures the report's by-turn tables show;
nothing is recomputed from the records. A panel no arm has a value for (TTFT of a run that did
not stream, a hit rate from a target that reports no ``cached_tokens``) is left out, and the
figure says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from auraon_bench.analysis.conversations import TurnSummary
from auraon_bench.report.charts.base import (
    Note,
    Sources,
    chart,
    finish,
    legend_outside,
    load_summaries,
    log_if_wide,
    money_axis,
    new_figure,
    register_arms,
    series_label,
)
from auraon_bench.report.palette import Palette

THREE_PANELS = (15.0, 4.6)


@dataclass(frozen=True)
class _Panel:
    name: str  # what the panel's title says is missing when it is left out
    ylabel: str
    title: str


_PANELS = (
    _Panel("TTFT", "TTFT p50 (ms)", "median time to first token"),
    _Panel("cost", "cost per request (USD)", "mean cost of an ok request"),
    _Panel("cache hit rate", "cache hit rate (% of prompt tokens)", "share read from cache"),
)


def _values(turns: tuple[TurnSummary, ...]) -> list[np.ndarray]:
    """Per panel, one value per turn (NaN where the summary has none)."""

    def array(values: list[float | None]) -> np.ndarray:
        return np.array([np.nan if v is None else float(v) for v in values], dtype=float)

    return [
        array([None if t.ttft_s.p50 is None else t.ttft_s.p50 * 1000.0 for t in turns]),
        array([t.cost_per_request_usd for t in turns]),
        array([None if t.cache_hit_rate is None else t.cache_hit_rate * 100.0 for t in turns]),
    ]


@chart
def conversation_turns(
    sources: Sources, palette: Palette, simulated: bool = False
) -> Figure | Note | None:
    """Per arm, by turn index: TTFT p50 (ms), cost per request (USD), cache hit rate (%)."""
    register_arms(sources, palette)
    overlay = len(sources) > 1
    series = []  # (run index, run label, arm, turns, values per panel)
    for run_index, run_label, _, summary in load_summaries(sources):
        for arm in summary.arms:
            conv = arm.conversations
            if conv is not None and conv.by_turn:
                turns = conv.by_turn
                series.append((run_index, run_label, str(arm.arm), turns, _values(turns)))
    if not series:
        if any(len(part.load_summary.arms) for _, part in sources):
            return Note("single-turn requests: no conversation turns to compare (--turns 2+)")
        return None
    shown = [i for i in range(len(_PANELS)) if any(np.isfinite(v[i]).any() for *_, v in series)]
    if not shown:
        return Note("no ok turn has a TTFT, a cost or a cache figure")
    size = THREE_PANELS if len(shown) == 3 else None
    fig, axes = new_figure(ncols=len(shown), sharex=True, size=size)
    for run_index, run_label, arm, turns, values in series:
        x = np.array([t.turn for t in turns], dtype=float)
        n = sum(t.ok for t in turns)
        style = {
            "color": palette.colour(arm),
            "linestyle": Palette.line_style(run_index),
            "marker": Palette.marker(run_index),
            "markersize": 4.5,
            "label": series_label(arm, n, run_label if overlay else None),
        }
        for ax, i in zip(axes, shown, strict=True):
            known = np.isfinite(values[i])
            if known.any():
                ax.plot(x[known], values[i][known], **style)
    for ax, i in zip(axes, shown, strict=True):
        panel = _PANELS[i]
        ax.set_xlabel("turn of the conversation")
        ax.set_title(panel.title)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        log = i == 1 and log_if_wide(ax, np.concatenate([v[1] for *_, v in series]), axis="y")
        ax.set_ylabel(panel.ylabel.replace(")", ", log scale)") if log else panel.ylabel)
        if i == 2:
            ax.set_ylim(0, 101)
        elif not log:
            ax.set_ylim(bottom=0)
        if i == 1:
            money_axis(ax, "y")
    legend_outside(axes, title="ok requests")
    title = "Conversations by turn, per arm"
    missing = [_PANELS[i].name for i in range(len(_PANELS)) if i not in shown]
    if missing:
        title += f"\nnot shown, no turn has a value: {', '.join(missing)}"
    return finish(fig, title, simulated=simulated)
