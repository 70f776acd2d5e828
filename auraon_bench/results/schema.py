"""The request record: one row per HTTP attempt, its Arrow schema and its fast row builder.

Every column is declared once, in :data:`COLUMNS`; the Arrow schema (:data:`REQUEST_SCHEMA`),
the row class (:class:`RequestRecord`) and the batch converter (:func:`records_to_batch`) are all
derived from it, so a column cannot be added in one place and forgotten in another. A test checks
that the table below documents exactly the columns of :data:`COLUMNS`, in order.

Times ``t_*`` are seconds since the run start, read from one monotonic clock
(``time.perf_counter_ns``), so differences between them are durations; they are never wall time.
A column is nullable unless marked *required*; null means "did not happen" or "unknown", never 0.

=============================  ============  =======  ==============================================
column                         type          unit     meaning
=============================  ============  =======  ==============================================
run_id                         string        -        run this attempt belongs to (*required*)
arm                            string        -        model id the schedule asked for (*required*)
attempt                        int32         -        1-based attempt number of a logical request
request_id                     int64         -        schedule index; its retries share it [6]
session_id                     int64         -        conversation of a multi-turn run [6]
turn                           int32         -        1-based turn within its conversation [6]
prompt_id                      string        -        dataset prompt id
category                       string        -        dataset category of the prompt
stage                          int32         -        sweep stage index
warmup                         bool          -        the request was warm-up, excluded from stats
worker                         int32         -        id of the worker that sent it
model_requested                string        -        ``model`` sent in the request body
model_reported                 string        -        ``model`` in the response
routed_to                      string        -        model the gateway says it routed to
routing_reason                 string        -        gateway's routing explanation
response_id                    string        -        ``id`` of the response (or its chunks) [8]
gateway_request_id             string        -        the gateway's request id header [8]
client_request_id              string        -        ``x-request-id`` this client sent [8]
status                         string        -        outcome, one of :data:`STATUSES` (*required*)
http_status                    int32         -        HTTP status code
error_type                     string        -        ``error.type`` of an error body
error_code                     string        -        ``error.code`` of an error body
error_message                  string        -        error text (body message or exception)
t_scheduled                    float64       s        when the schedule wanted it sent
t_sent                         float64       s        request written to an open connection [1]
t_first_byte                   float64       s        first response byte (headers)
t_first_token                  float64       s        first content event
t_last_token                   float64       s        last content event
t_done                         float64       s        last response byte, or attempt abandoned [2]
schedule_lag_s                 float64       s        attempt start - ``t_scheduled`` [3]
connect_s                      float64       s        DNS + TCP (+ TLS) of a new connection [4]
connection_reused              bool          -        sent on a kept-alive connection [4]
ttft_s                         float64       s        ``t_first_token - t_sent``
ttlt_s                         float64       s        ``t_last_token - t_sent`` (time to last token)
latency_s                      float64       s        ``t_done - t_sent``, an answer read whole [2]
tpot_s                         float64       s        time per output token after the first [5]
itl_s                          list<float32> s        every gap between consecutive content events
n_events                       int32         -        content events received
prompt_tokens                  int32         tokens   prompt tokens
cached_tokens                  int32         tokens   prompt tokens read from the target's cache [7]
completion_tokens              int32         tokens   completion tokens
max_tokens                     int32         tokens   ``max_tokens`` the request asked for
token_source                   string        -        counts from: usage|estimated|none
cost_usd                       float64       USD      cost of this attempt
cost_source                    string        -        one of :data:`COST_SOURCES`
server_latency_ms              float64       ms       latency the gateway reported for itself
retry_after_s                  float64       s        ``Retry-After`` header
ratelimit_limit_requests       int64         -        ``x-ratelimit-limit-requests``
ratelimit_remaining_requests   int64         -        ``x-ratelimit-remaining-requests``
ratelimit_limit_tokens         int64         tokens   ``x-ratelimit-limit-tokens``
ratelimit_remaining_tokens     int64         tokens   ``x-ratelimit-remaining-tokens``
ratelimit_reset_requests_s     float64       s        ``x-ratelimit-reset-requests``, parsed
ratelimit_reset_tokens_s       float64       s        ``x-ratelimit-reset-tokens``, parsed
stream                         bool          -        the request asked for a stream
finish_reason                  string        -        ``finish_reason`` of the choice
response_text                  string        -        the answer; tool calls as a JSON list
correct                        bool          -        the graded answer was right
score                          float64       -        grader score
extracted_answer               string        -        answer the grader extracted
extraction_method              string        -        how the grader found it (``last_number``, ...)
grade_failure                  string        -        why it scored 0: empty, refused, error, ...
=============================  ============  =======  ==============================================

Notes (docs/metrics.md has every formula):

1. ``t_sent`` is when the request was written to an open connection, after any connection setup,
   so neither TTFT nor latency includes DNS, TCP or TLS. For an attempt that never got a
   connection (refused, DNS failure, connect timeout), or a transport that cannot report the
   moment, it is the attempt start.
2. ``t_done`` is the arrival of the response's last byte: a stream's final event (``[DONE]``, after
   the finish and usage chunks), a whole body. ``latency_s`` is set for answers read whole
   (null for a transport failure or a non-200 status).
3. The attempt start is when the client began the attempt, before connection setup: the lag is
   the load generator's own delay (``t_scheduled + schedule_lag_s`` is the attempt start).
4. ``connect_s`` is null when the request reused a connection (``connection_reused`` true), when
   opening one failed (``connection_reused`` false) and when the transport cannot tell (both
   null). Only new connections have a setup time, so its percentiles are over those.
5. ``tpot_s`` = ``(t_last_token - t_first_token) / (completion_tokens - 1)``, null below 2 tokens.

6. In a multi-turn run every turn is a logical request of its own: ``session_id`` is the
   conversation's schedule index, ``turn`` counts from 1, and ``request_id`` is
   ``session_id * TURN_STRIDE + turn - 1`` (so ids stay unique across worker processes).
   Single-turn runs leave ``session_id`` and ``turn`` null.
7. ``usage.prompt_tokens_details.cached_tokens`` (OpenAI's field, billed at the cache-read
   price); null when the target does not report it, 0 for a reported miss.
8. To join an attempt with the gateway's own logs and traces: the client sends a fresh UUID as
   ``x-request-id`` with every attempt (``client_request_id``); ``gateway_request_id`` is the
   first of the response headers ``x-request-id``, ``request-id``, ``x-litellm-call-id`` and
   ``cf-ray`` present (a gateway that echoes the client's id gives the same value);
   ``response_id`` is the body's ``id`` (a stream's chunks share it).

``ttft_s``, ``ttlt_s`` and ``tpot_s`` exist for streamed answers only.

Status ``cancelled``: the run itself cut the attempt (still in flight at the end of the grace
period after Ctrl-C, SIGTERM or the money guard, or at a second Ctrl-C). It was sent and may be
billed, so it is kept, but it is no outcome of the target: neither ok nor an error. ``t_sent``
is as in note 1, ``t_done`` is the cancel, ``latency_s`` stays null (nothing was read whole;
``t_done - t_sent`` is how long it was in flight), ``error_type`` is ``cancelled`` and
``error_message`` says why; whatever had arrived (``t_first_byte``, ``http_status``, and the
first tokens when the client recorded them) stays.

Version 1 files (before
``connect_s``, ``connection_reused`` and ``ttlt_s``) read with those columns null; their ``t_sent``
included connection setup and their streaming ``latency_s`` ended at the last content event.
"""

