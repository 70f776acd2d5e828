"""Start-up weight: ``import auraon_bench`` and every ``--help`` load no data-frame, array,
statistics or plotting library; the lazy names of the package and the lazy subcommands of the
CLI resolve to the real objects. (Wall time is measured by benchmarks/cli_startup.py.)"""

from __future__ import annotations

import subprocess
import sys

import click
import pytest

import auraon_bench
from auraon_bench.cli.main import COMMANDS, cli

HEAVY = ("matplotlib", "pandas", "pyarrow", "scipy")


def heavy_imported(importtime: str) -> list[str]:
    """Heavy top-level packages named in ``python -X importtime`` output."""
    names = {
        line.rsplit("|", 1)[1].strip().split(".")[0]
        for line in importtime.splitlines()
        if line.startswith("import time:") and line.count("|") == 2
    }
    return sorted(names & set(HEAVY))


def help_commands() -> list[tuple[str, ...]]:
    """() for the root, every subcommand, and every subcommand of a subcommand group."""
    ctx = click.Context(cli)
    commands: list[tuple[str, ...]] = [()]
    for name in cli.list_commands(ctx):
        command = cli.get_command(ctx, name)
        commands.append((name,))
        if isinstance(command, click.Group):
            commands += [(name, sub) for sub in command.list_commands(ctx)]
    return commands


def test_importing_the_package_loads_nothing_heavy() -> None:
    code = (
        "import auraon_bench; import sys; "
        f"print(' '.join(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == []


@pytest.mark.parametrize("args", help_commands(), ids=lambda args: " ".join(args) or "root")
def test_help_loads_nothing_heavy(args: tuple[str, ...]) -> None:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "auraon_bench", *args, "--help"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith(f"Usage: auraon-bench {' '.join(args)}".rstrip())
    assert heavy_imported(done.stderr) == []


def test_the_root_help_lists_every_command_without_importing_it() -> None:
    code = (
        "import sys; from auraon_bench.cli.main import cli\n"
        "try:\n    cli(['--help'], standalone_mode=False)\n"
        "except SystemExit:\n    pass\n"
        f"print('HEAVY', *sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    help_text, heavy_line = done.stdout.rsplit("HEAVY", 1)
    assert heavy_line.split() == []
    listed = help_text.split("Commands:", 1)[1].split()
    assert all(name in listed for name in COMMANDS)


def test_registered_commands_resolve_to_their_commands() -> None:
    ctx = click.Context(cli)
    assert cli.list_commands(ctx) == sorted(COMMANDS)
    for name in COMMANDS:
        command = cli.get_command(ctx, name)
        assert isinstance(command, click.Command) and command.name == name
        assert cli.get_command(ctx, name) is command  # resolved once
        assert command.get_short_help_str()
    assert cli.get_command(ctx, "no-such-command") is None


def test_help_constants_agree_with_the_modules_they_mirror() -> None:
    from auraon_bench.cli import eval as eval_cli
    from auraon_bench.cli import history as history_cli
    from auraon_bench.cli import options
    from auraon_bench.cli import report as report_cli
    from auraon_bench.history.index import METRICS
    from auraon_bench.load.arrivals import Profile
    from auraon_bench.report.build import FORMATS

    assert [p.value for p in Profile] == options.PROFILES
    assert report_cli.FORMATS == FORMATS
    assert tuple(METRICS) == history_cli.METRIC_NAMES
    from auraon_bench.eval.session import EvalOptions

    assert EvalOptions.__dataclass_fields__["arms"].default == eval_cli.DEFAULT_ARMS


def test_public_names_are_lazy_but_real() -> None:
    from auraon_bench import errors
    from auraon_bench.emulator.launcher import EmulatorProcess
    from auraon_bench.report.build import write_report
    from auraon_bench.results.run import Part, Run, read_run

    expected = {
        "EmulatorProcess": EmulatorProcess,
        "write_report": write_report,
        "Part": Part,
        "Run": Run,
        "read_run": read_run,
        **{name: getattr(errors, name) for name in auraon_bench.__all__ if name.endswith("Error")},
    }
    assert set(expected) | {"__version__"} == set(auraon_bench.__all__)
    for name, value in expected.items():
        assert getattr(auraon_bench, name) is value
    assert set(auraon_bench.__all__) <= set(dir(auraon_bench))
    namespace: dict[str, object] = {}
    exec("from auraon_bench import *", namespace)
    assert set(auraon_bench.__all__) <= set(namespace)
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = auraon_bench.no_such_name  # type: ignore[attr-defined]
