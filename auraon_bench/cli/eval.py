"""``auraon-bench eval``: every arm on every prompt of a dataset, graded and compared."""

from __future__ import annotations

import sys
from typing import Any

import click

from auraon_bench.cli.exports import export_options, exporting, pop_exports
from auraon_bench.cli.options import run_options, target_options
from auraon_bench.eval import DEFAULT_ARMS


@click.command(name="eval")
@target_options
@click.option(
    "--dataset",
    "datasets",
    multiple=True,
    required=True,
    type=click.Path(dir_okay=False),
    help="Dataset JSONL file; repeat for several.",
)
@click.option(
    "--model",
    "models",
    multiple=True,
    default=DEFAULT_ARMS,
    show_default=True,
    help="Arm to evaluate; repeat. Default: auto, its three modes and four fixed models.",
)
@click.option(
    "--repeat",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Times every arm answers every prompt.",
)
@click.option("--concurrency", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--max-tokens", type=click.IntRange(min=1), default=1024, show_default=True)
@click.option(
    "--reference",
    default=None,
    metavar="MODEL",
    help="Fixed model auto is compared with (default: the most accurate one).",
)
@click.option(
    "--judge",
    default=None,
    metavar="MODEL",
    help="Model that rates answers to judge-graded items, through the same target; its cost "
    "is reported apart. Without it those items stay ungraded.",
)
@run_options
@export_options
def eval_command(**flags: Any) -> None:
    """Evaluate auto against fixed models on a dataset: quality, cost, latency, routing.

    Every arm answers every prompt (a paired design) in one seeded order; answers are graded,
    the grades written into requests.parquet and the analysis into evaluation.json.
    """
    from auraon_bench.cli.render import print_eval_report, run_with_live_line
    from auraon_bench.client.http import Timeouts
    from auraon_bench.eval.session import EvalOptions, run_eval

    exports = pop_exports(flags)
    options = EvalOptions(
        datasets=tuple(flags["datasets"]),
        arms=tuple(dict.fromkeys(flags["models"])),
        repeat=flags["repeat"],
        concurrency=flags["concurrency"],
        max_tokens=flags["max_tokens"],
        reference=flags["reference"],
        seed=flags["seed"],
        out=flags["out"],
        base_url=flags["base_url"],
        api_key=flags["api_key"],
        plan=flags["plan"],
        time_scale=flags["time_scale"],
        catalog=flags["catalog"],
        timeouts=Timeouts(
            connect=flags["connect_timeout"], read=flags["read_timeout"], total=flags["timeout"]
        ),
        max_cost_usd=flags["max_cost"],
        judge=flags["judge"],
        command=sys.argv,
        prices_file=flags["prices_file"],
        allow_unlisted_models=flags["allow_unlisted_models"],
    )
    with exporting(**exports):
        result = run_with_live_line(run_eval, options, yes=flags["yes"])
    print_eval_report(result)
    # 130 interrupted, 1 an arm failed on every attempt (its 0% is no accuracy), else 0.
    from auraon_bench.cli.exit_codes import run_summary_code

    sys.exit(run_summary_code(result.load.status, result.load.summary))
