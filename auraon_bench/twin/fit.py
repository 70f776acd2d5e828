"""Fit a twin: from the records of measured runs to :class:`TwinFit`, every figure with its n.

What is fitted, per *served model* (a fixed arm's own name, or the model an ``auto`` arm was
routed to): TTFT (lognormal or empirical, after prefill), prefill speed where prompt sizes vary,
inter-token gaps (body and slow tail), free-text output length, prices (when the gateway
reported cost) and, on fixed arms, the share of attempts answered with a 5xx. Per auto mode:
the routing mix by dataset category and prompt length band, and the share of answers that came
from a fallback. From a limits run: the limiter kind, its per-minute limits and how honest its
Retry-After is. Estimators and their methods: :mod:`auraon_bench.twin.estimate`.

Times are in the target's own seconds: a run on the emulator at time scale ``s`` measured
``s`` real seconds per simulated second, so its times are divided by ``s``. Warm-up attempts
are left out. Nothing here writes a file; :mod:`auraon_bench.twin.overlay` does.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from auraon_bench.analysis._json import jsonable
from auraon_bench.analysis.limits import LimitsSummary
from auraon_bench.catalog import Catalog, load_catalog
from auraon_bench.emulator.router import ANY_CATEGORY, LENGTH_BANDS, NO_CATEGORY, length_band
from auraon_bench.errors import ConfigError
from auraon_bench.results.reader import read_records
from auraon_bench.results.run import Part, Run, read_run
from auraon_bench.twin.estimate import (
    MIN_FIT_N,
    GapFit,
    LengthFit,
    LognormalFit,
    PrefillFit,
    PriceFit,
    fit_gaps,
    fit_lengths,
    fit_lognormal,
    fit_prefill,
    fit_prices,
)

FIT_SCHEMA_VERSION = 1
MIN_GAP_ANSWERS = 10  # answers the gaps must come from: one answer's gaps share its moment
SMALL_SCALE = 0.1  # a source run at a smaller emulator time scale is noted as distorted
TOGETHER_SHARE = 0.10  # gaps of 0 (events read together) above this share make the gap fit doubtful
MIN_TAIL_S = 0.001  # a stream tail shorter than this is the HTTP server's own, not fitted
LIMIT_TOLERANCE = 0.10  # the limits probe's own pass band (analysis/limits.py TOLERANCE)
REPORTED_COSTS = frozenset({"blockrun", "auraon", "openrouter", "litellm"})
FIT_COLUMNS = (
    "arm", "status", "http_status", "warmup", "routed_to", "model_reported", "routing_reason",
    "category", "stream", "ttft_s", "ttlt_s", "latency_s", "itl_s", "prompt_tokens",
    "cached_tokens", "completion_tokens", "finish_reason", "cost_usd", "cost_source",
)  # fmt: skip


def is_auto(arm: str) -> bool:
    """Whether ``arm`` is a routing mode (``auto``, ``auto:fast``, a custom ``auto:<name>``)."""
    return arm == "auto" or arm.startswith("auto:")


@dataclass(frozen=True)
class SourceRun:
    """A measured run a twin was fitted to."""

    run_id: str
    kind: str  # load, eval, limits (an experiment's parts each count as their own)
    target: str  # base URL, or the simulated label
    time_scale: float  # divides the run's times into the target's seconds (1 for a gateway)
    records: int


@dataclass(frozen=True)
class ModelFit:
    """One served model's fitted figures; ``None``: not enough data, the built-in value stays."""

    model: str
    arms: tuple[str, ...]
    n_ok: int
    n_attempts: int
    ttft: LognormalFit | None = None
    prefill: PrefillFit | None = None
    gaps: GapFit | None = None
    output: LengthFit | None = None
    prices: PriceFit | None = None
    tail: LognormalFit | None = None  # last content event to the stream's end; None: none seen
    error_rate: float | None = None  # 5xx share of the fixed arms' attempts
    n_errors: int = 0
    n_503: int = 0
    kept: tuple[str, ...] = ()  # what keeps its built-in value, and why
    warnings: tuple[str, ...] = ()  # what was fitted on doubtful samples


