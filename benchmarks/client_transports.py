"""HTTP client transports for the load runner, measured against the reference SSE server.

refserver.py (``--refserver PATH``) runs pinned to core 0, fresh per measurement; each client
measurement is a child process (``--worker SPEC``) pinned to core 1, uvloop, closed loop of N
tasks. Clients: aiohttp (bare, ``content.iter_any()``); httpx-aiohttp/raw|bytes (httpx.AsyncClient
over httpx_aiohttp.AiohttpTransport, ``aiter_raw()``/``aiter_bytes()``); httpx/raw (plain httpx);
thin/raw (httpx.AsyncClient over ThinAiohttpTransport below); facade/bytes (AiohttpFacade below,
httpx-shaped calls straight over aiohttp). All aiohttp-based ones share one session recipe.
Modes: stream-64/-256 (--tokens 64 --itl-ms 0): ``data: {`` events/s (67 per stream, counted
exactly across chunk splits) and req/s; nonstream-64: req/s; ttft-64 (--ttft-ms 20 --itl-ms 1):
median of first ``"delta":{"content":`` arrival - send (perf_counter_ns). Each figure is a window
after a warm-up, with client CPU% (getrusage) and server CPU% (/proc/PID/stat) over the window.

Usage: python benchmarks/client_transports.py [--quick] [--out FILE.json] [--repeats N]
                                              [--refserver PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import platform
import resource
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import aiohttp
import httpx
from yarl import URL

try:
    from uvloop import run as run_loop
except ImportError:
    from asyncio import run as run_loop

ROOT = Path(__file__).resolve().parent.parent
PINNED = {0, 1} <= os.sched_getaffinity(0)
PIN_SERVER, PIN_CLIENT = (["taskset", "-c", "0"], ["taskset", "-c", "1"]) if PINNED else ([], [])
CLIENTS = ["aiohttp", "httpx-aiohttp/raw", "httpx-aiohttp/bytes", "httpx/raw", "thin/raw",
           "facade/bytes"]
MODES = [("stream", 64), ("stream", 256), ("nonstream", 64), ("ttft", 64)]
FAST = ["--tokens", "64", "--itl-ms", "0"]
SERVER_ARGS = {"stream": FAST, "nonstream": FAST,
               "ttft": ["--tokens", "64", "--ttft-ms", "20", "--itl-ms", "1"]}
FULL = {"warmup_s": 2.0, "window_s": 5.0, "repeats": 3}
QUICK = {"warmup_s": 0.5, "window_s": 1.5, "repeats": 1}
OTHER_MAX_PCT, RETRIES = 10.0, 3  # CPU% of other processes tolerated in a window; re-tries
READ_BUFSIZE = 2**18  # aiohttp's own default since 3.12, set explicitly for every aiohttp client
HEADERS = {"Content-Type": "application/json", "Authorization": "Bearer x"}
BODY = {m: json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}],
                       "max_tokens": 64, "stream": m != "nonstream"}).encode() for m in SERVER_ARGS}
EV, CONTENT = b"data: {", b'"delta":{"content":'
TAIL = len(CONTENT) - 1  # bytes carried between chunks so a split marker is seen exactly once


def _map_error(e: Exception) -> httpx.TransportError:
    if isinstance(e, aiohttp.ClientConnectorError):
        return httpx.ConnectError(str(e))
    if isinstance(e, (TimeoutError, aiohttp.ServerTimeoutError)):
        return httpx.ReadTimeout(str(e))
    return httpx.ReadError(str(e))


class ThinAiohttpTransport(httpx.AsyncBaseTransport):
    """httpx transport over a shared aiohttp session: one aiohttp call per request, cached
    ClientTimeout, aiohttp's chunks handed on as they are (one __anext__ per chunk)."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session, self._timeouts = session, {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        t = request.extensions.get("timeout") or {}
        key = (t.get("connect"), t.get("read"), t.get("pool"))
        if (timeout := self._timeouts.get(key)) is None:
            timeout = self._timeouts[key] = aiohttp.ClientTimeout(
                total=None, sock_connect=key[0], sock_read=key[1], connect=key[2])
        try:
            data = request.content or None
        except httpx.RequestNotRead:
            data = request.stream
        try:
            resp = await self._session.request(
                request.method, URL(str(request.url), encoded=True),
                headers=request.headers.multi_items(), data=data, timeout=timeout,
                allow_redirects=False, auto_decompress=False)
        except (TimeoutError, aiohttp.ClientError) as e:
            raise _map_error(e) from e
        ext = {"http_version": b"HTTP/1.1", "reason_phrase": (resp.reason or "").encode()}
        return httpx.Response(resp.status, headers=resp.raw_headers, stream=_Chunks(resp),
                              extensions=ext)

    async def aclose(self) -> None:
        await self._session.close()


