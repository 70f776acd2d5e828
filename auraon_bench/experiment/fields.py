"""Typed reads from a parsed TOML table, with errors that name the file, line and field.

``tomllib`` gives values without positions, so :class:`TomlText` finds the line of a key by
scanning the source for its table header and then the key: good enough to point a user at the
right line, and never wrong about the field's name, which is always given in full.
"""

from __future__ import annotations

import difflib
import math
import re
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from auraon_bench.errors import ConfigError

_HEADER = re.compile(r"^\s*\[\[?\s*([A-Za-z0-9_.\-\"]+)\s*\]\]?\s*(#.*)?$")


def read_toml(path: Path, what: str) -> tuple[str, dict[str, Any]]:
    """The text and parsed content of a TOML file; ``ConfigError`` naming it otherwise."""
    try:
        text = path.read_bytes().decode("utf-8")
        return text, tomllib.loads(text)
    except OSError as exc:
        raise ConfigError(f"cannot read {what}: {exc.strerror}", source=str(path)) from None
    except UnicodeDecodeError:
        raise ConfigError(f"{what} is not UTF-8 text", source=str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", source=str(path)) from None


class TomlText:
    """The experiment file's text, to turn a field path into a line number."""

    def __init__(self, source: str, text: str) -> None:
        self.source = source
        self.lines = text.splitlines()

    def line_of(self, table: str, index: int | None, key: str | None) -> int | None:
        """Line of ``key`` in ``[table]`` (or the ``index``-th ``[[table]]``); the header's line
        when the key is absent; None when neither is found."""
        current, seen, header_line = "", -1, None
        for number, line in enumerate(self.lines, start=1):
            header = _HEADER.match(line)
            if header:
                current = header.group(1).replace('"', "")
                if current == table:
                    seen += 1
                    if index is None or seen == index:
                        header_line = number
                continue
            in_table = current == table and (index is None or seen == index)
            if key and in_table and re.match(rf"^\s*{re.escape(key)}\s*=", line):
                return number
        if table == "" and key:
            return None
        return header_line


class Fields:
    """One TOML table being read: typed getters, then :meth:`done` rejects unknown keys."""

    def __init__(
        self,
        table: Any,
        text: TomlText,
        path: str,
        *,
        table_name: str = "",
        index: int | None = None,
    ) -> None:
        self.text = text
        self.path = path  # e.g. "load.steady" or "target": how errors name the field
        self.table_name = table_name
        self.index = index
        if not isinstance(table, dict):
            self.fail(None, f"must be a table, got {_kind(table)}")
        self.table: dict[str, Any] = table
        self.used: set[str] = set()

    def field(self, key: str | None) -> str:
        if not key:
            return self.path
        return f"{self.path}.{key}" if self.path else key

    def fail(self, key: str | None, message: str) -> NoReturn:
        line = self.text.line_of(self.table_name, self.index, key)
        raise ConfigError(message, source=self.text.source, line=line, field=self.field(key))

    def has(self, key: str) -> bool:
        return key in self.table

    def get(
        self,
        key: str,
        kind: str,
        default: Any = None,
        *,
        check: Callable[[Any], str | None] | None = None,
    ) -> Any:
        """``kind``: str, int, float, bool, table, list[str|float|int|table]."""
        self.used.add(key)
        if key not in self.table:
            return default
        value = self.table[key]
        problem = _type_problem(value, kind)
        if problem:
            self.fail(key, problem)
        if kind == "float":
            value = float(value)
        elif kind == "list[float]":
            value = [float(v) for v in value]
        if check is not None:
            problem = check(value)
            if problem:
                self.fail(key, problem)
        return value

    def require(self, key: str, kind: str, **kwargs: Any) -> Any:
        if key not in self.table:
            self.used.add(key)
            self.fail(key, "is required")
        return self.get(key, kind, **kwargs)

    def choice(self, key: str, options: Sequence[str], default: str | None = None) -> Any:
        def check(value: str) -> str | None:
            return None if value in options else f"must be one of {', '.join(options)}"

        return self.get(key, "str", default, check=check)

    def done(self) -> None:
        unknown = [k for k in self.table if k not in self.used]
        if unknown:
            key = unknown[0]
            close = difflib.get_close_matches(key, sorted(self.used), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            known = ", ".join(sorted(self.used))
            self.fail(key, f"unknown key{hint} (known here: {known})")


def _infinite(value: float) -> bool:
    # TOML has nan and inf; an int is always finite (and may be too large for a float).
    return isinstance(value, float) and not math.isfinite(value)


def positive(value: float) -> str | None:
    if _infinite(value):
        return f"must be a finite number > 0, got {value}"
    return None if value > 0 else "must be > 0"


def at_least(minimum: float) -> Callable[[float], str | None]:
    def check(value: float) -> str | None:
        if _infinite(value):
            return f"must be a finite number >= {minimum:g}, got {value}"
        return None if value >= minimum else f"must be >= {minimum:g}"

    return check


def non_empty(value: Sequence[Any]) -> str | None:
    return None if len(value) else "must not be empty"


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return {int: "an integer", float: "a number", str: "a string"}.get(
        type(value), type(value).__name__
    )


def _type_problem(value: Any, kind: str) -> str | None:
    def is_int(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool)

    def is_number(v: Any) -> bool:
        return is_int(v) or isinstance(v, float)

    tests: dict[str, tuple[Callable[[Any], bool], str]] = {
        "any": (lambda v: True, "a value"),
        "str": (lambda v: isinstance(v, str), "a string"),
        "int": (is_int, "an integer"),
        "float": (is_number, "a number"),
        "bool": (lambda v: isinstance(v, bool), "true or false"),
        "table": (lambda v: isinstance(v, dict), "a table"),
        "list[str]": (
            lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
            "an array of strings",
        ),
        "list[float]": (
            lambda v: isinstance(v, list) and all(is_number(x) for x in v),
            "an array of numbers",
        ),
        "list[table]": (
            lambda v: isinstance(v, list) and all(isinstance(x, dict) for x in v),
            "an array of tables ([[name]])",
        ),
        "list[int]": (
            lambda v: isinstance(v, list) and all(is_int(x) for x in v),
            "an array of integers",
        ),
    }
    test, wanted = tests[kind]
    return None if test(value) else f"must be {wanted}, got {_kind(value)}"
