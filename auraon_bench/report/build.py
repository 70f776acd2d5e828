"""Write a report to a directory: ``index.html``, ``report.md``, ``charts/*.png|svg``,
``tables/*.csv``.

``write_report(runs, out, formats)`` is what ``auraon-bench report`` and ``auraon-bench run`` call,
and what a notebook can call too. Charts are drawn once each; a chart with nothing to show (no
errors at all, a run that did not stream, no sweep stages) is replaced by its one-line note,
never drawn empty and never silently left out.

Drawing is checked to be silent: a warning raised while a chart is drawn (matplotlib's "no
artists with labels", a numpy empty-slice) is a bug in the chart, and the tests turn it into a
failure (tests/test_chart_edge_cases.py).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from auraon_bench.errors import ConfigError
from auraon_bench.report.document import ChartBlock, Document, build_document
from auraon_bench.report.render import CHARTS_DIR, to_html, to_markdown
from auraon_bench.report.tables import Table
from auraon_bench.results.layout import write_atomically
from auraon_bench.results.run import Run, read_run

FORMATS = ("html", "md", "png", "svg", "csv")
HTML_FILE = "index.html"
MARKDOWN_FILE = "report.md"
TABLES_DIR = "tables"


def _write(path: Path, data: bytes) -> None:
    try:
        write_atomically(path, lambda tmp: tmp.write_bytes(data))
    except OSError as exc:
        raise ConfigError(f"cannot write report file: {exc.strerror}", source=str(path)) from None


def table_csv(table: Table) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([c.csv_name for c in table.columns])
    for row in table.rows:
        writer.writerow(["" if v is None else v for v in row])
    return buffer.getvalue()


@dataclass
class DrawnCharts:
    """What the chart blocks of a document became, by chart key."""

    pngs: dict[str, bytes] = field(default_factory=dict)  # charts that had something to show
    notes: dict[str, str] = field(default_factory=dict)  # why the others show nothing
    files: list[Path] = field(default_factory=list)  # PNG/SVG files written


def draw_charts(doc: Document, out: Path, formats: Sequence[str]) -> DrawnCharts:
    """PNG bytes of every chart that has something to show, the note of every other one; and
    PNG/SVG files when asked."""
    from auraon_bench.report.charts import Note, figure_to_png_bytes, save_figure

    drawn = DrawnCharts()
    file_formats = tuple(f for f in ("png", "svg") if f in formats)
    for block in doc.blocks:
        if not isinstance(block, ChartBlock):
            continue
        figure = block.make()
        if figure is None:
            continue
        if isinstance(figure, Note):
            drawn.notes[block.key] = figure.text
            continue
        drawn.pngs[block.key] = figure_to_png_bytes(figure)
        if file_formats:
            (out / CHARTS_DIR).mkdir(parents=True, exist_ok=True)
            drawn.files += save_figure(figure, out / CHARTS_DIR / block.key, file_formats)
    return drawn


def prepare_output(out: Path | str, formats: Sequence[str], what: str) -> Path:
    """Check the formats and create the output directory, each failure one ConfigError."""
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ConfigError(f"unknown format {unknown[0]!r} (known: {', '.join(FORMATS)})",
                          field="--format")  # fmt: skip
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"cannot create {what} directory: {exc.strerror}", source=str(out)
        ) from None
    return out


def write_report(
    runs: Sequence[Run | Path | str], out: Path | str, formats: Sequence[str] = FORMATS
) -> list[Path]:
    """Render the runs' report into ``out``; returns the files written."""
    out = prepare_output(out, formats, "report")
    loaded = [r if isinstance(r, Run) else read_run(r) for r in runs]
    return write_document(build_document(loaded), out, formats)


def write_directory_report(
    doc: Document,
    directory: Path,
    out: Path | str | None = None,
    formats: Sequence[str] | None = None,
) -> list[Path]:
    """The report of a result directory that is no run (a capacity search, a routing lab, a
    twin validation): ``doc`` into ``out``, by default ``directory/report``."""
    formats = FORMATS if formats is None else tuple(formats)
    target = prepare_output(directory / "report" if out is None else out, formats, "report")
    return write_document(doc, target, formats)


def write_document(doc: Document, out: Path, formats: Sequence[str] = FORMATS) -> list[Path]:
    """Draw and render a built document into ``out`` (made by :func:`prepare_output`); the
    files written. Every kind of report (runs, a capacity search) is written by this."""
    drawn = draw_charts(doc, out, formats)
    charts, notes, files = drawn.pngs, drawn.notes, drawn.files
    if "md" in formats:
        # Markdown links PNG files: write them even when only "md" was asked for.
        if "png" not in formats:
            (out / CHARTS_DIR).mkdir(exist_ok=True)
            for key, data in charts.items():
                path = out / CHARTS_DIR / f"{key}.png"
                _write(path, data)
                files.append(path)
        path = out / MARKDOWN_FILE
        _write(path, to_markdown(doc, charts, notes).encode("utf-8"))
        files.append(path)
    if "html" in formats:
        path = out / HTML_FILE
        _write(path, to_html(doc, charts, notes).encode("utf-8"))
        files.append(path)
    if "csv" in formats:
        (out / TABLES_DIR).mkdir(exist_ok=True)
        for table in doc.tables():
            path = out / TABLES_DIR / f"{table.key}.csv"
            _write(path, table_csv(table).encode("utf-8"))
            files.append(path)
    return files
