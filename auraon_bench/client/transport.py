"""The HTTP layer under the measuring client, swappable: aiohttp by default, httpx on request.

Measured (README, "Client transports"): anything that goes through ``httpx.AsyncClient`` pays
about 200 µs of CPU per request (URL merging, ``Headers``/``Request``/``Response`` objects, the
cookie jar on every response) and reached a third of bare aiohttp's streamed events/s on one
core, whatever transport sits under it; plain httpx's pool collapses outright. So the client
speaks to a small transport interface of its own, in httpx's vocabulary (``status_code``,
``headers``, ``aiter_raw``, ``aread``, ``aclose`` and httpx's exception classes):

* ``AiohttpTransport`` (default): one shared aiohttp session, limits and read buffer set
  explicitly, chunks yielded as they arrive, and exceptions mapped by what happened (a dropped
  connection is a ``RemoteProtocolError``, never a ``ConnectTimeout`` as ``httpx-aiohttp`` maps it);
* ``HttpxTransport``: any ``httpx.AsyncClient`` (hence any httpx transport, proxies, mounts), for
  targets that need httpx's features more than speed.

Connection timing: the client puts a fresh :class:`SendTiming` in the context variable
:data:`SEND_TIMING` around each ``send``, and a transport that can see its connections fills it in
(the interface stays ``send(method, url, headers, body)``, so a wrapper that forwards ``send``
passes it on without knowing). ``AiohttpTransport`` fills it from two thin subclasses of
aiohttp's own classes: a connector that times creating a connection (DNS, TCP, TLS; a wait for
a free slot in the pool comes before and is not part of it) and a request class that stamps the
moment the request goes to the open connection. Not an ``aiohttp.TraceConfig``: any trace config
makes aiohttp build and send about eight signals per request, which measured 30-45 µs of CPU per
request (interleaved A/B, non-streamed, 64 connections: about a fifth of the client's whole
per-request cost); the subclasses add a few context-variable and clock reads.
``HttpxTransport`` uses httpcore's ``trace`` request extension (``connect_tcp``, ``start_tls``,
``send_request_*``), which only httpx's own connection pool emits: over any other httpx
transport the fields stay unknown. Nothing runs per response chunk.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from contextvars import ContextVar
from typing import Any, Protocol

import aiohttp
import httpx
from aiohttp.abc import AbstractResolver

DEFAULT_READ_BUFFER = 4 * 1024 * 1024  # long-context answers and big SSE lines


class SendTiming:
    """What the transport saw of one request's connection; ``time.perf_counter_ns()`` values.

    * ``sent_ns``: when the request was written to an open connection (its last body chunk
      handed to the socket; its headers for a request without a body); None if it never was.
    * ``connect_ns``: how long opening a new connection took (DNS, TCP and TLS); None when the
      request reused a kept-alive connection or none was opened.
    * ``reused``: True on a kept-alive connection, False on a new one (or a failed attempt to
      open one), None when the transport cannot tell.
    """

    __slots__ = ("_connect_start_ns", "connect_ns", "reused", "sent_ns")

    def __init__(self) -> None:
        self._connect_start_ns: int | None = None
        self.connect_ns: int | None = None
        self.reused: bool | None = None
        self.sent_ns: int | None = None

    def connect_started(self) -> None:
        self._connect_start_ns = time.perf_counter_ns()
        self.connect_ns = None
        self.reused = False

    def connect_done(self) -> None:
        if self._connect_start_ns is not None:
            self.connect_ns = time.perf_counter_ns() - self._connect_start_ns

    def written(self) -> None:
        self.sent_ns = time.perf_counter_ns()

    async def httpcore_event(self, name: str, info: Any) -> None:
        """httpcore's ``trace`` extension: ``connection.connect_tcp.started``, ``...complete``,
        ``connection.start_tls.complete``, ``http11.send_request_headers.complete``, ..."""
        if name.endswith(".complete"):
            if name.endswith(("send_request_body.complete", "send_request_headers.complete")):
                self.sent_ns = time.perf_counter_ns()
                if self.reused is None:  # written without opening a connection first
                    self.reused = True
            elif name.endswith(("connect_tcp.complete", "start_tls.complete")):
                self.connect_done()  # TLS completes after TCP, so the last one covers both
        elif name.endswith("connect_tcp.started"):
            self.connect_started()


SEND_TIMING: ContextVar[SendTiming | None] = ContextVar("auraon_bench_send_timing", default=None)
"""The :class:`SendTiming` of the request being sent, set by the client around ``send``."""


class RawResponse(Protocol):
    status_code: int
    headers: Mapping[str, str]  # case-insensitive

    def aiter_raw(self) -> AsyncIterator[bytes]: ...

    async def aread(self) -> bytes: ...

    async def aclose(self) -> None: ...


class Transport(Protocol):
    async def send(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None
    ) -> RawResponse: ...

    async def aclose(self) -> None: ...


@contextlib.contextmanager
def mapped_errors() -> Iterator[None]:
    """aiohttp's exceptions as the httpx exception that names what went wrong."""
    try:
        yield
    except aiohttp.ConnectionTimeoutError as exc:
        raise httpx.ConnectTimeout(str(exc) or "connect timeout") from exc
    except aiohttp.ServerTimeoutError as exc:
        raise httpx.ReadTimeout(str(exc) or "read timeout") from exc
    except aiohttp.ClientConnectorError as exc:
        raise httpx.ConnectError(str(exc)) from exc
    except (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError) as exc:
        raise httpx.RemoteProtocolError(str(exc) or type(exc).__name__) from exc
    except aiohttp.ClientResponseError as exc:  # unparseable status line or headers
        raise httpx.DecodingError(not_http(exc)) from exc  # the client calls it a protocol_error
    except aiohttp.ClientOSError as exc:  # reset by peer and friends
        raise httpx.ReadError(str(exc)) from exc
    except aiohttp.ClientError as exc:
        raise httpx.NetworkError(str(exc) or type(exc).__name__) from exc
    except TimeoutError as exc:
        raise httpx.TimeoutException("timeout") from exc


