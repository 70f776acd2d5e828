"""What a cache read saves, per model: input price − cache-read price, USD per 1M tokens.

The summaries need it to state a run's cost without caching and the discount a model switch
lost (:mod:`auraon_bench.analysis.conversations`). A simulated run takes it from the emulator's
own catalog, because that is what the emulator billed; a real target from the client's price
table (genai-prices, under ``--prices``), because that is the best knowledge of its prices the
client has. A model with no cache-read price has no entry: no figure is invented for it.
"""

from __future__ import annotations

from collections.abc import Iterable

from auraon_bench.catalog.schema import Catalog
from auraon_bench.prices.table import PriceTable


def cache_discounts(
    models: Iterable[str], *, prices: PriceTable | None = None, catalog: Catalog | None = None
) -> dict[str, float]:
    """``{model: input − cache_read}`` for the ``models`` that have both prices."""
    out: dict[str, float] = {}
    for model in dict.fromkeys(models):
        if catalog is not None:
            profile = catalog.models.get(model)
            cache_read = getattr(profile, "cache_read_per_mtok", None)
            if profile is not None and cache_read is not None:
                out[model] = profile.input_per_mtok - cache_read
        elif prices is not None:
            price = prices.lookup(model)
            if price is not None and price.cache_read_per_mtok is not None:
                out[model] = price.input_per_mtok - price.cache_read_per_mtok
    return out
