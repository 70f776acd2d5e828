"""Verdicts of the rate-limit probe: measured figures against documented ones. Pure.

Method
    * A 429's dimension (requests or tokens) is read from its message ("... for requests",
      "... for tokens", LiteLLM's "Limit type: tokens" or its deployment usage
      ``'current_rpm': 4, 'rpm_limit': 5``: the fuller of the two), else from which
      ``x-ratelimit-remaining-*`` header is zero.
    * Limiter kind: identified from how a drained budget comes back (see
      :mod:`auraon_bench.limits.kinds`); the finding states the kind and the evidence.
    * Advertised: the sustainable rate against the key's own ``x-ratelimit-limit-*`` header
      (per minute), pass within ``tolerance``: a gateway that admits fewer than it advertises
      (LiteLLM's usage-based router admits ``rpm - 1`` a minute) fails, saying lower.
    * Sustainable rate, measured as the identified kind allows (:mod:`auraon_bench.limits.
      measure`): a window's allowance over its measured length, a sliding window counter's
      refill slope, or the highest rate at which a trial of sends, started with the budget
      drained, saw no 429 (see :mod:`auraon_bench.limits.search`). It **passes** when within
      ``tolerance`` (default 10%) of the documented per-minute figure, **fails** otherwise (the
      detail says lower or higher), and is **unknown** with no documented figure. A documented
      "unlimited" passes when no 429 was seen up to the probe's cap, and fails when one was.
    * Retry-After honesty: retries sent at the advertised time should succeed, retries sent at
      half of it should fail. "Too short" when fewer than ``HONEST_SHARE`` of the on-time
      retries succeeded (the gateway asks for less than it needs: the harmful lie, judged
      strictly); "too long" when at least half of the early retries succeeded; else honest. An
      early retry reaches the gateway's limiter later than it was sent by the gateway's own
      scheduling delay (at an emulator time scale of 0.1, 10 ms of it is 0.1 s of simulated
      time), so a single early success among a handful is noise, not a lie. The recovery
      error is ``(actual - advertised) / advertised``, the actual recovery time being the
      midpoint between the last failed and the first successful probe on a grid of fractions of
      the advertised time.
    * Header checks: ``x-ratelimit-reset-*`` is honest when a burst sent after waiting it gets at
      least ``FULL_SHARE`` of the limit accepted; ``x-ratelimit-remaining-*`` when the requests
      accepted after a response, minus what refilled meanwhile, differ from the ``remaining``
      it announced by at most ``max(2, 10%)`` of the limit.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from auraon_bench.analysis._json import jsonable
from auraon_bench.catalog.schema import LIMITER_KINDS  # the emulator's kinds: one vocabulary

HONEST_SHARE = 0.8
EARLY_SUCCESS_SHARE = 0.5  # this share of early retries succeeding means "too long"
FULL_SHARE = 0.9
TOLERANCE = 0.10


_LIMIT_TYPE = re.compile(r"limit type: (requests|tokens)")
_LITELLM_USAGE = re.compile(r"'current_(rpm|tpm)': ([0-9.]+), '(?:rpm|tpm)_limit': ([0-9.]+|inf)")


def _litellm_dimension(message: str) -> str | None:
    """The fuller of LiteLLM's deployment counters (``'current_rpm': 4, 'rpm_limit': 5``)."""
    usage = []
    for which, current, limit in _LITELLM_USAGE.findall(message):
        if limit != "inf" and float(limit) > 0:
            usage.append((float(current) / float(limit), which))
    if not usage:
        return None
    return "requests" if max(usage)[1] == "rpm" else "tokens"


def limit_dimension(record: Any) -> str | None:
    """ "requests" or "tokens" for a 429 saying which limit it hit; None for anything else."""
    if getattr(record, "status", None) != "rate_limited":
        return None
    message = (getattr(record, "error_message", None) or "").lower()
    if "for tokens" in message or "tokens per min" in message or "tpm" in message.split():
        return "tokens"
    if "for requests" in message or "requests per min" in message or "rpm" in message.split():
        return "requests"
    typed = _LIMIT_TYPE.search(message)
    if typed:
        return typed.group(1)
    litellm = _litellm_dimension(message)
    if litellm is not None:
        return litellm
    if getattr(record, "ratelimit_remaining_tokens", None) == 0:
        return "tokens"
    return "requests"


@dataclass(frozen=True)
class Finding:
    """One checked figure: what was measured, what the plan documents, and the verdict."""

    check: str  # e.g. "sustainable requests/min"
    measured: float | None
    documented: float | None  # None: unlimited or not documented (see detail)
    unit: str
    verdict: str  # pass, fail, unknown
    detail: str
    n: int  # attempts the finding rests on

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Trial:
    """One trial of the rate search: the rate sent and whether it met a 429."""

    per_min: float  # requests/min, or tokens/min for the tokens dimension
    limited: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


