"""The official ``openai`` client (max_retries=0) against a running emulator."""

from __future__ import annotations

import openai
import pytest
from openai import OpenAI

from auraon_bench.emulator.launcher import EmulatorProcess


def client(emu: EmulatorProcess, plan: str = "pro", key: str | None = None) -> OpenAI:
    return OpenAI(
        base_url=emu.base_url, api_key=key or emu.demo_key(plan), max_retries=0, timeout=30
    )


def test_non_streaming_completion(emulator: EmulatorProcess) -> None:
    response = client(emulator).chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "Say hello."}], max_tokens=20
    )
    assert response.object == "chat.completion"
    assert response.model == "gpt-4o"
    choice = response.choices[0]
    assert choice.message.role == "assistant" and choice.message.content
    assert choice.finish_reason in ("stop", "length")
    usage = response.usage
    assert 1 <= usage.completion_tokens <= 20
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    blockrun = response.model_extra["blockrun"]
    assert blockrun["routed_to"] == "gpt-4o"
    expected = (usage.prompt_tokens * 2.5 + usage.completion_tokens * 10.0) / 1e6
    assert blockrun["cost_usd"] == pytest.approx(expected, rel=1e-6)
    assert blockrun["latency_ms"] >= 0 and blockrun["routing_reason"] == "fixed"


def test_streaming_with_usage(emulator: EmulatorProcess) -> None:
    stream = client(emulator).chat.completions.create(
        model="auto",
        messages=[{"role": "user", "content": "Tell me a short story."}],
        max_tokens=30,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finish = [
        c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
    ]
    assert finish in (["stop"], ["length"])
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None
    assert last.usage.completion_tokens == sum(
        1 for c in chunks if c.choices and c.choices[0].delta.content
    )
    assert text.strip()
    meta = last.model_extra["blockrun"]
    assert meta["routed_to"] == last.model
    assert meta["routed_to"] in {m.id for m in client(emulator).models.list()} - {"auto"}
    assert all(c.model == meta["routed_to"] for c in chunks)


def test_models_list_has_every_model_on_one_page(emulator: EmulatorProcess) -> None:
    ids = [m.id for m in client(emulator).models.list()]
    for model in ("auto", "auto:fast", "auto:quality", "auto:cheap", "gpt-4o", "claude-opus-4"):
        assert model in ids
    assert len(ids) == len(set(ids)) == 14


def test_unknown_or_missing_key_raises_authentication_error(emulator: EmulatorProcess) -> None:
    with pytest.raises(openai.AuthenticationError) as info:
        client(emulator, key="br-not-a-real-key-0000").models.list()
    assert info.value.status_code == 401
    assert "0000" in info.value.message and "not-a-real" not in info.value.message


def test_bad_parameter_raises_bad_request_naming_the_param(emulator: EmulatorProcess) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client(emulator).chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "x"}], temperature=3
        )
    assert info.value.status_code == 400
    assert info.value.body["param"] == "temperature"


def test_unknown_model_is_not_found(emulator: EmulatorProcess) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        client(emulator).chat.completions.create(
            model="gpt-9", messages=[{"role": "user", "content": "x"}]
        )
    assert info.value.body["code"] == "model_not_found"


@pytest.mark.slow
def test_rate_limit_error_carries_retry_after() -> None:
    # A fresh emulator so this test owns the starter key's budget.
    with EmulatorProcess(time_scale=0.05) as emu:
        starter = client(emu, "starter")
        with pytest.raises(openai.RateLimitError) as info:
            for _ in range(200):
                starter.chat.completions.create(
                    model="llama-3.1-8b", messages=[{"role": "user", "content": "hi"}], max_tokens=1
                )
        error = info.value
        assert error.status_code == 429
        assert error.body["code"] == "rate_limit_exceeded" and error.body["type"] == "requests"
        assert float(error.response.headers["retry-after"]) >= 1
        assert int(error.response.headers["retry-after-ms"]) > 0
        assert error.response.headers["x-ratelimit-limit-requests"] == "60"
        assert error.response.headers["x-ratelimit-remaining-requests"] == "0"
