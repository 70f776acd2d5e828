"""Grade an evaluation's records and write the grades into its ``requests.parquet``.

Each record is graded against its dataset item (matched by ``prompt_id``). A failed request, an
empty or a refused answer scores 0 and stays in the denominator. Items no grader can score
without a judge (``judge`` with no verdict, ``none``) are left ungraded: ``correct`` is null and
``grade_failure`` says why, so accuracy is computed over graded items only and the ungraded
count is reported beside it.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from auraon_bench.data.dataset import PromptItem
from auraon_bench.data.graders import GradeResult, grade
from auraon_bench.results.layout import REQUESTS_FILE, write_atomically
from auraon_bench.results.reader import read_table
from auraon_bench.results.schema import REQUEST_SCHEMA

GRADE_COLUMNS = ("correct", "score", "extracted_answer", "extraction_method", "grade_failure")
UNGRADED = frozenset({"needs_judge", "ungraded"})
# Code answers run in subprocesses; a few at a time keeps a 2-core machine responsive.
GRADING_THREADS = 2


def grade_record(item: PromptItem | None, text: str | None, ok: bool) -> GradeResult | None:
    if item is None:
        return None
    if item.grader in ("judge", "none"):
        # No verdict without a judge, whatever happened to the request: counting only the
        # failures of such items would bias accuracy against the arms that failed them.
        return GradeResult(
            None, "none", 0.0, False, "needs_judge" if item.grader == "judge" else "ungraded"
        )
    return grade(item, text, ok=ok)


def grade_records(df: pd.DataFrame, items: Mapping[str, PromptItem]) -> pd.DataFrame:
    """One row of grade columns per record, in the records' order."""
    prompt_ids = df["prompt_id"].astype(object).where(df["prompt_id"].notna(), None).tolist()
    texts = df["response_text"].astype(object).where(df["response_text"].notna(), None).tolist()
    oks = (df["status"].astype(object) == "ok").tolist()
    with ThreadPoolExecutor(GRADING_THREADS) as pool:
        results = list(
            pool.map(
                lambda args: grade_record(items.get(args[0]), args[1], args[2]),
                zip(prompt_ids, texts, oks, strict=True),
            )
        )
    rows = []
    for result in results:
        if result is None:
            rows.append((None, None, None, None, "unknown_prompt"))
            continue
        ungraded = result.failure in UNGRADED
        rows.append(
            (
                None if ungraded else bool(result.correct),
                None if ungraded else float(result.score),
                result.extracted_answer,
                result.extraction_method,
                result.failure,
            )
        )
    return pd.DataFrame(rows, columns=list(GRADE_COLUMNS), index=df.index)


def write_grades(run_dir: Path, grades: pd.DataFrame) -> None:
    """Rewrite ``requests.parquet`` with the grade columns filled (atomically: old or new)."""
    table = read_table(run_dir)
    if table.num_rows != len(grades):
        raise ValueError(f"{len(grades)} grades for {table.num_rows} records")
    for name in GRADE_COLUMNS:
        field = REQUEST_SCHEMA.field(name)
        values = grades[name].astype(object).where(grades[name].notna(), None).tolist()
        table = table.set_column(
            table.schema.get_field_index(name), field, pa.array(values, type=field.type)
        )
    table = table.replace_schema_metadata(REQUEST_SCHEMA.metadata)
    write_atomically(
        Path(run_dir) / REQUESTS_FILE, lambda path: pq.write_table(table, path, compression="zstd")
    )
