"""``auraon-bench load``: an ad-hoc load test against a target (the emulator by default)."""

from __future__ import annotations

import sys
from typing import Any

import click

from auraon_bench.cli.options import load_options, parse_sweep, read_trace, target_options
from auraon_bench.cli.render import print_run_summary, run_with_live_line
from auraon_bench.client.http import Timeouts
from auraon_bench.errors import ConfigError
from auraon_bench.load.arrivals import ScheduleSpec, Stage
from auraon_bench.load.retry import RetryPolicy
from auraon_bench.load.session import LoadOptions, run_load

# ScheduleSpec field -> the flag a user typed, for one-line errors.
FLAG_FOR_FIELD = {
    "profile": "--profile",
    "rate": "--rate",
    "concurrency": "--concurrency",
    "requests": "--requests",
    "duration": "--duration",
    "burstiness": "--burstiness",
    "ramp_to": "--ramp-to",
    "stages": "--sweep",
    "trace": "--trace",
    "warmup_requests": "--warmup-requests",
    "warmup_seconds": "--warmup-seconds",
    "max_concurrency": "--max-concurrency",
}


def default_profile(flags: dict[str, Any]) -> str:
    """What the flags imply when --profile is absent (a bare --rate means constant)."""
    implied = (
        ("sweep", flags["sweep"]),
        ("replay", flags["trace"]),
        ("ramp", flags["ramp_to"] is not None),
        ("constant", flags["rate"] is not None),
        ("concurrent", flags["concurrency"]),
    )
    return next((name for name, given in implied if given), "synchronous")


def build_spec(flags: dict[str, Any]) -> ScheduleSpec:
    """The schedule the flags describe; a bad combination is one line naming the flag."""
    profile, rate, sweep, trace = flags["profile"], flags["rate"], flags["sweep"], flags["trace"]
    concurrency, ramp_to = flags["concurrency"], flags["ramp_to"]
    requests, duration = flags["requests"], flags["duration"]
    profile = profile or default_profile(flags)
    if requests is None and duration is None and profile != "replay":
        requests = 100
    stages = tuple(Stage(rate=r, concurrency=c) for r, c in parse_sweep(sweep)) if sweep else ()
    fields: dict[str, Any] = {
        "profile": profile,
        "requests": requests,
        "duration": duration,
        **{k: flags[k] for k in ("seed", "warmup_requests", "warmup_seconds", "max_concurrency")},
    }
    if profile in ("constant", "poisson", "gamma", "ramp"):
        fields["rate"] = rate
    if profile == "concurrent":
        fields["concurrency"] = concurrency
    if profile in ("gamma", "sweep"):
        fields["burstiness"] = flags["burstiness"]
    if profile == "ramp":
        fields["ramp_to"] = ramp_to
    if profile == "sweep":
        fields["stages"] = stages
    if profile == "replay":
        fields["trace"] = tuple(read_trace(trace)) if trace else ()
    try:
        return ScheduleSpec(**fields)
    except ValueError as exc:
        field, _, message = str(exc).partition(":")
        flag = FLAG_FOR_FIELD.get(field.strip().split("[")[0], field.strip())
        raise ConfigError(message.strip() or str(exc), field=flag) from None


@click.command()
@target_options
@load_options
def load(**flags: Any) -> None:
    """Send load to a target and record every request.

    Without --base-url/--api-key the built-in emulator is started on a free loopback port and the
    run is marked simulated. Records go to OUT/requests.parquet, with manifest.json and
    summary.json beside them.
    """
    options = LoadOptions(
        arms=tuple(dict.fromkeys(flags["models"])),
        spec=build_spec(flags),
        retry=RetryPolicy(kind=flags["retry"], max_attempts=flags["max_attempts"]),
        timeouts=Timeouts(
            connect=flags["connect_timeout"], read=flags["read_timeout"], total=flags["timeout"]
        ),
        max_cost_usd=flags["max_cost"],
        command=sys.argv,
        datasets=(flags["dataset"],) if flags["dataset"] else (),
        **{
            k: flags[k]
            for k in (
                "stream",
                "input_tokens",
                "output_tokens",
                "out",
                "base_url",
                "api_key",
                "plan",
                "time_scale",
            )
        },
    )
    result = run_with_live_line(run_load, options, yes=flags["yes"])
    print_run_summary(result)
