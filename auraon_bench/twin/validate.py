"""Validate a twin: re-run each measured workload on it, then compare real and twin per arm.

The re-run is the run's own command (its manifest keeps it, secrets masked) with the target
flags replaced: no ``--base-url``/``--api-key`` (nor their environment variables), the twin's
``--catalog``, a ``--time-scale`` and an ``--out`` inside the validation directory; with
``--plan twin`` when the twin holds a measured plan. Same seed, prompts, arms and profile.
It runs as a child process of the same interpreter, so it is exactly what a user would type.

The comparison (:func:`compare_runs`), per part and arm, in the target's own seconds (each
side's times divided by its emulator time scale): TTFT, inter-token gap and latency
percentiles and their two-sample Kolmogorov-Smirnov statistic D; mean cost per request; the
share of attempts that failed; for auto arms, the routing mix and its total variation distance
(half the summed absolute share differences). A twin is **good** when every D, taken within a
resolution of max(1 ms, 2% of the real median) (:func:`~auraon_bench.twin.estimate.ks_within`),
is at most :data:`KS_GOOD`, or at most the 5% critical value ``1.358 sqrt((n + m) / (n m))``
when the samples are too small for 0.10 to stand out of chance (:func:`ks_threshold`; stated
on every page); the plain D is kept beside it. D is a
distance, not a test: with thousands of samples even a tiny difference is "significant", so
the p-value is shown, not judged.
"""

from __future__ import annotations

import dataclasses
import math
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd

from auraon_bench.analysis._json import jsonable
from auraon_bench.catalog import load_catalog
from auraon_bench.catalog.schema import TWIN_PLAN
from auraon_bench.errors import ConfigError
from auraon_bench.results.layout import write_atomically
from auraon_bench.results.reader import read_records
from auraon_bench.results.run import Part, Run, read_run
from auraon_bench.results.typed import read_typed_file
from auraon_bench.twin.estimate import ks_two_sample, ks_within
from auraon_bench.twin.fit import LIMIT_TOLERANCE, is_auto, source_scale

VALIDATION_FILE = "validation.json"
KS_GOOD = 0.10  # largest KS distance (within the resolution) of a good twin, per metric and arm
ERROR_TOLERANCE = 0.05  # largest difference of failed-attempt shares of a good twin
KS_NOISE = 1.358  # c(0.05): D's 5% critical value is c * sqrt((n + m) / (n m))
RESOLUTION_S = 0.001  # differences below a millisecond ...
RESOLUTION_SHARE = 0.02  # ... or 2% of the real median are no evidence (estimate.ks_within)
QUANTILES = tuple(float(q) for q in np.linspace(0.0, 1.0, 101))  # kept for the overlaid charts
GAP_SAMPLE = 50_000  # gaps compared per side, at most (a seeded subsample)
# Flags of a measured command that say where it went: replaced for the re-run.
_TARGET_FLAGS = frozenset({"--base-url", "--api-key", "--catalog", "--time-scale", "--out",
                           "--metrics-port", "--otel-out", "--otel-endpoint"})  # fmt: skip
_PLAN_FLAG = "--plan"
_DROPPED_SWITCHES = frozenset({"--yes"})
_ENV_TARGET = ("AURAON_BASE_URL", "AURAON_API_KEY")
COMMANDS = ("load", "eval", "limits", "run", "capacity")


def ks_threshold(n_real: int, n_twin: int) -> float:
    """The largest D of a good twin: :data:`KS_GOOD`, or the two-sample 5% critical value when
    the samples are too small to tell a D of 0.10 from chance (below about 370 a side)."""
    if n_real <= 0 or n_twin <= 0:
        return KS_GOOD
    return max(KS_GOOD, KS_NOISE * math.sqrt((n_real + n_twin) / (n_real * n_twin)))


