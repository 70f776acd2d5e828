"""Which kind of limiter a key is behind, from how a drained budget came back. Pure: the probe's
observations in (times in target seconds), a kind, its figures and the evidence as text out.

The experiment (run by :mod:`auraon_bench.limits.identify`) and what each kind does in it:

1. **Exhaust**: requests back to back until a 429. What was accepted in the minute before is
   the *spend* (``spent`` requests, the first at ``spend_first``, the middle one at
   ``spend_half``).
2. **Round 1**: poll until a request is accepted again, then take what came back, back to back,
   until half the spend is taken (or it is clearly slower than the spend, with enough returns
   for a slope). How long that took (``half_s``) against how long the probe took to spend that
   half (``spend_half_s``) splits the kinds in two:

   * *all at once* (``half_s <= AT_ONCE_FACTOR * spend_half_s + AT_ONCE_GAPS * gap``): a
     **fixed window** gives its whole allowance back at its next boundary, a **sliding log**
     gives back each request exactly one window after it was accepted, so as fast as it was
     spent. The probe then pauses (``pause_s``), takes the rest, and waits for round 2.
   * *gradually*: a **token bucket** or a **sliding window counter** gives back one request per
     ``60 / limit`` seconds, far slower than a drain spends (the drain is sized to outpace the
     refill several times).
3. **Round 2**, all-at-once kinds: at the next return, a fixed window gives back everything
   round 1 took (``FULL_SHARE`` of it or more) at its next boundary; a sliding log only the
   first part, the rest ``pause_s`` later, exactly as round 1 took it. The window is the time
   between the first returns of the two rounds; its allowance is what a fresh window accepted
   (fixed) or what was accepted in the window before the log was full (sliding log).
4. **Gradual kinds**: a token bucket refills from the moment it is exhausted, so the first
   request comes back within about one refill interval (``short``); a sliding window counter
   gives nothing back until its next boundary, then refills at the same slope. One round
   cannot always tell them apart: exhaustion may fall just before a boundary, or the spend may
   straddle one (the counter then gives back the part spent before it, slowly, at once). So a
   token-bucket look is confirmed: the probe rests until a counter would have forgotten
   everything and the next exhaustion falls half a planned window (60 s: the limits are per
   minute) from the first spend's phase, where neither can happen; exhausts again; times the first
   return against the slope of the returns that follow it. A counter's sustainable rate is
   that slope after a fresh exhaustion (its whole allowance decaying over one window).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from auraon_bench.analysis.limits import LIMITER_KINDS

TOKEN_BUCKET = "token_bucket"
FIXED_WINDOW = "fixed_window"
SLIDING_LOG = "sliding_log"
SLIDING_WINDOW = "sliding_window"
NONE = "none"  # no 429 at all: nothing to identify
UNKNOWN = "unknown"  # a 429, but nothing came back (or too little to judge)
KINDS = LIMITER_KINDS  # what the probe can name (the emulator's kinds, same names)
WINDOW_KINDS = (FIXED_WINDOW, SLIDING_LOG)  # measured as allowance per window

AT_ONCE_FACTOR = 1.25  # a sliding log replays the spend at its own pace (our takes keep up)
AT_ONCE_GAPS = 3  # poll gaps of slack: each return waits for a poll
FULL_SHARE = 0.8  # a fixed window's round 2 gives back at least this share of round 1
SHORT_INTERVALS = 3  # a token bucket's first return: within this many refill intervals ...
SHORT_GAPS = 2  # ... plus this many poll gaps
PLANNED_WINDOW_S = 60.0  # the window the confirmation is planned on (per-minute limits)
QUIET_WINDOWS = 1.5  # quiet before the confirmation (see confirmation_start)
SLOPE_RETURNS = 4  # a slope rests on at least this many returns after the first ...
SLOPE_SPAN_S = 15.0  # ... over at least this long (a quarter of a planned window)
PAUSE_SHARE = 0.15  # round 1's pause, as a share of the time the first return took
PAUSE_GAPS = 3  # ... and at least this many poll gaps, so a sliding log's halves separate


@dataclass(frozen=True)
class Take:
    """Requests accepted back to back after one return, up to the 429 (or a chosen count)."""

    first: float  # target seconds: the first accepted request's send time
    last: float  # the last accepted request's send time
    count: int


@dataclass(frozen=True)
class Watch:
    """Everything the identification observed for one dimension (target seconds)."""

    gap: float  # the longest wait between polls
    unit: str  # what was counted: "requests", or e.g. "requests of 5,016 tokens"
    spent: int  # accepted in the minute before exhaustion
    spend_first: float
    spend_half: float
    spend_last: float
    exhausted: float  # the first 429 of the exhausting drain
    takes: tuple[Take, ...] = ()  # round 1
    pause_after: int | None = None  # round 1 paused after this take (all-at-once kinds)
    pause_s: float = 0.0
    full_at: float | None = None  # the 429 that ended round 1 (all-at-once kinds)
    second: tuple[Take, ...] = ()  # round 2 (all-at-once kinds)
    accepted: tuple[float, ...] = ()  # every accepted send time of the identification
    confirm_exhausted: float | None = None  # the confirmation (token-bucket look)
    confirm_takes: tuple[Take, ...] = ()
    n: int = 0  # attempts


@dataclass(frozen=True)
class Identified:
    kind: str
    evidence: str
    window_s: float | None = None  # window kinds: measured window length
    allowance: int | None = None  # window kinds: requests of the probe's kind per window
    slope_per_s: float | None = None  # gradual kinds: the measured refill (requests/s)
    recovery_s: float | None = None  # exhaustion to the first return


def pause_for(first_return_after_spend: float, gap: float) -> float:
    """Round 1's pause: long enough that a sliding log's two halves come back separately."""
    return max(PAUSE_GAPS * gap, PAUSE_SHARE * first_return_after_spend)


def half_of(spent: int) -> int:
    return max(1, math.ceil(spent / 2))


def half_reached(takes: Sequence[Take], half: int) -> float | None:
    """When the cumulative count of ``takes`` reached ``half`` (the last send of that take)."""
    total = 0
    for take in takes:
        total += take.count
        if total >= half:
            return take.last
    return None


def at_once_bound(watch: Watch) -> float:
    """The longest taking half the spend back may take for the return to count as at once."""
    spend = max(0.0, watch.spend_half - watch.spend_first)
    return AT_ONCE_FACTOR * spend + AT_ONCE_GAPS * watch.gap


def at_once(watch: Watch, half_at: float) -> bool:
    """Did half the spend come back about as fast as it was spent (window kinds)?"""
    return half_at - watch.takes[0].first <= at_once_bound(watch)


def enough_for_slope(takes: Sequence[Take]) -> bool:
    return len(takes) > SLOPE_RETURNS and takes[-1].last - takes[0].last >= SLOPE_SPAN_S


def slope(takes: Sequence[Take]) -> float | None:
    """Requests given back per second after the first return: each take collects everything
    that came back since the previous one ended, so the count after the first take over the time
    from its end is the refill rate."""
    if len(takes) < 2:
        return None
    span = takes[-1].last - takes[0].last
    returned = sum(t.count for t in takes[1:])
    return returned / span if span > 0 else None


def short(delay: float, per_s: float, gap: float) -> bool:
    """A first return as early as a token bucket's (within a few refill intervals)."""
    return delay <= SHORT_INTERVALS / per_s + SHORT_GAPS * gap


