"""Plan advice states what its peak rests on and refuses to extrapolate from too little."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from auraon_bench.analysis.plan_advice import Measurement, Workload, advise
from auraon_bench.analysis.plan_fit import peak_interval, peak_per_minute, plan_fit
from auraon_bench.errors import ConfigError


def poisson_sends(rate_per_min: float, seconds: float, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = rng.poisson(rate_per_min * seconds / 60)
    return np.sort(rng.uniform(0, seconds, n))


def test_no_interval_for_a_run_shorter_than_two_windows() -> None:
    assert peak_interval(poisson_sends(300, 100)) is None
    assert peak_interval(np.array([1.0])) is None


def test_steady_load_interval_is_narrow_and_holds_the_peak() -> None:
    sends = poisson_sends(300, 1200)
    low, high = peak_interval(sends)
    peak = peak_per_minute(sends, np.ones(sends.size), 60)
    assert low <= peak <= high * 1.05
    assert high - low < 0.25 * peak  # twenty windows of the same load: little doubt
    assert peak_interval(sends) == (low, high)  # seeded


def test_one_spike_widens_the_interval() -> None:
    steady = poisson_sends(300, 600)
    spiked = np.sort(np.concatenate([steady, np.random.default_rng(2).uniform(100, 160, 600)]))
    low, high = peak_interval(spiked)
    steady_low, steady_high = peak_interval(steady)
    # The busiest minute is one event: its resamples either contain it or do not.
    assert high - low > 5 * (steady_high - steady_low)
    assert high > 800 and low < 500


def test_plan_fit_carries_duration_and_interval() -> None:
    sends = poisson_sends(240, 300)
    fit = plan_fit(pd.DataFrame({"t_sent": sends}))
    assert fit.duration_s == pytest.approx(sends.max() - sends.min())
    assert fit.peak_rpm_low is not None and fit.peak_rpm_low <= fit.needed_rpm
    assert fit.to_dict()["peak_rpm_interval"] == [fit.peak_rpm_low, fit.peak_rpm_high]


def workload(requests: int, seconds: float) -> Workload:
    return Workload(
        peak_rpm=100.0,
        average_rpm=80.0,
        prompt_tokens=100,
        completion_tokens=50,
        measured=Measurement(requests=requests, seconds=seconds, window_s=60.0),
    )


@pytest.mark.parametrize(("requests", "seconds"), [(50, 0.4), (199, 3600.0), (10_000, 59.9)])
def test_too_little_measurement_is_refused_unless_forced(requests: int, seconds: float) -> None:
    with pytest.raises(ConfigError, match="--force") as caught:
        advise(workload(requests, seconds))
    assert f"{requests} attempts" in str(caught.value)
    forced = advise(workload(requests, seconds), force=True)
    assert forced.caveats and "extrapolated anyway" in forced.caveats[0]
    assert forced.to_dict()["caveats"] == list(forced.caveats)


def test_enough_measurement_has_no_caveat_and_says_its_basis() -> None:
    advice = advise(workload(200, 60.0))
    assert advice.caveats == ()
    measured = advice.to_dict()["workload"]["measured"]
    assert measured == {
        "requests": 200,
        "seconds": 60.0,
        "window_s": 60.0,
        "peak_rpm_low": None,
        "peak_rpm_high": None,
    }
    assert "measured 200 attempts over 60.0 s" in advice.workload.measured.describe()


def test_described_workloads_need_no_measurement() -> None:
    described = Workload(peak_rpm=10, average_rpm=5, prompt_tokens=1, completion_tokens=1)
    assert advise(described).caveats == ()
