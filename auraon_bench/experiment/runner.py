"""Run an experiment: every part on one shared target, into one run directory.

::

    RUN_DIR/
        manifest.json       kind of run, the experiment file (content and sha256), parts, status
        summary.json        per part: status, headline figures; SLO verdicts; warnings
        eval/               a complete eval run directory (records, manifest, evaluation.json)
        <load part>/        a complete load run directory per [[load]] table
        report/             the report (see auraon_bench.report)

Parts run one after another, the evaluation first, on one target: the embedded emulator is
started once for all of them. With ``repetitions = N`` every part runs N times (directories
``<part>.r1`` ... ``<part>.rN``), each repetition's schedules seeded ``seed + r - 1``. An
interrupted part (Ctrl-C, SIGTERM: see :mod:`auraon_bench.load.session`) stops the experiment;
what was measured is kept and the report still written, labelled incomplete. A Ctrl-C between
parts, where no part's loop watches for it, ends the experiment at once, its manifest saying
``interrupted``.

Before the first part, once for all of them: the target's model list is read and every part's
arms (an evaluation's judge and a rate-limit probe's model too) are checked against it (see
:mod:`auraon_bench.load.preflight`; ``allow_unlisted_models = true`` in ``[target]`` turns a
refusal into a warning), and against a real target the total estimated cost, with its basis,
is shown and confirmed once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from auraon_bench.analysis.slo import SloVerdict, check_slos
from auraon_bench.capacity.session import CapacityRun, run_capacity
from auraon_bench.client.listing import ModelListing
from auraon_bench.emulator.launcher import DEMO_KEYS
from auraon_bench.errors import ConfigError
from auraon_bench.eval.session import EvalResult, run_eval
from auraon_bench.experiment.capacity_part import CapacityPart
from auraon_bench.experiment.preflight import (
    check_experiment_arms,
    estimate_total,
    part_eval_options,
    part_load_options,
    read_listing,
)
from auraon_bench.experiment.schema import EvalPart, Experiment, LimitsPart, LoadPart
from auraon_bench.experiment.summary import ExperimentSummary, PartHeadline
from auraon_bench.limits.prober import Caps
from auraon_bench.limits.session import LimitsOptions, LimitsResult, run_limits
from auraon_bench.load.preflight import UNCHECKED, confirm_text, price_table
from auraon_bench.load.session import LoadResult, run_load, write_json
from auraon_bench.load.target import Target, open_target
from auraon_bench.results.manifest import Manifest, new_run_dir

SUMMARY_FILE = "summary.json"
REPORT_DIR = "report"
Outcome = LoadResult | EvalResult | LimitsResult | CapacityRun
Part = EvalPart | LoadPart | CapacityPart | LimitsPart


@dataclass(frozen=True)
class PlannedPart:
    name: str  # the part's name, with ".rN" when repeated
    dir: str
    part: Part
    repetition: int

    @property
    def kind(self) -> str:
        return self.part.kind


@dataclass
class ExperimentResult:
    run_dir: Path
    status: str
    target: Target
    parts: list[tuple[PlannedPart, Outcome]] = field(default_factory=list)
    slo: list[SloVerdict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    report_files: list[Path] = field(default_factory=list)
    preflight: list[str] = field(default_factory=list)  # the model-list check's warnings


def plan_parts(experiment: Experiment) -> list[PlannedPart]:
    planned = []
    for repetition in range(1, experiment.repetitions + 1):
        for part in experiment.parts:
            name = part.name if experiment.repetitions == 1 else f"{part.name}.r{repetition}"
            planned.append(PlannedPart(name, name, part, repetition))
    return planned


def _part_target(target: Target, part: Part) -> Target:
    plan = getattr(part, "plan", None)
    if plan is None or not target.simulated:
        return target
    return dataclasses.replace(target, api_key=DEMO_KEYS[plan], plan=plan)


def run_experiment(
    experiment: Experiment,
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    out: Path | None = None,
    command: Sequence[str] = (),
    confirm: Callable[[str], bool] = lambda _: True,
    on_part: Callable[[PlannedPart, int, int], None] | None = None,
    on_start: Callable[..., None] | None = None,
    on_tick: Callable[..., None] | None = None,
    write_report: Callable[[Path], list[Path]] | None = None,
    emulator_seed: int | None = None,
) -> ExperimentResult:
    """Run every part, write the manifest, summary and (via ``write_report``) the report.

    ``emulator_seed`` seeds the embedded emulator's randomness (latencies, answers) apart from
    the experiment's own seed (schedules, samples): two nights of the same file can then see two
    different draws of the same simulated gateway. Default: the experiment's seed."""
    planned = plan_parts(experiment)
    base_url = base_url or experiment.target.base_url
    settings = experiment.target
    with open_target(
        base_url,
        api_key,
        plan=settings.plan,
        time_scale=settings.time_scale,
        seed=experiment.seed if emulator_seed is None else emulator_seed,
        datasets=experiment.datasets,
        catalog=settings.catalog,
    ) as target:
        listing = read_listing(target, settings)
        preflight = check_experiment_arms(experiment, listing, target.base_url)
        estimate = None
        if not target.simulated:
            estimate = estimate_total(
                experiment,
                planned,
                price_table(settings.prices),
                listing,
                emulator=listing.emulator,
            )
            text = confirm_text(settings.max_cost_usd, target.base_url, estimate)
            if not confirm(f"{len(planned)} parts: {text}"):
                raise ConfigError("aborted before sending any request", field="--yes")
        run_id, run_dir = new_run_dir(out, experiment.output.dir)
        manifest = Manifest.create(
            run_dir,
            run_id,
            list(command),
            target={**target.describe(), "models": listing.describe()},
            status="running",
            warnings=preflight,
            cost={"estimate": estimate.to_dict() if estimate is not None else None},
            experiment={
                **experiment.describe(),
                "emulator_seed": experiment.seed if emulator_seed is None else emulator_seed,
            },
            parts=[{"name": p.name, "kind": p.kind, "dir": p.dir} for p in planned],
        )
        result = ExperimentResult(run_dir, "running", target, preflight=preflight)
        try:
            for index, item in enumerate(planned):
                if on_part:
                    on_part(item, index, len(planned))
                outcome = _run_part(experiment, item, _part_target(target, item.part), run_dir,
                                    on_start, on_tick, listing)  # fmt: skip
                result.parts.append((item, outcome))
                if _status_of(outcome) == "interrupted":
                    break
        except BaseException as exc:
            manifest.update(status="interrupted" if _is_interrupt(exc) else "failed")
            raise
    statuses = [_status_of(o) for _, o in result.parts]
    complete = len(result.parts) == len(planned) and all(s == "complete" for s in statuses)
    result.status = "complete" if complete else "interrupted"
    result.slo = _slo_verdicts(experiment, result.parts)
    result.warnings = _warnings(result)
    manifest.update(
        status=result.status,
        warnings=result.warnings,
        counts={"parts": len(planned), "parts_run": len(result.parts)},
    )
    write_json(run_dir / SUMMARY_FILE, _summary(experiment, result).to_dict())
    if write_report is not None and experiment.output.report:
        result.report_files = write_report(run_dir)
    return result


