"""Tests for the batched, crash-safe record writer (results.sink) with real files.

Crash safety is tested twice: in process (flush, never close, read) and for real, by SIGKILLing a
child process that writes records as fast as it can.
"""

from __future__ import annotations

import errno
import math
import os
import queue
import signal
import subprocess
import sys
import textwrap
import threading
import tracemalloc
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from auraon_bench.errors import AuraonBenchError, ConfigError
from auraon_bench.results import layout
from auraon_bench.results.reader import count_records, read_records, read_table
from auraon_bench.results.schema import (
    COLUMN_NAMES,
    REQUEST_SCHEMA,
    SCHEMA_VERSION,
    RequestRecord,
)
from auraon_bench.results.sink import COMPRESSION, RecordSink, ResultsWriteError


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def record(i: int, **fields) -> RequestRecord:
    return RequestRecord(**{"run_id": "run", "arm": "m", "status": "ok", "request_id": i, **fields})


def every_column_record(i: int) -> RequestRecord:
    """A record with a value in every column (odd i) or only the required ones (even i)."""
    if i % 2 == 0:
        return RequestRecord(run_id="run-1", arm="auto", status="timeout")
    t0 = i * 0.01
    return RequestRecord(
        run_id="run-1",
        arm="auto",
        attempt=2,
        request_id=i,
        prompt_id=f"gsm8k-{i}",
        category="math",
        stage=3,
        warmup=False,
        worker=17,
        model_requested="auto",
        model_reported="fast-model",
        routed_to="fast-model",
        routing_reason="cheapest model meeting the quality bar",
        status="ok",
        http_status=200,
        error_type="",
        error_code=None,
        error_message="unicode ✓ survives",
        t_scheduled=t0,
        t_sent=t0 + 0.001,
        t_first_byte=t0 + 0.05,
        t_first_token=t0 + 0.06,
        t_last_token=t0 + 0.5,
        t_done=t0 + 0.51,
        schedule_lag_s=0.001,
        ttft_s=0.059,
        latency_s=0.509,
        tpot_s=0.011,
        itl_s=[0.0078125, 0.015625, 0.5],
        n_events=4,
        prompt_tokens=123,
        completion_tokens=41,
        token_source="usage",
        cost_usd=1.25e-5,
        cost_source="blockrun",
        server_latency_ms=480.5,
        retry_after_s=math.inf,
        ratelimit_limit_requests=1000,
        ratelimit_remaining_requests=999,
        ratelimit_limit_tokens=2_000_000,
        ratelimit_remaining_tokens=2**40,
        ratelimit_reset_requests_s=0.06,
        ratelimit_reset_tokens_s=0.0,
        stream=True,
        finish_reason="stop",
        response_text="The answer is 42.\n" * 3,
        correct=True,
        score=0.75,
        extracted_answer="42",
    )


def as_row(rec: RequestRecord) -> dict:
    row = {name: getattr(rec, name) for name in COLUMN_NAMES}
    row["itl_s"] = list(row["itl_s"])
    return row


# --- round trip -----------------------------------------------------------------------


def test_every_column_round_trips_through_parts_and_the_compacted_file(tmp_path: Path):
    records = [every_column_record(i) for i in range(10)]
    with RecordSink(tmp_path, batch_rows=4) as sink:
        sink.add_many(records)
        sink.flush()
        from_parts = read_table(tmp_path).to_pylist()
    from_final = read_table(tmp_path).to_pylist()
    expected = [as_row(r) for r in records]
    assert from_parts == expected
    assert from_final == expected


def test_dataframe_keeps_nulls_as_missing(tmp_path: Path):
    with RecordSink(tmp_path) as sink:
        sink.add_many(every_column_record(i) for i in range(4))
    frame = read_records(tmp_path)
    assert list(frame.columns) == list(COLUMN_NAMES)
    assert str(frame["http_status"].dtype) == "Int32"
    assert frame["http_status"].isna().tolist() == [True, False, True, False]
    assert frame["correct"].isna().tolist() == [True, False, True, False]
    assert list(frame["itl_s"][1]) == [0.0078125, 0.015625, 0.5]
    assert math.isinf(frame["retry_after_s"][1])


# --- when it flushes ------------------------------------------------------------------


