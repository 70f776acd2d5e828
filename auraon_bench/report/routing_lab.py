"""The report of a routing-lab directory (``auraon-bench routing analyze``):
``auraon-bench report LAB_DIR``.

The document, in order: the SIMULATED banner when the answers came from the built-in emulator;
"In short" (the weak/strong pair, the oracle, the best simulated curve, each auto mode's PGR);
the cost-quality plane (:mod:`auraon_bench.report.charts.routing_lab`); the models table; the
routers table (APGR, CPT(50%), AIQ on the shared cost range); the single-point routers; the
notes and the method. Every figure is read from the typed ``routing.json``, never recomputed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from auraon_bench.report.document import (
    Callout,
    ChartBlock,
    Document,
    Heading,
    Paragraph,
    TableBlock,
    simulated_text,
)
from auraon_bench.report.tables import Column, Table, fmt_num, fmt_pct, fmt_text, fmt_usd
from auraon_bench.results.typed import directory_of, holds_file
from auraon_bench.routing.lab import ROUTING_FILE, LabReport, read_lab

REPORT_DIR = "report"


def is_lab_dir(path: Path | str) -> bool:
    """Whether ``path`` is a routing-lab directory (or its ``routing.json``)."""
    return holds_file(path, ROUTING_FILE)


def _four(value: object) -> str:
    return fmt_num(value, 4)


def models_table(report: LabReport) -> Table:
    a = report.analysis
    rows = []
    for model, point in a.points.items():
        role = {a.weak: "weak", a.strong: "strong"}.get(model, "")
        role = role or ("auto mode" if model in report.auto_arms else "fixed")
        rows.append((model, role, point.quality, point.cost))
    columns = (
        Column("model", numeric=False),
        Column("role", numeric=False),
        Column("quality (%)", fmt_pct),
        Column("cost per request (USD)", fmt_usd),
    )
    note = f"n = {a.n_prompts:,} prompts every model graded; metric {report.metric}"
    return Table("routing-models", "Models", columns, tuple(rows), note)


def routers_table(report: LabReport) -> Table:
    curves = (*report.simulated, *report.analysis.curves)
    rows = tuple((c.name, len(c.points), c.apgr, c.cpt50, c.aiq) for c in curves)
    columns = (
        Column("router", numeric=False),
        Column("points", fmt_text),
        Column("APGR", _four),
        Column("CPT(50%) (%)", fmt_pct),
        Column("AIQ", _four),
    )
    low_high = report.cost_range
    span = "-" if low_high is None else f"{fmt_usd(low_high[0])} to {fmt_usd(low_high[1])}"
    a = report.analysis
    note = (
        f"PGR against {a.weak} (weak) and {a.strong} (strong) on {report.n_prompts_pair:,} "
        f"prompts; AIQ over one cost range, {span} a request"
    )
    return Table("routing-routers", "Routers with a curve", columns, rows, note)


def points_table(report: LabReport) -> Table:
    points = (*report.simulated_points, *report.analysis.single_points)
    rows = tuple((p.arm, p.quality, p.cost, p.strong_share, p.pgr) for p in points)
    columns = (Column("router", numeric=False), Column("quality (%)", fmt_pct),
               Column("cost per request (USD)", fmt_usd), Column("strong share (%)", fmt_pct),
               Column("PGR", _four))  # fmt: skip
    return Table("routing-points", "Routers with one operating point", columns, rows)


def in_short(report: LabReport) -> str:
    a = report.analysis
    parts = [f"{a.strong} answers {fmt_pct(a.points[a.strong].quality)} and {a.weak} "
             f"{fmt_pct(a.points[a.weak].quality)} of {a.n_prompts:,} prompts; the oracle "
             f"{fmt_pct(a.oracle.accuracy)}."]  # fmt: skip
    scored = [c for c in report.simulated
              if c.apgr is not None and c.name not in ("optimal", "random")]  # fmt: skip
    if scored:
        best = max(scored, key=lambda c: c.apgr or 0.0)
        parts.append(f"The best simulated router with a curve is {best.name} "
                     f"(APGR {_four(best.apgr)}; random is 0.5).")  # fmt: skip
    for arm in report.auto_arms:
        arm_report = a.arms.get(arm)
        if arm_report is not None and arm_report.pgr is not None:
            parts.append(f"{arm}: PGR {_four(arm_report.pgr)} at a strong share of "
                         f"{fmt_pct(arm_report.strong_share)}.")  # fmt: skip
    return " ".join(parts)


def lab_document(report: LabReport, name: str) -> Document:
    from auraon_bench.report.charts.routing_lab import cost_quality_plane

    doc = Document(f"auraon-bench routing lab: {name}", simulated=report.from_simulation)
    if report.from_simulation:
        doc.add(Callout("simulated", (simulated_text(report.twin_of),)))
    doc.add(Heading("In short"), Paragraph(in_short(report)))
    doc.add(Heading("Cost and quality"))
    if any(p.cost is not None for p in report.analysis.points.values()):
        doc.add(ChartBlock("routing-cost-quality", "Cost and quality of every router",
                           lambda: cost_quality_plane(report)))  # fmt: skip
    else:
        doc.add(Paragraph("The table has no costs: no cost-quality plane."))
    doc.add(TableBlock(models_table(report)), TableBlock(routers_table(report)))
    doc.add(TableBlock(points_table(report)))
    notes = (*report.notes, *report.analysis.notes)
    if notes:
        doc.add(Heading("Notes"), Paragraph(" ".join(notes)))
    doc.add(Heading("Method"), Paragraph(
        f"Source: {report.source} ({report.layout}); costs from {report.prices}. The analysis "
        "is the one auraon-bench eval uses; simulated routers are exact expectations between "
        "the weak and the strong model (auraon_bench.routing.routers)."))  # fmt: skip
    return doc


def write_lab_report(
    path: Path | str, out: Path | str | None = None, formats: Sequence[str] | None = None
) -> list[Path]:
    from auraon_bench.report.build import write_directory_report

    directory = directory_of(path, ROUTING_FILE)
    report = read_lab(directory)
    return write_directory_report(lab_document(report, directory.name), directory, out, formats)
