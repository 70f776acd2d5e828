"""What a load sends and what its summary prices: the prompts a load's options describe
(dataset items, or synthetic prompts and conversations sized by a tokenizer), and the cache
discounts of the models that served it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from auraon_bench.analysis.conversations import serving_model
from auraon_bench.catalog.loader import load_catalog
from auraon_bench.data.dataset import load_items
from auraon_bench.data.lengths import LengthSpec
from auraon_bench.data.prompts import (
    Prompt,
    prompts_from_items,
    shared_prefixes,
    synthetic_prompts,
    with_caps,
    with_prefixes,
)
from auraon_bench.data.replay import RECORDED_ARM
from auraon_bench.load.target import Target
from auraon_bench.prices.cache import cache_discounts
from auraon_bench.prices.table import PriceTable

if TYPE_CHECKING:
    from auraon_bench.load.session import LoadOptions


def load_prompts(options: LoadOptions, simulated: bool) -> list[Prompt]:
    """The prompts a load sends: recorded bodies, dataset items, or synthetic prompts and
    conversations."""
    if options.replay is not None:
        return [
            Prompt(
                id=request.request_key,
                messages=tuple(request.body["messages"]),
                max_tokens=_cap(request.body),
                body=request.body,
                offset_s=request.offset_s,
            )
            for request in options.replay.requests
        ]
    if options.datasets:
        items = prompts_from_items(
            load_items(options.datasets, options.items_per_dataset, options.spec.seed),
            options.output_tokens if isinstance(options.output_tokens, int) else None,
            max_turns=options.turns,
            seed=options.spec.seed,
        )
        prefixes = shared_prefixes(
            options.shared_prefix_tokens,
            options.prefix_groups,
            seed=options.spec.seed,
            tokenizer=options.tokenizer,
        )
        if isinstance(options.output_tokens, LengthSpec):
            items = with_caps(items, options.output_tokens, seed=options.spec.seed)
        return with_prefixes(items, prefixes)
    pin = simulated if options.pin_output is None else options.pin_output
    return synthetic_prompts(
        options.n_prompts,
        options.input_tokens,
        options.output_tokens,
        seed=options.spec.seed,
        pin_output=pin,
        tokenizer=options.tokenizer,
        turns=options.turns,
        shared_prefix_tokens=options.shared_prefix_tokens,
        prefix_groups=options.prefix_groups,
    )


def sent_models(options: LoadOptions) -> tuple[str, ...]:
    """The models a load sends: its arms, the recorded bodies' own for a ``recorded`` arm."""
    if options.replay is None or RECORDED_ARM not in options.arms:
        return options.arms
    recorded = (str(r.body.get("model")) for r in options.replay.requests)
    return tuple(dict.fromkeys([*(a for a in options.arms if a != RECORDED_ARM), *recorded]))


def _cap(body: Mapping[str, Any]) -> int | None:
    cap = body.get("max_completion_tokens", body.get("max_tokens"))
    return cap if isinstance(cap, int) and not isinstance(cap, bool) else None


def discounts_for(records: Any, target: Target, prices: PriceTable) -> dict[str, float]:
    """Cache discounts of the models that served the run (see prices/cache.py)."""
    models = {str(m) for m in serving_model(records) if m is not None}
    if target.simulated:
        return cache_discounts(models, catalog=load_catalog(target.catalog))
    return cache_discounts(models, prices=prices)


def length_json(value: float | LengthSpec | None) -> Any:
    """A length setting for the manifest: the number, or the distribution's description."""
    return value.to_json() if isinstance(value, LengthSpec) else value
