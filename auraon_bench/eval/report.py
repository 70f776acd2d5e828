"""What an evaluation concludes: quality, cost and latency per arm and category, and how each
auto mode routes compared with the fixed models (formulas in ``analysis/quality.py`` and
``analysis/routing.py``). Pure: a graded records frame in, a report out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from auraon_bench.analysis._json import jsonable
from auraon_bench.analysis.quality import AccuracyTable, CostTable, accuracy_table, cost_table
from auraon_bench.analysis.records import value_counts
from auraon_bench.analysis.routing import RoutingReport, evaluate_routing

AUTO_PREFIX = "auto"


def is_auto(arm: str) -> bool:
    return arm == AUTO_PREFIX or arm.startswith(AUTO_PREFIX + ":")


@dataclass(frozen=True)
class EvalReport:
    arms: tuple[str, ...]
    accuracy: AccuracyTable  # by arm
    accuracy_by_category: AccuracyTable  # by arm and category
    cost: CostTable
    routing: RoutingReport | None  # None without both an auto arm and a fixed one
    grade_failures: dict[str, int]  # empty, refused, needs_judge, ... over all records

    def to_dict(self) -> dict[str, Any]:
        return jsonable(
            {
                "arms": list(self.arms),
                "accuracy": self.accuracy.to_dict(),
                "accuracy_by_category": self.accuracy_by_category.to_dict(),
                "cost": self.cost.to_dict(),
                "routing": self.routing.to_dict() if self.routing else None,
                "grade_failures": self.grade_failures,
            }
        )


def build_report(
    df: pd.DataFrame, arms: Sequence[str], *, reference: str | None = None, seed: int = 0
) -> EvalReport:
    auto_arms = [a for a in arms if is_auto(a)]
    fixed_arms = [a for a in arms if not is_auto(a)]
    routing = None
    if auto_arms and fixed_arms:
        routing = evaluate_routing(
            df,
            auto_arms,
            fixed_arms,
            reference=reference if reference in fixed_arms else None,
            seed=seed,
        )
    return EvalReport(
        arms=tuple(arms),
        accuracy=accuracy_table(df, by=("arm",), seed=seed),
        accuracy_by_category=accuracy_table(df, by=("arm", "category"), seed=seed),
        cost=cost_table(df),
        routing=routing,
        grade_failures=value_counts(df, "grade_failure"),
    )
