"""With ``--repeat`` every test of auto versus the fixed models is at the prompt level.

A prompt's repeats share its difficulty, so they are not independent samples: the paired
bootstrap resamples prompts, McNemar flips each prompt's discordance as a whole and the shuffled
control moves each prompt's routing as a whole. Each test below also computes the row-level
variant directly (scipy, numpy) to show what treating repeats as independent would claim.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest

from auraon_bench.analysis.quality import PAIRED_METHOD, clustered_mcnemar_p, paired_comparison
from auraon_bench.analysis.routing import SHUFFLED_METHOD, evaluate_routing, shuffled_control

# Per prompt (weak correct, strong correct): 13 both, 13 weak only, 21 strong only, 13 neither.
# At the prompt level the models' own gap (13 vs 21 discordant prompts) is not significant:
# binomial p = 0.23.
OUTCOMES = [(1, 1)] * 13 + [(1, 0)] * 13 + [(0, 1)] * 21 + [(0, 0)] * 13
REPEATS = 5


def rows_for(prompt: str, repeat: int, weak: int, strong: int, pick: str) -> list[dict]:
    auto_ok, auto_cost = (strong, 1.0) if pick == "strong" else (weak, 0.1)
    return [
        {
            "arm": arm,
            "prompt_id": prompt,
            "repeat": repeat,
            "status": "ok",
            "correct": bool(ok),
            "score": float(ok),
            "cost_usd": cost,
            "routed_to": routed,
        }
        for arm, ok, cost, routed in (
            ("weak", weak, 0.1, "weak"),
            ("strong", strong, 1.0, "strong"),
            ("auto", auto_ok, auto_cost, pick),
        )
    ]


def table(picks_strong: np.ndarray) -> pd.DataFrame:
    """``picks_strong[prompt, repeat]``: auto's choice; the models' outcomes are fixed per
    prompt (OUTCOMES)."""
    rows = []
    for i, (weak, strong) in enumerate(OUTCOMES):
        for r in range(picks_strong.shape[1]):
            rows += rows_for(f"p{i}", r, weak, strong, "strong" if picks_strong[i, r] else "weak")
    return pd.DataFrame(rows)


def random_router(seed: int, *, per_prompt: bool) -> pd.DataFrame:
    """Every repeat picks weak or strong at random, or once per prompt for all its repeats."""
    rng = np.random.default_rng(seed)
    if per_prompt:
        return table(np.repeat(rng.random((len(OUTCOMES), 1)) < 0.5, REPEATS, axis=1))
    return table(rng.random((len(OUTCOMES), REPEATS)) < 0.5)


def row_level_shuffled_p(df: pd.DataFrame, n_permutations: int, seed: int) -> tuple[float, float]:
    """The shuffled control with single rows permuted (repeats as independent decisions):
    one-sided p and the permutation std."""
    auto = df.loc[df["arm"] == "auto"].reset_index(drop=True)
    fixed = df.loc[df["arm"] != "auto"].pivot_table(
        index="prompt_id", columns="arm", values="correct", aggfunc="mean"
    )
    values = fixed.loc[auto["prompt_id"], ["weak", "strong"]].to_numpy()
    labels = (auto["routed_to"] == "strong").to_numpy().astype(int)
    idx = np.arange(len(labels))
    observed = values[idx, labels].mean()
    rng = np.random.default_rng(seed)
    permuted = np.array(
        [values[idx, rng.permutation(labels)].mean() for _ in range(n_permutations)]
    )
    p = (1 + int((permuted >= observed - 1e-12).sum())) / (1 + n_permutations)
    return p, float(permuted.std(ddof=1))


def test_clustered_mcnemar_matches_brute_force_sign_flips() -> None:
    discordance = [3, -1, 2, 2, -4, 1, 0, 5, -2, 1]
    observed = abs(sum(discordance))
    flips = list(itertools.product((1, -1), repeat=len(discordance)))
    extreme = sum(
        abs(sum(e * d for e, d in zip(signs, discordance, strict=True))) >= observed
        for signs in flips
    )
    assert clustered_mcnemar_p(discordance) == pytest.approx(extreme / len(flips), rel=1e-12)
    # One pair per prompt: McNemar's exact binomial test.
    assert clustered_mcnemar_p([1] * 9 + [-1] * 2) == pytest.approx(binomtest(9, 11).pvalue)
    assert clustered_mcnemar_p([0, 0]) == 1.0 and clustered_mcnemar_p([]) == 1.0


def test_identical_repeats_add_no_evidence() -> None:
    # Strong on every third prompt, the same choice on each repeat.
    picks = (np.arange(len(OUTCOMES)) % 3 == 0)[:, None]
    once, five = table(picks), table(np.repeat(picks, REPEATS, axis=1))
    a = paired_comparison(once, "auto", "strong", n_resamples=300)
    b = paired_comparison(five, "auto", "strong", n_resamples=300)
    # By hand: auto takes weak's answer on the 40 prompts with index % 3 != 0, among them
    # 9 of the 13 weak-only prompts (a_only) and 14 of the 21 strong-only ones (b_only).
    assert (a.a_only, a.b_only) == (9, 14)
    assert a.mcnemar_p == pytest.approx(binomtest(9, 23).pvalue)
    assert (b.a_only, b.b_only) == (REPEATS * a.a_only, REPEATS * a.b_only)
    assert b.discordant_prompts == a.discordant_prompts == a.a_only + a.b_only
    assert b.mcnemar_p == pytest.approx(a.mcnemar_p, rel=1e-9)
    assert b.difference_ci == pytest.approx(a.difference_ci)  # the bootstrap draws prompts
    assert b.cost_ratio_ci == pytest.approx(a.cost_ratio_ci)
    assert b.method == PAIRED_METHOD and "cluster bootstrap" in b.method
    # Counting the repeated pairs as independent would claim far more than one answer each.
    row_level = binomtest(b.a_only, b.a_only + b.b_only).pvalue
    assert row_level < a.mcnemar_p / 10
    s1 = shuffled_control(once, "auto", ["weak", "strong"], 500, seed=4)
    s5 = shuffled_control(five, "auto", ["weak", "strong"], 500, seed=4)
    assert (s1.n_prompts, s5.n_prompts, s5.n) == (len(OUTCOMES), len(OUTCOMES), 5 * len(OUTCOMES))
    assert s5.p_value == s1.p_value and s5.observed == pytest.approx(s1.observed)
    assert s5.method == SHUFFLED_METHOD


@pytest.mark.slow
def test_random_router_with_repeats_is_not_significant_at_the_prompt_level() -> None:
    # 10 seeds x (McNemar versus weak, versus strong) and the shuffled control per seed. A
    # valid 5% test still rejects about one case in twenty by chance (here seed 9's draws
    # favour strong on strong-only prompts): at most that is allowed.
    prompt_p, row_p, shuffled_p = [], [], []
    for seed in range(10):
        df = random_router(seed, per_prompt=False)
        rep = evaluate_routing(
            df, ["auto"], ["weak", "strong"], seed=seed, n_resamples=200, n_permutations=1000
        )
        auto = rep.arms["auto"]
        assert auto.versus_reference.arm_b == "strong"  # the most accurate fixed model
        shuffled_p.append(auto.shuffled.p_value)
        for versus in auto.versus_fixed.versus.values():
            prompt_p.append(versus.mcnemar_p)
            row_p.append(binomtest(versus.a_only, versus.a_only + versus.b_only).pvalue)
    assert sum(p <= 0.05 for p in prompt_p) <= 1 and min(prompt_p) > 0.01
    assert sum(p <= 0.05 for p in shuffled_p) <= 1
    # Rows as independent pairs: always smaller, "significant" in many cases.
    assert all(r < p for r, p in zip(row_p, prompt_p, strict=True))
    assert sum(r < 0.05 for r in row_p) >= 8
    assert np.median(np.array(row_p) / np.array(prompt_p)) < 0.3


def test_shuffled_control_permutes_prompts_not_rows() -> None:
    # A router that picks at random once per prompt and keeps that choice for every repeat.
    ratios, prompt_p, row_p = [], [], []
    for seed in range(10):
        df = random_router(seed, per_prompt=True)
        res = shuffled_control(df, "auto", ["weak", "strong"], 2000, seed=0)
        rows_p, rows_std = row_level_shuffled_p(df, 2000, seed=0)
        prompt_p.append(res.p_value)
        row_p.append(rows_p)
        ratios.append(res.permuted_std / rows_std)
    assert min(prompt_p) > 0.05
    assert sum(p < 0.05 for p in row_p) >= 2  # the row-level test calls a random router useful
    # Five identical labels per prompt: the prompt-level spread is about sqrt(5) times wider.
    assert np.median(ratios) == pytest.approx(np.sqrt(REPEATS), rel=0.2)
