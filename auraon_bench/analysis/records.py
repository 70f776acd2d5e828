"""Row-level metrics of load-test request records and the windows and groupings they need.

Input is the records frame: one row per HTTP attempt, timestamps in seconds since run
start (may be NaN). Every function tolerates missing columns (read as all-NaN / absent),
so partial frames from tests or older runs still summarise.

Definitions (per row unless stated; send time is after any connection setup, so none of
these includes DNS, TCP or TLS)
    * TTFT = first content event − send time: column ``ttft_s``, else
      ``t_first_token − t_sent`` when the column is absent.
    * TTLT (time to last token) = last content event − send time: column ``ttlt_s``; where
      that is missing but the row has a TTFT (records of schema version 1, which had no such
      column), ``t_last_token − t_sent``, else ``latency_s`` (version 1's streaming latency
      ended at the last content event).
    * latency (end-to-end, one attempt) = last byte of the response (a stream's ``[DONE]``
      included) − send time: column ``latency_s``, else ``t_done − t_sent``.
    * TPOT = (TTLT − TTFT) / (completion_tokens − 1) = (last − first content event) /
      (completion_tokens − 1), NaN when completion_tokens < 2 or unknown: the one definition
      in :func:`auraon_bench.formulas.tpot`, which the client uses too. Recomputed here from
      ``ttlt_s``, ``ttft_s`` and ``completion_tokens``; the stored ``tpot_s`` column is used
      only when ``completion_tokens`` is absent.
    * output tok/s of a request = (completion_tokens − 1) / (TTLT − TTFT), the inverse of
      TPOT (:func:`auraon_bench.formulas.output_tps`), NaN when undefined.
    * ITL: every gap in ``itl_s`` of the ok rows, pooled across requests (vLLM's
      definition: a long answer contributes more gaps than a short one).
    * gateway overhead = latency_s − server_latency_ms / 1000 where both are present.
    * schedule lag = ``schedule_lag_s`` (else ``t_sent − t_scheduled``) of first attempts:
      retries are timed by back-off, not by the arrival schedule. The client stamps it at
      the attempt start, before connection setup (records of schema version 1: at the send).
    * connection setup = ``connect_s`` of the attempts that opened a new connection (null
      when the connection was reused); reuse = ``connection_reused`` where known.

Status ``cancelled`` (the run's own stop cut the attempt in flight: it was sent, but it has no
outcome from the target) is counted with the other statuses, never as ok, and its row's end is
the cancel, which no timing below reads as the target's: only ok rows give latencies, and the
measurement window does not end at a cancel.

Aggregates (these drop warm-up rows themselves, ``warmup == True``)
    * measurement window = first ``t_sent`` → last ``t_done`` over all non-warm-up rows,
      errors included (a late timeout still occupies the run); a cancelled row's ``t_sent``
      counts, its ``t_done`` (the moment the run gave up on it) does not.
    * send window = first → last ``t_sent`` of non-warm-up first attempts.
    * logical requests: attempts grouped by ``(run_id, stage, request_id)``; the outcome is the
      last attempt's (highest ``attempt``, then latest ``t_sent``) and the end-to-end
      latency is the last attempt's ``t_done`` − the first attempt's ``t_sent``, so it
      covers retries and back-off. A row without ``request_id`` is its own request.
    * SLO check: a row is good if ``status == "ok"`` and every given metric is <= its
      threshold (inclusive, as vLLM). An undefined value fails, except TPOT of an answer
      with fewer than 2 tokens, which passes: it has no per-token time to violate (vLLM
      counts it as 0).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from auraon_bench import formulas
from auraon_bench.results.schema import STATUS_ORDER

__all__ = [
    "SLO_METRICS",
    "STATUSES",
    "cancelled_mask",
    "column",
    "connect_column",
    "first_attempt_mask",
    "gateway_overhead",
    "latency_column",
    "logical_requests",
    "measured",
    "measurement_window",
    "ok_mask",
    "output_tps",
    "output_tps_column",
    "pooled_itl",
    "reuse_masks",
    "schedule_lag_column",
    "scheduled_mask",
    "send_window",
    "slo_mask",
    "status_counts",
    "tpot",
    "tpot_column",
    "ttft_column",
    "ttlt_column",
    "validate_slos",
    "value_counts",
    "warmup_mask",
]

STATUSES: tuple[str, ...] = STATUS_ORDER  # every outcome, always listed, in this order
SLO_METRICS: tuple[str, ...] = ("ttft_s", "tpot_s", "latency_s")
_MISSING = "missing"


def _as_float(values: Any) -> np.ndarray:
    """``values`` (scalar, sequence, Series, nullable ints) as float64 with NaN for missing."""
    if isinstance(values, pd.Series | pd.Index):
        numeric = pd.to_numeric(values, errors="coerce")
        # copy: copy-on-write pandas may hand out a read-only view of its buffer.
        return numeric.to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
    if values is None or values is pd.NA:
        return np.asarray(np.nan)
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        series = pd.Series(list(np.atleast_1d(np.asarray(values, dtype=object))), dtype=object)
        return _as_float(series)


def _scalar_or_array(out: np.ndarray) -> float | np.ndarray:
    return float(out) if out.ndim == 0 else out


def column(df: pd.DataFrame, name: str) -> np.ndarray:
    """Column ``name`` as float64 (NaN for missing values); all-NaN if the column is absent."""
    if name not in df.columns:
        return np.full(len(df), np.nan)
    return _as_float(df[name])


def _bool_column(df: pd.DataFrame, name: str, value: object) -> np.ndarray:
    if name not in df.columns:
        return np.zeros(len(df), dtype=bool)
    # eq() then fillna: nullable dtypes give NA for missing, which is "not equal". Copied
    # because pandas' copy-on-write hands out read-only views and callers combine masks.
    return np.array(df[name].eq(value).fillna(False), dtype=bool)


def warmup_mask(df: pd.DataFrame) -> np.ndarray:
    """True for warm-up rows (``warmup == True``; missing counts as measured)."""
    return _bool_column(df, "warmup", True)


def rows(df: pd.DataFrame, mask: np.ndarray) -> pd.DataFrame:
    """``df.loc[mask]``, but the frame itself when every row is kept: a million-row run is
    not copied to drop nothing."""
    return df if mask.all() else df.loc[mask]


def measured(df: pd.DataFrame) -> pd.DataFrame:
    """The non-warm-up rows (the frame itself when there is no warm-up: no copy of a large run)."""
    return rows(df, ~warmup_mask(df))


def ok_mask(df: pd.DataFrame) -> np.ndarray:
    """True where ``status == "ok"``."""
    return _bool_column(df, "status", "ok")


def cancelled_mask(df: pd.DataFrame) -> np.ndarray:
    """True where ``status == "cancelled"``: attempts the run cut in flight."""
    return _bool_column(df, "status", "cancelled")


def first_attempt_mask(df: pd.DataFrame) -> np.ndarray:
    """True for first attempts (``attempt`` <= 1 or unknown)."""
    attempt = column(df, "attempt")
    return ~(attempt > 1)


def _column_or(df: pd.DataFrame, name: str, end: str, start: str) -> np.ndarray:
    if name in df.columns:
        return column(df, name)
    return column(df, end) - column(df, start)


def ttft_column(df: pd.DataFrame) -> np.ndarray:
    """Per-row TTFT in seconds (``ttft_s``, else ``t_first_token − t_sent``)."""
    return _column_or(df, "ttft_s", "t_first_token", "t_sent")


def ttlt_column(df: pd.DataFrame) -> np.ndarray:
    """Per-row time to the last content event in seconds (``ttlt_s``; see the module for the
    fallback of older records)."""
    ttlt = column(df, "ttlt_s")
    missing = np.isnan(ttlt)
    if not missing.any():
        return ttlt
    older = column(df, "t_last_token") - column(df, "t_sent")
    older = np.where(np.isnan(older), latency_column(df), older)
    return np.where(missing & ~np.isnan(ttft_column(df)), older, ttlt)


def latency_column(df: pd.DataFrame) -> np.ndarray:
    """Per-row attempt latency in seconds (``latency_s``, else ``t_done − t_sent``)."""
    return _column_or(df, "latency_s", "t_done", "t_sent")


def schedule_lag_column(df: pd.DataFrame) -> np.ndarray:
    """Per-row schedule lag in seconds (``schedule_lag_s``, else ``t_sent − t_scheduled``)."""
    return _column_or(df, "schedule_lag_s", "t_sent", "t_scheduled")


def tpot(ttlt: Any, ttft: Any, completion_tokens: Any) -> float | np.ndarray:
    """(TTLT − TTFT) / (completion_tokens − 1), :func:`auraon_bench.formulas.tpot`; NaN when
    completion_tokens < 2 or anything is unknown. Scalars or array-likes (nullable dtypes too)."""
    last, first, tokens = (_as_float(v) for v in (ttlt, ttft, completion_tokens))
    return _scalar_or_array(formulas.tpot(first, last, tokens))


def output_tps(ttlt: Any, ttft: Any, completion_tokens: Any) -> float | np.ndarray:
    """(completion_tokens − 1) / (TTLT − TTFT), :func:`auraon_bench.formulas.output_tps`; NaN
    when completion_tokens < 2, the decode time is not positive, or anything is unknown."""
    last, first, tokens = (_as_float(v) for v in (ttlt, ttft, completion_tokens))
    return _scalar_or_array(formulas.output_tps(first, last, tokens))


def tpot_column(df: pd.DataFrame) -> np.ndarray:
    """Per-row TPOT in seconds, see :func:`tpot`."""
    if "completion_tokens" not in df.columns:
        return column(df, "tpot_s")
    out = tpot(ttlt_column(df), ttft_column(df), column(df, "completion_tokens"))
    return np.atleast_1d(out)


def output_tps_column(df: pd.DataFrame) -> np.ndarray:
    """Per-row output tokens per second, see :func:`output_tps`."""
    out = output_tps(ttlt_column(df), ttft_column(df), column(df, "completion_tokens"))
    return np.atleast_1d(out)


def connect_column(df: pd.DataFrame) -> np.ndarray:
    """Per-row connection setup in seconds (``connect_s``): NaN unless the row opened a new
    connection."""
    return column(df, "connect_s")


def reuse_masks(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(reused, known): ``connection_reused`` is true / is not null, per row."""
    if "connection_reused" not in df.columns:
        return np.zeros(len(df), dtype=bool), np.zeros(len(df), dtype=bool)
    return _bool_column(df, "connection_reused", True), np.array(
        df["connection_reused"].notna(), dtype=bool
    )


