"""auraon-bench: benchmark and routing-evaluation toolkit for the Auraon LLM gateway.

The curated public API; everything else is internal and may change.
"""

from auraon_bench.emulator.launcher import EmulatorProcess
from auraon_bench.errors import (
    AuraonBenchError,
    CatalogError,
    ConfigError,
    DatasetError,
    EmulatorError,
    TargetError,
)
from auraon_bench.report.build import write_report
from auraon_bench.results.run import Part, Run, read_run

__version__ = "0.1.0"

__all__ = [
    "AuraonBenchError",
    "CatalogError",
    "ConfigError",
    "DatasetError",
    "EmulatorError",
    "EmulatorProcess",
    "Part",
    "Run",
    "TargetError",
    "__version__",
    "read_run",
    "write_report",
]
