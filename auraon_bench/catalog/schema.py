"""The catalog's data: models with their prices, speeds, skills and faults; plans, keys, defaults
and routing tables. Frozen dataclasses, built and validated by :mod:`auraon_bench.catalog.loader`.
A model's ``cost_usd`` is usage times its catalog price.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

DIFFICULTIES = ("easy", "medium", "hard")
TIERS = ("SIMPLE", "MEDIUM", "COMPLEX", "REASONING", "AGENTIC")
AUTO_MODES = ("auto", "auto:fast", "auto:quality", "auto:cheap")
FAULT_RATES = (
    "error_rate",
    "upstream_429_rate",
    "slow_headers_rate",
    "drop_mid_stream_rate",
    "truncate_rate",
    "malformed_chunk_rate",
    "stream_error_rate",
)
METADATA_KEYS = ("blockrun", "auraon")
# How a plan's per-minute limits are enforced (see auraon_bench/emulator/limiter.py).
LIMITER_KINDS = ("token_bucket", "fixed_window", "sliding_log", "sliding_window")


@dataclass(frozen=True, slots=True)
class Faults:
    """Per-attempt fault probabilities (0..1), and outage windows in simulated seconds."""

    error_rate: float = 0.0
    upstream_429_rate: float = 0.0
    slow_headers_rate: float = 0.0
    drop_mid_stream_rate: float = 0.0
    truncate_rate: float = 0.0
    malformed_chunk_rate: float = 0.0
    stream_error_rate: float = 0.0
    slow_headers_s: float = 5.0
    outages: tuple[tuple[float, float], ...] = ()

    def in_outage(self, sim_now: float) -> bool:
        return any(start <= sim_now < end for start, end in self.outages)


@dataclass(frozen=True, slots=True)
class ModelProfile:
    id: str
    owned_by: str
    input_per_mtok: float
    output_per_mtok: float
    context: int
    ttft_s: float
    output_tok_s: float
    skill: Mapping[str, tuple[float, float, float]]
    faults: Faults
    source: str

    def skill_for(self, category: str, difficulty: str) -> float:
        levels = self.skill.get(category) or self.skill["default"]
        return levels[DIFFICULTIES.index(difficulty)]

    def cost_usd(self, prompt_tokens: int, completion_tokens: int) -> float:
        """Catalog price times actual usage."""
        return (
            prompt_tokens * self.input_per_mtok + completion_tokens * self.output_per_mtok
        ) / 1e6


@dataclass(frozen=True, slots=True)
class Plan:
    """A plan's per-minute limits; ``None`` means unlimited.

    ``retry_after_factor`` below 1 makes the emulator advertise a Retry-After shorter than the
    truth: a deliberate lie for testing tools that check Retry-After honesty. ``limiter`` is one
    of :data:`LIMITER_KINDS`: how the emulator enforces the limits.
    """

    name: str
    requests_per_min: int | None
    tokens_per_min: int | None
    retry_after_factor: float = 1.0
    limiter: str = "token_bucket"


@dataclass(frozen=True, slots=True)
class Defaults:
    ttft_sigma: float
    itl_jitter: float
    slow_tail_prob: float
    slow_tail_factor: float
    prefill_tok_s: float
    typical_output_tokens: int
    default_max_tokens: int
    upstream_failure_s: float


@dataclass(frozen=True, slots=True)
class Routing:
    modes: Mapping[str, Mapping[str, tuple[str, ...]]]
    long_context: tuple[str, ...]
    cooldown_after_429_s: float
    cooldown_after_error_s: float


@dataclass(frozen=True, slots=True)
class Catalog:
    name: str
    models: Mapping[str, ModelProfile]
    plans: Mapping[str, Plan]
    keys: Mapping[str, str]
    defaults: Defaults
    routing: Routing
    metadata_keys: tuple[str, ...]
    sources: Mapping[str, str] = field(default_factory=dict)

    def model_ids(self) -> list[str]:
        """Every id a client may request: fixed models, then the auto modes."""
        return [*self.models, *self.routing.modes]

    def plan_for_key(self, key: str) -> Plan | None:
        plan = self.keys.get(key)
        return self.plans[plan] if plan is not None else None
