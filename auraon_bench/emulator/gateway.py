"""The simulated gateway: everything between a validated request and the bytes to send.

Rate limits, routing (with conversation affinity), upstream attempts with fallbacks, the prompt
cache, answers and timing. No HTTP here: the server (``app.py``) authenticates, parses, asks
``Gateway.simulate`` for a ``Simulation`` and then delivers it on the clock. Time is injected
(``clock`` returns monotonic seconds) so tests can drive it; simulated durations are multiplied by
``time_scale`` to get real ones.

Prompt tokens (``text.py``): a request is counted once with the catalog's default encoding before
routing, and that count is what the key's token limit charges, the context check and the router's
length score use. The model that serves it reports ``usage.prompt_tokens`` in its own encoding
(recounted only when it differs), and the same count feeds its prefill time and its cost.

Prompt cache (``prompt_cache.py``): per attempt, the served model's cache is looked up for the
prompt's prefixes (same key, same model); the cached tokens skip prefill in the simulated TTFT,
are billed at ``cache_read_per_mtok`` and reported as ``usage.prompt_tokens_details
.cached_tokens`` (0 on a miss). Only a served attempt stores (or refreshes) the prompt.

Capacity (``capacity.py``): an attempt on a model whose slots are busy and whose queue is full
fails like an upstream 503 or 429 (its ``when_full``): it costs ``upstream_failure_s``, cools the
model down and moves on along the chain. The attempt that is served reserves its slot or queue
place here, in the same synchronous step that checked it, and hands it to the server in
``Simulation.seat``; the server waits for the slot and holds it in real time. When every attempt
was refused for capacity, the answer is the first one's ``model_overloaded`` error.
"""

from __future__ import annotations

import itertools
import math
import random
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from auraon_bench.catalog import Catalog, ModelProfile, Plan
from auraon_bench.data.tokenizers import get_tokenizer
from auraon_bench.emulator import faults as fault_rules
from auraon_bench.emulator.affinity import Affinity, conversation_id, keep_pinned
from auraon_bench.emulator.answers import (
    AnswerBook,
    apply_stop,
    judge_verdict,
    simulate_answer,
    synthesize_tool_call,
)
from auraon_bench.emulator.capacity import ModelPool, Seat, build_pools
from auraon_bench.emulator.limiter import SECONDS_PER_MINUTE, KeyLimiter, Verdict
from auraon_bench.emulator.prompt_cache import NO_PREFIXES, Prefixes, PromptCache, prefix_digests
from auraon_bench.emulator.protocol import ApiError, ChatRequest
from auraon_bench.emulator.router import (
    Route,
    lead_with,
    mix_choice,
    route_auto,
    route_fixed,
    score_prompt,
)
from auraon_bench.emulator.text import PromptTokens, filler_tokens, last_user_text, split_tokens
from auraon_bench.emulator.timing import draw_gaps, draw_output_length, draw_tail, draw_ttft

DEFAULT_TIMEOUT_S = 30.0
# Where the window limiter kinds put their first boundary: a seeded share of a window, kept away
# from 0 so that a client cannot assume windows aligned with the emulator's start.
WINDOW_PHASE_SHARE = (0.1, 0.9)
UNAVAILABLE = "Selected model is temporarily unavailable. Enable fallbacks."


@dataclass(slots=True)
class Simulation:
    """One successful answer, ready to deliver. Durations are real seconds (time scale applied)."""

    completion_id: str
    model: str
    requested: str
    routing_reason: str
    pre_delay_s: float
    ttft_s: float
    gaps_s: np.ndarray
    pieces: list[str]  # content pieces, or argument fragments of a tool call
    tool_call: Mapping[str, Any] | None
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    cached_tokens: int
    delivery_fault: str | None
    reserved_output: int
    verdict: Verdict
    attempts: list[tuple[str, str]] = field(default_factory=list)
    # The served model's slot or queue place (None: the model has no capacity). The server waits
    # for it, sets ``queued_s`` to the wait (real seconds) and leaves it after delivery.
    seat: Seat | None = None
    queued_s: float = 0.0
    tail_s: float = 0.0  # from the last content event to the end of the answer


    @property
    def usage(self) -> dict[str, Any]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "prompt_tokens_details": {"cached_tokens": self.cached_tokens},
        }

    @property
    def total_s(self) -> float:
        """Real seconds from the request to the end of the answer, queueing included."""
        return (
            self.queued_s + self.pre_delay_s + self.ttft_s + float(self.gaps_s.sum()) + self.tail_s
        )


