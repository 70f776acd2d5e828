"""The ``--prices FILE`` format: your own prices, for models genai-prices does not know (a
gateway's own model names, a negotiated rate). Its entries win over genai-prices.

A TOML file with one table per model, USD per 1M tokens::

    # prices.toml
    [models."fast-mock"]
    input = 0.15          # USD per 1M prompt tokens (required)
    output = 0.60         # USD per 1M completion tokens (required)
    cache_read = 0.075    # optional: USD per 1M cached prompt tokens, when the target reports them

    [models."house-model"]
    same_as = "openai/gpt-4o-mini"   # or: genai-prices' price of another model

A model is either priced (``input`` and ``output``, optionally ``cache_read``) or an alias
(``same_as``), not both. Names match the model the target reports (or the arm, when it reports
none), exactly or without a provider prefix. Every problem is one :class:`ConfigError` naming
the file, the line and the field (``models.fast-mock.input``); nothing is half-loaded.
"""

from __future__ import annotations

import difflib
import hashlib
import math
import re
import tomllib
from pathlib import Path
from typing import Any

from auraon_bench.errors import ConfigError
from auraon_bench.prices.table import Price, PriceTable, Quote, genai_quote

RATE_KEYS = ("input", "output", "cache_read")
ENTRY_KEYS = (*RATE_KEYS, "same_as")
TOP_KEYS = ("models",)


class _Lines:
    """Line numbers of a model's entry and its keys, found in the text (tomllib gives none):
    ``[models."name"]`` tables and ``"name" = { ... }`` inline tables alike."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()

    def of_model(self, name: str) -> int | None:
        quoted = rf"(\"{re.escape(name)}\"|'{re.escape(name)}'|{re.escape(name)})"
        header = re.compile(rf"^\s*\[\s*models\s*\.\s*{quoted}\s*\]")
        inline = re.compile(rf"^\s*({quoted}|models\s*\.\s*{quoted})\s*=")
        for number, line in enumerate(self.lines, start=1):
            if header.match(line) or inline.match(line):
                return number
        return None

    def of_key(self, name: str, key: str) -> int | None:
        start = self.of_model(name)
        if start is None:
            return None
        if "{" in self.lines[start - 1]:  # an inline table: everything is on its line
            return start
        pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
        for number in range(start + 1, len(self.lines) + 1):
            line = self.lines[number - 1]
            if line.lstrip().startswith("["):
                break
            if pattern.match(line):
                return number
        return start

    def of_top(self, key: str) -> int | None:
        pattern = re.compile(rf"^\s*(\[\s*)?{re.escape(key)}\b")
        return next((n for n, line in enumerate(self.lines, start=1) if pattern.match(line)), None)


def load_price_file(path: str | Path) -> PriceTable:
    """Read and check a prices file; the table it gives puts its entries before genai-prices."""
    path = Path(path)
    source = str(path)
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8")
        data = tomllib.loads(text)
    except FileNotFoundError:
        raise ConfigError("no such prices file", source=source, field="--prices") from None
    except OSError as exc:
        raise ConfigError(
            f"cannot read the prices file: {exc.strerror}", source=source, field="--prices"
        ) from None
    except UnicodeDecodeError:
        raise ConfigError("the prices file is not UTF-8 text", source=source) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", source=source) from None
    lines = _Lines(text)
    for key in data:
        if key not in TOP_KEYS:
            raise ConfigError(
                f'unknown key{_hint(key, TOP_KEYS)} (a prices file holds [models."NAME"] tables)',
                source=source,
                line=lines.of_top(key),
                field=key,
            )
    models = data.get("models")
    if not isinstance(models, dict) or not models:
        raise ConfigError(
            'lists no model: add [models."NAME"] with input and output (USD per 1M tokens)',
            source=source,
            line=lines.of_top("models"),
            field="models",
        )
    digest = hashlib.sha256(raw).hexdigest()[:12]
    label = f"{source} (sha256 {digest})"
    quotes = {name: _entry(name, entry, lines, source, label) for name, entry in models.items()}
    return PriceTable(quotes, file=label)


def _entry(name: str, entry: Any, lines: _Lines, source: str, label: str) -> Quote:
    def fail(key: str | None, message: str) -> ConfigError:
        line = lines.of_key(name, key) if key else lines.of_model(name)
        field = f"models.{name}.{key}" if key else f"models.{name}"
        return ConfigError(message, source=source, line=line, field=field)

    if not isinstance(entry, dict):
        raise fail(None, f"must be a table of prices, got {type(entry).__name__}")
    for key in entry:
        if key not in ENTRY_KEYS:
            raise fail(key, f"unknown key{_hint(key, ENTRY_KEYS)}")
    if "same_as" in entry:
        if any(k in entry for k in RATE_KEYS):
            raise fail("same_as", "either same_as or input/output prices, not both")
        target = entry["same_as"]
        if not isinstance(target, str) or not target.strip():
            raise fail("same_as", "must be a model name (a string)")
        found = genai_quote(target)
        if found is None:
            raise fail("same_as", f"genai-prices has no price for {target!r}")
        return Quote(
            model=name,
            priced_as=found.priced_as,
            source=f"{label}, via {found.source}",
            price=found.price,
            tiered=found.tiered,
            genai_ref=found.genai_ref,
        )
    rates = {}
    for key in RATE_KEYS:
        if key not in entry:
            if key == "cache_read":
                continue
            raise fail(None, f'needs {key} (USD per 1M tokens), or same_as = "MODEL"')
        value = entry[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise fail(key, f"must be a number (USD per 1M tokens), got {value!r}")
        if not math.isfinite(value) or value < 0:
            raise fail(key, f"must be a finite number >= 0, got {value!r}")
        rates[key] = float(value)
    return Quote(
        model=name,
        priced_as=name,
        source=label,
        price=Price(rates["input"], rates["output"], rates.get("cache_read")),
    )


def _hint(key: str, known: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(key, known, n=1)
    suffix = f"; did you mean {close[0]!r}?" if close else f" (known: {', '.join(known)})"
    return f" {key!r}{suffix}"