def gateway_overhead(df: pd.DataFrame) -> np.ndarray:
    """Per-row ``latency_s − server_latency_ms / 1000``; NaN unless both are present."""
    return latency_column(df) - column(df, "server_latency_ms") / 1000.0


def _gaps(value: Any) -> np.ndarray | None:
    if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)):
        return None
    return _as_float(value).ravel()


def pooled_itl(df: pd.DataFrame) -> np.ndarray:
    """Every finite inter-token gap of the non-warm-up ok rows, concatenated in row order."""
    if "itl_s" not in df.columns:
        return np.empty(0)
    rows = df["itl_s"].to_numpy(dtype=object)[ok_mask(df) & ~warmup_mask(df)]
    parts = [g for g in map(_gaps, rows) if g is not None and g.size]
    if not parts:
        return np.empty(0)
    gaps = np.concatenate(parts)
    return gaps[np.isfinite(gaps)]


def _span(start: np.ndarray, end: np.ndarray) -> tuple[float, float] | None:
    start, end = start[np.isfinite(start)], end[np.isfinite(end)]
    if not start.size or not end.size:
        return None
    return (float(start.min()), float(end.max()))


def measurement_window(df: pd.DataFrame) -> tuple[float, float] | None:
    """(first ``t_sent``, last ``t_done``) over non-warm-up rows, cancelled rows' ends left
    out; None if undefined."""
    keep = ~warmup_mask(df)
    ended = keep & ~cancelled_mask(df)
    return _span(column(df, "t_sent")[keep], column(df, "t_done")[ended])


