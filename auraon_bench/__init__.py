"""auraon-bench: benchmark and routing-evaluation toolkit for the Auraon LLM gateway.

The curated public API; everything else is internal and may change. The names are imported on
first use (PEP 562), so ``import auraon_bench`` (and the CLI's ``--help``) stays light: no
pandas, pyarrow, scipy or matplotlib until something needs them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# Public name -> the module that defines it.
_LAZY = {
    "AuraonBenchError": "auraon_bench.errors",
    "CatalogError": "auraon_bench.errors",
    "ConfigError": "auraon_bench.errors",
    "DatasetError": "auraon_bench.errors",
    "EmulatorError": "auraon_bench.errors",
    "ResultFileError": "auraon_bench.errors",
    "TargetError": "auraon_bench.errors",
    "EmulatorProcess": "auraon_bench.emulator.launcher",
    "write_report": "auraon_bench.report.build",
    "Part": "auraon_bench.results.run",
    "Run": "auraon_bench.results.run",
    "read_run": "auraon_bench.results.run",
}

__all__ = [
    "AuraonBenchError",
    "CatalogError",
    "ConfigError",
    "DatasetError",
    "EmulatorError",
    "EmulatorProcess",
    "Part",
    "ResultFileError",
    "Run",
    "TargetError",
    "__version__",
    "read_run",
    "write_report",
]

if TYPE_CHECKING:
    from auraon_bench.emulator.launcher import EmulatorProcess
    from auraon_bench.errors import (
        AuraonBenchError,
        CatalogError,
        ConfigError,
        DatasetError,
        EmulatorError,
        ResultFileError,
        TargetError,
    )
    from auraon_bench.report.build import write_report
    from auraon_bench.results.run import Part, Run, read_run


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
