"""Token counts with a real BPE tokenizer: the model-to-encoding map, chat accounting, and
synthetic text of an exact token length in every encoding."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from auraon_bench.data.tokenizers import (
    ENCODINGS,
    REPLY_PRIMER,
    TOKENS_PER_MESSAGE,
    check_encoding,
    encoding_for_model,
    get_tokenizer,
)
from auraon_bench.emulator.text import count_text_tokens
from auraon_bench.errors import ConfigError
from tests.conftest import ROOT


@pytest.mark.parametrize(
    ("model", "encoding"),
    [
        ("gpt-4o", "o200k_base"),
        ("gpt-4o-mini", "o200k_base"),
        ("openai/gpt-4o", "o200k_base"),
        ("gpt-4.1-nano", "o200k_base"),
        ("gpt-4", "cl100k_base"),
        ("gpt-4-turbo", "cl100k_base"),
        ("gpt-3.5-turbo", "cl100k_base"),
        ("llama-3.1-8b", "o200k_base"),  # unknown: counted as a current model
        ("auto", "o200k_base"),
    ],
)
def test_models_map_to_their_encoding(model: str, encoding: str) -> None:
    assert encoding_for_model(model) == encoding


def test_the_catalog_can_override_a_models_encoding() -> None:
    assert encoding_for_model("llama-3.1-8b", {"llama-3.1-8b": "cl100k_base"}) == "cl100k_base"
    with pytest.raises(ConfigError, match=r"tokenizer of llama-3\.1-8b.*unknown tokenizer 'p50k'"):
        encoding_for_model("llama-3.1-8b", {"llama-3.1-8b": "p50k"})
    with pytest.raises(ConfigError, match="--tokenizer"):
        check_encoding("gpt2")


def test_o200k_counts_known_strings() -> None:
    # Reference counts of the o200k_base encoding (the same ids tiktoken gives).
    o200k = get_tokenizer("o200k_base")
    assert o200k.count("hello world, how are you?") == 7
    assert o200k.count("") == 0
    assert get_tokenizer("cl100k_base").count("hello world") == 2


def test_chars4_is_the_emulators_old_rule() -> None:
    chars4 = get_tokenizer("chars4")
    for text in ("", "a", "abcd", "abcde", "x" * 1001):
        assert chars4.count(text) == count_text_tokens(text)


def test_chat_accounting_adds_the_per_message_overhead() -> None:
    o200k = get_tokenizer("o200k_base")
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    content = sum(o200k.count(m["role"]) + o200k.count(m["content"]) for m in messages)
    assert o200k.chat_tokens(messages) == content + 2 * TOKENS_PER_MESSAGE + REPLY_PRIMER
    named = [{"role": "user", "content": "Hi", "name": "bob"}]
    assert o200k.chat_tokens(named) == o200k.chat_tokens([{"role": "user", "content": "Hi"}]) + (
        o200k.count("bob") + 1
    )


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("tokens", [1, 7, 100, 1000, 8000])
def test_synthetic_text_has_exactly_the_asked_length(encoding: str, tokens: int) -> None:
    tokenizer = get_tokenizer(encoding)
    text = tokenizer.text_of(tokens, random.Random(tokens), prefix=f"[{tokens}]")
    assert text.startswith(f"[{tokens}]"[: len(text)])
    assert tokenizer.count(text) == tokens


def test_the_heuristic_misjudges_the_shipped_datasets() -> None:
    # Why the tokenizer exists: chars/4 against o200k over every prompt of the shipped datasets.
    o200k, chars4 = get_tokenizer("o200k_base"), get_tokenizer("chars4")
    real = guessed = 0
    for path in sorted((ROOT / "datasets").glob("*.jsonl")):
        for line in Path(path).read_text().splitlines():
            if line.strip():
                prompt = json.loads(line).get("prompt") or ""
                real += o200k.count(prompt)
                guessed += chars4.count(prompt)
    assert real > 0
    assert abs(guessed / real - 1) > 0.05  # off by more than 5% in total
