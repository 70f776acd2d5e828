"""Service-level objectives of an experiment, checked per arm: pass, fail or unknown.

An SLO is a key and a threshold, e.g. ``ttft_p95_ms = 800`` (TTFT p95 at most 800 ms),
``error_rate = 0.01`` (at most 1% of attempts failed, 429s not counted), ``rate_limited_rate =
0`` (no 429s), ``cost_per_1k_usd = 2`` (at most $2 per 1,000 requests) or ``accuracy = 0.8``
(at least 80% correct; evaluations only). Percentile keys are
``<ttft|tpot|itl|latency>_p<50|90|95|99>_<ms|s>``.

Method: the measured figure is the arm's statistic from the run summary (linear-interpolation
percentile of its ok, non-warm-up attempts; shares of all non-warm-up attempts) and passes when it
is within the threshold, inclusive. A figure with no samples is ``unknown``, never a pass. No
statistical test is applied: an SLO is a limit on what was measured, with its ``n`` shown.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the summaries import pandas; this module is read by light callers too
    from auraon_bench.analysis.load_summary import ArmSummary
    from auraon_bench.analysis.quality import AccuracyRow
    from auraon_bench.analysis.stats import Percentiles

_PERCENTILE = re.compile(r"^(ttft|tpot|itl|latency)_p(50|90|95|99)_(ms|s)$")
_SHARES = {"error_rate": "max", "rate_limited_rate": "max", "accuracy": "min"}
_UNIT_SCALE = {"ms": 1e-3, "s": 1.0}


@dataclass(frozen=True)
class Slo:
    key: str  # as written, e.g. "ttft_p95_ms"
    metric: str  # ttft, tpot, itl, latency, error_rate, rate_limited_rate, accuracy, cost_per_1k
    percentile: int | None
    threshold: float  # in base units: seconds, a share (0-1), or USD
    bound: str  # "max": measured <= threshold passes; "min": measured >= threshold passes
    unit: str  # how the key states the threshold: ms, s, share, USD

    def display(self, value: float | None) -> str:
        """``value`` (base units) in the key's own unit."""
        if value is None:
            return "-"
        if self.unit in _UNIT_SCALE:
            return f"{value / _UNIT_SCALE[self.unit]:.4g} {self.unit}"
        if self.unit == "share":
            return f"{value * 100:.2f}%"
        return f"${value:.4g}"

    def describe(self) -> str:
        sign = "<=" if self.bound == "max" else ">="
        name = f"{self.metric} p{self.percentile}" if self.percentile else self.metric
        return f"{name} {sign} {self.display(self.threshold)}"

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "threshold": self.threshold, "bound": self.bound}


@dataclass(frozen=True)
class SloVerdict:
    slo: Slo
    part: str
    arm: str
    measured: float | None
    n: int
    verdict: str  # pass, fail, unknown

    def result(self) -> SloResult:
        return SloResult(
            slo=self.slo.key,
            objective=self.slo.describe(),
            part=self.part,
            arm=self.arm,
            measured=self.measured,
            n=self.n,
            verdict=self.verdict,
            shown=self.slo.display(self.measured),
        )

    def to_dict(self) -> dict[str, Any]:
        return self.result().to_dict()


@dataclass(frozen=True)
class SloResult:
    """An SLO verdict as stored in an experiment's ``summary.json`` and read back."""

    slo: str  # the key as written, e.g. "ttft_p95_ms"
    objective: str  # e.g. "ttft p95 <= 2000 ms"
    part: str
    arm: str
    measured: float | None  # base units: seconds, a share (0-1) or USD
    n: int
    verdict: str  # pass, fail, unknown
    shown: str | None = None  # measured in the objective's own unit (None in old files)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_slo(key: str, value: float) -> Slo | None:
    """The SLO a key names, or None for an unknown key."""
    match = _PERCENTILE.match(key)
    if match:
        metric, pct, unit = match.groups()
        return Slo(key, metric, int(pct), value * _UNIT_SCALE[unit], "max", unit)
    if key in _SHARES:
        return Slo(key, key, None, value, _SHARES[key], "share")
    if key == "cost_per_1k_usd":
        return Slo(key, "cost_per_1k", None, value, "max", "USD")
    return None


