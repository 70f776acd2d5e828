"""Tests for the request-record schema and the record-to-batch converter (results.schema)."""

from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auraon_bench.analysis.load_summary import summarize_arm
from auraon_bench.results import layout, schema
from auraon_bench.results.reader import read_compact, read_records, read_table
from auraon_bench.results.schema import (
    COLUMN_NAMES,
    COLUMNS,
    REQUEST_SCHEMA,
    SCHEMA_VERSION,
    VERSION_KEY,
    RequestRecord,
    records_to_batch,
)


def minimal(**fields) -> RequestRecord:
    return RequestRecord(**{"run_id": "r", "arm": "m", "status": "ok", **fields})


# --- one declaration, everything derived ----------------------------------------------


def test_column_names_are_unique_and_the_schema_follows_them():
    assert len(set(COLUMN_NAMES)) == len(COLUMN_NAMES) == 61
    assert REQUEST_SCHEMA.names == list(COLUMN_NAMES)
    for column, field in zip(COLUMNS, REQUEST_SCHEMA, strict=True):
        assert field.type == column.type
        assert field.nullable == column.nullable
    assert REQUEST_SCHEMA.metadata == {VERSION_KEY: str(SCHEMA_VERSION).encode()}
    assert SCHEMA_VERSION == 2


def test_only_identity_and_status_are_required():
    assert schema.REQUIRED_COLUMNS == ("run_id", "arm", "status")


def test_the_docstring_table_documents_every_column_in_order_with_its_type():
    table_rows = re.findall(r"^(\w+) +([\w<>]+) +(\S+) +\S", schema.__doc__, re.MULTILINE)
    documented = [(name, typ) for name, typ, _unit in table_rows if name in COLUMN_NAMES]
    assert [name for name, _ in documented] == list(COLUMN_NAMES)
    arrow_spelling = {"float64": "double", "list<float32>": "list<item: float>"}
    for (name, typ), column in zip(documented, COLUMNS, strict=True):
        assert arrow_spelling.get(typ, typ) == str(column.type), name


def test_request_record_has_one_slotted_keyword_field_per_column():
    fields = dataclasses.fields(RequestRecord)
    assert tuple(f.name for f in fields) == COLUMN_NAMES
    assert all(f.kw_only for f in fields)
    record = minimal()
    assert not hasattr(record, "__dict__")
    assert record.itl_s == ()
    assert record.http_status is None and record.warmup is None
    assert RequestRecord.__module__ == "auraon_bench.results.schema"


def test_required_fields_have_no_default_and_unknown_fields_are_rejected():
    with pytest.raises(TypeError, match="status"):
        RequestRecord(run_id="r", arm="m")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="ttft"):
        minimal(ttft=0.1)
    with pytest.raises(AttributeError):
        minimal().ttft = 0.1  # slots: a misspelt attribute cannot be set either


# --- conversion -----------------------------------------------------------------------


def test_batch_has_the_request_schema_and_keeps_nulls_and_itl_lists():
    records = [
        minimal(request_id=0, itl_s=[0.5, 0.25], http_status=200, warmup=True),
        minimal(request_id=1, itl_s=(), status="timeout"),
        minimal(request_id=2, itl_s=None),
    ]
    batch = records_to_batch(records)
    assert batch.schema.equals(REQUEST_SCHEMA, check_metadata=True)
    assert batch.column("itl_s").to_pylist() == [[0.5, 0.25], [], None]
    assert batch.column("http_status").to_pylist() == [200, None, None]
    assert batch.column("warmup").to_pylist() == [True, None, None]
    assert batch.column("status").to_pylist() == ["ok", "timeout", "ok"]


def test_empty_batch_is_valid():
    batch = records_to_batch([])
    assert batch.num_rows == 0 and batch.schema.equals(REQUEST_SCHEMA)


