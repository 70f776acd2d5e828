"""``docs/cli.md``: the command-line reference, generated from every command's ``--help``.

Regenerate after changing a command, an option or a help text::

    python -m auraon_bench.cli.reference --write

``tests/test_cli_reference.py`` fails while the file differs from what this renders, so the
reference cannot drift from the code (the approach of cog and simonw/llm). The width is fixed,
so the text does not depend on the terminal it was made in.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import click

WIDTH = 100
DOCS_FILE = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
HEADER = """# Command-line reference

Generated from each command's `--help` by `python -m auraon_bench.cli.reference --write`;
a test fails when this file is out of date. Every command also takes `--help`.
"""


def _walk(
    command: click.Command, name: str, parent: click.Context | None
) -> Iterator[tuple[str, click.Command, click.Context]]:
    # The command's own settings (the root's ``-h``), as a real invocation builds its context.
    settings = {"terminal_width": WIDTH, "max_content_width": WIDTH, **command.context_settings}
    ctx = click.Context(command, info_name=name, parent=parent, **settings)
    yield ctx.command_path, command, ctx
    if isinstance(command, click.Group):
        for sub in command.list_commands(ctx):
            child = command.get_command(ctx, sub)
            if child is not None and not child.hidden:
                yield from _walk(child, sub, ctx)


def render() -> str:
    """The whole reference: a table of contents, then each command's help, in tree order."""
    from auraon_bench.cli.main import cli

    entries = list(_walk(cli, "auraon-bench", None))
    lines = [HEADER]
    for path, command, _ in entries:
        anchor = path.replace(" ", "-")
        summary = command.get_short_help_str(limit=80)
        lines.append(f"- [`{path}`](#{anchor}): {summary}")
    for path, command, ctx in entries:
        lines += ["", f"## {path}", "", "```text", command.get_help(ctx).rstrip(), "```"]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if argv == ["--write"]:
        DOCS_FILE.write_text(text, encoding="utf-8")
        print(f"wrote {DOCS_FILE}")
        return 0
    if argv:
        print("usage: python -m auraon_bench.cli.reference [--write]", file=sys.stderr)
        return 2
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
