"""Result files read back as their typed, frozen objects: the round trip ``to_dict`` ->
``from_dict``, every fixture run written by an earlier version, and the one-line errors of a
file too new or misshapen."""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from auraon_bench.analysis.limits import Finding, LimitsSummary, Trial
from auraon_bench.analysis.load_summary import RunSummary, summarize_run
from auraon_bench.analysis.slo import SloResult
from auraon_bench.errors import ResultFileError
from auraon_bench.eval.report import EvalReport
from auraon_bench.experiment.summary import ExperimentSummary, PartHeadline
from auraon_bench.results.files import current_version, read_result
from auraon_bench.results.run import read_run
from auraon_bench.results.typed import from_dict
from tests.conftest import FIXTURES

RUNS = FIXTURES / "runs"
FIXTURE_RUNS = sorted(p.name for p in RUNS.iterdir() if (p / "manifest.json").is_file())


def same(a: Any, b: Any, where: str = "") -> None:
    """``a == b`` field by field, NaN equal to NaN; the assertion names the first difference."""
    if dataclasses.is_dataclass(a) and not isinstance(a, type):
        assert type(a) is type(b), f"{where}: {type(a).__name__} != {type(b).__name__}"
        for f in dataclasses.fields(a):
            same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    elif isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b), f"{where}: keys {list(a)} != {b!r}"
        for key in a:
            same(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, tuple | list):
        assert type(a) is type(b) and len(a) == len(b), f"{where}: {a!r} != {b!r}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            same(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and math.isnan(a):
        assert isinstance(b, float) and math.isnan(b), f"{where}: NaN != {b!r}"
    else:
        assert type(a) is type(b) and a == b, f"{where}: {a!r} != {b!r}"


def through_json(obj: Any) -> Any:
    """``obj`` as its file holds it, read back: to_dict, JSON text, from_dict."""
    return from_dict(type(obj), json.loads(json.dumps(obj.to_dict())))


# --- round trips --------------------------------------------------------------------------


def records_frame() -> pd.DataFrame:
    """Two arms over two sweep stages: ok answers, a retried 429, a timeout, a warm-up row, an
    answer without a price and one without a token count."""
    rows = []
    rng = np.random.default_rng(3)
    for i in range(40):
        arm = ("auto", "gpt-4o-mini")[i % 2]
        stage = i // 20
        t = 0.5 * i
        ttft = float(rng.uniform(0.1, 0.6))
        latency = ttft + float(rng.uniform(0.2, 1.0))
        status = "ok"
        if i == 7:
            status = "rate_limited"
        elif i == 13:
            status = "timeout"
        ok = status == "ok"
        rows.append(
            {
                "run_id": "r1",
                "arm": arm,
                "attempt": 1,
                "request_id": i,
                "stage": stage,
                "warmup": i == 0,
                "status": status,
                "http_status": 200 if ok else (429 if status == "rate_limited" else None),
                "error_type": None if ok else status,
                "t_scheduled": t,
                "t_sent": t,
                "t_first_token": t + ttft if ok else np.nan,
                "t_last_token": t + latency - 0.01 if ok else np.nan,
                "t_done": t + latency,
                "ttft_s": ttft if ok else np.nan,
                "ttlt_s": latency - 0.01 if ok else np.nan,
                "latency_s": latency if ok else np.nan,
                "tpot_s": (latency - 0.01 - ttft) / 31 if ok else np.nan,
                "itl_s": [0.02, 0.03, 0.025] if ok else [],
                "schedule_lag_s": 0.001 * (i % 5),
                "prompt_tokens": 100 + i if i != 21 else None,
                "completion_tokens": 32 if ok else None,
                "token_source": "usage" if i != 21 else "none",
                "cost_usd": (0.0005 if arm == "auto" else 0.00004) if i != 11 else np.nan,
                "cost_source": "blockrun" if i != 11 else "none",
                "server_latency_ms": 1000 * (latency - 0.001) if ok else np.nan,
            }
        )
    retry = dict(rows[7], attempt=2, status="ok", http_status=200, error_type=None)
    retry.update(t_sent=4.0, t_done=4.6, ttft_s=0.2, latency_s=0.6, t_first_token=4.2)
    retry.update(t_last_token=4.59, ttlt_s=0.59, tpot_s=0.012, completion_tokens=32)
    retry.update(server_latency_ms=598.0, cost_usd=0.0005)
    rows.append(retry)
    frame = pd.DataFrame(rows)
    for name in ("attempt", "stage", "prompt_tokens", "completion_tokens", "http_status"):
        frame[name] = frame[name].astype("Int32")
    frame["warmup"] = frame["warmup"].astype("boolean")
    return frame


