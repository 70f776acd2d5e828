"""Abuse of a real emulator over raw sockets: oversized bodies and headers, malformed HTTP, slow
and idle clients, a key hammered at its limit. Whatever a client does, the others keep being
served, errors are 4xx (never 5xx), and the process stays up.

Already covered elsewhere and not repeated here: fuzzed JSON bodies and header values
(test_fuzz.py), a 413 through httpx and 404/405 routes (test_emulator_http.py), the loopback-only
bind rule (EmulatorConfig.validate).

Parser-level rejections (bad request line, bad Content-Length, oversized or too many headers,
broken chunk framing) are answered by aiohttp's HTTP parser before any application code runs,
with a text/plain 400 and a closed connection. aiohttp has no public hook for them (aio-libs
issues #3287 and #9882; only a subclass of its private server plumbing could reach them), so they
are asserted as what they are: a 4xx and a close, never a 5xx. No OpenAI SDK sends such bytes.
Everything that reaches the application leaves in OpenAI's JSON error shape.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import socket
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass

import httpx
import orjson
import pytest

from auraon_bench.emulator.launcher import EmulatorProcess
from auraon_bench.emulator.server import EmulatorConfig, serve
from auraon_bench.errors import ConfigError
from tests.conftest import FIXTURES

MAX_BODY = 1024 * 1024  # the module emulator runs with --max-body-mb 1
PRO = "br-demo-pro"
AUTH = f"Authorization: Bearer {PRO}\r\n".encode()
CHAT = b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n" + AUTH
HI = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Say hi."}], "max_tokens": 3}
IDLE_CONNECTIONS = 2000
SLOW_CLIENTS = 200
SOCKET_TIMEOUT = 5.0


def raise_fd_limit(wanted: int) -> int:
    """Raise the soft limit of open files towards ``wanted`` (children inherit it); the result."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorProcess]:
    """One emulator for every abuse here, so the last test can check it survived all of it."""
    raise_fd_limit(IDLE_CONNECTIONS * 2 + 1024)  # before the start: the child inherits it
    with EmulatorProcess(time_scale=0.01, seed=11, extra_args=["--max-body-mb", "1"]) as process:
        yield process


# ---- raw HTTP helpers ---------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def port_of(emu: EmulatorProcess) -> int:
    return int(emu.url.rsplit(":", 1)[1])


def connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=SOCKET_TIMEOUT)
    sock.settimeout(SOCKET_TIMEOUT)
    return sock


def read_answer(sock: socket.socket) -> Answer | None:
    """One response (interim 100s skipped), or None when the server closed without answering."""
    buf = b""
    while True:
        while b"\r\n\r\n" not in buf:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                assert not buf, f"connection closed mid-response: {buf[:200]!r}"
                return None
            buf += chunk
        head, _, buf = buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        if status != 100:
            break
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(buf) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed mid-body"
        buf += chunk
    return Answer(status, headers, buf[:length])


def closed_by_server(sock: socket.socket) -> bool:
    """True when the server closes the connection within the socket timeout."""
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def is_json(answer: Answer) -> bool:
    return answer.headers.get("content-type", "").startswith("application/json")


def exchange(
    port: int, data: bytes, *, half_close: bool = False
) -> tuple[Answer | None, bool | None]:
    """Send raw bytes and read one answer. Unless the answer is the application's (JSON, maybe
    kept alive), also report whether the server then closed the connection (None: not checked)."""
    with connect(port) as sock:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(data)
            if half_close:
                sock.shutdown(socket.SHUT_WR)
        answer = read_answer(sock)
        if answer is not None and is_json(answer):
            return answer, None
        return answer, answer is None or closed_by_server(sock)


