"""A transport for tests that sends chosen requests somewhere that fails for real.

It wraps the real aiohttp transport and, for the n-th chat request, swaps the URL's host and port
for a closed port (connection refused), an unresolvable name (DNS failure) or a listener whose
accept queue is full (connect timeout). Nothing is faked: each failure comes from the network
stack, and the client classifies it as it would any other.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator, Mapping, Sequence
from urllib.parse import urlsplit, urlunsplit

from auraon_bench.client.transport import AiohttpTransport, RawResponse

UNRESOLVABLE = "auraon-bench-no-such-host.invalid"  # RFC 6761: never resolves


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def full_accept_queue() -> Iterator[int]:
    """A port whose listener never accepts and whose backlog is full: SYNs go unanswered."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        fillers = []
        try:
            for _ in range(4):
                filler = socket.socket()
                filler.setblocking(False)
                with contextlib.suppress(BlockingIOError):
                    filler.connect(("127.0.0.1", port))
                fillers.append(filler)
            yield port
        finally:
            for filler in fillers:
                filler.close()


class FaultRoutes:
    """Route the n-th POST by ``routes[n]``: None (unchanged) or a ``host:port`` to use."""

    def __init__(self, inner: AiohttpTransport, routes: Sequence[str | None]) -> None:
        self.inner = inner
        self.routes = list(routes)
        self.posts = 0

    async def send(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None
    ) -> RawResponse:
        if method == "POST":
            route = self.routes[self.posts] if self.posts < len(self.routes) else None
            self.posts += 1
            if route is not None:
                url = urlunsplit(urlsplit(url)._replace(netloc=route))
        return await self.inner.send(method, url, headers, body)

    async def aclose(self) -> None:
        await self.inner.aclose()