_QUOTED_BYTES = re.compile(r"""b(['"])(.*?)(?<!\\)\1""")


def not_http(exc: aiohttp.ClientResponseError) -> str:
    """One line for an answer aiohttp could not parse as HTTP, with the bytes it began with
    when aiohttp quotes them: its own message spans several lines (the bytes, a caret)."""
    message = str(exc.message)
    if "status line" in message.lower():
        quoted = _QUOTED_BYTES.search(message)
        began = f" (it began '{quoted.group(2)[:60]}')" if quoted else ""
        return f"the answer is not HTTP{began}: is this the port of an HTTP server?"
    return " ".join(f"invalid HTTP answer: {message}".split())[:300]


class _AiohttpResponse:
    __slots__ = ("_response", "headers", "status_code")

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response
        self.status_code = response.status
        self.headers = response.headers

    async def aiter_raw(self) -> AsyncIterator[bytes]:
        content = self._response.content
        with mapped_errors():
            while chunk := await content.readany():
                yield chunk

    async def aread(self) -> bytes:
        with mapped_errors():
            return await self._response.read()

    async def aclose(self) -> None:
        self._response.release()


class AiohttpTransport:
    """One aiohttp ``ClientSession`` with explicit limits, shared by every request."""

    def __init__(
        self,
        *,
        max_connections: int = 1024,
        read_buffer: int = DEFAULT_READ_BUFFER,
        connect_timeout: float | None = 10.0,
        read_timeout: float | None = 120.0,
        keepalive_s: float = 30.0,
        resolver: AbstractResolver | None = None,
    ) -> None:
        self.max_connections = max_connections
        self.read_buffer = read_buffer
        self.keepalive_s = keepalive_s
        self.resolver = resolver  # None: aiohttp's default resolver
        # One timeout object for every request; the total deadline is the client's own.
        self._timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=connect_timeout, sock_read=read_timeout
        )
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        connector = _TimedConnector(
            limit=self.max_connections,
            limit_per_host=0,
            keepalive_timeout=self.keepalive_s,
            ttl_dns_cache=300,
            resolver=self.resolver,
        )
        return aiohttp.ClientSession(
            connector=connector,
            request_class=_TimedRequest,
            auto_decompress=False,
            read_bufsize=self.read_buffer,
            timeout=self._timeout,
            skip_auto_headers=("User-Agent",),
            trust_env=False,
            max_line_size=self.read_buffer,
            max_field_size=65536,
        )

    async def send(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None
    ) -> RawResponse:
        if self._session is None:
            self._session = self._open()
        with mapped_errors():
            response = await self._session.request(
                method,
                url,
                headers=headers,
                data=body,
                allow_redirects=False,
                compress=False,
            )
        return _AiohttpResponse(response)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class _TimedConnector(aiohttp.TCPConnector):
    """Times each new connection into the :class:`SendTiming` of the request that opens it.

    ``_create_connection`` is where aiohttp resolves the name, connects and does TLS for a
    request that found no idle connection (``tests/test_client_timing.py`` fails if a new
    aiohttp stops calling it)."""

    async def _create_connection(self, *args: Any, **kwargs: Any) -> Any:
        timing = SEND_TIMING.get()
        if timing is None:
            return await super()._create_connection(*args, **kwargs)
        timing.connect_started()
        protocol = await super()._create_connection(*args, **kwargs)
        timing.connect_done()
        return protocol


