"""Conversation affinity for ``auto``: conversation ids, the pin rule, the LRU of pins, a
multi-turn chat with and without it (switches, cached tokens, cost), and the routing reason over
HTTP."""

from __future__ import annotations

import itertools
import random
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from auraon_bench.catalog import load_catalog
from auraon_bench.data.tokenizers import get_tokenizer
from auraon_bench.emulator.affinity import (
    AFFINITY_REASON,
    Affinity,
    conversation_id,
    keep_pinned,
)
from auraon_bench.emulator.gateway import Gateway, GatewayHeaders, Simulation
from auraon_bench.emulator.launcher import EmulatorProcess
from auraon_bench.emulator.protocol import parse_chat_request
from auraon_bench.emulator.router import Route
from auraon_bench.errors import CatalogError

CATALOG = load_catalog()
MODELS = CATALOG.models
SYSTEM = "You are a careful assistant. " + get_tokenizer("o200k_base").text_of(
    1500, random.Random(5)
)
# Alternating small questions (MEDIUM: gpt-4o) and code requests (COMPLEX: claude-sonnet-4-6).
QUESTIONS = [
    "What is the capital of France?",
    "Write a python function that implements binary search, then write unit tests for it.",
    "What is the capital of Peru?",
    "Implement a python class for an LRU cache and write unit tests for the code.",
    "Who was the first person on the moon?",
    "Write a python function that parses a CSV line with quotes; implement unit tests.",
]


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


# ---- pure ----------------------------------------------------------------------------------------
def test_a_conversation_is_its_cache_key_its_user_or_its_opening() -> None:
    opening = [{"role": "system", "content": "S"}, {"role": "user", "content": "Q1"}]
    later = [*opening, {"role": "assistant", "content": "A1"}, {"role": "user", "content": "Q2"}]
    assert conversation_id(opening) == conversation_id(later)  # every turn resends the opening
    assert conversation_id(opening) != conversation_id([opening[0], {**opening[1], "content": "X"}])
    no_system = [{"role": "user", "content": "Q1"}]
    assert conversation_id(no_system) == conversation_id([*no_system, *later[2:]])
    assert conversation_id(later, prompt_cache_key="c1") == conversation_id(no_system, "c1")
    assert conversation_id(later, user="ann") == conversation_id(no_system, user="ann")
    assert conversation_id(later, user="ann") != conversation_id(later, user="bob")
    assert conversation_id(later, "ann") != conversation_id(later, user="ann")


def test_the_pin_leads_while_healthy_and_fitting() -> None:
    route = Route(chain=("gpt-4o", "gemini-2.5-flash"), tier="MEDIUM", reason="general")
    kept = keep_pinned(route, "claude-sonnet-4-6", MODELS, 1000)
    assert kept.chain == ("claude-sonnet-4-6", "gpt-4o", "gemini-2.5-flash")
    assert kept.reason == AFFINITY_REASON and kept.tier == "MEDIUM"
    assert keep_pinned(route, "gemini-2.5-flash", MODELS, 1000).chain == (
        "gemini-2.5-flash",
        "gpt-4o",
    )
    assert keep_pinned(route, None, MODELS, 1000) is route
    assert keep_pinned(route, "claude-sonnet-4-6", MODELS, 1000, {"claude-sonnet-4-6"}) is route
    assert keep_pinned(route, "gpt-4o", MODELS, 150_000) is route  # 128k window: too small
    assert keep_pinned(route, "retired-model", MODELS, 1000) is route


def test_pins_are_bounded_least_recently_used_first() -> None:
    pins = Affinity(max_entries=2)
    pins.pin(("k", "auto", "a"), "m1")
    pins.pin(("k", "auto", "b"), "m2")
    pins.pin(("k", "auto", "a"), "m3")  # a is now the most recent
    pins.pin(("k", "auto", "c"), "m4")
    assert len(pins) == 2
    assert pins.pinned(("k", "auto", "a")) == "m3" and pins.pinned(("k", "auto", "b")) is None
    assert pins.pinned(("other", "auto", "a")) is None


def test_affinity_is_a_per_mode_catalog_switch_off_by_default(tmp_path: Path) -> None:
    assert set(CATALOG.routing.affinity.values()) == {False}
    on = load_catalog(overrides={"routing": {"modes": {"auto:fast": {"affinity": True}}}})
    assert on.routing.affinity["auto:fast"] and not on.routing.affinity["auto"]
    bad = tmp_path / "bad.toml"
    bad.write_text('[meta]\nextends = "builtin"\n[routing.modes.auto]\naffinity = "yes"\n')
    with pytest.raises(CatalogError, match=r"'routing.modes.auto.affinity': must be true or false"):
        load_catalog(bad)


