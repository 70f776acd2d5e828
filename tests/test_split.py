"""Sharing one seeded schedule among workers: pure functions, no processes, no event loop."""

from __future__ import annotations

import pytest

from auraon_bench.load.arrivals import ScheduleSpec, Stage, build_schedule, build_stages
from auraon_bench.load.split import STAGE_ID_BLOCK, Shard, check_workers, with_id_offsets

ARMS = ("a", "b")


@pytest.mark.parametrize("workers", [1, 2, 3, 7])
def test_shards_partition_the_schedule_exactly(workers: int) -> None:
    schedule = build_schedule(ScheduleSpec(profile="poisson", rate=50, duration=4, seed=3), ARMS, 9)
    everything = list(schedule.iter_requests())
    shares = [list(Shard(i, workers).requests(schedule.iter_requests())) for i in range(workers)]
    merged = sorted((r for share in shares for r in share), key=lambda r: r.index)
    assert merged == everything  # each request once, with its own time, arm and prompt
    for i, share in enumerate(shares):
        assert all(r.index % workers == i for r in share)
        offsets = [r.offset_s for r in share]
        assert offsets == sorted(offsets)  # each worker still sends in time order
    sizes = [len(share) for share in shares]
    assert max(sizes) - min(sizes) <= 1


@pytest.mark.parametrize(("total", "workers"), [(4, 2), (5, 2), (7, 3), (64, 5), (3, 3)])
def test_concurrency_is_split_as_evenly_as_integers_allow(total: int, workers: int) -> None:
    parts = [Shard(i, workers).concurrency(total) for i in range(workers)]
    assert sum(parts) == total and max(parts) - min(parts) <= 1 and min(parts) >= 1


def test_request_ids_run_on_across_stages_of_known_length() -> None:
    spec = ScheduleSpec(profile="sweep", stages=(Stage(rate=10), Stage(rate=20)), duration=2)
    stages = list(build_stages(spec, ARMS, 4))
    offsets = [first for _, first in with_id_offsets(stages)]
    assert offsets == [0, stages[0].n_requests]


def test_stages_of_unknown_length_get_blocks_of_their_own() -> None:
    spec = ScheduleSpec(
        profile="sweep", stages=(Stage(concurrency=2), Stage(concurrency=4)), duration=1
    )
    stages = list(build_stages(spec, ARMS, 4))
    assert stages[0].n_requests is None
    assert [first for _, first in with_id_offsets(stages)] == [0, STAGE_ID_BLOCK]


def test_bad_shards_and_unshareable_concurrency_are_refused() -> None:
    with pytest.raises(ValueError, match="need 0 <= index < count"):
        Shard(2, 2)
    with pytest.raises(ValueError, match="concurrency 3 cannot be shared among 4 workers"):
        check_workers(4, ScheduleSpec(profile="concurrent", concurrency=3, requests=10))
    with pytest.raises(ValueError, match="concurrency 1"):
        check_workers(2, ScheduleSpec(profile="synchronous", requests=10))
    check_workers(2, ScheduleSpec(profile="poisson", rate=5, duration=1))  # open loops split
