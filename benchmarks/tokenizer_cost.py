"""Does sizing prompts with a real BPE tokenizer cost the client its schedule at 1,000 req/s?

Three measurements, one script:

1. ``pure``: the tokenizer's cost per request, in this process. For prompts of 128, 1,000 and
   8,000 tokens in o200k_base, cl100k_base and chars4: microseconds per
   ``get_tokenizer(enc).chat_tokens(messages)`` (one prompt counted again and again, repetitions
   sized to about 0.2 s a round) and per prompt built by ``synthetic_prompts`` (``--prompts``
   prompts a round, 256 as ``load`` builds, divided by their number), each the median of
   ``--rounds`` rounds (``time.perf_counter_ns``), and each as a share of the 1,000 µs one
   request may take at 1,000 req/s on one core. Also the one-off first use of each encoding
   (its tables load) in a fresh process.
2. ``load``: real runs at 1,000 req/s against ``../shared/bench/refserver.py`` (the fixed
   yardstick; a fresh one per run on a free port, pinned to core 0, ``--tokens 16``), the client
   pinned to core 1:
   ``auraon-bench load --profile constant --rate 1000 --duration 20 --no-stream
   --input-tokens 1000 --output-tokens 16 --tokenizer ENC --model m --yes ...`` with
   ``--tokenizer o200k_base`` and with ``chars4`` (the baseline: prompts sized without BPE;
   the pre-run cost estimate still counts them in o200k), and a conversation run
   (``--rate 250 --turns 4 --shared-prefix-tokens 1200``: 250 conversations/s of 4 turns, so
   1,000 req/s too; later turns go out as soon as the previous answer arrives, with a lag near
   0 that dilutes the run's lag p99, so the first turns' lag is read from requests.parquet
   too). From each
   run: its self-check (``summary.json``: achieved rate, schedule lag p50/p99, client CPU share,
   kept_schedule / client_bound), the command's wall time, and ``synthetic_prompts`` for the
   same settings timed in this process (the prompt building that precedes the load).
   ``--repeat N`` runs the configurations N times, interleaved.
3. ``calls``: the claim that nothing tokenizes while requests are in flight, counted. Each
   configuration runs once more (``--check-duration`` s, same pinning) in a child that wraps
   ``Tokenizer.count`` and the BPE encodings' ``encode_ordinary``/``decode`` and
   ``MeasuringClient.chat``, and reports the tokenizer calls (and their time) before the first
   request is sent, between the first send and the last answer, and after.

usage: python benchmarks/tokenizer_cost.py [--phases pure,load,calls] [--duration S]
                                           [--repeat N] [--no-conversations] [--rounds N]
                                           [--prompts N] [--check-duration S]
                                           [--refserver PATH] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
sys.path.insert(0, str(ROOT))
from proc_tools import RefServer, machine  # noqa: E402

from auraon_bench.data.prompts import synthetic_prompts  # noqa: E402
from auraon_bench.data.tokenizers import ENCODINGS, get_tokenizer  # noqa: E402

BUDGET_US = 1_000.0  # one request's share of one core at 1,000 req/s
SIZES = (128, 1_000, 8_000)
RATE = 1000
INPUT_TOKENS = 1000
OUTPUT_TOKENS = 16
# (label, arguments of `load` besides the common ones)
CONFIGS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("chars4", ("--rate", str(RATE), "--tokenizer", "chars4")),
    ("o200k_base", ("--rate", str(RATE), "--tokenizer", "o200k_base")),
)
CONVERSATION = (
    "o200k_base, 4 turns, 1,200-token shared prefix",
    (
        "--rate",
        str(RATE // 4),
        "--tokenizer",
        "o200k_base",
        "--turns",
        "4",
        "--shared-prefix-tokens",
        "1200",
    ),
)


# --- 1. pure ----------------------------------------------------------------------------------


def per_call_us(fn: Callable[[], object], rounds: int, round_s: float = 0.2) -> dict[str, Any]:
    """Median over ``rounds`` of (one round's time / its calls), in µs; a round ~``round_s``."""
    start = time.perf_counter_ns()
    fn()
    once = max(time.perf_counter_ns() - start, 1)
    reps = max(1, int(round_s * 1e9 / once))
    values = []
    for _ in range(rounds):
        gc.collect()
        start = time.perf_counter_ns()
        for _ in range(reps):
            fn()
        values.append((time.perf_counter_ns() - start) / reps / 1e3)
    return {"us": statistics.median(values), "rounds_us": values, "calls_per_round": reps}


def per_prompt_us(n: int, tokens: int, encoding: str, rounds: int, **kw: Any) -> dict[str, Any]:
    """Median over ``rounds`` of (time to build ``n`` synthetic prompts / n), in µs."""
    values = []
    for r in range(rounds):
        gc.collect()
        start = time.perf_counter_ns()
        synthetic_prompts(n, tokens, OUTPUT_TOKENS, seed=1 + r, tokenizer=encoding, **kw)
        values.append((time.perf_counter_ns() - start) / n / 1e3)
    return {"us": statistics.median(values), "rounds_us": values, "prompts_per_round": n}


FIRST_USE = (
    "import sys, time\n"
    "t = time.perf_counter()\n"
    "from auraon_bench.data.tokenizers import get_tokenizer\n"
    "get_tokenizer(sys.argv[1]).count('warm up')\n"
    "print(time.perf_counter() - t)\n"
)


def first_use_s(encoding: str) -> float:
    """Import of the tokenizer module and first count (tables load), in a fresh process."""
    out = subprocess.run(
        [PY, "-c", FIRST_USE, encoding], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return float(out.stdout.strip())


def pure(rounds: int, n_prompts: int) -> list[dict[str, Any]]:
    rows = []
    for encoding in ENCODINGS:
        tokenizer = get_tokenizer(encoding)
        load_s = first_use_s(encoding)
        tokenizer.count("warm up")  # this process: tables loaded before any timing
        for tokens in SIZES:
            messages = synthetic_prompts(1, tokens, OUTPUT_TOKENS, tokenizer=encoding)[0].messages
            counted = tokenizer.chat_tokens(messages)
            chars = sum(len(m["content"]) for m in messages)
            count = per_call_us(lambda t=tokenizer, m=messages: t.chat_tokens(m), rounds)
            build = per_prompt_us(n_prompts, tokens, encoding, rounds)
            row = {
                "encoding": encoding,
                "prompt_tokens": tokens,
                "counted": counted,
                "content_chars": chars,
                "first_use_s": load_s,
                "count_us": count["us"],
                "count_share": count["us"] / BUDGET_US,
                "count": count,
                "build_us": build["us"],
                "build_share": build["us"] / BUDGET_US,
                "build": build,
            }
            rows.append(row)
            print(
                f"pure {encoding:11} {tokens:5} tokens ({chars:,} chars, counts {counted}): "
                f"count {row['count_us']:9.1f} µs ({row['count_share'] * 100:6.2f}% of 1,000 µs), "
                f"build {row['build_us']:9.1f} µs ({row['build_share'] * 100:6.1f}%)",
                file=sys.stderr,
                flush=True,
            )
    return rows


# --- 2. load ----------------------------------------------------------------------------------


def load_command(base_url: str, out_dir: Path, duration: float, args: tuple[str, ...]) -> list[str]:
    # --model m: the refserver lists only "m" (the default arm "auto" is refused);
    # --yes: a --base-url target is a real one, and no price is known for "m".
    return [
        "taskset", "-c", "1", PY, "-m", "auraon_bench", "load",
        "--profile", "constant", "--duration", f"{duration:g}", "--no-stream",
        "--input-tokens", str(INPUT_TOKENS), "--output-tokens", str(OUTPUT_TOKENS),
        *args,
        "--base-url", base_url, "--api-key", "x", "--model", "m", "--yes",
        "--out", str(out_dir),
    ]  # fmt: skip


def option(args: tuple[str, ...], name: str, default: str) -> str:
    return args[args.index(name) + 1] if name in args else default


def build_settings(args: tuple[str, ...]) -> dict[str, Any]:
    return {
        "tokenizer": option(args, "--tokenizer", "o200k_base"),
        "turns": int(option(args, "--turns", "1")),
        "shared_prefix_tokens": int(option(args, "--shared-prefix-tokens", "0")),
    }


def build_seconds(args: tuple[str, ...], rounds: int = 3) -> float:
    """``synthetic_prompts`` as ``load`` calls it for these options (256 prompts, seed 0)."""
    settings = build_settings(args)
    get_tokenizer(settings["tokenizer"]).count("warm up")
    values = []
    for _ in range(rounds):
        gc.collect()
        start = time.perf_counter_ns()
        synthetic_prompts(256, INPUT_TOKENS, OUTPUT_TOKENS, seed=0, **settings)
        values.append((time.perf_counter_ns() - start) / 1e9)
    return statistics.median(values)


def run_records(out_dir: Path) -> dict[str, Any]:
    """Counts from requests.parquet, and the first turns' schedule (what the schedule sets)."""
    import numpy as np
    import pyarrow.parquet as pq

    df = pq.read_table(
        out_dir / "requests.parquet",
        columns=["attempt", "turn", "status", "t_sent", "schedule_lag_s"],
    ).to_pandas()
    first = df[df["attempt"] == 1]
    out: dict[str, Any] = {
        "records": len(df),
        "ok": int((df["status"] == "ok").sum()),
        "not_ok": int((df["status"] != "ok").sum()),
    }
    if first["turn"].notna().any():
        opening = first[first["turn"] == 1]
        sent = opening["t_sent"].dropna().to_numpy(dtype=float)
        lag = opening["schedule_lag_s"].dropna().to_numpy(dtype=float)
        out.update(
            conversations=len(opening),
            first_turn_rate_rps=(len(sent) - 1) / (sent.max() - sent.min())
            if len(sent) > 1
            else None,
            first_turn_lag_p50_s=float(np.percentile(lag, 50)),
            first_turn_lag_p99_s=float(np.percentile(lag, 99)),
            requests_per_conversation=len(first) / max(len(opening), 1),
        )
    return out


def load_run(refserver: Path, work: Path, label: str, args: tuple[str, ...], duration: float,
             index: int) -> dict[str, Any]:  # fmt: skip
    out_dir = work / f"run-{index}"
    with RefServer(refserver, "--tokens", str(OUTPUT_TOKENS)) as server:
        command = load_command(server.base_url, out_dir, duration, args)
        log = work / f"run-{index}.log"
        start = time.perf_counter()
        with log.open("wb") as err:
            done = subprocess.run(
                command, stdout=subprocess.DEVNULL, stderr=err, cwd=work, timeout=900
            )
        wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{label}: load exited {done.returncode}: {log.read_text()[-2000:]}")
    summary = json.loads((out_dir / "summary.json").read_text())
    check = summary["self_check"]
    row = {
        "config": label,
        "args": list(args),
        "wall_s": wall,
        "self_check": check,
        "warnings": summary.get("warnings", []),
        **run_records(out_dir),
    }
    cpu = check.get("client_cpu_share")
    rate = check.get("achieved_rate_rps")
    row["client_cpu_us_per_request"] = cpu * 1e6 / rate if cpu is not None and rate else None
    p50, p99 = check["schedule_lag_p50_s"] * 1e3, check["schedule_lag_p99_s"] * 1e3
    lag = f"lag p50 {p50:.2f} ms p99 {p99:.2f} ms"
    first = (
        f"; first turns {row['first_turn_rate_rps']:.1f} conv/s, lag p99 "
        f"{row['first_turn_lag_p99_s'] * 1e3:.2f} ms"
        if "first_turn_rate_rps" in row
        else ""
    )
    print(
        f"load {label}: achieved {rate:.1f} req/s, {lag}, client CPU {cpu * 100:.0f}%, kept "
        f"{check['kept_schedule']}{first}; {row['records']} records ({row['not_ok']} not ok); "
        f"wall {wall:.1f} s",
        file=sys.stderr,
        flush=True,
    )
    return row


# --- 3. calls ---------------------------------------------------------------------------------
CALLS = r"""
import atexit, functools, json, sys, time
T0 = time.perf_counter_ns()
out_path = sys.argv[1]
from auraon_bench.client import http
from auraon_bench.data import tokenizers as tk
calls = []  # (start ns, duration ns, kind, outermost)
depth = [0]
def timed(kind, fn, *args):
    depth[0] += 1
    t = time.perf_counter_ns()
    try:
        return fn(*args)
    finally:
        depth[0] -= 1
        calls.append((t, time.perf_counter_ns() - t, kind, depth[0] == 0))
real_count = tk.Tokenizer.count
tk.Tokenizer.count = lambda self, text: timed("count", real_count, self, text)
class Encoding:
    def __init__(self, real):
        self.real = real
    def encode_ordinary(self, text):
        return timed("encode", self.real.encode_ordinary, text)
    def decode(self, ids):
        return timed("decode", self.real.decode, ids)
    def __getattr__(self, name):
        return getattr(self.real, name)
real_encoding = tk._encoding
tk._encoding = functools.cache(lambda name: Encoding(timed("load", real_encoding, name)))
window = [None, None, 0]  # first send, last answer, requests
real_chat = http.MeasuringClient.chat
async def chat(self, *args, **kwargs):
    t = time.perf_counter_ns()
    if window[0] is None:
        window[0] = t
    try:
        return await real_chat(self, *args, **kwargs)
    finally:
        window[1] = time.perf_counter_ns()
        window[2] += 1
http.MeasuringClient.chat = chat
def report():
    first, last, n = window
    def part(rows):
        kinds = ("count", "encode", "decode", "load")
        return {"calls": sum(1 for r in rows if r[2] != "load"),
                "by_kind": {k: sum(1 for r in rows if r[2] == k) for k in kinds},
                "seconds": sum(r[1] for r in rows if r[3]) / 1e9,
                "tables_load_s": sum(r[1] for r in rows if r[2] == "load") / 1e9}
    before = [c for c in calls if first is None or c[0] < first]
    during = [c for c in calls if first is not None and first <= c[0] <= last]
    after = [c for c in calls if last is not None and c[0] > last]
    with open(out_path, "w") as f:
        json.dump({"requests": n, "before": part(before), "during": part(during),
                   "after": part(after),
                   "start_to_first_send_s": None if first is None else (first - T0) / 1e9,
                   "send_window_s": None if first is None else (last - first) / 1e9}, f)
atexit.register(report)
sys.argv = ["auraon-bench", *sys.argv[2:]]
from auraon_bench.cli.main import cli
cli(prog_name="auraon-bench")
"""


def calls_run(refserver: Path, work: Path, label: str, args: tuple[str, ...], duration: float,
              index: int) -> dict[str, Any]:  # fmt: skip
    out_dir = work / f"calls-{index}"
    report = work / f"calls-{index}.json"
    with RefServer(refserver, "--tokens", str(OUTPUT_TOKENS)) as server:
        command = load_command(server.base_url, out_dir, duration, args)
        at = command.index("-m")
        command[at : at + 2] = ["-c", CALLS, str(report)]  # the wrapped CLI instead of -m
        log = work / f"calls-{index}.log"
        with log.open("wb") as err:
            done = subprocess.run(
                command, stdout=subprocess.DEVNULL, stderr=err, cwd=work, timeout=900
            )
    if done.returncode != 0 or not report.exists():
        raise SystemExit(
            f"{label}: wrapped load exited {done.returncode}: {log.read_text()[-2000:]}"
        )
    row = {
        "config": label,
        "args": list(args),
        "duration_s": duration,
        **json.loads(report.read_text()),
    }
    print(
        f"calls {label}: {row['requests']} requests; tokenizer calls before the first send "
        f"{row['before']['calls']} ({row['before']['seconds']:.3f} s, of which tables load "
        f"{row['before']['tables_load_s']:.3f} s), while requests were in "
        f"flight {row['during']['calls']}, after {row['after']['calls']}; start to first send "
        f"{row['start_to_first_send_s']:.2f} s",
        file=sys.stderr,
        flush=True,
    )
    return row


# --- report -----------------------------------------------------------------------------------


def print_report(result: dict[str, Any]) -> None:
    info = result["machine"]
    print(
        f"\nMachine: {info['cpus']} CPUs, {info['cpu_model']}, Python {info['python']}, "
        f"{info['date']}, load average at start {' '.join(info['loadavg_at_start'])}"
        f"\nCommand: {result['command']}\n"
    )
    if result.get("pure"):
        print("Tokenizer cost per request (median of rounds; share of 1,000 µs = 1 request at "
              "1,000 req/s on one core)")  # fmt: skip
        print(f"{'encoding':12} {'tokens':>6} {'chars':>7} {'count µs':>10} {'share':>7} "
              f"{'build µs':>10} {'share':>7} {'first use s':>11}")  # fmt: skip
        for r in result["pure"]:
            print(
                f"{r['encoding']:12} {r['prompt_tokens']:6} {r['content_chars']:7,} "
                f"{r['count_us']:10.1f} {r['count_share'] * 100:6.2f}% {r['build_us']:10.1f} "
                f"{r['build_share'] * 100:6.1f}% {r['first_use_s']:11.3f}"
            )
        print()
    if result.get("load"):
        print(f"Runs at {RATE:,} req/s, non-streamed, {INPUT_TOKENS:,}-token prompts")
        for r in result["load"]:
            c = r["self_check"]
            extra = (
                f", first turns {r['first_turn_rate_rps']:.1f} conv/s lag p50 "
                f"{r['first_turn_lag_p50_s'] * 1e3:.2f} ms p99 "
                f"{r['first_turn_lag_p99_s'] * 1e3:.2f} ms"
                if "first_turn_rate_rps" in r
                else ""
            )
            print(
                f"  {r['config']}: achieved {c['achieved_rate_rps']:.1f} req/s of "
                f"{c['scheduled_rate_rps']:.1f} scheduled, lag p50 "
                f"{c['schedule_lag_p50_s'] * 1e3:.2f} ms p99 "
                f"{c['schedule_lag_p99_s'] * 1e3:.2f} ms, "
                f"client CPU {c['client_cpu_share'] * 100:.1f}% "
                f"({r['client_cpu_us_per_request']:.0f} µs/request), kept_schedule "
                f"{c['kept_schedule']}, client_bound {c['client_bound']}{extra}; "
                f"{r['records']:,} records, {r['not_ok']} not ok; command {r['wall_s']:.1f} s; "
                f"synthetic_prompts (256) in-process {r['build_s']:.3f} s"
            )
        print()
    if result.get("calls"):
        print(
            "Tokenizer calls in a wrapped `load` (count + encode + decode, nested ones too; time "
            "of the outermost)"
        )
        for r in result["calls"]:
            print(
                f"  {r['config']} ({r['duration_s']:g} s, {r['requests']:,} requests): before the "
                f"first send {r['before']['calls']:,} ({r['before']['seconds']:.3f} s, of which "
                f"tables load {r['before']['tables_load_s']:.3f} s), while "
                f"requests were in flight {r['during']['calls']}, after {r['after']['calls']}; "
                f"start to first send {r['start_to_first_send_s']:.2f} s"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--phases", default="pure,load,calls")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of each load run")
    parser.add_argument("--repeat", type=int, default=1, help="load runs per configuration")
    parser.add_argument("--no-conversations", action="store_true", help="skip the 4-turn run")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of each pure timing")
    parser.add_argument("--prompts", type=int, default=256, help="prompts built per round")
    parser.add_argument("--check-duration", type=float, default=5.0, help="seconds, calls phase")
    parser.add_argument(
        "--refserver", type=Path, default=ROOT.parent / "shared" / "bench" / "refserver.py"
    )
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    phases = set(args.phases.split(","))
    if phases & {"load", "calls"} and not args.refserver.exists():
        raise SystemExit(f"refserver not found: {args.refserver} (pass --refserver PATH)")
    configs = CONFIGS if args.no_conversations else (*CONFIGS, CONVERSATION)
    result: dict[str, Any] = {
        "machine": machine(),
        "command": "python benchmarks/tokenizer_cost.py " + " ".join(sys.argv[1:]),
        "budget_us": BUDGET_US,
    }
    with tempfile.TemporaryDirectory(prefix="auraon-tokenizer-") as tmp:
        work = Path(tmp)
        if "pure" in phases:
            result["pure"] = pure(args.rounds, args.prompts)
        if "load" in phases:
            rows = []
            for repeat in range(args.repeat):
                for i, (label, extra) in enumerate(configs):
                    index = repeat * len(configs) + i
                    rows.append(load_run(args.refserver, work, label, extra, args.duration, index))
            built = {extra: build_seconds(extra) for _, extra in configs}
            for row in rows:
                row["build_s"] = built[tuple(row["args"])]
            result["load"] = rows
        if "calls" in phases:
            result["calls"] = [
                calls_run(args.refserver, work, label, extra, args.check_duration, i)
                for i, (label, extra) in enumerate(configs)
            ]
    result["loadavg_at_end"] = os.getloadavg()
    print_report(result)
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
