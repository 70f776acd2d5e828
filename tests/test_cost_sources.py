"""Where each attempt's cost comes from, said truthfully: ``blockrun``, ``auraon``, ``litellm``
(header or ``usage.cost``, streamed or not), ``openrouter``, ``price_table``, ``none``.

LiteLLM 1.108's shapes are the measured ones (tests/litellm_proxy.py): a whole answer carries
``x-litellm-response-cost``; a stream's headers leave before the cost is known, so it carries
``x-litellm-response-cost-original: 0.0`` and the cost rides in the last chunk's ``usage.cost``;
an unpriced model gets neither.
"""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from auraon_bench.cli.main import cli
from auraon_bench.client.http import MeasuringClient
from auraon_bench.client.wire import chat_body, extract_metadata
from auraon_bench.prices.table import PriceTable
from auraon_bench.report.methods import cost_sentence, merge_counts
from auraon_bench.results.reader import read_records
from auraon_bench.results.schema import COST_SOURCES, RequestRecord
from tests.litellm_proxy import LiteLLMProxy
from tests.scripted_server import ScriptedServer, reply

LITELLM_STREAM_HEADERS = {
    "x-litellm-version": "1.108.7",
    "x-litellm-model-name": "openai/gpt-4o-mini",
    "x-litellm-model-group": "fast-mock",
    "x-litellm-response-cost-original": "0.0",
    "x-litellm-attempted-fallbacks": "0",
    "x-litellm-response-duration-ms": "14.3",
}
LAST_CHUNK = {
    "model": "fast-mock",
    "choices": [{"index": 0, "delta": {}}],
    "usage": {"prompt_tokens": 86, "completion_tokens": 7, "cost": 0.0000171},
}


def test_a_litellm_stream_is_litellm_not_openrouter() -> None:
    meta = extract_metadata(LAST_CHUNK, LITELLM_STREAM_HEADERS)
    assert (meta.cost_source, meta.cost_usd) == ("litellm", 0.0000171)
    assert meta.routed_to == "fast-mock" and meta.billed_model == "openai/gpt-4o-mini"
    assert meta.server_latency_ms == pytest.approx(14.3) and meta.routing_reason is None


def test_a_whole_litellm_answer_takes_the_cost_header() -> None:
    headers = {**LITELLM_STREAM_HEADERS, "x-litellm-response-cost": "1.35e-05"}
    headers["x-litellm-attempted-fallbacks"] = "1"
    meta = extract_metadata({"model": "gpt-4o-mini", "usage": {"prompt_tokens": 10}}, headers)
    assert (meta.cost_source, meta.cost_usd) == ("litellm", 1.35e-05)
    assert meta.routing_reason == "fallbacks:1"


def test_an_unpriced_litellm_answer_has_no_cost_not_the_original_zero() -> None:
    # "-original: 0.0" is not a cost: LiteLLM sends it for models it cannot price.
    body = {"model": "unpriced-mock", "usage": {"prompt_tokens": 86, "completion_tokens": 5}}
    meta = extract_metadata(body, LITELLM_STREAM_HEADERS)
    assert (meta.cost_source, meta.cost_usd) == ("none", None)


def test_usage_cost_without_litellm_headers_is_openrouter() -> None:
    body = {"model": "anthropic/claude-sonnet-4", "provider": "Anthropic", "usage": {"cost": 2e-4}}
    meta = extract_metadata(body, {"content-type": "text/event-stream"})
    assert (meta.cost_source, meta.cost_usd, meta.routing_reason) == (
        "openrouter",
        2e-4,
        "Anthropic",
    )


def test_the_gateways_own_object_wins_over_everything() -> None:
    body = {"blockrun": {"routed_to": "gpt-4o", "cost_usd": 0.001}, "usage": {"cost": 9.0}}
    meta = extract_metadata(body, LITELLM_STREAM_HEADERS)
    assert (meta.cost_source, meta.cost_usd) == ("blockrun", 0.001)


def litellm_answer(headers: dict[str, str], body: bytes, content_type: str):
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return reply(
        f"HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\n{head}content-length: {len(body)}"
        "\r\nconnection: close\r\n\r\n".encode()
        + body
    )


def stream_body(last: dict) -> bytes:
    first = {"model": "m", "choices": [{"index": 0, "delta": {"content": "hi"}}]}
    events = [first, last]
    return b"".join(b"data: " + orjson.dumps(e) + b"\n\n" for e in events) + b"data: [DONE]\n\n"


async def send(server: ScriptedServer, prices: PriceTable, *, stream: bool) -> RequestRecord:
    record = RequestRecord(run_id="t", arm="fast-mock", status="ok", model_requested="fast-mock")
    body = chat_body("fast-mock", [{"role": "user", "content": "hi"}], stream=stream)
    async with MeasuringClient(server.base_url, prices=prices) as client:
        return await client.chat(body, record, stream=stream)


