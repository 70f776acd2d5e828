"""The replay loader: both formats, bodies kept byte for byte, offsets, and every error path."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson
import pytest

from auraon_bench.data.replay import body_for_arm, read_replay, replay_stream
from auraon_bench.errors import ConfigError

# A body with the fields a loader is tempted to normalise: key order, tools, response_format,
# sampling knobs, vendor extras, nulls, nested objects and a raw U+2028 inside a string.
RICH_BODY: dict[str, Any] = {
    "temperature": 0.7,
    "messages": [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": [{"type": "text", "text": "line\u2028sep é 日本"}]},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function"}]},
        {"role": "tool", "tool_call_id": "c1", "content": "42"},
    ],
    "model": "gpt-4o-mini",
    "n": 2,
    "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
    "response_format": {"type": "json_schema", "json_schema": {"name": "x", "strict": True}},
    "top_p": 1,
    "max_tokens": None,
    "x_vendor_extra": {"z": 1, "a": [1.5, -0.0, "s"]},
    "seed": 18446744073709551615,
}


def simple_body(text: str = "hi", **extra: Any) -> dict[str, Any]:
    return {"model": "m1", "messages": [{"role": "user", "content": text}], **extra}


def batch_line(custom_id: str, body: dict[str, Any], **over: Any) -> dict[str, Any]:
    line = {"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions", "body": body}
    return {**line, **over}


def write(tmp_path: Path, lines: list[Any], name: str = "replay.jsonl") -> Path:
    path = tmp_path / name
    text = [ln if isinstance(ln, str) else orjson.dumps(ln).decode() for ln in lines]
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    return path


def test_batch_format_parses_in_file_order(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        [
            "# exported from the app",
            batch_line("b", simple_body("one")),
            "",
            batch_line("a", RICH_BODY, url="/chat/completions"),
        ],
    )
    replay = read_replay(path)
    assert replay.format == "batch" and not replay.timed and not replay.reordered
    assert replay.path == str(path)
    assert [r.request_key for r in replay.requests] == ["b", "a"]
    assert [r.line for r in replay.requests] == [2, 4]
    assert all(r.offset_s is None for r in replay.requests)
    assert replay.span_s is None
    with pytest.raises(ValueError, match="Batch format"):
        replay.offsets()


def test_bodies_come_back_unchanged(tmp_path: Path) -> None:
    body_a = dict(RICH_BODY)
    body_b = {"stream": True, **simple_body("x"), "stream_options": {"include_usage": False}}
    replay = read_replay(write(tmp_path, [batch_line("a", body_a), batch_line("b", body_b)]))
    got = [r.body for r in replay.requests]
    assert [orjson.dumps(b) for b in got] == [orjson.dumps(body_a), orjson.dumps(body_b)]
    assert list(got[0]) == list(RICH_BODY)  # key order, not just equality
    assert "\u2028" in got[0]["messages"][1]["content"][0]["text"]  # not split into two lines
    # With no arm and no stream, the bytes to send are the body's own.
    assert body_for_arm(got[0], None) == orjson.dumps(RICH_BODY)


def test_timed_offsets_from_numbers_sorted_and_flagged(tmp_path: Path) -> None:
    lines = [
        {"timestamp": 1_700_000_010.5, "id": "late", "body": simple_body("c")},
        {"timestamp": 1_700_000_000, "body": simple_body("a")},
        {"timestamp": 1_700_000_002.25, "id": "mid", "body": simple_body("b")},
        {"timestamp": 1_700_000_002.25, "id": "tie", "body": simple_body("b2")},
    ]
    replay = read_replay(write(tmp_path, lines))
    assert replay.format == "timed" and replay.timed and replay.reordered
    assert [r.request_key for r in replay.requests] == ["line-2", "mid", "tie", "late"]
    assert [r.offset_s for r in replay.requests] == [0.0, 2.25, 2.25, 10.5]
    assert replay.span_s == 10.5
    assert replay.offsets() == (0.0, 2.25, 2.25, 10.5)
    assert replay.offsets(speed=2) == (0.0, 1.125, 1.125, 5.25)
    assert replay.offsets(speed=0.5) == (0.0, 4.5, 4.5, 21.0)
    assert replay.requests[0].body == simple_body("a")


def test_timed_already_sorted_is_not_reordered(tmp_path: Path) -> None:
    lines = [{"timestamp": t, "body": simple_body()} for t in (5, 5, 7.5)]
    replay = read_replay(write(tmp_path, lines))
    assert not replay.reordered
    assert replay.offsets() == (0.0, 0.0, 2.5)
    assert [r.line for r in replay.requests] == [1, 2, 3]


def test_timed_offsets_from_iso_strings_with_mixed_zones(tmp_path: Path) -> None:
    lines = [
        {"timestamp": "2024-05-01T14:00:03.250+02:00", "id": "b", "body": simple_body()},
        {"timestamp": "2024-05-01T12:00:00Z", "id": "a", "body": simple_body()},
        {"timestamp": "2024-05-01T12:00:10", "id": "naive-utc", "body": simple_body()},
        {"timestamp": "2024-05-01T07:00:05.000001-05:00", "id": "c", "body": simple_body()},
    ]
    replay = read_replay(write(tmp_path, lines))
    assert replay.reordered
    assert [r.request_key for r in replay.requests] == ["a", "b", "c", "naive-utc"]
    assert replay.offsets() == (0.0, 3.25, 5.000001, 10.0)
    assert replay.span_s == 10.0


@pytest.mark.parametrize("speed", [0, -1.0, float("inf"), float("nan"), True, "2"])
def test_offsets_refuse_bad_speed(tmp_path: Path, speed: Any) -> None:
    replay = read_replay(write(tmp_path, [{"timestamp": 0, "body": simple_body()}]))
    with pytest.raises(ValueError, match="speed"):
        replay.offsets(speed=speed)


def test_body_for_arm_replaces_model_and_nothing_else() -> None:
    sent = orjson.loads(body_for_arm(RICH_BODY, "arm-b"))
    assert sent["model"] == "arm-b"
    assert list(sent) == list(RICH_BODY)  # model keeps its place
    assert {k: v for k, v in sent.items() if k != "model"} == {
        k: v for k, v in RICH_BODY.items() if k != "model"
    }
    assert RICH_BODY["model"] == "gpt-4o-mini"  # the shared body is not mutated
    # A body without a model gets one appended; the rest is byte-identical.
    no_model = {"messages": [{"role": "user", "content": "q"}], "temperature": 0}
    assert body_for_arm(no_model, "arm-a") == orjson.dumps({**no_model, "model": "arm-a"})


def test_body_for_arm_sets_stream() -> None:
    body = simple_body(temperature=0)
    assert orjson.loads(body_for_arm(body, None, stream=True)) == {
        **body,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    # An existing stream keeps its position; the body's own stream_options are kept as given.
    own = {"stream": False, **simple_body(), "stream_options": {"include_usage": False}}
    sent = orjson.loads(body_for_arm(own, "x", stream=True))
    assert list(sent) == ["stream", "model", "messages", "stream_options"]
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": False}
    # Forcing a non-stream drops stream_options, which a non-streamed request may not carry.
    streamed = {**simple_body(), "stream": True, "stream_options": {"include_usage": True}}
    assert body_for_arm(streamed, None, stream=False) == orjson.dumps(
        {**simple_body(), "stream": False}
    )
    assert body_for_arm(body, None, stream=False) == orjson.dumps({**body, "stream": False})
    assert body == simple_body(temperature=0)


def test_body_for_arm_needs_a_model() -> None:
    with pytest.raises(ValueError, match="has no model; give --model"):
        body_for_arm({"messages": [{"role": "user", "content": "q"}]}, None)
    with pytest.raises(ValueError, match="has no model"):
        body_for_arm({**simple_body(), "model": None}, None)
    with pytest.raises(ValueError, match="model must be a non-empty string"):
        body_for_arm(simple_body(), "")


def test_replay_stream() -> None:
    assert replay_stream({**simple_body(), "stream": True})
    assert not replay_stream({**simple_body(), "stream": False})
    assert not replay_stream(simple_body())
    assert not replay_stream({**simple_body(), "stream": "true"})


def test_embeddings_url_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        [
            batch_line("a", simple_body()),
            batch_line("b", {"model": "e", "input": "x"}, url="/v1/embeddings"),
        ],
    )
    with pytest.raises(ConfigError, match=r":2, field 'url': '/v1/embeddings' is not replayable"):
        read_replay(path)


def test_duplicate_custom_id_names_both_lines(tmp_path: Path) -> None:
    lines = [batch_line("a", simple_body()), "", batch_line("b", simple_body())]
    path = write(tmp_path, [*lines, batch_line("a", simple_body())])
    with pytest.raises(ConfigError, match=r":4, field 'custom_id': .*'a' \(lines 1 and 4\)") as e:
        read_replay(path)
    assert str(path) in str(e.value) and e.value.line == 4 and e.value.field == "custom_id"


BODY = simple_body()


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (["{not json"], r":1: invalid JSON"),
        (["[1, 2]"], r":1: must be a JSON object"),
        ([{"body": BODY}], r":1: cannot tell the format"),
        ([{"custom_id": "a", "timestamp": 1, "body": BODY}], r":1: cannot tell the format"),
        (
            [batch_line("a", BODY), {"timestamp": 1, "body": BODY}],
            r":2: a timed line in a batch file \(format set by line 1\)",
        ),
        (
            [{"timestamp": 1, "body": BODY}, batch_line("a", BODY)],
            r":2: a batch line in a timed file",
        ),
        ([batch_line("a", BODY, extra=1)], r":1, field 'extra': unknown field"),
        ([{"timestamp": 1, "ID": "x", "body": BODY}], r":1, field 'ID': unknown field"),
        ([batch_line("", BODY)], r":1, field 'custom_id': must be a non-empty string"),
        ([batch_line(7, BODY)], r":1, field 'custom_id': must be a non-empty string"),  # type: ignore[arg-type]
        ([batch_line("a", BODY, method="GET")], r":1, field 'method': must be POST"),
        ([batch_line("a", BODY, url=None)], r":1, field 'url': None is not replayable"),
        ([{"custom_id": "a", "method": "POST", "url": "/v1/chat/completions"}], r"'body'"),
        ([batch_line("a", [BODY])], r":1, field 'body': must be a JSON object"),  # type: ignore[arg-type]
        ([batch_line("a", {"model": "m"})], r":1, field 'body.messages': must be a non-empty"),
        (
            [batch_line("a", {"model": "m", "messages": []})],
            r":1, field 'body.messages': must be a non-empty list",
        ),
        (
            [batch_line("a", {"messages": [{"role": "user"}, {"content": "x"}]})],
            r":1, field 'body.messages\[1\]': must be an object with a string role",
        ),
        (
            [batch_line("a", {"messages": ["hello"]})],
            r":1, field 'body.messages\[0\]': must be an object",
        ),
        ([{"timestamp": "yesterday", "body": BODY}], r":1, field 'timestamp': must be seconds"),
        ([{"timestamp": True, "body": BODY}], r":1, field 'timestamp': must be seconds"),
        ([{"timestamp": None, "body": BODY}], r":1, field 'timestamp': must be seconds"),
        ([{"timestamp": "", "body": BODY}], r":1, field 'timestamp': must be seconds"),
        (
            [{"timestamp": 0, "body": BODY}, {"timestamp": "2024-05-01T12:00:00Z", "body": BODY}],
            r":2, field 'timestamp': mixes numbers and ISO 8601",
        ),
        ([{"timestamp": 1, "id": 3, "body": BODY}], r":1, field 'id': must be a non-empty string"),
        (
            [{"timestamp": 1, "id": "x", "body": BODY}, {"timestamp": 2, "id": "x", "body": BODY}],
            r":2, field 'id': duplicate request key 'x' \(lines 1 and 2\)",
        ),
        (
            [{"timestamp": 1, "body": BODY}, {"timestamp": 2, "id": "line-1", "body": BODY}],
            r":2, field 'id': duplicate request key 'line-1'",
        ),
        ([{"timestamp": 1, "body": BODY}, {"timestamp": 2}], r":2, field 'body': must be"),
    ],
)
def test_bad_lines_raise_config_error_naming_line_and_field(
    tmp_path: Path, lines: list[Any], expected: str
) -> None:
    path = write(tmp_path, lines)
    with pytest.raises(ConfigError, match=expected) as e:
        read_replay(path)
    message = str(e.value)
    assert message.startswith(str(path) + ":") and "\n" not in message
    assert e.value.source == str(path) and e.value.line is not None


def test_non_finite_numbers_are_refused(tmp_path: Path) -> None:
    # JSON has no NaN/Infinity; a huge exponent would become inf and be sent as null.
    path = write(tmp_path, ['{"timestamp": 1e999, "body": {"messages": [{"role": "user"}]}}'])
    with pytest.raises(ConfigError, match=r":1: invalid JSON"):
        read_replay(path)


@pytest.mark.parametrize("content", ["", "\n\n", "# only a comment\n  \n"])
def test_empty_file_is_an_error(tmp_path: Path, content: str) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(f"{path}: no requests")):
        read_replay(path)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        read_replay(tmp_path / "nope.jsonl")
    with pytest.raises(ConfigError, match=re.escape(f"{tmp_path}: cannot read")):
        read_replay(tmp_path)


def test_not_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.jsonl"
    good = orjson.dumps(batch_line("a", simple_body()))
    path.write_bytes(good + b"\n" + good.replace(b"hi", b"h\xe9"))
    with pytest.raises(ConfigError, match=r":2: not UTF-8 text"):
        read_replay(path)


def test_bom_and_crlf_are_tolerated(tmp_path: Path) -> None:
    path = tmp_path / "windows.jsonl"
    lines = [orjson.dumps(batch_line(k, simple_body(k))) for k in ("a", "b")]
    path.write_bytes(b"\xef\xbb\xbf" + b"\r\n".join(lines) + b"\r\n")
    replay = read_replay(path)
    assert [r.request_key for r in replay.requests] == ["a", "b"]
    assert replay.requests[1].body == simple_body("b")
