"""Experiment files: validated TOML descriptions of a benchmark, and running them."""