class _TimedRequest(aiohttp.ClientRequest):
    """Stamps the send time once the request has an open connection: when it is sent (its
    headers), then again just before its body (with the headers aiohttp coalesces into the same
    write) goes to the socket. A request that opened no connection of its own reused one."""

    async def send(self, conn: Any) -> Any:
        timing = SEND_TIMING.get()
        if timing is not None:
            timing.written()
            if timing.reused is None:
                timing.reused = True
        return await super().send(conn)

    async def write_bytes(self, *args: Any, **kwargs: Any) -> None:
        timing = SEND_TIMING.get()  # the writer task runs in a copy of the request's context
        if timing is not None:
            timing.written()
        await super().write_bytes(*args, **kwargs)


class _HttpxResponse:
    __slots__ = ("_response", "headers", "status_code")

    def __init__(self, response: httpx.Response) -> None:
        self._response = response
        self.status_code = response.status_code
        self.headers = response.headers

    def aiter_raw(self) -> AsyncIterator[bytes]:
        return self._response.aiter_raw()

    async def aread(self) -> bytes:
        return await self._response.aread()

    async def aclose(self) -> None:
        await self._response.aclose()


class HttpxTransport:
    """Any ``httpx.AsyncClient``: slower per request, but every httpx feature is available."""

    def __init__(
        self,
        client: httpx.AsyncClient | None = None,
        *,
        max_connections: int = 1024,
        connect_timeout: float = 10.0,
        read_timeout: float = 120.0,
    ) -> None:
        self.client = client or httpx.AsyncClient(
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            timeout=httpx.Timeout(
                connect=connect_timeout, read=read_timeout, write=read_timeout, pool=None
            ),
            trust_env=False,
            follow_redirects=False,
        )

    async def send(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None
    ) -> RawResponse:
        timing = SEND_TIMING.get()
        request = self.client.build_request(
            method,
            url,
            headers=headers,
            content=body,
            extensions=None if timing is None else {"trace": timing.httpcore_event},
        )
        return _HttpxResponse(await self.client.send(request, stream=True))

    async def aclose(self) -> None:
        await self.client.aclose()
