"""The money guard's estimate: an upper bound from the real prompts, ``max_tokens`` and known
prices, that names the arms it cannot price, and is within 3x of the actual spend of a
default-size run (100 requests of 128 prompt tokens allowed 64 completion tokens, streamed)
on LiteLLM and on the emulator.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from auraon_bench.cli.main import cli
from auraon_bench.client.listing import ModelListing
from auraon_bench.emulator.text import count_prompt_tokens
from auraon_bench.errors import ConfigError
from auraon_bench.experiment.preflight import estimate_total
from auraon_bench.experiment.runner import plan_parts
from auraon_bench.experiment.schema import load_experiment
from auraon_bench.load.arrivals import ScheduleSpec
from auraon_bench.load.preflight import estimate_load, planned_pairs
from auraon_bench.load.session import LoadOptions, load_prompts
from auraon_bench.prices.estimate import (
    EMULATOR_COUNTER,
    OPENAI_COUNTER,
    UNBOUNDED_OUTPUT_TOKENS,
    Demand,
    combine,
    estimate_cost,
    unknown_estimate,
)
from auraon_bench.prices.file import load_price_file
from auraon_bench.prices.table import PriceTable
from tests.conftest import FIXTURES, ROOT
from tests.litellm_proxy import LiteLLMProxy

PRICES = PriceTable.builtin()
LISTED = ("gpt-4o", "gpt-4o-mini", "claude-sonnet-4-6", "llama-3.1-8b", "auto")


# --- the function -------------------------------------------------------------------------
def test_a_priced_arm_is_its_tokens_times_its_price() -> None:
    demand = [Demand("gpt-4o", 100, 64, 30), Demand("gpt-4o", 120, 64, 20)]
    estimate = estimate_cost(demand, PRICES)
    (arm,) = estimate.arms
    assert (arm.requests, arm.prompt_tokens, arm.output_tokens) == (50, 5400, 3200)
    assert arm.usd == pytest.approx((5400 * 2.5 + 3200 * 10) / 1e6)
    assert estimate.total_usd == arm.usd and estimate.requests == 50
    assert estimate.headline() == f"estimated cost up to ${arm.usd:.4f} for 50 requests"
    assert estimate.to_dict()["upper_bound"] is True


def test_an_arm_without_a_price_is_named_and_left_out_not_invented() -> None:
    demand = [Demand("gpt-4o", 100, 64, 10), Demand("llama-3.1-8b", 100, 64, 10)]
    estimate = estimate_cost(demand, PRICES, listed=LISTED)
    assert estimate.unpriced == ("llama-3.1-8b",)
    assert estimate.total_usd == pytest.approx((1000 * 2.5 + 640 * 10) / 1e6)
    assert "not counting llama-3.1-8b (no price known" in estimate.headline()
    assert estimate.to_dict()["upper_bound"] is False  # llama's spend is not in the total
    assert any(line.startswith("arm llama-3.1-8b: 10 requests, not counted") for line in
               estimate.basis_lines())  # fmt: skip
    nothing = estimate_cost([Demand("house-model", 100, 64, 10)], PRICES)
    assert nothing.total_usd is None
    assert nothing.headline().startswith("cost cannot be estimated for 10 requests: no price")


def test_a_router_is_priced_at_the_dearest_listed_model_with_a_price() -> None:
    estimate = estimate_cost([Demand("auto", 1000, 100, 10)], PRICES, listed=LISTED)
    (arm,) = estimate.arms
    # claude-sonnet-4-6 ($3 / $15) is the dearest of the listed models genai-prices knows.
    assert arm.usd == pytest.approx((10_000 * 3 + 1000 * 15) / 1e6)
    assert arm.priced_as is not None and arm.priced_as.startswith("anthropic/claude-sonnet-4-6")
    assert "dearest of the 3 models the target lists with a price" in arm.basis
    # Without a list and without a file there is nothing it could be bounded by.
    alone = estimate_cost([Demand("auto", 1000, 100, 10)], PRICES)
    assert alone.unpriced == ("auto",) and "none of the models" in alone.arms[0].basis


def test_a_prices_file_can_price_auto_itself_or_bound_it(tmp_path: Path) -> None:
    path = tmp_path / "prices.toml"
    path.write_text('[models.auto]\ninput = 1\noutput = 2\n[models."x"]\ninput = 9\noutput = 9\n')
    table = load_price_file(path)
    own = estimate_cost([Demand("auto", 1000, 100, 1)], table, listed=LISTED)
    assert own.total_usd == pytest.approx((1000 * 1 + 100 * 2) / 1e6)
    # auto:fast has no entry and no list: the dearest model of the file bounds it.
    mode = estimate_cost([Demand("auto:fast", 1000, 100, 1)], table)
    assert mode.total_usd == pytest.approx((1000 * 9 + 100 * 9) / 1e6)


def test_requests_without_max_tokens_make_no_upper_bound_and_say_so() -> None:
    estimate = estimate_cost([Demand("gpt-4o", 100, None, 2)], PRICES)
    assert not estimate.output_bounded and estimate.arms[0].output_tokens == 2 * 4096
    assert UNBOUNDED_OUTPUT_TOKENS == 4096
    assert estimate.headline().startswith("estimated cost about $")
    assert "not an upper bound" in estimate.basis_lines()[-1]
    assert estimate.to_dict()["upper_bound"] is False


def test_token_counters_count_as_their_targets_do() -> None:
    messages = [{"role": "user", "content": "hello world"}]
    # o200k_base: "hello world" is 2 tokens; + 4 for the message + 3 for the reply primer.
    assert OPENAI_COUNTER.count(messages, None) == 9
    tools = [{"type": "function", "function": {"name": "f"}}]
    assert OPENAI_COUNTER.count(messages, tools) > 9
    assert EMULATOR_COUNTER.count(messages, tools) == count_prompt_tokens(messages, tools)


def test_combined_parts_add_up_and_an_unknown_part_makes_the_whole_unknown() -> None:
    a = estimate_cost([Demand("gpt-4o", 100, 10, 1)], PRICES)
    b = estimate_cost([Demand("gpt-4o-mini", 100, 10, 3)], PRICES)
    both = combine([a, b])
    assert both.requests == 4 and both.total_usd == pytest.approx(a.total_usd + b.total_usd)
    unknown = combine([a, unknown_estimate("part x is open-ended")])
    assert unknown.requests is None and unknown.total_usd is None
    assert unknown.basis_lines() == ["part x is open-ended"]


def default_options(*arms: str) -> LoadOptions:
    # `auraon-bench load`'s defaults: synchronous, 100 requests, 128 tokens in, 64 out.
    return LoadOptions(arms=arms, spec=ScheduleSpec(profile="synchronous", requests=100))


def test_the_estimate_follows_the_seeded_schedule_exactly() -> None:
    options = default_options("gpt-4o", "gpt-4o-mini")
    prompts = load_prompts(options, simulated=True)
    pairs = planned_pairs(options, len(prompts))
    assert pairs is not None and sum(pairs.values()) == 100
    assert sum(n for (arm, _), n in pairs.items() if arm == "gpt-4o") == 50
    open_ended = LoadOptions(arms=("gpt-4o",), spec=ScheduleSpec(profile="concurrent",
                             concurrency=2, duration=5))  # fmt: skip
    estimate = estimate_load(open_ended, prompts, PRICES, None, emulator=True)
    assert estimate.requests is None and estimate.total_usd is None
    assert estimate.headline().startswith("cost cannot be estimated")


# --- measured against what was spent ------------------------------------------------------
def run_and_read(tmp_path: Path, *args: str) -> dict:
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, ["load", *args, "--out", str(out)])
    assert "Traceback" not in result.output, result.output
    return json.loads((out / "manifest.json").read_text())["cost"]


@pytest.mark.parametrize("arm", ["gpt-4o", "gpt-4o-mini", "claude-sonnet-4-6"])
@pytest.mark.slow
def test_on_the_emulator_a_default_run_costs_at_most_its_estimate_and_a_third_of_it(
    tmp_path: Path, arm: str
) -> None:
    cost = run_and_read(tmp_path, "--time-scale", "0", "--model", arm)
    spent = cost["spent_usd"]
    # The estimate of an emulator run, recorded though nobody was asked to confirm it.
    estimated = cost["estimate"]["total_usd"]
    assert cost["estimate"]["requests"] == 100 and spent > 0
    # The emulator pins every answer to max_tokens and counts prompts by its own rule, which
    # the estimate uses: the bound is met exactly (up to float summation order).
    assert spent <= estimated * (1 + 1e-9) and estimated <= 3 * spent


@pytest.mark.slow
def test_on_the_emulator_auto_is_bounded_by_the_dearest_listed_model(tmp_path: Path) -> None:
    cost = run_and_read(tmp_path, "--time-scale", "0", "--model", "auto")
    spent, estimated = cost["spent_usd"], cost["estimate"]["total_usd"]
    assert spent <= estimated * (1 + 1e-9)
    (arm,) = cost["estimate"]["arms"]
    assert arm["priced_as"].startswith("anthropic/claude-opus-4") and "router" in arm["basis"]


@pytest.mark.litellm
def test_on_litellm_a_default_run_costs_at_most_its_estimate_and_a_third_of_it(
    litellm_proxy: LiteLLMProxy, tmp_path: Path
) -> None:
    # fast-mock is LiteLLM's name for openai/gpt-4o-mini: the file says so.
    prices = tmp_path / "prices.toml"
    prices.write_text('[models."fast-mock"]\nsame_as = "openai/gpt-4o-mini"\n')
    cost = run_and_read(
        tmp_path, "--base-url", litellm_proxy.base_url, "--api-key", litellm_proxy.api_key,
        "--model", "fast-mock", "--prices", str(prices), "--yes",
    )  # fmt: skip
    spent, estimated = cost["spent_usd"], cost["estimate"]["total_usd"]
    assert cost["estimate"]["token_counter"].startswith("o200k_base")
    assert spent <= estimated <= 3 * spent, (spent, estimated)


def test_the_confirm_prompt_shows_the_estimate_and_its_basis(emulator) -> None:
    result = CliRunner().invoke(
        cli, ["load", "--base-url", emulator.base_url, "--api-key", "br-demo-pro",
              "--model", "gpt-4o", "--model", "llama-3.1-8b", "--requests", "4"],
    )  # fmt: skip
    assert result.exit_code != 0 and "--yes" in result.output
    assert "estimated cost up to $" in result.output
    assert "not counting llama-3.1-8b" in result.output
    assert "prompt tokens: " in result.output and "the Auraon emulator's count" in result.output
    assert "completion tokens: 256, every answer at its max_tokens" in result.output
    assert "prices: genai-prices" in result.output


# --- eval and experiments -----------------------------------------------------------------
@pytest.mark.slow
def test_an_evaluation_is_bounded_with_its_judge(tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = CliRunner().invoke(
        cli, ["eval", "--time-scale", "0", "--dataset", str(FIXTURES / "sample.jsonl"),
              "--dataset", str(ROOT / "datasets" / "chat.jsonl"),
              "--model", "gpt-4o", "--model", "gpt-4o-mini", "--judge", "gpt-4o-mini",
              "--max-tokens", "256", "--out", str(out)],
    )  # fmt: skip
    assert "Traceback" not in result.output, result.output
    cost = json.loads((out / "manifest.json").read_text())["cost"]
    arms = {a["arm"]: a for a in cost["estimate"]["arms"]}
    assert set(arms) == {"gpt-4o", "gpt-4o-mini", "judge:gpt-4o-mini"}
    judge_spent = json.loads((out / "evaluation.json").read_text())["judge"]["cost_usd"]
    assert cost["spent_usd"] <= arms["gpt-4o"]["usd"] + arms["gpt-4o-mini"]["usd"]
    assert arms["judge:gpt-4o-mini"]["requests"] == 2 * 30  # 30 judge-graded items
    assert 0 < judge_spent <= arms["judge:gpt-4o-mini"]["usd"]


EXPERIMENT = """\
name = "estimate"
arms = ["gpt-4o", "auto"]

