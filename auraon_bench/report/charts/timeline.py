"""Charts over the run's own clock: throughput and latency per time bin, errors per time bin.

Time is seconds since run start (the records' monotonic clock). All runs of one chart share the
same bins, sized from the longest run, so overlaid runs are compared bin for bin; a run's series
stops at its own last bin. Completions are binned by ``t_done`` (when the client got them),
errors by ``t_sent`` (when the request that failed was sent, i.e. the load that caused it).
Warm-up rows are left out, as in every other figure of the report. Bins are a round width
sized to the run (:func:`~auraon_bench.report.charts.scales.bin_width`), stated on the x axis.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from auraon_bench.analysis.records import column, latency_column, measured, ok_mask
from auraon_bench.report.charts.base import (
    NEUTRAL,
    Note,
    Series,
    Sources,
    bin_counts,
    bin_note,
    chart,
    counted,
    failed_note,
    finish,
    format_n,
    iter_series,
    legend_outside,
    mark_stages,
    new_figure,
    register_arms,
    time_bins,
)
from auraon_bench.report.palette import Palette

MIN_COMPLETIONS = 3  # a rate over time from fewer completions is a dot or two, not a trend


def _run_end(sources: Sources, name: str) -> dict[int, float]:
    """Each run's last ``name`` time over its non-warm-up rows (NaN if it has none)."""
    ends = {}
    for run_index, (_, part) in enumerate(sources):
        values = column(measured(part.records), name)
        values = values[np.isfinite(values)]
        ends[run_index] = float(values.max()) if values.size else float("nan")
    return ends


def _own_edges(edges: np.ndarray, t_end: float) -> np.ndarray:
    """The shared edges up to the first one at or past this run's end."""
    last = int(np.searchsorted(edges, t_end, side="left"))
    return edges[: max(2, min(last, len(edges) - 1) + 1)]


def _shared_edges(series: list[Series], ends: dict[int, float]) -> np.ndarray | None:
    finite_ends = [t for t in ends.values() if np.isfinite(t)]
    if not series or not finite_ends:
        return None
    return time_bins(max(finite_ends), max(len(s.rows) for s in series))


