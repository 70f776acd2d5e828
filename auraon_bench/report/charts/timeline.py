"""Charts over the run's own clock: throughput and latency per time bin, errors per time bin.

Time is seconds since run start (the records' monotonic clock). All runs of one chart share the
same bins, sized from the longest run, so overlaid runs are compared bin for bin; a run's series
stops at its own last bin. Completions are binned by ``t_done`` (when the client got them),
errors by ``t_sent`` (when the request that failed was sent, i.e. the load that caused it).
Warm-up rows are left out, as in every other figure of the report.
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
    Series,
    Sources,
    bin_counts,
    chart,
    finish,
    format_n,
    format_seconds,
    iter_series,
    legend_outside,
    mark_stages,
    new_figure,
    register_arms,
    time_bins,
)
from auraon_bench.report.palette import Palette


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
) -> Figure | None:
    """Completed (ok) requests/s per time bin by ``t_done``, and median latency per bin, per arm."""
    register_arms(sources, palette)
    series = list(iter_series(sources, ok_only=True))
    ends = _run_end(sources, "t_done")
    edges = _shared_edges(series, ends)
    if edges is None:
        return None
    width = float(edges[1] - edges[0])
    fig, (ax_rate, ax_lat) = new_figure(ncols=2, sharex=True)
    for s in series:
        own = _own_edges(edges, ends[s.run_index])
        done = column(s.rows, "t_done")
        colour = palette.colour(s.arm)
        label = s.label(int(np.isfinite(done).sum()))
        rates = bin_counts(done, own) / width
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
    ax_rate.set_title(f"throughput per {format_seconds(width)} bin, by completion time")
    ax_lat.set_ylabel("median end-to-end latency (s)")
    ax_lat.set_title("median latency of the requests completed in each bin")
    for ax in (ax_rate, ax_lat):
        ax.set_xlabel("time since run start (s)")
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


@chart
def errors_timeline(sources: Sources, palette: Palette, simulated: bool = False) -> Figure | None:
    """429s and other errors per time bin (by ``t_sent``), per arm.

    No errors at all still gives a figure, titled "no errors (n=...)": zero is a finding, and the
    flat zero lines show over which span it held.
    """
    register_arms(sources, palette)
    series = list(iter_series(sources))
    ends = _run_end(sources, "t_sent")
    edges = _shared_edges(series, ends)
    if edges is None:
        return None
    width = float(edges[1] - edges[0])
    fig, (ax_429, ax_other) = new_figure(ncols=2, sharex=True, sharey=True)
    totals = {"429": 0, "other": 0, "attempts": 0}
    for s in series:
        own = _own_edges(edges, ends[s.run_index])
        sent = column(s.rows, "t_sent")
        limited, other = _error_kinds(s.rows)
        totals["429"] += int(limited.sum())
        totals["other"] += int(other.sum())
        totals["attempts"] += len(s.rows)
        colour = palette.colour(s.arm)
        for ax, mask in ((ax_429, limited), (ax_other, other)):
            ax.stairs(
                bin_counts(sent[mask], own),
                own,
                color=colour,
                linestyle=s.linestyle,
                linewidth=1.6,
                baseline=None,
                label=s.label(len(s.rows)),
            )
    if len(sources) == 1:
        for ax in (ax_429, ax_other):
            mark_stages(ax, sources[0][1].records)
    _label_axes(ax_429, ax_other, width, edges)
    legend_outside([ax_429], on=ax_other, title="attempts")
    n = format_n(totals["attempts"])
    if totals["429"] + totals["other"] == 0:
        title = f"Errors over time: no errors ({n} attempts)"
    else:
        title = (
            f"Errors over time: {totals['429']:,} rate-limited (429), "
            f"{totals['other']:,} other ({n} attempts)"
        )
    return finish(fig, title, simulated=simulated)


def _label_axes(ax_429: Axes, ax_other: Axes, width: float, edges: np.ndarray) -> None:
    ax_429.set_title("rate-limited (HTTP 429)")
    ax_other.set_title("other errors (HTTP errors, timeouts, connection, protocol)")
    ax_429.set_ylabel(f"failed attempts per {format_seconds(width)} bin (count)")
    for ax in (ax_429, ax_other):
        ax.set_xlabel("send time since run start (s)")
        ax.set_xlim(0, edges[-1])
        # At least 0..1 so that an all-zero series sits on the bottom edge, visibly at zero,
        # instead of in the middle of an autoscaled -0.05..0.05 axis.
        # The small negative margin lifts the zero lines off the spine, where they would hide.
        top = max(1.0, ax.get_ylim()[1])
        ax.set_ylim(-0.04 * top, top * 1.05)
        ax.axhline(0, color=NEUTRAL, linewidth=0.6, zorder=0)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
