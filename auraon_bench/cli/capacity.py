"""``auraon-bench capacity``: the highest arrival rate at which every SLO holds, per arm."""

from __future__ import annotations

import sys
from typing import Any

import click

from auraon_bench.cli.exports import export_options, exporting, pop_exports
from auraon_bench.cli.options import FiniteFloatRange, LengthParam, target_options


def _slos(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> Any:
    from auraon_bench.analysis.slo import parse_slo_expression

    try:
        return tuple(parse_slo_expression(v) for v in values)
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx, param) from None


def _traffic(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    from auraon_bench.capacity.plans import parse_traffic

    if value is None:
        return None
    try:
        return parse_traffic(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx, param) from None


@click.command(name="capacity")
@target_options
@click.option(
    "--model",
    "models",
    multiple=True,
    default=("auto",),
    show_default=True,
    help="Arm to search; repeat for several (searched one after another).",
)
@click.option(
    "--slo",
    "slos",
    multiple=True,
    required=True,
    callback=_slos,
    help="Objective every step must meet; repeat: ttft_p95<=800ms, latency_p99<=10s, "
    "error_rate<=1%, rate_limited<=0.5%, cost_per_1k<=$2.",
)
@click.option(
    "--min-rate",
    type=FiniteFloatRange(min=0, min_open=True),
    default=1.0,
    show_default=True,
    help="First rate offered (requests/s).",
)
@click.option(
    "--max-rate",
    type=FiniteFloatRange(min=0, min_open=True),
    default=200.0,
    show_default=True,
    help="Ceiling of the search (requests/s).",
)
@click.option(
    "--factor",
    type=FiniteFloatRange(min=1, min_open=True),
    default=2.0,
    show_default=True,
    help="The ramp multiplies the rate by this until a step fails.",
)
@click.option(
    "--tolerance",
    type=FiniteFloatRange(min=0, max=1, min_open=True, max_open=True),
    default=0.1,
    show_default=True,
    help="Bisect until the bracket is this share of its lower end.",
)
@click.option(
    "--confidence",
    type=FiniteFloatRange(min=0.5, max=1, max_open=True),
    default=0.95,
    show_default=True,
    help="Each step is long enough to bound its tail percentile at this confidence.",
)
@click.option(
    "--min-step-seconds",
    type=FiniteFloatRange(min=0),
    default=10.0,
    show_default=True,
    help="Each step offers at least this long of arrivals.",
)
@click.option(
    "--max-steps",
    type=click.IntRange(min=1),
    default=16,
    show_default=True,
    help="Steps per arm, at most.",
)
@click.option(
    "--rest",
    type=FiniteFloatRange(min=0),
    default=None,
    help="Seconds to pause between steps [default: a minute of the gateway's time after a "
    "step that met 429s or ran above the key's limit, else none].",
)
@click.option(
    "--arrivals",
    type=click.Choice(["poisson", "constant"]),
    default="poisson",
    show_default=True,
    help="Arrival process of every step (seeded).",
)
@click.option(
    "--input-tokens",
    type=LengthParam(),
    default=128,
    show_default=True,
    help="Synthetic prompt length (a number or a distribution, as for load).",
)
@click.option(
    "--output-tokens",
    type=LengthParam(),
    default=64,
    show_default=True,
    help="max_tokens of each request (a number or a distribution).",
)
@click.option(
    "--pin-output/--no-pin-output",
    default=None,
    help="Ask for exactly --output-tokens tokens (ignore_eos, which vLLM and the emulator "
    "honour). Default: on for the embedded emulator only.",
)
@click.option(
    "--dataset",
    type=click.Path(dir_okay=False),
    default=None,
    help="Prompts from a dataset instead of synthetic ones.",
)
@click.option("--stream/--no-stream", default=True, show_default=True)
@click.option(
    "--max-cost",
    type=FiniteFloatRange(min=0, min_open=True),
    default=None,
    help="Stop the search once its measured cost reaches this many USD.",
)
@click.option("--yes", is_flag=True, help="Do not ask before sending load to a real target.")
@click.option(
    "--allow-unlisted-models", is_flag=True, help="Send to arms the target's /models does not list."
)
@click.option(
    "--traffic",
    callback=_traffic,
    default=None,
    help="Your traffic (120/min, 2/s, 5000/h): the plan table's monthly cost and "
    "the cheapest plan that carries it with --headroom to spare.",
)
@click.option(
    "--headroom",
    type=FiniteFloatRange(min=0, max=10),
    default=0.3,
    show_default=True,
    help="Share of spare capacity a plan must keep above --traffic.",
)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default=None,
    help="Run directory (default: results/<run id>).",
)
@export_options
def capacity_command(**flags: Any) -> None:
    """Find, per arm, the highest arrival rate at which every SLO holds.

    A geometric ramp from --min-rate brackets the knee, then bisection narrows it; each step is
    an ordinary load run (Poisson arrivals, long enough for the tail it judges) kept under
    OUT/steps/, and a step whose client could not keep its schedule is void, not a pass. The
    result (bracket, binding SLO, every step's goodput) goes to OUT/capacity.json.
    """
    from pathlib import Path

    from auraon_bench.capacity.session import CapacityOptions, SearchSettings, run_capacity
    from auraon_bench.cli.capacity_view import print_capacity, print_capacity_step
    from auraon_bench.cli.render import confirm_real_target
    from auraon_bench.load.arrivals import ScheduleSpec
    from auraon_bench.load.session import LoadOptions

    exports = pop_exports(flags)
    if flags["min_rate"] > flags["max_rate"]:
        raise click.BadParameter("is above --max-rate", param_hint="--min-rate")
    streamed_only = [s.key for s in flags["slos"] if s.metric in ("ttft", "tpot", "itl")]
    if streamed_only and not flags["stream"]:
        raise click.BadParameter(
            f"{streamed_only[0]} is measured on streamed answers only: drop --no-stream",
            param_hint="--slo",
        )
    load = LoadOptions(
        arms=tuple(dict.fromkeys(flags["models"])),
        spec=ScheduleSpec(profile="constant", rate=1.0, requests=1, seed=flags["seed"]),
        stream=flags["stream"],
        datasets=(flags["dataset"],) if flags["dataset"] else (),
        input_tokens=flags["input_tokens"],
        output_tokens=flags["output_tokens"],
        pin_output=flags["pin_output"],
        max_cost_usd=flags["max_cost"],
        out=Path(flags["out"]) if flags["out"] else None,
        base_url=flags["base_url"],
        api_key=flags["api_key"],
        plan=flags["plan"],
        time_scale=flags["time_scale"],
        command=sys.argv,
        allow_unlisted_models=flags["allow_unlisted_models"],
    )
    search = SearchSettings(
        slos=flags["slos"],
        low=flags["min_rate"],
        high=flags["max_rate"],
        factor=flags["factor"],
        tolerance=flags["tolerance"],
        confidence=flags["confidence"],
        min_step_s=flags["min_step_seconds"],
        max_steps=flags["max_steps"],
        arrivals=flags["arrivals"],
        traffic_rps=flags["traffic"],
        headroom=flags["headroom"],
        rest_s=flags["rest"],
    )
    options = CapacityOptions(search, load, catalog=flags["catalog"])
    with exporting(**exports):
        out, run = run_capacity(
            options, confirm=confirm_real_target(flags["yes"]), on_step=print_capacity_step
        )
    print_capacity(run, out)
    sys.exit(130 if run.status == "interrupted" else 0)