def rerun_argv(
    command: Sequence[str],
    catalog: Path,
    time_scale: float,
    out: Path,
    twin_plan: bool,
    real_target: bool = False,
) -> list[str]:
    """The arguments after the program name that re-run ``command`` on the twin. Pure.

    ``real_target``: the run went to a gateway, whose synthetic prompts were not pinned to
    their max_tokens (``ignore_eos``), so the twin's are not either (``--no-pin-output``)."""
    args = list(command[1:])
    if not command:
        raise ConfigError(
            "the run's manifest records no command (it was not made by the auraon-bench CLI): "
            "nothing to re-run",
            field="manifest.command",
        )
    if not args or args[0] not in COMMANDS:
        raise ConfigError(
            f"cannot re-run {' '.join(command[:2])!r}: not one of {', '.join(COMMANDS)}",
            field="manifest.command",
        )
    kept: list[str] = []
    skip = False
    drop = _TARGET_FLAGS | ({_PLAN_FLAG} if twin_plan else frozenset())
    for arg in args:
        if skip:
            skip = False
            continue
        flag = arg.split("=", 1)[0]
        if flag in drop:
            skip = "=" not in arg
            continue
        if arg in _DROPPED_SWITCHES:
            continue
        kept.append(arg)
    extra = ["--catalog", str(catalog), "--time-scale", f"{time_scale:g}", "--out", str(out)]
    if twin_plan and kept[0] != "run":
        extra += [_PLAN_FLAG, TWIN_PLAN]
    if kept[0] == "run":
        extra.append("--emulator")  # never the real target its file may name
    pinning = {"--pin-output", "--no-pin-output"}
    if real_target and kept[0] in ("load", "capacity", "run") and not pinning & set(kept):
        extra.append("--no-pin-output")
    return [*kept, *extra, "--yes"]


def rerun(argv: Sequence[str], log: Path) -> int:
    """Run ``auraon-bench ARGV`` in a child process with no real target in its environment;
    its output goes to ``log``. The child's exit status."""
    env = {k: v for k, v in os.environ.items() if k not in _ENV_TARGET}
    with log.open("wb") as sink:
        done = subprocess.run(
            [sys.executable, "-m", "auraon_bench", *argv],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
            check=False,
        )
    return done.returncode


@dataclass(frozen=True)
class MetricComparison:
    metric: str  # ttft, itl, latency
    unit: str
    n_real: int
    n_twin: int
    real: tuple[float, ...]  # quantiles at QUANTILES
    twin: tuple[float, ...]
    ks: float  # the plain two-sample KS statistic
    p_value: float
    resolution: float = 0.0  # seconds: shifts this small do not count
    ks_within: float | None = None  # the KS distance within the resolution: what is judged

    def quantile(self, side: str, q: float) -> float:
        values = self.real if side == "real" else self.twin
        return float(np.interp(q, QUANTILES, values))

    @property
    def judged(self) -> float:
        return self.ks if self.ks_within is None else self.ks_within

    @property
    def threshold(self) -> float:
        return ks_threshold(self.n_real, self.n_twin)

    @property
    def good(self) -> bool:
        return self.judged <= self.threshold


@dataclass(frozen=True)
class ArmComparison:
    part: str
    arm: str
    n_real: int  # attempts
    n_twin: int
    metrics: tuple[MetricComparison, ...]
    cost_real: float | None  # mean USD per ok request
    cost_twin: float | None
    errors_real: float  # share of attempts not ok
    errors_twin: float
    mix_real: dict[str, float] = dataclasses.field(default_factory=dict)
    mix_twin: dict[str, float] = dataclasses.field(default_factory=dict)
    mix_distance: float | None = None  # total variation distance; None for fixed arms

    @property
    def errors_good(self) -> bool:
        """The shares of failed attempts agree within :data:`ERROR_TOLERANCE`."""
        return abs(self.errors_real - self.errors_twin) <= ERROR_TOLERANCE

    @property
    def good(self) -> bool:
        """Every metric's D under its threshold, the error shares alike, and at least one
        metric compared (an arm with no answers on a side has nothing to vouch for it)."""
        return bool(self.metrics) and self.errors_good and all(m.good for m in self.metrics)


@dataclass(frozen=True)
class LimitComparison:
    """A limits run's finding per dimension, real against twin (per target minute)."""

    dimension: str
    kind_real: str
    kind_twin: str
    per_min_real: float | None
    per_min_twin: float | None

    @property
    def good(self) -> bool:
        if self.kind_real != self.kind_twin:
            return False
        real, twin = self.per_min_real, self.per_min_twin
        if real is None or twin is None:
            return real is twin
        return abs(twin / real - 1) <= LIMIT_TOLERANCE


@dataclass(frozen=True)
class Rerun:
    source_run: str
    source_path: str
    twin_dir: str  # relative to the validation directory
    argv: tuple[str, ...]
    status: str  # the twin run's status, or "failed (exit N)"

    @property
    def ran(self) -> bool:
        return not self.status.startswith("failed") and self.status != "not run"


@dataclass(frozen=True)
class TwinValidation:
    """``validation.json``: a twin's real-versus-twin comparison."""

    twin_of: str
    catalog: str
    ks_good: float
    reruns: tuple[Rerun, ...]
    arms: tuple[ArmComparison, ...]
    notes: tuple[str, ...] = ()
    limits: tuple[LimitComparison, ...] = ()
    missing: tuple[str, ...] = ()  # "part arm" measured but absent from the twin's run

    @property
    def good(self) -> bool:
        compared = (*self.arms, *self.limits)
        return (
            bool(compared)
            and all(c.good for c in compared)
            and all(r.ran for r in self.reruns)
            and not self.missing
        )

    @property
    def worst(self) -> MetricComparison | None:
        metrics = [m for a in self.arms for m in a.metrics]
        return max(metrics, key=lambda m: m.judged) if metrics else None

    def to_dict(self) -> dict[str, Any]:
        return jsonable(dataclasses.asdict(self))


