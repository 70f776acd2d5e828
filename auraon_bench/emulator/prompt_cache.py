"""OpenAI-style prompt caching, simulated. Pure: time is passed in (simulated seconds).

Semantics, as OpenAI documents them ("Prompt caching" guide), per model policy
(:class:`~auraon_bench.catalog.PromptCachePolicy`, catalog ``[defaults.prompt_cache]``):

* a prompt of at least ``min_tokens`` (1024) tokens can hit the cache;
* the cached part is the longest prefix of ``min_tokens + k * step_tokens`` tokens (1024, 1152,
  1280, ...) that an earlier request with the SAME API key to the SAME model sent within ``ttl_s``
  (300) simulated seconds; a hit refreshes the entry's expiry, as the request is stored again;
* prompts are compared as token streams (:meth:`auraon_bench.emulator.text.PromptTokens.ids`:
  tools, then each message's role and content between markers), so two prompts share a cached
  prefix only when their first messages are identical, in order.

How: a request's stream is hashed once, cumulatively (BLAKE2b updated block by block, so one pass
is O(prompt length)), and the digest at each boundary is one entry, ``(api key, model id,
digest) -> expiry``. A lookup probes the boundaries from the longest down; a store writes (or
refreshes) all of them. Because a digest covers the whole prefix before it, an entry matches only
a prompt that starts with exactly those tokens.

Memory is bounded: entries live in least-recently-stored order and at most ``max_entries``
(default :data:`MAX_ENTRIES`, about 250 bytes each, so some 25 MB) are kept; past the cap the
oldest go first, and expired ones are dropped when a lookup meets them or when they reach the old
end. An evicted prefix is a miss, as on a real gateway under memory pressure.
"""

from __future__ import annotations

import hashlib
from array import array
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from auraon_bench.catalog import PromptCachePolicy

MAX_ENTRIES = 100_000
DIGEST_BYTES = 16


@dataclass(frozen=True, slots=True)
class Prefixes:
    """The cacheable prefixes of one prompt: their lengths in tokens, ascending, and digests."""

    lengths: tuple[int, ...]
    digests: tuple[bytes, ...]

    def __bool__(self) -> bool:
        return bool(self.lengths)


NO_PREFIXES = Prefixes((), ())


def boundaries(n_tokens: int, policy: PromptCachePolicy) -> range:
    """Prefix lengths that can be cached in a stream of ``n_tokens``: ``min_tokens``, then every
    ``step_tokens`` more, up to ``n_tokens``."""
    return range(policy.min_tokens, n_tokens + 1, policy.step_tokens)


def prefix_digests(stream: Sequence[int], policy: PromptCachePolicy) -> Prefixes:
    """Digests of every cacheable prefix of ``stream`` (token ids, any width), in one pass."""
    lengths = boundaries(len(stream), policy)
    if not lengths:
        return NO_PREFIXES
    packed = stream if isinstance(stream, array) else array("Q", stream)
    data = memoryview(packed).cast("B")
    width = packed.itemsize
    digest = hashlib.blake2b(digest_size=DIGEST_BYTES)
    digests = []
    done = 0
    for length in lengths:
        digest.update(data[done * width : length * width])
        done = length
        digests.append(digest.copy().digest())
    return Prefixes(tuple(lengths), tuple(digests))


class PromptCache:
    """Cached prompt prefixes per (API key, model), with expiry times and an LRU cap."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be >= 1, got {max_entries}")
        self.max_entries = max_entries
        self._expiry: OrderedDict[tuple[str, str, bytes], float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._expiry)

    def lookup(self, key: str, model: str, prefixes: Prefixes, now: float) -> int:
        """Tokens of the longest live cached prefix of this prompt (0: a miss). Read-only but
        for dropping expired entries it meets: a hit is refreshed by :meth:`store`."""
        entries = self._expiry
        for length, digest in zip(
            reversed(prefixes.lengths), reversed(prefixes.digests), strict=True
        ):
            entry = (key, model, digest)
            expiry = entries.get(entry)
            if expiry is None:
                continue
            if expiry > now:
                return length
            del entries[entry]
        return 0

    def store(self, key: str, model: str, prefixes: Prefixes, now: float, ttl_s: float) -> None:
        """Remember (or refresh) every prefix of a served prompt until ``now + ttl_s``."""
        entries = self._expiry
        expiry = now + ttl_s
        for digest in prefixes.digests:
            entry = (key, model, digest)
            entries[entry] = expiry
            entries.move_to_end(entry)
        while entries:
            oldest = next(iter(entries))
            if len(entries) <= self.max_entries and entries[oldest] > now:
                break
            del entries[oldest]
