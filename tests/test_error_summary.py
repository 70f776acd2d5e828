"""The most frequent errors per arm: grouped once in the run summary, read back as the same
objects, and shown as they are by the console, the eval report and the report; a part or arm
whose every attempt failed is called failed everywhere, by one rule."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from auraon_bench.analysis.error_groups import (
    MESSAGE_CHARS,
    TOP_GROUPS,
    ErrorGroup,
    every_attempt_failed,
    normalize_message,
)
from auraon_bench.analysis.load_summary import INPUT_COLUMNS, RunSummary, summarize_run
from auraon_bench.cli.render import error_lines
from auraon_bench.eval.report import build_report
from auraon_bench.experiment.summary import ExperimentSummary, PartHeadline
from auraon_bench.report.document import (
    Callout,
    build_document,
    run_warnings,
    sample_findings,
)
from auraon_bench.report.error_tables import errors_table
from auraon_bench.report.render import to_markdown
from auraon_bench.report.tables import accuracy_table, overview_table, part_tables
from auraon_bench.results.files import read_result
from auraon_bench.results.reader import read_compact
from auraon_bench.results.run import Part, Run, read_run
from auraon_bench.results.schema import RequestRecord
from auraon_bench.results.sink import RecordSink
from auraon_bench.results.typed import from_dict
from tests.conftest import FIXTURES

LITELLM_400 = (
    "litellm.BadRequestError: Invalid model name passed in model=fast-mock. Call `/v1/models` "
    "to view available models for your key. request_id=req_{0:04d}abcdef{0}"
)
# What the twelve messages above become: one group, the request id replaced.
MOCK_MESSAGE = (
    "litellm.BadRequestError: Invalid model name passed in model=fast-mock. Call `/v1/models` "
    "to view available models for your key. request_id=req_{id}"
)


def row(arm: str, i: int, status: str = "ok", **extra: object) -> dict[str, object]:
    """One attempt at ``t_sent = i`` seconds: ok with a 0.2 s answer unless ``status`` says."""
    ok = status == "ok"
    return {
        "run_id": "r",
        "arm": arm,
        "request_id": i,
        "attempt": 1,
        "warmup": False,
        "status": status,
        "http_status": 200 if ok else None,
        "error_type": None,
        "error_message": None,
        "t_sent": float(i),
        "t_done": i + 0.2,
        "ttft_s": 0.1 if ok else np.nan,
        "latency_s": 0.2 if ok else np.nan,
        **extra,
    }


def records() -> pd.DataFrame:
    """Arm fast-mock: 12 attempts, all refused (HTTP 400) with a per-request id in the message,
    plus a refused warm-up that must not count. Arm gpt-4o: 10 attempts, 6 ok, 3 429s whose
    waits differ, 1 read timeout."""
    rows = [row("fast-mock", 100, "http_error", warmup=True, http_status=400)]
    for i in range(12):
        message = LITELLM_400.format(i)
        rows.append(
            row("fast-mock", i, "http_error", http_status=400,
                error_type="invalid_request_error", error_message=message)
        )  # fmt: skip
    for i in range(20, 26):
        rows.append(row("gpt-4o", i))
    for i, wait in zip(range(26, 29), ("1.5", "0.25", "12"), strict=True):
        rows.append(
            row("gpt-4o", i, "rate_limited", http_status=429, error_type="rate_limit_exceeded",
                error_message=f"Rate limit reached. Limit 60, Used 60. Try again in {wait}s.")
        )  # fmt: skip
    rows.append(row("gpt-4o", 29, "timeout", error_type="read", error_message="ReadTimeout: "))
    frame = pd.DataFrame(rows)
    frame["http_status"] = frame["http_status"].astype("Int32")
    return frame


# --- the groups and the rule ----------------------------------------------------------------


def test_normalizing_merges_per_request_details_and_keeps_names() -> None:
    a = normalize_message(LITELLM_400.format(1))
    assert a == normalize_message(LITELLM_400.format(977))  # one cause, one group
    assert a == MOCK_MESSAGE  # the model name and the path stay; the request id goes
    assert normalize_message("Try again in 1.234s. Used 57 of 60") == (
        "Try again in {n}s. Used {n} of {n}"
    )
    kept = "gpt-4o, claude-sonnet-4-6 and llama-3.1-8b at 127.0.0.1 over HTTP/1.1"
    assert normalize_message(kept) == kept  # names, addresses and versions are not counts
    ids = "id 3f2a9c1e-1111-2222-3333-444455556666 chatcmpl-9AbCdEf12345 hash deadbeefcafe12"
    assert normalize_message(ids) == "id {id} chatcmpl-{id} hash {id}"
    assert normalize_message("  two\n  lines ") == "two lines"
    assert normalize_message(None) == ""
    long = normalize_message("x" * 1000)
    assert len(long) == MESSAGE_CHARS and long.endswith("…")


def test_the_summary_holds_the_top_groups_of_each_arm() -> None:
    summary = summarize_run(records())
    mock, gpt = summary.arm("fast-mock").errors, summary.arm("gpt-4o").errors
    assert mock.top_errors == (
        ErrorGroup("http_error", 400, "invalid_request_error", MOCK_MESSAGE, 12),
    )
    assert mock.distinct_errors == 1 and mock.attempts == 12  # the warm-up is not counted
    assert mock.all_failed and mock.not_ok == 12
    # 429s are errors too; their differing waits merge; the largest group comes first.
    assert gpt.top_errors == (
        ErrorGroup(
            "rate_limited", 429, "rate_limit_exceeded",
            "Rate limit reached. Limit {n}, Used {n}. Try again in {n}s.", 3,
        ),
        ErrorGroup("timeout", None, "read", "ReadTimeout:", 1),
    )  # fmt: skip
    assert not gpt.all_failed and gpt.not_ok == 4
    assert summary.overall.errors.top_errors is not None
    assert summary.overall.errors.top_errors[0].count == 12
    assert not summary.overall.errors.all_failed  # gpt-4o answered 6 times


def test_only_the_largest_groups_are_kept_and_the_rest_counted() -> None:
    rows = [
        row(
            "m", i, "http_error", http_status=500 + (i % 8), error_message=f"kind {chr(97 + i % 8)}"
        )
        for i in range(8 * 3 + 2)
    ]  # kinds a and b: 4 each, the six others 3 each
    errors = summarize_run(pd.DataFrame(rows)).arm("m").errors
    assert errors.distinct_errors == 8
    assert errors.top_errors is not None and len(errors.top_errors) == TOP_GROUPS
    assert [(g.http_status, g.count) for g in errors.top_errors] == [
        (500, 4), (501, 4), (502, 3), (503, 3), (504, 3),
    ]  # fmt: skip


def test_categorical_columns_group_like_plain_ones() -> None:
    # read_compact hands the summary categoricals, with categories no row uses.
    frame = records()
    plain = summarize_run(frame)
    for name in ("status", "error_type", "error_message", "arm"):
        values = frame[name].astype(object).tolist()
        used = [v for v in dict.fromkeys(values) if pd.notna(v)]
        frame[name] = pd.Categorical(values, categories=[*used, "unused"])
    assert summarize_run(frame).arm("gpt-4o").errors == plain.arm("gpt-4o").errors


def test_every_attempt_failed_needs_an_attempt_and_no_ok() -> None:
    assert every_attempt_failed(40, 0)
    assert not every_attempt_failed(40, 1)
    assert not every_attempt_failed(0, 0)  # nothing sent: nothing failed
    assert not every_attempt_failed(5, None)  # a rate-limit probe's headline has no ok count


# --- written and read back as the same objects ----------------------------------------------


def test_the_groups_round_trip_through_summary_json(tmp_path: Path) -> None:
    summary = summarize_run(records())
    path = tmp_path / "summary.json"
    path.write_text(json.dumps(summary.to_dict()))
    back = read_result(path, RunSummary)
    assert back == summary
    assert back is not None and back.arm("fast-mock").errors.top_errors == (
        summary.arm("fast-mock").errors.top_errors
    )


def test_a_summary_from_before_the_groups_reads_with_none() -> None:
    part = read_run(FIXTURES / "runs" / "load-sweep").parts[0]
    errors = part.load_summary.arm("auto").errors
    assert errors.top_errors is None and errors.distinct_errors is None
    assert errors.not_ok == 12  # its counts are still there
    assert errors_table(part) is None  # the report does not invent groups it was never given


def test_a_failed_part_is_marked_in_the_experiment_summary_and_read_back() -> None:
    failed = PartHeadline("load", "steady", "complete", requests=40, ok=0, rate_limited=0)
    fine = PartHeadline("eval", "eval", "complete", requests=80, ok=79)
    probe = PartHeadline("limits", "probe", "complete", requests=12, findings={"pass": 3})
    summary = ExperimentSummary("x", "0" * 64, True, "complete",
                                {"steady": failed, "eval": fine, "probe": probe}, ())  # fmt: skip
    data = summary.to_dict()
    assert data["parts"]["steady"]["failed"] is True
    assert [data["parts"][n]["failed"] for n in ("eval", "probe")] == [False, False]
    assert from_dict(ExperimentSummary, data) == summary and summary.failed_parts == ["steady"]
    # A file written before ``failed`` existed: derived when read, from requests and ok.
    del data["parts"]["steady"]["failed"]
    assert from_dict(ExperimentSummary, data).parts["steady"].failed


# --- shown as held: console, eval report, report ---------------------------------------------


def test_the_console_lines_say_an_arm_failed_and_why() -> None:
    lines = error_lines(summarize_run(records()))
    assert lines[0] == "  fast-mock: all 12 attempts failed"
    assert lines[1].split() == [
        "12", "http_error", "400", "invalid_request_error:", *MOCK_MESSAGE.split()
    ]  # fmt: skip
    assert lines[2] == "  gpt-4o: 4 of 10 attempts failed"
    assert lines[3].split()[:3] == ["3", "rate_limited", "429"] and len(lines) == 5
    clean = summarize_run(records().query("status == 'ok'"))
    assert error_lines(clean) == []  # nothing to say when every attempt was ok


def eval_frame() -> pd.DataFrame:
    """Four prompts; ``dead`` never answers, ``wrong`` answers every one wrongly, ``half`` gets
    two of four right."""
    rows = []
    for arm, correct in (("dead", None), ("wrong", [0, 0, 0, 0]), ("half", [1, 0, 1, 0])):
        for i in range(4):
            status = "http_error" if correct is None else "ok"
            rows.append(
                {
                    **row(arm, len(rows), status),
                    "prompt_id": f"p{i}",
                    "category": "math",
                    "correct": None if correct is None else bool(correct[i]),
                    "score": None if correct is None else float(correct[i]),
                    "cost_usd": np.nan if correct is None else 0.001,
                }
            )
    return pd.DataFrame(rows)


def test_an_arm_that_never_answered_is_never_the_best_nor_given_an_accuracy() -> None:
    report = build_report(eval_frame(), ["dead", "wrong", "half"])
    assert report.accuracy.row("dead").accuracy == 0.0  # what the formula gives: failed = wrong
    assert report.failed_arms == ("dead",)
    best = report.best()
    assert best is not None and best.arm == "half"
    only_zero = build_report(eval_frame().query("arm != 'half'"), ["dead", "wrong"])
    best = only_zero.best()
    assert best is not None and best.arm == "wrong"  # 0% answered beats no answer at all
    nobody = build_report(eval_frame().query("arm == 'dead'"), ["dead"])
    assert nobody.best() is None and nobody.failed_arms == ("dead",)
    part = Part("eval", "eval", Path("eval"), {}, summarize_run(eval_frame()), report)
    table = accuracy_table(part)
    assert table is not None
    dead = table.cells()[[r[0] for r in table.rows].index("dead")]
    assert dead[2] == "-" and dead[5] == "100.0%"  # no accuracy; every answer failed
    assert "no answer arrived from dead" in table.note


def _part(run_dir: Path, frame: pd.DataFrame) -> Part:
    """A load part on disk, summarised as the load session does: records written through the
    sink, read back compactly (string columns as categoricals), then summarised."""
    with RecordSink(run_dir) as sink:
        for values in frame.to_dict("records"):
            sink.add(RequestRecord(**{k: None if pd.isna(v) else v for k, v in values.items()}))
    summary = summarize_run(read_compact(run_dir, INPUT_COLUMNS))
    return Part(run_dir.name, "load", run_dir, {"status": "complete"}, summary, None)


def test_the_report_tables_the_groups_and_warns_first_of_failures(tmp_path: Path) -> None:
    frame = records()
    mixed = _part(tmp_path / "mixed", frame)
    dead = _part(tmp_path / "dead", frame.query("arm == 'fast-mock'"))
    from_memory = [a.errors for a in summarize_run(frame).arms]
    assert [a.errors for a in mixed.load_summary.arms] == from_memory  # the same from disk
    run = Run(Path("run"), {"status": "complete", "experiment": {"name": "x", "sha256": "0" * 64}},
              (mixed, dead), "experiment")  # fmt: skip
    table = errors_table(mixed)
    assert table is not None and table.key == "errors-mixed"
    assert [r[0] for r in table.rows] == ["fast-mock", "gpt-4o", "gpt-4o"]
    assert table.cells()[0][:6] == ["fast-mock", "ALL FAILED", "12", "12", "12", "http_error"]
    assert table.rows[0][6:] == (400, "invalid_request_error", MOCK_MESSAGE)
    assert table.cells()[1][1] == "some failed"
    # In each part's tables, right after the counts it explains.
    keys = [t.key for t in part_tables(mixed)]
    assert keys.index("errors-mixed") == keys.index("load-mixed") + 1
    warnings = run_warnings(run)
    # The failed part first, though it comes second in the run; then the failed arm.
    assert warnings[0].startswith("FAILED PART dead: all 12 attempts failed, not one answer")
    assert warnings[1] == (
        "ARM FAILED: mixed/fast-mock: all 12 attempts failed; most frequent: http_error 400 "
        f"invalid_request_error: {MOCK_MESSAGE} (x12)"
    )
    # The failed arm's n=0 and 100% lines would only repeat it; the other arm's stay.
    assert not any("fast-mock" in w for w in warnings[2:])
    # Few samples with no SLO judging them: a note, not a warning.
    assert not any("TOO FEW SAMPLES" in w for w in warnings)
    assert "mixed/gpt-4o has n=6 ok attempts" in " ".join(sample_findings(run)[1])
    assert overview_table(run).cells()[1][2] == "complete, ALL FAILED"
    doc = build_document([run])
    callout = next(b for b in doc.blocks if isinstance(b, Callout) and b.kind == "warning")
    assert callout.lines[:2] == tuple(warnings[:2])
    markdown = to_markdown(doc, {})
    assert markdown.index("FAILED PART dead") < markdown.index("## What was run")
    assert "**Most frequent errors per arm: dead**" in markdown


def test_a_single_load_run_that_failed_is_a_failed_run(tmp_path: Path) -> None:
    dead = _part(tmp_path / "20261201-000000-dead", records().query("arm == 'fast-mock'"))
    run = Run(Path("run"), {"status": "complete"}, (dead,), "load")
    first = run_warnings(run)[0]
    assert first.startswith("FAILED RUN: all 12 attempts failed")
    assert first.endswith("(x12)")
