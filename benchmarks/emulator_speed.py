"""Speed and timing-fidelity benchmark of the built-in Auraon emulator (``emulator serve``).

Model gpt-4o, key br-demo-enterprise (unlimited plan). Emulator pinned to core 0, load clients
(separate processes: this file run with ``--worker SPEC``) pinned to core 1.
  1. ``--time-scale 0`` (no simulated delays): non-streaming requests/s at 64 connections
     (max_tokens 16 + ignore_eos), and SSE content events/s (``"delta":{"content":`` events only)
     at 64 streams (max_tokens 256 + ignore_eos), each with the CPU share of the emulator
     (/proc/PID/stat), the clients (getrusage) and each core (/proc/stat) in the window, so a
     reader sees what bound the figure; then a 1-connection TTFT floor without any timer.
  2. ``--time-scale 1``: client TTFT (perf_counter_ns, send to first content event) minus the
     simulated TTFT in the header ``x-emulator-first-token-ms``, p50/p90/p99, at 256 concurrent
     streams (max_tokens 32) and on 1 connection (sequential, max_tokens 1).
The client is bare aiohttp on uvloop, reading streams line by line with a byte test for content
events. Each phase warms up first; counters and CPU times are snapshotted at the window's edges.
Every loop is bounded in time and count; emulators are stopped (SIGTERM, kill after 5 s) always.

Usage: python benchmarks/emulator_speed.py [--quick] [--out FILE.json] [--clients N] [--seed N]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import resource
import selectors
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp

try:
    from uvloop import run as run_loop
except ImportError:
    from asyncio import run as run_loop

ROOT = Path(__file__).resolve().parent.parent
HEADERS = {"Authorization": "Bearer br-demo-enterprise", "Content-Type": "application/json"}
CONTENT_EVENT = b'"delta":{"content":'  # the role event before the first one has {"role":...}
CLK_TCK = os.sysconf("SC_CLK_TCK")
PINNED = {0, 1} <= os.sched_getaffinity(0)
PIN_EMULATOR, PIN_CLIENT = (["taskset", "-c", "0"], ["taskset", "-c", "1"]) if PINNED else ([], [])
WORKER_STARTUP_S = 1.5  # time a worker process gets to start before its warm-up
# Phase lengths: warm-up, throughput window, TTFT windows (upper bounds) and request counts.
FULL = {"warmup_s": 3, "window_s": 15, "ttft_window_s": 60, "ttft_requests": 1500,
        "floor_window_s": 120, "floor_requests": 100}
QUICK = {"warmup_s": 0.5, "window_s": 2, "ttft_window_s": 4, "ttft_requests": 300,
         "floor_window_s": 8, "floor_requests": 10}


def process_cpu_s(pid: int) -> float:
    """utime + stime of a process, in seconds (fields 14 and 15 of /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def cores_busy_s() -> dict[str, float]:
    """Busy (not idle, not iowait) seconds of cores 0 and 1, all processes, from /proc/stat."""
    busy = {}
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith(("cpu0 ", "cpu1 ")):
            ticks = [int(x) for x in line.split()[1:9]]
            busy[f"core{line[3]}_busy"] = (sum(ticks) - ticks[3] - ticks[4]) / CLK_TCK
    return busy


# ---- load client (runs in its own process: --worker SPEC) --------------------------------------

class Load:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        body: dict[str, Any] = {"model": "gpt-4o", "max_tokens": spec["max_tokens"],
                                "messages": [{"role": "user", "content": "Say hi."}],
                                "ignore_eos": True}
        if spec["stream"]:
            body |= {"stream": True, "stream_options": {"include_usage": True}}
        self.body = json.dumps(body).encode()
        self.url = spec["url"] + "/v1/chat/completions"
        self.full_answer = b'"completion_tokens":%d,' % spec["max_tokens"]
        self.completed = self.events = self.started_in_window = self.short = 0
        self.statuses, self.errors = Counter[str](), Counter[str]()
        self.ttft: list[tuple[float, float]] = []  # (measured ms, simulated ms)
        self.marks: dict[str, dict[str, float]] = {}

    def snapshot(self, name: str) -> None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        self.marks[name] = {"t": time.perf_counter(), "completed": self.completed,
                            "events": self.events, "client_cpu": usage.ru_utime + usage.ru_stime,
                            "emulator_cpu": process_cpu_s(self.spec["emulator_pid"]),
                            **cores_busy_s()}

    async def request(self, session: aiohttp.ClientSession, record: bool) -> None:
        t_send = time.perf_counter_ns()
        async with session.post(self.url, data=self.body, headers=HEADERS) as resp:
            self.statuses[str(resp.status)] += 1
            if resp.status != 200 or not self.spec["stream"]:
                body = await resp.read()
                if resp.status == 200:
                    ok = self.full_answer in body
                    self.completed, self.short = self.completed + ok, self.short + (not ok)
                return
            count, t_first = 0, 0
            async for line in resp.content:  # one SSE line at a time
                if CONTENT_EVENT in line:
                    if not count:
                        t_first = time.perf_counter_ns()
                    count += 1
                    self.events += 1
        if count != self.spec["max_tokens"]:
            self.short += 1
            return
        self.completed += 1
        if record and self.spec["record_ttft"]:
            simulated = float(resp.headers.get("x-emulator-first-token-ms", "nan"))
            self.ttft.append(((t_first - t_send) / 1e6, simulated))

    async def user(self, session: aiohttp.ClientSession) -> None:
        """One connection's closed loop: a request as soon as the previous one is done."""
        spec = self.spec
        while True:
            now = time.monotonic()
            if now >= spec["window_end"] or self.started_in_window >= spec["max_measured"]:
                return
            record = now >= spec["window_start"]
            self.started_in_window += record
            try:
                await self.request(session, record)
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                self.errors[type(exc).__name__] += 1
                await asyncio.sleep(0.01)

    async def run(self) -> dict[str, Any]:
        spec, loop = self.spec, asyncio.get_running_loop()
        loop.call_later(max(0.0, spec["window_start"] - time.monotonic()), self.snapshot, "start")
        end = loop.call_later(max(0.0, spec["window_end"] - time.monotonic()), self.snapshot, "end")
        connector = aiohttp.TCPConnector(limit=spec["concurrency"])
        async with aiohttp.ClientSession(connector=connector,
                                         timeout=aiohttp.ClientTimeout(total=60)) as session:
            users = [asyncio.create_task(self.user(session)) for _ in range(spec["concurrency"])]
            try:
                await asyncio.wait_for(asyncio.gather(*users),
                                       spec["window_end"] - time.monotonic() + 30)
            except TimeoutError:
                self.errors["worker_timeout"] += 1
        for name in ("start", "end"):  # the load ended early (count reached, or failures)
            if name not in self.marks:
                end.cancel()
                self.snapshot(name)
        return {"marks": self.marks, "statuses": self.statuses, "errors": self.errors,
                "short": self.short, "ttft": self.ttft}


# ---- orchestration ----------------------------------------------------------------------------

class Emulator:
    """``emulator serve`` pinned to core 0, on a free loopback port; stopped on exit, always."""

    def __init__(self, time_scale: float, seed: int) -> None:
        self.cmd = [*PIN_EMULATOR, sys.executable, "-m", "auraon_bench", "emulator", "serve",
                    "--host", "127.0.0.1", "--port", "0", "--time-scale", str(time_scale),
                    "--seed", str(seed)]
        self.stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed in __exit__)
        self.stderr_lines: list[str] = []

    def __enter__(self) -> Emulator:
        path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
        self.proc = subprocess.Popen(self.cmd, cwd=ROOT, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=self.stderr,
                                     env=dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=path))
        try:
            self.url = self._read_ready(deadline=time.monotonic() + 20)
        except BaseException:
            self.__exit__(*sys.exc_info())
            raise
        return self

    def _read_ready(self, deadline: float) -> str:
        assert self.proc.stdout is not None
        line = b""
        with selectors.DefaultSelector() as selector:
            selector.register(self.proc.stdout, selectors.EVENT_READ)
            while not line.endswith(b"\n"):
                if not selector.select(max(0.0, deadline - time.monotonic())):
                    raise RuntimeError("emulator not READY after 20 s")
                chunk = os.read(self.proc.stdout.fileno(), 4096)
                if not chunk:
                    raise RuntimeError("emulator exited before READY (its stderr is above)")
                line += chunk
        if not line.startswith(b"READY "):
            raise RuntimeError(f"unexpected emulator output {line!r}")
        return line.decode().strip().removeprefix("READY ")

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()
        self.stderr.seek(0)
        self.stderr_lines = self.stderr.read().decode(errors="replace").strip().splitlines()
        self.stderr.close()
        if exc and exc[0] is not None:
            print("\n".join(self.stderr_lines[-20:]), file=sys.stderr)


