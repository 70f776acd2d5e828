"""The ``[capacity]`` part of an experiment file: ``auraon-bench capacity`` as one of its parts.

::

    [capacity]
    arms = ["auto", "gpt-4o"]              # default: the experiment's arms
    slo = ["ttft_p95<=800ms", "error_rate<=1%"]   # default: the experiment's [slo] table
    min_rate = 1.0                          # the search, as the command's flags
    max_rate = 200.0
    factor = 2.0
    tolerance = 0.1
    confidence = 0.95
    min_step_seconds = 10.0
    max_steps = 16
    arrivals = "poisson"
    rest = 5.0                              # default: a limiter window after 429 pressure
    traffic = "120/min"                     # the plan table's money
    headroom = 0.3
    # the workload, as a [[load]] part's keys
    dataset = "../datasets/math.jsonl"
    input_tokens = 128
    output_tokens = 64
    stream = true
    tokenizer = "o200k_base"
    pin_output = false                      # default: pinned on the embedded emulator only
    plan = "starter"                        # emulator only: the part's demo key

The part runs after the loads and before a ``[limits]`` probe (which leaves the key's budget
empty). Its directory holds ``capacity.json`` and ``steps/``, as the command writes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from auraon_bench.analysis.slo import Slo, parse_slo_expression
from auraon_bench.capacity.plans import DEFAULT_HEADROOM, parse_traffic
from auraon_bench.capacity.session import ARRIVALS, CapacityOptions, SearchSettings
from auraon_bench.data.tokenizers import DEFAULT_ENCODING, ENCODINGS
from auraon_bench.experiment.fields import Fields, at_least, non_empty, positive
from auraon_bench.load.arrivals import ScheduleSpec

if TYPE_CHECKING:
    from auraon_bench.experiment.schema import LoadPart, TargetSettings
    from auraon_bench.load.session import LoadOptions

STREAMED_ONLY = ("ttft", "tpot", "itl")


@dataclass(frozen=True)
class CapacityPart:
    workload: LoadPart  # arms, prompts, lengths, streaming; its schedule is the search's
    search: SearchSettings
    name: str = "capacity"
    kind: str = "capacity"

    @property
    def arms(self) -> tuple[str, ...]:
        return self.workload.arms

    @property
    def plan(self) -> str | None:
        return self.workload.plan

    def options(self, load: LoadOptions, catalog: str | None) -> CapacityOptions:
        """The command's options, around ``load`` (the workload's options)."""
        return CapacityOptions(self.search, load, catalog)


def read_capacity_part(
    reader: Any,  # the experiment file's reader (lengths and files relative to the file)
    table: Any,
    arms: tuple[str, ...],
    target: TargetSettings,
    experiment_slos: tuple[Slo, ...],
) -> CapacityPart | None:
    """The ``[capacity]`` table, checked; ``ConfigError`` naming the file, line and key."""
    from auraon_bench.experiment.schema import PLANS, LoadPart

    if table is None:
        return None
    f = Fields(table, reader.text, "capacity", table_name="capacity")
    slos = _slos(f, experiment_slos)
    stream = f.get("stream", "bool", True)
    streamed = [s.key for s in slos if s.metric in STREAMED_ONLY]
    if streamed and not stream:
        f.fail("stream", f"{streamed[0]} is measured on streamed answers only")
    plan = f.choice("plan", PLANS)
    if plan is not None and target.base_url:
        f.fail("plan", "picks an emulator demo key; a real target's key has its own plan")
    dataset = f.get("dataset", "str")
    workload = LoadPart(
        name="capacity",
        arms=reader.arms_of(f, arms),
        spec=ScheduleSpec(profile="constant", rate=1.0, requests=1),  # each step replaces it
        stream=stream,
        dataset=reader.file(f, "dataset", dataset) if dataset else None,
        items_per_dataset=f.get("items_per_dataset", "int", check=at_least(1)),
        input_tokens=reader.length(f, "input_tokens", 128),
        output_tokens=reader.length(f, "output_tokens", 64),
        tokenizer=f.choice("tokenizer", ENCODINGS, DEFAULT_ENCODING),
        plan=plan,
        pin_output=f.get("pin_output", "bool"),
    )
    low = f.get("min_rate", "float", 1.0, check=positive)
    high = f.get("max_rate", "float", 200.0, check=positive)
    if low > high:
        f.fail("min_rate", f"{low:g} is above max_rate ({high:g})")
    traffic = f.get("traffic", "str")
    try:
        traffic_rps = None if traffic is None else parse_traffic(traffic)
    except ValueError as exc:
        f.fail("traffic", str(exc))
    search = SearchSettings(
        slos=slos,
        low=low,
        high=high,
        factor=f.get("factor", "float", 2.0, check=_above_one),
        tolerance=f.get("tolerance", "float", 0.1, check=_share),
        confidence=f.get("confidence", "float", 0.95, check=_confidence),
        min_step_s=f.get("min_step_seconds", "float", 10.0, check=at_least(0)),
        max_steps=f.get("max_steps", "int", 16, check=at_least(1)),
        arrivals=f.choice("arrivals", ARRIVALS, "poisson"),
        rest_s=f.get("rest", "float", check=at_least(0)),
        traffic_rps=traffic_rps,
        headroom=f.get("headroom", "float", DEFAULT_HEADROOM, check=at_least(0)),
    )
    f.done()
    return CapacityPart(workload, search)


def _slos(f: Fields, experiment_slos: tuple[Slo, ...]) -> tuple[Slo, ...]:
    texts = f.get("slo", "list[str]", check=non_empty)
    if texts is None:
        if not experiment_slos:
            f.fail("slo", "a capacity search needs SLOs: set slo = [...] or an [slo] table")
        return experiment_slos
    slos = []
    for text in texts:
        try:
            slos.append(parse_slo_expression(text))
        except ValueError as exc:
            f.fail("slo", str(exc))
    return tuple(slos)


def _above_one(value: float) -> str | None:
    return None if 1 < value < float("inf") else "must be a finite number > 1"


def _share(value: float) -> str | None:
    return None if 0 < value < 1 else "must be between 0 and 1"


def _confidence(value: float) -> str | None:
    return None if 0.5 <= value < 1 else "must be at least 0.5 and below 1"
