"""Experiment files: every kind of mistake is one ConfigError naming the file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from auraon_bench.errors import ConfigError
from auraon_bench.experiment.preflight import part_load_options
from auraon_bench.experiment.schema import REGRESS_DEFAULTS, load_experiment
from auraon_bench.load.arrivals import Profile
from tests.conftest import FIXTURES, ROOT

GOOD = """\
name = "t"
seed = 4
arms = ["auto", "gpt-4o"]

[target]
time_scale = 0.5

[eval]
datasets = ["items.jsonl"]
items_per_dataset = 2
reference = "gpt-4o"

[[load]]
name = "steady"
rate = 5.0
duration = 2.0

[[load]]
name = "sweep"
sweep = [1.0, 2.0]
duration = 1.0
plan = "starter"

[slo]
ttft_p95_ms = 800
error_rate = 0.01

[regress]
latency_ratio = 1.2
"""


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "items.jsonl").write_text((FIXTURES / "sample.jsonl").read_text())
    path = tmp_path / "exp.toml"
    path.write_text(text)
    return path


def error_of(tmp_path: Path, text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_experiment(write(tmp_path, text))
    return info.value


def test_a_good_file_is_read_into_frozen_settings(tmp_path: Path) -> None:
    exp = load_experiment(write(tmp_path, GOOD))
    assert exp.name == "t" and exp.seed == 4 and exp.target.time_scale == 0.5
    assert exp.eval is not None and exp.eval.items_per_dataset == 2
    assert exp.eval.datasets == (str(tmp_path / "items.jsonl"),)  # relative to the file
    steady, sweep = exp.loads
    assert steady.spec.profile is Profile.CONSTANT and steady.spec.rate == 5.0
    assert sweep.spec.profile is Profile.SWEEP and len(sweep.spec.stages) == 2
    assert sweep.plan == "starter" and steady.arms == ("auto", "gpt-4o")
    assert [p.name for p in exp.parts] == ["eval", "steady", "sweep"]
    assert steady.workers == 1 and steady.executor == "local"
    two = load_experiment(
        write(tmp_path, GOOD.replace("rate = 5.0\n", "rate = 5.0\nworkers = 2\n"))
    )
    assert two.loads[0].workers == 2
    assert {s.key for s in exp.slos} == {"ttft_p95_ms", "error_rate"}
    assert exp.regress["latency_ratio"] == 1.2
    assert exp.regress["cost_ratio"] == REGRESS_DEFAULTS["cost_ratio"]
    assert len(exp.sha256) == 64 and exp.describe()["content"] == GOOD


@pytest.mark.parametrize(
    ("change", "field", "line", "words"),
    [
        # an unknown key, with a close match offered
        (("duration = 2.0", "duraton = 2.0"), "load.steady.duraton", 16, "did you mean 'duration'"),
        (("seed = 4", "seeds = 4"), "seeds", 2, "unknown key"),
        # a wrong type
        (("rate = 5.0", 'rate = "fast"'), "load.steady.rate", 15, "must be a number"),
        (('arms = ["auto", "gpt-4o"]', 'arms = "auto"'), "arms", 3, "array of strings"),
        (("items_per_dataset = 2", "items_per_dataset = true"), "eval.items_per_dataset", 10,
         "must be an integer"),
        # a missing file
        (('datasets = ["items.jsonl"]', 'datasets = ["nope.jsonl"]'), "eval.datasets", 9,
         "no such file: nope.jsonl"),
        # impossible combinations
        (("rate = 5.0\n", 'profile = "constant"\n'), "load.steady.rate", None, "rate"),
        (('reference = "gpt-4o"', 'reference = "claude-opus-4"'), "eval.reference", 11,
         "not one of the arms"),
        (("time_scale = 0.5", 'time_scale = 0.5\nbase_url = "https://x.example/v1"'),
         "target.time_scale", 6, "built-in emulator only"),
        (('name = "sweep"', 'name = "steady"'), "load.steady.name", None, "used twice"),
        (("ttft_p95_ms = 800", "ttft_p97_ms = 800"), "slo.ttft_p97_ms", 25, "unknown SLO"),
        (("latency_ratio = 1.2", "alpha = 1.5"), "regress.alpha", 29, "between 0 and 1"),
        (("plan = \"starter\"", 'plan = "gold"'), "load.sweep.plan", 22, "must be one of"),
        (("rate = 5.0\n", "concurrency = 2\nworkers = 3\n"), "load.steady.workers", 16,
         "concurrency 2 cannot be shared among 3 workers"),
        (("rate = 5.0\n", 'rate = 5.0\nexecutor = "k8s"\n'), "load.steady.executor", 16,
         "must be one of local, ray"),
        (("rate = 5.0\n", 'rate = 5.0\ninput_tokens = "gauss:3,1"\n'),
         "load.steady.input_tokens", 16, "unknown distribution 'gauss'"),
        (("rate = 5.0\n", "rate = 5.0\nturns = 5000\n"), "load.steady.turns", 16,
         "must be <= 1024"),
        (("rate = 5.0\n", 'rate = 5.0\nthink_time = "uniform:2,1"\n'),
         "load.steady.think_time", 16, "LO"),
        (("rate = 5.0\n", 'rate = 5.0\ntokenizer = "p50k"\n'), "load.steady.tokenizer", 16,
         "must be one of"),
        (("rate = 5.0\n", 'rate = 5.0\noutput_tokens = "file:nope.txt"\n'),
         "load.steady.output_tokens", 16, "nope.txt"),
        (("rate = 5.0\n", 'rate = 5.0\npin_output = "yes"\n'), "load.steady.pin_output", 16,
         "true or false"),
    ],
)  # fmt: skip
def test_each_mistake_names_file_field_and_line(
    tmp_path: Path, change: tuple[str, str], field: str, line: int | None, words: str
) -> None:
    old, new = change
    assert old in GOOD
    exc = error_of(tmp_path, GOOD.replace(old, new, 1))
    assert exc.source == str(tmp_path / "exp.toml")
    assert exc.field == field
    if line is not None:
        assert exc.line == line
    assert words in str(exc)
    assert "\n" not in str(exc)


def test_traffic_keys_take_numbers_and_distributions(tmp_path: Path) -> None:
    (tmp_path / "lengths.txt").write_text("100\n200\n# a comment\n300\n")
    text = GOOD.replace(
        "rate = 5.0\n",
        'rate = 5.0\ninput_tokens = "file:lengths.txt"\noutput_tokens = "normal:50,5"\n'
        'turns = 3\nthink_time = "lognormal:0.5,0.2"\ntokenizer = "cl100k_base"\n'
        "shared_prefix_tokens = 1200\nprefix_groups = 2\nrepeat = 1\n",
        1,
    )
    load = load_experiment(write(tmp_path, text)).loads[0]
    assert load.input_tokens.kind == "empirical"  # read relative to the experiment file
    assert load.input_tokens.values == (100.0, 200.0, 300.0)
    assert load.output_tokens.kind == "normal" and load.turns == 3
    assert load.think_time.kind == "lognormal" and not load.think_time.integer
    assert (load.tokenizer, load.shared_prefix_tokens, load.prefix_groups, load.repeat) == (
        "cl100k_base",
        1200,
        2,
        1,
    )
    plain = load_experiment(write(tmp_path, GOOD)).loads[0]
    assert (plain.input_tokens, plain.turns, plain.think_time) == (128, 1, 0.0)


def test_pin_output_is_kept_from_the_file_and_defaulted_by_the_run_flag(tmp_path: Path) -> None:
    text = GOOD.replace("rate = 5.0\n", "rate = 5.0\npin_output = true\n", 1)
    experiment = load_experiment(write(tmp_path, text))
    steady, sweep = experiment.loads
    assert steady.pin_output is True and sweep.pin_output is None  # None: emulator only
    unpinned = experiment.with_pin_output(False)  # run --no-pin-output
    assert [p.pin_output for p in unpinned.loads] == [True, False]
    assert part_load_options(unpinned.loads[1], unpinned, 0, tmp_path).pin_output is False


def test_an_api_key_in_the_file_is_refused(tmp_path: Path) -> None:
    exc = error_of(tmp_path, GOOD.replace("[target]\n", '[target]\napi_key = "br-secret123"\n'))
    assert exc.field == "target.api_key" and "AURAON_API_KEY" in str(exc)
    assert "br-secret123" not in str(exc)


def test_invalid_toml_names_the_line(tmp_path: Path) -> None:
    exc = error_of(tmp_path, GOOD.replace("seed = 4", "seed = = 4"))
    assert "not valid TOML" in str(exc) and "line 2" in str(exc)


def test_a_file_with_nothing_to_run_is_refused(tmp_path: Path) -> None:
    exc = error_of(tmp_path, 'name = "empty"\n')
    assert "nothing to run" in str(exc)


def test_a_missing_experiment_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read experiment file"):
        load_experiment(tmp_path / "absent.toml")


def test_a_table_where_a_value_belongs_is_a_type_error(tmp_path: Path) -> None:
    exc = error_of(tmp_path, GOOD.replace('[[load]]\nname = "steady"', "[[load]]\nname = 3", 1))
    assert "must be a string" in str(exc)


SHIPPED = sorted((ROOT / "experiments").glob("*.toml"))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_experiment_is_valid_and_documented(path: Path) -> None:
    exp = load_experiment(path)
    assert exp.parts, path
    first_lines = path.read_text().splitlines()[:3]
    assert all(line.startswith("#") for line in first_lines), "documented at its top"


def test_the_shipped_experiments_are_the_documented_six() -> None:
    names = {p.stem for p in SHIPPED}
    assert names == {
        "quickstart",
        "plan-choice",
        "routing-eval",
        "nightly",
        "rate-limits",
        "chat-sessions",
    }
