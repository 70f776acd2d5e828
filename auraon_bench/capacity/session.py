"""``auraon-bench capacity`` from options to ``capacity.json``: the library side.

One target for the whole search (the embedded emulator is started once). For each arm, the
search of :mod:`auraon_bench.capacity.search` proposes a rate; the step is an ordinary load run
(:func:`~auraon_bench.load.session.run_load`: the same preflight, records, manifest, self-check
and summary) into ``OUT/steps/<arm>-<k>``, judged by :mod:`auraon_bench.capacity.steps`. The money
guard confirms the first step's estimate; ``max_cost_usd`` bounds the whole search (each step
gets what is left of it). Ctrl-C ends the step under way (its records kept) and the search.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import orjson

from auraon_bench.analysis.load_summary import summarize_arm
from auraon_bench.analysis.plan_fit import documented_plans
from auraon_bench.analysis.slo import Slo
from auraon_bench.capacity.plans import (
    DEFAULT_HEADROOM,
    KeyLimits,
    PlanTable,
    key_bound,
    key_limits,
    plan_table,
)
from auraon_bench.capacity.search import CapacitySearch, required_requests, step_requests
from auraon_bench.capacity.steps import (
    CapacityResult,
    CapacityStep,
    against_key,
    judge_step,
    per_request_slos,
    with_quality,
)
from auraon_bench.data.dataset import PromptItem, load_items
from auraon_bench.errors import AuraonBenchError, ConfigError
from auraon_bench.eval.grading import write_grades
from auraon_bench.eval.session import grade_answers
from auraon_bench.load.arrivals import ScheduleSpec
from auraon_bench.load.session import LoadOptions, LoadResult, run_load
from auraon_bench.load.target import Target, open_target
from auraon_bench.results.labels import simulated_label
from auraon_bench.results.manifest import new_run_dir
from auraon_bench.results.reader import read_records
from auraon_bench.results.typed import read_typed_file

CAPACITY_FILE = "capacity.json"
SCHEMA_VERSION = 1
ARRIVALS = ("poisson", "constant")


@dataclass(frozen=True)
class SearchSettings:
    """How to search: the SLOs, the rates, step sizes and the plan table's traffic."""

    slos: tuple[Slo, ...]
    low: float = 1.0
    high: float = 200.0
    factor: float = 2.0
    tolerance: float = 0.1
    confidence: float = 0.95
    min_step_s: float = 10.0
    max_steps: int = 16
    arrivals: str = "poisson"
    traffic_rps: float | None = None  # the user's traffic, for the plan table's money
    headroom: float = DEFAULT_HEADROOM
    rest_s: float | None = None  # pause before a step; None: one limiter window after pressure


@dataclass(frozen=True)
class CapacityOptions:
    search: SearchSettings
    load: LoadOptions  # the workload: arms, prompts, lengths, target; its spec is replaced
    catalog: str | None = None  # embedded emulator only: a catalog overlay


@dataclass(frozen=True)
class CapacityRun:
    """``capacity.json``: what was asked, and per arm the search's result with every step."""

    slos: tuple[str, ...]  # as described, e.g. "ttft p95 <= 800 ms"
    arrivals: str
    min_requests: int  # per step, from the tightest percentile and the confidence
    confidence: float
    simulated: bool
    status: str  # complete, interrupted, failed (a step could not run; its error is raised)
    results: tuple[CapacityResult, ...]
    schema_version: int = SCHEMA_VERSION
    options: dict[str, Any] = field(default_factory=dict)
    time_scale: float = 1.0  # the emulator's: a run's rate x time_scale is the gateway's rate
    twin_of: str | None = None  # the emulator ran a twin fitted to this run

    @property
    def simulated_label(self) -> str:
        return simulated_label(self.twin_of)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "slos": list(self.slos),
            "arrivals": self.arrivals,
            "min_requests": self.min_requests,
            "confidence": self.confidence,
            "simulated": self.simulated,
            "twin_of": self.twin_of,
            "time_scale": self.time_scale,
            "status": self.status,
            "options": self.options,
            "results": [r.to_dict() for r in self.results],
        }


def read_capacity(path: Path | str) -> CapacityRun:
    """A ``capacity.json`` (or the run directory holding one) as its typed object."""
    return read_typed_file(CapacityRun, path, CAPACITY_FILE)


# The settings capacity.json keeps under "options" (the report's "what was searched" reads them).
_RECORDED = ("low", "high", "factor", "tolerance", "min_step_s", "max_steps", "traffic_rps",
             "headroom", "rest_s")  # fmt: skip


