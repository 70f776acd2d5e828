"""The results layer: request records on disk, and the manifest that says what produced them.

* :mod:`~auraon_bench.results.schema`: the request record (one row per HTTP attempt), its
  columns and Arrow schema, and the fast record-to-batch converter.
* :mod:`~auraon_bench.results.sink`: :class:`RecordSink`, the batched, crash-safe writer.
* :mod:`~auraon_bench.results.reader`: read a finished, running or crashed run's records.
* :mod:`~auraon_bench.results.manifest`: ``manifest.json``, run ids and run directories.
* :mod:`~auraon_bench.results.layout`: file names and the atomic write-then-rename step.
"""

from auraon_bench.results.manifest import (
    Manifest,
    create_run_dir,
    new_run_id,
    redact_secrets,
)
from auraon_bench.results.reader import count_records, read_records, read_table
from auraon_bench.results.schema import (
    COLUMNS,
    REQUEST_SCHEMA,
    SCHEMA_VERSION,
    RequestRecord,
    records_to_batch,
)
from auraon_bench.results.sink import RecordSink, ResultsWriteError

__all__ = [
    "COLUMNS",
    "REQUEST_SCHEMA",
    "SCHEMA_VERSION",
    "Manifest",
    "RecordSink",
    "RequestRecord",
    "ResultsWriteError",
    "count_records",
    "create_run_dir",
    "new_run_id",
    "read_records",
    "read_table",
    "records_to_batch",
    "redact_secrets",
]