@dataclass(frozen=True)
class MixFit:
    """The share of an auto mode's answers each model served, for one mix key."""

    key: str  # "*", a category, either with "@band"
    shares: dict[str, float]
    n: int
    max_se: float  # largest standard error of a share, sqrt(p (1 - p) / n)


@dataclass(frozen=True)
class ModeFit:
    mode: str
    n: int
    fallback_rate: float  # share of answers that came from a fallback model
    n_fallbacks: int
    mixes: tuple[MixFit, ...]


@dataclass(frozen=True)
class LimitsFit:
    """A plan fitted from a limits run: what the key was held to, per target minute."""

    source_plan: str | None
    requests_per_min: float | None
    tokens_per_min: float | None
    limiter: str | None  # one of the emulator's kinds; None: not identified
    retry_after_factor: float  # advertised / actual recovery (1: honest)
    n: int
    evidence: tuple[str, ...]


@dataclass(frozen=True)
class TwinFit:
    """Everything ``emulator fit`` measured: written beside the catalog as ``<name>.fit.json``."""

    twin_of: str
    fitted_utc: str
    runs: tuple[SourceRun, ...]
    models: tuple[ModelFit, ...]
    modes: tuple[ModeFit, ...] = ()
    limits: LimitsFit | None = None
    notes: tuple[str, ...] = ()
    schema_version: int = FIT_SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        return jsonable(dataclasses.asdict(self))

    def model(self, name: str) -> ModelFit:
        for fit in self.models:
            if fit.model == name:
                return fit
        raise KeyError(name)


@dataclass
class _Samples:
    """One served model's samples, gathered over every source part."""

    arms: set[str] = field(default_factory=set)
    frames: list[pd.DataFrame] = field(default_factory=list)


def source_scale(part: Part) -> float:
    """What divides a part's times into the target's seconds: its emulator time scale, 1 for a
    gateway."""
    target = part.manifest.get("target") or {}
    scale = target.get("emulator_time_scale") if target.get("simulated") else None
    return float(scale) if scale not in (None, 0) else 1.0


def _served(frame: pd.DataFrame) -> pd.Series:
    """The model behind each attempt: a fixed arm's own name; for an auto arm the model the
    gateway says it routed to (missing for an attempt that failed before any model answered:
    such attempts count for their mode, never as a model called "auto")."""
    routed = frame["routed_to"].fillna(frame["model_reported"]).astype("string")
    auto = frame["arm"].map(is_auto).astype(bool)
    routed = routed.where(~routed.fillna("").map(is_auto).astype(bool))  # "auto" is no model
    return frame["arm"].astype("string").where(~auto, routed)


def _part_frame(part: Part) -> pd.DataFrame:
    frame = read_records(part.path, list(FIT_COLUMNS))
    if frame.empty or "arm" not in frame:
        return pd.DataFrame(columns=[*FIT_COLUMNS, "served"])
    frame = frame[frame["warmup"].fillna(False) == False]  # noqa: E712 - nullable boolean
    scale = source_scale(part)
    if scale != 1.0:
        frame = frame.assign(
            ttft_s=frame["ttft_s"] / scale,
            ttlt_s=frame["ttlt_s"] / scale,
            latency_s=frame["latency_s"] / scale,
        )
        frame["itl_s"] = [None if g is None else np.asarray(g) / scale for g in frame["itl_s"]]
    return frame.assign(served=_served(frame)).reset_index(drop=True)


