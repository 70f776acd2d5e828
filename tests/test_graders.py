"""Answer graders: every grader on correct, wrong, empty, refused and oddly formatted answers."""

from __future__ import annotations

import dataclasses
import json
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auraon_bench.data.dataset import GRADERS, PromptItem, load_dataset
from auraon_bench.data.graders import (
    GradeResult,
    check_item,
    extract_choice,
    extract_json_object,
    extract_number,
    grade,
    is_refusal,
    judge_prompt,
    normalize_text,
    parse_judge_score,
    parse_tool_calls,
    validate_schema,
)
from auraon_bench.emulator.answers import render_correct, render_wrong

FIXTURES = Path(__file__).resolve().parent / "fixtures"

WEATHER_TOOLS = (
    {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}},
    {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}},
)
PERSON_SCHEMA = {
    "type": "object",
    "required": ["name", "age"],
    "properties": {
        "name": {"type": "string"},
        "age": {"type": "integer", "minimum": 0, "maximum": 150},
        "city": {"type": "string"},
    },
}


def make_item(grader: str, answer: Any = None, **options: Any) -> PromptItem:
    return PromptItem(
        id=f"{grader}-1",
        category="test",
        difficulty="easy",
        messages=({"role": "user", "content": "Question?"},),
        answer=answer,
        grader=grader,
        grader_options=options,
        tools=WEATHER_TOOLS if grader == "tool_call" else (),
    )


def calls_text(*calls: tuple[str, Any]) -> str:
    """What the measuring client stores: arguments as the streamed JSON string."""
    return json.dumps([{"name": n, "arguments": a} for n, a in calls])


# --- common paths: failed requests, empty answers, refusals, ungraded items -------------------

ITEMS = {
    "exact": make_item("exact", "Lisbon"),
    "numeric": make_item("numeric", 1270),
    "choice": make_item("choice", "B", n_choices=4),
    "regex": make_item("regex", None, pattern=r"\bOslo\b"),
    "contains": make_item("contains", "Nitrogen"),
    "json_schema": make_item("json_schema", {"name": "Ada", "age": 36}, schema=PERSON_SCHEMA),
    "code": make_item("code", None, tests="assert f() == 1"),
    "tool_call": make_item("tool_call", {"name": "get_weather", "arguments": {"city": "Oslo"}}),
    "judge": make_item("judge", None, rubric="Be right."),
}


def test_every_dataset_grader_is_covered() -> None:
    assert set(ITEMS) | {"none"} == set(GRADERS)


@pytest.mark.parametrize("grader", sorted(ITEMS))
@pytest.mark.parametrize(
    ("text", "ok", "failure"),
    [
        ("Lisbon 1270 Answer: B", False, "error"),
        (None, True, "empty"),
        ("", True, "empty"),
        ("  \n\t", True, "empty"),
        ("I can't help with that.", True, "refused"),
        ("I cannot answer questions about this topic.", True, "refused"),
        ("I\u2019m sorry, but I can\u2019t assist with that request.", True, "refused"),
        ("**I am unable to** provide that.", True, "refused"),
        ("As an AI language model, I do not have opinions.", True, "refused"),
    ],
)
def test_failed_empty_and_refused_score_zero(
    grader: str, text: str | None, ok: bool, failure: str
) -> None:
    result = grade(ITEMS[grader], text, ok=ok, judge_verdict="[[10]]")
    assert result == GradeResult(None, "none", 0.0, False, failure, result.detail)


def test_none_grader_is_always_ungraded() -> None:
    for text, ok in (("anything", True), ("", True), ("x", False)):
        result = grade(make_item("none"), text, ok=ok)
        assert (result.score, result.correct, result.failure) == (0.0, False, "ungraded")


def test_grade_result_is_frozen() -> None:
    result = grade(ITEMS["exact"], "Lisbon")
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.score = 0.5  # type: ignore[misc]


@pytest.mark.parametrize(
    "text",
    ["Sorry, I can't do that.", "Unfortunately, I cannot help.", "I won't write that."],
)
def test_is_refusal_positive(text: str) -> None:
    assert is_refusal(text)


