"""The emulator's four limiter kinds, driven by an injected clock (no event loop, no sleeping),
and how a plan chooses one (catalog field, ``emulator serve --limiter``)."""

from __future__ import annotations

import copy
import math
import random
import time
from pathlib import Path

import httpx
import pytest

from auraon_bench.catalog import Plan, load_catalog
from auraon_bench.catalog.schema import LIMITER_KINDS
from auraon_bench.emulator.gateway import Gateway
from auraon_bench.emulator.launcher import EmulatorProcess
from auraon_bench.emulator.limiter import KeyLimiter
from auraon_bench.errors import CatalogError

PHASE = 17.0  # first window boundary (simulated seconds), as the gateway's seeded phase


def limiter(kind: str, rpm: int = 60, tpm: int = 100_000, now: float = 0.0) -> KeyLimiter:
    return KeyLimiter(Plan("starter", rpm, tpm, limiter=kind), now=now, phase=PHASE)


def burst(lim: KeyLimiter, now: float, n: int, tokens: int = 10) -> int:
    return sum(lim.try_acquire(tokens, now).allowed for _ in range(n))


def test_a_fixed_window_resets_at_its_boundary_and_not_before() -> None:
    lim = limiter("fixed_window", now=20.0)  # window [17, 77)
    assert burst(lim, 20.0, 61) == 60
    refused = lim.try_acquire(10, 20.0)
    assert not refused.allowed and refused.limit_type == "requests"
    assert refused.retry_after_s == pytest.approx(57.0)  # to the boundary at 77
    assert refused.requests.remaining == 0 and refused.requests.reset_s == pytest.approx(57.0)
    assert not lim.try_acquire(10, 76.9).allowed
    assert burst(lim, 77.0, 61) == 60  # the whole allowance at once, exactly at the boundary


def test_a_sliding_log_returns_each_request_one_window_after_it_was_accepted() -> None:
    lim = limiter("sliding_log")
    assert burst(lim, 0.0, 30) == 30 and burst(lim, 10.0, 31) == 30
    refused = lim.try_acquire(10, 10.0)
    assert refused.retry_after_s == pytest.approx(50.0)  # the oldest expires at 60
    assert refused.requests.reset_s == pytest.approx(60.0)  # the newest at 70
    assert burst(lim, 60.0, 31) == 30  # the first half back, and only it
    assert lim.try_acquire(10, 60.0).retry_after_s == pytest.approx(10.0)
    assert burst(lim, 70.0, 31) == 30


def test_a_sliding_window_counter_returns_gradually_after_its_boundary() -> None:
    lim = limiter("sliding_window", now=20.0)  # window [17, 77), nothing in the previous one
    assert burst(lim, 20.0, 61) == 60
    refused = lim.try_acquire(10, 20.0)
    # In the next window the 60 weigh 60 * (1 - y / 60): one more fits at y = 1 s.
    assert refused.retry_after_s == pytest.approx(57.0 + 1.0)
    assert refused.requests.reset_s == pytest.approx(57.0 + 60.0)
    assert burst(lim, 77.5, 5) == 0  # past the boundary, but nothing has decayed enough yet
    assert burst(lim, 78.0, 5) == 1
    # Then one a second: the counter refills at limit / window.
    assert sum(burst(lim, 78.0 + t, 3) for t in range(1, 31)) == 30


@pytest.mark.parametrize("kind", LIMITER_KINDS)
def test_retry_after_is_exact_for_every_kind(kind: str) -> None:
    """A retry at the advertised time succeeds and one at half of it does not, whatever the
    workload before (random arrivals at about twice the limit, mixed request sizes)."""
    rng = random.Random(7)
    lim = limiter(kind)
    now, checked = 0.0, 0
    for _ in range(3000):
        now += rng.expovariate(2.0)
        size = rng.choice((10, 2000, 9000))
        verdict = lim.try_acquire(size, now)
        if verdict.allowed or verdict.retry_after_s < 0.01:
            continue
        checked += 1
        wait = verdict.retry_after_s
        assert copy.deepcopy(lim).try_acquire(size, now + wait).allowed
        assert not copy.deepcopy(lim).try_acquire(size, now + wait / 2).allowed
    assert checked > 500


@pytest.mark.parametrize("kind", LIMITER_KINDS)
def test_every_kind_sustains_the_plan_over_ten_minutes(kind: str) -> None:
    lim = limiter(kind)
    accepted = sum(lim.try_acquire(1, t / 2).allowed for t in range(1200))  # 2/s offered
    # A minute's allowance may come on top (a full bucket, or a window straddled at the start).
    assert 600 <= accepted <= 600 + 60


