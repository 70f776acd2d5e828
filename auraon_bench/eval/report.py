"""What an evaluation concludes: quality, cost and latency per arm and category, and how each
auto mode routes compared with the fixed models (formulas in ``analysis/quality.py`` and
``analysis/routing.py``). Pure: a graded records frame in, a report out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from auraon_bench.analysis._json import jsonable
from auraon_bench.analysis.quality import (
    AccuracyRow,
    AccuracyTable,
    CostTable,
    accuracy_table,
    cost_table,
)
from auraon_bench.analysis.records import value_counts
from auraon_bench.analysis.routing import RoutingReport, evaluate_routing, routing_v1_to_v2

AUTO_PREFIX = "auto"

# evaluation.json layout: 1 had no version key (routing as one curve over every auto mode);
# 2 added it, with routing curves per configuration.
SCHEMA_VERSION = 2


def _v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """Version 1 put every auto mode on one routing curve; version 2 has curves per routing
    configuration. An old file's single curve cannot be split after the fact, so its routing
    keeps the per-arm figures and loses the mixed curve (a note says so; the routing section's
    conversion: :func:`~auraon_bench.analysis.routing.routing_v1_to_v2`)."""
    routing = data.get("routing")
    if isinstance(routing, dict):
        data["routing"] = routing_v1_to_v2(routing)
    return data


MIGRATIONS = {1: _v1_to_v2}


def is_auto(arm: str) -> bool:
    return arm == AUTO_PREFIX or arm.startswith(AUTO_PREFIX + ":")


@dataclass(frozen=True)
class JudgeSummary:
    """The LLM judge's own requests, reported apart from the arms' (its cost is not theirs)."""

    model: str
    requests: int
    ok: int
    cost_usd: float
    cost_sources: dict[str, int]

    def to_dict(self) -> dict[str, object]:
        return {
            "model": self.model,
            "requests": self.requests,
            "ok": self.ok,
            "cost_usd": self.cost_usd,
            "cost_sources": self.cost_sources,
        }


@dataclass(frozen=True)
class EvalReport:
    arms: tuple[str, ...]
    accuracy: AccuracyTable  # by arm
    accuracy_by_category: AccuracyTable  # by arm and category
    cost: CostTable
    routing: RoutingReport | None  # None without both an auto arm and a fixed one
    grade_failures: dict[str, int]  # empty, refused, needs_judge, ... over all records
    # What evaluation.json states beside the analysis (set by the eval session).
    simulated: bool = False
    status: str | None = None
    warnings: tuple[str, ...] = ()
    judge: JudgeSummary | None = None

    @property
    def failed_arms(self) -> tuple[str, ...]:
        """Arms none of whose answers arrived (failure rate 1: every last attempt failed).

        Failed answers score 0 and stay in the denominator, so such an arm shows an accuracy
        of 0%: a measure of the target refusing it (an unknown model, a dead route), not of
        its quality. Read from the accuracy rows the report holds, so an evaluation.json of
        any version answers it; an evaluation's records are all graded answers, so this is
        the arms whose ``ErrorSummary.all_failed`` is true in the part's summary.
        """
        return tuple(
            str(row.arm)
            for row in self.accuracy.rows
            if row.arm is not None and row.n_rows > 0 and row.failure_rate == 1.0
        )

    def best(self) -> AccuracyRow | None:
        """The most accurate arm among those that answered (first in the table on ties);
        None when no arm has an accuracy, e.g. every arm failed. An arm in
        :attr:`failed_arms` is never the best, even when every other arm scored 0 too."""
        failed = set(self.failed_arms)
        answered = [r for r in self.accuracy.rows if r.accuracy is not None and r.arm not in failed]
        return max(answered, key=lambda r: r.accuracy or 0.0, default=None)

    def to_dict(self) -> dict[str, Any]:
        return jsonable(
            {
                "schema_version": SCHEMA_VERSION,
                "simulated": self.simulated,
                "status": self.status,
                "warnings": list(self.warnings),
                "arms": list(self.arms),
                "accuracy": self.accuracy.to_dict(),
                "accuracy_by_category": self.accuracy_by_category.to_dict(),
                "cost": self.cost.to_dict(),
                "routing": self.routing.to_dict() if self.routing else None,
                "grade_failures": self.grade_failures,
                "judge": self.judge,
            }
        )


def build_report(
    df: pd.DataFrame,
    arms: Sequence[str],
    *,
    reference: str | None = None,
    seed: int = 0,
    curves: Mapping[str, Sequence[str]] | None = None,
) -> EvalReport:
    """The report of graded records. ``reference`` (default: the most accurate fixed arm) and
    ``curves`` (auto arms that are operating points of one router) go to evaluate_routing,
    which records the reference used and notes a reference that is not a fixed arm."""
    auto_arms = [a for a in arms if is_auto(a)]
    fixed_arms = [a for a in arms if not is_auto(a)]
    routing = None
    if auto_arms and fixed_arms:
        routing = evaluate_routing(
            df, auto_arms, fixed_arms, reference=reference, seed=seed, curves=curves
        )
    return EvalReport(
        arms=tuple(arms),
        accuracy=accuracy_table(df, by=("arm",), seed=seed),
        accuracy_by_category=accuracy_table(df, by=("arm", "category"), seed=seed),
        cost=cost_table(df),
        routing=routing,
        grade_failures=value_counts(df, "grade_failure"),
    )