@pytest.mark.parametrize(
    "text",
    ["Lisbon", "The answer is 5. I cannot stress this enough.", "Sorry for the wait: 42", ""],
)
def test_is_refusal_negative(text: str) -> None:
    assert not is_refusal(text)


# --- exact ------------------------------------------------------------------------------------


def test_normalize_text() -> None:
    assert normalize_text("  The  U.S.A.!  ") == "usa"
    assert normalize_text("**`Lisbon`**.") == "lisbon"
    assert normalize_text("A Tale of Two Cities") == "tale of two cities"
    assert normalize_text("ＬＩＳＢＯＮ") == "lisbon"  # NFKC folds full-width letters


@pytest.mark.parametrize(
    ("text", "method"),
    [
        ("Lisbon", "whole_text"),  # the emulator's bare answer
        ("lisbon.", "whole_text"),
        ("**Lisbon**", "whole_text"),
        ("Answer: Lisbon", "answer_line"),
        ("Let me think.\nThe capital is on the Tagus.\n**Final answer:** Lisbon.", "answer_line"),
        ("Portugal's capital is on the Tagus.\n\nLisbon", "last_line"),
    ],
)
def test_exact_correct(text: str, method: str) -> None:
    result = grade(ITEMS["exact"], text)
    assert result.correct and result.score == 1.0 and result.failure is None
    assert result.extraction_method == method
    assert normalize_text(result.extracted_answer or "") == "lisbon"


@pytest.mark.parametrize("text", ["Porto", "Answer: Porto", "Lisbon or Porto", "Lisbonne"])
def test_exact_wrong(text: str) -> None:
    result = grade(ITEMS["exact"], text)
    assert not result.correct and result.score == 0.0 and result.failure is None


def test_exact_aliases_and_articles() -> None:
    item = make_item("exact", "The Beatles", aliases=["Beatles", "the fab four"])
    assert grade(item, "Beatles").correct
    assert grade(item, "The Fab Four!").correct
    assert not grade(item, "The Rolling Stones").correct


def test_exact_non_string_reference() -> None:
    assert grade(make_item("exact", 42), "42").correct


# --- numeric ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "answer", "method"),
    [
        ("Working through it step by step, the answer is 1270.", 1270, "answer_line"),
        ("$1,234.50", 1234.5, "last_number"),
        ("-7", -7, "last_number"),
        ("The temperature dropped to −7 degrees.", -7, "last_number"),
        ("First 3 apples, then 12 more: 15", 15, "last_number"),
        ("The answer is 42. Check: 6 * 7 = 42, and 40 + 2.", 42, "answer_line"),
        ("**Answer:** -0.25", -0.25, "answer_line"),
        ("So we get $\\boxed{1,000}$ in the end, not 999.", 1000, "boxed"),
        ("Avogadro: 6.022e23", 6.022e23, "last_number"),
        ("The range 3-5 ends at 5", 5, "last_number"),
        ("The answer is approximately 12.5 litres (rounded from 12.49).", 12.5, "answer_line"),
    ],
)
def test_numeric_correct(text: str, answer: float, method: str) -> None:
    result = grade(make_item("numeric", answer), text)
    assert result.correct, result
    assert result.extraction_method == method


def test_numeric_extracted_answer_drops_separators_keeps_sign() -> None:
    assert extract_number("I owe $1,234.50") == ("1234.50", 1234.5, "last_number")
    assert extract_number("x = -7") == ("-7", -7.0, "last_number")
    assert extract_number("v2 of the model") is None  # a digit glued to a word is not a number
    assert extract_number("no numbers here") is None


def test_numeric_wrong_and_not_found() -> None:
    item = ITEMS["numeric"]
    wrong = grade(item, "Working through it step by step, the answer is 1271.")
    assert (wrong.correct, wrong.failure, wrong.extracted_answer) == (False, None, "1271")
    missing = grade(item, "It is a lot of litres.")
    assert (missing.correct, missing.failure) == (False, "no_answer_found")


def test_numeric_sign_matters() -> None:
    assert not grade(make_item("numeric", 7), "-7").correct


