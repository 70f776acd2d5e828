"""The history page of a results directory, in the report's formats and style.

``write_history(history, out)`` writes ``index.html``, ``report.md``, ``charts/history-*.png|svg``
and ``tables/*.csv`` (plus the whole index as ``tables/history-index.csv``) with the report's
own document blocks, renderers and chart conventions. The page holds, in order: the SIMULATED
banner and warnings (unreadable runs, experiment files that changed mid-series, incomplete
runs), the runs, the steps detected, then one trend chart per metric with its steps marked.

SIMULATED is said of the runs that were: the banner covers the whole page only when every run
came from the built-in emulator; otherwise it names the simulated runs, the runs table gives each
run's target, and the charts draw simulated runs' points hollow.

A series is one (experiment, part, arm): its values in run order go to
:func:`~auraon_bench.analysis.steps.detect_step`. Series are grouped by experiment *name*, so a
series spans edits of the experiment file; the warnings say at which run each edit took effect.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from auraon_bench.analysis.steps import (
    DEFAULT_ALPHA,
    DEFAULT_MIN_SEGMENT,
    DEFAULT_THRESHOLD,
    Step,
    detect_step,
)
from auraon_bench.history.index import (
    DEFAULT_METRICS,
    History,
    Metric,
    SeriesKey,
    iter_series,
    metrics_named,
)
from auraon_bench.report.build import (
    FORMATS,
    HTML_FILE,
    MARKDOWN_FILE,
    TABLES_DIR,
    _write,
    draw_charts,
    prepare_output,
    table_csv,
)
from auraon_bench.report.document import (
    SIMULATED_TEXT,
    Callout,
    ChartBlock,
    Document,
    Heading,
    Paragraph,
    TableBlock,
    simulated_text,
)
from auraon_bench.report.palette import Palette
from auraon_bench.report.render import CHARTS_DIR, to_html, to_markdown
from auraon_bench.report.tables import Column, Table
from auraon_bench.results.labels import BUILTIN_LABEL, simulated_label

__all__ = [
    "SeriesStep",
    "build_history_document",
    "experiment_changes",
    "find_steps",
    "history_warnings",
    "runs_table",
    "steps_table",
    "trend_chart",
    "write_history",
]

INDEX_CSV = "history-index.csv"
FEW_RUNS = 15  # up to this many runs the x axis names each run; beyond, it shows dates

METHOD = (
    "One point per run and series (experiment, part, arm), in order of the runs' start time "
    "(manifest created_utc); each point is the run's own summary figure (percentiles of its ok "
    "attempts, cost per request with a known cost, accuracy over graded prompts). Runs outside "
    "any experiment are grouped by kind (load, eval), whatever their options. Step detection: "
    "for every split leaving at least {min_segment} runs on each side, a two-sided Mann-Whitney "
    "U test between the two segments and the relative change of their medians; the split with "
    "the smallest p is a step when p times the number of splits (Bonferroni) is below {alpha:g} "
    "and the medians differ by at least {threshold:.0%}. One outlying night is not a step."
)


@dataclass(frozen=True)
class SeriesStep:
    """A step found in one series of one metric, placed on the runs."""

    key: SeriesKey
    metric: Metric
    step: Step
    run_id: str  # first run after the step
    created_utc: Any  # its start time (pd.Timestamp, NaT if unknown)
    order: int  # its position among all runs of the history
    experiment_changed: bool  # the experiment file changed at this very run

    def describe(self, with_experiment: bool = False) -> str:
        s, m = self.step, self.metric
        note = "; the experiment file changed at this run" if self.experiment_changed else ""
        return (
            f"{self.key.label(with_experiment)} {m.name}: {_change(s.change)} from run "
            f"{self.run_id} ({m.display(s.before)} -> {m.display(s.after)}, runs "
            f"{s.n_before}/{s.n_after}, adjusted p {s.p_adjusted:.2g}){note}"
        )


def find_steps(
    history: History,
    metrics: Sequence[Metric],
    *,
    min_segment: int = DEFAULT_MIN_SEGMENT,
    alpha: float = DEFAULT_ALPHA,
    threshold: float = DEFAULT_THRESHOLD,
) -> list[SeriesStep]:
    """The step of every series that has one, by metric then series."""
    changed = {(name, order) for name, _, order in experiment_changes(history.runs)}
    found = []
    for metric in metrics:
        for key, series in iter_series(history.index, metric.name):
            step = detect_step(
                series["value"], min_segment=min_segment, alpha=alpha, threshold=threshold
            )
            if step is None:
                continue
            row = series.iloc[step.index]
            order = int(row["order"])
            found.append(
                SeriesStep(key, metric, step, str(row["run_id"]), row["created_utc"], order,
                           (key.experiment, order) in changed)
            )  # fmt: skip
    return found


def experiment_changes(runs: pd.DataFrame) -> list[tuple[str, pd.Series, int]]:
    """``(experiment name, previous run, order of the first run with the new file)`` for every
    run whose experiment file (sha256) differs from the previous run of that experiment."""
    changes = []
    for name, group in runs.dropna(subset=["experiment"]).groupby("experiment", sort=True):
        group = group.sort_values("order")
        shas = [_sha(v, 64) for v in group["experiment_sha256"]]
        for i in range(1, len(group)):
            if shas[i] != shas[i - 1]:
                changes.append((str(name), group.iloc[i - 1], int(group["order"].iloc[i])))
    return changes


def history_warnings(history: History) -> list[str]:
    runs = history.runs
    warnings = [f"UNREADABLE RUN: {path}: {reason}" for path, reason in history.unreadable]
    for name, previous, order in experiment_changes(runs):
        run = runs.iloc[order]
        warnings.append(
            f"EXPERIMENT CHANGED: {name}: the experiment file changed at run {run['run_id']} "
            f"({_date(run['created_utc'])}; sha256 {_sha(previous['experiment_sha256'])} -> "
            f"{_sha(run['experiment_sha256'])}); its series compare different workloads across "
            "that run"
        )
    for _, run in runs[runs["status"] != "complete"].iterrows():
        warnings.append(
            f"INCOMPLETE RUN: {run['run_id']} status {run['status']!r}; its points may cover "
            "only part of what it was asked to run"
        )
    for run_id, count in runs["run_id"].value_counts().items():
        if count > 1:
            warnings.append(f"DUPLICATE RUN ID: {run_id} names {count} run directories")
    return warnings


def runs_table(history: History) -> Table:
    rows = tuple(
        (run["run_id"], _date(run["created_utc"]), _experiment(run), run["status"],
         _target(run), run["parts"], run["arms"])
        for _, run in history.runs.iterrows()
    )  # fmt: skip
    columns = (
        Column("run id", numeric=False),
        Column("started (UTC)", numeric=False),
        Column("experiment (sha256)", numeric=False),
        Column("status", numeric=False),
        Column("target", numeric=False),
        Column("parts", numeric=False),
        Column("arms", numeric=False),
    )
    note = f"{len(rows)} runs under {history.root}, in order of start time"
    return Table("history-runs", "Runs", columns, rows, note)


def steps_table(steps: Sequence[SeriesStep], with_experiment: bool) -> Table | None:
    if not steps:
        return None
    rows = tuple(
        (s.key.label(with_experiment), s.metric.name, s.run_id, _date(s.created_utc),
         f"{s.metric.display(s.step.before)} -> {s.metric.display(s.step.after)}",
         s.step.change, s.step.p_adjusted, f"{s.step.n_before} / {s.step.n_after}",
         "experiment file changed at this run" if s.experiment_changed else "")
        for s in steps
    )  # fmt: skip
    columns = (
        Column("series (part/arm)", numeric=False),
        Column("metric", numeric=False),
        Column("first run after the step", numeric=False),
        Column("started (UTC)", numeric=False),
        Column("median before -> after", numeric=False),
        Column("change (%)", _change),
        Column("adjusted p", lambda v: "-" if v is None else f"{v:.2g}"),
        Column("runs before / after (n)", numeric=False),
        Column("note", numeric=False),
    )
    note = "medians of the runs' own figures on each side; p: Mann-Whitney U x splits (Bonferroni)"
    return Table("history-steps", "Steps per series", columns, rows, note)


def trend_chart(
    history: History,
    metric: Metric,
    steps: Sequence[SeriesStep],
    palette: Palette,
    simulated: bool | str = False,
) -> Any:
    """One line per series of ``metric`` over the runs, steps as dashed vertical lines; a
    matplotlib Figure, or None when no run has a value of ``metric``.

    ``simulated`` stamps the whole figure (every run is; a twin's label when every run is a
    twin of one run); otherwise the points of the runs that were simulated are drawn hollow, and
    the legend says what hollow means.
    """
    # matplotlib only when charts are drawn: reading a history must not need it.
    import matplotlib

    from auraon_bench.report.charts import base

    series = list(iter_series(history.index, metric.name))
    if not series:
        return None
    multi = history.mixed
    groups = sorted({(key.experiment or "", key.part) for key, _ in series})
    with matplotlib.rc_context(base.STYLE):
        fig, (ax,) = base.new_figure(size=(10.0, 4.8))
        hollow = False
        for key, frame in series:
            style = groups.index((key.experiment or "", key.part))
            emulated = frame["simulated"].fillna(False).to_numpy(dtype=bool)
            hollow = hollow or (bool(emulated.any()) and not simulated)
            ax.plot(
                frame["order"],
                frame["value"] * metric.scale,
                color=palette.colour(key.arm),
                linestyle=Palette.line_style(style),
                marker=Palette.marker(style),
                markersize=4,
                markevery=list(~emulated) if not simulated else None,
                label=f"{key.label(multi)} (n={len(frame)} run{'s' if len(frame) != 1 else ''})",
            )
            if emulated.any() and not simulated:
                ax.plot(
                    frame["order"][emulated],
                    frame["value"][emulated] * metric.scale,
                    color=palette.colour(key.arm),
                    linestyle="none",
                    marker=Palette.marker(style),
                    markersize=4.5,
                    markerfacecolor="white",
                )
        charted = {key.experiment for key, _ in series}
        for name, _, order in experiment_changes(history.runs):
            if name not in charted:
                continue
            ax.axvline(order - 0.5, color=base.NEUTRAL, linewidth=0.8, linestyle=":", zorder=0)
            _note(ax, order - 0.5, 0.02, f"{name}: experiment file changed", base.NEUTRAL, "bottom")
        shown = [s for s in steps if s.metric == metric]
        for i, s in enumerate(shown):
            colour = palette.colour(s.key.arm)
            ax.axvline(s.order - 0.5, color=colour, linewidth=1.2, linestyle=(0, (4, 2)))
            text = f"step {_change(s.step.change)} {s.key.label(multi)}"
            _note(ax, s.order - 0.5, 0.98 - 0.07 * (i % 6), text, colour, "top")
        _x_axis(ax, history.runs)
        ax.set_ylabel(f"{metric.label} ({metric.unit})")
        if metric.unit == "USD":
            base.money_axis(ax, "y")
        ax.set_title("one point per run; dashed vertical lines: detected steps", fontsize=9)
        handles, _ = ax.get_legend_handles_labels()
        if hollow:
            handles.append(_hollow_key(bool(history.twins_of)))
        base.legend_outside([ax], handles=handles)
        return base.finish(fig, f"{metric.label} over runs", simulated=simulated)


def _hollow_key(twins: bool) -> Any:
    from matplotlib.lines import Line2D

    where = "built-in emulator or a fitted twin" if twins else "built-in emulator"
    return Line2D([], [], color="#555555", marker="o", markerfacecolor="white", linestyle="none",
                  label=f"hollow point: a SIMULATED run ({where})")  # fmt: skip


def history_stamp(history: History) -> bool | str:
    """What the page and its charts stamp: False (some runs measured a gateway), the twin's
    label when every run is a twin of one run, else True (the built-in emulator's)."""
    if not history.simulated:
        return False
    twins = history.twins_of
    every_twin = bool(history.runs["twin_of"].notna().all())
    return simulated_label(twins[0]) if len(twins) == 1 and every_twin else True


def _all_simulated(history: History) -> str:
    stamp = history_stamp(history)
    if isinstance(stamp, str):
        return simulated_text(history.twins_of[0])
    if not history.twins_of:
        return SIMULATED_TEXT
    n_twin = int(history.runs["twin_of"].notna().sum())
    return (
        f"{SIMULATED_TEXT} {n_twin} of the {len(history.runs)} runs ran on twins fitted to run "
        f"{', '.join(history.twins_of)} (auraon-bench emulator fit); the runs table names each."
    )


def _x_axis(ax: Any, runs: pd.DataFrame) -> None:
    n = len(runs)
    ax.set_xlim(-0.5, max(n - 0.5, 0.5))
    if n <= FEW_RUNS:
        ax.set_xticks(range(n), list(runs["run_id"]), rotation=30, ha="right", fontsize=7)
        ax.set_xlabel("run, in order of start time")
        return
    # Runs stay evenly spaced whatever the gaps between them; ten ticks date the run under each.
    ticks = sorted({round(i * (n - 1) / 9) for i in range(10)})
    ax.set_xticks(ticks, [_date(runs["created_utc"].iloc[t])[:10] for t in ticks], rotation=30)
    ax.set_xlabel(f"run, in order of start time (date, UTC; {n} runs)")


def _note(ax: Any, x: float, y: float, text: str, colour: str, va: str) -> None:
    # A white backing keeps the note legible where it crosses a series.
    backing = {"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.85}
    ax.annotate(text, (x, y), xycoords=("data", "axes fraction"), xytext=(3, 0),
                textcoords="offset points", ha="left", va=va, fontsize=7, color=colour,
                bbox=backing)  # fmt: skip


def build_history_document(
    history: History, metrics: Sequence[Metric], steps: Sequence[SeriesStep]
) -> Document:
    title = f"auraon-bench history: {history.root}"
    doc = Document(title, simulated=history.simulated)
    if history.simulated:
        doc.add(Callout("simulated", (_all_simulated(history),)))
    elif history.n_simulated:
        doc.add(Callout("simulated", (_some_simulated(history),)))
    warnings = history_warnings(history)
    doc.add(Callout("warning", tuple(warnings)) if warnings else None)
    runs = history.runs
    doc.add(Heading("Runs"))
    doc.add(Paragraph(
        f"{len(runs)} runs from {_date(runs['created_utc'].min())} to "
        f"{_date(runs['created_utc'].max())}; {len(history.unreadable)} unreadable."
    ))  # fmt: skip
    doc.add(TableBlock(runs_table(history)))
    doc.add(Heading("Steps detected"))
    table = steps_table(steps, history.mixed)
    n_series = sum(1 for m in metrics for _ in iter_series(history.index, m.name))
    doc.add(TableBlock(table) if table else Paragraph(f"No step in {n_series} series."))
    palette = Palette(history.index["arm"])
    stamp = history_stamp(history)
    doc.add(Heading("Trends"))
    for metric in metrics:
        doc.add(Heading(f"{metric.label} ({metric.unit})", level=3))
        if history.index[metric.name].notna().any():
            doc.add(ChartBlock(
                f"history-{metric.name}",
                f"{metric.label} over runs",
                lambda m=metric: trend_chart(history, m, steps, palette, stamp),
            ))  # fmt: skip
        else:
            doc.add(Paragraph(f"No run has a value for {metric.label}."))
    method = METHOD.format(
        min_segment=DEFAULT_MIN_SEGMENT, alpha=DEFAULT_ALPHA, threshold=DEFAULT_THRESHOLD
    )
    doc.add(Heading("Method"), Paragraph(method))
    return doc


def write_history(
    history: History,
    out: Path | str,
    metrics: Sequence[Metric | str] = DEFAULT_METRICS,
    formats: Sequence[str] = FORMATS,
    steps: Sequence[SeriesStep] | None = None,
) -> list[Path]:
    """Render the history page into ``out``; returns the files written."""
    out = prepare_output(out, formats, "history")
    chosen = [m if isinstance(m, Metric) else metrics_named([m])[0] for m in metrics]
    if steps is None:
        steps = find_steps(history, chosen)
    doc = build_history_document(history, chosen, steps)
    drawn = draw_charts(doc, out, formats)
    charts, files = drawn.pngs, drawn.files
    writes: list[tuple[Path, str | bytes]] = []
    if "md" in formats:
        # Markdown links PNG files: written even when only "md" was asked for.
        if "png" not in formats:
            writes += [(out / CHARTS_DIR / f"{k}.png", data) for k, data in charts.items()]
        writes.append((out / MARKDOWN_FILE, to_markdown(doc, charts, drawn.notes)))
    if "html" in formats:
        writes.append((out / HTML_FILE, to_html(doc, charts, drawn.notes)))
    if "csv" in formats:
        writes += [(out / TABLES_DIR / f"{t.key}.csv", table_csv(t)) for t in doc.tables()]
        writes.append((out / TABLES_DIR / INDEX_CSV, history.index.to_csv(index=False)))
    for path, data in writes:
        path.parent.mkdir(exist_ok=True)
        _write(path, data.encode("utf-8") if isinstance(data, str) else data)
        files.append(path)
    return files


def _change(value: Any) -> str:
    if value is None:
        return "-"
    if abs(value) == float("inf"):
        return "up from 0" if value > 0 else "down from 0"
    return f"{value * 100:+.1f}%"


def _date(value: Any) -> str:
    return "-" if value is None or pd.isna(value) else value.strftime("%Y-%m-%d %H:%M")


def _sha(value: Any, digits: int = 12) -> str:
    return "none" if value is None or pd.isna(value) else str(value)[:digits]


def _target(run: pd.Series) -> str:
    target = run["target"]
    if run["simulated"]:
        twin = run.get("twin_of")
        return simulated_label(twin) if isinstance(twin, str) else BUILTIN_LABEL
    return "-" if target is None or pd.isna(target) else str(target)


def _some_simulated(history: History) -> str:
    runs = history.runs
    ids = ", ".join(str(r) for r in runs.loc[runs["simulated"].astype(bool), "run_id"])
    twins = (
        f", {int(runs['twin_of'].notna().sum())} of them on twins fitted to run "
        f"{', '.join(history.twins_of)} (auraon-bench emulator fit)"
        if history.twins_of
        else ""
    )
    return (
        f"SIMULATED: {history.n_simulated} of {len(runs)} runs come from the built-in Auraon "
        f"emulator, not a real gateway ({ids}){twins}; the runs table names each run's target "
        "and the charts draw the simulated runs' points hollow; the other runs measured a real "
        "gateway."
    )


def _experiment(run: pd.Series) -> str:
    name = run["experiment"]
    if name is None or pd.isna(name):
        return "-"
    return f"{name} ({_sha(run['experiment_sha256'])})"
