"""Live exports: Prometheus metrics scraped in the middle of a run, OpenTelemetry spans decoded
from the OTLP JSON file and received by a local OTLP/HTTP endpoint; against the emulator here
and against the LiteLLM proxy in the ``litellm`` tier."""

from __future__ import annotations

import http.server
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from google.protobuf.json_format import Parse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from prometheus_client.parser import text_string_to_metric_families

from auraon_bench.cli.main import cli
from auraon_bench.load.arrivals import ScheduleSpec
from auraon_bench.load.session import LoadOptions, run_load
from auraon_bench.observe.telemetry import TelemetrySettings, telemetry_session
from auraon_bench.results.reader import read_records
from tests.litellm_proxy import LiteLLMProxy

NS = 1_000_000_000


def scrape(url: str) -> dict[str, float]:
    """Every sample of the endpoint, summed over labels: ``name`` -> value."""
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    totals: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            totals[sample.name] = totals.get(sample.name, 0.0) + sample.value
    return totals


def samples(url: str, name: str) -> list[Any]:
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    return [s for f in text_string_to_metric_families(text) for s in f.samples if s.name == name]


def run_scraped(
    options: LoadOptions, settings: TelemetrySettings
) -> tuple[list[dict[str, float]], dict[str, float]]:
    """Run the load (in the main thread, as signal handling needs) while a thread scrapes
    /metrics every 0.1 s; the scrapes taken during the run, and one after it."""
    scrapes: list[dict[str, float]] = []
    stop = threading.Event()
    with telemetry_session(settings) as telemetry:
        assert telemetry is not None and telemetry.metrics is not None
        url = telemetry.metrics.url

        def scraper() -> None:
            while not stop.is_set():
                scrapes.append(scrape(url))
                stop.wait(0.1)

        thread = threading.Thread(target=scraper)
        thread.start()
        try:
            run_load(options)
        finally:
            stop.set()
            thread.join(timeout=10)
        return scrapes, scrape(url)


@pytest.mark.slow
def test_metrics_are_scraped_mid_run_and_add_up_at_the_end(emulator, tmp_path: Path) -> None:
    """A 4-second run: scrapes while it runs see requests counted and some in flight; at the end
    the counters and histograms hold every record of the run, no more, no less."""
    options = LoadOptions(
        arms=("gpt-4o-mini",),
        spec=ScheduleSpec(profile="constant", rate=50.0, requests=200, seed=1),
        output_tokens=8,
        base_url=emulator.base_url,
        api_key="br-demo-pro",
        out=tmp_path / "run",
    )
    scrapes, final = run_scraped(options, TelemetrySettings(metrics_port=0))
    seen_in_flight = max(f.get("auraon_bench_requests_in_flight", 0) for f in scrapes)
    mid_run_requests = max(f.get("auraon_bench_requests_total", 0) for f in scrapes[:-1])
    records = read_records(tmp_path / "run")
    assert seen_in_flight >= 1  # scraped while requests were out
    assert 0 < mid_run_requests < len(records)  # counted while the run went on
    assert final["auraon_bench_requests_total"] == len(records) == 200
    assert final["auraon_bench_ttft_seconds_count"] == records["ttft_s"].notna().sum()
    assert final["auraon_bench_ttft_seconds_sum"] == pytest.approx(records["ttft_s"].sum())
    gaps = sum(len(g) for g in records["itl_s"] if g is not None)
    assert final["auraon_bench_inter_token_latency_seconds_count"] == gaps > 0
    assert final["auraon_bench_cost_usd_total"] == pytest.approx(records["cost_usd"].sum())
    assert final["auraon_bench_tokens_total"] == (
        records["prompt_tokens"].sum() + records["completion_tokens"].sum()
    )


def _records_and_spans(out: Path, otel: Path) -> tuple[Any, list[Any]]:
    records = read_records(out)
    spans = []
    for line in otel.read_text().splitlines():
        message = Parse(line, ExportTraceServiceRequest())
        for resource in message.resource_spans:
            for scope in resource.scope_spans:
                spans.extend(scope.spans)
    return records, spans


def _attributes(span: Any) -> dict[str, Any]:
    out = {}
    for kv in span.attributes:
        value = kv.value
        kind = value.WhichOneof("value")
        out[kv.key] = (
            [v.string_value for v in value.array_value.values]
            if kind == "array_value"
            else getattr(value, kind)
        )
    return out


def check_spans(records: Any, spans: list[Any]) -> None:
    """One span per record, joined on the client's request id, with the measured times."""
    assert len(spans) == len(records) > 0
    by_id = {_attributes(s)["auraon.client_request_id"]: s for s in spans}
    assert set(by_id) == set(records["client_request_id"])
    for row in records.itertuples():
        span = by_id[row.client_request_id]
        attrs = _attributes(span)
        assert attrs["gen_ai.operation.name"] == "chat"
        assert attrs["gen_ai.request.model"] == row.model_requested
        assert attrs["gen_ai.response.model"] == (row.routed_to or row.model_reported)
        assert attrs["gen_ai.usage.output_tokens"] == row.completion_tokens
        assert attrs["gen_ai.usage.input_tokens"] == row.prompt_tokens
        assert attrs["gen_ai.response.id"] == row.response_id
        assert attrs["auraon.cost_usd"] == pytest.approx(row.cost_usd)
        duration = (span.end_time_unix_nano - span.start_time_unix_nano) / NS
        assert duration == pytest.approx(row.t_done - row.t_sent, abs=2e-6)
        (event,) = [e for e in span.events if e.name == "gen_ai.content.first_token"]
        ttft = (event.time_unix_nano - span.start_time_unix_nano) / NS
        assert ttft == pytest.approx(row.ttft_s, abs=2e-6)
        assert span.start_time_unix_nano > 1.7e18  # wall time (2023 onwards), not the run clock


