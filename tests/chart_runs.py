"""Small run directories for chart tests, written the way a run writes itself.

Records go through :class:`~auraon_bench.results.sink.RecordSink`, the summary is
:func:`~auraon_bench.analysis.load_summary.summarize_run` of the records read back, an
evaluation is :func:`~auraon_bench.eval.report.build_report` of the graded records, and the
manifest is a real :class:`~auraon_bench.results.manifest.Manifest`; the result is read with
:func:`~auraon_bench.results.run.read_run`, so a chart sees exactly what it sees in a report.

Each run is described by a :class:`Shape` (arms, requests, errors, streaming, accuracy, a
latency outlier); times are seeded, so the same shape gives the same run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import orjson

from auraon_bench.analysis.load_summary import INPUT_COLUMNS, summarize_run
from auraon_bench.eval.report import build_report
from auraon_bench.results.manifest import Manifest
from auraon_bench.results.reader import read_compact, read_records
from auraon_bench.results.run import Run, read_run
from auraon_bench.results.schema import RequestRecord
from auraon_bench.results.sink import RecordSink

CATEGORIES = ("math", "factual")
TEN_ARMS = (
    "auto", "auto:cheap", "gpt-4o", "gpt-4o-mini", "claude-haiku", "claude-opus-4",
    "gemini-2.5-flash", "gemini-2.5-pro", "llama-3.1-8b", "deepseek-r1",
)  # fmt: skip


@dataclass(frozen=True)
class Shape:
    """What a synthetic run looks like."""

    arms: tuple[str, ...] = ("auto", "gpt-4o-mini")
    requests: int = 40  # per arm
    duration_s: float = 10.0  # send times spread evenly over it
    stream: bool = True
    error_share: float = 0.0  # of attempts: every k-th fails
    limited_share: float = 0.0  # of attempts: every k-th gets a 429
    accuracy: float | None = None  # share of correct answers: an eval part when set
    outlier_s: float | None = None  # one attempt this slow
    costs: dict[str, float] = field(default_factory=dict)  # USD per request, by arm
    simulated: bool = True
    seed: int = 0


def _every(share: float, i: int) -> bool:
    if share <= 0:
        return False
    step = max(1, round(1 / share))
    return i % step == step - 1


def records(shape: Shape, run_id: str) -> list:
    rng = np.random.default_rng(shape.seed)
    out = []
    request_id = 0
    for arm_index, arm in enumerate(shape.arms):
        cost = shape.costs.get(arm, 0.0001 * (arm_index + 1))
        for i in range(shape.requests):
            sent = shape.duration_s * i / max(1, shape.requests)
            latency = float(rng.uniform(0.3, 0.9))
            if shape.outlier_s is not None and arm_index == 0 and i == shape.requests // 2:
                latency = shape.outlier_s
            failed = _every(shape.error_share, i) or shape.error_share >= 1
            limited = not failed and _every(shape.limited_share, i)
            ok = not failed and not limited
            tokens = 20
            ttft = latency * 0.4
            values: dict = {
                "run_id": run_id,
                "arm": arm,
                "attempt": 1,
                "request_id": request_id,
                "prompt_id": f"p{i}",
                "category": CATEGORIES[i % len(CATEGORIES)],
                "stage": 0,
                "warmup": False,
                "model_requested": arm,
                "status": "ok" if ok else ("rate_limited" if limited else "http_error"),
                "http_status": 200 if ok else (429 if limited else 500),
                "t_scheduled": sent,
                "t_sent": sent,
                "t_done": sent + (latency if ok else 0.05),
                "stream": shape.stream,
            }
            if ok:
                values.update(
                    model_reported=arm,
                    routed_to="gpt-4o-mini" if arm.startswith("auto") else None,
                    latency_s=latency,
                    prompt_tokens=50,
                    completion_tokens=tokens,
                    token_source="usage",
                    cost_usd=cost,
                    cost_source="auraon",
                )
                if shape.stream:
                    values.update(
                        t_first_token=sent + ttft,
                        t_last_token=sent + latency,
                        ttft_s=ttft,
                        ttlt_s=latency,
                        tpot_s=(latency - ttft) / (tokens - 1),
                        n_events=tokens,
                    )
            else:
                values.update(error_message="synthetic failure", cost_source="none")
            if shape.accuracy is not None:
                right = ok and (i % 100) < round(shape.accuracy * 100)
                values.update(correct=right, score=1.0 if right else 0.0)
            out.append(RequestRecord(**values))
            request_id += 1
    return out


def write_run(path: Path, shape: Shape, run_id: str = "edge") -> Run:
    """Write a run directory of ``shape`` at ``path`` and read it back."""
    path.mkdir(parents=True)
    target = {"base_url": "http://127.0.0.1:1/v1", "simulated": shape.simulated}
    options = {"arms": list(shape.arms), "stream": shape.stream, "stages": []}
    manifest = Manifest.create(path, run_id, ["auraon-bench", "load"], target=target,
                               options=options)  # fmt: skip
    with RecordSink(path) as sink:
        sink.add_many(records(shape, run_id))
    summary = summarize_run(read_compact(path, list(INPUT_COLUMNS)))
    _write_json(path / "summary.json", summary.to_dict())
    if shape.accuracy is not None:
        report = build_report(read_records(path), list(shape.arms))
        _write_json(path / "evaluation.json", report.to_dict())
    manifest.update(status="complete")
    return read_run(path)


def _write_json(path: Path, payload: object) -> None:
    path.write_bytes(orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY))


# The edge cases every chart must survive: name -> shape.
EDGE_CASES: dict[str, Shape] = {
    "zero-errors": Shape(),
    "all-errors": Shape(error_share=1.0),
    "one-request": Shape(arms=("gpt-4o-mini",), requests=1),
    "non-streaming": Shape(stream=False, limited_share=0.1),
    "eval-0pct": Shape(accuracy=0.0, arms=("auto", "gpt-4o", "llama-3.1-8b")),
    "eval-100pct": Shape(accuracy=1.0, arms=("gpt-4o", "llama-3.1-8b")),
    "eval-non-streaming": Shape(accuracy=0.5, stream=False),
    "one-arm": Shape(arms=("gpt-4o",), outlier_s=7.5),
    "ten-arms": Shape(arms=TEN_ARMS, requests=12, error_share=0.25),
    "tiny-costs": Shape(costs={"auto": 0.00002, "gpt-4o-mini": 0.000004}),
}
