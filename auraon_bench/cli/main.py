"""``auraon-bench``: the root command group. Library errors become one-line messages and exit 2;
Ctrl-C or SIGTERM outside a load loop exits 130 (codes: :mod:`auraon_bench.cli.exit_codes`)."""

from __future__ import annotations

import contextlib
import importlib
import signal
import threading
from collections.abc import Iterator, Mapping
from typing import Any

import click

from auraon_bench import __version__
from auraon_bench.cli.exit_codes import INTERRUPTED, USAGE
from auraon_bench.errors import AuraonBenchError

# Subcommand -> "module:attribute" of its click command. A module is imported only when its
# command is resolved (run, or listed by --help); each keeps its own top-level imports light
# (click and the standard library), so that --help loads no pandas, pyarrow, scipy or matplotlib.
COMMANDS: dict[str, str] = {
    "baseline": "auraon_bench.cli.baseline:baseline_group",
    "capacity": "auraon_bench.cli.capacity:capacity_command",
    "emulator": "auraon_bench.cli.emulator:emulator",
    "eval": "auraon_bench.cli.eval:eval_command",
    "history": "auraon_bench.cli.history:history_command",
    "limits": "auraon_bench.cli.limits:limits_command",
    "load": "auraon_bench.cli.load:load",
    "plan": "auraon_bench.cli.plan:plan_command",
    "regress": "auraon_bench.cli.regress:regress_command",
    "report": "auraon_bench.cli.report:report_command",
    "routing": "auraon_bench.cli.routing:routing_group",
    "run": "auraon_bench.cli.run:run_command",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first resolution, from ``lazy_commands``."""

    def __init__(
        self, *args: Any, lazy_commands: Mapping[str, str] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = dict(lazy_commands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy_commands:
            self.add_command(self._import(cmd_name), cmd_name)
        return super().get_command(ctx, cmd_name)

    def _import(self, cmd_name: str) -> click.Command:
        module_name, _, attribute = self.lazy_commands[cmd_name].partition(":")
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{module_name}:{attribute} is not a click command")
        return command


class LibraryError(click.ClickException):
    """A deliberate auraon-bench error shown as ``Error: <one line>``. It exits 2 (USAGE), as
    click's own usage errors do: the command could not run as asked, so there is no result to
    judge, unlike 1 (FAILED), which a finished run earns."""

    exit_code = USAGE


class FriendlyGroup(LazyGroup):
    """Turns every deliberate library error into ``Error: <one line>`` and exit code 2, and an
    interruption that escapes a command into exit code 130."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            with _sigterm_interrupts():
                return super().invoke(ctx)
        except AuraonBenchError as exc:
            raise LibraryError(str(exc)) from None
        except (KeyboardInterrupt, click.Abort):
            # The load loop handles SIGINT itself (it stops, keeps every record, and the command
            # exits 130 after printing them). Ctrl-C anywhere else (starting the emulator,
            # grading, writing the report, a confirmation prompt, which click turns into Abort)
            # lands here: click would print "Aborted!" and exit 1, the code of a failed SLO.
            click.echo("\ninterrupted", err=True)
            raise click.exceptions.Exit(INTERRUPTED) from None
        except BaseExceptionGroup as group:
            # Task groups wrap what their tasks raise (e.g. a results write that failed).
            if group.subgroup(KeyboardInterrupt) is not None:
                click.echo("\ninterrupted", err=True)
                raise click.exceptions.Exit(INTERRUPTED) from None
            ours = group.subgroup(lambda exc: isinstance(exc, AuraonBenchError))
            if ours is None:
                raise
            while isinstance(ours, BaseExceptionGroup):
                ours = ours.exceptions[0]
            raise LibraryError(str(ours)) from None


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM as Ctrl-C while a command runs: the same clean-up (the embedded emulator and any
    worker stopped, records kept) and exit code 130, instead of dying where it stands. The load
    loops watch both signals themselves and put this handler back when they end."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


@click.group(
    cls=FriendlyGroup,
    lazy_commands=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, prog_name="auraon-bench")
def cli() -> None:
    """Benchmark and routing-evaluation toolkit for the Auraon LLM gateway."""
