"""The versioned result files of a run directory, read back as their typed objects.

===================  ==========================================  =======  ======================
file                 object                                               written by
===================  ==========================================  =======  ======================
``summary.json``     :class:`~.analysis.load_summary.RunSummary`              load, eval (each part)
``summary.json``     :class:`~.experiment.summary.ExperimentSummary`          run (the experiment)
``evaluation.json``  :class:`~.eval.report.EvalReport`                        eval
``limits.json``      :class:`~.analysis.limits.LimitsSummary`                 limits
===================  ==========================================  =======  ======================

(versions: each module's ``SCHEMA_VERSION``.)

Every file carries ``schema_version``; a file without one is version 1 (written before versions
were recorded). :func:`read_result` refuses a file newer than this version of auraon-bench
knows, passes an older one through its migrations (each a pure function from one version's
JSON to the next), then rebuilds the object with :func:`~.typed.from_dict`. What a migration
cannot know stays at the object's defaults, so an old run still renders.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from auraon_bench.errors import ResultFileError
from auraon_bench.results.manifest import read_json
from auraon_bench.results.typed import from_dict

T = TypeVar("T")

Migration = Callable[[dict[str, Any]], dict[str, Any]]

__all__ = ["current_version", "read_result", "register"]

# class name -> (current version, {from_version: migration to from_version + 1})
_REGISTRY: dict[str, tuple[int, dict[int, Migration]]] = {}


def register(cls_name: str, version: int, migrations: dict[int, Migration] | None = None) -> None:
    """Declare the current schema version of a result class and its migrations."""
    _REGISTRY[cls_name] = (version, dict(migrations or {}))


def current_version(cls: type) -> int:
    return _REGISTRY.get(cls.__name__, (1, {}))[0]


def migrate(cls: type, data: dict[str, Any], source: str | None = None) -> dict[str, Any]:
    """``data`` (one file's JSON) brought to the current layout of ``cls``."""
    version, steps = _REGISTRY.get(cls.__name__, (1, {}))
    found = data.get("schema_version", 1)
    if not isinstance(found, int) or found < 1:
        raise ResultFileError(f"bad schema_version {found!r}", source=source)
    if found > version:
        raise ResultFileError(
            f"schema version {found} is newer than this auraon-bench reads ({version}); "
            "upgrade auraon-bench to read it",
            source=source,
        )
    while found < version:
        step = steps.get(found)
        if step is not None:
            data = step(dict(data))
        found += 1
    return {**data, "schema_version": version}


def read_result(path: Path, cls: type[T]) -> T | None:
    """The object in ``path``; None when the file does not exist."""
    data = read_json(path, cls.__name__)
    if data is None:
        return None
    return from_dict(cls, migrate(cls, data, str(path)), source=str(path))


def _register_builtin() -> None:
    from auraon_bench.analysis import limits, load_summary
    from auraon_bench.eval import report
    from auraon_bench.experiment import summary

    register("RunSummary", load_summary.SCHEMA_VERSION)
    register("ExperimentSummary", summary.SCHEMA_VERSION, summary.MIGRATIONS)
    register("LimitsSummary", limits.LIMITS_SCHEMA_VERSION)
    register("EvalReport", report.SCHEMA_VERSION, report.MIGRATIONS)


_register_builtin()
