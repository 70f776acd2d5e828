"""Seeded generators of computable prompt items, in the dataset schema. Pure.

Every function draws from its own ``random.Random(seed)``, so the same arguments give the same
items on every machine (Python promises the seeded sequence of ``random()`` across versions, not
that of ``randint``/``choice``/``shuffle``; the shipped files were generated with Python 3.11).

- ``arithmetic_items``: arithmetic with exact answers (``Fraction`` arithmetic; a draw whose answer
  is not an integer or a decimal of at most two places is redrawn). Easy items add, subtract or
  multiply two numbers, medium items evaluate an expression with parentheses, hard items are
  multi-step word problems with percentages, rates and unit conversions. Grader ``numeric``,
  category ``math``.
- ``long_context_items``: one fact (the *needle*, e.g. "The access code for vault Q-17 is 4831.")
  hidden at a seeded depth in a filler document of about ``context_tokens`` tokens (the ~4
  characters per token rule the emulator counts with), the question at the end. A few distractor
  facts about other vaults are scattered through the document; the filler itself holds no digits,
  so the code appears once. Grader ``exact``, category ``long_context``.
- ``write_jsonl``: save items so that ``load_dataset`` reads them back unchanged.

Regenerate the shipped files with the command in ``datasets/README.md``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import orjson

from auraon_bench.data.dataset import DIFFICULTIES, PromptItem

CHARS_PER_TOKEN = 4
ANSWER_SUFFIX = 'End your reply with "The answer is N."'
DEFAULT_MIX: Mapping[str, float] = {"easy": 1.0, "medium": 1.0, "hard": 1.0}

Number = int | float


# --------------------------------------------------------------------------------------------
# Arithmetic


def _exact(value: Fraction) -> Number | None:
    """``value`` as an int, or a float with at most two decimal places; None otherwise."""
    if value.denominator == 1:
        return int(value)
    if (value * 100).denominator == 1:
        return float(value)  # exact up to float rounding of a two-place decimal, e.g. 86.4
    return None


def _money(value: Fraction | int) -> str:
    """Dollars as written in a prompt: whole amounts without cents, others with two places."""
    value = Fraction(value)
    if value.denominator == 1:
        return f"${int(value):,}"
    return f"${float(value):,.2f}"


def _easy(rng: random.Random) -> tuple[str, Fraction, str]:
    kind = rng.choice(("add", "sub", "mul"))
    if kind == "add":
        a, b = rng.randint(10, 999), rng.randint(10, 999)
        return f"What is {a} + {b}?", Fraction(a + b), "add"
    if kind == "sub":
        a, b = rng.randint(10, 999), rng.randint(10, 999)
        return f"What is {a} - {b}?", Fraction(a - b), "sub"
    a, b = rng.randint(3, 40), rng.randint(3, 25)
    return f"What is {a} * {b}?", Fraction(a * b), "mul"


def _medium(rng: random.Random) -> tuple[str, Fraction, str]:
    form = rng.randrange(4)
    a, b, c, d = (rng.randint(2, 40) for _ in range(4))
    if form == 0:
        return f"({a} + {b}) * {c} - {d}", Fraction((a + b) * c - d), "expr-0"
    if form == 1:
        return f"{a} * ({b} - {c}) + {d}", Fraction(a * (b - c) + d), "expr-1"
    if form == 2:
        return f"({a} - {b}) * ({c} + {d})", Fraction((a - b) * (c + d)), "expr-2"
    e = rng.randint(2, 12)
    q = d * e  # divisible, so the division is exact
    return f"{a} + {b} * {c} - {q} / {e}", Fraction(a + b * c) - Fraction(q, e), "expr-3"


def _medium_prompt(expr: str) -> str:
    return f"Compute {expr}, using the usual order of operations. {ANSWER_SUFFIX}"


_ITEMS = ("jacket", "bicycle", "desk lamp", "coffee grinder", "backpack", "tent", "printer")
_NAMES = ("Amara", "Tomasz", "Keiko", "Rafael", "Ingrid", "Dev", "Lucia", "Oren")


def _hard_markup(rng: random.Random) -> tuple[str, Fraction, str]:
    item = rng.choice(_ITEMS)
    cost = rng.randrange(20, 400, 4)
    markup = rng.randrange(10, 65, 5)
    discount = rng.randrange(5, 45, 5)
    price = Fraction(cost) * (100 + markup) / 100 * (100 - discount) / 100
    text = (
        f"A shop buys a {item} for {_money(cost)} and first marks the price up by {markup}%. "
        f"Then, during a sale, it takes {discount}% off the marked price. "
        "What is the sale price in dollars? Think step by step."
    )
    return text, price, "markup"


def _hard_commission(rng: random.Random) -> tuple[str, Fraction, str]:
    name = rng.choice(_NAMES)
    base = rng.randrange(1200, 3000, 50)
    rate = rng.randint(2, 12)
    threshold = rng.randrange(5000, 20000, 500)
    sales = threshold + rng.randrange(500, 30000, 250)
    pay = Fraction(base) + Fraction(rate, 100) * (sales - threshold)
    text = (
        f"{name} earns a base pay of {_money(base)} per month plus {rate}% commission on "
        f"monthly sales above {_money(threshold)}. First find the sales above that threshold, "
        f"then the commission, and finally the total pay for a month with {_money(sales)} in "
        "sales. What is the total pay in dollars?"
    )
    return text, pay, "commission"


def _hard_population(rng: random.Random) -> tuple[str, Fraction, str]:
    while True:  # people come in whole numbers: redraw until the result is one
        start = rng.randrange(2000, 90000, 100)
        grow = rng.randrange(2, 30)
        fall = rng.randrange(2, 25)
        end = Fraction(start) * (100 + grow) / 100 * (100 - fall) / 100
        if end.denominator == 1:
            break
    text = (
        f"A town had {start} residents. Its population grew by {grow}% in the first year, "
        f"then fell by {fall}% in the second year. How many residents did it have after the "
        "two years? Work through it step by step."
    )
    return text, end, "population"


def _hard_speed(rng: random.Random) -> tuple[str, Fraction, str]:
    d1, d2 = rng.randint(4, 40), rng.randint(4, 40)
    m1, m2 = rng.randrange(10, 120, 5), rng.randrange(10, 120, 5)
    rest = rng.randrange(5, 60, 5)
    speed = Fraction(d1 + d2) * 60 / (m1 + m2)
    text = (
        f"A cyclist rides {d1} km in {m1} minutes, then rests for {rest} minutes, then rides "
        f"another {d2} km in {m2} minutes. What was the average speed while riding (not "
        "counting the rest), in kilometres per hour? Explain why the rest is excluded, step by "
        "step."
    )
    return text, speed, "speed"


def _hard_profit(rng: random.Random) -> tuple[str, Fraction, str]:
    count = rng.randrange(20, 200, 10)
    unit = rng.randrange(2, 40)
    sold_high = rng.randrange(5, count - 4, 5)
    gain = rng.randrange(5, 60, 5)
    loss = rng.randrange(10, 80, 5)
    cost = Fraction(count * unit)
    revenue = (
        Fraction(sold_high * unit) * (100 + gain) / 100
        + Fraction((count - sold_high) * unit) * (100 - loss) / 100
    )
    text = (
        f"A trader buys {count} identical items at {_money(unit)} each. She sells {sold_high} "
        f"of them at {gain}% above cost, then sells all the rest at {loss}% below cost. What is "
        "her total profit in dollars (negative if it is a loss)? Think step by step."
    )
    return text, revenue - cost, "profit"


def _hard_savings(rng: random.Random) -> tuple[str, Fraction, str]:
    name = rng.choice(_NAMES)
    salary = rng.randrange(1800, 6000, 100)
    pct = rng.randrange(5, 35)
    months = rng.randint(3, 12)
    spend = rng.randrange(10, 90, 5)
    saved = Fraction(salary * pct, 100) * months
    left = saved * (100 - spend) / 100
    text = (
        f"{name} saves {pct}% of a monthly salary of {_money(salary)}. After {months} months, "
        f"{name} spends {spend}% of the savings on a laptop. How many dollars of savings are "
        "left? Justify each step."
    )
    return text, left, "savings"


HARD_TEMPLATES: tuple[Callable[[random.Random], tuple[str, Fraction, str]], ...] = (
    _hard_markup,
    _hard_commission,
    _hard_population,
    _hard_speed,
    _hard_profit,
    _hard_savings,
)


def _allocate(n: int, mix: Mapping[str, float]) -> list[str]:
    """``n`` difficulty labels in proportion to ``mix`` (largest remainder, ties in DIFFICULTIES
    order), before shuffling."""
    unknown = sorted(set(mix) - set(DIFFICULTIES))
    if unknown:
        raise ValueError(f"difficulty_mix: unknown difficulty {unknown[0]!r}")
    if any(w < 0 for w in mix.values()) or sum(mix.values()) <= 0:
        raise ValueError("difficulty_mix: weights must be >= 0 with a positive sum")
    total = sum(mix.values())
    quotas = {d: n * mix.get(d, 0.0) / total for d in DIFFICULTIES}
    counts = {d: int(q) for d, q in quotas.items()}
    order = sorted(DIFFICULTIES, key=lambda d: (-(quotas[d] - counts[d]), DIFFICULTIES.index(d)))
    for d in order[: n - sum(counts.values())]:
        counts[d] += 1
    return [d for d in DIFFICULTIES for _ in range(counts[d])]


def arithmetic_items(
    n: int,
    seed: int,
    difficulty_mix: Mapping[str, float] | None = None,
    *,
    id_prefix: str = "arith",
) -> list[PromptItem]:
    """``n`` arithmetic items with exact numeric answers, difficulties in ``difficulty_mix``
    proportions (default: equal thirds), in a seeded order. Prompts are distinct."""
    if n < 0:
        raise ValueError(f"n: must be >= 0, got {n}")
    rng = random.Random(seed)
    labels = _allocate(n, difficulty_mix or DEFAULT_MIX)
    rng.shuffle(labels)
    items: list[PromptItem] = []
    seen: set[str] = set()
    for i, difficulty in enumerate(labels):
        # One template per hard item, redrawn within it, so every template is equally likely
        # however often its draws are not exact.
        template = rng.choice(HARD_TEMPLATES) if difficulty == "hard" else None
        while True:
            if template is not None:
                question, value, kind = template(rng)
                text = f"{question} {ANSWER_SUFFIX}"
            elif difficulty == "easy":
                question, value, kind = _easy(rng)
                text = f"{question} {ANSWER_SUFFIX}"
            else:
                expr, value, kind = _medium(rng)
                text = _medium_prompt(expr)
            answer = _exact(value)
            if answer is not None and text not in seen:
                break
        seen.add(text)
        options: dict[str, Any] = {"tolerance": 0 if isinstance(answer, int) else 0.001}
        items.append(
            PromptItem(
                id=f"{id_prefix}-{i + 1:03d}",
                category="math",
                difficulty=difficulty,
                messages=({"role": "user", "content": text},),
                answer=answer,
                grader="numeric",
                grader_options=options,
                tags=("generated", "arithmetic", kind),
            )
        )
    return items


# --------------------------------------------------------------------------------------------
# Long context

_SUBJECTS = (
    "The harbour committee",
    "A visiting surveyor",
    "The night archivist",
    "Most of the orchard crews",
    "The new ferry captain",
    "Two apprentices from the mill",
    "The village council",
    "An elderly beekeeper",
    "The regional postmaster",
    "A team of stonemasons",
    "The lighthouse keeper",
    "Several market traders",
    "The school librarian",
    "A travelling clockmaker",
    "The forestry warden",
    "The choir director",
    "A pair of cartographers",
    "The quarry foreman",
    "The museum curator",
    "A group of volunteers",
)
_VERBS = (
    "reviewed",
    "postponed",
    "catalogued",
    "repainted",
    "measured",
    "inspected",
    "described",
    "repaired",
    "questioned",
    "photographed",
    "reorganised",
    "sketched",
    "discussed",
    "cleaned",
    "rebuilt",
    "mapped",
    "praised",
    "restored",
    "weighed",
    "recorded",
)
_OBJECTS = (
    "the eastern footbridge",
    "a ledger of grain deliveries",
    "the old signal tower",
    "the flooded cellar of the inn",
    "a crate of unlabelled seed packets",
    "the route of the autumn procession",
    "the copper roof of the chapel",
    "a collection of pressed flowers",
    "the broken weather vane",
    "the drainage ditches along the lane",
    "a faded painting of the valley",
    "the schedule of the wool market",
    "the stables behind the town hall",
    "a box of letters found in the attic",
    "the narrow gauge railway line",
    "the boundary stones on the hill",
    "the rope store by the quay",
    "a shelf of water-damaged atlases",
    "the bell of the old school",
    "the terraces of the vineyard",
)
_TAILS = (
    "before the spring floods arrived",
    "while the ferry was out of service",
    "after a long and rather tense meeting",
    "under a sky that threatened rain all afternoon",
    "with more patience than anyone expected",
    "as the evening market was closing",
    "during the quiet weeks of late winter",
    "without telling the rest of the town",
    "because the previous survey had been lost",
    "to the mild surprise of their neighbours",
    "once the harvest had been brought in",
    "in the cold hour just after dawn",
    "as part of a plan nobody fully understood",
    "while a brass band practised nearby",
    "although the records from that year were incomplete",
    "in time for the summer fair",
    "despite a shortage of good timber",
    "with help from a borrowed wheelbarrow",
    "after the river had returned to its banks",
    "on the advice of a retired engineer",
)
_VAULT_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # no I or O, which read like digits


def _filler_sentence(rng: random.Random) -> str:
    return (
        f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)} {rng.choice(_TAILS)}."
    )


def _vault(rng: random.Random, taken: set[str]) -> str:
    while True:
        label = f"{rng.choice(_VAULT_LETTERS)}-{rng.randint(10, 99)}"
        if label not in taken:
            taken.add(label)
            return label


def _code(rng: random.Random, taken: set[str]) -> str:
    while True:
        code = str(rng.randint(1000, 9999))
        if code not in taken:
            taken.add(code)
            return code


LONG_CONTEXT_HEADER = (
    "Below is a long document made of notes from a town's daybook. Read it carefully, then "
    "answer the question that follows it.\n\n<document>\n"
)
_DOC_END = "\n</document>\n\n"


def long_context_difficulty(context_tokens: int) -> str:
    if context_tokens < 8000:
        return "easy"
    if context_tokens < 64000:
        return "medium"
    return "hard"


def _needle_sentence(vault: str, code: str) -> str:
    return f"The access code for vault {vault} is {code}."


def _long_context_item(
    rng: random.Random, index: int, tokens: int, distractors: int, id_prefix: str
) -> PromptItem:
    vaults: set[str] = set()
    codes: set[str] = set()
    vault, code = _vault(rng, vaults), _code(rng, codes)
    needle = _needle_sentence(vault, code)
    others = [(_vault(rng, vaults), _code(rng, codes)) for _ in range(distractors)]
    question = (
        f"Question: What is the access code for vault {vault}? Reply with the four-digit code only."
    )
    target_chars = tokens * CHARS_PER_TOKEN
    budget = target_chars - len(LONG_CONTEXT_HEADER) - len(_DOC_END) - len(question)
    budget -= sum(len(_needle_sentence(v, c)) + 1 for v, c in [(vault, code), *others])
    sentences: list[str] = []
    used = 0
    while True:
        sentence = _filler_sentence(rng)
        size = len(sentence) + 1  # with the separator after it
        # Stop at whichever side of the budget is nearer: off by at most half a sentence.
        if used + size - budget > budget - used:
            break
        sentences.append(sentence)
        used += size
    depth = rng.uniform(0.05, 0.95)
    at = round(depth * len(sentences))
    inserts = [(at, needle)]
    inserts += [(rng.randrange(len(sentences) + 1), _needle_sentence(v, c)) for v, c in others]
    # Insert from the back so that the positions drawn for the others stay valid.
    for pos, fact in sorted(inserts, key=lambda p: p[0], reverse=True):
        sentences.insert(pos, fact)
    paragraphs: list[str] = []
    i = 0
    while i < len(sentences):
        size = rng.randint(4, 8)
        paragraphs.append(" ".join(sentences[i : i + size]))
        i += size
    document = "\n".join(paragraphs)
    text = f"{LONG_CONTEXT_HEADER}{document}{_DOC_END}{question}"
    return PromptItem(
        id=f"{id_prefix}-{index + 1:03d}",
        category="long_context",
        difficulty=long_context_difficulty(tokens),
        messages=({"role": "user", "content": text},),
        answer=code,
        grader="exact",
        wrong_answers=tuple(c for _, c in others),
        tags=("generated", "needle", f"tokens-{tokens}", f"depth-{round(depth * 100)}"),
    )


def long_context_items(
    n: int,
    seed: int,
    context_tokens: int | Sequence[int],
    *,
    distractors: int = 3,
    id_prefix: str = "longctx",
) -> list[PromptItem]:
    """``n`` needle-in-a-haystack items. ``context_tokens`` is one length for all items or a
    sequence cycled over them; each prompt is within half a sentence (about 12 tokens) of it."""
    if n < 0:
        raise ValueError(f"n: must be >= 0, got {n}")
    lengths = [context_tokens] if isinstance(context_tokens, int) else list(context_tokens)
    if not lengths or any(t < 200 for t in lengths):
        raise ValueError("context_tokens: need lengths of at least 200 tokens")
    if distractors < 0:
        raise ValueError(f"distractors: must be >= 0, got {distractors}")
    rng = random.Random(seed)
    return [
        _long_context_item(rng, i, lengths[i % len(lengths)], distractors, id_prefix)
        for i in range(n)
    ]


# --------------------------------------------------------------------------------------------
# Writing


def item_to_json(item: PromptItem) -> dict[str, Any]:
    """The JSONL object for ``item``: ``prompt`` for a single user message, optional fields only
    when they are set."""
    obj: dict[str, Any] = {"id": item.id, "category": item.category, "difficulty": item.difficulty}
    if len(item.messages) == 1 and item.messages[0].get("role") == "user":
        obj["prompt"] = item.messages[0]["content"]
    else:
        obj["messages"] = [dict(m) for m in item.messages]
    if item.answer is not None or item.grader not in ("judge", "none"):
        obj["answer"] = item.answer
    obj["grader"] = item.grader
    if item.grader_options:
        obj["grader_options"] = dict(item.grader_options)
    if item.tools:
        obj["tools"] = list(item.tools)
    if item.wrong_answers:
        obj["wrong_answers"] = list(item.wrong_answers)
    if item.tags:
        obj["tags"] = list(item.tags)
    return obj


def write_jsonl(items: Sequence[PromptItem], path: str | Path) -> Path:
    """Write ``items`` one JSON object per line (UTF-8); returns the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    data = b"".join(orjson.dumps(item_to_json(item)) + b"\n" for item in items)
    target.write_bytes(data)
    return target