# ---- a multi-turn conversation through the gateway -----------------------------------------------
def chat(affinity: bool, faults: dict[str, Any] | None = None) -> list[Simulation]:
    overrides: dict[str, Any] = {"routing": {"modes": {"auto": {"affinity": affinity}}}}
    if faults:
        overrides["models"] = faults
    catalog = load_catalog(overrides=overrides)
    clock = FakeClock()
    gateway = Gateway(catalog, time_scale=0.01, clock=clock, seed=1)
    messages: list[dict[str, Any]] = [{"role": "system", "content": SYSTEM}]
    turns = []
    for question in QUESTIONS:
        messages.append({"role": "user", "content": question})
        body = {"model": "auto", "messages": messages, "max_tokens": 20, "ignore_eos": True}
        req = parse_chat_request(orjson.dumps(body), catalog.model_ids())
        sim = gateway.simulate(req, None, catalog.plans["enterprise"], GatewayHeaders(), "k")
        turns.append(sim)
        messages.append({"role": "assistant", "content": "".join(sim.pieces)})
        clock.now += 0.1  # 10 simulated seconds between turns
    return turns


def switches(turns: list[Simulation]) -> int:
    return sum(a.model != b.model for a, b in itertools.pairwise(turns))


def test_affinity_keeps_a_conversation_on_one_model_and_caches_more_of_it() -> None:
    free, sticky = chat(affinity=False), chat(affinity=True)
    assert switches(free) >= 2  # the router alone hops between models with the question
    assert switches(sticky) == 0 and switches(sticky) < switches(free)
    assert [t.routing_reason for t in sticky[1:]] == [AFFINITY_REASON] * (len(QUESTIONS) - 1)
    assert AFFINITY_REASON not in {t.routing_reason for t in free}
    # Same prompts, same answers' lengths: each hop re-reads the history at full price.
    assert [t.prompt_tokens for t in free] == [t.prompt_tokens for t in sticky]
    assert sum(t.cached_tokens for t in sticky) > sum(t.cached_tokens for t in free)
    assert sum(t.cost_usd for t in sticky) < sum(t.cost_usd for t in free)
    assert all(t.cached_tokens >= 1024 for t in sticky[1:])


def test_a_pinned_model_that_fails_is_left_and_the_new_model_is_pinned() -> None:
    turns = chat(affinity=True, faults={"gpt-4o": {"faults": {"outages": [[15, 35]]}}})
    models = [t.model for t in turns]
    # Turns at 0 and 10 s on gpt-4o; it is down at 20 and 30 s (and cooling down after), so the
    # conversation moves on and stays where it landed.
    assert models[:2] == ["gpt-4o", "gpt-4o"]
    assert models[2] != "gpt-4o" and "fallback:gpt-4o=" in turns[2].routing_reason
    assert len(set(models[2:])) == 1 and turns[3].routing_reason == AFFINITY_REASON


# ---- over HTTP -----------------------------------------------------------------------------------
@pytest.mark.slow
def test_routing_reason_says_when_affinity_decided(tmp_path: Path) -> None:
    overlay = tmp_path / "sticky.toml"
    overlay.write_text('[meta]\nextends = "builtin"\n[routing.modes.auto]\naffinity = true\n')
    simple = [{"role": "user", "content": "What is the capital of France?"}]
    code = [{"role": "user", "content": QUESTIONS[1] + " First the code, then the tests."}]
    with EmulatorProcess(time_scale=0, seed=2, catalog=str(overlay)) as emu:

        def ask(messages: list[dict[str, str]], **extra: Any) -> dict[str, Any]:
            body = {"model": "auto", "messages": messages, "max_tokens": 4, **extra}
            headers = {"Authorization": "Bearer br-demo-pro"}
            url = f"{emu.base_url}/chat/completions"
            return httpx.post(url, json=body, headers=headers, timeout=30).json()["blockrun"]

        first = ask(simple, prompt_cache_key="conv-1")
        unpinned = ask(code)  # another conversation: routed on its own merits
        assert unpinned["routed_to"] != first["routed_to"]
        assert unpinned["routing_reason"] != AFFINITY_REASON
        pinned = ask(code, prompt_cache_key="conv-1")
        assert pinned["routed_to"] == first["routed_to"]
        assert pinned["routing_reason"] == AFFINITY_REASON
        by_user = ask(code, user="ann"), ask(simple, user="ann")
        assert by_user[1]["routed_to"] == by_user[0]["routed_to"]
        assert by_user[1]["routing_reason"] == AFFINITY_REASON
