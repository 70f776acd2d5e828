"""``auraon-bench history``: step detection on synthetic series, the run index over copies of
the fixture runs (with an injected step and an unreadable run), and the command end to end."""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from auraon_bench.analysis.steps import detect_step, relative_change
from auraon_bench.cli.history import history_command
from auraon_bench.errors import ConfigError
from auraon_bench.history import METRICS, find_run_dirs, read_history
from auraon_bench.history.index import metrics_named
from auraon_bench.history.report import build_history_document, find_steps, history_warnings
from auraon_bench.report.render import to_markdown
from auraon_bench.results.run import read_run
from tests.conftest import FIXTURES, ROOT

RUNS = FIXTURES / "runs"
START = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
SCALED = ("latency_s", "ttft_s")
PERCENTILE_KEYS = ("mean", "min", "max", "p50", "p90", "p95", "p99")


# --- step detection -------------------------------------------------------------------------


def noisy(rng: np.random.Generator, n: int = 20, sd: float = 0.03) -> np.ndarray:
    return 1.0 + sd * rng.standard_normal(n)


@pytest.mark.parametrize("seed", range(20))
def test_a_20_percent_step_is_found_where_it_is(seed: int) -> None:
    rng = np.random.default_rng(seed)
    values = noisy(rng) * np.r_[np.ones(10), np.full(10, 1.2)]
    step = detect_step(values)
    assert step is not None
    assert abs(step.index - 10) <= 1
    assert step.change == pytest.approx(0.2, abs=0.06)
    assert step.p_adjusted < 0.05 and step.p_adjusted >= step.p
    assert step.n_before + step.n_after == 20


def test_a_step_down_has_a_negative_change() -> None:
    values = noisy(np.random.default_rng(1)) * np.r_[np.ones(12), np.full(8, 0.7)]
    step = detect_step(values)
    assert step is not None and step.index == 12
    assert step.change == pytest.approx(-0.3, abs=0.05)
    assert step.after < step.before


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("night", [3, 10, 16, 19])
def test_one_outlier_night_is_not_a_step(seed: int, night: int) -> None:
    values = noisy(np.random.default_rng(seed))
    values[night] *= 3.0
    assert detect_step(values) is None


@pytest.mark.slow
def test_pure_noise_gives_few_false_steps() -> None:
    # sd 10%: the 10% change threshold alone would not protect; the test must.
    flagged = sum(
        detect_step(noisy(np.random.default_rng(seed), sd=0.10)) is not None for seed in range(200)
    )
    assert flagged <= 10  # at most 5%


def test_short_and_constant_series_have_no_step() -> None:
    assert detect_step([]) is None
    assert detect_step([1.0, 1.0, 1.0, 9.0, 9.0]) is None  # fewer than 2 x 3 points
    assert detect_step([1.0] * 30) is None
    # 6 and 8 points: even a perfect split cannot be significant after Bonferroni.
    assert detect_step([1.0] * 3 + [9.0] * 3) is None
    assert detect_step([1.0] * 4 + [9.0] * 4) is None
    assert detect_step([1.0, 1.1, 0.9, 1.05, 0.95, 9.0, 9.1, 8.9, 9.05, 8.95]) is not None


def test_missing_values_are_dropped_and_the_index_is_the_given_position() -> None:
    values = [1.0, 1.02, None, 0.98, 1.01, 0.99, math.nan, 1.5, 1.52, math.inf, 1.48, 1.51, 1.49]
    step = detect_step(values)
    assert step is not None
    assert step.index == 7  # the first 1.5, counting the missing values before it
    assert (step.n_before, step.n_after) == (5, 5)
    assert step.before == pytest.approx(1.0) and step.after == pytest.approx(1.5)


def test_a_move_away_from_zero_is_an_infinite_change() -> None:
    step = detect_step([0.0] * 8 + [0.05, 0.04, 0.06, 0.05, 0.05, 0.04, 0.06, 0.05])
    assert step is not None and step.index == 8 and step.change == math.inf
    assert relative_change(0.0, 0.0) == 0.0
    assert relative_change(2.0, 1.0) == -0.5


def test_a_significant_change_below_the_threshold_is_not_a_step() -> None:
    values = noisy(np.random.default_rng(4), sd=0.005) * np.r_[np.ones(10), np.full(10, 1.05)]
    assert detect_step(values, threshold=0.10) is None
    step = detect_step(values, threshold=0.02)
    assert step is not None and step.index == 10