@dataclass(frozen=True, slots=True)
class GatewayHeaders:
    """The request headers the gateway honours, parsed."""

    fallbacks: tuple[str, ...] = ()
    timeout_s: float = DEFAULT_TIMEOUT_S
    max_retries: int | None = None
    forced_faults: frozenset[str] = frozenset()


def parse_gateway_headers(headers: Mapping[str, str], catalog: Catalog) -> GatewayHeaders:
    """Parse ``x-auraon-*`` and ``x-emulator-fault``; a bad value is a 400 naming the header."""
    fallbacks: tuple[str, ...] = ()
    raw = headers.get("x-auraon-fallbacks")
    if raw:
        fallbacks = tuple(m.strip() for m in raw.split(",") if m.strip())
        for model in fallbacks:
            if model not in catalog.models:
                raise ApiError(
                    400,
                    f"Unknown model {model!r} in x-auraon-fallbacks.",
                    param="x-auraon-fallbacks",
                    code="invalid_value",
                )
    timeout_s = DEFAULT_TIMEOUT_S
    raw = headers.get("x-auraon-timeout")
    if raw is not None:
        try:
            timeout_s = int(raw) / 1000.0
        except ValueError:
            timeout_s = -1.0
        if timeout_s <= 0:
            raise ApiError(
                400,
                "x-auraon-timeout must be a positive integer (milliseconds).",
                param="x-auraon-timeout",
                code="invalid_value",
            )
    max_retries = None
    raw = headers.get("x-auraon-max-retries")
    if raw is not None:
        if not (raw.strip().isascii() and raw.strip().isdigit()):
            raise ApiError(
                400,
                "x-auraon-max-retries must be a non-negative integer.",
                param="x-auraon-max-retries",
                code="invalid_value",
            )
        max_retries = int(raw)
    try:
        forced = fault_rules.parse_forced(headers.get("x-emulator-fault"))
    except ValueError as exc:
        raise ApiError(400, str(exc), param="x-emulator-fault", code="invalid_value") from None
    return GatewayHeaders(fallbacks, timeout_s, max_retries, forced)