class _Chunks(httpx.AsyncByteStream):
    __slots__ = ("_read", "_resp")

    def __init__(self, resp: aiohttp.ClientResponse) -> None:
        self._resp, self._read = resp, resp.content.readany

    def __aiter__(self) -> _Chunks:
        return self

    async def __anext__(self) -> bytes:
        try:
            chunk = await self._read()
        except (TimeoutError, aiohttp.ClientError) as e:
            raise _map_error(e) from e
        if chunk:
            return chunk
        raise StopAsyncIteration

    async def aclose(self) -> None:
        self._resp.release()  # back to the pool if the body was read to the end, else closed


class AiohttpFacade:
    """The slice of httpx.AsyncClient a load runner uses (stream, post, aclose; status_code,
    headers, aiter_bytes/aiter_raw, content; httpx exception types), straight over aiohttp:
    no httpx.Request/Response, URL merging or cookie jar per request. Duck-typed, not httpx."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session

    @contextlib.asynccontextmanager
    async def stream(self, method: str, url: str, *, content=None, headers=None):
        try:
            resp = await self._session.request(method, url, data=content, headers=headers)
        except (TimeoutError, aiohttp.ClientError) as e:
            raise _map_error(e) from e
        try:
            yield _FacadeResponse(resp)
        finally:
            resp.release()

    async def post(self, url: str, *, content=None, headers=None) -> _FacadeResponse:
        async with self.stream("POST", url, content=content, headers=headers) as r:
            r.content = await r._resp.read()
        return r

    async def aclose(self) -> None:
        await self._session.close()


class _FacadeResponse:
    __slots__ = ("_resp", "content", "headers", "status_code")

    def __init__(self, resp: aiohttp.ClientResponse) -> None:
        self._resp, self.status_code, self.headers = resp, resp.status, resp.headers

    def aiter_bytes(self) -> _Chunks:
        return _Chunks(self._resp)  # decoded: aiohttp's auto_decompress is on in this session

    aiter_raw = aiter_bytes


# ---------------------------------------------------------------- worker (one client process)
class Stats:
    def __init__(self) -> None:
        self.reqs = self.events = self.chunks = self.errors = 0
        self.ttft: list[float] = []


async def consume(chunks, st: Stats) -> int:
    """Counts events across chunk boundaries; returns the first content event's arrival (ns)."""
    tail, first = b"", 0
    async for chunk in chunks:
        buf = tail + chunk
        st.chunks += 1
        st.events += buf.count(EV) - tail.count(EV)
        if not first and CONTENT in buf:
            first = time.perf_counter_ns()
        tail = buf[-TAIL:]
    return first


def aiohttp_session(conc: int) -> aiohttp.ClientSession:
    conn = aiohttp.TCPConnector(limit=conc, limit_per_host=0, keepalive_timeout=60)
    return aiohttp.ClientSession(connector=conn, read_bufsize=READ_BUFSIZE,
                                 timeout=aiohttp.ClientTimeout(total=None, sock_read=60))


