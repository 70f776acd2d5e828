"""How one seeded schedule is shared among worker processes: pure functions, no I/O.

Every worker builds the same schedule from the same seed, then keeps its own share, so nothing
but the worker's number and the worker count crosses a process boundary:

* requests are dealt round-robin by their index in the stage (request ``i`` goes to worker
  ``i mod N``): each worker sends every N-th arrival at its scheduled time, so the union of the
  workers' sends is exactly the single-process schedule, with no request twice or missing;
* a closed loop's concurrency is split as evenly as integers allow (``C // N``, the first
  ``C mod N`` workers one more), so ``concurrency`` in-flight requests are kept across workers.

A closed loop runs one task per request it keeps in flight, so the tasks a process starts are
bounded (:func:`closed_loop_workers`): never more than the requests it has to send when their
number is known (``--concurrency 1000000 --requests 2000`` starts 2,000), and never more than
:data:`PROCESS_MAX_IN_FLIGHT`, the requests one process's client can have in flight at all. The
ceiling changes nothing that is measured (a worker beyond it would only wait for a free
connection, and that wait is not in any timing); it keeps memory bounded, and
:func:`concurrency_warning` says in one line when a run asks for more.

Request ids are the scheduled request's place in the whole run (stage offsets added), so they are
the same whichever worker sends the request, and a merged run has each id exactly once.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from auraon_bench.load.arrivals import (
    Profile,
    Schedule,
    ScheduledRequest,
    ScheduleSpec,
    expand_stages,
)

# Stages of unknown length (closed loops bounded by duration) get ids in their own block.
STAGE_ID_BLOCK = 1 << 32

PROCESS_MAX_IN_FLIGHT = 4096
"""Requests one load process can keep in flight: its client's connection limit (HTTP/1.1 carries
one request per connection). Also the most closed-loop workers a process starts."""


@dataclass(frozen=True, slots=True)
class Shard:
    """Worker ``index`` of ``count`` (0-based)."""

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ValueError(f"worker {self.index} of {self.count}: need 0 <= index < count")

    @property
    def alone(self) -> bool:
        return self.count == 1

    def requests(self, requests: Iterator[ScheduledRequest]) -> Iterator[ScheduledRequest]:
        """This worker's requests, in schedule order."""
        if self.count == 1:
            return requests
        return itertools.islice(requests, self.index, None, self.count)

    def concurrency(self, total: int) -> int:
        """This worker's part of a closed loop's ``total`` in-flight requests."""
        return total // self.count + (1 if self.index < total % self.count else 0)

    def share(self, n_requests: int) -> int:
        """How many of a stage's ``n_requests`` this worker sends (see :meth:`requests`)."""
        return len(range(self.index, n_requests, self.count))


def closed_loop_workers(shard: Shard, concurrency: int, n_requests: int | None) -> int:
    """The workers this process starts for a closed-loop stage: its part of ``concurrency``,
    no more than the requests it will send (``n_requests`` of the stage, None for a stage
    bounded by duration only), and no more than :data:`PROCESS_MAX_IN_FLIGHT`."""
    workers = shard.concurrency(concurrency)
    if n_requests is not None:
        workers = min(workers, shard.share(n_requests))
    return min(workers, PROCESS_MAX_IN_FLIGHT)


def concurrency_warning(spec: ScheduleSpec, count: int) -> str | None:
    """One line if a closed-loop stage asks a process for more requests in flight than
    :data:`PROCESS_MAX_IN_FLIGHT` (with ``count`` processes sharing it), else None."""
    for stage in expand_stages(spec):
        if not stage.is_closed_loop:
            continue
        concurrency = 1 if stage.profile is Profile.SYNCHRONOUS else stage.concurrency or 1
        busiest = Shard(0, count)  # worker 0 gets the largest share of both
        wanted = busiest.concurrency(concurrency)
        if stage.requests is not None:
            wanted = min(wanted, busiest.share(stage.requests))
        if wanted > PROCESS_MAX_IN_FLIGHT:
            return (
                f"concurrency {concurrency:,} capped at {PROCESS_MAX_IN_FLIGHT:,} requests in "
                f"flight per load process (its connection limit); --workers N spreads it over "
                "N processes"
            )
    return None


def with_id_offsets(schedules: Iterable[Schedule]) -> Iterator[tuple[Schedule, int]]:
    """Each stage with the request id of its first request: running totals while stage lengths
    are known, then blocks of ``STAGE_ID_BLOCK``. Lazy, and the same in every worker."""
    base, known = 0, True
    for stage, schedule in enumerate(schedules):
        if not known:
            base = stage * STAGE_ID_BLOCK
        yield schedule, base
        if schedule.n_requests is None:
            known = False
        else:
            base += schedule.n_requests


def check_workers(count: int, spec: ScheduleSpec) -> None:
    """``ValueError`` unless every closed-loop stage gives each worker a request in flight."""
    for stage in expand_stages(spec):
        concurrency = 1 if stage.profile is Profile.SYNCHRONOUS else stage.concurrency
        if concurrency is not None and concurrency < count:
            raise ValueError(
                f"concurrency {concurrency} cannot be shared among {count} workers "
                "(each needs at least one request in flight)"
            )
