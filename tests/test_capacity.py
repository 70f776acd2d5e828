"""The capacity search: its pure state machine, step sizes, SLO expressions and step verdicts,
and one search end to end on the emulator."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from auraon_bench.analysis.slo import parse_slo_expression
from auraon_bench.capacity.plans import LATENCY
from auraon_bench.capacity.search import FAIL, PASS, VOID, CapacitySearch, required_requests
from auraon_bench.capacity.session import read_capacity
from auraon_bench.capacity.steps import CapacityStep, per_request_slos
from auraon_bench.cli.main import cli


def drive(search: CapacitySearch, knee: float) -> list[float]:
    """Run the search against a target that passes every rate up to ``knee``."""
    offered = []
    while (rate := search.next_rate()) is not None:
        offered.append(rate)
        search.record(rate, PASS if rate <= knee else FAIL)
    return offered


def test_the_ramp_brackets_the_knee_and_bisection_narrows_it() -> None:
    search = CapacitySearch(low=1, high=1000, factor=2, tolerance=0.05)
    offered = drive(search, knee=37.0)
    assert offered[:7] == [1, 2, 4, 8, 16, 32, 64]  # the geometric ramp, until 64 fails
    assert search.passed is not None and search.failed is not None
    assert search.passed <= 37.0 < search.failed
    assert search.failed - search.passed <= 0.05 * search.passed
    assert search.stop_reason == "bracket within tolerance"
    assert all(32 < r < 64 for r in offered[7:])  # bisection stays inside the bracket


@pytest.mark.parametrize("knee", [1.3, 7.7, 150.0, 999.0])
def test_the_capacity_found_is_within_tolerance_of_any_knee(knee: float) -> None:
    search = CapacitySearch(low=1, high=1000, tolerance=0.1)
    drive(search, knee)
    assert search.passed is not None and knee * (1 - 0.1) <= search.passed <= knee


def test_edges_say_why_the_search_ended() -> None:
    never = CapacitySearch(low=5, high=100)
    drive(never, knee=1.0)
    assert never.passed is None and never.stop_reason == "the lowest rate, 5/s, already fails"
    always = CapacitySearch(low=5, high=100)
    offered = drive(always, knee=1e9)
    assert offered[-1] == 100 and always.passed == 100 and always.failed is None
    assert "ceiling" in (always.stop_reason or "")
    capped = CapacitySearch(low=1, high=1000, max_steps=3)
    drive(capped, knee=500)
    assert len(capped.steps) == 3 and capped.stop_reason == "step limit reached"


def test_a_void_step_ends_the_search_without_a_verdict() -> None:
    search = CapacitySearch(low=1, high=100)
    search.record(search.next_rate() or 0, PASS)
    search.record(search.next_rate() or 0, VOID)
    assert search.next_rate() is None
    assert search.void == 2 and search.failed is None and search.passed == 1
    assert "could not keep 2/s" in (search.stop_reason or "")


def test_bad_settings_are_refused() -> None:
    for kwargs in ({"low": 0, "high": 1}, {"low": 5, "high": 1}, {"low": 1, "high": 2,
                   "factor": 1}, {"low": 1, "high": 2, "tolerance": 0}):  # fmt: skip
        with pytest.raises(ValueError):
            CapacitySearch(**kwargs)  # type: ignore[arg-type]


def test_a_step_is_long_enough_to_bound_its_percentile() -> None:
    assert required_requests(95, 0.95) == 72
    assert required_requests(99, 0.95) == 368
    assert required_requests(50, 0.95) == 6
    for p, c in ((95, 0.95), (99, 0.9), (90, 0.99)):
        n = required_requests(p, c)
        # the largest of n samples lies above the p-quantile with probability >= 1 - alpha/2
        assert 1 - (p / 100) ** n >= 1 - (1 - c) / 2 > 1 - (p / 100) ** (n - 1)
    with pytest.raises(ValueError):
        required_requests(100)


def test_slo_expressions_read_as_the_experiment_keys() -> None:
    ttft = parse_slo_expression("ttft_p95<=800ms")
    assert (ttft.key, ttft.threshold, ttft.percentile) == ("ttft_p95_ms", 0.8, 95)
    assert parse_slo_expression("latency_p99 <= 10s").threshold == 10.0
    assert parse_slo_expression("error_rate<=1%").threshold == pytest.approx(0.01)
    assert parse_slo_expression("rate_limited<=0.5%").key == "rate_limited_rate"
    assert parse_slo_expression("cost_per_1k<=$2").threshold == 2.0
    assert parse_slo_expression("accuracy>=80%").bound == "min"
    for bad, words in (("ttft_p95<=800", "needs its unit"), ("speed<=3s", "unknown objective"),
                       ("error_rate>=1%", "is a limit"), ("ttft", "is not an SLO")):  # fmt: skip
        with pytest.raises(ValueError, match=words):
            parse_slo_expression(bad)
    limits = per_request_slos(
        [parse_slo_expression(t) for t in ("ttft_p95<=800ms", "ttft_p99<=2s", "error_rate<=1%")]
    )
    assert limits == {"ttft_s": 0.8}  # the tightest; shares have no per-request form


@pytest.mark.slow
@pytest.mark.quiet  # sends 160/s: with a busy neighbour the client could not keep up
def test_capacity_on_the_emulator_writes_typed_steps(tmp_path: Path) -> None:
    """An unlimited emulator passes every step up to the ceiling; each step is a real load run
    kept on disk, judged from its own records."""
    out = tmp_path / "cap"
    result = CliRunner().invoke(
        cli,
        ["capacity", "--model", "gpt-4o-mini", "--slo", "ttft_p95<=2s", "--slo", "error_rate<=1%",
         "--time-scale", "0.05", "--min-rate", "40", "--max-rate", "160", "--min-step-seconds",
         "0.5", "--output-tokens", "8", "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    run = read_capacity(out)
    (arm,) = run.results
    assert [s.rate for s in arm.steps] == [40, 80, 160] and arm.capacity == 160
    assert all(s.verdict == PASS and s.requests >= run.min_requests for s in arm.steps)
    assert run.min_requests == 100 and run.simulated
    for step in arm.steps:
        assert (Path(step.run_dir) / "requests.parquet").exists()
        assert step.goodput is not None and math.isfinite(step.goodput)
        assert {s.slo for s in step.slos} == {"ttft_p95_s", "error_rate"}
    assert "capacity 160/s" in result.output and "SIMULATED" in result.output
    bad = CliRunner().invoke(cli, ["capacity", "--slo", "ttft<=1s", "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "--slo" in bad.output and "Traceback" not in bad.output
    unmeasurable = CliRunner().invoke(
        cli, ["capacity", "--slo", "ttft_p95<=1s", "--no-stream", "--out", str(tmp_path / "y")]
    )
    assert unmeasurable.exit_code == 2 and "streamed answers only" in unmeasurable.output
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_the_keys_limits_come_from_its_headers_and_bound_the_steps() -> None:
    import pandas as pd

    from auraon_bench.capacity.plans import key_bound, key_limits
    from auraon_bench.capacity.session import rest_before
    from auraon_bench.capacity.steps import against_key

    records = pd.DataFrame(
        {"ratelimit_limit_requests": [60, 60, None, 59], "ratelimit_limit_tokens": [None] * 4}
    )
    limits = key_limits(records)
    assert limits is not None and limits.requests_per_min == 60 and limits.responses == 3
    assert limits.tokens_per_min is None
    assert key_limits(records.assign(ratelimit_limit_requests=None)) is None
    assert key_bound(limits, 200.0) == (1.0, "requests/min")
    assert key_bound(limits, 200.0, time_scale=0.05) == (pytest.approx(20.0), "requests/min")
    assert key_bound(None, 200.0) == (None, "")
    step = _step(rate=30.0, verdict=PASS, rate_limited_rate=0.0)
    failed = against_key(step, 20.0, "requests/min")
    assert (failed.verdict, failed.binding, failed.key_bound_rps) == (FAIL, "requests/min", 20.0)
    assert against_key(_step(rate=20.0, verdict=PASS), 20.0, "requests/min").verdict == PASS
    assert against_key(_step(rate=30.0, verdict=VOID), 20.0, "requests/min").verdict == VOID
    # a minute of the gateway's time after pressure; nothing before the first step
    assert rest_before(None, None, 0.05) == 0.0
    assert rest_before(None, failed, 0.05) == pytest.approx(3.0)
    assert rest_before(None, _step(rate=5.0, verdict=PASS, rate_limited_rate=0.0), 1.0) == 0.0
    assert rest_before(None, _step(rate=5.0, verdict=PASS, rate_limited_rate=0.01), 1.0) == 60.0
    assert rest_before(2.5, _step(rate=5.0, verdict=PASS), 1.0) == 2.5


def _step(rate: float, verdict: str, rate_limited_rate: float | None = None) -> CapacityStep:
    return CapacityStep(
        arm="auto", rate=rate, requests=100, verdict=verdict, binding=None, slos=(),
        achieved_rate=rate, throughput=rate, goodput=rate, good_fraction=1.0, error_rate=0.0,
        rate_limited_rate=rate_limited_rate, cost_per_1k_usd=None, cost_per_request_usd=None,
        tokens_per_request=200.0, ttft_p50_s=None, ttft_p95_s=None, latency_p95_s=None,
        run_dir="",
    )  # fmt: skip


def test_the_plan_that_binds_first_and_the_money() -> None:
    from auraon_bench.analysis.plan_fit import PlanLimit
    from auraon_bench.capacity.plans import CEILING, LATENCY, parse_traffic, plan_table

    plans = [
        PlanLimit("starter", 60, 100_000),
        PlanLimit("pro", 1000, 60_000),
        PlanLimit("enterprise", None, None),
    ]
    table = plan_table("auto", 12.0, 200.0, 0.001, plans, traffic_rps=parse_traffic("120/min"))
    starter, pro, enterprise = table.plans
    assert (starter.capacity_rps, starter.binds) == (1.0, "requests/min")
    # pro: 1000 rpm is 16.7/s, but 60,000 tokens/min at 200 tokens a request is 5/s
    assert (pro.plan_bound_rps, pro.binds) == (pytest.approx(5.0), "tokens/min")
    assert (enterprise.capacity_rps, enterprise.binds) == (12.0, LATENCY)
    assert starter.monthly_cost_at_capacity_usd == pytest.approx(1.0 * 2_592_000 * 0.001)
    assert table.monthly_cost_at_traffic_usd == pytest.approx(2.0 * 2_592_000 * 0.001)
    # 2/s with 30% headroom needs 2.6/s: starter (1/s) cannot, pro (5/s) can
    assert [p.meets_traffic for p in table.plans] == [False, True, True]
    assert table.cheapest_meeting == "pro"
    floor = plan_table("auto", 12.0, 200.0, 0.001, plans, at_ceiling=True)
    assert floor.plans[2].binds == CEILING and floor.plans[2].meets_traffic is None
    assert parse_traffic("2/s") == parse_traffic("7200/h") == 2.0
    key = plan_table("auto", 1.0, 200.0, 0.001, [PlanLimit("this key", 60, None), *plans],
                     traffic_rps=0.5, key_bound=True)  # fmt: skip
    assert key.plans[0].meets_traffic and key.cheapest_meeting == "starter"
    assert key.plans[3].binds == "this key's limit"
    for bad in ("fast", "3/week", "-1/s"):
        with pytest.raises(ValueError, match="is not a traffic"):
            parse_traffic(bad)


def slots_overlay(tmp_path: Path) -> Path:
    """gpt-4o-mini with 4 slots and a fixed service time: no jitter, no slow tail."""
    overlay = tmp_path / "slots.toml"
    overlay.write_text(
        '[meta]\nextends = "builtin"\n'
        "[defaults]\nttft_sigma = 0.0\nitl_jitter = 0.0\nslow_tail_prob = 0.0\n"
        '[models."gpt-4o-mini"]\nttft_s = 0.5\noutput_tok_s = 100\n'
        "capacity = { slots = 4, queue = 400 }\n"
    )
    return overlay


@pytest.mark.slow
@pytest.mark.quiet  # sends 80/s and more: with a busy neighbour the client could not keep up
def test_the_knee_of_a_model_with_k_slots_is_found_within_ten_percent(tmp_path: Path) -> None:
    """4 slots, a fixed service time S = TTFT 0.5 s + 50 gaps at 100 tok/s = 1.0 s simulated,
    0.05 s real at time scale 0.05: constant arrivals wait nowhere below K / S = 80/s and queue
    without bound above it (README, "Capacity")."""
    overlay = slots_overlay(tmp_path)
    slots, service_s, scale = 4, 1.0 * 0.05, 0.05
    knee = slots / service_s
    out = tmp_path / "cap"
    result = CliRunner().invoke(
        cli,
        ["capacity", "--model", "gpt-4o-mini", "--catalog", str(overlay), "--arrivals",
         "constant", "--slo", "ttft_p95<=50ms", "--time-scale", str(scale), "--min-rate", "20",
         "--max-rate", "400", "--min-step-seconds", "1", "--output-tokens", "51",
         "--tolerance", "0.05", "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (arm,) = read_capacity(out).results
    assert arm.capacity is not None and arm.first_failing is not None
    assert abs(arm.capacity - knee) <= 0.1 * knee, (arm.capacity, arm.first_failing)
    assert arm.binding == "ttft_p95_ms"
    assert all(s.verdict in (PASS, FAIL) for s in arm.steps)  # no step judged the client
    # an Enterprise key states no limits: the latency SLO binds, in every plan it can bind
    assert arm.key_limits is None and arm.plans is not None
    enterprise = next(p for p in arm.plans.plans if p.plan == "enterprise")
    assert enterprise.binds == LATENCY
    assert enterprise.capacity_rps == pytest.approx(arm.capacity * scale)  # gateway time


@pytest.mark.slow
@pytest.mark.quiet  # a 50 ms TTFT SLO on a 25 ms service time: a busy neighbour breaks it
def test_on_a_starter_key_the_plans_requests_per_min_binds(tmp_path: Path) -> None:
    """The same 4-slot model (knee 80/s of the run) on a Starter key: 60 requests/min of the
    gateway's time is 1/s, 20/s of a run at time scale 0.05. The search stops there on the
    key's requests/min, read from its x-ratelimit-limit-requests headers, although a step at
    40/s gets through on the bucket's burst without a 429."""
    overlay = slots_overlay(tmp_path)
    out = tmp_path / "cap"
    result = CliRunner().invoke(
        cli,
        ["capacity", "--model", "gpt-4o-mini", "--catalog", str(overlay), "--plan", "starter",
         "--arrivals", "constant", "--slo", "ttft_p95<=50ms", "--slo", "rate_limited<=0.5%",
         "--time-scale", "0.05", "--min-rate", "10", "--max-rate", "400", "--min-step-seconds",
         "1", "--output-tokens", "51", "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (arm,) = read_capacity(out).results
    assert arm.key_limits is not None and arm.key_limits.requests_per_min == 60
    assert arm.key_limits.responses >= 100
    assert arm.capacity == pytest.approx(20.0) and arm.binding == "requests/min"
    over = [s for s in arm.steps if s.rate > 20]
    assert over and all(s.verdict == FAIL and s.binding == "requests/min" for s in over)
    assert any(s.rate_limited_rate == 0 for s in over)  # the burst hid it: no 429 in that step
    key = arm.plans.plans[0]
    assert (key.plan, key.binds) == ("this key", "requests/min")
    assert key.capacity_rps == pytest.approx(1.0)  # 60/min in the gateway's time
    pro = next(p for p in arm.plans.plans if p.plan == "pro")
    assert pro.binds == "this key's limit"  # a lower bound: the search never went past it
    assert "above the key's requests/min" in result.output
    assert "the key's limits (x-ratelimit-limit-* headers" in result.output
    from auraon_bench.report.capacity import key_text

    assert "60 requests/min" in (key_text(arm) or "")


@pytest.mark.slow
@pytest.mark.quiet  # its fallbacks follow the rates the client reaches
def test_quality_under_load_shows_auto_falling_back(tmp_path: Path) -> None:
    """Every model serves 2 requests at a time and queues none: as the rate climbs, auto's
    first choices are full more often and its answers move to fallback models. Each step's
    answers are graded: accuracy and the routing mix per step, with n."""
    from tests.conftest import ROOT

    overlay = tmp_path / "tight.toml"
    overlay.write_text('[meta]\nextends = "builtin"\n[defaults.capacity]\nslots = 2\nqueue = 0\n')
    out = tmp_path / "cap"
    result = CliRunner().invoke(
        cli,
        ["capacity", "--model", "auto", "--catalog", str(overlay), "--dataset",
         str(ROOT / "datasets" / "math.jsonl"), "--slo", "error_rate<=50%", "--time-scale",
         "0.05", "--min-rate", "8", "--max-rate", "128", "--factor", "16",
         "--min-step-seconds", "0", "--output-tokens", "256", "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (arm,) = read_capacity(out).results
    low, high = arm.steps[0], arm.steps[-1]
    assert (low.rate, high.rate) == (8, 128)
    for step in (low, high):
        assert step.accuracy is not None and step.graded >= 90
        assert sum(step.routed_to.values()) >= step.graded
        assert step.quality_goodput is not None and step.throughput is not None
        assert 0 < step.quality_goodput <= step.throughput  # correct answers among the ok ones

    def share(step: object, models: set[str]) -> float:
        counts = step.routed_to  # type: ignore[attr-defined]
        return sum(v for k, v in counts.items() if k in models) / sum(counts.values())

    first_choices = {m for m, n in low.routed_to.items() if n >= 0.2 * sum(low.routed_to.values())}
    assert share(high, first_choices) < share(low, first_choices) - 0.05
    assert set(high.routed_to) - set(low.routed_to)  # fallback models the quiet step never used