def test_numeric_tolerances() -> None:
    assert grade(make_item("numeric", 3.14159), "3.14159").correct
    assert not grade(make_item("numeric", 3.14159), "3.14").correct
    assert grade(make_item("numeric", 3.14159, tolerance=0.01), "3.14").correct
    assert grade(make_item("numeric", 1000, relative_tolerance=0.01), "1,009").correct
    assert not grade(make_item("numeric", 1000, relative_tolerance=0.01), "1,011").correct
    assert grade(make_item("numeric", -1232, tolerance=0), "The answer is -1232.").correct


def test_numeric_string_reference() -> None:
    assert grade(make_item("numeric", "1,234"), "1234").correct
    bad = grade(make_item("numeric", "many"), "5")
    assert bad.failure == "grader_error"


@given(st.integers(-(10**12), 10**12))
def test_numeric_extracts_any_integer_in_the_emulator_phrase(n: int) -> None:
    for written in (str(n), f"{n:,}"):
        text = f"Working through it step by step, the answer is {written}."
        assert extract_number(text) is not None
        assert extract_number(text)[1] == n  # type: ignore[index]


@given(st.floats(-1e9, 1e9, allow_nan=False).map(lambda x: round(x, 4)))
def test_numeric_grades_decimals_written_plainly(x: float) -> None:
    assert grade(make_item("numeric", x), f"Result: {x:.4f} units").correct


# --- choice -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "letter", "method"),
    [
        ("Answer: B", "B", "answer_line"),  # the emulator
        ("answer: (b)", "B", "answer_line"),
        ("Nitrogen is 78%.\n**Answer:** B", "B", "answer_line"),
        ("The answer is (B).", "B", "answer_line"),
        ("The answer is B because nitrogen is 78% of air.", "B", "answer_line"),
        ("Answer: A... no wait. Answer: B", "B", "answer_line"),
        ("Nitrogen dominates.\n\n(B)", "B", "last_line"),
        ("Nitrogen dominates.\n**B.**", "B", "last_line"),
        ("$\\boxed{B}$", "B", "boxed"),
    ],
)
def test_choice_correct(text: str, letter: str, method: str) -> None:
    result = grade(ITEMS["choice"], text)
    assert (result.extracted_answer, result.extraction_method, result.correct) == (
        letter,
        method,
        True,
    )


def test_choice_wrong() -> None:
    result = grade(ITEMS["choice"], "Answer: C")
    assert (result.extracted_answer, result.correct, result.failure) == ("C", False, None)


@pytest.mark.parametrize(
    "text",
    [
        "Answer: Because nitrogen is inert.",  # "B" of "Because" is not a letter answer
        "The answer is a gas.",  # the article "a" is not choice A
        "Answer: E",  # beyond n_choices=4
        "Nitrogen, I believe.",
    ],
)
def test_choice_no_answer(text: str) -> None:
    result = grade(ITEMS["choice"], text)
    assert (result.correct, result.failure) == (False, "no_answer_found")


def test_choice_out_of_range_letter_is_skipped_for_an_earlier_one() -> None:
    assert extract_choice("Answer: C, or in the long list Answer: H", 4) == ("C", "answer_line")
    assert extract_choice("Answer: H", 10) == ("H", "answer_line")


# --- regex and contains -----------------------------------------------------------------------


def test_regex() -> None:
    item = ITEMS["regex"]
    hit = grade(item, "It is cold in Oslo today.")
    assert (hit.correct, hit.extracted_answer) == (True, "Oslo")
    assert not grade(item, "It is cold in Oslofjord.").correct
    assert not grade(item, "it is cold in oslo").correct
    assert grade(make_item("regex", None, pattern=r"\boslo\b", flags="i"), "OSLO!").correct
    assert grade(make_item("regex", None, pattern="^b", flags=["MULTILINE"]), "a\nb").correct
    assert grade(make_item("regex", r"\d{4}-\d{2}"), "on 2024-05").correct  # answer as pattern


def test_regex_misconfigured_item_is_a_grader_error() -> None:
    assert grade(make_item("regex", None, pattern="(unclosed"), "x").failure == "grader_error"
    assert grade(make_item("regex", None), "x").failure == "grader_error"
    assert grade(make_item("regex", None, pattern="x", flags="q"), "x").failure == "grader_error"


