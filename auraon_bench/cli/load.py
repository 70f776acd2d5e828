"""``auraon-bench load``: an ad-hoc load test against a target (the emulator by default)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from auraon_bench.cli.exports import export_options, exporting, pop_exports
from auraon_bench.cli.options import load_options, parse_sweep, target_options

if TYPE_CHECKING:
    from auraon_bench.load.arrivals import ScheduleSpec

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
    "seed": "--seed",
}


def spec_from_flags(flags: dict[str, Any]) -> ScheduleSpec:
    """The schedule the flags describe; a bad combination is one line naming the flag."""
    from auraon_bench.load.spec import build_spec, read_trace, stages_of

    values = {
        **{k: flags[k] for k in FLAG_FOR_FIELD if k not in ("stages", "trace") and k in flags},
        "stages": (
            stages_of(parse_sweep(flags["sweep"]), "--sweep")
            if flags["sweep"] is not None
            else None
        ),
        "trace": read_trace(flags["trace"], "--trace") if flags["trace"] else None,
    }
    return build_spec(values, lambda field: FLAG_FOR_FIELD.get(field, field))


def read_replay_flags(flags: dict[str, Any]) -> Any:
    """The replay file, and a one-line refusal of every flag a replay cannot honour."""
    from auraon_bench.data.replay import RECORDED_ARM, read_replay

    if flags["dataset"]:
        raise click.UsageError("--replay and --dataset are two sources of prompts: give one")
    replay = read_replay(flags["replay_file"])
    unused = []
    if replay.timed:  # the recorded times are the schedule
        unused += ["--profile", "--rate", "--concurrency", "--sweep", "--trace", "--ramp-to"]
    elif flags["profile"] in ("sweep", "ramp", "replay") or flags["sweep"] or flags["trace"]:
        unused += ["--profile", "--sweep", "--trace"]
    unused += ["--requests", "--duration", "--turns", "--shared-prefix-tokens", "--workers"]
    defaults = {"turns": 1, "shared_prefix_tokens": 0, "workers": 1}
    for flag in unused:
        name = flag[2:].replace("-", "_")
        value = flags.get(name)
        if value is not None and value != defaults.get(name):
            why = "its recorded times" if replay.timed else "one pass over the file"
            raise click.UsageError(f"{flag} does not apply to a replay of {flags['replay_file']} "
                                   f"(sent as {why}); drop it")  # fmt: skip
    if RECORDED_ARM in flags["models"]:
        for request in replay.requests:
            if not isinstance(request.body.get("model"), str) or not request.body["model"]:
                raise click.UsageError(
                    f"{flags['replay_file']}:{request.line}: the body has no model, so "
                    f"--model {RECORDED_ARM} cannot send it; give a model with --model"
                )
    return replay


@click.command()
@target_options
@load_options
@export_options
def load(**flags: Any) -> None:
    """Send load to a target and record every request.

    Without --base-url/--api-key the built-in emulator is started on a free loopback port and the
    run is marked simulated. Records go to OUT/requests.parquet, with manifest.json and
    summary.json beside them.
    """
    from auraon_bench.cli.render import print_run_summary, run_with_live_line
    from auraon_bench.client.http import Timeouts
    from auraon_bench.load.retry import RetryPolicy
    from auraon_bench.load.session import LoadOptions, run_load

    exports = pop_exports(flags)
    replay = read_replay_flags(flags) if flags["replay_file"] else None
    options = LoadOptions(
        replay=replay,
        replay_speed=flags["replay_speed"],
        arms=tuple(dict.fromkeys(flags["models"])),
        spec=spec_from_flags(flags),
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
                "pin_output",
                "input_tokens",
                "output_tokens",
                "tokenizer",
                "turns",
                "think_time",
                "shared_prefix_tokens",
                "prefix_groups",
                "out",
                "base_url",
                "api_key",
                "plan",
                "time_scale",
                "catalog",
                "workers",
                "executor",
                "ray_address",
                "prices_file",
                "allow_unlisted_models",
            )
        },
    )
    with exporting(**exports):
        result = run_with_live_line(run_load, options, yes=flags["yes"])
    print_run_summary(result)
    # 130 interrupted, 1 an arm (or the run) failed on every attempt, else 0: exit_codes.py.
    from auraon_bench.cli.exit_codes import run_summary_code

    sys.exit(run_summary_code(result.status, result.summary))
