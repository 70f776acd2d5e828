"""Seeded, precomputed request schedules for load tests.

For request ``i`` of a run (or of one sweep stage) a schedule gives its send time as an
offset in seconds from the stage start, its arm (model id), its prompt and whether it
is warm-up. It is a pure function of the :class:`ScheduleSpec`, seed included.

Open-loop profiles (``R`` = ``rate``):

* ``constant``: ``t_i = i / R``.
* ``poisson``: ``t_0 = 0`` and gaps ``t_i - t_{i-1} ~ Exp(mean 1/R)``.
* ``gamma``: gaps ``~ Gamma(shape 1/b, scale b/R)``, mean ``1/R``, where ``b`` =
  ``burstiness`` is the squared coefficient of variation (CV²) of the gaps: ``b = 1``
  is Poisson (identical draws), ``b > 1`` burstier, ``b = 0`` the deterministic limit.
* ``ramp``: rate ``R0 + (R1 - R0) t / D`` on ``[0, D)`` for ``rate``, ``ramp_to``,
  ``duration``; deterministic ``t_i`` solving ``R0 t + (R1 - R0) t² / (2D) = i``, i.e.
  ``t_i = 2i / (R0 + sqrt(R0² + 2 (R1 - R0) i / D))``.
* ``replay``: trace offsets, sorted, times ``time_scale`` (0.5 replays twice as fast).

Closed-loop profiles have no send times: ``synchronous`` keeps one request in flight,
``concurrent`` keeps ``concurrency``. ``sweep`` is a sequence of :class:`Stage` (a rate
or a concurrency), one sub-benchmark each, run one after another (:func:`expand_stages`).

Bounds: the first ``requests`` and/or the offsets in ``[0, duration)``, whichever ends
first; warm-up requests count toward them. Warm-up: ``i < warmup_requests`` or send
time ``< warmup_seconds``.

Arms are interleaved in blocks of ``len(arms)`` requests that hold each arm once, in a
seeded order per block; prompts likewise in passes of ``n_prompts``. Gaps, arms and
prompts use independent PCG64 streams, ``SeedSequence(seed, spawn_key=(stage, stream,
chunk))``: send times do not change with the arms, and the assignments of any index
range are computable on their own, which serves a closed loop bounded only by duration
(an unknown number of requests) lazily, see :meth:`Schedule.iter_requests`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import NamedTuple, NoReturn

import numpy as np


class Profile(StrEnum):
    SYNCHRONOUS = "synchronous"
    CONCURRENT = "concurrent"
    CONSTANT = "constant"
    POISSON = "poisson"
    GAMMA = "gamma"
    RAMP = "ramp"
    SWEEP = "sweep"
    REPLAY = "replay"


CLOSED_LOOP = frozenset({Profile.SYNCHRONOUS, Profile.CONCURRENT})
_RATE_PROFILES = frozenset({Profile.CONSTANT, Profile.POISSON, Profile.GAMMA})
_FIXED_BURSTINESS = {Profile.CONSTANT: 0.0, Profile.POISSON: 1.0}

# Fixed generation block: a seed's realisation must not depend on the bound, so that a
# duration-bounded schedule is a prefix of a longer count-bounded one.
_BLOCK = 1 << 16
_GAPS, _ARMS, _PROMPTS = 0, 1, 2


def _fail(name: str, problem: str, value: object) -> NoReturn:
    raise ValueError(f"{name}: {problem}, got {value!r}")


def _check_int(name: str, value: object, minimum: int) -> None:
    is_int = isinstance(value, int | np.integer) and not isinstance(value, bool)
    if not is_int or value < minimum:  # type: ignore[operator]
        _fail(name, f"must be an integer >= {minimum}", value)


def _check_real(name: str, value: object, *, allow_zero: bool = False) -> None:
    is_real = isinstance(value, int | float | np.integer | np.floating)
    ok = is_real and not isinstance(value, bool) and math.isfinite(value)  # type: ignore[arg-type]
    if not ok or value < 0 or (value == 0 and not allow_zero):  # type: ignore[operator]
        _fail(name, "must be >= 0" if allow_zero else "must be > 0", value)


@dataclass(frozen=True, slots=True)
class Stage:
    """One sweep stage: exactly one of an open-loop rate or a closed-loop concurrency."""

    rate: float | None = None
    concurrency: int | None = None

    def __post_init__(self) -> None:
        if (self.rate is None) == (self.concurrency is None):
            _fail("stages", "each stage needs exactly one of rate or concurrency", self)
        if self.rate is not None:
            _check_real("rate", self.rate)
        else:
            _check_int("concurrency", self.concurrency, 1)


@dataclass(frozen=True)
class ScheduleSpec:
    """What to send and when; validated on construction (``ValueError`` naming the field).

    ``max_concurrency`` is only carried for the runner (a cap on requests in flight).
    ``trace`` is stored as a tuple of floats; ``stages`` as a tuple of :class:`Stage`.
    """

    profile: Profile | str
    rate: float | None = None
    concurrency: int | None = None
    requests: int | None = None
    duration: float | None = None
    burstiness: float = 1.0
    ramp_to: float | None = None
    stages: Sequence[Stage] = ()
    trace: Sequence[float] = ()
    time_scale: float = 1.0
    warmup_requests: int = 0
    warmup_seconds: float = 0.0
    max_concurrency: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        profile = next((p for p in Profile if p == self.profile), None)
        if profile is None:
            _fail("profile", f"must be one of {', '.join(Profile)}", self.profile)
        object.__setattr__(self, "profile", profile)
        object.__setattr__(self, "stages", tuple(self.stages))
        try:
            trace = np.asarray(self.trace, dtype=np.float64)
        except (TypeError, ValueError):
            _fail("trace", "must be a sequence of numbers", self.trace)
        if trace.ndim != 1:
            _fail("trace", "must be one-dimensional", trace.shape)
        bad = np.flatnonzero(~np.isfinite(trace) | (trace < 0))
        if bad.size:
            _fail(f"trace[{bad[0]}]", "must be finite and >= 0", float(trace[bad[0]]))
        object.__setattr__(self, "trace", tuple(trace.tolist()))
        self._check_profile_fields()
        self._check_bounds_and_warmup()
        if profile is Profile.SWEEP:
            expand_stages(self)  # validates every stage as a concrete spec

    def _check_profile_fields(self) -> None:
        p = self.profile
        # Fields another profile would ignore are rejected, so config typos surface.
        for name, users in (
            ("rate", _RATE_PROFILES | {Profile.RAMP}),
            ("concurrency", {Profile.CONCURRENT}),
            ("ramp_to", {Profile.RAMP}),
            ("stages", {Profile.SWEEP}),
            ("trace", {Profile.REPLAY}),
        ):
            value = getattr(self, name)
            if p not in users and value not in (None, ()):
                _fail(name, f"not used by profile {p.value!r}", value)
        if p in _RATE_PROFILES:
            _check_real("rate", self.rate)
        elif p is Profile.RAMP:
            _check_real("rate", self.rate, allow_zero=True)
            _check_real("ramp_to", self.ramp_to, allow_zero=True)
            if self.rate == 0 and self.ramp_to == 0:
                _fail("ramp_to", "rate and ramp_to cannot both be 0", self.ramp_to)
            if self.duration is None:
                _fail("duration", "ramp needs a duration (the ramp length)", None)
        elif p is Profile.CONCURRENT:
            _check_int("concurrency", self.concurrency, 1)
        elif p is Profile.SWEEP:
            if not self.stages:
                _fail("stages", "sweep needs at least one stage", self.stages)
            for i, stage in enumerate(self.stages):
                if not isinstance(stage, Stage):
                    _fail(f"stages[{i}]", "must be a Stage", stage)
        elif p is Profile.REPLAY and not self.trace:
            _fail("trace", "replay needs at least one send time", self.trace)
        _check_real("burstiness", self.burstiness, allow_zero=True)
        _check_real("time_scale", self.time_scale)

    def _check_bounds_and_warmup(self) -> None:
        if self.requests is not None:
            _check_int("requests", self.requests, 1)
        if self.duration is not None:
            _check_real("duration", self.duration)
        if self.profile is not Profile.REPLAY and self.requests is None and self.duration is None:
            _fail(
                "requests", f"profile {self.profile.value!r} needs requests and/or duration", None
            )
        _check_int("warmup_requests", self.warmup_requests, 0)
        if self.requests is not None and self.warmup_requests >= self.requests:
            _fail("warmup_requests", f"must be < requests ({self.requests})", self.warmup_requests)
        _check_real("warmup_seconds", self.warmup_seconds, allow_zero=True)
        if self.duration is not None and self.warmup_seconds >= self.duration:
            _fail("warmup_seconds", f"must be < duration ({self.duration})", self.warmup_seconds)
        if self.max_concurrency is not None:
            _check_int("max_concurrency", self.max_concurrency, 1)
        _check_int("seed", self.seed, 0)

    @property
    def is_closed_loop(self) -> bool:
        return self.profile in CLOSED_LOOP


class ScheduledRequest(NamedTuple):
    """One request of a schedule; ``offset_s`` is ``None`` in a closed loop."""

    index: int
    stage: int
    offset_s: float | None
    arm_index: int
    arm: str
    prompt_index: int
    warmup: bool


@dataclass(frozen=True, eq=False)
class Schedule:
    """The requests of one stage as read-only numpy arrays (one element per request).

    ``offsets_s`` is ``None`` for closed loops. For a closed loop bounded only by
    duration the request count is unknown, so ``n_requests`` and all arrays are
    ``None``; :meth:`iter_requests` then yields requests lazily without end and the
    runner stops at ``spec.duration``.
    """

    spec: ScheduleSpec
    stage: int
    arms: tuple[str, ...]
    n_prompts: int
    offsets_s: np.ndarray | None
    arm_index: np.ndarray | None
    prompt_index: np.ndarray | None
    warmup: np.ndarray | None

    @property
    def is_closed_loop(self) -> bool:
        return self.spec.is_closed_loop

    @property
    def concurrency(self) -> int | None:
        """Requests kept in flight by a closed loop; ``None`` for open loops."""
        return 1 if self.spec.profile is Profile.SYNCHRONOUS else self.spec.concurrency

    @property
    def n_requests(self) -> int | None:
        return None if self.arm_index is None else len(self.arm_index)

    def in_warmup(self, index: int, elapsed_s: float) -> bool:
        """Warm-up status of request ``index`` sent ``elapsed_s`` after the stage start."""
        return index < self.spec.warmup_requests or elapsed_s < self.spec.warmup_seconds

    def assignments(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """``(arm_index, prompt_index)`` for requests ``[start, stop)``, any range."""
        seed, stage = self.spec.seed, self.stage
        arms = _block_permutations(len(self.arms), seed, stage, _ARMS, start, stop)
        return arms, _block_permutations(self.n_prompts, seed, stage, _PROMPTS, start, stop)

    def iter_requests(self) -> Iterator[ScheduledRequest]:
        """Yield requests in order, converting one block of arrays at a time."""
        n = self.n_requests
        for start in itertools.count(0, _BLOCK) if n is None else range(0, n, _BLOCK):
            stop = start + _BLOCK if n is None else min(n, start + _BLOCK)
            if self.arm_index is None or self.prompt_index is None or self.warmup is None:
                arms, prompts = self.assignments(start, stop)
                warmups = np.arange(start, stop) < self.spec.warmup_requests
            else:
                arms, prompts = self.arm_index[start:stop], self.prompt_index[start:stop]
                warmups = self.warmup[start:stop]
            offsets = self.offsets_s
            columns = zip(
                itertools.repeat(None) if offsets is None else offsets[start:stop].tolist(),
                arms.tolist(),
                prompts.tolist(),
                warmups.tolist(),
                strict=False,
            )
            for index, (offset, arm, prompt, warm) in enumerate(columns, start):
                yield ScheduledRequest(index, self.stage, offset, arm, self.arms[arm], prompt, warm)


def expand_stages(spec: ScheduleSpec) -> tuple[ScheduleSpec, ...]:
    """One concrete (non-sweep) spec per stage; a non-sweep spec is its own single stage."""
    if spec.profile is not Profile.SWEEP:
        return (spec,)
    b = spec.burstiness
    rate_profile = Profile.CONSTANT if b == 0 else Profile.POISSON if b == 1 else Profile.GAMMA
    return tuple(
        replace(spec, profile=rate_profile, rate=stage.rate, stages=())
        if stage.rate is not None
        else replace(spec, profile=Profile.CONCURRENT, concurrency=stage.concurrency, stages=())
        for stage in spec.stages
    )


def build_stages(spec: ScheduleSpec, arms: Sequence[str], n_prompts: int) -> Iterator[Schedule]:
    """Schedules of all stages in run order, built lazily one stage at a time."""
    for stage, stage_spec in enumerate(expand_stages(spec)):
        yield build_schedule(stage_spec, arms, n_prompts, stage=stage)


def build_schedule(
    spec: ScheduleSpec, arms: Sequence[str], n_prompts: int, *, stage: int = 0
) -> Schedule:
    """Schedule of one non-sweep spec; ``stage`` selects the random streams and labels it."""
    if spec.profile is Profile.SWEEP:
        _fail("profile", "a sweep has one schedule per stage, use build_stages()", "sweep")
    if isinstance(arms, str) or not arms or not all(isinstance(a, str) for a in arms):
        _fail("arms", "must be a non-empty sequence of strings", arms)
    if len(set(arms)) != len(arms):
        _fail("arms", "must be unique", arms)
    _check_int("n_prompts", n_prompts, 1)
    _check_int("stage", stage, 0)
    schedule = Schedule(spec, stage, tuple(arms), n_prompts, None, None, None, None)
    if spec.is_closed_loop:
        offsets = None
        n = spec.requests
        if n is None:
            return schedule
    else:
        offsets = _open_loop_offsets(spec, stage)
        n = len(offsets)
    arm_index, prompt_index = schedule.assignments(0, n)
    warmup = np.arange(n) < spec.warmup_requests
    if offsets is not None and spec.warmup_seconds > 0:
        warmup |= offsets < spec.warmup_seconds
    for array in (offsets, arm_index, prompt_index, warmup):
        if array is not None:
            array.flags.writeable = False
    return replace(
        schedule, offsets_s=offsets, arm_index=arm_index, prompt_index=prompt_index, warmup=warmup
    )


def _rng(seed: int, stage: int, stream: int, chunk: int = 0) -> np.random.Generator:
    sequence = np.random.SeedSequence(seed, spawn_key=(stage, stream, chunk))
    return np.random.Generator(np.random.PCG64(sequence))


def _open_loop_offsets(spec: ScheduleSpec, stage: int) -> np.ndarray:
    if spec.profile is Profile.REPLAY:
        blocks: Iterator[np.ndarray] = iter([np.sort(np.asarray(spec.trace)) * spec.time_scale])
    elif spec.profile is Profile.RAMP:
        blocks = iter([_ramp_offsets(spec.rate, spec.ramp_to, spec.duration)])  # type: ignore[arg-type]
    else:
        burstiness = _FIXED_BURSTINESS.get(spec.profile, spec.burstiness)
        rng = _rng(spec.seed, stage, _GAPS)
        blocks = _renewal_blocks(spec.rate, burstiness, rng)  # type: ignore[arg-type]
    return _take(blocks, spec.requests, spec.duration)


def _renewal_blocks(
    rate: float, burstiness: float, rng: np.random.Generator
) -> Iterator[np.ndarray]:
    """Send times of a renewal process with t_0 = 0, ``_BLOCK`` at a time, forever."""
    if burstiness == 0:
        # Dividing exact integers keeps t_i == i / R bit for bit (no summed drift).
        for first in itertools.count(0, _BLOCK):
            yield np.arange(first, first + _BLOCK, dtype=np.float64) / rate
        return
    next_time = 0.0
    while True:
        if burstiness == 1:
            gaps = rng.exponential(1.0 / rate, _BLOCK)
        else:
            gaps = rng.gamma(1.0 / burstiness, burstiness / rate, _BLOCK)
        times = np.empty(_BLOCK)
        times[0] = 0.0
        np.cumsum(gaps[:-1], out=times[1:])
        times += next_time
        next_time = times[-1] + gaps[-1]
        yield times


def _ramp_offsets(rate_start: float, rate_end: float, duration: float) -> np.ndarray:
    expected = rate_start * duration + (rate_end - rate_start) * duration / 2
    # The tolerance keeps an exactly integral Λ(D) from gaining a request at t ≈ D.
    i = np.arange(max(1, math.ceil(expected - 1e-9)), dtype=np.float64)
    root = np.sqrt(np.maximum(rate_start**2 + 2 * (rate_end - rate_start) * i / duration, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        # 2i / (R0 + root) is the quadratic's root without cancellation when R1 ≈ R0.
        offsets = 2 * i / (rate_start + root)
    offsets[0] = 0.0  # 0/0 when the ramp starts at rate 0
    return offsets


def _take(blocks: Iterator[np.ndarray], requests: int | None, duration: float | None) -> np.ndarray:
    """Concatenate sorted blocks until ``requests`` are taken or ``duration`` is reached."""
    parts: list[np.ndarray] = []
    taken = 0
    for block in blocks:
        size = len(block)
        if duration is not None:
            block = block[: np.searchsorted(block, duration, side="left")]
        parts.append(block)
        taken += len(block)
        if len(block) < size or (requests is not None and taken >= requests):
            break
    return np.concatenate(parts)[:requests]


def _block_permutations(
    width: int, seed: int, stage: int, stream: int, start: int, stop: int
) -> np.ndarray:
    """Element ``i`` is ``perm_{i // width}[i % width]``, one seeded permutation per block.

    Permutations are drawn a chunk of ~``_BLOCK`` values per RNG stream, so any index
    range costs at most two extra chunks and never depends on the earlier indices.
    """
    if width == 1 or stop <= start:
        return np.zeros(max(0, stop - start), dtype=np.int32)
    rows = max(1, _BLOCK // width)
    chunk_len = rows * width
    first, last = start // chunk_len, (stop - 1) // chunk_len
    identity = np.broadcast_to(np.arange(width, dtype=np.int32), (rows, width))
    chunks = [
        _rng(seed, stage, stream, c).permuted(identity, axis=1).ravel()
        for c in range(first, last + 1)
    ]
    origin = first * chunk_len
    return np.concatenate(chunks)[start - origin : stop - origin]


def paired_schedule(
    arms: Sequence[str], n_prompts: int, *, repeat: int = 1, concurrency: int = 4, seed: int = 0
) -> Schedule:
    """Every arm on every prompt, ``repeat`` times, in one seeded random order (closed loop).

    The paired design of an evaluation: each (arm, prompt) pair appears exactly ``repeat``
    times, so arms are compared on the same prompts under the same conditions.
    """
    if not arms:
        raise ValueError("arms: at least one is required")
    if n_prompts < 1:
        raise ValueError(f"prompts: need at least 1, got {n_prompts}")
    if repeat < 1:
        raise ValueError(f"repeat: must be >= 1, got {repeat}")
    pairs = len(arms) * n_prompts * repeat
    order = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(7,))).permutation(pairs)
    arm_index = (order % len(arms)).astype(np.int32)
    prompt_index = ((order // len(arms)) % n_prompts).astype(np.int32)
    spec = ScheduleSpec(
        profile=Profile.CONCURRENT, concurrency=concurrency, requests=pairs, seed=seed
    )
    return Schedule(
        spec=spec,
        stage=0,
        arms=tuple(arms),
        n_prompts=n_prompts,
        offsets_s=None,
        arm_index=arm_index,
        prompt_index=prompt_index,
        warmup=np.zeros(pairs, dtype=bool),
    )


def replay_schedule(
    spec: ScheduleSpec, arms: Sequence[str], offsets: Sequence[float] | None, n_requests: int
) -> Schedule:
    """Recorded requests in their recorded order, each sent once to every arm: at its recorded
    offset (times ``spec.time_scale``) when ``offsets`` are given, else paced by ``spec``'s own
    profile (a rate or a concurrency), ``n_requests`` × arms requests in all."""
    if not arms:
        raise ValueError("arms: at least one is required")
    k, total = len(arms), n_requests * len(arms)
    if offsets is not None:
        spec = ScheduleSpec(  # the recorded times replace the profile's own pacing
            profile=Profile.REPLAY,
            trace=tuple(offsets),
            time_scale=spec.time_scale,
            seed=spec.seed,
            warmup_requests=spec.warmup_requests,
            max_concurrency=spec.max_concurrency,
        )
        times: np.ndarray | None = np.repeat(np.asarray(offsets, dtype=np.float64), k)
        times = times * spec.time_scale
    else:
        spec = replace(spec, requests=total, duration=None)
        times = None if spec.is_closed_loop else _open_loop_offsets(spec, 0)[:total]
    n = total if times is None else len(times)
    warmup = np.arange(n) < spec.warmup_requests
    arrays = (
        np.tile(np.arange(k, dtype=np.int32), n_requests)[:n],
        np.repeat(np.arange(n_requests, dtype=np.int32), k)[:n],
        warmup,
    )
    for array in (*arrays, times):
        if array is not None:
            array.flags.writeable = False
    return Schedule(spec, 0, tuple(arms), n_requests, times, *arrays)
