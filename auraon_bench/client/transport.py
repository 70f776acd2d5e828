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
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Protocol

import aiohttp
import httpx

DEFAULT_READ_BUFFER = 4 * 1024 * 1024  # long-context answers and big SSE lines


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
        raise httpx.DecodingError(str(exc)) from exc  # the client calls it a protocol_error
    except aiohttp.ClientOSError as exc:  # reset by peer and friends
        raise httpx.ReadError(str(exc)) from exc
    except aiohttp.ClientError as exc:
        raise httpx.NetworkError(str(exc) or type(exc).__name__) from exc
    except TimeoutError as exc:
        raise httpx.TimeoutException("timeout") from exc


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
    ) -> None:
        self.max_connections = max_connections
        self.read_buffer = read_buffer
        self.keepalive_s = keepalive_s
        # One timeout object for every request; the total deadline is the client's own.
        self._timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=connect_timeout, sock_read=read_timeout
        )
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=self.max_connections,
            limit_per_host=0,
            keepalive_timeout=self.keepalive_s,
            ttl_dns_cache=300,
        )
        return aiohttp.ClientSession(
            connector=connector,
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
                method, url, headers=headers, data=body, allow_redirects=False, compress=False
            )
        return _AiohttpResponse(response)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


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
        request = self.client.build_request(method, url, headers=headers, content=body)
        return _HttpxResponse(await self.client.send(request, stream=True))

    async def aclose(self) -> None:
        await self.client.aclose()
