"""Regression verdicts between runs: comparison, outputs (console, markdown, JSON, JUnit)."""