def min_step_requests(slos: tuple[Slo, ...], confidence: float) -> int:
    """Requests a step needs for the tightest percentile any SLO judges (100 at least)."""
    percentiles = [s.percentile for s in slos if s.percentile is not None]
    return max([100, *(required_requests(p, confidence) for p in percentiles)])


def run_capacity(
    options: CapacityOptions,
    *,
    confirm: Callable[[str], bool] = lambda _: True,
    on_step: Callable[[CapacityStep], None] | None = None,
    target: Target | None = None,
) -> tuple[Path, CapacityRun]:
    """Search every arm; write and return ``capacity.json``. Blocking."""
    if options.search.arrivals not in ARRIVALS:
        raise ConfigError(f"arrivals must be one of {', '.join(ARRIVALS)}", field="--arrivals")
    if not options.search.slos:
        raise ConfigError("a capacity search needs at least one SLO", field="--slo")
    load = options.load
    _, out = new_run_dir(load.out, load.results_dir)  # refuses a directory holding files
    with _target(options, target) as opened:
        results, status, failure = _search_all(options, opened, out, confirm, on_step)
    settings = options.search
    run = CapacityRun(
        slos=tuple(s.describe() for s in settings.slos),
        arrivals=settings.arrivals,
        min_requests=min_step_requests(settings.slos, settings.confidence),
        confidence=settings.confidence,
        simulated=opened.simulated,
        twin_of=opened.twin_of,
        time_scale=_scale(opened),
        status=status,
        results=tuple(results),
        options={
            **{k: getattr(settings, k) for k in _RECORDED},
            "arms": list(load.arms),
            "slo_keys": [s.key for s in settings.slos],
            "thresholds": [s.threshold for s in settings.slos],
        },
    )
    (out / CAPACITY_FILE).write_bytes(orjson.dumps(run.to_dict(), option=orjson.OPT_INDENT_2))
    if failure is not None:  # written first: what was measured is kept
        raise failure
    return out, run


@contextlib.contextmanager
def _target(options: CapacityOptions, target: Target | None) -> Iterator[Target]:
    if target is not None:
        yield target
        return
    load = options.load
    with open_target(
        load.base_url,
        load.api_key,
        plan=load.plan,
        time_scale=load.time_scale,
        seed=load.spec.seed,
        datasets=load.datasets,
        catalog=options.catalog,
    ) as opened:
        yield opened


def _search_all(
    options: CapacityOptions,
    target: Target,
    out: Path,
    confirm: Callable[[str], bool],
    on_step: Callable[[CapacityStep], None] | None,
) -> tuple[list[CapacityResult], str, AuraonBenchError | None]:
    results: list[CapacityResult] = []
    spent = 0.0
    confirmed = False
    load, settings = options.load, options.search
    items = (
        {i.id: i for i in load_items(load.datasets, load.items_per_dataset, load.spec.seed)}
        if load.datasets
        else {}
    )
    for arm in options.load.arms:
        search = CapacitySearch(
            settings.low, settings.high, settings.factor, settings.tolerance, settings.max_steps
        )
        steps: list[CapacityStep] = []
        limits: KeyLimits | None = None
        interrupted = False
        failure: AuraonBenchError | None = None
        while (rate := search.next_rate()) is not None:
            budget = options.load.max_cost_usd
            if budget is not None and spent >= budget:
                search.stop_reason = f"the money guard's ${budget:g} is spent"
                break
            if not _rest(options, steps, _scale(target)):
                interrupted = True
                search.stop_reason = "interrupted"
                break
            step_dir = out / "steps" / f"{_safe(arm)}-{len(steps) + 1:02d}"
            try:
                result = _run_step(options, target, arm, rate, step_dir, len(steps), spent,
                                   confirm if not confirmed else (lambda _: True))  # fmt: skip
            except AuraonBenchError as exc:
                if not steps and not results:
                    raise  # nothing measured yet: the error alone says it
                failure = exc  # the steps measured so far are kept in capacity.json
                search.stop_reason = f"a step could not run: {exc}"
                break
            confirmed = True
            spent += result.summary.overall.cost.total_usd or 0.0
            step, limits = _judge(options, arm, rate, result, step_dir, items, limits,
                                  _scale(target))  # fmt: skip
            steps.append(step)
            if on_step is not None:
                on_step(step)
            if result.status == "interrupted":
                interrupted = True
                search.stop_reason = "interrupted"
                break
            search.record(rate, step.verdict)
        failing = [s for s in steps if s.verdict == "fail" and s.rate == search.failed]
        results.append(
            CapacityResult(
                arm=arm,
                capacity=search.passed,
                first_failing=search.failed,
                binding=failing[0].binding if failing else None,
                stop_reason=search.stop_reason or "",
                client_bound_at=search.void,
                steps=tuple(steps),
                plans=_plans(options, arm, search.passed, steps, limits, _scale(target)),
                key_limits=limits,
            )
        )
        if interrupted:
            return results, "interrupted", None
        if failure is not None:
            return results, "failed", failure
    return results, "complete", None


