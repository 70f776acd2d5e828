"""A fitted twin, without servers: the estimators recover known parameters from the emulator's
own draws; the catalog reads a twin's timing, mix and plan; the router draws from a mix; the
overlay round-trips; re-run commands drop the real target; labels say "twin of"."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

from auraon_bench.analysis.limits import Finding, LimiterFinding, LimitsSummary
from auraon_bench.catalog import ModelTiming, load_catalog
from auraon_bench.emulator.gateway import Gateway, GatewayHeaders
from auraon_bench.emulator.protocol import parse_chat_request
from auraon_bench.emulator.router import Route, lead_with, length_band, mix_choice, mix_keys
from auraon_bench.emulator.timing import draw_gaps, draw_output_length, draw_ttft
from auraon_bench.errors import CatalogError, ConfigError
from auraon_bench.results.labels import simulated_label, simulated_warning, twin_of_target
from auraon_bench.twin.estimate import (
    QUANTILE_POINTS,
    fit_gaps,
    fit_lengths,
    fit_lognormal,
    fit_prefill,
    fit_prices,
    ks_two_sample,
)
from auraon_bench.twin.fit import (
    LimitsFit,
    MixFit,
    ModeFit,
    ModelFit,
    SourceRun,
    TwinFit,
    _limits_fit,
    _mode_fit,
)
from auraon_bench.twin.overlay import overlay_text, write_twin
from auraon_bench.twin.validate import rerun_argv

CATALOG = load_catalog()
DEFAULTS = CATALOG.defaults


def profile(**timing: float):
    base = CATALOG.models["gpt-4o"]
    return dataclasses.replace(base, ttft_s=0.8, output_tok_s=90, timing=ModelTiming(**timing))


def within(value: float, truth: float, share: float = 0.05) -> bool:
    return abs(value - truth) <= share * abs(truth)


# --- estimators on the emulator's own draws --------------------------------------------------


def test_lognormal_ttft_is_recovered_within_five_percent() -> None:
    model = profile(ttft_sigma=0.35)
    rng = np.random.default_rng(7)
    samples = [draw_ttft(model, DEFAULTS, 0, rng) for _ in range(3000)]
    fit = fit_lognormal(samples)
    assert fit is not None and fit.method == "lognormal" and fit.n == 3000
    assert within(fit.median, 0.8) and within(fit.sigma, 0.35)
    assert fit.ks < 0.03


def test_a_poor_lognormal_falls_back_to_quantiles_the_twin_draws_from() -> None:
    rng = np.random.default_rng(1)
    measured = rng.uniform(0.2, 1.0, 4000)  # flat: no lognormal fits it
    fit = fit_lognormal(measured)
    assert fit is not None and fit.method == "empirical" and not fit.good
    assert len(fit.quantiles) == QUANTILE_POINTS and fit.ks > 0.05
    twin = profile(ttft_sigma=0.5)
    twin = dataclasses.replace(twin, timing=ModelTiming(ttft_quantiles=fit.quantiles))
    drawn = [draw_ttft(twin, DEFAULTS, 0, rng) for _ in range(4000)]
    assert ks_two_sample(measured, drawn).ks < 0.04


def test_too_few_samples_fit_nothing() -> None:
    assert fit_lognormal([0.5] * 10) is None
    assert fit_gaps([0.01] * 10) is None
    assert fit_lengths([10] * 10, [False] * 10) is None
    assert fit_prices([10] * 10, [0] * 10, [5] * 10, [1e-5] * 10) is None


def test_prefill_is_seen_only_where_prompt_sizes_vary() -> None:
    model = profile(ttft_sigma=0.3, prefill_tok_s=5000)
    rng = np.random.default_rng(3)
    tokens = rng.integers(50, 8000, 2500)
    ttft = [draw_ttft(model, DEFAULTS, int(t), rng) for t in tokens]
    fit = fit_prefill(tokens, ttft)
    assert fit.tok_s is not None and within(fit.tok_s, 5000, 0.10)
    alike = fit_prefill(np.full(500, 100), ttft[:500])
    assert alike.tok_s is None and "too alike" in alike.detail


def test_prefill_of_cached_tokens_is_skipped() -> None:
    model = profile(ttft_sigma=0.2, prefill_tok_s=1000)
    cold = draw_ttft(model, DEFAULTS, 2000, np.random.default_rng(5))
    warm = draw_ttft(model, DEFAULTS, 2000, np.random.default_rng(5), cached_tokens=1500)
    assert cold - warm == pytest.approx(1.5)


def test_gap_body_and_slow_tail_are_recovered() -> None:
    model = profile(itl_jitter=0.3, slow_tail_prob=0.02, slow_tail_factor=5.0)
    rng = np.random.default_rng(11)
    gaps = np.concatenate([draw_gaps(model, DEFAULTS, 50, rng) for _ in range(3000)])
    fit = fit_gaps(gaps)
    assert fit is not None and fit.n == gaps.size
    assert within(fit.median, 1 / 90, 0.03)
    assert within(fit.sigma, 0.3, 0.08)
    assert abs(fit.tail_prob - 0.02) < 0.004
    assert within(fit.tail_factor, 5.0, 0.15)
    assert fit.ks < 0.02


def test_output_lengths_below_a_cap_and_a_cap_that_hides_the_median() -> None:
    model = profile(output_tokens=200, output_sigma=0.5)
    rng = np.random.default_rng(2)
    lengths = np.array([draw_output_length(DEFAULTS, rng, model) for _ in range(3000)])
    capped = lengths >= 400
    fit = fit_lengths(np.minimum(lengths, 400), capped)
    assert fit is not None and within(fit.median, 200) and within(fit.sigma, 0.5, 0.08)
    assert 0 < fit.capped_share < 0.2
    assert fit_lengths(np.minimum(lengths, 150), lengths >= 150) is None  # most answers cut


def test_default_output_length_keeps_the_catalog_median() -> None:
    rng = np.random.default_rng(4)
    lengths = [draw_output_length(DEFAULTS, rng) for _ in range(2000)]
    assert within(float(np.median(lengths)), DEFAULTS.typical_output_tokens, 0.08)


def test_prices_are_solved_from_reported_costs() -> None:
    model = dataclasses.replace(CATALOG.models["claude-haiku"], input_per_mtok=1.7,
                                output_per_mtok=6.2, cache_read_per_mtok=0.2)  # fmt: skip
    rng = np.random.default_rng(9)
    prompt = rng.integers(100, 3000, 200)
    cached = np.where(rng.random(200) < 0.5, prompt // 2, 0)
    completion = rng.integers(10, 500, 200)
    cost = [model.cost_usd(int(p), int(c), int(k)) for p, c, k in zip(prompt, completion, cached,
                                                                       strict=True)]  # fmt: skip
    fit = fit_prices(prompt, cached, completion, cost)
    assert fit is not None and fit.n == 200 and fit.max_error < 1e-6
    assert fit.input_per_mtok == pytest.approx(1.7)
    assert fit.output_per_mtok == pytest.approx(6.2)
    assert fit.cache_read_per_mtok == pytest.approx(0.2)
    flat = fit_prices(np.full(50, 100), np.zeros(50), np.full(50, 20), np.full(50, 1e-4))
    assert flat is None  # one size of everything: input and output cannot be told apart


# --- the catalog and the router -------------------------------------------------------------


def test_a_twin_catalog_reads_timing_mix_and_twin_of(tmp_path) -> None:
    path = tmp_path / "twin.toml"
    path.write_text(
        '[meta]\nextends = "builtin"\ntwin_of = "run-1"\n'
        '[models."gpt-4o".timing]\nttft_sigma = 0.2\nttft_quantiles = [0.1, 0.2, 0.4]\n'
        "itl_jitter = 0.1\noutput_tokens = 90\n"
        '[routing.modes.auto.mix]\n"*" = { "gpt-4o" = 3, "claude-haiku" = 1 }\n'
        'math = { "deepseek-r1" = 1 }\n'
    )
    catalog = load_catalog(path)
    timing = catalog.models["gpt-4o"].timing
    assert catalog.twin_of == "run-1"
    assert timing.ttft_quantiles == (0.1, 0.2, 0.4) and timing.output_tokens == 90
    assert catalog.models["claude-haiku"].timing == ModelTiming()
    assert dict(catalog.routing.mix["auto"]["*"]) == {"gpt-4o": 0.75, "claude-haiku": 0.25}
    assert catalog.routing.mix["auto"]["math"] == (("deepseek-r1", 1.0),)
    assert "auto:fast" not in catalog.routing.mix


@pytest.mark.parametrize(
    ("toml", "field"),
    [
        ('[models."gpt-4o".timing]\nttft_quantiles = [0.3, 0.1]\n', "ttft_quantiles"),
        ('[models."gpt-4o".timing]\nslow_tail_prob = 2\n', "slow_tail_prob"),
        ('[models."gpt-4o".timing]\nwhat = 1\n', "timing.what"),
        ('[routing.modes.auto.mix]\n"*" = { "nope" = 1 }\n', "mix.*.nope"),
        ('[routing.modes.auto.mix]\n"*" = { "gpt-4o" = 0 }\n', "mix.*"),
        ("[meta]\ntwin_of = 3\n", "meta.twin_of"),
    ],
)
def test_a_bad_twin_catalog_names_its_field(tmp_path, toml: str, field: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[meta]\nextends = "builtin"\n' + toml.replace("[meta]\n", ""))
    with pytest.raises(CatalogError) as info:
        load_catalog(path)
    assert field in str(info.value) and "bad.toml" in str(info.value)


def test_mix_keys_go_from_specific_to_general() -> None:
    assert length_band(999) == "short" and length_band(1000) == "medium"
    assert length_band(50_000) == "long"
    assert mix_keys("math", 20) == ("math@short", "math", "*@short", "*")
    assert mix_keys(None, 5000) == ("~@medium", "~", "*@medium", "*")  # a prompt of no dataset
    mix = {"*": (("a", 0.25), ("b", 0.75)), "math": (("c", 1.0),)}
    assert mix_choice(mix, None, 10, 0.2) == ("a", "*")
    assert mix_choice(mix, None, 10, 0.3) == ("b", "*")
    assert mix_choice(mix, "math", 10, 0.99) == ("c", "math")
    assert mix_choice({"code": (("c", 1.0),)}, "math", 10, 0.5) is None
    # A prompt of no dataset takes "~" when the twin has it; a dataset prompt never does.
    mix = {**mix, "~": (("d", 1.0),)}
    assert mix_choice(mix, None, 10, 0.2) == ("d", "~")
    assert mix_choice(mix, "factual", 10, 0.2) == ("a", "*")


def test_lead_with_keeps_the_chain_when_the_model_cannot_serve() -> None:
    route = Route(chain=("gpt-4o", "claude-haiku"), tier="MEDIUM", reason="r")
    models = CATALOG.models
    led = lead_with(route, "deepseek-r1", models, 100, (), "twin_mix:*")
    assert led.chain == ("deepseek-r1", "gpt-4o", "claude-haiku") and led.reason == "twin_mix:*"
    assert lead_with(route, "deepseek-r1", models, 100, {"deepseek-r1"}, "x") is route
    assert lead_with(route, "deepseek-r1", models, 10**6, (), "x") is route  # context too small


class FakeClock:
    def __call__(self) -> float:
        return 0.0


def test_the_gateway_routes_auto_by_the_twin_mix() -> None:
    catalog = load_catalog(overrides={"routing": {"modes": {"auto": {"mix": {
        "*": {"llama-3.1-8b": 0.3, "claude-opus-4": 0.7}}}}}})  # fmt: skip
    gateway = Gateway(catalog, time_scale=0, clock=FakeClock(), seed=1)
    body = b'{"model": "auto", "messages": [{"role": "user", "content": "Hi there"}]}'
    served = [
        gateway.simulate(parse_chat_request(body, catalog.model_ids()), None,
                         catalog.plans["enterprise"], GatewayHeaders()).model
        for _ in range(2000)
    ]  # fmt: skip
    assert set(served) == {"llama-3.1-8b", "claude-opus-4"}
    assert abs(served.count("llama-3.1-8b") / 2000 - 0.3) < 0.04


def test_the_gateway_routes_a_prompt_of_no_dataset_by_its_own_mix() -> None:
    catalog = load_catalog(overrides={"routing": {"modes": {"auto": {"mix": {
        "*": {"claude-opus-4": 1.0}, "~": {"llama-3.1-8b": 1.0}}}}}})  # fmt: skip
    gateway = Gateway(catalog, time_scale=0, clock=FakeClock(), seed=1)
    body = b'{"model": "auto", "messages": [{"role": "user", "content": "Hi there"}]}'
    answer = gateway.simulate(parse_chat_request(body, catalog.model_ids()), None,
                              catalog.plans["enterprise"], GatewayHeaders())  # fmt: skip
    assert answer.model == "llama-3.1-8b"


# --- the overlay ------------------------------------------------------------------------------


def _fit(limits: LimitsFit | None = None) -> TwinFit:
    from auraon_bench.twin.estimate import GapFit, LengthFit, LognormalFit, PrefillFit, PriceFit

    known = ModelFit(
        model="gpt-4o", arms=("gpt-4o",), n_ok=500, n_attempts=510,
        ttft=LognormalFit(1.5, 0.3, 500, 0.01, "lognormal"),
        prefill=PrefillFit(8000.0, 500, "Theil-Sen"),
        gaps=GapFit(0.04, 0.2, 0.01, 4.0, 9000, 0.01),
        output=LengthFit(120.0, 0.5, 500, 0.02),
        prices=PriceFit(3.0, 11.0, 9.0, 500, 0.0),  # a cache price above input: clamped
        error_rate=0.02, n_errors=10, n_503=10,
    )  # fmt: skip
    alias = ModelFit(
        model="house-model", arms=("house-model",), n_ok=100, n_attempts=100,
        ttft=LognormalFit(0.3, 0.6, 100, 0.2, "empirical", (0.1, 0.2, 0.5)),
        kept=("prices: no cost reported",),
    )  # fmt: skip
    mode = ModeFit("auto", 400, 0.05, 20, (
        MixFit("*", {"gpt-4o": 0.6, "house-model": 0.4}, 400, 0.02),
        MixFit("math", {"gpt-4o": 1.0}, 60, 0.0),
    ))  # fmt: skip
    return TwinFit("run-a", "2026-12-03T00:00:00Z",
                   (SourceRun("run-a", "load", "http://gw", 1.0, 910),), (known, alias), (mode,),
                   limits, ("note one",))  # fmt: skip


def test_the_overlay_loads_with_every_fitted_figure(tmp_path) -> None:
    limits = LimitsFit("starter", 58.7, 99000.0, "fixed_window", 0.8, 120, ("requests: ...",))
    out, side = write_twin(_fit(limits), tmp_path / "twin.toml")
    text = out.read_text()
    assert "n=500" in text and "KS D=0.010" in text and "kept built-in: prices" in text
    catalog = load_catalog(out)
    gpt = catalog.models["gpt-4o"]
    assert catalog.twin_of == "run-a"
    assert gpt.ttft_s == 1.5 and gpt.timing.ttft_sigma == 0.3
    assert gpt.output_tok_s == pytest.approx(25.0) and gpt.timing.prefill_tok_s == 8000
    assert gpt.input_per_mtok == 3.0 and gpt.cache_read_per_mtok == 3.0
    assert gpt.faults.error_rate == 0.02 and gpt.timing.output_tokens == 120
    house = catalog.models["house-model"]
    assert house.owned_by == "fitted" and house.timing.ttft_quantiles == (0.1, 0.2, 0.5)
    assert house.faults.error_rate == 0.05  # auto's fallbacks: no fixed arm measured it
    assert dict(catalog.routing.mix["auto"]["*"]) == {"gpt-4o": 0.6, "house-model": 0.4}
    plan = catalog.plans["twin"]
    assert (plan.requests_per_min, plan.tokens_per_min) == (59, 99000)
    assert plan.limiter == "fixed_window" and plan.retry_after_factor == 0.8
    assert catalog.keys["br-demo-twin"] == "twin"
    assert side.name == "twin.fit.json" and '"twin_of": "run-a"' in side.read_text()


def test_the_fit_summary_names_the_mix_of_prompts_of_no_dataset(capsys) -> None:
    from auraon_bench.cli.emulator_fit import print_fit

    fit = _fit()
    print_fit(fit)
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("  auto:"))
    assert line == ("  auto: mix gpt-4o 60%, house-model 40% (n=400); 1 finer keys; "
                    "fallbacks 5.0% of 400 answers")  # fmt: skip
    apart = MixFit("~", {"house-model": 1.0}, 90, 0.0)
    mode = dataclasses.replace(fit.modes[0], mixes=(*fit.modes[0].mixes, apart))
    print_fit(dataclasses.replace(fit, modes=(mode,)))
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("  auto:"))
    assert "; prompts of no dataset house-model 100% (n=90); 1 finer keys;" in line


def test_a_fit_without_limits_adds_no_plan() -> None:
    text = overlay_text(_fit())
    assert "[plans.twin]" not in text and "note: note one" in text


# --- re-running on the twin -----------------------------------------------------------------


def test_the_rerun_drops_the_real_target_and_points_at_the_twin(tmp_path) -> None:
    command = ["auraon-bench", "load", "--base-url", "http://gw/v1", "--api-key=sk-…abcd",
               "--model", "auto", "--time-scale", "0.5", "--out=/x/run", "--yes", "--plan",
               "pro", "--metrics-port", "0", "--requests", "10"]  # fmt: skip
    argv = rerun_argv(command, tmp_path / "t.toml", 0.25, tmp_path / "o", twin_plan=False)
    assert argv == ["load", "--model", "auto", "--plan", "pro", "--requests", "10",
                    "--catalog", str(tmp_path / "t.toml"), "--time-scale", "0.25",
                    "--out", str(tmp_path / "o"), "--yes"]  # fmt: skip
    twin = rerun_argv(command, tmp_path / "t.toml", 1, tmp_path / "o", twin_plan=True)
    assert twin[twin.index("--plan") + 1] == "twin" and "pro" not in twin
    experiment = rerun_argv(["auraon-bench", "run", "e.toml", "--base-url", "http://gw/v1"],
                            tmp_path / "t.toml", 1, tmp_path / "o", twin_plan=True)  # fmt: skip
    assert experiment[:2] == ["run", "e.toml"] and "--emulator" in experiment
    assert "--plan" not in experiment and "--base-url" not in experiment
    real = rerun_argv(command, tmp_path / "t.toml", 1, tmp_path / "o", False, real_target=True)
    assert real[-2:] == ["--no-pin-output", "--yes"]  # a gateway's answers were not pinned
    search = rerun_argv(["auraon-bench", "capacity", "--slo", "ttft_p95<=1s"], tmp_path / "t",
                        1, tmp_path / "o", False, real_target=True)  # fmt: skip
    assert search[0] == "capacity" and "--no-pin-output" in search
    assert "--no-pin-output" in rerun_argv(["auraon-bench", "run", "e.toml"], tmp_path / "t", 1,
                                           tmp_path / "o", False, real_target=True)  # fmt: skip
    with pytest.raises(ConfigError, match="cannot re-run"):
        rerun_argv(["auraon-bench", "report", "x"], tmp_path, 1, tmp_path, False)


# --- labels -----------------------------------------------------------------------------------


def test_a_twin_says_whose_twin_it_is() -> None:
    assert simulated_label() == "SIMULATED (built-in emulator)"
    assert simulated_label("r-1") == "SIMULATED (twin of r-1)"
    assert simulated_warning("r-1").startswith("SIMULATED (twin of r-1):")
    assert twin_of_target({"twin_of": "r-1"}) == "r-1" and twin_of_target(None) is None


def test_plan_twin_needs_a_twin_catalog(tmp_path) -> None:
    from auraon_bench.load.target import open_target

    with pytest.raises(ConfigError, match="plan 'twin' needs --catalog"):
        with open_target(None, None, plan="twin"):
            pass
    path = tmp_path / "c.toml"
    path.write_text('[meta]\nextends = "builtin"\n')
    with pytest.raises(ConfigError, match="no demo key"):
        with open_target(None, None, plan="twin", catalog=str(path)):
            pass


def test_lognormal_median_is_the_exponent_of_the_mean_log() -> None:
    fit = fit_lognormal([math.e] * 20 + [math.e**3] * 20)
    assert fit is not None and fit.median == pytest.approx(math.e**2)


def test_ks_within_a_resolution_ignores_small_shifts_only() -> None:
    from auraon_bench.twin.estimate import ks_within

    rng = np.random.default_rng(6)
    a = 0.150 + rng.normal(0, 0.0002, 800)  # a deterministic server: 0.2 ms of spread
    b = 0.1504 + rng.normal(0, 0.0002, 700)  # another server's 0.4 ms more overhead
    assert ks_two_sample(a, b).ks > 0.5
    assert ks_within(a, b, 0.0) == pytest.approx(ks_two_sample(a, b).ks)
    assert ks_within(a, b, 0.001) < 0.02
    wide = rng.lognormal(np.log(0.15), 0.5, 800)  # another shape: no resolution hides it
    assert ks_within(a, wide, 0.003) > 0.3
    assert math.isnan(ks_within([], b, 0.001))


def test_fit_writes_a_loadable_twin_and_never_replaces_one_unasked(tmp_path) -> None:
    from click.testing import CliRunner

    from auraon_bench.cli.main import cli
    from tests.conftest import FIXTURES

    out = tmp_path / "twin.toml"
    args = ["emulator", "fit", str(FIXTURES / "runs" / "eval"), "--out", str(out)]
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    assert f"twin: {out}" in first.output and "rehearse with: --catalog" in first.output
    catalog = load_catalog(out)
    assert catalog.twin_of and catalog.name == f"twin of {catalog.twin_of}"
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 2 and "already exists (--force replaces it)" in again.output
    forced = CliRunner().invoke(cli, [*args, "--force"])
    assert forced.exit_code == 0, forced.output
    missing = CliRunner().invoke(cli, ["emulator", "fit", str(tmp_path / "nope"), "--out",
                                       str(tmp_path / "t2.toml")])  # fmt: skip
    assert missing.exit_code == 2 and "no such run directory" in missing.output
    assert not (tmp_path / "t2.toml").exists()


def test_a_stream_tail_is_drawn_only_for_a_model_that_has_one() -> None:
    from auraon_bench.emulator.timing import draw_tail

    rng = np.random.default_rng(8)
    assert draw_tail(profile(), rng) == 0.0
    tails = [draw_tail(profile(tail_s=0.05, tail_sigma=0.3), rng) for _ in range(3000)]
    assert within(float(np.median(tails)), 0.05) and min(tails) > 0
    quantiled = dataclasses.replace(profile(), timing=ModelTiming(tail_quantiles=(0.01, 0.02)))
    drawn = [draw_tail(quantiled, rng) for _ in range(500)]
    assert min(drawn) >= 0.01 and max(drawn) <= 0.02


def test_a_twin_chart_footer_and_callout_name_the_run() -> None:
    from auraon_bench.report.charts.base import FOOTER, finish, new_figure
    from auraon_bench.report.document import SIMULATED_TEXT, simulated_text

    fig, _ = new_figure()
    texts = [t.get_text() for t in finish(fig, "t", simulated="SIMULATED (twin of r-9)").texts]
    assert "SIMULATED (twin of r-9)" in texts and FOOTER not in texts
    fig, _ = new_figure()
    assert FOOTER in [t.get_text() for t in finish(fig, "t", simulated=True).texts]
    assert simulated_text() == SIMULATED_TEXT
    assert simulated_text("r-9").startswith("SIMULATED (twin of r-9):")


def test_the_good_threshold_grows_only_where_samples_are_too_few() -> None:
    from auraon_bench.twin.validate import KS_GOOD, ks_threshold

    assert ks_threshold(5000, 5000) == KS_GOOD
    assert ks_threshold(62, 62) == pytest.approx(1.358 * math.sqrt(2 / 62))
    assert ks_threshold(0, 10) == KS_GOOD


def test_run_on_the_emulator_refuses_a_real_target_beside_it() -> None:
    from pathlib import Path

    from click.testing import CliRunner

    from auraon_bench.cli.main import cli

    experiment = Path(__file__).resolve().parent.parent / "experiments" / "quickstart.toml"
    result = CliRunner().invoke(cli, ["run", str(experiment), "--emulator", "--base-url",
                                      "http://127.0.0.1:9/v1"])  # fmt: skip
    assert result.exit_code == 2 and "--emulator runs no real target" in result.output


def test_failed_auto_attempts_are_no_model_and_an_empty_run_is_one_error(tmp_path) -> None:
    from auraon_bench.twin.fit import fit_runs
    from tests.conftest import FIXTURES

    fit = fit_runs([FIXTURES / "runs" / "load-sweep"])  # its auto arm has failed attempts
    assert "auto" not in {m.model for m in fit.models}
    out, _ = write_twin(fit, tmp_path / "twin.toml")
    assert not any(m.startswith("auto") for m in load_catalog(out).models)
    with pytest.raises(ConfigError, match="no such run directory"):
        fit_runs([tmp_path / "nope"])


def test_prices_below_the_built_in_cache_price_and_any_model_name_load(tmp_path) -> None:
    from auraon_bench.twin.estimate import PriceFit

    base = _fit()
    cheap = dataclasses.replace(base.models[0], prices=PriceFit(1.0, 4.0, None, 300, 0.0))
    odd = dataclasses.replace(base.models[1], model='team-model-\U0001f680 "quoted"')
    mode = dataclasses.replace(base.modes[0], mixes=(MixFit("*", {"gpt-4o": 1.0}, 400, 0.0),))
    fit = dataclasses.replace(base, models=(cheap, odd), modes=(mode,))
    out, _ = write_twin(fit, tmp_path / "twin.toml")
    catalog = load_catalog(out)
    gpt = catalog.models["gpt-4o"]
    assert gpt.input_per_mtok == 1.0 and gpt.cache_read_per_mtok == pytest.approx(0.5)
    assert 'team-model-\U0001f680 "quoted"' in catalog.models


def test_a_twin_is_not_good_without_answers_alike_errors_or_every_arm(tmp_path) -> None:
    from auraon_bench.twin.validate import (
        ArmComparison,
        MetricComparison,
        Rerun,
        TwinValidation,
    )

    metric = MetricComparison("ttft", "s", 500, 500, (0.1,) * 101, (0.1,) * 101, 0.01, 0.9,
                              0.001, 0.01)  # fmt: skip
    arm = ArmComparison("p", "gpt-4o", 500, 500, (metric,), None, None, 0.0, 0.01)
    assert arm.good
    assert not dataclasses.replace(arm, metrics=()).good  # nothing compared vouches for nothing
    assert not dataclasses.replace(arm, errors_real=1.0).good  # a gateway failing every attempt
    rerun = Rerun("r", "r", "twin-r", ("load",), "complete")
    validation = TwinValidation("r", "t.toml", 0.1, (rerun,), (arm,))
    assert validation.good
    assert not dataclasses.replace(validation, missing=("p auto",)).good
    failed = dataclasses.replace(rerun, status="failed (exit 2)")
    assert not dataclasses.replace(validation, reruns=(failed,)).good


def test_a_validation_never_compares_an_old_twin_run(tmp_path, monkeypatch) -> None:
    from auraon_bench.results.run import read_run
    from auraon_bench.twin.fit import fit_runs
    from auraon_bench.twin.validate import validate_twin
    from tests.conftest import FIXTURES

    run = FIXTURES / "runs" / "load-sweep"
    out, _ = write_twin(fit_runs([run]), tmp_path / "twin.toml")
    calls = []

    def rerun(argv, log):
        calls.append(argv)
        return 2  # a re-run that wrote nothing

    monkeypatch.setattr("auraon_bench.twin.validate.rerun", rerun)
    (tmp_path / "v" / f"twin-{read_run(run).run_id}").mkdir(parents=True)
    with pytest.raises(ConfigError, match="already exists"):
        validate_twin([run], out, tmp_path / "v")
    assert calls == []  # refused before any re-run
    result = validate_twin([run], out, tmp_path / "w")
    assert len(calls) == 1 and not result.good and result.reruns[0].status.startswith("failed")


def _limits_summary(honest: str, recovery_error: float) -> LimitsSummary:
    limiter = LimiterFinding("requests", "token_bucket", "why", None, None, 60.2, 60.0, 1.0, 40)
    findings = (
        Finding("Retry-After honest", 1.0, 1.0, "share", honest, "detail", 8),
        Finding("recovery time error", recovery_error, 0.0, "share", "fail", "late", 4),
    )
    return LimitsSummary(True, "m", "starter", "headers", None, 40, 400, findings,
                         limiters={"requests": limiter})  # fmt: skip


def test_a_recovery_error_alone_keeps_retry_after_honest() -> None:
    # Coarse timers at small time scales make recoveries look half as long; the retries
    # at the advertised time still succeed, so the twin must not learn a lie.
    fitted = _limits_fit(_limits_summary("pass", -0.53))
    assert fitted is not None and fitted.retry_after_factor == 1.0
    assert fitted.requests_per_min == 60.0 and fitted.limiter == "token_bucket"


def test_a_dishonest_retry_after_becomes_the_twins_factor() -> None:
    fitted = _limits_fit(_limits_summary("fail", 1.0))
    assert fitted is not None and fitted.retry_after_factor == pytest.approx(0.5)
    assert any(line.startswith("Retry-After honest: fail") for line in fitted.evidence)
    coarse = dataclasses.replace(_limits_summary("fail", 1.0), time_scale=0.02)
    fitted = _limits_fit(coarse)
    assert fitted is not None and fitted.retry_after_factor == 1.0
    assert any("time scale 0.02 is too small" in line for line in fitted.evidence)


def _answers(category: str | None, served: str, n: int) -> pd.DataFrame:
    return pd.DataFrame({"routing_reason": ["tier"] * n, "served": [served] * n,
                         "prompt_tokens": [200] * n, "category": [category] * n})  # fmt: skip


def test_prompts_of_no_dataset_get_their_own_mix_beside_dataset_prompts() -> None:
    # An experiment's eval (math, routed to a strong model) and its synthetic load (routed to a
    # cheap one) on one auto mode: the twin must not route synthetic prompts by the blend.
    both = pd.concat([_answers("math", "gpt-4o", 60), _answers(None, "gpt-4o-mini", 40)])
    mixes = {m.key: m.shares for m in _mode_fit("auto", both).mixes}
    assert mixes["~"] == {"gpt-4o-mini": 1.0} and mixes["math"] == {"gpt-4o": 1.0}
    assert mixes["*"] == {"gpt-4o": 1.0}  # a category never seen: the dataset prompts' mix
    # Too few synthetic prompts for a key of their own: "*" is everyone's, the blend.
    few = pd.concat([_answers("math", "gpt-4o", 60), _answers(None, "gpt-4o-mini", 20)])
    mixes = {m.key: m.shares for m in _mode_fit("auto", few).mixes}
    assert "~" not in mixes and mixes["*"] == {"gpt-4o": 0.75, "gpt-4o-mini": 0.25}
    only_synthetic = {m.key for m in _mode_fit("auto", _answers(None, "gpt-4o", 50)).mixes}
    assert only_synthetic == {"*"}  # "*" is theirs: no duplicate key