def assert_openai_error(answer: Answer) -> dict:
    assert answer.headers["content-type"].startswith("application/json"), answer
    error = orjson.loads(answer.body)["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert isinstance(error["message"], str) and error["message"]
    return error


def assert_client_error(answer: Answer | None, closed: bool | None) -> None:
    """A 4xx (or a bare close), never a 5xx; JSON in OpenAI's shape unless aiohttp's parser
    refused the request, which it always does with text/plain and a closed connection."""
    if answer is None:
        assert closed
        return
    assert 400 <= answer.status < 500, answer
    if is_json(answer):
        assert_openai_error(answer)
    else:
        assert answer.headers["content-type"].startswith("text/plain"), answer
        assert closed, "a parser-level refusal must close the connection"


def assert_serves(emu: EmulatorProcess) -> None:
    """The emulator is alive and answers a normal chat completion from a fresh client."""
    assert emu.alive()
    response = httpx.post(
        f"{emu.base_url}/chat/completions",
        json=HI,
        headers={"Authorization": f"Bearer {PRO}"},
        timeout=SOCKET_TIMEOUT,
    )
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["role"] == "assistant"


def chat_body(size: int) -> bytes:
    """A valid chat request of exactly ``size`` bytes (JSON allows trailing whitespace)."""
    body = orjson.dumps(HI)
    return body + b" " * (size - len(body))


def post_chat(body: bytes, extra: bytes = b"") -> bytes:
    return (
        CHAT
        + b"Content-Type: application/json\r\n"
        + extra
        + b"Content-Length: %d\r\n\r\n" % len(body)
        + body
    )


# ---- 1. body size ------------------------------------------------------------------------------


def test_body_at_the_limit_is_served_and_one_byte_over_is_413(emu) -> None:
    port = port_of(emu)
    answer, _ = exchange(port, post_chat(chat_body(MAX_BODY)))
    assert answer is not None and answer.status == 200, answer
    answer, _ = exchange(port, post_chat(chat_body(MAX_BODY + 1)))
    assert answer is not None and answer.status == 413
    assert assert_openai_error(answer)["type"] == "invalid_request_error"
    assert_serves(emu)


def test_oversized_declared_body_is_refused_before_it_is_sent(emu) -> None:
    # 10 GB announced, 64 KB sent: the 413 must come from the headers, not after reading 10 GB.
    head = CHAT + b"Content-Type: application/json\r\nContent-Length: 10000000000\r\n\r\n"
    with connect(port_of(emu)) as sock:
        sock.sendall(head + b"{" + b" " * 65535)
        answer = read_answer(sock)
    assert answer is not None and answer.status == 413
    assert_openai_error(answer)
    assert_serves(emu)


def test_oversized_chunked_body_is_413(emu) -> None:
    # No Content-Length to refuse on: the limit must hold while the body streams in.
    piece = b" " * 65536
    with connect(port_of(emu)) as sock:
        sock.sendall(CHAT + b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            for _ in range(MAX_BODY // len(piece) + 2):
                sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
            sock.sendall(b"0\r\n\r\n")
        answer = read_answer(sock)
    assert answer is not None and answer.status == 413
    assert_openai_error(answer)
    assert_serves(emu)


# ---- 2. header size ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "request_bytes",
    [
        pytest.param(
            b"GET /v1/models HTTP/1.1\r\nHost: x\r\n"
            + AUTH
            + b"X-Big: "
            + b"a" * 100_000
            + b"\r\n\r\n",
            id="100KB-header-value",
        ),
        pytest.param(
            b"GET /v1/models HTTP/1.1\r\nHost: x\r\n"
            + AUTH
            + b"".join(b"X-H%d: v\r\n" % i for i in range(1000))
            + b"\r\n",
            id="1000-headers",
        ),
        pytest.param(
            b"GET /v1/models?q=" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n" + AUTH + b"\r\n",
            id="100KB-request-line",
        ),
        pytest.param(
            b"GET /v1/models HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
            + b"k" * 100_000
            + b"\r\n\r\n",
            id="100KB-authorization",
        ),
    ],
)
def test_oversized_headers_are_4xx_and_close(emu, request_bytes: bytes) -> None:
    answer, closed = exchange(port_of(emu), request_bytes)
    assert answer is not None and answer.status in (400, 431), answer
    assert_client_error(answer, closed)
    assert_serves(emu)


def test_large_but_legal_headers_are_served(emu) -> None:
    # Just under aiohttp's 8190-byte line limit, and 100 headers (its limit is 128).
    headers = b"X-Big: " + b"a" * 8000 + b"\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(100))
    answer, _ = exchange(
        port_of(emu), b"GET /v1/models HTTP/1.1\r\nHost: x\r\n" + AUTH + headers + b"\r\n"
    )
    assert answer is not None and answer.status == 200
    assert orjson.loads(answer.body)["object"] == "list"


# ---- 3. malformed HTTP -------------------------------------------------------------------------

MALFORMED = {
    "tls-client-hello": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64,
    "garbage-request-line": b"HELLO THERE\r\n\r\n",
    "no-version": b"GET /v1/models\r\n\r\n",
    "bad-version": b"GET /v1/models HTTP/9.9\r\nHost: x\r\n\r\n",
    "not-http": b"GET /v1/models HTTX/1.1\r\nHost: x\r\n\r\n",
    "http2-preface": b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    "bad-method": b"G@T /v1/models HTTP/1.1\r\nHost: x\r\n\r\n",
    "non-ascii-path": "GET /v1/models/é HTTP/1.1\r\nHost: x\r\n\r\n".encode(),
    "header-without-colon": b"GET /v1/models HTTP/1.1\r\nHost x\r\n\r\n",
    "nul-in-header": b"GET /v1/models HTTP/1.1\r\nHost: x\x00y\r\n\r\n",
    "obs-fold": b"GET /v1/models HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n",
    "bare-lf": b"GET /v1/models HTTP/1.1\nHost: x\n\n",
    "negative-content-length": CHAT + b"Content-Length: -5\r\n\r\n{}",
    "non-numeric-content-length": CHAT + b"Content-Length: abc\r\n\r\n{}",
    "huge-content-length": CHAT + b"Content-Length: 99999999999999999999999\r\n\r\n{}",
    "two-content-lengths": CHAT + b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
    "chunked-and-length": CHAT
    + b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
    "unknown-transfer-encoding": CHAT + b"Transfer-Encoding: gzip\r\n\r\n{}",
    "chunk-size-garbage": CHAT + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
    "chunk-size-overflow": CHAT + b"Transfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFFFF\r\nx",
    "chunk-missing-crlf": CHAT + b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}XX0\r\n\r\n",
    # These reach the application, so their answers must be OpenAI-shaped JSON (see below).
    "bad-gzip-body": post_chat(b"not gzip at all", b"Content-Encoding: gzip\r\n"),
    "bad-deflate-body": post_chat(b"not deflate", b"Content-Encoding: deflate\r\n"),
    "unknown-expect": post_chat(b"{}", b"Expect: 999-weird\r\n"),
}
APP_LEVEL = {"bad-gzip-body", "bad-deflate-body", "unknown-expect"}


@pytest.mark.parametrize("name", list(MALFORMED))
def test_malformed_http_is_4xx_never_5xx(emu, name: str) -> None:
    answer, closed = exchange(port_of(emu), MALFORMED[name])
    assert_client_error(answer, closed)
    if name in APP_LEVEL:
        assert answer is not None
        error = assert_openai_error(answer)
        assert answer.status == (417 if name == "unknown-expect" else 400)
        assert error["type"] == "invalid_request_error"
    assert_serves(emu)


def test_expect_100_continue_still_works(emu) -> None:
    answer, _ = exchange(port_of(emu), post_chat(orjson.dumps(HI), b"Expect: 100-continue\r\n"))
    assert answer is not None and answer.status == 200
    assert orjson.loads(answer.body)["object"] == "chat.completion"


def test_body_shorter_than_content_length_then_close(emu) -> None:
    head = CHAT + b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
    answer, closed = exchange(port_of(emu), head + b'{"model"', half_close=True)
    assert closed
    assert_client_error(answer, closed)
    assert_serves(emu)


def test_garbage_on_a_kept_alive_connection(emu) -> None:
    # Sent in the same segment as the good request, the garbage would make aiohttp's parser
    # refuse the whole batch, the good request included: a 400 and a close, asserted above.
    good = b"GET /v1/models HTTP/1.1\r\nHost: x\r\n" + AUTH + b"\r\n"
    with connect(port_of(emu)) as sock:
        sock.sendall(good)
        first = read_answer(sock)
        assert first is not None and first.status == 200
        sock.sendall(b"\x00\xff garbage \r\n\r\n")
        second = read_answer(sock)
        assert_client_error(second, second is None or closed_by_server(sock))
    assert_serves(emu)


# ---- 4. slow clients ---------------------------------------------------------------------------


async def stream_once(base_url: str, request: dict | None = None) -> tuple[float, list[str]]:
    """One streaming chat completion from a fresh client: seconds taken and its data lines."""
    start = time.monotonic()
    async with (
        httpx.AsyncClient(timeout=SOCKET_TIMEOUT) as client,
        client.stream(
            "POST",
            f"{base_url}/chat/completions",
            json=request or {**HI, "stream": True, "max_tokens": 20},
            headers={"Authorization": f"Bearer {PRO}"},
        ) as response,
    ):
        assert response.status_code == 200
        lines = [line[6:] async for line in response.aiter_lines() if line.startswith("data: ")]
    return time.monotonic() - start, lines


@pytest.mark.slow
def test_slowloris_does_not_starve_others(emu) -> None:
    """200 clients trickle a request head one byte a second for 4 s; meanwhile a normal client
    gets a whole streamed answer at once, and the slow clients get theirs when their heads end."""
    port = port_of(emu)

    async def main() -> tuple[float, list[str], list[bytes]]:
        conns = [await asyncio.open_connection("127.0.0.1", port) for _ in range(SLOW_CLIENTS)]
        try:
            for _, writer in conns:
                writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\n")
            normal: asyncio.Task | None = None
            for i, byte in enumerate(b"X-Sl"):
                for _, writer in conns:
                    writer.write(bytes([byte]))
                    await writer.drain()
                if i == 1:  # every slow head is open and incomplete by now
                    normal = asyncio.create_task(stream_once(emu.base_url))
                await asyncio.sleep(1.0)
            assert normal is not None
            took, lines = await normal
            for _, writer in conns:
                writer.write(b"ow: yes\r\n\r\n")
            heads = [
                await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), SOCKET_TIMEOUT)
                for reader, _ in conns
            ]
            return took, lines, heads
        finally:
            for _, writer in conns:
                writer.close()

    took, lines, heads = asyncio.run(asyncio.wait_for(main(), 20))
    assert lines[-1] == "[DONE]"
    assert orjson.loads(lines[0])["object"] == "chat.completion.chunk"
    assert took < 5.0, f"a normal streaming request took {took:.2f}s under slowloris"
    assert all(head.startswith(b"HTTP/1.1 200") for head in heads)
    assert_serves(emu)