def _model_fit(model: str, frame: pd.DataFrame, arms: set[str]) -> ModelFit:
    ok = frame[frame["status"] == "ok"]
    streamed = ok[ok["stream"].fillna(False).astype(bool) & ok["ttft_s"].notna()]
    kept: list[str] = []
    uncached = (
        streamed["prompt_tokens"].astype(float)
        - streamed["cached_tokens"].astype(float).fillna(0.0)
    ).to_numpy()
    ttft = streamed["ttft_s"].to_numpy(dtype=float)
    prefill = fit_prefill(uncached, ttft) if ttft.size else None
    # Without a measured prefill speed the whole TTFT is fitted and the twin adds no prefill:
    # its own token count of a prompt (another tokenizer than the gateway's, perhaps) must not
    # add a delay the measurement never separated.
    rate = prefill.tok_s if prefill is not None and prefill.tok_s else math.inf
    ttft_fit = fit_lognormal(ttft - np.nan_to_num(uncached) / rate) if ttft.size else None
    if ttft_fit is None:
        kept.append(f"ttft: {ttft.size} streamed answers, {MIN_FIT_N} needed")
    gap_values = [g for g in streamed["itl_s"] if g is not None and len(g)]
    pooled = np.concatenate(gap_values) if gap_values else np.zeros(0)
    gaps = fit_gaps(pooled) if len(gap_values) >= MIN_GAP_ANSWERS else None
    warnings = []
    together = float((pooled <= 0).mean()) if pooled.size else 0.0
    if together > TOGETHER_SHARE:
        warnings.append(
            f"inter-token gaps: {together:.0%} of events arrived together (the client's "
            "resolution): the fit sees only the others and overstates the gap; measure at a "
            "larger emulator time scale, or against the gateway at its own pace"
        )
    if gaps is None:
        kept.append(
            f"inter-token gaps: {len(gap_values)} streamed answers with gaps "
            f"({MIN_GAP_ANSWERS} and {MIN_FIT_N} gaps needed)"
        )
    tail_values = (streamed["latency_s"] - streamed["ttlt_s"]).to_numpy(dtype=float)
    tail = fit_lognormal(tail_values)
    if tail is not None and tail.median < MIN_TAIL_S:
        tail = None  # what any HTTP server spends writing the last events: not the gateway's
    # Dataset prompts are answered with their own items' text on the twin: only free-text
    # (synthetic) prompts, without a category, say how long the gateway's answers run.
    free = ok[ok["category"].isna()]
    capped = (free["finish_reason"] == "length").fillna(False).to_numpy(dtype=bool)
    output = fit_lengths(free["completion_tokens"].to_numpy(dtype=float, na_value=np.nan), capped)
    if output is None:
        kept.append(
            f"output length: {len(free)} free-text answers (dataset answers do not count), or "
            "half or more cut by max_tokens"
        )
    priced = ok[ok["cost_source"].isin(REPORTED_COSTS)]
    prices = fit_prices(
        priced["prompt_tokens"].to_numpy(dtype=float, na_value=np.nan),
        priced["cached_tokens"].to_numpy(dtype=float, na_value=np.nan),
        priced["completion_tokens"].to_numpy(dtype=float, na_value=np.nan),
        priced["cost_usd"].to_numpy(dtype=float, na_value=np.nan),
    )
    if prices is None:
        kept.append(
            f"prices: {len(priced)} answers with a cost the gateway reported "
            f"({MIN_FIT_N} needed, with prompt and completion sizes that vary apart)"
        )
    fixed = frame[~frame["arm"].map(is_auto)]
    status = fixed["http_status"].astype("Float64")
    errors = int((status >= 500).sum())
    n_503 = int((status == 503).sum())
    error_rate = errors / len(fixed) if len(fixed) >= MIN_FIT_N else None
    if error_rate is None:
        kept.append("error rate: fewer than 30 attempts on a fixed arm")
    return ModelFit(
        model=model,
        arms=tuple(sorted(arms)),
        n_ok=len(ok),
        n_attempts=len(frame),
        ttft=ttft_fit,
        prefill=prefill,
        gaps=gaps,
        output=output,
        prices=prices,
        tail=tail,
        error_rate=error_rate,
        n_errors=errors,
        n_503=n_503,
        kept=tuple(kept),
        warnings=tuple(warnings),
    )