LIMITER_LABELS = {
    "token_bucket": "token bucket",
    "fixed_window": "fixed window",
    "sliding_log": "sliding log",
    "sliding_window": "sliding window counter",
    "none": "no limit seen",
    "unknown": "unknown",
}


@dataclass(frozen=True)
class LimiterFinding:
    """How one limit behaves: the kind the probe identified, why, and what it measured."""

    dimension: str  # requests or tokens
    kind: str  # token_bucket, fixed_window, sliding_log, sliding_window, none, unknown
    evidence: str  # what was observed, as a sentence
    window_s: float | None = None  # window kinds: the measured window (target seconds)
    allowance: float | None = None  # window kinds: per window, in the dimension's unit
    sustainable_per_min: float | None = None  # in the dimension's unit
    advertised_per_min: float | None = None  # the key's x-ratelimit-limit-* header
    recovery_s: float | None = None  # exhaustion to the first acceptance (target seconds)
    n: int = 0  # attempts of the identification

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# limits.json layout: 1 had no version key; 2 added it (same fields); 3 added ``limiters`` and
# ``status`` (a 2 file reads with their defaults: no limiter identified, status complete, which
# every 2 file was in today's sense: a probe stopped by its own cap has completed).
LIMITS_SCHEMA_VERSION = 3


@dataclass(frozen=True)
class LimitsSummary:
    """What a rate-limit probe found: ``limits.json``, read back as this object."""

    simulated: bool
    model: str | None
    plan: str | None
    plan_source: str | None
    stop_reason: str | None
    requests_sent: int
    tokens_reserved: int
    findings: tuple[Finding, ...]
    time_scale: float | None = None
    phases: tuple[str, ...] = ()
    trials: dict[str, tuple[Trial, ...]] = field(default_factory=dict)  # by dimension
    burst_accepted: dict[str, int] = field(default_factory=dict)  # by dimension
    burst_recovery_s: float | None = None
    warnings: tuple[str, ...] = ()
    limiters: dict[str, LimiterFinding] = field(default_factory=dict)  # by dimension
    status: str = "complete"  # or "interrupted" (by the user); a cap stop is complete

    def to_dict(self) -> dict[str, Any]:
        return {"schema_version": LIMITS_SCHEMA_VERSION, **jsonable(asdict(self))}


def rate_finding(
    check: str,
    measured_per_min: float | None,
    limited: bool,
    documented: float | None,
    plan_known: bool,
    ceiling_per_min: float,
    n: int,
    unit: str,
    tolerance: float = TOLERANCE,
) -> Finding:
    if not plan_known:
        detail = "no documented figure to compare with (pass --plan-hint)"
        return Finding(check, measured_per_min, None, unit, "unknown", detail, n)
    if documented is None:  # documented unlimited
        if limited:
            detail = f"documented unlimited, but 429s began near {measured_per_min:,.0f} {unit}"
            return Finding(check, measured_per_min, None, unit, "fail", detail, n)
        detail = f"no 429 up to the probe's cap of {ceiling_per_min:,.0f} {unit}: consistent"
        return Finding(check, None, None, unit, "pass", detail, n)
    if not limited or measured_per_min is None:
        detail = (
            f"no 429 up to the probe's cap of {ceiling_per_min:,.0f} {unit}; documented "
            f"{documented:,.0f}: raise the caps to find the limit"
        )
        return Finding(check, measured_per_min, documented, unit, "unknown", detail, n)
    error = measured_per_min / documented - 1
    if abs(error) <= tolerance:
        verdict, how = "pass", "within"
    else:
        verdict = "fail"
        how = "LOWER than documented, beyond" if error < 0 else "higher than documented, beyond"
    detail = f"{error:+.1%} versus documented: {how} the {tolerance:.0%} tolerance"
    return Finding(check, measured_per_min, documented, unit, verdict, detail, n)


@dataclass(frozen=True)
class Recovery:
    """One 429 followed by probes at fractions of its advertised wait."""

    advertised_s: float
    last_fail_s: float | None  # latest probe time (since the 429) that was still limited
    first_ok_s: float | None  # earliest probe time that succeeded

    @property
    def actual_s(self) -> float | None:
        if self.first_ok_s is None:
            return None
        low = self.last_fail_s if self.last_fail_s is not None else 0.0
        return (low + self.first_ok_s) / 2

    @property
    def error(self) -> float | None:
        actual = self.actual_s
        if actual is None or self.advertised_s <= 0:
            return None
        return actual / self.advertised_s - 1