from __future__ import annotations

import dataclasses
import itertools
import operator
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import pyarrow as pa

SCHEMA_VERSION = 2
"""Bumped when a column changes meaning or type; readers refuse files newer than they know.

2: ``connect_s``, ``connection_reused`` and ``ttlt_s`` added; ``t_sent`` after connection setup;
streaming ``latency_s`` to the last byte (``[DONE]``) instead of the last content event.

Not bumped for ``session_id``, ``turn``, ``cached_tokens``, ``max_tokens`` and the three request
ids ``response_id``, ``gateway_request_id`` and ``client_request_id`` (added within
version 2): an older file reads them as nulls, which is what they mean there (single-turn, cache
not reported, cap unknown), and an older auraon-bench reading a newer file ignores them.

Not bumped for the status ``cancelled`` (added within version 2): no column changed meaning or
type, and the value only appears in runs cut short (an interruption, the money guard), which
their manifest says. An older auraon-bench still reads such a file and counts a cancelled attempt
as not ok, among that partial run's failures: a misjudgement of a run already marked
incomplete. Bumping would have made it refuse every new file, complete runs included, for a
value that most of them never hold."""

VERSION_KEY = b"auraon_bench.schema_version"
"""Parquet key-value metadata entry that carries :data:`SCHEMA_VERSION`."""

