"""Conversion of summary values to JSON-ready Python objects.

``json.dumps`` rejects numpy scalars and writes NaN as a bare ``NaN`` token that strict
parsers refuse, so summaries pass every value through :func:`jsonable`: numpy scalars
become ``int``/``float``/``bool``, NaN/inf and pandas' missing markers become ``None``,
mapping keys become strings, tuples and arrays become lists, and objects with a
``to_dict()`` are expanded.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["jsonable"]


def jsonable(value: Any) -> Any:
    """``value`` as nested dicts/lists of ``str``, ``int``, ``float``, ``bool`` and ``None``."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        f = float(value)
        return f if math.isfinite(f) else None
    if hasattr(value, "to_dict") and not isinstance(value, pd.DataFrame | pd.Series):
        return jsonable(value.to_dict())
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [jsonable(v) for v in value]
    if value is pd.NA or value is pd.NaT:
        return None
    raise TypeError(f"cannot convert {type(value).__name__} to JSON: {value!r}")


class JsonFields:
    """A dataclass's ``to_dict()``: every field through :func:`jsonable` (summaries' results
    read back by :func:`auraon_bench.results.typed.from_dict`)."""

    def to_dict(self) -> dict[str, Any]:
        import dataclasses

        return {f.name: jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)}  # type: ignore[arg-type]
