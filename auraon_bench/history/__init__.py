"""Runs over time: an index of every run under a results directory, trends and steps.

* :mod:`.index`: find and read every run into a runs table and a (run, part, arm) metrics table.
* :mod:`.report`: the history page (trend charts per metric, detected steps) in the report's
  formats.

Step detection itself is :mod:`auraon_bench.analysis.steps`.
"""

from auraon_bench.history.index import (
    DEFAULT_METRICS,
    METRICS,
    History,
    Metric,
    SeriesKey,
    find_run_dirs,
    iter_series,
    read_history,
)

__all__ = [
    "DEFAULT_METRICS",
    "METRICS",
    "History",
    "Metric",
    "SeriesKey",
    "find_run_dirs",
    "iter_series",
    "read_history",
]
