"""Running the emulator: configuration, the blocking server loop, and its readiness line.

The server prints exactly one line to stdout once it listens, ``READY <url>``, which is how a
parent process learns the port it chose (port 0 means "any free port").
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import math
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from auraon_bench.catalog import load_catalog
from auraon_bench.data.dataset import PromptItem, load_dataset
from auraon_bench.emulator.answers import AnswerBook
from auraon_bench.emulator.app import DEFAULT_CLIENT_TIMEOUT, DEFAULT_MAX_BODY, EmulatorApp
from auraon_bench.emulator.gateway import Gateway
from auraon_bench.errors import ConfigError

READY_PREFIX = "READY "


@dataclass(frozen=True)
class EmulatorConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    catalog: str | None = None
    seed: int = 0
    time_scale: float = 1.0
    datasets: Sequence[str] = ()
    max_body: int = DEFAULT_MAX_BODY
    # Seconds a client has to send a whole request: a connection with no complete request head
    # that long after it opened (or after its last answer) is closed, and so is a body that
    # stalls. Not on the command line: only tests and embedders have reason to change it.
    client_timeout: float = DEFAULT_CLIENT_TIMEOUT
    allow_remote: bool = False
    overrides: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        if not (math.isfinite(self.time_scale) and self.time_scale >= 0):
            raise ConfigError(
                f"must be a finite number >= 0, got {self.time_scale}", field="--time-scale"
            )
        if not self.client_timeout > 0:
            raise ConfigError(f"must be > 0, got {self.client_timeout}", field="client_timeout")
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"must be 0..65535, got {self.port}", field="--port")
        if not self.allow_remote and not is_loopback(self.host):
            raise ConfigError(
                f"{self.host} is not a loopback address; binding it exposes the "
                "emulator to the network: pass --allow-remote to do so",
                field="--host",
            )


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def build_gateway(config: EmulatorConfig, clock: Callable[[], float] | None = None) -> Gateway:
    config.validate()
    catalog = load_catalog(config.catalog, config.overrides or None)
    items: list[PromptItem] = []
    for path in config.datasets:
        items.extend(load_dataset(Path(path)))
    return Gateway(
        catalog,
        seed=config.seed,
        time_scale=config.time_scale,
        clock=clock or time.perf_counter,
        answers=AnswerBook(items),
    )


# Set by the launcher: stdin is a pipe from the parent, and its end (EOF) means the parent is
# gone, even after a SIGKILL that gave it no chance to stop its emulator.
PARENT_PIPE_ENV = "AURAON_BENCH_EMULATOR_PARENT_PIPE"


class _ParentWatch(asyncio.Protocol):
    def __init__(self, stop: asyncio.Event) -> None:
        self.stop = stop

    def eof_received(self) -> bool | None:
        self.stop.set()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.stop.set()


async def _stop_when_parent_dies(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: _ParentWatch(stop), sys.stdin.buffer)


async def serve(
    config: EmulatorConfig, *, ready: Callable[[str], None], stop: asyncio.Event
) -> None:
    # The gateway's clock must be the event loop's, so simulated and delivered times agree.
    loop = asyncio.get_running_loop()
    gateway = build_gateway(config, clock=loop.time)
    app = EmulatorApp(gateway, max_body=config.max_body, body_timeout=config.client_timeout).build()
    # aiohttp arms the keep-alive timer as a connection opens and does not re-arm it while a
    # request head trickles in, so it is also the header timeout against slowloris (releases
    # before aiohttp PR #13681 arm it only between requests: there, idle sockets linger).
    runner = web.AppRunner(
        app, access_log=None, handle_signals=False, keepalive_timeout=config.client_timeout
    )
    await runner.setup()
    site = web.TCPSite(runner, config.host, config.port, backlog=4096, reuse_address=True)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        # A port in use (or below 1024 without privilege) is the port's fault; an unknown
        # name or an address this machine does not have is the host's.
        port_fault = exc.errno in (errno.EADDRINUSE, errno.EACCES)
        raise ConfigError(
            f"cannot listen on {config.host}:{config.port}: {_reason(exc)}",
            field="--port" if port_fault else "--host",
        ) from None
    sockets = site._server.sockets if site._server else ()  # aiohttp exposes no public accessor
    port = sockets[0].getsockname()[1] if sockets else config.port
    host = f"[{config.host}]" if ":" in config.host else config.host
    ready(f"http://{host}:{port}")
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def _reason(exc: OSError) -> str:
    """Why a bind failed, in one line: "address already in use", not uvloop's repetition of
    the address; a resolver's error (an unknown host name) in its own words."""
    if exc.errno == errno.EADDRINUSE:
        return "address already in use (another server holds the port; 0 picks a free one)"
    if exc.errno and exc.errno > 0:  # resolver errors are negative: their own text says it
        return os.strerror(exc.errno)
    reason = exc.strerror or str(exc) or type(exc).__name__
    return " ".join(reason.split())


def run(config: EmulatorConfig, announce: Callable[[str], None] | None = None) -> None:
    """Serve until SIGINT or SIGTERM (blocking). Uses uvloop when installed."""
    config.validate()

    def default_announce(url: str) -> None:
        sys.stdout.write(f"{READY_PREFIX}{url}\n")
        sys.stdout.flush()

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        if os.environ.get(PARENT_PIPE_ENV) == "1":
            await _stop_when_parent_dies(stop)
        await serve(config, ready=announce or default_announce, stop=stop)

    try:
        import uvloop
    except ImportError:
        asyncio.run(main())
    else:
        uvloop.run(main())
