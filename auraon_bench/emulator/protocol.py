"""OpenAI's chat-completions wire format, as the emulator speaks it. Pure.

Request validation (every documented parameter, each failure a 400 naming the ``param``), error
bodies in OpenAI's shape, and the byte templates of responses and SSE chunks.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

ROLES = ("system", "user", "assistant", "tool")
MAX_STOP = 4
_TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# Parameters of OpenAI's API that the emulator accepts but does not simulate (type-checked only);
# ``user`` and ``prompt_cache_key`` also name a conversation for ``auto``'s affinity.
_PASSIVE = {
    "seed": int,
    "user": str,
    "prompt_cache_key": str,
    "presence_penalty": (int, float),
    "frequency_penalty": (int, float),
    "logit_bias": dict,
    "logprobs": bool,
    "top_logprobs": int,
    "response_format": dict,
    "parallel_tool_calls": bool,
    "metadata": dict,
    "store": bool,
    "service_tier": str,
    "reasoning_effort": str,
    "modalities": list,
    "prediction": dict,
}
# vLLM-style extensions a benchmark uses to pin output length; documented in docs/emulator.md.
_EXTENSIONS = {"min_tokens": int, "ignore_eos": bool}
_ACTIVE = (
    "model",
    "messages",
    "stream",
    "stream_options",
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "stop",
    "tools",
    "tool_choice",
    "n",
)
KNOWN_PARAMS = frozenset((*_ACTIVE, *_PASSIVE, *_EXTENSIONS))


@dataclass(slots=True)
class ApiError(Exception):
    """An error the emulator answers with: status, OpenAI error fields, extra headers."""

    status: int
    message: str
    type: str = "invalid_request_error"
    param: str | None = None
    code: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    charged: bool = False  # the key's limiter already counted this request

    def body(self) -> bytes:
        return error_body(self.message, self.type, self.param, self.code)


def error_body(
    message: str, type_: str, param: str | None = None, code: str | None = None
) -> bytes:
    return orjson.dumps(
        {"error": {"message": message, "type": type_, "param": param, "code": code}}
    )


@dataclass(frozen=True, slots=True)
class ChatRequest:
    model: str
    messages: tuple[Mapping[str, Any], ...]
    stream: bool = False
    include_usage: bool = False
    max_tokens: int | None = None
    min_tokens: int = 0
    ignore_eos: bool = False
    stop: tuple[str, ...] = ()
    tools: tuple[Mapping[str, Any], ...] = ()
    tool_choice: Any = None
    user: str | None = None
    prompt_cache_key: str | None = None


def bad(param: str | None, message: str, code: str | None = None) -> ApiError:
    return ApiError(400, message, param=param, code=code)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def parse_chat_request(raw: bytes, known_models: Sequence[str] | Mapping[str, Any]) -> ChatRequest:
    """Parse and validate a request body; raise ``ApiError`` (400/404) naming what is wrong."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise bad(
            None, "We could not parse the JSON body of your request. The body must be valid JSON."
        ) from None
    if not isinstance(body, dict):
        raise bad(None, "The request body must be a JSON object.")
    for key in body:
        if key not in KNOWN_PARAMS:
            raise bad(key, f"Unrecognized request argument supplied: {key}")
    for key, kind in (_PASSIVE | _EXTENSIONS).items():
        if (
            key in body
            and body[key] is not None
            and (not isinstance(body[key], kind) or (isinstance(body[key], bool) and kind is int))
        ):
            raise bad(key, f"Invalid type for '{key}'.", "invalid_type")

    model = body.get("model")
    if model is None:
        raise bad("model", "you must provide a model parameter", "missing_required_parameter")
    if not isinstance(model, str):
        raise bad("model", "Invalid type for 'model': expected a string.", "invalid_type")
    if model not in known_models:
        raise ApiError(
            404,
            f"The model `{model}` does not exist or you do not have access to it.",
            param="model",
            code="model_not_found",
        )

    messages = _messages(body.get("messages"))
    stream = body.get("stream", False)
    if stream is not None and not isinstance(stream, bool):
        raise bad("stream", "Invalid type for 'stream': expected a boolean.", "invalid_type")
    stream = bool(stream)
    include_usage = False
    options = body.get("stream_options")
    if options is not None:
        if not stream:
            raise bad(
                "stream_options",
                "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            )
        if not isinstance(options, dict) or set(options) - {"include_usage", "include_obfuscation"}:
            raise bad("stream_options", "Invalid value for 'stream_options'.", "invalid_value")
        include_usage = options.get("include_usage", False)
        if not isinstance(include_usage, bool):
            raise bad(
                "stream_options.include_usage", "Invalid type: expected a boolean.", "invalid_type"
            )

    max_tokens = None
    for key in ("max_tokens", "max_completion_tokens"):
        value = body.get(key)
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise bad(
                key, f"Invalid '{key}': expected an integer >= 1, got {value!r}.", "invalid_value"
            )
        max_tokens = value
    for key, hi in (("temperature", 2.0), ("top_p", 1.0)):
        value = body.get(key)
        if value is not None and (not _is_number(value) or not 0 <= value <= hi):
            raise bad(
                key,
                f"Invalid '{key}': expected a number between 0 and {hi:g}, got {value!r}.",
                "invalid_value",
            )
    for key in ("presence_penalty", "frequency_penalty"):
        value = body.get(key)
        if value is not None and not -2 <= value <= 2:
            raise bad(key, f"Invalid '{key}': expected a number between -2 and 2.", "invalid_value")
    n = body.get("n")
    if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n != 1):
        raise bad("n", "The emulator supports only n=1.", "invalid_value")

    tools = _tools(body.get("tools"))
    tool_choice = _tool_choice(body.get("tool_choice"), tools)
    min_tokens = body.get("min_tokens") or 0
    if min_tokens < 0 or (max_tokens is not None and min_tokens > max_tokens):
        raise bad(
            "min_tokens", "Invalid 'min_tokens': must be between 0 and max_tokens.", "invalid_value"
        )
    return ChatRequest(
        model=model,
        messages=messages,
        stream=stream,
        include_usage=include_usage,
        max_tokens=max_tokens,
        min_tokens=min_tokens,
        ignore_eos=bool(body.get("ignore_eos")),
        stop=_stop(body.get("stop")),
        tools=tools,
        tool_choice=tool_choice,
        user=body.get("user"),
        prompt_cache_key=body.get("prompt_cache_key"),
    )


