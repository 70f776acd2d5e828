"""The dataset loader: every error names file, line and field; CSV and ShareGPT imports."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from auraon_bench.data.dataset import load_dataset, load_items
from auraon_bench.errors import DatasetError

GOOD = {
    "id": "a",
    "category": "math",
    "difficulty": "easy",
    "prompt": "1+1?",
    "answer": 2,
    "grader": "numeric",
}


def write(tmp_path: Path, *objects: object, name: str = "d.jsonl") -> Path:
    path = tmp_path / name
    path.write_bytes(b"\n".join(o if isinstance(o, bytes) else orjson.dumps(o) for o in objects))
    return path


@pytest.mark.parametrize(
    ("bad", "field", "fragment"),
    [
        (b"{not json", None, "invalid JSON"),
        (b"[1, 2]", None, "must be a JSON object"),
        ({**GOOD, "colour": 1}, "colour", "unknown field"),
        ({**GOOD, "id": ""}, "id", "non-empty string"),
        ({**GOOD, "difficulty": "extreme"}, "difficulty", "must be one of"),
        ({**GOOD, "grader": "vibes"}, "grader", "unknown grader"),
        ({**GOOD, "messages": [{"role": "user", "content": "x"}]}, "prompt", "not both"),
        ({k: v for k, v in GOOD.items() if k != "prompt"}, "messages", "non-empty list"),
        (
            {
                **{k: v for k, v in GOOD.items() if k != "prompt"},
                "messages": [{"role": "bot", "content": "x"}],
            },
            "messages[0].role",
            "must be one of",
        ),
        ({k: v for k, v in GOOD.items() if k != "answer"}, "answer", "is required"),
        ({**GOOD, "tags": "x"}, "tags", "must be a list"),
        ({**GOOD, "grader": "tool_call", "answer": {"name": "f"}}, "tools", "needs tools"),
        ({**GOOD, "id": "a"}, "id", "duplicate id"),
    ],
)
def test_a_bad_line_names_file_line_and_field(tmp_path: Path, bad, field, fragment) -> None:
    path = write(tmp_path, GOOD, b"", b"// a comment", bad)
    with pytest.raises(DatasetError) as info:
        load_dataset(path)
    message = str(info.value)
    assert message.startswith(f"{path}:4") and fragment in message and "\n" not in message
    assert info.value.line == 4 and info.value.field == field


def test_missing_empty_and_cross_file_duplicates(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="file not found"):
        load_dataset(tmp_path / "absent.jsonl")
    with pytest.raises(DatasetError, match="no items"):
        load_dataset(write(tmp_path, b"", b"// only a comment"))
    first = write(tmp_path, GOOD, name="one.jsonl")
    second = write(tmp_path, GOOD, name="two.jsonl")
    with pytest.raises(DatasetError, match="also in"):
        load_items([first, second])


def test_csv_import(tmp_path: Path) -> None:
    path = tmp_path / "set.csv"
    path.write_text(
        "id,category,difficulty,prompt,answer,grader,tags,grader_options\n"
        'q1,factual,easy,"Capital of Peru, please?",Lima,,geo|easy,\n'
        'q2,math,hard,What is 6*7?,42,numeric,,"{""tolerance"": 0.5}"\n'
        "q3,chat,medium,Tell me a joke,,,,\n"
    )
    items = load_dataset(path)
    assert [i.id for i in items] == ["q1", "q2", "q3"]
    assert items[0].grader == "exact" and items[0].answer == "Lima"
    assert items[0].tags == ("geo", "easy")
    assert items[0].messages == ({"role": "user", "content": "Capital of Peru, please?"},)
    assert items[1].answer == 42 and items[1].grader_options == {"tolerance": 0.5}
    assert items[2].grader == "none"
    bad = tmp_path / "bad.csv"
    bad.write_text("id,category,difficulty,prompt\nq1,math,extreme,x\n")
    with pytest.raises(DatasetError) as info:
        load_dataset(bad)
    assert str(info.value).startswith(f"{bad}:2") and info.value.field == "difficulty"
    header = tmp_path / "header.csv"
    header.write_text("id,category,prompt\nq1,math,x\n")
    with pytest.raises(DatasetError, match="missing column 'difficulty'"):
        load_dataset(header)


def test_sharegpt_import(tmp_path: Path) -> None:
    conversations = [
        {
            "id": "c1",
            "conversations": [
                {"from": "system", "value": "Be brief."},
                {"from": "human", "value": "Hi"},
                {"from": "gpt", "value": "Hello!"},
                {"from": "human", "value": "Name a colour"},
                {"from": "gpt", "value": "Blue"},
            ],
        },
        {"conversations": [{"from": "human", "value": "Only a question"}]},
    ]
    as_json = tmp_path / "share.json"
    as_json.write_bytes(orjson.dumps(conversations))
    items = load_dataset(as_json)
    assert [i.id for i in items] == ["c1", "conversation-1"]
    assert [m["role"] for m in items[0].messages] == ["system", "user", "assistant", "user"]
    assert items[0].answer == "Blue" and items[1].answer is None
    assert {i.grader for i in items} == {"none"}
    as_jsonl = write(tmp_path, *conversations, name="share.jsonl")
    assert [i.messages for i in load_dataset(as_jsonl)] == [i.messages for i in items]
    broken = write(
        tmp_path, {"conversations": [{"from": "alien", "value": "x"}]}, name="broken.jsonl"
    )
    with pytest.raises(DatasetError) as info:
        load_dataset(broken)
    assert str(info.value).startswith(f"{broken}:1") and "conversations[0]" in str(info.value)
