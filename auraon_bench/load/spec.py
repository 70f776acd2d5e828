"""From user-facing settings (flags or an experiment file's ``[[load]]`` table) to a validated
:class:`~auraon_bench.load.arrivals.ScheduleSpec`, with errors that name the user's own words.

The same rules serve ``auraon-bench load`` and experiment files, so a profile means the same
thing in both: without ``profile``, a sweep, a trace, a ``ramp_to``, a ``rate`` or a
``concurrency`` implies sweep, replay, ramp, constant or concurrent, in that order, and nothing
implies synchronous; without ``requests`` and ``duration`` a run sends 100 requests. A setting
that is given counts as given whatever its value: ``concurrency = 0`` implies concurrent (and is
refused there), never synchronous, and an empty trace file implies replay (and is refused).
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
    for name, key in (
        ("sweep", "stages"),
        ("replay", "trace"),
        ("ramp", "ramp_to"),
        ("constant", "rate"),
        ("concurrent", "concurrency"),
    ):
        if values.get(key) is not None:
            return name
    return "synchronous"


# What each profile cannot run without: (setting, what it is). Checked before the schedule,
# so a missing one is "needs --ramp-to", not "must be >= 0, got None".
REQUIRED: dict[str, tuple[tuple[str, str], ...]] = {
    "constant": (("rate", "requests per second"),),
    "poisson": (("rate", "mean requests per second"),),
    "gamma": (("rate", "mean requests per second"),),
    "ramp": (
        ("rate", "the starting rate, requests/s"),
        ("ramp_to", "the final rate, requests/s"),
        ("duration", "the ramp's length, s"),
    ),
    "concurrent": (("concurrency", "requests in flight"),),
    "sweep": (("stages", "its stages, rates or concurrencies"),),
    "replay": (("trace", "a file of send times"),),
}


def missing_settings(profile: str, values: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The settings ``profile`` needs that ``values`` lacks, each with what it is; pure."""
    return [(key, what) for key, what in REQUIRED.get(profile, ()) if values.get(key) is None]


def build_spec(values: Mapping[str, Any], name_of: Callable[[str], str]) -> ScheduleSpec:
    """The schedule ``values`` describe (keys are ScheduleSpec fields; ``stages`` a sequence of
    :class:`Stage`, ``trace`` of floats). A bad combination raises ``ConfigError`` whose field is
    ``name_of(spec field)``: a flag for the CLI, a table key for an experiment file."""
    profile = values.get("profile") or implied_profile(values)
    missing = missing_settings(profile, values)
    if missing:
        named = [f"{name_of(key)} ({what})" for key, what in missing]
        listed = named[0] if len(named) == 1 else f"{', '.join(named[:-1])} and {named[-1]}"
        raise ConfigError(f"profile '{profile}' needs {listed}", field=name_of(missing[0][0]))
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


def stages_of(
    pairs: Sequence[tuple[float | None, int | None]], field: str = "sweep"
) -> tuple[Stage, ...]:
    """Sweep stages from ``(rate, concurrency)`` pairs, in order; a stage that cannot run is a
    ``ConfigError`` naming ``field`` (a rate that is not a finite number > 0, a concurrency
    below 1), never the ValueError of :class:`Stage`."""
    try:
        return tuple(Stage(rate=rate, concurrency=concurrency) for rate, concurrency in pairs)
    except ValueError as exc:
        kind, _, message = str(exc).partition(":")
        raise ConfigError(f"a {kind.strip()} stage {message.strip()}", field=field) from None


def sweep_stages(
    rates: Sequence[float] | None = None,
    concurrencies: Sequence[int] | None = None,
    field: str = "sweep",
) -> tuple[Stage, ...]:
    """Rate stages, then concurrency stages (see :func:`stages_of`)."""
    pairs = [(float(r), None) for r in rates or ()] + [(None, int(c)) for c in concurrencies or ()]
    return stages_of(pairs, field)


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
    except UnicodeDecodeError:
        raise ConfigError(
            f"trace {path} is not text (send times in seconds, one per line)", field=field
        ) from None
    return tuple(times)
