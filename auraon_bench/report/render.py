"""Markdown and self-contained HTML from a report :class:`~auraon_bench.report.document.Document`.

Charts are given already drawn: PNG bytes by chart key, and for a chart with nothing to show its
one-line note by key, printed in its place as a paragraph ("Errors and 429s over time: not one
failed attempt ..."); a chart with neither is absent and so is its block. Markdown links them as
``charts/<key>.png`` beside the file; HTML embeds them as ``data:`` URIs, so the page opens with
no network and no other file. Neither output has a timestamp of its own, so a report of the same
runs is the same file twice.

Tables show their display columns only; a column marked ``csv_only`` is in the CSV alone.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping

from auraon_bench.report.document import (
    Callout,
    ChartBlock,
    Document,
    Heading,
    Paragraph,
    TableBlock,
)
from auraon_bench.report.tables import Table

CHARTS_DIR = "charts"


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _md_text(text: str) -> str:
    """One line of running text: no line break, and no character Markdown would act on."""
    for char in "\\*_`[]<>":
        text = text.replace(char, "\\" + char)
    return " ".join(text.split())


def chart_note(block: ChartBlock, note: str) -> str:
    """The line printed where a chart with nothing to show would be."""
    return f"{block.title}: {note}."


def markdown_table(table: Table) -> str:
    columns = table.display_columns
    header = "| " + " | ".join(_md_cell(c.name) for c in columns) + " |"
    align = "|" + "|".join("---:" if c.numeric else ":---" for c in columns) + "|"
    lines = [f"**{table.title}**", "", header, align]
    lines += ["| " + " | ".join(_md_cell(cell) for cell in row) + " |" for row in table.cells()]
    if table.note:
        lines += ["", f"_{table.note}_"]
    return "\n".join(lines)


def to_markdown(
    doc: Document, charts: Mapping[str, bytes], notes: Mapping[str, str] | None = None
) -> str:
    notes = notes or {}
    out = [f"# {doc.title}", ""]
    for block in doc.blocks:
        if isinstance(block, Heading):
            out += ["#" * (block.level) + " " + block.text, ""]
        elif isinstance(block, Paragraph):
            out += [block.text, ""]
        elif isinstance(block, Callout):
            label = "SIMULATED" if block.kind == "simulated" else "Warnings"
            if block.kind == "simulated":
                out += [f"> **{block.lines[0]}**", ""]
            else:
                out += [f"> **{label}**", ">"] + [f"> - {line}" for line in block.lines] + [""]
        elif isinstance(block, TableBlock):
            out += [markdown_table(block.table), ""]
        elif isinstance(block, ChartBlock) and block.key in charts:
            out += [f"![{block.title}]({CHARTS_DIR}/{block.key}.png)", ""]
        elif isinstance(block, ChartBlock) and block.key in notes:
            out += [f"_{_md_text(chart_note(block, notes[block.key]))}_", ""]
    return "\n".join(out).rstrip() + "\n"


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;
max-width:1200px;padding:0 1rem;color:#1b1b1b;line-height:1.45}
h1{font-size:1.6rem}h2{font-size:1.3rem;margin-top:2.2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.6rem 0;font-size:.85rem;display:block;overflow-x:auto}
th,td{border:1px solid #d0d0d0;padding:.25rem .5rem}th{background:#f2f2f2;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}
caption{text-align:left;font-weight:600;padding:.3rem 0}
.note{color:#555;font-size:.8rem;margin-top:-.3rem}
.simulated{background:#fff4ce;border:2px solid #d4a000;padding:.6rem 1rem;font-weight:600}
.warnings{background:#fde7e7;border:2px solid #c62828;padding:.4rem 1rem}
.warnings li{margin:.2rem 0}
figure{margin:1rem 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.85rem;color:#444}
.chart-note{color:#444;font-style:italic;margin:1rem 0}
"""


def html_table(table: Table) -> str:
    columns = table.display_columns
    head = "".join(f"<th>{html.escape(c.name)}</th>" for c in columns)
    body = []
    for row in table.cells():
        cells = "".join(
            f'<td class="n">{html.escape(v)}</td>' if c.numeric else f"<td>{html.escape(v)}</td>"
            for c, v in zip(columns, row, strict=True)
        )
        body.append(f"<tr>{cells}</tr>")
    note = f'<p class="note">{html.escape(table.note)}</p>' if table.note else ""
    return (
        f'<table id="{html.escape(table.key)}"><caption>{html.escape(table.title)}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{note}"
    )


def to_html(
    doc: Document, charts: Mapping[str, bytes], notes: Mapping[str, str] | None = None
) -> str:
    notes = notes or {}
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(doc.title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(doc.title)}</h1>",
    ]
    for block in doc.blocks:
        if isinstance(block, Heading):
            level = min(block.level, 6)
            parts.append(f"<h{level}>{html.escape(block.text)}</h{level}>")
        elif isinstance(block, Paragraph):
            parts.append(f"<p>{html.escape(block.text)}</p>")
        elif isinstance(block, Callout):
            if block.kind == "simulated":
                parts.append(f'<p class="simulated">{html.escape(block.lines[0])}</p>')
            else:
                items = "".join(f"<li>{html.escape(line)}</li>" for line in block.lines)
                parts.append(
                    f'<div class="warnings"><strong>Warnings</strong><ul>{items}</ul></div>'
                )
        elif isinstance(block, TableBlock):
            parts.append(html_table(block.table))
        elif isinstance(block, ChartBlock) and block.key in charts:
            data = base64.b64encode(charts[block.key]).decode("ascii")
            title = html.escape(block.title)
            parts.append(
                f'<figure id="{html.escape(block.key)}"><img src="data:image/png;base64,{data}" '
                f'alt="{title}"><figcaption>{title}</figcaption></figure>'
            )
        elif isinstance(block, ChartBlock) and block.key in notes:
            text = html.escape(chart_note(block, notes[block.key]))
            parts.append(f'<p class="chart-note" id="{html.escape(block.key)}">{text}</p>')
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
