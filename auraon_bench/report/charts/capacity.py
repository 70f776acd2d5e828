"""Capacity charts: latency and goodput against the offered rate, quality and routing under load.

Each chart takes a :class:`~auraon_bench.capacity.session.CapacityRun` (every arm in one figure,
an arm in its palette colour), a :class:`~auraon_bench.report.palette.Palette` and ``simulated``,
and returns a figure, a :class:`~auraon_bench.report.charts.base.Note`, or ``None`` when the run
has no data for it (:meth:`CapacityChart.draw` turns that into the chart's ``needs`` note).
:data:`CAPACITY_CHARTS` is their registry, in the report's order.

Every point is a figure a step of ``capacity.json`` holds (its p50/p95 fields, or the measured
figure of an SLO on another percentile), drawn at the rate the step *offered*, on a log axis
(the search ramps geometrically). A step's verdict is its marker: filled passes, open fails,
a cross for a void step (the client could not keep its schedule). Each arm's capacity is a
dotted vertical line, the bracket up to its first failing rate shaded; each latency SLO is a
dashed horizontal line at its threshold. Legends give the n per step.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from auraon_bench.analysis.slo import parse_slo
from auraon_bench.capacity.search import FAIL, PASS, VOID
from auraon_bench.report.charts.base import NEUTRAL, Note, chart, finish, legend_outside, new_figure
from auraon_bench.report.charts.scales import accuracy_range
from auraon_bench.report.palette import Palette

if TYPE_CHECKING:  # the session module loads the load generator and the emulator
    from auraon_bench.capacity.session import CapacityRun
    from auraon_bench.capacity.steps import CapacityResult, CapacityStep

SLO_COLOUR = "#B00020"
_SLO_DASHES = ("--", (0, (6, 2, 1, 2)), (0, (2, 2)), "-.")
# (metric, panel label, display scale, unit, the step's own percentile fields)
PANELS = (
    ("ttft", "TTFT", 1000.0, "ms", (("p50", "ttft_p50_s"), ("p95", "ttft_p95_s"))),
    ("latency", "latency", 1.0, "s", (("p95", "latency_p95_s"),)),
    ("tpot", "TPOT", 1000.0, "ms", ()),
    ("itl", "ITL", 1000.0, "ms", ()),
)
_PERCENTILE_STYLE = {"p50": (0, (2, 2)), "p90": "-.", "p95": "-", "p99": (0, (6, 2))}


@dataclass(frozen=True)
class SloLine:
    key: str
    metric: str
    percentile: int
    threshold_s: float
    objective: str


def latency_slos(run: CapacityRun) -> list[SloLine]:
    """The SLOs on a latency percentile, with their thresholds in seconds, as ``capacity.json``
    states them (``options.slo_keys`` and ``options.thresholds``, in the order of ``slos``)."""
    options = run.options if isinstance(run.options, dict) else {}
    keys, thresholds = options.get("slo_keys"), options.get("thresholds")
    if not isinstance(keys, list) or not isinstance(thresholds, list):
        return []
    lines = []
    for i, (key, threshold) in enumerate(zip(keys, thresholds, strict=False)):
        slo = parse_slo(key, 0.0) if isinstance(key, str) else None
        number = isinstance(threshold, int | float) and not isinstance(threshold, bool)
        if slo is None or slo.percentile is None or not number or not threshold > 0:
            continue
        objective = run.slos[i] if i < len(run.slos) else key
        lines.append(SloLine(key, slo.metric, slo.percentile, float(threshold), objective))
    return lines


def fmt_rate(value: float) -> str:
    """As the report's tables write a rate (:func:`auraon_bench.report.capacity.fmt_rate`)."""
    from auraon_bench.report.capacity_plans import fmt_rate as rate

    return rate(value)


def drawn_steps(result: CapacityResult) -> list[CapacityStep]:
    """The arm's steps by offered rate; a rate a log axis cannot place is left out."""
    steps = [s for s in result.steps if math.isfinite(s.rate) and s.rate > 0]
    return sorted(steps, key=lambda s: s.rate)


def n_text(counts: Sequence[int], what: str = "") -> str:
    low, high = min(counts), max(counts)
    span = f"{low:,}" if low == high else f"{low:,}-{high:,}"
    return f"n={span}{what} per step"


def rate_axis(ax: Axes, rates: Sequence[float], label: bool = True) -> None:
    """A log axis of offered rates, labelled in plain numbers: at 1, 2 and 5 per decade, or
    at every integer multiple when the rates span under a decade and a half."""
    ax.set_xscale("log")
    decades = math.log10(max(rates) / min(rates)) if rates else 2.0
    subs = (1.0, 2.0, 5.0) if decades > 1.5 else tuple(float(k) for k in range(1, 10))
    ax.xaxis.set_major_locator(LogLocator(base=10.0, subs=subs))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_rate(v)))
    ax.xaxis.set_minor_formatter(NullFormatter())
    if label:
        ax.set_xlabel("offered rate (requests/s, log scale)")


