"""What a simulated model answers: dataset items by skill, tool calls, judge verdicts, stops.

A request whose last user message matches a loaded dataset item is answered correctly with
probability ``skill[model][category][difficulty]`` (catalog), else with a plausible wrong answer
(the item's ``wrong_answers``, or one derived from the reference). The draw is seeded by
(seed, model, item id), so the same model answers the same prompt the same way in every run.
Requests with tools get a synthesized call, grading prompts a simulated judge's verdict, and
``stop`` sequences cut an answer as a sampler would.
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
from auraon_bench.emulator.protocol import ChatRequest
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


def apply_stop(pieces: list[str], stop: tuple[str, ...]) -> tuple[list[str], str]:
    """Cut the answer before the first stop sequence, as a model's sampler would."""
    if not stop:
        return pieces, "stop"
    text = ""
    for i, piece in enumerate(pieces):
        text += piece
        if any(s in text for s in stop):
            return pieces[:i], "stop"
    return pieces, "stop"


def synthesize_tool_call(req: ChatRequest) -> dict[str, Any]:
    """A call to the named (or first) tool, with required arguments filled by type.

    Tolerant of any JSON Schema shape (type lists, odd ``required``): a schema the emulator does
    not understand gets placeholder values, never an error.
    """
    tools = {t["function"]["name"]: t["function"] for t in req.tools}
    choice = req.tool_choice
    name = choice["function"]["name"] if isinstance(choice, dict) else next(iter(tools))
    schema = tools[name].get("parameters")
    schema = schema if isinstance(schema, dict) else {}
    samples = {
        "string": "example",
        "integer": 1,
        "number": 1.0,
        "boolean": True,
        "array": [],
        "object": {},
    }
    properties = schema.get("properties")
    properties = properties if isinstance(properties, dict) else {}
    required = schema.get("required")
    arguments: dict[str, Any] = {}
    for prop in required if isinstance(required, list) else []:
        if not isinstance(prop, str):
            continue
        spec = properties.get(prop)
        spec = spec if isinstance(spec, dict) else {}
        kind = spec.get("type")
        kind = next((k for k in kind if k != "null"), None) if isinstance(kind, list) else kind
        enum = spec.get("enum")
        if isinstance(enum, list) and enum:
            arguments[prop] = enum[0]
        else:
            arguments[prop] = samples.get(kind, "example") if isinstance(kind, str) else "example"
    return {"name": name, "arguments": arguments}


JUDGE_MARKERS = ("[Response to grade]", "[[")


def judge_verdict(req: ChatRequest, model: ModelProfile, seed: int) -> str | None:
    """A simulated judge's answer to a grading prompt (one asking for a ``[[score]]``), else None.

    The score is drawn per (seed, judge model, prompt), mostly 6-10: a simulated judge has no
    opinion of the answer, so judge-graded quality on the emulator measures the pipeline (calls,
    parsing, cost accounting), not the models.
    """
    text = "\n".join(
        m.get("content") or "" for m in req.messages if isinstance(m.get("content"), str)
    )
    if not all(marker in text for marker in JUDGE_MARKERS):
        return None
    rng = random.Random(f"{seed}|judge|{model.id}|{text}")
    score = rng.choices(range(11), weights=(1, 1, 1, 2, 3, 5, 8, 12, 14, 10, 6))[0]
    return f"The response follows the rubric reasonably well. [[{score}]]"
