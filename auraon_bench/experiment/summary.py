"""An experiment run's own ``summary.json``: each part's headline figures and the SLO verdicts.

The figures are copied from the parts' own summaries when the run ends (one definition: the
part's); this object only gathers them so that a reader of the experiment need not open every
part. Read back with :func:`auraon_bench.results.typed.from_dict`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from auraon_bench.analysis._json import jsonable
from auraon_bench.analysis.error_groups import every_attempt_failed
from auraon_bench.analysis.slo import SloResult, parse_slo

# 1 had no version key; 2 added it and the SLO verdicts' ``shown`` value.
SCHEMA_VERSION = 2


def _v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """Fill each verdict's ``shown`` from its key, as version 2 writes it."""
    verdicts = []
    for verdict in data.get("slo") or []:
        if isinstance(verdict, dict) and "shown" not in verdict:
            slo = parse_slo(str(verdict.get("slo")), 0.0)
            measured = verdict.get("measured")
            shown = slo.display(measured) if slo and isinstance(measured, int | float) else None
            verdict = {**verdict, "shown": shown}
        verdicts.append(verdict)
    return {**data, "slo": verdicts}


MIGRATIONS = {1: _v1_to_v2}


@dataclass(frozen=True)
class PartHeadline:
    """One part's status and headline counts (load and eval parts, or a limits probe).

    ``status`` says how the part ended (complete, interrupted, failed); ``failed`` says what it
    measured: True for a *failed part*, one that sent attempts and got no ok answer to any of
    them (warm-up excluded), so its figures describe the target's refusal, not its service.
    ``failed`` is derived from ``requests`` and ``ok`` when the headline is made or read back
    (the rule of ``ErrorSummary.all_failed``), so a file written before it existed has it too.
    """

    kind: str  # load, eval, capacity or limits
    dir: str
    status: str
    requests: int
    ok: int | None = None
    rate_limited: int | None = None
    cost_usd: float | None = None
    client_bound: bool | None = None
    accuracy: dict[str, float | None] | None = None  # eval parts: arm -> accuracy
    plan: str | None = None  # limits parts
    findings: dict[str, int] | None = None  # limits parts: verdict -> count
    stop_reason: str | None = None
    cancelled: int = 0  # attempts cut in flight by the run's stop: no outcome (0 in old files)
    capacity: dict[str, float | None] | None = None  # capacity parts: arm -> requests/s
    failed: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        # A derived field of a frozen dataclass: set once here, written by to_dict (asdict).
        failed = every_attempt_failed(self.requests, self.ok, self.cancelled)
        object.__setattr__(self, "failed", failed)


@dataclass(frozen=True)
class ExperimentSummary:
    experiment: str
    sha256: str
    simulated: bool
    status: str
    parts: dict[str, PartHeadline]
    slo: tuple[SloResult, ...]
    warnings: tuple[str, ...] = ()

    @property
    def failed_parts(self) -> list[str]:
        """Names of the parts whose every attempt failed, in run order."""
        return [name for name, part in self.parts.items() if part.failed]

    def to_dict(self) -> dict[str, Any]:
        return {"schema_version": SCHEMA_VERSION, **jsonable(asdict(self))}
