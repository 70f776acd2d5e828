"""Error, retry, token and cost accounting of load-test request records.

All functions drop warm-up rows (``warmup == True``) themselves.

Errors (per attempt, i.e. per row)
    counts and shares (count / attempts) of each status — ok, http_error, rate_limited,
    timeout, connection_error, protocol_error, cancelled, always all seven, then any other
    value —; ``rate_limited`` = the 429 count (``status == "rate_limited"``); ``cancelled`` =
    attempts the run's own stop (Ctrl-C, SIGTERM, the money guard) cut in flight: sent, maybe
    billed, but without an outcome, so they are neither ok nor failed and leave the error
    rate's denominator; counts of
    ``http_status`` and of ``error_type`` over the failed rows; the largest groups of failed
    rows by (status, HTTP status, error type, normalized message), 429s included
    (:mod:`~auraon_bench.analysis.error_groups`); ``all_failed`` when there was at least one
    attempt and none was ok.

Logical requests (retries share a ``request_id``)
    the number of logical requests and of those retried (more than one attempt), the
    outcome counts and shares where a request's outcome is its *last* attempt's status,
    and the end-to-end latency of the ok ones: last attempt's ``t_done`` − first
    attempt's ``t_sent`` (covers retries and back-off), as percentiles.

Tokens
    sums of ``prompt_tokens`` and ``completion_tokens`` over ok rows, and the counts of
    each ``token_source`` (usage | estimated | none) over all rows: which counts are
    measured and which are guesses.

Cost
    * ``total_usd`` = sum of ``cost_usd`` over rows that have one (failed attempts that
      were billed included); None when no row has a cost.
    * ``per_request_usd`` = :func:`cost_per_request`: mean ``cost_usd`` over ok rows with a
      cost (an answered request's price; what failed attempts cost is in ``total_usd`` and in
      an evaluation's cost per correct answer); ``per_1k_requests_usd`` = 1000 × that. The
      evaluation tables use the same function, so one run never shows two costs per request.
    * ``per_1m_tokens_usd`` = 1e6 × sum cost / sum (prompt + completion tokens), over rows
      with a cost and both token counts, so cost and tokens cover the same rows.
    * ``cost_sources``: counts of each ``cost_source`` (blockrun | auraon | openrouter |
      litellm | price_table | none) over all rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from auraon_bench.analysis._json import jsonable
from auraon_bench.analysis.error_groups import ErrorGroup, every_attempt_failed, group_errors
from auraon_bench.analysis.records import (
    column,
    logical_requests,
    measured,
    ok_mask,
    rows,
    status_counts,
    value_counts,
)
from auraon_bench.analysis.stats import Percentiles, percentiles

__all__ = [
    "CostSummary",
    "ErrorGroup",
    "ErrorSummary",
    "LogicalSummary",
    "TokenSummary",
    "cost_per_request",
    "summarize_cost",
    "summarize_errors",
    "summarize_logical",
    "summarize_tokens",
]


def _shares(counts: dict[str, int], total: int) -> dict[str, float | None]:
    return {k: (v / total if total else None) for k, v in counts.items()}


@dataclass(frozen=True, slots=True)
class ErrorSummary:
    """Per-attempt outcome counts; see the module docstring."""

    attempts: int
    status_counts: dict[str, int]
    status_shares: dict[str, float | None]
    rate_limited: int
    http_status_counts: dict[str, int]
    error_types: dict[str, int]
    # The largest groups of failed attempts (see the module) and how many groups there were in
    # all. None: a summary written before groups were recorded (its records still hold them).
    top_errors: tuple[ErrorGroup, ...] | None = None
    distinct_errors: int | None = None

    @property
    def all_failed(self) -> bool:
        """Every measured attempt that got an outcome failed (errors and 429s alike), and there
        was at least one; cancelled attempts had no outcome."""
        return every_attempt_failed(self.attempts, self.status_counts.get("ok", 0), self.cancelled)

    @property
    def cancelled(self) -> int:
        """Attempts cut in flight by the run's own stop: no outcome, neither ok nor failed."""
        return self.status_counts.get("cancelled", 0)

    @property
    def judged(self) -> int:
        """Attempts with an outcome (``attempts - cancelled``): every rate's denominator."""
        return self.attempts - self.cancelled

    @property
    def not_ok(self) -> int:
        """Attempts that were not ok, 429s and cancelled included: what the error groups
        count."""
        return self.attempts - self.status_counts.get("ok", 0)

    @property
    def failed(self) -> int:
        """Failed attempts, 429s not counted (they are ``rate_limited``, a verdict of their own)
        and cancelled ones neither (the run stopped them, not the target)."""
        return self.judged - self.status_counts.get("ok", 0) - self.rate_limited

    @property
    def rate_limited_rate(self) -> float | None:
        """``rate_limited / judged``: the SLO check's and the history's 429 rate."""
        return self.rate_limited / self.judged if self.judged else None

    @property
    def error_rate(self) -> float | None:
        """``failed / judged``: the SLO check's, the history's and the console's error rate."""
        return self.failed / self.judged if self.judged else None

    def to_dict(self) -> dict[str, object]:
        return {
            "attempts": self.attempts,
            "status_counts": jsonable(self.status_counts),
            "status_shares": jsonable(self.status_shares),
            "rate_limited": self.rate_limited,
            "http_status_counts": jsonable(self.http_status_counts),
            "error_types": jsonable(self.error_types),
            "top_errors": (
                None if self.top_errors is None else [g.to_dict() for g in self.top_errors]
            ),
            "distinct_errors": self.distinct_errors,
        }


