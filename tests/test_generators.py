"""Seeded dataset generators: determinism, correct answers, needle placement, JSONL round trip,
and the shipped generated files matching the generator."""

from __future__ import annotations

import ast
import operator
import re
from collections import Counter
from fractions import Fraction
from pathlib import Path

import pytest

from auraon_bench.data.dataset import load_dataset
from auraon_bench.data.generators import (
    CHARS_PER_TOKEN,
    arithmetic_items,
    long_context_difficulty,
    long_context_items,
    write_jsonl,
)

ROOT = Path(__file__).resolve().parent.parent
DATASETS = ROOT / "datasets"

_OPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}


def _eval(expr: str) -> Fraction:
    """Evaluate + - * / and parentheses over integers exactly (no eval())."""

    def walk(node: ast.AST) -> Fraction:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            return _OPS[type(node.op)](walk(node.left), walk(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -walk(node.operand)
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return Fraction(node.value)
        raise AssertionError(f"unexpected syntax in {expr!r}")

    return walk(ast.parse(expr, mode="eval"))


def _numbers(text: str) -> list[Fraction]:
    return [Fraction(m.replace(",", "")) for m in re.findall(r"\d[\d,]*(?:\.\d+)?", text)]


def _pct(p: Fraction) -> Fraction:
    return p / 100


def _recompute_hard(kind: str, text: str) -> Fraction:
    n = _numbers(text)
    if kind == "markup":
        cost, up, off = n
        return cost * (1 + _pct(up)) * (1 - _pct(off))
    if kind == "commission":
        base, rate, threshold, sales = n
        return base + _pct(rate) * (sales - threshold)
    if kind == "population":
        start, grow, fall = n
        return start * (1 + _pct(grow)) * (1 - _pct(fall))
    if kind == "speed":
        d1, m1, _rest, d2, m2 = n
        return (d1 + d2) / ((m1 + m2) / 60)
    if kind == "profit":
        count, unit, high, gain, loss = n
        return high * unit * _pct(gain) - (count - high) * unit * _pct(loss)
    if kind == "savings":
        pct, salary, months, spend = n
        return salary * _pct(pct) * months * (1 - _pct(spend))
    raise AssertionError(f"unknown template {kind}")


def _recompute(item) -> Fraction:
    text = item.prompt_text
    kind = item.tags[2]
    if item.difficulty == "easy":
        return _eval(re.match(r"What is (.+)\?", text).group(1))
    if item.difficulty == "medium":
        return _eval(re.match(r"Compute (.+), using", text).group(1))
    return _recompute_hard(kind, text)


# -------------------------------------------------------------------------------- arithmetic


def test_arithmetic_is_deterministic_per_seed() -> None:
    assert arithmetic_items(30, seed=11) == arithmetic_items(30, seed=11)


def test_arithmetic_differs_between_seeds() -> None:
    a = [i.prompt_text for i in arithmetic_items(30, seed=1)]
    b = [i.prompt_text for i in arithmetic_items(30, seed=2)]
    assert a != b
    assert len(set(a) & set(b)) < 5


def test_arithmetic_answers_are_exact_and_correct() -> None:
    items = arithmetic_items(240, seed=5)
    kinds = Counter(item.tags[2] for item in items if item.difficulty == "hard")
    assert set(kinds) == {"markup", "commission", "population", "speed", "profit", "savings"}
    for item in items:
        expected = _recompute(item)
        assert Fraction(str(item.answer)) == expected, item
        assert isinstance(item.answer, int) == (expected.denominator == 1)
        assert (expected * 100).denominator == 1  # at most two decimal places
        assert item.grader == "numeric" and item.category == "math"
        assert item.grader_options["tolerance"] == (0 if isinstance(item.answer, int) else 0.001)
        assert item.prompt_text.endswith('"The answer is N."')
    assert any(isinstance(i.answer, float) for i in items)
    assert any(i.answer < 0 for i in items)
    populations = [i.answer for i in items if i.tags[2] == "population"]
    assert populations and all(isinstance(p, int) for p in populations)


def test_arithmetic_prompts_and_ids_are_distinct() -> None:
    items = arithmetic_items(300, seed=9)
    assert len({i.prompt_text for i in items}) == 300
    assert len({i.id for i in items}) == 300


def test_arithmetic_difficulty_mix() -> None:
    assert Counter(i.difficulty for i in arithmetic_items(9, seed=0)) == {
        "easy": 3,
        "medium": 3,
        "hard": 3,
    }
    mixed = arithmetic_items(10, seed=0, difficulty_mix={"easy": 0.5, "hard": 0.5})
    assert Counter(i.difficulty for i in mixed) == {"easy": 5, "hard": 5}
    odd = arithmetic_items(10, seed=0, difficulty_mix={"easy": 1, "medium": 1, "hard": 1})
    assert sum(Counter(i.difficulty for i in odd).values()) == 10
    assert arithmetic_items(0, seed=0) == []


@pytest.mark.parametrize("mix", [{"trivial": 1.0}, {"easy": -1.0, "hard": 2.0}, {"easy": 0.0}])
def test_arithmetic_rejects_bad_mix(mix: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="difficulty_mix"):
        arithmetic_items(5, seed=0, difficulty_mix=mix)


def test_arithmetic_rejects_negative_n() -> None:
    with pytest.raises(ValueError, match="n:"):
        arithmetic_items(-1, seed=0)


# ------------------------------------------------------------------------------ long context

_NEEDLE = re.compile(r"The access code for vault ([A-Z]-\d\d) is (\d{4})\.")


@pytest.mark.parametrize("tokens", [200, 2000, 9000, 40000])
def test_needle_present_once_and_length_within_ten_percent(tokens: int) -> None:
    for item in long_context_items(4, seed=tokens, context_tokens=tokens):
        text = item.prompt_text
        vault = re.search(r"Question: What is the access code for vault ([A-Z]-\d\d)\?", text)
        assert vault is not None and text.endswith("Reply with the four-digit code only.")
        needle = f"The access code for vault {vault.group(1)} is {item.answer}."
        assert text.count(needle) == 1
        assert text.count(str(item.answer)) == 1
        facts = _NEEDLE.findall(text)
        assert len(facts) == 4  # the needle and three distractors
        assert len({v for v, _ in facts}) == 4 and len({c for _, c in facts}) == 4
        assert sorted(c for _, c in facts if c != item.answer) == sorted(item.wrong_answers)
        approx_tokens = len(text) / CHARS_PER_TOKEN
        assert abs(approx_tokens - tokens) <= 0.1 * tokens
        assert item.grader == "exact" and item.category == "long_context"
        assert item.difficulty == long_context_difficulty(tokens)


def test_needle_depth_is_seeded_and_varies() -> None:
    items = long_context_items(12, seed=4, context_tokens=3000, distractors=0)
    depths = []
    for item in items:
        text = item.prompt_text
        start = text.index("<document>")
        end = text.index("</document>")
        at = text.index(f"is {item.answer}.")
        depths.append((at - start) / (end - start))
        tag = next(t for t in item.tags if t.startswith("depth-"))
        assert abs(int(tag.removeprefix("depth-")) / 100 - depths[-1]) < 0.05
    assert min(depths) < 0.35 and max(depths) > 0.65
    assert all(0.03 < d < 0.97 for d in depths)


def test_long_context_is_deterministic_and_seed_dependent() -> None:
    a = long_context_items(3, seed=1, context_tokens=[1000, 2000])
    assert a == long_context_items(3, seed=1, context_tokens=[1000, 2000])
    b = long_context_items(3, seed=2, context_tokens=[1000, 2000])
    assert [i.prompt_text for i in a] != [i.prompt_text for i in b]
    assert [i.tags[2] for i in a] == ["tokens-1000", "tokens-2000", "tokens-1000"]


def test_long_context_difficulty_thresholds() -> None:
    assert [long_context_difficulty(t) for t in (2000, 7999, 8000, 63999, 64000, 128000)] == [
        "easy",
        "easy",
        "medium",
        "medium",
        "hard",
        "hard",
    ]


@pytest.mark.parametrize("kwargs", [{"context_tokens": 50}, {"context_tokens": []}])
def test_long_context_rejects_bad_lengths(kwargs: dict) -> None:
    with pytest.raises(ValueError, match="context_tokens"):
        long_context_items(1, seed=0, **kwargs)


# ----------------------------------------------------------------------------- JSONL writing


def test_write_then_load_round_trips(tmp_path: Path) -> None:
    items = arithmetic_items(15, seed=3) + long_context_items(2, seed=3, context_tokens=500)
    path = write_jsonl(items, tmp_path / "sub" / "set.jsonl")
    assert load_dataset(path) == items
    first = path.read_text().splitlines()[0]
    assert '"prompt":' in first and '"messages"' not in first


def test_shipped_generated_files_match_the_generator(tmp_path: Path) -> None:
    """The commands in datasets/README.md reproduce the shipped files byte for byte."""
    arith = write_jsonl(arithmetic_items(40, seed=2026), tmp_path / "a.jsonl")
    assert arith.read_bytes() == (DATASETS / "arithmetic_generated.jsonl").read_bytes()
    lengths = [2000, 4000, 6000, 8000, 12000, 16000]
    longctx = write_jsonl(long_context_items(20, seed=2026, context_tokens=lengths), tmp_path / "l")
    assert longctx.read_bytes() == (DATASETS / "long_context.jsonl").read_bytes()


def test_shipped_datasets_load_with_distinct_ids_and_prompts() -> None:
    """Every shipped set loads; the emulator matches items by prompt text, so none may repeat."""
    prompts: dict[str, str] = {}
    for path in sorted(DATASETS.glob("*.jsonl")):
        for item in load_dataset(path):
            key = item.prompt_text.strip()
            assert key not in prompts, f"{path.name}:{item.id} repeats {prompts.get(key)}"
            prompts[key] = f"{path.name}:{item.id}"
    assert len(prompts) >= 300
