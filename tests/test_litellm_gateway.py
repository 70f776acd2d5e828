"""The tool against a real LiteLLM proxy: a gateway none of us wrote (tests/litellm_proxy.py).

Each command a user runs against a gateway gives a correct, labelled answer there: ``load``
(streamed and not), ``eval``, ``run`` + ``report``, ``plan`` and ``regress``. ``limits`` against
LiteLLM's rate-limited deployment is tested with the probe (tests/test_limits_litellm.py).
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from auraon_bench.cli.main import cli
from auraon_bench.results.reader import read_records
from auraon_bench.results.run import read_run
from tests.conftest import FIXTURES
from tests.litellm_proxy import LiteLLMProxy

pytestmark = pytest.mark.litellm


def target(proxy: LiteLLMProxy) -> list[str]:
    return ["--base-url", proxy.base_url, "--api-key", proxy.api_key]


def invoke(*args: str) -> object:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.mark.parametrize("stream", ["--stream", "--no-stream"])
def test_load_labels_litellm_cost_and_prices_nothing_it_does_not_know(
    litellm_proxy: LiteLLMProxy, tmp_path: Path, stream: str
) -> None:
    out = tmp_path / "run"
    result = invoke(
        "load",
        *target(litellm_proxy),
        "--model",
        "fast-mock",
        "--model",
        "unpriced-mock",
        "--requests",
        "24",
        "--concurrency",
        "4",
        stream,
        "--yes",
        "--out",
        str(out),
    )
    assert result.exit_code == 0, result.output
    df = read_records(out)
    assert len(df) == 24 and (df["status"] == "ok").all()
    fast = df[df["arm"] == "fast-mock"]
    unpriced = df[df["arm"] == "unpriced-mock"]
    # LiteLLM's own cost: the x-litellm-response-cost header, or usage.cost in the last chunk.
    assert (fast["cost_source"] == "litellm").all() and (fast["cost_usd"] > 0).all()
    # No reported cost and no known price: null and "none", never a borrowed price.
    assert (unpriced["cost_source"] == "none").all() and unpriced["cost_usd"].isna().all()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["target"]["simulated"] is False
    summary = json.loads((out / "summary.json").read_text())
    assert summary["simulated"] is False
    assert "SIMULATED" not in result.output


def test_unserved_arm_is_refused_before_any_load(
    litellm_proxy: LiteLLMProxy, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    result = CliRunner().invoke(
        cli,
        [
            "load",
            *target(litellm_proxy),
            *("--model", "auto", "--requests", "4", "--yes", "--out", str(out)),
        ],
    )
    assert result.exit_code == 2
    assert "auto" in result.output and "fast-mock" in result.output  # names what is listed
    assert "Traceback" not in result.output
    assert not (out / "requests.parquet").exists()


def test_eval_grades_litellm_arms_and_run_report_plan_regress(
    litellm_proxy: LiteLLMProxy, tmp_path: Path
) -> None:
    experiment = tmp_path / "litellm.toml"
    experiment.write_text(
        f"""
name = "litellm"
seed = 0
arms = ["fast-mock", "unpriced-mock"]

[target]
base_url = "{litellm_proxy.base_url}"
timeout = 30.0
max_cost_usd = 1.0

[eval]
datasets = ["{FIXTURES / "sample.jsonl"}"]
concurrency = 4
max_tokens = 64

[[load]]
name = "steady"
profile = "constant"
rate = 4.0
duration = 4.0
arms = ["fast-mock"]
output_tokens = 32

