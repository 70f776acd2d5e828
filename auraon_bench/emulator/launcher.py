"""Start the emulator in a child process on a free loopback port, wait until it is ready, stop it.

Used by the CLI's embedded default (no ``--base-url``) and by tests::

    with EmulatorProcess(time_scale=0.01) as emu:
        client = OpenAI(base_url=emu.base_url, api_key=emu.demo_key("pro"))
"""

from __future__ import annotations

import os
import selectors
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from types import TracebackType

from auraon_bench.catalog.schema import DEMO_PLANS
from auraon_bench.emulator.server import PARENT_PIPE_ENV, READY_PREFIX
from auraon_bench.errors import EmulatorError

DEMO_KEYS = {plan: f"br-demo-{plan}" for plan in DEMO_PLANS}


class EmulatorProcess:
    def __init__(
        self,
        *,
        seed: int = 0,
        time_scale: float = 1.0,
        catalog: str | None = None,
        datasets: Sequence[str] = (),
        extra_args: Sequence[str] = (),
        ready_timeout: float = 20.0,
        limiter: str | None = None,
    ) -> None:
        self.args = [
            sys.executable,
            "-m",
            "auraon_bench",
            "emulator",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--seed",
            str(seed),
            "--time-scale",
            repr(time_scale),
        ]
        if catalog:
            self.args += ["--catalog", str(catalog)]
        for path in datasets:
            self.args += ["--dataset", str(path)]
        if limiter:  # every plan's limiter kind (token_bucket, fixed_window, ...)
            self.args += ["--limiter", limiter]
        self.args += list(extra_args)
        self.time_scale = time_scale
        self.ready_timeout = ready_timeout
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the process

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    @staticmethod
    def demo_key(plan: str = "enterprise") -> str:
        return DEMO_KEYS[plan]

    def start(self) -> EmulatorProcess:
        # stdin is a pipe this process holds open: if it dies, even by SIGKILL, the pipe closes
        # and the emulator stops itself instead of serving on as an orphan.
        env = dict(os.environ, PYTHONUNBUFFERED="1", **{PARENT_PIPE_ENV: "1"})
        self.process = subprocess.Popen(
            self.args,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            stdin=subprocess.PIPE,
            env=env,
            # Its own session: a terminal's Ctrl-C goes to the command, which stops its load
            # and then the emulator; requests in flight are not cut by the emulator dying first.
            start_new_session=True,
        )
        assert self.process.stdout is not None
        deadline = time.monotonic() + self.ready_timeout
        line = b""
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            while not line.endswith(b"\n"):
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not selector.select(remaining):
                    self.stop()
                    raise EmulatorError(
                        f"emulator not ready after {self.ready_timeout:g}s{self._stderr_tail()}"
                    )
                chunk = os.read(self.process.stdout.fileno(), 4096)
                if not chunk:
                    code = self.process.wait()
                    raise EmulatorError(
                        f"emulator exited with code {code} before it was ready{self._stderr_tail()}"
                    )
                line += chunk
        text = line.decode().strip()
        if not text.startswith(READY_PREFIX):
            self.stop()
            raise EmulatorError(f"unexpected emulator output: {text[:200]!r}")
        self.url = text[len(READY_PREFIX) :]
        return self

    def stop(self) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout:
            process.stdout.close()
        if process.stdin:
            process.stdin.close()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _stderr_tail(self) -> str:
        self._stderr.seek(0)
        lines = [
            ln for ln in self._stderr.read().decode(errors="replace").splitlines() if ln.strip()
        ]
        return f": {lines[-1]}" if lines else ""

    def __enter__(self) -> EmulatorProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        self._stderr.close()