def test_bad_parameters_raise() -> None:
    with pytest.raises(ValueError, match="min_segment"):
        detect_step([1.0] * 10, min_segment=0)
    with pytest.raises(ValueError, match="alpha"):
        detect_step([1.0] * 10, alpha=0)


# --- the index over a results directory ------------------------------------------------------


def copy_run(source: str, dest: Path, *, day: int, factor: float = 1.0, run_id: str = "") -> Path:
    """A copy of a fixture run started ``day`` days after START, latency and TTFT x factor."""
    shutil.copytree(RUNS / source, dest)
    manifest = json.loads((dest / "manifest.json").read_text())
    manifest["run_id"] = run_id or f"night-{day:02d}"
    manifest["created_utc"] = (START + timedelta(days=day)).isoformat(timespec="seconds")
    (dest / "manifest.json").write_text(json.dumps(manifest))
    summary = json.loads((dest / "summary.json").read_text())
    for arm in (summary.get("arms") or {}).values():
        for metric in SCALED:
            for key in PERCENTILE_KEYS:
                arm[metric][key] *= factor
    (dest / "summary.json").write_text(json.dumps(summary))
    return dest


def nightly(root: Path, nights: int = 12, step_at: int = 6, step: float = 1.3) -> None:
    """``nights`` copies of the load-sweep run with 2% noise; latency x ``step`` from
    ``step_at`` on."""
    noise = 1.0 + 0.02 * np.random.default_rng(5).standard_normal(nights)
    for day in range(nights):
        factor = float(noise[day]) * (step if day >= step_at else 1.0)
        copy_run("load-sweep", root / "nightly" / f"run-{day:02d}", day=day, factor=factor)


def write_unreadable(root: Path) -> Path:
    bad = root / "broken"
    bad.mkdir(parents=True)
    (bad / "manifest.json").write_text("{ not json")
    return bad


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    """Every fixture run once, an unreadable run, and a report directory that is no run."""
    root = tmp_path / "results"
    for name in ("eval", "load-sweep", "load-sweep-b", "experiment"):
        shutil.copytree(RUNS / name, root / name)
    write_unreadable(root)
    shutil.copytree(RUNS / "eval", root / "report" / "stray")
    shutil.copytree(RUNS / "eval", root / "load-sweep" / "old-copy")
    return root


def test_the_index_has_a_row_per_run_part_and_arm(mixed: Path) -> None:
    history = read_history(mixed)
    assert list(history.runs["run_id"]) == [
        "20261125-213702-5d5d", "20261125-213753-f1bc", "20261125-214803-50c8",
        "20261125-214830-cd93",
    ]  # fmt: skip
    assert list(history.runs["order"]) == [0, 1, 2, 3]
    experiment = history.index[history.index["experiment"].eq("small").fillna(False)]
    assert sorted(set(experiment["part"])) == ["eval", "sweep"]
    assert len(experiment) == 6 and set(experiment["experiment_sha256"].str[:8]) == {"e9e53412"}
    assert len(history.index) == 5 + 2 + 6 + 2
    assert history.simulated and history.experiments == ["small"]


def test_the_index_reads_metrics_from_each_runs_files(mixed: Path) -> None:
    index = read_history(mixed).index.set_index(["run_id", "part", "arm"])
    part = read_run(RUNS / "load-sweep").parts[0]
    assert part.summary is not None
    summary = part.summary.arm("auto")
    row = index.loc[("20261125-213753-f1bc", "load", "auto")]
    assert row["latency_p95_s"] == summary.latency_s.p95
    assert row["ttft_p50_s"] == summary.ttft_s.p50
    assert row["tpot_p50_s"] == summary.tpot_s.p50
    assert row["throughput_rps"] == summary.request_throughput
    assert row["rate_limited_rate"] == summary.errors.status_shares["rate_limited"]
    assert row["rate_limited_rate"] == pytest.approx(12 / 51)
    assert row["error_rate"] == 0.0
    assert row["cost_per_request_usd"] == summary.cost.per_request_usd
    assert row["n"] == summary.latency_s.n == 39 and math.isnan(row["accuracy"])
    evaluation = read_run(RUNS / "eval").parts[0].evaluation
    assert evaluation is not None
    graded = index.loc[("20261125-213702-5d5d", "eval", "gpt-4o"), "accuracy"]
    assert graded == evaluation.accuracy.row("gpt-4o").accuracy == 0.9375
    assert index.loc[("20261125-214803-50c8", "eval", "auto"), "accuracy"] == 1.0