def run_clients(emu: Emulator, *, clients: int, concurrency: int, warmup_s: float,
                window_s: float, **spec: Any) -> list[dict[str, Any]]:
    """Run ``clients`` worker processes on core 1 sharing ``concurrency``; return their results."""
    start = time.monotonic() + WORKER_STARTUP_S + warmup_s  # CLOCK_MONOTONIC: same in all procs
    spec |= {"url": emu.url, "emulator_pid": emu.proc.pid, "window_start": start,
             "window_end": start + window_s}
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for i in range(clients):
            share = concurrency // clients + (i < concurrency % clients)
            cmd = [*PIN_CLIENT, sys.executable, str(Path(__file__).resolve()), "--worker",
                   json.dumps({**spec, "concurrency": share})]
            procs.append(subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE))
        deadline = start + window_s + 45
        return [json.loads(p.communicate(timeout=max(1.0, deadline - time.monotonic()))[0])
                for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()


def delta(result: dict[str, Any], key: str) -> float:
    return result["marks"]["end"][key] - result["marks"]["start"][key]


def throughput(results: list[dict[str, Any]], key: str) -> dict[str, float]:
    walls = [delta(r, "t") for r in results]
    stats = {"rate": sum(delta(r, key) / w for r, w in zip(results, walls, strict=True) if w > 0),
             "n": sum(delta(r, key) for r in results),
             "client_cpu_pct": sum(100 * delta(r, "client_cpu") / w
                                   for r, w in zip(results, walls, strict=True))}
    for name in ("emulator_cpu", "core0_busy", "core1_busy"):  # one process's view is enough
        stats[f"{name}_pct"] = 100 * delta(results[0], name) / walls[0]
    return stats


def bound_by(phase: str, s: dict[str, float], unit: str) -> str:
    """Which core was saturated (>= 90% busy), and by whom: a sentence for the notes."""
    text = (f"{phase}: core 0 {s['core0_busy_pct']:.0f}% busy (emulator "
            f"{s['emulator_cpu_pct']:.0f}%), core 1 {s['core1_busy_pct']:.0f}% busy (clients "
            f"{s['client_cpu_pct']:.0f}%); ")
    server, client = s["core0_busy_pct"] >= 90, s["core1_busy_pct"] >= 90
    text += {(True, False): "bound by the emulator's core", (False, True): "bound by the "
             "client's core, so this is a lower bound of the emulator's capacity",
             (True, True): "both cores saturated"}.get((server, client), "neither core saturated")
    if client and not server and s["emulator_cpu_pct"] > 0:
        text += (f"; extrapolated emulator capacity at 100% of a core ~"
                 f"{s['rate'] * 100 / s['emulator_cpu_pct']:,.0f} {unit} (not measured)")
    return text


def row(metric: str, value: float, unit: str, n: float | str, target: str = "",
        passed: bool | None = None) -> dict[str, Any]:
    status = "info" if passed is None else ("PASS" if passed else "FAIL")
    return {"metric": metric, "value": round(value, 3), "unit": unit, "n": n,
            "target": target or "-", "status": status}


def ttft_rows(emu: Emulator, label: str, conc: int, max_tokens: int, count: int,
              window_s: float, warmup_s: float, target: float | None) -> tuple[list, list]:
    """Client TTFT minus simulated TTFT (ms) of ``count`` streams after a warm-up: rows, results."""
    results = run_clients(emu, clients=1, concurrency=conc, warmup_s=warmup_s, window_s=window_s,
                          stream=True, max_tokens=max_tokens, max_measured=count, record_ttft=True)
    excess = [measured - simulated for measured, simulated in results[0]["ttft"]]
    cuts = (statistics.quantiles(excess, n=100, method="inclusive") if len(excess) > 1
            else [float("nan")] * 99)
    rows = [row(f"{label} p50 (measured - simulated)", cuts[49], "ms", len(excess),
                f"<= {target:g} ms" if target else "", cuts[49] <= target if target else None)]
    return rows + [row(f"{label} p{q}", cuts[q - 1], "ms", len(excess)) for q in (90, 99)], results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds per phase (smoke test)")
    parser.add_argument("--out", type=Path, help="also write the figures as JSON here")
    parser.add_argument("--clients", type=int, default=1,
                        help="load processes for the throughput phases (all on core 1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return print(json.dumps(run_loop(Load(json.loads(args.worker)).run())))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the with-blocks clean up
    plan, rows, notes, stderr = QUICK if args.quick else FULL, [], [], []
    phases: list[tuple[str, list[dict[str, Any]]]] = []  # (label, worker results) for the tally
    with Emulator(time_scale=0, seed=args.seed) as emu:
        for phase, stream, max_tokens, key, unit, target in (
                ("non-streaming", False, 16, "completed", "req/s", 3_000),
                ("SSE content events", True, 256, "events", "events/s", 100_000)):
            results = run_clients(emu, clients=args.clients, concurrency=64,
                                  warmup_s=plan["warmup_s"], window_s=plan["window_s"],
                                  stream=stream, max_tokens=max_tokens, max_measured=10**9,
                                  record_ttft=False)
            phases.append((phase, results))
            s, window = throughput(results, key), f"{delta(results[0], 't'):.1f} s"
            rows += [row(f"{phase} @64 conc, time-scale 0", s["rate"], unit, int(s["n"]),
                         f">= {target:,}", s["rate"] >= target),
                     row(f"  emulator CPU (core 0) during {phase}", s["emulator_cpu_pct"], "%",
                         window),
                     row(f"  client CPU ({args.clients} proc, core 1) during {phase}",
                         s["client_cpu_pct"], "%", window)]
            notes.append(bound_by(phase, s, unit))
        label = "TTFT excess, 1 conn, time-scale 0 (floor)"
        more, results = ttft_rows(emu, label, 1, 1, 200, 10, plan["warmup_s"], None)
        rows, phases = rows + more, [*phases, (label, results)]
    stderr += [f"[time-scale 0] {ln}" for ln in emu.stderr_lines]
    with Emulator(time_scale=1, seed=args.seed) as emu:
        for label, conc, max_tokens, count, window_s, target in (
                ("TTFT excess @256 streams", 256, 32, plan["ttft_requests"],
                 plan["ttft_window_s"], 2.0),
                ("TTFT excess, 1 conn, time-scale 1", 1, 1, plan["floor_requests"],
                 plan["floor_window_s"], None)):
            more, results = ttft_rows(emu, label, conc, max_tokens, count, window_s,
                                      plan["warmup_s"], target)
            rows, phases = rows + more, [*phases, (label, results)]
    stderr += [f"[time-scale 1] {ln}" for ln in emu.stderr_lines]
    failures: Counter[str] = Counter()
    for label, results in phases:
        wall = delta(results[0], "t")
        others = 100 * (delta(results[0], "core0_busy") + delta(results[0], "core1_busy") - delta(
            results[0], "emulator_cpu") - sum(delta(r, "client_cpu") for r in results)) / wall
        if others > 10:  # percent of one core, cores 0 and 1 together
            notes.append(f"{label}: OTHER PROCESSES used ~{others:.0f}% of a core on cores 0-1 "
                         "during the window: figures perturbed, rerun on an idle machine")
        for r in results:
            r["statuses"].pop("200", None)
            failures.update({f"{label}: HTTP {k}": v for k, v in r["statuses"].items()})
            failures.update({f"{label}: {k}": v for k, v in r["errors"].items()})
            failures[f"{label}: wrong length"] += r["short"]
    total = sum(failures.values())
    rows.append(row("non-200 / client errors / wrong-length answers", total, "count",
                    "all phases", "0", total == 0))
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor())
    report = {"machine": {"nproc": os.cpu_count(), "cpu": cpu, "python": platform.python_version(),
                          "aiohttp": aiohttp.__version__,
                          "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                          "pinning": "emulator core 0, clients core 1" if PINNED else "none"},
              "command": shlex.join(["python", *sys.argv]), "results": rows, "notes": notes,
              "failures": {k: v for k, v in failures.items() if v}, "emulator_stderr": stderr[-20:]}
    print_report(report)
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")


def print_report(report: dict[str, Any]) -> None:
    m = report["machine"]
    print(f"\n## Auraon emulator speed, {m['date']}\n\n- machine: {m['nproc']} cores, {m['cpu']}; "
          f"Python {m['python']}, aiohttp {m['aiohttp']}; pinning: {m['pinning']}\n"
          f"- command: `{report['command']}`\n\n"
          "| metric | value | n | target | result |\n|---|---:|---:|---|---|")
    for r in report["results"]:
        value = f"{r['value']:,.0f}" if abs(r["value"]) >= 1000 else f"{r['value']:.2f}"
        print(f"| {r['metric']} | {value} {r['unit']} | {r['n']} | {r['target']} | {r['status']} |")
    print()
    for line in (*report["notes"], *(f"failure: {k}: {v}" for k, v in report["failures"].items()),
                 *(f"emulator stderr: {ln}" for ln in report["emulator_stderr"])):
        print(f"- {line}")


if __name__ == "__main__":
    main()
