"""The routing lab: the whole routing analysis of an outcome table, simulated routers beside
the auto modes, optionally re-priced. Written as ``routing.json`` and read back typed.

Method
    * The table's rows become graded records (one ok answer per prompt and model) and go
      through :func:`~auraon_bench.analysis.routing.evaluate_routing`, the analysis ``eval``
      uses: accuracy with CIs, costs, the frontier, the oracle, PGR, paired tests clustered by
      prompt, the shuffled control. Models whose name starts with ``auto``, or whose answers
      came from two or more other models (``routed_to``), are routers (auto modes); the rest
      are fixed models, an alias a gateway reports for one of them included.
    * Simulated routers (:mod:`auraon_bench.routing.routers`) run on the weak and strong models
      the analysis chose (the cheapest and the most accurate, unless given). Each curve's APGR,
      CPT(50%) and AIQ use the same weak and strong qualities, and every AIQ the one cost range
      spanning the fixed models and every curve (RouterBench's rule).
    * Re-pricing (``prices``): every row's cost becomes its tokens at the price table's rates
      (a ``--prices`` file, then genai-prices); rows without token counts cannot be re-priced
      and the call fails naming the model; models without a price keep their cost, listed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from auraon_bench.analysis._json import JsonFields
from auraon_bench.analysis.quality import PairedComparison, paired_comparison
from auraon_bench.analysis.routing import (
    OperatingPoint,
    RoutingCurve,
    RoutingReport,
    evaluate_routing,
    routing_curve,
    shared_cost_range,
)
from auraon_bench.errors import ConfigError
from auraon_bench.prices.table import PriceTable
from auraon_bench.results.labels import simulated_label
from auraon_bench.results.typed import read_typed_file
from auraon_bench.routing import routers
from auraon_bench.routing.tables import OutcomeTable

ROUTING_FILE = "routing.json"
SCHEMA_VERSION = 1
DEFAULT_ROUTERS = ("random", "optimal", "cheapest-correct")


@dataclass(frozen=True)
class LabReport(JsonFields):
    source: str
    layout: str
    metric: str  # correct or score
    models: tuple[str, ...]
    auto_arms: tuple[str, ...]
    prices: str  # where the costs came from: "the table", or the price source used
    analysis: RoutingReport
    simulated: tuple[RoutingCurve, ...]  # one curve per simulated router with several points
    simulated_points: tuple[OperatingPoint, ...]  # routers with one point each
    cost_range: tuple[float, float] | None  # shared by every AIQ of this report
    n_prompts_pair: int  # prompts both the weak and the strong model graded
    strong_vs_weak: PairedComparison | None  # the pair's paired test (McNemar's counts)
    notes: tuple[str, ...] = ()
    schema_version: int = SCHEMA_VERSION
    unpriced: tuple[str, ...] = field(default=())
    from_simulation: bool = False  # the answers came from the built-in emulator
    twin_of: str | None = None  # ... fitted to this run (auraon-bench emulator fit)

    @property
    def stamp(self) -> bool | str:
        """What the page and chart stamp: False, True (built-in emulator) or a twin's label."""
        if not self.from_simulation:
            return False
        return simulated_label(self.twin_of) if self.twin_of else True


def _auto_arms(table: OutcomeTable) -> list[str]:
    """Routers: models named ``auto...``, and models whose answers came from two or more
    other models. A fixed model a gateway reports under another name (an alias, a provider
    prefix) routes everything to that one name and stays a fixed model."""
    f = table.frame
    routed = f["routed_to"].notna() & (f["routed_to"].astype(object) != f["model"])
    served = f.loc[routed.to_numpy(dtype=bool)].groupby("model")["routed_to"].nunique()
    named = set(served[served >= 2].index)
    return [m for m in table.models if m.startswith("auto") or m in named]


def reprice(table: OutcomeTable, prices: PriceTable) -> tuple[OutcomeTable, tuple[str, ...]]:
    """Every row's cost from its tokens (module docstring); the models left unpriced."""
    frame = table.frame.copy()
    unpriced = []
    for model, rows in frame.groupby("model", sort=False).groups.items():
        part = frame.loc[rows]
        priced_as = part["routed_to"].fillna(model)
        if part[["prompt_tokens", "completion_tokens"]].isna().any(axis=None):
            raise ConfigError(
                f"model {model!r} has rows without prompt_tokens/completion_tokens: "
                "its costs cannot be re-priced",
                source=table.source,
                field="--prices",
            )
        costs = []
        for served, pt, ct in zip(priced_as, part["prompt_tokens"], part["completion_tokens"],
                                  strict=True):  # fmt: skip
            quote = prices.quote(str(served))
            costs.append(np.nan if quote is None else quote.cost(int(pt), int(ct)))
        costs = np.array(costs, dtype=float)
        if np.isnan(costs).any():
            unpriced.append(str(model))
            costs = np.where(np.isnan(costs), part["cost_usd"].to_numpy(float), costs)
        frame.loc[rows, "cost_usd"] = costs
    repriced = dataclasses.replace(table, frame=frame)
    return repriced, tuple(unpriced)