[target]
base_url = "http://gw.invalid/v1"

[eval]
datasets = ["{dataset}"]
max_tokens = 100

[[load]]
name = "steady"
profile = "constant"
rate = 10.0
duration = 2.0

[limits]
model = "gpt-4o-mini"
max_requests = 10
max_tokens = 20000
"""


def test_an_experiment_estimate_sums_its_parts_each_named(tmp_path: Path) -> None:
    path = tmp_path / "e.toml"
    path.write_text(EXPERIMENT.format(dataset=FIXTURES / "sample.jsonl"))
    experiment = load_experiment(path)
    listing = ModelListing("http://gw.invalid/v1/models", LISTED)
    estimate = estimate_total(experiment, plan_parts(experiment), PRICES, listing)
    arms = {a.arm: a for a in estimate.arms}
    assert set(arms) == {"eval/gpt-4o", "eval/auto", "steady/gpt-4o", "steady/auto",
                         "limits/gpt-4o-mini"}  # fmt: skip
    assert arms["steady/gpt-4o"].requests + arms["steady/auto"].requests == 20
    # The probe: every token of its cap at gpt-4o-mini's dearer (output) rate.
    assert arms["limits/gpt-4o-mini"].usd == pytest.approx(20_000 * 0.6 / 1e6)
    assert estimate.total_usd == pytest.approx(sum(a.usd for a in estimate.arms))
    open_ended = EXPERIMENT.replace('profile = "constant"\nrate = 10.0', 'profile = "concurrent"'
                                    '\nconcurrency = 2')  # fmt: skip
    path.write_text(open_ended.format(dataset=FIXTURES / "sample.jsonl"))
    experiment = load_experiment(path)
    with pytest.raises(ConfigError, match=r"field 'load\.steady': cost cannot be estimated"):
        estimate_total(experiment, plan_parts(experiment), PRICES, listing)
