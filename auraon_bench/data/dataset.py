"""Prompt datasets: the JSONL schema, and a loader that validates every line.

One JSON object per line (blank lines and lines starting with ``//`` are ignored):

    id          str, unique in the file
    category    str, e.g. factual, math, multiple_choice, code, extraction, summarization,
                long_context, tool_calling
    difficulty  "easy" | "medium" | "hard"
    messages    [{"role": ..., "content": ...}, ...]   or   prompt: str (one user message)
    answer      the reference: a string, a number, an object (JSON extraction, tool call) or null
    grader      exact | numeric | choice | regex | contains | json_schema | code | tool_call |
                judge | none
    grader_options  object, optional (e.g. tolerance, n_choices, schema, tests)
    tools       list of OpenAI tool definitions, optional (tool-calling items)
    wrong_answers   list, optional: plausible wrong answers the emulator gives when it errs
    tags        list of str, optional

Every error names the file, the line and the field; nothing is skipped silently.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from auraon_bench.errors import DatasetError

DIFFICULTIES = ("easy", "medium", "hard")
GRADERS = (
    "exact",
    "numeric",
    "choice",
    "regex",
    "contains",
    "json_schema",
    "code",
    "tool_call",
    "judge",
    "none",
)
ROLES = ("system", "user", "assistant", "tool")
_FIELDS = frozenset(
    {
        "id",
        "category",
        "difficulty",
        "messages",
        "prompt",
        "answer",
        "grader",
        "grader_options",
        "tools",
        "wrong_answers",
        "tags",
    }
)


@dataclass(frozen=True, slots=True)
class PromptItem:
    id: str
    category: str
    difficulty: str
    messages: tuple[dict[str, Any], ...]
    answer: Any
    grader: str
    grader_options: dict[str, Any] = field(default_factory=dict)
    tools: tuple[dict[str, Any], ...] = ()
    wrong_answers: tuple[Any, ...] = ()
    tags: tuple[str, ...] = ()

    @property
    def prompt_text(self) -> str:
        """The last user message's text: what the emulator matches answers on."""
        for message in reversed(self.messages):
            if message["role"] == "user":
                return message["content"] if isinstance(message["content"], str) else ""
        return ""


def load_dataset(path: str | Path) -> list[PromptItem]:
    """Items of a dataset file: JSONL in the schema above, or by extension a CSV file or
    ShareGPT-style conversations (``.json``, or JSONL lines with ``conversations``); see
    :mod:`auraon_bench.data.importers`."""
    from auraon_bench.data import importers  # imports this module: deferred

    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        return importers.load_csv(path)
    if suffix == ".json" or (suffix == ".jsonl" and _looks_like_sharegpt(path)):
        return importers.load_sharegpt(path)
    return _load_jsonl(path)


def _looks_like_sharegpt(path: str | Path) -> bool:
    try:
        with open(path, "rb") as handle:
            first = next((line for line in handle if line.strip()), b"")
    except OSError:
        return False  # the JSONL reader reports it
    return b'"conversations"' in first


def _load_jsonl(path: str | Path) -> list[PromptItem]:
    source = str(path)
    try:
        raw_lines = Path(path).read_bytes().splitlines()
    except FileNotFoundError:
        raise DatasetError("file not found", source=source) from None
    except OSError as exc:
        raise DatasetError(f"cannot read: {exc.strerror}", source=source) from None
    items: list[PromptItem] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(raw_lines, start=1):
        if not raw.strip() or raw.lstrip().startswith(b"//"):
            continue
        item = parse_item(raw, source, number)
        if item.id in seen:
            raise DatasetError(
                f"duplicate id {item.id!r} (first on line {seen[item.id]})",
                source=source,
                line=number,
                field="id",
            )
        seen[item.id] = number
        items.append(item)
    if not items:
        raise DatasetError("no items", source=source)
    return items


