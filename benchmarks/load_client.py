"""Does `auraon-bench load` measure the target, not itself? Four measurements, one script.

Against ../shared/bench/refserver.py (the fixed yardstick), pinned to core 0, with the client
under test pinned to core 1 (`taskset`), in the same run:

1. streaming throughput at 64 and 256 concurrent streams (64 content events per response, no
   delay): events/s of `auraon-bench load` as a share of a minimal bare-aiohttp client's
   (target >= 80%);
2. client-added TTFT: refserver with a 20 ms TTFT and 1 ms gaps, 64 streams: median TTFT of
   `auraon-bench load` minus the bare client's (target <= 1 ms);
3. constant rate 1,000 req/s for 30 s, non-streaming: achieved rate and schedule lag p99 from the
   run's own self-check (targets: within 2%, p99 < 5 ms);
4. one million non-streaming requests at 64 connections: peak RSS of the client process and the
   rows in requests.parquet (targets: < 500 MB, 1,000,000 rows).

usage: python benchmarks/load_client.py [--quick] [--phases streaming,ttft,rate,million]
                                        [--refserver PATH] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
sys.path.insert(0, str(ROOT))
from proc_tools import RefServer, machine  # noqa: E402

# --- the minimal bare-aiohttp client (runs in a child process on core 1) ----------------------
BARE = r"""
import asyncio, json, sys, time
import aiohttp
try:
    import uvloop
except ImportError:
    uvloop = None
url, conc, n, stream = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1"
body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}],
                   "stream": stream}).encode()