def analyze(
    table: OutcomeTable,
    *,
    weak: str | None = None,
    strong: str | None = None,
    simulate: Sequence[str] = DEFAULT_ROUTERS,
    prices: PriceTable | None = None,
    seed: int = 0,
    n_resamples: int = 2000,
    n_permutations: int = 1000,
) -> LabReport:
    """The analysis and the simulated routers (``random``, ``optimal``, ``cheapest-correct``,
    ``threshold:COLUMN``, ``cascade:COLUMN``, ``cascade:grader``) of ``table``."""
    unpriced: tuple[str, ...] = ()
    if prices is not None:
        table, unpriced = reprice(table, prices)
    frame = table.frame
    metric = "correct" if frame["correct"].notna().any() else "score"
    autos = _auto_arms(table)
    fixed = [m for m in table.models if m not in autos]
    if len(fixed) < 2:
        raise ConfigError(f"needs at least two fixed models, found {fixed}", source=table.source)
    for name in (weak, strong):
        if name is not None and name not in fixed:
            raise ConfigError(f"{name!r} is not a fixed model of the table ({', '.join(fixed)})",
                              field="--weak" if name == weak else "--strong")  # fmt: skip
    records = table.records()
    if frame["cost_usd"].isna().all():  # no costs (RouteLLM's layout): weak = the least accurate
        weak, strong = _by_quality(frame, fixed, metric, weak, strong)
    report = evaluate_routing(records, autos, fixed, weak=weak, strong=strong, seed=seed,
                              metric=metric, n_resamples=n_resamples,
                              n_permutations=n_permutations)  # fmt: skip
    if report.weak is None or report.strong is None:
        raise ConfigError("no weak and strong model could be chosen (no costs or no grades): "
                          "give --weak and --strong", source=table.source)  # fmt: skip
    view = routers.pair_view(frame, report.weak, report.strong, metric, table.signals)
    if report.weak == report.strong:  # the cheapest model is also the most accurate
        simulate = [n for n in simulate if n == "cheapest-correct"]
    fixed_rows = frame[frame["model"].isin(fixed)]  # a simulated router picks fixed models
    curves, singles, notes = _simulate(view, fixed_rows, metric, simulate, table.signals)
    if report.weak == report.strong:
        notes.append(f"{report.weak} is both the cheapest and the most accurate model: no "
                     "weak/strong pair, so no simulated router curves (give --weak/--strong)")
    fixed_points = {a: (p.cost, p.quality) for a, p in report.points.items() if a in fixed}
    priced = [{p.arm: (p.cost, p.quality) for p in pts if p.cost is not None} for _, pts in curves]
    cost_range = shared_cost_range(fixed_points, *(c for c in priced if len(c) >= 2))
    q_weak, q_strong = view.quality
    built = tuple(routing_curve(name, pts, q_weak, q_strong, cost_range) for name, pts in curves)
    if unpriced:
        notes.append(f"no price for {', '.join(unpriced)}: their costs are the table's")
    return LabReport(
        source=table.source, layout=table.layout, metric=metric, models=table.models,
        auto_arms=tuple(autos), prices=prices.source if prices is not None else "the table",
        analysis=report, simulated=built, simulated_points=tuple(singles),
        cost_range=cost_range, n_prompts_pair=view.n, notes=tuple(notes), unpriced=unpriced,
        from_simulation=table.simulated, twin_of=table.twin_of,
        strong_vs_weak=None if report.weak == report.strong else paired_comparison(
            records, report.strong, report.weak, seed=seed, metric=metric,
            n_resamples=n_resamples),
    )  # fmt: skip


def _by_quality(frame: Any, fixed: Sequence[str], metric: str, weak: str | None,
                strong: str | None) -> tuple[str, str]:  # fmt: skip
    means = frame[frame["model"].isin(fixed)].groupby("model")[metric].mean()
    return weak or str(means.idxmin()), strong or str(means.idxmax())


def _simulate(
    view: routers.PairView, frame: Any, metric: str, names: Sequence[str], signals: Sequence[str]
) -> tuple[list[tuple[str, list[OperatingPoint]]], list[OperatingPoint], list[str]]:
    curves, singles, notes = [], [], []
    for name in dict.fromkeys(names):
        kind, _, column = name.partition(":")
        if column and column != "grader" and column not in signals:
            raise ConfigError(f"{name}: the table has no numeric column {column!r} "
                              f"(signals: {', '.join(signals) or 'none'})",
                              field="--router")  # fmt: skip
        if name == "random":
            curves.append((name, routers.random_router(view)))
        elif name == "optimal":
            curves.append((name, routers.optimal_router(view)))
        elif name == "cheapest-correct":
            point = routers.cheapest_correct(frame, metric)
            singles += [point] if point is not None else []
        elif kind == "threshold" and column:
            curves.append((name, routers.threshold_router(view, column)))
        elif kind == "cascade" and column:
            points = routers.cascade_router(view, column)
            if len(points) == 1:
                singles += points
            else:
                curves.append((name, points))
        else:
            raise ConfigError(f"unknown router {name!r}: random, optimal, cheapest-correct, "
                              "threshold:COLUMN, cascade:COLUMN or cascade:grader",
                              field="--router")  # fmt: skip
    return curves, singles, notes


def write_lab(out: Path, report: LabReport) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / ROUTING_FILE
    path.write_bytes(orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2 |
                                  orjson.OPT_SERIALIZE_NUMPY))  # fmt: skip
    return path


def read_lab(path: Path | str) -> LabReport:
    """``routing.json`` (or its directory) as the typed :class:`LabReport`."""
    return read_typed_file(LabReport, path, ROUTING_FILE)
