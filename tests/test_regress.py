"""``regress`` on the emulator: each injected change is flagged on its arm and metric only, and
unchanged runs with different seeds raise no alarm. Plus the pure statistics and the CLI."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np
import pytest
from click.testing import CliRunner

from auraon_bench.analysis import regression as rg
from auraon_bench.cli.main import cli
from auraon_bench.experiment.runner import run_experiment
from auraon_bench.experiment.schema import load_experiment
from auraon_bench.regress.compare import RegressInputError, compare_runs
from auraon_bench.results.run import read_run

# Its module fixture runs six experiments on the emulator, whose latencies it compares.
pytestmark = [pytest.mark.slow, pytest.mark.quiet]

ROOT = Path(__file__).resolve().parent.parent
EXPERIMENT = """\
name = "regress-test"
seed = {seed}
arms = ["auto", "llama-3.1-8b", "gpt-4o"]
{target}
[eval]
datasets = ["{root}/datasets/math.jsonl", "{root}/datasets/factual.jsonl"]
concurrency = 32
max_tokens = 64

[[load]]
name = "steady"
arms = ["auto", "llama-3.1-8b"]
profile = "concurrent"
concurrency = 32
requests = 600
output_tokens = 128

[output]
report = []

# Client and emulator share this machine's two cores with the test runner, so the client's own
# scheduling delay (inside gateway overhead) moves by a few ms between runs: a nightly job on a
# busy runner says so the same way.
[regress]
latency_min_delta_s = 0.005
"""
OVERLAYS = {
    "slow": '[models."llama-3.1-8b"]\nttft_s = 0.36\n',
    "price": '[models."llama-3.1-8b"]\ninput_per_mtok = 0.055\noutput_per_mtok = 0.088\n',
    "skill": '[models."llama-3.1-8b"]\nskill.math = [0.30, 0.10, 0.02]\n',
    "routing": (
        '[models."gemini-2.5-flash-b"]\nowned_by = "google"\ninput_per_mtok = 0.30\n'
        "output_per_mtok = 2.50\ncontext = 1000000\nttft_s = 0.5\noutput_tok_s = 230\n"
        "skill.default = [0.95, 0.82, 0.55]\n\n[routing.modes.auto]\n"
        'SIMPLE = ["gemini-2.5-flash-b", "gpt-4o-mini", "llama-3-3-70b"]\n'
        'MEDIUM = ["gpt-4o", "gemini-2.5-flash-b", "claude-sonnet-4-6"]\n'
    ),
}


def make_run(root: Path, name: str, emulator_seed: int, overlay: str | None = None) -> Path:
    folder = root / name
    folder.mkdir()
    target = ""
    if overlay is not None:
        (folder / "overlay.toml").write_text('[meta]\nextends = "builtin"\n\n' + overlay)
        target = '[target]\ncatalog = "overlay.toml"\n'
    path = folder / "experiment.toml"
    path.write_text(EXPERIMENT.format(seed=1, target=target, root=ROOT))
    spec = load_experiment(path)
    spec = dataclasses.replace(spec, target=dataclasses.replace(spec.target, time_scale=0.2))
    return run_experiment(spec, out=folder / "run", emulator_seed=emulator_seed).run_dir


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("regress")
    made = {"baseline": make_run(root, "baseline", 1), "unchanged": make_run(root, "same", 2)}
    for name, overlay in OVERLAYS.items():
        made[name] = make_run(root, name, 2, overlay)
    return made


def regressions(runs: dict[str, Path], current: str) -> set[tuple[str, str, str]]:
    result = compare_runs(read_run(runs["baseline"]), read_run(runs[current]), force=True)
    return {(c.part, c.arm, c.metric) for c in result.regressions}


@pytest.mark.slow
def test_unchanged_emulator_with_another_seed_raises_no_alarm(runs: dict[str, Path]) -> None:
    result = compare_runs(read_run(runs["baseline"]), read_run(runs["unchanged"]))
    assert result.regressions == [] and result.not_comparable == []
    assert len(result.checks) > 40


def test_a_slower_model_is_flagged_on_its_ttft(runs: dict[str, Path]) -> None:
    found = regressions(runs, "slow")
    assert ("steady", "llama-3.1-8b", "TTFT p50") in found  # 300 attempts a run
    # Only that arm, and only time metrics: TTFT, and latency where TTFT is most of it.
    assert {arm for _, arm, _ in found} == {"llama-3.1-8b"}
    assert all(m.startswith(("TTFT", "latency")) for _, _, m in found)
    assert ("steady", "llama-3.1-8b", "latency p50") not in found  # 128 tokens dilute it


def test_a_dearer_model_is_flagged_on_its_cost(runs: dict[str, Path]) -> None:
    found = regressions(runs, "price")
    required = {
        ("eval", "llama-3.1-8b", "cost per request"),
        ("steady", "llama-3.1-8b", "cost per request"),
    }
    # Cost per correct answer rises with the price, but accuracy varies between emulator
    # seeds too, so a 10% price step is not always a significant change of it.
    assert required <= found <= required | {("eval", "llama-3.1-8b", "cost per correct")}


def test_a_model_worse_at_math_is_flagged_on_its_accuracy(runs: dict[str, Path]) -> None:
    found = regressions(runs, "skill")
    assert ("eval", "llama-3.1-8b", "accuracy") in found
    # Fewer correct answers for the same spend: cost per correct answer rises with it.
    assert found <= {
        ("eval", "llama-3.1-8b", "accuracy"),
        ("eval", "llama-3.1-8b", "cost per correct"),
    }


def test_a_routing_change_is_flagged_on_autos_mix(runs: dict[str, Path]) -> None:
    found = regressions(runs, "routing")
    assert found and {(arm, metric) for _, arm, metric in found} == {("auto", "routing mix")}


def test_cli_exit_codes_and_outputs(runs: dict[str, Path], tmp_path: Path) -> None:
    junit, markdown, data = tmp_path / "r.xml", tmp_path / "r.md", tmp_path / "r.json"
    ok = CliRunner().invoke(cli, ["regress", str(runs["baseline"]), str(runs["unchanged"])])
    assert ok.exit_code == 0, ok.output
    bad = CliRunner().invoke(
        cli,
        ["regress", str(runs["baseline"]), str(runs["price"]), "--force", "--junit", str(junit),
         "--markdown", str(markdown), "--json", str(data)],
    )  # fmt: skip
    assert bad.exit_code == 1, bad.output
    suite = ET.parse(junit).getroot()
    failed = [c.get("name") for c in suite.iter("testcase") if c.find("failure") is not None]
    assert failed.count("cost per request") == 2 and suite.get("failures") == str(len(failed))
    assert markdown.read_text().splitlines()[2].startswith(f"**REGRESSION**: {len(failed)} of")
    assert json.loads(data.read_text())["verdict"] == "regression"
    # Different experiment files (the overlay line): refused without --force, exit 2.
    refused = CliRunner().invoke(cli, ["regress", str(runs["baseline"]), str(runs["price"])])
    assert refused.exit_code == 2 and "not comparable" in refused.output
    assert "different experiment files" in refused.output


def test_an_incomplete_run_is_invalid(runs: dict[str, Path], tmp_path: Path) -> None:
    copy = tmp_path / "cut"
    shutil.copytree(runs["unchanged"], copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["status"] = "interrupted"
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(RegressInputError, match="invalid run"):
        compare_runs(read_run(runs["baseline"]), read_run(copy))
    result = CliRunner().invoke(cli, ["regress", str(runs["baseline"]), str(copy)])
    assert result.exit_code == 2


def test_baseline_set_copies_the_run_without_its_report(
    runs: dict[str, Path], tmp_path: Path
) -> None:
    result = CliRunner().invoke(
        cli, ["baseline", "set", str(runs["baseline"]), "--dir", str(tmp_path / "b")]
    )
    assert result.exit_code == 0, result.output
    stored = tmp_path / "b" / "regress-test"
    assert read_run(stored).run_id == read_run(runs["baseline"]).run_id
    again = CliRunner().invoke(cli, ["regress", str(stored), str(runs["unchanged"])])
    assert again.exit_code == 0, again.output


# -- the statistics alone ---------------------------------------------------------------------


def test_holm_adjusts_step_down_and_keeps_missing_values() -> None:
    assert rg.holm([0.01, None, 0.04, 0.03]) == [0.03, None, 0.06, 0.06]


def test_samples_check_needs_both_size_and_significance() -> None:
    rng = np.random.default_rng(0)
    base = rng.lognormal(0, 0.3, 400)
    slower = rg.decide([rg.samples_check("p", "a", "TTFT p50", "s", base, base * 1.3 + 0.0,
                                         percentile=50, threshold=1.1)], 0.05)[0]  # fmt: skip
    assert slower.verdict == "regression"
    faster = rg.decide([rg.samples_check("p", "a", "TTFT p50", "s", base, base * 0.7,
                                         percentile=50, threshold=1.1)], 0.05)[0]  # fmt: skip
    assert faster.verdict == "improvement"
    small = rg.decide([rg.samples_check("p", "a", "TTFT p50", "s", base, base * 1.05,
                                        percentile=50, threshold=1.1)], 0.05)[0]  # fmt: skip
    assert small.verdict == "no change"
    few = rg.decide([rg.samples_check("p", "a", "TTFT p50", "s", base[:5], base[:5] * 2,
                                      percentile=50, threshold=1.1)], 0.05)[0]  # fmt: skip
    assert few.verdict == "too few samples"
    noisy = rg.decide([rg.samples_check("p", "a", "TTFT p50", "s", base[:25],
                                        rng.lognormal(0.15, 0.3, 25), percentile=50,
                                        threshold=1.1)], 0.001)[0]  # fmt: skip
    assert noisy.verdict in ("not significant", "no change")


def test_rates_accuracy_and_mix_checks() -> None:
    more_errors = rg.proportion_check("p", "a", "error share", 2, 500, 40, 500, threshold=0.01)
    assert rg.decide([more_errors], 0.05)[0].verdict == "regression"
    base = {f"q{i}": i % 3 != 0 for i in range(90)}
    worse = {k: (v and int(k[1:]) % 2 == 0) for k, v in base.items()}
    accuracy = rg.decide([rg.paired_accuracy_check("p", "a", base, worse, threshold=0.02)], 0.05)
    assert accuracy[0].verdict == "regression" and accuracy[0].change < -0.2
    mix = rg.mix_check("p", "auto", {"x": 80, "y": 20}, {"x": 20, "y": 80}, threshold=0.1)
    assert mix.change == pytest.approx(0.6) and rg.decide([mix], 0.05)[0].verdict == "regression"
    same_price = rg.mean_ratio_check("p", "a", "cost", "USD", [1e-4] * 30, [1e-4] * 30,
                                     threshold=1.05)  # fmt: skip
    assert rg.decide([same_price], 0.05)[0].verdict == "no change"


def test_held_figures_are_shown_and_the_samples_only_tested() -> None:
    from auraon_bench.analysis.stats import percentiles

    rng = np.random.default_rng(2)
    base, cur = rng.lognormal(0, 0.3, 200), rng.lognormal(0.3, 0.3, 200)
    held = (percentiles(base), percentiles(cur))
    check = rg.samples_check("p", "a", "TTFT p95", "s", base, cur, percentile=95,
                             threshold=1.1, held=held)  # fmt: skip
    assert (check.baseline, check.current) == (held[0].p95, held[1].p95)
    assert (check.n_baseline, check.n_current) == (200, 200)
    assert check == rg.samples_check("p", "a", "TTFT p95", "s", base, cur, percentile=95,
                                     threshold=1.1)  # fmt: skip
    cost = rg.mean_ratio_check("p", "a", "cost", "USD", [1.0, 2.0] * 15, [2.0, 3.0] * 15,
                               threshold=1.05, held=(1.5, 2.5))  # fmt: skip
    assert (cost.baseline, cost.current, cost.change) == (1.5, 2.5, 2.5 / 1.5)


FIXTURE_RUNS = ROOT / "tests" / "fixtures" / "runs"


def test_the_figures_compared_are_the_runs_own() -> None:
    from auraon_bench.regress.compare import PERCENTILE_CHECKS

    base, cur = read_run(FIXTURE_RUNS / "load-sweep"), read_run(FIXTURE_RUNS / "load-sweep-b")
    result = compare_runs(base, cur, force=True)
    held = {name: (metric, pct) for name, metric, _, pct in PERCENTILE_CHECKS}
    summaries = [run.parts[0].load_summary for run in (base, cur)]
    assert {c.arm for c in result.checks} == {"auto", "gpt-4o-mini"}
    for check in result.checks:
        arms = [s.arm(check.arm) for s in summaries]
        if check.metric in held:
            metric, pct = held[check.metric]
            stats = [getattr(a, metric) for a in arms]
            assert [check.baseline, check.current] == [s.get(pct) for s in stats]
            assert [check.n_baseline, check.n_current] == [s.n for s in stats]
        elif check.metric == "429 share":
            assert [check.baseline, check.current] == [
                a.errors.status_shares["rate_limited"] for a in arms
            ]
            assert [check.n_baseline, check.n_current] == [a.errors.attempts for a in arms]
        elif check.metric == "cost per request":
            assert [check.baseline, check.current] == [a.cost.per_request_usd for a in arms]


def test_an_evaluations_cost_per_correct_is_its_own(tmp_path: Path) -> None:
    shutil.copytree(FIXTURE_RUNS / "eval", tmp_path / "again")
    base, cur = read_run(FIXTURE_RUNS / "eval"), read_run(tmp_path / "again")
    result = compare_runs(base, cur)
    assert result.regressions == [] and result.improvements == []
    evaluation = base.parts[0].evaluation
    assert evaluation is not None
    per_correct = {c.arm: c for c in result.checks if c.metric == "cost per correct"}
    assert set(per_correct) == set(evaluation.cost.rows)
    for arm, check in per_correct.items():
        row = evaluation.cost.rows[arm]
        assert check.baseline == check.current == row.per_correct_usd
        assert check.n_baseline == row.n_requests
    accuracy = {c.arm: c for c in result.checks if c.metric == "accuracy"}
    for arm, check in accuracy.items():
        assert check.change == 0 and check.n_baseline == evaluation.accuracy.row(arm).n
