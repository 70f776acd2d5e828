"""From user-facing settings (flags or an experiment file's ``[[load]]`` table) to a validated
:class:`~auraon_bench.load.arrivals.ScheduleSpec`, with errors that name the user's own words.

The same rules serve ``auraon-bench load`` and experiment files, so a profile means the same
thing in both: without ``profile``, a sweep, a trace, a ``ramp_to``, a ``rate`` or a
``concurrency`` implies sweep, replay, ramp, constant or concurrent, in that order, and nothing
implies synchronous; without ``requests`` and ``duration`` a run sends 100 requests.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from auraon_bench.errors import ConfigError
from auraon_bench.load.arrivals import ScheduleSpec, Stage

DEFAULT_REQUESTS = 100


def implied_profile(values: Mapping[str, Any]) -> str:
    """What the settings imply when ``profile`` is absent (a bare rate means constant)."""
    implied = (
        ("sweep", values.get("stages")),
        ("replay", values.get("trace")),
        ("ramp", values.get("ramp_to") is not None),
        ("constant", values.get("rate") is not None),
        ("concurrent", values.get("concurrency")),
    )
    return next((name for name, given in implied if given), "synchronous")


def build_spec(values: Mapping[str, Any], name_of: Callable[[str], str]) -> ScheduleSpec:
    """The schedule ``values`` describe (keys are ScheduleSpec fields; ``stages`` a sequence of
    :class:`Stage`, ``trace`` of floats). A bad combination raises ``ConfigError`` whose field is
    ``name_of(spec field)``: a flag for the CLI, a table key for an experiment file."""
    profile = values.get("profile") or implied_profile(values)
    requests, duration = values.get("requests"), values.get("duration")
    if requests is None and duration is None and profile != "replay":
        requests = DEFAULT_REQUESTS
    fields: dict[str, Any] = {
        "profile": profile,
        "requests": requests,
        "duration": duration,
        **{
            k: values[k]
            for k in ("seed", "warmup_requests", "warmup_seconds", "max_concurrency")
            if values.get(k) is not None
        },
    }
    # Settings a profile does not use are dropped here, as the CLI's defaults always carry them.
    uses = {
        "rate": ("constant", "poisson", "gamma", "ramp"),
        "concurrency": ("concurrent",),
        "burstiness": ("gamma", "sweep"),
        "ramp_to": ("ramp",),
        "stages": ("sweep",),
        "trace": ("replay",),
    }
    for name, profiles in uses.items():
        if profile in profiles and values.get(name) is not None:
            fields[name] = values[name]
    try:
        return ScheduleSpec(**fields)
    except ValueError as exc:
        field, _, message = str(exc).partition(":")
        raise ConfigError(
            message.strip() or str(exc), field=name_of(field.strip().split("[")[0])
        ) from None


def sweep_stages(
    rates: Sequence[float] | None = None, concurrencies: Sequence[int] | None = None
) -> tuple[Stage, ...]:
    stages = [Stage(rate=float(r), concurrency=None) for r in rates or ()]
    stages += [Stage(rate=None, concurrency=int(c)) for c in concurrencies or ()]
    return tuple(stages)


def read_trace(path: str | Path, field: str = "trace") -> tuple[float, ...]:
    """Send times (seconds), one per line; '#' comments and blank lines ignored."""
    times = []
    try:
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                text = line.split("#", 1)[0].strip()
                if not text:
                    continue
                try:
                    times.append(float(text))
                except ValueError:
                    raise ConfigError(
                        f"{text!r} is not a number of seconds", source=str(path), line=number
                    ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read trace {path}: {exc.strerror}", field=field) from None
    return tuple(times)
