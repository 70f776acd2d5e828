"""The nightly accuracy check is prompt-level: repeats of a prompt are one cluster."""

from __future__ import annotations

import pytest
from scipy import stats

from auraon_bench.analysis.regression import paired_accuracy_check


def _answers(pattern: list[tuple[bool, bool]], repeats: int) -> tuple[dict, dict]:
    base, cur = {}, {}
    for i, (a, b) in enumerate(pattern):
        for r in range(repeats):
            base[(f"p{i}", r)], cur[(f"p{i}", r)] = a, b
    return base, cur


PATTERN = [(True, False)] * 7 + [(False, True)] * 2 + [(True, True)] * 21  # 7 lost, 2 gained


def test_one_answer_per_prompt_is_the_exact_binomial_mcnemar() -> None:
    base, cur = _answers(PATTERN, 1)
    check = paired_accuracy_check("eval", "auto", base, cur, threshold=0.02)
    expected = stats.binomtest(7, 9, 0.5, alternative="greater").pvalue
    assert check.p == pytest.approx(expected)
    assert check.change == pytest.approx(-5 / 30)


def test_identical_repeats_add_no_evidence() -> None:
    one = paired_accuracy_check("eval", "auto", *_answers(PATTERN, 1), threshold=0.02)
    five = paired_accuracy_check("eval", "auto", *_answers(PATTERN, 5), threshold=0.02)
    assert five.p == pytest.approx(one.p)
    # rows treated as independent would claim far more: 35 lost of 45 discordant
    rows = stats.binomtest(35, 45, 0.5, alternative="greater").pvalue
    assert rows < five.p / 10
