"""Evaluations: every arm on every prompt of a dataset, graded, then compared on quality,
cost and latency (``auraon-bench eval``)."""
