"""Token counts with a real BPE tokenizer, and text of an exact token length. Pure.

Tokens per minute is the limit that usually binds first, and ``ceil(chars / 4)`` misjudges the
shipped datasets by -17% to +32% against the o200k tokenizer current OpenAI models use. Counts
here come from ``bpe-openai`` (a Rust BPE with tiktoken's encodings built in: no download, no
network), chosen over tiktoken because it needs no files fetched at first use, which an offline
machine cannot do.

Encodings:

* ``o200k_base``: gpt-4o, gpt-4.1, o1/o3/o4 and every model this table does not know (the
  encoding of current models, so an unknown model is counted as a current one);
* ``cl100k_base``: gpt-4, gpt-3.5-turbo and the ada/3 embedding models;
* ``chars4``: the old heuristic, ``ceil(chars / 4)``, kept for comparison and for targets whose
  tokenizer is not BPE-like at all.

Chat accounting follows OpenAI's published rule for current models: 3 tokens per message, the
tokens of each field's value (role, content, name), 1 more for a ``name``, and 3 to prime the
reply. A synthetic prompt of N tokens therefore has N - 7 content tokens in one user message.
"""

from __future__ import annotations

import functools
import math
import random
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from auraon_bench.errors import ConfigError

ENCODINGS = ("o200k_base", "cl100k_base", "chars4")
DEFAULT_ENCODING = "o200k_base"
TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMER = 3
CHARS_PER_TOKEN = 4
# bpe-openai refuses texts of about a million characters ("too long to encode safely"): longer
# ones are encoded in pieces cut before a space, where BPE never merges across anyway.
CHUNK_CHARS = 200_000

# Model name prefixes counted with cl100k_base; everything else is o200k_base. Longest prefix
# wins, so "gpt-4o" (o200k) is not taken for "gpt-4" (cl100k).
_PREFIXES: dict[str, str] = {
    "gpt-4o": "o200k_base",
    "gpt-4.1": "o200k_base",
    "gpt-4.5": "o200k_base",
    "gpt-4": "cl100k_base",
    "gpt-3.5": "cl100k_base",
    "text-embedding-ada": "cl100k_base",
    "text-embedding-3": "cl100k_base",
}

# Plain words for filler text: each is one o200k and one cl100k token after a space.
_WORDS = (
    "the of and to in is that for it as with was on be by this are from or at an have not "
    "which can will more one all we they has been also when there its into would other some "
    "time these then than only new two first may data use like such each most over result "
    "model value case point level plan cost rate test work part way based used given both "
    "where well system answer request number set order step next same three while since"
).split()


def encoding_for_model(model: str, overrides: Mapping[str, str] | None = None) -> str:
    """The encoding a model's tokens are counted with: ``overrides`` (the catalog's
    ``tokenizer`` per model) first, then the longest known prefix, else o200k_base."""
    if overrides and model in overrides:
        return check_encoding(overrides[model], field=f"tokenizer of {model}")
    name = model.rsplit("/", 1)[-1]  # "openai/gpt-4o" counts as gpt-4o
    matches = [p for p in _PREFIXES if name.startswith(p)]
    return _PREFIXES[max(matches, key=len)] if matches else DEFAULT_ENCODING


def check_encoding(name: str, field: str = "--tokenizer") -> str:
    if name not in ENCODINGS:
        known = ", ".join(ENCODINGS)
        raise ConfigError(f"unknown tokenizer {name!r} (known: {known})", field=field)
    return name


@dataclass(frozen=True)
class Tokenizer:
    """Counts tokens in one encoding; ``chars4`` is the ``ceil(chars / 4)`` heuristic."""

    name: str

    def count(self, text: str) -> int:
        if self.name == "chars4":
            return math.ceil(len(text) / CHARS_PER_TOKEN)
        return len(self.ids(text))

    def ids(self, text: str) -> list[int]:
        """Token ids of ``text``; ``chars4`` has no vocabulary, so its "ids" are the CRC-32 of
        each 4-character chunk: equal texts give equal ids, which is what prefix comparison
        (the emulator's prompt cache) needs."""
        if self.name == "chars4":
            step = CHARS_PER_TOKEN
            return [zlib.crc32(text[i : i + step].encode()) for i in range(0, len(text), step)]
        encode = _encoding(self.name).encode_ordinary
        if len(text) <= CHUNK_CHARS:
            return encode(text)
        ids: list[int] = []
        for piece in _pieces(text):
            ids += encode(piece)
        return ids

    def chat_tokens(self, messages: Sequence[Mapping[str, Any]]) -> int:
        """Prompt tokens of a chat request, by OpenAI's accounting (see the module)."""
        total = REPLY_PRIMER
        for message in messages:
            total += TOKENS_PER_MESSAGE
            for key, value in message.items():
                if isinstance(value, str):
                    total += self.count(value)
                elif isinstance(value, list):  # multi-part content: count its text parts
                    total += sum(
                        self.count(str(part.get("text", "")))
                        for part in value
                        if isinstance(part, Mapping)
                    )
                elif value is not None:  # a number or an object where text belongs: as sent
                    total += self.count(str(value))
                if key == "name":
                    total += TOKENS_PER_NAME
        return total

    def text_of(self, tokens: int, rng: random.Random, prefix: str = "") -> str:
        """Text that counts exactly ``tokens`` tokens (``prefix`` first), from plain words."""
        if tokens < 1:
            raise ValueError(f"tokens: must be >= 1, got {tokens}")
        if self.name == "chars4":
            text = prefix
            while len(text) < tokens * CHARS_PER_TOKEN:
                text += " " + rng.choice(_WORDS)
            return text[: tokens * CHARS_PER_TOKEN]
        encoding = _encoding(self.name)
        words = [prefix] if prefix else []
        # Every filler word is one token; the prefix may be several.
        words += [rng.choice(_WORDS) for _ in range(tokens)]
        ids = self.ids(" ".join(words).strip())[:tokens]
        text = encoding.decode(ids)
        # Decoding a cut id list can re-encode a token apart at the seam: trim until exact.
        while self.count(text) > tokens:
            text = text[:-1]
        return text


def _pieces(text: str) -> list[str]:
    """``text`` cut into pieces of at most about CHUNK_CHARS, each cut just before a space (a
    text without spaces there is cut where it is: a rare seam token may then be split)."""
    pieces, start = [], 0
    while len(text) - start > CHUNK_CHARS:
        end = start + CHUNK_CHARS
        space = text.rfind(" ", start + CHUNK_CHARS // 2, end)
        end = space if space > start else end
        pieces.append(text[start:end])
        start = end
    pieces.append(text[start:])
    return pieces


@functools.cache
def get_tokenizer(name: str) -> Tokenizer:
    return Tokenizer(check_encoding(name))


@functools.cache
def _encoding(name: str) -> Any:
    import warnings

    with warnings.catch_warnings():
        # Its table loader uses importlib.resources.open_binary, deprecated in 3.11: the
        # library's to change, and nothing a user of this tool can act on.
        warnings.simplefilter("ignore", DeprecationWarning)
        import bpe_openai  # the Rust extension loads its tables once, on first use

        encoding = bpe_openai.get_encoding(name)
        encoding.encode_ordinary("load")  # its tables load on first use: inside this block
    return encoding
