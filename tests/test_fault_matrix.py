"""Every fault a target can commit, injected a known number of times into one load run.

Each fault is real: raw-socket answers from a scripted server (HTML error pages, cut and stalled
streams, resets, an endless body) and real network failures (a closed port, an unresolvable name,
a full accept queue) chosen per request by a routing transport. The run must carry on through all
of them, record every attempt with the class the fault deserves, and its summary must count
exactly what was injected.
"""

from __future__ import annotations

import collections
import random
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest

from auraon_bench.client.http import Timeouts
from auraon_bench.client.transport import AiohttpTransport
from auraon_bench.load.arrivals import ScheduleSpec
from auraon_bench.load.session import LoadOptions, run_load
from tests.fault_routes import UNRESOLVABLE, FaultRoutes, closed_port, full_accept_queue
from tests.scripted_server import (
    ScriptedServer,
    chunk,
    endless,
    http,
    reply,
    reset_after_request,
    serving_in_thread,
    sse,
    stall,
)

TIMEOUTS = Timeouts(connect=0.3, read=0.5, total=20.0)
ERROR_EVENT = (
    b'data: {"error": {"message": "upstream overloaded", "type": "server_error", '
    b'"code": "upstream_error"}}\n\n'
)
HTML_500 = ("500 Internal Server Error", b"<html><h1>Oops</h1></html>", "text/html")
NOT_JSON = ("200 OK", b"hello, not json", "text/plain")

# fault -> (behaviour factory, the class it deserves as (status, error_type), times injected)
STREAMED_FAULTS = {
    "answered": (lambda: sse([chunk(i) for i in range(4)]), ("ok", None), 6),
    "slow_headers": (lambda: stall(1.2), ("timeout", "read"), 2),
    "stalled_stream": (
        lambda: sse([chunk(0), chunk(1)], done=False, stall_s=1.2),
        ("timeout", "read"),
        2,
    ),
    "cut_before_done": (
        lambda: sse([chunk(0), chunk(1)], done=False),
        ("protocol_error", "truncated"),
        2,
    ),
    "malformed_chunk": (
        lambda: sse([chunk(0), b"data: {not json\n\n"]),
        ("protocol_error", "bad_stream"),
        2,
    ),
    "error_event": (
        lambda: sse([chunk(0), ERROR_EVENT], done=False),
        ("http_error", "server_error"),
        2,
    ),
    "html_500": (lambda: http(*HTML_500), ("http_error", None), 2),
    "non_json_200": (lambda: http(*NOT_JSON), ("protocol_error", "not_event_stream"), 2),
    "oversized": (endless, ("protocol_error", "oversized"), 1),
    "reset": (reset_after_request, ("connection_error", "reset"), 2),
}
ANSWER = (
    b'{"id": "c", "model": "gpt-4o", "choices": [{"index": 0, "message": {"role": "assistant", '
    b'"content": "hi"}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 5, '
    b'"completion_tokens": 1}}'
)
PLAIN_FAULTS = {
    "answered": (lambda: http("200 OK", ANSWER), ("ok", None), 4),
    "slow_headers": (lambda: stall(1.2), ("timeout", "read"), 1),
    "stalled_body": (
        lambda: stall(1.2, b"HTTP/1.1 200 OK\r\ncontent-length: 500\r\n\r\n{"),
        ("timeout", "read"),
        1,
    ),
    "cut_body": (
        lambda: reply(b'HTTP/1.1 200 OK\r\ncontent-length: 500\r\n\r\n{"id"'),
        ("connection_error", "disconnected"),
        1,
    ),
    "error_object_200": (
        lambda: http("200 OK", ERROR_EVENT[6:-2]),
        ("http_error", "server_error"),
        1,
    ),
    "html_500": (lambda: http(*HTML_500), ("http_error", None), 1),
    "non_json_200": (lambda: http(*NOT_JSON), ("protocol_error", "bad_json"), 2),
    "oversized": (endless, ("protocol_error", "oversized"), 1),
    "reset": (reset_after_request, ("connection_error", "reset"), 1),
}
NETWORK_FAULTS = {
    "refused": (("connection_error", "refused"), 2),
    "dns": (("connection_error", "dns"), 2),
    "connect_timeout": (("timeout", "connect"), 2),
}


def run_with_faults(
    faults: dict, stream: bool, out: Path
) -> tuple[list[str], list[dict], dict, dict]:
    """One closed-loop run (one request at a time, so the n-th request meets the n-th fault)
    through every fault and network failure, in a seeded random order."""
    plan = [name for name, (_, _, n) in faults.items() for _ in range(n)]
    plan += [name for name, (_, n) in NETWORK_FAULTS.items() for _ in range(n)]
    random.Random(5).shuffle(plan)
    behaviours = [faults[name][0]() for name in plan if name in faults]
    with full_accept_queue() as silent_port:
        hosts = {
            "refused": f"127.0.0.1:{closed_port()}",
            "dns": f"{UNRESOLVABLE}:80",
            "connect_timeout": f"127.0.0.1:{silent_port}",
        }
        transport = FaultRoutes(
            AiohttpTransport(connect_timeout=TIMEOUTS.connect, read_timeout=TIMEOUTS.read),
            [hosts.get(name) for name in plan],
        )
        with serving_in_thread(ScriptedServer(behaviours, answer_models=True)) as server:
            options = LoadOptions(
                arms=("gpt-4o",),
                spec=ScheduleSpec(profile="concurrent", concurrency=1, requests=len(plan)),
                stream=stream,
                timeouts=TIMEOUTS,
                base_url=server.base_url,
                api_key="br-fault-matrix-0000",
                out=out,
                n_prompts=8,
            )
            result = run_load(options, transport=transport)
    records = pq.read_table(result.run_dir / "requests.parquet").to_pylist()
    summary = orjson.loads((result.run_dir / "summary.json").read_bytes())
    manifest = orjson.loads((result.run_dir / "manifest.json").read_bytes())
    return plan, records, summary, manifest


def expected_classes(faults: dict, plan: list[str]) -> list[tuple[str, str | None]]:
    network = {name: cls for name, (cls, _) in NETWORK_FAULTS.items()}
    return [faults[name][1] if name in faults else network[name] for name in plan]


@pytest.mark.parametrize(("faults", "stream"), [(STREAMED_FAULTS, True), (PLAIN_FAULTS, False)])
@pytest.mark.slow
def test_every_fault_is_classified_and_counted_exactly(
    tmp_path: Path, faults: dict, stream: bool
) -> None:
    plan, records, summary, manifest = run_with_faults(faults, stream, tmp_path / "run")
    expected = expected_classes(faults, plan)

    # The run went on through every fault: one record per scheduled request, in order.
    assert manifest["status"] == "complete"
    assert sorted(r["request_id"] for r in records) == list(range(len(plan)))
    by_id = sorted(records, key=lambda r: r["request_id"])
    got = [(r["status"], r["error_type"]) for r in by_id]
    assert got == expected, [
        (name, g, e) for name, g, e in zip(plan, got, expected, strict=True) if g != e
    ]

    # The summary counts exactly what was injected, by status and by error type.
    errors = summary["overall"]["errors"]
    statuses = collections.Counter(status for status, _ in expected)
    assert {k: v for k, v in errors["status_counts"].items() if v} == dict(statuses)
    assert errors["attempts"] == len(plan)
    types = collections.Counter(kind for _, kind in expected if kind is not None)
    assert errors["error_types"] == dict(types)
    assert errors["http_status_counts"].get("500") == faults["html_500"][2]
    assert {k: v for k, v in manifest["counts"].items() if k in statuses} == dict(statuses)