@dataclass(frozen=True, slots=True)
class LogicalSummary:
    """Per-logical-request outcomes (last attempt) and retry-spanning latency."""

    requests: int
    retried: int
    outcome_counts: dict[str, int]
    outcome_shares: dict[str, float | None]
    e2e_latency_s: Percentiles

    def to_dict(self) -> dict[str, object]:
        return {
            "requests": self.requests,
            "retried": self.retried,
            "outcome_counts": jsonable(self.outcome_counts),
            "outcome_shares": jsonable(self.outcome_shares),
            "e2e_latency_s": self.e2e_latency_s.to_dict(),
        }


@dataclass(frozen=True, slots=True)
class TokenSummary:
    """Token totals of ok rows and where the counts came from."""

    prompt_tokens: int
    completion_tokens: int
    token_sources: dict[str, int]

    def to_dict(self) -> dict[str, object]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "token_sources": jsonable(self.token_sources),
        }


@dataclass(frozen=True, slots=True)
class CostSummary:
    """Cost totals and unit costs in USD; see the module docstring."""

    total_usd: float | None
    rows_with_cost: int
    per_request_usd: float | None
    per_1k_requests_usd: float | None
    per_1m_tokens_usd: float | None
    cost_sources: dict[str, int]

    def to_dict(self) -> dict[str, object]:
        return {
            "total_usd": jsonable(self.total_usd),
            "rows_with_cost": self.rows_with_cost,
            "per_request_usd": jsonable(self.per_request_usd),
            "per_1k_requests_usd": jsonable(self.per_1k_requests_usd),
            "per_1m_tokens_usd": jsonable(self.per_1m_tokens_usd),
            "cost_sources": jsonable(self.cost_sources),
        }


def summarize_errors(df: pd.DataFrame) -> ErrorSummary:
    """Status counts and shares per attempt of the non-warm-up rows."""
    df = measured(df)
    counts = status_counts(df)
    failed = rows(df, ~ok_mask(df))
    http = value_counts(failed, "http_status")
    # http_status may be stored as float (NaN-able); "429.0" would be a confusing key.
    http = {_int_key(k): v for k, v in http.items() if k != "missing"}
    types = {k: v for k, v in value_counts(failed, "error_type").items() if k != "missing"}
    top, distinct = group_errors(failed)
    return ErrorSummary(
        attempts=len(df),
        status_counts=counts,
        status_shares=_shares(counts, len(df)),
        rate_limited=counts.get("rate_limited", 0),
        http_status_counts=http,
        error_types=types,
        top_errors=top,
        distinct_errors=distinct,
    )


def _int_key(key: str) -> str:
    try:
        value = float(key)
    except ValueError:
        return key
    return str(int(value)) if value.is_integer() else key


def summarize_logical(df: pd.DataFrame) -> LogicalSummary:
    """Outcome of each logical request (its last attempt) and retry-spanning latency."""
    logical = logical_requests(df)
    counts = status_counts(logical)
    ok = logical["status"].eq("ok").fillna(False).to_numpy(dtype=bool)
    return LogicalSummary(
        requests=len(logical),
        retried=int((logical["attempts"] > 1).sum()),
        outcome_counts=counts,
        outcome_shares=_shares(counts, len(logical)),
        e2e_latency_s=percentiles(logical["e2e_latency_s"].to_numpy()[ok]),
    )


def _nansum_int(values: np.ndarray) -> int:
    return int(np.nansum(values)) if values.size else 0


def summarize_tokens(df: pd.DataFrame) -> TokenSummary:
    """Prompt and completion token totals of ok rows; token_source counts of all rows."""
    df = measured(df)
    ok = ok_mask(df)
    return TokenSummary(
        prompt_tokens=_nansum_int(column(df, "prompt_tokens")[ok]),
        completion_tokens=_nansum_int(column(df, "completion_tokens")[ok]),
        token_sources=value_counts(df, "token_source"),
    )


def cost_per_request(cost: np.ndarray, ok: np.ndarray) -> float | None:
    """The one definition of cost per request: mean ``cost`` of the ``ok`` rows that have one.

    ``cost`` is float with NaN for unknown, ``ok`` a boolean mask of the same length; None when
    no ok row has a cost (an unknown price is no cost, never zero).
    """
    chosen = cost[np.isfinite(cost) & ok]
    return float(chosen.mean()) if chosen.size else None


def summarize_cost(df: pd.DataFrame) -> CostSummary:
    """Total cost, cost per request / 1k requests / 1M tokens, and the cost sources."""
    df = measured(df)
    cost = column(df, "cost_usd")
    has_cost = np.isfinite(cost)
    per_request = cost_per_request(cost, ok_mask(df))

    tokens = column(df, "prompt_tokens") + column(df, "completion_tokens")
    both = has_cost & np.isfinite(tokens)
    token_sum = float(tokens[both].sum())
    per_1m = float(cost[both].sum()) / token_sum * 1e6 if token_sum > 0 else None

    return CostSummary(
        total_usd=float(cost[has_cost].sum()) if has_cost.any() else None,
        rows_with_cost=int(has_cost.sum()),
        per_request_usd=per_request,
        per_1k_requests_usd=per_request * 1000.0 if per_request is not None else None,
        per_1m_tokens_usd=per_1m,
        cost_sources=value_counts(df, "cost_source"),
    )
