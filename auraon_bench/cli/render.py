"""What the console shows during and after a run: a live status line and per-arm tables.

Everything goes to stderr except the final tables, so stdout stays clean for piping.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from auraon_bench.analysis.load_summary import ArmSummary, RunSummary
from auraon_bench.cli.exit_codes import failed_arms
from auraon_bench.errors import ConfigError
from auraon_bench.load.runner import LoadRunner
from auraon_bench.load.target import Target
from auraon_bench.report.conversations import shows_caching

err = Console(stderr=True)
out = Console()


def confirm_real_target(yes: bool) -> Callable[[str], bool]:
    """The money guard's question: shown always; answered by --yes, or asked on a terminal."""

    def confirm(text: str) -> bool:
        click.echo(text, err=True)
        if yes:
            return True
        if not sys.stdin.isatty():
            raise ConfigError(
                "refusing to send load to a real target without confirmation: pass --yes",
                field="--yes",
            )
        return click.confirm("send it?", err=True)

    return confirm


def run_with_live_line(run: Callable[..., Any], options: Any, *, yes: bool) -> Any:
    """Run a load-sending job (``run_load``, ``run_eval``) with the money guard's prompt first
    and the live status line while it sends."""
    with LiveLine() as live:
        return run(
            options, confirm=confirm_real_target(yes), on_start=live.start, on_tick=live.update
        )


class LiveLine:
    """One refreshing line: elapsed, request rate, ok, errors, 429s, p50 TTFT, in flight."""

    def __init__(self) -> None:
        self._live = Live(Text(""), console=err, refresh_per_second=4, transient=True)
        self._started = False

    def __enter__(self) -> LiveLine:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._started:
            self._live.stop()

    def start(self, runner: LoadRunner, target: Target, run_dir: Path) -> None:
        """Called once load begins: after any confirmation prompt, which the live line would
        otherwise draw over."""
        kind = target.label
        err.print(f"target: {kind}\nrun directory: {run_dir}")
        self._live.start()
        self._started = True

    def update(self, runner: LoadRunner) -> None:
        stats = runner.stats
        p50 = stats.p50_ttft()
        ttft = f"{p50 * 1000:.0f} ms" if p50 is not None else "-"
        stopping = f"  [stopping: {runner.stop_reason}]" if runner.stop_reason else ""
        self._live.update(
            Text(
                f"{stats.elapsed():6.1f}s  {stats.rate():8.1f} req/s  ok {stats.statuses['ok']}  "
                f"errors {stats.errors}  429s {stats.statuses['rate_limited']}  "
                f"p50 TTFT {ttft} (last {len(stats.recent_ttft)})  in flight {stats.in_flight}"
                f"  cost ${stats.cost_usd:.4f}{stopping}"
            )
        )


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.1f}"


