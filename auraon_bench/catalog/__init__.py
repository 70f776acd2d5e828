"""The catalog: models, prices, speeds, skills, capacities, plans, keys, routing tables and faults.

One TOML file (the built-in ``catalog.toml``, optionally overlaid by a user file whose
``[meta] extends = "builtin"``) shared by the emulator, which simulates the gateway it describes,
and the measuring client, which prices requests from it (:class:`PriceTable`). Light to import:
no emulator, no HTTP, no data frames.
"""

from auraon_bench.catalog.loader import BUILTIN, load_catalog, merge_tables
from auraon_bench.catalog.prices import Price, PriceTable
from auraon_bench.catalog.schema import (
    AUTO_MODES,
    DIFFICULTIES,
    FAULT_RATES,
    METADATA_KEYS,
    TIERS,
    WHEN_FULL,
    Catalog,
    Defaults,
    Faults,
    ModelCapacity,
    ModelProfile,
    ModelTiming,
    Plan,
    PromptCachePolicy,
    Routing,
)

__all__ = [
    "AUTO_MODES",
    "BUILTIN",
    "DIFFICULTIES",
    "FAULT_RATES",
    "METADATA_KEYS",
    "TIERS",
    "WHEN_FULL",
    "Catalog",
    "Defaults",
    "Faults",
    "ModelCapacity",
    "ModelProfile",
    "ModelTiming",
    "Plan",
    "Price",
    "PriceTable",
    "PromptCachePolicy",
    "Routing",
    "load_catalog",
    "merge_tables",
]
