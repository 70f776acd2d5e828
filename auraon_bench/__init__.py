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

__version__ = "0.1.0"

__all__ = [
    "AuraonBenchError",
    "CatalogError",
    "ConfigError",
    "DatasetError",
    "EmulatorError",
    "EmulatorProcess",
    "TargetError",
    "__version__",
]
