"""The money guard's estimate: an upper bound of what a run will spend, and what it rests on.

One function, :func:`estimate_cost`, for ``load``, ``eval`` and every part of ``run``. It takes the
run's *demand*, one :class:`Demand` row per (arm, prompt) with the number of requests the
schedule will send it (the seeded schedule is known before anything is sent), and prices it:

* prompt tokens are counted from the real prompts (:class:`TokenCounter`): on the Auraon emulator
  with the emulator's own documented rule (so the count is what it will bill), elsewhere with
  OpenAI's ``o200k_base`` tokenizer and OpenAI's chat accounting (4 tokens per message, 3 for the
  reply primer, tool definitions as their JSON text);
* every answer is assumed to run to its ``max_tokens``: the estimate is an upper bound because of
  this, never because of a margin added on top;
* prices come from the run's :class:`~auraon_bench.prices.table.PriceTable` (the ``--prices`` file,
  then genai-prices). An arm with no price is *named* and left out of the total; no price is
  invented for it;
* a router arm (``auto``, ``auto:MODE``) is priced at its own entry when the table has one, else
  at the dearest model the target lists that has a price (the most it could route to). Without a
  model list, at the dearest model of the prices file; with neither, it has no price.

Retries are not counted (a failed attempt is usually not billed; ``--max-cost`` bounds what is).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from auraon_bench.prices.table import PriceTable, Quote

# Counted for a request without max_tokens (then the estimate is no upper bound, and says so).
UNBOUNDED_OUTPUT_TOKENS = 4096


def is_router(arm: str) -> bool:
    """Auraon's smart-routing arms: ``auto`` and its modes (``auto:fast``, ...)."""
    return arm == "auto" or arm.startswith("auto:")


# --- token counts -------------------------------------------------------------------------
@dataclass(frozen=True)
class TokenCounter:
    """Prompt tokens of a chat request, as one kind of target counts them."""

    name: str
    describe: str
    count: Callable[[Sequence[Mapping[str, Any]], Sequence[Any] | None], int]


def _openai_count(messages: Sequence[Mapping[str, Any]], tools: Sequence[Any] | None) -> int:
    from auraon_bench.data.tokenizers import get_tokenizer

    o200k = get_tokenizer("o200k_base")
    total = o200k.chat_tokens(messages)
    if tools:
        total += o200k.count(orjson.dumps(list(tools)).decode())
    return total


def _emulator_count(messages: Sequence[Mapping[str, Any]], tools: Sequence[Any] | None) -> int:
    from auraon_bench.emulator.text import count_prompt_tokens  # the emulator's own rule

    return count_prompt_tokens(messages, tools)


OPENAI_COUNTER = TokenCounter(
    "o200k_base",
    "o200k_base tokenizer, 3 per message + its role + 3 (OpenAI's chat accounting)",
    _openai_count,
)
EMULATOR_COUNTER = TokenCounter(
    "emulator",
    "the Auraon emulator's count: its catalog's tokenizer (o200k_base), OpenAI's chat "
    "accounting, plus the tools' JSON",
    _emulator_count,
)


def counter_for(emulator: bool) -> TokenCounter:
    return EMULATOR_COUNTER if emulator else OPENAI_COUNTER


# --- the estimate -------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Demand:
    """``requests`` requests of ``arm`` (sent as ``model``), each ``prompt_tokens`` long and
    allowed ``output_tokens`` (None: no max_tokens)."""

    arm: str
    prompt_tokens: int
    output_tokens: int | None
    requests: int
    model: str | None = None  # what is sent, when it differs from the arm (a judge)


@dataclass(frozen=True, slots=True)
class ArmEstimate:
    arm: str
    requests: int
    prompt_tokens: int
    output_tokens: int
    usd: float | None  # None: no price known
    priced_as: str | None = None  # the price used, described
    basis: str = ""  # "own price", or how a router arm was priced; why not, when unpriced

    def to_dict(self) -> dict[str, Any]:
        return {
            "arm": self.arm,
            "requests": self.requests,
            "prompt_tokens": self.prompt_tokens,
            "output_tokens": self.output_tokens,
            "usd": self.usd,
            "priced_as": self.priced_as,
            "basis": self.basis,
        }


