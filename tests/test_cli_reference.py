"""docs/cli.md is what every command's --help says now: a reference that cannot drift."""

from __future__ import annotations

import re

from auraon_bench.cli.main import COMMANDS
from auraon_bench.cli.reference import DOCS_FILE, render

REGENERATE = "python -m auraon_bench.cli.reference --write"


def test_the_cli_reference_is_up_to_date(monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "40")  # the terminal must not matter
    expected = render()
    assert DOCS_FILE.read_text(encoding="utf-8") == expected, (
        f"docs/cli.md is stale: run `{REGENERATE}` and commit it"
    )


def test_every_command_and_option_is_in_the_reference() -> None:
    text = render()
    headings = set(re.findall(r"^## (auraon-bench.*)$", text, re.M))
    assert {f"auraon-bench {name}" for name in COMMANDS} <= headings
    for flag in ("--metrics-port", "--otel-out", "--slo", "--traffic", "--rest"):
        assert flag in text
    assert all(len(line) <= 100 for line in text.splitlines() if not line.startswith("- ["))
