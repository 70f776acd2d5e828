"""OpenAI-compatible wire format on the client side. Pure: bytes and dicts in, facts out.

* ``chat_body``: the request body (``stream_options.include_usage`` whenever streaming).
* ``StreamState``: folds SSE events of one streamed answer into content timings, text, tool calls,
  finish reason, usage, metadata and any error. A *content event* is a chunk whose delta carries
  generated content: text, reasoning text or a tool call (the role-only first chunk is not one).
* Metadata adapters (``extract_metadata``), tried in order: Auraon's ``blockrun`` object, its
  ``auraon`` alias, LiteLLM, OpenRouter, else nothing (the caller may compute cost from a price
  table and flag it). LiteLLM (measured on 1.108) puts the cost in ``x-litellm-response-cost``
  on a whole answer, but a stream's headers go out before the cost is known: there the cost is
  the last chunk's ``usage.cost`` and the header is missing (only ``...-cost-original: 0.0``,
  which is not the cost). So ``usage.cost`` means LiteLLM when any ``x-litellm-`` header came
  with it, OpenRouter otherwise. A model LiteLLM has no price for gets neither: no cost.
* ``parse_error_body``: OpenAI's ``{"error": {...}}``, or a snippet of whatever else came.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from auraon_bench.client.sse import DONE, SSEEvent

_TAGS = re.compile(r"<[^>]+>")


def chat_body(
    model: str,
    messages: Sequence[Mapping[str, Any]],
    *,
    stream: bool,
    max_tokens: int | None = None,
    extra: Mapping[str, Any] | None = None,
) -> bytes:
    body: dict[str, Any] = {"model": model, "messages": list(messages), "stream": stream}
    if stream:
        body["stream_options"] = {"include_usage": True}
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    if extra:
        body.update(extra)
    return orjson.dumps(body)


@dataclass(frozen=True, slots=True)
class Metadata:
    routed_to: str | None = None
    routing_reason: str | None = None
    server_latency_ms: float | None = None
    cost_usd: float | None = None
    cost_source: str = "none"
    # The model that was billed, when the gateway names it apart from the answer's ``model``
    # (LiteLLM's deployment, e.g. ``openai/gpt-4o-mini`` behind a model group): the name a
    # price table should look up when the gateway gave no cost.
    billed_model: str | None = None


def number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def extract_metadata(body: Mapping[str, Any] | None, headers: Mapping[str, str]) -> Metadata:
    """Routing and cost facts from a response body (or the stream's last chunk) and headers."""
    body = body or {}
    for key in ("blockrun", "auraon"):
        meta = body.get(key)
        if isinstance(meta, Mapping):
            return Metadata(
                routed_to=meta.get("routed_to"),
                routing_reason=meta.get("routing_reason"),
                server_latency_ms=number(meta.get("latency_ms")),
                cost_usd=number(meta.get("cost_usd")),
                cost_source=key,
            )
    usage = body.get("usage")
    usage_cost = number(usage.get("cost")) if isinstance(usage, Mapping) else None
    if _is_litellm(headers):
        header_cost = number(headers.get("x-litellm-response-cost"))
        cost = header_cost if header_cost is not None else usage_cost
        return Metadata(
            routed_to=body.get("model") or headers.get("x-litellm-model-group"),
            routing_reason=_litellm_fallbacks(headers),
            server_latency_ms=number(headers.get("x-litellm-response-duration-ms")),
            cost_usd=cost,
            cost_source="litellm" if cost is not None else "none",
            billed_model=headers.get("x-litellm-model-name"),
        )
    if usage_cost is not None:
        return Metadata(
            routed_to=body.get("model"),
            routing_reason=body.get("provider"),
            cost_usd=usage_cost,
            cost_source="openrouter",
        )
    return Metadata()


def _is_litellm(headers: Mapping[str, str]) -> bool:
    return any(name.lower().startswith("x-litellm-") for name in headers)


def _litellm_fallbacks(headers: Mapping[str, str]) -> str | None:
    """``x-litellm-attempted-fallbacks`` is a count; "0" says nothing worth keeping."""
    value = headers.get("x-litellm-attempted-fallbacks")
    return f"fallbacks:{value}" if value not in (None, "", "0") else None


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    type: str | None
    code: str | None
    message: str


def parse_error_body(raw: bytes) -> ErrorInfo:
    """OpenAI's error object, or a one-line snippet of an HTML or plain-text body."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        body = None
    if isinstance(body, Mapping) and isinstance(body.get("error"), Mapping):
        return error_from_object(body["error"])
    text = _TAGS.sub(" ", raw[:2000].decode("utf-8", errors="replace"))
    return ErrorInfo(type=None, code=None, message=" ".join(text.split())[:200])


def error_from_object(error: Mapping[str, Any]) -> ErrorInfo:
    code = error.get("code")
    return ErrorInfo(
        type=error.get("type"),
        code=None if code is None else str(code),
        message=str(error.get("message", ""))[:500],
    )


@dataclass(slots=True)
class StreamState:
    """What one streamed answer said, event by event. Times are the caller's ``t_ns``."""

    keep_text: bool = False
    content_times: list[int] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    tool_calls: dict[int, dict[str, str]] = field(default_factory=dict)
    finish_reason: str | None = None
    usage: Mapping[str, Any] | None = None
    model: str | None = None
    last_chunk: Mapping[str, Any] | None = None
    metadata_chunk: Mapping[str, Any] | None = None
    error: ErrorInfo | None = None
    protocol_error: str | None = None
    done: bool = False

    def on_event(self, event: SSEEvent) -> None:
        data = event.data
        if data == DONE:
            self.done = True
            return
        if not event.complete:
            self.protocol_error = "truncated event at end of stream"
            return
        try:
            chunk = orjson.loads(data)
        except orjson.JSONDecodeError:
            self.protocol_error = f"invalid JSON in stream event: {data[:80]!r}"
            return
        if type(chunk) is not dict:
            self.protocol_error = "stream event is not a JSON object"
            return
        if "error" in chunk or event.event == "error":
            error = chunk.get("error", chunk)
            self.error = error_from_object(
                error if isinstance(error, Mapping) else {"message": str(error)}
            )
            return
        self.last_chunk = chunk
        if self.model is None:
            self.model = chunk.get("model")
        choices = chunk.get("choices")
        if choices:
            choice = choices[0]
            delta = choice.get("delta")
            if delta:
                content = delta.get("content")
                if content and len(delta) == 1:  # the common case: plain text, nothing else
                    self.content_times.append(event.t_ns)
                    if self.keep_text:
                        self.text.append(content)
                else:
                    self._content(event.t_ns, content, delta)
            finish = choice.get("finish_reason")
            if finish:
                self.finish_reason = finish
        usage = chunk.get("usage")
        if usage:
            self.usage = usage
        # Routing metadata rides on the last chunk (or the usage chunk, OpenRouter's cost).
        if "blockrun" in chunk or "auraon" in chunk or (usage and "cost" in usage):
            self.metadata_chunk = chunk

    def _content(self, t_ns: int, content: str | None, delta: Mapping[str, Any]) -> None:
        # Reasoning text is generated content for timing, but not part of the answer.
        calls = delta.get("tool_calls")
        if not (content or calls or delta.get("reasoning_content") or delta.get("reasoning")):
            return  # e.g. the role chunk with content "" and refusal null
        self.content_times.append(t_ns)
        if content and self.keep_text:
            self.text.append(content)
        if calls:
            self._merge_tool_calls(calls)

    def _merge_tool_calls(self, calls: Sequence[Mapping[str, Any]]) -> None:
        for call in calls:
            slot = self.tool_calls.setdefault(
                int(call.get("index", 0)), {"name": "", "arguments": ""}
            )
            function = call.get("function") or {}
            if function.get("name"):
                slot["name"] = function["name"]
            slot["arguments"] += function.get("arguments") or ""


def completion_text(body: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(answer text, finish_reason) of a non-streamed answer; tool calls as ``tool_calls_text``."""
    choices = body.get("choices") or []
    if not choices:
        return None, None
    message = choices[0].get("message") or {}
    calls = message.get("tool_calls") or []
    if calls:
        return tool_calls_text(
            {
                i: {
                    "name": (c.get("function") or {}).get("name") or "",
                    "arguments": (c.get("function") or {}).get("arguments") or "",
                }
                for i, c in enumerate(calls)
            }
        ), choices[0].get("finish_reason")
    return message.get("content"), choices[0].get("finish_reason")


def tool_calls_text(calls: Mapping[int, Mapping[str, str]]) -> str | None:
    """Tool calls as the record keeps them: a JSON list of ``{"name", "arguments"}`` (arguments
    as the JSON text the model produced). A graded answer that calls tools is its calls."""
    if not calls:
        return None
    return orjson.dumps([calls[i] for i in sorted(calls)]).decode()