[output]
dir = "{tmp_path / "results"}"
report = ["md"]
"""
    )
    runs = []
    for name in ("baseline", "current"):
        out = tmp_path / name
        result = CliRunner(env={"AURAON_API_KEY": litellm_proxy.api_key}).invoke(
            cli, ["run", str(experiment), "--yes", "--out", str(out)]
        )
        assert result.exit_code in (0, 1), result.output
        runs.append(out)
    run = read_run(runs[1])
    assert run.summary is not None and not run.summary.simulated
    eval_part = next(p for p in run.parts if p.evaluation is not None)
    accuracy = {row.arm: row for row in eval_part.evaluation.accuracy.rows}
    # The mock answers "Paris is the capital of France." to everything: graded, not errors.
    assert set(accuracy) == {"fast-mock", "unpriced-mock"}
    assert all(row.n == 4 for row in accuracy.values())
    sources = {a.arm: a.cost.cost_sources for a in eval_part.load_summary.arms}
    assert sources == {"fast-mock": {"litellm": 4}, "unpriced-mock": {"none": 4}}

    report = tmp_path / "report"
    result = invoke("report", str(runs[1]), "--out", str(report), "--format", "md")
    assert result.exit_code == 0, result.output
    text = next(report.glob("*.md")).read_text()
    assert "SIMULATED" not in text
    assert "litellm" in text  # the Method section names the cost sources actually seen

    plan = invoke("plan", str(runs[1]), "--force", "--out", str(tmp_path / "plan.json"))
    assert plan.exit_code == 0, plan.output
    assert "caveat" in plan.output and "measured" in plan.output

    thresholds = tmp_path / "thresholds.toml"
    thresholds.write_text("latency_min_delta_s = 0.25\n")
    compared = CliRunner().invoke(
        cli, ["regress", str(runs[0]), str(runs[1]), "--thresholds", str(thresholds)]
    )
    assert compared.exit_code == 0, compared.output
    assert "no regression" in compared.output


def test_a_prices_file_prices_what_litellm_does_not_in_every_worker(
    litellm_proxy: LiteLLMProxy, tmp_path: Path
) -> None:
    prices = tmp_path / "prices.toml"
    prices.write_text('[models."unpriced-mock"]\ninput = 1.0\noutput = 2.0\n')
    out = tmp_path / "run"
    result = invoke(
        "load",
        *target(litellm_proxy),
        "--model",
        "unpriced-mock",
        "--model",
        "fast-mock",
        "--requests",
        "16",
        "--concurrency",
        "4",
        "--workers",
        "2",
        "--prices",
        str(prices),
        "--yes",
        "--out",
        str(out),
    )
    assert result.exit_code == 0, result.output
    df = read_records(out)
    assert len(df) == 16 and set(df["worker"]) == {0, 1}
    unpriced = df[df["arm"] == "unpriced-mock"]
    # Both worker processes priced from the file; LiteLLM's own figure still wins where given.
    assert (unpriced["cost_source"] == "price_table").all()
    expected = (unpriced["prompt_tokens"] * 1.0 + unpriced["completion_tokens"] * 2.0) / 1e6
    assert (unpriced["cost_usd"] - expected).abs().max() < 1e-12
    assert (df[df["arm"] == "fast-mock"]["cost_source"] == "litellm").all()


def test_conversations_and_replay_run_against_litellm(
    litellm_proxy: LiteLLMProxy, tmp_path: Path
) -> None:
    """Multi-turn conversations carry LiteLLM's answers into their history, and a timed replay
    sends its recorded bodies through LiteLLM at their offsets."""
    out = tmp_path / "chats"
    result = invoke(
        "load", *target(litellm_proxy), "--model", "fast-mock", "--turns", "3",
        "--shared-prefix-tokens", "200", "--input-tokens", "uniform:20,60",
        "--concurrency", "2", "--requests", "4", "--yes", "--out", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    df = read_records(out).sort_values(["session_id", "turn"])
    assert len(df) == 12 and (df["status"] == "ok").all()
    assert sorted(set(df["turn"])) == [1, 2, 3] and df["session_id"].nunique() == 4
    # Each later turn resends the history: the system prompt, LiteLLM's answers, new messages.
    for _, turns in df.groupby("session_id"):
        assert turns["prompt_tokens"].is_monotonic_increasing
    summary = json.loads((out / "summary.json").read_text())
    assert summary["arms"]["fast-mock"]["conversations"]["conversations"] == 4
    trace = tmp_path / "trace.jsonl"
    bodies = [
        {"model": "fast-mock", "messages": [{"role": "user", "content": f"q{i}"}], "max_tokens": 8}
        for i in range(3)
    ]
    trace.write_text(
        "\n".join(json.dumps({"timestamp": 0.2 * i, "body": b}) for i, b in enumerate(bodies))
    )
    replayed = tmp_path / "replay"
    result = invoke(
        "load", *target(litellm_proxy), "--replay", str(trace), "--model", "recorded",
        "--yes", "--out", str(replayed),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    df = read_records(replayed).sort_values("t_scheduled")
    assert len(df) == 3 and (df["status"] == "ok").all()
    assert (df["t_scheduled"] - df["t_scheduled"].min()).round(6).tolist() == [0.0, 0.2, 0.4]
    assert set(df["model_requested"]) == {"fast-mock"} and set(df["max_tokens"]) == {8}


def test_capacity_brackets_the_knee_of_a_litellm_proxy(
    litellm_proxy: LiteLLMProxy, tmp_path: Path
) -> None:
    """A gateway none of us wrote has its own knee: LiteLLM's one worker on this machine. The
    search climbs until TTFT p95 passes 500 ms and brackets it; every step is a real run."""
    from auraon_bench.capacity.session import read_capacity

    for attempt in (1, 2):
        out = tmp_path / f"cap-{attempt}"
        result = invoke(
            "capacity", *target(litellm_proxy), "--model", "fast-mock", "--slo",
            "ttft_p95<=500ms", "--slo", "error_rate<=1%", "--min-rate", "8", "--max-rate", "4096",
            "--factor", "4", "--tolerance", "0.5", "--min-step-seconds", "0", "--max-steps", "8",
            "--yes", "--out", str(out),
        )  # fmt: skip
        if litellm_proxy.alive or attempt == 2:
            break
        # LiteLLM itself crashed under the search's load (a segfault in its process, not an
        # error it answered): the search is measured again on a fresh proxy, once.
        crash = litellm_proxy.exit_note()
        litellm_proxy.restart()
    assert litellm_proxy.alive, litellm_proxy.exit_note()
    assert result.exit_code == 0, result.output + (crash if attempt == 2 else "")
    (arm,) = read_capacity(out).results
    assert arm.capacity is not None, arm.stop_reason
    # A bracket: the last passing rate below the first failing (or client-bound) one.
    upper = arm.first_failing or arm.client_bound_at
    assert upper is not None and arm.capacity < upper, arm.stop_reason
    assert not read_capacity(out).simulated and "SIMULATED" not in result.output


def test_a_crashed_proxy_is_replaced_and_its_log_kept(litellm_proxy: LiteLLMProxy) -> None:
    """The fixture's answer to LiteLLM's own segfaults: a fresh proxy on a new port."""
    import httpx

    old_url, old_log = litellm_proxy.base_url, litellm_proxy.log_path
    os.killpg(litellm_proxy.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while litellm_proxy.alive and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not litellm_proxy.alive and "exited with -9" in litellm_proxy.exit_note()
    litellm_proxy.restart()
    assert litellm_proxy.alive and litellm_proxy.base_url != old_url and old_log.exists()
    headers = {"Authorization": f"Bearer {litellm_proxy.api_key}"}
    listed = httpx.get(f"{litellm_proxy.base_url}/models", headers=headers, timeout=10)
    assert listed.status_code == 200 and "fast-mock" in listed.text