async def main():
    events, ttfts, left = 0, [], n
    conn = aiohttp.TCPConnector(limit=conc)
    async with aiohttp.ClientSession(connector=conn) as s:
        async def worker():
            nonlocal events, left
            while left > 0:
                left -= 1
                t0 = time.perf_counter_ns()
                first = None
                async with s.post(url, data=body,
                                  headers={"content-type": "application/json"}) as r:
                    if not stream:
                        await r.read()
                        continue
                    async for line in r.content:
                        if line.startswith(b'data: {"id"') and b'"content":" tok"' in line:
                            events += 1
                            if first is None:
                                first = time.perf_counter_ns()
                if first is not None:
                    ttfts.append((first - t0) / 1e6)
        t = time.perf_counter()
        await asyncio.gather(*[worker() for _ in range(conc)])
        dt = time.perf_counter() - t
    cpu = time.process_time()
    print(json.dumps({"events_per_s": events / dt, "requests_per_s": n / dt,
                      "median_ttft_ms": sorted(ttfts)[len(ttfts) // 2] if ttfts else None,
                      "cpu_s": cpu, "wall_s": dt}))
(uvloop.run if uvloop else asyncio.run)(main())
"""


def bare(url: str, conc: int, n: int, stream: bool) -> dict:
    out = subprocess.run(
        [
            "taskset",
            "-c",
            "1",
            PY,
            "-c",
            BARE,
            f"{url}/chat/completions",
            str(conc),
            str(n),
            "1" if stream else "0",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def ours(base_url: str, out_dir: Path, *args: str) -> tuple[dict, dict, float]:
    """Run `auraon-bench load` on core 1; returns (manifest, summary, peak RSS MB)."""
    command = [
        "taskset",
        "-c",
        "1",
        PY,
        "-m",
        "auraon_bench",
        "load",
        "--base-url",
        base_url,
        "--yes",
        "--model",
        "m",
        "--out",
        str(out_dir),
        *args,
    ]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    subprocess.run(
        command,
        check=True,
        timeout=3600,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=out_dir.parent,
    )
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    manifest = json.loads((out_dir / "manifest.json").read_text())
    summary = json.loads((out_dir / "summary.json").read_text())
    # ru_maxrss of children is the max over all children so far: only meaningful if it rose.
    return manifest, summary, (peak_kb if peak_kb > before else float("nan")) / 1024


def events_per_s(out_dir: Path) -> float:
    import pyarrow.parquet as pq

    table = pq.read_table(out_dir / "requests.parquet", columns=["n_events", "t_sent", "t_done"])
    df = table.to_pandas()
    return float(df["n_events"].sum() / (df["t_done"].max() - df["t_sent"].min()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="short phases, for a smoke test")
    parser.add_argument("--phases", default="streaming,ttft,rate,million")
    parser.add_argument(
        "--refserver", type=Path, default=ROOT.parent / "shared" / "bench" / "refserver.py"
    )
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if not args.refserver.exists():
        raise SystemExit(f"refserver not found: {args.refserver} (pass --refserver PATH)")
    phases = set(args.phases.split(","))
    quick = args.quick
    rows: list[dict] = []
    work = Path(tempfile.mkdtemp(prefix="auraon-bench-"))

    def add(metric: str, value: float | None, unit: str, n: object, target: str, ok: bool | None):
        rows.append(
            {"metric": metric, "value": value, "unit": unit, "n": n, "target": target, "pass": ok}
        )
        verdict = {True: "pass", False: "FAIL", None: ""}[ok]
        print(f"{metric}: {value} {unit} (n={n}) {target} {verdict}", file=sys.stderr, flush=True)

    if "streaming" in phases:
        with RefServer(args.refserver, "--tokens", "64") as server:
            for conc in (64, 256):
                n = 2000 if quick else 20000
                base = bare(server.base_url, conc, n, True)
                out = work / f"stream-{conc}"
                ours(server.base_url, out, "--concurrency", str(conc), "--requests", str(n))
                mine = events_per_s(out)
                share = mine / base["events_per_s"]
                add(
                    f"bare aiohttp events/s, {conc} streams",
                    round(base["events_per_s"]),
                    "events/s",
                    n * 64,
                    "",
                    None,
                )
                add(
                    f"auraon-bench load events/s, {conc} streams",
                    round(mine),
                    "events/s",
                    n * 64,
                    f">= 80% of bare ({share * 100:.0f}%)",
                    share >= 0.8,
                )
    if "ttft" in phases:
        with RefServer(args.refserver, "--tokens", "64", "--ttft-ms", "20", "--itl-ms", "1") as s:
            n = 640 if quick else 3200
            base = bare(s.base_url, 64, n, True)
            out = work / "ttft"
            _, summary, _ = ours(s.base_url, out, "--concurrency", "64", "--requests", str(n))
            mine_ms = summary["arms"]["m"]["ttft_s"]["p50"] * 1000
            added = mine_ms - base["median_ttft_ms"]
            add("bare aiohttp median TTFT", round(base["median_ttft_ms"], 3), "ms", n, "", None)
            add(
                "auraon-bench load median TTFT",
                round(mine_ms, 3),
                "ms",
                n,
                f"client-added {added:+.3f} ms (<= 1 ms)",
                added <= 1.0,
            )
    if "rate" in phases:
        with RefServer(args.refserver, "--tokens", "16") as server:
            duration = 5 if quick else 30
            out = work / "rate"
            manifest, _, _ = ours(
                server.base_url, out, "--rate", "1000", "--duration", str(duration), "--no-stream"
            )
            check = manifest["self_check"]
            achieved = check["achieved_rate_rps"]
            add(
                "constant 1,000 req/s: achieved",
                round(achieved, 1),
                "req/s",
                manifest["counts"]["records"],
                "within 2%",
                abs(achieved - 1000) <= 20,
            )
            lag = check["schedule_lag_p99_s"] * 1000
            add(
                "constant 1,000 req/s: schedule lag p99",
                round(lag, 3),
                "ms",
                manifest["counts"]["records"],
                "< 5 ms",
                lag < 5,
            )
    if "million" in phases:
        with RefServer(args.refserver, "--tokens", "16") as server:
            n = 50_000 if quick else 1_000_000
            out = work / "million"
            _, _, rss = ours(
                server.base_url, out, "--concurrency", "64", "--requests", str(n), "--no-stream"
            )
            import pyarrow.parquet as pq

            rows_written = pq.ParquetFile(out / "requests.parquet").metadata.num_rows
            add(
                f"{n:,} non-streaming requests: peak RSS",
                round(rss, 1),
                "MB",
                n,
                "< 500 MB",
                rss < 500,
            )
            add(
                f"{n:,} non-streaming requests: rows in requests.parquet",
                rows_written,
                "rows",
                n,
                f"== {n:,}",
                rows_written == n,
            )
    info = machine()
    command = "python benchmarks/load_client.py " + " ".join(sys.argv[1:])
    print(
        f"\nMachine: {info['cpus']} CPUs, {info['cpu_model']}, Python {info['python']}, "
        f"{info['date']}\nCommand: {command}\n"
    )
    print("| metric | value | unit | n | target | result |\n|---|---|---|---|---|---|")
    for row in rows:
        verdict = {True: "pass", False: "FAIL", None: ""}[row["pass"]]
        print(
            f"| {row['metric']} | {row['value']} | {row['unit']} | {row['n']} | "
            f"{row['target']} | {verdict} |"
        )
    if args.out:
        args.out.write_text(
            json.dumps({"machine": info, "command": command, "rows": rows}, indent=2)
        )


if __name__ == "__main__":
    main()
