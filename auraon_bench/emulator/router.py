"""The emulator's ``auto`` router: score a prompt, pick a tier, then a fallback chain. Pure.

Method (our own code after the published idea of a rule-based router such as ClawRouter):

1. Fourteen dimensions are each scored in [-1, 1] from keyword counts and length, then summed with
   fixed weights (reasoning .18, code .15, multi-step .12, technical .10, length .08, creative .05,
   question complexity .05, agentic .04, constraints .04, imperative .03, output format .03,
   simple -.02, references .02, domain .02); short prompts score -1 on length.
2. Tiers by score: SIMPLE < 0.0 <= MEDIUM < 0.3 <= COMPLEX < 0.5 <= REASONING. Two or more
   reasoning markers go straight to REASONING, a strong code signal to at least COMPLEX; a
   request that carries ``tools`` is AGENTIC.
3. Confidence is ``1 / (1 + exp(-12 * d))`` with ``d`` the distance to the nearest tier boundary;
   below 0.7 the prompt is ambiguous and goes to MEDIUM.
4. The mode's table (catalog ``routing.modes``) maps the tier to an ordered chain, filtered by
   context window and by models cooling down after a recent failure.
5. With the mode's ``affinity = true``, a conversation's pinned model leads that chain while it
   is healthy and fits (``affinity.py``; routing reason ``affinity``).

The prompt length the router sees is the request's token count in the catalog's default encoding
(``[defaults] tokenizer``), counted before any model is chosen.
"""

from __future__ import annotations

import math
import re
from collections.abc import Container, Mapping, Sequence
from dataclasses import dataclass

from auraon_bench.catalog import ModelProfile, Routing

CONFIDENCE_FLOOR = 0.7
BOUNDARIES = (0.0, 0.3, 0.5)


def _words(*terms: str) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(re.escape(t) for t in terms) + r")\b", re.IGNORECASE)


# (name, weight, pattern, count that saturates the dimension at 1.0)
_KEYWORD_DIMENSIONS: tuple[tuple[str, float, re.Pattern[str], int], ...] = (
    (
        "reasoning",
        0.18,
        _words(
            "prove",
            "proof",
            "derive",
            "deduce",
            "step by step",
            "reason",
            "reasoning",
            "justify",
            "theorem",
            "logically",
            "think carefully",
            "explain why",
            "infer",
        ),
        2,
    ),
    (
        "code",
        0.15,
        re.compile(
            r"```|\bdef |\bclass |\bfunction\b|\bpython\b|\bjavascript\b|"
            r"\bcode\b|\bimplement|\bcompile|\bbug\b|\bsql\b|\bregex\b|"
            r"\balgorithm\b|\bunit tests?\b",
            re.IGNORECASE,
        ),
        2,
    ),
    (
        "multi_step",
        0.12,
        _words(
            "first", "then", "next", "finally", "afterwards", "steps", "after that", "each step"
        ),
        3,
    ),
    (
        "technical",
        0.10,
        _words(
            "latency",
            "database",
            "distributed",
            "protocol",
            "kernel",
            "matrix",
            "integral",
            "derivative",
            "probability",
            "complexity",
            "throughput",
            "concurrency",
            "eigenvalue",
            "asymptotic",
        ),
        3,
    ),
    (
        "creative",
        0.05,
        _words("story", "poem", "creative", "imagine", "fiction", "song", "brainstorm"),
        1,
    ),
    (
        "agentic",
        0.04,
        _words(
            "search", "browse", "look up", "call the", "use the tool", "execute", "schedule", "book"
        ),
        2,
    ),
    (
        "constraints",
        0.04,
        _words(
            "at most", "at least", "exactly", "must", "without", "no more than", "within", "only"
        ),
        2,
    ),
    (
        "imperative",
        0.03,
        _words(
            "write",
            "create",
            "build",
            "design",
            "analyze",
            "analyse",
            "compare",
            "summarize",
            "summarise",
            "list",
            "translate",
        ),
        2,
    ),
    (
        "output_format",
        0.03,
        _words("json", "table", "markdown", "csv", "yaml", "bullet", "schema"),
        1,
    ),
    (
        "simple",
        -0.02,
        _words(
            "what is",
            "who is",
            "who was",
            "when did",
            "capital of",
            "define",
            "how many",
            "hello",
            "hi",
            "thanks",
        ),
        1,
    ),
    (
        "references",
        0.02,
        _words("above", "the following", "attached", "given text", "document", "passage"),
        1,
    ),
    (
        "domain",
        0.02,
        _words("legal", "medical", "clinical", "finance", "tax", "contract", "regulation"),
        1,
    ),
)
LENGTH_WEIGHT = 0.08
QUESTION_WEIGHT = 0.05


@dataclass(frozen=True, slots=True)
class PromptScore:
    score: float
    tier: str
    confidence: float
    reason: str
    dimensions: Mapping[str, float]


@dataclass(frozen=True, slots=True)
class Route:
    """Models to try, in order, and why."""

    chain: tuple[str, ...]
    tier: str
    reason: str


def length_score(prompt_tokens: int) -> float:
    """-1 for very short prompts, 0 for ordinary ones, up to 1 for long ones."""
    if prompt_tokens < 40:
        return -1.0
    if prompt_tokens < 200:
        return 0.0
    return min(1.0, (prompt_tokens - 200) / 1800)


