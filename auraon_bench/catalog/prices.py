"""Cost of a request from a versioned price table, for targets that report no cost.

The built-in table is the catalog's (USD per 1M input/output tokens, with its source and date);
a cost computed here is always flagged ``cost_source = "price_table"``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from auraon_bench.catalog.loader import load_catalog


@dataclass(frozen=True, slots=True)
class Price:
    input_per_mtok: float
    output_per_mtok: float


class PriceTable:
    def __init__(self, prices: Mapping[str, Price], source: str = "") -> None:
        self.prices = dict(prices)
        self.source = source

    @classmethod
    def builtin(cls) -> PriceTable:
        catalog = load_catalog()
        return cls(
            {m.id: Price(m.input_per_mtok, m.output_per_mtok) for m in catalog.models.values()},
            catalog.sources.get("price_source", ""),
        )

    def lookup(self, model: str | None) -> Price | None:
        """Exact id, else the id without a provider prefix (``openai/gpt-4o`` -> ``gpt-4o``)."""
        if not model:
            return None
        return self.prices.get(model) or self.prices.get(model.rsplit("/", 1)[-1])

    def cost(
        self, model: str | None, prompt_tokens: int | None, completion_tokens: int | None
    ) -> float | None:
        price = self.lookup(model)
        if price is None or prompt_tokens is None or completion_tokens is None:
            return None
        return (
            prompt_tokens * price.input_per_mtok + completion_tokens * price.output_per_mtok
        ) / 1e6
