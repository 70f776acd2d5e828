"""A real LiteLLM proxy for tests: a gateway none of us wrote, on a free loopback port.

Models (all answered by LiteLLM's ``mock_response``, so nothing leaves the machine):

* ``fast-mock``: priced by LiteLLM's own cost map (``openai/gpt-4o-mini``).
* ``limited-mock``: priced (``openai/gpt-4o``) and limited to ``LIMITED_RPM`` requests/min by
  LiteLLM's usage-based router (a fixed window on the UTC clock minute; LiteLLM 1.108 admits
  ``rpm - 1`` requests in a window: its selection skips a deployment when ``used + 1 >= rpm``).
* ``unpriced-mock``: a model LiteLLM has no price for; it reports no cost.
* ``broken-mock``: always fails upstream; LiteLLM falls back to ``fast-mock``.

``LITELLM_LOCAL_MODEL_COST_MAP=True`` keeps LiteLLM from fetching its price map over the network.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

MASTER_KEY = "sk-test-master"
LIMITED_RPM = 5
START_TIMEOUT_S = 90.0

CONFIG = f"""\
model_list:
  - model_name: fast-mock
    litellm_params:
      model: openai/gpt-4o-mini
      api_key: sk-not-used
      mock_response: "Paris is the capital of France."
  - model_name: limited-mock
    litellm_params:
      model: openai/gpt-4o
      api_key: sk-not-used
      mock_response: "Limited answer."
      rpm: {LIMITED_RPM}
  - model_name: unpriced-mock
    litellm_params:
      model: openai/house-model-without-a-price
      api_key: sk-not-used
      mock_response: "An answer nobody priced."
  - model_name: broken-mock
    litellm_params:
      model: openai/gpt-4o-mini
      api_key: sk-not-used
      mock_response: "litellm.InternalServerError"
router_settings:
  routing_strategy: usage-based-routing-v2
  num_retries: 0
  fallbacks: [{{"broken-mock": ["fast-mock"]}}]
general_settings:
  master_key: {MASTER_KEY}
litellm_settings:
  telemetry: false
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def litellm_executable() -> str:
    beside = Path(sys.executable).with_name("litellm")
    found = str(beside) if beside.exists() else shutil.which("litellm")
    if found is None:
        raise RuntimeError("litellm is not installed: pip install -e '.[test]'")
    return found


class LiteLLMProxy:
    """Start with ``with LiteLLMProxy(tmp_dir) as proxy:``; stopped (the whole process group)
    on exit. ``base_url`` ends in ``/v1``.

    LiteLLM's proxy has been seen to segfault (in CPython, at 32 requests a second from the
    capacity search); :meth:`restart` starts a fresh one on a new port, keeping
    the dead one's log beside it, so one crash does not fail every later test."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.api_key = MASTER_KEY
        self.starts = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._new_port()

    def _new_port(self) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.log_path = self.workdir / f"litellm-{self.starts}.log"

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def exit_note(self) -> str:
        """How the last proxy ended (its exit code and log tail), for a test's message."""
        code = None if self._process is None else self._process.poll()
        return f"LiteLLM exited with {code}; its log ends:\n{self.log_tail(10)}"

    def restart(self) -> None:
        self.stop()
        self.starts += 1
        self._new_port()
        self.__enter__()

    def __enter__(self) -> LiteLLMProxy:
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "litellm.yaml"
        config.write_text(CONFIG)
        env = {
            **os.environ,
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "LITELLM_TELEMETRY": "False",
            "NO_PROXY": "127.0.0.1,localhost",
        }
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                [
                    litellm_executable(),
                    "--config",
                    str(config),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--num_workers",
                    "1",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.workdir,
                start_new_session=True,
            )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        url = f"http://127.0.0.1:{self.port}/health/liveliness"
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(f"LiteLLM exited at start:\n{self.log_tail()}")
            try:
                if httpx.get(url, timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        raise RuntimeError(f"LiteLLM not ready in {START_TIMEOUT_S:g}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=15)

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
