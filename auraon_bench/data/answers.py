"""Reading answers: what a model's free text says, before any grading.

Pure functions over strings: refusals, normalised text, the final number, the chosen letter, the
first JSON object and a subset of JSON Schema to check it, tool calls in their wire forms, and a
judge's "[[score]]". The rules each one follows are in ``auraon_bench.data.graders``' docstring,
next to the graders that use them.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

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
NUMBER = re.compile(
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
class ToolCall:
    """One parsed call; ``error`` says why its arguments could not be parsed."""

    name: str
    arguments: Any
    error: str | None = None


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


def answer_tail(text: str) -> str | None:
    tails = [m.group(1).strip() for m in _ANSWER_TAIL.finditer(text)]
    return tails[-1] if tails and tails[-1] else None


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def number_match_value(match: re.Match[str]) -> tuple[str, float]:
    sign = "-" if match.group(1) in ("-", "−", "–") else ""
    digits = match.group(2).replace(",", "")
    return sign + digits, float(sign + digits)


def extract_number(text: str) -> tuple[str, float, str] | None:
    """(number as written without separators, value, method) or None; see the module rules."""
    boxed = _BOXED.findall(text)
    if boxed and (match := NUMBER.search(boxed[-1])):
        return (*number_match_value(match), "boxed")
    tails = [m.group(1) for m in _ANSWER_TAIL.finditer(text)]
    if tails and (match := NUMBER.search(tails[-1])):
        return (*number_match_value(match), "answer_line")
    numbers = list(NUMBER.finditer(text))
    return (*number_match_value(numbers[-1]), "last_number") if numbers else None


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
    lone = _LONE_LETTER.match(last_line(text))
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


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


_TYPE_CHECKS: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "number": is_number,
    "integer": lambda v: is_number(v) and float(v).is_integer(),
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
    if "enum" in schema and not any(json_equal(instance, e, strict_text) for e in schema["enum"]):
        errors.append(f"{path}: not one of the allowed values")
    if is_number(instance):
        for key, ok in (
            ("minimum", lambda b: instance >= b),
            ("maximum", lambda b: instance <= b),
            ("exclusiveMinimum", lambda b: instance > b),
            ("exclusiveMaximum", lambda b: instance < b),
        ):
            if is_number(schema.get(key)) and not ok(schema[key]):
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


def call_from(raw: Any) -> ToolCall | None:
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
    return [call for call in map(call_from, items) if call is not None]


def parse_judge_score(text: str | None) -> float | None:
    """The last "[[N]]" verdict of a judge (N on 0..10) scaled to 0..1; None if absent or > 10."""
    matches = _JUDGE_VERDICT.findall(text or "")
    if not matches:
        return None
    value = float(matches[-1])
    return value / 10.0 if value <= 10.0 else None


def strict_text(got: str, ref: str) -> bool:
    return got == ref


def json_equal(
    got: Any,
    ref: Any,
    text_equal: Callable[[str, str], bool],
    *,
    rel_tol: float = 0.0,
    allow_extra: bool = False,
) -> bool:
    """Type-aware equality: numbers numerically (bool is not a number), strings by
    ``text_equal``, lists in order, objects by key (null-valued extra keys count as absent)."""
    if is_number(ref):
        return is_number(got) and math.isclose(got, ref, rel_tol=rel_tol, abs_tol=rel_tol)
    if isinstance(ref, str):
        return isinstance(got, str) and text_equal(got, ref)
    if isinstance(ref, list):
        return (
            isinstance(got, list)
            and len(got) == len(ref)
            and all(
                json_equal(g, r, text_equal, rel_tol=rel_tol, allow_extra=allow_extra)
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
            and json_equal(got.get(k), r, text_equal, rel_tol=rel_tol, allow_extra=allow_extra)
            for k, r in ref.items()
        )
    return type(got) is type(ref) and got == ref  # bool and null
