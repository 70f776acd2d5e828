"""The rate-limit probe's hands: send one request, send at a rate, drain a budget. Bounded.

Every attempt goes through the measuring client, becomes a record (``stage`` = the phase it
belongs to) and counts against hard caps on requests, tokens and wall time that no phase can
exceed, on an unlimited plan too. The probe stops at the first sign that it is not alone or that
the target is unwell: a storm of 5xx and connection failures, or a ``remaining`` counter that
drops faster than the probe spends it.

Rates and durations are in the target's time: for the embedded emulator run at a time scale,
simulated seconds (real seconds divided by the scale), so that a probe at scale 0.01 reports
per-minute figures comparable with the plans.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import anyio

from auraon_bench.analysis.limits import limit_dimension
from auraon_bench.client.http import MeasuringClient
from auraon_bench.client.wire import chat_body
from auraon_bench.errors import AuraonBenchError
from auraon_bench.results.schema import RequestRecord

STORM_WINDOW = 20
STORM_FAILURES = 10
FOREIGN_DROP = 3  # remaining fell by this much more than one sequential request spends


class ProbeStopped(AuraonBenchError):
    """A cap was reached or the probe saw it was not alone; the message says which."""


@dataclass(frozen=True)
class Caps:
    max_requests: int = 10_000
    max_tokens: int = 10_000_000  # prompt + max_tokens of every attempt sent
    max_duration_s: float = 600.0  # wall-clock seconds


@dataclass(frozen=True)
class RequestKind:
    """The request a dimension is probed with: tiny ones for requests/min, large for tokens/min."""

    name: str
    dimension: str  # the limit it should hit: "requests" or "tokens"
    body: bytes
    tokens: int  # what the gateway reserves for it: prompt + max_tokens (approximately)


def request_kind(name: str, dimension: str, model: str, prompt_tokens: int, max_tokens: int):
    # About four characters a token; words keep the emulator's and real tokenizers close.
    text = " ".join(["word"] * max(1, prompt_tokens - 8))
    messages = [{"role": "user", "content": f"Reply with one word. {text}"}]
    body = chat_body(model, messages, stream=False, max_tokens=max_tokens)
    return RequestKind(name, dimension, body, prompt_tokens + max_tokens)


class Prober:
    def __init__(
        self,
        client: MeasuringClient,
        run_id: str,
        model: str,
        write: Callable[[Sequence[RequestRecord]], None],
        *,
        caps: Caps = Caps(),
        time_scale: float = 1.0,
    ) -> None:
        self.client = client
        self.run_id = run_id
        self.model = model
        self.write = write
        self.caps = caps
        self.scale = time_scale if time_scale > 0 else 1.0
        self.started = time.monotonic()
        self.requests = 0  # attempts started (what the caps count)
        self.recorded = 0  # attempts that finished and were written (not cancelled in flight)
        self.tokens = 0
        self.phases: list[str] = []
        self.stop_reason: str | None = None
        self.drain_workers = 8  # senders a drain uses; see fit_drain_workers
        self._recent: deque[bool] = deque(maxlen=STORM_WINDOW)

    # -- time in the target's units ---------------------------------------------------------
    def now(self) -> float:
        """Target seconds since the probe started."""
        return (time.monotonic() - self.started) / self.scale

    async def sleep(self, seconds: float) -> None:
        """Sleep ``seconds`` of target time, but not past the duration cap: a wait for a window
        to turn can be most of a minute, and the cap is a promise about wall-clock time."""
        real = max(0.0, seconds) * self.scale
        left = self.caps.max_duration_s - (time.monotonic() - self.started)
        if real > left:
            await anyio.sleep(max(0.0, left))
            self._stop(f"duration cap reached ({self.caps.max_duration_s:g} s)")
        await anyio.sleep(real)

    def phase(self, name: str) -> None:
        self.phases.append(name)

    # -- one request ------------------------------------------------------------------------
    def _check_caps(self, kind: RequestKind) -> None:
        elapsed = time.monotonic() - self.started
        if self.requests + 1 > self.caps.max_requests:
            self._stop(f"request cap reached ({self.caps.max_requests} requests)")
        if self.tokens + kind.tokens > self.caps.max_tokens:
            self._stop(f"token cap reached ({self.caps.max_tokens:,} tokens)")
        if elapsed > self.caps.max_duration_s:
            self._stop(f"duration cap reached ({self.caps.max_duration_s:g} s)")

    def _stop(self, reason: str) -> None:
        self.stop_reason = reason
        raise ProbeStopped(reason)

    async def send(self, kind: RequestKind, scheduled: float | None = None) -> RequestRecord:
        self._check_caps(kind)
        self.requests += 1
        self.tokens += kind.tokens
        record = RequestRecord(
            run_id=self.run_id,
            arm=self.model,
            status="ok",
            attempt=1,
            request_id=self.requests,
            prompt_id=kind.name,
            stage=len(self.phases) - 1,
            worker=0,
            model_requested=self.model,
            t_scheduled=scheduled,
        )
        record = await self.client.chat(kind.body, record, stream=False)
        self.write([record])
        self.recorded += 1
        failed = record.status in ("timeout", "connection_error") or (
            record.status == "http_error" and (record.http_status or 0) >= 500
        )
        self._recent.append(failed)
        if len(self._recent) == STORM_WINDOW and sum(self._recent) >= STORM_FAILURES:
            self._stop(
                f"target unwell: {sum(self._recent)} of the last {STORM_WINDOW} attempts failed "
                "with 5xx, timeouts or connection errors; stopped so as not to add load"
            )
        return record

    # -- patterns ---------------------------------------------------------------------------
    async def paced(
        self, kind: RequestKind, rate: float, n: int, *, stop_on_limit: bool = True
    ) -> list[RequestRecord]:
        """``n`` requests at ``rate`` per target second (in flight concurrently, sent on an
        absolute schedule); with ``stop_on_limit``, none is sent after a 429 of the kind's
        dimension comes back. The first goes one interval from now, not at once: right after
        a drain the budget holds less than one request, and a steady sender at the refill rate
        is one interval behind its previous request."""
        records: list[RequestRecord] = []
        limited = anyio.Event()
        interval = self.scale / rate
        start = time.monotonic() + interval

        async def one(index: int) -> None:
            record = await self.send(kind, self.client.seconds(time.perf_counter_ns()))
            records.append(record)
            if limit_dimension(record) == kind.dimension:
                limited.set()

        async with anyio.create_task_group() as group:
            for index in range(n):
                delay = start + index * interval - time.monotonic()
                if delay > 0 and stop_on_limit:
                    with anyio.move_on_after(delay):
                        await limited.wait()  # wakes early on a 429: nothing more is sent
                elif delay > 0:
                    await anyio.sleep(delay)
                if stop_on_limit and limited.is_set():
                    break
                group.start_soon(one, index)
        records.sort(key=lambda r: r.t_sent or 0.0)
        return records

    async def wait_out_other_limit(self, record: RequestRecord, kind: RequestKind) -> None:
        """A 429 of the *other* limit (the requests budget while draining tokens, say) says
        nothing about this one: wait what it advertises instead of hammering on."""
        other = limit_dimension(record)
        if other is not None and other != kind.dimension:
            await anyio.sleep(record.retry_after_s if record.retry_after_s else 0.1 * self.scale)

    def fit_drain_workers(self, refill_per_s: float | None, latency_s: float | None) -> None:
        """Enough back-to-back senders to spend the budget faster than it refills: a sender
        spends one request per round trip, so it takes about refill x round trip of them;
        three times that, within [4, 64]."""
        if refill_per_s and latency_s:
            wanted = 3 * refill_per_s / self.scale * latency_s
            self.drain_workers = max(4, min(64, int(wanted) + 1))

    async def drain(
        self, kind: RequestKind, *, workers: int | None = None, max_requests: int | None = None
    ):
        """Send requests back to back from ``workers`` concurrent senders until a 429 of the
        kind's dimension: the budget is then (nearly) empty. Returns ``(records, limited)``;
        ``limited`` is False when ``max_requests`` came first (no limit seen)."""
        records: list[RequestRecord] = []
        budget = max_requests or self.caps.max_requests
        limited = anyio.Event()

        async def sender() -> None:
            while not limited.is_set() and len(records) < budget:
                record = await self.send(kind)
                records.append(record)
                if limit_dimension(record) == kind.dimension:
                    limited.set()
                else:
                    await self.wait_out_other_limit(record, kind)

        async with anyio.create_task_group() as group:
            for _ in range(workers or self.drain_workers):
                group.start_soon(sender)
        records.sort(key=lambda r: r.t_sent or 0.0)
        return records, limited.is_set()

    async def sequential(self, kind: RequestKind, n: int) -> list[RequestRecord]:
        """Up to ``n`` requests one after another, stopping at a 429 of the kind's dimension;
        stops the probe if ``remaining`` falls faster than these requests spend it (another
        client is using the key)."""
        records: list[RequestRecord] = []
        previous: int | None = None
        for _ in range(n):
            record = await self.send(kind)
            records.append(record)
            if limit_dimension(record) == kind.dimension:
                break
            await self.wait_out_other_limit(record, kind)
            remaining = _remaining(record, kind.dimension, kind.tokens)
            if (
                previous is not None
                and remaining is not None
                and previous - remaining >= FOREIGN_DROP
            ):
                self._stop(
                    f"not alone: x-ratelimit-remaining-{kind.dimension} fell from {previous} to "
                    f"{remaining} across one request of ours; another client is using this key"
                )
            previous = remaining
        return records


def _remaining(record: RequestRecord, dimension: str, tokens: int) -> int | None:
    if dimension == "requests":
        return record.ratelimit_remaining_requests
    value = record.ratelimit_remaining_tokens
    # In token units one request spends ``tokens``: compare in requests' worth.
    return None if value is None else value // max(1, tokens)
