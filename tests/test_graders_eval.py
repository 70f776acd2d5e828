"""Grading an evaluation's records: judge-only items stay ungraded whatever happened."""

from __future__ import annotations

from auraon_bench.data.dataset import PromptItem
from auraon_bench.eval.grading import grade_record


def item(grader: str, answer: object = None) -> PromptItem:
    return PromptItem(
        id="i",
        category="chat",
        difficulty="easy",
        messages=({"role": "user", "content": "hi"},),
        answer=answer,
        grader=grader,
    )


def test_judge_items_are_ungraded_even_when_the_request_failed() -> None:
    for ok in (True, False):
        result = grade_record(item("judge"), None if not ok else "an answer", ok)
        assert result.failure == "needs_judge"
    assert grade_record(item("none"), None, False).failure == "ungraded"
    failed = grade_record(item("exact", "Lisbon"), None, False)
    assert failed.correct is False and failed.failure == "error"
    assert grade_record(None, "x", True) is None
