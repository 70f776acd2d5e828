"""Token counting and text generation for simulated models. Pure.

Prompt tokens are counted with a real BPE tokenizer (:mod:`auraon_bench.data.tokenizers`, the
``bpe-openai`` encodings), by OpenAI's chat accounting: ``Tokenizer.chat_tokens(messages)`` (3
tokens per message, the tokens of each field, 1 more for a ``name``, 3 to prime the reply), plus
the tokens of the JSON of ``tools`` when the request has any, counted with the same encoding.

Which encoding: the catalog's ``[defaults] tokenizer`` (``o200k_base``) counts every prompt once
before routing, because limits, the context check and the router's length score need a number
before the model is known; ``usage.prompt_tokens`` is then the served model's count, with its own
``tokenizer`` key, recounted only when that encoding differs. :class:`PromptTokens` keeps each
count it makes, so a request is counted once per encoding.

The prompt cache compares prompts as token streams (:meth:`PromptTokens.ids`): the tools' ids
first, then per message a marker, the role's ids, a marker, the content's ids and a marker that
stands for the message's other fields. Markers lie outside every encoding's id range, so two
prompts share a prefix only when their first messages are identical, in order. The stream is
built only for prompts long enough to be cached (the one case where a prompt's text is encoded a
second time: ``Tokenizer`` counts but does not hand out ids); ``chars4`` streams are the CRC-32
of each 4-character chunk.

Generated text is produced as a list of token strings so that ``usage.completion_tokens`` equals
the number of content pieces streamed, exactly.
"""

from __future__ import annotations

import functools
import math
import random
import re
import zlib
from array import array
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson

from auraon_bench.data import tokenizers
from auraon_bench.data.tokenizers import DEFAULT_ENCODING, get_tokenizer

CHARS_PER_TOKEN = 4
# Token-stream markers: token ids are below 2**32 in every encoding, markers at or above it.
MARK = 1 << 32
MESSAGE_MARK, CONTENT_MARK, END_MARK = MARK + 1, MARK + 2, MARK + 3
PRIMER_MARK = MARK + 4
_OTHER_FIELDS_MARK = 2 * MARK  # + CRC-32 of a message's fields other than role and content
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
    """The old heuristic, ``ceil(chars / 4)`` (the ``chars4`` encoding), kept for comparison."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def tools_json(tools: Sequence[Any]) -> str:
    """The text the tools of a request are counted (and cached) as."""
    return orjson.dumps(list(tools)).decode()


def count_prompt_tokens(
    messages: Sequence[Mapping[str, Any]],
    tools: Sequence[Any] | None = None,
    encoding: str = DEFAULT_ENCODING,
) -> int:
    """``usage.prompt_tokens`` of a request in ``encoding``: chat accounting plus the tools."""
    tokenizer = get_tokenizer(encoding)
    total = tokenizer.chat_tokens(messages)
    if tools:
        total += tokenizer.count(tools_json(tools))
    return total


class PromptTokens:
    """One request's prompt: its count and its token stream per encoding, each made once."""

    __slots__ = ("_counts", "_ids", "messages", "tools")

    def __init__(self, messages: Sequence[Mapping[str, Any]], tools: Sequence[Any] = ()) -> None:
        self.messages = messages
        self.tools = tools
        self._counts: dict[str, int] = {}
        self._ids: dict[str, array[int]] = {}

    def count(self, encoding: str) -> int:
        found = self._counts.get(encoding)
        if found is None:
            found = self._counts[encoding] = count_prompt_tokens(
                self.messages, self.tools, encoding
            )
        return found

    def ids(self, encoding: str) -> array[int]:
        """The prompt as one token stream (see the module), for prefix comparison."""
        found = self._ids.get(encoding)
        if found is None:
            found = self._ids[encoding] = prompt_stream(self.messages, self.tools, encoding)
        return found


def token_ids(text: str, encoding: str) -> list[int]:
    """Token ids of ``text`` (``chars4``: the CRC-32 of each 4-character chunk)."""
    return tokenizers.get_tokenizer(encoding).ids(text)


@functools.lru_cache(maxsize=64)
def _role_ids(role: str, encoding: str) -> tuple[int, ...]:
    return tuple(token_ids(role, encoding))


def prompt_stream(
    messages: Sequence[Mapping[str, Any]], tools: Sequence[Any], encoding: str
) -> array[int]:
    # The reply primer's 3 tokens, which every prompt has, open the stream: its length is then
    # the prompt's usage count, so the cache's 1,024-token minimum is OpenAI's (prompt tokens).
    stream: array[int] = array("Q", (PRIMER_MARK,) * tokenizers.REPLY_PRIMER)
    if tools:  # their JSON opens with "[": no prompt without tools shares a token past the primer
        stream.extend(token_ids(tools_json(tools), encoding))
    for message in messages:
        stream.append(MESSAGE_MARK)
        stream.extend(_role_ids(str(message.get("role", "")), encoding))
        stream.append(CONTENT_MARK)
        stream.extend(token_ids(message_text(message), encoding))
        rest = {k: v for k, v in message.items() if k not in ("role", "content")}
        if rest:
            crc = zlib.crc32(orjson.dumps(rest, option=orjson.OPT_SORT_KEYS))
            stream.append(_OTHER_FIELDS_MARK + crc)
        else:
            stream.append(END_MARK)
    return stream


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
