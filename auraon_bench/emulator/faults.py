"""Fault decisions for one upstream attempt or one response. Pure given a random source.

Upstream faults (the gateway sees them and ``auto`` falls back): an outage window or ``error_rate``
gives a 503, ``upstream_429_rate`` a provider 429, and a TTFT above ``x-auraon-timeout`` a timeout.
Delivery faults (the client sees them): slow headers, a connection dropped mid-stream, a stream cut
before ``[DONE]``, a malformed chunk, an error event inside a 200 stream. A request may force any
of them with the ``x-emulator-fault`` header (comma-separated names), which is how tests inject an
exact number of faults.
"""

from __future__ import annotations

import random
from collections.abc import Collection

from auraon_bench.catalog import Faults

UPSTREAM_FAULTS = ("error", "upstream_429")
DELIVERY_FAULTS = ("drop_mid_stream", "truncate", "malformed_chunk", "stream_error")
FAULT_NAMES = (*UPSTREAM_FAULTS, "slow_headers", *DELIVERY_FAULTS)


def parse_forced(header: str | None) -> frozenset[str]:
    """Names from an ``x-emulator-fault`` header; raises ``ValueError`` naming an unknown one."""
    if not header:
        return frozenset()
    names = {part.strip() for part in header.split(",") if part.strip()}
    unknown = sorted(names - set(FAULT_NAMES))
    if unknown:
        raise ValueError(f"unknown fault {unknown[0]!r} (known: {', '.join(FAULT_NAMES)})")
    return frozenset(names)


def upstream_failure(
    faults: Faults, sim_now: float, rng: random.Random, forced: Collection[str] = ()
) -> str | None:
    """``"503"``, ``"429"`` or ``None`` for one attempt on one model."""
    if "error" in forced or faults.in_outage(sim_now):
        return "503"
    if "upstream_429" in forced:
        return "429"
    if faults.error_rate and rng.random() < faults.error_rate:
        return "503"
    if faults.upstream_429_rate and rng.random() < faults.upstream_429_rate:
        return "429"
    return None


def slow_headers(faults: Faults, rng: random.Random, forced: Collection[str] = ()) -> float:
    """Extra simulated seconds before the response headers."""
    if "slow_headers" in forced or (
        faults.slow_headers_rate and rng.random() < faults.slow_headers_rate
    ):
        return faults.slow_headers_s
    return 0.0


def delivery_fault(faults: Faults, rng: random.Random, forced: Collection[str] = ()) -> str | None:
    """At most one delivery fault per response; a forced one wins."""
    for name in DELIVERY_FAULTS:
        if name in forced:
            return name
    for name in DELIVERY_FAULTS:
        rate = getattr(faults, f"{name}_rate")
        if rate and rng.random() < rate:
            return name
    return None