def scheduled_mask(df: pd.DataFrame) -> np.ndarray:
    """True for the sends the schedule timed: first attempts, except a conversation's later
    turns, which go out when the previous answer arrives (plus think time), not at a time
    the schedule set, so their lag is no measure of the load generator keeping up."""
    return first_attempt_mask(df) & ~(column(df, "turn") > 1)


def send_window(df: pd.DataFrame) -> tuple[float, float] | None:
    """(first, last) ``t_sent`` of non-warm-up scheduled sends; None if none was sent."""
    sent = column(df, "t_sent")[~warmup_mask(df) & scheduled_mask(df)]
    return _span(sent, sent)


def validate_slos(slos: Mapping[str, float] | None) -> dict[str, float]:
    """``slos`` checked (known metric names, finite thresholds >= 0) as a plain dict."""
    if not slos:
        return {}
    out: dict[str, float] = {}
    for name, threshold in slos.items():
        if name not in SLO_METRICS:
            raise ValueError(f"slos: unknown metric {name!r}; expected one of {SLO_METRICS}")
        value = float(threshold)
        if not np.isfinite(value) or value < 0:
            raise ValueError(f"slos[{name!r}]: must be a finite number >= 0, got {threshold!r}")
        out[name] = value
    return out


def slo_mask(df: pd.DataFrame, slos: Mapping[str, float] | None) -> np.ndarray:
    """True for ok rows meeting every SLO in ``slos`` (all ok rows when ``slos`` is empty)."""
    checked = validate_slos(slos)
    good = ok_mask(df)
    for name, threshold in checked.items():
        if name == "ttft_s":
            good &= ttft_column(df) <= threshold
        elif name == "latency_s":
            good &= latency_column(df) <= threshold
        else:
            tokens = column(df, "completion_tokens")
            good &= (tpot_column(df) <= threshold) | (tokens < 2)
    return good


