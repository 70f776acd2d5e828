"""Conversations, shared prefixes and body replay, end to end on the real emulator over HTTP.

A recording transport sits under the measuring client: it forwards every request to the real
aiohttp transport unchanged and keeps the bytes it was given, so the tests can read exactly what
went over the wire."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio
import orjson
import pandas as pd
import pytest

from auraon_bench.client.transport import AiohttpTransport, RawResponse
from auraon_bench.data.lengths import parse_length
from auraon_bench.data.prompts import synthetic_prompts
from auraon_bench.data.replay import read_replay
from auraon_bench.data.tokenizers import get_tokenizer
from auraon_bench.load.arrivals import ScheduleSpec, build_stages
from auraon_bench.load.runner import LoadRunner, RunnerConfig
from auraon_bench.load.session import LoadOptions, run_load
from auraon_bench.results.reader import read_records
from auraon_bench.results.schema import TURN_STRIDE, RequestRecord


class Recorder:
    """A transport that forwards to aiohttp and keeps every chat body it sent."""

    def __init__(self) -> None:
        self.inner = AiohttpTransport()
        self.bodies: list[dict[str, Any]] = []
        self.raw: list[bytes] = []

    async def send(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None
    ) -> RawResponse:
        if body is not None and url.endswith("/chat/completions"):
            self.raw.append(body)
            self.bodies.append(orjson.loads(body))
        return await self.inner.send(method, url, headers, body)

    async def aclose(self) -> None:
        await self.inner.aclose()


def _options(tmp_path: Path, **kwargs: Any) -> LoadOptions:
    base: dict[str, Any] = {
        "arms": ("gpt-4o-mini",),
        "spec": ScheduleSpec(profile="concurrent", concurrency=2, requests=3),
        "out": tmp_path / "run",
        "time_scale": 0.01,
        "input_tokens": 40,
        "output_tokens": 12,
    }
    return LoadOptions(**{**base, **kwargs})


def _records(result: Any) -> pd.DataFrame:
    return read_records(result.run_dir).sort_values(["session_id", "turn"], kind="stable")


@pytest.mark.slow
def test_later_turns_carry_the_earlier_answers(tmp_path: Path) -> None:
    recorder = Recorder()
    options = _options(tmp_path, turns=3, keep_text=True)
    result = run_load(options, transport=recorder)
    df = _records(result)
    assert len(df) == 9 and set(df["status"]) == {"ok"}
    assert sorted(df["turn"].tolist()) == [1, 1, 1, 2, 2, 2, 3, 3, 3]
    assert (df["request_id"] == df["session_id"] * TURN_STRIDE + df["turn"] - 1).all()
    assert set(df["max_tokens"]) == {12}
    by_first: dict[str, list[list[dict[str, Any]]]] = {}
    for body in recorder.bodies:
        by_first.setdefault(body["messages"][0]["content"], []).append(body["messages"])
    assert len(by_first) == 3
    # Synthetic prompt i opens with "[i]": its records are those of prompt synthetic-i.
    answers = {
        (prompt, turn): text
        for prompt, turn, text in zip(df["prompt_id"], df["turn"], df["response_text"], strict=True)
    }
    for first, conversation in by_first.items():
        prompt = "synthetic-" + first[1 : first.index("]")]
        conversation.sort(key=len)
        assert [len(m) for m in conversation] == [1, 3, 5]
        for turn, (earlier, later) in enumerate(itertools.pairwise(conversation), start=1):
            assert later[: len(earlier)] == earlier  # the history is resent unchanged
            assistant = later[len(earlier)]
            assert assistant == {"role": "assistant", "content": answers[(prompt, turn)]}
            assert assistant["content"] and later[-1]["role"] == "user"


@pytest.mark.slow
def test_answers_feed_the_history_but_records_keep_them_only_when_asked(tmp_path: Path) -> None:
    recorder = Recorder()
    result = run_load(_options(tmp_path, turns=2), transport=recorder)
    df = _records(result)
    assert df["response_text"].isna().all()  # not asked to keep answers
    seconds = [b for b in recorder.bodies if len(b["messages"]) == 3]
    assert len(seconds) == 3 and all(b["messages"][1]["content"] for b in seconds)


@pytest.mark.slow
def test_concurrency_counts_conversations_and_think_time_separates_turns(tmp_path: Path) -> None:
    options = _options(
        tmp_path,
        turns=3,
        think_time=0.2,
        spec=ScheduleSpec(profile="concurrent", concurrency=2, requests=4),
    )
    df = _records(run_load(options))
    assert df["session_id"].nunique() == 4 and len(df) == 12
    for _, turns in df.groupby("session_id"):
        done = turns["t_done"].to_numpy()[:-1]
        scheduled = turns["t_scheduled"].to_numpy()[1:]
        # The event loop's timer may wake a few ms early; a missing pause would show ~0.
        assert ((scheduled - done) >= 0.19).all()
    # Never more than 2 requests in flight: one per conversation, two conversations at once.
    events = sorted([(t, 1) for t in df["t_sent"]] + [(t, -1) for t in df["t_done"]])
    in_flight = peak = 0
    for _, step in events:
        in_flight += step
        peak = max(peak, in_flight)
    assert peak <= 2


class TurnFailingClient:
    """Answers every first turn and fails every second one, without a network."""

    t0_ns = 0

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []

    def seconds(self, t_ns: int) -> float:
        return t_ns / 1e9

    async def chat(self, body: bytes, record: RequestRecord, *, stream: bool) -> RequestRecord:
        self.bodies.append(orjson.loads(body))
        record.t_sent = record.t_done = record.t_scheduled
        if record.turn == 2:
            record.status, record.http_status = "http_error", 500
        else:
            record.response_text = f"answer {record.session_id}"
        await anyio.sleep(0)
        return record


@pytest.mark.anyio
async def test_a_failed_turn_ends_its_conversation() -> None:
    prompts = synthetic_prompts(3, 30, 8, turns=4)
    client = TurnFailingClient()
    written: list[RequestRecord] = []
    config = RunnerConfig(run_id="r", prompts=prompts, drop_answers=True)
    runner = LoadRunner(client, config, written.extend)  # type: ignore[arg-type]
    spec = ScheduleSpec(profile="concurrent", concurrency=3, requests=3)
    await runner.run(build_stages(spec, ("m",), len(prompts)))
    assert sorted(r.turn for r in written) == [1, 1, 1, 2, 2, 2]
    assert all(r.response_text is None for r in written)  # dropped from the records
    second = [b for b in client.bodies if len(b["messages"]) == 3]
    assert {b["messages"][1]["content"] for b in second} == {"answer 0", "answer 1", "answer 2"}


def test_shared_prefix_groups_share_exactly_the_system_prompt() -> None:
    prompts = synthetic_prompts(6, 50, 8, shared_prefix_tokens=1500, prefix_groups=2, seed=3)
    o200k = get_tokenizer("o200k_base")
    systems = [p.messages[0] for p in prompts]
    assert {s["role"] for s in systems} == {"system"}
    assert len({s["content"] for s in systems}) == 2
    assert systems[0] == systems[2] == systems[4] != systems[1]
    assert {o200k.chat_tokens(p.messages) for p in prompts} == {1550}
    assert len({p.messages[1]["content"] for p in prompts}) == 6  # unique after the prefix


@pytest.mark.parametrize("encoding", ["o200k_base", "cl100k_base"])
@pytest.mark.parametrize("tokens", [8, 64, 128, 1000, 4096])
def test_synthetic_prompts_measure_the_asked_tokens(encoding: str, tokens: int) -> None:
    prompts = synthetic_prompts(20, tokens, 8, tokenizer=encoding, seed=tokens)
    counts = [get_tokenizer(encoding).chat_tokens(p.messages) for p in prompts]
    assert all(abs(c - tokens) <= 0.01 * tokens for c in counts), counts


def test_synthetic_lengths_follow_a_distribution() -> None:
    spec = parse_length("uniform:100,400", field="input-tokens", floor=1)
    prompts = synthetic_prompts(200, spec, 8, seed=1)
    o200k = get_tokenizer("o200k_base")
    counts = [o200k.chat_tokens(p.messages) for p in prompts]
    assert min(counts) >= 100 and max(counts) <= 400
    assert len(set(counts)) > 100  # drawn, not one length
    followed = synthetic_prompts(50, 64, spec, turns=3, seed=2)
    caps = [f.max_tokens for p in followed for f in p.follow_ups]
    assert len(caps) == 100 and len(set(caps)) > 20 and all(100 <= c <= 400 for c in caps)


@pytest.mark.slow
def test_replay_sends_bodies_unchanged_at_the_recorded_offsets(tmp_path: Path) -> None:
    user = [{"role": "user", "content": c} for c in "abc"]
    lines = [
        {
            "timestamp": 100.0,
            "body": {"model": "gpt-4o", "messages": [user[0]], "max_tokens": 5,
                     "temperature": 0.1, "top_p": 0.9, "user": "u-1"},
        },
        {
            "timestamp": 100.3,
            "body": {"messages": [user[1]], "model": "gpt-4o-mini", "stream": True,
                     "stream_options": {"include_usage": True}, "max_tokens": 7},
        },
        {
            "timestamp": 101.0,
            "body": {"model": "gpt-4o", "messages": [{"role": "system", "content": "s"}, user[2]],
                     "n": 1},
        },
    ]  # fmt: skip
    path = tmp_path / "trace.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(line) for line in lines))
    recorder = Recorder()
    options = _options(
        tmp_path, arms=("recorded", "auto"), replay=read_replay(path), replay_speed=2.0
    )
    result = run_load(options, transport=recorder)
    sent = sorted(recorder.raw, key=lambda raw: orjson.loads(raw)["messages"][-1]["content"])
    expected = []
    for line in lines:
        expected.append(orjson.dumps(line["body"]))  # recorded: byte for byte
        expected.append(orjson.dumps({**line["body"], "model": "auto"}))  # the arm's model in
    assert sorted(sent) == sorted(expected)
    df = read_records(result.run_dir)
    assert len(df) == 6 and set(df["status"]) == {"ok"}
    starts = df.groupby("prompt_id")["t_scheduled"].agg(["min", "max"])
    assert (starts["min"] == starts["max"]).all()  # every arm at the same recorded time
    offsets = sorted(starts["min"] - starts["min"].min())
    assert offsets == pytest.approx([0.0, 0.15, 0.5], abs=1e-6)  # recorded / speed 2
    recorded = df[df["arm"] == "recorded"].set_index("prompt_id")
    assert recorded["model_requested"].to_dict() == {
        "line-1": "gpt-4o",
        "line-2": "gpt-4o-mini",
        "line-3": "gpt-4o",
    }
    assert recorded.loc["line-2", "stream"] and not recorded.loc["line-1", "stream"]


@pytest.mark.slow
def test_a_shared_prefix_is_cached_and_the_summary_prices_the_saving(tmp_path: Path) -> None:
    from auraon_bench.catalog import load_catalog

    options = _options(tmp_path, turns=2, shared_prefix_tokens=1500, output_tokens=20)
    result = run_load(options)
    df = _records(result)
    first = df[df["turn"] == 1].sort_values("t_sent")
    # The first conversation finds the cache cold; its system prompt is then cached (1,408 of
    # its 1,500 tokens: whole 128-token steps from 1,024), and every later turn reads more.
    assert first["cached_tokens"].iloc[0] == 0
    assert (df["cached_tokens"] % 128 == 0).all() and (df["cached_tokens"] >= 0).all()
    assert (df[df["turn"] == 2]["cached_tokens"] >= 1408).all()
    cache = result.summary.arm("gpt-4o-mini").cache
    assert cache is not None and cache.cached_tokens == int(df["cached_tokens"].sum())
    model = load_catalog().models["gpt-4o-mini"]
    discount = model.input_per_mtok - model.cache_read_per_mtok
    assert cache.saved_usd == pytest.approx(cache.cached_tokens * discount / 1e6)
    # The emulator billed exactly that: cached tokens at the cache-read price.
    expected = (
        (df["prompt_tokens"] - df["cached_tokens"]) * model.input_per_mtok
        + df["cached_tokens"] * model.cache_read_per_mtok
        + df["completion_tokens"] * model.output_per_mtok
    ) / 1e6
    assert df["cost_usd"].to_numpy() == pytest.approx(expected.to_numpy())


@pytest.mark.slow
def test_affinity_keeps_conversations_on_one_model_where_auto_moves_them(tmp_path: Path) -> None:
    """The shipped conversations, paired: auto and auto:sticky (auto with affinity, the
    experiment's overlay) play the same 36 conversations; auto moves some between models and
    loses cached prefixes, auto:sticky never switches and reads more from the cache."""
    from auraon_bench.load.target import open_target
    from tests.conftest import ROOT

    dataset = str(ROOT / "datasets" / "conversations.jsonl")
    catalog = str(ROOT / "experiments" / "catalogs" / "auto-sticky.toml")
    options = _options(
        tmp_path,
        arms=("auto", "auto:sticky"),
        datasets=(dataset,),
        turns=5,
        repeat=1,
        shared_prefix_tokens=1500,
        output_tokens=60,
        spec=ScheduleSpec(profile="concurrent", concurrency=8, requests=72),
    )
    with open_target(None, None, time_scale=0, datasets=(dataset,), catalog=catalog) as target:
        result = run_load(options, target=target)
    auto, sticky = (result.summary.arm(a) for a in ("auto", "auto:sticky"))
    assert auto.conversations is not None and sticky.conversations is not None
    assert auto.conversations.conversations == sticky.conversations.conversations == 36
    assert sticky.conversations.switches == 0 < auto.conversations.switches
    assert sticky.conversations.lost_discount_usd == 0 < auto.conversations.lost_discount_usd
    assert auto.cache is not None and sticky.cache is not None
    assert sticky.cache.hit_rate > auto.cache.hit_rate
    df = read_records(result.run_dir)
    reasons = set(df[(df["arm"] == "auto:sticky") & (df["turn"] > 1)]["routing_reason"])
    assert reasons == {"affinity"}


def test_the_turn_limit_is_one_number_everywhere() -> None:
    from auraon_bench.cli.options import MAX_TURNS as FLAG_LIMIT
    from auraon_bench.data.prompts import MAX_TURNS

    assert FLAG_LIMIT == MAX_TURNS == TURN_STRIDE


@pytest.mark.anyio
async def test_one_turn_prompts_among_conversations_share_the_conversations_ids() -> None:
    spec = parse_length("uniform:1,3", field="turns", floor=1)
    prompts = synthetic_prompts(12, 20, 4, turns=spec, seed=5)
    assert {p.turns for p in prompts} == {1, 2, 3}

    class Answering(TurnFailingClient):
        async def chat(self, body: bytes, record: RequestRecord, *, stream: bool) -> RequestRecord:
            record.t_sent = record.t_done = record.t_scheduled
            record.response_text = "fine"
            return record

    written: list[RequestRecord] = []
    config = RunnerConfig(run_id="r", prompts=prompts)
    runner = LoadRunner(Answering(), config, written.extend)  # type: ignore[arg-type]
    spec_run = ScheduleSpec(profile="concurrent", concurrency=4, requests=12)
    await runner.run(build_stages(spec_run, ("m",), len(prompts)))
    ids = [r.request_id for r in written]
    assert len(ids) == len(set(ids)) == sum(p.turns for p in prompts)
    assert all(r.session_id is not None and r.turn is not None for r in written)


@pytest.mark.slow
def test_a_closed_loop_duration_stops_conversations_between_turns(tmp_path: Path) -> None:
    options = _options(
        tmp_path,
        turns=6,
        think_time=0.3,
        spec=ScheduleSpec(profile="concurrent", concurrency=2, duration=0.5),
    )
    df = _records(run_load(options))
    # Nothing leaves after the deadline: the last send is within it (plus the loop's jitter).
    assert df["t_sent"].max() - df["t_sent"].min() < 0.5 + 0.1
    assert df["turn"].max() < 6


def test_dataset_turns_follow_a_distribution() -> None:
    from auraon_bench.data.dataset import load_items
    from auraon_bench.data.prompts import prompts_from_items
    from tests.conftest import ROOT

    items = load_items([str(ROOT / "datasets" / "conversations.jsonl")], None, 0)
    two = prompts_from_items(items, 32, max_turns=2)
    assert {p.turns for p in two} == {2}
    drawn = prompts_from_items(items, 32, max_turns=parse_length("uniform:1,3", field="t"))
    assert {p.turns for p in drawn} == {1, 2, 3}


def test_long_texts_are_counted_in_pieces() -> None:
    o200k = get_tokenizer("o200k_base")
    assert o200k.count(" word" * 400_000) == 400_000  # 2 million characters, one piece refused
    assert o200k.chat_tokens([{"role": "user", "content": 42}]) == 3 + 3 + 1 + 1