async def _with_server(config: EmulatorConfig, body: Callable[[int], Awaitable[None]]) -> None:
    """Run the emulator in this event loop (the client timeout is not a CLI option) and call
    ``body(port)`` against it."""
    stop = asyncio.Event()
    ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    server = asyncio.create_task(serve(config, ready=ready.set_result, stop=stop))
    try:
        url = await asyncio.wait_for(ready, 10)
        await body(int(url.rsplit(":", 1)[1]))
    finally:
        stop.set()
        await asyncio.wait_for(server, 10)


async def closed_within(reader: asyncio.StreamReader, seconds: float) -> bool:
    try:
        return await asyncio.wait_for(reader.read(), seconds) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


@pytest.mark.slow
def test_client_timeout_closes_slow_heads_and_idle_sockets_but_not_slow_answers() -> None:
    """With a 1 s client timeout: a head that trickles in, an idle socket and a stalled body are
    all cut off within a few seconds, while a streamed answer that takes longer is not."""
    config = EmulatorConfig(port=0, seed=5, time_scale=1.0, client_timeout=1.0)
    long_stream = {**HI, "stream": True, "max_tokens": 90, "min_tokens": 90}

    async def body(port: int) -> None:
        async def open_() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
            return await asyncio.open_connection("127.0.0.1", port)

        slow_reader, slow_writer = await open_()
        idle_reader, idle_writer = await open_()
        stall_reader, stall_writer = await open_()
        slow_writer.write(b"GET /health HTTP/1.1\r\n")
        stall_writer.write(CHAT + b"Content-Length: 100\r\n\r\n{")

        async def trickle() -> None:
            for byte in b"X-Slow: abcdefghijklmnop":
                with contextlib.suppress(ConnectionError):
                    slow_writer.write(bytes([byte]))
                    await slow_writer.drain()
                await asyncio.sleep(0.2)

        trickling = asyncio.create_task(trickle())
        streaming = asyncio.create_task(stream_once(f"http://127.0.0.1:{port}/v1", long_stream))
        try:
            assert await closed_within(slow_reader, 4.0), "a trickling head was never cut off"
            assert await closed_within(idle_reader, 4.0), "an idle connection was never closed"
            stalled = await asyncio.wait_for(stall_reader.readuntil(b"\r\n\r\n"), 4.0)
            length = int(stalled.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            stalled_body = await asyncio.wait_for(stall_reader.readexactly(length), 4.0)
            # The rest of the body, late: aiohttp drains it, then honours "Connection: close".
            stall_writer.write(b" " * 99)
            assert await closed_within(stall_reader, 4.0), "a 408 must close the connection"
            took, lines = await streaming
        finally:
            trickling.cancel()
            for writer in (slow_writer, idle_writer, stall_writer):
                writer.close()
        assert stalled.startswith(b"HTTP/1.1 408"), stalled
        assert b"\r\nconnection: close\r\n" in stalled.lower()
        error = orjson.loads(stalled_body)["error"]
        assert set(error) == {"message", "type", "param", "code"}
        assert error["code"] == "request_timeout"
        assert took > 1.0, "the answer must outlast the client timeout to prove anything"
        assert lines[-1] == "[DONE]"

    asyncio.run(asyncio.wait_for(_with_server(config, body), 20))
    with pytest.raises(ConfigError, match="> 0"):
        EmulatorConfig(client_timeout=0).validate()


# ---- 5. thousands of idle connections ----------------------------------------------------------


def test_thousands_of_idle_connections(emu) -> None:
    soft = raise_fd_limit(IDLE_CONNECTIONS * 2 + 1024)
    count = min(IDLE_CONNECTIONS, soft - 256)  # headroom for everything else this process has open
    assert count >= 1000, f"open-files limit {soft} too low to hold even 1000 idle connections"
    port = port_of(emu)
    idle: list[socket.socket] = []
    try:
        deadline = time.monotonic() + 15
        while len(idle) < count and time.monotonic() < deadline:
            idle.append(connect(port))
        assert len(idle) == count
        assert_serves(emu)
        # Every 100th idle socket (the last-opened one too) was accepted and is served in turn.
        probe = b"GET /v1/models HTTP/1.1\r\nHost: x\r\n" + AUTH + b"\r\n"
        for sock in [*idle[::100], idle[-1]]:
            sock.sendall(probe)
            answer = read_answer(sock)
            assert answer is not None and answer.status == 200
    finally:
        for sock in idle:
            sock.close()
    assert_serves(emu)


# ---- 6. one key at its limit -------------------------------------------------------------------


@pytest.mark.slow
def test_concurrent_requests_on_one_key_at_its_limit() -> None:
    """150 concurrent requests on the Starter key (60 requests/min): exactly 60 succeed, the rest
    are honest 429s, and a Pro key sending alongside is served throughout.

    Time scale 100 makes the simulated minute 100 real minutes, so the bucket refills one request
    per 100 real seconds: in the few seconds this test runs nothing is refilled, and the count of
    200s is the bucket's capacity exactly. The instant model keeps each answer short."""
    total, others = 150, 10
    request = {
        "model": "llama-3.1-8b",
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 1,
    }

    async def fire(base_url: str) -> list[httpx.Response]:
        keys = ["br-demo-starter"] * total + [PRO] * others
        limits = httpx.Limits(max_connections=len(keys), max_keepalive_connections=len(keys))
        async with httpx.AsyncClient(timeout=10, limits=limits) as client:
            return await asyncio.gather(
                *(
                    client.post(
                        f"{base_url}/chat/completions",
                        json=request,
                        headers={"Authorization": f"Bearer {key}"},
                    )
                    for key in keys
                )
            )

    with EmulatorProcess(
        time_scale=100.0, seed=1, catalog=str(FIXTURES / "instant-llama.toml")
    ) as emu:
        responses = asyncio.run(asyncio.wait_for(fire(emu.base_url), 20))
        assert emu.alive()
    responses, pro = responses[:total], responses[total:]
    assert [r.status_code for r in pro] == [200] * others
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {200, 429}, sorted(set(statuses))
    ok = [r for r in responses if r.status_code == 200]
    limited = [r for r in responses if r.status_code == 429]
    limit = int(ok[0].headers["x-ratelimit-limit-requests"])
    assert limit == 60
    assert len(ok) == limit and len(limited) == total - limit
    # Each success took its own slot: remaining counts down through every value once.
    assert sorted(int(r.headers["x-ratelimit-remaining-requests"]) for r in ok) == list(
        range(limit)
    )
    for r in ok:
        assert r.json()["choices"][0]["message"]["role"] == "assistant"
    for r in limited:
        error = r.json()["error"]
        assert set(error) == {"message", "type", "param", "code"}
        assert (error["type"], error["code"]) == ("requests", "rate_limit_exceeded")
        assert int(r.headers["retry-after"]) >= 1
        assert int(r.headers["retry-after-ms"]) > 0
        assert r.headers["x-should-retry"] == "true"
        assert r.headers["x-ratelimit-remaining-requests"] == "0"


# ---- 7. still standing -------------------------------------------------------------------------


def test_still_standing_after_all_the_abuse(emu) -> None:
    assert emu.alive()
    models = httpx.get(
        f"{emu.base_url}/models", headers={"Authorization": f"Bearer {PRO}"}, timeout=5
    )
    assert models.status_code == 200 and models.json()["data"]
    assert_serves(emu)
    # No handler failed unseen (say, a 500 sent to a client that had already gone): the app logs
    # every one as "emulator bug".
    emu._stderr.seek(0)
    log = emu._stderr.read().decode(errors="replace")
    assert "emulator bug" not in log, log[-2000:]