def _run_step(
    options: CapacityOptions,
    target: Target,
    arm: str,
    rate: float,
    step_dir: Path,
    index: int,
    spent: float,
    confirm: Callable[[str], bool],
) -> LoadResult:
    load = options.load
    n = step_requests(rate, min_step_requests(options.search.slos, options.search.confidence),
                      options.search.min_step_s)  # fmt: skip
    spec = ScheduleSpec(
        profile=options.search.arrivals, rate=rate, requests=n, seed=load.spec.seed + index
    )
    budget = None if load.max_cost_usd is None else max(load.max_cost_usd - spent, 0.0)
    step = replace(
        load,
        arms=(arm,),
        spec=spec,
        out=step_dir,
        max_cost_usd=budget,
        keep_text=load.keep_text or bool(load.datasets),  # graded answers need their text
    )
    return run_load(step, confirm=confirm, target=target)


def _judge(
    options: CapacityOptions,
    arm: str,
    rate: float,
    result: LoadResult,
    step_dir: Path,
    items: dict[str, PromptItem],
    known: KeyLimits | None,
    time_scale: float,
) -> tuple[CapacityStep, KeyLimits | None]:
    """The step judged, and the key's limits as known after it (its own headers, else the
    earlier steps')."""
    records = read_records(step_dir)
    limits = per_request_slos(options.search.slos)
    summary = summarize_arm(records, limits, arm=arm)
    kept = bool(result.self_check.get("kept_schedule", True))
    step = judge_step(arm, rate, summary, options.search.slos, kept, str(step_dir))
    known = key_limits(records) or known
    step = against_key(step, *key_bound(known, step.tokens_per_request, time_scale))
    if items:  # graded datasets: quality under load, the grades kept in the step's records
        grades = grade_answers(records, items)
        write_grades(step_dir, grades)
        records = records.assign(**{name: grades[name] for name in grades.columns})
    return with_quality(step, records, summary.window_s, limits), known


def _plans(
    options: CapacityOptions,
    arm: str,
    capacity: float | None,
    steps: list[CapacityStep],
    key: KeyLimits | None,
    time_scale: float,
) -> PlanTable:
    """The key's own plan (when its headers stated one) and every documented plan, for the
    workload of the highest passing step (or the last), in the gateway's time."""
    passing = [s for s in steps if s.verdict == "pass" and s.rate == capacity]
    basis = passing[0] if passing else (steps[-1] if steps else None)
    plans = documented_plans()
    if key is not None:
        plans = (key.plan(), *plans)
    return plan_table(
        arm,
        None if capacity is None else capacity * time_scale,
        basis.tokens_per_request if basis else None,
        basis.cost_per_request_usd if basis else None,
        plans,
        options.search.traffic_rps,
        options.search.headroom,
        at_ceiling=capacity is not None and capacity >= options.search.high,
        key_bound=any(s.key_bound_rps is not None and s.rate > s.key_bound_rps for s in steps),
    )


LIMITER_WINDOW_S = 60.0  # plans are per minute: a minute's rest refills any bucket or window


def rest_before(rest_s: float | None, previous: CapacityStep | None, time_scale: float) -> float:
    """Seconds to pause before the next step. Rate-limit state outlives a step: a step that met
    429s or ran above the key's limit leaves its bucket drained, and the next step would pay
    for it. ``None`` (auto): one limiter window (a minute of the gateway's time) after such a
    step, else none; a number: that pause before every step but the first."""
    if previous is None:
        return 0.0
    if rest_s is not None:
        return rest_s
    pressed = bool(previous.rate_limited_rate) or (
        previous.key_bound_rps is not None and previous.rate > previous.key_bound_rps
    )
    return LIMITER_WINDOW_S * time_scale if pressed else 0.0


def _rest(options: CapacityOptions, steps: list[CapacityStep], time_scale: float) -> bool:
    """Pause as :func:`rest_before` says; False when Ctrl-C ended the pause."""
    pause = rest_before(options.search.rest_s, steps[-1] if steps else None, time_scale)
    try:
        time.sleep(pause)
    except KeyboardInterrupt:
        return False
    return True


def _scale(target: Target) -> float:
    """The emulator's time scale (1 for a real gateway, and for an instant emulator, whose
    rates have no simulated counterpart)."""
    return target.time_scale if target.simulated and target.time_scale else 1.0


def _safe(arm: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", arm)