def test_contains() -> None:
    item = ITEMS["contains"]
    assert grade(item, "Mostly nitrogen (about 78%).").correct
    assert not grade(item, "Mostly oxygen.").correct
    assert not grade(make_item("contains", "cat"), "concatenate").correct  # whole words only


def test_contains_list_all_and_any() -> None:
    all_item = make_item("contains", ["Paris", "Berlin", "Rome"])
    partial = grade(all_item, "Paris and Rome.")
    assert (partial.correct, partial.score) == (False, pytest.approx(2 / 3))
    assert grade(all_item, "rome, berlin, paris").correct
    any_item = make_item("contains", ["Paris", "Berlin"], match="any")
    assert grade(any_item, "berlin").score == 1.0
    assert grade(any_item, "Madrid").score == 0.0


# --- json_schema ------------------------------------------------------------------------------

JSON_ITEM = ITEMS["json_schema"]


@pytest.mark.parametrize(
    ("text", "method"),
    [
        ('{"name": "Ada", "age": 36}', "whole_text"),  # the emulator
        (
            'Sure! Here it is:\n```json\n{"name": "ada ", "age": 36.0}\n```\nAnything else?',
            "fenced_json",
        ),
        ('```\n{"age": 36, "name": "Ada", "city": "London"}\n```', "fenced_json"),
        ('The record {"name": "Ada", "age": 36, "note": "uses {braces}"} is done.', "first_object"),
    ],
)
def test_json_correct(text: str, method: str) -> None:
    result = grade(JSON_ITEM, text)
    assert (result.correct, result.score, result.extraction_method) == (True, 1.0, method)


def test_json_wrong_value_gives_partial_score() -> None:
    result = grade(JSON_ITEM, '{"name": "Ada", "age": 37}')
    assert (result.correct, result.score, result.failure) == (False, 0.5, None)
    assert result.detail == "wrong fields: age"


def test_json_schema_violation_scores_zero() -> None:
    missing = grade(JSON_ITEM, '{"name": "Ada"}')  # the emulator's wrong answer drops a field
    assert (missing.correct, missing.score, missing.failure) == (False, 0.0, "schema_invalid")
    assert "missing 'age'" in (missing.detail or "")
    wrong_type = grade(JSON_ITEM, '{"name": "Ada", "age": "36"}')
    assert wrong_type.failure == "schema_invalid"


def test_json_not_found() -> None:
    for text in ("No JSON here.", "{not json}", '```json\n{"name": \n```'):
        assert grade(JSON_ITEM, text).failure == "no_answer_found"


def test_json_without_reference_only_validates() -> None:
    item = make_item("json_schema", None, schema=PERSON_SCHEMA)
    assert grade(item, '{"name": "Bob", "age": 5}').correct
    assert not grade(item, '{"name": "Bob", "age": -5}').correct


def test_extract_json_object_skips_unparsable_candidates() -> None:
    text = 'Set {x} first, then {"a": 1}'
    assert extract_json_object(text) == ({"a": 1}, "first_object")
    assert extract_json_object("[1, 2]") == (None, "none")


@pytest.mark.parametrize(
    ("instance", "schema", "valid"),
    [
        (3, {"type": "integer"}, True),
        (3.0, {"type": "integer"}, True),
        (3.5, {"type": "integer"}, False),
        (True, {"type": "integer"}, False),  # bool is not a number in JSON Schema
        (True, {"type": "boolean"}, True),
        (None, {"type": ["string", "null"]}, True),
        ("x", {"type": "number"}, False),
        ("red", {"enum": ["red", "green"]}, True),
        ("blue", {"enum": ["red", "green"]}, False),
        (1, {"enum": [True]}, False),
        (5, {"minimum": 5, "maximum": 5}, True),
        (4, {"minimum": 5}, False),
        (5, {"exclusiveMaximum": 5}, False),
        ([1, 2, 3], {"type": "array", "items": {"type": "integer", "maximum": 3}}, True),
        ([1, "2"], {"type": "array", "items": {"type": "integer"}}, False),
        ({"a": 1, "b": 2}, {"properties": {"a": {}}, "additionalProperties": False}, False),
        (
            {"a": {"b": "x"}},
            {"properties": {"a": {"properties": {"b": {"type": "integer"}}}}},
            False,
        ),
        ({}, {"required": ["a"]}, False),
        ("anything", {"format": "email", "unknownKeyword": 1}, True),
    ],
)
def test_validate_schema_subset(instance: Any, schema: dict[str, Any], valid: bool) -> None:
    assert (validate_schema(instance, schema) == []) is valid


