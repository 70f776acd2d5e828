"""The measuring client over real HTTP: timings, and every attempt's class."""

from __future__ import annotations

import socket

import anyio
import orjson
import pytest

from auraon_bench.catalog import PriceTable
from auraon_bench.client.http import MeasuringClient, Timeouts
from auraon_bench.client.wire import chat_body
from auraon_bench.errors import TargetError
from auraon_bench.results.schema import RequestRecord
from tests.fault_routes import full_accept_queue
from tests.scripted_server import ScriptedServer, http, reply, reset_after_request, stall

pytestmark = pytest.mark.anyio
HI = [{"role": "user", "content": "Say hi."}]


def record(arm: str = "gpt-4o") -> RequestRecord:
    return RequestRecord(run_id="t", arm=arm, status="ok", model_requested=arm)


async def send(
    client: MeasuringClient,
    *,
    stream: bool = True,
    fault: str | None = None,
    model: str = "gpt-4o",
    max_tokens: int = 10,
) -> RequestRecord:
    headers = {"x-emulator-fault": fault} if fault else None
    body = chat_body(model, HI, stream=stream, max_tokens=max_tokens, extra={"ignore_eos": True})
    return await client.chat(body, record(model), stream=stream, headers=headers)


@pytest.mark.slow
async def test_streamed_answer_is_measured(emulator) -> None:
    async with MeasuringClient(emulator.base_url, "br-demo-pro", keep_text=True) as client:
        rec = await send(client, max_tokens=12)
    assert rec.status == "ok" and rec.http_status == 200
    assert rec.n_events == 12 and rec.completion_tokens == 12 and rec.token_source == "usage"
    assert len(rec.itl_s) == 11 and all(gap >= 0 for gap in rec.itl_s)
    assert 0 < rec.t_sent < rec.t_first_byte <= rec.t_first_token <= rec.t_last_token <= rec.t_done
    assert rec.ttft_s == pytest.approx(rec.t_first_token - rec.t_sent, abs=1e-6)
    assert rec.ttlt_s == pytest.approx(rec.t_last_token - rec.t_sent, abs=1e-6)
    assert rec.latency_s == pytest.approx(rec.t_done - rec.t_sent, abs=1e-6)  # to [DONE]
    assert rec.latency_s >= rec.ttlt_s
    assert rec.tpot_s == pytest.approx((rec.ttlt_s - rec.ttft_s) / 11)
    assert rec.connection_reused is False and rec.connect_s > 0  # a new client's first request
    assert rec.cost_source == "blockrun" and rec.cost_usd > 0 and rec.routed_to == "gpt-4o"
    assert rec.response_text and rec.finish_reason == "length"
    assert rec.server_latency_ms is not None


async def test_non_streamed_answer_and_rate_headers(emulator) -> None:
    async with MeasuringClient(emulator.base_url, "br-demo-starter") as client:
        rec = await send(client, stream=False, model="auto")
    assert rec.status == "ok" and rec.ttft_s is None and rec.latency_s > 0
    assert rec.routed_to and rec.routing_reason and rec.model_reported == rec.routed_to
    assert rec.ratelimit_limit_requests == 60 and rec.ratelimit_remaining_requests is not None
    assert rec.ratelimit_reset_requests_s is not None


@pytest.mark.parametrize(
    ("fault", "stream", "status", "kind"),
    [
        ("drop_mid_stream", True, "connection_error", "disconnected"),
        ("truncate", True, "protocol_error", "truncated"),
        ("malformed_chunk", True, "protocol_error", "bad_stream"),
        ("stream_error", True, "http_error", "server_error"),
        ("malformed_chunk", False, "protocol_error", "bad_json"),
        ("truncate", False, "connection_error", "disconnected"),
        ("error", True, "http_error", "service_unavailable"),
    ],
)
async def test_emulator_faults_are_classified(emulator, fault, stream, status, kind) -> None:
    async with MeasuringClient(emulator.base_url, "br-demo-pro") as client:
        rec = await send(client, stream=stream, fault=fault)
    assert (rec.status, rec.error_type) == (status, kind)


@pytest.mark.slow
async def test_rate_limited_is_its_own_class() -> None:
    from auraon_bench.emulator.launcher import EmulatorProcess
    from tests.conftest import FIXTURES

    with EmulatorProcess(catalog=str(FIXTURES / "instant-llama.toml")) as emu:
        async with MeasuringClient(emu.base_url, "br-demo-starter") as client:
            recs = [await send(client, model="llama-3.1-8b", max_tokens=1) for _ in range(65)]
    limited = [r for r in recs if r.status == "rate_limited"]
    assert limited and limited[0].http_status == 429
    assert limited[0].error_code == "rate_limit_exceeded" and limited[0].error_type == "requests"
    assert limited[0].retry_after_s > 0


async def test_read_timeout_and_total_timeout(emulator) -> None:
    async with MeasuringClient(
        emulator.base_url, "br-demo-pro", timeouts=Timeouts(read=0.02, total=30)
    ) as client:
        rec = await send(client, fault="slow_headers")  # 5 s x 0.01 = 50 ms before headers
    assert (rec.status, rec.error_type) == ("timeout", "read")
    async with (
        ScriptedServer(
            [
                stall(
                    2.0,
                    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream"
                    b"\r\ntransfer-encoding: chunked\r\n\r\n",
                )
            ]
        ) as server,
        MeasuringClient(server.base_url, timeouts=Timeouts(read=5, total=0.2)) as c,
    ):
        rec = await send(c)
    assert (rec.status, rec.error_type) == ("timeout", "total")


