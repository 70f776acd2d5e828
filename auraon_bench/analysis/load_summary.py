"""Per-arm, per-stage and whole-run summaries of a load test's request records.

Input: the records frame (one row per HTTP attempt). Warm-up rows (``warmup == True``)
are excluded from every statistic and only counted, as ``warmup_requests``. "Requests"
below are non-warm-up rows (attempts); logical requests are in ``logical``.

Method (row-level definitions in :mod:`~auraon_bench.analysis.records`)
    * Latency metrics of ok rows, as linear-interpolation percentiles with ``n``
      (:func:`~auraon_bench.analysis.stats.percentiles`): ``ttft_s``; ``ttlt_s`` (time to
      the last content event); ``tpot_s`` = (last − first content event) /
      (completion_tokens − 1), rows with < 2 tokens dropped; ``itl_s`` = every inter-token
      gap pooled across requests; ``latency_s`` (one attempt, send to the response's last
      byte, a stream's ``[DONE]`` included); ``output_tokens_per_s`` = (completion_tokens −
      1) / (last − first content event) per request; ``gateway_overhead_s`` = latency_s −
      server_latency_ms / 1000. None of these includes connection setup.
    * Connections, over all non-warm-up attempts: ``connect_s`` percentiles of the
      attempts that opened a new connection (DNS, TCP, TLS; n = connections opened) and
      ``connection_reused_share`` = attempts sent on a kept-alive connection / attempts
      whose connection is known (None when none is, e.g. records of schema version 1).
    * Window = first ``t_sent`` → last ``t_done`` of the non-warm-up rows of the slice
      (an arm, a stage, or the whole run: the union of its arms' windows).
      ``request_throughput`` = ok rows / window; ``output_token_throughput`` = sum of
      completion_tokens of ok rows / window.
    * Load generator health: ``schedule_lag_s`` percentiles of the scheduled sends (first
      attempts; in conversations, of first turns only: later turns leave when the previous
      answer arrives, so they have no schedule to keep), attempt start − scheduled time,
      before connection setup; and ``achieved_rate`` = (scheduled sends − 1) / send window
      (first → last ``t_sent`` of them): n sends span n − 1 gaps, so evenly spaced sends at
      rate R give exactly R (conversations per second in a multi-turn run).
    * Goodput (only when SLOs are given, e.g. ``{"ttft_s": 0.5, "tpot_s": 0.05,
      "latency_s": 10}``): a request is good if ok and every given metric is <= its
      threshold; ``request_goodput`` = good / window, ``good_fraction`` = good / the
      non-warm-up requests that have an outcome (``cancelled`` ones, cut in flight by the
      run's own stop, have none).
    * Errors per attempt, logical-request outcomes (last attempt) with retry-spanning
      latency, tokens and cost: :mod:`~auraon_bench.analysis.accounting`.

A run with several sweep stages (distinct non-missing ``stage`` values) is also summarised
per stage. Every summary has a ``to_dict()`` of plain ``str``/``int``/``float``/``bool``/
``None`` (NaN becomes ``None``) for ``summary.json``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import pandas as pd

from auraon_bench.analysis._json import jsonable
from auraon_bench.analysis.accounting import (
    CostSummary,
    ErrorSummary,
    LogicalSummary,
    TokenSummary,
    summarize_cost,
    summarize_errors,
    summarize_logical,
    summarize_tokens,
)
from auraon_bench.analysis.conversations import (
    CacheSummary,
    ConversationSummary,
    OutputCapSummary,
    summarize_cache,
    summarize_conversations,
    summarize_output_caps,
)
from auraon_bench.analysis.records import (
    cancelled_mask,
    column,
    connect_column,
    gateway_overhead,
    latency_column,
    measurement_window,
    ok_mask,
    output_tps_column,
    pooled_itl,
    reuse_masks,
    rows,
    schedule_lag_column,
    scheduled_mask,
    send_window,
    slo_mask,
    tpot_column,
    ttft_column,
    ttlt_column,
    validate_slos,
    warmup_mask,
)
from auraon_bench.analysis.stats import Percentiles, percentiles, rate
from auraon_bench.analysis.vllm_compat import vllm_view
from auraon_bench.results.typed import build_fields, from_dict

__all__ = [
    "SCHEMA_VERSION",
    "ArmSummary",
    "Goodput",
    "RunSummary",
    "StageSummary",
    "summarize_arm",
    "summarize_run",
    "vllm_view",
]

# Bumped when a field of to_dict() is renamed or removed, so readers of old summary.json
# files can tell which layout they hold. Fields added with a default (errors.top_errors and
# errors.distinct_errors, None in a file written before them) need no bump: an older file
# reads with the default, and an older auraon-bench reading a newer file ignores them.
SCHEMA_VERSION = 1


# The record columns the summaries read; reading only these keeps a million-row run small.
INPUT_COLUMNS = (
    "run_id",
    "arm",
    "attempt",
    "request_id",
    "stage",
    "warmup",
    "status",
    "http_status",
    "error_type",
    "error_message",
    "t_sent",
    "t_last_token",
    "t_done",
    "connect_s",
    "connection_reused",
    "ttft_s",
    "ttlt_s",
    "latency_s",
    "tpot_s",
    "itl_s",
    "schedule_lag_s",
    "prompt_tokens",
    "cached_tokens",
    "completion_tokens",
    "max_tokens",
    "session_id",
    "turn",
    "routed_to",
    "model_reported",
    "token_source",
    "cost_usd",
    "cost_source",
    "server_latency_ms",
)


def _fields_dict(obj: Any) -> dict[str, Any]:
    return {f.name: jsonable(getattr(obj, f.name)) for f in fields(obj)}


@dataclass(frozen=True, slots=True)
class Goodput:
    """Requests meeting every SLO: count, share of all requests, and rate per second."""

    slos: dict[str, float]
    good_requests: int
    good_fraction: float | None
    request_goodput: float | None

    def to_dict(self) -> dict[str, Any]:
        return _fields_dict(self)


def _no_samples() -> Percentiles:
    return percentiles(np.empty(0))


@dataclass(frozen=True, slots=True)
class ArmSummary:
    """Statistics of one slice of the records (an arm, a stage, or all); see the module."""

    arm: str | None
    requests: int
    warmup_requests: int
    ok: int
    window_s: float | None
    request_throughput: float | None
    output_token_throughput: float | None
    achieved_rate: float | None
    send_window_s: float | None
    ttft_s: Percentiles
    tpot_s: Percentiles
    itl_s: Percentiles
    latency_s: Percentiles
    output_tokens_per_s: Percentiles
    gateway_overhead_s: Percentiles
    schedule_lag_s: Percentiles
    goodput: Goodput | None
    errors: ErrorSummary
    logical: LogicalSummary
    tokens: TokenSummary
    cost: CostSummary
    # Added later, with defaults, so that older summary.json files still load.
    ttlt_s: Percentiles = field(default_factory=_no_samples)
    connect_s: Percentiles = field(default_factory=_no_samples)
    connection_reused_share: float | None = None
    # Prompt caching, conversations and output caps (analysis/conversations.py); None when
    # the run has none of them (no cached_tokens reported, single turns, no max_tokens).
    cache: CacheSummary | None = None
    conversations: ConversationSummary | None = None
    output_caps: OutputCapSummary | None = None

    def to_dict(self) -> dict[str, Any]:
        return _fields_dict(self)


@dataclass(frozen=True, slots=True)
class StageSummary:
    """One sweep stage: all its rows, and per arm."""

    stage: int
    overall: ArmSummary
    arms: tuple[ArmSummary, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "overall": self.overall.to_dict(),
            "arms": {str(a.arm): a.to_dict() for a in self.arms},
        }

    @classmethod
    def from_dict(
        cls, data: Any, *, source: str | None = None, where: str = "StageSummary"
    ) -> StageSummary:
        arms = _arms_from_dict(data, source, where)
        return build_fields(cls, data, source=source, where=where, arms=arms)


@dataclass(frozen=True, slots=True)
class RunSummary:
    """A whole run: overall (union window), per arm, and per stage when there are several."""

    run_ids: tuple[str, ...]
    slos: dict[str, float] | None
    overall: ArmSummary
    arms: tuple[ArmSummary, ...]
    stages: tuple[StageSummary, ...]
    # What summary.json states beside the statistics (set by the load session).
    simulated: bool = False
    status: str | None = None  # complete, interrupted, failed; None: not from a finished run
    self_check: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def arm(self, name: str) -> ArmSummary:
        """The summary of arm ``name``; ``KeyError`` if the run has no such arm."""
        for summary in self.arms:
            if summary.arm == name:
                return summary
        raise KeyError(f"no arm {name!r} (have {[a.arm for a in self.arms]})")

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "run_ids": list(self.run_ids),
            "slos": jsonable(self.slos),
            "overall": self.overall.to_dict(),
            "arms": {str(a.arm): a.to_dict() for a in self.arms},
            "stages": {str(s.stage): s.to_dict() for s in self.stages},
            "simulated": self.simulated,
            "status": self.status,
            "self_check": jsonable(self.self_check),
            "warnings": list(self.warnings),
        }

    @classmethod
    def from_dict(
        cls, data: Any, *, source: str | None = None, where: str = "RunSummary"
    ) -> RunSummary:
        """The inverse of :meth:`to_dict` (any ``summary.json`` since schema version 1)."""
        stages = data.get("stages") if isinstance(data, dict) else None
        return build_fields(
            cls,
            data,
            source=source,
            where=where,
            arms=_arms_from_dict(data, source, where),
            stages=tuple(
                from_dict(StageSummary, v, source=source, where=f"{where}.stages.{k}")
                for k, v in (stages or {}).items()
            ),
        )


def _arms_from_dict(data: Any, source: str | None, where: str) -> tuple[ArmSummary, ...]:
    arms = data.get("arms") if isinstance(data, dict) else None
    return tuple(
        from_dict(ArmSummary, v, source=source, where=f"{where}.arms.{k}")
        for k, v in (arms or {}).items()
    )


def _length(window: tuple[float, float] | None) -> float | None:
    return window[1] - window[0] if window is not None else None


def _summarize(
    df: pd.DataFrame,
    slos: dict[str, float],
    arm: str | None,
    discounts: Mapping[str, float] | None = None,
) -> ArmSummary:
    warm = warmup_mask(df)
    m = rows(df, ~warm)
    ok = ok_mask(m)
    ok_rows = rows(m, ok)
    n_ok = int(ok.sum())
    window_s = _length(measurement_window(m))
    tokens = summarize_tokens(m)

    first = scheduled_mask(m)  # conversations: their first turns
    sent = int(np.isfinite(column(m, "t_sent")[first]).sum())
    reused, known = reuse_masks(m)
    n_known = int(known.sum())
    send_window_s = _length(send_window(m))

    goodput = None
    if slos:
        good = int(slo_mask(m, slos).sum())
        decided = len(m) - int(cancelled_mask(m).sum())
        goodput = Goodput(
            slos=dict(slos),
            good_requests=good,
            good_fraction=good / decided if decided else None,
            request_goodput=rate(good, window_s),
        )

    return ArmSummary(
        arm=arm,
        requests=len(m),
        warmup_requests=int(warm.sum()),
        ok=n_ok,
        window_s=window_s,
        request_throughput=rate(n_ok, window_s),
        output_token_throughput=rate(tokens.completion_tokens, window_s),
        achieved_rate=rate(max(sent - 1, 0), send_window_s),
        send_window_s=send_window_s,
        ttft_s=percentiles(ttft_column(ok_rows)),
        tpot_s=percentiles(tpot_column(ok_rows)),
        itl_s=percentiles(pooled_itl(m)),
        latency_s=percentiles(latency_column(ok_rows)),
        output_tokens_per_s=percentiles(output_tps_column(ok_rows)),
        gateway_overhead_s=percentiles(gateway_overhead(ok_rows)),
        schedule_lag_s=percentiles(schedule_lag_column(m)[first]),
        goodput=goodput,
        errors=summarize_errors(m),
        logical=summarize_logical(m),
        tokens=tokens,
        cost=summarize_cost(m),
        ttlt_s=percentiles(ttlt_column(ok_rows)),
        connect_s=percentiles(connect_column(m)),
        connection_reused_share=int(reused.sum()) / n_known if n_known else None,
        cache=summarize_cache(m, discounts),
        conversations=summarize_conversations(m, discounts),
        output_caps=summarize_output_caps(m),
    )


def _distinct(df: pd.DataFrame, name: str) -> list[Any]:
    if name not in df.columns:
        return []
    values = df[name].dropna().unique().tolist()
    return sorted(values, key=lambda v: (str(type(v)), v))


def _where(df: pd.DataFrame, name: str, value: Any) -> pd.DataFrame:
    # eq + fillna: a missing value compares as NA, which boolean indexing rejects.
    mask = df[name].eq(value).fillna(False).to_numpy(dtype=bool)
    return rows(df, mask)


def summarize_arm(
    df_arm: pd.DataFrame, slos: Mapping[str, float] | None = None, *, arm: str | None = None
) -> ArmSummary:
    """Summary of ``df_arm``; ``arm`` defaults to the frame's single ``arm`` value, if any."""
    checked = validate_slos(slos)
    if arm is None:
        arms = _distinct(df_arm, "arm")
        arm = str(arms[0]) if len(arms) == 1 else None
    return _summarize(df_arm, checked, arm)


