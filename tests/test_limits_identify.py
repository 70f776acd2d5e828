"""``limits`` against the emulator behind each limiter kind: it names the kind, finds both
limits within 10%, catches a lying limiter whatever its kind, and ends ``complete`` at its own
cap but ``interrupted`` (exit 130) when the user stops it.

The emulator's time scale compresses its minutes (0.02: a simulated minute is 1.2 s); the
probe reports in simulated time. Retry-After lies of the refilling kinds are checked at 0.05,
where their one-second retries are 50 ms long and timers are precise enough to judge them.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
from click.testing import CliRunner

from auraon_bench.analysis.limits import LIMITER_LABELS
from auraon_bench.catalog.schema import LIMITER_KINDS
from auraon_bench.cli.main import cli
from auraon_bench.emulator.launcher import EmulatorProcess
from auraon_bench.limits.prober import Prober
from auraon_bench.limits.session import LimitsOptions, LimitsResult, run_limits
from auraon_bench.load.target import Target
from auraon_bench.results.run import read_run

STARTER = {"requests": 60.0, "tokens": 100_000.0}

pytestmark = pytest.mark.probe


def finding(result: LimitsResult, check: str):
    return next(f for f in result.findings if f.check == check)


def overlay(tmp_path: Path, kind: str, extra: str = "") -> str:
    path = tmp_path / "catalog.toml"
    path.write_text(f'[meta]\nextends = "builtin"\n\n[plans.starter]\nlimiter = "{kind}"\n{extra}')
    return str(path)


# The built-in plans' own kind, the token bucket, is named by
# tests/test_limits_probe.py::test_starter_limits_are_found_within_ten_percent.
@pytest.mark.parametrize("kind", [k for k in LIMITER_KINDS if k != "token_bucket"])
@pytest.mark.slow
def test_limits_names_the_kind_and_finds_both_limits(kind: str, tmp_path: Path) -> None:
    with EmulatorProcess(time_scale=0.02, seed=11, limiter=kind) as emu:
        target = Target(emu.base_url, emu.demo_key("starter"), True, 0.02, "starter")
        result = run_limits(LimitsOptions(out=tmp_path / "probe"), target=target)
    assert result.status == "complete" and result.stop_reason is None
    for dim, true in STARTER.items():
        limiter = result.summary.limiters[dim]
        assert limiter.kind == kind, limiter.evidence
        assert LIMITER_LABELS[kind] in finding(result, f"limiter kind ({dim})").detail
        assert abs(limiter.sustainable_per_min / true - 1) <= 0.10, limiter
        assert limiter.advertised_per_min == true
        assert finding(result, f"sustainable {dim}/min").verdict == "pass"
        assert finding(result, f"advertised {dim}/min honest").verdict == "pass"
        if kind in ("fixed_window", "sliding_log"):
            assert limiter.window_s == pytest.approx(60.0, rel=0.05)
    back = read_run(result.run_dir).parts[0].limits  # the typed result, from limits.json
    assert back is not None and back.limiters["requests"].kind == kind
    assert back.requests_sent == result.requests <= 10_000


@pytest.mark.parametrize(
    ("kind", "scale"),
    [("fixed_window", 0.02), ("sliding_log", 0.02), ("sliding_window", 0.05),
     ("token_bucket", 0.05)],
)  # fmt: skip
@pytest.mark.slow
def test_a_lying_limiter_is_caught_whatever_its_kind(
    kind: str, scale: float, tmp_path: Path
) -> None:
    """Starter's name, but 40 requests/min (not the documented 60) and a Retry-After half the
    truth: both lies are reported, and the kind is still named."""
    lies = "requests_per_min = 40\ntokens_per_min = 100000\nretry_after_factor = 0.5\n"
    options = LimitsOptions(plan="starter", plan_hint="starter", time_scale=scale,
                            catalog=overlay(tmp_path, kind, lies), dimensions=("requests",),
                            out=tmp_path / "probe")  # fmt: skip
    result = run_limits(options)
    assert result.summary.limiters["requests"].kind == kind
    rpm = finding(result, "sustainable requests/min")
    assert rpm.verdict == "fail" and "LOWER than documented" in rpm.detail
    assert abs(rpm.measured / 40 - 1) <= 0.10
    honest = finding(result, "Retry-After honest")
    assert honest.verdict == "fail" and "TOO SHORT" in honest.detail
    assert finding(result, "recovery time error").measured > 0.5  # recovery took about 2x


@pytest.mark.slow
def test_a_probe_stopped_by_its_cap_is_complete_with_the_reason(tmp_path: Path) -> None:
    out = tmp_path / "capped"
    args = ["limits", "--plan", "starter", "--time-scale", "0.02", "--only", "requests",
            "--catalog", overlay(tmp_path, "fixed_window"), "--max-requests", "120",
            "--out", str(out)]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "limits.json").read_text())
    manifest = json.loads((out / "manifest.json").read_text())
    assert summary["status"] == manifest["status"] == "complete"
    assert summary["stop_reason"] == "request cap reached (120 requests)"
    assert summary["requests_sent"] <= 120
    assert "complete (stopped: request cap reached (120 requests))" in result.output


@pytest.mark.slow
def test_ctrl_c_interrupts_the_probe_keeps_what_it_measured_and_exits_130(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = Prober.phase

    def phase(self: Prober, name: str) -> None:
        original(self, name)
        if name == "requests: watch the budget come back":
            signal.raise_signal(signal.SIGINT)  # as Ctrl-C would, mid-measurement

    monkeypatch.setattr(Prober, "phase", phase)
    out = tmp_path / "stopped"
    args = ["limits", "--plan", "starter", "--time-scale", "0.02", "--only", "requests",
            "--out", str(out)]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 130, result.output
    summary = json.loads((out / "limits.json").read_text())
    manifest = json.loads((out / "manifest.json").read_text())
    assert summary["status"] == manifest["status"] == "interrupted"
    assert summary["stop_reason"].startswith("interrupted by the user")
    in_flight = manifest["counts"]["cancelled_in_flight"]  # cut short: started, unrecorded
    assert 0 < summary["requests_sent"] == len(read_run(out).records) + in_flight
    assert "interrupted (stopped: interrupted by the user" in result.output
