"""Simulated routers on an outcome table: the operating points each would reach. Pure.

Every router here chooses, per prompt, between a *weak* and a *strong* model (default: the
cheapest and the most accurate) of the table, except ``cheapest-correct``, which may choose any
model. A router's operating point on the prompts both models graded: ``strong_share`` = share
of prompts sent to the strong model (a cascade: escalated), ``quality`` = mean of the chosen
answers' metric, ``cost`` = mean cost of the calls made (a cascade pays the weak call of every
prompt and the strong call of each escalated one), ``pgr`` as RouteLLM defines it. Expected
values, not samples: the figures are exact and need no seed.

* ``random`` at share s: each prompt goes to the strong model with probability s; quality and
  cost are the expectations (1 - s) W + s S, on shares 0, 0.1, ..., 1. PGR(s) = s, so its APGR
  is 0.5 and CPT(x) = x.
* ``optimal``: RouteLLM's ideal upper bound. Each strong call is spent where it gains most
  (gain = max(S_p - W_p, 0), largest first; a fraction of a call gains that fraction); calls
  that cannot gain lose nothing. On the same grid of shares. Not a router one can build: the
  ceiling the others are read against.
* ``cheapest-correct``: per prompt the cheapest model (by its mean cost) whose answer is
  correct, else the cheapest model; one point. With 0/1 grades it is the oracle's quality at
  the oracle's least cost.
* ``threshold:COLUMN``: strong when the prompt's value of COLUMN is at least t (a difficulty, or a
  router's own score exported from elsewhere), t swept over the column's deciles; a curve.
* ``cascade:COLUMN``: the weak model answers first; when its confidence (COLUMN) is below t the
  strong model is called too and its answer kept, t over the deciles; a curve.
  ``cascade:grader``: escalate when the weak answer was graded wrong (a verifier that is always
  right: the cascade's ceiling); one point.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from auraon_bench.analysis.routing import OperatingPoint, pgr

SHARES = tuple(np.round(np.linspace(0.0, 1.0, 11), 2))


@dataclass(frozen=True)
class PairView:
    """The prompts both models graded, as aligned arrays."""

    weak: str
    strong: str
    prompts: np.ndarray
    q_weak: np.ndarray  # per prompt: the metric of the weak answer
    q_strong: np.ndarray
    c_weak: np.ndarray  # per prompt cost (NaN: unknown)
    c_strong: np.ndarray
    signals: pd.DataFrame  # per prompt, indexed like ``prompts``

    @property
    def n(self) -> int:
        return int(self.prompts.size)

    @property
    def quality(self) -> tuple[float, float]:
        return float(self.q_weak.mean()), float(self.q_strong.mean())


def pair_view(frame: pd.DataFrame, weak: str, strong: str, metric: str,
              signals: Sequence[str] = ()) -> PairView:  # fmt: skip
    wide = frame.pivot_table(index="prompt_id", columns="model", values=[metric, "cost_usd"],
                             aggfunc="mean", dropna=False)  # fmt: skip
    q = wide[metric].reindex(columns=[weak, strong]).dropna()
    costs = wide["cost_usd"].reindex(index=q.index, columns=[weak, strong])
    per_prompt = frame.groupby("prompt_id")[list(signals)].first().reindex(q.index) \
        if signals else pd.DataFrame(index=q.index)  # fmt: skip
    return PairView(
        weak, strong, q.index.to_numpy(),
        q[weak].to_numpy(float), q[strong].to_numpy(float),
        costs[weak].to_numpy(float), costs[strong].to_numpy(float), per_prompt,
    )  # fmt: skip


def _point(name: str, view: PairView, share: float, quality: float, cost: float) -> OperatingPoint:
    q_weak, q_strong = view.quality
    cost_value = None if np.isnan(cost) else float(cost)
    return OperatingPoint(name, cost_value, float(quality), float(share),
                          pgr(float(quality), q_weak, q_strong))  # fmt: skip


def _mean(values: np.ndarray) -> float:
    return float(np.mean(values)) if values.size and not np.isnan(values).any() else float("nan")


def random_router(view: PairView, shares: Sequence[float] = SHARES) -> list[OperatingPoint]:
    q_weak, q_strong = view.quality
    c_weak, c_strong = _mean(view.c_weak), _mean(view.c_strong)
    points = []
    for s in shares:
        quality, cost = (1 - s) * q_weak + s * q_strong, (1 - s) * c_weak + s * c_strong
        points.append(_point(f"random@{s:.2f}", view, s, quality, cost))
    return points


def optimal_router(view: PairView, shares: Sequence[float] = SHARES) -> list[OperatingPoint]:
    gains = np.sort(np.maximum(view.q_strong - view.q_weak, 0.0))[::-1]
    cumulative = np.concatenate(([0.0], np.cumsum(gains)))
    extra = view.c_strong - view.c_weak  # what a strong call adds to a prompt's cost
    order = np.argsort(-np.maximum(view.q_strong - view.q_weak, 0.0), kind="stable")
    extra_cum = np.concatenate(([0.0], np.cumsum(extra[order])))
    points = []
    for s in shares:
        calls = s * view.n
        whole = int(np.floor(calls))
        part = calls - whole
        gain = cumulative[whole] + (part * gains[whole] if whole < gains.size else 0.0)
        added = extra_cum[whole] + (part * extra[order][whole] if whole < extra.size else 0.0)
        quality = float(view.q_weak.sum() + gain) / view.n
        cost = (np.nansum(view.c_weak) + added) / view.n if not np.isnan(extra).any() \
            else float("nan")  # fmt: skip
        points.append(_point(f"optimal@{s:.2f}", view, s, quality, cost))
    return points


def _deciles(values: np.ndarray) -> list[float]:
    finite = values[np.isfinite(values)]
    if not finite.size:
        return []
    cuts = np.unique(np.quantile(finite, np.linspace(0.0, 1.0, 11)))
    return [*cuts.tolist(), float(np.inf)]  # inf: nothing passes (all weak / none escalated)


def threshold_router(view: PairView, column: str) -> list[OperatingPoint]:
    values = view.signals[column].to_numpy(float)
    points = []
    for t in _deciles(values):
        strong = values >= t
        quality = np.where(strong, view.q_strong, view.q_weak).mean()
        cost = _mean(np.where(strong, view.c_strong, view.c_weak))
        points.append(_point(f"threshold:{column}>={t:g}", view, strong.mean(), quality, cost))
    return points


def cascade_router(view: PairView, column: str) -> list[OperatingPoint]:
    if column == "grader":
        rules = [("grader", view.q_weak < 1.0)]
    else:
        values = view.signals[column].to_numpy(float)
        rules = [(f"{column}<{t:g}", values < t) for t in _deciles(values)[:-1]]
        rules.append((f"{column}<-inf", np.zeros(view.n, dtype=bool)))  # never escalates
    points = []
    for label, escalate in rules:
        quality = np.where(escalate, view.q_strong, view.q_weak).mean()
        cost = _mean(view.c_weak + np.where(escalate, view.c_strong, 0.0))
        points.append(_point(f"cascade:{label}", view, escalate.mean(), quality, cost))
    return points


def cheapest_correct(frame: pd.DataFrame, metric: str) -> OperatingPoint | None:
    """One point over the prompts every model graded (``strong_share`` and PGR left empty)."""
    wide = frame.pivot_table(index="prompt_id", columns="model", values=metric, aggfunc="mean")
    wide = wide.dropna()
    costs = frame.groupby("model")["cost_usd"].mean().reindex(wide.columns)
    if wide.empty:
        return None
    per_prompt = frame.pivot_table(index="prompt_id", columns="model", values="cost_usd",
                                   aggfunc="mean").reindex(index=wide.index, columns=wide.columns)
    order = list(costs.sort_values(kind="stable").index) if costs.notna().all() \
        else list(wide.columns)  # fmt: skip
    right = wide[order].to_numpy() >= 1.0
    pick = np.where(right.any(axis=1), right.argmax(axis=1), 0)
    rows = np.arange(len(wide))
    quality = wide[order].to_numpy()[rows, pick].mean()
    cost = per_prompt[order].to_numpy()[rows, pick]
    return OperatingPoint("cheapest-correct", _mean(cost) if not np.isnan(cost).any() else None,
                          float(quality), None, None)  # fmt: skip
