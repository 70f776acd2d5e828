"""Live exports of a run: Prometheus metrics and OpenTelemetry spans (:mod:`.telemetry`)."""