def mark_verdicts(ax: Axes, xs: Sequence[float], ys: Sequence[float | None],
                  verdicts: Sequence[str], colour: str) -> None:  # fmt: skip
    """Filled markers for passing steps, open for failing ones, a cross for void ones."""
    for x, y, verdict in zip(xs, ys, verdicts, strict=True):
        if y is None or not math.isfinite(y):
            continue
        if verdict == PASS:
            ax.plot([x], [y], "o", color=colour, markersize=5, zorder=3)
        elif verdict == FAIL:
            ax.plot([x], [y], "o", color=colour, markerfacecolor="white", markersize=5, zorder=3)
        else:
            ax.plot([x], [y], "x", color=colour, markersize=7, markeredgewidth=1.5, zorder=3)


def verdict_handles(verdicts: set[str]) -> list[Line2D]:
    """Legend entries for the verdict markers the chart shows."""
    handles = {
        PASS: Line2D([], [], marker="o", linestyle="", color=NEUTRAL, label="step passed"),
        FAIL: Line2D([], [], marker="o", linestyle="", color=NEUTRAL, markerfacecolor="white",
                     label="step failed"),
        VOID: Line2D([], [], marker="x", linestyle="", color=NEUTRAL,
                     label="void step (client-bound)"),
    }  # fmt: skip
    return [h for verdict, h in handles.items() if verdict in verdicts]


def mark_capacity(ax: Axes, result: CapacityResult, colour: str) -> None:
    """The arm's capacity as a dotted vertical line, its bracket shaded."""
    cap, failing = result.capacity, result.first_failing
    if cap is None or not cap > 0:
        return
    text = (
        f"{result.arm} capacity {fmt_rate(cap)}/s, fails at {fmt_rate(failing)}/s"
        if failing is not None
        else f"{result.arm} capacity >= {fmt_rate(cap)}/s (no step failed)"
    )
    ax.axvline(cap, color=colour, linestyle=":", linewidth=1.4, zorder=1, label=text)
    if failing is not None and failing > cap:
        ax.axvspan(cap, failing, color=colour, alpha=0.1, linewidth=0, zorder=0)


def _series(step: CapacityStep, field: str | None, key: str | None) -> float | None:
    """The step's own percentile field, or else the figure the SLO ``key`` measured."""
    if field is not None:
        return getattr(step, field)
    for result in step.slos:
        if result.slo == key:
            return result.measured
    return None


def _set_log_y_if_wide(ax: Axes, values: Sequence[float]) -> None:
    positive = [v for v in values if v is not None and math.isfinite(v) and v > 0]
    if len(positive) >= 2 and max(positive) / min(positive) >= 20 and len(positive) == len(values):
        ax.set_yscale("log")


@chart
def capacity_latency(run: CapacityRun, palette: Palette, simulated: bool = False) -> Figure | None:
    """TTFT p50/p95 and latency p95 (and any other percentile an SLO judges) against the
    offered rate, per arm; SLO thresholds dashed, each arm's capacity dotted."""
    slos = latency_slos(run)
    results = [(r, drawn_steps(r)) for r in run.results]
    panels = []
    for metric, name, scale, unit, fields in PANELS:
        series = [(p, f, None) for p, f in fields]
        series += [(f"p{s.percentile}", None, s.key) for s in slos
                   if s.metric == metric and f"p{s.percentile}" not in dict(fields)]  # fmt: skip
        has = any(_series(st, f, k) is not None
                  for _, steps in results for st in steps for _, f, k in series)  # fmt: skip
        if series and has:
            panels.append((metric, name, scale, unit, series))
    if not panels:
        return None
    fig, axes = new_figure(ncols=len(panels))
    for ax, (metric, name, scale, unit, series) in zip(axes, panels, strict=True):
        values: list[float] = []
        for result, steps in results:
            colour = palette.colour(result.arm)
            xs = [s.rate for s in steps]
            for pct, field, key in series:
                ys = [_series(s, field, key) for s in steps]
                ys = [None if y is None else y * scale for y in ys]
                shown = [(x, y) for x, y in zip(xs, ys, strict=True) if y is not None]
                if not shown:
                    continue
                values += [y for _, y in shown]
                label = f"{result.arm} {name} {pct} ({n_text([s.requests for s in steps])})"
                ax.plot(*zip(*shown, strict=True), color=colour, zorder=2, label=label,
                        linestyle=_PERCENTILE_STYLE.get(pct, "-"), linewidth=1.4)  # fmt: skip
                mark_verdicts(ax, xs, ys, [s.verdict for s in steps], colour)
            mark_capacity(ax, result, colour)
        for j, slo in enumerate(s for s in slos if s.metric == metric):
            ax.axhline(
                slo.threshold_s * scale,
                color=SLO_COLOUR,
                zorder=1,
                linewidth=1.2,
                linestyle=_SLO_DASHES[j % len(_SLO_DASHES)],
                label=f"SLO {slo.objective}",
            )
            values.append(slo.threshold_s * scale)
        _set_log_y_if_wide(ax, values)
        log = ax.get_yscale() == "log"
        ax.set_ylabel(f"{name} ({unit}{', log scale' if log else ''})")
        ax.set_title(f"{name[0].upper()}{name[1:]} percentiles of ok attempts")
        rate_axis(ax, [s.rate for _, steps in results for s in steps])
        if not log:
            ax.set_ylim(bottom=0)
    legend_outside(axes, handles=_legend_handles(axes, run))
    title = "Latency versus offered rate: " + (
        "SLOs dashed, capacity dotted" if slos else "capacity dotted (no SLO on a latency)"
    )
    return finish(fig, title, simulated=simulated)