def test_a_run_summary_round_trips() -> None:
    summary = summarize_run(records_frame(), slos={"ttft_s": 0.4, "latency_s": 1.0})
    assert len(summary.stages) == 2 and [a.arm for a in summary.arms] == ["auto", "gpt-4o-mini"]
    assert summary.overall.goodput is not None and summary.overall.errors.rate_limited == 1
    summary = dataclasses.replace(
        summary,
        simulated=True,
        status="complete",
        self_check={"client_bound": False, "achieved_rate_rps": 2.0, "workers": []},
        warnings=("SIMULATED",),
    )
    same(from_dict(RunSummary, summary.to_dict()), summary, "RunSummary")
    same(through_json(summary), summary, "RunSummary")
    assert through_json(summary) == summary  # no NaN survives to_dict: plain equality holds


def test_a_run_summary_of_nothing_round_trips() -> None:
    summary = summarize_run(records_frame().iloc[:0])
    assert summary.overall.requests == 0 and summary.overall.ttft_s.p50 is None
    assert through_json(summary) == summary


def test_a_limits_summary_round_trips() -> None:
    limits = LimitsSummary(
        simulated=True,
        model="gpt-4o-mini",
        plan="starter",
        plan_source="x-ratelimit-limit-requests header",
        stop_reason=None,
        requests_sent=412,
        tokens_reserved=52_000,
        findings=(
            Finding("sustainable requests/min", 58.5, 60.0, "req/min", "pass", "within 5%", 300),
            Finding("Retry-After honest", None, None, "s", "unknown", "no 429 seen", 0),
        ),
        time_scale=0.02,
        phases=("requests", "burst"),
        trials={"requests": (Trial(30.0, False), Trial(60.0, False), Trial(90.0, True))},
        burst_accepted={"requests": 60},
        burst_recovery_s=1.25,
        warnings=("SIMULATED",),
    )
    same(through_json(limits), limits, "LimitsSummary")
    assert from_dict(LimitsSummary, limits.to_dict()) == limits


def test_an_experiment_summary_round_trips() -> None:
    summary = ExperimentSummary(
        experiment="small",
        sha256="e9" * 32,
        simulated=True,
        status="complete",
        parts={
            "eval": PartHeadline(
                "eval",
                "eval",
                "complete",
                96,
                ok=96,
                rate_limited=0,
                cost_usd=0.009,
                client_bound=False,
                accuracy={"auto": 1.0, "gpt-4o": None},
            ),
            "probe": PartHeadline(
                "limits",
                "probe",
                "complete",
                412,
                plan="starter",
                findings={"pass": 3, "unknown": 1},
                stop_reason=None,
            ),
        },
        slo=(
            SloResult(
                "ttft_p95_ms", "ttft p95 <= 2000 ms", "eval", "auto", 0.97, 32, "pass", "969.1 ms"
            ),
            SloResult("accuracy", "accuracy >= 60.00%", "eval", "gpt-4o", None, 0, "unknown"),
        ),
        warnings=("SLO MISSED: none",),
    )
    same(through_json(summary), summary, "ExperimentSummary")
    assert from_dict(ExperimentSummary, summary.to_dict()) == summary


# --- files written by earlier versions ------------------------------------------------------


