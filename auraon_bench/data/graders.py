"""Answer graders: turn a model's response into a GradeResult for one dataset item.

Methods:
    grade(item, response_text, *, ok=True, judge_verdict=None) -> GradeResult   (the entry point)
    check_item(item) -> list[str]        problems in an item's grader_options, before a run
    is_refusal(text), normalize_text(text), extract_number(text), extract_choice(text, n_choices),
    extract_json_object(text), validate_schema(instance, schema), parse_tool_calls(text),
    parse_judge_score(text), judge_prompt(item, response)

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
import math
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from auraon_bench.data import code_runner
from auraon_bench.data.dataset import PromptItem

REFUSAL_PATTERN = re.compile(
    r"^\W*(?:i\s+(?:can(?:no|')t|won't|will\s+not|(?:am|'m)\s+(?:unable|not\s+able)\s+to)\b"
    r"|i(?:'m|\s+am)\s+sorry,?\s+but\b"
    r"|(?:sorry|unfortunately),?\s+i\s+can(?:no|')t\b"
    r"|as\s+an\s+ai\b)",
    re.IGNORECASE,
)
_ARTICLES = re.compile(r"\b(?:a|an|the)\b")
_EXTRA_PUNCTUATION = frozenset("`^~|")  # symbols (not category P) that markdown wraps answers in
# "answer:", "**Answer:**", "answer is", "final answer is:" ... and the rest of that line.
_ANSWER_TAIL = re.compile(r"(?im)\banswer\b[*_ \t]*(?:is\b[*_ \t]*[:：]?|[:：=])[*_ \t]*(.*)$")
# No letter, digit or dot just before: keeps "x2" and "v1.2" out, and "3-5" reads as 5, not -5.
_NUMBER = re.compile(
    r"(?<![A-Za-z0-9_.])([-−–+]?)\$?((?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?|\.\d+)"
)
_BOXED = re.compile(r"\\boxed\{([^{}]*)\}")
_CHOICE_COLON = re.compile(r"(?i)\banswer\b[*_ \t]*[:：][*_ \t]*\$?\(?([a-j])\)?(?![\w'])")
# After "answer is" a bare lower-case letter is usually the article "a": only (x) or X count.
_CHOICE_IS = re.compile(r"\b[Aa]nswer\s+is\s*:?[*_ \t]*(?:\(([A-Ja-j])\)|\$?([A-J])(?![\w']))")
_LONE_LETTER = re.compile(r"(?i)^[*_\s(\[]*([a-j])[)\].:*_\s]*$")
_JSON_FENCE = re.compile(r"```[ \t]*(json)?[^\n]*\n(.*?)```", re.DOTALL | re.IGNORECASE)
_JUDGE_VERDICT = re.compile(r"\[\[(\d+\.?\d*)\]\]")
_MAX_OBJECT_STARTS = 64  # bounds the brace scan on long answers full of "{"


@dataclass(frozen=True, slots=True)
class GradeResult:
    """One graded response. ``detail`` is a short human-readable reason, or None."""

    extracted_answer: str | None
    extraction_method: str
    score: float
    correct: bool
    failure: str | None = None
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One parsed call; ``error`` says why its arguments could not be parsed."""

    name: str
    arguments: Any
    error: str | None = None


class _BadItem(ValueError):
    """The item's grader_options cannot be used: a dataset bug, not a model's mistake."""


def _fail(failure: str, detail: str | None = None) -> GradeResult:
    return GradeResult(None, "none", 0.0, False, failure, detail)


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def is_refusal(text: str) -> bool:
    """True if the text opens with one of REFUSAL_PATTERN's phrases (curly apostrophes too)."""
    return REFUSAL_PATTERN.match(text.replace("\u2019", "'")) is not None


