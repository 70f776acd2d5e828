"""Evaluations: every arm on every prompt of a dataset, graded, then compared on quality,
cost and latency (``auraon-bench eval``).

This package's own namespace stays light (the CLI's ``--help`` reads :data:`DEFAULT_ARMS`
without loading the analysis)."""

# The four auto modes, then fixed models from the strongest to the cheapest the router uses.
DEFAULT_ARMS: tuple[str, ...] = (
    "auto",
    "auto:fast",
    "auto:quality",
    "auto:cheap",
    "gpt-4o",
    "claude-sonnet-4-6",
    "gpt-4o-mini",
    "llama-3.1-8b",
)
