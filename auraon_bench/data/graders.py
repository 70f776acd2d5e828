"""Answer graders: turn a model's response into a GradeResult for one dataset item.

Methods:
    grade(item, response_text, *, ok=True, judge_verdict=None) -> GradeResult   (the entry point)
    check_item(item) -> list[str]        problems in an item's grader_options, before a run
    judge_prompt(item, response)         the judge model's messages for one answer
    and, from ``auraon_bench.data.answers`` (reading free text, no grading): is_refusal(text),
    normalize_text(text), extract_number(text), extract_choice(text, n_choices),
    extract_json_object(text), validate_schema(instance, schema), parse_tool_calls(text),
    parse_judge_score(text)

Before any grader runs (in this order): grader ``none`` -> failure ``ungraded``; ``ok=False`` (the
request failed) -> ``error``; ``None`` or blank text -> ``empty``; a refusal -> ``refused``. All
score 0 and stay in the denominator. A refusal is text that *starts* with one of REFUSAL_PATTERN's
openings: "I can't/cannot/won't/am unable to/am not able to ...", "I'm sorry, but",
"Sorry/Unfortunately, I can't", "As an AI". A hedge such as "I cannot be sure, but 42" counts as
a refusal too: the list stays small on purpose. ``failure`` is None whenever an answer was found
and compared, so a wrong answer has ``failure=None``; otherwise it names why not.

Rules per grader (options are the item's ``grader_options``):

exact: normalize_text both sides (NFKC, lower-case, delete punctuation and backticks, drop the
    articles a/an/the, collapse whitespace). Candidates in order: the whole text, the text after
    the last "answer:" / "answer is", the last non-empty line; correct if one equals the
    reference or one of ``aliases``.
numeric: the number in the last ``\\boxed{}``, else the first number after the last "answer:" /
    "answer is" on its line ("the answer is 1270."), else the last number in the text.
    Thousands separators ("1,234") are dropped; signs, decimals and exponents kept; a "$" before
    the digits is skipped. Correct if ``|x - ref| <= tolerance`` (absolute, default 1e-6) or,
    when ``relative_tolerance`` is given, ``|x - ref| <= relative_tolerance * |ref|``.
choice: the last ``\\boxed{X}``, else the last "Answer: X" / "answer: (x)" / "the answer is (X)"
    (a letter must not be followed by a word character, so "Answer: Because" is no answer),
    else a lone letter on the last line ("B", "(B).", "**B**"). Letters past ``n_choices``
    (default 10: A-J) are skipped. Compared upper-case.
regex: ``pattern`` (default: the reference itself) searched with ``flags`` (letters of "imsx" or
    names such as "IGNORECASE", a string or a list); correct if it matches.
contains: every reference (a string or a list, plus ``aliases``) occurs as whole words in the
    normalised text; ``match: "any"`` needs one. Score: share found ("all") or 0/1 ("any").
json_schema: the first JSON object (a ```json fence, else the first balanced {...} that parses),
    valid against ``schema`` (validate_schema's subset; invalid -> 0, ``schema_invalid``) and,
    when a reference object is given, each required field (the schema's ``required`` that the
    reference has, else all the reference's keys) equal to it: numbers within 1e-6 relative,
    strings normalised. Score when valid: share of those fields equal.
code: code_runner.extract_code, then code_runner.run_python with ``tests`` (a string or a list
    of assert statements), ``timeout_s`` (10) and ``memory_mb`` (512). passed -> 1; failed
    asserts -> 0 (failure None); timeout -> ``timeout``; any other error -> ``runtime_error``.
tool_call: parse_tool_calls; exactly one call must have the reference's name (others are
    ignored) and its arguments must equal the reference's: type-aware (1 == 1.0, "1" != 1,
    True != 1), strings exact up to surrounding whitespace (``ignore_case``: casefolded); keys
    not in the reference make it wrong unless ``allow_extra`` (keys sent as null count as
    absent). Score 1 for both, 0.5 for the right name with wrong arguments (or two calls of
    it), 0 for no call of it.
judge: needs the judge model's answer (``judge_verdict``); without it score 0, failure
    ``needs_judge`` (a placeholder, not a verdict). With it: parse_judge_score ("[[7.5]]" ->
    0.75), correct if score >= ``pass_score`` / 10 (default 7); no verdict -> ``judge_unparsable``.
none: always score 0, failure ``ungraded``.

A misconfigured item (no pattern, bad regex, no tests) grades 0 with failure ``grader_error``
and a detail; ``check_item`` finds these before a run.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from auraon_bench.data import code_runner
from auraon_bench.data.answers import (
    NUMBER,
    answer_tail,
    call_from,
    extract_choice,
    extract_json_object,
    extract_number,
    is_number,
    is_refusal,
    json_equal,
    last_line,
    normalize_text,
    number_match_value,
    parse_judge_score,
    parse_tool_calls,
    validate_schema,
)
from auraon_bench.data.dataset import PromptItem


@dataclass(frozen=True, slots=True)
class GradeResult:
    """One graded response. ``detail`` is a short human-readable reason, or None."""

    extracted_answer: str | None
    extraction_method: str
    score: float
    correct: bool
    failure: str | None = None
    detail: str | None = None


class _BadItem(ValueError):
    """The item's grader_options cannot be used: a dataset bug, not a model's mistake."""


def _fail(failure: str, detail: str | None = None) -> GradeResult:
    return GradeResult(None, "none", 0.0, False, failure, detail)


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _loose_text(got: str, ref: str) -> bool:
    return normalize_text(got) == normalize_text(ref)


def _references(item: PromptItem, options: Mapping[str, Any]) -> list[str]:
    answers = item.answer if isinstance(item.answer, list) else [item.answer]
    aliases = options.get("aliases") or []
    refs = [str(a) for a in [*answers, *aliases] if a is not None]
    if not refs:
        raise _BadItem("no reference answer")
    return refs


def _grade_exact(item: PromptItem, text: str, options: Mapping[str, Any]) -> GradeResult:
    refs = {normalize_text(r) for r in _references(item, options)}
    tail, last = answer_tail(text), last_line(text)
    candidates = [(text.strip(), "whole_text")]
    if tail is not None:
        candidates.append((tail, "answer_line"))
    if last != text.strip():
        candidates.append((last, "last_line"))
    for candidate, method in candidates:
        if normalize_text(candidate) in refs:
            return GradeResult(candidate, method, 1.0, True)
    shown, method = candidates[1] if len(candidates) > 1 else candidates[0]
    return GradeResult(shown, method, 0.0, False)


def _reference_number(item: PromptItem) -> float:
    ref = item.answer
    if is_number(ref):
        return float(ref)
    if isinstance(ref, str) and (match := NUMBER.fullmatch(ref.strip())):
        return number_match_value(match)[1]
    raise _BadItem(f"numeric reference is not a number: {ref!r}")


def _grade_numeric(item: PromptItem, text: str, options: Mapping[str, Any]) -> GradeResult:
    ref = _reference_number(item)
    found = extract_number(text)
    if found is None:
        return _fail("no_answer_found", "no number in the response")
    shown, value, method = found
    tolerance = float(options.get("tolerance", 1e-6))
    relative = options.get("relative_tolerance")
    error = abs(value - ref)
    correct = error <= tolerance or (relative is not None and error <= float(relative) * abs(ref))
    return GradeResult(shown, method, float(correct), correct)


def _grade_choice(item: PromptItem, text: str, options: Mapping[str, Any]) -> GradeResult:
    found = extract_choice(text, int(options.get("n_choices", 10)))
    if found is None:
        return _fail("no_answer_found", "no answer letter in the response")
    letter, method = found
    correct = letter == str(item.answer).strip().upper()
    return GradeResult(letter, method, float(correct), correct)


def _regex_flags(value: Any) -> int:
    names = value if isinstance(value, list) else [value] if value else []
    flags = 0
    for name in names:
        if isinstance(name, str) and name and set(name.lower()) <= set("imsx"):
            for letter in name.lower():
                flags |= re.RegexFlag[{"i": "I", "m": "M", "s": "S", "x": "X"}[letter]]
        elif isinstance(name, str) and name.upper() in re.RegexFlag.__members__:
            flags |= re.RegexFlag[name.upper()]
        else:
            raise _BadItem(f"unknown regex flag {name!r}")
    return flags


def _grade_regex(item: PromptItem, text: str, options: Mapping[str, Any]) -> GradeResult:
    pattern = options.get("pattern", item.answer)
    if not isinstance(pattern, str) or not pattern:
        raise _BadItem("regex grader needs grader_options.pattern")
    try:
        compiled = re.compile(pattern, _regex_flags(options.get("flags")))
    except re.error as exc:
        raise _BadItem(f"bad regex {pattern!r}: {exc}") from None
    match = compiled.search(text)
    if match is None:
        return GradeResult(None, "regex_search", 0.0, False, detail="pattern not found")
    return GradeResult(match.group(0), "regex_search", 1.0, True)


def _grade_contains(item: PromptItem, text: str, options: Mapping[str, Any]) -> GradeResult:
    refs = [normalize_text(r) for r in _references(item, options)]
    haystack = f" {normalize_text(text)} "
    # Padding with spaces makes it a whole-word test: "cat" is not found in "concatenate".
    found = [r for r in refs if r and f" {r} " in haystack]
    any_match = options.get("match", "all") == "any"
    score = float(bool(found)) if any_match else len(found) / len(refs)
    return GradeResult(", ".join(found) or None, "normalized_text", score, score == 1.0)


def _grade_json(item: PromptItem, text: str, options: Mapping[str, Any]) -> GradeResult:
    obj, method = extract_json_object(text)
    if obj is None:
        return _fail("no_answer_found", "no JSON object in the response")
    shown = _compact(obj)
    errors = validate_schema(obj, options.get("schema"))
    if errors:
        detail = "; ".join(errors[:3])
        return GradeResult(shown, method, 0.0, False, "schema_invalid", detail)
    ref = item.answer
    if not isinstance(ref, dict) or not ref:
        return GradeResult(shown, method, 1.0, True)
    required = (options.get("schema") or {}).get("required") or []
    fields = [k for k in required if k in ref] or list(ref)
    equal = [
        k
        for k in fields
        if (k in obj or ref[k] is None)
        and json_equal(obj.get(k), ref[k], _loose_text, rel_tol=1e-6, allow_extra=True)
    ]
    wrong = [k for k in fields if k not in equal]
    detail = f"wrong fields: {', '.join(wrong)}" if wrong else None
    score = len(equal) / len(fields)
    return GradeResult(shown, method, score, not wrong, None, detail)


def _grade_code(item: PromptItem, text: str, options: Mapping[str, Any]) -> GradeResult:
    tests = options.get("tests")
    if isinstance(tests, list):
        tests = "\n".join(str(t) for t in tests)
    if not isinstance(tests, str) or not tests.strip():
        raise _BadItem("code grader needs grader_options.tests")
    code, method = code_runner.extract_code(text)
    run = code_runner.run_python(
        code,
        float(options.get("timeout_s", 10.0)),
        int(options.get("memory_mb", 512)),
        tests=tests,
    )
    failure = {"passed": None, "failed": None, "timeout": "timeout"}.get(
        run.status, "runtime_error"
    )
    detail = f"{run.status}: {run.message}"
    return GradeResult(code, method, float(run.passed), run.passed, failure, detail)


def _grade_tool_call(item: PromptItem, text: str, options: Mapping[str, Any]) -> GradeResult:
    ref = item.answer if isinstance(item.answer, Mapping) else {}
    expected = call_from(ref)
    if expected is None or expected.error:
        raise _BadItem('tool_call reference must be {"name": ..., "arguments": {...}}')
    calls = parse_tool_calls(text)
    if not calls:
        return _fail("no_answer_found", "no tool call in the response")
    named = [c for c in calls if c.name == expected.name]
    if not named:
        shown = _compact({"name": calls[0].name, "arguments": calls[0].arguments})
        return GradeResult(shown, "tool_calls", 0.0, False, detail=f"called {calls[0].name}")
    call = named[0]
    shown = _compact({"name": call.name, "arguments": call.arguments})
    if len(named) > 1:
        return GradeResult(shown, "tool_calls", 0.5, False, detail=f"called {len(named)} times")
    ignore_case = bool(options.get("ignore_case"))

    def text_equal(got: str, ref: str) -> bool:
        if ignore_case:
            return got.strip().casefold() == ref.strip().casefold()
        return got.strip() == ref.strip()

    right = call.error is None and json_equal(
        call.arguments,
        expected.arguments,
        text_equal,
        rel_tol=1e-9,
        allow_extra=bool(options.get("allow_extra")),
    )
    detail = None if right else (call.error or "wrong arguments")
    return GradeResult(shown, "tool_calls", 1.0 if right else 0.5, right, None, detail)


def judge_prompt(item: PromptItem, response: str) -> list[dict[str, str]]:
    """Chat messages asking a judge model to rate ``response`` 0-10 against the item's
    ``grader_options.rubric`` (and the reference answer, when there is one)."""
    conversation = "\n\n".join(
        m["content"] if len(item.messages) == 1 else f"{m['role'].upper()}: {m['content']}"
        for m in item.messages
    )
    rubric = item.grader_options.get("rubric") or "Correctness, completeness, clarity."
    parts = [f"[Question]\n{conversation}"]
    if item.answer is not None:
        reference = item.answer if isinstance(item.answer, str) else _compact(item.answer)
        parts.append(f"[Reference answer]\n{reference}")
    parts += [f"[Rubric]\n{rubric}", f"[Response to grade]\n{response}"]
    system = (
        "You grade one response to a question. Judge it only against the rubric and, if given, "
        "the reference answer; ignore its length and style unless the rubric asks for them. "
        "Write at most three sentences of justification, then the grade on the last line as "
        "an integer or decimal from 0 (worthless) to 10 (perfect) in double square brackets, "
        "for example: [[6]]"
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": "\n\n".join(parts)}]


def _grade_judge(item: PromptItem, verdict: str | None) -> GradeResult:
    if verdict is None:
        return _fail("needs_judge", "grade again with the judge model's verdict")
    score = parse_judge_score(verdict)
    if score is None:
        return _fail("judge_unparsable", "no [[0-10]] verdict in the judge's answer")
    threshold = float(item.grader_options.get("pass_score", 7)) / 10.0
    return GradeResult(f"{score * 10:g}", "judge_verdict", score, score >= threshold)


_GRADERS: dict[str, Callable[[PromptItem, str, Mapping[str, Any]], GradeResult]] = {
    "exact": _grade_exact,
    "numeric": _grade_numeric,
    "choice": _grade_choice,
    "regex": _grade_regex,
    "contains": _grade_contains,
    "json_schema": _grade_json,
    "code": _grade_code,
    "tool_call": _grade_tool_call,
}


def grade(
    item: PromptItem,
    response_text: str | None,
    *,
    ok: bool = True,
    judge_verdict: str | None = None,
) -> GradeResult:
    """Grade one response to ``item``; ``judge_verdict``: the judge model's answer (judge items)."""
    if item.grader == "none":
        return _fail("ungraded")
    if not ok:
        return _fail("error", "the request failed")
    if response_text is None or not response_text.strip():
        return _fail("empty")
    if is_refusal(response_text):
        return _fail("refused", response_text.strip().splitlines()[0][:120])
    if item.grader == "judge":
        return _grade_judge(item, judge_verdict)
    grader = _GRADERS.get(item.grader)
    if grader is None:
        return _fail("grader_error", f"unknown grader {item.grader!r}")
    try:
        return grader(item, response_text, item.grader_options or {})
    except (_BadItem, TypeError, ValueError) as exc:
        return _fail("grader_error", str(exc))


def check_item(item: PromptItem) -> list[str]:
    """Problems that would make ``grade`` return ``grader_error`` for this item (empty: fine)."""
    options = item.grader_options or {}
    probes = {
        "exact": lambda: _references(item, options),
        "contains": lambda: _references(item, options),
        "numeric": lambda: _reference_number(item),
        "regex": lambda: _grade_regex(item, "", options),
        "tool_call": lambda: _grade_tool_call(item, "[]", options),
    }
    problems: list[str] = []
    try:
        if item.grader in probes:
            probes[item.grader]()
    except _BadItem as exc:
        problems.append(str(exc))
    if item.grader == "choice":
        allowed = "ABCDEFGHIJ"[: int(options.get("n_choices", 10))]
        if str(item.answer).strip().upper() not in allowed or len(str(item.answer).strip()) != 1:
            problems.append(f"choice reference {item.answer!r} is not one of {allowed}")
    if item.grader == "json_schema" and not isinstance(options.get("schema"), Mapping):
        problems.append("json_schema grader needs grader_options.schema (an object)")
    if item.grader == "code" and not options.get("tests"):
        problems.append("code grader needs grader_options.tests")
    return problems