def _frame(part: Part) -> pd.DataFrame:
    columns = ["arm", "status", "warmup", "ttft_s", "itl_s", "latency_s", "cost_usd",
               "routed_to", "model_reported"]  # fmt: skip
    frame = read_records(part.path, columns)
    return frame[frame["warmup"].fillna(False) == False]  # noqa: E712 - nullable boolean


def _gaps(rows: pd.DataFrame, scale: float, seed: int) -> np.ndarray:
    lists = [g for g in rows["itl_s"] if g is not None and len(g)]
    if not lists:
        return np.zeros(0)
    gaps = np.concatenate(lists).astype(float) / scale
    if gaps.size > GAP_SAMPLE:
        gaps = np.random.default_rng(seed).choice(gaps, GAP_SAMPLE, replace=False)
    return gaps


def _metric(name: str, real: np.ndarray, twin: np.ndarray) -> MetricComparison | None:
    real, twin = real[np.isfinite(real)], twin[np.isfinite(twin)]
    test = ks_two_sample(real, twin)
    if test is None:
        return None
    resolution = max(RESOLUTION_S, RESOLUTION_SHARE * float(np.median(real)))
    return MetricComparison(
        metric=name,
        unit="s",
        n_real=test.n_real,
        n_twin=test.n_twin,
        real=tuple(float(v) for v in np.quantile(real, QUANTILES)),
        twin=tuple(float(v) for v in np.quantile(twin, QUANTILES)),
        ks=test.ks,
        p_value=test.p_value,
        resolution=resolution,
        ks_within=ks_within(real, twin, resolution),
    )


def _mix(ok: pd.DataFrame) -> dict[str, float]:
    served = ok["routed_to"].fillna(ok["model_reported"]).dropna().astype(str)
    if served.empty:
        return {}
    return {str(k): float(v) for k, v in served.value_counts(normalize=True).sort_index().items()}


def _mean_cost(ok: pd.DataFrame) -> float | None:
    cost = ok["cost_usd"].astype(float).dropna()
    return float(cost.mean()) if len(cost) else None


def compare_parts(name: str, real: Part, twin: Part) -> list[ArmComparison]:
    """Real against twin, per arm the two parts share (:func:`missing_arms`: the others)."""
    real_frame, twin_frame = _frame(real), _frame(twin)
    real_scale, twin_scale = source_scale(real), source_scale(twin)
    out = []
    for arm in sorted(set(real_frame["arm"]) & set(twin_frame["arm"])):
        r = real_frame[real_frame["arm"] == arm]
        t = twin_frame[twin_frame["arm"] == arm]
        r_ok, t_ok = r[r["status"] == "ok"], t[t["status"] == "ok"]
        metrics = [
            _metric(
                "ttft",
                r_ok["ttft_s"].to_numpy(dtype=float) / real_scale,
                t_ok["ttft_s"].to_numpy(dtype=float) / twin_scale,
            ),
            _metric("itl", _gaps(r_ok, real_scale, 1), _gaps(t_ok, twin_scale, 2)),
            _metric(
                "latency",
                r_ok["latency_s"].to_numpy(dtype=float) / real_scale,
                t_ok["latency_s"].to_numpy(dtype=float) / twin_scale,
            ),
        ]
        mix_real, mix_twin = (_mix(r_ok), _mix(t_ok)) if is_auto(str(arm)) else ({}, {})
        distance = None
        if mix_real and mix_twin:
            models = set(mix_real) | set(mix_twin)
            distance = 0.5 * sum(abs(mix_real.get(m, 0) - mix_twin.get(m, 0)) for m in models)
        out.append(
            ArmComparison(
                part=name,
                arm=str(arm),
                n_real=len(r),
                n_twin=len(t),
                metrics=tuple(m for m in metrics if m is not None),
                cost_real=_mean_cost(r_ok),
                cost_twin=_mean_cost(t_ok),
                errors_real=1 - len(r_ok) / len(r) if len(r) else 0.0,
                errors_twin=1 - len(t_ok) / len(t) if len(t) else 0.0,
                mix_real=mix_real,
                mix_twin=mix_twin,
                mix_distance=distance,
            )
        )
    return out


