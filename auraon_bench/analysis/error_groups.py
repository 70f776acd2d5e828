"""The most frequent kinds of failed attempt in a slice of request records: what went wrong.

An error *group* is every failed attempt (any status but ``ok``, 429s included) that shares a
status, an HTTP status, an error type and a normalized message. Attempts the run itself cut in
flight (status ``cancelled``) are not ok either and make groups of their own, so that they are
seen beside the errors; they are no error of the target, and no rule here counts them as one.
Counts alone ("40 http_error") say that a target refused an arm but not why; the message does
("Invalid model name passed in model=fast-mock"), and until it is grouped it sits only in
``requests.parquet``, one row per attempt. The summary keeps the :data:`TOP_GROUPS` largest groups
of each arm, computed once when the run is summarised, so the console and the report print the
same groups.

Normalization (:func:`normalize_message`) merges messages that differ only in per-request
details, so that one cause is one group, not one group per attempt:

* UUIDs, long hexadecimal runs and prefixed ids (``chatcmpl-…``, ``req_…``) become ``{id}``;
* free-standing numbers, with an optional ``s`` or ``ms`` unit after them, become ``{n}``
  (``in 1.234s`` reads ``in {n}s``, ``Used 57`` reads ``Used {n}``); numbers inside a word
  stay (``gpt-4o``, ``/v1/models``, ``HTTP/1.1``), as do dotted quads and versions
  (``127.0.0.1``), which are not per-request counts;
* runs of white space become one space, and the text is cut at :data:`MESSAGE_CHARS`
  characters (ending in ``…``).

The placeholders use braces, not angle brackets, so that markdown and HTML show them as text.
Groups are ordered by count, largest first, then by their fields, so the order is stable.

:func:`every_attempt_failed` is the one rule of a failed arm, part or run, read by
``ErrorSummary.all_failed`` and the experiment summary's ``PartHeadline.failed``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "MESSAGE_CHARS",
    "TOP_GROUPS",
    "ErrorGroup",
    "every_attempt_failed",
    "group_errors",
    "normalize_message",
]

TOP_GROUPS = 5
MESSAGE_CHARS = 200

_UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I)
# A run of 12+ hex digits holding both a digit and a letter: request ids and hashes, not words.
_HEX = re.compile(r"\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{12,}\b", re.I)
# A short word, a dash or underscore, then 8+ letters and digits mixing both: chatcmpl-AbC12345,
# req_01HZX9..., call_9f8e7d6c. Model names (claude-sonnet-4-6, llama-3.1-8b) have no such tail.
_PREFIXED_ID = re.compile(r"\b([A-Za-z]{2,16}[-_])(?=[A-Za-z]*\d)(?=\d*[A-Za-z])[A-Za-z0-9]{8,}\b")
# A number standing on its own: not glued to a word, a dash, a slash or a dot before it, and
# followed by neither a word character nor ".<digit>" (a version or an address goes on).
_NUMBER = re.compile(r"(?<![\w.\-/])\d+(?:\.\d+)?(?=(?:ms|s)?(?!\w|\.\w))")
_SPACE = re.compile(r"\s+")


def normalize_message(text: str | None) -> str:
    """``text`` with per-request ids and numbers replaced, one line, at most MESSAGE_CHARS long;
    "" for no message."""
    if text is None:
        return ""
    text = _SPACE.sub(" ", str(text)).strip()
    text = _UUID.sub("{id}", text)
    text = _PREFIXED_ID.sub(r"\1{id}", text)
    text = _HEX.sub("{id}", text)
    text = _NUMBER.sub("{n}", text)
    if len(text) > MESSAGE_CHARS:
        text = text[: MESSAGE_CHARS - 1].rstrip() + "…"
    return text


def every_attempt_failed(attempts: int, ok: int | None, cancelled: int = 0) -> bool:
    """The one definition of "failed entirely": at least one attempt got an outcome and none
    was ok (errors and 429s alike). An arm or a part like this measured the target's refusal,
    not its latency or quality; ``ok`` None (a rate-limit probe's headline) is never failed.
    ``cancelled`` attempts (cut in flight by the run's own stop) have no outcome: an arm whose
    every attempt was cancelled measured nothing, which is not a failure of the target."""
    return ok is not None and attempts - cancelled > 0 and ok == 0


@dataclass(frozen=True, slots=True)
class ErrorGroup:
    """Failed attempts of one kind: their status, HTTP status, error type, normalized message
    and how many there were (per attempt, warm-up excluded)."""

    status: str
    http_status: int | None
    error_type: str | None
    message: str  # normalized (see the module); "" when the attempts carried no message
    count: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "http_status": self.http_status,
            "error_type": self.error_type,
            "message": self.message,
            "count": self.count,
        }

    def describe(self) -> str:
        """One line for consoles and warnings: ``http_error 400 invalid_request_error: text``."""
        head = " ".join(
            str(v) for v in (self.status, self.http_status, self.error_type) if v is not None
        )
        return f"{head}: {self.message}" if self.message else head


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value)
    return None if text in ("", "<NA>", "nan") else text


def _code(value: Any) -> int | None:
    """An HTTP status as an int; the column may arrive as float (NaN-able) or nullable int."""
    text = _text(value)
    if text is None:
        return None
    try:
        return int(float(text))
    except ValueError:
        return None


def group_errors(failed: pd.DataFrame, top: int = TOP_GROUPS) -> tuple[tuple[ErrorGroup, ...], int]:
    """The ``top`` largest groups of ``failed`` (rows that are not ok, warm-up already dropped)
    and the number of distinct groups in all.

    Counting happens on distinct (status, HTTP status, type, raw message) first, so a million
    failed rows with a few messages normalize a few strings, not a million.
    """
    if failed.empty:
        return (), 0
    keys = ["status", "http_status", "error_type", "error_message"]
    frame = failed.reindex(columns=keys)
    for name in keys:  # categoricals (read_compact) would count every unused category
        frame[name] = frame[name].astype(object)
    raw = frame.value_counts(dropna=False, sort=False)
    merged: dict[tuple[str, int | None, str | None, str], int] = {}
    for (status, http, kind, message), count in raw.items():
        key = (
            _text(status) or "missing",
            _code(http),
            _text(kind),
            normalize_message(_text(message)),
        )
        merged[key] = merged.get(key, 0) + int(count)
    ordered = sorted(
        merged.items(),
        key=lambda kv: (-kv[1], kv[0][0], kv[0][1] or 0, kv[0][2] or "", kv[0][3]),
    )
    groups = tuple(ErrorGroup(*key, count=count) for key, count in ordered[:top])
    return groups, len(merged)
