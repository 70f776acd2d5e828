"""Tests for the incremental SSE decoder (auraon_bench.client.sse)."""

from __future__ import annotations

import itertools
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auraon_bench.client.sse import DONE, SSEDecoder, SSEEvent


def _chunk(delta: dict, finish: str | None = None, usage: dict | None = None) -> dict:
    choices = [] if usage else [{"index": 0, "delta": delta, "finish_reason": finish}]
    body = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": "m", "choices": choices}
    if usage:
        body["usage"] = usage
    return body


OPENAI_PAYLOADS = [
    json.dumps(_chunk({"role": "assistant", "content": ""})),
    json.dumps(_chunk({"content": "Hello"})),
    json.dumps(_chunk({"content": ", wörld 🙂"})),
    json.dumps(_chunk({}, finish="stop")),
    json.dumps(_chunk({}, usage={"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8})),
    DONE,
]
OPENAI_STREAM = "".join(f"data: {p}\n\n" for p in OPENAI_PAYLOADS).encode()


def decode(chunks: list[bytes]) -> tuple[list[SSEEvent], SSEDecoder]:
    """Feed chunks with t_ns = chunk index; close at t_ns = len(chunks)."""
    decoder = SSEDecoder()
    events: list[SSEEvent] = []
    for t_ns, chunk in enumerate(chunks):
        events.extend(decoder.feed(chunk, t_ns))
    events.extend(decoder.close(len(chunks)))
    return events, decoder


def content(events: list[SSEEvent]) -> list[tuple]:
    """Everything but the arrival time."""
    return [(e.event, e.data, e.id, e.retry, e.complete) for e in events]


def two_way_splits(raw: bytes):
    for cut in range(len(raw) + 1):
        yield [raw[:cut], raw[cut:]]


def byte_by_byte(raw: bytes) -> list[bytes]:
    return [raw[i : i + 1] for i in range(len(raw))]


def test_openai_stream_one_shot():
    events, decoder = decode([OPENAI_STREAM])
    assert [e.data for e in events] == OPENAI_PAYLOADS
    assert all(e.event == "message" and e.complete and e.t_ns == 0 for e in events)
    assert json.loads(events[2].data)["choices"][0]["delta"]["content"] == ", wörld 🙂"
    assert not decoder.has_buffered_bytes and not decoder.has_partial_event


@pytest.mark.parametrize("ending", [b"\n", b"\r\n", b"\r"])
def test_every_two_way_split_and_byte_by_byte_give_identical_events(ending):
    raw = OPENAI_STREAM.replace(b"\n", ending)
    expected = content(decode([raw])[0])
    assert [e[1] for e in expected] == OPENAI_PAYLOADS
    for chunks in two_way_splits(raw):
        assert content(decode(chunks)[0]) == expected, chunks
    assert content(decode(byte_by_byte(raw))[0]) == expected


def test_cr_at_chunk_end_followed_by_lf_is_one_line_break():
    events, _ = decode([b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n"])
    assert content(events) == [("message", "a\nb", None, None, True)]
    assert events[0].t_ns == 2


def test_cr_pair_across_empty_chunk():
    events, _ = decode([b"data: a\r", b"", b"\n\r\n"])
    assert [(e.data, e.t_ns) for e in events] == [("a", 2)]


def test_lone_cr_terminators_dispatch_without_waiting_for_lf():
    decoder = SSEDecoder()
    assert decoder.feed(b"data: x\r", 7) == []
    [event] = decoder.feed(b"\r", 8)
    assert (event.data, event.t_ns) == ("x", 8)
    assert decoder.feed(b"\n", 9) == []  # completes the CRLF, not a new blank line
    assert decoder.close(10) == []


def test_multi_line_data_joined_with_lf():
    events, _ = decode([b"data: first\ndata:second\ndata\ndata:  two spaces\n\n"])
    assert events[0].data == "first\nsecond\n\n two spaces"


def test_comments_are_counted_and_ignored():
    events, decoder = decode([b": keep-alive\n\n:x\ndata: a\n: mid\n\n", b":"])
    assert [e.data for e in events] == ["a"]
    assert decoder.comments == 4


def test_event_type_id_retry_and_unknown_fields():
    raw = (
        b"event: error\nid: 42\nretry: 1500\nfoo: bar\n"
        b'data: {"error": {"message": "overloaded"}}\n\n'
        b"data: next\n\n"
        b"retry: 1x\nid: a\0b\nevent\ndata: third\n\n"
    )
    events, _ = decode([raw])
    assert content(events) == [
        ("error", '{"error": {"message": "overloaded"}}', "42", 1500, True),
        ("message", "next", "42", 1500, True),
        ("message", "third", "42", 1500, True),
    ]


def test_event_type_resets_after_blank_line_without_data():
    events, _ = decode([b"event: error\n\ndata: a\n\n"])
    assert content(events) == [("message", "a", None, None, True)]


def test_blank_lines_without_data_dispatch_nothing():
    events, _ = decode([b"\n\n\r\n: only comment\n\nevent: ping\nid: 1\n\n"])
    assert events == []


def test_unterminated_final_event_is_returned_incomplete_by_close():
    decoder = SSEDecoder()
    assert decoder.feed(b'data: done\n\ndata: {"choi', 1)[0].data == "done"
    assert decoder.has_buffered_bytes
    assert decoder.feed(b'ces": []}\ndata: tail', 2) == []
    assert decoder.has_partial_event
    [event] = decoder.close(3)
    assert event == SSEEvent(data='{"choices": []}\ntail', t_ns=3, complete=False)
    assert not decoder.has_buffered_bytes and not decoder.has_partial_event


def test_close_with_data_line_but_no_blank_line():
    events, _ = decode([b"event: error\ndata: x\n"])
    assert content(events) == [("error", "x", None, None, False)]


def test_close_without_pending_event_returns_nothing():
    assert decode([b"data: a\n\n: trailing comment"])[0][-1].complete
    assert decode([b""])[0] == []
    assert decode([b"event: x\n"])[0] == []


def test_feed_after_close_is_an_error_and_close_is_idempotent():
    decoder = SSEDecoder()
    decoder.close(0)
    assert decoder.close(1) == []
    with pytest.raises(RuntimeError):
        decoder.feed(b"data: a\n\n", 2)


def test_multibyte_utf8_split_at_every_byte():
    text = "data: héllo 你好 🙂 ∑\n\n"
    raw = text.encode()
    for chunks in [*two_way_splits(raw), byte_by_byte(raw)]:
        events, _ = decode(chunks)
        assert [e.data for e in events] == ["héllo 你好 🙂 ∑"]


def test_invalid_utf8_is_replaced_not_raised():
    events, _ = decode([b"data: a\xff", b"\xc3\n\n"])
    assert events[0].data == "a\ufffd\ufffd"


def test_leading_byte_order_mark_is_dropped_once():
    bom = "\ufeff".encode()
    events, _ = decode([bom[:2], bom[2:] + b"data: a\n\n" + bom + b"data: b\n\n"])
    assert [e.data for e in events] == ["a"]  # a later BOM makes an unknown field name


def test_accepts_bytearray_and_memoryview():
    decoder = SSEDecoder()
    assert decoder.feed(bytearray(b"data: a\n"), 0) == []
    assert decoder.feed(memoryview(b"\n"), 1)[0].data == "a"


def test_event_time_is_the_chunk_that_completed_it():
    chunks = [b"data: one\n", b"\n", b"data: two\n\ndata: th", b"ree\n", b"\ndata: 4\n\n"]
    events, _ = decode(chunks)
    assert [(e.data, e.t_ns) for e in events] == [("one", 1), ("two", 2), ("three", 4), ("4", 4)]


def test_arrival_time_at_every_split_of_the_openai_stream():
    # The event is dispatched by the LF of its blank line: the byte at that offset.
    terminators = [
        i for i in range(1, len(OPENAI_STREAM)) if OPENAI_STREAM[i - 1 : i + 1] == b"\n\n"
    ]
    for cut in range(len(OPENAI_STREAM) + 1):
        events, _ = decode([OPENAI_STREAM[:cut], OPENAI_STREAM[cut:]])
        assert [e.t_ns for e in events] == [0 if end < cut else 1 for end in terminators]


# --- property test: random chunking of random well-formed streams -----------------

_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=12
)
_event = st.fixed_dictionaries(
    {
        "type": st.sampled_from([None, "message", "error", "delta", "x y"]),
        "id": st.one_of(st.none(), _text.filter(lambda s: "\0" not in s)),
        "data": st.lists(_text, min_size=1, max_size=4),
        "comments": st.lists(_text, max_size=2),
    }
)


def build_stream(events: list[dict], ending: str) -> tuple[bytes, list[tuple], list[int]]:
    """Serialise events; return bytes, expected (event, data, id) and terminator offsets."""
    out = bytearray()
    expected, terminators, last_id = [], [], None
    for ev in events:
        lines = [f":{c}" for c in ev["comments"]]
        if ev["type"] is not None:
            lines.append(f"event: {ev['type']}")
        if ev["id"] is not None:
            lines.append(f"id: {ev['id']}")
            last_id = ev["id"]
        lines += [f"data: {d}" for d in ev["data"]]
        out += "".join(line + ending for line in lines).encode()
        terminators.append(len(out))
        out += ending.encode()
        expected.append((ev["type"] or "message", "\n".join(ev["data"]), last_id))
    return bytes(out), expected, terminators


@settings(max_examples=300, deadline=None)
@given(
    events=st.lists(_event, max_size=6),
    ending=st.sampled_from(["\n", "\r\n", "\r"]),
    data=st.data(),
)
def test_random_chunking_matches_one_shot_decoding(events, ending, data):
    raw, expected, terminators = build_stream(events, ending)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(raw)), max_size=12)))
    bounds = [0, *cuts, len(raw)]
    chunks = [raw[a:b] for a, b in itertools.pairwise(bounds)]

    one_shot, _ = decode([raw])
    chunked, decoder = decode(chunks)
    assert content(chunked) == content(one_shot)
    assert [(e.event, e.data, e.id) for e in chunked] == expected
    assert decoder.comments == sum(len(ev["comments"]) for ev in events)
    # Each event is stamped with the chunk holding the first byte of its blank line.
    chunk_of = [next(k for k, b in enumerate(bounds[1:]) if t < b) for t in terminators]
    assert [e.t_ns for e in chunked] == chunk_of
