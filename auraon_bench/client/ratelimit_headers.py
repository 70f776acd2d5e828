"""Rate-limit facts from response headers. Pure: a header mapping in, numbers out.

``parse_rate_headers`` reads ``retry-after-ms`` and ``retry-after`` (seconds or an HTTP date) and
the ``x-ratelimit-*`` family (durations in Go's form: ``6m0s``, ``1s``, ``20ms``).
"""

from __future__ import annotations

import email.utils
import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass

from auraon_bench.client.wire import number

_GO_DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|ms|us|µs|ns|m|s)")
_GO_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}


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


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """``retry-after-ms`` first (more precise), then ``retry-after`` (seconds or an HTTP date)."""
    ms = number(headers.get("retry-after-ms"))
    if ms is not None:
        return ms / 1000.0
    raw = headers.get("retry-after")
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


def _int(value: str | None) -> int | None:
    parsed = number(value)
    return int(parsed) if parsed is not None and math.isfinite(parsed) else None


def parse_rate_headers(headers: Mapping[str, str]) -> RateInfo:
    return RateInfo(
        retry_after_s=parse_retry_after(headers),
        limit_requests=_int(headers.get("x-ratelimit-limit-requests")),
        remaining_requests=_int(headers.get("x-ratelimit-remaining-requests")),
        limit_tokens=_int(headers.get("x-ratelimit-limit-tokens")),
        remaining_tokens=_int(headers.get("x-ratelimit-remaining-tokens")),
        reset_requests_s=parse_duration(headers.get("x-ratelimit-reset-requests")),
        reset_tokens_s=parse_duration(headers.get("x-ratelimit-reset-tokens")),
    )