def confirmation_start(spend_first: float, spend_last: float, quiet_from: float) -> float:
    """When to exhaust again: half a window from the first spend's phase, so that the new spend
    is far from the boundary the first one was near (or straddled): a counter that showed a
    token bucket's look had one within the spend or just after it. A counter has then forgotten
    everything once the window before the one holding the new spend is quiet too, which its
    start's half-window offset guarantees ``QUIET_WINDOWS`` windows (and the spend's own span)
    after ``quiet_from``, the last request."""
    phase = spend_first + PLANNED_WINDOW_S / 2
    earliest = quiet_from + QUIET_WINDOWS * PLANNED_WINDOW_S + (spend_last - spend_first)
    k = max(0, math.ceil((earliest - phase) / PLANNED_WINDOW_S))
    return phase + k * PLANNED_WINDOW_S


def allowance_in_log(accepted: Sequence[float], at: float, window: float) -> int:
    """Accepted in the window before ``at`` (a sliding log's content when it refused at ``at``)."""
    return sum(1 for t in accepted if at - window < t <= at)


def classify(watch: Watch) -> Identified:
    if not watch.takes:
        return Identified(
            UNKNOWN,
            f"after exhausting {watch.spent} {watch.unit} at t={watch.exhausted:.1f} s, nothing "
            "was accepted again before the probe gave up waiting",
        )
    recovery = watch.takes[0].first - watch.exhausted
    head = (
        f"after exhausting {watch.spent} {watch.unit} (spent in "
        f"{_s(watch.spend_last - watch.spend_first)}) at t={watch.exhausted:.1f} s, the first "
        f"was accepted again {_s(recovery)} later"
    )
    if watch.second:
        return _window_kind(watch, head, recovery)
    return _gradual_kind(watch, head, recovery)


