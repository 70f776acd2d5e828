"""Tests for seeded request schedules (auraon_bench.load.arrivals)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from auraon_bench.load.arrivals import (
    Profile,
    Schedule,
    ScheduledRequest,
    ScheduleSpec,
    Stage,
    build_schedule,
    build_stages,
    expand_stages,
)

ARMS = ("model-a", "model-b", "model-c")


def build(n_prompts: int = 7, arms: tuple[str, ...] = ARMS, **spec) -> Schedule:
    return build_schedule(ScheduleSpec(**spec), arms, n_prompts)


def gaps_of(schedule: Schedule) -> np.ndarray:
    return np.diff(schedule.offsets_s)


# --- open-loop profiles -----------------------------------------------------------


def test_constant_offsets_are_exactly_i_over_rate():
    schedule = build(profile="constant", rate=7.0, requests=1000)
    assert schedule.offsets_s.dtype == np.float64
    assert np.array_equal(schedule.offsets_s, np.arange(1000) / 7.0)
    assert schedule.offsets_s.flags.writeable is False
    assert not schedule.is_closed_loop and schedule.concurrency is None


@pytest.mark.parametrize("profile", ["poisson", "gamma"])
def test_random_profiles_are_reproducible_and_seed_dependent(profile):
    spec = {"profile": profile, "rate": 20.0, "requests": 500, "burstiness": 3.0}
    if profile == "poisson":
        del spec["burstiness"]
    first, again = build(**spec, seed=1), build(**spec, seed=1)
    other = build(**spec, seed=2)
    assert np.array_equal(first.offsets_s, again.offsets_s)
    assert np.array_equal(first.arm_index, again.arm_index)
    assert np.array_equal(first.prompt_index, again.prompt_index)
    assert not np.array_equal(first.offsets_s, other.offsets_s)
    assert first.offsets_s[0] == 0.0 and np.all(gaps_of(first) >= 0)


def test_poisson_mean_rate_and_unit_cv2():
    rate = 50.0
    gaps = gaps_of(build(profile="poisson", rate=rate, requests=20_001, seed=3))
    assert 1 / gaps.mean() == pytest.approx(rate, rel=0.03)
    assert gaps.var() / gaps.mean() ** 2 == pytest.approx(1.0, rel=0.08)


@pytest.mark.parametrize("burstiness", [0.25, 1.0, 4.0])
def test_gamma_mean_rate_and_cv2_equal_burstiness(burstiness):
    rate = 50.0
    schedule = build(profile="gamma", rate=rate, burstiness=burstiness, requests=20_001, seed=5)
    gaps = gaps_of(schedule)
    assert 1 / gaps.mean() == pytest.approx(rate, rel=0.03)
    assert gaps.var() / gaps.mean() ** 2 == pytest.approx(burstiness, rel=0.1)


def test_gamma_with_burstiness_one_is_poisson_and_zero_is_constant():
    poisson = build(profile="poisson", rate=9.0, requests=300, seed=4)
    assert np.array_equal(
        build(profile="gamma", rate=9.0, requests=300, seed=4).offsets_s, poisson.offsets_s
    )
    constant = build(profile="gamma", rate=9.0, requests=300, burstiness=0.0)
    assert np.array_equal(constant.offsets_s, np.arange(300) / 9.0)


def test_ramp_local_rates_and_count():
    r0, r1, d = 10.0, 50.0, 10.0
    offsets = build(profile="ramp", rate=r0, ramp_to=r1, duration=d).offsets_s
    assert len(offsets) == round((r0 + r1) / 2 * d) == 300
    assert offsets[0] == 0.0 and offsets[-1] < d and np.all(np.diff(offsets) > 0)
    assert 1 / (offsets[1] - offsets[0]) == pytest.approx(r0, rel=0.05)
    assert 1 / (offsets[-1] - offsets[-2]) == pytest.approx(r1, rel=0.05)
    # The count up to t follows Λ(t) = R0 t + (R1 - R0) t² / (2D).
    for t in (2.5, 5.0, 7.5):
        expected = r0 * t + (r1 - r0) * t * t / (2 * d)
        assert abs(np.searchsorted(offsets, t) - expected) <= 1


def test_ramp_down_and_from_zero():
    down = build(profile="ramp", rate=40.0, ramp_to=0.0, duration=5.0).offsets_s
    assert len(down) == 100 and np.all(np.isfinite(down)) and down[-1] < 5.0
    up = build(profile="ramp", rate=0.0, ramp_to=20.0, duration=4.0).offsets_s
    assert len(up) == 40 and up[0] == 0.0 and np.all(np.diff(up) > 0)


def test_flat_ramp_equals_constant():
    flat = build(profile="ramp", rate=8.0, ramp_to=8.0, duration=3.0).offsets_s
    assert np.allclose(flat, np.arange(24) / 8.0, rtol=0, atol=1e-12)


def test_replay_sorts_and_scales():
    trace = [3.0, 0.5, 2.0, 0.0, 2.0]
    assert build(profile="replay", trace=trace).offsets_s.tolist() == [0.0, 0.5, 2.0, 2.0, 3.0]
    fast = build(profile="replay", trace=trace, time_scale=0.5).offsets_s
    assert fast.tolist() == [0.0, 0.25, 1.0, 1.0, 1.5]
    assert build(profile="replay", trace=trace, duration=2.0).offsets_s.tolist() == [0.0, 0.5]
    assert build(profile="replay", trace=np.array(trace), requests=2).n_requests == 2


# --- bounds and warm-up -----------------------------------------------------------


def test_duration_bound_cuts_exactly_at_half_open_end():
    assert len(build(profile="constant", rate=10.0, duration=2.5).offsets_s) == 25
    assert len(build(profile="constant", rate=3.0, duration=1.0).offsets_s) == 3
    bounded = build(profile="poisson", rate=100.0, duration=30.0, seed=8).offsets_s
    longer = build(profile="poisson", rate=100.0, requests=len(bounded) + 10, seed=8).offsets_s
    assert np.array_equal(bounded, longer[: len(bounded)])  # same realisation, cut
    assert bounded[-1] < 30.0 <= longer[len(bounded)]
    assert len(bounded) > 65_536 // 30  # more than one generation block was needed


def test_count_bound_and_both_bounds_take_whichever_comes_first():
    assert build(profile="poisson", rate=5.0, requests=123).n_requests == 123
    assert build(profile="constant", rate=10.0, requests=5, duration=100.0).n_requests == 5
    assert build(profile="constant", rate=10.0, requests=500, duration=2.0).n_requests == 20
    ramp = build(profile="ramp", rate=10.0, ramp_to=50.0, duration=10.0, requests=50)
    assert ramp.n_requests == 50


def test_warmup_by_requests_and_by_seconds():
    by_count = build(profile="constant", rate=10.0, requests=50, warmup_requests=5)
    assert by_count.warmup.dtype == bool and by_count.warmup.tolist() == [True] * 5 + [False] * 45
    by_time = build(profile="constant", rate=10.0, requests=50, warmup_seconds=1.05)
    assert by_time.warmup.sum() == 11
    both = build(profile="constant", rate=10.0, requests=50, warmup_requests=3, warmup_seconds=0.5)
    assert both.warmup.sum() == 5  # union: whichever covers more


def test_closed_loop_warmup_seconds_is_decided_at_send_time():
    schedule = build(
        profile="concurrent", concurrency=4, requests=20, warmup_requests=2, warmup_seconds=3.0
    )
    assert schedule.warmup.sum() == 2
    assert schedule.in_warmup(1, 10.0) and schedule.in_warmup(15, 2.9)
    assert not schedule.in_warmup(15, 3.0)


# --- closed loop and sweep --------------------------------------------------------


def test_synchronous_and_concurrent_are_closed_loop_without_send_times():
    sync = build(profile="synchronous", requests=10)
    assert sync.is_closed_loop and sync.concurrency == 1 and sync.offsets_s is None
    assert sync.n_requests == 10 and len(sync.arm_index) == 10
    conc = build(profile="concurrent", concurrency=16, requests=40, max_concurrency=8)
    assert conc.concurrency == 16 and conc.spec.max_concurrency == 8


def test_duration_only_closed_loop_extends_lazily():
    open_ended = build(profile="concurrent", concurrency=2, duration=60.0, seed=9)
    assert open_ended.n_requests is None and open_ended.arm_index is None
    n = 150_000  # spans several generation blocks
    lazy = list(itertools.islice(open_ended.iter_requests(), n))
    bounded = build(profile="concurrent", concurrency=2, requests=n, seed=9)
    assert [r.index for r in lazy[:3]] == [0, 1, 2] and lazy[-1].index == n - 1
    assert np.array_equal([r.arm_index for r in lazy], bounded.arm_index)
    assert np.array_equal([r.prompt_index for r in lazy], bounded.prompt_index)
    assert all(r.offset_s is None for r in lazy[:10])
    arms, prompts = open_ended.assignments(99_990, 100_010)
    assert np.array_equal(arms, bounded.arm_index[99_990:100_010])
    assert np.array_equal(prompts, bounded.prompt_index[99_990:100_010])


def test_iter_requests_matches_arrays():
    schedule = build(profile="poisson", rate=10.0, requests=70_000, warmup_requests=3, seed=2)
    requests = list(schedule.iter_requests())
    assert len(requests) == 70_000 and isinstance(requests[0], ScheduledRequest)
    assert requests[5] == ScheduledRequest(
        5,
        0,
        schedule.offsets_s[5],
        int(schedule.arm_index[5]),
        ARMS[schedule.arm_index[5]],
        int(schedule.prompt_index[5]),
        False,
    )
    assert [r.warmup for r in requests[:4]] == [True, True, True, False]
    assert np.array_equal([r.offset_s for r in requests], schedule.offsets_s)


def test_sweep_expands_to_one_stage_per_rate_or_concurrency():
    spec = ScheduleSpec(
        profile="sweep",
        stages=[Stage(rate=5.0), Stage(rate=10.0), Stage(concurrency=4)],
        requests=30,
        warmup_requests=2,
        seed=1,
    )
    specs = expand_stages(spec)
    assert [s.profile for s in specs] == [Profile.POISSON, Profile.POISSON, Profile.CONCURRENT]
    assert [(s.rate, s.concurrency) for s in specs] == [(5.0, None), (10.0, None), (None, 4)]
    assert all(s.requests == 30 and s.warmup_requests == 2 for s in specs)
    schedules = list(build_stages(spec, ARMS, 4))
    assert [s.stage for s in schedules] == [0, 1, 2]
    assert {r.stage for r in schedules[1].iter_requests()} == {1}
    assert schedules[2].is_closed_loop and schedules[2].concurrency == 4
    # Each stage draws its own random streams.
    assert not np.array_equal(schedules[0].arm_index, schedules[1].arm_index)
    constant = expand_stages(
        ScheduleSpec(profile="sweep", stages=[Stage(rate=1.0)], requests=3, burstiness=0)
    )
    assert constant[0].profile is Profile.CONSTANT
    assert (
        expand_stages(ScheduleSpec(profile="constant", rate=1.0, requests=2))[0].profile
        == "constant"
    )


# --- interleaving ------------------------------------------------------------------


def test_every_block_contains_each_arm_once_in_shuffled_order():
    schedule = build(profile="constant", rate=100.0, requests=3001, seed=11)
    arm_index = schedule.arm_index
    blocks = arm_index[:3000].reshape(-1, 3)
    assert np.all(np.sort(blocks, axis=1) == [0, 1, 2])
    assert len({tuple(b) for b in blocks.tolist()}) == 6  # every order occurs
    counts = np.bincount(arm_index, minlength=3)
    assert counts.max() - counts.min() <= 1


def test_interleaving_across_chunk_boundaries_and_many_arms():
    arms = tuple(f"m{i}" for i in range(7))
    schedule = build(profile="poisson", rate=1.0, requests=7 * 20_000, arms=arms, n_prompts=1)
    blocks = schedule.arm_index.reshape(-1, 7)
    assert np.all(np.sort(blocks, axis=1) == np.arange(7))
    assert np.all(schedule.prompt_index == 0)


def test_prompts_cycle_in_a_seeded_permutation_per_pass():
    schedule = build(profile="constant", rate=10.0, requests=50, n_prompts=10, seed=3)
    passes = schedule.prompt_index.reshape(5, 10)
    assert np.all(np.sort(passes, axis=1) == np.arange(10))
    assert len({tuple(p) for p in passes.tolist()}) > 1


def test_send_times_do_not_depend_on_arms_or_prompts():
    one = build(profile="gamma", rate=4.0, burstiness=2.0, requests=100, arms=("x",), n_prompts=1)
    many = build(profile="gamma", rate=4.0, burstiness=2.0, requests=100, n_prompts=50)
    assert np.array_equal(one.offsets_s, many.offsets_s)
    assert np.all(one.arm_index == 0)


def test_million_request_schedule_is_held_in_arrays():
    schedule = build(profile="constant", rate=1000.0, requests=1_000_000, n_prompts=1000)
    assert schedule.n_requests == 1_000_000
    assert schedule.offsets_s.dtype == np.float64 and len(schedule.offsets_s) == 1_000_000
    assert schedule.arm_index.dtype == np.int32 and len(schedule.arm_index) == 1_000_000
    assert schedule.prompt_index.dtype == np.int32 and len(schedule.prompt_index) == 1_000_000
    assert schedule.warmup.dtype == np.bool_ and len(schedule.warmup) == 1_000_000
    assert schedule.offsets_s[-1] == 999_999 / 1000.0


# --- validation ----------------------------------------------------------------------

INVALID_SPECS = [
    ({"profile": "bursty", "rate": 1.0, "requests": 1}, "profile"),
    ({"profile": "constant", "rate": -1, "requests": 1}, "rate"),
    ({"profile": "constant", "rate": math.inf, "requests": 1}, "rate"),
    ({"profile": "poisson", "requests": 1}, "rate"),
    ({"profile": "poisson", "rate": True, "requests": 1}, "rate"),
    ({"profile": "poisson", "rate": 1.0}, "requests"),
    ({"profile": "poisson", "rate": 1.0, "requests": 0}, "requests"),
    ({"profile": "poisson", "rate": 1.0, "requests": 2.5}, "requests"),
    ({"profile": "poisson", "rate": 1.0, "duration": 0}, "duration"),
    ({"profile": "poisson", "rate": 1.0, "duration": math.nan}, "duration"),
    ({"profile": "gamma", "rate": 1.0, "requests": 5, "burstiness": -0.5}, "burstiness"),
    ({"profile": "concurrent", "requests": 5}, "concurrency"),
    ({"profile": "concurrent", "concurrency": 0, "requests": 5}, "concurrency"),
    ({"profile": "concurrent", "concurrency": 2, "rate": 3.0, "requests": 5}, "rate"),
    ({"profile": "synchronous", "concurrency": 2, "requests": 5}, "concurrency"),
    ({"profile": "synchronous"}, "requests"),
    ({"profile": "ramp", "rate": 1.0, "ramp_to": 5.0, "requests": 10}, "duration"),
    ({"profile": "ramp", "rate": 1.0, "duration": 10.0}, "ramp_to"),
    ({"profile": "ramp", "rate": 0.0, "ramp_to": 0.0, "duration": 10.0}, "ramp_to"),
    ({"profile": "ramp", "rate": -2.0, "ramp_to": 1.0, "duration": 10.0}, "rate"),
    ({"profile": "constant", "rate": 1.0, "ramp_to": 2.0, "requests": 5}, "ramp_to"),
    ({"profile": "replay"}, "trace"),
    ({"profile": "replay", "trace": [0.0, -1.0]}, "trace[1]"),
    ({"profile": "replay", "trace": [0.0, math.nan]}, "trace[1]"),
    ({"profile": "replay", "trace": ["a"]}, "trace"),
    ({"profile": "replay", "trace": [1.0], "time_scale": 0}, "time_scale"),
    ({"profile": "constant", "rate": 1.0, "requests": 5, "trace": [1.0]}, "trace"),
    ({"profile": "sweep", "requests": 5}, "stages"),
    ({"profile": "sweep", "stages": [5.0], "requests": 5}, "stages[0]"),
    ({"profile": "sweep", "stages": [Stage(rate=1.0)]}, "requests"),
    ({"profile": "sweep", "stages": [Stage(rate=1.0)], "rate": 2.0, "requests": 5}, "rate"),
    ({"profile": "constant", "rate": 1.0, "requests": 5, "stages": [Stage(rate=1.0)]}, "stages"),
    ({"profile": "constant", "rate": 1.0, "requests": 5, "warmup_requests": 5}, "warmup_requests"),
    ({"profile": "constant", "rate": 1.0, "requests": 5, "warmup_requests": -1}, "warmup_requests"),
    ({"profile": "constant", "rate": 1.0, "duration": 5, "warmup_seconds": 5}, "warmup_seconds"),
    ({"profile": "constant", "rate": 1.0, "duration": 5, "warmup_seconds": -1}, "warmup_seconds"),
    ({"profile": "constant", "rate": 1.0, "requests": 5, "max_concurrency": 0}, "max_concurrency"),
    ({"profile": "constant", "rate": 1.0, "requests": 5, "seed": -1}, "seed"),
    ({"profile": "constant", "rate": 1.0, "requests": 5, "seed": 1.5}, "seed"),
]


@pytest.mark.parametrize(("kwargs", "field"), INVALID_SPECS, ids=[f for _, f in INVALID_SPECS])
def test_invalid_spec_raises_value_error_naming_the_field(kwargs, field):
    with pytest.raises(ValueError) as excinfo:
        ScheduleSpec(**kwargs)
    message = str(excinfo.value)
    assert message.startswith(f"{field}: ") and "\n" not in message


@pytest.mark.parametrize(
    ("stage", "field"),
    [
        ({}, "stages"),
        ({"rate": 1.0, "concurrency": 2}, "stages"),
        ({"rate": 0}, "rate"),
        ({"concurrency": 0}, "concurrency"),
    ],
)
def test_invalid_stage_raises_value_error_naming_the_field(stage, field):
    with pytest.raises(ValueError, match=rf"^{field}: "):
        Stage(**stage)


@pytest.mark.parametrize(
    ("arms", "n_prompts", "field"),
    [
        ((), 1, "arms"),
        ("ab", 1, "arms"),
        (("a", "a"), 1, "arms"),
        (("a", 1), 1, "arms"),
        (ARMS, 0, "n_prompts"),
    ],
)
def test_invalid_build_arguments(arms, n_prompts, field):
    spec = ScheduleSpec(profile="constant", rate=1.0, requests=3)
    with pytest.raises(ValueError, match=rf"^{field}: "):
        build_schedule(spec, arms, n_prompts)


def test_sweep_must_be_built_per_stage():
    spec = ScheduleSpec(profile="sweep", stages=[Stage(concurrency=1)], requests=3)
    with pytest.raises(ValueError, match=r"^profile: "):
        build_schedule(spec, ARMS, 1)


def test_spec_is_frozen_and_hashable():
    spec = ScheduleSpec(profile="replay", trace=[2.0, 1.0])
    assert spec.profile is Profile.REPLAY and spec.trace == (2.0, 1.0)
    assert hash(spec) == hash(ScheduleSpec(profile=Profile.REPLAY, trace=(2.0, 1.0)))
    with pytest.raises(AttributeError):
        spec.seed = 3  # type: ignore[misc]


def test_paired_schedule_gives_every_arm_every_prompt_exactly_repeat_times() -> None:
    from collections import Counter

    from auraon_bench.load.arrivals import paired_schedule

    schedule = paired_schedule(("auto", "gpt-4o", "llama"), 50, repeat=2, concurrency=8, seed=3)
    pairs = Counter((r.arm, r.prompt_index) for r in schedule.iter_requests())
    assert len(pairs) == 150 and set(pairs.values()) == {2}
    assert schedule.is_closed_loop and schedule.concurrency == 8
    again = [
        (r.arm, r.prompt_index)
        for r in paired_schedule(("auto", "gpt-4o", "llama"), 50, repeat=2, seed=3).iter_requests()
    ]
    other = [
        (r.arm, r.prompt_index)
        for r in paired_schedule(("auto", "gpt-4o", "llama"), 50, repeat=2, seed=4).iter_requests()
    ]
    assert again == [(r.arm, r.prompt_index) for r in schedule.iter_requests()] != other
