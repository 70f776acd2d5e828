"""The metric table of docs/metrics.md is the code's: generated from one registry, and complete."""

from __future__ import annotations

import dataclasses
import re

from auraon_bench.analysis.accounting import CostSummary
from auraon_bench.analysis.load_summary import ArmSummary
from auraon_bench.analysis.metrics import METRICS, markdown_table
from tests.conftest import ROOT

START, END = "<!-- metric-table:start -->", "<!-- metric-table:end -->"


def test_readme_metric_table_is_the_generated_one() -> None:
    readme = (ROOT / "docs" / "metrics.md").read_text()
    block = re.search(re.escape(START) + r"\n(.*?)" + re.escape(END), readme, re.S)
    assert block, "docs/metrics.md has no metric table markers"
    assert block.group(1) == markdown_table(), (
        "docs/metrics.md metric table drifted: "
        "regenerate with `python -m auraon_bench.analysis.metrics`"
    )


def test_every_summary_figure_has_one_definition() -> None:
    defined = [m.field for m in METRICS]
    assert len(defined) == len(set(defined)), "a figure is defined twice"
    top = {f.split(".")[0] for f in defined}
    figures = {f.name for f in dataclasses.fields(ArmSummary)} - {"arm"}
    assert figures <= top, f"summary fields without a definition: {sorted(figures - top)}"
    cost = {f.name for f in dataclasses.fields(CostSummary)} - {"rows_with_cost", "cost_sources"}
    assert {f"cost.{name}" for name in cost} <= set(defined)
    # and nothing is defined that the summary does not hold
    held = figures | {"cost", "eval", "record"}
    assert {f.split(".")[0].split(":")[0] for f in defined} <= held
