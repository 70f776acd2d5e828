"""Soak test: `auraon-bench load` at a steady rate on the emulator, 10 minutes by default.

The requirement: memory of both processes flat, no errors beyond those injected, the Parquet
file complete. Both processes are started here, as the user would start them:

* the emulator, ``python -m auraon_bench emulator serve --port 0 --time-scale 0.5 --seed N
  --fault error=0.01 --fault drop_mid_stream=0.01``, pinned to core 0; its ``READY <url>``
  line gives the URL;
* the load, ``python -m auraon_bench load --base-url URL/v1 --api-key br-demo-enterprise
  --model gpt-4o --profile constant --rate 50 --duration 600 --output-tokens 32 --stream --yes
  --out RUN_DIR``, pinned to core 1 (with --base-url it starts no emulator of its own).

Memory. VmRSS and VmHWM of both PIDs (``/proc/PID/status``; taskset execs, so the PID is the
python process itself) every 5 s. Growth is measured from the first sample after the warm-up
(60 s: pools, caches and the allocator grow at first) to the last one before the schedule ends,
and also as a least-squares slope over those samples. PASS per process: the larger of the
end-to-end growth and the fitted growth (slope x window) is under 20 MiB and under 10% of the
post-warm-up RSS. What the load process does after the schedule (compaction, summary) is
reported apart, as its peak RSS.

Errors. The emulator draws every fault from one seeded ``random.Random`` in the order requests
reach it, and every request of this run (same model, same max_tokens, prompts differing only in
text) consumes the same draws, so the k-th request it simulates meets the same fate in any run
with the same seed. The script replays N requests through the emulator's own gateway in-process
(``build_gateway`` with a frozen clock) and expects the exact counts: 503s, dropped streams, and
the completion tokens of the answers that got through. Every other outcome is an error that was
not injected. The binomial range rate x N +- 4 sd is shown as a sanity check of the rates.

Parquet. ``requests.parquet`` must hold one row per scheduled request (constant profile: the
offsets i/R in [0, duration)), request ids 0..N-1 once each on their schedule, the manifest must
say complete with counts equal to the file's, summary.json's status counts likewise, and the
run's own self-check must say the client kept its schedule.

Usage: python benchmarks/soak.py [--quick] [--duration S] [--rate R] [--seed N] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import math
import os
import platform
import resource
import selectors
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from proc_tools import children, scheduled, stop  # noqa: E402

from auraon_bench.client.wire import chat_body  # noqa: E402
from auraon_bench.data.prompts import synthetic_prompts  # noqa: E402
from auraon_bench.emulator.gateway import GatewayHeaders  # noqa: E402
from auraon_bench.emulator.protocol import ApiError, parse_chat_request  # noqa: E402
from auraon_bench.emulator.server import EmulatorConfig, build_gateway  # noqa: E402

API_KEY, MODEL = "br-demo-enterprise", "gpt-4o"
INPUT_TOKENS, OUTPUT_TOKENS = 128, 32
CLK_TCK = os.sysconf("SC_CLK_TCK")
PINNED = {0, 1} <= os.sched_getaffinity(0) and shutil.which("taskset") is not None
PIN_EMULATOR, PIN_LOAD = (["taskset", "-c", "0"], ["taskset", "-c", "1"]) if PINNED else ([], [])
GROWTH_MIB, GROWTH_PCT = 20.0, 10.0  # per process, after the warm-up
FULL = {"duration": 600.0, "warmup": 60.0, "interval": 5.0}
QUICK = {"duration": 30.0, "warmup": 10.0, "interval": 2.0}
MIB = 1024.0  # kB per MiB (/proc reports kB = KiB)
# What each injected fault looks like in requests.parquet: (status, http_status, error field).
SIGNATURES = {
    "error": ("http_error", 503, "gpt-4o (503)"),  # in error_message: "... Tried: gpt-4o (503)."
    "drop_mid_stream": ("connection_error", 200, "disconnected"),  # error_type
}


# ---- processes ---------------------------------------------------------------------------------


def child_env() -> dict[str, str]:
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=path)


def start_emulator(cmd: list[str], stderr: Any) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``emulator serve`` and return it with its URL, read from the ``READY`` line."""
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        env=child_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=stderr,
    )
    assert proc.stdout is not None
    line, deadline = b"", time.monotonic() + 20
    try:
        with selectors.DefaultSelector() as selector:
            selector.register(proc.stdout, selectors.EVENT_READ)
            while not line.endswith(b"\n"):
                if not selector.select(max(0.0, deadline - time.monotonic())):
                    raise RuntimeError("emulator not READY after 20 s")
                chunk = os.read(proc.stdout.fileno(), 4096)
                if not chunk:
                    raise RuntimeError("emulator exited before READY")
                line += chunk
        if not line.startswith(b"READY "):
            raise RuntimeError(f"unexpected emulator output {line!r}")
    except BaseException:
        stop(proc, 5)
        raise
    return proc, line.decode().strip().removeprefix("READY ")


