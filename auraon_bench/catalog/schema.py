"""The catalog's data: models with their prices, speeds, skills, tokenizers, prompt-cache policies,
capacities and faults; plans, keys, defaults and routing tables. Frozen dataclasses, built and
validated by :mod:`auraon_bench.catalog.loader`. A model's ``cost_usd`` is usage times its catalog
price, with cached prompt tokens at the cache-read price.
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
# Plans with a demo key "br-demo-<plan>" (the embedded emulator's --plan). "twin" is in no
# built-in catalog: a fitted twin (`emulator fit` on a limits run) adds it with its measured limits.
DEMO_PLANS = ("starter", "pro", "enterprise", "twin")
TWIN_PLAN = "twin"
# What a model whose queue is full answers (see auraon_bench/emulator/capacity.py).
WHEN_FULL = ("503", "429")


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
class PromptCachePolicy:
    """OpenAI-style prompt caching (see ``auraon_bench/emulator/prompt_cache.py``): a prompt of
    at least ``min_tokens`` tokens can reuse the longest prefix, of ``min_tokens + k *
    step_tokens`` tokens, that the same key sent to the same model within ``ttl_s`` simulated
    seconds (a hit refreshes it)."""

    min_tokens: int = 1024
    step_tokens: int = 128
    ttl_s: float = 300.0


@dataclass(frozen=True, slots=True)
class ModelCapacity:
    """A simulated upstream's capacity, so that latency rises with load and a capacity search
    on the emulator finds a knee (at ``slots`` / service time for fixed-length requests).

    At most ``slots`` requests to the model are served at once, across all keys (it is the
    upstream's limit, not a plan's); up to ``queue`` more wait in FIFO order, their wait added to
    the time to first token; a request arriving when ``queue`` are waiting is refused at once
    with ``when_full`` ("503", or "429" with a retry-after of about one service time), which
    ``auto`` treats like an upstream failure of that status. ``None`` in a profile: unlimited.
    """

    slots: int
    queue: int
    when_full: str = "503"


@dataclass(frozen=True, slots=True)
class ModelTiming:
    """One model's own timing and output-length figures, each overriding ``[defaults]``'s when set
    (``None``: the default's). A fitted twin (``auraon-bench emulator fit``) writes them.

    ``ttft_quantiles``: the TTFT without prefill, in simulated seconds, at evenly spaced
    probabilities from 0 to 1; when given, TTFT is drawn from it (linear interpolation of a
    uniform draw) instead of the lognormal, for a measured distribution no lognormal fits.
    ``output_tokens`` and ``output_sigma``: median and lognormal sigma of free-text answers.
    ``tail_s`` and ``tail_sigma``: median and lognormal sigma of the time between a stream's
    last content event and its end (the finish, usage and ``[DONE]`` events): a gateway that
    logs or prices an answer before closing it (LiteLLM does) spends it; 0 by default.
    ``tail_quantiles``, like ``ttft_quantiles``, replaces that lognormal when given.
    """

    ttft_sigma: float | None = None
    ttft_quantiles: tuple[float, ...] = ()
    prefill_tok_s: float | None = None
    itl_jitter: float | None = None
    slow_tail_prob: float | None = None
    slow_tail_factor: float | None = None
    output_tokens: float | None = None
    output_sigma: float | None = None
    tail_s: float | None = None
    tail_sigma: float | None = None
    tail_quantiles: tuple[float, ...] = ()


NO_TIMING = ModelTiming()


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
    # USD per 1M cached prompt tokens; None means "input_per_mtok" (no discount).
    cache_read_per_mtok: float | None = None
    prompt_cache: PromptCachePolicy | None = PromptCachePolicy()  # None: caching disabled
    tokenizer: str = "o200k_base"  # encoding of usage.prompt_tokens (data/tokenizers.py)
    capacity: ModelCapacity | None = None  # None: unlimited concurrency, no queueing
    timing: ModelTiming = NO_TIMING  # the model's own timing figures over [defaults]'

    def skill_for(self, category: str, difficulty: str) -> float:
        levels = self.skill.get(category) or self.skill["default"]
        return levels[DIFFICULTIES.index(difficulty)]

    def cost_usd(self, prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0) -> float:
        """Catalog price times actual usage: ``cached_tokens`` of the prompt (clamped to
        0..prompt_tokens) at ``cache_read_per_mtok``, the rest at ``input_per_mtok``."""
        cached = min(max(cached_tokens, 0), prompt_tokens)
        rate = self.cache_read_per_mtok
        cache_rate = self.input_per_mtok if rate is None else rate
        return (
            (prompt_tokens - cached) * self.input_per_mtok
            + cached * cache_rate
            + completion_tokens * self.output_per_mtok
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
    tokenizer: str = "o200k_base"  # counts prompts before routing, and for models without one
    prompt_cache: PromptCachePolicy = PromptCachePolicy()  # models' policy unless they override
    capacity: ModelCapacity | None = None  # every model's unless it overrides; None: unlimited


@dataclass(frozen=True, slots=True)
class Routing:
    modes: Mapping[str, Mapping[str, tuple[str, ...]]]
    long_context: tuple[str, ...]
    cooldown_after_429_s: float
    cooldown_after_error_s: float
    # Modes whose conversations stick to the model that served their previous turn.
    affinity: Mapping[str, bool] = field(default_factory=dict)
    # A fitted twin's measured routing mix, by mode, then by mix key ("*", a dataset category,
    # "~" for prompts of no dataset, either followed by "@" and a length band): ((model, share),
    # ...) with shares summing to 1.
    # A mode with a mix draws its first model from it (see emulator/router.py: mix_choice).
    mix: Mapping[str, Mapping[str, tuple[tuple[str, float], ...]]] = field(default_factory=dict)


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
    # The run(s) a fitted twin was fitted to ([meta] twin_of); None for a catalog written by hand.
    twin_of: str | None = None

    def model_ids(self) -> list[str]:
        """Every id a client may request: fixed models, then the auto modes."""
        return [*self.models, *self.routing.modes]

    def plan_for_key(self, key: str) -> Plan | None:
        plan = self.keys.get(key)
        return self.plans[plan] if plan is not None else None