def _per_arm(
    df: pd.DataFrame, slos: dict[str, float], discounts: Mapping[str, float] | None = None
) -> tuple[ArmSummary, ...]:
    return tuple(
        _summarize(_where(df, "arm", a), slos, str(a), discounts) for a in _distinct(df, "arm")
    )


def summarize_run(
    df: pd.DataFrame,
    slos: Mapping[str, float] | None = None,
    *,
    discounts: Mapping[str, float] | None = None,
) -> RunSummary:
    """Overall, per-arm and (with several stages) per-stage summaries of a run's records.

    Rows with a missing ``arm`` (or ``stage``) count in the overall summary only.
    ``discounts``: USD per 1M tokens a cache read saves, per serving model (the cache's
    cost without caching and a switch's lost discount need them; see analysis/conversations).
    """
    checked = validate_slos(slos)
    stages: list[StageSummary] = []
    stage_values = _distinct(df, "stage")
    if len(stage_values) > 1:
        for value in stage_values:
            sub = _where(df, "stage", value)
            stages.append(
                StageSummary(int(value), _summarize(sub, checked, None), _per_arm(sub, checked))
            )
    return RunSummary(
        run_ids=tuple(str(r) for r in _distinct(df, "run_id")),
        slos=checked or None,
        overall=_summarize(df, checked, None, discounts),
        arms=_per_arm(df, checked, discounts),
        stages=tuple(stages),
    )