def _median_per_bin(times: np.ndarray, values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    keep = np.isfinite(times) & np.isfinite(values)
    frame = pd.DataFrame({"bin": np.digitize(times[keep], edges[1:-1]), "v": values[keep]})
    medians = frame.groupby("bin")["v"].median()
    out = np.full(len(edges) - 1, np.nan)
    out[medians.index.to_numpy(dtype=int)] = medians.to_numpy()
    return out


@chart
def throughput_timeline(
    sources: Sources, palette: Palette, simulated: bool = False
) -> Figure | Note | None:
    """Completed (ok) requests/s per time bin by ``t_done``, and median latency per bin, per arm.

    Bins are a round width sized to the run, stated in the x label; each bin's rate is its count
    over its own width, so a shorter last bin is not shown at a fraction of its true rate.
    """
    register_arms(sources, palette)
    failed = failed_note(sources, "throughput to show")
    if failed is not None:
        return failed
    series = list(iter_series(sources, ok_only=True))
    completed = sum(int(np.isfinite(column(s.rows, "t_done")).sum()) for s in series)
    if 0 < completed < MIN_COMPLETIONS:
        return Note(
            f"only {counted(completed, 'completed request')}: too few for a rate over time "
            "(the tables have its figures)"
        )
    ends = _run_end(sources, "t_done")
    edges = _shared_edges(series, ends)
    if edges is None:
        return None
    fig, (ax_rate, ax_lat) = new_figure(ncols=2, sharex=True)
    for s in series:
        own = _own_edges(edges, ends[s.run_index])
        done = column(s.rows, "t_done")
        colour = palette.colour(s.arm)
        label = s.label(int(np.isfinite(done).sum()))
        rates = bin_counts(done, own) / np.diff(own)
        ax_rate.stairs(
            rates,
            own,
            color=colour,
            linestyle=s.linestyle,
            linewidth=1.6,
            label=label,
            baseline=None,
        )
        medians = _median_per_bin(done, latency_column(s.rows), own)
        centres = (own[:-1] + own[1:]) / 2
        ax_lat.plot(
            centres,
            medians,
            color=colour,
            linestyle=s.linestyle,
            marker=s.marker,
            markersize=3.5,
            label=label,
        )
    if len(sources) == 1:
        for ax in (ax_rate, ax_lat):
            mark_stages(ax, sources[0][1].records)
    ax_rate.set_ylabel("completed requests/s (ok)")
    ax_rate.set_title("throughput per bin, by completion time")
    ax_lat.set_ylabel("median end-to-end latency (s)")
    ax_lat.set_title("median latency of the requests completed in each bin")
    for ax in (ax_rate, ax_lat):
        ax.set_xlabel(f"time since run start (s), {bin_note(edges)}")
        ax.set_ylim(bottom=0)
        ax.set_xlim(0, edges[-1])
    legend_outside([ax_rate], on=ax_lat)
    return finish(fig, "Throughput and latency over time, per arm", simulated=simulated)


def _error_kinds(rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Masks of rate-limited attempts (status or HTTP 429) and of every other failure."""
    limited = (column(rows, "http_status") == 429) | np.array(
        rows["status"].eq("rate_limited").fillna(False), dtype=bool
    )
    other = ~ok_mask(rows) & ~limited
    return limited, other


_PANELS = (
    ("429", "rate-limited (HTTP 429)", "no 429"),
    ("other", "other errors (HTTP errors, timeouts, connection, protocol)", "no other error"),
)


@chart
def errors_timeline(
    sources: Sources, palette: Palette, simulated: bool = False
) -> Figure | Note | None:
    """429s and other errors per time bin (by ``t_sent``), per arm.

    Only the kinds that happened get a panel, and the title says which did not; a run without a
    single failed attempt gets a note saying so, with its count of attempts, instead of a chart
    of flat zeros.
    """
    register_arms(sources, palette)
    series = list(iter_series(sources))
    ends = _run_end(sources, "t_sent")
    edges = _shared_edges(series, ends)
    if edges is None:
        return None
    # Per series: the masks of its rate-limited attempts and of its other failures.
    masks = [dict(zip(("429", "other"), _error_kinds(s.rows), strict=True)) for s in series]
    totals = {kind: sum(int(m[kind].sum()) for m in masks) for kind in ("429", "other")}
    attempts = sum(len(s.rows) for s in series)
    if not any(totals.values()):
        return Note(f"no failed attempt and no 429 in {counted(attempts, 'attempt')}")
    panels = [panel for panel in _PANELS if totals[panel[0]]]
    fig, axes = new_figure(ncols=len(panels), sharex=True, sharey=True)
    for s, mask in zip(series, masks, strict=True):
        own = _own_edges(edges, ends[s.run_index])
        sent = column(s.rows, "t_sent")
        for ax, (kind, _, _) in zip(axes, panels, strict=True):
            ax.stairs(
                bin_counts(sent[mask[kind]], own),
                own,
                color=palette.colour(s.arm),
                linestyle=s.linestyle,
                linewidth=1.6,
                baseline=None,
                label=s.label(len(s.rows)),
            )
    if len(sources) == 1:
        for ax in axes:
            mark_stages(ax, sources[0][1].records)
    for ax, (_, title, _) in zip(axes, panels, strict=True):
        ax.set_title(title)
    _label_axes(axes, edges)
    axes[0].set_ylabel("failed attempts per bin (count)")
    legend_outside(axes, title="attempts")
    title = (
        f"Errors over time: {totals['429']:,} rate-limited (429), {totals['other']:,} other "
        f"({format_n(attempts)} attempts)"
    )
    missing = [absent for kind, _, absent in _PANELS if not totals[kind]]
    if missing:
        title += f"\nnot drawn: {missing[0]} in the whole run"
    return finish(fig, title, simulated=simulated)


def _label_axes(axes: list[Axes], edges: np.ndarray) -> None:
    top = max(1.0, *(ax.get_ylim()[1] for ax in axes))  # the panels share their y axis
    for ax in axes:
        ax.set_xlabel(f"send time since run start (s), {bin_note(edges)}")
        ax.set_xlim(0, edges[-1])
        # The small negative margin lifts the zero stretches off the spine, where they would hide.
        ax.set_ylim(-0.04 * top, top * 1.05)
        ax.axhline(0, color=NEUTRAL, linewidth=0.6, zorder=0)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