def make_client(name: str, conc: int):
    kind, timeout = name.split("/")[0], httpx.Timeout(60.0)
    if kind == "aiohttp":
        return aiohttp_session(conc)
    if kind == "facade":
        return AiohttpFacade(aiohttp_session(conc))
    if kind == "thin":
        return httpx.AsyncClient(transport=ThinAiohttpTransport(aiohttp_session(conc)),
                                 timeout=timeout)
    if kind == "httpx-aiohttp":
        import httpx_aiohttp
        tr = httpx_aiohttp.AiohttpTransport(client=aiohttp_session(conc))
        return httpx.AsyncClient(transport=tr, timeout=timeout)
    return httpx.AsyncClient(timeout=timeout, limits=httpx.Limits(
        max_connections=conc, max_keepalive_connections=conc))


def request_fn(name: str, client, url: str, mode: str):
    body, raw = BODY[mode], name.endswith("/raw")
    if name == "aiohttp":
        async def one(st: Stats) -> int:
            async with client.post(url, data=body, headers=HEADERS) as r:
                if r.status != 200:
                    raise RuntimeError(f"HTTP {r.status}")
                if mode == "nonstream":
                    if not await r.read():
                        raise RuntimeError("empty body")
                    return 0
                return await consume(r.content.iter_any(), st)
        return one

    async def one_httpx(st: Stats) -> int:
        if mode == "nonstream":
            r = await client.post(url, content=body, headers=HEADERS)
            if r.status_code != 200 or not r.content:
                raise RuntimeError(f"HTTP {r.status_code}")
            return 0
        async with client.stream("POST", url, content=body, headers=HEADERS) as r:
            if r.status_code != 200:
                raise RuntimeError(f"HTTP {r.status_code}")
            return await consume(r.aiter_raw() if raw else r.aiter_bytes(), st)
    return one_httpx


def cpu_now(server_pid: int) -> tuple[float, float, float]:
    """CPU seconds: this process (getrusage), the server (/proc/PID/stat), all cores
    (/proc/stat busy time; what the two leave is other load sharing the machine)."""
    ru, tck = resource.getrusage(resource.RUSAGE_SELF), os.sysconf("SC_CLK_TCK")
    try:
        f = Path(f"/proc/{server_pid}/stat").read_text().rsplit(")", 1)[1].split()
        srv = (int(f[11]) + int(f[12])) / tck
    except (OSError, IndexError, ValueError):
        srv = float("nan")
    c = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return ru.ru_utime + ru.ru_stime, srv, (sum(c) - c[3] - c[4]) / tck  # minus idle, iowait


async def worker(spec: dict) -> dict:
    name, mode, conc = spec["client"], spec["mode"], spec["conc"]
    client = make_client(name, conc)
    one, st, stop = request_fn(name, client, spec["url"], mode), Stats(), asyncio.Event()
    win = [time.perf_counter_ns() + int(spec["warmup_s"] * 1e9), 0]  # window edges, ns

    async def loop() -> None:
        while not stop.is_set():
            t0 = time.perf_counter_ns()
            try:
                first = await one(st)
            except Exception:
                st.errors += 1
                await asyncio.sleep(0.01)
                continue
            st.reqs += 1
            if first and win[0] <= t0 and (not win[1] or t0 < win[1]):
                st.ttft.append((first - t0) / 1e6)

    def snap() -> tuple:
        return (time.perf_counter_ns(), st.reqs, st.events, st.chunks, st.errors,
                *cpu_now(spec["server_pid"]))

    tasks = [asyncio.create_task(loop()) for _ in range(conc)]
    try:
        await asyncio.sleep(spec["warmup_s"])
        a = snap()
        win[0] = a[0]
        await asyncio.sleep(spec["window_s"])
        b = snap()
        win[1] = b[0]
    finally:
        stop.set()
        _, pending = await asyncio.wait(tasks, timeout=10)
        for t in pending:
            t.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        await asyncio.wait_for(client.close() if name == "aiohttp" else client.aclose(), 10)
    el, reqs, evs, chunks, errs, cpu, srv, busy = (y - x for x, y in zip(a, b, strict=True))
    el /= 1e9
    return {"client": name, "mode": mode, "conc": conc, "window_s": round(el, 3), "reqs": reqs,
            "req_s": reqs / el, "events_s": evs / el, "chunks_per_req": chunks / max(reqs, 1),
            "errors": errs, "client_cpu_pct": 100 * cpu / el, "server_cpu_pct": 100 * srv / el,
            "other_cpu_pct": 100 * (busy - cpu - srv) / el,
            "ttft_samples": len(st.ttft),
            "ttft_median_ms": statistics.median(st.ttft) if st.ttft else None}


