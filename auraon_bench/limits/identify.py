"""The limiter identification's hands: exhaust the budget, watch it come back, then a second
round (all-at-once kinds) or a confirmation (gradual kinds). The experiment and every decision
are in :mod:`auraon_bench.limits.kinds` (pure); this module only sends, waits and records, and
every request goes through the prober, so its caps bound the identification too.

Polls double as Retry-After checks, so a window kind costs no extra minutes for them: after a
429 whose advertised wait is near (within one poll gap), the next poll goes at half of it (an
*early* retry, which should be refused) and the one after at the advertised time (*on time*,
which should succeed); a farther wait is polled every ``POLL_GAP_S``. Each exhaustion (the 429
that ends a take) and the first acceptance after it give a
:class:`~auraon_bench.analysis.limits.Recovery`, and what it implies for a retry on time (was
the budget back by the advertised time?) and at half of it (was it back already, or still
refused after half?): the probe is alone on the key, so what came back stays until it is spent.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from auraon_bench.analysis.limits import Recovery, limit_dimension
from auraon_bench.limits import kinds
from auraon_bench.limits.checks import EARLY_LIMIT, on_time_wait
from auraon_bench.limits.kinds import Identified, Take, Watch
from auraon_bench.limits.prober import Prober, RequestKind
from auraon_bench.results.schema import RequestRecord

POLL_GAP_S = 2.0  # target seconds: the longest wait between polls (1/30 of a minute)
WATCH_LIMIT_S = 150.0  # target seconds to wait for anything to come back before giving up
SPEND_WINDOW_S = 60.0  # target seconds before exhaustion whose acceptances are the spend
MIN_TIMER_S = 0.005  # real seconds: an early retry shorter than this is left out (timer grain)
MIN_RECOVERY_S = 0.1  # real seconds: a shorter advertised wait is timed too coarsely to judge


@dataclass
class RetryLog:
    """What the polls say about Retry-After: retries on time, early, and recoveries."""

    on_time: list[bool] = field(default_factory=list)
    early: list[bool] = field(default_factory=list)
    recoveries: list[Recovery] = field(default_factory=list)


@dataclass
class Identification:
    dimension: str
    identified: Identified
    watch: Watch | None
    retry: RetryLog
    records: list[RequestRecord]  # every attempt of the identification
    drained: list[RequestRecord]  # the first drain's (a search may start from it)
    limited: bool  # the first drain met a 429 of this dimension

    @property
    def kind(self) -> str:
        return self.identified.kind


def _sent(record: RequestRecord) -> float:
    return record.t_sent or 0.0


class _Watcher:
    def __init__(self, prober: Prober, kind: RequestKind) -> None:
        self.prober = prober
        self.kind = kind
        self.dimension = kind.dimension
        self.scale = prober.scale
        self.gap_real = POLL_GAP_S * prober.scale
        self.workers = prober.drain_workers
        self.records: list[RequestRecord] = []
        self.log = RetryLog()
        self._exhausted: RequestRecord | None = None  # the open recovery's 429
        self._last_fail: float | None = None

    def t(self, record: RequestRecord) -> float:
        """Target seconds of a send time."""
        return _sent(record) / self.scale

    def now_real(self) -> float:
        return self.prober.client.seconds(time.perf_counter_ns())

    async def sleep_until(self, real: float) -> None:
        await self.prober.sleep((real - self.now_real()) / self.scale)

    async def send(self) -> RequestRecord:
        record = await self.prober.send(self.kind)
        self.records.append(record)
        return record

    def exhausted(self, record: RequestRecord) -> None:
        """A fresh 429 right after the budget was spent: time the recovery from it."""
        wait = record.retry_after_s
        self._exhausted = record if wait is not None and wait >= MIN_RECOVERY_S else None
        self._last_fail = None

    def _note(self, record: RequestRecord, ref_at: float, advertised: float | None, role: str):
        ok = record.status == "ok"
        elapsed = _sent(record) - ref_at
        if role == "early" and advertised and elapsed <= EARLY_LIMIT * advertised:
            self.log.early.append(ok)  # a late timer voids it rather than faking a result
        elif role == "on_time":
            self.log.on_time.append(ok)
        opened = self._exhausted
        if opened is None:
            return
        since = _sent(record) - _sent(opened)
        if ok:
            advertised = opened.retry_after_s
            assert advertised is not None
            self.log.recoveries.append(Recovery(advertised, self._last_fail, since))
            self.log.on_time.append(since <= on_time_wait(advertised))
            if since <= advertised / 2:
                self.log.early.append(True)
            elif self._last_fail is not None and self._last_fail >= advertised / 2:
                self.log.early.append(False)
            self._exhausted = None
        elif limit_dimension(record) == self.dimension:
            self._last_fail = since

    async def next_return(self, ref: RequestRecord, deadline: float) -> RequestRecord | None:
        """Poll from ``ref`` (a 429) until a request is accepted; None at ``deadline`` (real)."""
        ref_at, advertised = _sent(ref), ref.retry_after_s
        early_next = True
        while True:
            if advertised is not None and advertised <= self.gap_real:
                if early_next and advertised * 0.5 >= MIN_TIMER_S:
                    wait, role = advertised * 0.5, "early"
                else:
                    wait, role = on_time_wait(advertised), "on_time"
            else:
                wait, role = self.gap_real, "poll"
            if ref_at + wait > deadline:
                return None
            await self.sleep_until(ref_at + wait)
            record = await self.send()
            self._note(record, ref_at, advertised, role)
            if record.status == "ok":
                return record
            if limit_dimension(record) == self.dimension:
                ref_at, advertised = _sent(record), record.retry_after_s
                early_next = role != "early"
            else:  # another limit, or a failure: wait it out, then poll again
                await self.prober.wait_out_other_limit(record, self.kind)
                ref_at, advertised = self.now_real(), None

    async def take(self, first: RequestRecord, limit: int | None):
        """``first`` and what else is accepted back to back, up to ``limit`` requests in all or
        the next 429. Returns ``(take, the 429 or None)``. One more request goes alone first: a
        refilling limiter usually has nothing more, and concurrent senders would each spend a
        refused request finding that out; a window that has more is then taken as fast as the
        drain spent it (``workers`` senders), so the two paces compare."""
        accepted, ended = [first], None
        if limit is None or limit > 1:
            second = await self.send()
            if second.status == "ok":
                accepted.append(second)
            elif limit_dimension(second) == self.dimension:
                ended = second
            if second.status == "ok" and (limit is None or limit > 2):
                more = None if limit is None else limit - 2
                workers = max(1, min(self.workers, more or self.workers))
                records, _ = await self.prober.drain(self.kind, workers=workers, max_requests=more)
                self.records += records
                accepted += [r for r in records if r.status == "ok"]
                refused = [r for r in records if limit_dimension(r) == self.dimension]
                ended = max(refused, key=_sent) if refused else None
        times = [self.t(r) for r in accepted]
        return Take(min(times), max(times), len(accepted)), ended

    def deadline(self, target_s: float) -> float:
        return self.now_real() + target_s * self.scale


async def identify(
    prober: Prober,
    kind: RequestKind,
    recent: Sequence[RequestRecord] = (),
    *,
    drain_max: int,
) -> Identification:
    """Exhaust, watch, and classify the limit that ``kind`` hits. ``recent``: this kind's
    accepted requests just before (they are part of what the limit counts)."""
    dim = kind.dimension
    w = _Watcher(prober, kind)
    prober.phase(f"{dim}: exhaust")
    drained, limited = await prober.drain(kind, max_requests=drain_max)
    w.records += drained
    refused = [r for r in drained if limit_dimension(r) == dim]
    if not limited or not refused:
        evidence = f"no 429 within {len(drained)} requests sent back to back"
        return Identification(dim, Identified(kinds.NONE, evidence), None, w.log, w.records,
                              drained, False)  # fmt: skip
    exhausted = min(refused, key=_sent)
    latest = max(refused, key=_sent)
    horizon = w.t(exhausted) - SPEND_WINDOW_S
    spend = sorted(w.t(r) for r in [*recent, *drained] if r.status == "ok" and w.t(r) >= horizon)
    spent = len(spend)
    half = kinds.half_of(spent)
    unit = "requests"
    if dim == "tokens":
        used = [(r.prompt_tokens or 0) + (r.completion_tokens or 0) for r in drained
                if r.status == "ok"]  # fmt: skip
        size = sum(used) / len(used) if used else kind.tokens
        unit = f"requests of {size:,.0f} tokens"
    # Takes no larger than a quarter of the spend each: a small window is not overrun.
    w.workers = max(1, min(prober.drain_workers, spent // 4))
    watch = Watch(
        gap=POLL_GAP_S,
        unit=unit,
        spent=spent,
        spend_first=spend[0] if spend else w.t(exhausted),
        spend_half=spend[half - 1] if spend else w.t(exhausted),
        spend_last=spend[-1] if spend else w.t(exhausted),
        exhausted=w.t(exhausted),
    )
    w.exhausted(latest)
    prober.phase(f"{dim}: watch the budget come back")
    takes: list[Take] = []
    taken = 0
    ref: RequestRecord | None = latest
    while ref is not None and taken < half:
        first = await w.next_return(ref, w.deadline(WATCH_LIMIT_S))
        if first is None:
            break
        take, ended = await w.take(first, half - taken)
        takes.append(take)
        taken += take.count
        if ended is not None:
            w.exhausted(ended)
        ref = ended
        slow = take.last - takes[0].first > kinds.at_once_bound(watch)
        if slow and kinds.enough_for_slope(takes):
            break  # not at once, and enough returns for the slope: gradual
    watch = replace(watch, takes=tuple(takes))
    if taken >= half and kinds.at_once(watch, takes[-1].last):
        watch = await _second_round(w, watch, ref)
    elif takes:
        watch = await _confirm(w, watch, drain_max)
    watch = replace(watch, accepted=tuple(sorted(w.t(r) for r in w.records if r.status == "ok")),
                    n=len(w.records))  # fmt: skip
    return Identification(dim, kinds.classify(watch), watch, w.log, w.records, drained, True)


async def _second_round(w: _Watcher, watch: Watch, ref: RequestRecord | None) -> Watch:
    """All at once: pause, take the rest (and whatever else comes back as fast as it was
    spent), then time the next return and what it gives back."""
    prober, dim = w.prober, w.dimension
    takes = list(watch.takes)
    pause = kinds.pause_for(takes[0].first - watch.spend_first, watch.gap)
    prober.phase(f"{dim}: pause, then take the rest")
    await prober.sleep(pause)
    # A sliding log gives back the rest of the spend within the spend's own duration.
    spend_span = watch.spend_last - watch.spend_first
    until = w.deadline(spend_span + kinds.AT_ONCE_GAPS * watch.gap)
    first: RequestRecord | None = await w.send()
    full_at = None
    while first is not None:
        if first.status == "ok":
            take, ended = await w.take(first, None)
            takes.append(take)
        else:
            ended = first if limit_dimension(first) == dim else None
        if ended is None:
            break
        w.exhausted(ended)
        ref, full_at = ended, w.t(ended)
        first = await w.next_return(ended, until)
    taken = sum(t.count for t in takes)
    pause_after = len(watch.takes) - 1
    watch = replace(watch, takes=tuple(takes), pause_after=pause_after, pause_s=pause,
                    full_at=full_at)  # fmt: skip
    if ref is None:
        return watch
    prober.phase(f"{dim}: wait for the next return")
    second: list[Take] = []
    first = await w.next_return(ref, w.deadline(WATCH_LIMIT_S))
    if first is None:
        return watch
    take, ended = await w.take(first, None)
    second.append(take)
    if take.count < kinds.FULL_SHARE * taken and ended is not None:
        # Only part came back: if it replays round 1, the rest comes the pause later.
        w.exhausted(ended)
        span = takes[-1].last - takes[0].first
        again = await w.next_return(ended, w.deadline(span + kinds.AT_ONCE_GAPS * watch.gap))
        if again is not None:
            second.append((await w.take(again, None))[0])
    return replace(watch, second=tuple(second))


async def _confirm(w: _Watcher, watch: Watch, drain_max: int) -> Watch:
    """Gradual: a token bucket's look is confirmed by a second exhaustion, after a rest that
    empties a sliding window counter and half a window off the first spend's phase."""
    per_s = kinds.slope(watch.takes)
    recovery = watch.takes[0].first - watch.exhausted
    if per_s is None or not kinds.short(recovery, per_s, watch.gap):
        return watch
    prober, dim = w.prober, w.dimension
    prober.phase(f"{dim}: rest, then exhaust again")
    start = kinds.confirmation_start(watch.spend_first, watch.spend_last, watch.takes[-1].last)
    await prober.sleep(start - w.now_real() / w.scale)
    records, limited = await prober.drain(w.kind, max_requests=drain_max)
    w.records += records
    refused = [r for r in records if limit_dimension(r) == dim]
    if not limited or not refused:
        return watch
    exhausted = min(refused, key=_sent)
    ref: RequestRecord | None = max(refused, key=_sent)
    takes: list[Take] = []
    while ref is not None and not kinds.enough_for_slope(takes):
        w.exhausted(ref)
        first = await w.next_return(ref, w.deadline(WATCH_LIMIT_S))
        if first is None:
            break
        take, ref = await w.take(first, None)
        takes.append(take)
    return replace(watch, confirm_exhausted=w.t(exhausted), confirm_takes=tuple(takes))
