"""Options shared by every command that sends load (load, eval, run, limits)."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from auraon_bench.catalog.schema import DEMO_PLANS

# The values of auraon_bench.load.arrivals.Profile, spelled out so that --help imports no numpy
# (tests/test_imports.py checks that they agree).
MAX_INPUT_TOKENS = 2_000_000
MAX_TURNS = 1024  # results.schema.TURN_STRIDE (tests/test_sessions.py checks that they agree)
PROFILES = ["synchronous", "concurrent", "constant", "poisson", "gamma", "ramp", "sweep", "replay"]


class FiniteFloatRange(click.FloatRange):
    """click's FloatRange without nan and inf: every comparison with nan is false, so click's
    own bounds let it through, and no delay, rate or budget is infinite."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


class LengthParam(click.ParamType):
    """A number or a distribution (``normal:MEAN,SD``, ``lognormal:MEDIAN,SIGMA``,
    ``uniform:LO,HI``, ``file:PATH``; :mod:`auraon_bench.data.lengths`): a constant converts
    to a plain number, anything else to a ``LengthSpec``, each checked against ``floor`` and
    ``maximum``."""

    name = "N|DIST"

    def __init__(
        self, *, integer: bool = True, floor: float = 1, maximum: float | None = None
    ) -> None:
        self.integer, self.floor, self.maximum = integer, floor, maximum

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):  # a default, or a value converted already
            return value
        from auraon_bench.data.lengths import as_setting, parse_length
        from auraon_bench.errors import ConfigError

        flag = f"--{param.name.replace('_', '-')}" if param is not None and param.name else "value"
        try:
            spec = parse_length(value, field=flag, integer=self.integer, floor=self.floor)
        except ConfigError as exc:
            where = ":".join(str(p) for p in (exc.source, exc.line) if p is not None)
            self.fail(f"{where}: {exc.message}" if where else exc.message, param, ctx)
        try:
            return as_setting(spec, self.maximum)
        except ValueError as exc:
            self.fail(f"{value!r}: {exc}.", param, ctx)


def _prefix_tokens(ctx: click.Context, param: click.Parameter, value: int) -> int:
    from auraon_bench.data.prompts import prefix_problem

    problem = prefix_problem(value)
    if problem:
        raise click.BadParameter(problem, ctx, param)
    return value


