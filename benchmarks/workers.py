"""What does `auraon-bench load --workers 2` buy over one process on this machine? Two phases.

Against ../shared/bench/refserver.py (the fixed yardstick: one asyncio process, one port, no
SO_REUSEPORT), started afresh for every run:

1. closed loop: 64 concurrent streams of 256 content events each at zero delay (the server
   writes a whole answer in one chunk, so a request costs it a few tens of microseconds while the
   client parses 256 SSE events and stamps each one). Completed requests/s and content events/s
   from requests.parquet with `--workers 1` (the default, in-process path) and `--workers 2`,
   the split's efficiency throughput(2) / (2 x throughput(1)) and the load's CPU per request;
2. open loop: constant rates stepped up (non-streamed 16-token answers) with 1 and 2 workers:
   achieved rate, schedule lag p99 and `kept_schedule` from the run's own self-check.

Placement: nothing is pinned. On 2 cores the server, the load process and its workers all
compete, and pinning the server to one core would leave one worker sharing it anyway. So the
kernel places every process, and the script measures each one's CPU (/proc/PID/stat
utime+stime, sampled every 0.1 s) over the middle 90% of the server's work in each run, with
both cores' busy time (/proc/stat). A server at >= 90% of a core would make a figure
server-bound; the last rows say whether it happened and how busy the cores were otherwise.

Every run's records are checked: one row per request sent (closed loop: == --requests; open
loop: == the schedule's length), each request id once, ids 0..N-1, worker == id mod N, every
worker present, all answers ok with the full event count, and the server's own request count
equal to the rows.

usage: python benchmarks/workers.py [--quick] [--phases closed,open] [--refserver PATH]
                                    [--out FILE.json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
CLK_TCK = os.sysconf("SC_CLK_TCK")
SAMPLE_S = 0.1
WINDOW = (0.05, 0.95)  # CPU is measured between these shares of the server's work
SERVER_BOUND = 0.90  # a server at this share of a core or more sets the pace
RUN_TIMEOUT_S = 300.0

sys.path.insert(0, str(ROOT))
from proc_tools import children, free_port, machine, scheduled, stop, wait_for_port  # noqa: E402

FULL = {
    "closed_requests": 40_000,  # ~25-30 s with 1 worker, ~15 s with 2
    "repeats": 3,  # closed-loop runs per worker count, alternated 1, 2, 1, 2, 1, 2
    "rates": (2_000, 3_000, 4_000, 5_000),
    "duration": 20.0,
}
QUICK = {"closed_requests": 4_000, "repeats": 1, "rates": (2_000, 4_000), "duration": 4.0}
CONCURRENCY = 64
STREAM_TOKENS = 256
OPEN_TOKENS = 16


# ---- processes and /proc -------------------------------------------------------------------------


def stat_fields(pid: int) -> list[str] | None:
    """/proc/PID/stat after the command name (field 3 onwards); a zombie still has them."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def cpu_ticks(pid: int) -> int | None:
    fields = stat_fields(pid)
    return None if fields is None else int(fields[11]) + int(fields[12])  # utime + stime


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def cores() -> list[tuple[int, int]]:
    """(busy, total) ticks of each core, every process and the kernel included."""
    out = []
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("cpu") and line[3].isdigit():
            ticks = [int(x) for x in line.split()[1:9]]
            out.append((sum(ticks) - ticks[3] - ticks[4], sum(ticks)))  # minus idle, iowait
    return out