def _messages(value: Any) -> tuple[Mapping[str, Any], ...]:
    if value is None:
        raise bad(
            "messages", "Missing required parameter: 'messages'.", "missing_required_parameter"
        )
    if not isinstance(value, list) or not value:
        raise bad("messages", "Invalid 'messages': expected a non-empty array.", "invalid_value")
    for i, message in enumerate(value):
        where = f"messages[{i}]"
        if not isinstance(message, dict):
            raise bad(where, f"Invalid type for '{where}': expected an object.", "invalid_type")
        role = message.get("role")
        if role not in ROLES:
            raise bad(
                f"{where}.role",
                f"Invalid value: {role!r}. Supported values are: "
                f"{', '.join(repr(r) for r in ROLES)}.",
                "invalid_value",
            )
        content = message.get("content")
        if content is None:
            if not (role == "assistant" and message.get("tool_calls")):
                raise bad(
                    f"{where}.content",
                    f"Missing required parameter: '{where}.content'.",
                    "missing_required_parameter",
                )
        elif isinstance(content, list):
            for j, part in enumerate(content):
                if (
                    not isinstance(part, dict)
                    or part.get("type") != "text"
                    or not isinstance(part.get("text"), str)
                ):
                    raise bad(
                        f"{where}.content[{j}]",
                        "Invalid content part: the emulator accepts text parts only.",
                        "invalid_value",
                    )
        elif not isinstance(content, str):
            raise bad(
                f"{where}.content",
                f"Invalid type for '{where}.content': expected a string "
                "or an array of content parts.",
                "invalid_type",
            )
        if role == "tool" and not isinstance(message.get("tool_call_id"), str):
            raise bad(
                f"{where}.tool_call_id",
                f"Missing required parameter: '{where}.tool_call_id'.",
                "missing_required_parameter",
            )
    return tuple(value)