def target_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--base-url`` / ``--api-key`` with env fallbacks; neither = the embedded emulator."""
    for option in reversed(
        [
            click.option(
                "--base-url",
                envvar="AURAON_BASE_URL",
                default=None,
                metavar="URL",
                help="Target's OpenAI-compatible base URL (env AURAON_BASE_URL). Without it "
                "and without a key, the built-in emulator is started and used.",
            ),
            click.option(
                "--api-key",
                envvar="AURAON_API_KEY",
                default=None,
                metavar="KEY",
                show_default=False,
                help="API key (env AURAON_API_KEY). Never written to results or logs.",
            ),
            click.option(
                "--plan",
                type=click.Choice(DEMO_PLANS),
                default="enterprise",
                show_default=True,
                help="Embedded emulator only: which demo key (plan) to use (twin: the plan a "
                "fitted twin measured, from `emulator fit` on a limits run).",
            ),
            click.option(
                "--time-scale",
                type=FiniteFloatRange(min=0),
                default=1.0,
                show_default=True,
                help="Embedded emulator only: multiply simulated delays (0.01 = 100x faster).",
            ),
            click.option(
                "--catalog",
                type=click.Path(dir_okay=False),
                default=None,
                help='Embedded emulator only: a catalog (an overlay with [meta] extends = '
                '"builtin": models with a capacity, plans, or a twin from `emulator fit`).',
            ),
        ]
    ):
        command = option(command)
    return command


def load_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Profiles, prompts and retries of ``load``, plus :func:`run_options`."""
    command = run_options(command)
    for option in reversed(
        [
            click.option(
                "--model",
                "models",
                multiple=True,
                default=("auto",),
                show_default=True,
                help="Model id to send to; repeat for several arms (interleaved).",
            ),
            click.option(
                "--profile",
                type=click.Choice(PROFILES),
                default=None,
                help="Arrival profile. Default: constant with --rate, concurrent with "
                "--concurrency, else synchronous.",
            ),
            click.option(
                "--concurrency",
                type=click.IntRange(min=1),
                default=None,
                help="Requests in flight (concurrent profile).",
            ),
            click.option(
                "--rate",
                type=FiniteFloatRange(min=0, min_open=True),
                default=None,
                help="Requests per second (a bare --rate means constant).",
            ),
            click.option(
                "--requests",
                type=click.IntRange(min=1),
                default=None,
                help="Stop after this many requests (default 100 when no --duration).",
            ),
            click.option(
                "--duration",
                type=FiniteFloatRange(min=0, min_open=True),
                default=None,
                help="Stop sending after this many seconds.",
            ),
            click.option(
                "--burstiness",
                type=FiniteFloatRange(min=0),
                default=1.0,
                show_default=True,
                help="Gamma profile: squared CV of gaps (1 = Poisson).",
            ),
            click.option(
                "--ramp-to",
                type=FiniteFloatRange(min=0),
                default=None,
                help="Ramp profile: final rate (req/s); starts at --rate.",
            ),
            click.option(
                "--sweep",
                default=None,
                metavar="LIST",
                help="Sweep stages: rates '1,5,10' or concurrencies 'c1,c4,c16'.",
            ),
            click.option(
                "--trace",
                type=click.Path(dir_okay=False, exists=True),
                default=None,
                help="Replay profile: file of send times in seconds, one per line.",
            ),
            click.option(
                "--warmup-requests",
                type=click.IntRange(min=0),
                default=0,
                help="First N requests excluded from statistics.",
            ),
            click.option(
                "--warmup-seconds",
                type=FiniteFloatRange(min=0),
                default=0.0,
                help="Requests sent in the first S seconds excluded from statistics.",
            ),
            click.option(
                "--max-concurrency",
                type=click.IntRange(min=1),
                default=None,
                help="Cap on in-flight requests for rate profiles.",
            ),
            click.option("--stream/--no-stream", default=True, show_default=True),
            click.option(
                "--pin-output/--no-pin-output",
                default=None,
                help="Synthetic prompts: ask for exactly max_tokens tokens (ignore_eos, which vLLM "
                "and the emulator honour). Default: on for the embedded emulator only.",
            ),
            click.option(
                "--dataset",
                type=click.Path(dir_okay=False),
                default=None,
                help="Prompts from a dataset (JSONL) instead of synthetic ones.",
            ),
            click.option(
                "--input-tokens",
                # The longest context windows hold 2M tokens; a larger prompt is never
                # answered, and its synthetic text would not fit in memory.
                type=LengthParam(maximum=MAX_INPUT_TOKENS),
                default=128,
                show_default=True,
                help="Synthetic prompts: input length in --tokenizer tokens (per new user "
                "message in a conversation), a number or a distribution: normal:MEAN,SD, "
                "lognormal:MEDIAN,SIGMA, uniform:LO,HI, file:PATH, with optional ,min=X,max=Y.",
            ),
            click.option(
                "--output-tokens",
                type=LengthParam(),
                default=64,
                show_default=True,
                help="max_tokens of each request: a number or a distribution, as --input-tokens.",
            ),
            click.option(
                "--tokenizer",
                type=click.Choice(["o200k_base", "cl100k_base", "chars4"]),
                default="o200k_base",
                show_default=True,
                help="Encoding synthetic prompts are sized in (chars4: ceil(characters / 4)).",
            ),
            click.option(
                "--turns",
                type=LengthParam(maximum=MAX_TURNS),
                default=1,
                show_default=True,
                help="Turns per conversation (a number or a distribution): each turn is sent "
                "after the previous answer, with the history; --rate and --concurrency then "
                "count conversations. With --dataset: play conversation items turn by turn.",
            ),
            click.option(
                "--think-time",
                type=LengthParam(integer=False, floor=0),
                default=0.0,
                show_default=True,
                help="Seconds between an answer and the conversation's next turn (a number or "
                "a distribution).",
            ),
            click.option(
                "--shared-prefix-tokens",
                type=click.IntRange(min=0, max=MAX_INPUT_TOKENS),
                callback=_prefix_tokens,
                default=0,
                show_default=True,
                help="Start every synthetic prompt with a system prompt of this many tokens, "
                "shared within each of --prefix-groups groups (what prompt caches reuse).",
            ),
            click.option(
                "--replay",
                "replay_file",
                type=click.Path(dir_okay=False),
                default=None,
                help="Send recorded request bodies as they are: an OpenAI Batch API input "
                "file (paced by the profile) or JSONL of {timestamp, body} (sent at the "
                "recorded times). Each --model overrides the bodies' model; --model recorded "
                "keeps it.",
            ),
            click.option(
                "--replay-speed",
                type=FiniteFloatRange(min=0, min_open=True),
                default=1.0,
                show_default=True,
                help="Pace of a timed replay: 2 sends twice as fast as recorded.",
            ),
            click.option(
                "--prefix-groups",
                type=click.IntRange(min=1),
                default=1,
                show_default=True,
                help="Distinct shared system prompts; prompt i uses group i mod G.",
            ),
            click.option(
                "--retry",
                type=click.Choice(["none", "honor-retry-after", "exponential"]),
                default="none",
                show_default=True,
                help="Retry policy; every attempt is recorded.",
            ),
            click.option(
                "--max-attempts", type=click.IntRange(min=1), default=3, show_default=True
            ),
            click.option(
                "--workers",
                type=click.IntRange(min=1),
                default=1,
                show_default=True,
                help="Load-generating processes sharing the schedule (each request sent "
                "once); for rates one process cannot keep.",
            ),
            click.option(
                "--executor",
                type=click.Choice(["local", "ray"]),
                default="local",
                show_default=True,
                help="Where workers run: local processes, or a Ray cluster (needs "
                "auraon-bench[ray]).",
            ),
            click.option(
                "--ray-address",
                envvar="RAY_ADDRESS",
                default=None,
                help="Ray cluster to join (e.g. auto, ray://head:10001); default: start a "
                "local one. Env: RAY_ADDRESS.",
            ),
        ]
    ):
        command = option(command)
    return command