def parse_item(raw: bytes | str, source: str, line: int) -> PromptItem:
    def fail(field_name: str | None, message: str) -> DatasetError:
        return DatasetError(message, source=source, line=line, field=field_name)

    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise fail(None, f"invalid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise fail(None, "must be a JSON object")
    unknown = sorted(set(obj) - _FIELDS)
    if unknown:
        raise fail(unknown[0], "unknown field")
    for name in ("id", "category"):
        if not isinstance(obj.get(name), str) or not obj[name]:
            raise fail(name, "must be a non-empty string")
    if obj.get("difficulty") not in DIFFICULTIES:
        raise fail("difficulty", f"must be one of {', '.join(DIFFICULTIES)}")
    grader = obj.get("grader", "exact")
    if grader not in GRADERS:
        raise fail("grader", f"unknown grader {grader!r} (known: {', '.join(GRADERS)})")
    if "messages" in obj and "prompt" in obj:
        raise fail("prompt", "give either messages or prompt, not both")
    if "prompt" in obj:
        if not isinstance(obj["prompt"], str) or not obj["prompt"]:
            raise fail("prompt", "must be a non-empty string")
        messages: tuple[dict[str, Any], ...] = ({"role": "user", "content": obj["prompt"]},)
    else:
        msgs = obj.get("messages")
        if not isinstance(msgs, list) or not msgs:
            raise fail("messages", "must be a non-empty list (or give prompt)")
        for i, m in enumerate(msgs):
            if not isinstance(m, dict) or m.get("role") not in ROLES:
                raise fail(f"messages[{i}].role", f"must be one of {', '.join(ROLES)}")
            if not isinstance(m.get("content"), str):
                raise fail(f"messages[{i}].content", "must be a string")
        messages = tuple(msgs)
    if "answer" not in obj and grader not in ("judge", "none"):
        raise fail("answer", f"is required for grader {grader!r}")
    for name in ("grader_options",):
        if not isinstance(obj.get(name, {}), dict):
            raise fail(name, "must be an object")
    for name in ("tools", "wrong_answers", "tags"):
        if not isinstance(obj.get(name, []), list):
            raise fail(name, "must be a list")
    if grader == "tool_call":
        answer = obj.get("answer")
        if not isinstance(answer, dict) or not isinstance(answer.get("name"), str):
            raise fail("answer", 'a tool_call answer must be {"name": ..., "arguments": {...}}')
        if not obj.get("tools"):
            raise fail("tools", "a tool_call item needs tools")
    return PromptItem(
        id=obj["id"],
        category=obj["category"],
        difficulty=obj["difficulty"],
        messages=messages,
        answer=obj.get("answer"),
        grader=grader,
        grader_options=obj.get("grader_options", {}),
        tools=tuple(obj.get("tools", [])),
        wrong_answers=tuple(obj.get("wrong_answers", [])),
        tags=tuple(obj.get("tags", [])),
    )


def sample_items(items: Sequence[PromptItem], n: int | None, seed: int) -> list[PromptItem]:
    """``n`` items drawn without replacement by a seeded PCG64 generator, in file order: files
    are often ordered by difficulty, so the first ``n`` would not be representative."""
    if n is None or n >= len(items):
        return list(items)
    chosen = np.random.default_rng(seed).choice(len(items), size=n, replace=False)
    return [items[i] for i in sorted(chosen)]


def load_items(
    paths: Sequence[str | Path], per_file: int | None = None, seed: int = 0
) -> list[PromptItem]:
    """Every item of several dataset files (a seeded sample of ``per_file`` from each, when
    given); an id may appear in only one of them."""
    items: list[PromptItem] = []
    origin: dict[str, str] = {}
    for path in paths:
        for item in sample_items(load_dataset(path), per_file, seed):
            if item.id in origin:
                raise DatasetError(
                    f"id {item.id!r} is also in {origin[item.id]}", source=str(path), field="id"
                )
            origin[item.id] = str(path)
            items.append(item)
    return items
