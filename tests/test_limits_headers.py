"""Every common rate-limit header family, parsed by the pure ``parse_rate_headers``."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from auraon_bench.client.ratelimit_headers import (
    RateInfo,
    parse_rate_headers,
    parse_reset,
    parse_retry_after,
)

NOW = datetime(2026, 1, 5, 12, 0, 0, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after": "7"}, 7.0),
        ({"retry-after": "0.5"}, 0.5),
        ({"Retry-After": "Mon, 05 Jan 2026 12:00:30 GMT"}, 30.0),  # an HTTP date, any case
        ({"retry-after-ms": "1250", "retry-after": "2"}, 1.25),  # ms wins: the precise one
        ({"llm_provider-retry-after": "60"}, 60.0),  # LiteLLM's router 429 carries only this
        ({"llm_provider-retry-after-ms": "900"}, 0.9),
        ({"retry-after": "3", "llm_provider-retry-after": "60"}, 3.0),  # the gateway's own first
        ({"retry-after": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_after_in_every_form(headers: dict[str, str], seconds: float | None) -> None:
    assert parse_rate_headers(headers, now=NOW).retry_after_s == (
        pytest.approx(seconds) if seconds is not None else None
    )


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("6m0s", 360.0),  # OpenAI's Go durations
        ("1s", 1.0),
        ("20ms", 0.02),
        ("1h2m3.5s", 3723.5),
        ("17", 17.0),  # LiteLLM: plain seconds
        ("0.25", 0.25),
        (str(NOW + 42), 42.0),  # a Unix time: seconds from now
        ("later", None),
    ],
)
def test_reset_in_every_form(text: str, seconds: float | None) -> None:
    parsed = parse_reset(text, now=NOW)
    assert parsed == (pytest.approx(seconds) if seconds is not None else None)


def test_openai_family() -> None:
    info = parse_rate_headers(
        {
            "x-ratelimit-limit-requests": "60",
            "x-ratelimit-remaining-requests": "59",
            "x-ratelimit-reset-requests": "1s",
            "x-ratelimit-limit-tokens": "100000",
            "x-ratelimit-remaining-tokens": "99000",
            "x-ratelimit-reset-tokens": "6m0s",
        }
    )
    assert info == RateInfo(None, 60, 59, 100_000, 99_000, 1.0, 360.0)


def test_litellm_router_headers_and_its_429() -> None:
    success = parse_rate_headers(
        {"X-RateLimit-Limit-Requests": "5", "x-ratelimit-remaining-requests": "4"}
    )
    assert (success.limit_requests, success.remaining_requests) == (5, 4)
    assert success.limit_tokens is None and success.retry_after_s is None
    refused = parse_rate_headers({"llm_provider-retry-after": "60", "content-type": "x"})
    assert refused == RateInfo(retry_after_s=60.0)


def test_litellm_per_descriptor_form_takes_the_tightest() -> None:
    info = parse_rate_headers(
        {
            "x-ratelimit-api_key-limit-requests": "100",
            "x-ratelimit-api_key-remaining-requests": "40",
            "x-ratelimit-team-limit-requests": "10",
            "x-ratelimit-team-remaining-requests": "3",
            "x-ratelimit-api_key-limit-tokens": "5000",
            "x-ratelimit-api_key-remaining-tokens": "1200",
        }
    )
    assert (info.limit_requests, info.remaining_requests) == (10, 3)
    assert (info.limit_tokens, info.remaining_tokens) == (5000, 1200)


def test_litellm_v3_429_reset_at_names_its_limit() -> None:
    headers = {"retry-after": "60", "rate_limit_type": "tokens",
               "reset_at": "2026-01-05 12:00:40 UTC"}  # fmt: skip
    info = parse_rate_headers(headers, now=NOW)
    assert info.retry_after_s == 60.0 and info.reset_tokens_s == pytest.approx(40.0)
    assert info.reset_requests_s is None


def test_input_token_limits_stand_in_for_tokens() -> None:
    info = parse_rate_headers(
        {
            "x-ratelimit-limit-input-tokens": "30000",
            "x-ratelimit-remaining-input-tokens": "29000",
            "x-ratelimit-reset-input-tokens": "12",
        }
    )
    assert (info.limit_tokens, info.remaining_tokens, info.reset_tokens_s) == (30000, 29000, 12)


def test_a_providers_limits_through_litellm_when_the_gateway_states_none() -> None:
    upstream = {
        "llm_provider-x-ratelimit-limit-requests": "500",
        "llm_provider-x-ratelimit-remaining-requests": "499",
        "llm_provider-x-ratelimit-reset-requests": "120ms",
        "llm_provider-x-ratelimit-limit-tokens": "30000",
    }
    info = parse_rate_headers(upstream)
    assert (info.limit_requests, info.remaining_requests) == (500, 499)
    assert info.reset_requests_s == pytest.approx(0.12) and info.limit_tokens == 30000
    own = parse_rate_headers({**upstream, "x-ratelimit-limit-requests": "5",
                              "x-ratelimit-remaining-requests": "1"})  # fmt: skip
    assert (own.limit_requests, own.remaining_requests) == (5, 1)  # the gateway's own first


def test_unrelated_or_broken_headers_give_nothing() -> None:
    assert parse_rate_headers({"content-type": "application/json"}) == RateInfo()
    broken = parse_rate_headers({"x-ratelimit-limit-requests": "many",
                                 "x-ratelimit-reset-requests": "5 minutes"})  # fmt: skip
    assert broken == RateInfo()
    assert parse_retry_after({"retry-after": "Mon, 05 Jan 2026 11:59:00 GMT"}, now=NOW) == 0.0
