"""The emulator over real HTTP: exact stream format, paging, errors, faults, fallbacks, limits."""

from __future__ import annotations

import time
from typing import Any

import httpx
import orjson
import pytest

from auraon_bench.data.tokenizers import get_tokenizer
from auraon_bench.emulator.launcher import EmulatorProcess
from tests.conftest import FIXTURES

PRO = {"Authorization": "Bearer br-demo-pro"}
INSTANT_LLAMA = FIXTURES / "instant-llama.toml"
X = b'{"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}], '  # a valid start
HI = [{"role": "user", "content": "Say hi."}]


def post(
    emu: EmulatorProcess,
    body: dict[str, Any],
    headers: dict[str, str] | None = None,
    key: str = "br-demo-pro",
) -> httpx.Response:
    return httpx.post(
        f"{emu.base_url}/chat/completions",
        json=body,
        timeout=30,
        headers={"Authorization": f"Bearer {key}", **(headers or {})},
    )


def events(response: httpx.Response) -> list[str]:
    return [line[6:] for line in response.text.split("\n") if line.startswith("data: ")]


def test_stream_follows_openai_chunk_order_with_metadata_on_the_usage_chunk(emulator) -> None:
    body = {
        "model": "gpt-4o",
        "messages": HI,
        "stream": True,
        "max_tokens": 8,
        "ignore_eos": True,
        "stream_options": {"include_usage": True},
    }
    response = post(emulator, body)
    assert response.headers["content-type"].startswith("text/event-stream")
    data = events(response)
    assert data[-1] == "[DONE]"
    chunks = [orjson.loads(d) for d in data[:-1]]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    content = [c for c in chunks if c["choices"] and c["choices"][0]["delta"].get("content")]
    assert len(content) == 8
    finish, usage = chunks[-2], chunks[-1]
    assert finish["choices"][0] == {
        "index": 0,
        "delta": {},
        "logprobs": None,
        "finish_reason": "length",
    }
    assert usage["choices"] == [] and usage["usage"]["completion_tokens"] == 8
    assert all(c["usage"] is None for c in chunks[:-1])
    assert "blockrun" in usage and not any("blockrun" in c for c in chunks[:-1])
    assert {c["id"] for c in chunks} == {chunks[0]["id"]}
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert float(response.headers["x-emulator-first-token-ms"]) > 0


def test_stream_without_usage_puts_metadata_on_the_finish_chunk(emulator) -> None:
    response = post(emulator, {"model": "auto", "messages": HI, "stream": True, "max_tokens": 5})
    chunks = [orjson.loads(d) for d in events(response)[:-1]]
    assert all("usage" not in c for c in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] in ("stop", "length")
    meta = chunks[-1]["blockrun"]
    assert meta["routed_to"] == chunks[-1]["model"] and meta["routing_reason"]


def test_tool_call_stream(emulator) -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "lookup",
                "parameters": {
                    "type": "object",
                    "properties": {"q": {"type": "string"}, "n": {"type": "integer"}},
                    "required": ["q", "n"],
                },
            },
        }
    ]
    body = {
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": "Find cats."}],
        "tools": tools,
        "stream": True,
    }
    chunks = [orjson.loads(d) for d in events(post(emulator, body))[:-1]]
    first = chunks[0]["choices"][0]["delta"]["tool_calls"][0]
    assert first["function"] == {"name": "lookup", "arguments": ""}
    assert first["id"].startswith("call_") and first["type"] == "function"
    fragments = [
        c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"]
        for c in chunks[1:]
        if c["choices"] and c["choices"][0]["delta"].get("tool_calls")
    ]
    assert all(
        "name" not in c["choices"][0]["delta"]["tool_calls"][0].get("function", {})
        for c in chunks[1:]
        if c["choices"] and c["choices"][0]["delta"].get("tool_calls")
    )
    assert orjson.loads("".join(fragments)) == {"q": "example", "n": 1}
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_dataset_items_are_answered_deterministically(emulator) -> None:
    body = {
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": "What is the capital of Portugal?"}],
    }
    answers = {post(emulator, body).json()["choices"][0]["message"]["content"] for _ in range(3)}
    assert len(answers) == 1 and answers <= {"Lisbon", "Porto"}
    tool_item = {
        "model": "claude-opus-4",
        "messages": [{"role": "user", "content": "What's the weather in Oslo right now?"}],
        "tools": [
            {"type": "function", "function": {"name": "get_weather"}},
            {"type": "function", "function": {"name": "get_time"}},
        ],
    }
    call = post(emulator, tool_item).json()["choices"][0]["message"]["tool_calls"][0]
    assert call["function"]["name"] in ("get_weather", "get_time")


