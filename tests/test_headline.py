"""The headline: sentences computed from the summary objects, checked against those objects,
so a sentence cannot say what the tables do not."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from auraon_bench.analysis.load_summary import INPUT_COLUMNS, summarize_run
from auraon_bench.report.document import Heading, Paragraph, build_document, sample_findings
from auraon_bench.report.headline import MAX_SENTENCES, PLAN_HEADROOM, headline
from auraon_bench.results.reader import read_compact
from auraon_bench.results.run import Part, Run, read_run
from auraon_bench.results.schema import RequestRecord
from auraon_bench.results.sink import RecordSink
from tests.conftest import FIXTURES

RUNS = FIXTURES / "runs"


def test_an_experiment_headline_states_its_summaries_figures() -> None:
    run = read_run(RUNS / "experiment")
    sentences = headline(run)
    assert 3 <= len(sentences) <= MAX_SENTENCES
    parts = [p for p in run.parts if p.kind != "limits"]
    attempts = sum(p.load_summary.overall.errors.attempts for p in parts)
    limited = sum(p.load_summary.overall.errors.rate_limited for p in parts)
    assert sentences[0] == f"Of {attempts} measured attempts, {limited} were rate limited (429)."
    assert run.summary is not None
    failed = [v for v in run.summary.slo if v.verdict == "fail"]
    assert sentences[1].startswith(f"{len(failed)} of {len(run.summary.slo)} SLOs fail: ")
    assert f"{failed[0].part}/{failed[0].arm} {failed[0].objective}" in sentences[1]
    evaluation = run.part("eval").evaluation
    assert evaluation is not None
    best = evaluation.best()
    assert best is not None
    assert sentences[2].startswith(f"In eval, {best.arm} is the most accurate ({best.accuracy:.1%}")
    fit = run.part("sweep").plan_fit
    assert fit is not None
    plan = fit.cheapest_fit(PLAN_HEADROOM)
    assert plan is not None and f"headroom is {plan}" in sentences[-1]
    assert f"{fit.needed_rpm:,.0f} requests/min" in sentences[-1]
    assert "too little to choose a plan by" in sentences[-1]  # an 11 s sweep


def test_the_cheapest_arm_at_equal_quality_lies_within_the_best_arms_interval() -> None:
    evaluation = read_run(RUNS / "eval").parts[0].evaluation
    assert evaluation is not None
    sentence = next(s for s in headline(read_run(RUNS / "eval")) if "most accurate" in s)
    best = evaluation.best()
    assert best is not None and best.ci_low is not None
    named = re.search(r"the cheapest arm within its interval is (\S+) \(", sentence)
    assert named is not None, sentence
    arm = named.group(1)
    row = evaluation.accuracy.row(arm=arm)
    assert row.accuracy is not None and row.accuracy >= best.ci_low
    cost = evaluation.cost.rows[arm].per_request_usd
    assert cost is not None and f"${cost:.6f}/request" in sentence
    # No arm inside the interval is cheaper.
    for other in evaluation.accuracy.rows:
        other_cost = evaluation.cost.rows[str(other.arm)].per_request_usd
        if other.accuracy is not None and other.accuracy >= best.ci_low and other_cost is not None:
            assert other_cost >= cost


def test_a_load_run_names_its_arms_extremes() -> None:
    run = read_run(RUNS / "load-sweep")
    sentence = next(s for s in headline(run) if s.startswith("Latency p95 runs from"))
    arms = [a for a in run.parts[0].load_summary.arms if a.ok]
    fastest = min(arms, key=lambda a: a.latency_s.get(95))
    cheapest = min(arms, key=lambda a: a.cost.per_1k_requests_usd)
    assert f"from {fastest.latency_s.get(95):.3g} s ({fastest.arm}, n={fastest.latency_s.n})" in (
        sentence
    )
    assert f"from ${cheapest.cost.per_1k_requests_usd:.4f} ({cheapest.arm})" in sentence


def _row(arm: str, i: int, ok: bool) -> RequestRecord:
    return RequestRecord(
        run_id="r",
        arm=arm,
        request_id=i,
        attempt=1,
        warmup=False,
        status="ok" if ok else "http_error",
        http_status=200 if ok else 400,
        error_type=None if ok else "invalid_request_error",
        error_message=None if ok else "unknown model",
        t_sent=float(i),
        t_done=i + 0.2,
        ttft_s=0.1 if ok else None,
        latency_s=0.2 if ok else None,
    )


def _part(run_dir: Path, rows: list[RequestRecord]) -> Part:
    with RecordSink(run_dir) as sink:
        for record in rows:
            sink.add(record)
    summary = summarize_run(read_compact(run_dir, INPUT_COLUMNS))
    return Part(run_dir.name, "load", run_dir, {"status": "complete"}, summary, None)


def test_a_failed_arm_comes_first_and_is_called_no_result(tmp_path: Path) -> None:
    rows = [_row("gpt-4o", i, True) for i in range(8)] + [_row("nope", i, False) for i in range(5)]
    part = _part(tmp_path / "mixed", rows)
    run = Run(tmp_path, {"status": "complete"}, (part,), "load")
    sentences = headline(run)
    assert sentences[0] == (
        "Not a result: every attempt of arm nope (5 attempts) failed, so there is "
        "nothing to measure there."
    )
    ok = part.load_summary.arm("gpt-4o")
    assert sentences[1] == (f"gpt-4o answered with latency p95 {ok.latency_s.get(95):.3g} s (n=8).")
    doc = build_document([run])
    heading = next(i for i, b in enumerate(doc.blocks) if isinstance(b, Heading))
    assert doc.blocks[heading].text == "In short"
    paragraph = doc.blocks[heading + 1]
    assert isinstance(paragraph, Paragraph) and paragraph.text == " ".join(sentences)


def test_few_samples_are_a_note_unless_an_slo_judges_them(tmp_path: Path) -> None:
    part = _part(tmp_path / "small", [_row("gpt-4o", i, True) for i in range(8)])
    run = Run(tmp_path, {"status": "complete"}, (part,), "load")
    warnings, notes = sample_findings(run)
    assert warnings == []
    assert notes == ["gpt-4o has n=8 ok attempts: its p95/p99 rest on a handful of values"]
    # The experiment fixture judges ttft p95 on its sweep arms (n < 30): a warning there.
    warnings, _ = sample_findings(read_run(RUNS / "experiment"))
    assert any(w.startswith("TOO FEW SAMPLES: sweep/auto has n=") for w in warnings)


def test_every_headline_figure_is_finite() -> None:
    for name in ("experiment", "eval", "load-sweep", "load-sweep-b"):
        for sentence in headline(read_run(RUNS / name)):
            assert "nan" not in sentence.lower() and "none" not in sentence.lower(), sentence
            numbers = [float(x.replace(",", "")) for x in re.findall(r"\d[\d,]*\.?\d*", sentence)]
            assert all(np.isfinite(numbers)), sentence


def test_an_evaluations_headline_reads_no_records() -> None:
    # Sentences come from summaries; only the plan sentence needs records (the plan fit).
    run = read_run(RUNS / "eval")
    headline(run)
    assert "records" not in run.parts[0].__dict__
