"""Write request records to a run directory as the run goes: batched, bounded, crash-safe.

A load test makes one record per attempt, thousands per second, millions per run. Holding them
all until the end would make memory grow with the run and lose everything on a crash, so
:class:`RecordSink` buffers at most ``batch_rows`` records and writes each full buffer as one
complete Parquet *part* (see :mod:`auraon_bench.results.layout`)::

    with RecordSink(run_dir) as sink:
        for record in attempts():
            sink.add(record)            # flushes itself when full or when the interval passed
    # close(): the parts are compacted into RUN_DIR/requests.parquet

Loss bound. A buffer is flushed when it holds ``batch_rows`` records, or on the first ``add``
after ``flush_interval_s`` has passed since the last flush. A process killed with SIGKILL loses
only its buffer: records added within one ``flush_interval_s`` window, plus the one whose ``add``
started the flush the kill interrupted, and never more than ``batch_rows``. An idle sink flushes
nothing by itself (no hidden thread), so records left in the buffer when arrivals stop wait for
the next ``add``; a caller that wants them on disk within the interval anyway calls
:meth:`RecordSink.maybe_flush` from its own timer. Everything flushed is readable at once with
:func:`auraon_bench.results.reader.read_records`, even if :meth:`RecordSink.close` never runs.

Cost. Flushing runs in the caller's thread: for 5,000 typical records about 20 ms to build the
Arrow batch and 25 ms to encode and write it on the development machine. An asyncio runner that
cannot afford that pause on its event loop should own the sink from a writer thread.

Not thread-safe: one sink, one owner. Records are kept by reference until flushed; do not mutate
one after adding it.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import pyarrow as pa
import pyarrow.parquet as pq

from auraon_bench.errors import AuraonBenchError, ConfigError
from auraon_bench.observe.telemetry import active as active_telemetry
from auraon_bench.results.layout import (
    PARTS_DIR,
    REQUESTS_FILE,
    list_parts,
    part_name,
    remove_quietly,
    write_atomically,
)
from auraon_bench.results.schema import REQUEST_SCHEMA, records_to_batch

COMPRESSION = "zstd" if pa.Codec.is_available("zstd") else "snappy"
"""zstd where this pyarrow build has it (smaller, about as fast as snappy here), else snappy."""

# Compaction gathers parts into row groups of about this many rows (or bytes, whichever comes
# first): big enough for efficient column scans, small enough to bound compaction's memory.
COMPACT_ROW_GROUP_ROWS = 65_536
COMPACT_ROW_GROUP_BYTES = 32 * 1024 * 1024


class ResultsWriteError(AuraonBenchError):
    """Results could not be written to disk (unwritable directory, disk full, ...).

    When :class:`RecordSink` raises it, the records that were to be written stay in its buffer:
    the caller can retry :meth:`RecordSink.flush` or :meth:`RecordSink.close`, or report how many
    were kept. ``path`` is the file or directory concerned, ``os_error`` the cause.
    """

    def __init__(self, path: Path, action: str, error: OSError, note: str = "") -> None:
        self.path = path
        self.action = action
        self.os_error = error
        reason = error.strerror if error.strerror and error.filename else str(error)
        reason = " ".join(reason.split())  # pyarrow's messages can span lines
        super().__init__(f"{path}: cannot {action}: {reason}{note}")

    def noting(self, note: str) -> ResultsWriteError:
        """The same error with ``note`` appended to its message (e.g. what was kept)."""
        return ResultsWriteError(self.path, self.action, self.os_error, f"; {note}")


class RecordSink:
    """Buffered, crash-safe writer of :class:`~auraon_bench.results.schema.RequestRecord` rows.

    The constructor creates ``run_dir`` and proves it writable with a probe file, so that a bad
    output path fails before any load is sent. It refuses a directory that already holds request
    records, which compaction would otherwise mix or overwrite.
    """

    def __init__(
        self,
        run_dir: Path | str,
        *,
        batch_rows: int = 5000,
        flush_interval_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        fsync: bool = False,
        shard: tuple[int, int] = (0, 1),
    ) -> None:
        if isinstance(batch_rows, bool) or not isinstance(batch_rows, int) or batch_rows < 1:
            raise ValueError(f"batch_rows must be an integer >= 1, got {batch_rows!r}")
        if not flush_interval_s > 0:
            raise ValueError(f"flush_interval_s must be > 0, got {flush_interval_s!r}")
        self._run_dir = Path(run_dir)
        self._parts_dir = self._run_dir / PARTS_DIR
        self._final_path = self._run_dir / REQUESTS_FILE
        self._batch_rows = batch_rows
        self._flush_interval_s = float(flush_interval_s)
        self._clock = clock
        self._fsync = fsync
        self._buffer: list[Any] = []
        self._rows_written = 0
        # Worker ``i`` of ``n`` writes parts i+1, i+1+n, ...: several processes share one run
        # directory without a lock, and the parts still merge in a stable order.
        self._shard = shard
        self._next_part = shard[0] + 1
        self._closed = False
        # The command's live exports, if any (auraon_bench.observe.telemetry): fed from here,
        # after each attempt ended, so the measuring path never waits on them.
        self._telemetry = active_telemetry()
        self._prepare_dir()
        self._last_flush = clock()

    # --- public API ---------------------------------------------------------------------

    @property
    def run_dir(self) -> Path:
        return self._run_dir

    @property
    def rows_written(self) -> int:
        """Records in complete files on disk: readable now, and after a crash."""
        return self._rows_written

    @property
    def rows_buffered(self) -> int:
        """Records held in memory, not yet written (lost if the process is killed)."""
        return len(self._buffer)

    @property
    def closed(self) -> bool:
        return self._closed

    def add(self, record: Any) -> None:
        """Buffer one record; flush if the buffer is full or the flush interval has passed.

        If that flush fails, :class:`ResultsWriteError` is raised and the record stays buffered.
        """
        self._check_open()
        self._buffer.append(record)
        if self._telemetry is not None:
            self._telemetry.observe((record,))
        if (
            len(self._buffer) >= self._batch_rows
            or self._clock() - self._last_flush >= self._flush_interval_s
        ):
            self.flush()

    def add_many(self, records: Iterable[Any], *, flush: bool = True) -> None:
        """Buffer many records, flushing every ``batch_rows`` of them (and once at the end if
        the flush interval has passed); memory stays bounded however long ``records`` is.

        If a flush fails, the records taken so far stay buffered and the rest of ``records``
        is left unconsumed. ``flush=False`` only buffers (for a caller that flushes itself and
        must not lose the rest of a batch to a failing disk).
        """
        self._check_open()
        if self._telemetry is not None:
            records = list(records)
            self._telemetry.observe(records)
        if not flush:
            self._buffer.extend(records)
            return
        buffer = self._buffer
        limit = self._batch_rows
        for record in records:
            buffer.append(record)
            if len(buffer) >= limit:
                self.flush()
                buffer = self._buffer
        self.maybe_flush()

    def maybe_flush(self) -> bool:
        """Flush if records are buffered and ``flush_interval_s`` has passed since the last
        flush; for a caller's timer, so an idle sink does not sit on records. True if it did."""
        self._check_open()
        if self._buffer and self._clock() - self._last_flush >= self._flush_interval_s:
            self.flush()
            return True
        return False

    def flush(self) -> int:
        """Write the buffered records as one new part file; return how many were written.

        The buffer is emptied only after the part is completely on disk: on an ``OSError``
        (raised as :class:`ResultsWriteError`) or a ``ValueError`` from an invalid record, every
        record stays buffered and no part number is used up.
        """
        self._check_open()
        if not self._buffer:
            self._last_flush = self._clock()
            return 0
        table = pa.Table.from_batches([records_to_batch(self._buffer)])
        path = self._parts_dir / part_name(self._next_part)
        try:
            write_atomically(
                path,
                lambda tmp: pq.write_table(table, tmp, compression=COMPRESSION),
                fsync=self._fsync,
            )
        except OSError as exc:
            raise ResultsWriteError(path, "write request records", exc) from exc
        written = len(self._buffer)
        self._buffer = []  # a new list: the old one's capacity is released with it
        self._next_part += self._shard[1]
        self._rows_written += written
        self._last_flush = self._clock()
        return written

    def close(self, *, compact: bool = True) -> None:
        """Flush, then compact the parts into ``requests.parquet`` and remove them.

        Idempotent. If it fails the sink stays open, the parts stay readable, and close can be
        retried. A run with no records still gets an (empty) ``requests.parquet``, so that the
        final file's presence always means "the run was closed cleanly". ``compact=False``
        (a worker's sink) only flushes: whoever owns the run compacts every worker's parts.
        """
        if self._closed:
            return
        self.flush()
        if compact:
            self._compact()
        self._closed = True

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Close even when the body failed: the records written so far are the evidence.
        self.close()

    def __repr__(self) -> str:
        return (
            f"RecordSink({str(self._run_dir)!r}, written={self._rows_written}, "
            f"buffered={len(self._buffer)}, closed={self._closed})"
        )

    # --- internals ----------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"RecordSink for {self._run_dir} is closed")

    def _prepare_dir(self) -> None:
        shared = self._shard[1] > 1  # the owner checked; other workers' parts may be there
        if self._final_path.exists() or (not shared and list_parts(self._parts_dir)):
            raise ConfigError(
                "already holds request records; use a new run directory",
                source=str(self._run_dir),
            )
        try:
            self._parts_dir.mkdir(parents=True, exist_ok=True)
            for directory in (self._run_dir, self._parts_dir):
                probe = directory / f".write-probe-{os.getpid()}.tmp"
                probe.write_bytes(b"")
                probe.unlink()
        except OSError as exc:
            raise ResultsWriteError(self._run_dir, "write to the results directory", exc) from exc

    def _compact(self) -> None:
        """Stream the parts, in order, into one file; never more than a row group in memory."""
        parts = [path for _, path in list_parts(self._parts_dir)]
        try:
            write_atomically(
                self._final_path,
                lambda tmp: _concatenate_parts(parts, tmp),
                fsync=self._fsync,
            )
        except OSError as exc:
            raise ResultsWriteError(self._final_path, "compact request records", exc) from exc
        # requests.parquet is complete and takes precedence over parts, so a failure (or a
        # kill) from here on leaves a readable run: leftovers are only disk space.
        for path in parts:
            remove_quietly(path)
        shutil.rmtree(self._parts_dir, ignore_errors=True)


def _concatenate_parts(parts: list[Path], target: Path) -> None:
    """Copy ``parts`` into one Parquet file at ``target``, gathering small parts into row
    groups of about :data:`COMPACT_ROW_GROUP_ROWS` rows; one part is read at a time."""
    with pq.ParquetWriter(target, REQUEST_SCHEMA, compression=COMPRESSION) as writer:
        pending: list[pa.Table] = []
        pending_rows = pending_bytes = 0
        for path in parts:
            with pq.ParquetFile(path) as part:
                table = part.read()
            pending.append(table)
            pending_rows += table.num_rows
            pending_bytes += table.nbytes
            if pending_rows >= COMPACT_ROW_GROUP_ROWS or pending_bytes >= COMPACT_ROW_GROUP_BYTES:
                writer.write_table(pa.concat_tables(pending), row_group_size=pending_rows)
                pending, pending_rows, pending_bytes = [], 0, 0
        if pending:
            writer.write_table(pa.concat_tables(pending), row_group_size=pending_rows)