def test_flushes_every_batch_rows_records(tmp_path: Path):
    sink = RecordSink(tmp_path, batch_rows=3, flush_interval_s=1e9)
    for i in range(7):
        sink.add(record(i))
    assert (sink.rows_written, sink.rows_buffered) == (6, 1)
    parts = layout.list_parts(tmp_path / layout.PARTS_DIR)
    assert [p.name for _, p in parts] == ["part-000001.parquet", "part-000002.parquet"]
    assert [pq.read_metadata(p).num_rows for _, p in parts] == [3, 3]


def test_flushes_on_add_once_the_interval_has_passed(tmp_path: Path):
    clock = FakeClock()
    sink = RecordSink(tmp_path, batch_rows=1000, flush_interval_s=2.0, clock=clock)
    sink.add(record(0))
    clock.now += 1.9
    sink.add(record(1))
    assert (sink.rows_written, sink.rows_buffered) == (0, 2)
    clock.now += 0.1
    sink.add(record(2))
    assert (sink.rows_written, sink.rows_buffered) == (3, 0)
    clock.now += 1.0
    sink.add(record(3))  # the interval restarts at each flush
    assert sink.rows_written == 3


def test_maybe_flush_flushes_an_idle_sink_only_when_due(tmp_path: Path):
    clock = FakeClock()
    sink = RecordSink(tmp_path, batch_rows=1000, flush_interval_s=2.0, clock=clock)
    assert sink.maybe_flush() is False  # nothing buffered
    sink.add(record(0))
    clock.now += 1.0
    assert sink.maybe_flush() is False
    clock.now += 1.5
    assert sink.maybe_flush() is True
    assert (sink.rows_written, sink.rows_buffered) == (1, 0)
    clock.now += 10
    assert sink.maybe_flush() is False  # due, but nothing to write: no empty part
    assert len(layout.list_parts(tmp_path / layout.PARTS_DIR)) == 1


def test_add_many_flushes_in_batches(tmp_path: Path):
    sink = RecordSink(tmp_path, batch_rows=10, flush_interval_s=1e9)
    sink.add_many(record(i) for i in range(95))
    assert (sink.rows_written, sink.rows_buffered) == (90, 5)
    assert sink.flush() == 5
    assert sink.flush() == 0
    assert count_records(tmp_path) == 95


# --- closing and compaction -----------------------------------------------------------


def test_close_compacts_parts_into_one_file_in_order(tmp_path: Path):
    with RecordSink(tmp_path, batch_rows=7) as sink:
        sink.add_many(record(i) for i in range(100))
        assert len(layout.list_parts(tmp_path / layout.PARTS_DIR)) == 14
    assert sorted(os.listdir(tmp_path)) == ["requests.parquet"]
    final = pq.ParquetFile(tmp_path / "requests.parquet")
    assert final.metadata.num_rows == 100
    assert final.metadata.num_row_groups == 1  # small parts are gathered into one row group
    assert final.metadata.row_group(0).column(0).compression.lower() == COMPRESSION
    assert final.schema_arrow.metadata[b"auraon_bench.schema_version"] == str(
        SCHEMA_VERSION
    ).encode()
    assert read_table(tmp_path).schema.equals(REQUEST_SCHEMA, check_metadata=True)
    assert read_records(tmp_path)["request_id"].tolist() == list(range(100))
    assert sink.closed and (sink.rows_written, sink.rows_buffered) == (100, 0)


def test_close_is_idempotent_and_the_sink_refuses_records_after(tmp_path: Path):
    sink = RecordSink(tmp_path)
    sink.add(record(0))
    sink.close()
    sink.close()
    assert count_records(tmp_path) == 1
    with pytest.raises(RuntimeError, match="closed"):
        sink.add(record(1))


def test_an_empty_run_still_gets_a_final_file_with_the_schema(tmp_path: Path):
    RecordSink(tmp_path).close()
    table = read_table(tmp_path)
    assert table.num_rows == 0 and table.schema.equals(REQUEST_SCHEMA)
    assert (tmp_path / "requests.parquet").is_file()


def test_the_context_manager_closes_when_the_body_fails(tmp_path: Path):
    with pytest.raises(KeyError), RecordSink(tmp_path) as sink:
        sink.add(record(0))
        raise KeyError("boom")
    assert (tmp_path / "requests.parquet").is_file() and count_records(tmp_path) == 1


