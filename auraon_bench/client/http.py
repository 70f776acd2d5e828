"""The measuring client: one HTTP attempt in, one fully classified request record out.

Timing: every timestamp is ``time.perf_counter_ns()`` taken when bytes arrive (headers, each body
chunk), before any JSON is parsed, and stored as seconds since the run's start.

* attempt start: ``chat`` is entered; ``schedule_lag_s`` = attempt start - ``t_scheduled``, so the
  lag is the load generator's own delay, never the target's connection setup;
* ``t_sent``: the request written to an open connection (the transport reports it through
  :class:`~auraon_bench.client.transport.SendTiming`); opening a new connection (DNS, TCP, TLS)
  comes before and is ``connect_s``, with ``connection_reused`` saying which case it was. A
  transport that cannot report it, or an attempt that never got a connection, falls back to the
  attempt start;
* ``t_first_token`` / ``t_last_token``: the first / last content event (``ttft_s``, ``ttlt_s``);
* ``t_done``: the last byte of the response (a stream's final event, ``[DONE]`` included; a
  whole body), or when the attempt was abandoned; ``latency_s`` = ``t_done - t_sent`` for an
  answer that arrived whole;
* ``tpot_s``: :func:`auraon_bench.formulas.tpot` of the first and last content events.

Every attempt ends in exactly one class, and no exception escapes ``chat``; every attempt has a
``token_source`` and a ``cost_source`` ("none" when nothing is known):

    ok                the answer arrived whole ([DONE] seen when streaming)
    rate_limited      HTTP 429 (error type and code kept, Retry-After captured)
    http_error        any other HTTP error status, or an error object inside a 200 stream
    timeout           connect, read (between bytes) or total deadline; error_type says which
    connection_error  refused, DNS, reset, or the connection closed mid-response
    protocol_error    bad JSON, a stream that ended before [DONE], an oversized body, anything
                      unparseable
"""

from __future__ import annotations

import errno
import itertools
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import anyio
import httpx
import orjson

from auraon_bench.client.listing import ModelListing, fetch_listing
from auraon_bench.client.ratelimit_headers import parse_rate_headers
from auraon_bench.client.sse import SSEDecoder
from auraon_bench.client.transport import (
    DEFAULT_READ_BUFFER,
    SEND_TIMING,
    AiohttpTransport,
    RawResponse,
    SendTiming,
    Transport,
)
from auraon_bench.client.wire import (
    StreamState,
    completion_text,
    error_from_object,
    extract_metadata,
    parse_error_body,
    tool_calls_text,
)
from auraon_bench.formulas import tpot
from auraon_bench.prices.table import PriceTable
from auraon_bench.results.schema import RequestRecord

NS = 1_000_000_000
CHARS_PER_TOKEN = 4
# Far above any real answer (a million-token completion is a few MB of SSE), low enough that a
# target streaming garbage cannot exhaust the client's memory.
MAX_RESPONSE_BYTES = 64 * 1024 * 1024
_REQUEST_ID = "x-request-id"  # sent with every attempt: the join key with the gateway's logs
# The gateway's own request id, in this order (OpenAI, Anthropic-style, LiteLLM, Cloudflare).
GATEWAY_ID_HEADERS = ("x-request-id", "request-id", "x-litellm-call-id", "cf-ray")