@pytest.mark.parametrize("kind", LIMITER_KINDS)
def test_every_kind_keeps_the_charging_rules(kind: str) -> None:
    lim = limiter(kind, now=20.0)
    assert lim.try_acquire(90_000, 20.0).allowed
    refused = lim.try_acquire(20_000, 20.0)
    assert not refused.allowed and refused.limit_type == "tokens"
    assert refused.tokens.remaining == 10_000 and refused.requests.remaining == 59  # no charge
    too_large = lim.try_acquire(100_001, 20.0)
    assert too_large.too_large and math.isinf(too_large.retry_after_s)
    lim.charge_failed_request(20.0)  # a request failed after authentication costs one request
    assert lim.snapshot(20.0).requests.remaining == 58


@pytest.mark.parametrize("kind", LIMITER_KINDS)
def test_the_unused_output_is_refunded_where_it_was_charged(kind: str) -> None:
    lim = limiter(kind, now=20.0)
    charged = lim.try_acquire(60_000, 20.0)
    assert charged.charged_at == 20.0
    lim.refund(50_000, 20.0, charged.charged_at)
    assert lim.snapshot(20.0).tokens.remaining == 90_000
    lim.refund(10**9, 20.0, charged.charged_at)
    assert lim.snapshot(20.0).tokens.remaining == 100_000  # never more than the limit


@pytest.mark.parametrize("kind", ["fixed_window", "sliding_log"])
def test_a_refund_to_a_window_already_gone_changes_nothing(kind: str) -> None:
    lim = limiter(kind, now=20.0)
    charged = lim.try_acquire(60_000, 20.0)
    lim.try_acquire(30_000, 80.0)  # a later window (fixed), or 60 s later (log)
    lim.refund(50_000, 80.0, charged.charged_at)
    assert lim.snapshot(80.0).tokens.remaining == 70_000


def test_unlimited_plans_never_limit_and_unknown_kinds_are_refused() -> None:
    unlimited = KeyLimiter(Plan("enterprise", None, None, limiter="fixed_window"), now=0.0)
    assert all(unlimited.try_acquire(10**7, 0.0).allowed for _ in range(100))
    with pytest.raises(ValueError, match="unknown limiter kind"):
        KeyLimiter(Plan("x", 60, None, limiter="leaky"), now=0.0)


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "overlay.toml"
    path.write_text('[meta]\nextends = "builtin"\n' + body)
    return path


def test_the_catalog_chooses_the_kind_per_plan(tmp_path: Path) -> None:
    builtin = load_catalog()
    assert {p.limiter for p in builtin.plans.values()} == {"token_bucket"}
    catalog = load_catalog(write(tmp_path, '[plans.starter]\nlimiter = "sliding_log"\n'))
    assert catalog.plans["starter"].limiter == "sliding_log"
    assert catalog.plans["pro"].limiter == "token_bucket"
    with pytest.raises(CatalogError, match=r"plans\.starter\.limiter.*fixed_window"):
        load_catalog(write(tmp_path, '[plans.starter]\nlimiter = "leaky_bucket"\n'))
    with pytest.raises(CatalogError, match=r"plans\.starter\.limiterr'?: unknown key"):
        load_catalog(write(tmp_path, '[plans.starter]\nlimiterr = "fixed_window"\n'))


def test_window_boundaries_are_seeded_and_not_at_the_start() -> None:
    catalog = load_catalog()
    phases = {Gateway(catalog, seed=s, clock=lambda: 0.0).window_phase for s in range(20)}
    assert len(phases) == 20 and all(6.0 <= p <= 54.0 for p in phases)
    again = Gateway(catalog, seed=3, clock=lambda: 0.0).window_phase
    assert again == Gateway(catalog, seed=3, clock=lambda: 0.0).window_phase


@pytest.mark.slow
def test_emulator_serve_limiter_overrides_every_plan() -> None:
    """Over HTTP: a fixed window's 429 advertises its boundary (Retry-After and reset agree),
    and the whole allowance is back at once when it is reached."""
    with EmulatorProcess(time_scale=0.01, seed=5, limiter="fixed_window") as emu:
        headers = {"Authorization": f"Bearer {emu.demo_key('starter')}"}
        body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}],
                "max_tokens": 1}  # fmt: skip
        with httpx.Client(base_url=emu.base_url, headers=headers, timeout=10) as client:
            refused = None
            for _ in range(200):  # a boundary may pass before the first window is spent
                response = client.post("/chat/completions", json=body)
                if response.status_code == 429:
                    refused = response
                    break
            assert refused is not None
            wait_ms = int(refused.headers["retry-after-ms"])
            reset = refused.headers["x-ratelimit-reset-requests"]
            assert 0 < wait_ms <= 600  # within one window (60 s x 0.01)
            assert reset.endswith("ms") and abs(int(reset[:-2]) - wait_ms) <= 5
            time.sleep(wait_ms / 1000 + 0.01)
            again = [client.post("/chat/completions", json=body).status_code for _ in range(30)]
            assert again == [200] * 30  # a token bucket would give back about one