def test_validate_schema_error_paths() -> None:
    errors = validate_schema({"a": [1, "x"]}, {"properties": {"a": {"items": {"type": "integer"}}}})
    assert errors == ["$.a[1]: expected integer"]


# --- code -------------------------------------------------------------------------------------

CODE_ITEM = make_item("code", None, tests=["assert add(2, 3) == 5", "assert add(-1, 1) == 0"])


def test_code_correct_in_a_fence_with_prose() -> None:
    text = "Here you go:\n```python\ndef add(a, b):\n    return a + b\n```\nIt adds."
    result = grade(CODE_ITEM, text)
    assert (result.correct, result.score, result.extraction_method) == (True, 1.0, "fenced_python")
    assert result.extracted_answer == "def add(a, b):\n    return a + b"


def test_code_wrong_answer_fails_the_tests() -> None:
    text = "```python\ndef solution(*args, **kwargs):\n    return None\n```"  # the emulator's
    result = grade(CODE_ITEM, text)
    assert (result.correct, result.score, result.failure) == (False, 0.0, "runtime_error")
    wrong = grade(CODE_ITEM, "```python\ndef add(a, b):\n    return a - b\n```")
    assert (wrong.correct, wrong.failure) == (False, None)
    assert (wrong.detail or "").startswith("failed: AssertionError")


def test_code_unfenced_whole_text_and_timeout() -> None:
    assert grade(CODE_ITEM, "def add(a, b):\n    return b + a\n").correct
    looping = make_item("code", None, tests="assert True", timeout_s=0.5)
    assert grade(looping, "```python\nwhile True:\n    pass\n```").failure == "timeout"


def test_code_without_tests_is_a_grader_error() -> None:
    assert grade(make_item("code", None), "```python\npass\n```").failure == "grader_error"


# --- tool_call --------------------------------------------------------------------------------

TOOL_ITEM = ITEMS["tool_call"]


@pytest.mark.parametrize(
    "text",
    [
        calls_text(("get_weather", '{"city": "Oslo"}')),  # as streamed
        calls_text(("get_weather", {"city": "Oslo"})),  # already parsed
        calls_text(("get_weather", '{"city":"Oslo","unit":null}')),  # null extras are absent
        calls_text(("get_time", '{"tz": "CET"}'), ("get_weather", '{"city": " Oslo"}')),
        json.dumps(
            [
                {
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                }
            ]
        ),
        json.dumps({"name": "get_weather", "arguments": {"city": "Oslo"}}),
        '<tool_call>{"name": "get_weather", "arguments": {"city": "Oslo"}}</tool_call>',
        calls_text(("get_weather", json.dumps('{"city": "Oslo"}'))),  # double-encoded
    ],
)
def test_tool_call_correct(text: str) -> None:
    result = grade(TOOL_ITEM, text)
    assert (result.correct, result.score) == (True, 1.0), result
    assert json.loads(result.extracted_answer or "")["name"] == "get_weather"


@pytest.mark.parametrize(
    ("text", "score"),
    [
        (calls_text(("get_time", '{"city": "Oslo"}')), 0.0),  # emulator: other function
        (calls_text(("get_weather", "{}")), 0.5),  # emulator: right function, no arguments
        (calls_text(("get_weather", "")), 0.5),
        (calls_text(("get_weather", '{"city": "Bergen"}')), 0.5),
        (calls_text(("get_weather", '{"city": "oslo"}')), 0.5),  # case matters by default
        (calls_text(("get_weather", '{"city": "Oslo", "unit": "C"}')), 0.5),  # extra argument
        (calls_text(("get_weather", '{"city": "Os')), 0.5),  # truncated JSON
        (calls_text(("get_weather", '["Oslo"]')), 0.5),
        (calls_text(("get_weather", '{"city": "Oslo"}'), ("get_weather", '{"city": "Oslo"}')), 0.5),
    ],
)
def test_tool_call_wrong(text: str, score: float) -> None:
    result = grade(TOOL_ITEM, text)
    assert (result.correct, result.score, result.failure) == (False, score, None)