class ResponseTooLarge(Exception):
    """A response body passed the client's size limit; the attempt is a protocol error."""


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds. ``read`` is the longest silence between two reads of one response."""

    connect: float = 10.0
    read: float = 120.0
    total: float = 600.0


def redact(key: str | None) -> str | None:
    if not key:
        return key
    prefix = key[:3] if key[2:3] == "-" else ""
    return f"{prefix}…{key[-4:]}" if len(key) > 8 else f"{prefix}…"


class MeasuringClient:
    """Sends chat requests and measures them. ``transport`` swaps the HTTP layer (default:
    ``AiohttpTransport``; ``HttpxTransport`` wraps any ``httpx.AsyncClient``)."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        timeouts: Timeouts = Timeouts(),
        max_connections: int = 1024,
        read_buffer: int = DEFAULT_READ_BUFFER,
        transport: Transport | None = None,
        prices: PriceTable | None = None,
        keep_text: bool = False,
        t0_ns: int | None = None,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeouts = timeouts
        self.max_response_bytes = max_response_bytes
        self.prices = prices
        self.keep_text = keep_text
        self.t0_ns = time.perf_counter_ns() if t0_ns is None else t0_ns
        self._headers = {
            "content-type": "application/json",
            "accept-encoding": "identity",
            "user-agent": "auraon-bench",
        }
        if api_key:
            self._headers["authorization"] = f"Bearer {api_key}"
        self._chat_url = f"{self.base_url}/chat/completions"
        self._transport: Transport = transport or AiohttpTransport(
            max_connections=max_connections,
            read_buffer=read_buffer,
            connect_timeout=timeouts.connect,
            read_timeout=timeouts.read,
        )

    async def aclose(self) -> None:
        await self._transport.aclose()

    async def __aenter__(self) -> MeasuringClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def seconds(self, t_ns: int) -> float:
        return (t_ns - self.t0_ns) / NS

    # -- preflight -------------------------------------------------------------------------
    async def list_models(self, timeout: float = 10.0) -> ModelListing:
        """The target's model list (every page); a one-line ``TargetError`` if the target is
        unreachable or rejects the key. A target without a usable list gives a listing with
        ``ids = None`` and the reason, not an error (see :mod:`auraon_bench.client.listing`)."""
        return await fetch_listing(self._transport, self.base_url, self._headers, timeout)

    async def check_target(self, timeout: float = 10.0) -> list[str]:
        """The listed model ids ([] when the target has no usable list); raises as
        :meth:`list_models`."""
        listing = await self.list_models(timeout)
        return list(listing.ids or ())

    # -- one attempt -----------------------------------------------------------------------
    async def chat(
        self,
        body: bytes,
        record: RequestRecord,
        *,
        stream: bool,
        headers: Mapping[str, str] | None = None,
    ) -> RequestRecord:
        """Send one chat request and fill ``record`` with what happened. Never raises."""
        record.stream = stream
        record.status = "ok"  # until something says otherwise
        record.token_source = record.cost_source = "none"  # until something is known
        state = StreamState(keep_text=self.keep_text)
        t_start = time.perf_counter_ns()
        if record.t_scheduled is not None:
            record.schedule_lag_s = self.seconds(t_start) - record.t_scheduled
        timing = SendTiming()
        response: RawResponse | None = None
        raw = b""
        t_done: int | None = None  # arrival of the response's last byte, once it is read whole
        with anyio.move_on_after(self.timeouts.total) as deadline:
            try:
                record.client_request_id = rid = str(uuid.uuid4())
                send_headers = {**self._headers, **(headers or {}), _REQUEST_ID: rid}
                token = SEND_TIMING.set(timing)
                try:
                    response = await self._transport.send(
                        "POST", self._chat_url, send_headers, body
                    )
                finally:
                    SEND_TIMING.reset(token)
                t = time.perf_counter_ns()
                record.t_first_byte = self.seconds(t)
                record.http_status = response.status_code
                if response.status_code == 200 and stream:
                    decoder = SSEDecoder()
                    size = 0
                    async for chunk in response.aiter_raw():
                        t = time.perf_counter_ns()
                        size += len(chunk)
                        if size > self.max_response_bytes:
                            raise ResponseTooLarge(self._too_large())
                        for event in decoder.feed(chunk, t):
                            state.on_event(event)
                    t_done = t  # the last chunk's arrival (the headers' for an empty body)
                    for event in decoder.close(time.perf_counter_ns()):
                        state.on_event(event)
                else:
                    raw, t_done = await self._read_body(response, t)
                record.t_done = self.seconds(t_done)
            except httpx.TimeoutException as exc:
                _fail(record, "timeout", _timeout_kind(exc), str(exc))
            except (
                httpx.ConnectError,
                httpx.ReadError,
                httpx.WriteError,
                httpx.RemoteProtocolError,
                httpx.NetworkError,
            ) as exc:
                _fail(record, "connection_error", _connection_kind(exc), str(exc))
            except httpx.HTTPError as exc:
                _fail(record, "protocol_error", type(exc).__name__, str(exc))
            except ResponseTooLarge as exc:
                _fail(record, "protocol_error", "oversized", str(exc))
            except Exception as exc:  # one bad response must not end a run
                _fail(record, "protocol_error", type(exc).__name__, str(exc))
            except anyio.get_cancelled_exc_class():
                # Cut from outside (the run's stop) or by our own deadline, which catches it
                # below and overwrites these: keep what had arrived for the caller's record.
                self._keep_partial(record, timing, t_start, state, stream)
                raise
            finally:
                if response is not None:
                    with anyio.CancelScope(shield=True):  # a cancelled close must still close
                        await response.aclose()
        if deadline.cancelled_caught:
            _fail(record, "timeout", "total", f"no complete answer within {self.timeouts.total:g}s")
        if record.t_done is None:  # abandoned: when the attempt ended, as the schema says
            record.t_done = self.seconds(time.perf_counter_ns())
        t_sent = self._stamp_send(record, timing, t_start)
        if response is not None:
            try:
                self._fill_from_response(
                    record, response.headers, state, raw, t_sent, t_done, stream
                )
            except Exception as exc:  # a response shaped like nothing we know: keep the run going
                record.status, record.error_type = "protocol_error", "unexpected_shape"
                record.error_message = f"{type(exc).__name__}: {exc}"[:500]
            _coerce_server_values(record)
            record.tpot_s = tpot(record.ttft_s, record.ttlt_s, record.completion_tokens)
        return record

    def _keep_partial(
        self,
        record: RequestRecord,
        timing: SendTiming,
        t_start: int,
        state: StreamState,
        stream: bool,
    ) -> None:
        """What an attempt cut in flight had measured: its send, and a stream's events."""
        t_sent = self._stamp_send(record, timing, t_start)
        if stream and record.http_status == 200:
            self._stream_timings(record, state, t_sent)

    def _stamp_send(self, record: RequestRecord, timing: SendTiming, t_start: int) -> int:
        """Record when and how the request went out; returns the send time (ns)."""
        t_sent = timing.sent_ns or t_start  # never written to a connection: the attempt start
        record.t_sent = self.seconds(t_sent)
        record.connection_reused = timing.reused
        if timing.connect_ns is not None:
            record.connect_s = timing.connect_ns / NS
        return t_sent

    async def _read_body(self, response: RawResponse, t_headers: int) -> tuple[bytes, int]:
        """The whole body and the arrival of its last byte (``t_headers`` when it is empty)."""
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > self.max_response_bytes:
            raise ResponseTooLarge(self._too_large(int(declared)))
        parts, size, t = [], 0, t_headers
        async for chunk in response.aiter_raw():
            t = time.perf_counter_ns()
            size += len(chunk)
            if size > self.max_response_bytes:
                raise ResponseTooLarge(self._too_large())
            parts.append(chunk)
        return b"".join(parts), t

    def _too_large(self, declared: int | None = None) -> str:
        said = f" (content-length {declared:,})" if declared is not None else ""
        return f"response body over the {self.max_response_bytes:,}-byte limit{said}"

    def _fill_from_response(
        self,
        record: RequestRecord,
        headers: Mapping[str, str],
        state: StreamState,
        raw: bytes,
        t_sent: int,
        t_done: int | None,
        stream: bool,
    ) -> None:
        record.gateway_request_id = gateway_request_id(headers)
        rate = parse_rate_headers(headers)
        record.retry_after_s = rate.retry_after_s
        record.ratelimit_limit_requests = rate.limit_requests
        record.ratelimit_remaining_requests = rate.remaining_requests
        record.ratelimit_limit_tokens = rate.limit_tokens
        record.ratelimit_remaining_tokens = rate.remaining_tokens
        record.ratelimit_reset_requests_s = rate.reset_requests_s
        record.ratelimit_reset_tokens_s = rate.reset_tokens_s
        status = record.http_status
        if record.status != "ok":  # a transport failure already classified it
            if stream and status == 200:  # keep what arrived before the stream broke
                self._stream_timings(record, state, t_sent)
            # No latency_s: the answer never finished. token_source and cost_source stay "none".
            return
        if status is not None and status != 200:  # token_source and cost_source stay "none"
            error = parse_error_body(raw)
            record.status = "rate_limited" if status == 429 else "http_error"
            record.error_type, record.error_code, record.error_message = (
                error.type,
                error.code,
                error.message,
            )
            return
        body: Mapping[str, Any] | None = None
        if stream:
            body = state.metadata_chunk or state.last_chunk
            usage, model = state.usage, state.model
            record.finish_reason = state.finish_reason
            self._stream_timings(record, state, t_sent)
            if t_done is not None:
                record.latency_s = (t_done - t_sent) / NS
            if self.keep_text:
                calls = tool_calls_text(state.tool_calls)
                record.response_text = calls if calls else "".join(state.text)
            if state.error is not None:
                record.status = "http_error"
                record.error_type, record.error_code, record.error_message = (
                    state.error.type,
                    state.error.code,
                    state.error.message,
                )
            elif state.protocol_error or not state.done:
                record.status = "protocol_error"
                record.error_type = "bad_stream" if state.protocol_error else "truncated"
                record.error_message = state.protocol_error or "stream ended before [DONE]"
                content_type = headers.get("content-type", "")
                if state.last_chunk is None and "event-stream" not in content_type:
                    record.error_type = "not_event_stream"
                    record.error_message = (
                        f"a 200 answer that is not an event stream ({content_type or 'no type'})"
                    )
        else:
            try:
                body = orjson.loads(raw)
            except orjson.JSONDecodeError:
                body = None
            if not isinstance(body, dict):
                record.status, record.error_type = "protocol_error", "bad_json"
                record.error_message = f"response is not a JSON object: {raw[:80]!r}"
                body = None
            elif isinstance(body.get("error"), Mapping):
                error = error_from_object(body["error"])
                record.status = "http_error"
                record.error_type, record.error_code, record.error_message = (
                    error.type,
                    error.code,
                    error.message,
                )
            usage, model = (body or {}).get("usage"), (body or {}).get("model")
            if body is not None:
                text, record.finish_reason = completion_text(body)
                if self.keep_text:
                    record.response_text = text
            if t_done is not None:
                record.latency_s = (t_done - t_sent) / NS
        record.model_reported = model
        self._tokens_and_cost(record, usage, body, headers, state)

    def _stream_timings(self, record: RequestRecord, state: StreamState, t_sent: int) -> None:
        times = state.content_times
        record.n_events = len(times)
        if not times:
            return
        record.t_first_token = self.seconds(times[0])
        record.t_last_token = self.seconds(times[-1])
        record.ttft_s = (times[0] - t_sent) / NS
        record.ttlt_s = (times[-1] - t_sent) / NS
        record.itl_s = [(b - a) / NS for a, b in itertools.pairwise(times)]

    def _tokens_and_cost(
        self,
        record: RequestRecord,
        usage: Any,
        body: Mapping[str, Any] | None,
        headers: Mapping[str, str],
        state: StreamState,
    ) -> None:
        if isinstance(usage, Mapping) and usage.get("completion_tokens") is not None:
            record.prompt_tokens = usage.get("prompt_tokens")
            record.completion_tokens = usage.get("completion_tokens")
            record.cached_tokens = cached_tokens(usage)
            record.token_source = "usage"
        elif record.status == "ok":
            record.completion_tokens = record.n_events if record.stream else None
            record.token_source = "estimated" if record.completion_tokens is not None else "none"
        else:
            record.token_source = "none"
        meta = extract_metadata(body, headers)
        record.routed_to, record.routing_reason = meta.routed_to, meta.routing_reason
        response_id = body.get("id") if body is not None else None
        record.response_id = response_id if isinstance(response_id, str) else None
        record.server_latency_ms = meta.server_latency_ms
        record.cost_usd, record.cost_source = meta.cost_usd, meta.cost_source
        if record.cost_usd is None and record.status == "ok" and self.prices is not None:
            quote = self.prices.quote_answer(
                (
                    meta.billed_model,
                    record.routed_to,
                    record.model_reported,
                    record.model_requested,
                )
            )
            if quote is not None and None not in (record.prompt_tokens, record.completion_tokens):
                record.cost_usd = quote.cost(
                    record.prompt_tokens, record.completion_tokens, record.cached_tokens or 0
                )
                record.cost_source = "price_table"


