"""The charts' axis rules on their own (report.charts.scales), and the arm colour rule
(report.palette): numbers in, numbers or strings out, no figure drawn."""

from __future__ import annotations

import itertools
import math
import subprocess
import sys

import numpy as np
import pytest

from auraon_bench.catalog.loader import load_catalog
from auraon_bench.report.charts.scales import (
    HUMAN_WIDTHS,
    MAX_BINS,
    MIN_BINS,
    accuracy_range,
    axis_clip,
    bin_width,
    format_duration,
    format_money,
    money_ticks,
    time_edges,
)
from auraon_bench.report.palette import COLOURS, FIXED, Palette, arm_colour
from tests.conftest import ROOT

# --- time bins -------------------------------------------------------------------------------


def test_a_ten_second_run_gets_one_second_bins() -> None:
    """The issue's run: 10 s and ~30 completions per arm had 2.57 s bins."""
    width = bin_width(10.28, 30)
    assert width == 1.0
    edges = time_edges(10.28, width)
    assert list(edges[:-1]) == [float(i) for i in range(10)] and edges[-1] == 10.28
    assert format_duration(width) == "1 s"


@pytest.mark.parametrize(
    "t_end", [0.8, 3.0, 10.28, 19.95, 47.0, 125.0, 600.0, 3601.0, 4 * 3600.0, 86400.0]
)
@pytest.mark.parametrize("events", [5, 60, 400, 100_000])
def test_bins_are_round_and_their_number_sensible(t_end: float, events: int) -> None:
    width = bin_width(t_end, events)
    assert width in HUMAN_WIDTHS
    edges = time_edges(t_end, width)
    widths = np.diff(edges)
    assert edges[0] == 0 and edges[-1] == pytest.approx(t_end)
    assert np.allclose(widths[:-1], width)
    assert 0.5 * width <= widths[-1] < 1.5 * width + 1e-9  # no sliver of a last bin
    assert MIN_BINS <= len(widths) <= MAX_BINS


def test_time_edges_merge_a_sliver_and_keep_half_a_bin() -> None:
    assert list(time_edges(10.2, 1.0)) == [*(float(i) for i in range(10)), 10.2]
    assert list(time_edges(10.6, 1.0)) == [*(float(i) for i in range(11)), 10.6]
    assert list(time_edges(10.0, 1.0)) == [float(i) for i in range(11)]
    assert list(time_edges(0.3, 1.0)) == [0.0, 0.3]


def test_durations_read_as_spoken() -> None:
    assert [format_duration(w) for w in (0.02, 0.5, 2.0, 30.0, 120.0, 5400.0)] == [
        "20 ms", "0.5 s", "2 s", "30 s", "2 min", "1.5 h",
    ]  # fmt: skip


# --- clipping --------------------------------------------------------------------------------


def test_one_outlier_cuts_the_axis_at_a_stated_percentile() -> None:
    rng = np.random.default_rng(0)
    bulk = rng.uniform(0.3, 0.9, 199)
    clip = axis_clip([np.append(bulk, 7.5)])
    assert clip is not None and clip.name == "p99"
    assert clip.limit < 1.0 and clip.maximum == 7.5 and clip.total == 200
    assert clip.beyond == int((np.append(bulk, 7.5) > clip.limit).sum()) >= 1
    small = axis_clip([np.append(bulk[:39], 7.5)])
    assert small is not None and small.name == "p95"  # p99 of 40 values is the outlier itself


def test_no_cut_without_a_long_tail_or_with_few_values() -> None:
    rng = np.random.default_rng(1)
    assert axis_clip([rng.uniform(0.3, 0.9, 500)]) is None
    assert axis_clip([np.array([0.3, 0.4, 7.5])]) is None  # every point of a tiny run matters
    assert axis_clip([np.array([])]) is None and axis_clip([]) is None


def test_the_cut_spares_every_series_its_own_bulk() -> None:
    rng = np.random.default_rng(2)
    fast, slow = rng.uniform(0.1, 0.2, 300), rng.uniform(2.0, 3.0, 300)
    clip = axis_clip([np.append(fast, 30.0), slow])
    assert clip is not None and clip.limit >= np.percentile(slow, 99)