def test_models_paging(emulator) -> None:
    url = f"{emulator.base_url}/models"
    everything = httpx.get(url, headers=PRO).json()
    assert everything["has_more"] is False and len(everything["data"]) == 14
    ids, after = [], None
    while True:
        params = {"limit": 4, **({"after": after} if after else {})}
        page = httpx.get(url, headers=PRO, params=params).json()
        ids += [m["id"] for m in page["data"]]
        assert page["first_id"] == page["data"][0]["id"]
        after = page["last_id"]
        if not page["has_more"]:
            break
    assert ids == [m["id"] for m in everything["data"]]
    bad = httpx.get(url, headers=PRO, params={"after": "nope"})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "after"


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/v1/nothing", 404), ("DELETE", "/v1/chat/completions", 405)],
)
def test_unknown_routes_answer_in_openai_shape(emulator, method, path, status) -> None:
    response = httpx.request(method, emulator.url + path, headers=PRO)
    assert response.status_code == status
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (b"{", None),
        (b"[]", None),
        (b'{"model": "gpt-4o"}', "messages"),
        (b'{"messages": [{"role": "user", "content": "x"}]}', "model"),
        (
            b'{"model": "gpt-4o", "messages": [{"role": "robot", "content": "x"}]}',
            "messages[0].role",
        ),
        (
            b'{"model": "gpt-4o", "messages": [{"role": "user", "content": 5}]}',
            "messages[0].content",
        ),
        (
            X + b'"top_p": 1.5}',
            "top_p",
        ),
        (
            X + b'"max_tokens": 0}',
            "max_tokens",
        ),
        (
            X + b'"stop": ["a","b","c","d","e"]}',
            "stop",
        ),
        (
            X + b'"stream": "yes"}',
            "stream",
        ),
        (
            X + b'"stream_options": {"include_usage": true}}',
            "stream_options",
        ),
        (
            X + b'"tools": [{"type": "function", "function": {"name": "bad name"}}]}',
            "tools[0].function.name",
        ),
        (
            X + b'"colour": 1}',
            "colour",
        ),
        (
            b'{"model": "gpt-4o", "messages": [{"role": "tool", "content": "x"}]}',
            "messages[0].tool_call_id",
        ),
    ],
)
def test_bad_bodies_get_400_naming_the_param(emulator, body: bytes, param: str | None) -> None:
    response = httpx.post(
        f"{emulator.base_url}/chat/completions",
        content=body,
        headers={**PRO, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param


def test_context_overflow_on_a_fixed_model_is_400(emulator) -> None:
    huge = [{"role": "user", "content": " word" * 150_000}]
    tokens = get_tokenizer("o200k_base").chat_tokens(huge)  # how the emulator counts it
    assert 128_000 < tokens + 1 <= 200_000  # over gpt-4o's window, within claude-opus-4's
    response = post(emulator, {"model": "gpt-4o", "messages": huge, "max_tokens": 1})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "context_length_exceeded"
    assert f"you requested {tokens + 1} tokens" in response.json()["error"]["message"]
    fallback = post(
        emulator,
        {"model": "gpt-4o", "messages": huge, "max_tokens": 1},
        {"x-auraon-fallbacks": "claude-opus-4"},
    )
    assert (
        fallback.status_code == 200 and fallback.json()["blockrun"]["routed_to"] == "claude-opus-4"
    )


def test_upstream_503_fixed_model_without_and_with_fallbacks(emulator) -> None:
    body = {"model": "gpt-4o", "messages": HI, "max_tokens": 3}
    failed = post(emulator, body, {"x-emulator-fault": "error"})
    assert failed.status_code == 503
    assert failed.json()["error"]["message"].startswith(
        "Selected model is temporarily unavailable. Enable fallbacks."
    )
    rescued = post(
        emulator,
        body,
        {"x-emulator-fault": "error", "x-auraon-fallbacks": "claude-sonnet-4-6, llama-3-3-70b"},
    )
    meta = rescued.json()["blockrun"]
    assert rescued.status_code == 200 and meta["routed_to"] == "claude-sonnet-4-6"
    assert "fallback:gpt-4o=503" in meta["routing_reason"]


def test_auto_falls_back_on_upstream_429_and_respects_max_retries(emulator) -> None:
    body = {"model": "auto:cheap", "messages": HI, "max_tokens": 3}
    ok = post(emulator, body, {"x-emulator-fault": "upstream_429"})
    assert ok.status_code == 200 and "=429" in ok.json()["blockrun"]["routing_reason"]
    capped = post(emulator, body, {"x-emulator-fault": "error", "x-auraon-max-retries": "0"})
    assert capped.status_code == 503


def test_gateway_timeout_header(emulator) -> None:
    response = post(
        emulator,
        {"model": "claude-opus-4", "messages": HI, "max_tokens": 2},
        {"x-auraon-timeout": "1"},
    )  # 1 ms simulated; opus's TTFT is ~2 s
    assert response.status_code == 503 and "(timeout)" in response.json()["error"]["message"]
    bad = post(emulator, {"model": "gpt-4o", "messages": HI}, {"x-auraon-timeout": "soon"})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "x-auraon-timeout"


def stream_with_fault(emu: EmulatorProcess, fault: str) -> tuple[list[bytes], Exception | None]:
    body = {
        "model": "gpt-4o",
        "messages": HI,
        "stream": True,
        "max_tokens": 20,
        "ignore_eos": True,
        "stream_options": {"include_usage": True},
    }
    lines: list[bytes] = []
    error = None
    try:
        with httpx.stream(
            "POST",
            f"{emu.base_url}/chat/completions",
            json=body,
            timeout=30,
            headers={**PRO, "x-emulator-fault": fault},
        ) as response:
            assert response.status_code == 200
            for line in response.iter_lines():
                if line:
                    lines.append(line.encode())
    except httpx.HTTPError as exc:
        error = exc
    return lines, error


def test_stream_faults(emulator) -> None:
    lines, error = stream_with_fault(emulator, "drop_mid_stream")
    assert isinstance(error, httpx.RemoteProtocolError) and 0 < len(lines) < 20
    lines, error = stream_with_fault(emulator, "truncate")
    assert error is None and lines and b"data: [DONE]" not in lines
    assert not any(b'"finish_reason":"' in ln for ln in lines)
    lines, error = stream_with_fault(emulator, "malformed_chunk")
    broken = [ln for ln in lines if ln.startswith(b"data: {") and not _is_json(ln[6:])]
    assert error is None and len(broken) == 1 and lines[-1] == b"data: [DONE]"
    lines, error = stream_with_fault(emulator, "stream_error")
    assert orjson.loads(lines[-1][6:])["error"]["code"] == "upstream_error"
    bad = post(emulator, {"model": "gpt-4o", "messages": HI}, {"x-emulator-fault": "explode"})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "x-emulator-fault"


def test_non_streaming_faults(emulator) -> None:
    body = {"model": "gpt-4o", "messages": HI, "max_tokens": 5}
    with pytest.raises(httpx.RemoteProtocolError):
        post(emulator, body, {"x-emulator-fault": "truncate"})
    malformed = post(emulator, body, {"x-emulator-fault": "malformed_chunk"})
    assert malformed.status_code == 200 and not _is_json(malformed.content)


def _is_json(raw: bytes) -> bool:
    try:
        orjson.loads(raw)
    except orjson.JSONDecodeError:
        return False
    return True


@pytest.mark.slow
def test_rate_limit_headers_and_honest_retry_after() -> None:
    # Real-time windows, zero-delay answers: the model is instant, the minute is real.
    with EmulatorProcess(time_scale=1.0, catalog=str(INSTANT_LLAMA)) as emu:
        body = {"model": "llama-3.1-8b", "messages": HI, "max_tokens": 1}
        first = post(emu, body, key="br-demo-starter")
        assert first.headers["x-ratelimit-limit-requests"] == "60"
        assert first.headers["x-ratelimit-limit-tokens"] == "100000"
        assert first.headers["x-ratelimit-remaining-requests"] == "59"
        # A 429 whose advertised wait is long enough (>= 0.5 s) that "too early" below cannot
        # be mistaken for the time a busy machine takes to send the next request.
        for _ in range(1000):  # bounded; a token refills every second
            limited = post(emu, body, key="br-demo-starter")
            if limited.status_code == 429 and int(limited.headers["retry-after-ms"]) >= 500:
                break
        assert limited.status_code == 429 and limited.headers["x-should-retry"] == "true"
        wait = int(limited.headers["retry-after-ms"]) / 1000
        assert wait >= 0.5
        time.sleep(wait * 0.3)
        assert post(emu, body, key="br-demo-starter").status_code == 429
        time.sleep(wait * 0.75)  # now past the advertised time (0.3 + 0.75 > 1)
        assert post(emu, body, key="br-demo-starter").status_code == 200
        unlimited = post(emu, body, key="br-demo-enterprise")
        assert not any(h.startswith("x-ratelimit") for h in unlimited.headers)
        # 200k output tokens fit gemini-2.5-flash's context but never the 100k-token budget.
        too_large = post(
            emu, {**body, "model": "gemini-2.5-flash", "max_tokens": 200_000}, key="ar-demo-starter"
        )
        assert too_large.status_code == 429 and too_large.headers["x-should-retry"] == "false"
        assert "Request too large" in too_large.json()["error"]["message"]


def test_missing_and_unknown_keys(emulator) -> None:
    missing = httpx.get(f"{emulator.base_url}/models")
    assert missing.status_code == 401 and missing.json()["error"]["code"] == "missing_api_key"
    unknown = post(emulator, {"model": "gpt-4o", "messages": HI}, key="br-secret-value-9876")
    assert unknown.status_code == 401 and "secret-value" not in unknown.text
    assert (
        post(
            emulator, {"model": "gpt-4o", "messages": HI, "max_tokens": 1}, key="ar-demo-pro"
        ).status_code
        == 200
    )


@pytest.mark.slow
def test_metadata_name_and_body_limit_options() -> None:
    with EmulatorProcess(
        time_scale=0, extra_args=["--metadata", "both", "--max-body-mb", "1"]
    ) as emu:
        body = post(emu, {"model": "auto", "messages": HI, "max_tokens": 2}).json()
        assert body["blockrun"] == body["auraon"]
        big = post(
            emu, {"model": "gpt-4o", "messages": [{"role": "user", "content": "x" * 2_000_000}]}
        )
        assert big.status_code == 413 and big.json()["error"]["type"] == "invalid_request_error"
        assert post(emu, {"model": "gpt-4o", "messages": HI, "max_tokens": 1}).status_code == 200


def test_odd_but_valid_inputs_get_answers_not_500s(emulator) -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "f",
                "parameters": {
                    "type": "object",
                    "properties": {"x": {"type": ["string", "null"]}, "y": {"enum": {}}},
                    "required": ["x", "y", 5],
                },
            },
        }
    ]
    answer = post(emulator, {"model": "gpt-4o", "messages": HI, "tools": tools})
    assert answer.status_code == 200
    call = answer.json()["choices"][0]["message"]["tool_calls"][0]["function"]
    assert orjson.loads(call["arguments"]) == {"x": "example", "y": "example"}
    paging = httpx.get(f"{emulator.base_url}/models", headers=PRO, params={"limit": "²"})
    assert paging.status_code == 400 and paging.json()["error"]["param"] == "limit"
    retries = post(
        emulator, {"model": "gpt-4o", "messages": HI}, {"x-auraon-max-retries": "²".encode()}
    )
    assert retries.status_code == 400
    huge = post(emulator, {"model": "gpt-4o", "messages": HI, "min_tokens": 10**8})
    assert huge.status_code == 400 and huge.json()["error"]["param"] == "min_tokens"


@pytest.mark.slow
def test_a_failed_request_costs_exactly_one_request() -> None:
    with EmulatorProcess(time_scale=1.0, catalog=str(INSTANT_LLAMA)) as emu:

        def remaining(response: httpx.Response) -> int:
            return int(response.headers["x-ratelimit-remaining-requests"])

        ok = post(
            emu, {"model": "llama-3.1-8b", "messages": HI, "max_tokens": 1}, key="br-demo-starter"
        )
        overflow = post(
            emu,
            {
                "model": "llama-3.1-8b",
                "max_tokens": 1,
                "messages": [{"role": "user", "content": " word" * 150_000}],  # 150k tokens
            },
            key="br-demo-starter",
        )
        exhausted = post(
            emu,
            {"model": "llama-3.1-8b", "messages": HI, "max_tokens": 1},
            {"x-emulator-fault": "error"},
            key="br-demo-starter",
        )
        assert (overflow.status_code, exhausted.status_code) == (400, 503)
        assert remaining(ok) - remaining(overflow) == 1
        assert remaining(overflow) - remaining(exhausted) == 1
        tokens_left = int(exhausted.headers["x-ratelimit-remaining-tokens"])
        assert tokens_left >= 100_000 - 100  # nothing of the failed reservations is kept
