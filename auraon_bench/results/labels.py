"""How simulated figures are labelled: by the built-in emulator, or by a twin fitted to a run.

One place for the words, so a run on a fitted twin (``auraon-bench emulator fit``) says
"SIMULATED (twin of RUN-ID)" in its warnings, console lines, reports and chart footers alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

BUILTIN_LABEL = "SIMULATED (built-in emulator)"


def simulated_label(twin_of: str | None = None) -> str:
    """``SIMULATED (built-in emulator)``, or ``SIMULATED (twin of RUN-ID)`` on a fitted twin."""
    return f"SIMULATED (twin of {twin_of})" if twin_of else BUILTIN_LABEL


def simulated_warning(twin_of: str | None = None) -> str:
    """The warning a simulated run's manifest and console carry."""
    if twin_of:
        return (
            f"SIMULATED (twin of {twin_of}): every figure comes from the built-in emulator "
            f"fitted to run {twin_of}, not from a gateway"
        )
    return "SIMULATED: every figure comes from the built-in emulator"


def twin_of_target(target: Mapping[str, Any] | None) -> str | None:
    """The run a manifest's ``target`` section was a twin of (None: not a twin)."""
    value = (target or {}).get("twin_of")
    return str(value) if value else None