def _stop(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if (
        isinstance(value, list)
        and len(value) <= MAX_STOP
        and all(isinstance(s, str) for s in value)
    ):
        return tuple(value)
    raise bad(
        "stop",
        f"Invalid 'stop': expected a string or an array of at most {MAX_STOP} strings.",
        "invalid_value",
    )


def _tools(value: Any) -> tuple[Mapping[str, Any], ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise bad("tools", "Invalid type for 'tools': expected an array.", "invalid_type")
    for i, tool in enumerate(value):
        where = f"tools[{i}]"
        if not isinstance(tool, dict) or tool.get("type") != "function":
            raise bad(f"{where}.type", "Invalid value: expected 'function'.", "invalid_value")
        function = tool.get("function")
        if not isinstance(function, dict):
            raise bad(
                f"{where}.function", "Missing required parameter.", "missing_required_parameter"
            )
        name = function.get("name")
        if not isinstance(name, str) or not _TOOL_NAME.match(name):
            raise bad(
                f"{where}.function.name",
                "Invalid 'name': must match ^[a-zA-Z0-9_-]{1,64}$.",
                "invalid_value",
            )
        if "parameters" in function and not isinstance(function["parameters"], dict):
            raise bad(
                f"{where}.function.parameters", "Invalid type: expected an object.", "invalid_type"
            )
    return tuple(value)


def _tool_choice(value: Any, tools: Sequence[Mapping[str, Any]]) -> Any:
    if value is None:
        return None
    if value in ("none", "auto", "required"):
        if value == "required" and not tools:
            raise bad("tool_choice", "'tool_choice' is only allowed when 'tools' are specified.")
        return value
    names = {t["function"]["name"] for t in tools}
    if (
        isinstance(value, dict)
        and value.get("type") == "function"
        and isinstance(value.get("function"), dict)
        and value["function"].get("name") in names
    ):
        return value
    raise bad(
        "tool_choice",
        "Invalid 'tool_choice': expected 'none', 'auto', 'required' or a "
        "named function among 'tools'.",
        "invalid_value",
    )


# ---- responses ---------------------------------------------------------------------------------


def completion_body(
    *,
    completion_id: str,
    model: str,
    text: str | None,
    tool_call: Mapping[str, Any] | None,
    finish_reason: str,
    usage: Mapping[str, Any],
    metadata: Mapping[str, Any],
) -> bytes:
    message: dict[str, Any] = {"role": "assistant", "content": text, "refusal": None}
    if tool_call is not None:
        message["tool_calls"] = [tool_call_object(tool_call, completion_id)]
    body = {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": "fp_auraon_emulator",
        "choices": [
            {"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}
        ],
        "usage": dict(usage),
        **metadata,
    }
    return orjson.dumps(body)


def tool_call_object(call: Mapping[str, Any], completion_id: str) -> dict[str, Any]:
    return {
        "id": "call_" + completion_id[-12:],
        "type": "function",
        "function": {
            "name": call["name"],
            "arguments": orjson.dumps(call.get("arguments", {})).decode(),
        },
    }


class ChunkWriter:
    """Byte templates for one stream's SSE events, in OpenAI's exact chunk format."""

    def __init__(self, completion_id: str, model: str, include_usage: bool) -> None:
        head = orjson.dumps(
            {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": model,
                "system_fingerprint": "fp_auraon_emulator",
            }
        )[:-1]
        self._usage_null = b',"usage":null' if include_usage else b""
        self._head = b"data: " + head + b',"choices":[{"index":0,"delta":'
        self._tail = b',"logprobs":null,"finish_reason":null}]' + self._usage_null + b"}\n\n"
        self._bare = b"data: " + head

    def delta(self, delta: Mapping[str, Any]) -> bytes:
        return self._head + orjson.dumps(delta) + self._tail

    def content(self, piece: str) -> bytes:
        return self._head + b'{"content":' + orjson.dumps(piece) + b"}" + self._tail

    def finish(self, reason: str, metadata: Mapping[str, Any] | None) -> bytes:
        extra = orjson.dumps(dict(metadata))[1:-1] if metadata else b""
        return (
            self._head
            + b'{},"logprobs":null,"finish_reason":'
            + orjson.dumps(reason)
            + b"}]"
            + self._usage_null
            + (b"," + extra if extra else b"")
            + b"}\n\n"
        )

    def usage(self, usage: Mapping[str, Any], metadata: Mapping[str, Any]) -> bytes:
        return (
            self._bare
            + b',"choices":[],"usage":'
            + orjson.dumps(dict(usage))
            + b","
            + orjson.dumps(dict(metadata))[1:-1]
            + b"}\n\n"
        )

    @staticmethod
    def done() -> bytes:
        return b"data: [DONE]\n\n"

    @staticmethod
    def error(message: str, type_: str, code: str | None) -> bytes:
        return b"data: " + error_body(message, type_, None, code) + b"\n\n"