class RefServer:
    """The yardstick server, unpinned, on a free port; SIGTERM on exit, then its --stats."""

    def __init__(self, path: Path, work: Path, *args: str) -> None:
        self.port = free_port()
        self.stats_file = work / f"refserver-{self.port}.json"
        self.stats: dict[str, Any] = {}
        self.proc: subprocess.Popen[bytes] | None = subprocess.Popen(
            [PY, str(path), str(self.port), "--stats", str(self.stats_file), *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if not wait_for_port(self.port):
            self.close()
            raise SystemExit(f"refserver did not start on port {self.port}")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def close(self) -> None:
        stop(self.proc, 10)
        self.proc = None
        with contextlib.suppress(OSError, ValueError):
            self.stats = json.loads(self.stats_file.read_text())

    def __enter__(self) -> RefServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---- one run -------------------------------------------------------------------------------------


@dataclass
class Sample:
    t: float
    ticks: dict[int, int]
    cores: list[tuple[int, int]]


@dataclass
class Run:
    label: str
    workers: int
    command: list[str]
    run_dir: Path
    samples: list[Sample] = field(default_factory=list)
    roles: dict[int, str] = field(default_factory=dict)  # pid -> server/load/worker i/tracker
    wall_s: float = 0.0
    server_stats: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    records: dict[str, Any] = field(default_factory=dict)
    cpu: dict[str, Any] = field(default_factory=dict)


def load_command(base_url: str, run_dir: Path, workers: int, *args: str) -> list[str]:
    command = [
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
        str(run_dir),
        *args,
    ]
    # --workers 1 is the default, in-process path: leave the flag out, as a user would.
    return command + (["--workers", str(workers)] if workers > 1 else [])


def run_load(server: RefServer, run: Run, log: Path) -> None:
    """Run `auraon-bench load`, sampling every process's CPU until it exits."""
    run.roles[server.pid] = "server"
    started = time.monotonic()
    with log.open("wb") as err:
        proc = subprocess.Popen(
            run.command, stdout=subprocess.DEVNULL, stderr=err, cwd=run.run_dir.parent
        )
        try:
            run.roles[proc.pid] = "load" if run.workers == 1 else "coordinator"
            workers: list[tuple[int, int]] = []  # (start time, pid)
            while proc.poll() is None:
                now = time.monotonic()
                if now - started > RUN_TIMEOUT_S:
                    raise RuntimeError(f"{run.label}: no end after {RUN_TIMEOUT_S:g} s")
                for kid in children(proc.pid):
                    # A child seen between fork and exec still has its parent's command line:
                    # look again until it shows what it became.
                    if run.roles.get(kid, "other child") != "other child":
                        continue
                    line = cmdline(kid)
                    if "resource_tracker" in line:
                        run.roles[kid] = "tracker"
                    elif "spawn_main" in line:
                        fields = stat_fields(kid)
                        workers.append((int(fields[19]) if fields else 0, kid))
                        run.roles[kid] = "worker ?"
                    else:
                        run.roles[kid] = "other child"
                # Workers are started in index order (LocalExecutor.start): by start time, pid.
                for index, (_, pid) in enumerate(sorted(workers)):
                    run.roles[pid] = f"worker {index}"
                ticks = {pid: t for pid in run.roles if (t := cpu_ticks(pid)) is not None}
                run.samples.append(Sample(now, ticks, cores()))
                time.sleep(max(0.0, SAMPLE_S - (time.monotonic() - now)))
        except BaseException:
            stop(proc, 30)
            raise
    run.wall_s = time.monotonic() - started
    if proc.returncode != 0:
        tail = log.read_text(errors="replace")[-2000:]
        raise RuntimeError(f"{run.label}: load exited with {proc.returncode}\n{tail}")
    run.summary = json.loads((run.run_dir / "summary.json").read_text())


def cpu_window(run: Run) -> dict[str, Any]:
    """CPU share of a core of each process between 5% and 95% of the server's work, and the
    load's CPU per request (the server does the same work per request, so its share of work
    done is the share of requests served in the window)."""
    samples = run.samples
    server = next(pid for pid, role in run.roles.items() if role == "server")

    def ticks(sample: Sample, pid: int) -> int | None:
        return sample.ticks.get(pid)

    def last_known(index: int, pid: int) -> int:
        # A process not yet seen counts from its first sample, one gone from its last.
        for sample in reversed(samples[: index + 1]):
            if (t := ticks(sample, pid)) is not None:
                return t
        return next((t for s in samples if (t := ticks(s, pid)) is not None), 0)

    served = [last_known(i, server) for i in range(len(samples))]
    total = served[-1] - served[0] if samples else 0
    if total < 5:  # fewer than 5 ticks of server work: nothing to place a window on
        return {"window_s": None}
    i0 = next(i for i, s in enumerate(served) if s - served[0] >= WINDOW[0] * total)
    i1 = next(i for i, s in enumerate(served) if s - served[0] >= WINDOW[1] * total)
    if i1 <= i0:
        return {"window_s": None}
    dt = samples[i1].t - samples[i0].t
    shares: dict[str, float] = {}
    for pid, role in run.roles.items():  # several "other child" processes add up
        used = (last_known(i1, pid) - last_known(i0, pid)) / CLK_TCK / dt
        shares[role] = shares.get(role, 0.0) + used
    load_share = sum(v for role, v in shares.items() if role != "server")
    core_shares = [
        (b1 - b0) / (t1 - t0) if t1 > t0 else 0.0
        for (b0, t0), (b1, t1) in zip(samples[i0].cores, samples[i1].cores, strict=True)
    ]
    work = (served[i1] - served[i0]) / total
    requests = run.records.get("rows", 0) * work
    return {
        "window_s": dt,
        "server_work_share": work,
        "shares": shares,
        "load": load_share,
        "server": shares.get("server", 0.0),
        "cores": core_shares,
        "other": max(0.0, sum(core_shares) - load_share - shares.get("server", 0.0)),
        "load_cpu_us_per_request": load_share * dt / requests * 1e6 if requests else None,
    }


def check_records(run: Run, expected: int, tokens: int, stream: bool) -> dict[str, Any]:
    """One row per request sent, each id once, the split as documented, every answer whole."""
    import pyarrow.parquet as pq

    columns = [
        "request_id",
        "worker",
        "attempt",
        "status",
        "n_events",
        "completion_tokens",
        "t_sent",
        "t_done",
        "schedule_lag_s",
    ]
    df = pq.read_table(run.run_dir / "requests.parquet", columns=columns).to_pandas()
    ids = df["request_id"]
    ok = df[df["status"] == "ok"]
    window = float(df["t_done"].max() - df["t_sent"].min())
    ends = df.groupby("worker")["t_done"].max()
    problems = []
    if len(df) != expected:
        problems.append(f"{len(df)} rows, {expected} sent")
    if ids.duplicated().any():
        problems.append(f"{int(ids.duplicated().sum())} duplicate request ids")
    if len(df) and (ids.min() != 0 or ids.max() != len(df) - 1):
        problems.append(f"ids {ids.min()}..{ids.max()} for {len(df)} rows")
    if set(df["worker"].unique()) != set(range(run.workers)):
        problems.append(f"workers {sorted(df['worker'].unique())} in the worker column")
    if ((ids % run.workers) != df["worker"]).any():
        problems.append("worker != request_id mod workers")
    if (df["attempt"] != 1).any():
        problems.append("retries")
    if len(ok) != len(df):
        problems.append(f"{len(df) - len(ok)} not ok: {df['status'].value_counts().to_dict()}")
    if (ok["completion_tokens"] != tokens).any():
        problems.append(
            f"{int((ok['completion_tokens'] != tokens).sum())} answers not {tokens} tokens"
        )
    if stream and (ok["n_events"] != tokens).any():
        problems.append(f"{int((ok['n_events'] != tokens).sum())} streams without {tokens} events")
    served = run.server_stats.get("requests")
    if served != len(df):
        problems.append(f"server counted {served} requests, {len(df)} rows")
    per_worker = {int(k): int(v) for k, v in df["worker"].value_counts().items()}
    said = {w["worker"]: w["requests"] for w in run.summary["self_check"].get("workers", [])}
    if said and said != per_worker:
        problems.append(f"self-check says {said} requests per worker, rows {per_worker}")
    if run.summary.get("overall", {}).get("requests") != len(df):
        problems.append(f"summary.json counts {run.summary.get('overall', {}).get('requests')}")
    return {
        "rows": len(df),
        "expected": expected,
        "ok": len(ok),
        "per_worker": per_worker,
        "window_s": window,
        "requests_per_s": len(ok) / window if window > 0 else 0.0,
        "events_per_s": float(ok["n_events"].sum()) / window if window > 0 else 0.0,
        "tail_s": float(ends.max() - ends.min()) if len(ends) > 1 else 0.0,
        "late_10ms_share": float((df["schedule_lag_s"] > 0.010).mean()) if len(df) else 0.0,
        "problems": problems,
    }


def one_run(
    refserver: Path,
    work: Path,
    label: str,
    workers: int,
    server_args: list[str],
    load_args: list[str],
    expected: int,
    tokens: int,
    stream: bool,
) -> Run:
    run_dir = work / label.replace(" ", "-").replace(",", "")
    with RefServer(refserver, work, *server_args) as server:
        run = Run(
            label, workers, load_command(server.base_url, run_dir, workers, *load_args), run_dir
        )
        run_load(server, run, work / f"{run_dir.name}.stderr")
    run.server_stats = server.stats
    run.records = check_records(run, expected, tokens, stream)
    run.cpu = cpu_window(run)
    return run


# ---- report --------------------------------------------------------------------------------------


def pct(x: float | None) -> str:
    return "-" if x is None else f"{x * 100:.0f}%"


def cpu_note(run: Run) -> str:
    """Who used what, in shares of a core over the window; the self-check's figure beside it."""
    cpu = run.cpu
    if cpu.get("window_s") is None:
        return "CPU window not found (too little server work)"
    shares = cpu["shares"]
    parts = []
    if run.workers == 1:
        parts.append(f"load {pct(shares.get('load'))} (self-check {pct(self_cpu(run))})")
    else:
        for worker in run.summary["self_check"].get("workers", []):
            i = worker["worker"]
            parts.append(
                f"worker {i} {pct(shares.get(f'worker {i}'))} "
                f"(self-check {pct(worker['client_cpu_share'])})"
            )
        parts.append(f"coordinator {pct(shares.get('coordinator'))}")
    parts.append(f"server {pct(cpu['server'])}")
    parts.append(
        "cores " + "/".join(pct(c) for c in cpu["cores"]) + f" (other {pct(cpu['other'])})"
    )
    return ", ".join(parts)


def self_cpu(run: Run) -> float | None:
    return run.summary.get("self_check", {}).get("client_cpu_share")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="short runs, for a smoke test")
    parser.add_argument("--phases", default="closed,open")
    parser.add_argument(
        "--refserver", type=Path, default=ROOT.parent / "shared" / "bench" / "refserver.py"
    )
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if not args.refserver.exists():
        raise SystemExit(f"refserver not found: {args.refserver} (pass --refserver PATH)")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the finally-blocks clean up
    plan = QUICK if args.quick else FULL
    phases = set(args.phases.split(","))
    info = machine()
    rows: list[dict[str, Any]] = []
    runs: list[Run] = []
    work = Path(tempfile.mkdtemp(prefix="auraon-workers-"))
    failed = True

    def add(metric: str, value: Any, unit: str, n: object, notes: str, result: str) -> None:
        rows.append(
            {
                "metric": metric,
                "value": value,
                "unit": unit,
                "n": n,
                "notes": notes,
                "result": result,
            }
        )
        print(f"{metric}: {value} {unit} (n={n}) {notes} {result}", file=sys.stderr, flush=True)

    def progress(run: Run) -> None:
        rec = run.records
        events = f"{rec['events_per_s']:,.0f} events/s, " if rec["events_per_s"] else ""
        print(
            f"  {run.label}: {rec['requests_per_s']:,.0f} req/s done, {events}{rec['rows']} "
            f"rows, {cpu_note(run)}, wall {run.wall_s:.1f} s",
            file=sys.stderr,
            flush=True,
        )

    try:
        if "closed" in phases:
            n = plan["closed_requests"]
            closed: dict[int, list[Run]] = {1: [], 2: []}
            for repeat in range(plan["repeats"]):
                for workers in (1, 2):
                    run = one_run(
                        args.refserver,
                        work,
                        f"closed w{workers} r{repeat}",
                        workers,
                        ["--tokens", str(STREAM_TOKENS)],
                        [
                            "--concurrency",
                            str(CONCURRENCY),
                            "--requests",
                            str(n),
                            "--output-tokens",
                            str(STREAM_TOKENS),
                            "--stream",
                        ],
                        n,
                        STREAM_TOKENS,
                        True,
                    )
                    closed[workers].append(run)
                    runs.append(run)
                    progress(run)
            report_closed(closed, n, add)
        if "open" in phases:
            duration = plan["duration"]
            kept: dict[int, list[float]] = {1: [], 2: []}
            opened: list[Run] = []
            for rate in plan["rates"]:
                for workers in (1, 2):
                    run = one_run(
                        args.refserver,
                        work,
                        f"open {rate} w{workers}",
                        workers,
                        ["--tokens", str(OPEN_TOKENS)],
                        [
                            "--rate",
                            str(rate),
                            "--duration",
                            f"{duration:g}",
                            "--output-tokens",
                            str(OPEN_TOKENS),
                            "--no-stream",
                        ],
                        scheduled(rate, duration),
                        OPEN_TOKENS,
                        False,
                    )
                    opened.append(run)
                    runs.append(run)
                    progress(run)
                    check = run.summary["self_check"]
                    if check["kept_schedule"]:
                        kept[workers].append(rate)
                    lags = ", ".join(
                        f"w{w['worker']} {w['schedule_lag_p99_s'] * 1000:.1f}"
                        for w in check.get("workers", [])
                    )
                    add(
                        f"open loop {rate:,} req/s, --workers {workers}",
                        round(check["achieved_rate_rps"], 1),
                        "req/s achieved",
                        run.records["rows"],
                        f"lag p99 {check['schedule_lag_p99_s'] * 1000:.1f} ms"
                        + (f" ({lags})" if lags else "")
                        + f", {run.records['late_10ms_share']:.2%} sent > 10 ms late"
                        + f"; CPU: {cpu_note(run)}",
                        "kept" if check["kept_schedule"] else "NOT kept",
                    )
            add(
                "open loop: highest step kept (lag p99 <= 10 ms, rate >= 95%)",
                " / ".join(f"{max(kept[w], default=0):,}" for w in (1, 2)),
                "req/s (1 / 2 workers)",
                len(opened),
                f"steps {', '.join(f'{r:,}' for r in plan['rates'])} req/s, {duration:g} s each",
                "info",
            )
            records_row("open loop", opened, add)
        if runs:
            busiest = max(runs, key=lambda r: r.cpu.get("server", 0.0))
            add(
                "server CPU, busiest run",
                round(busiest.cpu.get("server", 0.0) * 100, 1),
                "% of a core",
                len(runs),
                f"{busiest.label}; at >= {SERVER_BOUND:.0%} a figure is server-bound",
                "pass" if busiest.cpu.get("server", 0.0) < SERVER_BOUND else "FAIL",
            )
            other = max(r.cpu.get("other", 0.0) for r in runs)
            add(
                "cores busy outside the measured processes, worst run",
                round(other * 100, 1),
                "% of a core",
                len(runs),
                "kernel network work and anything else running; > 15% means a busy machine",
                "info" if other <= 0.15 else "BUSY",
            )
        failed = False
    finally:
        if failed:
            print(f"run directories and logs kept in {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)

    command = "python benchmarks/workers.py " + " ".join(sys.argv[1:])
    print(
        f"\nMachine: {info['cpus']} CPUs, {info['cpu_model']}, Python {info['python']}, "
        f"{info['date']}, load average at start {' '.join(info['loadavg_at_start'])}\n"
        f"Command: {command}\n"
        "Placement: nothing pinned; the kernel schedules the server, the load process and its "
        "workers on both cores. CPU = /proc/PID/stat utime+stime over the middle 90% of the "
        "server's work, in shares of one core.\n"
    )
    print("| metric | value | unit | n | notes | result |\n|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['metric']} | {row['value']} | {row['unit']} | {row['n']} | "
            f"{row['notes']} | {row['result']} |"
        )
    if args.out:
        args.out.write_text(
            json.dumps(
                {
                    "machine": info,
                    "command": command,
                    "placement": "unpinned",
                    "rows": rows,
                    "runs": [run_json(run) for run in runs],
                },
                indent=2,
                default=str,
            )
        )


def report_closed(closed: dict[int, list[Run]], n: int, add: Any) -> None:
    medians: dict[int, dict[str, float]] = {}
    for workers, runs in closed.items():
        name = "--workers 1 (default, in-process)" if workers == 1 else "--workers 2"
        what = f"closed loop {CONCURRENCY} streams x {STREAM_TOKENS} events, {name}"
        rps = [r.records["requests_per_s"] for r in runs]
        eps = [r.records["events_per_s"] for r in runs]
        per_req = [r.cpu.get("load_cpu_us_per_request") or float("nan") for r in runs]
        load = [r.cpu.get("load", float("nan")) for r in runs]
        medians[workers] = {
            "rps": statistics.median(rps),
            "eps": statistics.median(eps),
            "us": statistics.median(per_req),
        }
        each = f"median of {len(runs)} runs: " if len(runs) > 1 else ""
        add(
            f"{what}: requests/s",
            round(medians[workers]["rps"]),
            "req/s",
            n * len(runs),
            each + ", ".join(f"{x:,.0f}" for x in rps),
            "info",
        )
        add(
            f"{what}: content events/s",
            round(medians[workers]["eps"]),
            "events/s",
            n * len(runs) * STREAM_TOKENS,
            each + ", ".join(f"{x:,.0f}" for x in eps),
            "info",
        )
        tails = ""
        if workers > 1:
            tails = "; one worker alone at the end for " + ", ".join(
                f"{r.records['tail_s']:.2f} s of {r.records['window_s']:.1f} s" for r in runs
            )
        add(
            f"{what}: CPU",
            round(statistics.median(load) * 100),
            "% of a core (load, all processes)",
            len(runs),
            "; ".join(f"run {i + 1}: {cpu_note(r)}" for i, r in enumerate(runs)) + tails,
            "info",
        )
        add(
            f"{what}: load CPU per request",
            round(medians[workers]["us"], 1),
            "us",
            len(runs),
            each + ", ".join(f"{x:.1f}" for x in per_req),
            "info",
        )
    one, two = medians[1], medians[2]
    pairs = [
        b.records["events_per_s"] / (2 * a.records["events_per_s"])
        for a, b in zip(closed[1], closed[2], strict=True)
    ]
    add(
        "closed loop: split efficiency, throughput(2) / (2 x throughput(1))",
        round(two["eps"] / (2 * one["eps"]), 3),
        "",
        "",
        f"medians: events/s {two['eps']:,.0f} vs {one['eps']:,.0f}, requests/s "
        f"{two['rps'] / (2 * one['rps']):.3f}"
        + (f"; run pairs: {', '.join(f'{x:.3f}' for x in pairs)}" if len(pairs) > 1 else "")
        + ". On 2 cores the server and the coordinator take part of the second core, so 1.0 is "
        "out of reach here",
        "info",
    )
    add(
        "closed loop: load CPU per request, 2 workers / 1",
        round(two["us"] / one["us"], 3),
        "",
        "",
        "the split's own cost per request, whatever the cores left: 1.0 = none",
        "info",
    )
    records_row("closed loop", closed[1] + closed[2], add)


def records_row(phase: str, runs: list[Run], add: Any) -> None:
    problems = [f"{r.label}: {p}" for r in runs for p in r.records["problems"]]
    add(
        f"{phase}: records of every run",
        sum(r.records["rows"] for r in runs),
        "rows",
        len(runs),
        "; ".join(problems)
        or "rows == requests sent, ids 0..N-1 once each, worker == id mod N, every worker "
        "present, all ok with the full answer, server count, summary.json and self-check "
        "per-worker counts == rows",
        "FAIL" if problems else "pass",
    )


def run_json(run: Run) -> dict[str, Any]:
    return {
        "label": run.label,
        "workers": run.workers,
        "command": run.command,
        "wall_s": run.wall_s,
        "records": run.records,
        "cpu": run.cpu,
        "server_stats": run.server_stats,
        "self_check": run.summary.get("self_check"),
        "overall": {
            k: run.summary.get("overall", {}).get(k)
            for k in ("requests", "ok", "window_s", "request_throughput", "achieved_rate")
        },
        "warnings": run.summary.get("warnings"),
    }


if __name__ == "__main__":
    main()