class Gateway:
    def __init__(
        self,
        catalog: Catalog,
        *,
        seed: int = 0,
        time_scale: float = 1.0,
        clock: Callable[[], float],
        answers: AnswerBook | None = None,
    ) -> None:
        if time_scale < 0:
            raise ValueError("time_scale must be >= 0")
        self.catalog = catalog
        self.seed = seed
        self.time_scale = time_scale
        self.clock = clock
        self.answers = answers or AnswerBook()
        self.started = clock()
        self.random = random.Random(seed)
        self.np_random = np.random.default_rng(seed)
        # A fitted twin's routing draws, on a generator of their own (as the window phase).
        self.mix_random = random.Random(f"{seed}:mix")
        self.limiters: dict[str, KeyLimiter] = {}
        # Its own generator: drawing it from ``self.random`` would shift every seeded fault draw.
        share = random.Random(f"{seed}:window-phase").uniform(*WINDOW_PHASE_SHARE)
        self.window_phase = share * SECONDS_PER_MINUTE
        self.cooldown_until: dict[str, float] = {}
        self.prompt_cache = PromptCache()
        self.affinity = Affinity()
        # Only models with a capacity have a pool: the others cost one falsy check per attempt.
        self.pools: dict[str, ModelPool] = build_pools(catalog, time_scale)
        self._ids = itertools.count(1)
        # Load every encoding the catalog uses now (about half a second for the first one), so
        # the first request is not the one that waits.
        for encoding in {
            catalog.defaults.tokenizer,
            *(m.tokenizer for m in catalog.models.values()),
        }:
            get_tokenizer(encoding).count("warm up")

    # -- time ------------------------------------------------------------------------------
    def sim_now(self) -> float:
        """Simulated seconds since start: real seconds divided by the time scale."""
        elapsed = self.clock() - self.started
        return elapsed / self.time_scale if self.time_scale > 0 else elapsed

    def real(self, sim_seconds: float) -> float:
        return sim_seconds * self.time_scale

    # -- limits ----------------------------------------------------------------------------
    def limiter(self, key: str, plan: Plan) -> KeyLimiter | None:
        """The key's limiter; ``None`` when the plan is unlimited or time is scaled to zero
        (windows of zero length cannot limit anything)."""
        if self.time_scale == 0 or (plan.requests_per_min is None and plan.tokens_per_min is None):
            return None
        limiter = self.limiters.get(key)
        if limiter is None:
            limiter = self.limiters[key] = KeyLimiter(plan, self.sim_now(), self.window_phase)
        return limiter

    def rate_limited(self, verdict: Verdict, plan: Plan, requested_tokens: int) -> ApiError:
        kind = verdict.limit_type or "requests"
        dim = verdict.requests if kind == "requests" else verdict.tokens
        label = "requests per min (RPM)" if kind == "requests" else "tokens per min (TPM)"
        limit = dim.limit if dim else 0
        if verdict.too_large:
            return ApiError(
                429,
                f"Request too large for {label} on plan {plan.name}: Limit "
                f"{limit}, Requested {requested_tokens}. The input or output "
                "tokens must be reduced in order to run successfully.",
                type=kind,
                code="rate_limit_exceeded",
                headers={"x-should-retry": "false"},
            )
        advertised = self.real(verdict.retry_after_s) * plan.retry_after_factor
        requested = 1 if kind == "requests" else requested_tokens
        return ApiError(
            429,
            f"Rate limit reached for {label} on plan {plan.name}: Limit {limit}, "
            f"Used {limit - (dim.remaining if dim else 0)}, Requested {requested}. "
            f"Please try again in {advertised:.3f}s.",
            type=kind,
            code="rate_limit_exceeded",
            headers={
                "retry-after": str(max(1, math.ceil(advertised))),
                "retry-after-ms": str(math.ceil(advertised * 1000)),
                "x-should-retry": "true",
            },
        )

    # -- the request -----------------------------------------------------------------------
    def simulate(
        self,
        req: ChatRequest,
        limiter: KeyLimiter | None,
        plan: Plan,
        headers: GatewayHeaders,
        key: str = "",
    ) -> Simulation:
        """Route, try upstreams, and build the answer; raise ``ApiError`` for 4xx/5xx outcomes.
        ``key``: the API key, whose prompt cache and conversation pins the request uses."""
        models = self.catalog.models
        prompt = PromptTokens(req.messages, req.tools)
        prompt_tokens = prompt.count(self.catalog.defaults.tokenizer)
        reserved_output = req.max_tokens or self.catalog.defaults.default_max_tokens
        if req.min_tokens > reserved_output:
            raise ApiError(
                400,
                f"Invalid 'min_tokens': at most {reserved_output} (max_tokens, "
                "or the default output reservation).",
                param="min_tokens",
                code="invalid_value",
            )
        # Route before charging: a request that cannot be served is a plain failed request.
        needed = prompt_tokens + (req.max_tokens or 0)
        route, pin = self._route(req, key, prompt_tokens, needed, headers)
        verdict = Verdict(allowed=True)
        if limiter is not None:
            verdict = limiter.try_acquire(prompt_tokens + reserved_output, self.sim_now())
            if not verdict.allowed:
                raise self.rate_limited(verdict, plan, prompt_tokens + reserved_output)
        limit = len(route.chain) if headers.max_retries is None else headers.max_retries + 1
        pre_delay = 0.0
        attempts: list[tuple[str, str]] = []
        refused: list[ModelPool] = []  # models whose queue was full, in the order tried
        for index, model_id in enumerate(route.chain[:limit]):
            model = models[model_id]
            forced = headers.forced_faults if index == 0 else frozenset()
            cause = fault_rules.upstream_failure(model.faults, self.sim_now(), self.random, forced)
            pool = self.pools.get(model_id) if self.pools else None
            if cause is None and pool is not None and pool.full():
                cause = pool.when_full
                refused.append(pool)
            ttft, cached, prefixes = 0.0, 0, NO_PREFIXES
            served_tokens = prompt_tokens
            if cause is None:
                served_tokens = prompt.count(model.tokenizer)
                prefixes = self._prefixes(model, prompt, served_tokens)
                cached = self.prompt_cache.lookup(key, model.id, prefixes, self.sim_now())
                ttft = draw_ttft(
                    model, self.catalog.defaults, served_tokens, self.np_random, cached
                )
                if ttft > headers.timeout_s:
                    cause = "timeout"
            if cause is not None:
                attempts.append((model_id, cause))
                pre_delay += (
                    headers.timeout_s
                    if cause == "timeout"
                    else self.catalog.defaults.upstream_failure_s
                )
                self._cool_down(model_id, cause)
                continue
            reason = route.reason
            if attempts:
                reason += ";fallback:" + ",".join(f"{m}={c}" for m, c in attempts)
            slow = fault_rules.slow_headers(model.faults, self.random, headers.forced_faults)
            if prefixes and model.prompt_cache is not None:
                now = self.sim_now()
                self.prompt_cache.store(key, model.id, prefixes, now, model.prompt_cache.ttl_s)
            if pin is not None:
                self.affinity.pin(pin, model.id)
            sim = self._answer(
                req,
                model,
                reason,
                served_tokens,
                min(cached, served_tokens),
                reserved_output,
                self.real(pre_delay + slow),
                self.real(ttft),
                verdict,
                attempts,
                headers,
            )
            if pool is not None:
                sim.seat = pool.enter()  # no await since pool.full(): the place is still there
            return sim
        if limiter is not None:
            limiter.refund(prompt_tokens + reserved_output, self.sim_now(), verdict.charged_at)
        if refused and len(refused) == len(attempts):
            raise refused[0].refusal(tuple(p.model for p in refused[1:]))
        tried = ", ".join(f"{m} ({c})" for m, c in attempts) or "none"
        raise ApiError(
            503,
            f"{UNAVAILABLE} Tried: {tried}.",
            type="service_unavailable",
            code="model_unavailable",
            charged=True,
        )

    def _prefixes(self, model: ModelProfile, prompt: PromptTokens, served_tokens: int) -> Prefixes:
        """The prompt's cacheable prefixes for ``model`` (none when it is too short, or the
        model does not cache: then the prompt is never tokenized into ids)."""
        policy = model.prompt_cache
        if policy is None or served_tokens < policy.min_tokens:
            return NO_PREFIXES
        return prefix_digests(prompt.ids(model.tokenizer), policy)

    def _route(
        self, req: ChatRequest, key: str, prompt_tokens: int, needed: int, headers: GatewayHeaders
    ) -> tuple[Route, tuple[str, str, str] | None]:
        """The route, and the conversation's pin scope when the mode keeps affinity."""
        models = self.catalog.models
        routing = self.catalog.routing
        pin = None
        if req.model in routing.modes:
            score = score_prompt(last_user_text(req.messages), prompt_tokens, bool(req.tools))
            now = self.sim_now()
            cooling = {m for m, until in self.cooldown_until.items() if until > now}
            route = route_auto(routing, models, req.model, score, needed, cooling)
            mix = routing.mix.get(req.model)
            if mix:
                item = self.answers.lookup(req.messages)
                category = item.category if item is not None else None
                drawn = mix_choice(mix, category, prompt_tokens, self.mix_random.random())
                if drawn is not None:
                    model_id, mix_key = drawn
                    reason = f"twin_mix:{mix_key}"
                    route = lead_with(route, model_id, models, needed, cooling, reason)
            if routing.affinity.get(req.model):
                conversation = conversation_id(req.messages, req.prompt_cache_key, req.user)
                pin = (key, req.model, conversation)
                pinned = self.affinity.pinned(pin)
                route = keep_pinned(route, pinned, models, needed, cooling)
        else:
            route = route_fixed(models, req.model, headers.fallbacks, needed)
        if not route.chain:
            context = (
                models[req.model].context
                if req.model in models
                else max(m.context for m in models.values())
            )
            raise ApiError(
                400,
                f"This model's maximum context length is {context} tokens. "
                f"However, you requested {needed} tokens. Please reduce the length "
                "of the messages or max_tokens.",
                param="messages",
                code="context_length_exceeded",
            )
        return route, pin

    def _cool_down(self, model_id: str, cause: str) -> None:
        routing = self.catalog.routing
        wait = routing.cooldown_after_429_s if cause == "429" else routing.cooldown_after_error_s
        self.cooldown_until[model_id] = self.sim_now() + wait

    def _answer(
        self,
        req: ChatRequest,
        model: ModelProfile,
        reason: str,
        prompt_tokens: int,
        cached_tokens: int,
        reserved_output: int,
        pre_delay: float,
        ttft: float,
        verdict: Verdict,
        attempts: list[tuple[str, str]],
        headers: GatewayHeaders,
    ) -> Simulation:
        tool_call: Mapping[str, Any] | None = None
        finish = "stop"
        item = self.answers.lookup(req.messages)
        if item is not None:
            simulated = simulate_answer(item, model, self.seed)
            tool_call = simulated.tool_call
            pieces = split_tokens(simulated.text) if simulated.text is not None else []
        elif req.tools and req.tool_choice != "none":
            tool_call = synthesize_tool_call(req)
            pieces = []
        elif (judged := judge_verdict(req, model, self.seed)) is not None:
            pieces = split_tokens(judged)
        else:
            n = draw_output_length(self.catalog.defaults, self.np_random, model)
            if req.ignore_eos and req.max_tokens:
                n = req.max_tokens + 1  # one past the cap: stopped by length, as vLLM reports
            pieces = filler_tokens(max(n, req.min_tokens), self.random)
        if tool_call is not None:
            arguments = orjson.dumps(tool_call.get("arguments", {})).decode()
            pieces = [arguments[i : i + 4] for i in range(0, len(arguments), 4)] or [""]
            finish = "tool_calls"
            completion_tokens = 1 + len(pieces)
        else:
            pieces, finish = apply_stop(pieces, req.stop)
            if req.max_tokens is not None and len(pieces) > req.max_tokens:
                pieces, finish = pieces[: req.max_tokens], "length"
            completion_tokens = len(pieces)
        events = len(pieces) + (1 if tool_call is not None else 0)
        gaps = draw_gaps(model, self.catalog.defaults, max(0, events - 1), self.np_random)
        return Simulation(
            completion_id=f"chatcmpl-{secrets.token_hex(12)}",
            model=model.id,
            requested=req.model,
            routing_reason=reason,
            pre_delay_s=pre_delay,
            ttft_s=ttft,
            gaps_s=gaps * self.time_scale,
            pieces=pieces,
            tool_call=tool_call,
            finish_reason=finish,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cost_usd=model.cost_usd(prompt_tokens, completion_tokens, cached_tokens),
            cached_tokens=cached_tokens,
            delivery_fault=fault_rules.delivery_fault(
                model.faults, self.random, headers.forced_faults
            ),
            reserved_output=reserved_output,
            verdict=verdict,
            attempts=attempts,
            tail_s=self.real(draw_tail(model, self.np_random)),
        )

    def settle(self, sim: Simulation, limiter: KeyLimiter | None) -> Verdict:
        """After delivery: refund the unused output reservation; the state for the headers."""
        if limiter is None:
            return sim.verdict
        now = self.sim_now()
        limiter.refund(sim.reserved_output - sim.completion_tokens, now, sim.verdict.charged_at)
        return limiter.snapshot(now)
