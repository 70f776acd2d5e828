"""Each attempt as an OpenTelemetry span: ``--otel-out FILE`` (OTLP JSON) and
``--otel-endpoint URL`` (OTLP/HTTP).

Built with the official ``opentelemetry-sdk`` on a tracer provider of its own (the process-wide
one is never set). Spans are made from completed records, after the fact: their start and end are
the measured ``t_sent`` (``t_scheduled`` when nothing was sent) and ``t_done``, mapped from the
run's monotonic clock onto wall time once per run (:meth:`SpanWriter.clock`), and an event
``gen_ai.content.first_token`` marks ``t_first_token``. Attributes follow the OpenTelemetry GenAI
semantic conventions::

    gen_ai.operation.name = "chat"      gen_ai.request.model   = the model sent
    gen_ai.response.model = routed_to   gen_ai.response.id     = the response's id
    gen_ai.usage.input_tokens           gen_ai.usage.output_tokens
    gen_ai.response.finish_reasons      http.response.status_code, error.type (failures)

and ``auraon.*`` for what the conventions lack: ``cost_usd``, ``routing_reason``, ``status``,
``run_id``, ``request_id``, ``attempt``, ``client_request_id``, ``gateway_request_id`` (the join
with the gateway's own traces and logs).

The file holds one OTLP ``ExportTraceServiceRequest`` per line, in the protobuf JSON mapping
(the OpenTelemetry Collector's file exporter format): encoded by the official OTLP encoder, so
any OTLP reader decodes it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from google.protobuf.json_format import MessageToJson
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind, Status, StatusCode

NS = 1_000_000_000
FIRST_TOKEN = "gen_ai.content.first_token"


class _Collected(SpanExporter):
    """Ended spans, handed over by :class:`SimpleSpanProcessor` as they end."""

    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.spans.extend(spans)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self.spans.clear()


class SpanWriter:
    def __init__(self, out: Path | None = None, endpoint: str | None = None) -> None:
        self.out = out
        self._file = out.open("a", encoding="utf-8") if out is not None else None
        self._remote = None
        if endpoint is not None:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            self._remote = OTLPSpanExporter(endpoint=endpoint, timeout=10)
        self._collected = _Collected()
        self._provider = TracerProvider(resource=Resource.create({"service.name": "auraon-bench"}))
        self._provider.add_span_processor(SimpleSpanProcessor(self._collected))
        self._tracer = self._provider.get_tracer("auraon_bench")
        self._epoch_ns: int | None = None
        self.spans_written = 0
        self.export_failures = 0

    def clock(self, t0_ns: int) -> None:
        """Map the run's clock (``perf_counter_ns`` at its start) onto wall time."""
        self._epoch_ns = time.time_ns() - (time.perf_counter_ns() - t0_ns)

    def observe(self, records: Iterable[Any]) -> None:
        records = list(records)
        if not records:
            return
        if self._epoch_ns is None:  # no clock given: the latest end is now
            last = max((r.t_done or 0.0) for r in records)
            self._epoch_ns = time.time_ns() - int(last * NS)
        for record in records:
            self._span(record)
        spans, self._collected.spans = self._collected.spans, []
        if self._file is not None:
            message = encode_spans(spans)
            self._file.write(MessageToJson(message, indent=None) + "\n")
            self._file.flush()
        if self._remote is not None and self._remote.export(spans) != SpanExportResult.SUCCESS:
            self.export_failures += 1
        self.spans_written += len(spans)

    def _at(self, t: float | None) -> int | None:
        return None if t is None or self._epoch_ns is None else self._epoch_ns + int(t * NS)

    def _span(self, r: Any) -> None:
        start = self._at(r.t_sent if r.t_sent is not None else r.t_scheduled)
        end = self._at(r.t_done)
        model = r.model_requested or r.arm
        attributes = {
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": model,
            "gen_ai.response.model": r.routed_to or r.model_reported,
            "gen_ai.response.id": r.response_id,
            "gen_ai.usage.input_tokens": r.prompt_tokens,
            "gen_ai.usage.output_tokens": r.completion_tokens,
            "gen_ai.response.finish_reasons": [r.finish_reason] if r.finish_reason else None,
            "http.response.status_code": r.http_status,
            "error.type": (r.error_type or r.status) if r.status != "ok" else None,
            "auraon.cost_usd": r.cost_usd,
            "auraon.routing_reason": r.routing_reason,
            "auraon.status": r.status,
            "auraon.run_id": r.run_id,
            "auraon.arm": r.arm,
            "auraon.request_id": r.request_id,
            "auraon.attempt": r.attempt,
            "auraon.client_request_id": r.client_request_id,
            "auraon.gateway_request_id": r.gateway_request_id,
        }
        span = self._tracer.start_span(
            f"chat {model}",
            kind=SpanKind.CLIENT,
            start_time=start,
            attributes={k: v for k, v in attributes.items() if v is not None},
        )
        first = self._at(r.t_first_token)
        if first is not None:
            span.add_event(FIRST_TOKEN, timestamp=first)
        if r.status != "ok":
            span.set_status(Status(StatusCode.ERROR, r.error_message or r.status))
        span.end(end_time=end if end is not None else start)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        if self._remote is not None:
            self._remote.shutdown()
        self._provider.shutdown()
