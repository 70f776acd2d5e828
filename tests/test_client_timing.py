"""The client's timing definitions against loopback servers with known delays.

* latency ends at the response's last byte (a stream's trailing finish, usage and [DONE]
  events included), TTLT and TPOT at the last content event;
* connection setup (DNS, TCP) is its own column and in neither TTFT nor latency;
* every attempt, failed ones included, has a token_source and a cost_source.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Mapping, Sequence

import orjson
import pytest
from aiohttp.abc import AbstractResolver

from auraon_bench.analysis.load_summary import summarize_arm
from auraon_bench.analysis.records import output_tps_column, tpot_column, ttlt_column
from auraon_bench.client.http import MeasuringClient, Timeouts
from auraon_bench.client.transport import AiohttpTransport, HttpxTransport
from auraon_bench.client.wire import chat_body
from auraon_bench.results.schema import (
    COST_SOURCES,
    TOKEN_SOURCES,
    RequestRecord,
    records_to_batch,
)
from tests.fault_routes import closed_port
from tests.scripted_server import (
    SSE_HEAD,
    Behaviour,
    ScriptedServer,
    chunk,
    http,
    read_request,
    reset_after_request,
    sse,
    stall,
)

pytestmark = pytest.mark.anyio
HI = [{"role": "user", "content": "Say hi."}]
NS = 1_000_000_000


def record() -> RequestRecord:
    return RequestRecord(run_id="t", arm="gpt-4o", status="ok", model_requested="gpt-4o")


async def send(client: MeasuringClient, *, stream: bool = True) -> RequestRecord:
    rec = record()
    rec.t_scheduled = client.seconds(time.perf_counter_ns())  # "now": lag is the client's own
    return await client.chat(chat_body("gpt-4o", HI, stream=stream), rec, stream=stream)


def event(payload: Mapping[str, object]) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


FINISH = event({"id": "c", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})


def usage_event(tokens: int, **extra: object) -> bytes:
    usage = {"prompt_tokens": 5, "completion_tokens": tokens, "total_tokens": 5 + tokens}
    return event({"id": "c", "choices": [], "usage": usage, **extra})


DONE = b"data: [DONE]\n\n"


# --- 2. latency to the last byte, TTLT and TPOT to the last content event ----------------------

TAIL_S = 0.15  # finish, usage and [DONE] come this long after the last content event
GAP_S = 0.02


def late_tail(server_times: dict[str, int]) -> Behaviour:
    """Three content events GAP_S apart; TAIL_S later the finish chunk, then the usage chunk
    carrying ``blockrun.latency_ms`` = the server's time from the request read to its last
    byte, and [DONE]."""

    async def behave(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        t_read = time.perf_counter_ns()
        writer.write(SSE_HEAD + chunk(0))
        for n in (1, 2):
            await writer.drain()
            await asyncio.sleep(GAP_S)
            writer.write(chunk(n))
        await writer.drain()
        await asyncio.sleep(TAIL_S)
        writer.write(FINISH)
        await writer.drain()
        t_last = time.perf_counter_ns()
        meta = {"routed_to": "gpt-4o", "latency_ms": (t_last - t_read) / 1e6, "cost_usd": 1e-5}
        writer.write(usage_event(3, blockrun=meta) + DONE)
        await writer.drain()
        server_times["last_write_ns"] = t_last
        writer.close()

    return behave


async def test_latency_ends_at_the_last_byte_and_tpot_at_the_last_content_event() -> None:
    server_times: dict[str, int] = {}
    async with ScriptedServer([late_tail(server_times)]) as server:
        async with MeasuringClient(server.base_url) as client:
            rec = await send(client)
            t_done_ns = client.t0_ns + rec.t_done * NS
    assert (rec.status, rec.n_events, rec.completion_tokens) == ("ok", 3, 3)
    assert rec.token_source == "usage" and rec.cost_source == "blockrun"
    assert rec.ttft_s == pytest.approx(rec.t_first_token - rec.t_sent, abs=1e-6)
    assert rec.ttlt_s == pytest.approx(rec.t_last_token - rec.t_sent, abs=1e-6)
    assert rec.latency_s == pytest.approx(rec.t_done - rec.t_sent, abs=1e-6)
    # the tail is in latency, not in TTLT
    assert rec.latency_s >= rec.ttlt_s + TAIL_S
    assert rec.ttlt_s >= rec.ttft_s + 2 * GAP_S
    assert t_done_ns >= server_times["last_write_ns"] - 1_000  # t_done: after the last byte left
    # TPOT: (last - first content event) / (completion_tokens - 1), the tail excluded
    assert rec.tpot_s == pytest.approx((rec.t_last_token - rec.t_first_token) / 2, abs=1e-6)
    assert rec.tpot_s < TAIL_S / 2
    # the gateway reported its time to the last byte: the client's latency covers it
    overhead = rec.latency_s - rec.server_latency_ms / 1000
    assert overhead >= 0
    # one TPOT definition: the analysis of the written record gives the client's figure
    df = records_to_batch([rec]).to_pandas()
    assert tpot_column(df)[0] == pytest.approx(rec.tpot_s, rel=1e-9)
    assert ttlt_column(df)[0] == pytest.approx(rec.ttlt_s, rel=1e-9)
    assert output_tps_column(df)[0] == pytest.approx(1 / rec.tpot_s, rel=1e-9)
    summary = summarize_arm(df)
    assert summary.gateway_overhead_s.min >= 0 and summary.ttlt_s.n == 1


async def test_a_non_streamed_latency_ends_at_the_last_body_byte() -> None:
    body = orjson.dumps(
        {
            "id": "x",
            "model": "gpt-4o",
            "choices": [{"index": 0, "message": {"content": "hi"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 1},
        }
    )
    head = f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {len(body)}"

    async def slow_body(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(f"{head}\r\nconnection: close\r\n\r\n".encode() + body[:10])
        await writer.drain()
        await asyncio.sleep(TAIL_S)
        writer.write(body[10:])
        await writer.drain()
        writer.close()

    async with ScriptedServer([slow_body]) as server:
        async with MeasuringClient(server.base_url) as client:
            rec = await send(client, stream=False)
    assert rec.status == "ok" and rec.ttft_s is None and rec.ttlt_s is None
    assert rec.latency_s == pytest.approx(rec.t_done - rec.t_sent, abs=1e-6)
    assert rec.t_done - rec.t_first_byte >= TAIL_S


# --- 3. connection setup: its own column, in neither TTFT nor latency -------------------------

SETUP_S = 0.2


class SlowResolver(AbstractResolver):
    """Resolves every name to 127.0.0.1 after ``delay`` seconds: a slow connection setup."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.calls = 0

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[dict[str, object]]:
        self.calls += 1
        await asyncio.sleep(self.delay)
        return [
            {
                "hostname": host,
                "host": "127.0.0.1",
                "port": port,
                "family": socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
        ]

    async def close(self) -> None:
        pass


def answer(tokens: int = 3) -> bytes:
    """A whole streamed answer with a content-length, so the connection can be kept alive."""
    body = b"".join(chunk(n) for n in range(tokens)) + FINISH + usage_event(tokens) + DONE
    return (
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
        + f"content-length: {len(body)}\r\n\r\n".encode()
        + body
    )


def keep_alive(replies: Sequence[bytes]) -> Behaviour:
    """Answer several requests on one connection, then wait for the client to close it."""

    async def behave(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for raw in replies:
            await read_request(reader)
            writer.write(raw)
            await writer.drain()
        await reader.read()
        writer.close()

    return behave


async def test_a_cold_connection_setup_is_connect_s_and_not_in_ttft() -> None:
    resolver = SlowResolver(SETUP_S)
    async with ScriptedServer([keep_alive([answer(), answer()])]) as server:
        url = f"http://auraon-slow-dns.test:{server.port}/v1"
        transport = AiohttpTransport(resolver=resolver)
        async with MeasuringClient(url, transport=transport) as client:
            cold = await send(client)
            warm = await send(client)
    assert cold.status == warm.status == "ok" and resolver.calls == 1
    assert cold.connection_reused is False and cold.connect_s >= SETUP_S
    # the setup happened between the attempt start and the send...
    assert cold.t_sent - cold.t_scheduled >= SETUP_S
    assert cold.schedule_lag_s < SETUP_S  # ...and the lag is stamped at the attempt start
    # ...so neither TTFT nor latency holds it (the server answers at once)
    assert cold.ttft_s < SETUP_S and cold.latency_s < SETUP_S
    assert cold.t_first_byte - cold.t_sent < SETUP_S
    assert warm.connection_reused is True and warm.connect_s is None
    assert warm.t_sent - warm.t_scheduled < SETUP_S


async def test_the_httpx_transport_reports_connection_setup_and_reuse() -> None:
    async with ScriptedServer([keep_alive([answer(), answer()])]) as server:
        async with MeasuringClient(server.base_url, transport=HttpxTransport()) as client:
            cold = await send(client)
            warm = await send(client)
    assert cold.status == warm.status == "ok"
    assert cold.connection_reused is False and 0 < cold.connect_s < 5
    assert cold.t_sent - cold.t_scheduled >= cold.connect_s
    assert warm.connection_reused is True and warm.connect_s is None
    assert 0 < warm.ttft_s <= warm.ttlt_s <= warm.latency_s


class _Canned:
    def __init__(self) -> None:
        self.status_code = 200
        self.headers = {"content-type": "application/json"}

    async def aiter_raw(self) -> AsyncIterator[bytes]:
        yield b'{"choices": [{"index": 0, "message": {"content": "hi"}}], "usage": {'
        yield b'"prompt_tokens": 1, "completion_tokens": 1}}'

    async def aread(self) -> bytes:
        raise NotImplementedError

    async def aclose(self) -> None:
        pass


class BlindTransport:
    """A transport that says nothing about its connections."""

    async def send(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None
    ) -> _Canned:
        await asyncio.sleep(0.05)
        return _Canned()

    async def aclose(self) -> None:
        pass


async def test_a_transport_that_cannot_tell_leaves_the_connection_unknown() -> None:
    async with MeasuringClient("http://127.0.0.1:9/v1", transport=BlindTransport()) as client:
        rec = await send(client, stream=False)
    assert rec.status == "ok"
    assert rec.connect_s is None and rec.connection_reused is None
    assert rec.t_sent == pytest.approx(rec.t_scheduled + rec.schedule_lag_s)  # attempt start
    assert rec.latency_s >= 0.05


# --- 4. every attempt has a token_source and a cost_source ----------------------------------

RATE_LIMITED = http(
    "429 Too Many Requests",
    b'{"error": {"type": "requests", "code": "rate_limit_exceeded", "message": "slow down"}}',
)
STREAM_ERROR = sse(
    [chunk(0), event({"error": {"type": "server_error", "message": "boom"}})], done=False
)
SLOW_HEADERS = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: 99\r\n\r\n"
FAILURES = {
    "http_error": (http("500 Internal Server Error", b"<h1>Oops</h1>", "text/html"), True),
    "http_error/stream": (STREAM_ERROR, True),
    "rate_limited": (RATE_LIMITED, False),
    "timeout/read": (stall(1.0, SLOW_HEADERS + chunk(0)), True),
    "timeout/total": (stall(1.0), False),
    "connection_error/reset": (reset_after_request(), False),
    "connection_error/refused": (None, True),
    "protocol_error/bad_json": (http("200 OK", b"hello, not json", "text/plain"), False),
    "protocol_error/truncated": (sse([chunk(0), chunk(1)], done=False), True),
}


@pytest.mark.parametrize("case", list(FAILURES))
async def test_every_failed_attempt_has_sources_from_the_closed_sets(case: str) -> None:
    behaviour, stream = FAILURES[case]
    timeouts = Timeouts(connect=2, read=0.2, total=0.5 if case == "timeout/total" else 10)
    if behaviour is None:
        client = MeasuringClient(f"http://127.0.0.1:{closed_port()}/v1", timeouts=timeouts)
        async with client:
            rec = await send(client, stream=stream)
    else:
        async with ScriptedServer([behaviour]) as server:
            async with MeasuringClient(server.base_url, timeouts=timeouts) as client:
                rec = await send(client, stream=stream)
    assert rec.status == case.split("/")[0], (rec.status, rec.error_type, rec.error_message)
    assert (rec.token_source, rec.cost_source) == ("none", "none")
    assert rec.token_source in TOKEN_SOURCES and rec.cost_source in COST_SOURCES
    df = records_to_batch([rec]).to_pandas()  # the enumerated columns are checked here
    summary = summarize_arm(df)
    assert summary.tokens.token_sources == {"none": 1}
    assert summary.cost.cost_sources == {"none": 1}