TURN_STRIDE = 1024
"""Turns per conversation, at most: ``request_id = session_id * TURN_STRIDE + turn - 1``."""

STATUS_ORDER: tuple[str, ...] = (
    "ok",
    "http_error",
    "rate_limited",
    "timeout",
    "connection_error",
    "protocol_error",
    "cancelled",  # cut in flight by the run's own stop: sent, but no outcome of the target
)
"""Every outcome of an attempt, in the order summaries list them."""
STATUSES = frozenset(STATUS_ORDER)
TOKEN_SOURCES = frozenset({"usage", "estimated", "none"})
COST_SOURCES = frozenset({"blockrun", "auraon", "openrouter", "litellm", "price_table", "none"})

# Columns whose values must come from a closed set; checked on every batch, because a typo in
# the load runner would otherwise silently split one outcome into two in every report.
ENUM_COLUMNS: dict[str, frozenset[str]] = {
    "status": STATUSES,
    "token_source": TOKEN_SOURCES,
    "cost_source": COST_SOURCES,
}


class Column(NamedTuple):
    name: str
    type: pa.DataType
    nullable: bool = True


_S, _I32, _I64, _F64, _B = pa.string(), pa.int32(), pa.int64(), pa.float64(), pa.bool_()
_F32_LIST = pa.list_(pa.float32())

COLUMNS: tuple[Column, ...] = (
    # identity
    Column("run_id", _S, nullable=False),
    Column("arm", _S, nullable=False),
    Column("attempt", _I32),
    Column("request_id", _I64),
    Column("session_id", _I64),
    Column("turn", _I32),
    Column("prompt_id", _S),
    Column("category", _S),
    Column("stage", _I32),
    Column("warmup", _B),
    Column("worker", _I32),
    # models
    Column("model_requested", _S),
    Column("model_reported", _S),
    Column("routed_to", _S),
    Column("routing_reason", _S),
    Column("response_id", _S),
    Column("gateway_request_id", _S),
    Column("client_request_id", _S),
    # outcome
    Column("status", _S, nullable=False),
    Column("http_status", _I32),
    Column("error_type", _S),
    Column("error_code", _S),
    Column("error_message", _S),
    # timestamps (seconds since run start, monotonic)
    Column("t_scheduled", _F64),
    Column("t_sent", _F64),
    Column("t_first_byte", _F64),
    Column("t_first_token", _F64),
    Column("t_last_token", _F64),
    Column("t_done", _F64),
    # derived
    Column("schedule_lag_s", _F64),
    Column("connect_s", _F64),
    Column("connection_reused", _B),
    Column("ttft_s", _F64),
    Column("ttlt_s", _F64),
    Column("latency_s", _F64),
    Column("tpot_s", _F64),
    Column("itl_s", _F32_LIST),
    Column("n_events", _I32),
    # tokens and cost
    Column("prompt_tokens", _I32),
    Column("cached_tokens", _I32),
    Column("completion_tokens", _I32),
    Column("max_tokens", _I32),
    Column("token_source", _S),
    Column("cost_usd", _F64),
    Column("cost_source", _S),
    Column("server_latency_ms", _F64),
    # rate limits
    Column("retry_after_s", _F64),
    Column("ratelimit_limit_requests", _I64),
    Column("ratelimit_remaining_requests", _I64),
    Column("ratelimit_limit_tokens", _I64),
    Column("ratelimit_remaining_tokens", _I64),
    Column("ratelimit_reset_requests_s", _F64),
    Column("ratelimit_reset_tokens_s", _F64),
    # response
    Column("stream", _B),
    Column("finish_reason", _S),
    Column("response_text", _S),
    Column("correct", _B),
    Column("score", _F64),
    Column("extracted_answer", _S),
    Column("extraction_method", _S),
    Column("grade_failure", _S),
)

COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in COLUMNS)
REQUIRED_COLUMNS: tuple[str, ...] = tuple(c.name for c in COLUMNS if not c.nullable)

REQUEST_SCHEMA: pa.Schema = pa.schema(
    [pa.field(c.name, c.type, nullable=c.nullable) for c in COLUMNS],
    metadata={VERSION_KEY: str(SCHEMA_VERSION).encode()},
)