def value_counts(df: pd.DataFrame, name: str) -> dict[str, int]:
    """Counts of the values of column ``name`` (missing as "missing"), most frequent first."""
    if name not in df.columns or df.empty:
        return {}
    keys = df[name].astype("string").fillna(_MISSING)
    counts = keys.value_counts(sort=False)
    # Sort by count descending, then key, so the output is deterministic.
    ordered = sorted(counts.items(), key=lambda kv: (-int(kv[1]), str(kv[0])))
    return {str(k): int(v) for k, v in ordered}


def status_counts(df: pd.DataFrame) -> dict[str, int]:
    """Counts per status: every known status (zero-filled, in :data:`STATUSES` order) first."""
    seen = value_counts(df, "status")
    out = {s: seen.pop(s, 0) for s in STATUSES}
    out.update(seen)
    return out


def _request_keys(df: pd.DataFrame) -> np.ndarray:
    """An int64 code per row, equal for the attempts of one logical request.

    Concatenated runs (and schedules numbered per stage) may reuse request ids; run and stage
    make them unique, and retries never change either. Integer codes, not strings: a million
    rows must not become a million Python objects. A row without a request id is its own
    request.
    """
    n = len(df)
    if "request_id" not in df.columns:
        return np.arange(n, dtype=np.int64)
    rid = pd.factorize(df["request_id"], use_na_sentinel=True)[0].astype(np.int64)
    missing = rid < 0
    keys = {"request_id": rid}
    for name in ("stage", "run_id"):
        if name in df.columns:
            keys[name] = pd.factorize(df[name], use_na_sentinel=True)[0]
    if len(keys) == 1:
        codes = keys["request_id"].copy()
    else:
        grouped = pd.DataFrame(keys).groupby(list(keys), sort=False).ngroup()
        codes = np.array(grouped, dtype=np.int64)  # a writable copy
    if missing.any():
        top = int(codes.max(initial=-1)) + 1
        codes[missing] = top + np.arange(int(missing.sum()))
    return codes


def logical_requests(df: pd.DataFrame) -> pd.DataFrame:
    """One row per non-warm-up logical request.

    Columns: ``request_id, arm, stage`` (when present), ``attempts, status`` (the last
    attempt's), ``t_first_sent, t_done`` (the last attempt's), ``e2e_latency_s``.
    """
    df = measured(df)
    attempt = column(df, "attempt")
    keys = _request_keys(df)
    if not np.any(attempt > 1) and len(np.unique(keys)) == len(keys):
        return _single_attempts(df)  # no retries: every row is its own request, no sorting
    work = pd.DataFrame(
        {
            "key": keys,
            "attempt": np.where(np.isnan(attempt), 1.0, attempt),
            "t_sent": column(df, "t_sent"),
            "pos": np.arange(len(df)),
        }
    )
    work = work.sort_values(["key", "attempt", "t_sent", "pos"], kind="stable")
    first = work.drop_duplicates("key", keep="first")
    last = work.drop_duplicates("key", keep="last")
    attempts = work.groupby("key", sort=False).size()
    last_pos = last["pos"].to_numpy()

    out: dict[str, Any] = {}
    for name in ("request_id", "arm", "stage"):
        if name in df.columns:
            out[name] = df[name].iloc[last_pos].to_numpy()
    out["attempts"] = attempts.loc[last["key"]].to_numpy(dtype=np.int64)
    if "status" in df.columns:
        out["status"] = df["status"].iloc[last_pos].to_numpy(dtype=object)
    else:
        out["status"] = np.full(len(last_pos), None, dtype=object)
    t_first_sent = first["t_sent"].to_numpy()
    t_done = column(df, "t_done")[last_pos]
    out["t_first_sent"] = t_first_sent
    out["t_done"] = t_done
    out["e2e_latency_s"] = t_done - t_first_sent
    return pd.DataFrame(out)


def _single_attempts(df: pd.DataFrame) -> pd.DataFrame:
    """``logical_requests`` when no request was retried: one attempt each."""
    out: dict[str, Any] = {}
    for name in ("request_id", "arm", "stage"):
        if name in df.columns:
            out[name] = df[name].to_numpy()
    out["attempts"] = np.ones(len(df), dtype=np.int64)
    out["status"] = (
        df["status"].to_numpy(dtype=object)
        if "status" in df.columns
        else np.full(len(df), None, dtype=object)
    )
    out["t_first_sent"] = column(df, "t_sent")
    out["t_done"] = column(df, "t_done")
    out["e2e_latency_s"] = out["t_done"] - out["t_first_sent"]
    return pd.DataFrame(out)