def test_itl_accepts_any_sequence_of_numbers():
    import numpy as np

    batch = records_to_batch([minimal(itl_s=np.array([0.1, 0.2])), minimal(itl_s=(1, 2))])
    assert batch.column("itl_s").to_pylist() == [
        pytest.approx([0.1, 0.2]),
        [1.0, 2.0],
    ]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"run_id": None}, "'run_id' is required"),
        ({"status": None}, "'status' is required"),
        ({"status": "okay"}, "'status': 'okay' is not one of"),
        ({"token_source": "guess"}, "'token_source'"),
        ({"cost_source": "vibes"}, "'cost_source'"),
        ({"attempt": 2**40}, "'attempt'"),
        ({"t_sent": "soon"}, "'t_sent'"),
        ({"itl_s": ["x"]}, "'itl_s'"),
        ({"warmup": "yes"}, "'warmup'"),
    ],
)
def test_invalid_values_are_refused_naming_the_column(fields, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        records_to_batch([minimal(), minimal(**fields)])


def test_enumerated_values_are_all_accepted():
    sets = (schema.STATUSES, schema.TOKEN_SOURCES, schema.COST_SOURCES)
    n = max(map(len, sets))  # every value of every set at least once

    def cycled(values: frozenset[str]) -> list[str]:
        return (sorted(values) * n)[:n]

    records = [
        minimal(status=status, token_source=token, cost_source=cost)
        for status, token, cost in zip(*map(cycled, sets), strict=True)
    ]
    assert records_to_batch(records).num_rows == len(records)
    assert "cancelled" in schema.STATUSES


# --- property: whatever fits a column comes back unchanged ------------------------------

_INT_RANGES = {pa.int32(): 2**31, pa.int64(): 2**63}


def _strategy(column: schema.Column) -> st.SearchStrategy:
    name, typ = column.name, column.type
    if name in schema.ENUM_COLUMNS:
        values = st.sampled_from(sorted(schema.ENUM_COLUMNS[name]))
    elif pa.types.is_string(typ):
        values = st.text(max_size=20)
    elif pa.types.is_integer(typ):
        bound = _INT_RANGES[typ]
        values = st.integers(-bound, bound - 1)
    elif pa.types.is_floating(typ):
        values = st.floats(allow_nan=True, allow_infinity=True)
    elif pa.types.is_boolean(typ):
        values = st.booleans()
    else:
        values = st.lists(st.floats(width=32, allow_nan=False), max_size=5)
    return values if not column.nullable else st.none() | values


records_strategy = st.lists(
    st.fixed_dictionaries({c.name: _strategy(c) for c in COLUMNS}), min_size=0, max_size=8
)


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    return a == b


@settings(max_examples=60, deadline=None)
@given(records_strategy)
@pytest.mark.slow
def test_any_valid_record_round_trips_through_a_batch(rows):
    batch = records_to_batch([RequestRecord(**row) for row in rows])
    back = batch.to_pylist()
    assert len(back) == len(rows)
    for want, got in zip(rows, back, strict=True):
        for name in COLUMN_NAMES:
            assert _same(want[name], got[name]), name


# --- version 1 files: read with the columns they lack as nulls ---------------------------

V2_COLUMNS = ("connect_s", "connection_reused", "ttlt_s")


def _version_1_file(path: Path, parts: bool = False) -> Path:
    """A file as auraon-bench wrote it with schema version 1: without the version 2 columns."""
    rows = [
        minimal(request_id=0, stream=True, t_sent=1.0, t_first_token=1.2, t_last_token=2.0,
                t_done=2.1, ttft_s=0.2, latency_s=1.0, completion_tokens=9, itl_s=[0.1]),
        minimal(request_id=1, stream=False, t_sent=2.0, t_done=2.5, latency_s=0.5),
    ]  # fmt: skip
    table = pa.Table.from_batches([records_to_batch(rows)]).drop_columns(list(V2_COLUMNS))
    table = table.replace_schema_metadata({VERSION_KEY: b"1"})
    if parts:
        (path / layout.PARTS_DIR).mkdir()
        target = path / layout.PARTS_DIR / layout.part_name(1)
    else:
        target = path / layout.REQUESTS_FILE
    pq.write_table(table, target)
    return target


@pytest.mark.parametrize("parts", [False, True], ids=["final", "parts"])
def test_a_version_1_file_reads_with_the_new_columns_null(tmp_path: Path, parts: bool) -> None:
    _version_1_file(tmp_path, parts)
    table = read_table(tmp_path)
    assert table.schema.equals(REQUEST_SCHEMA) and table.num_rows == 2
    for name in V2_COLUMNS:
        assert table.column(name).null_count == 2
    assert table.column("ttft_s").to_pylist() == [0.2, None]
    frame = read_records(tmp_path)
    assert list(frame.columns) == list(COLUMN_NAMES)
    assert frame["connection_reused"].isna().all() and str(frame["connection_reused"].dtype) == (
        "boolean"
    )
    assert read_table(tmp_path, ["ttlt_s", "run_id"]).column("run_id").to_pylist() == ["r", "r"]
    compact = read_compact(tmp_path, ["ttlt_s", "connection_reused", "latency_s"])
    assert compact["ttlt_s"].isna().all() and list(compact["latency_s"]) == [1.0, 0.5]
    only_new = read_compact(tmp_path, list(V2_COLUMNS))
    assert len(only_new) == 2 and only_new["connect_s"].isna().all()
    # the analysis falls back to version 1's columns: TTLT = t_last_token - t_sent
    summary = summarize_arm(frame)
    assert summary.ttlt_s.n == 1 and summary.ttlt_s.p50 == pytest.approx(1.0)
    assert summary.tpot_s.p50 == pytest.approx(0.8 / 8)
    assert summary.connect_s.n == 0 and summary.connection_reused_share is None
