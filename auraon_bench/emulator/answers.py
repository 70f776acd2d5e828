"""Simulated answer quality: dataset prompts are answered correctly with the model's skill.

A request whose last user message matches a loaded dataset item is answered correctly with
probability ``skill[model][category][difficulty]`` (catalog), else with a plausible wrong answer
(the item's ``wrong_answers``, or one derived from the reference). The draw is seeded by
(seed, model, item id), so the same model answers the same prompt the same way in every run.
"""

from __future__ import annotations

import random
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from auraon_bench.catalog import ModelProfile
from auraon_bench.data.dataset import PromptItem
from auraon_bench.emulator.text import last_user_text


@dataclass(frozen=True, slots=True)
class SimulatedAnswer:
    item_id: str
    correct: bool
    text: str | None = None  # content, when the answer is text
    tool_call: Mapping[str, Any] | None = None  # {"name", "arguments"}, when it is a tool call


class AnswerBook:
    """Dataset items indexed by their prompt text."""

    def __init__(self, items: Iterable[PromptItem] = ()) -> None:
        self._by_prompt: dict[str, PromptItem] = {}
        for item in items:
            self._by_prompt[item.prompt_text.strip()] = item

    def __len__(self) -> int:
        return len(self._by_prompt)

    def lookup(self, messages: Sequence[Mapping[str, Any]]) -> PromptItem | None:
        if not self._by_prompt:
            return None
        return self._by_prompt.get(last_user_text(messages).strip())


def simulate_answer(item: PromptItem, model: ModelProfile, seed: int) -> SimulatedAnswer:
    rng = random.Random(f"{seed}|{model.id}|{item.id}")
    correct = rng.random() < model.skill_for(item.category, item.difficulty)
    if item.grader == "tool_call":
        call = item.answer if correct else _wrong_tool_call(item, rng)
        return SimulatedAnswer(item.id, correct, tool_call=call)
    text = render_correct(item) if correct else render_wrong(item, rng)
    return SimulatedAnswer(item.id, correct, text=text)


def render_correct(item: PromptItem) -> str:
    return _render(item, item.answer)


def render_wrong(item: PromptItem, rng: random.Random) -> str:
    if item.wrong_answers:
        return _render(item, rng.choice(item.wrong_answers))
    answer = item.answer
    if (
        item.grader == "numeric"
        and isinstance(answer, int | float)
        and not isinstance(answer, bool)
    ):
        delta = rng.choice((-1, 1)) * max(1, round(abs(answer) * rng.uniform(0.05, 0.3)))
        return _render(item, answer + delta)
    if item.grader == "choice" and isinstance(answer, str):
        n = int(item.grader_options.get("n_choices", 4))
        letters = [c for c in string.ascii_uppercase[:n] if c != answer.upper()]
        return _render(item, rng.choice(letters))
    if item.grader == "json_schema" and isinstance(answer, dict) and answer:
        broken = dict(answer)
        broken.pop(rng.choice(sorted(broken)))
        return _render(item, broken)
    if item.grader == "code":
        return "```python\ndef solution(*args, **kwargs):\n    return None\n```"
    return "I am not sure; it might be something else entirely."


def _render(item: PromptItem, value: Any) -> str:
    if item.grader == "numeric":
        return f"Working through it step by step, the answer is {value}."
    if item.grader == "choice":
        return f"Answer: {value}"
    if item.grader == "json_schema":
        return orjson.dumps(value).decode()
    if item.grader == "code":
        return f"```python\n{value}\n```"
    return str(value) if value is not None else "Here is a considered answer to your request."


def _wrong_tool_call(item: PromptItem, rng: random.Random) -> Mapping[str, Any]:
    if item.wrong_answers:
        return rng.choice(item.wrong_answers)
    names = [t.get("function", {}).get("name") for t in item.tools]
    others = [n for n in names if n and n != item.answer["name"]]
    if others:
        return {"name": rng.choice(others), "arguments": item.answer.get("arguments", {})}
    return {"name": item.answer["name"], "arguments": {}}