def _run_part(
    experiment: Experiment,
    item: PlannedPart,
    target: Target,
    run_dir: Path,
    on_start: Callable[..., None] | None,
    on_tick: Callable[..., None] | None,
    listing: ModelListing | None = None,
) -> Outcome:
    seed = experiment.seed + item.repetition - 1
    out = run_dir / item.dir
    hooks = {"on_start": on_start, "on_tick": on_tick, "target": target}
    if isinstance(item.part, LimitsPart):
        part = item.part
        options = LimitsOptions(
            model=part.model,
            plan_hint=part.plan_hint,
            dimensions=part.dimensions,
            caps=Caps(part.max_requests, part.max_tokens, part.max_duration),
            timeouts=experiment.target.timeouts,
            out=out,
            # Checked with every part's arms before the first part started.
            allow_unlisted_models=True,
        )
        return run_limits(options, target=target)
    if isinstance(item.part, CapacityPart):
        load = part_load_options(item.part.workload, experiment, seed, out, listing)
        load = dataclasses.replace(load, allow_unlisted_models=True)  # checked before
        options = item.part.options(load, experiment.target.catalog)
        return run_capacity(options, target=target)[1]
    if isinstance(item.part, EvalPart):
        return run_eval(part_eval_options(item.part, experiment, seed, out, listing), **hooks)
    return run_load(part_load_options(item.part, experiment, seed, out, listing), **hooks)


