"""Where the client's prices went: :mod:`auraon_bench.prices`.

The catalog's prices are the *emulator's*: what the simulated gateway bills and reports itself
(``blockrun.cost_usd``). A real target that reports no cost is priced from genai-prices (and an
optional ``--prices FILE``), never from the emulator's catalog by model name. These names stay
importable from here for callers written before the move.
"""

from __future__ import annotations

from auraon_bench.prices.table import Price, PriceTable

__all__ = ["Price", "PriceTable"]
