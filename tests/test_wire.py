"""Client-side wire parsing: adapters, rate-limit headers, error bodies, stream folding."""

from __future__ import annotations

import orjson
import pytest

from auraon_bench.client.ratelimit_headers import (
    parse_duration,
    parse_rate_headers,
    parse_retry_after,
)
from auraon_bench.client.sse import SSEDecoder
from auraon_bench.client.wire import (
    StreamState,
    chat_body,
    extract_metadata,
    parse_error_body,
)


def test_chat_body_requests_usage_when_streaming() -> None:
    body = orjson.loads(
        chat_body(
            "auto",
            [{"role": "user", "content": "x"}],
            stream=True,
            max_tokens=5,
            extra={"ignore_eos": True},
        )
    )
    assert body["stream_options"] == {"include_usage": True}
    assert body["max_tokens"] == 5 and body["ignore_eos"] is True
    plain = orjson.loads(chat_body("auto", [], stream=False))
    assert "stream_options" not in plain and "max_tokens" not in plain


@pytest.mark.parametrize(
    ("body", "headers", "expected"),
    [
        (
            {
                "blockrun": {
                    "routed_to": "gpt-4o",
                    "latency_ms": 420,
                    "cost_usd": 0.001,
                    "routing_reason": "simple_qa",
                }
            },
            {},
            ("gpt-4o", "simple_qa", 420.0, 0.001, "blockrun"),
        ),
        (
            {
                "auraon": {
                    "routed_to": "claude-opus-4",
                    "routing_reason": "complex_reasoning",
                    "latency_ms": 821,
                    "cost_usd": 0.00038,
                }
            },
            {},
            ("claude-opus-4", "complex_reasoning", 821.0, 0.00038, "auraon"),
        ),
        (
            {
                "model": "anthropic/claude-sonnet-4",
                "provider": "Anthropic",
                "usage": {"prompt_tokens": 5, "completion_tokens": 2, "cost": 0.0002},
            },
            {},
            ("anthropic/claude-sonnet-4", "Anthropic", None, 0.0002, "openrouter"),
        ),
        (
            {"model": "gpt-4o"},
            {
                "x-litellm-response-cost": "0.0031",
                "x-litellm-model-id": "dep-1",
                "x-litellm-response-duration-ms": "812.5",
            },
            ("gpt-4o", None, 812.5, 0.0031, "litellm"),
        ),
        ({"model": "llama"}, {}, (None, None, None, None, "none")),
    ],
)
def test_metadata_adapters(body, headers, expected) -> None:
    meta = extract_metadata(body, headers)
    assert (
        meta.routed_to,
        meta.routing_reason,
        meta.server_latency_ms,
        meta.cost_usd,
        meta.cost_source,
    ) == expected


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1s", 1.0),
        ("6m0s", 360.0),
        ("12ms", 0.012),
        ("1h2m3.5s", 3723.5),
        ("20", 20.0),
        ("0.5", 0.5),
        ("", None),
        ("soon", None),
        ("5x", None),
    ],
)
def test_parse_duration(text: str, seconds: float | None) -> None:
    assert parse_duration(text) == (pytest.approx(seconds) if seconds is not None else None)


def test_rate_headers_and_retry_after_preference() -> None:
    info = parse_rate_headers(
        {
            "x-ratelimit-limit-requests": "60",
            "x-ratelimit-remaining-requests": "0",
            "x-ratelimit-reset-requests": "1s",
            "x-ratelimit-limit-tokens": "100000",
            "x-ratelimit-remaining-tokens": "99000",
            "x-ratelimit-reset-tokens": "600ms",
            "retry-after": "2",
            "retry-after-ms": "1250",
        }
    )
    assert (info.limit_requests, info.remaining_requests, info.reset_requests_s) == (60, 0, 1.0)
    assert (info.limit_tokens, info.remaining_tokens) == (100000, 99000)
    assert info.reset_tokens_s == pytest.approx(0.6)
    assert info.retry_after_s == pytest.approx(1.25)  # ms wins: it is the precise one
    assert parse_retry_after({"retry-after": "3"}) == 3.0
    date = parse_retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:10 GMT"}, now=1445412480.0)
    assert date == pytest.approx(10.0)


def test_error_bodies_json_and_html() -> None:
    error = parse_error_body(
        b'{"error": {"message": "slow down", "type": "requests", '
        b'"param": null, "code": "rate_limit_exceeded"}}'
    )
    assert (error.type, error.code, error.message) == (
        "requests",
        "rate_limit_exceeded",
        "slow down",
    )
    html = parse_error_body(
        b"<html><body><h1>500 Internal Server Error</h1><p>nginx</p></body></html>"
    )
    assert html.type is None and html.message == "500 Internal Server Error nginx"


def fold(raw: bytes, keep_text: bool = True) -> StreamState:
    state = StreamState(keep_text=keep_text)
    decoder = SSEDecoder()
    for t, byte in enumerate(raw):  # byte by byte, each with its own arrival time
        for event in decoder.feed(bytes([byte]), t):
            state.on_event(event)
    for event in decoder.close(len(raw)):
        state.on_event(event)
    return state


def chunk(delta: dict, finish: str | None = None, **extra) -> bytes:
    return (
        b"data: "
        + orjson.dumps(
            {
                "id": "c",
                "model": "m",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                **extra,
            }
        )
        + b"\n\n"
    )


def test_stream_state_counts_content_events_not_the_role_chunk() -> None:
    raw = (
        chunk({"role": "assistant", "content": ""})
        + b": keep-alive\n\n"
        + chunk({"content": "Hel"})
        + chunk({"reasoning_content": "hmm"})
        + chunk({"content": "lo"})
        + chunk({}, "stop")
        + b'data: {"id":"c","model":"m","choices":[],"usage":{"prompt_tokens":3,'
        b'"completion_tokens":3},"blockrun":{"routed_to":"m","cost_usd":0.1}}\n\n'
        + b"data: [DONE]\n\n"
    )
    state = fold(raw)
    assert len(state.content_times) == 3 and state.done and state.finish_reason == "stop"
    assert "".join(state.text) == "Hello"
    assert state.usage["completion_tokens"] == 3
    assert state.metadata_chunk["blockrun"]["routed_to"] == "m"
    assert state.content_times == sorted(state.content_times)


def test_stream_state_errors_truncation_and_bad_json() -> None:
    error = fold(
        chunk({"content": "a"}) + b'data: {"error": {"message": "boom", "type": '
        b'"server_error", "code": "upstream_error"}}\n\n'
    )
    assert error.error.code == "upstream_error" and not error.done
    named = fold(b'event: error\ndata: {"message": "bad", "code": 42}\n\n')
    assert named.error.message == "bad" and named.error.code == "42"
    truncated = fold(chunk({"content": "a"}) + b'data: {"id": "c", "cho')
    assert truncated.protocol_error == "truncated event at end of stream"
    bad = fold(b"data: {not json}\n\n")
    assert bad.protocol_error.startswith("invalid JSON")


def test_stream_state_tool_calls() -> None:
    raw = (
        chunk(
            {
                "role": "assistant",
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get", "arguments": ""},
                    }
                ],
            }
        )
        + chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"a":'}}]})
        + chunk({"tool_calls": [{"index": 0, "function": {"arguments": " 1}"}}]})
        + chunk({}, "tool_calls")
        + b"data: [DONE]\n\n"
    )
    state = fold(raw)
    assert state.tool_calls == {0: {"name": "get", "arguments": '{"a": 1}'}}
    assert len(state.content_times) == 3 and state.finish_reason == "tool_calls"