def score_prompt(text: str, prompt_tokens: int, has_tools: bool = False) -> PromptScore:
    dims: dict[str, float] = {}
    total = 0.0
    for name, weight, pattern, saturation in _KEYWORD_DIMENSIONS:
        hits = len(pattern.findall(text))
        value = min(1.0, hits / saturation)
        # The "simple" dimension votes downward: its weight is negative and its score positive.
        dims[name] = value
        total += weight * value
    dims["length"] = length_score(prompt_tokens)
    total += LENGTH_WEIGHT * dims["length"]
    questions = text.count("?")
    dims["question"] = 0.0 if questions <= 1 else min(1.0, (questions - 1) / 2)
    total += QUESTION_WEIGHT * dims["question"]
    if has_tools:
        dims["agentic"] = 1.0
        return PromptScore(total, "AGENTIC", 1.0, "agentic", dims)
    distance = min(abs(total - b) for b in BOUNDARIES)
    confidence = 1.0 / (1.0 + math.exp(-12.0 * distance))
    tier = tier_for(total)
    if len(_KEYWORD_DIMENSIONS[0][2].findall(text)) >= 2:
        tier, confidence = "REASONING", max(confidence, 0.9)
    elif dims["code"] >= 1.0 and tier in ("SIMPLE", "MEDIUM"):
        tier, confidence = "COMPLEX", max(confidence, 0.8)
    elif confidence < CONFIDENCE_FLOOR:
        return PromptScore(total, "MEDIUM", confidence, "ambiguous", dims)
    return PromptScore(total, tier, confidence, _reason(tier, dims), dims)


def tier_for(score: float) -> str:
    if score < BOUNDARIES[0]:
        return "SIMPLE"
    if score < BOUNDARIES[1]:
        return "MEDIUM"
    if score < BOUNDARIES[2]:
        return "COMPLEX"
    return "REASONING"


def _reason(tier: str, dims: Mapping[str, float]) -> str:
    if tier == "REASONING":
        return "complex_reasoning"
    if tier == "COMPLEX":
        return "code" if dims["code"] >= dims["reasoning"] and dims["code"] > 0 else "complex_task"
    if tier == "SIMPLE":
        return "simple_qa"
    return "general"


def route_auto(
    routing: Routing,
    models: Mapping[str, ModelProfile],
    mode: str,
    score: PromptScore,
    needed_tokens: int,
    cooling: Container[str] = (),
) -> Route:
    """The chain for an ``auto`` mode: the tier's table, minus models whose context is too small
    and models cooling down. When no model of the tier fits the context, the long-context chain;
    when every fitting model is cooling down, they are tried anyway (better than a sure 503)."""
    table = routing.modes[mode][score.tier]
    fits = [m for m in table if models[m].context >= needed_tokens]
    reason = score.reason
    if not fits:
        fits = [m for m in routing.long_context if models[m].context >= needed_tokens]
        reason = "long_context"
    ready = [m for m in fits if m not in cooling]
    return Route(chain=tuple(ready or fits), tier=score.tier, reason=reason)


def route_fixed(
    models: Mapping[str, ModelProfile], model: str, fallbacks: Sequence[str], needed_tokens: int
) -> Route:
    """A fixed model, then the ``x-auraon-fallbacks`` list, keeping those whose context fits."""
    chain = [m for m in (model, *fallbacks) if models[m].context >= needed_tokens]
    reason = "fixed" if chain[:1] == [model] else "context_fallback"
    return Route(chain=tuple(dict.fromkeys(chain)), tier="FIXED", reason=reason)


# Prompt length bands of a fitted twin's routing mix: (name, upper bound in tokens, exclusive).
LENGTH_BANDS: tuple[tuple[str, float], ...] = (
    ("short", 1000),
    ("medium", 8000),
    ("long", math.inf),
)
ANY_CATEGORY = "*"
# Prompts of no dataset (synthetic or replayed): their own key, so a twin of an experiment that
# sent dataset and synthetic prompts to one mode draws each kind from its own measured mix.
NO_CATEGORY = "~"


def length_band(prompt_tokens: int) -> str:
    """The band of a prompt of ``prompt_tokens`` tokens (see :data:`LENGTH_BANDS`)."""
    return next(name for name, upper in LENGTH_BANDS if prompt_tokens < upper)


def mix_keys(category: str | None, prompt_tokens: int) -> tuple[str, ...]:
    """The mix keys a request can use, most specific first: its category (:data:`NO_CATEGORY`
    for a prompt of no dataset) and length band, its category, any category in its band, any
    category."""
    band = length_band(prompt_tokens)
    own_category = category or NO_CATEGORY
    own = (f"{own_category}@{band}", own_category)
    return (*own, f"{ANY_CATEGORY}@{band}", ANY_CATEGORY)


def mix_choice(
    mix: Mapping[str, Sequence[tuple[str, float]]],
    category: str | None,
    prompt_tokens: int,
    u: float,
) -> tuple[str, str] | None:
    """(model, mix key) drawn from the most specific entry of ``mix`` that applies, with ``u`` a
    uniform draw in [0, 1); None when no entry applies."""
    for key in mix_keys(category, prompt_tokens):
        shares = mix.get(key)
        if not shares:
            continue
        total = 0.0
        for model, share in shares:
            total += share
            if u < total:
                return model, key
        return shares[-1][0], key  # rounding: shares sum to 1 within float error
    return None


def lead_with(
    route: Route,
    model: str,
    models: Mapping[str, ModelProfile],
    needed_tokens: int,
    cooling: Container[str],
    reason: str,
) -> Route:
    """``route`` with ``model`` first (the rest keeps its order as fallbacks), when the model fits
    the prompt and is not cooling down; otherwise ``route`` unchanged."""
    if models[model].context < needed_tokens or model in cooling:
        return route
    rest = tuple(m for m in route.chain if m != model)
    return Route(chain=(model, *rest), tier=route.tier, reason=reason)
