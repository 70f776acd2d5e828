"""``--metrics-port``, ``--otel-out`` and ``--otel-endpoint``: the live exports every measuring
command offers (load, eval, capacity, limits, run), opened for the command's whole life."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click

from auraon_bench.errors import ConfigError

EXPORT_FLAGS = ("metrics_port", "otel_out", "otel_endpoint")


def export_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(
        [
            click.option(
                "--metrics-port",
                type=click.IntRange(0, 65535),
                default=None,
                metavar="PORT",
                help="Serve live Prometheus metrics on 127.0.0.1:PORT/metrics while the "
                "command runs (0: any free port, printed).",
            ),
            click.option(
                "--otel-out",
                type=click.Path(dir_okay=False, path_type=Path),
                default=None,
                metavar="FILE",
                help="Write one OpenTelemetry span per attempt to FILE (OTLP JSON lines, "
                "GenAI semantic conventions).",
            ),
            click.option(
                "--otel-endpoint",
                default=None,
                metavar="URL",
                help="Export the spans to an OTLP/HTTP endpoint "
                "(e.g. http://127.0.0.1:4318/v1/traces).",
            ),
        ]
    ):
        command = option(command)
    return command


@contextlib.contextmanager
def exporting(
    metrics_port: int | None = None,
    otel_out: Path | None = None,
    otel_endpoint: str | None = None,
) -> Iterator[None]:
    """The command's exports, open while the block runs; their address said on stderr first,
    anything that went wrong with them said at the end."""
    from auraon_bench.cli.render import err
    from auraon_bench.observe.telemetry import TelemetrySettings, telemetry_session

    if otel_endpoint is not None and not otel_endpoint.startswith(("http://", "https://")):
        raise ConfigError(f"{otel_endpoint!r} is not an http(s) URL", field="--otel-endpoint")
    settings = TelemetrySettings(metrics_port, otel_out, otel_endpoint)
    with telemetry_session(settings) as telemetry:
        if telemetry is not None and telemetry.metrics is not None:
            err.print(f"metrics: {telemetry.metrics.url}")
        try:
            yield
        finally:
            for problem in telemetry.problems() if telemetry is not None else ():
                err.print(f"[yellow]warning:[/] {problem}")
            if telemetry is not None and telemetry.spans is not None and otel_out is not None:
                err.print(f"spans: {telemetry.spans.spans_written:,} written to {otel_out}")


def pop_exports(flags: dict[str, Any]) -> dict[str, Any]:
    """The export flags taken out of a command's ``**flags``, for :func:`exporting`."""
    return {name: flags.pop(name) for name in EXPORT_FLAGS}
