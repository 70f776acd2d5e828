"""The routing lab: published anchors through ``auraon-bench routing analyze``, every table
layout, simulated routers, re-pricing a past eval, and one-line errors naming file, row, column."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from auraon_bench.cli.main import cli
from auraon_bench.routing import analyze, read_lab, read_table
from auraon_bench.routing.routers import SHARES, pair_view, random_router

# RouteLLM's GSM8K table (ANCHORS.md; solved in tests/test_analysis_routing.py): 1,307 prompts,
# both right 739, weak only 94, strong only 382, neither 92.
N, WEAK_ONLY, STRONG_ONLY = 1307, 94, 382
BOTH = round(0.6373 * N) - WEAK_ONLY
NEITHER = N - BOTH - WEAK_ONLY - STRONG_ONLY


def gsm8k_csv(path: Path) -> Path:
    outcomes = [(1, 1)] * BOTH + [(1, 0)] * WEAK_ONLY + [(0, 1)] * STRONG_ONLY + [(0, 0)] * NEITHER
    pd.DataFrame({
        "prompt_id": [f"q{i}" for i in range(N)],
        "mixtral": [w for w, _ in outcomes],
        "gpt-4": [s for _, s in outcomes],
    }).to_csv(path, index=False)  # fmt: skip
    return path


def test_routellms_gsm8k_anchors_through_the_command(tmp_path: Path) -> None:
    out = tmp_path / "lab"
    result = CliRunner().invoke(
        cli, ["routing", "analyze", str(gsm8k_csv(tmp_path / "gsm8k.csv")), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    lab = read_lab(out)  # the typed object back from routing.json
    a = lab.analysis
    assert lab.layout == "routellm" and (a.weak, a.strong) == ("mixtral", "gpt-4")
    assert not lab.from_simulation and "SIMULATED" not in result.output
    assert round(100 * a.points["gpt-4"].quality, 2) == 85.77
    assert round(100 * a.points["mixtral"].quality, 2) == 63.73
    assert round(100 * a.oracle.accuracy, 2) == 92.96
    pair = lab.strong_vs_weak
    assert (pair.a_only, pair.b_only) == (382, 94)
    curves = {c.name: c for c in lab.simulated}
    random, optimal = curves["random"], curves["optimal"]
    assert random.apgr == pytest.approx(0.5)
    for point in random.points:  # CPT(x) = x: a random router's PGR is its strong share
        assert point.pgr == pytest.approx(point.strong_share)
    assert random.cpt50 == pytest.approx(0.5)
    assert round(optimal.apgr, 4) == 1.1309 and round(100 * optimal.cpt50, 2) == 11.02
    (cheapest,) = lab.simulated_points
    assert cheapest.quality == pytest.approx(a.oracle.accuracy)
    assert "382 prompts only gpt-4 answers, 94 only mixtral" in " ".join(result.output.split())
    assert "1.1309" in result.output and "11.02%" in result.output
    assert "chart: none (the table has no costs)" in result.output


def routerbench_table(rows: int, models: int, seed: int = 5) -> pd.DataFrame:
    """RouterBench's wide layout: a score and a ``MODEL|total_cost`` column per model, an
    ``eval_name``, and two signals: a difficulty (harder prompts defeat cheaper models) and the
    weak model's confidence."""
    rng = np.random.default_rng(seed)
    difficulty = rng.uniform(0, 1, rows)
    data: dict[str, object] = {"sample_id": [f"s{i}" for i in range(rows)],
                               "eval_name": rng.choice(["mmlu", "gsm8k", "mbpp"], rows),
                               "difficulty": difficulty}  # fmt: skip
    for m in range(models):
        skill = (m + 1) / models  # model m answers prompts easier than its skill
        data[f"model-{m}"] = (difficulty < skill * rng.uniform(0.8, 1.2, rows)).astype(float)
        data[f"model-{m}|total_cost"] = 1e-4 * (m + 1) ** 2 * rng.uniform(0.9, 1.1, rows)
    data["confidence"] = 1 - difficulty + rng.normal(0, 0.05, rows)
    return pd.DataFrame(data)


