"""A raw-socket HTTP server for tests: each connection gets the next scripted behaviour.

Lets tests produce what a well-behaved server never does: an HTML 500, a non-JSON 200, a reset,
a stall, a cut stream. It listens on a free loopback port and is stopped by the test.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from collections.abc import Awaitable, Callable, Iterator, Sequence

import orjson

Behaviour = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def content_length(head: bytes) -> int:
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":")[1])
    return 0


async def read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = content_length(head)
    return await reader.readexactly(length) if length else b""


def reply(raw: bytes) -> Behaviour:
    async def behave(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(raw)
        await writer.drain()
        writer.close()

    return behave


def http(status: str, body: bytes, content_type: str = "application/json") -> Behaviour:
    return reply(
        f"HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: "
        f"{len(body)}\r\nconnection: close\r\n\r\n".encode()
        + body
    )


def reset_after_request() -> Behaviour:
    async def behave(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        sock = writer.get_extra_info("socket")
        # SO_LINGER with a zero timeout makes close() send RST instead of FIN.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

    return behave


def stall(seconds: float, first: bytes = b"") -> Behaviour:
    async def behave(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(first)
        await writer.drain()
        await asyncio.sleep(seconds)
        writer.close()

    return behave


SSE_HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n"


def chunk(n: int, text: str = "hi") -> bytes:
    payload = orjson.dumps(
        {
            "id": "c",
            "model": "gpt-4o",
            "choices": [{"index": 0, "delta": {"content": f"{text}{n}"}}],
        }
    )
    return b"data: " + payload + b"\n\n"


def sse(events: Sequence[bytes], *, done: bool = True, stall_s: float = 0.0) -> Behaviour:
    """A streamed answer, body delimited by the connection's close; ``stall_s`` of silence
    after the events (a stream stalled mid-way when the client's read timeout is shorter)."""
    body = SSE_HEAD + b"".join(events) + (b"data: [DONE]\n\n" if done else b"")

    async def behave(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(body)
        await writer.drain()
        if stall_s:
            await asyncio.sleep(stall_s)
        writer.close()

    return behave


def endless(piece: bytes = b": padding " + b"x" * (1 << 20) + b"\n") -> Behaviour:
    """A 200 stream that never ends: the client must stop reading at its size limit."""

    async def behave(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(SSE_HEAD)
        for _ in range(100_000):  # bounded: ~100 GB, far past any client limit
            writer.write(piece)
            await writer.drain()
        writer.close()

    return behave


MODELS = b'{"object": "list", "data": [{"id": "gpt-4o", "object": "model"}]}'


class ScriptedServer:
    """``answer_models``: GET requests for ``/models`` are answered without using up a
    behaviour (a load run's preflight check)."""

    def __init__(self, behaviours: Sequence[Behaviour], *, answer_models: bool = False) -> None:
        self.behaviours = list(behaviours)
        self.answer_models = answer_models
        self.server: asyncio.base_events.Server | None = None
        self.port = 0

    async def __aenter__(self) -> ScriptedServer:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            if self.answer_models:
                head = await reader.readuntil(b"\r\n\r\n")
                request = head + await reader.readexactly(content_length(head))
                if head.startswith(b"GET ") and b"/models" in head.split(b"\r\n")[0]:
                    await http("200 OK", MODELS)(_replayed(request), writer)
                    return
                reader = _replayed(request)
            behaviour = self.behaviours.pop(0) if self.behaviours else http("500 X", b"over")
            await behaviour(reader, writer)


def _replayed(request: bytes) -> asyncio.StreamReader:
    """A reader that yields an already-read request again, for a behaviour to read."""
    replay = asyncio.StreamReader()
    replay.feed_data(request)
    replay.feed_eof()
    return replay


@contextlib.contextmanager
def serving_in_thread(server: ScriptedServer) -> Iterator[ScriptedServer]:
    """Run ``server`` on its own event loop in a thread, for blocking code under test."""
    loop = asyncio.new_event_loop()
    started = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(server.__aenter__())
        started.set()
        loop.run_forever()
        loop.run_until_complete(server.__aexit__(None, None, None))
        loop.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    started.wait(10)
    try:
        yield server
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