def run_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Timeouts, the money guard, seed and run directory: every command that sends load."""
    for option in reversed(
        [
            click.option(
                "--timeout",
                type=FiniteFloatRange(min=0, min_open=True),
                default=600.0,
                show_default=True,
                help="Total seconds allowed per attempt.",
            ),
            click.option(
                "--read-timeout",
                type=FiniteFloatRange(min=0, min_open=True),
                default=120.0,
                show_default=True,
                help="Longest silence within a response.",
            ),
            click.option(
                "--connect-timeout",
                type=FiniteFloatRange(min=0, min_open=True),
                default=10.0,
                show_default=True,
            ),
            click.option(
                "--max-cost",
                type=FiniteFloatRange(min=0),
                default=None,
                metavar="USD",
                help="Stop sending once the measured cost reaches this.",
            ),
            click.option(
                "--yes", is_flag=True, help="Do not ask before sending load to a real target."
            ),
            click.option(
                "--prices",
                "prices_file",
                type=click.Path(dir_okay=False),
                default=None,
                metavar="FILE",
                help="TOML prices (USD per 1M tokens) for models genai-prices does not know; "
                "they win over genai-prices. Format: auraon_bench/prices/file.py.",
            ),
            click.option(
                "--allow-unlisted-models",
                is_flag=True,
                help="Send arms the target's /models does not list (a warning, not an error), "
                "for gateways whose list is incomplete.",
            ),
            click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True),
            click.option(
                "--out",
                type=click.Path(file_okay=False, path_type=Path),
                default=None,
                help="Run directory (default results/<run-id>).",
            ),
        ]
    ):
        command = option(command)
    return command


def parse_sweep(text: str) -> list[tuple[float | None, int | None]]:
    """'1,5,10' -> rates; 'c1,c4' -> concurrencies. A stage that cannot run (a rate that is
    not a finite number > 0, a concurrency that is not an integer >= 1) raises
    click.BadParameter naming it, before any schedule is built."""
    stages: list[tuple[float | None, int | None]] = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        if part.lower().startswith("c"):
            try:
                concurrency = int(part[1:])
            except ValueError:
                concurrency = 0
            if concurrency < 1:
                raise click.BadParameter(
                    f"{part!r}: a concurrency stage is c<integer >= 1>, e.g. c4",
                    param_hint="--sweep",
                )
            stages.append((None, concurrency))
            continue
        try:
            rate = float(part)
        except ValueError:
            raise click.BadParameter(
                f"{part!r} is neither a rate nor c<concurrency>", param_hint="--sweep"
            ) from None
        if not (math.isfinite(rate) and rate > 0):
            raise click.BadParameter(
                f"{part!r}: a rate stage must be a finite number of requests/s > 0",
                param_hint="--sweep",
            )
        stages.append((rate, None))
    if not stages:
        raise click.BadParameter("needs at least one stage", param_hint="--sweep")
    return stages


# What a run directory holds of its own (results/layout.py, results/run.py): never an output.
RUN_RECORDS = (
    "manifest.json",
    "requests.parquet",
    "summary.json",
    "evaluation.json",
    "limits.json",
)


def is_run_record(path: Path) -> bool:
    """Whether ``path`` is one of a run's own files (its manifest, records or summaries, in a
    directory that has a manifest), which a report or a comparison must never replace."""
    parent = path.absolute().parent
    if parent.name == "requests.parts":
        return (parent.parent / "manifest.json").is_file()
    return path.name in RUN_RECORDS and (parent / "manifest.json").is_file()


def check_output_file(path: Path, flag: str, inputs: tuple[Path, ...] = ()) -> None:
    """Refuse an output file that would destroy what is already there: one of the command's
    ``inputs``, or one of a run's own files. ConfigError naming ``flag``."""
    from auraon_bench.errors import ConfigError

    resolved = path.resolve()
    if any(resolved == given.resolve() for given in inputs):
        raise ConfigError(
            f"{path} is also an input of this command; refusing to overwrite it", field=flag
        )
    if is_run_record(path):
        raise ConfigError(
            f"{path} is one of a run's own files; refusing to overwrite it (choose another)",
            field=flag,
        )
