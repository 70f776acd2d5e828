"""What a load test sends: prompts from a dataset, synthetic prompts of given token lengths, and
conversations of several turns.

Synthetic prompts are sized with a real tokenizer (:mod:`auraon_bench.data.tokenizers`): a prompt
of ``input_tokens`` N counts exactly N prompt tokens in the chosen encoding by OpenAI's chat
accounting (``o200k_base`` by default, the encoding of current models; the emulator counts with
the same one). Lengths may be distributions (:mod:`auraon_bench.data.lengths`), drawn per prompt
and per turn from the run's seed.

A prompt's shape:

* **Turns.** A conversation of T turns sends its first user message, then, after each answer
  arrives, the next user message with the whole history (the assistant's actual answers
  included): :attr:`Prompt.follow_ups` holds turns 2..T. ``input_tokens`` is the size of each
  new user message (its message overhead included), so turn k's prompt is the history plus it.
* **Shared prefix.** With ``shared_prefix_tokens`` P, every prompt starts with one of
  ``prefix_groups`` G system prompts of exactly P tokens (prompt i takes group i mod G), as a
  chat application's fixed instructions do; the first turn then counts N + P tokens. After it,
  each prompt's first user message starts with its own index, so no two prompts share more than
  the system prompt (a prefix cache would otherwise flatter the target).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np

from auraon_bench.data.dataset import PromptItem
from auraon_bench.data.tokenizers import (
    DEFAULT_ENCODING,
    REPLY_PRIMER,
    TOKENS_PER_MESSAGE,
    get_tokenizer,
)

# Every role name ("system", "user", "assistant") is one token in the BPE encodings here.
_ROLE_TOKENS = 1
MESSAGE_OVERHEAD = TOKENS_PER_MESSAGE + _ROLE_TOKENS
FIRST_MESSAGE_OVERHEAD = REPLY_PRIMER + MESSAGE_OVERHEAD  # a one-message prompt's non-content
MAX_TURNS = 1024  # results.schema.TURN_STRIDE: turns per conversation, at most (tested)


class Lengths(Protocol):
    """A length distribution (:class:`auraon_bench.data.lengths.LengthSpec`): int samples."""

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray: ...


@dataclass(frozen=True, slots=True)
class FollowUp:
    """A later turn of a conversation: the user's next message and its output cap."""

    text: str
    max_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class Prompt:
    id: str
    messages: tuple[Mapping[str, Any], ...]
    category: str | None = None
    max_tokens: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    follow_ups: tuple[FollowUp, ...] = ()  # turns 2.. of a conversation
    # A replayed request: sent as recorded (the arm's model put in), not built from the fields.
    body: Mapping[str, Any] | None = None
    offset_s: float | None = None  # a replayed request's recorded send time, from the first

    @property
    def turns(self) -> int:
        return 1 + len(self.follow_ups)

    def cap(self, turn: int) -> int | None:
        """``max_tokens`` of ``turn`` (1-based)."""
        return self.max_tokens if turn == 1 else self.follow_ups[turn - 2].max_tokens


def draw(lengths: int | Lengths | None, n: int, rng: np.random.Generator) -> list[int | None]:
    """``n`` draws of ``lengths`` (a constant, a distribution, or None for "not set")."""
    if lengths is None:
        return [None] * n
    if isinstance(lengths, int | np.integer):
        return [int(lengths)] * n
    return [int(v) for v in lengths.sample(n, rng)]


def synthetic_prompts(
    n: int,
    input_tokens: int | Lengths,
    output_tokens: int | Lengths | None,
    *,
    seed: int = 0,
    pin_output: bool = False,
    tokenizer: str = DEFAULT_ENCODING,
    turns: int | Lengths = 1,
    shared_prefix_tokens: int = 0,
    prefix_groups: int = 1,
) -> list[Prompt]:
    """``n`` distinct prompts (conversations when ``turns`` > 1), sized in ``tokenizer``.

    ``pin_output`` adds ``ignore_eos`` (vLLM and the emulator honour it) so every answer is exactly
    its ``max_tokens`` long; other targets may reject it.
    """
    if n < 1:
        raise ValueError(f"prompts: need at least 1, got {n}")
    if isinstance(input_tokens, int) and input_tokens < 1:
        raise ValueError(f"input tokens: must be >= 1, got {input_tokens}")
    if isinstance(output_tokens, int) and output_tokens < 1:
        raise ValueError(f"output tokens: must be >= 1, got {output_tokens}")
    counts = np.random.default_rng([seed, 1])
    n_turns = [min(max(t or 1, 1), MAX_TURNS) for t in draw(turns, n, counts)]
    total = sum(n_turns)
    inputs = draw(input_tokens, total, counts)
    outputs = draw(output_tokens, total, counts)
    words = random.Random(seed)
    encoder = get_tokenizer(tokenizer)
    prefixes = shared_prefixes(shared_prefix_tokens, prefix_groups, seed=seed, tokenizer=tokenizer)
    prompts = []
    at = 0
    for i, t in enumerate(n_turns):
        sizes, caps = inputs[at : at + t], outputs[at : at + t]
        at += t
        first = encoder.text_of(
            max(1, (sizes[0] or 1) - FIRST_MESSAGE_OVERHEAD), words, prefix=f"[{i}]"
        )
        messages: tuple[Mapping[str, Any], ...] = ({"role": "user", "content": first},)
        if prefixes:
            messages = (prefixes[i % len(prefixes)], *messages)
        follow_ups = tuple(
            FollowUp(
                encoder.text_of(max(1, (size or 1) - MESSAGE_OVERHEAD), words, prefix=f"[{i}.{k}]"),
                cap,
            )
            for k, (size, cap) in enumerate(zip(sizes[1:], caps[1:], strict=True), start=2)
        )
        prompts.append(
            Prompt(
                id=f"synthetic-{i}",
                messages=messages,
                max_tokens=caps[0],
                extra={"ignore_eos": True} if pin_output and output_tokens is not None else {},
                follow_ups=follow_ups,
            )
        )
    return prompts


