"""The optional LLM judge: rates the answers to judge-graded items through the same target.

Each judged answer costs one extra request to the judge model, sent through the run's own client
(so the same target, key and timeouts) after the evaluation's load; those requests are recorded
in ``judge/requests.parquet`` beside the run's records, and their cost is reported apart from
the arms' cost. An answer whose judge request failed stays ungraded.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import anyio
import pandas as pd

from auraon_bench.client.http import MeasuringClient
from auraon_bench.client.wire import chat_body
from auraon_bench.data.dataset import PromptItem
from auraon_bench.data.graders import grade, judge_prompt
from auraon_bench.eval.report import JudgeSummary
from auraon_bench.results.schema import RequestRecord
from auraon_bench.results.sink import RecordSink

JUDGE_DIR = "judge"
JUDGE_MAX_TOKENS = 300
JUDGE_CONCURRENCY = 8


async def judge_answers(
    client: MeasuringClient,
    run_dir: Path,
    records: pd.DataFrame,
    grades: pd.DataFrame,
    items: Mapping[str, PromptItem],
    model: str,
) -> JudgeSummary:
    """Ask ``model`` to rate every ok answer to a judge item; fill ``grades`` in place."""
    wanted = [
        (index, items[prompt_id], text)
        for index, prompt_id, text, status in zip(
            records.index,
            records["prompt_id"],
            records["response_text"],
            records["status"],
            strict=True,
        )
        if prompt_id in items
        and items[prompt_id].grader == "judge"
        and status == "ok"
        and isinstance(text, str)
        and text.strip()
    ]
    run_id = str(records["run_id"].iloc[0]) if len(records) else "judge"
    judged: list[tuple[int, PromptItem, str, RequestRecord]] = []
    limiter = anyio.CapacityLimiter(JUDGE_CONCURRENCY)

    async def one(index: int, item: PromptItem, text: str) -> None:
        record = RequestRecord(
            run_id=run_id,
            arm=f"judge:{model}",
            status="ok",
            prompt_id=item.id,
            category=item.category,
            model_requested=model,
        )
        body = chat_body(model, judge_prompt(item, text), stream=False, max_tokens=JUDGE_MAX_TOKENS)
        async with limiter:
            await client.chat(body, record, stream=False)
        judged.append((index, item, text, record))

    async with anyio.create_task_group() as group:
        for index, item, text in wanted:
            group.start_soon(one, index, item, text)
    for index, item, text, record in judged:
        if record.status != "ok":
            grades.loc[index, "grade_failure"] = "judge_failed"
            continue
        result = grade(item, text, judge_verdict=record.response_text)
        unparsable = result.failure == "judge_unparsable"
        grades.loc[
            index, ["correct", "score", "extracted_answer", "extraction_method", "grade_failure"]
        ] = [
            None if unparsable else result.correct,
            None if unparsable else result.score,
            result.extracted_answer,
            result.extraction_method,
            result.failure,
        ]
    with RecordSink(run_dir / JUDGE_DIR) as sink:
        sink.add_many(record for *_, record in judged)
    costs = [r.cost_usd for *_, r in judged if r.cost_usd is not None]
    sources: dict[str, int] = {}
    for *_, record in judged:
        sources[record.cost_source or "none"] = sources.get(record.cost_source or "none", 0) + 1
    return JudgeSummary(
        model=model,
        requests=len(judged),
        ok=sum(r.status == "ok" for *_, r in judged),
        cost_usd=float(sum(costs)),
        cost_sources=sources,
    )
