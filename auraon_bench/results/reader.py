"""Read the request records of a run directory: finished, still running, or crashed.

A cleanly closed run has one ``requests.parquet``; a running or killed one has only the complete
parts in ``requests.parts/`` (see :mod:`auraon_bench.results.layout`). Readers take the final
file when it exists, because a kill between compaction and the removal of the parts leaves both
and the final file then holds every row; otherwise they read every complete part in write order
and ignore temporary files. A directory with neither reads as zero records with the full schema.

Every file's Parquet metadata must carry ``auraon_bench.schema_version`` no newer than
:data:`~auraon_bench.results.schema.SCHEMA_VERSION`: a newer file was written by a newer
auraon-bench whose columns may mean something else, so it is refused rather than misread.
An older file reads with the columns it lacks as nulls (version 1 had no ``connect_s``,
``connection_reused`` or ``ttlt_s``; what its other columns meant is in the schema module).
Problems are :class:`~auraon_bench.errors.ConfigError` naming the file.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from auraon_bench.errors import ConfigError
from auraon_bench.results.layout import PARTS_DIR, REQUESTS_FILE, list_parts
from auraon_bench.results.schema import (
    COLUMN_NAMES,
    REQUEST_SCHEMA,
    SCHEMA_VERSION,
    VERSION_KEY,
)

T = TypeVar("T")

# Integers and booleans become pandas' nullable dtypes: a missing http_status stays <NA> instead
# of turning the column into float64 (or a bool column into object), and the dtypes are the
# same whether or not a run happens to contain nulls, or any rows at all.
_PANDAS_DTYPES = {
    pa.int32(): pd.Int32Dtype(),
    pa.int64(): pd.Int64Dtype(),
    pa.bool_(): pd.BooleanDtype(),
}


def record_files(run_dir: Path | str) -> list[Path]:
    """The Parquet files holding a run's records, in row order (possibly none).

    Raises ``ConfigError`` if ``run_dir`` is not a directory.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ConfigError("no such run directory", source=str(run_dir))
    final = run_dir / REQUESTS_FILE
    if final.is_file():
        return [final]
    return [path for _, path in list_parts(run_dir / PARTS_DIR)]


def read_table(run_dir: Path | str, columns: Sequence[str] | None = None) -> pa.Table:
    """Every request record of ``run_dir`` as an Arrow table with the request schema.

    ``columns`` reads only those columns (in that order), which for analyses that skip
    ``response_text`` and ``itl_s`` is much faster and lighter.
    """
    wanted = _check_columns(columns)
    tables = _read_each(run_dir, lambda path: _read_file(path, wanted))
    schema = _schema_for(wanted)
    if not tables:
        return schema.empty_table()
    table = pa.concat_tables(tables)
    # Parquet spells list items "element" where Arrow says "item"; restore the exact schema.
    return table if table.schema.equals(schema, check_metadata=True) else table.cast(schema)


