"""An httpx transport over one shared aiohttp session: the httpx API at aiohttp's speed.

httpx's own connection pool collapses under the concurrency a load tester needs (see the README's
client measurements), so the measuring client keeps httpx's API and puts this transport under it.
It differs from the ``httpx-aiohttp`` package in what a benchmark needs:

* limits set explicitly (connections, read buffer for long contexts), never library defaults;
* exceptions mapped by what happened, because the record's error class depends on it: a dropped
  connection or an incomplete body is a ``RemoteProtocolError``/``ReadError``, never a
  ``ConnectTimeout`` (which ``httpx-aiohttp`` reports for any ``ClientConnectionError``);
* body chunks are yielded as they arrive (``iter_any``), so arrival times are taken per chunk.

Any ``httpx.AsyncBaseTransport`` can replace it (``MeasuringClient(transport=...)``).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator

import aiohttp
import httpx

DEFAULT_READ_BUFFER = 4 * 1024 * 1024  # long-context answers and big SSE lines


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
        raise httpx.RemoteProtocolError(str(exc)) from exc
    except aiohttp.ClientOSError as exc:  # reset by peer and friends
        raise httpx.ReadError(str(exc)) from exc
    except aiohttp.ClientError as exc:
        raise httpx.NetworkError(str(exc) or type(exc).__name__) from exc
    except TimeoutError as exc:
        raise httpx.TimeoutException("timeout") from exc


class _ResponseStream(httpx.AsyncByteStream):
    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with mapped_errors():
            while True:
                chunk = await self._response.content.readany()
                if not chunk:
                    break
                yield chunk

    async def aclose(self) -> None:
        self._response.release()


class AiohttpTransport(httpx.AsyncBaseTransport):
    """One aiohttp ``ClientSession`` with explicit limits, shared by every request."""

    def __init__(
        self,
        *,
        max_connections: int = 1024,
        read_buffer: int = DEFAULT_READ_BUFFER,
        keepalive_s: float = 30.0,
    ) -> None:
        self.max_connections = max_connections
        self.read_buffer = read_buffer
        self.keepalive_s = keepalive_s
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=self.max_connections,
            limit_per_host=0,
            keepalive_timeout=self.keepalive_s,
            ttl_dns_cache=300,
            force_close=False,
            enable_cleanup_closed=False,
        )
        # Timeouts are the measuring client's job (per phase, configurable); none here.
        return aiohttp.ClientSession(
            connector=connector,
            auto_decompress=False,
            read_bufsize=self.read_buffer,
            skip_auto_headers=("User-Agent",),
            timeout=aiohttp.ClientTimeout(total=None),
            trust_env=False,
            max_line_size=self.read_buffer,
            max_field_size=65536,
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._session is None:
            self._session = self._open()
        timeout = request.extensions.get("timeout", {})
        with mapped_errors():
            response = await self._session.request(
                request.method,
                str(request.url),
                headers=list(request.headers.multi_items()),
                data=request.content or None,
                allow_redirects=False,
                compress=False,
                timeout=aiohttp.ClientTimeout(
                    total=None, sock_connect=timeout.get("connect"), sock_read=timeout.get("read")
                ),
            )
        return httpx.Response(
            status_code=response.status,
            headers=response.raw_headers,
            stream=_ResponseStream(response),
            request=request,
            extensions={"http_version": b"HTTP/1.1"},
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