def test_the_otlp_file_holds_one_span_per_attempt(emulator, tmp_path: Path) -> None:
    out, otel = tmp_path / "run", tmp_path / "spans.jsonl"
    result = CliRunner().invoke(
        cli,
        ["load", "--base-url", emulator.base_url, "--api-key", "br-demo-pro", "--model", "auto",
         "--requests", "16", "--rate", "100", "--output-tokens", "6", "--yes", "--otel-out",
         str(otel), "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    records, spans = _records_and_spans(out, otel)
    check_spans(records, spans)
    assert "spans: 16 written" in result.output
    reasons = {_attributes(s).get("auraon.routing_reason") for s in spans}
    assert reasons - {None}  # auto's routing explanations travel with the spans


class _Receiver(http.server.BaseHTTPRequestHandler):
    received: list[ExportTraceServiceRequest]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        message = ExportTraceServiceRequest()
        message.ParseFromString(body)
        self.received.append(message)
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def otlp_receiver() -> Iterator[tuple[str, list[ExportTraceServiceRequest]]]:
    received: list[ExportTraceServiceRequest] = []
    handler = type("Handler", (_Receiver,), {"received": received})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1/traces", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_spans_reach_an_otlp_http_endpoint(emulator, tmp_path: Path, otlp_receiver) -> None:
    url, received = otlp_receiver
    out = tmp_path / "run"
    result = CliRunner().invoke(
        cli,
        ["load", "--base-url", emulator.base_url, "--api-key", "br-demo-pro", "--model",
         "gpt-4o-mini", "--requests", "10", "--rate", "100", "--output-tokens", "4", "--yes",
         "--otel-endpoint", url, "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    spans = [
        s for m in received for r in m.resource_spans for sc in r.scope_spans for s in sc.spans
    ]
    check_spans(read_records(out), spans)
    (resource,) = {
        a.value.string_value for m in received for r in m.resource_spans
        for a in r.resource.attributes if a.key == "service.name"
    }  # fmt: skip
    assert resource == "auraon-bench"


def test_bad_export_flags_are_one_line(tmp_path: Path) -> None:
    runner = CliRunner()
    bad = runner.invoke(cli, ["load", "--otel-endpoint", "ftp://x", "--out", str(tmp_path / "a")])
    assert bad.exit_code == 2 and "--otel-endpoint" in bad.output and "Traceback" not in bad.output
    busy = runner.invoke(
        cli, ["load", "--metrics-port", "99999", "--out", str(tmp_path / "b")]
    )
    assert busy.exit_code == 2 and "--metrics-port" in busy.output
    workers = runner.invoke(
        cli,
        ["load", "--metrics-port", "0", "--workers", "2", "--requests", "4", "--rate", "10",
         "--out", str(tmp_path / "c")],
    )  # fmt: skip
    assert workers.exit_code == 2 and "--workers 1" in workers.output
    assert not any((tmp_path / d).exists() for d in "abc")


@pytest.mark.litellm
def test_metrics_and_spans_against_litellm(litellm_proxy: LiteLLMProxy, tmp_path: Path) -> None:
    """A gateway the project did not write: /metrics scraped while a run goes on, spans decoded
    from the OTLP file, and LiteLLM's call id kept as the gateway's request id."""
    out, otel = tmp_path / "run", tmp_path / "spans.jsonl"
    options = LoadOptions(
        arms=("fast-mock",),
        spec=ScheduleSpec(profile="constant", rate=15.0, requests=60, seed=2),
        output_tokens=8,
        base_url=litellm_proxy.base_url,
        api_key=litellm_proxy.api_key,
        out=out,
    )
    scrapes, final = run_scraped(options, TelemetrySettings(metrics_port=0, otel_out=otel))
    records, spans = _records_and_spans(out, otel)
    assert 0 < max(f.get("auraon_bench_requests_total", 0) for f in scrapes[:-1]) < len(records)
    assert final["auraon_bench_requests_total"] == len(records) == 60
    check_spans(records, spans)
    assert records["gateway_request_id"].notna().all()
    assert records["gateway_request_id"].nunique() == 60


@pytest.mark.slow
def test_an_experiment_exports_what_its_output_table_asks(tmp_path: Path) -> None:
    """``[output] metrics_port`` and ``otel_out`` in an experiment file: every part's attempts
    become spans (the embedded emulator, two parts)."""
    path = tmp_path / "exp.toml"
    path.write_text(
        'name = "exported"\narms = ["gpt-4o-mini"]\n\n'
        '[[load]]\nname = "a"\nprofile = "constant"\nrate = 100\nrequests = 6\n'
        "output_tokens = 4\n\n"
        '[[load]]\nname = "b"\nprofile = "constant"\nrate = 100\nrequests = 5\n'
        "output_tokens = 4\n\n"
        f'[output]\nreport = []\nmetrics_port = 0\notel_out = "{tmp_path / "spans.jsonl"}"\n'
    )
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, ["run", str(path), "--time-scale", "0.01", "--out", str(out)])
    assert result.exit_code == 0, result.output
    import pandas as pd

    both = pd.concat([read_records(out / "a"), read_records(out / "b")], ignore_index=True)
    _, spans = _records_and_spans(out / "a", tmp_path / "spans.jsonl")
    check_spans(both, spans)
    assert "metrics: http://127.0.0.1:" in result.output
    bad = tmp_path / "bad.toml"
    bad.write_text(path.read_text().replace("metrics_port = 0", "metrics_port = 70000"))
    refused = CliRunner().invoke(cli, ["run", str(bad), "--out", str(tmp_path / "r2")])
    assert refused.exit_code == 2 and "output.metrics_port" in " ".join(refused.output.split())