def _shares(served: pd.Series, key: str) -> MixFit:
    counts = served.value_counts()
    n = int(counts.sum())
    shares = {str(m): float(c) / n for m, c in counts.items()}
    max_se = max(math.sqrt(p * (1 - p) / n) for p in shares.values())
    return MixFit(key, dict(sorted(shares.items())), n, max_se)


def _mode_fit(mode: str, answered: pd.DataFrame) -> ModeFit:
    """The mode's mix: overall, per category, per band (when several bands have data), and per
    category and band likewise; each key with at least :data:`MIN_FIT_N` answers. The mix is
    of first choices (answers that came from no fallback): the twin draws a first choice, and
    the fallback rate, as its models' error rate, makes its own fallbacks."""
    reasons = answered["routing_reason"].fillna("").astype(str)
    fell_back = reasons.str.contains("fallback")
    fallbacks = int(fell_back.sum())
    ok = answered[~fell_back & answered["served"].notna()]
    if len(ok) < MIN_FIT_N:
        ok = answered[answered["served"].notna()]
    bands = ok["prompt_tokens"].astype(float).fillna(0).map(lambda t: length_band(int(t)))
    categories = ok["category"].fillna(NO_CATEGORY).astype(str)
    # Prompts of no dataset get their own key only beside dataset prompts (else "*" is theirs);
    # when both kinds have enough answers, "*" (the mix of a category the fit never saw) is the
    # dataset prompts' alone, not a blend with synthetic traffic routed on other grounds.
    own = sorted(set(categories)) if set(categories) != {NO_CATEGORY} else []
    synthetic = categories == NO_CATEGORY
    apart = bool(own) and min(synthetic.sum(), (~synthetic).sum()) >= MIN_FIT_N
    general = ~synthetic if apart else pd.Series(True, index=ok.index)
    mixes = [_shares(ok["served"][general], ANY_CATEGORY)]
    for category in own:
        mine = categories == category
        if mine.sum() >= MIN_FIT_N:
            mixes.append(_shares(ok["served"][mine], category))
    for category in [ANY_CATEGORY, *own]:
        mine = categories == category if category != ANY_CATEGORY else general
        counts = bands[mine].value_counts()
        seen = [b for b, _ in LENGTH_BANDS if counts.get(b, 0) >= MIN_FIT_N]
        if len(seen) < 2:
            continue
        for band in seen:
            mixes.append(_shares(ok["served"][mine & (bands == band)], f"{category}@{band}"))
    return ModeFit(mode, len(answered), fallbacks / len(answered), fallbacks, tuple(mixes))


def _limits_fit(summary: LimitsSummary) -> LimitsFit | None:
    per_min: dict[str, float | None] = {"requests": None, "tokens": None}
    kinds, evidence, n = [], [], 0
    for dimension, finding in summary.limiters.items():
        rate = finding.sustainable_per_min or finding.advertised_per_min
        if finding.kind == "none":
            rate = None  # no limit up to the probe's cap: the twin's plan is unlimited there
        advertised = finding.advertised_per_min
        if rate and advertised and abs(rate / advertised - 1) <= LIMIT_TOLERANCE:
            rate = advertised  # the gateway keeps its word within the probe's precision
        if dimension in per_min and rate:
            per_min[dimension] = float(rate)
        if finding.kind not in ("none", "unknown"):
            kinds.append(finding.kind)
        evidence.append(f"{dimension}: {finding.kind}; {finding.evidence}")
        n += finding.n
    if not any(per_min.values()):
        return None
    factor = 1.0
    checks = {found.check: found for found in summary.findings}
    honest = checks.get("Retry-After honest")
    recovery = checks.get("recovery time error")
    if recovery is not None and recovery.measured is not None:
        # A recovery error alone is not evidence of a lie: at small time scales the probe's
        # timers miss by half. Only when retries at the advertised time were judged wrong too
        # does the twin advertise a different time than it keeps.
        coarse = summary.time_scale is not None and summary.time_scale < SMALL_SCALE
        if honest is not None and honest.verdict == "fail" and not coarse:
            factor = 1.0 / max(1.0 + float(recovery.measured), 0.05)
        evidence.append(f"Retry-After: {recovery.detail}")
        if coarse:
            evidence.append(
                f"Retry-After kept honest: time scale {summary.time_scale:g} is too small for "
                "the probe's timers to judge it"
            )
    if honest is not None and honest.detail:
        evidence.append(f"Retry-After honest: {honest.verdict}; {honest.detail}")
    return LimitsFit(
        source_plan=summary.plan,
        requests_per_min=per_min["requests"],
        tokens_per_min=per_min["tokens"],
        limiter=kinds[0] if kinds else None,
        retry_after_factor=factor,
        n=n or summary.requests_sent,
        evidence=tuple(evidence),
    )


