"""Length distribution specs: goodness of fit of each kind, clamps, rounding, floor, seeding,
errors that name the field (and file line), constants from TOML numbers, describe/to_json."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from auraon_bench.data.lengths import parse_length
from auraon_bench.errors import ConfigError

SEED = 20240601
N = 5000


def _rng(seed: int = SEED) -> np.random.Generator:
    return np.random.default_rng(seed)


# --------------------------------------------------------------------------------------------
# Goodness of fit


# Each case: the spec, whether it is a count, the distribution it should follow and a slightly
# wrong one the same sample must be told apart from. Count cases use large values so that rounding
# to integers is far below the KS test's resolution.
KS_CASES = [
    ("normal:100,10", False, stats.norm(100, 10), stats.norm(102, 10)),
    ("normal:100000,10000", True, stats.norm(100000, 10000), stats.norm(102000, 10000)),
    ("lognormal:300,0.5", False, stats.lognorm(s=0.5, scale=300), stats.lognorm(s=0.6, scale=300)),
    (
        "lognormal:300000,0.5",
        True,
        stats.lognorm(s=0.5, scale=300000),
        stats.lognorm(s=0.5, scale=315000),
    ),
    ("uniform:2,5", False, stats.uniform(2, 3), stats.uniform(2, 3.3)),
    ("uniform:10000,50000", True, stats.uniform(10000, 40000), stats.uniform(9000, 40000)),
]


@pytest.mark.parametrize(("text", "integer", "right", "wrong"), KS_CASES)
def test_sample_fits_its_distribution_and_not_a_shifted_one(
    text: str, integer: bool, right: stats.rv_continuous, wrong: stats.rv_continuous
) -> None:
    sample = parse_length(text, field="x", integer=integer).sample(N, _rng())
    assert stats.kstest(sample, right.cdf).pvalue > 0.01
    # The test has power: the same sample against a nearby wrong distribution is rejected.
    assert stats.kstest(sample, wrong.cdf).pvalue < 0.01


def test_integer_uniform_includes_both_ends_equally() -> None:
    sample = parse_length("uniform:1,6", field="turns").sample(6000, _rng())
    values, counts = np.unique(sample, return_counts=True)
    assert values.tolist() == [1, 2, 3, 4, 5, 6]
    assert stats.chisquare(counts).pvalue > 0.01
    # Power check: ends drawn at half weight (as rounding a continuous uniform would) is rejected.
    assert stats.chisquare(counts, [600, 1200, 1200, 1200, 1200, 600]).pvalue < 0.01


def test_empirical_file_matches_its_frequencies(tmp_path: Path) -> None:
    path = tmp_path / "lengths.txt"
    path.write_text("# observed prompt lengths\n100\n100\n\n200   # one long one\n300\n300\n300\n")
    spec = parse_length(f"file:{path}", field="input-tokens", floor=1)
    sample = spec.sample(6000, _rng())
    values, counts = np.unique(sample, return_counts=True)
    assert values.tolist() == [100, 200, 300]
    expected = np.array([2, 1, 3]) / 6 * 6000
    assert stats.chisquare(counts, expected).pvalue > 0.01
    # Drawing the distinct values equally often (ignoring repeats in the file) would fail.
    assert stats.chisquare(counts, [2000, 2000, 2000]).pvalue < 0.01
    assert spec.values == (100, 100, 200, 300, 300, 300)
    assert spec.mean == pytest.approx(1300 / 6)


# --------------------------------------------------------------------------------------------
# Clamps, rounding, floor, seeding


def test_clamps_hold_and_are_reached() -> None:
    spec = parse_length("normal:500,300,min=400,max=600", field="output-tokens", floor=1)
    sample = spec.sample(N, _rng())
    assert sample.min() == 400
    assert sample.max() == 600
    assert (sample == 400).sum() > N / 10  # a clamp piles values on the bound, not redraws


def test_float_quantity_is_clamped_at_zero_by_default() -> None:
    sample = parse_length("normal:1,5,max=3", field="think-time", integer=False).sample(N, _rng())
    assert sample.dtype == np.float64
    assert sample.min() == 0.0
    assert sample.max() == 3.0
    assert not np.all(sample == np.rint(sample))  # not rounded


def test_integer_quantity_is_the_rounded_float_draw() -> None:
    as_int = parse_length("normal:50.3,4", field="x").sample(N, _rng())
    as_float = parse_length("normal:50.3,4", field="x", integer=False).sample(N, _rng())
    assert as_int.dtype == np.int64
    np.testing.assert_array_equal(as_int, np.rint(as_float).astype(np.int64))


def test_empirical_values_are_rounded_for_counts(tmp_path: Path) -> None:
    path = tmp_path / "l.txt"
    path.write_text("2.4\n2.6\n")
    sample = parse_length(f"file:{path}", field="x").sample(200, _rng())
    assert set(sample.tolist()) == {2, 3}


def test_floor_is_enforced_even_below_a_user_min() -> None:
    spec = parse_length("normal:2,5,min=0", field="input-tokens", floor=1)
    sample = spec.sample(N, _rng())
    assert sample.min() == 1
    assert (sample == 1).sum() > N / 10
    assert spec.bounds() == (1, math.inf)


def test_same_seed_same_sample_other_seed_other_sample() -> None:
    spec = parse_length("lognormal:300,0.8", field="x")
    first = spec.sample(100, _rng(7))
    np.testing.assert_array_equal(first, spec.sample(100, _rng(7)))
    assert not np.array_equal(first, spec.sample(100, _rng(8)))


# --------------------------------------------------------------------------------------------
# Constants


def test_toml_numbers_are_constants() -> None:
    spec = parse_length(128, field="input-tokens", floor=1)
    assert spec.is_constant
    assert spec == parse_length("128", field="input-tokens", floor=1)
    assert spec.text == "128"
    sample = spec.sample(5, _rng())
    assert sample.dtype == np.int64
    assert sample.tolist() == [128] * 5

    think = parse_length(1.5, field="think-time", integer=False)
    assert think.is_constant
    assert think.mean == 1.5
    assert think.sample(3, _rng()).tolist() == [1.5, 1.5, 1.5]
    assert not parse_length("normal:5,1", field="x").is_constant


# --------------------------------------------------------------------------------------------
# Errors


FIELD = "field 'input-tokens'"
ERROR_CASES = [
    ("gamma:1,2", "unknown distribution 'gamma'.*normal:.*lognormal:.*uniform:.*file:"),
    ("abc", "expected a number or one of normal:"),
    ("", "empty value"),
    (True, "expected a number"),
    ("normal:500", re.escape("normal takes MEAN,SD, got 1 numbers")),
    ("uniform:1,2,3", re.escape("uniform takes LO,HI, got 3 numbers")),
    ("1,2", "constant takes one number, got 2"),
    ("normal:500,abc", "normal SD must be a number, got 'abc'"),
    ("lognormal:x,1", "lognormal MEDIAN must be a number"),
    ("normal:500,nan", "normal SD must be a finite number"),
    ("normal:500,-1", "normal SD must be >= 0, got -1"),
    ("lognormal:300,-0.5", "lognormal SIGMA must be >= 0"),
    ("lognormal:0,0.5", "lognormal MEDIAN must be > 0"),
    ("uniform:9,3", re.escape("uniform LO (9) is greater than HI (3)")),
    ("normal:500,100,min=900,max=100", "min=900 is greater than max=100"),
    ("normal:500,100,min=x", "min= must be a number, got 'x'"),
    ("normal:500,100,mean=3", "unknown option 'mean='; only min= and max= are allowed"),
    ("normal:500,100,max=9,max=10", "max= is given twice"),
    ("normal:min=1,500,100", "must come after the parameters"),
    ("normal:500,100,max=0", "max=0 is below the lowest allowed value 1"),
    ("0", "value 0 is below the lowest allowed value 1"),
    ("12.5", "must be whole numbers"),
    ("uniform:1.5,3", "must be whole numbers"),
    ("100,max=50", "constant 100 lies outside its own min=/max="),
    ("file:", "file: needs a path"),
]


@pytest.mark.parametrize(("value", "match"), ERROR_CASES)
def test_bad_spec_is_a_config_error_naming_the_field(value: str | bool, match: str) -> None:
    with pytest.raises(ConfigError, match=f"^{re.escape(FIELD)}: .*{match}") as info:
        parse_length(value, field="input-tokens", floor=1)
    assert info.value.field == "input-tokens"
    assert "\n" not in str(info.value)


def test_negative_float_constant_is_rejected_but_fraction_is_fine() -> None:
    with pytest.raises(ConfigError, match=r"field 'think-time'.*below the lowest allowed value 0"):
        parse_length(-0.5, field="think-time", integer=False)
    assert parse_length("0.25", field="think-time", integer=False).mean == 0.25


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.txt"
    with pytest.raises(ConfigError, match=f"{re.escape(str(path))}.*{FIELD}.*cannot read"):
        parse_length(f"file:{path}", field="input-tokens")


def test_file_without_numbers(tmp_path: Path) -> None:
    path = tmp_path / "empty.txt"
    path.write_text("# nothing here\n\n   \n")
    with pytest.raises(ConfigError, match=f"{FIELD}: length file holds no numbers"):
        parse_length(f"file:{path}", field="input-tokens")


def test_bad_line_in_file_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.txt"
    path.write_text("100\n# a comment\n\n12 tokens\n200\n")
    with pytest.raises(ConfigError, match=rf"{re.escape(str(path))}:4, {FIELD}: '12 tokens'") as e:
        parse_length(f"file:{path}", field="input-tokens")
    assert (e.value.source, e.value.line) == (str(path), 4)


def test_relative_file_is_read_from_base(tmp_path: Path) -> None:
    (tmp_path / "rel.txt").write_text("7\n")
    spec = parse_length("file:rel.txt,max=5", field="x", base=tmp_path)
    assert spec.source == str(tmp_path / "rel.txt")
    assert spec.sample(3, _rng()).tolist() == [5, 5, 5]


# --------------------------------------------------------------------------------------------
# describe, mean, to_json


@pytest.mark.parametrize(
    ("text", "described", "mean"),
    [
        ("128", "128", 128),
        ("normal:500,100,min=50,max=2000", "normal(mean 500, sd 100), clamped to [50, 2000]", 500),
        ("lognormal:300,0.5", "lognormal(median 300, sigma 0.5)", 300 * math.exp(0.125)),
        ("uniform:10,20,max=15", "uniform(lo 10, hi 20), clamped to <= 15", 15),
        ("normal:5,2,min=3", "normal(mean 5, sd 2), clamped to >= 3", 5),
    ],
)
def test_describe_and_mean(text: str, described: str, mean: float) -> None:
    spec = parse_length(text, field="x")
    assert spec.describe() == described
    assert spec.mean == pytest.approx(mean)


def test_to_json_does_not_inline_file_values(tmp_path: Path) -> None:
    path = tmp_path / "l.txt"
    path.write_text("\n".join(str(i) for i in range(1, 1001)))
    spec = parse_length(f"file:{path},min=10", field="input-tokens", floor=1)
    doc = json.loads(json.dumps(spec.to_json()))
    assert doc["kind"] == "empirical"
    assert doc["source"] == str(path)
    assert doc["count"] == 1000
    assert doc["mean"] == pytest.approx(500.5)
    assert doc["min"] == 10
    assert doc["text"] == f"file:{path},min=10"
    assert len(json.dumps(doc)) < 500  # the thousand values are not in there
    assert spec.describe() == f"empirical(1000 values from {path}, mean 500.5), clamped to >= 10"


def test_to_json_names_the_parameters() -> None:
    doc = parse_length("normal:500,100,max=900", field="x").to_json()
    assert doc["params"] == {"mean": 500, "sd": 100}
    assert (doc["kind"], doc["integer"], doc["max"], doc["floor"]) == ("normal", True, 900, 0)
