"""An experiment's checks before its first part: the model list, every part's arms, the cost.

* :func:`read_listing`: the target's ``/models``, read once for every part;
* :func:`check_experiment_arms`: every model a part sends to (``arms``, an evaluation's
  ``judge``, a probe's ``model``) against that list, refused as one line naming the experiment
  file, the line and the field (``allow_unlisted_models = true`` in ``[target]``: a warning);
* :func:`estimate_total`: every part's estimate (:mod:`auraon_bench.prices.estimate`) as one
  upper bound with its basis, shown and confirmed once against a real target.

The options each part runs with are built here too (:func:`part_eval_options`,
:func:`part_load_options`), so that what is estimated is exactly what is run.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from auraon_bench.client.http import MeasuringClient
from auraon_bench.client.listing import ModelListing
from auraon_bench.data.dataset import load_items
from auraon_bench.errors import ConfigError
from auraon_bench.eval.session import EvalOptions, eval_load_options, judge_requests
from auraon_bench.experiment.capacity_part import CapacityPart
from auraon_bench.experiment.fields import TomlText
from auraon_bench.experiment.schema import (
    EvalPart,
    Experiment,
    LimitsPart,
    LoadPart,
    TargetSettings,
)
from auraon_bench.limits.session import token_cap_cost
from auraon_bench.load.preflight import check_arms, estimate_load
from auraon_bench.load.session import LoadOptions, load_prompts
from auraon_bench.load.target import Target
from auraon_bench.prices.estimate import ArmEstimate, CostEstimate, combine, is_router
from auraon_bench.prices.table import PriceTable

if TYPE_CHECKING:
    from auraon_bench.experiment.runner import Part, PlannedPart


def part_eval_options(
    part: EvalPart,
    experiment: Experiment,
    seed: int,
    out: Path,
    listing: ModelListing | None = None,
) -> EvalOptions:
    return EvalOptions(
        datasets=part.datasets,
        items_per_dataset=part.items_per_dataset,
        arms=part.arms,
        repeat=part.repeat,
        concurrency=part.concurrency,
        max_tokens=part.max_tokens,
        reference=part.reference,
        seed=seed,
        out=out,
        timeouts=experiment.target.timeouts,
        max_cost_usd=experiment.target.max_cost_usd,
        judge=part.judge,
        prices_file=experiment.target.prices,
        allow_unlisted_models=experiment.target.allow_unlisted_models,
        listing=listing,
    )


def part_load_options(
    part: LoadPart,
    experiment: Experiment,
    seed: int,
    out: Path,
    listing: ModelListing | None = None,
) -> LoadOptions:
    return LoadOptions(
        arms=part.arms,
        spec=dataclasses.replace(part.spec, seed=seed),
        stream=part.stream,
        datasets=(part.dataset,) if part.dataset else (),
        items_per_dataset=part.items_per_dataset,
        input_tokens=part.input_tokens,
        output_tokens=part.output_tokens,
        tokenizer=part.tokenizer,
        turns=part.turns,
        think_time=part.think_time,
        shared_prefix_tokens=part.shared_prefix_tokens,
        prefix_groups=part.prefix_groups,
        repeat=part.repeat,
        retry=part.retry,
        timeouts=experiment.target.timeouts,
        max_cost_usd=experiment.target.max_cost_usd,
        out=out,
        workers=part.workers,
        executor=part.executor,
        ray_address=os.environ.get("RAY_ADDRESS"),
        prices_file=experiment.target.prices,
        allow_unlisted_models=experiment.target.allow_unlisted_models,
        listing=listing,
        pin_output=part.pin_output,
    )


def estimate_total(
    experiment: Experiment,
    planned: Sequence[PlannedPart],
    prices: PriceTable,
    listing: ModelListing | None,
    *,
    emulator: bool = False,
) -> CostEstimate:
    """Every part's estimate, one upper bound (:mod:`auraon_bench.prices.estimate`), arms named
    ``part/arm``. ``ConfigError`` when a part's request count is open-ended: its cost could not
    be confirmed honestly."""
    estimates = []
    for item in planned:
        part, seed = item.part, experiment.seed + item.repetition - 1
        if isinstance(part, LimitsPart):
            estimates.append(_limits_estimate(item.name, part, prices))
            continue
        extra = None
        if isinstance(part, CapacityPart):
            load = _capacity_bound(part, experiment, seed)
        elif isinstance(part, EvalPart):
            options = part_eval_options(part, experiment, seed, Path("."))
            items = load_items(part.datasets, part.items_per_dataset, seed)
            load = eval_load_options(options, len(items))
            judge = judge_requests(options, items)
            extra = judge.demand if judge is not None else None
        else:
            load = part_load_options(part, experiment, seed, Path("."))
        prompts = load_prompts(load, simulated=False)  # what a real target is sent
        estimate = estimate_load(load, prompts, prices, listing, emulator=emulator, extra=extra)
        if estimate.requests is None:
            raise ConfigError(
                "cost cannot be estimated: the part has no request bound (set requests, "
                "or duration with a rate profile)",
                source=str(experiment.path),
                field=f"load.{item.part.name}",
            )
        arms = tuple(dataclasses.replace(a, arm=f"{item.name}/{a.arm}") for a in estimate.arms)
        estimates.append(dataclasses.replace(estimate, arms=arms))
    return combine(estimates)


def _capacity_bound(part: CapacityPart, experiment: Experiment, seed: int) -> LoadOptions:
    """A search's upper bound: every step of every arm at the ceiling rate (each step sized
    as the command sizes it)."""
    from auraon_bench.capacity.search import step_requests
    from auraon_bench.capacity.session import min_step_requests

    search = part.search
    per_step = step_requests(search.high, min_step_requests(search.slos, search.confidence),
                             search.min_step_s)  # fmt: skip
    load = part_load_options(part.workload, experiment, seed, Path("."))
    spec = dataclasses.replace(load.spec, rate=search.high, requests=per_step * search.max_steps)
    return dataclasses.replace(load, spec=spec)


def _limits_estimate(name: str, part: LimitsPart, prices: PriceTable) -> CostEstimate:
    """The probe's caps, priced: every token of its token cap (prompt + max_tokens of every
    attempt) at the dearer of the model's input and output rates."""
    quote = None if is_router(part.model) else prices.quote(part.model)
    arm = ArmEstimate(
        arm=f"{name}/{part.model}",
        requests=part.max_requests,
        prompt_tokens=part.max_tokens,
        output_tokens=0,
        usd=None if quote is None else token_cap_cost(part.max_tokens, quote.price),
        priced_as=quote.describe() if quote is not None else None,
        basis="the probe's token cap, each token at the dearer rate"
        if quote is not None
        else f"no price for {part.model!r} in {prices.source}",
    )
    return CostEstimate(requests=part.max_requests, arms=(arm,), price_source=prices.source)