def read_records(run_dir: Path | str, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Every request record of ``run_dir`` as a DataFrame, one row per attempt, in write order.

    Integer and bool columns use pandas' nullable dtypes (``Int32``, ``Int64``, ``boolean``);
    float columns are ``float64`` with NaN for null; ``itl_s`` holds one float32 array per row.
    """
    table = read_table(run_dir, columns)
    # Free each Arrow column as soon as it is converted: a million-row run must not be held
    # twice (Arrow and pandas) at the peak.
    return table.to_pandas(types_mapper=_PANDAS_DTYPES.get, self_destruct=True, split_blocks=True)


def read_compact(run_dir: Path | str, columns: Sequence[str]) -> pd.DataFrame:
    """The same rows and values as :func:`read_records`, for analysis of very large runs.

    Every column is allocated once at its final size (the row count is in the Parquet footers)
    and filled batch by batch, so the peak is about the final frame plus one batch, where a
    whole-file read holds the decoded Arrow table and the DataFrame at once. String columns
    come back as pandas categoricals: a million-row run has a handful of distinct arms,
    statuses and sources, so codes instead of a million strings.
    """
    wanted = _check_columns(columns) or []
    schema = _schema_for(wanted)
    for _ in range(_ATTEMPTS):
        try:
            files = record_files(run_dir)
            total = sum(_read_metadata(path).num_rows for path in files)
            builders = {name: _ColumnBuilder(schema.field(name).type, total) for name in wanted}
            for path in files:
                _fill(path, wanted, builders)
            break
        except _Vanished:
            continue
    else:
        raise ConfigError("records changed while being read; try again", source=str(run_dir))
    pa.default_memory_pool().release_unused()  # decoded batches are gone: give the pages back
    return pd.DataFrame({name: builders.pop(name).build() for name in wanted}, copy=False)


def _fill(path: Path, wanted: list[str], builders: dict[str, _ColumnBuilder]) -> None:
    try:
        with pq.ParquetFile(path) as parquet:
            _check_version(path, parquet.metadata)
            present = set(parquet.schema_arrow.names)
            read = [name for name in wanted if name in present]
            absent = [name for name in wanted if name not in present]  # an older schema's file
            if not read:  # nothing to read batch by batch: the file's row count of nulls
                for name in absent:
                    builders[name].add(pa.nulls(parquet.metadata.num_rows, builders[name].type))
                return
            for batch in parquet.iter_batches(batch_size=65_536, columns=read, use_threads=False):
                for name in read:
                    builders[name].add(batch.column(name))
                for name in absent:
                    builders[name].add(pa.nulls(batch.num_rows, builders[name].type))
    except FileNotFoundError:
        raise _Vanished(path) from None
    except (OSError, pa.ArrowException) as exc:
        raise ConfigError(f"cannot read results file: {_one_line(exc)}", source=str(path)) from exc


class _ColumnBuilder:
    """One column of :func:`read_compact`, preallocated: values (category codes for strings)
    and, for nullable integers and booleans, a null mask."""

    def __init__(self, arrow_type: pa.DataType, rows: int) -> None:
        self.type = arrow_type
        self.at = 0
        self.categories: dict[str, int] = {}
        self.mask: np.ndarray | None = None
        if pa.types.is_string(arrow_type):
            self.values = np.empty(rows, dtype=np.int32)
        elif pa.types.is_floating(arrow_type):
            self.values = np.empty(rows, dtype=np.float64)
        elif pa.types.is_integer(arrow_type) or pa.types.is_boolean(arrow_type):
            self.values = np.empty(rows, dtype=_PANDAS_DTYPES[arrow_type].numpy_dtype)
            self.mask = np.zeros(rows, dtype=bool)
        else:  # lists (itl_s): one numpy array per row, as read_records gives them
            self.values = np.empty(rows, dtype=object)

    def add(self, column: pa.Array) -> None:
        end = self.at + len(column)
        target = self.values[self.at : end]
        kind = self.type
        if pa.types.is_string(kind):
            encoded = column.dictionary_encode()
            remap = np.array(
                [
                    self.categories.setdefault(v, len(self.categories))
                    for v in encoded.dictionary.to_pylist()
                ]
                + [-1],
                dtype=np.int32,
            )
            codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False)
            target[:] = remap[codes]  # -1 (null) indexes the appended -1
        elif self.mask is not None:
            self.mask[self.at : end] = np.asarray(column.is_null(), dtype=bool)
            filled = column.fill_null(False if pa.types.is_boolean(kind) else 0)
            target[:] = filled.to_numpy(zero_copy_only=False)
        else:
            target[:] = column.to_numpy(zero_copy_only=False)
        self.at = end

    def build(self) -> object:
        if pa.types.is_string(self.type):
            return pd.Categorical.from_codes(self.values, categories=list(self.categories))
        if self.mask is not None:
            dtype = _PANDAS_DTYPES[self.type]
            array_type = (
                pd.arrays.BooleanArray if pa.types.is_boolean(self.type) else pd.arrays.IntegerArray
            )
            return pd.array(array_type(self.values, self.mask), dtype=dtype)
        return self.values


def count_records(run_dir: Path | str) -> int:
    """How many records ``run_dir`` holds, from Parquet footers only (no data is read)."""

    def rows_of(path: Path) -> int:
        metadata = _read_metadata(path)
        _check_version(path, metadata)
        return metadata.num_rows

    return sum(_read_each(run_dir, rows_of))


def schema_version_of(path: Path | str) -> int:
    """The schema version recorded in one results file's metadata (``ConfigError`` if none)."""
    path = Path(path)
    return _check_version(path, _read_metadata(path))


# --- internals --------------------------------------------------------------------------

_ATTEMPTS = 3


class _Vanished(Exception):
    """A listed file was gone when opened: the writer compacted the parts meanwhile."""


def _read_each(run_dir: Path | str, read: Callable[[Path], T]) -> list[T]:
    """``read`` every records file of ``run_dir``, in order, as one consistent set.

    A run being closed while it is read renames ``requests.parquet`` into place and then
    deletes the parts, so a part listed a moment ago can disappear; listing again then finds
    the final file. Retrying keeps a live reader (a dashboard, ``status`` command) working.
    """
    for _ in range(_ATTEMPTS):
        try:
            return [read(path) for path in record_files(run_dir)]
        except _Vanished:
            continue
    raise ConfigError("records changed while being read; try again", source=str(run_dir))


def _check_columns(columns: Sequence[str] | None) -> list[str] | None:
    if columns is None:
        return None
    if isinstance(columns, str):
        raise TypeError("columns must be a sequence of column names, not a string")
    unknown = [name for name in columns if name not in COLUMN_NAMES]
    if unknown:
        raise ValueError(f"unknown request record column(s): {', '.join(unknown)}")
    return list(columns)


def _schema_for(columns: list[str] | None) -> pa.Schema:
    if columns is None:
        return REQUEST_SCHEMA
    fields = [REQUEST_SCHEMA.field(name) for name in columns]
    return pa.schema(fields, metadata=REQUEST_SCHEMA.metadata)


def _read_metadata(path: Path) -> pq.FileMetaData:
    try:
        return pq.read_metadata(path)
    except FileNotFoundError:
        raise _Vanished(path) from None
    except (OSError, pa.ArrowException) as exc:
        raise ConfigError(f"cannot read results file: {_one_line(exc)}", source=str(path)) from exc


def _check_version(path: Path, metadata: pq.FileMetaData) -> int:
    raw = (metadata.metadata or {}).get(VERSION_KEY)
    if raw is None:
        raise ConfigError(
            "not an auraon-bench results file (no schema version in its metadata)",
            source=str(path),
        )
    try:
        version = int(raw)
    except ValueError:
        raise ConfigError(f"unreadable schema version {raw!r}", source=str(path)) from None
    if version > SCHEMA_VERSION:
        raise ConfigError(
            f"written with results schema version {version}, but this auraon-bench reads up to "
            f"version {SCHEMA_VERSION}; upgrade auraon-bench to read it",
            source=str(path),
        )
    return version


def _read_file(path: Path, columns: list[str] | None) -> pa.Table:
    wanted = list(COLUMN_NAMES) if columns is None else columns
    try:
        with pq.ParquetFile(path) as parquet:
            _check_version(path, parquet.metadata)
            present = set(parquet.schema_arrow.names)
            if all(name in present for name in wanted):
                return parquet.read(columns=columns)
            table = parquet.read(columns=[name for name in wanted if name in present])
    except FileNotFoundError:
        raise _Vanished(path) from None
    except (OSError, pa.ArrowException) as exc:
        raise ConfigError(f"cannot read results file: {_one_line(exc)}", source=str(path)) from exc
    # An older schema's file: the columns it lacks are nulls, in the schema's order.
    return pa.table(
        {
            name: table.column(name)
            if name in present
            else pa.nulls(table.num_rows, REQUEST_SCHEMA.field(name).type)
            for name in wanted
        }
    )


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())
