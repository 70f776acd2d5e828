"""What ``regress`` prints: every verdict, whatever characters the names hold."""

from __future__ import annotations

import pytest

from auraon_bench.analysis.regression import Check
from auraon_bench.cli.regress import print_comparison
from auraon_bench.regress.compare import Comparison
from auraon_bench.results.run import read_run
from tests.conftest import FIXTURES


@pytest.mark.parametrize("verdict", ["too few samples", "regression", "improvement"])
def test_every_verdict_prints_whatever_brackets_the_names_hold(
    verdict: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run = read_run(FIXTURES / "runs" / "eval")
    check = Check(
        part="eval",
        arm="auto[/]",
        metric="accuracy",
        unit="share",
        baseline=0.5,
        current=0.4,
        change=-0.1,
        change_kind="difference",
        threshold=0.05,
        worse_when="lower",
        p=None,
        n_baseline=3,
        n_current=3,
        verdict=verdict,
    )
    print_comparison(Comparison(run, run, {}, [check]))
    printed = " ".join(capsys.readouterr().out.split())
    assert verdict in printed and "auto[/]" in printed