def test_compaction_streams_parts_into_row_groups_of_bounded_size(tmp_path: Path, monkeypatch):
    from auraon_bench.results import sink as sink_module

    monkeypatch.setattr(sink_module, "COMPACT_ROW_GROUP_ROWS", 25)
    with RecordSink(tmp_path, batch_rows=10) as sink:
        sink.add_many(record(i) for i in range(95))
    meta = pq.read_metadata(tmp_path / "requests.parquet")
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [30, 30, 30, 5]
    assert read_records(tmp_path)["request_id"].tolist() == list(range(95))


def test_fsync_mode_writes_the_same_files(tmp_path: Path):
    with RecordSink(tmp_path, batch_rows=2, fsync=True) as sink:
        sink.add_many(record(i) for i in range(5))
    assert count_records(tmp_path) == 5


# --- crash safety ---------------------------------------------------------------------


def test_a_run_that_never_closes_reads_every_flushed_row(tmp_path: Path):
    sink = RecordSink(tmp_path, batch_rows=10, flush_interval_s=1e9)
    sink.add_many(record(i) for i in range(37))
    # what a kill in the middle of the next flush leaves behind: a temporary file
    (tmp_path / layout.PARTS_DIR / ".part-000004.parquet.tmp").write_bytes(b"PAR1 half a file")
    frame = read_records(tmp_path)
    assert frame["request_id"].tolist() == list(range(30))  # the 7 buffered rows are lost
    assert count_records(tmp_path) == 30


def test_a_kill_between_compaction_and_cleanup_reads_the_final_file_once(tmp_path: Path):
    with RecordSink(tmp_path, batch_rows=10) as sink:
        sink.add_many(record(i) for i in range(25))
    stale = RecordSink(tmp_path / "other", batch_rows=10)
    stale.add_many(record(i) for i in range(20))
    os.replace(tmp_path / "other" / layout.PARTS_DIR, tmp_path / layout.PARTS_DIR)
    assert count_records(tmp_path) == 25
    assert read_records(tmp_path)["request_id"].tolist() == list(range(25))


CHILD = textwrap.dedent(
    """
    import sys
    from auraon_bench.results import RecordSink, RequestRecord

    sink = RecordSink(sys.argv[1], batch_rows=400, flush_interval_s=0.002)
    print("ready", flush=True)
    i = reported = 0
    while True:
        sink.add(RequestRecord(
            run_id="killed", arm="m", status="ok", request_id=i, attempt=1,
            itl_s=[0.001 * (i % 7)] * (i % 5), response_text=f"answer {i}",
        ))
        i += 1
        if sink.rows_written != reported:
            reported = sink.rows_written
            print(reported, flush=True)
    """
)


def _run_until_flushed(run_dir: Path, at_least: int, timeout_s: float = 60.0) -> int:
    """Start the writer child, SIGKILL it once it reports ``at_least`` rows on disk."""
    stderr_path = run_dir.parent / f"{run_dir.name}-child-stderr.txt"
    with open(stderr_path, "w") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(run_dir)],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)  # the child's stdout closed: it died

    pumper = threading.Thread(target=pump, daemon=True)
    pumper.start()
    reported = 0
    try:
        while reported < at_least:
            try:
                line = lines.get(timeout=timeout_s)
            except queue.Empty:
                raise AssertionError("writer child reported nothing in time") from None
            if line is None:
                proc.wait(timeout=10)
                raise AssertionError(f"writer child died: {stderr_path.read_text()}")
            if line.strip().isdigit():
                reported = int(line)
    finally:
        proc.kill()  # SIGKILL; a no-op if the child is already gone and reaped
        proc.wait(timeout=10)
        pumper.join(timeout=10)
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL, stderr_path.read_text()
    return reported


@pytest.mark.parametrize("at_least", [1, 5000])
def test_sigkill_loses_nothing_that_was_flushed(tmp_path: Path, at_least: int):
    reported = _run_until_flushed(tmp_path, at_least)
    frame = read_records(tmp_path)
    assert len(frame) >= reported >= at_least
    # nothing corrupt, missing or doubled: the ids are exactly 0..n-1, in order
    assert frame["request_id"].tolist() == list(range(len(frame)))
    assert (frame["response_text"] == "answer " + frame["request_id"].astype(str)).all()
    assert [len(x) for x in frame["itl_s"]] == [i % 5 for i in range(len(frame))]
    assert count_records(tmp_path) == len(frame)
    assert not (tmp_path / "requests.parquet").exists()


