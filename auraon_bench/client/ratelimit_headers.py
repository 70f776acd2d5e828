"""Rate-limit facts from response headers. Pure: a header mapping in, numbers out.

``parse_rate_headers`` reads every common family, the gateway's own before an upstream's:

* Retry-After: ``retry-after-ms`` (the precise one), then ``retry-after`` (seconds or an HTTP
  date), then the same two prefixed ``llm_provider-`` (LiteLLM passes a provider's headers on
  that way, and its router's 429 carries only ``llm_provider-retry-after``).
* ``x-ratelimit-limit|remaining|reset-requests|tokens``, OpenAI's form; then LiteLLM's
  per-descriptor form ``x-ratelimit-<descriptor>-remaining|limit-requests|tokens`` (the most
  restrictive descriptor: the least remaining); then the provider's through LiteLLM,
  ``llm_provider-x-ratelimit-...``. Tokens fall back to ``...-input-tokens`` (LiteLLM's and
  Anthropic-style input limits: the probe's large requests are nearly all input).
* Resets as Go durations (``6m0s``, ``1s``, ``20ms``), plain seconds, a Unix time, or LiteLLM's
  ``reset_at`` (``2025-01-01 12:00:00 UTC``) for the limit its ``rate_limit_type`` names.
"""

from __future__ import annotations

import email.utils
import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from auraon_bench.client.wire import number

_GO_DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|ms|us|µs|ns|m|s)")
_GO_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
# Only these headers are kept from a response (one pass, no copy of the rest: hot path).
_KEPT = ("x-ratelimit-", "retry-after", "llm_provider-retry-after", "llm_provider-x-ratelimit-",
         "reset_at", "rate_limit_type")  # fmt: skip
_DESCRIPTOR = re.compile(r"x-ratelimit-(.+)-(limit|remaining)-(requests|tokens)")
_UNIX_TIME = 1e9  # a "seconds" reset larger than this is a point in time (2001 onwards)
_RESET_AT = "%Y-%m-%d %H:%M:%S UTC"


@dataclass(frozen=True, slots=True)
class RateInfo:
    retry_after_s: float | None = None
    limit_requests: int | None = None
    remaining_requests: int | None = None
    limit_tokens: int | None = None
    remaining_tokens: int | None = None
    reset_requests_s: float | None = None
    reset_tokens_s: float | None = None


def parse_duration(text: str | None) -> float | None:
    """Seconds from a Go duration (``6m0s``, ``12ms``, ``1h2m3.5s``) or a plain number."""
    if not text:
        return None
    text = text.strip()
    plain = number(text)
    if plain is not None:
        return plain
    parts = _GO_DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    return sum(float(n) * _GO_UNITS[u] for n, u in parts)


def parse_reset(text: str | None, now: float | None = None) -> float | None:
    """Seconds until a reset: a Go duration, plain seconds, or a Unix time (then from ``now``,
    Unix seconds, default the clock)."""
    seconds = parse_duration(text)
    if seconds is not None and seconds > _UNIX_TIME:
        seconds = max(0.0, seconds - (time.time() if now is None else now))
    return seconds


def _retry_after(headers: Mapping[str, str], prefix: str, now: float | None) -> float | None:
    ms = number(headers.get(f"{prefix}retry-after-ms"))
    if ms is not None:
        return ms / 1000.0
    raw = headers.get(f"{prefix}retry-after")
    if raw is None:
        return None
    seconds = number(raw)
    if seconds is not None:
        return seconds
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """``retry-after-ms`` first (more precise), then ``retry-after`` (seconds or an HTTP date),
    then both as an upstream's ``llm_provider-`` headers."""
    own = _retry_after(headers, "", now)
    return own if own is not None else _retry_after(headers, "llm_provider-", now)


def _int(value: str | None) -> int | None:
    parsed = number(value)
    return int(parsed) if parsed is not None and math.isfinite(parsed) else None


def _kept(headers: Mapping[str, str]) -> dict[str, str]:
    kept = {}
    for key, value in headers.items():
        lower = key.lower()
        if lower.startswith(_KEPT):
            kept[lower] = value
    return kept


def _descriptors(headers: Mapping[str, str], dim: str) -> tuple[int | None, int | None]:
    """LiteLLM's ``x-ratelimit-<descriptor>-limit|remaining-<dim>``: the (limit, remaining) of
    the descriptor with the least remaining."""
    found: dict[str, dict[str, int]] = {}
    for key, value in headers.items():
        match = _DESCRIPTOR.fullmatch(key)
        parsed = _int(value)
        if match and match.group(3) == dim and parsed is not None:
            found.setdefault(match.group(1), {})[match.group(2)] = parsed
    if not found:
        return None, None
    tightest = min(found.values(), key=lambda d: d.get("remaining", math.inf))
    return tightest.get("limit"), tightest.get("remaining")


def _limits(headers: Mapping[str, str], prefix: str, dim: str, now: float | None):
    limit = _int(headers.get(f"{prefix}x-ratelimit-limit-{dim}"))
    remaining = _int(headers.get(f"{prefix}x-ratelimit-remaining-{dim}"))
    reset = parse_reset(headers.get(f"{prefix}x-ratelimit-reset-{dim}"), now)
    if dim == "tokens" and limit is None and remaining is None:
        limit = _int(headers.get(f"{prefix}x-ratelimit-limit-input-tokens"))
        remaining = _int(headers.get(f"{prefix}x-ratelimit-remaining-input-tokens"))
        reset = parse_reset(headers.get(f"{prefix}x-ratelimit-reset-input-tokens"), now)
    return limit, remaining, reset


def _reset_at(headers: Mapping[str, str], dim: str, now: float | None) -> float | None:
    """LiteLLM's 429: ``reset_at`` for the limit ``rate_limit_type`` names."""
    raw = headers.get("reset_at")
    if raw is None or headers.get("rate_limit_type", dim) != dim:
        return None
    try:
        when = datetime.strptime(raw.strip(), _RESET_AT).replace(tzinfo=UTC)
    except ValueError:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _dimension(headers: Mapping[str, str], dim: str, now: float | None):
    limit, remaining, reset = _limits(headers, "", dim, now)
    if limit is None and remaining is None:
        limit, remaining = _descriptors(headers, dim)
    if limit is None and remaining is None:
        limit, remaining, upstream_reset = _limits(headers, "llm_provider-", dim, now)
        reset = reset if reset is not None else upstream_reset
    if reset is None:
        reset = _reset_at(headers, dim, now)
    return limit, remaining, reset


def parse_rate_headers(headers: Mapping[str, str], now: float | None = None) -> RateInfo:
    """Every rate-limit fact in ``headers`` (any case); ``now``: Unix seconds for the forms
    that are points in time (default: the clock)."""
    kept = _kept(headers)
    if not kept:
        return RateInfo()
    limit_requests, remaining_requests, reset_requests = _dimension(kept, "requests", now)
    limit_tokens, remaining_tokens, reset_tokens = _dimension(kept, "tokens", now)
    return RateInfo(
        retry_after_s=parse_retry_after(kept, now),
        limit_requests=limit_requests,
        remaining_requests=remaining_requests,
        limit_tokens=limit_tokens,
        remaining_tokens=remaining_tokens,
        reset_requests_s=reset_requests,
        reset_tokens_s=reset_tokens,
    )