def compare_limits(real: Run, twin: Run) -> list[LimitComparison]:
    """The limiter findings of the runs' limits parts, per dimension both identified."""
    found = [[p.limits for p in run.parts if p.limits is not None] for run in (real, twin)]
    if not found[0] or not found[1]:
        return []
    r, t = found[0][0].limiters, found[1][0].limiters
    return [
        LimitComparison(
            dim, r[dim].kind, t[dim].kind, r[dim].sustainable_per_min, t[dim].sustainable_per_min
        )
        for dim in sorted(set(r) & set(t))
    ]


def _pairs(real: Run, twin: Run) -> list[tuple[str, Part, Part | None]]:
    """Each workload part of ``real`` with its twin part (a single run's one part pairs with
    the other's; an experiment's by name), None where the twin's run lacks it."""
    if len(real.parts) == 1 and len(twin.parts) == 1:
        pairs = [(real.parts[0].name, real.parts[0], twin.parts[0])]
    else:
        twins = {p.name: p for p in twin.parts}
        pairs = [(p.name, p, twins.get(p.name)) for p in real.parts]
    # a probe's attempts are its own method's, not a workload to compare
    return [
        (n, r, t) for n, r, t in pairs if r.kind != "limits" and (t is None or t.kind != "limits")
    ]


def missing_arms(real: Run, twin: Run) -> list[str]:
    """``part arm`` of every arm the real run measured and the twin's run did not."""
    out = []
    for name, r, t in _pairs(real, twin):
        theirs = set() if t is None else set(_frame(t)["arm"].astype(str))
        out += [f"{name} {arm}" for arm in sorted(set(_frame(r)["arm"].astype(str)) - theirs)]
    return out


def compare_runs(real: Run, twin: Run) -> list[ArmComparison]:
    """Real against twin, per part and arm both have."""
    out: list[ArmComparison] = []
    for name, r, t in _pairs(real, twin):
        if t is not None:
            out += compare_parts(name, r, t)
    return out


def validate_twin(
    runs: Sequence[Path | str],
    catalog: Path,
    out: Path,
    time_scale: float | None = None,
    on_rerun: Callable[[str, list[str]], None] | None = None,
) -> TwinValidation:
    """Re-run ``runs`` on the twin ``catalog`` into ``out`` and compare; writes and returns
    ``validation.json``. ``time_scale`` None: each run's own (1 for a gateway)."""
    twin_catalog = load_catalog(catalog)
    twin_plan = TWIN_PLAN in twin_catalog.plans
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create {out}: {exc.strerror or exc}",
                          field="--validate-out") from None  # fmt: skip
    reruns, arms, notes, limits, missing = [], [], [], [], []
    planned = []
    for path in runs:  # every command checked before any re-run starts
        real = read_run(path)
        scale = time_scale
        if scale is None:
            scale = max((source_scale(p) for p in real.parts), default=1.0)
        twin_dir = out / f"twin-{real.run_id}"
        if twin_dir.exists():
            raise ConfigError(
                f"{twin_dir} already exists: a validation goes to a directory of its own",
                field="--validate-out",
            )
        command = real.manifest.get("command") or []
        real_target = not real.simulated
        argv = rerun_argv(command, catalog, scale, twin_dir, twin_plan, real_target)
        planned.append((path, real, twin_dir, argv))
    for path, real, twin_dir, argv in planned:
        if on_rerun is not None:
            on_rerun(real.run_id, argv)
        code = rerun(argv, out / f"twin-{real.run_id}.log")
        status = f"failed (exit {code})"
        if (twin_dir / "manifest.json").is_file():
            twin = read_run(twin_dir)
            status = twin.status if code in (0, 1) else status
            arms += compare_runs(real, twin)
            limits += compare_limits(real, twin)
            missing += missing_arms(real, twin)
        else:
            notes.append(f"the re-run of {real.run_id} wrote no run: see twin-{real.run_id}.log")
        reruns.append(Rerun(real.run_id, str(path), twin_dir.name, tuple(argv), status))
    validation = TwinValidation(
        twin_of=twin_catalog.twin_of or "?",
        catalog=str(catalog),
        ks_good=KS_GOOD,
        reruns=tuple(reruns),
        arms=tuple(arms),
        notes=tuple(notes),
        limits=tuple(limits),
        missing=tuple(missing),
    )
    data = orjson.dumps(validation.to_dict(), option=orjson.OPT_INDENT_2)
    write_atomically(out / VALIDATION_FILE, lambda tmp: tmp.write_bytes(data))
    return validation


def read_validation(path: Path | str) -> TwinValidation:
    """``validation.json`` (or its directory) as the typed :class:`TwinValidation`."""
    return read_typed_file(TwinValidation, path, VALIDATION_FILE)