def status_kb(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM in kB; empty once the process has exited (a zombie has no Vm* lines)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    return {
        k: int(v.split()[0])
        for k, _, v in (ln.partition(":") for ln in text.splitlines())
        if k in ("VmRSS", "VmHWM")
    }


def cpu_s(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def cores_busy_s() -> float:
    """Busy seconds of cores 0 and 1 together, every process (/proc/stat)."""
    busy = 0.0
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith(("cpu0 ", "cpu1 ")):
            ticks = [int(x) for x in line.split()[1:9]]
            busy += (sum(ticks) - ticks[3] - ticks[4]) / CLK_TCK
    return busy


def comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "?"


def sample(t0: float, emu: int, load: int) -> dict[str, Any]:
    e, lo = status_kb(emu), status_kb(load)
    return {
        "t": round(time.monotonic() - t0, 3),
        "emu_rss_kb": e.get("VmRSS"),
        "emu_hwm_kb": e.get("VmHWM"),
        "load_rss_kb": lo.get("VmRSS"),
        "load_hwm_kb": lo.get("VmHWM"),
        "emu_cpu_s": cpu_s(emu),
        "load_cpu_s": cpu_s(load),
        "cores_busy_s": cores_busy_s(),
        "load_children": len(children(load)),
        "emu_comm": comm(emu),
        "load_comm": comm(load),
    }


# ---- expectations ------------------------------------------------------------------------------


def replay(n: int, seed: int, time_scale: float, faults: dict[str, float]) -> dict[str, Any]:
    """What the emulator decides for its first ``n`` requests of this run, exactly."""
    overrides = {"faults": {f"{name}_rate": rate for name, rate in faults.items()}}
    gateway = build_gateway(
        EmulatorConfig(seed=seed, time_scale=time_scale, overrides=overrides), clock=lambda: 0.0
    )
    prompt = synthetic_prompts(1, INPUT_TOKENS, OUTPUT_TOKENS, pin_output=False)[0]
    body = chat_body(
        MODEL, prompt.messages, stream=True, max_tokens=prompt.max_tokens, extra=prompt.extra
    )
    request = parse_chat_request(body, {m: i for i, m in enumerate(gateway.catalog.model_ids())})
    plan = gateway.catalog.plan_for_key(API_KEY)
    assert plan is not None
    outcomes: Counter[str] = Counter()
    ok_tokens = drop_events = 0
    for _ in range(n):
        try:
            sim = gateway.simulate(request, gateway.limiter(API_KEY, plan), plan, GatewayHeaders())
        except ApiError as exc:
            cause = "error" if exc.status == 503 and "(503)" in exc.message else exc.code
            outcomes[str(cause)] += 1
            continue
        outcomes[sim.delivery_fault or "ok"] += 1
        if sim.delivery_fault is None:
            ok_tokens += sim.completion_tokens
        elif sim.delivery_fault == "drop_mid_stream":
            drop_events += len(sim.pieces) // 2  # the fault strikes half-way through the events
    return {"outcomes": dict(outcomes), "ok_tokens": ok_tokens, "drop_events": drop_events}


def classify(row: dict[str, Any]) -> str:
    """The run's outcome for one row: ``ok``, an injected fault's name, or a description."""
    if row["status"] == "ok":
        return "ok"
    for name, (status, http, marker) in SIGNATURES.items():
        if (
            row["status"] == status
            and row["http_status"] == http
            and marker
            in ((row["error_message"] or "") if name == "error" else (row["error_type"] or ""))
        ):
            return name
    return f"{row['status']} (HTTP {row['http_status']}, {row['error_type']})"


# ---- analysis ----------------------------------------------------------------------------------


def memory(samples: list[dict[str, Any]], key: str, warmup: float, end: float) -> dict[str, Any]:
    """RSS after the warm-up, at the end of the window, growth and slope, for one process."""
    window = [s for s in samples if warmup <= s["t"] <= end and s[key] is not None]
    if len(window) < 2:
        return {"n": len(window)}
    ts = [s["t"] / 60 for s in window]
    mib = [s[key] / MIB for s in window]
    slope = statistics.linear_regression(ts, mib).slope  # MiB per minute
    fitted = slope * (ts[-1] - ts[0])
    growth = mib[-1] - mib[0]
    worst = max(growth, fitted)
    return {
        "n": len(window),
        "t_start_s": window[0]["t"],
        "t_end_s": window[-1]["t"],
        "start_mib": mib[0],
        "end_mib": mib[-1],
        "growth_mib": growth,
        "growth_pct": 100 * growth / mib[0],
        "slope_mib_per_min": slope,
        "fitted_growth_mib": fitted,
        "min_mib": min(mib),
        "max_mib": max(mib),
        "pass": worst < GROWTH_MIB and 100 * worst / mib[0] < GROWTH_PCT,
    }


def read_run(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "requests.parquet"
    columns = [
        "request_id",
        "attempt",
        "status",
        "http_status",
        "error_type",
        "error_message",
        "n_events",
        "completion_tokens",
        "t_scheduled",
    ]
    table = pq.read_table(path, columns=columns)
    return {
        "rows": table.to_pylist(),
        "footer_rows": pq.ParquetFile(path).metadata.num_rows,
        "parts_left": (run_dir / "requests.parts").exists(),
        "manifest": json.loads((run_dir / "manifest.json").read_text()),
        "summary": json.loads((run_dir / "summary.json").read_text()),
    }


def row(
    check: str, value: str, n: object, target: str = "-", ok: bool | None = None
) -> dict[str, Any]:
    status = "info" if ok is None else ("PASS" if ok else "FAIL")
    return {"check": check, "value": value, "n": n, "target": target, "status": status}


def run_checks(
    run: dict[str, Any],
    expected_n: int,
    rate: float,
    faults: dict[str, float],
    exact: dict[str, Any],
    notes: list[str],
) -> list[dict[str, Any]]:
    rows_, manifest, summary = run["rows"], run["manifest"], run["summary"]
    n = len(rows_)
    rows: list[dict[str, Any]] = []
    ids = Counter(r["request_id"] for r in rows_)
    dupes = sum(c - 1 for c in ids.values() if c > 1)
    complete = (
        n == expected_n == run["footer_rows"]
        and not run["parts_left"]
        and set(ids) == set(range(expected_n))
        and dupes == 0
        and all(r["attempt"] == 1 for r in rows_)
    )
    rows.append(
        row(
            "requests.parquet rows (one per scheduled request)",
            f"{n:,}",
            n,
            f"= {expected_n:,} scheduled",
            complete,
        )
    )
    rows.append(row("  duplicate request ids", str(dupes), n, "0", dupes == 0))
    by_id = sorted(rows_, key=lambda r: r["request_id"])
    if by_id and all(r["t_scheduled"] is not None for r in by_id):
        t0 = by_id[0]["t_scheduled"]
        drift = max(abs(r["t_scheduled"] - t0 - r["request_id"] / rate) for r in by_id)
        rows.append(
            row(
                "  t_scheduled - (t_0 + id / rate), max",
                f"{drift * 1e6:.1f} µs",
                n,
                "< 1 ms",
                drift < 1e-3,
            )
        )
    if run["parts_left"]:
        notes.append("requests.parts/ is still there: compaction did not finish")
    # The manifest's and the summary's counts against the file's.
    counts = Counter(r["status"] for r in rows_)
    mc = manifest.get("counts", {})
    sc = summary.get("overall", {}).get("errors", {}).get("status_counts", {})
    problems = [f"manifest status {manifest.get('status')!r}"] * (
        manifest.get("status") != "complete"
    )
    problems += [f"summary status {summary.get('status')!r}"] * (
        summary.get("status") != "complete"
    )
    problems += [f"manifest records {mc.get('records')}"] * (mc.get("records") != n)
    problems += [f"manifest cancelled_in_flight {mc.get('cancelled_in_flight')}"] * bool(
        mc.get("cancelled_in_flight")
    )
    for status in sorted(set(counts) | set(sc) | (set(mc) - {"records", "cancelled_in_flight"})):
        if mc.get(status, 0) != counts.get(status, 0):
            problems.append(
                f"manifest {status} {mc.get(status, 0)} vs file {counts.get(status, 0)}"
            )
        if sc.get(status, 0) != counts.get(status, 0):
            problems.append(f"summary {status} {sc.get(status, 0)} vs file {counts.get(status, 0)}")
    if summary.get("overall", {}).get("requests") != n:
        problems.append(f"summary requests {summary.get('overall', {}).get('requests')} vs {n}")
    if summary.get("logical", {}).get("requests", n) != len(ids):
        problems.append(f"summary logical requests {summary['logical']['requests']}")
    notes += [f"counts disagree: {p}" for p in problems]
    rows.append(
        row(
            "manifest + summary: status complete, counts = the file's",
            "agree" if not problems else f"{len(problems)} disagreements",
            n,
            "agree",
            not problems,
        )
    )
    check = manifest.get("self_check") or {}
    lag = check.get("schedule_lag_p99_s")
    kept = check.get("kept_schedule") is True and check.get("stop_reason") is None
    rows.append(
        row(
            "self-check: client kept the schedule",
            f"{check.get('achieved_rate_rps') or 0:.2f} req/s, lag p99 "
            f"{(lag or 0) * 1000:.1f} ms, CPU {100 * (check.get('client_cpu_share') or 0):.0f}%",
            check.get("schedule_lag_n"),
            f"kept_schedule, {rate:g} req/s",
            kept,
        )
    )
    notes += [f"load warning: {w}" for w in manifest.get("warnings", [])]
    # Outcomes against the exact replay.
    seen = Counter(classify(r) for r in rows_)
    expected = exact["outcomes"]
    for name, rate_ in faults.items():
        sd = math.sqrt(n * rate_ * (1 - rate_))
        lo, hi = max(0, math.floor(n * rate_ - 4 * sd)), math.ceil(n * rate_ + 4 * sd)
        got, want = seen.get(name, 0), expected.get(name, 0)
        rows.append(
            row(
                f"injected {name} ({rate_:.1%}): {' / '.join(map(str, SIGNATURES[name][:2]))}",
                str(got),
                n,
                f"= {want} exact (binomial +-4 sd: {lo}-{hi})",
                got == want,
            )
        )
        if not lo <= got <= hi:
            notes.append(f"{name}: {got} outside the binomial range {lo}-{hi}")
    stray = {k: v for k, v in seen.items() if k != "ok" and k not in faults}
    notes += [f"error not injected: {k}: {v}" for k, v in sorted(stray.items())]
    rows.append(
        row(
            "errors not injected (timeouts, refused, protocol, other HTTP)",
            str(sum(stray.values())),
            n,
            "0",
            not stray,
        )
    )
    ok_rows = [r for r in rows_ if r["status"] == "ok"]
    tokens = sum(r["completion_tokens"] or 0 for r in ok_rows)
    short = sum(r["n_events"] != r["completion_tokens"] for r in ok_rows)
    rows.append(
        row(
            "ok answers: count, completion tokens (usage)",
            f"{len(ok_rows):,}, {tokens:,}",
            n,
            f"= {expected.get('ok', 0):,}, {exact['ok_tokens']:,} exact",
            len(ok_rows) == expected.get("ok", 0) and tokens == exact["ok_tokens"],
        )
    )
    rows.append(
        row(
            "  ok answers whose content events != completion tokens",
            str(short),
            len(ok_rows),
            "0",
            short == 0,
        )
    )
    drops = [r for r in rows_ if classify(r) == "drop_mid_stream"]
    if drops:
        null = sum(r["n_events"] is None for r in drops)
        got = sum(r["n_events"] or 0 for r in drops)
        rows.append(
            row(
                "  content events recorded for the dropped streams",
                f"{got:,} (null on {null} of {len(drops)} rows)",
                len(drops),
                f"{exact['drop_events']:,} sent before the drops (info)",
            )
        )
        if null and exact["drop_events"]:
            notes.append(
                f"dropped streams: n_events (and ttft_s, t_first_token) are null on {null} of "
                f"{len(drops)} rows, although the emulator sent {exact['drop_events']:,} content "
                "events before cutting them: the client keeps no partial-stream figures"
            )
    return rows


# ---- main --------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="30 s run, 10 s warm-up (smoke test)")
    parser.add_argument("--duration", type=float, help="seconds of load (default 600, quick 30)")
    parser.add_argument("--warmup", type=float, help="seconds before memory counts (default 60)")
    parser.add_argument("--rate", type=float, default=50.0, help="requests per second")
    parser.add_argument("--time-scale", type=float, default=0.5, help="emulator time scale")
    parser.add_argument(
        "--fault-rate",
        type=float,
        default=0.01,
        help="probability of each injected fault (error, drop_mid_stream)",
    )
    parser.add_argument("--seed", type=int, default=0, help="emulator and load seed")
    parser.add_argument("--out", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args()
    plan = dict(QUICK if args.quick else FULL)
    duration = args.duration or plan["duration"]
    warmup = args.warmup if args.warmup is not None else min(plan["warmup"], duration / 3)
    faults = {name: args.fault_rate for name in SIGNATURES}
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the finally-blocks clean up

    work = Path(tempfile.mkdtemp(prefix="auraon-soak-"))
    run_dir = work / "run"
    emu_cmd = [
        *PIN_EMULATOR,
        sys.executable,
        "-m",
        "auraon_bench",
        "emulator",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--time-scale",
        f"{args.time_scale:g}",
        "--seed",
        str(args.seed),
        *(x for k, v in faults.items() for x in ("--fault", f"{k}={v:g}")),
    ]
    emu = load = None
    samples: list[dict[str, Any]] = []
    emu_err, load_log = (work / "emulator.stderr").open("wb"), (work / "load.log").open("wb")
    failed = True
    try:
        emu, url = start_emulator(emu_cmd, emu_err)
        load_cmd = [
            *PIN_LOAD,
            sys.executable,
            "-m",
            "auraon_bench",
            "load",
            "--base-url",
            f"{url}/v1",
            "--api-key",
            API_KEY,
            "--model",
            MODEL,
            "--profile",
            "constant",
            "--rate",
            f"{args.rate:g}",
            "--duration",
            f"{duration:g}",
            "--output-tokens",
            str(OUTPUT_TOKENS),
            "--input-tokens",
            str(INPUT_TOKENS),
            "--stream",
            "--seed",
            str(args.seed),
            "--yes",
            "--out",
            str(run_dir),
        ]
        t0 = time.monotonic()
        load = subprocess.Popen(
            load_cmd,
            cwd=ROOT,
            env=child_env(),
            stdin=subprocess.DEVNULL,
            stdout=load_log,
            stderr=subprocess.STDOUT,
        )
        deadline, tick = t0 + duration + 300, t0
        print(
            f"soak: {duration:g} s at {args.rate:g} req/s, emulator pid {emu.pid}, load pid "
            f"{load.pid}; run dir {run_dir}",
            file=sys.stderr,
            flush=True,
        )
        while load.poll() is None:
            if time.monotonic() > deadline:
                raise RuntimeError("load did not finish within duration + 300 s")
            samples.append(sample(t0, emu.pid, load.pid))
            if len(samples) % max(1, round(60 / plan["interval"])) == 0:
                s = samples[-1]
                print(
                    f"  t={s['t']:.0f}s emulator {s['emu_rss_kb'] / MIB:.1f} MiB, load "
                    f"{(s['load_rss_kb'] or 0) / MIB:.1f} MiB",
                    file=sys.stderr,
                    flush=True,
                )
            tick += plan["interval"]
            with contextlib.suppress(subprocess.TimeoutExpired):
                load.wait(timeout=max(0.0, tick - time.monotonic()))
        load_exit = load.returncode
        # The largest reaped child so far: the load process (the emulator is still running).
        load_peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        time.sleep(2)  # the emulator, idle: what it keeps once every connection is closed
        idle = status_kb(emu.pid)
        failed = False
    finally:
        stop(load, 30)
        stop(emu, 5)
        emu_err.close()
        load_log.close()
        if failed:  # an error or a signal: show what the children said, keep the files
            for name in ("emulator.stderr", "load.log"):
                tail = (work / name).read_text(errors="replace").strip().splitlines()[-15:]
                print("\n".join(f"[{name}] {ln}" for ln in tail), file=sys.stderr)
            print(f"files kept in {work}", file=sys.stderr)
    emu_stderr = (work / "emulator.stderr").read_text(errors="replace").strip().splitlines()
    load_tail = (work / "load.log").read_text(errors="replace").strip().splitlines()[-15:]

    notes: list[str] = []
    rows: list[dict[str, Any]] = []
    end = duration  # samples up to the schedule's end (the load starts a moment after t0)
    mem = {
        name: memory(samples, f"{key}_rss_kb", warmup, end)
        for name, key in (("emulator", "emu"), ("load client", "load"))
    }
    for name, m in mem.items():
        if m["n"] < 2:
            rows.append(
                row(f"{name} RSS growth after warm-up", "too few samples", m["n"], "", False)
            )
            continue
        rows += [
            row(
                f"{name} RSS after warm-up (t={m['t_start_s']:.0f} s)",
                f"{m['start_mib']:.1f} MiB",
                1,
            ),
            row(f"{name} RSS at end (t={m['t_end_s']:.0f} s)", f"{m['end_mib']:.1f} MiB", 1),
            row(
                f"{name} RSS growth",
                f"{m['growth_mib']:+.2f} MiB ({m['growth_pct']:+.1f}%)",
                m["n"],
                f"< {GROWTH_MIB:g} MiB and < {GROWTH_PCT:g}%",
                m["pass"],
            ),
            row(
                f"{name} RSS slope (least squares)",
                f"{m['slope_mib_per_min']:+.3f} MiB/min",
                m["n"],
                f"fitted growth {m['fitted_growth_mib']:+.2f} MiB counts too",
            ),
        ]
    rows.append(
        row(
            "load client peak RSS (whole life, incl. compaction + summary)",
            f"{load_peak_kb / MIB:.1f} MiB",
            1,
        )
    )
    if idle.get("VmRSS"):
        rows.append(
            row(
                "emulator RSS idle after the load / peak (VmHWM)",
                f"{idle['VmRSS'] / MIB:.1f} / {idle['VmHWM'] / MIB:.1f} MiB",
                1,
            )
        )
    window = [s for s in samples if warmup <= s["t"] <= end]
    if len(window) >= 2 and all(
        window[i][k] is not None for i in (0, -1) for k in ("emu_cpu_s", "load_cpu_s")
    ):
        wall = window[-1]["t"] - window[0]["t"]
        cpu = {k: 100 * (window[-1][k] - window[0][k]) / wall for k in ("emu_cpu_s", "load_cpu_s")}
        rows.append(
            row(
                "CPU after warm-up: emulator / load client",
                f"{cpu['emu_cpu_s']:.0f}% / {cpu['load_cpu_s']:.0f}% of a core",
                f"{wall:.0f} s",
            )
        )
        others = 100 * (window[-1]["cores_busy_s"] - window[0]["cores_busy_s"]) / wall - sum(
            cpu.values()
        )
        if PINNED and others > 10:
            notes.append(
                f"other activity (other processes, kernel networking) used ~{others:.0f}% of "
                "a core on cores 0-1 during the window; a soak at a modest rate tolerates it"
            )
    kids = max((s["load_children"] for s in samples), default=0)
    names = {k: sorted({s[f"{k}_comm"] for s in samples if s["t"] >= 1}) for k in ("emu", "load")}
    if kids or any(
        n != ["python"] and not all(x.startswith("python") for x in n) for n in names.values()
    ):
        notes.append(
            f"processes measured: emulator {names['emu']}, load {names['load']}, "
            f"children of the load process seen: {kids}"
        )

    expected_n = scheduled(args.rate, duration)
    planned = scheduled(args.rate, duration)
    if planned != expected_n:
        notes.append(
            f"the seeded schedule has {planned:,} for this "
            f"schedule, which sends {expected_n:,} (offsets i/R in [0, duration)); it "
            "feeds the cost estimate printed before the run"
        )
    if load_exit != 0 or not (run_dir / "requests.parquet").exists():
        rows.append(row("load process exit status", str(load_exit), 1, "0", False))
        notes += [f"load output: {ln}" for ln in load_tail]
    else:
        run = read_run(run_dir)
        exact = replay(len(run["rows"]), args.seed, args.time_scale, faults)
        rows += run_checks(run, expected_n, args.rate, faults, exact, notes)
    rows.append(row("emulator stderr lines", str(len(emu_stderr)), "-", "0", not emu_stderr))
    cpu_model = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        ),
        platform.processor(),
    )
    report = {
        "machine": {
            "nproc": os.cpu_count(),
            "cpu": cpu_model,
            "python": platform.python_version(),
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "pinning": "emulator core 0, load core 1" if PINNED else "none",
        },
        "command": shlex.join(["python", *sys.argv]),
        "settings": {
            "duration_s": duration,
            "warmup_s": warmup,
            "interval_s": plan["interval"],
            "rate": args.rate,
            "time_scale": args.time_scale,
            "faults": faults,
            "seed": args.seed,
            "emulator_cmd": shlex.join(emu_cmd),
            "load_cmd": shlex.join(load_cmd),
        },
        "results": rows,
        "memory": mem,
        "notes": notes,
        "emulator_stderr": emu_stderr[-20:],
        "samples": samples,
    }
    print_report(report)
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    shutil.rmtree(work, ignore_errors=True)
    return 0 if all(r["status"] != "FAIL" for r in rows) else 1


def print_report(report: dict[str, Any]) -> None:
    m, s = report["machine"], report["settings"]
    faults = ", ".join(f"{k} {v:.1%}" for k, v in s["faults"].items())
    print(
        f"\n## Auraon soak, {m['date']}\n\n- machine: {m['nproc']} cores, {m['cpu']}; "
        f"Python {m['python']}; pinning: {m['pinning']}\n"
        f"- command: `{report['command']}`\n"
        f"- load: {s['rate']:g} req/s constant for {s['duration_s']:g} s, gpt-4o, streamed, "
        f"{OUTPUT_TOKENS} output tokens; emulator time scale {s['time_scale']:g}, seed "
        f"{s['seed']}, faults {faults}; memory counted after {s['warmup_s']:g} s, sampled "
        f"every {s['interval_s']:g} s\n\n"
        "| check | value | n | target | result |\n|---|---:|---:|---|---|"
    )
    for r in report["results"]:
        print(f"| {r['check']} | {r['value']} | {r['n']} | {r['target']} | {r['status']} |")
    print()
    for line in (*report["notes"], *(f"emulator stderr: {ln}" for ln in report["emulator_stderr"])):
        print(f"- {line}")


if __name__ == "__main__":
    raise SystemExit(main())
