"""Live figures of a run for Prometheus: ``--metrics-port PORT`` serves ``/metrics``.

Built on the official ``prometheus_client`` with a registry of its own (never the process-wide
default, so two runs in one process, or a library user's own metrics, cannot collide). Fed with
completed records as the results sink receives them (:mod:`auraon_bench.observe.telemetry`),
never from inside a request's timed path; the in-flight gauge reads the runner's live counter
when scraped.

Metrics (names after Prometheus conventions: base units, ``_total`` for counters)::

    auraon_bench_requests_total{arm, status, routed_to}        attempts by outcome
    auraon_bench_tokens_total{arm, kind="prompt|completion"}   tokens of the attempts
    auraon_bench_cost_usd_total{arm}                            reported or priced cost
    auraon_bench_ttft_seconds{arm}                              histogram, streamed answers
    auraon_bench_inter_token_latency_seconds{arm}               histogram, every gap
    auraon_bench_request_latency_seconds{arm}                   histogram, answers read whole
    auraon_bench_schedule_lag_seconds{arm}                      histogram, start - scheduled
    auraon_bench_requests_in_flight                             gauge

Buckets suit LLM latencies: TTFT and latency from 10 ms to 2 minutes, inter-token gaps from
1 ms to 1 s, schedule lag from 0.1 ms (a keeping-up client) to 5 s.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 7.5, 10.0,
                   15.0, 20.0, 30.0, 60.0, 120.0)  # fmt: skip
GAP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.2, 0.5, 1.0)
LAG_BUCKETS = (0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0)
PREFIX = "auraon_bench"


class PrometheusExporter:
    """One registry and its HTTP endpoint on 127.0.0.1 (``port`` 0: any free port)."""

    def __init__(self, port: int) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(f"{PREFIX}_requests", "Attempts by outcome",
                                ("arm", "status", "routed_to"), registry=r)  # fmt: skip
        self.tokens = Counter(f"{PREFIX}_tokens", "Tokens of the attempts", ("arm", "kind"),
                              registry=r)  # fmt: skip
        self.cost = Counter(f"{PREFIX}_cost_usd", "Cost of the attempts in USD", ("arm",),
                            registry=r)  # fmt: skip
        self.ttft = Histogram(f"{PREFIX}_ttft_seconds", "Time to first token", ("arm",),
                              buckets=LATENCY_BUCKETS, registry=r)  # fmt: skip
        self.itl = Histogram(f"{PREFIX}_inter_token_latency_seconds",
                             "Gap between consecutive content events", ("arm",),
                             buckets=GAP_BUCKETS, registry=r)  # fmt: skip
        self.latency = Histogram(f"{PREFIX}_request_latency_seconds",
                                 "Request sent to answer read whole", ("arm",),
                                 buckets=LATENCY_BUCKETS, registry=r)  # fmt: skip
        self.lag = Histogram(f"{PREFIX}_schedule_lag_seconds",
                             "Attempt start minus its scheduled time", ("arm",),
                             buckets=LAG_BUCKETS, registry=r)  # fmt: skip
        self.in_flight = Gauge(f"{PREFIX}_requests_in_flight", "Attempts sent and not ended",
                               registry=r)  # fmt: skip
        self._server, self._thread = start_http_server(port, addr="127.0.0.1", registry=r)
        self.port: int = self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/metrics"

    def watch(self, in_flight: Callable[[], float]) -> None:
        """Read the in-flight gauge from ``in_flight`` at every scrape (the current runner)."""
        self.in_flight.set_function(in_flight)

    def observe(self, records: Iterable[Any]) -> None:
        for r in records:
            arm = r.arm
            self.requests.labels(arm, r.status, r.routed_to or "").inc()
            if r.prompt_tokens:
                self.tokens.labels(arm, "prompt").inc(r.prompt_tokens)
            if r.completion_tokens:
                self.tokens.labels(arm, "completion").inc(r.completion_tokens)
            if r.cost_usd:
                self.cost.labels(arm).inc(r.cost_usd)
            if r.ttft_s is not None:
                self.ttft.labels(arm).observe(r.ttft_s)
            if r.latency_s is not None:
                self.latency.labels(arm).observe(r.latency_s)
            if r.schedule_lag_s is not None:
                self.lag.labels(arm).observe(max(r.schedule_lag_s, 0.0))
            if r.itl_s:
                gaps = self.itl.labels(arm)
                for gap in r.itl_s:
                    gaps.observe(gap)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