def _load_of(outcome: LoadResult | EvalResult) -> LoadResult:
    return outcome.load if isinstance(outcome, EvalResult) else outcome


def _status_of(outcome: Outcome) -> str:
    # A probe stopped by its own caps has finished its part: its status says "complete".
    if isinstance(outcome, LimitsResult | CapacityRun):
        return outcome.status
    return _load_of(outcome).status


def _is_interrupt(exc: BaseException) -> bool:
    """Ctrl-C (or SIGTERM, which the CLI raises as one), alone or inside a task group's group."""
    if isinstance(exc, BaseExceptionGroup):
        return exc.subgroup(KeyboardInterrupt) is not None
    return isinstance(exc, KeyboardInterrupt)


def _slo_verdicts(
    experiment: Experiment, parts: Sequence[tuple[PlannedPart, Outcome]]
) -> list[SloVerdict]:
    verdicts: list[SloVerdict] = []
    if not experiment.slos:
        return verdicts
    for item, outcome in parts:
        if isinstance(outcome, LimitsResult | CapacityRun):
            continue  # a probe provokes 429s on purpose; a search judges its own steps
        arms = {str(a.arm): a for a in _load_of(outcome).summary.arms}
        accuracy = None
        if isinstance(outcome, EvalResult):
            accuracy = {str(row.arm): row for row in outcome.report.accuracy.rows}
        verdicts += check_slos(experiment.slos, item.name, arms, accuracy)
    return verdicts


def _warnings(result: ExperimentResult) -> list[str]:
    # The model-list check ran once for every part: its warnings once, not once per part.
    warnings = dict.fromkeys(result.preflight)
    unchecked = any(w.startswith(UNCHECKED) for w in result.preflight)
    warnings.update(
        dict.fromkeys(
            f"{item.name}: {w}" if not w.startswith("SIMULATED") else w
            for item, outcome in result.parts
            if isinstance(outcome, LoadResult | EvalResult)
            for w in _load_of(outcome).warnings
            if w not in warnings and not (w.startswith(UNCHECKED) and unchecked)
        )
    )
    failed = [v for v in result.slo if v.verdict == "fail"]
    if failed:
        warnings[
            f"SLO MISSED: {len(failed)} of {len(result.slo)} checks failed "
            f"({', '.join(sorted({f'{v.part}/{v.arm}' for v in failed}))})"
        ] = None
    if result.status != "complete":
        warnings["INCOMPLETE RUN: stopped before every part finished"] = None
    return list(warnings)


def _summary(experiment: Experiment, result: ExperimentResult) -> ExperimentSummary:
    parts = {}
    for item, outcome in result.parts:
        if isinstance(outcome, LimitsResult):
            verdicts = [f.verdict for f in outcome.findings]
            parts[item.name] = PartHeadline(
                kind=item.kind,
                dir=item.dir,
                status=outcome.status,
                requests=outcome.requests,
                plan=outcome.plan,
                findings={v: verdicts.count(v) for v in ("pass", "fail", "unknown")},
                stop_reason=outcome.stop_reason,
            )
            continue
        if isinstance(outcome, CapacityRun):
            parts[item.name] = PartHeadline(
                kind=item.kind,
                dir=item.dir,
                status=outcome.status,
                requests=sum(s.requests for r in outcome.results for s in r.steps),
                capacity={r.arm: r.capacity for r in outcome.results},
                stop_reason="; ".join(f"{r.arm}: {r.stop_reason}" for r in outcome.results),
            )
            continue
        load = _load_of(outcome)
        overall = load.summary.overall
        parts[item.name] = PartHeadline(
            kind=item.kind,
            dir=item.dir,
            status=load.status,
            requests=overall.requests,
            ok=overall.ok,
            rate_limited=overall.errors.rate_limited,
            cancelled=overall.errors.cancelled,
            cost_usd=overall.cost.total_usd,
            client_bound=load.self_check.get("client_bound"),
            accuracy={r.arm: r.accuracy for r in outcome.report.accuracy.rows}
            if isinstance(outcome, EvalResult)
            else None,
        )
    return ExperimentSummary(
        experiment=experiment.name,
        sha256=experiment.sha256,
        simulated=result.target.simulated,
        status=result.status,
        parts=parts,
        slo=tuple(v.result() for v in result.slo),
        warnings=tuple(result.warnings),
    )