@pytest.mark.parametrize("name", FIXTURE_RUNS)
def test_every_fixture_run_reads_into_typed_objects(name: str) -> None:
    run = read_run(RUNS / name)
    assert run.parts
    for part in run.parts:
        assert isinstance(part.summary, RunSummary), part.path
        assert part.load_summary is part.summary  # the file's object, not a recomputation
        assert part.summary.arms and all(isinstance(a.arm, str) for a in part.summary.arms)
        assert part.summary.overall.requests == sum(a.requests for a in part.summary.arms)
        if part.kind == "eval":
            assert isinstance(part.evaluation, EvalReport), part.path
            assert {r.arm for r in part.evaluation.accuracy.rows} <= set(part.evaluation.arms)
        else:
            assert part.evaluation is None
        assert part.limits is None or isinstance(part.limits, LimitsSummary)
    if run.kind == "experiment":
        assert isinstance(run.summary, ExperimentSummary)
        assert set(run.summary.parts) == {p.name for p in run.parts}
        assert all(isinstance(v, SloResult) for v in run.summary.slo)
    else:
        assert run.summary is None


def test_a_part_cut_short_is_summarised_once_from_its_records(tmp_path: Path) -> None:
    shutil.copytree(RUNS / "load-sweep", tmp_path / "run")
    written = read_run(tmp_path / "run").parts[0].summary
    (tmp_path / "run" / "summary.json").unlink()
    part = read_run(tmp_path / "run").parts[0]
    assert part.summary is None
    computed = part.load_summary
    assert isinstance(computed, RunSummary) and part.load_summary is computed
    assert written is not None
    assert [a.arm for a in computed.arms] == [a.arm for a in written.arms]
    assert computed.overall.requests == written.overall.requests


# --- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "file"),
    [
        (RunSummary, "summary.json"),
        (EvalReport, "evaluation.json"),
        (LimitsSummary, "limits.json"),
        (ExperimentSummary, "summary.json"),
    ],
)
def test_a_file_newer_than_known_is_a_one_line_error_naming_it(
    tmp_path: Path, cls: type, file: str
) -> None:
    path = tmp_path / file
    newer = current_version(cls) + 1
    path.write_text(json.dumps({"schema_version": newer}))
    with pytest.raises(ResultFileError) as info:
        read_result(path, cls)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    assert f"schema version {newer} is newer" in message and info.value.source == str(path)


def edited_run(tmp_path: Path, edit: Any, file: str = "summary.json") -> Path:
    """A copy of the load-sweep fixture run with ``edit`` applied to one of its JSON files."""
    run = tmp_path / "run"
    shutil.copytree(RUNS / "load-sweep", run)
    data = json.loads((run / file).read_text())
    edit(data)
    (run / file).write_text(json.dumps(data))
    return run


def test_a_run_with_a_newer_summary_is_refused_naming_the_file(tmp_path: Path) -> None:
    run = edited_run(tmp_path, lambda d: d.update(schema_version=99))
    with pytest.raises(ResultFileError) as info:
        read_run(run)
    assert str(info.value).startswith(f"{run / 'summary.json'}: schema version 99 is newer")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("edit", "field", "problem"),
    [
        (
            lambda d: d["overall"].update(ttft_s="fast"),
            "RunSummary.overall.ttft_s",
            "expected an object",
        ),
        (
            lambda d: d["arms"]["auto"]["errors"].update(attempts="many"),
            "RunSummary.arms.auto.errors.attempts",
            "expected an integer",
        ),
        (
            lambda d: d["arms"]["gpt-4o-mini"]["cost"].update(per_request_usd="cheap"),
            "RunSummary.arms.gpt-4o-mini.cost.per_request_usd",
            "expected a number",
        ),
        (lambda d: d["overall"].pop("requests"), "RunSummary.overall.requests", "missing"),
        (
            lambda d: d["overall"]["latency_s"].update(n=None),
            "RunSummary.overall.latency_s.n",
            "must not be null",
        ),
        (lambda d: d.update(run_ids="r1"), "RunSummary.run_ids", "expected an array"),
    ],
)
def test_a_misshapen_field_is_an_error_naming_its_path(
    tmp_path: Path, edit: Any, field: str, problem: str
) -> None:
    run = edited_run(tmp_path, edit)
    with pytest.raises(ResultFileError) as info:
        read_run(run)
    message = str(info.value)
    assert info.value.field == field and info.value.source == str(run / "summary.json")
    assert message.startswith(f"{run / 'summary.json'}, field '{field}': {problem}")
    assert "\n" not in message