def check_experiment_arms(
    experiment: Experiment, listing: ModelListing, base_url: str
) -> list[str]:
    """Every model the parts will send to, against the target's list: the warnings, or a
    ``ConfigError`` naming the experiment file, the line and the field of an unserved arm."""
    allow = experiment.target.allow_unlisted_models
    uses = [use for index, part in _indexed(experiment) for use in _models_of(part, index)]
    if not listing.checked:  # one warning for the whole run, naming every model sent unchecked
        return list(check_arms(listing, (m for *_, models in uses for m in models), allow).warnings)
    warnings: list[str] = []
    for table, index, key, models in uses:
        check = check_arms(listing, models, allow, base_url=base_url)
        if check.refused:
            line, field_name = _field_line(experiment, table, index, key)
            raise ConfigError(
                check.error(listing, "set allow_unlisted_models = true in [target]"),
                source=str(experiment.path),
                line=line,
                field=field_name,
            )
        warnings += check.warnings
    return list(dict.fromkeys(warnings))


def _indexed(experiment: Experiment) -> list[tuple[int | None, Part]]:
    loads = {id(part): i for i, part in enumerate(experiment.loads)}
    return [(loads.get(id(part)), part) for part in experiment.parts]


def _models_of(
    part: Part, index: int | None
) -> list[tuple[str, int | None, str, tuple[str, ...]]]:
    """(table, [[load]] index, key, models) of each field of ``part`` that names models."""
    if isinstance(part, LimitsPart):
        return [("limits", None, "model", (part.model,))]
    if isinstance(part, CapacityPart):
        return [("capacity", None, "arms", part.arms)]
    if isinstance(part, EvalPart):
        judge = [("eval", None, "judge", (part.judge,))] if part.judge else []
        return [("eval", None, "arms", part.arms), *judge]
    return [("load", index, "arms", part.arms)]


def _field_line(
    experiment: Experiment, table: str, index: int | None, key: str
) -> tuple[int | None, str]:
    """(line, field) where the user wrote ``key`` of a part: the part's own key, or the
    top-level ``arms`` it inherited."""
    text = TomlText(str(experiment.path), experiment.text)
    data = tomllib.loads(experiment.text).get(table, {})
    if index is not None:
        data = data[index]
    name = f"load.{data.get('name')}" if index is not None else table
    if key in data or key != "arms":
        return text.line_of(table, index, key), f"{name}.{key}"
    return text.line_of("", None, "arms"), "arms"


def read_listing(target: Target, settings: TargetSettings) -> ModelListing:
    """The target's model list, once for every part (a one-line ``TargetError`` when the
    target is unreachable or refuses the key)."""

    async def read() -> ModelListing:
        client = MeasuringClient(target.base_url, target.api_key, timeouts=settings.timeouts)
        async with client:
            return await client.list_models()

    return anyio.run(read)