def _python_type(arrow_type: pa.DataType) -> Any:
    """The annotation a field of :class:`RequestRecord` gets for an Arrow column type."""
    if pa.types.is_string(arrow_type):
        return str
    if pa.types.is_integer(arrow_type):
        return int
    if pa.types.is_floating(arrow_type):
        return float
    if pa.types.is_boolean(arrow_type):
        return bool
    if pa.types.is_list(arrow_type):
        return Sequence[float]
    raise TypeError(f"no Python type for Arrow type {arrow_type}")


def _record_fields() -> list[tuple[str, Any, dataclasses.Field[Any]]]:
    fields: list[tuple[str, Any, dataclasses.Field[Any]]] = []
    for col in COLUMNS:
        py_type = _python_type(col.type)
        if not col.nullable:
            fields.append((col.name, py_type, dataclasses.field()))
        elif pa.types.is_list(col.type):
            # A tuple, not a list: an immutable shared default costs nothing per record.
            fields.append((col.name, py_type | None, dataclasses.field(default=())))
        else:
            fields.append((col.name, py_type | None, dataclasses.field(default=None)))
    return fields


RequestRecord = dataclasses.make_dataclass(
    "RequestRecord",
    _record_fields(),
    slots=True,
    kw_only=True,
)
RequestRecord.__module__ = __name__  # make_dataclass only takes module= from Python 3.12
RequestRecord.__doc__ = """One HTTP attempt, as the hot path builds it: one field per column of
:data:`COLUMNS`, keyword-only. ``run_id``, ``arm`` and ``status`` are required; every other field
defaults to ``None`` (``itl_s`` to an empty tuple). A slotted dataclass rather than a dict because
the load runner makes one per attempt at thousands per second: it is smaller, faster to fill,
and a misspelt field is a ``TypeError`` at once instead of a silently missing column."""

_GETTERS: tuple[tuple[Column, operator.attrgetter[Any]], ...] = tuple(
    (c, operator.attrgetter(c.name)) for c in COLUMNS
)


def records_to_batch(records: Sequence[Any]) -> pa.RecordBatch:
    """Turn request records into one Arrow batch, column by column.

    Column-wise conversion (``map(attrgetter)`` then one ``pa.array`` per column) keeps the
    per-record Python work to a C-level attribute fetch, which is what makes a 10,000-row batch
    take tens of milliseconds. Raises ``ValueError`` naming the column for a value of the wrong
    type, a null in a required column, or a value outside an enumerated column's set: all three
    are bugs in the caller, and writing them would corrupt every report built on the file.
    """
    arrays: list[pa.Array] = []
    for column, getter in _GETTERS:
        values = list(map(getter, records))
        try:
            if column.type == _F32_LIST and all(v is not None for v in values):
                array = _float32_lists(values)
            else:
                array = pa.array(values, type=column.type)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError, ValueError) as exc:
            raise ValueError(f"request record column '{column.name}': {exc}") from None
        if not column.nullable and array.null_count:
            raise ValueError(f"request record column '{column.name}' is required but got None")
        allowed = ENUM_COLUMNS.get(column.name)
        if allowed is not None:
            _check_enum(column.name, array, allowed)
        arrays.append(array)
    return pa.RecordBatch.from_arrays(arrays, schema=REQUEST_SCHEMA)


def _float32_lists(values: list[Sequence[float]]) -> pa.Array:
    """``list<float32>`` from null-free sequences via one flat NumPy buffer and offsets.

    The inter-token gaps are the bulk of a batch (tens of floats per record); filling a flat
    float32 buffer with ``np.fromiter`` is about twice as fast as ``pa.array`` on nested lists.
    """
    offsets = np.zeros(len(values) + 1, dtype=np.int32)
    np.cumsum(np.fromiter(map(len, values), dtype=np.int64, count=len(values)), out=offsets[1:])
    flat = np.fromiter(
        itertools.chain.from_iterable(values), dtype=np.float32, count=int(offsets[-1])
    )
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(flat), type=_F32_LIST)


def _check_enum(name: str, array: pa.Array, allowed: frozenset[str]) -> None:
    # unique() is vectorised and yields a handful of values, so this stays cheap per batch.
    bad = sorted(v for v in array.unique().to_pylist() if v is not None and v not in allowed)
    if bad:
        raise ValueError(
            f"request record column '{name}': {bad[0]!r} is not one of {sorted(allowed)}"
        )