def prefix_problem(tokens: int) -> str | None:
    """Why a shared prefix of ``tokens`` cannot be built (0 means none), or None."""
    if 0 < tokens <= MESSAGE_OVERHEAD:
        return (
            f"must be 0 or above {MESSAGE_OVERHEAD} (a system message's own overhead), got {tokens}"
        )
    return None


def shared_prefixes(
    tokens: int, groups: int, *, seed: int = 0, tokenizer: str = DEFAULT_ENCODING
) -> list[Mapping[str, Any]]:
    """``groups`` distinct system messages of exactly ``tokens`` prompt tokens each (none when
    ``tokens`` is 0), seeded: the same settings give the same texts in every run."""
    if not tokens:
        return []
    problem = prefix_problem(tokens)
    if problem:
        raise ValueError(f"shared prefix tokens: {problem}")
    if groups < 1:
        raise ValueError(f"prefix groups: must be >= 1, got {groups}")
    encoder = get_tokenizer(tokenizer)
    return [
        {
            "role": "system",
            "content": encoder.text_of(
                tokens - MESSAGE_OVERHEAD,
                random.Random(f"{seed}-prefix-{g}"),
                prefix=f"System {g}.",
            ),
        }
        for g in range(groups)
    ]


def with_prefixes(prompts: Sequence[Prompt], prefixes: Sequence[Mapping[str, Any]]) -> list[Prompt]:
    """``prompts`` with prompt i opened by ``prefixes[i mod len(prefixes)]``."""
    if not prefixes:
        return list(prompts)
    return [
        replace(p, messages=(prefixes[i % len(prefixes)], *p.messages))
        for i, p in enumerate(prompts)
    ]


def with_caps(prompts: Sequence[Prompt], caps: Lengths, *, seed: int = 0) -> list[Prompt]:
    """``prompts`` with every turn's ``max_tokens`` drawn from ``caps`` (seeded)."""
    rng = np.random.default_rng([seed, 2])
    drawn = iter(draw(caps, sum(p.turns for p in prompts), rng))
    return [
        replace(
            p,
            max_tokens=next(drawn),
            follow_ups=tuple(replace(f, max_tokens=next(drawn)) for f in p.follow_ups),
        )
        for p in prompts
    ]


def prompts_from_items(
    items: Sequence[PromptItem],
    max_tokens: int | None = None,
    *,
    max_turns: int | Lengths = 1,
    seed: int = 0,
) -> list[Prompt]:
    """Prompts of dataset items. With ``max_turns`` above 1 (or a distribution, drawn per item)
    an item holding a conversation (user messages with assistant answers between them) is
    played turn by turn, up to that many user turns: the recorded answers are dropped, the
    target's own answers take their place."""
    limits = draw(max_turns, len(items), np.random.default_rng([seed, 3]))
    prompts = []
    for item, limit in zip(items, limits, strict=True):
        messages, follow_ups = item.messages, ()
        if max_turns != 1:
            messages, follow_ups = _split_turns(item.messages, limit or 1, max_tokens)
        prompts.append(
            Prompt(
                id=item.id,
                messages=messages,
                category=item.category,
                max_tokens=max_tokens,
                extra={"tools": list(item.tools)} if item.tools else {},
                follow_ups=follow_ups,
            )
        )
    return prompts


def _split_turns(
    messages: Sequence[Mapping[str, Any]], max_turns: int, max_tokens: int | None
) -> tuple[tuple[Mapping[str, Any], ...], tuple[FollowUp, ...]]:
    """The first turn (everything up to the first user message) and the later user messages;
    a conversation whose later turns are not plain text is sent whole, as one request."""
    users = [i for i, m in enumerate(messages) if m.get("role") == "user"]
    if len(users) < 2 or any(not isinstance(messages[i].get("content"), str) for i in users[1:]):
        return tuple(messages), ()
    first = tuple(messages[: users[0] + 1])
    later = [FollowUp(str(messages[i]["content"]), max_tokens) for i in users[1:max_turns]]
    return first, tuple(later)


def turn_messages(
    prompt: Prompt, history: Sequence[Mapping[str, Any]], turn: int
) -> tuple[Mapping[str, Any], ...]:
    """The messages of ``turn`` (1-based): the first turn's, or the history so far (with the
    answers received) and the turn's user message."""
    if turn == 1:
        return tuple(prompt.messages)
    return (*history, {"role": "user", "content": prompt.follow_ups[turn - 2].text})