def _legend_handles(axes: Sequence[Axes], run: CapacityRun) -> list:
    found: dict[str, object] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            found.setdefault(label, handle)
    verdicts = {s.verdict for r in run.results for s in r.steps}
    return [*found.values(), *verdict_handles(verdicts)]


@chart
def capacity_goodput(run: CapacityRun, palette: Palette, simulated: bool = False) -> Figure | None:
    """Throughput, goodput and quality goodput against the offered rate, with y = x."""
    results = [(r, drawn_steps(r)) for r in run.results if drawn_steps(r)]
    if not results:
        return None
    fig, (ax,) = new_figure(size=(9.0, 4.8))
    rates = [s.rate for _, steps in results for s in steps]
    low, high = min(rates) / 1.15, max(rates) * 1.15
    grid = [low * (high / low) ** (i / 60) for i in range(61)]
    ax.plot(grid, grid, color=NEUTRAL, linewidth=0.9, linestyle=(0, (4, 3)), zorder=1,
            label="delivered = offered (y = x)")  # fmt: skip
    any_goodput = False
    for result, steps in results:
        colour = palette.colour(result.arm)
        xs = [s.rate for s in steps]
        counts = n_text([s.requests for s in steps])
        for what, field, style in (("throughput", "throughput", (0, (2, 2))),
                                   ("goodput", "goodput", "-"),
                                   ("quality goodput", "quality_goodput", "-.")):  # fmt: skip
            ys = [getattr(s, field) for s in steps]
            shown = [(x, y) for x, y in zip(xs, ys, strict=True) if y is not None]
            if not shown:
                continue
            any_goodput |= field == "goodput"
            ax.plot(*zip(*shown, strict=True), color=colour, linestyle=style, linewidth=1.4,
                    zorder=2, label=f"{result.arm} {what} ({counts})")  # fmt: skip
            mark_verdicts(ax, xs, ys, [s.verdict for s in steps], colour)
        mark_capacity(ax, result, colour)
    rate_axis(ax, rates)
    ax.set_xlim(low, high)
    ax.set_ylim(bottom=0)
    ax.set_ylabel("ok requests/s (goodput: within every per-request SLO)")
    legend_outside([ax], handles=_legend_handles([ax], run))
    title = "Goodput and throughput versus offered rate"
    if not any_goodput:
        title += "\n(no SLO on a latency percentile: goodput is not defined, throughput alone)"
    return finish(fig, title, simulated=simulated)


@chart
def capacity_accuracy(run: CapacityRun, palette: Palette, simulated: bool = False) -> Figure | None:
    """Accuracy of the graded answers against the offered rate, per arm, n per point."""
    graded = [(r, [s for s in drawn_steps(r) if s.accuracy is not None and s.graded])
              for r in run.results]  # fmt: skip
    graded = [(r, steps) for r, steps in graded if steps]
    if not graded:
        return None
    fig, (ax,) = new_figure(size=(9.0, 4.6))
    values = []
    for result, steps in graded:
        colour = palette.colour(result.arm)
        xs = [s.rate for s in steps]
        ys = [100.0 * (s.accuracy or 0.0) for s in steps]
        values += ys
        ax.plot(
            xs,
            ys,
            color=colour,
            zorder=2,
            linewidth=1.4,
            label=f"{result.arm} ({n_text([s.graded for s in steps], ' graded')})",
        )
        mark_verdicts(ax, xs, ys, [s.verdict for s in steps], colour)
        for step, y in zip(steps, ys, strict=True):
            ax.annotate(f"n={step.graded:,}", (step.rate, y), xytext=(0, 6), fontsize=7,
                        textcoords="offset points", ha="center", color=colour)  # fmt: skip
        mark_capacity(ax, result, colour)
    rate_axis(ax, [s.rate for _, steps in graded for s in steps])
    ax.set_ylim(*accuracy_range(values))
    ax.set_ylabel("accuracy (%) of graded ok answers")
    legend_outside([ax], handles=_legend_handles([ax], run))
    return finish(fig, "Accuracy versus offered rate", simulated=simulated)