def _measure(slo: Slo, arm: ArmSummary, accuracy: AccuracyRow | None) -> tuple[float | None, int]:
    """The figure an SLO judges, read from the summary that holds it, and its sample size."""
    if slo.percentile is not None:
        stats: Percentiles = getattr(arm, f"{slo.metric}_s")
        return stats.get(float(slo.percentile)) if stats.n else None, stats.n
    errors = arm.errors
    if slo.metric == "rate_limited_rate":
        return errors.rate_limited_rate, errors.judged
    if slo.metric == "error_rate":
        return errors.error_rate, errors.judged
    if slo.metric == "cost_per_1k":
        return arm.cost.per_1k_requests_usd, arm.cost.rows_with_cost
    if slo.metric == "accuracy":
        if accuracy is None:
            return None, 0
        return accuracy.accuracy, accuracy.n
    raise ValueError(f"unknown SLO metric {slo.metric!r}")


def check_slos(
    slos: Sequence[Slo],
    part: str,
    arms: Mapping[str, ArmSummary],
    accuracy_by_arm: Mapping[str, AccuracyRow] | None = None,
) -> list[SloVerdict]:
    """Every SLO against every arm of one part (``arms``: the part's per-arm summaries)."""
    verdicts = []
    for arm, summary in arms.items():
        for slo in slos:
            if slo.metric == "accuracy" and accuracy_by_arm is None:
                continue  # a load part measures no accuracy: not "unknown", just not applicable
            accuracy = (accuracy_by_arm or {}).get(arm)
            measured, n = _measure(slo, summary, accuracy)
            if measured is None or n == 0:
                verdict = "unknown"
            elif slo.bound == "max":
                verdict = "pass" if measured <= slo.threshold else "fail"
            else:
                verdict = "pass" if measured >= slo.threshold else "fail"
            verdicts.append(SloVerdict(slo, part, arm, measured, n, verdict))
    return verdicts


_EXPRESSION = re.compile(
    r"^\s*(?P<name>[a-z0-9_]+)\s*(?P<sign><=|>=)\s*\$?(?P<value>[0-9]*\.?[0-9]+(?:e-?\d+)?)"
    r"\s*(?P<unit>ms|s|%)?\s*$"
)
_ALIASES = {
    "rate_limited": "rate_limited_rate",
    "errors": "error_rate",
    "cost_per_1k": "cost_per_1k_usd",
}


def parse_slo_expression(text: str) -> Slo:
    """An SLO written as on the command line: ``ttft_p95<=800ms``, ``latency_p99<=10s``,
    ``error_rate<=1%``, ``rate_limited<=0.5%``, ``cost_per_1k<=$2``, ``accuracy>=80%``; the
    same objectives as the experiment files' keys. ``ValueError`` with a one-line reason."""
    match = _EXPRESSION.match(text)
    if not match:
        raise ValueError(
            f"{text!r} is not an SLO; write e.g. ttft_p95<=800ms, latency_p99<=10s, "
            "error_rate<=1%, rate_limited<=0.5%, cost_per_1k<=$2 or accuracy>=80%"
        )
    name, sign, unit = match["name"], match["sign"], match["unit"]
    value = float(match["value"])
    name = _ALIASES.get(name, name)
    if _PERCENTILE.match(f"{name}_{unit}" if unit in _UNIT_SCALE else ""):
        key = f"{name}_{unit}"
    elif name in _SHARES:
        key, value = name, value / 100 if unit == "%" else value
        if unit in _UNIT_SCALE:
            raise ValueError(f"{text!r}: {name} is a share: write it in % or as a fraction")
    elif name == "cost_per_1k_usd" and unit is None:
        key = name
    else:
        raise ValueError(
            f"{text!r}: unknown objective {name!r}; a latency percentile needs its unit "
            "(ttft|tpot|itl|latency _p50|p90|p95|p99 <= N ms or s); shares: error_rate, "
            "rate_limited, accuracy; money: cost_per_1k"
        )
    slo = parse_slo(key, value)
    assert slo is not None  # every key built above is one parse_slo knows
    expected = ">=" if slo.bound == "min" else "<="
    if sign != expected:
        raise ValueError(
            f"{text!r}: {name} is a {'floor' if expected == '>=' else 'limit'}: "
            f"write {name}{expected}..."
        )
    return slo
