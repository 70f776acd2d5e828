"""Every exception auraon-bench raises on purpose, in one tree.

    AuraonBenchError                 base: catch this to catch everything below
    ├── ConfigError                  a file or flag the user gave is wrong (names file/line/field)
    │   ├── CatalogError             model catalog (models, prices, plans, keys, routing, faults)
    │   ├── DatasetError             prompt dataset (JSONL line and field)
    │   └── ResultFileError          a result file (summary, evaluation, limits JSON) that does
    │                                not read back as its typed object (names file and field)
    ├── TargetError                  the target cannot be used (unreachable, key rejected)
    ├── EmulatorError                the built-in emulator could not start or stopped early
    ├── WorkerError                  a load worker process could not start
    └── ResultsWriteError            records could not be written (disk full, unwritable);
                                     defined in ``auraon_bench.results.sink``, it says what was kept

The CLI turns every one of these into a one-line message and a non-zero exit; anything else that
escapes is a bug in auraon-bench. Errors the emulator *answers* over HTTP are not exceptions of
this tree: they are response bodies (see ``auraon_bench.emulator.protocol``).
"""

from __future__ import annotations


class AuraonBenchError(Exception):
    """Base class of every deliberate auraon-bench error."""


class ConfigError(AuraonBenchError):
    """Bad user input: a file, a line, a field or a flag. The message names which."""

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.message = message
        self.source = source
        self.line = line
        self.field = field
        where = ":".join(str(p) for p in (source, line) if p is not None)
        parts = [p for p in (where, f"field '{field}'" if field else None) if p]
        prefix = ", ".join(parts)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class CatalogError(ConfigError):
    """The model catalog (prices, plans, the emulator's models) is invalid."""


class DatasetError(ConfigError):
    """A prompt dataset is invalid."""


class ResultFileError(ConfigError):
    """A result file does not hold what its typed object needs (a field missing or misshapen)."""


class TargetError(AuraonBenchError):
    """The target cannot be used: unreachable, or it rejected the key."""


class EmulatorError(AuraonBenchError):
    """The built-in emulator failed to start or died."""


class WorkerError(AuraonBenchError):
    """A load worker (a local process or a Ray actor) could not start or vanished before it
    was ready. A worker that fails mid-run is reported in the run, not raised."""
