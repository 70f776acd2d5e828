"""Token counting and text generation for simulated models. Pure.

Token counts use a documented heuristic, not a real tokenizer: about 4 characters per token, the
rule of thumb OpenAI publishes for English text. Prompt tokens are ``ceil(chars / 4)`` per message
content plus 4 per message and 3 for the reply primer (OpenAI's chat accounting). Generated text is
produced as a list of token strings so that ``usage.completion_tokens`` equals the number of
content pieces streamed, exactly.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson

CHARS_PER_TOKEN = 4
_PIECE = re.compile(r"\s*\S{1,4}|\s+")

# Neutral words for filler answers; short, so that one word is one token.
_FILLER = (
    "the a of to and in that is for it as with on be by this are from or at an have not "
    "which can will more one all was we they their has been also when there its into "
    "would other some time these then than only new two first may data use like such each "
    "most over result model value case point level plan cost rate test work part way "
    "based used given both where well system answer request number set order step next "
    "same three while since under "
).split()


def count_text_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def count_prompt_tokens(
    messages: Sequence[Mapping[str, Any]], tools: Sequence[Any] | None = None
) -> int:
    total = 3
    for message in messages:
        total += 4 + count_text_tokens(message_text(message))
    if tools:
        total += count_text_tokens(orjson.dumps(tools).decode())
    return total


def message_text(message: Mapping[str, Any]) -> str:
    """The text of a message: a string, or the text parts of a content array."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, Mapping))
    return ""


def last_user_text(messages: Sequence[Mapping[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            return message_text(message)
    return ""


def split_tokens(text: str) -> list[str]:
    """Cut text into pieces of at most 4 visible characters; joining them gives the text back
    (less trailing whitespace)."""
    return _PIECE.findall(text.rstrip())


def filler_tokens(n: int, rng: random.Random) -> list[str]:
    words = rng.choices(_FILLER, k=n)
    return [" " + w for w in words]


def join_tokens(tokens: Iterable[str]) -> str:
    return "".join(tokens)
