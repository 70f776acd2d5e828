"""Process helpers shared by the benchmark scripts: free ports, clean stops, /proc lookups."""

from __future__ import annotations

import contextlib
import os
import platform
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from auraon_bench.load.arrivals import ScheduleSpec, build_schedule


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, timeout_s: float = 10.0) -> bool:
    """True once something accepts connections on the loopback ``port``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.05)
    return False


def stop(proc: subprocess.Popen[bytes] | None, grace_s: float) -> None:
    """SIGTERM, then SIGKILL after ``grace_s``; reaps the child."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def children(pid: int) -> list[int]:
    """Child processes of every thread of ``pid`` (a thread may start processes too)."""
    kids: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            kids += [int(x) for x in (task / "children").read_text().split()]
    return kids


def scheduled(rate: float, duration: float) -> int:
    """Requests of a constant-rate schedule: the seeded schedule's own length."""
    spec = ScheduleSpec(profile="constant", rate=rate, duration=duration)
    return build_schedule(spec, ("-",), 1).n_requests or 0


def machine() -> dict[str, Any]:
    """What a benchmark ran on: date, CPUs and their model, Python, load average at start."""
    model = ""
    if Path("/proc/cpuinfo").exists():
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg_at_start": Path("/proc/loadavg").read_text().split()[:3],
    }


class RefServer:
    """The yardstick server on core 0; stopped (SIGTERM) on exit."""

    def __init__(self, path: Path, *args: str) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            ["taskset", "-c", "0", sys.executable, str(path), str(self.port), *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if not wait_for_port(self.port):
            self.close()
            raise SystemExit(f"refserver did not start on port {self.port}")

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def close(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> RefServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