@pytest.mark.anyio
async def test_the_client_labels_a_litellm_stream_and_prices_nothing_it_does_not_know() -> None:
    unpriced_last = {**LAST_CHUNK, "usage": {"prompt_tokens": 86, "completion_tokens": 5}}
    answers = [
        litellm_answer(LITELLM_STREAM_HEADERS, stream_body(LAST_CHUNK), "text/event-stream"),
        litellm_answer(
            {**LITELLM_STREAM_HEADERS, "x-litellm-model-name": "openai/house-model"},
            stream_body(unpriced_last),
            "text/event-stream",
        ),
    ]
    async with ScriptedServer(answers) as server:
        priced = await send(server, PriceTable.builtin(), stream=True)
        unpriced = await send(server, PriceTable.builtin(), stream=True)
    assert (priced.status, priced.cost_source, priced.cost_usd) == ("ok", "litellm", 0.0000171)
    assert (unpriced.status, unpriced.cost_source, unpriced.cost_usd) == ("ok", "none", None)


@pytest.mark.anyio
async def test_no_reported_cost_is_priced_by_the_billed_model_with_cached_tokens() -> None:
    # LiteLLM without a cost for a model genai-prices knows under its deployment name.
    body = orjson.dumps(
        {
            "model": "fast-mock",
            "choices": [{"index": 0, "message": {"content": "hi"}, "finish_reason": "stop"}],
            "usage": {
                "prompt_tokens": 1000,
                "completion_tokens": 100,
                "prompt_tokens_details": {"cached_tokens": 400},
            },
        }
    )
    async with ScriptedServer(
        [litellm_answer(LITELLM_STREAM_HEADERS, body, "application/json")]
    ) as server:
        record = await send(server, PriceTable.builtin(), stream=False)
    assert record.cost_source == "price_table"
    assert record.cost_usd == pytest.approx((600 * 0.15 + 400 * 0.075 + 100 * 0.6) / 1e6)
    assert record.cost_source in COST_SOURCES


def test_the_method_sentence_names_the_sources_seen_with_counts() -> None:
    counts = merge_counts([{"litellm": 12, "none": 3}, {"litellm": 6, "price_table": 2}])
    assert counts == {"litellm": 18, "none": 3, "price_table": 2}
    text = cost_sentence(counts, ["genai-prices 0.2.3"])
    assert text.startswith("Cost source of the 23 attempts: 18 from LiteLLM's own figure")
    assert "2 computed from the answer's token usage and genai-prices 0.2.3" in text
    assert "3 without a cost" in text and "not counted as $0" in text
    assert "blockrun" not in text and "OpenRouter" not in text  # only what was seen
    assert cost_sentence({"blockrun": 5}) == (
        "Cost source of the 5 attempts: all from the gateway's own figure (Auraon's "
        "blockrun.cost_usd)."
    )
    assert "source not recorded" in cost_sentence({"price_table": 1})
    assert cost_sentence({"none": 0}) == "Cost: no attempt was recorded, so no cost was measured."


# --- against a real LiteLLM proxy ---------------------------------------------------------
@pytest.mark.litellm
@pytest.mark.parametrize("stream", ["--stream", "--no-stream"])
def test_litellm_cost_is_labelled_and_a_prices_file_prices_its_unpriced_model(
    litellm_proxy: LiteLLMProxy, tmp_path: Path, stream: str
) -> None:
    prices = tmp_path / "prices.toml"
    prices.write_text('[models."openai/house-model-without-a-price"]\ninput = 1.0\noutput = 2.0\n')
    out = tmp_path / "run"
    result = CliRunner().invoke(
        cli,
        [
            "load", "--base-url", litellm_proxy.base_url, "--api-key", litellm_proxy.api_key,
            "--model", "fast-mock", "--model", "unpriced-mock", "--requests", "8",
            "--concurrency", "2", "--prices", str(prices), stream, "--yes", "--out", str(out),
        ],
    )  # fmt: skip
    assert "Traceback" not in result.output, result.output
    df = read_records(out)
    fast, unpriced = df[df["arm"] == "fast-mock"], df[df["arm"] == "unpriced-mock"]
    columns = ["status", "http_status", "error_type", "cost_source", "cost_usd"]
    assert (fast["cost_source"] == "litellm").all(), fast[columns].to_string()
    assert (fast["cost_usd"] > 0).all(), fast[columns].to_string()
    # LiteLLM cannot price it; the file can, under the deployment's name LiteLLM reports.
    assert (unpriced["cost_source"] == "price_table").all()
    expected = (unpriced["prompt_tokens"] * 1.0 + unpriced["completion_tokens"] * 2.0) / 1e6
    assert unpriced["cost_usd"].to_numpy() == pytest.approx(expected.to_numpy())
    manifest = json.loads((out / "manifest.json").read_text())
    assert str(prices) in manifest["cost"]["price_table"]["source"]
    summary = json.loads((out / "summary.json").read_text())
    sources = summary["overall"]["cost"]["cost_sources"]
    assert sources == {"litellm": 4, "price_table": 4}


def test_older_files_missing_source_counts_as_none() -> None:
    from auraon_bench.report.methods import cost_sentence, merge_counts

    counts = merge_counts([{"blockrun": 3, "missing": 1}, {"none": 1}])
    assert counts == {"blockrun": 3, "none": 2}
    assert "2 without a cost" in cost_sentence(counts) and "missing" not in cost_sentence(counts)