def _source(run: Run, part: Part, rows: int) -> SourceRun:
    target = part.manifest.get("target") or run.manifest.get("target") or {}
    where = "simulated (built-in emulator)" if target.get("simulated") else target.get("base_url")
    return SourceRun(run.run_id, part.kind, str(where), source_scale(part), rows)


def fit_runs(paths: Sequence[Path | str], catalog: Catalog | None = None) -> TwinFit:
    """Fit a twin to the run directories ``paths`` (load, eval, limits or experiment runs)."""
    if not paths:
        raise ConfigError("give at least one run directory", field="RUN")
    catalog = catalog or load_catalog()
    runs = [read_run(path) for path in paths]
    by_model: dict[str, _Samples] = {}
    auto: dict[str, list[pd.DataFrame]] = {}
    sources, limits, notes = [], None, []
    for run in runs:
        for part in run.parts:
            if part.kind == "limits" and part.limits is not None:
                limits = _limits_fit(part.limits) or limits
                sources.append(_source(run, part, part.limits.requests_sent))
                continue
            frame = _part_frame(part)
            sources.append(_source(run, part, len(frame)))
            if frame.empty:
                notes.append(f"{run.run_id}: {part.name} has no records past its warm-up")
                continue
            scale = source_scale(part)
            if scale < SMALL_SCALE:
                notes.append(
                    f"{run.run_id} ran the emulator at time scale {scale:g}: every delay shrank, "
                    "the client's own overhead did not, and it is fitted as the "
                    "gateway's; fit runs at a time scale of 0.25 or more"
                )
            for model, rows in frame.groupby("served", sort=True):
                samples = by_model.setdefault(str(model), _Samples())
                samples.arms.update(rows["arm"].astype(str))
                samples.frames.append(rows)
            for arm, rows in frame[frame["arm"].map(is_auto)].groupby("arm"):
                auto.setdefault(str(arm), []).append(rows[rows["status"] == "ok"])
    if not by_model and limits is None:
        raise ConfigError("no records to fit in these runs", source=str(paths[0]))
    models = tuple(
        _model_fit(name, pd.concat(s.frames, ignore_index=True), s.arms)
        for name, s in sorted(by_model.items())
    )
    modes = tuple(
        _mode_fit(mode, pd.concat(frames, ignore_index=True))
        for mode, frames in sorted(auto.items())
        if sum(len(f) for f in frames) >= MIN_FIT_N
    )
    unrouted = sorted(set(catalog.models) - {m.model for m in models})
    if unrouted:
        notes.append("never served in these runs, built-in figures kept: " + ", ".join(unrouted))
    return TwinFit(
        twin_of="+".join(dict.fromkeys(r.run_id for r in runs)),
        fitted_utc=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        runs=tuple(sources),
        models=models,
        modes=modes,
        limits=limits,
        notes=tuple(notes),
    )
