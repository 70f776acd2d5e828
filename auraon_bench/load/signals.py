"""Ctrl-C and SIGTERM while a load session runs: the first stops the run (requests in flight get
their grace period), the next hurries it; and the CLI's own handlers are put back afterwards."""

from __future__ import annotations

import contextlib
import math
import signal
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, Protocol

import anyio


class Interruptible(Protocol):
    """A :class:`LoadRunner`, or a pool of them in worker processes."""

    def interrupt(self) -> None: ...


class Interrupts:
    """Ctrl-C and SIGTERM while the load session runs: each one goes to the runner (the first
    stops it, the next hurries it), and :meth:`cut_short` ends work that outlives the load."""

    def __init__(self, runner: Interruptible, grace_s: float) -> None:
        self.runner = runner
        self.grace_s = grace_s
        self.count = 0
        self._first = anyio.Event()
        self._second = anyio.Event()

    async def watch(self) -> None:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for _ in signals:
                self.count += 1
                self.runner.interrupt()
                (self._first if self.count == 1 else self._second).set()

    async def cut_short(self, work: Callable[[], Awaitable[Any]]) -> Any:
        """``work()``'s result, or None if it was cut: ``grace_s`` after a first signal that
        arrives while it runs, at once on a second one."""
        result = failure = None
        async with anyio.create_task_group() as group:

            async def cut() -> None:
                earlier = self.count > 0  # its grace is spent: wait for the next signal
                await self._first.wait()
                with anyio.move_on_after(math.inf if earlier else self.grace_s):
                    await self._second.wait()
                group.cancel_scope.cancel()

            group.start_soon(cut)
            try:
                result = await work()
            except Exception as exc:  # raised as itself below, not inside the group's
                failure = exc
            group.cancel_scope.cancel()
        if failure is not None:
            raise failure
        return result


@contextlib.contextmanager
def signal_handlers_kept() -> Iterator[None]:
    """Put back the SIGINT and SIGTERM handlers the event loop's signal receiver replaced: it
    restores the defaults, not what the CLI had installed (SIGTERM exits 130 there too)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            if handler is not None:
                signal.signal(sig, handler)
