"""What every chart of a report shares: figure size and style, labels, legends, footer, binning.

Conventions
    * A chart takes ``sources``: ``(run label, part)`` pairs. One pair draws one run; several
      overlay runs: an arm keeps its palette colour and each run gets its own line style, marker
      and hatch (``run_index`` is the pair's position in ``sources``).
    * A series' label carries its sample count: ``"auto (n=37)"``, or ``"auto · run (n=37)"``
      when runs are overlaid.
    * No data, no figure: a chart with nothing to draw returns ``None`` and the report leaves it
      out. (A chart for which *zero* is the finding, such as errors, draws the zero instead.)
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

from auraon_bench.analysis.load_summary import RunSummary
from auraon_bench.analysis.records import measured, ok_mask
from auraon_bench.analysis.stats import finite
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
}

_HATCHES = ("", "//", "..", "xx", "\\\\", "++")

P = ParamSpec("P")
R = TypeVar("R")


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


def finish(fig: Figure, title: str, *, simulated: bool) -> Figure:
    """Title the figure and, for emulator data, stamp the footer where no crop can lose it."""
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
            FOOTER,
            ha="left",
            va="bottom",
            fontsize=8,
            color="#B00020",
            fontweight="bold",
        )
    return fig


def format_n(n: int) -> str:
    return f"n={n:,}"


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
    """Give every arm its colour before anything else (e.g. a routed-to model that is no arm)
    can take one, so an arm's colour does not depend on which chart is drawn first."""
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


def nice_step(raw: float) -> float:
    """The smallest of 1, 2, 2.5, 5 x 10^k that is >= ``raw``."""
    if not math.isfinite(raw) or raw <= 0:
        return 1.0
    base = 10.0 ** math.floor(math.log10(raw))
    for m in (1.0, 2.0, 2.5, 5.0, 10.0):
        if m * base >= raw * (1 - 1e-9):
            return m * base
    return 10.0 * base


def time_bins(t_end: float, n_hint: int, *, min_bins: int = 5, max_bins: int = 60) -> np.ndarray:
    """Equal bins covering exactly ``[0, t_end]`` (seconds since run start).

    About ``n_hint / 3`` bins (a few events per series per bin, so a rate is not mostly noise),
    of a width near a round number. The last edge is ``t_end`` itself rather than a round number
    past it: a bin the run only half covered would show half the true rate.
    """
    if not math.isfinite(t_end) or t_end <= 0:
        return np.array([0.0, 1.0])
    wanted = min(max_bins, max(min_bins, n_hint // 3))
    k = max(1, round(t_end / nice_step(t_end / wanted)))
    return np.linspace(0.0, t_end, k + 1)


def format_seconds(s: float) -> str:
    return f"{s:.3g} s" if s >= 0.01 else f"{s * 1000:.3g} ms"


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
    for stage, t in stage_starts(df):
        ax.axvline(t, color="#999999", linewidth=0.8, linestyle=(0, (2, 2)), zorder=0)
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
