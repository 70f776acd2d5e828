"""Conversation affinity for ``auto`` modes: keep a conversation on the model that served its
previous turn. Pure.

On when the mode's catalog table says ``affinity = true`` (off in the built-in catalog). A
conversation is named by the request's ``prompt_cache_key``, else its ``user``, else a hash of its
messages up to and including the first user message (the system prompt and the opening question,
which a multi-turn chat resends unchanged every turn). Pins are per (API key, mode,
conversation).

The pinned model leads the chain while it is healthy: not cooling down after a 429 or an error,
and with a context window that fits the request. Otherwise the router's own chain stands, and
whatever model serves the turn becomes the new pin. A turn the pin decided reports
``routing_reason = "affinity"``. Why it matters: prompt caches are per model, so a conversation
that hops between models re-reads its whole history at full price on each hop.

Memory is bounded: at most ``max_entries`` pins (default :data:`MAX_CONVERSATIONS`, about 250
bytes each, so some 25 MB) are kept, least recently used dropped first; a dropped conversation is
routed afresh and pinned again.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Container, Mapping, Sequence
from typing import Any

import orjson

from auraon_bench.catalog import ModelProfile
from auraon_bench.emulator.router import Route, lead_with

MAX_CONVERSATIONS = 100_000
AFFINITY_REASON = "affinity"


def conversation_id(
    messages: Sequence[Mapping[str, Any]],
    prompt_cache_key: str | None = None,
    user: str | None = None,
) -> str:
    """The conversation a request belongs to (see the module)."""
    if prompt_cache_key:
        return "key:" + prompt_cache_key
    if user:
        return "user:" + user
    head: list[Mapping[str, Any]] = []
    for message in messages:
        head.append(message)
        if message.get("role") == "user":
            break
    digest = hashlib.blake2b(orjson.dumps(head, option=orjson.OPT_SORT_KEYS), digest_size=16)
    return "head:" + digest.hexdigest()


def keep_pinned(
    route: Route,
    pinned: str | None,
    models: Mapping[str, ModelProfile],
    needed_tokens: int,
    cooling: Container[str] = (),
) -> Route:
    """``route`` led by the pinned model when it is healthy and fits, else ``route`` as is."""
    if pinned is None or pinned not in models:
        return route
    return lead_with(route, pinned, models, needed_tokens, cooling, AFFINITY_REASON)


class Affinity:
    """Pins: (API key, mode, conversation) -> the model that served its last turn, LRU-capped."""

    def __init__(self, max_entries: int = MAX_CONVERSATIONS) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be >= 1, got {max_entries}")
        self.max_entries = max_entries
        self._pins: OrderedDict[tuple[str, str, str], str] = OrderedDict()

    def __len__(self) -> int:
        return len(self._pins)

    def pinned(self, scope: tuple[str, str, str]) -> str | None:
        return self._pins.get(scope)

    def pin(self, scope: tuple[str, str, str], model: str) -> None:
        self._pins[scope] = model
        self._pins.move_to_end(scope)
        while len(self._pins) > self.max_entries:
            self._pins.popitem(last=False)
