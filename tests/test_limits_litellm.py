"""``limits`` against LiteLLM's rate-limited deployment (tests/litellm_proxy.py), in real time.

``limited-mock`` advertises ``x-ratelimit-limit-requests: 5`` and is limited by LiteLLM's
usage-based router: a fixed window on the UTC clock minute that admits ``rpm - 1`` = 4 requests
(it skips a deployment when ``used + 1 >= rpm``), and whose 429 carries only
``llm_provider-retry-after: 60``. The honest answer is a fixed window sustaining 4 requests/min,
lower than the 5 advertised; it must come within three minutes (two windows at most, whatever
the clock's phase when the probe starts).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from auraon_bench.cli.main import cli
from tests.litellm_proxy import LIMITED_RPM, LiteLLMProxy

pytestmark = pytest.mark.litellm

ADMITTED_PER_MINUTE = LIMITED_RPM - 1
BUDGET_S = 180.0


def test_limits_finds_litellms_fixed_window_and_that_it_admits_less_than_advertised(
    litellm_proxy: LiteLLMProxy, tmp_path: Path
) -> None:
    out = tmp_path / "probe"
    args = ["limits", "--base-url", litellm_proxy.base_url, "--api-key", litellm_proxy.api_key,
            "--model", "limited-mock", "--only", "requests", "--max-duration", str(BUDGET_S),
            "--yes", "--out", str(out)]  # fmt: skip
    started = time.monotonic()
    result = CliRunner().invoke(cli, args)
    took = time.monotonic() - started
    print(f"limits against LiteLLM's limited-mock: {took:.1f} s of real time")
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "limits.json").read_text())
    assert summary["status"] == "complete" and summary["stop_reason"] is None, summary
    assert summary["simulated"] is False
    limiter = summary["limiters"]["requests"]
    assert limiter["kind"] == "fixed_window", limiter["evidence"]
    assert abs(limiter["sustainable_per_min"] / ADMITTED_PER_MINUTE - 1) <= 0.10, limiter
    assert limiter["window_s"] == pytest.approx(60.0, rel=0.05)  # the clock minute
    assert limiter["advertised_per_min"] == LIMITED_RPM
    findings = {f["check"]: f for f in summary["findings"]}
    advertised = findings["advertised requests/min honest"]
    assert advertised["verdict"] == "fail" and "LOWER than advertised" in advertised["detail"]
    # Said on the console: the kind, the evidence, and measured against advertised.
    assert "requests limit: fixed window" in result.output
    assert "evidence: after exhausting" in result.output
    assert "advertised 5 requests/min" in result.output
    assert took < BUDGET_S
