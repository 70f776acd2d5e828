"""The emulator's HTTP server (aiohttp): auth, validation, /v1/models and chat completions.

Chosen by measurement (docs/design.md): on uvloop, with the gateway's work included, it serves
over 8,000 non-streaming requests/s on one core (``benchmarks/emulator_speed.py``).
Responses are delivered on an absolute schedule (send time + simulated TTFT + gaps), with every
content event that is due at a wake-up written in one call, so the server's own scheduling neither
accumulates drift nor costs a syscall per token when it falls behind.

A model with a catalog capacity (``capacity.py``) first waits for a slot: the whole schedule then
starts that much later (the wait is part of the TTFT a client measures, and of
``x-emulator-first-token-ms``), and the slot is held until the handler ends, in a ``finally``.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from bisect import bisect_right
from collections.abc import Mapping
from typing import Any

import orjson
from aiohttp import web

from auraon_bench.catalog import Catalog, Plan
from auraon_bench.emulator.gateway import Gateway, Simulation, parse_gateway_headers
from auraon_bench.emulator.limiter import Verdict, go_duration
from auraon_bench.emulator.protocol import (
    ApiError,
    ChunkWriter,
    completion_body,
    error_body,
    parse_chat_request,
    tool_call_object,
)

DEFAULT_MAX_BODY = 16 * 1024 * 1024
# How long a client may take to send a whole request: long enough for any pooled client (httpx
# keeps idle connections 5 s, aiohttp's client 15 s) never to race the server's close, short
# enough that a slowloris client holds a socket for about a minute, not aiohttp's default hour.
DEFAULT_CLIENT_TIMEOUT = 75.0
MODELS_CREATED = 1_767_225_600  # 2026-01-01, a fixed "created" for every listed model
JSON = "application/json"
GATEWAY_KEY: web.AppKey[Gateway] = web.AppKey("gateway", Gateway)
logger = logging.getLogger("auraon_bench.emulator")


def redact_key(key: str) -> str:
    """``br-…abcd``: enough to recognise a key, never enough to use it."""
    prefix = key[:3] if key[:3] in ("br-", "ar-", "sk-") else ""
    return f"{prefix}…{key[-4:]}" if len(key) > 8 else f"{prefix}…"


def json_response(
    status: int, body: bytes, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.Response(status=status, body=body, content_type=JSON, headers=headers)


def api_error_response(exc: ApiError, extra: Mapping[str, str] | None = None) -> web.Response:
    response = json_response(exc.status, exc.body(), {**(extra or {}), **exc.headers})
    if exc.status == 408:
        response.force_close()  # the rest of a stalled body may never come (RFC 9110, 15.5.9)
    return response


@web.middleware
async def openai_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    """Every failure leaves in OpenAI's error shape, with a 4xx for anything the client did."""
    try:
        return await handler(request)
    except ApiError as exc:
        return api_error_response(exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        kind = "invalid_request_error" if exc.status < 500 else "server_error"
        message = {
            404: f"Unknown request URL: {request.method} {request.path}.",
            405: f"Method {request.method} is not allowed on {request.path}.",
            413: "Request body too large.",
        }.get(exc.status, exc.reason)
        return json_response(exc.status, error_body(message, kind, None, None))
    except (ConnectionError, asyncio.CancelledError):
        raise
    except Exception as exc:  # a bug: still answer in OpenAI's shape, and log what broke
        logger.exception("emulator bug on %s %s", request.method, request.path)
        return json_response(
            500, error_body(f"emulator error: {type(exc).__name__}", "server_error", None, None)
        )


def rate_headers(verdict: Verdict, time_scale: float) -> dict[str, str]:
    """``x-ratelimit-*`` for the limited dimensions; reset times in real (scaled) durations."""
    headers = {}
    for kind, dim in (("requests", verdict.requests), ("tokens", verdict.tokens)):
        if dim is not None:
            headers[f"x-ratelimit-limit-{kind}"] = str(dim.limit)
            headers[f"x-ratelimit-remaining-{kind}"] = str(dim.remaining)
            headers[f"x-ratelimit-reset-{kind}"] = go_duration(dim.reset_s * time_scale)
    return headers


async def expect_continue(request: web.Request) -> None:
    """Answer ``Expect`` as aiohttp does, but refuse an unknown one in OpenAI's shape: aiohttp's
    own refusal is plain text and leaves before the middleware can see it."""
    expect = request.headers.get("Expect", "")
    if request.version != (1, 1):
        return
    if expect.lower() != "100-continue":
        raise web.HTTPExpectationFailed(
            body=error_body(
                f"Unsupported Expect header: {expect!r}; only 100-continue is.",
                "invalid_request_error",
                "Expect",
                "invalid_value",
            ),
            content_type=JSON,
        )
    await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    request.writer.output_size = 0  # the interim answer is not the response: errors may follow


class EmulatorApp:
    def __init__(
        self,
        gateway: Gateway,
        *,
        max_body: int = DEFAULT_MAX_BODY,
        body_timeout: float = DEFAULT_CLIENT_TIMEOUT,
    ) -> None:
        self.gateway = gateway
        self.catalog: Catalog = gateway.catalog
        self.max_body = max_body
        self.body_timeout = body_timeout
        self.model_index = {m: i for i, m in enumerate(self.catalog.model_ids())}
        self._request_ids = itertools.count(1)
        self.base_headers = {"x-emulator-time-scale": f"{gateway.time_scale:g}"}

    def build(self) -> web.Application:
        app = web.Application(client_max_size=self.max_body, middlewares=[openai_errors])
        app[GATEWAY_KEY] = self.gateway
        routes = app.router
        routes.add_get("/health", self.health, expect_handler=expect_continue)
        routes.add_get("/v1/models", self.list_models, expect_handler=expect_continue)
        routes.add_get("/v1/models/{model}", self.get_model, expect_handler=expect_continue)
        routes.add_post("/v1/chat/completions", self.chat, expect_handler=expect_continue)
        return app

    # -- auth ------------------------------------------------------------------------------
    def authenticate(self, request: web.Request) -> tuple[str, Plan]:
        header = request.headers.get("Authorization", "")
        scheme, _, key = header.partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            raise ApiError(
                401,
                "You didn't provide an API key. You need to provide your API key "
                "in an Authorization header using Bearer auth (i.e. Authorization: "
                "Bearer YOUR_KEY).",
                code="missing_api_key",
            )
        plan = self.catalog.plan_for_key(key)
        if plan is None:
            raise ApiError(
                401,
                f"Incorrect API key provided: {redact_key(key)}. Keys start with "
                "br- or ar-; the emulator's demo keys are listed in docs/emulator.md.",
                code="invalid_api_key",
            )
        return key, plan

    # -- endpoints -------------------------------------------------------------------------
    async def health(self, request: web.Request) -> web.Response:
        return json_response(200, b'{"status":"ok"}', self.base_headers)

    def model_object(self, model_id: str) -> dict[str, Any]:
        profile = self.catalog.models.get(model_id)
        return {
            "id": model_id,
            "object": "model",
            "created": MODELS_CREATED,
            "owned_by": profile.owned_by if profile else "auraon",
        }

    async def list_models(self, request: web.Request) -> web.Response:
        self.authenticate(request)
        ids = self.catalog.model_ids()
        after = request.query.get("after")
        start = 0
        if after is not None:
            if after not in self.model_index:
                raise ApiError(
                    400,
                    f"Invalid 'after': no model {after!r}.",
                    param="after",
                    code="invalid_value",
                )
            start = self.model_index[after] + 1
        limit = len(ids)
        raw_limit = request.query.get("limit")
        if raw_limit is not None:
            if not (raw_limit.isascii() and raw_limit.isdigit()) or not 1 <= int(raw_limit) <= 1000:
                raise ApiError(
                    400,
                    "Invalid 'limit': expected an integer between 1 and 1000.",
                    param="limit",
                    code="invalid_value",
                )
            limit = int(raw_limit)
        page = ids[start : start + limit]
        body = {
            "object": "list",
            "data": [self.model_object(m) for m in page],
            "has_more": start + limit < len(ids),
            "first_id": page[0] if page else None,
            "last_id": page[-1] if page else None,
        }
        return json_response(200, orjson.dumps(body), self.base_headers)

    async def get_model(self, request: web.Request) -> web.Response:
        self.authenticate(request)
        model_id = request.match_info["model"]
        if model_id not in self.model_index:
            raise ApiError(
                404,
                f"The model `{model_id}` does not exist or you do not have access to it.",
                param="model",
                code="model_not_found",
            )
        return json_response(200, orjson.dumps(self.model_object(model_id)), self.base_headers)

    async def chat(self, request: web.Request) -> web.StreamResponse:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        key, plan = self.authenticate(request)
        declared = request.content_length
        if declared is not None and declared > self.max_body:
            # Refused on its headers: reading (and buffering) an oversized body first is wasted.
            raise web.HTTPRequestEntityTooLarge(max_size=self.max_body, actual_size=declared)
        gateway = self.gateway
        limiter = gateway.limiter(key, plan)
        try:
            raw = await self.read_body(request)
            req = parse_chat_request(raw, self.model_index)
            headers = parse_gateway_headers(request.headers, self.catalog)
            sim = gateway.simulate(req, limiter, plan, headers, key)
        except ApiError as exc:
            extra = dict(self.base_headers)
            if limiter is not None:
                if exc.status != 429 and not exc.charged:
                    limiter.charge_failed_request(gateway.sim_now())
                extra |= rate_headers(limiter.snapshot(gateway.sim_now()), gateway.time_scale)
            return api_error_response(exc, extra)
        out_headers = {
            **self.base_headers,
            **rate_headers(sim.verdict, gateway.time_scale),
            "x-request-id": f"req_{next(self._request_ids):012d}",
        }
        seat = sim.seat
        try:
            if seat is not None:
                if not seat.held:
                    queued_at = asyncio.get_running_loop().time()
                    await seat.taken()
                    sim.queued_s = asyncio.get_running_loop().time() - queued_at
                    if client_gone(request):
                        return web.Response(status=499)  # nobody to answer: free the slot now
                out_headers["x-emulator-queue-ms"] = f"{sim.queued_s * 1000:.3f}"
            if req.stream:
                return await self.stream(request, sim, req.include_usage, out_headers, t0)
            return await self.respond(request, sim, out_headers, t0)
        finally:
            if seat is not None:
                seat.leave()
            gateway.settle(sim, limiter)

    async def read_body(self, request: web.Request) -> bytes:
        """The body, or a 4xx: a client that stalls mid-body would otherwise hold its handler
        forever, and one that sends a broken body (bad gzip or chunk framing) is at fault."""
        try:
            async with asyncio.timeout(self.body_timeout):
                return await request.read()
        except TimeoutError:
            raise ApiError(
                408,
                f"The request body did not arrive within {self.body_timeout:g}s.",
                code="request_timeout",
            ) from None
        except web.RequestPayloadError as exc:
            cause = getattr(exc.__cause__, "message", None) or "its framing is broken"
            raise ApiError(400, f"We could not read the body of your request: {cause}.") from None

    # -- delivery --------------------------------------------------------------------------
    def metadata(self, sim: Simulation, t0: float) -> dict[str, Any]:
        latency_ms = round((asyncio.get_running_loop().time() - t0) * 1000)
        payload = {
            "routed_to": sim.model,
            "latency_ms": latency_ms,
            "cost_usd": round(sim.cost_usd, 10),
            "routing_reason": sim.routing_reason,
        }
        return {key: payload for key in self.catalog.metadata_keys}

    async def respond(
        self, request: web.Request, sim: Simulation, headers: dict[str, str], t0: float
    ) -> web.StreamResponse:
        await sleep_until(t0 + sim.total_s)
        text = None if sim.tool_call is not None else "".join(sim.pieces)
        body = completion_body(
            completion_id=sim.completion_id,
            model=sim.model,
            text=text,
            tool_call=sim.tool_call,
            finish_reason=sim.finish_reason,
            usage=sim.usage,
            metadata=self.metadata(sim, t0),
        )
        fault = sim.delivery_fault
        if fault is None or fault == "stream_error":
            return json_response(200, body, headers)
        if fault == "malformed_chunk":
            return json_response(200, body[: len(body) // 2], headers)
        # drop_mid_stream / truncate: promise the whole body, send part of it, cut the connection.
        response = web.StreamResponse(status=200, headers={**headers, "Content-Type": JSON})
        response.content_length = len(body)
        await response.prepare(request)
        if fault == "truncate":
            await response.write(body[: len(body) // 2])
        abort(request)
        return response

    async def stream(
        self,
        request: web.Request,
        sim: Simulation,
        include_usage: bool,
        headers: dict[str, str],
        t0: float,
    ) -> web.StreamResponse:
        start = t0 + sim.queued_s  # the schedule starts once the request has its slot
        await sleep_until(start + sim.pre_delay_s)
        # The simulated time to first token (ms from the request, any wait for a slot included),
        # so benchmarks can check that what clients measure is what was simulated.
        due_ms = (sim.queued_s + sim.pre_delay_s + sim.ttft_s) * 1000
        response = web.StreamResponse(
            status=200,
            headers={
                **headers,
                "Content-Type": "text/event-stream; charset=utf-8",
                "Cache-Control": "no-cache",
                "x-emulator-first-token-ms": f"{due_ms:.3f}",
            },
        )
        await response.prepare(request)
        writer = ChunkWriter(sim.completion_id, sim.model, include_usage)
        events = self.content_events(sim, writer)
        t_first = start + sim.pre_delay_s + sim.ttft_s
        deadlines = [t_first, *(t_first + g for g in itertools.accumulate(sim.gaps_s.tolist()))]
        # A delivery fault strikes half-way through the content events.
        limit = len(events) // 2 if sim.delivery_fault else len(events)
        loop = asyncio.get_running_loop()
        i = 0
        try:
            while i < limit:
                await sleep_until(deadlines[i])
                j = min(limit, max(i + 1, bisect_right(deadlines, loop.time(), lo=i)))
                await response.write(b"".join(events[i:j]))
                i = j
            if sim.delivery_fault:
                return await self.deliver_fault(request, response, sim, writer, events, i)
            if sim.tail_s:
                await sleep_until(deadlines[-1] + sim.tail_s)
            tail = writer.finish(
                sim.finish_reason, None if include_usage else self.metadata(sim, t0)
            )
            if include_usage:
                tail += writer.usage(sim.usage, self.metadata(sim, t0))
            await response.write(tail + writer.done())
            await response.write_eof()
        except (ConnectionResetError, ConnectionError):
            pass  # the client went away; nothing to deliver to
        return response

    async def deliver_fault(
        self,
        request: web.Request,
        response: web.StreamResponse,
        sim: Simulation,
        writer: ChunkWriter,
        events: list[bytes],
        at: int,
    ) -> web.StreamResponse:
        fault = sim.delivery_fault
        if fault == "drop_mid_stream":
            abort(request)
            return response
        if fault == "malformed_chunk":
            rest = b"".join(events[at:])
            await response.write(
                b'data: {"id": "'
                + sim.completion_id.encode()
                + b'", "choices": [\n\n'
                + rest
                + writer.finish(sim.finish_reason, None)
                + writer.done()
            )
        elif fault == "stream_error":
            await response.write(
                writer.error(
                    "The upstream model failed mid-stream.", "server_error", "upstream_error"
                )
            )
        await response.write_eof()  # truncate: a clean end with no finish, usage or [DONE]
        return response

    @staticmethod
    def content_events(sim: Simulation, writer: ChunkWriter) -> list[bytes]:
        """One SSE event per content piece; the first one also carries the role."""
        role = {
            "role": "assistant",
            "content": "" if sim.tool_call is None else None,
            "refusal": None,
        }
        if sim.tool_call is not None:
            call = tool_call_object(sim.tool_call, sim.completion_id)
            call["function"]["arguments"] = ""
            first = writer.delta({**role, "tool_calls": [{"index": 0, **call}]})
            return [
                first,
                *(
                    writer.delta({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
                    for piece in sim.pieces
                ),
            ]
        if not sim.pieces:
            return [writer.delta(role)]
        return [
            writer.delta(role) + writer.content(sim.pieces[0]),
            *(writer.content(p) for p in sim.pieces[1:]),
        ]


def client_gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


def abort(request: web.Request) -> None:
    transport = request.transport
    if transport is not None:
        transport.abort()


async def sleep_until(deadline: float) -> None:
    delay = deadline - asyncio.get_running_loop().time()
    if delay > 0:
        await asyncio.sleep(delay)