async def test_scripted_faults() -> None:
    html = http("500 Internal Server Error", b"<html><h1>Oops</h1></html>", "text/html")
    not_json = http("200 OK", b"hello, not json", "text/plain")
    async with ScriptedServer([html, not_json, reset_after_request()]) as server:
        async with MeasuringClient(server.base_url) as client:
            first = await send(client, stream=False)
            second = await send(client, stream=False)
            third = await send(client, stream=False)
    assert (first.status, first.http_status, first.error_message) == ("http_error", 500, "Oops")
    assert (second.status, second.error_type) == ("protocol_error", "bad_json")
    assert third.status == "connection_error"


async def test_connection_refused_is_classified() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with MeasuringClient(f"http://127.0.0.1:{port}/v1") as client:
        rec = await send(client)
        with pytest.raises(TargetError, match="cannot reach"):
            await client.check_target(timeout=2)
    assert (rec.status, rec.error_type) == ("connection_error", "refused")


async def test_rejected_key_fails_the_preflight(emulator) -> None:
    async with MeasuringClient(emulator.base_url, "br-wrong-key-1234") as client:
        with pytest.raises(TargetError, match="rejected the API key") as info:
            await client.check_target()
    assert "wrong-key" not in str(info.value)


async def test_price_table_cost_for_targets_without_metadata() -> None:
    body = (
        b'{"id": "x", "model": "gpt-4o", "choices": [{"index": 0, "message": {"role": '
        b'"assistant", "content": "hi"}, "finish_reason": "stop"}], "usage": '
        b'{"prompt_tokens": 1000, "completion_tokens": 100}}'
    )
    async with ScriptedServer([http("200 OK", body)]) as server:
        async with MeasuringClient(server.base_url, prices=PriceTable.builtin()) as client:
            rec = await send(client, stream=False)
    assert rec.cost_source == "price_table"
    assert rec.cost_usd == pytest.approx((1000 * 2.5 + 100 * 10.0) / 1e6)


async def test_connect_timeout_against_a_full_accept_queue() -> None:
    # A listener that never accepts, its backlog filled: the kernel drops further SYNs, so the
    # client's connect hangs until its connect timeout, all on loopback.
    with full_accept_queue() as port:
        await anyio.sleep(0.2)
        timeouts = Timeouts(connect=0.3, read=5, total=10)
        async with MeasuringClient(f"http://127.0.0.1:{port}/v1", timeouts=timeouts) as c:
            rec = await send(c, stream=False)
    assert (rec.status, rec.error_type) == ("timeout", "connect")


@pytest.mark.parametrize("stream", [True, False])
async def test_tool_calls_are_kept_as_the_answer(emulator, stream: bool) -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "lookup",
                "parameters": {
                    "type": "object",
                    "properties": {"q": {"type": "string"}},
                    "required": ["q"],
                },
            },
        }
    ]
    body = chat_body("gpt-4o", HI, stream=stream, extra={"tools": tools})
    async with MeasuringClient(emulator.base_url, "br-demo-pro", keep_text=True) as client:
        rec = await client.chat(body, record(), stream=stream)
    assert rec.status == "ok" and rec.finish_reason == "tool_calls"
    calls = orjson.loads(rec.response_text)
    assert calls == [{"name": "lookup", "arguments": '{"q":"example"}'}]


async def test_responses_of_unexpected_shape_are_protocol_errors() -> None:
    odd = http("200 OK", b'{"choices": ["x"], "model": 7, "usage": {"completion_tokens": "5"}}')
    parts = http(
        "200 OK",
        b'{"choices": [{"index": 0, "message": {"content": [{"type": "text",'
        b' "text": "hi"}]}, "finish_reason": "stop"}], "model": 3}',
    )
    headers = reply(
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n"
        b"x-ratelimit-remaining-tokens: nan\r\nconnection: close\r\n\r\n{}"
    )
    async with ScriptedServer([odd, parts, headers]) as server:
        async with MeasuringClient(server.base_url, keep_text=True) as client:
            first = await send(client, stream=False)
            second = await send(client, stream=False)
            third = await send(client, stream=False)
    assert (first.status, first.error_type) == ("protocol_error", "unexpected_shape")
    assert second.status == "ok" and isinstance(second.response_text, str)
    assert second.model_reported == "3"
    assert third.status == "ok" and third.ratelimit_remaining_tokens is None
    from auraon_bench.results.schema import records_to_batch

    assert records_to_batch([first, second, third]).num_rows == 3  # all writable


async def test_a_broken_stream_keeps_what_arrived_before_the_break(emulator) -> None:
    async with MeasuringClient(emulator.base_url, "br-demo-pro") as client:
        rec = await send(client, fault="drop_mid_stream", max_tokens=20)
    assert (rec.status, rec.http_status) == ("connection_error", 200)
    assert 0 < rec.n_events < 20 and rec.ttft_s is not None and len(rec.itl_s) == rec.n_events - 1
    assert rec.latency_s is None  # the answer never finished: no answer latency
    assert rec.t_done is not None and rec.t_done >= rec.t_last_token
    assert (rec.token_source, rec.cost_source) == ("none", "none")