@chart
def capacity_routing(run: CapacityRun, palette: Palette, simulated: bool = False) -> Figure | None:
    """Per arm whose answers came from several models: each step's ok answers by serving
    model, as stacked shares, steps in order of offered rate."""
    routed = [(r, drawn_steps(r)) for r in run.results]
    routed = [(r, steps) for r, steps in routed
              if len({m for s in steps for m in s.routed_to}) >= 2]  # fmt: skip
    if not routed:
        return None
    fig, axes = new_figure(ncols=len(routed), size=(min(6.0 * len(routed), 14.0) + 2.5, 4.8))
    totals: dict[str, int] = {}
    for ax, (result, steps) in zip(axes, routed, strict=True):
        models = list(dict.fromkeys(m for s in steps for m in s.routed_to))
        bottoms = [0.0] * len(steps)
        for model in models:
            counts = [s.routed_to.get(model, 0) for s in steps]
            shares = [100.0 * c / max(sum(s.routed_to.values()), 1) for c, s in
                      zip(counts, steps, strict=True)]  # fmt: skip
            totals[model] = totals.get(model, 0) + sum(counts)
            ax.bar(range(len(steps)), shares, bottom=bottoms, width=0.7, label=model,
                   color=palette.colour(model), edgecolor="white", linewidth=0.5)  # fmt: skip
            bottoms = [b + v for b, v in zip(bottoms, shares, strict=True)]
        ticks = [f"{fmt_rate(s.rate)}/s\n{s.verdict}\nn={sum(s.routed_to.values()):,}"
                 for s in steps]  # fmt: skip
        ax.set_xticks(range(len(steps)), ticks)
        ax.set_ylim(0, 100)
        ax.set_xlabel("offered rate (requests/s), verdict, ok answers")
        ax.set_ylabel("share of ok answers (%)")
        ax.set_title(f"{result.arm}: routing mix by step")
        ax.grid(axis="x", visible=False)
    handles = []
    for model, total in totals.items():
        handles.append(
            Line2D(
                [],
                [],
                marker="s",
                linestyle="",
                markersize=8,
                color=palette.colour(model),
                label=f"{model} (n={total:,})",
            )
        )
    legend_outside(axes, handles=handles, title="serving model (ok answers, all steps)")
    return finish(fig, "Routing mix versus offered rate", simulated=simulated)


@dataclass(frozen=True)
class CapacityChart:
    """One chart of the capacity report: what it is called and what it needs."""

    key: str  # file-safe: charts/<key>.png and .svg
    title: str
    function: Callable[..., Figure | Note | None]
    description: str
    units: tuple[str, ...]  # what its axis labels state (checked by the tests)
    needs: str  # the note when the run has no data for it

    @property
    def name(self) -> str:
        return self.function.__name__

    def draw(self, run: CapacityRun, palette: Palette, simulated: bool = False) -> Figure | Note:
        drawn = self.function(run, palette, simulated=simulated)
        return Note(self.needs) if drawn is None else drawn


CAPACITY_CHARTS: tuple[CapacityChart, ...] = (
    CapacityChart(
        "capacity-latency",
        "Latency versus offered rate",
        capacity_latency,
        "TTFT p50/p95 and latency p95 per step against the offered rate, SLOs and capacity.",
        ("TTFT (ms", "latency (s", "offered rate (requests/s"),
        "no step measured a latency: nothing to draw",
    ),
    CapacityChart(
        "capacity-goodput",
        "Goodput and throughput versus offered rate",
        capacity_goodput,
        "Throughput, goodput and quality goodput per step against the offered rate, y = x.",
        ("requests/s", "offered rate (requests/s"),
        "no step ran: nothing to draw",
    ),
    CapacityChart(
        "capacity-accuracy",
        "Accuracy versus offered rate",
        capacity_accuracy,
        "Accuracy of the graded answers per step against the offered rate, n per point.",
        ("accuracy (%)", "offered rate (requests/s"),
        "no step was graded (search with --dataset of graded items to see quality under load)",
    ),
    CapacityChart(
        "capacity-routing",
        "Routing mix versus offered rate",
        capacity_routing,
        "Share of each step's ok answers by serving model, per arm answered by several.",
        ("share of ok answers (%)", "offered rate (requests/s)"),
        "every arm's answers came from one model: no routing mix to show",
    ),
)
