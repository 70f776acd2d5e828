"""Tests for reading a run's records (results.reader): which files, versions, errors."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from auraon_bench.errors import ConfigError
from auraon_bench.results import layout
from auraon_bench.results.reader import (
    count_records,
    read_records,
    read_table,
    record_files,
    schema_version_of,
)
from auraon_bench.results.schema import (
    COLUMN_NAMES,
    REQUEST_SCHEMA,
    SCHEMA_VERSION,
    VERSION_KEY,
    RequestRecord,
    records_to_batch,
)
from auraon_bench.results.sink import RecordSink


def records(n: int, start: int = 0) -> list[RequestRecord]:
    return [
        RequestRecord(run_id="r", arm="m", status="ok", request_id=i, http_status=200)
        for i in range(start, start + n)
    ]


def write_file(path: Path, n: int = 3, version: bytes | None = b"1") -> Path:
    """A results file as another auraon-bench version (or another tool) would write it."""
    metadata = {VERSION_KEY: version} if version is not None else {}
    table = pa.Table.from_batches([records_to_batch(records(n))])
    pq.write_table(table.replace_schema_metadata(metadata), path)
    return path


def test_an_empty_run_directory_reads_as_zero_rows_with_every_column(tmp_path: Path):
    frame = read_records(tmp_path)
    assert frame.empty and list(frame.columns) == list(COLUMN_NAMES)
    assert read_table(tmp_path).schema.equals(REQUEST_SCHEMA)
    assert count_records(tmp_path) == 0
    assert record_files(tmp_path) == []


def test_dtypes_do_not_depend_on_whether_there_are_rows_or_nulls(tmp_path: Path):
    empty = read_records(tmp_path)
    with RecordSink(tmp_path / "run") as sink:
        sink.add_many(records(3))
    full = read_records(tmp_path / "run")
    assert dict(empty.dtypes) == dict(full.dtypes)


def test_a_missing_run_directory_is_a_config_error(tmp_path: Path):
    with pytest.raises(ConfigError, match="no such run directory") as info:
        read_records(tmp_path / "nope")
    assert str(tmp_path / "nope") in str(info.value)


def test_parts_are_read_in_numeric_order(tmp_path: Path):
    parts = tmp_path / layout.PARTS_DIR
    parts.mkdir()
    # 1,000,000 sorts before 999,999 by name; the reader must go by number
    write_file(parts / layout.part_name(999_999), 2)
    table = pa.Table.from_batches([records_to_batch(records(2, start=10))])
    pq.write_table(table, parts / layout.part_name(1_000_000))
    assert read_records(tmp_path)["request_id"].tolist() == [0, 1, 10, 11]


def test_temporary_and_foreign_files_are_ignored(tmp_path: Path):
    parts = tmp_path / layout.PARTS_DIR
    parts.mkdir()
    write_file(parts / layout.part_name(1), 2)
    (parts / ".part-000002.parquet.tmp").write_bytes(b"half")
    (parts / "notes.txt").write_text("hello")
    (tmp_path / ".requests.parquet.tmp").write_bytes(b"half")
    assert count_records(tmp_path) == 2


def test_columns_selects_and_orders_columns(tmp_path: Path):
    with RecordSink(tmp_path) as sink:
        sink.add_many(records(4))
    frame = read_records(tmp_path, columns=["http_status", "request_id"])
    assert list(frame.columns) == ["http_status", "request_id"]
    assert frame["request_id"].tolist() == [0, 1, 2, 3]
    (tmp_path / "empty").mkdir()
    assert read_table(tmp_path / "empty", ["arm"]).schema.names == ["arm"]
    with pytest.raises(ValueError, match="unknown request record column"):
        read_table(tmp_path, ["request_id", "latency"])
    with pytest.raises(TypeError):
        read_table(tmp_path, "request_id")


def test_count_records_reads_footers_only(tmp_path: Path):
    sink = RecordSink(tmp_path, batch_rows=10)
    sink.add_many(records(35))
    assert count_records(tmp_path) == 30
    sink.close()
    assert count_records(tmp_path) == 35


# --- versions and damaged files -------------------------------------------------------


@pytest.mark.parametrize("where", ["final", "part"])
def test_a_newer_schema_version_is_refused_naming_the_file(tmp_path: Path, where: str):
    if where == "final":
        path = tmp_path / layout.REQUESTS_FILE
    else:
        (tmp_path / layout.PARTS_DIR).mkdir()
        write_file(tmp_path / layout.PARTS_DIR / layout.part_name(1))
        path = tmp_path / layout.PARTS_DIR / layout.part_name(2)
    newer = SCHEMA_VERSION + 1
    write_file(path, version=str(newer).encode())
    for read in (read_records, count_records):
        with pytest.raises(ConfigError, match=f"schema version {newer}") as info:
            read(tmp_path)
        message = str(info.value)
        assert message.startswith(f"{path}: ") and "\n" not in message
    assert info.value.source == str(path)


def test_an_older_or_equal_version_is_read(tmp_path: Path):
    write_file(tmp_path / layout.REQUESTS_FILE, 3, version=b"1")
    assert schema_version_of(tmp_path / layout.REQUESTS_FILE) == 1
    assert len(read_records(tmp_path)) == 3


@pytest.mark.parametrize(
    ("version", "message"),
    [(None, "not an auraon-bench results file"), (b"one", "unreadable schema version")],
)
def test_a_file_without_a_usable_version_is_refused(tmp_path: Path, version, message):
    write_file(tmp_path / layout.REQUESTS_FILE, version=version)
    with pytest.raises(ConfigError, match=message):
        read_table(tmp_path)


def test_a_corrupt_file_is_a_one_line_error_naming_it(tmp_path: Path):
    path = tmp_path / layout.REQUESTS_FILE
    path.write_bytes(b"PAR1" + b"\x00" * 64 + b"PAR1")
    for read in (read_records, count_records):
        with pytest.raises(ConfigError, match="cannot read results file") as info:
            read(tmp_path)
        assert str(info.value).startswith(f"{path}: ") and "\n" not in str(info.value)


def test_a_part_that_vanishes_while_being_read_makes_the_reader_list_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from auraon_bench.results import reader

    with RecordSink(tmp_path) as sink:
        sink.add_many(records(4))
    # what a listing taken just before the writer compacted its parts saw
    gone = [tmp_path / layout.PARTS_DIR / layout.part_name(1)]
    real_record_files = reader.record_files
    stale = [gone, gone]
    monkeypatch.setattr(
        reader, "record_files", lambda run_dir: stale.pop() if stale else real_record_files(run_dir)
    )
    assert read_records(tmp_path)["request_id"].tolist() == [0, 1, 2, 3]
    assert count_records(tmp_path) == 4

    monkeypatch.setattr(reader, "record_files", lambda run_dir: gone)
    with pytest.raises(ConfigError, match="changed while being read"):
        read_table(tmp_path)


def test_read_compact_gives_the_same_values_as_read_records(tmp_path: Path):
    from auraon_bench.results.reader import read_compact, read_records

    sink = RecordSink(tmp_path, batch_rows=7)
    for i in range(40):
        sink.add(
            RequestRecord(
                run_id="r",
                arm=("a", "b")[i % 2],
                status=("ok", "timeout", "ok", "rate_limited")[i % 4],
                request_id=i,
                attempt=1 + i % 3,
                http_status=None if i % 5 == 0 else 200,
                warmup=None if i % 7 == 0 else i < 3,
                error_type=None if i % 4 == 0 else "read",
                ttft_s=None if i % 6 == 0 else i / 100,
                itl_s=[0.01] * (i % 4),
            )
        )
    sink.flush()  # parts, as a running run has them; then one more part
    sink.add(RequestRecord(run_id="r", arm="c", status="ok", request_id=99))
    sink.flush()
    columns = [
        "run_id",
        "arm",
        "status",
        "request_id",
        "attempt",
        "http_status",
        "warmup",
        "error_type",
        "ttft_s",
        "itl_s",
    ]
    full, compact = read_records(tmp_path, columns), read_compact(tmp_path, columns)
    assert len(compact) == 41 and list(compact.columns) == columns
    for name in columns:
        expected, got = full[name].tolist(), compact[name].tolist()
        if name == "itl_s":
            assert [list(x) for x in got] == [list(x) for x in expected]
        else:
            assert [None if pd.isna(x) else x for x in got] == [
                None if pd.isna(x) else x for x in expected
            ], name
    assert isinstance(compact["arm"].dtype, pd.CategoricalDtype)
    assert (
        str(compact["http_status"].dtype) == "Int32" and str(compact["warmup"].dtype) == "boolean"
    )
    sink.close()