def test_a_log_axis_measures_the_tail_in_log_space() -> None:
    rng = np.random.default_rng(3)
    values = np.append(10 ** rng.uniform(-2, 0, 300), 2.0)
    assert axis_clip([values]) is not None  # linear: 1 -> 2 is half the axis
    assert axis_clip([values], log=True) is None  # log: a small step past two decades


# --- accuracy axis ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([0.0, 0.0, 0.0], (0.0, 20.0)),
        ([100.0, 100.0], (80.0, 100.0)),
        ([85.0, 95.0], (80.0, 100.0)),
        ([40.0, 60.0], (35.0, 65.0)),
        ([0.0, 100.0], (0.0, 100.0)),
        ([], (0.0, 100.0)),
    ],
)
def test_accuracy_range_stays_within_0_and_100(values, expected) -> None:
    assert accuracy_range(values) == pytest.approx(expected)


# --- money -----------------------------------------------------------------------------------


def test_money_is_dollars_with_the_digits_it_needs() -> None:
    assert format_money(0.00002) == "$0.00002"
    assert format_money(0.0000253) == "$0.000025"
    assert format_money(0.48) == "$0.48"
    assert format_money(0.1) == "$0.10"
    assert format_money(1234.5) == "$1,234.50"
    assert format_money(0) == "$0" and format_money(-0.1) == "-$0.10"
    assert format_money(math.nan) == "-"


def test_money_ticks_share_the_decimals_of_their_step() -> None:
    assert money_ticks([0, 0.00001, 0.00002]) == ["$0", "$0.00001", "$0.00002"]
    assert money_ticks([0.0, 0.05, 0.1, 0.15]) == ["$0", "$0.05", "$0.10", "$0.15"]
    assert money_ticks([0, 200, 400]) == ["$0", "$200", "$400"]
    assert money_ticks([1e-6, 1e-5, 2e-5], log=True) == ["$0.000001", "$0.00001", "$0.00002"]
    for label in money_ticks(list(np.linspace(0, 3e-5, 7))):
        assert label.startswith("$") and "e" not in label


# --- colours ---------------------------------------------------------------------------------


def test_every_catalog_name_has_its_own_fixed_colour() -> None:
    catalog = load_catalog()
    names = {*catalog.models, *catalog.routing.modes}
    assert set(FIXED) == names, "a catalog model or mode without a fixed colour (or a stale one)"
    assert len(set(FIXED.values())) == len(FIXED)
    assert set(FIXED.values()) <= set(COLOURS)


def test_an_arm_has_the_same_colour_whatever_else_is_in_the_report() -> None:
    arms = ["gpt-4o", "auto", "llama-3.1-8b", "my-finetune", "openai/gpt-4o-mini"]
    expected = {arm: arm_colour(arm) for arm in arms}
    for size in range(1, len(arms) + 1):
        for chosen in itertools.permutations(arms, size):
            palette = Palette(chosen)
            assert {a: palette.colour(a) for a in chosen} == {a: expected[a] for a in chosen}
    late = Palette(["x", "y", "z"])  # an arm met after others, in another chart's order
    assert late.colour("gpt-4o") == FIXED["gpt-4o"] == expected["gpt-4o"]
    assert expected["openai/gpt-4o-mini"] == FIXED["gpt-4o-mini"]  # LiteLLM-style names
    assert expected["my-finetune"] in COLOURS


_HASH_PROBE = """
from auraon_bench.report.palette import arm_colour
print(arm_colour("my-finetune"), arm_colour("fast-mock"), arm_colour("gpt-4o"))
"""


def test_an_unknown_name_has_the_same_colour_in_every_process() -> None:
    """Python's own hash() changes per process; the palette must not depend on it."""
    seen = set()
    for seed in ("1", "2"):
        done = subprocess.run(
            [sys.executable, "-c", _HASH_PROBE], capture_output=True, text=True, check=True,
            cwd=ROOT, env={"PYTHONHASHSEED": seed, "PATH": ""},
        )  # fmt: skip
        seen.add(done.stdout)
    here = f"{arm_colour('my-finetune')} {arm_colour('fast-mock')} {arm_colour('gpt-4o')}\n"
    assert seen == {here}
