"""The emulator's prompt cache and token counts: prefix digests, the cache store (TTL, isolation,
LRU bound), token streams, TTFT and cost effects, then the same over HTTP."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
import pytest

from auraon_bench.catalog import PromptCachePolicy, load_catalog
from auraon_bench.data.tokenizers import REPLY_PRIMER, get_tokenizer
from auraon_bench.emulator.gateway import Gateway, GatewayHeaders
from auraon_bench.emulator.launcher import EmulatorProcess
from auraon_bench.emulator.prompt_cache import PromptCache, boundaries, prefix_digests
from auraon_bench.emulator.protocol import parse_chat_request
from auraon_bench.emulator.text import PromptTokens, count_prompt_tokens, tools_json
from auraon_bench.emulator.timing import draw_ttft

CATALOG = load_catalog()
OPENAI = PromptCachePolicy()  # 1024 tokens, steps of 128, 300 s
TINY = PromptCachePolicy(min_tokens=4, step_tokens=2, ttl_s=10)  # small streams, same rules
O200K = get_tokenizer("o200k_base")
# A system prompt of about 1500 tokens, shared by every turn of the conversations below.
# Its first words count differently in o200k_base and cl100k_base.
SYSTEM = "日本語で答えてください. " + O200K.text_of(1500, random.Random(5))
TIME_SCALE = 0.01


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def conversation(question: str = "What is the capital of France?") -> list[dict[str, str]]:
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}]


# ---- prefixes and the store, pure ----------------------------------------------------------------
def test_cacheable_prefixes_start_at_min_tokens_in_whole_steps() -> None:
    assert list(boundaries(1023, OPENAI)) == []
    assert list(boundaries(1024, OPENAI)) == [1024]
    assert list(boundaries(1300, OPENAI)) == [1024, 1152, 1280]
    assert prefix_digests(list(range(1023)), OPENAI).lengths == ()
    assert prefix_digests(list(range(1300)), OPENAI).lengths == (1024, 1152, 1280)


def test_prefixes_are_equal_exactly_up_to_the_first_different_token() -> None:
    a = list(range(2000))
    b = [*a[:1100], 999_999, *a[1101:]]
    da, db = prefix_digests(a, OPENAI), prefix_digests(b, OPENAI)
    assert da.lengths == db.lengths
    assert da.digests[0] == db.digests[0]  # 1024: before the change
    assert all(x != y for x, y in zip(da.digests[1:], db.digests[1:], strict=True))


def test_a_hit_is_the_longest_live_cached_prefix() -> None:
    cache = PromptCache()
    first = list(range(1300))
    assert cache.lookup("k", "m", prefix_digests(first, OPENAI), 0.0) == 0  # cold
    cache.store("k", "m", prefix_digests(first, OPENAI), 0.0, 300)
    longer = [*first, *range(5000, 5500)]  # the same prompt and a new turn
    assert cache.lookup("k", "m", prefix_digests(longer, OPENAI), 1.0) == 1280
    forked = [*first[:1200], *range(7000, 7400)]  # differs from token 1200 on
    assert cache.lookup("k", "m", prefix_digests(forked, OPENAI), 1.0) == 1152
    other = list(range(1, 1301))  # differs from the first token
    assert cache.lookup("k", "m", prefix_digests(other, OPENAI), 1.0) == 0


def test_a_short_prompt_never_hits_and_min_tokens_is_the_policys() -> None:
    cache = PromptCache()
    short = list(range(1000))
    cache.store("k", "m", prefix_digests(short, OPENAI), 0.0, 300)
    assert len(cache) == 0 and cache.lookup("k", "m", prefix_digests(short, OPENAI), 1.0) == 0
    small = PromptCachePolicy(min_tokens=512, step_tokens=128, ttl_s=300)
    cache.store("k", "m", prefix_digests(short, small), 0.0, 300)
    assert cache.lookup("k", "m", prefix_digests(short, small), 1.0) == 896


def test_entries_expire_after_ttl_and_a_hit_refreshes_them() -> None:
    stream = list(range(1100))
    prefixes = prefix_digests(stream, OPENAI)
    cache = PromptCache()
    cache.store("k", "m", prefixes, 0.0, 300)
    assert cache.lookup("k", "m", prefixes, 299.9) == 1024
    assert cache.lookup("k", "m", prefixes, 300.0) == 0  # expired, and dropped
    assert len(cache) == 0
    cache.store("k", "m", prefixes, 0.0, 300)
    assert cache.lookup("k", "m", prefixes, 200.0) == 1024
    cache.store("k", "m", prefixes, 200.0, 300)  # what a served hit does
    assert cache.lookup("k", "m", prefixes, 450.0) == 1024  # 250 s after the refresh
    assert cache.lookup("k", "m", prefixes, 500.0) == 0


def test_cache_is_per_api_key_and_per_model() -> None:
    prefixes = prefix_digests(list(range(1200)), OPENAI)
    cache = PromptCache()
    cache.store("key-a", "gpt-4o", prefixes, 0.0, 300)
    assert cache.lookup("key-a", "gpt-4o", prefixes, 1.0) == 1152
    assert cache.lookup("key-b", "gpt-4o", prefixes, 1.0) == 0
    assert cache.lookup("key-a", "gpt-4o-mini", prefixes, 1.0) == 0


def test_memory_is_bounded_least_recently_stored_first() -> None:
    cache = PromptCache(max_entries=5)
    prompts = [prefix_digests(list(range(s, s + 1200)), OPENAI) for s in (0, 10_000, 20_000)]
    for i, prefixes in enumerate(prompts):  # two entries (1024, 1152) each
        cache.store("k", "m", prefixes, float(i), 300)
    assert len(cache) == 5
    assert cache.lookup("k", "m", prompts[0], 3.0) == 1152  # lost its 1024, kept its 1152
    cache.store("k", "m", prompts[1], 4.0, 300)  # refreshed: now the newest
    cache.store("k", "m", prompts[2], 5.0, 300)
    cache.store("k", "m", prefix_digests(list(range(30_000, 31_200)), OPENAI), 6.0, 300)
    assert len(cache) == 5
    assert cache.lookup("k", "m", prompts[0], 7.0) == 0
    assert cache.lookup("k", "m", prompts[2], 7.0) == 1152
    with pytest.raises(ValueError):
        PromptCache(max_entries=0)


# ---- token counts and streams --------------------------------------------------------------------
def test_prompt_tokens_are_the_tokenizers_chat_count_plus_the_tools() -> None:
    messages = conversation()
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {}}}]
    for encoding in ("o200k_base", "cl100k_base", "chars4"):
        tokenizer = get_tokenizer(encoding)
        expected = tokenizer.chat_tokens(messages) + tokenizer.count(tools_json(tools))
        assert count_prompt_tokens(messages, tools, encoding) == expected
        prompt = PromptTokens(messages, tools)
        assert prompt.count(encoding) == expected
        assert len(prompt.ids(encoding)) == expected  # a cached prefix is in prompt tokens
    assert count_prompt_tokens(messages) != count_prompt_tokens(messages, None, "cl100k_base")


def test_streams_share_a_prefix_only_while_messages_are_identical_in_order() -> None:
    def ids(messages: list[dict[str, Any]], tools: tuple[Any, ...] = ()) -> list[int]:
        return list(PromptTokens(messages, tools).ids("o200k_base"))

    def digests(messages: list[dict[str, Any]]) -> list[bytes]:
        return list(prefix_digests(ids(messages), TINY).digests)

    def shared(a: list[int], b: list[int]) -> int:
        return next(
            (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b))
        )

    base = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi there"}]
    grown = [*base, {"role": "assistant", "content": "Hello."}, {"role": "user", "content": "?"}]
    assert ids(grown)[: len(ids(base))] == ids(base)  # an earlier turn is a prefix of the next
    assert digests(grown)[: len(digests(base))] == digests(base)
    system_part = len(ids(base[:1]))
    # The same characters cut into messages differently part at the first message's end.
    resplit = [{"role": "system", "content": "Be"}, {"role": "user", "content": " brief.Hi there"}]
    assert 0 < shared(ids(resplit), ids(base)) < system_part
    # A different role, or tools in front, differ right after the reply primer every prompt
    # opens with; a name marks its message.
    primer = REPLY_PRIMER
    assert shared(ids([{**base[0], "role": "developer"}, base[1]]), ids(base)) <= primer + 1
    tools = ({"type": "function", "function": {"name": "f"}},)
    assert shared(ids(base, tools), ids(base)) == primer
    named = [base[0], {**base[1], "name": "ann"}]
    assert system_part < shared(ids(named), ids(base)) < len(ids(base))


# ---- TTFT and cost -------------------------------------------------------------------------------
def test_cached_tokens_skip_prefill_and_are_billed_at_the_cache_rate() -> None:
    model, defaults = CATALOG.models["gpt-4o"], CATALOG.defaults
    cold = draw_ttft(model, defaults, 1500, np.random.default_rng(3))
    warm = draw_ttft(model, defaults, 1500, np.random.default_rng(3), cached_tokens=1408)
    assert cold - warm == pytest.approx(1408 / defaults.prefill_tok_s)
    assert draw_ttft(model, defaults, 100, np.random.default_rng(3), 500) == pytest.approx(
        draw_ttft(model, defaults, 0, np.random.default_rng(3))
    )  # never more than the whole prompt
    assert model.cost_usd(1500, 10, 1408) == pytest.approx((92 * 2.5 + 1408 * 1.25 + 100) / 1e6)
    assert model.cost_usd(1500, 10) == pytest.approx((1500 * 2.5 + 100) / 1e6)


def simulate(gateway: Gateway, model: str, messages: list[dict[str, Any]], key: str = "k"):
    body = {"model": model, "messages": messages, "max_tokens": 8, "ignore_eos": True}
    req = parse_chat_request(orjson.dumps(body), gateway.catalog.model_ids())
    return gateway.simulate(req, None, CATALOG.plans["enterprise"], GatewayHeaders(), key=key)


def test_usage_counts_in_the_served_models_encoding_and_caching_can_be_off() -> None:
    catalog = load_catalog(
        overrides={
            "models": {
                "gpt-4o": {"tokenizer": "cl100k_base"},
                "gpt-4o-mini": {"prompt_cache": False},
            }
        }
    )
    gateway = Gateway(catalog, time_scale=0, clock=FakeClock())
    messages = conversation()
    first, second = (simulate(gateway, "gpt-4o", messages) for _ in range(2))
    assert first.prompt_tokens == count_prompt_tokens(messages, None, "cl100k_base")
    assert first.prompt_tokens != count_prompt_tokens(messages)  # the default encoding's
    stream = PromptTokens(messages).ids("cl100k_base")  # what gpt-4o's cache compares
    expected = max(boundaries(len(stream), OPENAI))
    assert (first.cached_tokens, second.cached_tokens) == (0, expected)
    assert second.usage["prompt_tokens_details"] == {"cached_tokens": expected}
    mini = [simulate(gateway, "gpt-4o-mini", messages) for _ in range(2)]
    assert [s.cached_tokens for s in mini] == [0, 0]
    assert mini[1].usage["prompt_tokens_details"] == {"cached_tokens": 0}


# ---- over HTTP -----------------------------------------------------------------------------------
def post(emu: EmulatorProcess, body: dict[str, Any], key: str = "br-demo-pro") -> httpx.Response:
    return httpx.post(
        f"{emu.base_url}/chat/completions",
        json=body,
        timeout=30,
        headers={"Authorization": f"Bearer {key}"},
    )


def streamed(emu: EmulatorProcess, body: dict[str, Any], key: str = "br-demo-pro"):
    """(usage, blockrun, simulated first-token ms) of a streamed answer."""
    body = {**body, "stream": True, "stream_options": {"include_usage": True}}
    response = post(emu, body, key)
    assert response.status_code == 200, response.text
    lines = [ln[6:] for ln in response.text.split("\n") if ln.startswith("data: ")]
    last = orjson.loads(lines[-2])
    return last["usage"], last["blockrun"], float(response.headers["x-emulator-first-token-ms"])


def ask(model: str, question: str = "What is the capital of France?") -> dict[str, Any]:
    return {
        "model": model,
        "messages": conversation(question),
        "max_tokens": 8,
        "ignore_eos": True,
    }


@pytest.fixture(scope="module")
def cached_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    with EmulatorProcess(time_scale=TIME_SCALE, seed=5) as emu:
        yield emu


def test_a_repeated_prefix_is_read_from_the_cache_and_billed_at_the_cache_rate(
    cached_emulator: EmulatorProcess,
) -> None:
    gpt = CATALOG.models["gpt-4o"]
    cold, warm = (post(cached_emulator, ask("gpt-4o")).json() for _ in range(2))
    prompt = cold["usage"]["prompt_tokens"]
    assert prompt == warm["usage"]["prompt_tokens"] == O200K.chat_tokens(conversation())
    assert cold["usage"]["completion_tokens"] == warm["usage"]["completion_tokens"] == 8
    assert cold["usage"]["prompt_tokens_details"] == {"cached_tokens": 0}
    cached = warm["usage"]["prompt_tokens_details"]["cached_tokens"]
    assert 1024 <= cached <= prompt and cached % 128 == 0
    assert cached > prompt - 128 - 10  # all of the prompt but its last partial step and markup
    # The same usage: the whole difference is the cache discount on the cached tokens.
    saving = cold["blockrun"]["cost_usd"] - warm["blockrun"]["cost_usd"]
    discount = cached * (gpt.input_per_mtok - gpt.cache_read_per_mtok) / 1e6
    assert saving == pytest.approx(discount, abs=2e-10)
    # Streamed answers carry it in their usage chunk too.
    usage, blockrun, _ = streamed(cached_emulator, ask("gpt-4o"))
    assert usage["prompt_tokens_details"]["cached_tokens"] >= 1024
    assert blockrun["cost_usd"] < cold["blockrun"]["cost_usd"]


def test_the_same_prefix_misses_on_another_model_and_under_another_key(
    cached_emulator: EmulatorProcess,
) -> None:
    body = ask("claude-haiku", "What is two plus two?")
    assert post(cached_emulator, body).json()["usage"]["prompt_tokens_details"] == {
        "cached_tokens": 0
    }
    assert post(cached_emulator, ask("gpt-4o-mini")).json()["usage"]["prompt_tokens_details"] == {
        "cached_tokens": 0
    }
    again = post(cached_emulator, body).json()["usage"]["prompt_tokens_details"]["cached_tokens"]
    assert again >= 1024
    other_key = post(cached_emulator, body, key="ar-demo-pro").json()
    assert other_key["usage"]["prompt_tokens_details"] == {"cached_tokens": 0}


@pytest.mark.slow
def test_cached_requests_have_a_shorter_simulated_ttft(tmp_path: Path) -> None:
    """Two emulators with the same seed draw the same TTFT noise for the same requests; one
    caches gpt-4o's prompts and one does not, so their first-token times differ by exactly the
    prefill of the cached tokens."""
    overlay = tmp_path / "no-cache.toml"
    overlay.write_text('[meta]\nextends = "builtin"\n[models."gpt-4o"]\nprompt_cache = false\n')
    questions = ["Hi?", "What is the capital of Peru?", "Name a river.", "Name a lake."]
    with (
        EmulatorProcess(time_scale=TIME_SCALE, seed=9) as caching,
        EmulatorProcess(time_scale=TIME_SCALE, seed=9, catalog=str(overlay)) as plain,
    ):
        warm = [streamed(caching, ask("gpt-4o", q)) for q in questions]
        cold = [streamed(plain, ask("gpt-4o", q)) for q in questions]
    prefill_ms = 1000 * TIME_SCALE / CATALOG.defaults.prefill_tok_s
    for (usage, _, warm_ms), (cold_usage, _, cold_ms) in zip(warm, cold, strict=True):
        assert cold_usage["prompt_tokens_details"]["cached_tokens"] == 0
        cached = usage["prompt_tokens_details"]["cached_tokens"]
        assert warm_ms == pytest.approx(cold_ms - cached * prefill_ms, abs=0.002)
    assert [u["prompt_tokens_details"]["cached_tokens"] > 0 for u, _, _ in warm] == [
        False,
        True,
        True,
        True,
    ]
    assert np.mean([w[2] for w in warm]) < np.mean([c[2] for c in cold])