# ---------------------------------------------------------------- driver
def start_server(refserver: Path, mode: str) -> tuple[subprocess.Popen, int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([*PIN_SERVER, sys.executable, str(refserver), str(port),
                             *SERVER_ARGS[mode]], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    stop_server(proc)
    raise RuntimeError(f"refserver not listening: {proc.stderr.read().decode()[-300:]}")


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_idle(limit_s: float = 180) -> None:
    """Wait (bounded) until other processes leave the cores mostly idle for 1 s."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        a = cpu_now(os.getpid())[2]
        time.sleep(1)
        if 100 * (cpu_now(os.getpid())[2] - a) <= OTHER_MAX_PCT:
            return
        time.sleep(2)


def measure(refserver: Path, client: str, mode: str, conc: int, cfg: dict) -> dict:
    fail = {"client": client, "mode": mode, "conc": conc}
    try:
        proc, port = start_server(refserver, mode)
    except RuntimeError as e:
        return {**fail, "failed": str(e)}
    try:
        spec = {"client": client, "mode": mode, "conc": conc, "server_pid": proc.pid,
                "url": f"http://127.0.0.1:{port}/v1/chat/completions",
                "warmup_s": cfg["warmup_s"], "window_s": cfg["window_s"]}
        out = subprocess.run([*PIN_CLIENT, sys.executable, __file__, "--worker", json.dumps(spec)],
                             capture_output=True, text=True,
                             timeout=cfg["warmup_s"] + cfg["window_s"] + 60)
        if out.returncode != 0:
            return {**fail, "failed": out.stderr[-500:]}
        return json.loads(out.stdout.strip().splitlines()[-1])
    except subprocess.TimeoutExpired:
        return {**fail, "failed": "worker timed out"}
    finally:
        stop_server(proc)


def machine_info() -> dict:
    lines = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name")),
               platform.processor())
    pkgs = ("aiohttp", "httpx", "httpx-aiohttp", "httpcore", "uvloop")
    return {"nproc": os.cpu_count(), "cpu": cpu, "python": platform.python_version(),
            "versions": {p: metadata.version(p) for p in pkgs}, "pinned": PINNED,
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "command": shlex.join(["python", *sys.argv])}


def summarise(results: list[dict]) -> list[dict]:
    rows = []
    for mc in MODES:
        (mode, conc), base = mc, None
        key = "req_s" if mode == "nonstream" else "events_s"
        for client in CLIENTS:
            runs = [r for r in results if (r["client"], r["mode"], r["conc"]) == (client, *mc)]
            ok = [r for r in runs if "failed" not in r]
            if not runs:
                continue
            row = {"client": client, "mode": mode, "conc": conc, "runs": len(ok),
                   "failed": len(runs) - len(ok), "errors": sum(r["errors"] for r in ok)}
            for k in ("req_s", "events_s", "ttft_median_ms", "client_cpu_pct", "server_cpu_pct",
                      "other_cpu_pct"):
                xs = [r[k] for r in ok if r.get(k) is not None]
                row[k] = statistics.median(xs) if xs else None
            if len(ok) > 1 and row[key]:
                xs = [r[key] for r in ok]
                row["spread_pct"] = 100 * (max(xs) - min(xs)) / row[key]
            base = row if client == "aiohttp" else base
            if base and row[key] and base[key]:
                row["pct_of_aiohttp"] = 100 * row[key] / base[key]
            if base and None not in (row["ttft_median_ms"], base["ttft_median_ms"]):
                row["ttft_delta_ms"] = row["ttft_median_ms"] - base["ttft_median_ms"]
            rows.append(row)
    return rows


def markdown(rows: list[dict], info: dict, cfg: dict) -> str:
    def f(v, spec):
        return "-" if v is None else format(v, spec)
    out = ["| client | mode | conc | req/s | events/s | median TTFT ms | Δ TTFT ms | % of aiohttp "
           "| spread % | client CPU% | server CPU% | other CPU% | errors |", "|" + "---|" * 13]
    for r in rows:
        failed = f" ({r['failed']} runs failed)" if r["failed"] else ""
        out.append(f"| {r['client']} | {r['mode']} | {r['conc']} | {f(r['req_s'], ',.0f')} | "
                   f"{f(r['events_s'] if r['mode'] != 'nonstream' else None, ',.0f')} | "
                   f"{f(r['ttft_median_ms'], '.2f')} | {f(r.get('ttft_delta_ms'), '+.2f')} | "
                   f"{f(r.get('pct_of_aiohttp'), '.0f')} | {f(r.get('spread_pct'), '.0f')} | "
                   f"{f(r['client_cpu_pct'], '.0f')} | {f(r['server_cpu_pct'], '.0f')} | "
                   f"{f(r['other_cpu_pct'], '.0f')} | "
                   f"{r['errors']}{failed} |")
    v = info["versions"]
    out += ["", f"Machine: {info['nproc']} cores ({info['cpu']}), Python {info['python']}, "
            f"aiohttp {v['aiohttp']}, httpx {v['httpx']}, httpx-aiohttp {v['httpx-aiohttp']}, "
            f"httpcore {v['httpcore']}, uvloop {v['uvloop']}; {info['date']}. Server pinned to "
            f"core 0, clients to core 1: {'yes' if info['pinned'] else 'NO (cores 0,1 missing)'}.",
            f"{cfg['warmup_s']} s warm-up + {cfg['window_s']} s window, medians of "
            f"{cfg['repeats']} repeat(s); spread = (max-min)/median of the %-column metric: "
            "events/s (stream, ttft) or req/s (nonstream). Δ TTFT = median TTFT - bare aiohttp's. "
            f"Other CPU% = other processes on the machine (a run is re-measured, up to {RETRIES} "
            f"times, while it exceeds {OTHER_MAX_PCT:.0f}%).",
            f"Command: `{info['command']}`"]
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="short windows, one repeat")
    ap.add_argument("--out", help="also write every run and the summary as JSON")
    ap.add_argument("--repeats", type=int, help="repeats per measurement (medians reported)")
    ap.add_argument("--refserver", default=str(ROOT / ".." / "shared" / "bench" / "refserver.py"))
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(run_loop(worker(json.loads(args.worker)))))
        return
    refserver = Path(args.refserver).resolve()
    if not refserver.is_file():
        sys.exit(f"error: refserver not found at {refserver} (pass --refserver PATH)")
    cfg = {**(QUICK if args.quick else FULL), **({"repeats": args.repeats} if args.repeats else {})}
    info, results = machine_info(), []
    for rep in range(cfg["repeats"]):
        for mode, conc in MODES:
            for client in CLIENTS:
                if mode == "nonstream" and client == "httpx-aiohttp/bytes":
                    continue  # no streaming read: the same as httpx-aiohttp/raw
                for attempt in range(1 + RETRIES):  # re-measure if other load shared the cores
                    wait_idle()
                    r = {**measure(refserver, client, mode, conc, cfg), "repeat": rep,
                         "attempt": attempt}
                    if r.get("other_cpu_pct", 0) <= OTHER_MAX_PCT:
                        break
                    time.sleep(5)
                results.append(r)
                print(f"# {json.dumps(r)[:300]}", file=sys.stderr, flush=True)
    print(markdown(summarise(results), info, cfg))
    if args.out:
        Path(args.out).write_text(json.dumps({"machine": info, "config": cfg, "runs": results,
                                              "summary": summarise(results)}, indent=1))


if __name__ == "__main__":
    main()