def gateway_request_id(headers: Mapping[str, str]) -> str | None:
    """The gateway's own id of a request, from the first header of :data:`GATEWAY_ID_HEADERS`."""
    for name in GATEWAY_ID_HEADERS:
        value = headers.get(name)
        if value:
            return value
    return None


def cached_tokens(usage: Any) -> int | None:
    """OpenAI's ``usage.prompt_tokens_details.cached_tokens`` (billed at the cache-read rate)."""
    details = usage.get("prompt_tokens_details") if isinstance(usage, Mapping) else None
    value = details.get("cached_tokens") if isinstance(details, Mapping) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _fail(record: RequestRecord, status: str, kind: str, message: str) -> None:
    if record.status not in (None, "ok"):
        return
    record.status, record.error_type, record.error_message = status, kind, message[:500] or kind


def _timeout_kind(exc: httpx.TimeoutException) -> str:
    if isinstance(exc, httpx.ConnectTimeout):
        return "connect"
    if isinstance(exc, httpx.ReadTimeout):
        return "read"
    if isinstance(exc, httpx.PoolTimeout):
        return "pool"
    return "total"


def _connection_kind(exc: httpx.HTTPError) -> str:
    cause = exc.__cause__
    if isinstance(exc, httpx.ConnectError):
        text = f"{exc} {cause}".lower()
        if (
            "name or service" in text
            or "nodename" in text
            or "dns" in text
            or (cause is not None and type(cause).__name__ == "ClientConnectorDNSError")
        ):
            return "dns"
        refused = getattr(cause, "errno", None) == errno.ECONNREFUSED or "refused" in text
        return "refused" if refused else "connect"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "disconnected"
    if isinstance(exc, httpx.ReadError):
        return "reset"
    return "network"


_TEXT_FIELDS = (
    "model_reported",
    "routed_to",
    "routing_reason",
    "finish_reason",
    "error_type",
    "error_code",
    "error_message",
    "response_text",
)
_INT_FIELDS = ("prompt_tokens", "cached_tokens", "completion_tokens")
_FLOAT_FIELDS = ("cost_usd", "server_latency_ms")


def _coerce_server_values(record: RequestRecord) -> None:
    """Values copied from a server's JSON into the record's types: a target that sends a number
    where a string belongs (or a list of content parts) must not break the Parquet writer."""
    for name in _TEXT_FIELDS:
        value = getattr(record, name)
        if value is not None and not isinstance(value, str):
            setattr(record, name, orjson.dumps(value, default=str).decode()[:10_000])
    for name in _INT_FIELDS:
        value = getattr(record, name)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or not -(2**31) <= value < 2**31
        ):
            setattr(record, name, None)
    for name in _FLOAT_FIELDS:
        value = getattr(record, name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            setattr(record, name, None)
