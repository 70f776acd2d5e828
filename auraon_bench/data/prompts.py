"""What a load test sends: prompts from a dataset, or synthetic prompts of given token lengths.

Synthetic prompts have no tokenizer behind them (none is available offline for every target):
their length uses the ~4 characters per token rule, the same heuristic the emulator counts with,
so on the emulator the prompt token count is exact and on other targets approximate; the record's
``prompt_tokens`` always comes from the server's usage when it reports one. Each prompt starts with
its own index so no two share a prefix (prefix caches would otherwise flatter the target).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from auraon_bench.data.dataset import PromptItem

_WORDS = (
    "time data model value system answer request number order point level plan cost rate "
    "test work part case result given based used where while since under river valley "
    "window signal market garden engine bridge letter planet circle"
).split()


@dataclass(frozen=True, slots=True)
class Prompt:
    id: str
    messages: tuple[Mapping[str, Any], ...]
    category: str | None = None
    max_tokens: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


def synthetic_prompts(
    n: int, input_tokens: int, output_tokens: int | None, *, seed: int = 0, pin_output: bool = False
) -> list[Prompt]:
    """``n`` distinct prompts of about ``input_tokens`` tokens asking for ``output_tokens``.

    ``pin_output`` adds ``ignore_eos`` (vLLM and the emulator honour it) so every answer is exactly
    ``output_tokens`` long; other targets may reject it.
    """
    if n < 1:
        raise ValueError(f"prompts: need at least 1, got {n}")
    if input_tokens < 1:
        raise ValueError(f"input tokens: must be >= 1, got {input_tokens}")
    if output_tokens is not None and output_tokens < 1:
        raise ValueError(f"output tokens: must be >= 1, got {output_tokens}")
    rng = random.Random(seed)
    extra = {"ignore_eos": True} if pin_output and output_tokens else {}
    prompts = []
    # Chat accounting adds 4 tokens per message and 3 for the reply primer.
    target_chars = max(1, input_tokens - 7) * 4
    for i in range(n):
        words = [f"[{i}]"]
        length = len(words[0])
        while length < target_chars:
            word = rng.choice(_WORDS)
            words.append(word)
            length += len(word) + 1
        text = " ".join(words)[:target_chars]
        prompts.append(
            Prompt(
                id=f"synthetic-{i}",
                messages=({"role": "user", "content": text},),
                max_tokens=output_tokens,
                extra=extra,
            )
        )
    return prompts


def prompts_from_items(items: Sequence[PromptItem], max_tokens: int | None = None) -> list[Prompt]:
    return [
        Prompt(
            id=item.id,
            messages=item.messages,
            category=item.category,
            max_tokens=max_tokens,
            extra={"tools": list(item.tools)} if item.tools else {},
        )
        for item in items
    ]
