"""Request ids: the client's own x-request-id on every attempt, the gateway's id header and the
response's id, kept in every record so an attempt can be joined with the gateway's logs."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from auraon_bench.cli.main import cli
from auraon_bench.client.http import MeasuringClient, gateway_request_id
from auraon_bench.client.wire import chat_body
from auraon_bench.results.reader import read_records
from auraon_bench.results.schema import RequestRecord
from tests.scripted_server import ScriptedServer

HI = [{"role": "user", "content": "Say hi."}]


def test_the_gateways_id_is_the_first_known_header() -> None:
    assert gateway_request_id({"cf-ray": "ray", "request-id": "anthropic"}) == "anthropic"
    assert gateway_request_id({"x-litellm-call-id": "call", "cf-ray": "ray"}) == "call"
    assert gateway_request_id({"x-request-id": "req", "x-litellm-call-id": "c"}) == "req"
    assert gateway_request_id({"x-request-id": "", "cf-ray": "ray"}) == "ray"
    assert gateway_request_id({"content-type": "application/json"}) is None


def _answer_with_ids(seen: list[dict[str, str]]):
    body = orjson.dumps({
        "id": "chatcmpl-join-me",
        "object": "chat.completion",
        "model": "gpt-4o",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
    })  # fmt: skip

    async def behave(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode().split("\r\n")[1:]
        seen.append({k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines)
                     if k})  # fmt: skip
        length = int(seen[-1].get("content-length", "0"))
        if length:
            await reader.readexactly(length)
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
            b"x-litellm-call-id: litellm-42\r\n"
            + f"content-length: {len(body)}\r\nconnection: close\r\n\r\n".encode()
            + body
        )
        await writer.drain()
        writer.close()

    return behave


@pytest.mark.anyio
async def test_the_client_sends_its_own_id_and_keeps_the_gateways() -> None:
    """Bytes on the wire: the x-request-id the server received is the one recorded; the
    server's id header and the body's id are kept beside it."""
    seen: list[dict[str, str]] = []
    async with ScriptedServer([_answer_with_ids(seen), _answer_with_ids(seen)]) as server:
        async with MeasuringClient(server.base_url, "key") as client:
            records = []
            for _ in range(2):
                record = RequestRecord(run_id="t", arm="gpt-4o", status="ok")
                body = chat_body("gpt-4o", HI, stream=False, max_tokens=4)
                records.append(await client.chat(body, record, stream=False))
    for record, request in zip(records, seen, strict=True):
        assert record.status == "ok", record.error_message
        assert record.client_request_id == request["x-request-id"]
        assert uuid.UUID(record.client_request_id).version == 4
        assert record.gateway_request_id == "litellm-42"
        assert record.response_id == "chatcmpl-join-me"
    assert records[0].client_request_id != records[1].client_request_id


@pytest.mark.slow
def test_every_record_of_a_run_carries_the_three_ids(tmp_path: Path, emulator) -> None:
    """On the emulator, streamed and not: ids in the Parquet records, unique per attempt."""
    for stream in ("--stream", "--no-stream"):
        out = tmp_path / stream.strip("-")
        result = CliRunner().invoke(
            cli,
            ["load", "--base-url", emulator.base_url, "--api-key", "br-demo-pro", "--model",
             "gpt-4o-mini", "--requests", "12", "--rate", "200", "--output-tokens", "4", stream,
             "--yes", "--out", str(out)],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        records = read_records(out)
        assert len(records) == 12 and (records["status"] == "ok").all()
        assert records["client_request_id"].nunique() == 12
        assert records["gateway_request_id"].str.startswith("req_").all()
        assert records["gateway_request_id"].nunique() == 12
        assert records["response_id"].str.startswith("chatcmpl").all()


def test_an_older_file_reads_the_ids_as_null(tmp_path: Path) -> None:
    """A run written before the ids existed still reads: the columns come back null."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from auraon_bench.results.schema import REQUEST_SCHEMA

    old = pa.schema([f for f in REQUEST_SCHEMA if not f.name.endswith(("request_id", "response_id"))
                     or f.name == "request_id"], metadata=REQUEST_SCHEMA.metadata)  # fmt: skip
    table = pa.table({f.name: pa.nulls(1, f.type) for f in old}, schema=old.with_metadata(None))
    table = table.set_column(0, "run_id", pa.array(["old"]))
    table = table.set_column(1, "arm", pa.array(["gpt-4o"]))
    table = table.set_column(old.get_field_index("status"), "status", pa.array(["ok"]))
    (tmp_path / "run").mkdir()
    pq.write_table(table.replace_schema_metadata(REQUEST_SCHEMA.metadata),
                   tmp_path / "run" / "requests.parquet")  # fmt: skip
    records = read_records(tmp_path / "run")
    assert records["client_request_id"].isna().all() and records["response_id"].isna().all()
    assert "gateway_request_id" in records.columns