# --- bounded memory -------------------------------------------------------------------


def _unique_record(i: int) -> RequestRecord:
    return RequestRecord(
        run_id="run",
        arm="m",
        status="ok",
        request_id=i,
        latency_s=i * 1e-3,
        ttft_s=i * 1e-4,
        itl_s=(i * 1e-5, i * 2e-5, i * 3e-5),
        response_text=f"response number {i}",
    )


@pytest.mark.slow
def test_memory_stays_bounded_over_200k_records(tmp_path: Path):
    n, batch_rows = 200_000, 5000
    tracemalloc.start()
    try:
        held = [_unique_record(i) for i in range(batch_rows)]
        one_batch_bytes = tracemalloc.get_traced_memory()[0]
        del held
        holding_all_bytes = one_batch_bytes * (n // batch_rows)
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        sink = RecordSink(tmp_path, batch_rows=batch_rows, flush_interval_s=1e9)
        for i in range(n):
            sink.add(_unique_record(i))
            assert sink.rows_buffered <= batch_rows
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    sink.close()
    assert count_records(tmp_path) == n
    assert holding_all_bytes > 50_000_000  # the test would be meaningless otherwise
    assert peak < holding_all_bytes / 5, (peak, holding_all_bytes)


# --- failures -------------------------------------------------------------------------


def test_a_directory_under_a_file_fails_up_front_naming_the_path(tmp_path: Path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    with pytest.raises(ResultsWriteError) as info:
        RecordSink(blocker / "run")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{blocker / 'run'}: cannot write to the results directory")
    assert isinstance(info.value, AuraonBenchError)


def test_a_directory_with_records_is_refused(tmp_path: Path):
    with RecordSink(tmp_path) as sink:
        sink.add(record(0))
    with pytest.raises(ConfigError, match="already holds request records"):
        RecordSink(tmp_path)


def test_a_failed_flush_keeps_the_records_and_can_be_retried(tmp_path: Path):
    sink = RecordSink(tmp_path, batch_rows=3, flush_interval_s=1e9)
    parts_dir = tmp_path / layout.PARTS_DIR
    sink.add_many(record(i) for i in range(3))
    # the parts directory disappears and a file takes its place: every write now fails
    for _, part in layout.list_parts(parts_dir):
        part.unlink()
    parts_dir.rmdir()
    parts_dir.write_text("in the way")
    sink.add(record(3))
    with pytest.raises(ResultsWriteError) as info:
        sink.add_many([record(4), record(5)])
    assert str(info.value).startswith(f"{parts_dir / 'part-000002.parquet'}: cannot write")
    assert "\n" not in str(info.value)
    assert (sink.rows_written, sink.rows_buffered) == (3, 3)
    parts_dir.unlink()
    parts_dir.mkdir()
    assert sink.flush() == 3
    assert [p.name for _, p in layout.list_parts(parts_dir)] == ["part-000002.parquet"]


def test_a_full_disk_is_reported_with_the_os_error_and_leaves_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    def disk_full(src, dst):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dst))

    sink = RecordSink(tmp_path, batch_rows=100)
    sink.add_many(record(i) for i in range(5))
    monkeypatch.setattr(layout.os, "replace", disk_full)
    with pytest.raises(ResultsWriteError, match="No space left on device") as info:
        sink.flush()
    assert "part-000001.parquet" in str(info.value)
    assert sink.rows_buffered == 5
    assert os.listdir(tmp_path / layout.PARTS_DIR) == []
    with pytest.raises(ResultsWriteError, match="No space left on device"):
        sink.close()
    assert not sink.closed
    monkeypatch.undo()
    sink.close()
    assert count_records(tmp_path) == 5


def test_an_invalid_record_is_refused_and_stays_buffered(tmp_path: Path):
    sink = RecordSink(tmp_path, batch_rows=2)
    sink.add(record(0))
    with pytest.raises(ValueError, match="'status'"):
        sink.add(record(1, status="fine"))
    assert (sink.rows_written, sink.rows_buffered) == (0, 2)


@pytest.mark.parametrize(
    "options",
    [{"batch_rows": 0}, {"batch_rows": 2.5}, {"batch_rows": True}, {"flush_interval_s": 0}],
)
def test_bad_settings_are_refused(tmp_path: Path, options):
    with pytest.raises(ValueError):
        RecordSink(tmp_path, **options)
