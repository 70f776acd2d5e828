"""What a load sends and what its summary prices: the prompts a load's options describe
(dataset items, or synthetic prompts and conversations sized by a tokenizer), and the cache
discounts of the models that served it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson

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


def options_record(options: LoadOptions) -> dict[str, Any]:
    """The load options as the manifest records them (JSON types only)."""
    spec = options.spec
    return orjson.loads(
        orjson.dumps(
            {
                "arms": list(options.arms),
                "profile": str(spec.profile),
                "rate": spec.rate,
                "concurrency": spec.concurrency,
                "requests": spec.requests,
                "duration": spec.duration,
                "burstiness": spec.burstiness,
                "ramp_to": spec.ramp_to,
                "stages": [[s.rate, s.concurrency] for s in spec.stages],
                "trace_len": len(spec.trace),
                "warmup_requests": spec.warmup_requests,
                "warmup_seconds": spec.warmup_seconds,
                "max_concurrency": spec.max_concurrency,
                "seed": spec.seed,
                "stream": options.stream,
                "datasets": list(options.datasets),
                "items_per_dataset": options.items_per_dataset,
                "repeat": options.repeat,
                "input_tokens": length_json(options.input_tokens),
                "output_tokens": length_json(options.output_tokens),
                "tokenizer": options.tokenizer,
                "turns": length_json(options.turns),
                "think_time": length_json(options.think_time),
                "shared_prefix_tokens": options.shared_prefix_tokens,
                "prefix_groups": options.prefix_groups,
                "replay": options.replay.path if options.replay is not None else None,
                "replay_format": options.replay.format if options.replay is not None else None,
                "replay_speed": options.replay_speed,
                "retry": options.retry.kind,
                "grace_s": options.grace_s,
                "allow_unlisted_models": options.allow_unlisted_models,
                "prices_file": options.prices_file,
                "timeouts": [
                    options.timeouts.connect,
                    options.timeouts.read,
                    options.timeouts.total,
                ],
            },
            default=str,
        )
    )