@dataclass(frozen=True)
class CostEstimate:
    """Per-arm upper bounds; ``requests`` None when the run's request count is not known."""

    requests: int | None
    arms: tuple[ArmEstimate, ...] = ()
    counter: str = ""
    price_source: str = ""
    output_bounded: bool = True
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def unpriced(self) -> tuple[str, ...]:
        return tuple(a.arm for a in self.arms if a.usd is None)

    @property
    def total_usd(self) -> float | None:
        """Sum over the arms with a price; None when no arm has one or the count is unknown."""
        priced = [a.usd for a in self.arms if a.usd is not None]
        return math.fsum(priced) if priced and self.requests is not None else None

    def headline(self) -> str:
        if self.requests is None:
            return "cost cannot be estimated: the number of requests is not known up front"
        total = self.total_usd
        if total is None:
            return (
                f"cost cannot be estimated for {self.requests} requests: no price for "
                f"{', '.join(self.unpriced)} (give one with --prices FILE)"
            )
        bound = "up to " if self.output_bounded else "about "
        text = f"estimated cost {bound}${total:.4f} for {self.requests} requests"
        if self.unpriced:
            text += (
                f", not counting {', '.join(self.unpriced)} (no price known: their cost is "
                "unknown, not zero)"
            )
        return text

    def basis_lines(self) -> list[str]:
        """What the figure rests on, one line each, for the confirm prompt and the manifest."""
        if self.requests is None:
            return list(self.notes)
        prompt = sum(a.prompt_tokens for a in self.arms)
        output = sum(a.output_tokens for a in self.arms)
        lines = [
            f"prompt tokens: {prompt:,}, counted with {self.counter}",
            f"completion tokens: {output:,}, every answer at its max_tokens"
            + (" (an upper bound)" if self.output_bounded else ""),
            f"prices: {self.price_source}",
        ]
        for arm in self.arms:
            if arm.usd is None:
                lines.append(f"arm {arm.arm}: {arm.requests} requests, not counted: {arm.basis}")
                continue
            how = f" at {arm.priced_as}" if arm.priced_as else ""
            why = f" ({arm.basis})" if arm.basis else ""
            lines.append(f"arm {arm.arm}: {arm.requests} requests, ${arm.usd:.4f}{how}{why}")
        return lines + list(self.notes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "total_usd": self.total_usd,
            "requests": self.requests,
            "unpriced_arms": list(self.unpriced),
            # Whether total_usd bounds the whole run: known count, max_tokens, every arm priced.
            "upper_bound": self.output_bounded and self.total_usd is not None and not self.unpriced,
            "token_counter": self.counter,
            "price_source": self.price_source,
            "arms": [a.to_dict() for a in self.arms],
            "basis": self.basis_lines(),
        }


def unknown_estimate(reason: str) -> CostEstimate:
    return CostEstimate(requests=None, notes=(reason,))


def estimate_cost(
    demand: Iterable[Demand],
    prices: PriceTable,
    *,
    counter: TokenCounter = OPENAI_COUNTER,
    listed: Sequence[str] | None = None,
    notes: Sequence[str] = (),
) -> CostEstimate:
    """Price ``demand`` (pure, given the table). ``listed``: the target's model list, the
    candidates a router arm could route to."""
    rows: dict[str, list[Demand]] = {}
    for row in demand:
        rows.setdefault(row.arm, []).append(row)
    bounded = all(r.output_tokens is not None for group in rows.values() for r in group)
    arms = tuple(_arm_estimate(arm, group, prices, listed) for arm, group in rows.items())
    extra = list(notes)
    if not bounded:
        extra.append(
            f"requests without max_tokens are counted at {UNBOUNDED_OUTPUT_TOKENS:,} completion "
            "tokens: not an upper bound"
        )
    return CostEstimate(
        requests=sum(a.requests for a in arms),
        arms=arms,
        counter=counter.describe,
        price_source=prices.source,
        output_bounded=bounded,
        notes=tuple(extra),
    )


def _output(row: Demand) -> int:
    return UNBOUNDED_OUTPUT_TOKENS if row.output_tokens is None else row.output_tokens


def _total(quote: Quote, rows: Sequence[Demand]) -> float:
    if not quote.tiered:  # linear in the token sums
        return quote.price.cost(
            sum(r.prompt_tokens * r.requests for r in rows),
            sum(_output(r) * r.requests for r in rows),
        )
    return math.fsum(quote.cost(r.prompt_tokens, _output(r)) * r.requests for r in rows)


def _arm_estimate(
    arm: str, rows: Sequence[Demand], prices: PriceTable, listed: Sequence[str] | None
) -> ArmEstimate:
    model = rows[0].model or arm
    base = {
        "arm": arm,
        "requests": sum(r.requests for r in rows),
        "prompt_tokens": sum(r.prompt_tokens * r.requests for r in rows),
        "output_tokens": sum(_output(r) * r.requests for r in rows),
    }
    own = prices.quote(model)
    if own is not None:
        return ArmEstimate(**base, usd=_total(own, rows), priced_as=own.describe())
    if not is_router(model):
        return ArmEstimate(**base, usd=None, basis=f"no price for {model!r} in {prices.source}")
    # A router bills the model it picks: at most the dearest one it could pick.
    names = listed if listed is not None else sorted(prices.overrides)
    where = "the target lists" if listed is not None else "the prices file holds"
    candidates = [
        (quote, _total(quote, rows))
        for name in dict.fromkeys(names)
        if not is_router(name) and (quote := prices.quote(name)) is not None
    ]
    if not candidates:
        return ArmEstimate(
            **base,
            usd=None,
            basis=f"a router: none of the models {where} has a price",
        )
    quote, usd = max(candidates, key=lambda c: c[1])
    return ArmEstimate(
        **base,
        usd=usd,
        priced_as=quote.describe(),
        basis=f"a router: the dearest of the {len(candidates)} models {where} with a price",
    )


def combine(estimates: Sequence[CostEstimate]) -> CostEstimate:
    """Several parts' estimates as one (an experiment's total); unknown if any part is."""
    unknown = [e for e in estimates if e.requests is None]
    if unknown:
        return unknown_estimate("; ".join(n for e in unknown for n in e.notes))
    arms = tuple(a for e in estimates for a in e.arms)
    return CostEstimate(
        requests=sum(a.requests for a in arms),
        arms=arms,
        counter="; ".join(dict.fromkeys(e.counter for e in estimates if e.counter)),
        price_source="; ".join(dict.fromkeys(e.price_source for e in estimates if e.price_source)),
        output_bounded=all(e.output_bounded for e in estimates),
        notes=tuple(dict.fromkeys(n for e in estimates for n in e.notes)),
    )