def test_tool_call_options() -> None:
    answer = {"name": "get_weather", "arguments": {"city": "Oslo", "days": 3}}
    lenient = make_item("tool_call", answer, ignore_case=True, allow_extra=True)
    text = calls_text(("get_weather", '{"city": "OSLO", "days": 3.0, "unit": "C"}'))
    assert grade(lenient, text).correct
    strict = make_item("tool_call", answer)
    assert not grade(strict, text).correct
    assert not grade(strict, calls_text(("get_weather", '{"city": "Oslo", "days": "3"}'))).correct
    assert not grade(strict, calls_text(("get_weather", '{"city": "Oslo", "days": true}'))).correct


def test_tool_call_text_answer_is_no_answer_found() -> None:
    result = grade(TOOL_ITEM, "It is probably sunny in Oslo.")
    assert (result.correct, result.failure) == (False, "no_answer_found")
    assert parse_tool_calls("[]") == []


# --- judge ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "score"),
    [
        ("Good answer. Rating: [[8]]", 0.8),
        ("[[7.5]]", 0.75),
        ("[[0]]", 0.0),
        ("[[10]]", 1.0),
        ("Format is [[rating]]; I give [[3]] then revise to [[4]]", 0.4),
        ("[[11]]", None),
        ("Rating: 8/10", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_judge_score(text: str | None, score: float | None) -> None:
    assert parse_judge_score(text) == (pytest.approx(score) if score is not None else None)


def test_judge_grading() -> None:
    item = ITEMS["judge"]
    pending = grade(item, "A thoughtful essay.")
    assert (pending.score, pending.correct, pending.failure) == (0.0, False, "needs_judge")
    good = grade(item, "A thoughtful essay.", judge_verdict="Solid. [[8]]")
    assert (good.score, good.correct, good.extracted_answer) == (pytest.approx(0.8), True, "8")
    weak = grade(item, "A thoughtful essay.", judge_verdict="[[6.5]]")
    assert (weak.score, weak.correct) == (pytest.approx(0.65), False)
    assert grade(item, "x", judge_verdict="no idea").failure == "judge_unparsable"
    lenient = make_item("judge", None, pass_score=5)
    assert grade(lenient, "x", judge_verdict="[[5]]").correct


def test_judge_prompt_carries_question_reference_rubric_and_response() -> None:
    item = dataclasses.replace(ITEMS["judge"], answer="The sky scatters blue light.")
    messages = judge_prompt(item, "Rayleigh scattering.")
    assert [m["role"] for m in messages] == ["system", "user"]
    assert "[[" in messages[0]["content"]
    user = messages[1]["content"]
    for part in ("Question?", "The sky scatters blue light.", "Be right.", "Rayleigh scattering."):
        assert part in user


# --- items and the emulator -------------------------------------------------------------------


def test_check_item() -> None:
    assert all(check_item(item) == [] for item in ITEMS.values())
    assert check_item(make_item("regex", None, pattern="(")) != []
    assert check_item(make_item("choice", "E", n_choices=4)) != []
    assert check_item(make_item("json_schema", {"a": 1})) != []
    assert check_item(make_item("code", None)) != []
    assert check_item(make_item("numeric", "lots")) != []
    assert check_item(make_item("tool_call", {"arguments": {}})) != []


def test_emulator_answers_grade_as_the_emulator_meant() -> None:
    items = load_dataset(FIXTURES / "sample.jsonl")
    for item in items:
        if item.grader == "tool_call":
            right = calls_text((item.answer["name"], json.dumps(item.answer["arguments"])))
        else:
            right = render_correct(item)
            for seed in range(5):
                assert not grade(item, render_wrong(item, random.Random(seed))).correct
        assert grade(item, right).correct, item.id
