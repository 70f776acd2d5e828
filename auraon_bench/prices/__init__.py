"""Prices for targets that report no cost, and the money guard's estimate.

* :mod:`auraon_bench.prices.table`: :class:`PriceTable`, genai-prices under an optional file;
* :mod:`auraon_bench.prices.file`: the ``--prices FILE`` format;
* :mod:`auraon_bench.prices.estimate`: the one estimate every command shows before it sends.

Only the table is imported here: the measuring client needs it, and nothing heavier.
"""

from auraon_bench.prices.table import Price, PriceTable, Quote, genai_source

__all__ = ["Price", "PriceTable", "Quote", "genai_source"]