def test_error_rate_counts_failures_but_not_429s(tmp_path: Path) -> None:
    run = copy_run("load-sweep", tmp_path / "r" / "one", day=0)
    summary = json.loads((run / "summary.json").read_text())
    errors = summary["arms"]["auto"]["errors"]
    errors["status_counts"].update(ok=34, http_error=3, timeout=2)  # 12 rate limited of 51
    (run / "summary.json").write_text(json.dumps(summary))
    row = read_history(tmp_path / "r").index.set_index("arm").loc["auto"]
    assert row["error_rate"] == pytest.approx(5 / 51)
    assert row["rate_limited_rate"] == pytest.approx(12 / 51)


def test_a_misshapen_summary_is_an_unreadable_run_naming_the_field(tmp_path: Path) -> None:
    copy_run("load-sweep", tmp_path / "r" / "good", day=0)
    bad = copy_run("load-sweep", tmp_path / "r" / "bad", day=1)
    summary = json.loads((bad / "summary.json").read_text())
    summary["arms"]["auto"]["ttft_s"] = "fast"
    (bad / "summary.json").write_text(json.dumps(summary))
    history = read_history(tmp_path / "r")
    assert list(history.runs["run_id"]) == ["night-00"]
    [(path, reason)] = history.unreadable
    assert path == bad and "\n" not in reason
    assert reason == (
        f"{bad / 'summary.json'}, field 'RunSummary.arms.auto.ttft_s': expected an object, got str"
    )


def test_an_unreadable_run_is_reported_not_fatal(mixed: Path) -> None:
    history = read_history(mixed)
    assert len(history.runs) == 4
    [(path, reason)] = history.unreadable
    assert path == mixed / "broken"
    assert "not valid JSON" in reason and "\n" not in reason
    assert any(w.startswith("UNREADABLE RUN:") and "broken" in w for w in history_warnings(history))


def test_the_walk_skips_reports_and_the_insides_of_runs(mixed: Path) -> None:
    dirs, failed = find_run_dirs(mixed)
    assert [d.name for d in dirs] == ["broken", "eval", "experiment", "load-sweep", "load-sweep-b"]
    assert failed == []


def test_selecting_an_experiment(mixed: Path) -> None:
    history = read_history(mixed).select("small")
    assert list(history.runs["run_id"]) == ["20261125-214803-50c8"]
    assert set(history.index["order"]) == {0} and len(history.index) == 6
    with pytest.raises(ConfigError, match="experiments: small") as info:
        read_history(mixed).select("nightly")
    assert info.value.field == "--experiment"


def test_metric_names_are_checked() -> None:
    assert [m.name for m in metrics_named(["accuracy,error_rate", "accuracy"])] == [
        "accuracy",
        "error_rate",
    ]
    assert metrics_named([])[0].name == "latency_p95_s"
    with pytest.raises(ConfigError, match="unknown metric 'p95'") as info:
        metrics_named(["p95"])
    assert info.value.field == "--metric"


def test_an_injected_step_is_found_in_the_index(tmp_path: Path) -> None:
    nightly(tmp_path, nights=12, step_at=6, step=1.3)
    history = read_history(tmp_path)
    assert list(history.runs["run_id"]) == [f"night-{d:02d}" for d in range(12)]
    steps = find_steps(history, [METRICS[m] for m in ("latency_p95_s", "ttft_p50_s")])
    found = {(s.metric.name, s.key.arm): s for s in steps}
    assert set(found) == {(m, a) for m in ("latency_p95_s", "ttft_p50_s")
                          for a in ("auto", "gpt-4o-mini")}  # fmt: skip
    for s in found.values():
        assert s.run_id == "night-06" and s.order == 6 and s.key.part == "load"
        assert s.step.change == pytest.approx(0.3, abs=0.05)
    # Cost and 429s were not touched: no step.
    assert find_steps(history, [METRICS["cost_per_request_usd"], METRICS["error_rate"]]) == []


