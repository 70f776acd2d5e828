"""What every chart of a report shares: figure size and style, labels, legends, footer, binning.

Conventions
    * A chart takes ``sources``: ``(run label, part)`` pairs. One pair draws one run; several
      overlay runs: an arm keeps its palette colour and each run gets its own line style, marker
      and hatch (``run_index`` is the pair's position in ``sources``).
    * A series' label carries its sample count: ``"auto (n=37)"``, or ``"auto · run (n=37)"``
      when runs are overlaid.
    * Nothing to show, no empty axes: a chart whose data cannot fill it returns a :class:`Note`,
      one line saying why (no errors at all, a run that did not stream), which the report prints
      in the chart's place; a panel with nothing to show is left out of its figure, and the
      figure says so. ``None`` means the chart has no data of any kind; the registry turns it
      into a note of its own (:meth:`~auraon_bench.report.charts.ChartSpec.draw`).
    * Axes: money in dollars (:func:`money_axis`), never an offset or ``1e-5``; a long tail is
      cut at a stated percentile (:func:`clip_axis`) with what lies beyond counted; time bins
      are round widths (:mod:`~auraon_bench.report.charts.scales` decides all three).
    * Style is applied through ``matplotlib.rc_context`` for the duration of one chart only, so
      building a report never changes a notebook user's matplotlib settings or backend.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import Formatter, LogLocator, MaxNLocator, NullFormatter

from auraon_bench.analysis.load_summary import RunSummary
from auraon_bench.analysis.records import measured, ok_mask
from auraon_bench.analysis.stats import finite
from auraon_bench.report.charts.scales import (
    Clip,
    axis_clip,
    bin_width,
    clipped_range,
    format_amount,
    format_duration,
    format_money,
    money_ticks,
    time_edges,
)
from auraon_bench.report.palette import Palette
from auraon_bench.results.run import Part

Sources = Sequence[tuple[str, Part]]

FOOTER = "SIMULATED (built-in emulator)"
ONE_PANEL = (8.0, 4.6)
TWO_PANELS = (12.0, 4.6)
NEUTRAL = "#555555"

# Creation-time settings only; anything read at save time (svg.fonttype, hashsalt) is set by
# save_figure, which is the one place that writes files.
STYLE: dict[str, Any] = {
    "font.size": 9.0,
    "axes.titlesize": 10.0,
    "axes.labelsize": 9.0,
    "axes.grid": True,
    "axes.axisbelow": True,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "grid.alpha": 0.35,
    "grid.linewidth": 0.6,
    "legend.fontsize": 8.0,
    "legend.frameon": False,
    "figure.titlesize": 11.0,
    "xtick.labelsize": 8.0,
    "ytick.labelsize": 8.0,
    "lines.linewidth": 1.6,
    # An offset ("+1.7e3" in the corner) makes every tick label a sum the reader must do.
    "axes.formatter.useoffset": False,
}

_HATCHES = ("", "//", "..", "xx", "\\\\", "++")

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class Note:
    """What the report prints instead of a chart that has nothing to show: one line, saying why
    (the report puts the chart's title before it)."""

    text: str

    def __str__(self) -> str:
        return self.text


def chart(func: Callable[P, R]) -> Callable[P, R]:
    """Build the chart under :data:`STYLE`, restoring the caller's rcParams afterwards."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with matplotlib.rc_context(STYLE):
            return func(*args, **kwargs)

    return wrapper


def new_figure(
    ncols: int = 1, nrows: int = 1, *, size: tuple[float, float] | None = None, **kwargs: Any
) -> tuple[Figure, list[Axes]]:
    """A constrained-layout figure and its axes as a flat list."""
    if size is None:
        size = TWO_PANELS if ncols > 1 else ONE_PANEL
    fig = Figure(figsize=size, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, **kwargs)
    return fig, [ax for row in axes for ax in row]


def finish(fig: Figure, title: str, *, simulated: bool | str) -> Figure:
    """Title the figure and, for emulator data, stamp the footer where no crop can lose it:
    ``simulated`` is the label itself (a twin's "SIMULATED (twin of RUN-ID)"), or True for
    :data:`FOOTER`."""
    fig.suptitle(title)
    if simulated:
        # Reserve a strip at the bottom; constrained layout would otherwise put the x labels
        # under the footer.
        engine = fig.get_layout_engine()
        if engine is not None:
            engine.set(rect=(0.0, 0.045, 1.0, 0.955))
        fig.text(
            0.005,
            0.01,
            simulated if isinstance(simulated, str) else FOOTER,
            ha="left",
            va="bottom",
            fontsize=8,
            color="#B00020",
            fontweight="bold",
        )
    return fig


def format_n(n: int) -> str:
    return f"n={n:,}"


def counted(n: int, noun: str) -> str:
    """``"1 attempt"``, ``"1,200 attempts"``."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def failed_note(sources: Sources, nothing: str) -> Note | None:
    """A note when not one measured attempt succeeded (``nothing``: what there is then none of),
    else None: latency, throughput and cost all need an answer."""
    attempts = sum(len(measured(part.records)) for _, part in sources)
    if attempts and not any(ok_mask(measured(part.records)).any() for _, part in sources):
        return Note(f"not one of the {counted(attempts, 'attempt')} succeeded: no {nothing}")
    return None


def series_label(name: str, n: int, run_label: str | None = None) -> str:
    """``"auto (n=37)"``, or ``"auto · run (n=37)"`` when runs are overlaid."""
    head = f"{name} · {run_label}" if run_label else name
    return f"{head} ({format_n(n)})"


def legend_outside(
    axes: Sequence[Axes],
    *,
    on: Axes | None = None,
    handles: Sequence[Any] | None = None,
    **kwargs: Any,
) -> None:
    """One legend right of axes ``on`` (default: the last of ``axes``) listing the labelled
    artists of ``axes`` once each (first label wins), or the given proxy ``handles``.

    Outside the axes so that it never hides data; anchored to an axes rather than the figure so
    that constrained layout keeps it under the figure title instead of beside it.
    """
    if handles is None:
        found: dict[str, Any] = {}
        for ax in axes:
            for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
                found.setdefault(label, handle)
        handles = list(found.values())
    if handles:
        target = on if on is not None else axes[-1]
        target.legend(
            handles=list(handles),
            loc="upper left",
            bbox_to_anchor=(1.02, 1.0),
            borderaxespad=0.0,
            alignment="left",
            **kwargs,
        )


@dataclass(frozen=True)
class Series:
    """The measured rows of one arm of one run."""

    run_index: int
    run_label: str
    part: Part
    arm: str
    rows: pd.DataFrame
    overlay: bool  # several runs are drawn together: labels name the run

    def label(self, n: int) -> str:
        return series_label(self.arm, n, self.run_label if self.overlay else None)

    @property
    def linestyle(self) -> str:
        return Palette.line_style(self.run_index)

    @property
    def marker(self) -> str:
        return Palette.marker(self.run_index)


def run_hatch(run_index: int) -> str:
    """Bars cannot take a line style legibly; runs are told apart by hatching instead."""
    return _HATCHES[run_index % len(_HATCHES)]


def arm_order(part: Part) -> list[str]:
    """The arms in the order the run was asked for, then any others the records hold."""
    listed = [str(a) for a in part.options.get("arms") or []]
    df = part.records
    present = [] if "arm" not in df.columns else sorted(map(str, df["arm"].dropna().unique()))
    return [
        *dict.fromkeys(a for a in listed if a in present),
        *(a for a in present if a not in listed),
    ]


def register_arms(sources: Sources, palette: Palette) -> None:
    """Meet every arm before anything else (e.g. a routed-to model that is no arm), so that
    lists ordered by the palette (:attr:`Palette.arms`) put the arms first. Colours do not
    depend on it: they are a function of the name."""
    for _, part in sources:
        for arm in arm_order(part):
            palette.colour(arm)


def iter_series(sources: Sources, *, ok_only: bool = False) -> Iterator[Series]:
    """One :class:`Series` per (run, arm) with non-warm-up rows (only ``ok`` ones if asked)."""
    overlay = len(sources) > 1
    for run_index, (run_label, part) in enumerate(sources):
        df = measured(part.records)
        if ok_only:
            df = df.loc[ok_mask(df)]
        if "arm" not in df.columns:
            continue
        for arm in arm_order(part):
            rows = df.loc[df["arm"].eq(arm).fillna(False).to_numpy(dtype=bool)]
            if len(rows):
                yield Series(run_index, run_label, part, arm, rows, overlay)


def load_summaries(sources: Sources) -> Iterator[tuple[int, str, Part, RunSummary]]:
    """(run index, run label, part, the part's summary) of each source."""
    for run_index, (run_label, part) in enumerate(sources):
        yield run_index, run_label, part, part.load_summary


def ecdf(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Step coordinates of the empirical CDF in percent, starting from 0 % at the minimum."""
    x = np.sort(finite(values))
    y = np.arange(1, x.size + 1) / x.size * 100.0
    return np.concatenate((x[:1], x)), np.concatenate(([0.0], y))


def log_if_wide(ax: Axes, values: np.ndarray, axis: str = "x", ratio: float = 100.0) -> bool:
    """Log scale when the bulk spans more than ``ratio``x: a linear axis would squash the fast
    requests into one pixel column. Decided on p1..p99 so one outlier cannot flip it."""
    x = finite(values)
    # A log axis would silently drop zeros (a TPOT of 0 is a real emulator value).
    if x.size < 2 or (x <= 0).any():
        return False
    low, high = np.percentile(x, [1.0, 99.0])
    if low > 0 and high / low >= ratio:
        (ax.set_xscale if axis == "x" else ax.set_yscale)("log")
        return True
    return False


def time_bins(t_end: float, n_hint: int) -> np.ndarray:
    """Bin edges over ``[0, t_end]`` (seconds since run start): a round width sized to the run
    and its ``n_hint`` events (:func:`~auraon_bench.report.charts.scales.bin_width`), the last
    edge at ``t_end`` (:func:`~auraon_bench.report.charts.scales.time_edges`)."""
    return time_edges(t_end, bin_width(t_end, n_hint))


def bin_note(edges: np.ndarray) -> str:
    """``"1 s bins"``, or ``"1 s bins, the last 1.28 s"`` when the run did not end on one."""
    widths = np.diff(edges)
    text = f"{format_duration(float(widths[0]))} bins"
    if len(widths) > 1 and not np.isclose(widths[-1], widths[0]):
        text += f", the last {format_duration(float(widths[-1]))}"
    return text


def bin_counts(times: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Events per bin; an event exactly at the last edge belongs to the last bin."""
    t = finite(times)
    counts, _ = np.histogram(t, bins=edges)
    return counts


def stage_starts(df: pd.DataFrame) -> list[tuple[int, float]]:
    """(stage, first send time) of each stage after the first: where a sweep changed rate."""
    if "stage" not in df.columns or "t_sent" not in df.columns:
        return []
    frame = pd.DataFrame(
        {"stage": pd.to_numeric(df["stage"], errors="coerce"), "t": df["t_sent"]}
    ).dropna()
    if frame["stage"].nunique() < 2:
        return []
    starts = frame.groupby("stage")["t"].min().sort_index()
    return [(int(s), float(t)) for s, t in starts.iloc[1:].items()]


def mark_stages(ax: Axes, df: pd.DataFrame) -> None:
    """A dotted line where each stage starts, named where the name has room: a probe of twenty
    short phases would otherwise print twenty names on top of one another."""
    starts = stage_starts(df)
    sent = df["t_sent"] if "t_sent" in df.columns else pd.Series(dtype=float)
    room = 0.1 * float(np.nanmax(sent.to_numpy(dtype=float))) if starts else 0.0
    named = -math.inf
    for stage, t in starts:
        ax.axvline(t, color="#999999", linewidth=0.8, linestyle=(0, (2, 2)), zorder=0)
        if t - named < room:
            continue
        named = t
        ax.annotate(
            f"stage {stage}",
            (t, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(2, -2),
            textcoords="offset points",
            ha="left",
            va="top",
            fontsize=7,
            color="#777777",
        )


class _MoneyFormatter(Formatter):
    """Dollar tick labels: the decimals the tick step needs (:func:`scales.money_ticks`)."""

    def __init__(self, log: bool) -> None:
        self.log = log
        self._labels: dict[float, str] = {}

    def set_locs(self, locs: Sequence[float]) -> None:
        super().set_locs(locs)
        shown = [float(v) for v in locs if not self.log or v > 0]
        self._labels = dict(zip(shown, money_ticks(shown, log=self.log), strict=True))

    def __call__(self, x: float, pos: int | None = None) -> str:
        return self._labels.get(float(x)) or format_money(float(x))


def money_axis(ax: Axes, axis: str = "y") -> None:
    """Label the ``axis`` of ``ax`` in dollars (``$0.00002``), never ``1e-5`` or an offset.

    A log axis gets ticks at 1, 2 and 5 (or every tenth when it spans under a decade), so a
    narrow cost range still shows two or more labelled amounts; its minor ticks stay unlabelled.
    Call it after the data and the axis limits are set.
    """
    target = ax.xaxis if axis == "x" else ax.yaxis
    log = (ax.get_xscale() if axis == "x" else ax.get_yscale()) == "log"
    if log:
        low, high = sorted(ax.get_xlim() if axis == "x" else ax.get_ylim())
        decades = math.log10(high / low) if low > 0 and high > 0 else 3.0
        subs = (1.0,) if decades > 3 else (1.0, 2.0, 5.0) if decades > 1 else (1.0, 2.0, 3.0, 5.0)
        target.set_major_locator(LogLocator(base=10.0, subs=subs))
        target.set_minor_formatter(NullFormatter())
    else:
        # Steps of 1, 2 and 5 only: a 2.5 step needs a digit more on every label ($0.0175).
        target.set_major_locator(MaxNLocator(nbins="auto", steps=[1, 2, 5, 10]))
    target.set_major_formatter(_MoneyFormatter(log))


def clip_axis(
    ax: Axes,
    series: Sequence[np.ndarray],
    axis: str = "x",
    unit: str = "",
    what: str = "attempts",
    sep: str = ": ",
) -> str:
    """Cut the ``axis`` of ``ax`` at a percentile of ``series`` when a long tail would flatten
    the rest (:func:`scales.axis_clip`); the sentence saying so (its two halves joined by
    ``sep``), or "" when nothing was cut.

    The other end is set again too: autoscaling left room for the outliers' span there as well.
    Call it after the scale is set: the rule measures the tail in the axis' own scale.
    """
    log = (ax.get_xscale() if axis == "x" else ax.get_yscale()) == "log"
    clip = axis_clip(series, log=log)
    if clip is None:
        return ""
    low = min(float(np.nanmin(s)) for s in series if np.isfinite(s).any())
    lower, upper = clipped_range(clip, low, log=log)
    (ax.set_xlim if axis == "x" else ax.set_ylim)(lower, upper)
    return clip_text(clip, unit, what, sep)


def clip_text(clip: Clip, unit: str = "", what: str = "attempts", sep: str = ": ") -> str:
    """``"axis cut at p99 (1.23 s): 4 of 812 attempts beyond it, the largest 7.50 s"``."""
    unit = f" {unit}" if unit else ""
    return (
        f"axis cut at {clip.name} ({format_amount(clip.limit)}{unit}){sep}{clip.beyond:,} of "
        f"{clip.total:,} {what} beyond it, the largest {format_amount(clip.maximum)}{unit}"
    )