def normalize_text(text: str) -> str:
    """NFKC, lower-case, delete punctuation, drop a/an/the, collapse whitespace."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = "".join(
        ch
        for ch in text
        if not unicodedata.category(ch).startswith("P") and ch not in _EXTRA_PUNCTUATION
    )
    return " ".join(_ARTICLES.sub(" ", text).split())


def _answer_tail(text: str) -> str | None:
    tails = [m.group(1).strip() for m in _ANSWER_TAIL.finditer(text)]
    return tails[-1] if tails and tails[-1] else None


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _number_match_value(match: re.Match[str]) -> tuple[str, float]:
    sign = "-" if match.group(1) in ("-", "−", "–") else ""
    digits = match.group(2).replace(",", "")
    return sign + digits, float(sign + digits)


def extract_number(text: str) -> tuple[str, float, str] | None:
    """(number as written without separators, value, method) or None; see the module rules."""
    boxed = _BOXED.findall(text)
    if boxed and (match := _NUMBER.search(boxed[-1])):
        return (*_number_match_value(match), "boxed")
    tails = [m.group(1) for m in _ANSWER_TAIL.finditer(text)]
    if tails and (match := _NUMBER.search(tails[-1])):
        return (*_number_match_value(match), "answer_line")
    numbers = list(_NUMBER.finditer(text))
    return (*_number_match_value(numbers[-1]), "last_number") if numbers else None


def extract_choice(text: str, n_choices: int = 10) -> tuple[str, str] | None:
    """(upper-case letter, method) or None; letters past ``n_choices`` are skipped."""
    allowed = "ABCDEFGHIJ"[: max(1, min(n_choices, 10))]
    boxed = [b.strip(" ()$").upper() for b in _BOXED.findall(text)]
    if boxed and boxed[-1] in allowed and len(boxed[-1]) == 1:
        return boxed[-1], "boxed"
    found: list[tuple[int, str]] = [(m.start(), m.group(1)) for m in _CHOICE_COLON.finditer(text)]
    found += [(m.start(), m.group(1) or m.group(2)) for m in _CHOICE_IS.finditer(text)]
    letters = [letter.upper() for _, letter in sorted(found) if letter.upper() in allowed]
    if letters:
        return letters[-1], "answer_line"
    lone = _LONE_LETTER.match(_last_line(text))
    if lone and lone.group(1).upper() in allowed:
        return lone.group(1).upper(), "last_line"
    return None


def _object_end(text: str, start: int) -> int | None:
    """Index of the brace closing the one at ``start``, skipping braces inside JSON strings."""
    depth, in_string, escaped = 0, False, False
    for i in range(start, len(text)):
        ch = text[i]
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i
    return None


def _load_object(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def extract_json_object(text: str) -> tuple[dict[str, Any] | None, str]:
    """The first JSON object: a ```json fence (or a bare fence holding an object), else the
    first balanced {...} that parses. Returns (object or None, method)."""
    for fence in _JSON_FENCE.finditer(text):
        if fence.group(1) or fence.group(2).lstrip().startswith("{"):
            obj = _load_object(fence.group(2))
            if obj is not None:
                return obj, "fenced_json"
    start = text.find("{")
    for _ in range(_MAX_OBJECT_STARTS):
        if start == -1:
            break
        end = _object_end(text, start)
        if end is None:
            break  # an unclosed brace: no later "{" closes either, the scan ran to the end
        obj = _load_object(text[start : end + 1])
        if obj is not None:
            whole = text.strip() == text[start : end + 1]
            return obj, "whole_text" if whole else "first_object"
        start = text.find("{", start + 1)
    return None, "none"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


_TYPE_CHECKS: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "number": _is_number,
    "integer": lambda v: _is_number(v) and float(v).is_integer(),
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "null": lambda v: v is None,
}


def validate_schema(instance: Any, schema: Any, path: str = "$") -> list[str]:
    """Errors of ``instance`` against a JSON-Schema subset (empty list: valid).

    Supported: type (a name or a list), enum, minimum, maximum, exclusiveMinimum,
    exclusiveMaximum, required, properties, additionalProperties (false only), items (one
    schema). Other keywords are ignored, as JSON Schema ignores unknown ones; jsonschema is not
    a dependency of this project, so this subset is implemented here.
    """
    if not isinstance(schema, Mapping):
        return []  # true / absent schema: anything is valid
    expected = schema.get("type")
    if expected is not None:
        names = expected if isinstance(expected, list) else [expected]
        if not any(_TYPE_CHECKS.get(name, lambda _v: False)(instance) for name in names):
            return [f"{path}: expected {' or '.join(map(str, names))}"]
    errors: list[str] = []
    if "enum" in schema and not any(_equal(instance, e, _strict_text) for e in schema["enum"]):
        errors.append(f"{path}: not one of the allowed values")
    if _is_number(instance):
        for key, ok in (
            ("minimum", lambda b: instance >= b),
            ("maximum", lambda b: instance <= b),
            ("exclusiveMinimum", lambda b: instance > b),
            ("exclusiveMaximum", lambda b: instance < b),
        ):
            if _is_number(schema.get(key)) and not ok(schema[key]):
                errors.append(f"{path}: violates {key} {schema[key]}")
    if isinstance(instance, dict):
        errors += [
            f"{path}: missing {k!r}" for k in schema.get("required", ()) if k not in instance
        ]
        properties = schema.get("properties", {})
        for key, sub in properties.items():
            if key in instance:
                errors += validate_schema(instance[key], sub, f"{path}.{key}")
        if schema.get("additionalProperties") is False:
            errors += [f"{path}: unexpected {k!r}" for k in instance if k not in properties]
    if isinstance(instance, list) and isinstance(schema.get("items"), Mapping):
        for i, value in enumerate(instance):
            errors += validate_schema(value, schema["items"], f"{path}[{i}]")
    return errors


def _strict_text(got: str, ref: str) -> bool:
    return got == ref


def _equal(
    got: Any,
    ref: Any,
    text_equal: Callable[[str, str], bool],
    *,
    rel_tol: float = 0.0,
    allow_extra: bool = False,
) -> bool:
    """Type-aware equality: numbers numerically (bool is not a number), strings by
    ``text_equal``, lists in order, objects by key (null-valued extra keys count as absent)."""
    if _is_number(ref):
        return _is_number(got) and math.isclose(got, ref, rel_tol=rel_tol, abs_tol=rel_tol)
    if isinstance(ref, str):
        return isinstance(got, str) and text_equal(got, ref)
    if isinstance(ref, list):
        return (
            isinstance(got, list)
            and len(got) == len(ref)
            and all(
                _equal(g, r, text_equal, rel_tol=rel_tol, allow_extra=allow_extra)
                for g, r in zip(got, ref, strict=True)
            )
        )
    if isinstance(ref, dict):
        if not isinstance(got, dict):
            return False
        extra = [k for k, v in got.items() if k not in ref and v is not None]
        if extra and not allow_extra:
            return False
        return all(
            (k in got or r is None)
            and _equal(got.get(k), r, text_equal, rel_tol=rel_tol, allow_extra=allow_extra)
            for k, r in ref.items()
        )
    return type(got) is type(ref) and got == ref  # bool and null


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
    tail, last = _answer_tail(text), _last_line(text)
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
    if _is_number(ref):
        return float(ref)
    if isinstance(ref, str) and (match := _NUMBER.fullmatch(ref.strip())):
        return _number_match_value(match)[1]
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
        and _equal(obj.get(k), ref[k], _loose_text, rel_tol=1e-6, allow_extra=True)
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


def _call_from(raw: Any) -> ToolCall | None:
    if not isinstance(raw, Mapping):
        return None
    function = raw.get("function")
    if isinstance(function, Mapping):  # the OpenAI message shape {"type", "function": {...}}
        raw = function
    name = raw.get("name")
    if not isinstance(name, str):
        return None
    arguments = raw.get("arguments", raw.get("parameters", {}))
    for _ in range(2):  # a second pass undoes double-encoded arguments ("\"{...}\"")
        if not isinstance(arguments, str):
            break
        if not arguments.strip():
            arguments = {}
            break
        try:
            arguments = json.loads(arguments)
        except ValueError:
            return ToolCall(name, arguments, "arguments are not valid JSON")
    if not isinstance(arguments, dict):
        return ToolCall(name, arguments, "arguments are not a JSON object")
    return ToolCall(name, arguments)


def parse_tool_calls(text: str) -> list[ToolCall]:
    """Calls from the client's JSON list of {"name", "arguments"} (arguments a JSON string or
    an object; the OpenAI {"function": {...}} shape too), a single such object, or one written
    into the text (a fence, <tool_call>{...}</tool_call>). Empty list if there is none."""
    try:
        data = json.loads(text)
    except ValueError:
        data, _ = extract_json_object(text)
    items = data if isinstance(data, list) else [data]
    return [call for call in map(_call_from, items) if call is not None]


def _grade_tool_call(item: PromptItem, text: str, options: Mapping[str, Any]) -> GradeResult:
    ref = item.answer if isinstance(item.answer, Mapping) else {}
    expected = _call_from(ref)
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

    right = call.error is None and _equal(
        call.arguments,
        expected.arguments,
        text_equal,
        rel_tol=1e-9,
        allow_extra=bool(options.get("allow_extra")),
    )
    detail = None if right else (call.error or "wrong arguments")
    return GradeResult(shown, "tool_calls", 1.0 if right else 0.5, right, None, detail)


def parse_judge_score(text: str | None) -> float | None:
    """The last "[[N]]" verdict of a judge (N on 0..10) scaled to 0..1; None if absent or > 10."""
    matches = _JUDGE_VERDICT.findall(text or "")
    if not matches:
        return None
    value = float(matches[-1])
    return value / 10.0 if value <= 10.0 else None


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