def _window_kind(watch: Watch, head: str, recovery: float) -> Identified:
    taken = sum(t.count for t in watch.takes)
    first_half = sum(t.count for t in watch.takes[: (watch.pause_after or 0) + 1])
    window = watch.second[0].first - watch.takes[0].first
    again = watch.second[0].count
    if again >= FULL_SHARE * taken:
        evidence = (
            f"{head}, with {taken} back at once; after taking {first_half}, pausing "
            f"{_s(watch.pause_s)} and taking the rest, all {again} came back at once again "
            f"{_s(window)} after the first return: a fixed window of {_s(window)}, "
            f"{again} per window"
        )
        return Identified(FIXED_WINDOW, evidence, window, again, recovery_s=recovery)
    full_at = watch.full_at if watch.full_at is not None else watch.takes[-1].last
    allowance = allowance_in_log(watch.accepted, full_at, window)
    replay = ""
    if len(watch.second) > 1:
        later = watch.second[1].first - watch.second[0].first
        replay = f", {watch.second[1].count} more {_s(later)} later"
    evidence = (
        f"{head}, about as fast as they were spent; after taking {first_half}, pausing "
        f"{_s(watch.pause_s)} and taking the rest, only {again} came back {_s(window)} after "
        f"the first return{replay}: each request returns exactly one window after it was "
        f"accepted, a sliding log of {_s(window)}, {allowance} per window"
    )
    return Identified(SLIDING_LOG, evidence, window, allowance, recovery_s=recovery)


def _gradual_kind(watch: Watch, head: str, recovery: float) -> Identified:
    per_s = slope(watch.takes)
    if per_s is None:
        return Identified(UNKNOWN, f"{head}, and too little came back to judge how",
                          recovery_s=recovery)  # fmt: skip
    pace = f"then {per_s * 60:,.1f}/min came back gradually (one every {_s(1 / per_s)})"
    if not short(recovery, per_s, watch.gap):
        evidence = (
            f"{head}, {pace}: nothing came back for {_s(recovery)}, far more than a token "
            f"bucket's {_s(1 / per_s)}, then it refilled steadily: a sliding window counter "
            "(its previous window's count decays only after a boundary)"
        )
        return Identified(SLIDING_WINDOW, evidence, slope_per_s=per_s, recovery_s=recovery)
    again = slope(watch.confirm_takes)
    if watch.confirm_exhausted is None or again is None:
        evidence = (
            f"{head}, {pace}: a token bucket, refilled from the moment it was exhausted "
            "(not confirmed: the probe stopped before a second exhaustion)"
        )
        return Identified(TOKEN_BUCKET, evidence, slope_per_s=per_s, recovery_s=recovery)
    second = watch.confirm_takes[0].first - watch.confirm_exhausted
    rest = watch.confirm_exhausted - watch.spend_first
    then = (
        f"exhausted again {_s(rest)} after the first spend began (half a window off its "
        f"phase, after a quiet window and a half), the first came back {_s(second)} later, "
        f"then {again * 60:,.1f}/min"
    )
    if not short(second, again, watch.gap):
        evidence = (
            f"{head}, {pace}; {then}: a sliding window counter (nothing comes back until its "
            "next boundary; the first exhaustion was near one)"
        )
        return Identified(SLIDING_WINDOW, evidence, slope_per_s=again, recovery_s=recovery)
    evidence = (
        f"{head}, {pace}; {then}: a token bucket, refilled from the moment it is exhausted (a "
        "sliding window counter would have returned nothing until its next boundary)"
    )
    return Identified(TOKEN_BUCKET, evidence, slope_per_s=per_s, recovery_s=recovery)


def _s(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds >= 1 else f"{seconds * 1000:.0f} ms"