@pytest.mark.slow
def test_a_routerbench_table_of_thousands_of_rows(tmp_path: Path) -> None:
    path = tmp_path / "routerbench.parquet"
    routerbench_table(3000, 11).to_parquet(path)
    out = tmp_path / "lab"
    result = CliRunner().invoke(
        cli,
        ["routing", "analyze", str(path), "--router", "random", "--router", "optimal",
         "--router", "threshold:difficulty", "--router", "cascade:confidence", "--router",
         "cascade:grader", "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lab = read_lab(out)
    assert lab.layout == "routerbench" and len(lab.models) == 11
    png = out / "charts" / "routing-cost-quality.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert lab.analysis.n_prompts == 3000 and set(lab.analysis.points) == set(lab.models)
    assert (lab.analysis.weak, lab.analysis.strong) == ("model-0", "model-10")
    curves = {c.name: c for c in lab.simulated}
    # a difficulty that really predicts failure routes better than chance, below the ideal
    assert 0.5 < curves["threshold:difficulty"].apgr < curves["optimal"].apgr
    assert curves["cascade:confidence"].apgr > 0.5
    # every AIQ on one cost range: the fixed models' and every priced curve's span
    assert lab.cost_range is not None
    costs = [p.cost for c in lab.simulated for p in c.points if p.cost is not None]
    costs += [p.cost for p in lab.analysis.points.values()]
    assert lab.cost_range == pytest.approx((min(costs), max(costs)))
    assert all(c.aiq is not None for c in lab.simulated)
    report = CliRunner().invoke(cli, ["report", str(out), "--format", "md,html,png"])
    assert report.exit_code == 0, report.output
    markdown = (out / "report" / "report.md").read_text()
    threshold = curves["threshold:difficulty"]
    assert f"| threshold:difficulty | {len(threshold.points)} | {threshold.apgr:.4f} |" in markdown
    assert "](charts/routing-cost-quality.png)" in markdown and "SIMULATED" not in markdown
    from tests.browser import check_page

    page = check_page(out / "report" / "index.html")
    assert page.console_errors == [] and page.external_requests == []
    assert len(page.images) == 1 and all(ok and width > 300 for _, ok, width in page.images)
    assert page.title == "auraon-bench routing lab: lab"
    (grader,) = [p for p in lab.simulated_points if p.arm == "cascade:grader"]
    weak_q = lab.analysis.points["model-0"].quality
    assert grader.quality >= lab.analysis.points["model-10"].quality > weak_q


def test_the_long_layout_reprices_from_tokens(tmp_path: Path) -> None:
    rows = []
    for i in range(40):
        for model, right in (("gpt-4o-mini", i % 3 != 0), ("gpt-4o", i % 5 != 0)):
            rows.append({"prompt_id": f"p{i}", "model": model, "correct": int(right),
                         "cost_usd": 0.5, "prompt_tokens": 1000, "completion_tokens": 100 + i})
    for i in range(40):
        routed = "gpt-4o" if i % 2 else "gpt-4o-mini"
        rows.append({"prompt_id": f"p{i}", "model": "auto", "correct": int(i % 4 != 0),
                     "cost_usd": 0.5, "routed_to": routed, "prompt_tokens": 1000,
                     "completion_tokens": 100})  # fmt: skip
    pd.DataFrame(rows).to_csv(tmp_path / "long.csv", index=False)
    prices = tmp_path / "prices.toml"
    prices.write_text('[models."gpt-4o-mini"]\ninput = 1.0\noutput = 2.0\n'
                      '[models."gpt-4o"]\ninput = 10.0\noutput = 20.0\n')  # fmt: skip
    table = read_table(tmp_path / "long.csv")
    before = analyze(table, n_resamples=200, n_permutations=100)
    from auraon_bench.prices.file import load_price_file

    after = analyze(table, prices=load_price_file(prices), n_resamples=200, n_permutations=100)
    assert after.auto_arms == ("auto",) and after.prices.startswith(f"prices file {prices}")
    for model in ("gpt-4o-mini", "gpt-4o", "auto"):
        assert after.analysis.points[model].quality == before.analysis.points[model].quality
    assert before.analysis.points["gpt-4o"].cost == pytest.approx(0.5)
    expected = np.mean([(1000 * 10 + (100 + i) * 20) / 1e6 for i in range(40)])
    assert after.analysis.points["gpt-4o"].cost == pytest.approx(expected)
    # auto's answers are priced as the model that served them
    auto = np.mean([(1000 * (10 if i % 2 else 1) + 100 * (20 if i % 2 else 2)) / 1e6
                    for i in range(40)])  # fmt: skip
    assert after.analysis.points["auto"].cost == pytest.approx(auto)
    assert after.analysis.arms["auto"].mix.counts == {"gpt-4o-mini": 20, "gpt-4o": 20}
    # cheapest-correct chooses among the fixed models only: the oracle's quality, not auto's
    (cheapest,) = after.simulated_points
    assert cheapest.quality == pytest.approx(after.analysis.oracle.accuracy)


@pytest.mark.slow
def test_a_past_eval_reanalysed_with_a_price_file(tmp_path: Path) -> None:
    """An eval on the emulator, then the lab on its run directory: the same accuracies as the
    eval's own evaluation.json, and costs from the price file."""
    from tests.conftest import ROOT

    run = tmp_path / "eval"
    result = CliRunner().invoke(
        cli,
        ["eval", "--dataset", str(ROOT / "datasets" / "math.jsonl"), "--model", "auto",
         "--model", "gpt-4o-mini", "--model", "gpt-4o", "--time-scale", "0", "--max-tokens",
         "256", "--out", str(run)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    from auraon_bench.results.run import read_run

    evaluation = read_run(run).parts[0].evaluation
    assert evaluation is not None
    prices = tmp_path / "prices.toml"
    names = ("gpt-4o-mini", "gpt-4o", "gemini-2.5-flash", "claude-opus-4", "claude-sonnet-4-6",
             "llama-3-3-70b", "llama-3.1-8b", "deepseek-v3", "claude-haiku-4-5", "o3-mini",
             "mistral-large", "gpt-4.1")  # fmt: skip
    # gpt-4o dearer than the rest: a weak and a strong model remain
    prices.write_text("".join(
        f'[models."{m}"]\ninput = {10.0 if m == "gpt-4o" else 1.0}\noutput = 1.0\n' for m in names
    ))  # fmt: skip
    out = tmp_path / "lab"
    lab_run = CliRunner().invoke(
        cli, ["routing", "analyze", str(run), "--prices", str(prices), "--out", str(out)]
    )
    assert lab_run.exit_code == 0, lab_run.output
    lab = read_lab(out)
    for row in evaluation.routing.points:
        assert lab.analysis.points[row].quality == pytest.approx(
            evaluation.routing.points[row].quality
        )
    from auraon_bench.results.reader import read_records

    records = read_records(run)
    fixed = records[(records["arm"] == "gpt-4o") & (records["status"] == "ok")]
    tokens = (10 * fixed["prompt_tokens"] + fixed["completion_tokens"]).mean() / 1e6
    assert lab.analysis.points["gpt-4o"].cost == pytest.approx(tokens, rel=1e-6)
    assert lab.analysis.points["gpt-4o"].cost != evaluation.routing.points["gpt-4o"].cost
    assert lab.prices.startswith(f"prices file {prices}")
    assert lab.from_simulation and "SIMULATED" in lab_run.output


@pytest.mark.parametrize(
    ("content", "wanted"),
    [
        ("prompt_id,model,correct\np1,a,1\np2,a,yes\n", ("row 3", "'correct'", "'yes'")),
        ("prompt_id,model,correct\np1,a,1\n,a,0\n", ("row 3", "'prompt_id'", "is empty")),
        ("prompt_id,model,score\np1,a,0.5\np1,a,1.5\n", ("row 3", "'score'")),
        ("sample_id,m1,m1|total_cost,m2,m2|total_cost\ns1,1,0.1,0,x\n", ("row 2", "m2|total_cost")),
        ("prompt_id,model\np1,a\n", ("'correct'",)),
        ("a,b\nx,y\n", ("not a table this tool reads",)),
    ],
)
def test_loader_errors_name_the_file_row_and_column(tmp_path: Path, content, wanted) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    out = str(tmp_path / "o")
    result = CliRunner().invoke(cli, ["routing", "analyze", str(path), "--out", out])
    line = " ".join(result.output.split())
    assert result.exit_code == 2 and line.count("Error: ") == 1, result.output
    assert str(path) in line and all(w in line for w in wanted), line
    assert "Traceback" not in result.output and not (tmp_path / "o").exists()


def test_the_random_router_is_exact_not_sampled() -> None:
    frame = pd.DataFrame({
        "prompt_id": ["a", "a", "b", "b"], "model": ["w", "s", "w", "s"],
        "correct": [0.0, 1.0, 1.0, 1.0], "cost_usd": [1.0, 3.0, 1.0, 5.0],
    })  # fmt: skip
    view = pair_view(frame, "w", "s", "correct")
    points = random_router(view)
    assert [p.strong_share for p in points] == list(SHARES)
    mid = points[5]
    assert mid.quality == pytest.approx(0.75) and mid.cost == pytest.approx(2.5)
    assert mid.pgr == pytest.approx(0.5)


def test_a_fixed_model_reported_under_another_name_stays_fixed() -> None:
    """A gateway that reports ``openai/gpt-4o`` for the arm ``gpt-4o`` did not route; a model
    whose answers came from two models did, whatever its name."""
    from auraon_bench.routing.lab import _auto_arms
    from auraon_bench.routing.tables import OutcomeTable

    rows = []
    for i in range(6):
        rows += [
            ("gpt-4o", "openai/gpt-4o"),
            ("mini", None),
            ("my-router", "gpt-4o" if i % 2 else "mini"),
            ("auto:cheap", "mini"),
        ]
    frame = pd.DataFrame(rows, columns=["model", "routed_to"]).assign(prompt_id="p")
    table = OutcomeTable(frame, "t", "long")
    assert _auto_arms(table) == ["my-router", "auto:cheap"]


@pytest.mark.slow
def test_a_lab_from_a_twins_eval_names_the_twin(tmp_path: Path) -> None:
    import json
    import shutil

    from auraon_bench.report.charts.routing_lab import cost_quality_plane
    from auraon_bench.report.render import to_markdown
    from auraon_bench.report.routing_lab import lab_document
    from tests.conftest import FIXTURES

    run = tmp_path / "eval"
    shutil.copytree(FIXTURES / "runs" / "eval", run)
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["target"] = {**manifest["target"], "simulated": True, "twin_of": "real-42"}
    (run / "manifest.json").write_text(json.dumps(manifest))
    out = tmp_path / "lab"
    result = CliRunner().invoke(cli, ["routing", "analyze", str(run), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "WARNING: SIMULATED (twin of real-42)" in result.output
    lab = read_lab(out)  # the twin survives the round trip through routing.json
    assert lab.from_simulation and lab.twin_of == "real-42"
    assert lab.stamp == "SIMULATED (twin of real-42)"
    markdown = to_markdown(lab_document(lab, "eval"), {})
    assert "SIMULATED (twin of real-42)" in markdown
    assert "built-in Auraon emulator fitted to run real-42" in markdown
    figure = cost_quality_plane(lab)
    assert "SIMULATED (twin of real-42)" in [t.get_text() for t in figure.texts]
