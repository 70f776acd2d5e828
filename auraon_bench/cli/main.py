"""``auraon-bench``: the root command group. Library errors become one-line messages."""

from __future__ import annotations

from typing import Any

import click

from auraon_bench import __version__
from auraon_bench.cli.baseline import baseline_group
from auraon_bench.cli.emulator import emulator
from auraon_bench.cli.eval import eval_command
from auraon_bench.cli.history import history_command
from auraon_bench.cli.limits import limits_command
from auraon_bench.cli.load import load
from auraon_bench.cli.plan import plan_command
from auraon_bench.cli.regress import regress_command
from auraon_bench.cli.report import report_command
from auraon_bench.cli.run import run_command
from auraon_bench.errors import AuraonBenchError


class FriendlyGroup(click.Group):
    """Turns every deliberate library error into ``Error: <one line>`` and exit code 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AuraonBenchError as exc:
            raise click.ClickException(str(exc)) from None
        except BaseExceptionGroup as group:
            # Task groups wrap what their tasks raise (e.g. a results write that failed).
            ours = group.subgroup(lambda exc: isinstance(exc, AuraonBenchError))
            if ours is None:
                raise
            while isinstance(ours, BaseExceptionGroup):
                ours = ours.exceptions[0]
            raise click.ClickException(str(ours)) from None


@click.group(cls=FriendlyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="auraon-bench")
def cli() -> None:
    """Benchmark and routing-evaluation toolkit for the Auraon LLM gateway."""


cli.add_command(emulator)
cli.add_command(load)
cli.add_command(eval_command)
cli.add_command(run_command)
cli.add_command(report_command)
cli.add_command(limits_command)
cli.add_command(plan_command)
cli.add_command(regress_command)
cli.add_command(baseline_group)
cli.add_command(history_command)
