"""The auto router: prompt scoring, tiers, mode tables, context and cooldown filtering."""

from __future__ import annotations

import pytest

from auraon_bench.catalog import load_catalog
from auraon_bench.emulator.router import (
    BOUNDARIES,
    route_auto,
    route_fixed,
    score_prompt,
    tier_for,
)
from auraon_bench.emulator.text import count_prompt_tokens

CATALOG = load_catalog()
SIMPLE = "What is the capital of France?"
REASONING = "Prove step by step that the square root of 2 is irrational, and justify each step."
CODE = (
    "Write a python function that implements binary search, then write unit tests for it. "
    "First the code, then the tests."
)


def score(text: str, tools: bool = False):
    """The score of a one-message prompt, counted as the emulator counts it."""
    return score_prompt(text, count_prompt_tokens([{"role": "user", "content": text}]), tools)


@pytest.mark.parametrize(
    ("text", "tier", "reason"),
    [
        (SIMPLE, "SIMPLE", "simple_qa"),
        (REASONING, "REASONING", "complex_reasoning"),
        (CODE, "COMPLEX", "code"),
    ],
)
def test_prompts_land_in_the_expected_tier(text: str, tier: str, reason: str) -> None:
    result = score(text)
    assert (result.tier, result.reason) == (tier, reason)
    assert 0.5 <= result.confidence <= 1.0


def test_tools_make_a_prompt_agentic() -> None:
    assert score(SIMPLE, tools=True).tier == "AGENTIC"


def test_tier_boundaries() -> None:
    assert [tier_for(x) for x in (-0.01, 0.0, 0.29, 0.3, 0.49, 0.5)] == [
        "SIMPLE",
        "MEDIUM",
        "MEDIUM",
        "COMPLEX",
        "COMPLEX",
        "REASONING",
    ]
    assert BOUNDARIES == (0.0, 0.3, 0.5)


def test_ambiguous_prompt_goes_to_medium() -> None:
    # A score right at a boundary has low confidence and is sent to MEDIUM.
    text = "Compare rivers and glaciers as agents of erosion."
    result = score(text)
    assert result.confidence < 0.7 and result.tier == "MEDIUM" and result.reason == "ambiguous"


def test_modes_pick_different_models_for_the_same_prompt() -> None:
    picks = {
        mode: route_auto(CATALOG.routing, CATALOG.models, mode, score(REASONING), 100).chain[0]
        for mode in ("auto", "auto:fast", "auto:quality", "auto:cheap")
    }
    assert picks["auto:quality"] == "claude-opus-4"
    assert picks["auto:cheap"] == "deepseek-r1"
    prices = {m: CATALOG.models[m].output_per_mtok for m in picks.values()}
    assert prices[picks["auto:cheap"]] < prices[picks["auto:quality"]]


def test_context_too_large_for_the_tier_uses_the_long_context_chain() -> None:
    # The agentic table holds no model with a 500k window; the long-context chain does.
    route = route_auto(CATALOG.routing, CATALOG.models, "auto", score(SIMPLE, tools=True), 500_000)
    assert route.reason == "long_context"
    assert all(CATALOG.models[m].context >= 500_000 for m in route.chain)


def test_cooling_models_are_skipped_unless_all_are_cooling() -> None:
    s = score(SIMPLE)
    table = CATALOG.routing.modes["auto"]["SIMPLE"]
    assert (
        route_auto(CATALOG.routing, CATALOG.models, "auto", s, 100, {table[0]}).chain == table[1:]
    )
    assert route_auto(CATALOG.routing, CATALOG.models, "auto", s, 100, set(table)).chain == table


def test_fixed_route_with_fallbacks_and_context_filter() -> None:
    assert route_fixed(CATALOG.models, "gpt-4o", ("claude-opus-4",), 100).chain == (
        "gpt-4o",
        "claude-opus-4",
    )
    route = route_fixed(CATALOG.models, "gpt-4o", ("claude-opus-4",), 150_000)
    assert route.chain == ("claude-opus-4",) and route.reason == "context_fallback"
    assert route_fixed(CATALOG.models, "gpt-4o", (), 150_000).chain == ()
