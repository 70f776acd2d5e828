"""Cache, conversation and output-cap figures from hand-built records whose answers are known."""

from __future__ import annotations

import pandas as pd
import pytest

from auraon_bench.analysis.conversations import (
    summarize_cache,
    summarize_conversations,
    summarize_output_caps,
)
from auraon_bench.analysis.load_summary import RunSummary, summarize_run


def _frame() -> pd.DataFrame:
    # Two conversations of three turns. Conversation 0 stays on model a; conversation 1 moves
    # from a to b at turn 2 and back to a at turn 3 (two switches).
    rows = [
        # session, turn, model, prompt, cached, cost, ttft
        (0, 1, "a", 1500, 0, 0.0100, 0.50),
        (0, 2, "a", 1700, 1408, 0.0060, 0.20),
        (0, 3, "a", 1900, 1664, 0.0065, 0.21),
        (1, 1, "a", 1200, 0, 0.0090, 0.48),
        (1, 2, "b", 1400, 0, 0.0110, 0.52),
        (1, 3, "a", 1600, 1152, 0.0070, 0.22),
    ]
    df = pd.DataFrame(
        rows,
        columns=[
            "session_id",
            "turn",
            "routed_to",
            "prompt_tokens",
            "cached_tokens",
            "cost_usd",
            "ttft_s",
        ],
    )
    df["status"] = "ok"
    df["arm"] = "auto"
    df["run_id"] = "r"
    df["completion_tokens"] = [20, 20, 20, 30, 30, 30]
    df["max_tokens"] = [20, 20, 20, 40, 40, 40]
    return df


DISCOUNTS = {"a": 1.25, "b": 2.0}  # USD per 1M tokens saved by a cache read


def test_cache_hit_rate_cost_without_cache_and_ttft_split() -> None:
    cache = summarize_cache(_frame(), DISCOUNTS)
    assert cache is not None
    assert cache.cached_tokens == 1408 + 1664 + 1152
    assert cache.prompt_tokens == 1500 + 1700 + 1900 + 1200 + 1400 + 1600
    assert cache.hit_rate == pytest.approx(4224 / 9300)
    assert cache.hit_requests == 3
    assert cache.ttft_cached_s.n == 3 and cache.ttft_cached_s.max == pytest.approx(0.22)
    assert cache.ttft_uncached_s.n == 3 and cache.ttft_uncached_s.min == pytest.approx(0.48)
    assert cache.cost_usd == pytest.approx(0.0495)
    assert cache.saved_usd == pytest.approx(4224 * 1.25 / 1e6)


def test_without_prices_the_cost_comparison_is_unknown_not_zero() -> None:
    cache = summarize_cache(_frame(), {"a": 1.25})  # b has no known discount
    assert cache is not None and cache.priced_rows == 5 and cache.unpriced_models == ("b",)
    assert summarize_cache(_frame().drop(columns="cached_tokens")) is None


def test_switches_and_the_discount_they_lost() -> None:
    conv = summarize_conversations(_frame(), DISCOUNTS)
    assert conv is not None
    assert conv.conversations == 2 and conv.multi_turn == 2 and conv.turns_mean == 3
    assert conv.switches == 2 and conv.switches_per_conversation == 1.0
    assert conv.switched_share == pytest.approx(2 / 4)
    # a -> b after a 1200-token turn: 1152 cacheable, none read on b, at a's discount; b -> a
    # after 1400: 1280 cacheable on b, but a served 1152 of it from its own cache anyway.
    assert conv.lost_discount_usd == pytest.approx((1152 * 1.25 + 128 * 2.0) / 1e6)
    turn2 = conv.by_turn[1]
    assert turn2.turn == 2 and turn2.routed_to == {"a": 1, "b": 1}
    assert turn2.cache_hit_rate == pytest.approx(1408 / 3100)
    assert conv.by_turn[0].cache_hit_rate == 0.0


def test_short_previous_prompts_cache_nothing() -> None:
    df = _frame()
    df["prompt_tokens"] = 900  # below the 1,024-token minimum: a switch loses nothing
    conv = summarize_conversations(df, DISCOUNTS)
    assert conv is not None and conv.switches == 2 and conv.lost_discount_usd == 0.0


def test_single_turn_runs_have_no_conversation_figures() -> None:
    df = _frame().drop(columns=["session_id", "turn"])
    assert summarize_conversations(df, DISCOUNTS) is None


def test_output_caps() -> None:
    df = _frame()
    df.loc[5, "completion_tokens"] = 55  # one answer ran past its cap of 40
    caps = summarize_output_caps(df)
    assert caps is not None and caps.rows == 6
    assert (caps.within_cap, caps.at_cap, caps.over_cap) == (5, 3, 1)
    assert caps.honoured_share == pytest.approx(5 / 6)
    assert caps.requested_mean == pytest.approx(30.0)


def test_the_run_summary_round_trips_the_new_figures() -> None:
    summary = summarize_run(_frame(), discounts=DISCOUNTS)
    arm = summary.arm("auto")
    assert arm.cache is not None and arm.conversations is not None
    back = RunSummary.from_dict(summary.to_dict())
    assert back.arm("auto").cache == arm.cache
    assert back.arm("auto").conversations == arm.conversations
    assert back.arm("auto").output_caps == arm.output_caps
