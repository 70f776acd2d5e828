"""Length distributions for ``--input-tokens``, ``--output-tokens``, ``--turns`` and
``--think-time`` (and the same keys in experiment TOML files). Pure apart from reading ``file:``.

Grammar (a string; a TOML int or float is the same as the constant)::

    N                      constant, e.g. ``128`` (or ``1.5`` for a float quantity)
    normal:MEAN,SD         Generator.normal(MEAN, SD)
    lognormal:MEDIAN,SIGMA Generator.lognormal(log(MEDIAN), SIGMA): SIGMA is the sd of the log
    uniform:LO,HI          Generator.integers(LO, HI, endpoint=True) for integer quantities (both
                           ends included), Generator.uniform(LO, HI) for float ones
    file:PATH              empirical: one number per line (blank lines and ``#`` comments ignored),
                           drawn with replacement by Generator.choice

Any of them may end with ``,min=X`` and/or ``,max=Y``: ``normal:500,100,min=50,max=2000``.

Sampling: draw from the distribution above, round to the nearest integer (``numpy.rint``, halves
to even) for integer quantities, then clip to ``[max(min, floor), max]``. ``floor`` is the caller's
hard lower bound (e.g. 1 token); when not given it is 0, since no count or time is negative. All
randomness comes from the ``numpy.random.Generator`` passed to ``sample``, so a seed fixes it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np

from auraon_bench.errors import ConfigError

Kind = Literal["constant", "normal", "lognormal", "uniform", "empirical"]

# Parameter names per kind, in the order the grammar takes them (used by errors and to_json).
PARAM_NAMES: dict[str, tuple[str, ...]] = {
    "constant": ("value",),
    "normal": ("mean", "sd"),
    "lognormal": ("median", "sigma"),
    "uniform": ("lo", "hi"),
    "empirical": (),
}
_PREFIXES = ("normal", "lognormal", "uniform", "file")
_KINDS_HELP = "a number or one of normal:MEAN,SD, lognormal:MEDIAN,SIGMA, uniform:LO,HI, file:PATH"


def _fmt(x: float) -> str:
    """A number as a user would write it: ``2000`` not ``2000.0``."""
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else f"{x:g}"


@dataclass(frozen=True)
class LengthSpec:
    """A parsed length spec; build with ``parse_length``. ``text`` is what the user wrote."""

    kind: Kind
    params: tuple[float, ...]
    text: str
    integer: bool = True
    minimum: float | None = None
    maximum: float | None = None
    floor: float = 0.0
    values: tuple[float, ...] = field(default=(), repr=False)
    source: str | None = None

    @property
    def is_constant(self) -> bool:
        return self.kind == "constant"

    @property
    def mean(self) -> float:
        """Mean of the distribution before rounding and clamping (of the values, for a file)."""
        if self.kind in ("constant", "normal"):
            return self.params[0]
        if self.kind == "lognormal":
            median, sigma = self.params
            return median * math.exp(sigma * sigma / 2)
        if self.kind == "uniform":
            return (self.params[0] + self.params[1]) / 2
        return math.fsum(self.values) / len(self.values)

    def bounds(self) -> tuple[float, float]:
        """The interval every sample is clipped to (whole numbers for integer quantities)."""
        lo = self.floor if self.minimum is None else max(self.floor, self.minimum)
        hi = math.inf if self.maximum is None else self.maximum
        if self.integer:
            lo, hi = math.ceil(lo), (hi if math.isinf(hi) else math.floor(hi))
        return lo, hi

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` draws: int64 for integer quantities, float64 otherwise, rounded then clipped."""
        p = self.params
        if self.kind == "constant":
            raw = np.full(n, p[0], dtype=np.float64)
        elif self.kind == "normal":
            raw = rng.normal(p[0], p[1], size=n)
        elif self.kind == "lognormal":
            raw = rng.lognormal(math.log(p[0]), p[1], size=n)
        elif self.kind == "uniform" and self.integer:
            raw = rng.integers(int(p[0]), int(p[1]), size=n, endpoint=True).astype(np.float64)
        elif self.kind == "uniform":
            raw = rng.uniform(p[0], p[1], size=n)
        else:
            raw = rng.choice(np.asarray(self.values, dtype=np.float64), size=n, replace=True)
        lo, hi = self.bounds()
        if self.integer:
            # Round before clipping so a clamp is an exact whole number, not rounded past.
            return np.clip(np.rint(raw), lo, hi).astype(np.int64)
        return np.clip(raw, lo, hi)

    def describe(self) -> str:
        """Short human text, e.g. ``normal(mean 500, sd 100), clamped to [50, 2000]``."""
        if self.kind == "constant":
            body = _fmt(self.params[0])
        elif self.kind == "empirical":
            body = f"empirical({len(self.values)} values from {self.source}, mean {self.mean:.4g})"
        else:
            names = PARAM_NAMES[self.kind]
            args = ", ".join(f"{k} {_fmt(v)}" for k, v in zip(names, self.params, strict=True))
            body = f"{self.kind}({args})"
        if self.minimum is not None and self.maximum is not None:
            return f"{body}, clamped to [{_fmt(self.minimum)}, {_fmt(self.maximum)}]"
        if self.minimum is not None:
            return f"{body}, clamped to >= {_fmt(self.minimum)}"
        if self.maximum is not None:
            return f"{body}, clamped to <= {_fmt(self.maximum)}"
        return body

    def to_json(self) -> dict[str, Any]:
        """For the run manifest. A file's values are not inlined: its path, count and mean are."""
        out: dict[str, Any] = {
            "text": self.text,
            "kind": self.kind,
            "integer": self.integer,
            "params": dict(zip(PARAM_NAMES[self.kind], self.params, strict=True)),
            "min": self.minimum,
            "max": self.maximum,
            "floor": self.floor,
            "mean": self.mean,
        }
        if self.kind == "empirical":
            out.update(source=self.source, count=len(self.values))
        return out


