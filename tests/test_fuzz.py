"""Property-based abuse of the emulator: whatever the body or headers, a 4xx or a 200, never a
5xx, always OpenAI's error shape, and the server keeps serving."""

from __future__ import annotations

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auraon_bench.emulator.protocol import KNOWN_PARAMS

# Every parameter the emulator knows, plus one it does not.
KNOWN = [*sorted(KNOWN_PARAMS), "extra"]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-10, 10**6),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
messages = st.lists(
    st.fixed_dictionaries(
        {
            "role": st.sampled_from(["user", "system", "assistant", "tool", "x"]),
            "content": st.one_of(st.text(max_size=40), values),
        }
    ),
    max_size=3,
)
bodies = st.dictionaries(st.sampled_from(KNOWN), values, max_size=6).flatmap(
    lambda d: st.fixed_dictionaries(
        {
            **{k: st.just(v) for k, v in d.items()},
            "model": st.sampled_from(["gpt-4o", "auto", "nope", 3]),
            "messages": st.one_of(messages, values),
        }
    )
)
header_values = st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=30)


def check(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        error = response.json()["error"]
        assert set(error) == {"message", "type", "param", "code"}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=bodies)
@pytest.mark.slow
def test_any_json_body(instant_emulator, body) -> None:
    body.pop("stream", None)  # keep the answer short to read; streaming is fuzzed below
    with httpx.Client(timeout=10) as client:
        check(
            client.post(
                f"{instant_emulator.base_url}/chat/completions",
                json=body,
                headers={"Authorization": "Bearer br-demo-pro"},
            )
        )


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    raw=st.binary(max_size=200),
    fallbacks=header_values,
    timeout=header_values,
    retries=header_values,
    auth=header_values,
)
@pytest.mark.slow
def test_any_bytes_and_headers(instant_emulator, raw, fallbacks, timeout, retries, auth) -> None:
    headers = {
        "Authorization": auth,
        "x-auraon-fallbacks": fallbacks,
        "x-auraon-timeout": timeout,
        "x-auraon-max-retries": retries,
        "Content-Type": "application/json",
    }
    with httpx.Client(timeout=10) as client:
        check(
            client.post(
                f"{instant_emulator.base_url}/chat/completions", content=raw, headers=headers
            )
        )
        headers["Authorization"] = "Bearer br-demo-pro"
        check(
            client.post(
                f"{instant_emulator.base_url}/chat/completions", content=raw, headers=headers
            )
        )


def test_server_still_serves_after_fuzzing(instant_emulator) -> None:
    body = {
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": True,
        "max_tokens": 3,
    }
    response = httpx.post(
        f"{instant_emulator.base_url}/chat/completions",
        json=body,
        headers={"Authorization": "Bearer br-demo-pro"},
    )
    assert response.status_code == 200 and response.text.endswith("data: [DONE]\n\n")
    assert orjson.loads(response.text.split("\n")[0][6:])["object"] == "chat.completion.chunk"
