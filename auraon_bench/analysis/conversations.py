"""Prompt caching, conversations and output caps, from the request records. Pure.

Rows: the measured (non-warm-up) ``ok`` attempts, unless a figure says otherwise.

Method
    * **Cache** (:class:`CacheSummary`), over ok rows whose target reported
      ``cached_tokens`` (``usage.prompt_tokens_details.cached_tokens``): ``hit_rate`` =
      Σ cached_tokens / Σ prompt_tokens; ``hit_requests`` = rows with cached_tokens > 0;
      TTFT percentiles of those rows (cached) and of the rest (uncached). ``cost_usd`` is the
      rows' measured cost; ``cost_without_cache_usd`` adds back, per row, cached_tokens ×
      (input − cache-read price) of the model that served it (``routed_to``, else the model
      reported, else the arm), from the ``discounts`` given (USD per 1M tokens): the
      emulator's catalog for a simulated run, the price table for a real target. Rows of a
      model without a known discount are left out of both figures and their models listed.
    * **Conversations** (:class:`ConversationSummary`, runs with ``session_id``): a
      conversation's turns are its rows ordered by ``turn`` (the last attempt of each). A
      *switch* is an ok turn served by another model than the conversation's previous ok turn.
      Its *lost discount* is an estimate of what staying would have saved: the previous turn's
      prompt, rounded down to the cache's ``step_tokens`` (when at least ``min_tokens``), is
      what the old model held in its cache; less what the new model read from its own cache
      anyway (a shared system prompt, say), at least 0; priced at the old model's discount.
      ``by_turn``: per turn index, TTFT percentiles, mean prompt and cached tokens, cache hit
      rate, mean cost per ok request and the ok rows per serving model.
    * **Output caps** (:class:`OutputCapSummary`), over ok rows that sent ``max_tokens``
      with a known ``completion_tokens``: ``within_cap`` = rows with completion <= cap,
      ``at_cap`` = rows with completion == cap, ``over_cap`` = rows above it (a target that
      ignores ``max_tokens``), and the mean requested and received lengths.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from auraon_bench.analysis._json import JsonFields
from auraon_bench.analysis.records import column, measured, ok_mask, rows, ttft_column
from auraon_bench.analysis.stats import Percentiles, percentiles

# OpenAI's documented prompt cache: prefixes of at least 1,024 tokens, in steps of 128.
CACHE_MIN_TOKENS = 1024
CACHE_STEP_TOKENS = 128


@dataclass(frozen=True)
class CacheSummary(JsonFields):
    rows: int  # ok rows whose target reported cached_tokens
    prompt_tokens: int
    cached_tokens: int
    hit_rate: float | None  # cached / prompt tokens
    hit_requests: int  # rows with cached_tokens > 0
    ttft_cached_s: Percentiles
    ttft_uncached_s: Percentiles
    priced_rows: int  # rows whose serving model has a known discount
    cost_usd: float | None  # measured cost of the priced rows
    cost_without_cache_usd: float | None  # the same rows with cached tokens at the input price
    unpriced_models: tuple[str, ...] = ()

    @property
    def saved_usd(self) -> float | None:
        if self.cost_usd is None or self.cost_without_cache_usd is None:
            return None
        return self.cost_without_cache_usd - self.cost_usd

    @property
    def saved_share(self) -> float | None:
        """What caching saved, as a share of the cost without it."""
        saved, without = self.saved_usd, self.cost_without_cache_usd
        return saved / without if saved is not None and without else None


@dataclass(frozen=True)
class TurnSummary(JsonFields):
    turn: int
    requests: int  # measured rows of this turn (every attempt)
    ok: int
    ttft_s: Percentiles
    prompt_tokens_mean: float | None
    cached_tokens_mean: float | None
    cache_hit_rate: float | None
    cost_per_request_usd: float | None
    routed_to: dict[str, int]  # ok rows per serving model


@dataclass(frozen=True)
class ConversationSummary(JsonFields):
    conversations: int
    turns_mean: float | None  # distinct turns sent per conversation
    multi_turn: int  # conversations with at least two ok turns
    switches: int
    switches_per_conversation: float | None  # over multi_turn conversations
    switched_share: float | None  # switches / ok turns after a first ok turn
    lost_discount_usd: float | None  # estimate, see the module
    by_turn: tuple[TurnSummary, ...]


@dataclass(frozen=True)
class OutputCapSummary(JsonFields):
    rows: int  # ok rows with max_tokens and completion_tokens
    requested_mean: float | None
    received_mean: float | None
    within_cap: int
    at_cap: int
    over_cap: int

    @property
    def honoured_share(self) -> float | None:
        return self.within_cap / self.rows if self.rows else None


def serving_model(df: pd.DataFrame) -> np.ndarray:
    """Per row: ``routed_to``, else ``model_reported``, else ``arm`` (object array, may be None)."""
    out = np.full(len(df), None, dtype=object)
    for name in ("arm", "model_reported", "routed_to"):  # later ones win
        if name in df.columns:
            values = df[name].to_numpy(dtype=object)
            known = pd.notna(values)
            out[known] = values[known]
    return out


def summarize_cache(
    df: pd.DataFrame, discounts: Mapping[str, float] | None = None
) -> CacheSummary | None:
    """The cache figures (module docstring); None when no ok row reported cached_tokens."""
    ok = _ok_rows(df)
    cached = column(ok, "cached_tokens")
    reported = np.isfinite(cached)
    if not reported.any():
        return None
    m = rows(ok, reported)
    cached, prompt = cached[reported], column(m, "prompt_tokens")
    both = np.isfinite(prompt)
    prompt_sum = float(prompt[both].sum())
    cached_sum = float(cached[both].sum())
    ttft = ttft_column(m)
    hit = cached > 0
    cost = column(m, "cost_usd")
    models = serving_model(m)
    rate = _rates(models, discounts)
    priced = np.isfinite(rate) & np.isfinite(cost)
    unpriced = sorted({str(x) for x, p in zip(models, priced, strict=True) if not p})
    with_cache = float(cost[priced].sum()) if priced.any() else None
    without = (
        with_cache + float((cached[priced] * rate[priced]).sum()) / 1e6
        if with_cache is not None
        else None
    )
    return CacheSummary(
        rows=len(m),
        prompt_tokens=int(prompt_sum),
        cached_tokens=int(cached_sum),
        hit_rate=cached_sum / prompt_sum if prompt_sum > 0 else None,
        hit_requests=int(hit.sum()),
        ttft_cached_s=percentiles(ttft[hit]),
        ttft_uncached_s=percentiles(ttft[~hit]),
        priced_rows=int(priced.sum()),
        cost_usd=with_cache,
        cost_without_cache_usd=without,
        unpriced_models=tuple(unpriced) if discounts is not None else (),
    )


def summarize_conversations(
    df: pd.DataFrame,
    discounts: Mapping[str, float] | None = None,
    *,
    min_tokens: int = CACHE_MIN_TOKENS,
    step_tokens: int = CACHE_STEP_TOKENS,
) -> ConversationSummary | None:
    """Switches and per-turn figures (module docstring); None for a run without conversations."""
    m = measured(df)
    session = column(m, "session_id")
    has = np.isfinite(session) & np.isfinite(column(m, "turn"))
    if not has.any():
        return None
    m = rows(m, has)
    ok = ok_mask(m)
    frame = pd.DataFrame(
        {
            "session": column(m, "session_id"),
            "turn": column(m, "turn"),
            "ok": ok,
            "model": serving_model(m),
            "prompt": column(m, "prompt_tokens"),
            "cached": np.nan_to_num(column(m, "cached_tokens")),
        }
    )
    conversations = int(frame["session"].nunique())
    turns_mean = float(frame.groupby("session")["turn"].nunique().mean())
    good = frame[frame["ok"]].sort_values(["session", "turn"], kind="stable")
    same = good["session"].to_numpy() == np.roll(good["session"].to_numpy(), 1)
    same[:1] = False
    previous_model = np.roll(good["model"].to_numpy(dtype=object), 1)
    switched = same & (good["model"].to_numpy(dtype=object) != previous_model)
    previous_prompt = np.roll(good["prompt"].to_numpy(), 1)
    cacheable = np.where(
        previous_prompt >= min_tokens, np.floor(previous_prompt / step_tokens) * step_tokens, 0.0
    )
    missed = np.maximum(cacheable - good["cached"].to_numpy(), 0.0)
    old_rate = _rates(previous_model, discounts)
    lost_terms = missed[switched] * old_rate[switched] / 1e6
    priced = np.isfinite(lost_terms)
    lost = None  # no prices, or none for the models switched away from
    if discounts is not None and (priced.any() or not switched.any()):
        lost = float(lost_terms[priced].sum())
    multi = int((good.groupby("session").size() >= 2).sum())
    followed = int(same.sum())
    return ConversationSummary(
        conversations=conversations,
        turns_mean=turns_mean,
        multi_turn=multi,
        switches=int(switched.sum()),
        switches_per_conversation=int(switched.sum()) / multi if multi else None,
        switched_share=int(switched.sum()) / followed if followed else None,
        lost_discount_usd=lost,
        by_turn=tuple(_turn(m, int(t)) for t in sorted(frame["turn"].unique())),
    )


def _turn(m: pd.DataFrame, turn: int) -> TurnSummary:
    at = rows(m, column(m, "turn") == turn)
    ok = rows(at, ok_mask(at))
    prompt, cached, cost = (column(ok, c) for c in ("prompt_tokens", "cached_tokens", "cost_usd"))
    known = np.isfinite(prompt) & np.isfinite(cached)
    prompt_known = float(prompt[known].sum())
    models = pd.Series(serving_model(ok), dtype=object).dropna().value_counts()
    return TurnSummary(
        turn=turn,
        requests=len(at),
        ok=len(ok),
        ttft_s=percentiles(ttft_column(ok)),
        prompt_tokens_mean=_mean(prompt),
        cached_tokens_mean=_mean(cached),
        cache_hit_rate=float(cached[known].sum()) / prompt_known if prompt_known > 0 else None,
        cost_per_request_usd=_mean(cost),
        routed_to={str(k): int(v) for k, v in models.items()},
    )


def summarize_output_caps(df: pd.DataFrame) -> OutputCapSummary | None:
    """How far the target honoured ``max_tokens`` (module docstring); None without caps."""
    ok = _ok_rows(df)
    cap, got = column(ok, "max_tokens"), column(ok, "completion_tokens")
    both = np.isfinite(cap) & np.isfinite(got)
    if not both.any():
        return None
    cap, got = cap[both], got[both]
    return OutputCapSummary(
        rows=int(both.sum()),
        requested_mean=float(cap.mean()),
        received_mean=float(got.mean()),
        within_cap=int((got <= cap).sum()),
        at_cap=int((got == cap).sum()),
        over_cap=int((got > cap).sum()),
    )


def _rates(models: np.ndarray, discounts: Mapping[str, float] | None) -> np.ndarray:
    """Each row's serving model's discount (USD per 1M tokens), NaN where unknown."""
    known = discounts or {}
    return np.array([known.get(str(x), np.nan) if x is not None else np.nan for x in models])


def _ok_rows(df: pd.DataFrame) -> pd.DataFrame:
    m = measured(df)
    return rows(m, ok_mask(m))


def _mean(values: np.ndarray) -> float | None:
    known = values[np.isfinite(values)]
    return float(known.mean()) if known.size else None