def retry_after_finding(
    on_time: Sequence[bool], early: Sequence[bool], recoveries: Sequence[Recovery]
) -> tuple[Finding, Finding]:
    """(honesty of Retry-After, error of the advertised recovery time)."""
    n = len(on_time) + len(early)
    if not on_time or not early:
        unknown = Finding("Retry-After honest", None, None, "share", "unknown",
                          "no usable retry: no 429 seen, or timers too coarse for the wait "
                          "(at a small emulator time scale)", n)  # fmt: skip
        return unknown, _recovery_finding(recoveries)
    ok_share = sum(on_time) / len(on_time)
    early_fail_share = sum(not ok for ok in early) / len(early)
    if ok_share < HONEST_SHARE:
        verdict, what = "fail", "TOO SHORT: retries at the advertised time were refused"
    elif early_fail_share <= EARLY_SUCCESS_SHARE:
        verdict, what = "fail", "too long: retries at half the advertised time succeeded"
    else:
        verdict, what = "pass", "honest"
    detail = (
        f"{what}; at the advertised time {sum(on_time)}/{len(on_time)} retries succeeded, at "
        f"half of it {len(early) - sum(early)}/{len(early)} were refused"
    )
    honesty = Finding("Retry-After honest", ok_share, 1.0, "share", verdict, detail, n)
    return honesty, _recovery_finding(recoveries)


def _recovery_finding(recoveries: Sequence[Recovery]) -> Finding:
    if not recoveries:
        return Finding("recovery time error", None, None, "share", "unknown", "", 0)
    errors = [r.error for r in recoveries if r.error is not None]
    if not errors:
        return Finding("recovery time error", None, 0.0, "share", "unknown",
                       "no probe recovered", len(recoveries))  # fmt: skip
    median = statistics.median(errors)
    verdict = "pass" if abs(median) <= 0.25 else "fail"
    detail = (
        f"actual recovery {median:+.0%} versus advertised (median of {len(errors)}; positive: "
        "recovery took longer than advertised)"
    )
    return Finding("recovery time error", median, 0.0, "share", verdict, detail,
                   len(recoveries))  # fmt: skip


def reset_finding(
    dimension: str, limit: int | None, accepted: int, waited_s: float | None
) -> Finding:
    check = f"x-ratelimit-reset-{dimension} honest"
    if limit is None or waited_s is None:
        return Finding(check, None, None, "share", "unknown", "no reset header seen", accepted)
    share = accepted / limit if limit else 0.0
    verdict = "pass" if share >= FULL_SHARE else "fail"
    detail = (
        f"after waiting the advertised reset ({waited_s:.2f} s) a burst got {accepted} of "
        f"{limit} accepted, refill during the burst deducted ({share:.0%}; full means >= "
        f"{FULL_SHARE:.0%})"
    )
    return Finding(check, share, 1.0, "share", verdict, detail, accepted)


def remaining_finding(
    dimension: str, limit: int | None, errors: Sequence[float], in_flight: int = 1
) -> Finding:
    check = f"x-ratelimit-remaining-{dimension} honest"
    if limit is None or not errors:
        return Finding(check, None, None, "requests", "unknown", "no remaining header seen", 0)
    median = statistics.median(errors)
    # Requests in flight when a response was written are charged but not yet counted by it.
    allowed = max(2.0, float(in_flight), 0.1 * limit)
    verdict = "pass" if abs(median) <= allowed else "fail"
    detail = (
        f"accepted after a response minus its announced remaining (refill deducted): median "
        f"{median:+.1f} over {len(errors)} responses (allowed +-{allowed:.0f})"
    )
    return Finding(check, median, 0.0, "requests", verdict, detail, len(errors))


def advertised_finding(
    dimension: str,
    measured_per_min: float | None,
    limited: bool,
    advertised: float | None,
    n: int,
    tolerance: float = TOLERANCE,
) -> Finding:
    """The sustainable rate against the key's own ``x-ratelimit-limit-*`` header."""
    unit = f"{dimension}/min"
    check = f"advertised {unit} honest"
    if advertised is None:
        detail = f"no x-ratelimit-limit-{dimension} header to compare with"
        return Finding(check, measured_per_min, None, unit, "unknown", detail, n)
    if not limited or measured_per_min is None:
        detail = f"advertised {advertised:,.0f} {unit}, but no limit was reached to compare with"
        return Finding(check, measured_per_min, advertised, unit, "unknown", detail, n)
    error = measured_per_min / advertised - 1
    if abs(error) <= tolerance:
        verdict, how = "pass", "within"
    else:
        verdict = "fail"
        how = "LOWER than advertised, beyond" if error < 0 else "higher than advertised, beyond"
    detail = (
        f"measured {measured_per_min:,.1f} against the advertised {advertised:,.0f} "
        f"(x-ratelimit-limit-{dimension}): {error:+.1%}, {how} the {tolerance:.0%} tolerance"
    )
    return Finding(check, measured_per_min, advertised, unit, verdict, detail, n)


def kind_finding(limiter: LimiterFinding) -> Finding:
    """The identified kind as a finding (the report's table shows its evidence)."""
    identified = limiter.kind in LIMITER_KINDS
    label = LIMITER_LABELS.get(limiter.kind, limiter.kind)
    verdict = "pass" if identified else "unknown"
    measured = limiter.window_s if limiter.window_s is not None and math.isfinite(
        limiter.window_s) else None  # fmt: skip
    return Finding(f"limiter kind ({limiter.dimension})", measured, None, "s window", verdict,
                   f"{label}: {limiter.evidence}", limiter.n)  # fmt: skip
