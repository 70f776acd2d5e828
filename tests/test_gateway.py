"""The simulated gateway without HTTP: answers by skill, outages, cooldowns, time scale."""

from __future__ import annotations

import pytest

from auraon_bench.catalog import load_catalog
from auraon_bench.data.dataset import PromptItem
from auraon_bench.emulator.answers import AnswerBook, simulate_answer
from auraon_bench.emulator.gateway import Gateway, GatewayHeaders
from auraon_bench.emulator.protocol import ApiError, parse_chat_request

CATALOG = load_catalog()
ENTERPRISE = CATALOG.plans["enterprise"]


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def hard_math(i: int) -> PromptItem:
    return PromptItem(
        id=f"m{i}",
        category="math",
        difficulty="hard",
        messages=({"role": "user", "content": f"Compute item {i}."},),
        answer=i * 7,
        grader="numeric",
    )


@pytest.mark.parametrize("model", ["llama-3.1-8b", "gpt-4o", "claude-opus-4"])
def test_accuracy_matches_catalog_skill(model: str) -> None:
    profile = CATALOG.models[model]
    n = 2000
    correct = sum(simulate_answer(hard_math(i), profile, seed=1).correct for i in range(n))
    skill = profile.skill_for("math", "hard")
    # binomial standard error at n=2000 is at most 0.011; allow 4 of them
    assert abs(correct / n - skill) < 0.045


def test_answers_are_deterministic_per_seed_model_and_item() -> None:
    profile = CATALOG.models["gpt-4o-mini"]
    first = [simulate_answer(hard_math(i), profile, seed=5) for i in range(200)]
    again = [simulate_answer(hard_math(i), profile, seed=5) for i in range(200)]
    other = [simulate_answer(hard_math(i), profile, seed=6) for i in range(200)]
    assert first == again and first != other
    wrong = [a for a in first if not a.correct]
    assert wrong and all(str(7 * int(a.item_id[1:])) not in a.text for a in wrong)


def request(model: str, text: str = "Hello there, how are you?", **extra) -> object:
    import orjson

    body = {"model": model, "messages": [{"role": "user", "content": text}], **extra}
    return parse_chat_request(orjson.dumps(body), CATALOG.model_ids())


def test_outage_window_in_simulated_time_and_auto_cooldown() -> None:
    catalog = load_catalog(
        overrides={"models": {"gemini-2.5-flash": {"faults": {"outages": [[0, 30]]}}}}
    )
    clock = FakeClock()
    gateway = Gateway(catalog, time_scale=0.01, clock=clock)
    headers = GatewayHeaders()
    with pytest.raises(ApiError) as info:
        gateway.simulate(request("gemini-2.5-flash"), None, ENTERPRISE, headers)
    assert info.value.status == 503
    sim = gateway.simulate(
        request("auto", "What is the capital of Peru?"), None, ENTERPRISE, headers
    )
    assert sim.model != "gemini-2.5-flash"
    assert sim.pre_delay_s == pytest.approx(0.0)  # flash is cooling down: not even tried
    clock.now += 0.31  # 31 simulated seconds later: outage over, cooldown (15 s) over
    assert gateway.simulate(request("gemini-2.5-flash"), None, ENTERPRISE, headers).model == (
        "gemini-2.5-flash"
    )


def test_time_scale_shrinks_every_delay() -> None:
    slow = Gateway(CATALOG, time_scale=1.0, clock=FakeClock(), seed=2)
    fast = Gateway(CATALOG, time_scale=0.01, clock=FakeClock(), seed=2)
    a = slow.simulate(request("gpt-4o", max_tokens=50), None, ENTERPRISE, GatewayHeaders())
    b = fast.simulate(request("gpt-4o", max_tokens=50), None, ENTERPRISE, GatewayHeaders())
    assert b.ttft_s == pytest.approx(a.ttft_s * 0.01)
    assert b.total_s == pytest.approx(a.total_s * 0.01)
    zero = Gateway(CATALOG, time_scale=0, clock=FakeClock())
    c = zero.simulate(request("gpt-4o", max_tokens=50), None, ENTERPRISE, GatewayHeaders())
    assert c.total_s == 0.0
    assert zero.limiter("br-demo-starter", CATALOG.plans["starter"]) is None


def test_ttft_distribution_is_lognormal_around_the_median() -> None:
    gateway = Gateway(CATALOG, clock=FakeClock(), seed=3)
    ttfts = sorted(
        gateway.simulate(request("gpt-4o", max_tokens=1), None, ENTERPRISE, GatewayHeaders()).ttft_s
        for _ in range(2001)
    )
    median = ttfts[1000]
    assert 0.45 < median < 0.56  # 0.5 s median plus ~0.5 ms of prefill
    assert ttfts[1900] / median > 1.8  # sigma 0.5: p95 is about 2.3x the median


def test_cost_uses_served_model_and_actual_usage() -> None:
    gateway = Gateway(CATALOG, time_scale=0, clock=FakeClock())
    sim = gateway.simulate(
        request("claude-opus-4", max_tokens=40), None, ENTERPRISE, GatewayHeaders()
    )
    assert sim.cost_usd == pytest.approx(
        (sim.prompt_tokens * 15 + sim.completion_tokens * 75) / 1e6
    )
    assert sim.completion_tokens == len(sim.pieces) <= 40


def test_answer_book_matches_on_last_user_message() -> None:
    book = AnswerBook([hard_math(1)])
    assert (
        book.lookup(
            [{"role": "system", "content": "s"}, {"role": "user", "content": "Compute item 1. "}]
        ).id
        == "m1"
    )
    assert book.lookup([{"role": "user", "content": "Compute item 2."}]) is None
