"""What a command exports while it runs: Prometheus metrics and OpenTelemetry spans, together.

A command opens one :class:`Telemetry` for its whole life (a capacity search's steps, an
experiment's parts, an evaluation's load and judge share one ``/metrics`` endpoint and one span
file) with :func:`telemetry_session`; every results sink created inside it hands it the records
it receives (:mod:`auraon_bench.results.sink`), and a load runner lends it its in-flight counter
and its clock. The active session is held in a context variable, which anyio carries into the
worker threads the sink writes from. With neither flag given nothing is opened, nothing runs:
the measuring path is untouched.

Worker processes (``--workers N``) would each need their own endpoint: the load session refuses
the flags with ``--workers`` above 1.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from auraon_bench.errors import ConfigError

_ACTIVE: contextvars.ContextVar[Telemetry | None] = contextvars.ContextVar(
    "auraon_bench_telemetry", default=None
)


@dataclass(frozen=True)
class TelemetrySettings:
    metrics_port: int | None = None  # 0: any free port
    otel_out: Path | None = None
    otel_endpoint: str | None = None

    @property
    def wanted(self) -> bool:
        return (
            self.metrics_port is not None
            or self.otel_out is not None
            or self.otel_endpoint is not None
        )


class Telemetry:
    def __init__(self, settings: TelemetrySettings) -> None:
        self.settings = settings
        self.metrics: Any = None
        self.spans: Any = None
        self.failures = 0
        self.first_failure: str | None = None
        if settings.metrics_port is not None:
            from auraon_bench.observe.prometheus import PrometheusExporter

            try:
                self.metrics = PrometheusExporter(settings.metrics_port)
            except OSError as exc:
                raise ConfigError(
                    f"cannot serve metrics on 127.0.0.1:{settings.metrics_port}: "
                    f"{exc.strerror or exc}",
                    field="--metrics-port",
                ) from None
        if settings.otel_out is not None or settings.otel_endpoint is not None:
            from auraon_bench.observe.otel import SpanWriter

            try:
                self.spans = SpanWriter(settings.otel_out, settings.otel_endpoint)
            except OSError as exc:
                self.close()
                raise ConfigError(
                    f"cannot write {settings.otel_out}: {exc.strerror or exc}", field="--otel-out"
                ) from None

    def watch(self, in_flight: Callable[[], float], t0_ns: int) -> None:
        """A run starts: its in-flight counter (read at each scrape) and its clock's origin."""
        if self.metrics is not None:
            self.metrics.watch(in_flight)
        if self.spans is not None:
            self.spans.clock(t0_ns)

    def observe(self, records: Iterable[Any]) -> None:
        """Export ``records``; a failure is counted and said at the end, never raised into the
        results sink (the records on disk matter more than their copies)."""
        records = list(records)
        try:
            if self.metrics is not None:
                self.metrics.observe(records)
            if self.spans is not None:
                self.spans.observe(records)
        except Exception as exc:
            self.failures += 1
            self.first_failure = self.first_failure or f"{type(exc).__name__}: {exc}"

    def problems(self) -> list[str]:
        """What went wrong while exporting, as warnings for the end of the command."""
        out = []
        if self.failures:
            out.append(f"telemetry: {self.failures} batches not exported ({self.first_failure})")
        if self.spans is not None and self.spans.export_failures:
            out.append(
                f"telemetry: {self.spans.export_failures} span batches refused by "
                f"{self.settings.otel_endpoint}"
            )
        return out

    def close(self) -> None:
        if self.metrics is not None:
            self.metrics.close()
        if self.spans is not None:
            self.spans.close()


def active() -> Telemetry | None:
    """The session of the command running now, if it exports anything."""
    return _ACTIVE.get()


@contextlib.contextmanager
def telemetry_session(settings: TelemetrySettings | None) -> Iterator[Telemetry | None]:
    """Open what ``settings`` asks for, active until the block ends (then closed)."""
    if settings is None or not settings.wanted:
        yield None
        return
    telemetry = Telemetry(settings)
    token = _ACTIVE.set(telemetry)
    try:
        yield telemetry
    finally:
        _ACTIVE.reset(token)
        telemetry.close()
