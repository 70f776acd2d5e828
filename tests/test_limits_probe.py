"""``limits`` against the embedded emulator on every built-in plan (lying limiters:
tests/test_limits_identify.py).

The emulator's time scale compresses its minutes, so a plan's limits are found in seconds; the
probe reports in the emulator's simulated time, so figures compare with the documented plans.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from auraon_bench.analysis.limits import LIMITER_LABELS
from auraon_bench.cli.main import cli
from auraon_bench.limits.session import LimitsOptions, LimitsResult, run_limits
from auraon_bench.results.run import read_run

pytestmark = pytest.mark.probe


def probe(tmp_path: Path, **kwargs: object) -> LimitsResult:
    return run_limits(LimitsOptions(out=tmp_path / "limits", **kwargs))  # type: ignore[arg-type]


def finding(result: LimitsResult, check: str):
    return next(f for f in result.findings if f.check == check)


@pytest.mark.slow
def test_starter_limits_are_found_within_ten_percent(tmp_path: Path) -> None:
    result = probe(tmp_path, plan="starter", time_scale=0.02)
    assert result.plan == "starter" and result.stop_reason is None
    for dim in ("requests", "tokens"):  # the built-in plans' kind
        assert result.summary.limiters[dim].kind == "token_bucket"
        assert LIMITER_LABELS["token_bucket"] in finding(result, f"limiter kind ({dim})").detail
    rpm = finding(result, "sustainable requests/min")
    tpm = finding(result, "sustainable tokens/min")
    assert rpm.verdict == "pass" and abs(rpm.measured / 60 - 1) <= 0.10
    assert tpm.verdict == "pass" and abs(tpm.measured / 100_000 - 1) <= 0.10
    for check in ("x-ratelimit-reset-requests honest", "x-ratelimit-reset-tokens honest"):
        assert finding(result, check).verdict == "pass"
    summary = json.loads((result.run_dir / "limits.json").read_text())
    assert summary["plan_source"] == "headers" and summary["requests_sent"] == result.requests
    run = read_run(result.run_dir)  # an ordinary run directory: every attempt recorded
    assert run.kind == "limits" and len(run.records) == result.requests


@pytest.mark.slow
def test_pro_requests_per_minute_within_ten_percent(tmp_path: Path) -> None:
    result = probe(tmp_path, plan="pro", time_scale=0.05, dimensions=("requests",))
    rpm = finding(result, "sustainable requests/min")
    assert result.plan == "pro"
    assert rpm.verdict == "pass" and abs(rpm.measured / 1000 - 1) <= 0.10


@pytest.mark.slow
def test_enterprise_shows_no_limit_up_to_the_cap(tmp_path: Path) -> None:
    result = probe(tmp_path, plan="enterprise", time_scale=0.1, plan_hint="enterprise",
                   dimensions=("requests",))  # fmt: skip
    rpm = finding(result, "sustainable requests/min")
    assert rpm.verdict == "pass" and "consistent" in rpm.detail
    assert not any(
        r.status == "rate_limited" for r in read_run(result.run_dir).records.itertuples()
    )


# A limit lower than documented and a too-short Retry-After, on the built-in plans' token
# bucket and every other kind: test_a_lying_limiter_is_caught_whatever_its_kind, in
# tests/test_limits_identify.py.


@pytest.mark.slow
def test_cli_confirms_an_honest_retry_after_and_reports_the_probe(tmp_path: Path) -> None:
    out = tmp_path / "probe"
    args = ["limits", "--plan", "starter", "--only", "requests", "--time-scale", "0.05",
            "--out", str(out)]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "Retry-After honest" in result.output
    findings = {f["check"]: f for f in json.loads((out / "limits.json").read_text())["findings"]}
    assert findings["Retry-After honest"]["verdict"] == "pass"
    assert findings["sustainable requests/min"]["verdict"] == "pass"
    assert findings["burst recovery"]["verdict"] == "pass"
    report = CliRunner().invoke(cli, ["report", str(out), "--format", "md"])
    assert report.exit_code == 0, report.output
    markdown = (out / "report" / "report.md").read_text()
    assert "**Rate limits: probe**" in markdown and "| Retry-After honest |" in markdown


@pytest.mark.parametrize("flag", ["--max-requests", "--max-tokens"])
@pytest.mark.slow
def test_the_caps_are_never_exceeded(tmp_path: Path, flag: str) -> None:
    out = tmp_path / "capped"
    value = "60" if flag == "--max-requests" else "20000"
    args = ["limits", "--plan", "enterprise", "--time-scale", "0.1", flag, value, "--out", str(out)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "limits.json").read_text())
    assert "cap reached" in summary["stop_reason"]
    # Stopping at its own cap is how a bounded probe ends: complete, with the reason.
    manifest = json.loads((out / "manifest.json").read_text())
    assert summary["status"] == manifest["status"] == "complete"
    assert summary["requests_sent"] <= (60 if flag == "--max-requests" else 10_000)
    assert summary["tokens_reserved"] <= (10**9 if flag == "--max-requests" else 20_000)
    assert any("PROBE STOPPED EARLY" in w for w in summary["warnings"])
