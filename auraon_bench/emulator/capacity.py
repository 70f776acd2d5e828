"""Simulated upstream capacity: a fixed number of slots per model and a bounded FIFO queue.

Without it every simulated model serves any number of requests at once, so latency never rises
with load and a capacity search on the emulator finds no knee. With a catalog ``capacity``
(:class:`auraon_bench.catalog.ModelCapacity`) a model behaves like one inference server:

* **What holds a slot.** A request takes a slot (or a place in the queue) the moment the gateway
  picks the model for it, synchronously inside ``Gateway.simulate``, so the decision and the
  reservation cannot be raced by another request. It holds the slot in real time for its whole
  delivery, until its last byte is written, the client goes away or the delivery fails: the
  simulated pre-delay (failed attempts on earlier models, slow headers), TTFT and every
  inter-token gap. For an answer of N tokens that is ``ttft + (N - 1) / output_tok_s``
  simulated seconds (times the time scale) when nothing else delays it.
* **Queueing.** Up to ``queue`` requests wait in arrival order; the slot a finishing request
  frees passes straight to the oldest waiter, so no newcomer can overtake it. The whole
  delivery schedule of a waiter starts when it gets its slot: the wait adds to its TTFT (and to
  ``x-emulator-first-token-ms``, which stays "when the first token is due, from the request").
  ``x-emulator-queue-ms`` reports the wait itself. The gateway's ``x-auraon-timeout`` judges the
  drawn TTFT only: it is decided before the wait, whose length is not known yet.
* **Refusal.** A request that finds every slot busy and the queue full is refused at once,
  before any simulated work: a 503 ``model_overloaded``, or with ``when_full = "429"`` a 429
  whose ``retry-after`` is the model's typical service time (median TTFT plus
  ``typical_output_tokens`` at its speed): about when a slot frees. The gateway counts the refusal
  as an upstream failure of that status, so ``auto`` and ``x-auraon-fallbacks`` move on to the
  next model, and ``auto`` cools the model down as after any upstream 503/429.

Analytic knee: with fixed-length requests of service time S arriving at a constant rate, no
request waits up to K / S requests per second (K slots), and above it the queue grows without
bound until it is full (TTFT then about ``queue / K * S`` higher, and the excess refused).

Cheap by construction: a model without capacity has no pool at all, so nothing is locked or
counted for it; a pool is two integers and a deque of at most ``queue`` waiters; a waiter is
a future awaited by the request's own handler, never a task of its own. With ``time_scale`` 0
there is no simulated service time to hold, so the gateway builds no pools (a "capacity" would
then measure the emulator's own CPU, not a simulated upstream).

A client that disconnects while queued keeps its place until its turn (aiohttp does not cancel
a handler whose client left, and watching every queued connection would cost a task each); it
then gives the slot up at once, without serving.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque

from auraon_bench.catalog import Catalog, Defaults, ModelCapacity, ModelProfile
from auraon_bench.emulator.protocol import ApiError

_WAITING, _HELD, _LEFT = 0, 1, 2


class ModelPool:
    """One model's slots and queue. Invariant: the queue is empty whenever a slot is free."""

    __slots__ = ("busy", "model", "queue", "retry_after_s", "slots", "waiting", "when_full")

    def __init__(self, model: str, capacity: ModelCapacity, retry_after_s: float) -> None:
        self.model = model
        self.slots = capacity.slots
        self.queue = capacity.queue
        self.when_full = capacity.when_full
        self.retry_after_s = retry_after_s  # real seconds
        self.busy = 0
        self.waiting: deque[Seat] = deque()

    def full(self) -> bool:
        """Whether a new request would be refused: every slot busy and the queue full."""
        return self.busy >= self.slots and len(self.waiting) >= self.queue

    def enter(self) -> Seat:
        """A slot now, or the last place in the queue. Synchronous, so a caller that checked
        :meth:`full` in the same step cannot overfill the queue."""
        seat = Seat(self)
        if self.busy < self.slots:
            self.busy += 1
            seat.state = _HELD
        else:
            self.waiting.append(seat)
        return seat

    def release(self) -> None:
        """A held slot ends: it passes to the oldest waiter, or becomes free."""
        if self.waiting:
            self.waiting.popleft().grant()
        else:
            self.busy -= 1

    def refusal(self, others: tuple[str, ...] = ()) -> ApiError:
        """The error of a request refused because the queue is full (``others``: models of the
        same chain refused for the same reason after this one)."""
        waiting = len(self.waiting)
        message = f"{self.model} is at capacity: {self.busy} in service, {waiting} waiting"
        if others:
            message += f"; so were its fallbacks: {', '.join(others)}"
        headers = {"x-should-retry": "true"}
        if self.when_full == "429":
            headers["retry-after"] = str(max(1, math.ceil(self.retry_after_s)))
            headers["retry-after-ms"] = str(math.ceil(self.retry_after_s * 1000))
        return ApiError(
            int(self.when_full),
            message,
            type="server_error",
            code="model_overloaded",
            headers=headers,
            charged=True,
        )


class Seat:
    """One request's claim on a pool: a held slot, or a place in the queue until granted.

    Always end it with :meth:`leave` (in a ``finally``): it frees the slot, or the place in the
    queue of a request that gave up waiting, exactly once.
    """

    __slots__ = ("future", "pool", "state")

    def __init__(self, pool: ModelPool) -> None:
        self.pool = pool
        self.state = _WAITING
        self.future: asyncio.Future[None] | None = None  # made only if the holder must wait

    @property
    def held(self) -> bool:
        return self.state == _HELD

    async def taken(self) -> None:
        """Return once the slot is this request's (at once if it already is)."""
        if self.state == _WAITING:
            self.future = asyncio.get_running_loop().create_future()
            await self.future

    def grant(self) -> None:
        self.state = _HELD
        if self.future is not None and not self.future.done():
            self.future.set_result(None)

    def leave(self) -> None:
        if self.state == _HELD:
            self.pool.release()
        elif self.state == _WAITING:
            self.pool.waiting.remove(self)  # O(queue), only for a request cancelled while queued
        self.state = _LEFT


def typical_service_s(model: ModelProfile, defaults: Defaults) -> float:
    """A model's typical service in simulated seconds: median TTFT, then a typical answer."""
    return model.ttft_s + defaults.typical_output_tokens / model.output_tok_s


def build_pools(catalog: Catalog, time_scale: float) -> dict[str, ModelPool]:
    """Pools of the models with a capacity; none at all when time is scaled to zero (module)."""
    if time_scale == 0:
        return {}
    return {
        mid: ModelPool(mid, m.capacity, typical_service_s(m, catalog.defaults) * time_scale)
        for mid, m in catalog.models.items()
        if m.capacity is not None
    }