def test_a_changed_experiment_file_is_a_warning(tmp_path: Path) -> None:
    for day in range(4):
        run = copy_run("experiment", tmp_path / f"exp-{day}", day=day)
        if day >= 2:
            manifest = json.loads((run / "manifest.json").read_text())
            manifest["experiment"]["sha256"] = "f" * 64
            (run / "manifest.json").write_text(json.dumps(manifest))
    history = read_history(tmp_path)
    [warning] = [w for w in history_warnings(history) if w.startswith("EXPERIMENT CHANGED")]
    assert (
        "small" in warning and "night-02" in warning and "e9e534123149 -> ffffffffffff" in warning
    )
    markdown = to_markdown(build_history_document(history, [METRICS["accuracy"]], []), {})
    assert "EXPERIMENT CHANGED" in markdown and "No step in 3 series." in markdown


# --- the command -----------------------------------------------------------------------------


@pytest.mark.slow
def test_the_command_writes_the_page_and_names_the_step(tmp_path: Path) -> None:
    root = tmp_path / "results"
    nightly(root, nights=12, step_at=6, step=1.3)
    write_unreadable(root)
    result = CliRunner().invoke(history_command, [str(root), "--format", "html,md,csv"])
    assert result.exit_code == 0, result.output
    out = root / "history"
    assert (out / "index.html").is_file() and (out / "report.md").is_file()
    assert "history: 12 runs (SIMULATED), 1 unreadable, 4 steps" in result.output
    assert "step: load/auto latency_p95_s: +" in result.output and "night-06" in result.output
    assert "WARNING: unreadable run" in result.output
    markdown = (out / "report.md").read_text()
    assert markdown.count("> **SIMULATED") == 1 and "UNREADABLE RUN" in markdown
    steps = markdown[markdown.index("## Steps detected") : markdown.index("## Trends")]
    assert "| load/auto | latency_p95_s | night-06 |" in steps
    assert re.search(r"\| \+(2[5-9]|3[0-5])\.\d% \|", steps)  # +30%, give or take the noise
    for metric in ("latency_p95_s", "ttft_p50_s", "cost_per_request_usd", "error_rate"):
        png = out / "charts" / f"history-{metric}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"](charts/history-{metric}.png)" in markdown
    assert "No run has a value for accuracy." in markdown
    assert "data:image/png;base64," in (out / "index.html").read_text()
    assert (out / "tables" / "history-steps.csv").read_text().count("night-06") == 4
    assert len((out / "tables" / "history-index.csv").read_text().splitlines()) == 1 + 24


def test_the_command_takes_metrics_experiment_and_out(mixed: Path, tmp_path: Path) -> None:
    out = tmp_path / "page"
    args = [str(mixed), "--metric", "accuracy", "--experiment", "small", "--out", str(out)]
    result = CliRunner().invoke(history_command, [*args, "--format", "md"])
    assert result.exit_code == 0, result.output
    assert "history: 1 runs (SIMULATED), 1 unreadable, 0 steps" in result.output
    markdown = (out / "report.md").read_text()
    assert "history-accuracy.png" in markdown and "history-latency_p95_s" not in markdown
    assert not (mixed / "history").exists()


def test_the_command_errors_name_the_flag_or_path(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = CliRunner().invoke(history_command, [str(empty)])
    assert isinstance(result.exception, ConfigError) and str(empty) in str(result.exception)
    result = CliRunner().invoke(history_command, [str(tmp_path / "missing")])
    assert isinstance(result.exception, ConfigError)
    assert "no such results directory" in str(result.exception)
    result = CliRunner().invoke(history_command, [str(empty), "--metric", "nope"])
    assert isinstance(result.exception, ConfigError) and result.exception.field == "--metric"
    result = CliRunner().invoke(history_command, [str(empty), "--format", "pdf"])
    assert isinstance(result.exception, ConfigError) and result.exception.field == "--format"


_NO_MATPLOTLIB_PROBE = """
import sys
from auraon_bench.cli.history import history_command
from auraon_bench.history import read_history
from auraon_bench.history.index import metrics_named
from auraon_bench.history.report import build_history_document, find_steps
history = read_history(sys.argv[1])
build_history_document(history, metrics_named([]), find_steps(history, metrics_named([])))
print("matplotlib" in sys.modules)
"""


@pytest.mark.slow
def test_reading_a_history_does_not_load_matplotlib() -> None:
    probe = subprocess.run(
        [sys.executable, "-c", _NO_MATPLOTLIB_PROBE, str(RUNS)],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )  # fmt: skip
    assert probe.stdout.split() == ["False"], "matplotlib must load only when charts are drawn"