def _num(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def arm_table(summary: RunSummary, title: str) -> Table:
    """Metrics down, arms across: stays readable at 80 columns with several arms."""
    table = Table(title=title, title_justify="left")
    table.add_column("metric")
    for arm in summary.arms:
        table.add_column(str(arm.arm), justify="right")

    def row(label: str, cell: Any) -> None:
        table.add_row(label, *(cell(a) for a in summary.arms))

    def pct(metric: str, p: str, scale: float, digits: int) -> Any:
        def cell(arm: ArmSummary) -> str:
            dist = getattr(arm, metric)
            value = getattr(dist, p)
            return "-" if value is None else f"{value * scale:.{digits}f}"

        return cell

    row("requests (n)", lambda a: str(a.requests))
    row("ok", lambda a: str(a.ok))
    row("errors (not 429)", lambda a: str(a.errors.failed))
    row("429 rate limited", lambda a: str(a.errors.rate_limited))
    for metric, label, scale, unit, digits in (
        ("ttft_s", "TTFT", 1000, "ms", 1),
        ("tpot_s", "TPOT", 1000, "ms", 2),
        ("latency_s", "latency", 1, "s", 3),
    ):
        row(f"{label} n", lambda a, m=metric: str(getattr(a, m).n))
        for p in ("p50", "p90", "p99"):
            row(f"{label} {p} ({unit})", pct(metric, p, scale, digits))
    row("throughput (req/s)", lambda a: _num(a.request_throughput))
    row("output (tok/s)", lambda a: _num(a.output_token_throughput))
    row("cost total (USD)", lambda a: _num(a.cost.total_usd, 6))
    row("cost per 1k req (USD)", lambda a: _num(a.cost.per_1k_requests_usd, 4))
    row("cost source", lambda a: ",".join(a.cost.cost_sources) or "-")
    return table


def _n(text: str, n: int) -> str:
    return text if text == "-" else f"{text} (n={n:,})"


def _caching_cells(arm: ArmSummary) -> dict[str, str]:
    """One arm's cells of the caching table, by row label (rows it has no figures for absent)."""
    cells = {}
    if (c := arm.cache) is not None:
        saved, without = c.saved_usd, c.cost_without_cache_usd
        share = f" ({c.saved_share * 100:.0f}%)" if c.saved_share is not None else ""
        hit, miss = c.ttft_cached_s, c.ttft_uncached_s
        cells |= {
            "cache hit (% prompt tok)": _n(_pct(c.hit_rate), c.rows),
            "cost with caching (USD)": _num(c.cost_usd, 6),
            "cost w/o caching (USD)": _num(without, 6),
            "saved by caching (USD)": _num(saved, 6) + share,
            "TTFT p50 cache hit (ms)": _n(_ms(hit.p50), hit.n),
            "TTFT p50 cache miss (ms)": _n(_ms(miss.p50), miss.n),
        }
    if (v := arm.conversations) is not None:
        cells |= {
            "conversations (n)": f"{v.conversations:,}",
            "turns per conversation": _num(v.turns_mean),
            "switches / conversation": _n(_num(v.switches_per_conversation, 2), v.multi_turn),
            "lost cache discount (USD)": _num(v.lost_discount_usd, 6),
        }
    if (o := arm.output_caps) is not None:
        cells |= {
            "max_tokens honoured": _n(_pct(o.honoured_share), o.rows),
            "over max_tokens (n)": f"{o.over_cap:,}",  # a row only when one arm has some
        }
    return cells


_CACHING_ROWS = (
    "cache hit (% prompt tok)", "cost with caching (USD)", "cost w/o caching (USD)",
    "saved by caching (USD)", "TTFT p50 cache hit (ms)", "TTFT p50 cache miss (ms)",
    "conversations (n)", "turns per conversation", "switches / conversation",
    "lost cache discount (USD)", "max_tokens honoured", "over max_tokens (n)",
)  # fmt: skip


def caching_table(summary: RunSummary, prefix_asked: bool = False) -> Table | None:
    """Prompt caching, conversations and output caps per arm, as the summary holds them
    (:mod:`auraon_bench.analysis.conversations`), each cell with its n; None when the arms
    have nothing to say about them (the report's rule,
    :func:`~auraon_bench.report.conversations.shows_caching`): an ordinary run prints no more.
    """
    arms = summary.arms
    if not shows_caching(arms, prefix_asked):
        return None
    cells = [_caching_cells(a) for a in arms]
    title = "prompt caching and conversations per arm (n per cell)"
    table = Table(title=title, title_justify="left")
    table.add_column("metric")
    for arm in arms:
        table.add_column(str(arm.arm), justify="right")
    over = any(a.output_caps is not None and a.output_caps.over_cap for a in arms)
    for label in _CACHING_ROWS:
        if any(label in c for c in cells) and (over or label != "over max_tokens (n)"):
            table.add_row(label, *(c.get(label, "-") for c in cells))
    return table


def caching_notes(summary: RunSummary, prefix_asked: bool = False) -> list[str]:
    """What the caching table needs said: models without a known cache discount; and, for a
    run without that table, answers that ran past their max_tokens."""
    if shows_caching(summary.arms, prefix_asked):
        unpriced = sorted({m for a in summary.arms if a.cache for m in a.cache.unpriced_models})
        text = "cache costs leave out requests of models without a known cache discount: "
        return [text + ", ".join(unpriced)] if unpriced else []
    return [
        f"max_tokens: {a.arm} honoured it in {_pct(o.honoured_share)} of {o.rows:,} answers; "
        f"{o.over_cap:,} ran over the cap"
        for a in summary.arms
        if (o := a.output_caps) is not None and o.over_cap
    ]


def error_lines(summary: RunSummary) -> list[str]:
    """Per arm with attempts that were not ok: how many, then its most frequent error groups
    as the summary holds them (count, status, HTTP status, type: normalized message). An arm
    whose every attempt failed says so first, so its empty latency columns are not taken for a
    result."""
    lines = []
    for arm in summary.arms:
        errors = arm.errors
        if not errors.not_ok:
            continue
        cancelled = f" ({errors.cancelled} cancelled in flight)" if errors.cancelled else ""
        if errors.all_failed:
            lines.append(f"  {arm.arm}: all {errors.judged} attempts failed{cancelled}")
        elif errors.not_ok > errors.cancelled:
            lines.append(
                f"  {arm.arm}: {errors.not_ok - errors.cancelled} of {errors.judged} attempts "
                f"failed{cancelled}"
            )
        else:
            lines.append(f"  {arm.arm}: none failed{cancelled}")
        for group in errors.top_errors or ():
            lines.append(f"    {group.count:>6}  {group.describe()}")
        shown = len(errors.top_errors or ())
        if errors.distinct_errors is not None and errors.distinct_errors > shown:
            lines.append(f"    ({errors.distinct_errors - shown} less frequent kinds not shown)")
    return lines


def print_errors(summary: RunSummary, heading: str = "errors") -> None:
    """The :func:`error_lines` of ``summary`` under ``heading``; nothing when every attempt
    was ok. Escaped and never wrapped: a message may hold rich markup or a long URL."""
    lines = error_lines(summary)
    if not lines:
        return
    out.print(
        f"{escape(heading)} (most frequent first; count, status, HTTP status, type: message, "
        "numbers and ids as {n} and {id}):",
        soft_wrap=True,
    )
    for line in lines:
        out.print(escape(line), soft_wrap=True, highlight=False)


def print_failed_arms(summary: RunSummary) -> None:
    """One line naming the arms with no ok attempt: why the command exits 1."""
    failed = failed_arms(summary.arms)
    if failed:
        out.print(
            f"[bold red]FAILED[/]: no ok attempt for {escape(', '.join(failed))}", soft_wrap=True
        )


def _prefix_asked(run_dir: Path) -> bool:
    """Whether the run sent a shared prefix (its manifest's options): then a cache that never
    hit is a finding, and the caching table shows it."""
    try:
        manifest = json.loads((Path(run_dir) / "manifest.json").read_text(encoding="utf-8"))
        return bool((manifest.get("options") or {}).get("shared_prefix_tokens"))
    except (OSError, ValueError, AttributeError):
        return False


def print_run_summary(result: Any) -> None:
    summary = result.summary
    n_note = "n = attempts measured, warm-up excluded"
    title = f"{'SIMULATED - ' if result.target.simulated else ''}per-arm summary ({n_note})"
    out.print(arm_table(summary, title))
    asked = _prefix_asked(result.run_dir)
    caching = caching_table(summary, asked)
    if caching is not None:
        out.print(caching)
    for line in caching_notes(summary, asked):
        out.print(escape(line), soft_wrap=True, highlight=False)
    print_errors(summary)
    check = result.self_check
    lag50, lag99 = check["schedule_lag_p50_s"], check["schedule_lag_p99_s"]
    achieved = check["achieved_rate_rps"]
    target = check["target_rate_rps"]
    scheduled = check.get("scheduled_rate_rps") or target
    workers = check.get("workers") or []
    cpu = "busiest worker's CPU" if workers else "client CPU"
    out.print(
        f"self-check: achieved {_num(achieved)} req/s"
        + (f" of {scheduled:.1f} scheduled ({target:g} nominal)" if target else "")
        + f", schedule lag p50 {_ms(lag50)} ms p99 {_ms(lag99)} ms, "
        f"{cpu} {check['client_cpu_share'] * 100:.0f}% of a core"
    )
    for worker in workers:
        out.print(
            f"  worker {worker['worker']} ({worker['host'] or '?'}): {worker['requests']} "
            f"requests, {_num(worker['achieved_rate_rps'])} req/s, lag p99 "
            f"{_ms(worker['schedule_lag_p99_s'])} ms, CPU "
            + (
                "-"
                if worker["client_cpu_share"] is None
                else f"{worker['client_cpu_share'] * 100:.0f}%"
            )
            + (" ok" if worker["kept_schedule"] else " NOT KEPT")
        )
    for warning in result.warnings:
        out.print(f"[bold yellow]WARNING[/]: {warning}")
    print_failed_arms(summary)
    out.print(f"run {result.status}: {result.run_dir}")


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _usd(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"${value:.{digits}f}"


def print_eval_report(result: Any) -> None:
    """Per-arm quality and cost, accuracy by category, then how each auto mode routes."""
    report = result.report
    simulated = "SIMULATED - " if result.load.target.simulated else ""
    table = Table(
        title=f"{simulated}quality and cost per arm (accuracy over graded prompts, "
        f"95% bootstrap CI)",
        title_justify="left",
    )
    for name in (
        "arm",
        "n",
        "accuracy [95% CI]",
        "failed",
        "$/1k req",
        "$/correct",
        "p50 s",
        "gw ms",
    ):
        table.add_column(name, justify="left" if name == "arm" else "right")
    overhead = {a.arm: a.gateway_overhead_s for a in result.load.summary.arms}
    failed = set(report.failed_arms)
    for row in report.accuracy.rows:
        cost = report.cost.rows.get(row.arm)
        ci = "" if row.ci_low is None else f" [{row.ci_low * 100:.0f}-{row.ci_high * 100:.0f}]"
        # Every answer failed: a 0% here would read as a measured quality; it is a refusal.
        accuracy = "ALL FAILED" if row.arm in failed else f"{_pct(row.accuracy)}{ci}"
        table.add_row(
            str(row.arm),
            str(row.n),
            accuracy,
            _pct(row.failure_rate),
            _usd(cost.per_1k_requests_usd if cost else None, 3),
            _usd(cost.per_correct_usd if cost else None, 5),
            _num(cost.latency_s.p50 if cost else None, 2),
            _ms(overhead[row.arm].p50) if row.arm in overhead else "-",
        )
    out.print(table)
    out.print(
        "p50 s: latency; gw ms: client latency minus the gateway's own latency_ms (what "
        "network and gateway add); n per arm in summary.json"
    )
    print_errors(result.load.summary)
    categories = sorted({r.category for r in report.accuracy_by_category.rows if r.category})
    by_cat = Table(title="accuracy by category (n prompts per cell)", title_justify="left")
    by_cat.add_column("arm")
    for category in categories:
        by_cat.add_column(category, justify="right")
    for arm in report.arms:
        cells = []
        for category in categories:
            try:
                row = report.accuracy_by_category.row(arm, category)
                shown = "failed" if arm in failed else _pct(row.accuracy)
                cells.append(f"{shown} ({row.n})")
            except KeyError:
                cells.append("-")
        by_cat.add_row(arm, *cells)
    out.print(by_cat)
    if report.routing is not None:
        print_routing(report.routing)
    if result.judge is not None:
        judge = result.judge
        out.print(
            f"judge {judge.model}: {judge.requests} ratings ({judge.ok} ok), "
            f"{_usd(judge.cost_usd, 6)} in all, not included in the arms' cost"
        )
    failures = {k: v for k, v in report.grade_failures.items() if k != "missing" and v}
    if failures:
        out.print(
            "grading: "
            + ", ".join(f"{k} {v}" for k, v in failures.items())
            + " (failed, empty and refused answers count as wrong; judge-only items are "
            "left ungraded)"
        )
    for warning in result.load.warnings:
        out.print(f"[bold yellow]WARNING[/]: {warning}")
    print_failed_arms(result.load.summary)
    out.print(
        f"run {result.load.status}: {result.load.run_dir} (evaluation.json beside the records)"
    )


def print_routing(routing: Any) -> None:
    """Auto arms across, figures down; comparisons against the reference (default: the most
    accurate fixed model, as evaluation.json's ``reference`` says); one line per routing curve."""
    reference = routing.reference
    table = Table(
        title=f"auto versus fixed models ({routing.n_prompts} prompts every arm "
        f"answered; weak {routing.weak}, strong {routing.strong}, reference {reference})",
        title_justify="left",
    )
    table.add_column("figure")
    arms = list(routing.arms.items())
    for arm, _ in arms:
        table.add_column(arm, justify="right")

    def row(label: str, cell: Any) -> None:
        table.add_row(label, *(cell(r) for _, r in arms))

    def versus(r: Any) -> Any:
        return r.versus_reference

    def saving(r: Any) -> str:
        if r.position is None:
            return "-"
        return "beats all" if r.position.above_best_model else _pct(r.position.cost_saving)

    row("accuracy", lambda r: _pct(r.quality))
    row("cost per request (USD)", lambda r: _usd(r.cost, 6))
    row(f"share routed to {routing.strong}", lambda r: _pct(r.strong_share))
    row("PGR", lambda r: _num(r.pgr, 2))
    row("routing skill (PGR - share)", lambda r: _num(r.routing_skill, 2))
    row(
        "quality gain at equal cost", lambda r: _pct(r.position.quality_gain) if r.position else "-"
    )
    row("cost saving at equal quality", saving)
    row(
        f"accuracy - {reference}",
        lambda r: (
            (
                f"{_pct(versus(r).difference)} [{_pct(versus(r).difference_ci[0])}, "
                f"{_pct(versus(r).difference_ci[1])}]"
            )
            if versus(r)
            else "-"
        ),
    )
    row(f"cost saved vs {reference}", lambda r: _pct(versus(r).cost_saved) if versus(r) else "-")
    row("McNemar p (Holm)", lambda r: _num(versus(r).mcnemar_p_holm, 3) if versus(r) else "-")
    row("shuffled-control p", lambda r: _num(r.shuffled.p_value, 3))
    for rank in range(3):
        row(f"route #{rank + 1}", lambda r, k=rank: _route(r.mix.shares, k))
    out.print(table)
    oracle = routing.oracle
    extra = [
        f"oracle (cheapest correct fixed model per prompt): {_pct(oracle.accuracy)} at "
        f"{_usd(oracle.cost_per_request, 6)} per request"
    ]
    for curve in routing.curves:
        extra.append(
            f"curve {curve.name} ({', '.join(p.arm for p in curve.points)}): "
            f"APGR {_num(curve.apgr, 3)}, CPT(50%) {_pct(curve.cpt50)}, AIQ {_num(curve.aiq, 3)}"
        )
    if routing.curves and routing.aiq_cost_range:
        low, high = routing.aiq_cost_range
        extra.append(
            f"AIQ of the fixed models {_num(routing.aiq_fixed, 3)}; every AIQ over the same "
            f"cost range {_usd(low, 6)} to {_usd(high, 6)} per request"
        )
    missing = sorted({m for r in routing.arms.values() for m in r.shuffled.missing_models})
    if missing:
        extra.append(
            "shuffled control needs every model auto used among the arms; add " + ", ".join(missing)
        )
    for line in [*extra, *routing.notes]:
        out.print(line)


def _route(shares: dict[str, float], rank: int) -> str:
    top = sorted(shares.items(), key=lambda kv: -kv[1])
    return f"{top[rank][0]} {top[rank][1] * 100:.0f}%" if rank < len(top) else "-"
