"""Prompt sets in other formats, turned into dataset items: CSV, and ShareGPT conversations.

* CSV (``.csv``): a header row; required columns ``id, category, difficulty, prompt``; optional
  ``answer``, ``grader`` (default ``exact`` when there is an answer, else ``none``),
  ``grader_options`` (a JSON object), ``wrong_answers`` and ``tags`` (``|``-separated). Numeric
  answers of ``numeric`` items become numbers. Each row is validated like a JSONL line, and an
  error names the file, the line (the header is line 1) and the column.
* ShareGPT (``.json`` holding a list, or ``.jsonl`` lines with ``conversations``): each record
  ``{"id"?, "conversations": [{"from": "human"|"gpt"|"system", "value": "..."}]}`` becomes one
  item whose messages run up to the last human turn; the reply that follows, if any, is kept as
  the reference of an ungraded item (category ``chat``, difficulty ``medium``, grader ``none``):
  such sets are for load tests, not for scoring.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import orjson

from auraon_bench.data.dataset import PromptItem, parse_item
from auraon_bench.errors import DatasetError

_ROLES = {
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "chatgpt": "assistant",
    "bard": "assistant",
    "bing": "assistant",
    "system": "system",
}
REQUIRED_CSV = ("id", "category", "difficulty", "prompt")


def load_csv(path: str | Path) -> list[PromptItem]:
    source = str(path)
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in REQUIRED_CSV if c not in (reader.fieldnames or [])]
            if missing:
                raise DatasetError(
                    f"missing column {missing[0]!r} (need {', '.join(REQUIRED_CSV)})",
                    source=source,
                    line=1,
                    field=missing[0],
                )
            return [_csv_item(row, source, number) for number, row in enumerate(reader, start=2)]
    except FileNotFoundError:
        raise DatasetError("file not found", source=source) from None
    except UnicodeDecodeError:
        raise DatasetError("not UTF-8 text", source=source) from None
    except csv.Error as exc:
        raise DatasetError(f"invalid CSV: {exc}", source=source) from None


def _csv_item(row: dict[str, Any], source: str, line: int) -> PromptItem:
    obj: dict[str, Any] = {k: row[k] for k in REQUIRED_CSV}
    answer = (row.get("answer") or "").strip()
    grader = (row.get("grader") or "").strip() or ("exact" if answer else "none")
    obj["grader"] = grader
    if answer:
        obj["answer"] = _number(answer) if grader == "numeric" else answer
    options = (row.get("grader_options") or "").strip()
    if options:
        try:
            obj["grader_options"] = orjson.loads(options)
        except orjson.JSONDecodeError:
            raise DatasetError(
                "must be a JSON object", source=source, line=line, field="grader_options"
            ) from None
    for name in ("wrong_answers", "tags"):
        text = (row.get(name) or "").strip()
        if text:
            obj[name] = [part.strip() for part in text.split("|") if part.strip()]
    return parse_item(orjson.dumps(obj), source, line)


def _number(text: str) -> Any:
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text  # parse_item and the grader will say what is wrong with it


def load_sharegpt(path: str | Path) -> list[PromptItem]:
    source = str(path)
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise DatasetError("file not found", source=source) from None
    records: list[tuple[int, Any]]
    if raw.lstrip().startswith(b"["):
        try:
            records = [(0, r) for r in orjson.loads(raw)]
        except orjson.JSONDecodeError as exc:
            raise DatasetError(f"invalid JSON: {exc}", source=source) from None
    else:
        records = []
        for number, line in enumerate(raw.splitlines(), start=1):
            if line.strip():
                try:
                    records.append((number, orjson.loads(line)))
                except orjson.JSONDecodeError as exc:
                    raise DatasetError(f"invalid JSON: {exc}", source=source, line=number) from None
    items = [
        _conversation(record, index, number, source)
        for index, (number, record) in enumerate(records)
    ]
    if not items:
        raise DatasetError("no conversations", source=source)
    return items


def _conversation(record: Any, index: int, line: int, source: str) -> PromptItem:
    where = {"source": source, "line": line or None}
    turns = record.get("conversations") if isinstance(record, dict) else None
    if not isinstance(turns, list) or not turns:
        raise DatasetError("must be a non-empty list", field=f"[{index}].conversations", **where)
    messages = []
    for i, turn in enumerate(turns):
        role = _ROLES.get(str(turn.get("from", "")).lower()) if isinstance(turn, dict) else None
        if role is None or not isinstance(turn.get("value"), str):
            raise DatasetError(
                "each turn needs a known 'from' and a string 'value'",
                field=f"[{index}].conversations[{i}]",
                **where,
            )
        messages.append({"role": role, "content": turn["value"]})
    last_user = max((i for i, m in enumerate(messages) if m["role"] == "user"), default=None)
    if last_user is None:
        raise DatasetError("has no human turn", field=f"[{index}].conversations", **where)
    reply = messages[last_user + 1]["content"] if last_user + 1 < len(messages) else None
    return PromptItem(
        id=str(record.get("id", f"conversation-{index}")),
        category="chat",
        difficulty="medium",
        messages=tuple(messages[: last_user + 1]),
        answer=reply,
        grader="none",
    )