def _number(text: str, what: str, field: str) -> float:
    try:
        x = float(text)
    except ValueError:
        raise ConfigError(f"{what} must be a number, got '{text.strip()}'", field=field) from None
    if not math.isfinite(x):
        raise ConfigError(f"{what} must be a finite number, got '{text.strip()}'", field=field)
    return x


def _read_values(path: Path, field: str) -> tuple[float, ...]:
    try:
        content = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ConfigError(
            f"cannot read length file: {reason}", source=str(path), field=field
        ) from None
    values: list[float] = []
    for number, line in enumerate(content.splitlines(), start=1):
        token = line.split("#", 1)[0].strip()
        if not token:
            continue
        try:
            x = float(token)
        except ValueError:
            x = math.nan
        if not math.isfinite(x):
            raise ConfigError(
                f"'{token}' is not a number", source=str(path), line=number, field=field
            )
        values.append(x)
    if not values:
        raise ConfigError("length file holds no numbers", source=str(path), field=field)
    return tuple(values)


def parse_length(
    value: str | int | float,
    *,
    field: str,
    integer: bool = True,
    floor: float | None = None,
    base: Path | None = None,
) -> LengthSpec:
    """Parse a flag or TOML value (grammar in the module docstring) into a ``LengthSpec``.

    ``floor`` is the hard lower bound (default 0); ``base`` is the directory a relative
    ``file:`` path is read from (e.g. the experiment file's), the working directory if None.
    Every mistake raises ``ConfigError`` naming ``field``.
    """
    lowest = 0.0 if floor is None else float(floor)
    # bool is an int subclass; TOML `true` is a mistake, not the constant 1.
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ConfigError(f"expected {_KINDS_HELP}, got {value!r}", field=field)
    text = str(value).strip()
    if not text:
        raise ConfigError(f"expected {_KINDS_HELP}, got an empty value", field=field)

    head, colon, body = text.partition(":")
    prefix = head.strip().lower() if colon else ""
    if colon and prefix not in _PREFIXES:
        raise ConfigError(
            f"unknown distribution '{head.strip()}'; expected {_KINDS_HELP}", field=field
        )
    parts = (body if colon else text).split(",")

    # Clamps are trailing key=value parts. For file: only min/max count, so a path may hold '='.
    options: dict[str, float] = {}
    while len(parts) > 1 and "=" in parts[-1]:
        key, _, raw = parts[-1].partition("=")
        key = key.strip().lower()
        if key not in ("min", "max"):
            if prefix == "file":
                break
            raise ConfigError(
                f"unknown option '{key}='; only min= and max= are allowed", field=field
            )
        if key in options:
            raise ConfigError(f"{key}= is given twice", field=field)
        options[key] = _number(raw, f"{key}=", field)
        parts.pop()
    minimum, maximum = options.get("min"), options.get("max")

    kind: Kind
    values: tuple[float, ...] = ()
    source: str | None = None
    if prefix == "file":
        kind, params = "empirical", ()
        path_text = ",".join(parts).strip()
        if not path_text:
            raise ConfigError("file: needs a path, e.g. file:lengths.txt", field=field)
        path = Path(path_text).expanduser()
        if base is not None and not path.is_absolute():
            path = base / path
        values, source = _read_values(path, field), str(path)
    else:
        kind = cast(Kind, prefix if colon else "constant")
        names = PARAM_NAMES[kind]
        if any("=" in p for p in parts):
            raise ConfigError("min= and max= must come after the parameters", field=field)
        if len(parts) != len(names):
            usage = "one number" if kind == "constant" else ",".join(n.upper() for n in names)
            raise ConfigError(f"{kind} takes {usage}, got {len(parts)} numbers", field=field)
        if kind == "constant":
            try:
                params = (_number(parts[0], "value", field),)
            except ConfigError:
                # Not a number and no "kind:" prefix: the grammar is the useful hint here.
                raise ConfigError(f"expected {_KINDS_HELP}, got '{text}'", field=field) from None
        else:
            params = tuple(
                _number(p, f"{kind} {n.upper()}", field) for p, n in zip(parts, names, strict=True)
            )

    def bad(message: str) -> ConfigError:
        return ConfigError(message, field=field)

    if kind in ("normal", "lognormal") and params[1] < 0:
        raise bad(f"{kind} {PARAM_NAMES[kind][1].upper()} must be >= 0, got {_fmt(params[1])}")
    if kind == "lognormal" and params[0] <= 0:
        raise bad(f"lognormal MEDIAN must be > 0, got {_fmt(params[0])}")
    if kind == "uniform" and params[0] > params[1]:
        raise bad(f"uniform LO ({_fmt(params[0])}) is greater than HI ({_fmt(params[1])})")
    if minimum is not None and maximum is not None and minimum > maximum:
        raise bad(f"min={_fmt(minimum)} is greater than max={_fmt(maximum)}")
    # A count's bounds must be whole so "inclusive" means something (uniform:1.5,3 does not).
    whole = list(params) if integer and kind in ("constant", "uniform") else []
    whole += [x for x in (minimum, maximum) if integer and x is not None]
    if not all(x.is_integer() for x in whole):
        raise bad(f"'{text}' is a count: the value, LO/HI and min=/max= must be whole numbers")
    if maximum is not None and maximum < lowest:
        raise bad(f"max={_fmt(maximum)} is below the lowest allowed value {_fmt(lowest)}")
    if kind == "constant":
        c = params[0]
        if c < lowest:
            raise bad(f"value {_fmt(c)} is below the lowest allowed value {_fmt(lowest)}")
        if (minimum is not None and c < minimum) or (maximum is not None and c > maximum):
            raise bad(f"constant {_fmt(c)} lies outside its own min=/max=")
    return LengthSpec(
        kind=kind,
        params=params,
        text=text,
        integer=integer,
        minimum=minimum,
        maximum=maximum,
        floor=lowest,
        values=values,
        source=source,
    )


def as_setting(spec: LengthSpec, maximum: float | None = None) -> int | float | LengthSpec:
    """``spec`` as a run setting: a constant as its plain number (what manifests and every
    caller that predates distributions expect), a distribution with its draws clamped at
    ``maximum``. ``ValueError`` for a constant above ``maximum``."""
    if spec.is_constant:
        value = spec.params[0]
        if maximum is not None and value > maximum:
            raise ValueError(f"must be <= {maximum:g}, got {value:g}")
        return int(value) if spec.integer else float(value)
    if maximum is not None and spec.bounds()[1] > maximum:
        return replace(spec, maximum=maximum)
    return spec
