"""Body-level replay: load a file of real chat-completions requests to send again.

Two JSONL formats; the first request line decides which, and a file must not mix them.

**Batch** (the OpenAI Batch API input format). No times: the load profile (rate or
concurrency) sends the requests in file order::

    {"custom_id": "req-1", "method": "POST", "url": "/v1/chat/completions",
     "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]}}

(one line in the file). ``method`` must be ``POST``, ``url`` ``/v1/chat/completions`` (or
``/chat/completions``); ``custom_id`` a string unique in the file, as the Batch API demands.

**Timed**: each request with the time it was made, to replay the traffic's own arrival pattern::

    {"timestamp": "2024-05-01T12:00:03.250+02:00", "id": "a1", "body": {"messages": [...]}}

``timestamp`` is seconds (a number: unix time or any offset) or an ISO 8601 string (naive means
UTC); one file uses one kind. Offsets are measured from the earliest request; lines may be out
of order (sorted, stably; ``ReplayFile.reordered`` tells). ``id`` is an optional string.

Both: ``body`` is an object with a non-empty ``messages`` list of objects with a string
``role``. Blank lines and lines starting with ``#`` are skipped. Every error is a
:class:`~auraon_bench.errors.ConfigError` naming the file, the line and the field.

**Sent exactly as given**: the body is not validated beyond ``messages`` and not normalised:
no defaults filled in, no fields dropped, key order kept, unknown vendor fields passed through.
:func:`body_for_arm` changes only ``model`` (and ``stream`` when asked). A replay is only
worth running if it is the application's real traffic; a loader that "fixed" bodies would
measure requests nobody sends. "Exactly" is at the JSON level: whitespace and number spelling
may differ (``1e2`` is sent as ``100.0``), a key repeated in one object keeps its last value, and
integers beyond 64 bits become floats (orjson's limits).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from auraon_bench.errors import ConfigError

RECORDED_ARM = "recorded"
"""The arm that sends each replayed body with its own recorded ``model``."""
CHAT_URLS = ("/v1/chat/completions", "/chat/completions")
_BATCH_FIELDS = frozenset({"custom_id", "method", "url", "body"})
_TIMED_FIELDS = frozenset({"timestamp", "id", "body"})
_MESSAGES = "body.messages"


@dataclass(frozen=True, slots=True)
class ReplayRequest:
    """One request: ``body`` is the parsed JSON object, as given (do not mutate it)."""

    body: Mapping[str, Any]
    offset_s: float | None  # seconds after the earliest request; None in Batch format
    request_key: str  # custom_id, the timed line's id, or f"line-{line}"
    line: int  # 1-based line in the file, for messages that point the user back to it


@dataclass(frozen=True)
class ReplayFile:
    path: str
    format: str  # "batch" | "timed"
    requests: tuple[ReplayRequest, ...]  # timed: sorted by offset; batch: file order
    reordered: bool  # True when the timed lines were not already in time order

    @property
    def timed(self) -> bool:
        return self.format == "timed"

    @property
    def span_s(self) -> float | None:
        """Seconds from the first to the last request (None for Batch format)."""
        return self.requests[-1].offset_s if self.timed else None

    def offsets(self, speed: float = 1.0) -> tuple[float, ...]:
        """Send times in seconds, replayed ``speed`` times faster (2.0 halves every gap)."""
        if isinstance(speed, bool) or not isinstance(speed, int | float):
            raise ValueError(f"speed must be a number, not {speed!r}")
        if not (math.isfinite(speed) and speed > 0):
            raise ValueError(f"speed must be positive and finite, not {speed!r}")
        if not self.timed:
            raise ValueError(f"{self.path} is in Batch format: it has no timestamps")
        return tuple(r.offset_s / speed for r in self.requests)  # type: ignore[operator]


def read_replay(path: str | Path) -> ReplayFile:
    """Load and check a replay file (format detected from its first request line)."""
    source = str(path)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise ConfigError("file not found", source=source) from None
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror or exc}", source=source) from None
    try:
        text = data.decode("utf-8-sig")  # a BOM from a Windows editor is harmless: drop it
    except UnicodeDecodeError as exc:
        bad_line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            f"not UTF-8 text (byte {exc.start})", source=source, line=bad_line
        ) from None

    fmt: str | None = None
    first_line = 0
    parsed: list[tuple[int, dict[str, Any]]] = []
    # Split on "\n" only: str.splitlines() would also split on U+2028 and friends, which JSON
    # allows raw inside strings, and so would cut a real request in two.
    for number, raw in enumerate(text.split("\n"), start=1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            obj = orjson.loads(stripped)
        except orjson.JSONDecodeError as exc:
            raise ConfigError(f"invalid JSON: {exc}", source=source, line=number) from None
        if not isinstance(obj, dict):
            raise ConfigError("must be a JSON object", source=source, line=number)
        line_fmt = _line_format(obj, source, number)
        if fmt is None:
            fmt, first_line = line_fmt, number
        elif line_fmt != fmt:
            message = f"a {line_fmt} line in a {fmt} file (format set by line {first_line})"
            raise ConfigError(message, source=source, line=number)
        parsed.append((number, obj))
    if fmt is None:
        raise ConfigError("no requests in the file", source=source)
    return _batch(source, parsed) if fmt == "batch" else _timed(source, parsed)


def _line_format(obj: dict[str, Any], source: str, line: int) -> str:
    batch = bool(obj.keys() & (_BATCH_FIELDS - {"body"}))
    timed = bool(obj.keys() & (_TIMED_FIELDS - {"body"}))
    if batch == timed:  # both or neither: nothing tells them apart
        raise ConfigError(
            "cannot tell the format: expected a Batch API line (custom_id, method, url, body)"
            " or a timed line (timestamp, body, optional id)",
            source=source,
            line=line,
        )
    return "batch" if batch else "timed"


def _check_fields(obj: dict[str, Any], allowed: frozenset[str], source: str, line: int) -> None:
    # Unknown top-level fields are refused: a misspelt "id" would otherwise vanish silently.
    unknown = sorted(set(obj) - allowed)
    if unknown:
        raise ConfigError(
            f"unknown field (expected {', '.join(sorted(allowed))})",
            source=source,
            line=line,
            field=unknown[0],
        )


def _check_body(obj: dict[str, Any], source: str, line: int) -> None:
    body = obj.get("body")
    if not isinstance(body, dict):
        raise ConfigError("must be a JSON object", source=source, line=line, field="body")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ConfigError("must be a non-empty list", source=source, line=line, field=_MESSAGES)
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise ConfigError(
                "must be an object with a string role",
                source=source,
                line=line,
                field=f"{_MESSAGES}[{i}]",
            )


def _batch(source: str, parsed: list[tuple[int, dict[str, Any]]]) -> ReplayFile:
    seen: dict[str, int] = {}
    requests = []
    for line, obj in parsed:
        _check_fields(obj, _BATCH_FIELDS, source, line)
        custom_id = obj.get("custom_id")
        if not isinstance(custom_id, str) or not custom_id:
            raise ConfigError(
                "must be a non-empty string", source=source, line=line, field="custom_id"
            )
        if custom_id in seen:
            raise ConfigError(
                f"duplicate custom_id {custom_id!r} (lines {seen[custom_id]} and {line})",
                source=source,
                line=line,
                field="custom_id",
            )
        seen[custom_id] = line
        if obj.get("method") != "POST":
            raise ConfigError(
                f"must be POST, not {obj.get('method')!r}", source=source, line=line, field="method"
            )
        if obj.get("url") not in CHAT_URLS:
            raise ConfigError(
                f"{obj.get('url')!r} is not replayable: only {CHAT_URLS[0]} is",
                source=source,
                line=line,
                field="url",
            )
        _check_body(obj, source, line)  # after url: an embeddings body is not the problem
        requests.append(ReplayRequest(obj["body"], None, custom_id, line))
    return ReplayFile(source, "batch", tuple(requests), reordered=False)


def _timed(source: str, parsed: list[tuple[int, dict[str, Any]]]) -> ReplayFile:
    seen: dict[str, int] = {}
    kind: str | None = None  # "number" | "iso": mixing unix seconds with dates is ambiguous
    rows: list[tuple[int, dict[str, Any], str, float | datetime]] = []
    for line, obj in parsed:
        _check_fields(obj, _TIMED_FIELDS, source, line)
        _check_body(obj, source, line)
        key = obj.get("id", f"line-{line}")
        if not isinstance(key, str) or not key:
            raise ConfigError("must be a non-empty string", source=source, line=line, field="id")
        if key in seen:
            raise ConfigError(
                f"duplicate request key {key!r} (lines {seen[key]} and {line})",
                source=source,
                line=line,
                field="id",
            )
        seen[key] = line
        stamp = _timestamp(obj.get("timestamp"), source, line)
        this_kind = "iso" if isinstance(stamp, datetime) else "number"
        if kind is not None and this_kind != kind:
            raise ConfigError(
                "mixes numbers and ISO 8601 strings; use one kind in the file",
                source=source,
                line=line,
                field="timestamp",
            )
        kind = this_kind
        rows.append((line, obj, key, stamp))
    earliest = min(row[3] for row in rows)  # type: ignore[type-var]
    # Differences of datetimes are exact to the microsecond; going through unix floats first
    # would blur sub-millisecond gaps in large epoch values.
    timed = []
    for line, obj, key, stamp in rows:
        gap = stamp - earliest  # type: ignore[operator]
        offset = gap.total_seconds() if isinstance(gap, timedelta) else float(gap)
        timed.append(ReplayRequest(obj["body"], offset, key, line))
    ordered = sorted(timed, key=lambda r: r.offset_s)  # stable: ties keep file order
    reordered = any(a is not b for a, b in zip(ordered, timed, strict=True))
    return ReplayFile(source, "timed", tuple(ordered), reordered=reordered)


def _timestamp(value: Any, source: str, line: int) -> float | datetime:
    if isinstance(value, int | float) and not isinstance(value, bool):
        if math.isfinite(value):
            return value
    elif isinstance(value, str) and value.strip():
        try:
            stamp = datetime.fromisoformat(value.strip())
        except ValueError:
            pass
        else:
            return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)
    raise ConfigError(
        f"must be seconds (a number) or an ISO 8601 time, not {value!r}",
        source=source,
        line=line,
        field="timestamp",
    )


def replay_stream(body: Mapping[str, Any]) -> bool:
    """Whether the recorded request asked for a streamed answer."""
    return body.get("stream") is True


def body_for_arm(body: Mapping[str, Any], arm: str | None, *, stream: bool | None = None) -> bytes:
    """The JSON bytes to send for ``body``: the body as given, key order kept, except
    ``model`` set to ``arm`` (when not None) and ``stream`` set (when not None).

    Streaming adds ``stream_options: {"include_usage": true}`` unless the body has its own
    stream_options (kept as given): without it no token counts come back. Forcing
    ``stream=False`` drops stream_options (OpenAI refuses it on a non-streamed request).
    Nothing else changes; keys not already present are appended at the end."""
    out = dict(body)  # shallow copy: the caller's body (shared by every arm) stays untouched
    if arm is not None:
        if not isinstance(arm, str) or not arm:
            raise ValueError(f"model must be a non-empty string, not {arm!r}")
        out["model"] = arm
    elif not isinstance(out.get("model"), str) or not out["model"]:
        raise ValueError("the replayed request body has no model; give --model")
    if stream is not None:
        out["stream"] = bool(stream)
        if stream and "stream_options" not in out:
            out["stream_options"] = {"include_usage": True}
        elif not stream:
            out.pop("stream_options", None)
    return orjson.dumps(out)
