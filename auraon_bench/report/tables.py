"""The report's tables, built from run files: raw values for CSV, formatted cells for people.

Every column header states its unit, every table its sample sizes (an ``n`` column or a note).
A table is shown to people and written to CSV from the same rows: a column only a machine needs
(the raw number behind a formatted one) is marked ``csv_only`` and appears in the CSV alone.
Builders return ``None`` when a run has nothing for that table, so renderers never show an empty
table. Every figure is read from the typed result a run holds (``RunSummary``, ``EvalReport``,
``LimitsSummary``, ``PlanFit``, ``ExperimentSummary``), never re-derived here: a table cannot
disagree with the file it shows. Pure: run data in, :class:`Table` out; rendering is elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from auraon_bench.analysis.load_summary import ArmSummary
from auraon_bench.results.run import Part, Run


def fmt_int(value: Any) -> str:
    return "-" if value is None else f"{int(value):,}"


def fmt_ms(value: Any) -> str:
    return "-" if value is None else f"{value * 1000:.1f}"


def fmt_s(value: Any) -> str:
    return "-" if value is None else f"{value:.3f}"


def fmt_num(value: Any, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def fmt_pct(value: Any) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def fmt_usd(value: Any, digits: int = 6) -> str:
    return "-" if value is None else f"${value:.{digits}f}"


def fmt_text(value: Any) -> str:
    return "-" if value is None or value == "" else str(value)


@dataclass(frozen=True)
class Column:
    name: str  # with its unit, e.g. "TTFT p50 (ms)"
    fmt: Callable[[Any], str] = fmt_text
    numeric: bool = True
    csv_only: bool = False  # in the CSV, not in the report: a raw value people read elsewhere

    @property
    def csv_name(self) -> str:
        """CSV holds raw values: seconds, shares and USD, whatever the display unit."""
        for display, raw in (("(ms)", "(s)"), ("(%)", "(share)")):
            if self.name.endswith(display) and self.fmt in (fmt_ms, fmt_pct):
                return self.name[: -len(display)] + raw
        return self.name


@dataclass(frozen=True)
class Table:
    key: str  # file-safe: the CSV file's name
    title: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[Any, ...], ...]
    note: str = ""

    @property
    def display_columns(self) -> tuple[Column, ...]:
        """The columns a report shows (every one but the ``csv_only``)."""
        return tuple(c for c in self.columns if not c.csv_only)

    def cells(self) -> list[list[str]]:
        """The displayed columns' cells, formatted for people, row by row."""
        return [
            [c.fmt(v) for c, v in zip(self.columns, row, strict=True) if not c.csv_only]
            for row in self.rows
        ]


def _key(*parts: str) -> str:
    return "-".join(p.replace(".", "_").replace(":", "_") for p in parts if p)


def arm_names(part: Part) -> list[str]:
    """The arms of a part's summary, in its order."""
    return [str(a.arm) for a in part.load_summary.arms]


def _other_errors(s: ArmSummary) -> int:
    """Failed attempts that were neither rate limited nor cancelled by the run's stop."""
    return s.errors.failed


def overview_table(run: Run) -> Table:
    rows = []
    for part in run.parts:
        overall = part.load_summary.overall
        check = part.manifest.get("self_check") or {}
        kept = check.get("kept_schedule")
        # How the part ended, and whether it measured anything: every attempt failed.
        status = part.status + (", ALL FAILED" if overall.errors.all_failed else "")
        rows.append(
            (
                part.name,
                part.kind,
                status,
                ", ".join(arm_names(part)),
                overall.requests,
                overall.ok,
                overall.errors.rate_limited,
                _other_errors(overall),
                overall.window_s,
                overall.cost.total_usd,
                "-" if kept is None else ("yes" if kept else "NO"),
            )
        )
    columns = (
        Column("part", numeric=False),
        Column("kind", numeric=False),
        Column("status", numeric=False),
        Column("arms", numeric=False),
        Column("requests (n)", fmt_int),
        Column("ok (n)", fmt_int),
        Column("429 (n)", fmt_int),
        Column("other errors (n)", fmt_int),
        Column("duration (s)", lambda v: fmt_num(v, 1)),
        Column("cost (USD)", fmt_usd),
        Column("client kept schedule", numeric=False),
    )
    note = "requests: attempts, warm-up excluded; duration: first send to last completion"
    return Table(_key("overview"), "Parts of this run", columns, tuple(rows), note)


def load_table(part: Part, label: str = "") -> Table | None:
    arms = part.load_summary.arms
    if not arms:
        return None
    rows = []
    for s in arms:
        rows.append(
            (
                s.arm,
                s.requests,
                s.ok,
                s.errors.rate_limited,
                _other_errors(s),
                s.latency_s.n,  # the n of the latency columns (a non-streamed run has no TTFT)
                s.ttft_s.p50,
                s.ttft_s.p95,
                s.tpot_s.p50,
                s.latency_s.p50,
                s.latency_s.p95,
                s.latency_s.p99,
                s.request_throughput,
                s.output_token_throughput,
                s.cost.per_1k_requests_usd,
            )
        )
    columns = (
        Column("arm", numeric=False),
        Column("requests (n)", fmt_int),
        Column("ok (n)", fmt_int),
        Column("429 (n)", fmt_int),
        Column("errors (n)", fmt_int),
        Column("latency n", fmt_int),
        Column("TTFT p50 (ms)", fmt_ms),
        Column("TTFT p95 (ms)", fmt_ms),
        Column("TPOT p50 (ms)", fmt_ms),
        Column("latency p50 (s)", fmt_s),
        Column("latency p95 (s)", fmt_s),
        Column("latency p99 (s)", fmt_s),
        Column("throughput (req/s)", lambda v: fmt_num(v, 2)),
        Column("output (tok/s)", lambda v: fmt_num(v, 1)),
        Column("cost per 1k req (USD)", lambda v: fmt_usd(v, 4)),
    )
    note = (
        "percentiles of ok attempts (linear interpolation), n = latency n; TPOT = (last - first "
        "content event) / (completion tokens - 1)"
    )
    title = f"Latency, throughput and cost per arm: {part.name}{label}"
    return Table(_key("load", part.name), title, columns, tuple(rows), note)


def stages_table(part: Part) -> Table | None:
    stages = part.load_summary.stages
    if len(stages) < 2:
        return None
    options = part.options.get("stages") or []  # the manifest's plan of the sweep
    rows = []
    for stage in sorted(stages, key=lambda st: st.stage):
        index = stage.stage
        rate, conc = options[index] if index < len(options) else (None, None)
        planned = f"{rate:g} req/s" if rate is not None else f"concurrency {conc}"
        for s in stage.arms:
            rows.append(
                (
                    index,
                    planned,
                    s.arm,
                    s.requests,
                    s.achieved_rate,
                    s.latency_s.p50,
                    s.latency_s.p95,
                    s.errors.rate_limited,
                )
            )
    columns = (
        Column("stage", fmt_int),
        Column("planned", numeric=False),
        Column("arm", numeric=False),
        Column("requests (n)", fmt_int),
        Column("achieved (req/s)", lambda v: fmt_num(v, 2)),
        Column("latency p50 (s)", fmt_s),
        Column("latency p95 (s)", fmt_s),
        Column("429 (n)", fmt_int),
    )
    note = "achieved: per arm, (first attempts sent - 1) / send window"
    return Table(
        _key("stages", part.name), f"Sweep stages: {part.name}", columns, tuple(rows), note
    )


def accuracy_table(part: Part) -> Table | None:
    evaluation = part.evaluation
    if evaluation is None or not evaluation.accuracy.rows:
        return None
    costs = evaluation.cost.rows  # arm -> CostRow
    failed = set(evaluation.failed_arms)
    rows = []
    for row in evaluation.accuracy.rows:
        cost = costs.get(row.arm) if row.arm is not None else None
        # An arm none of whose answers arrived has no accuracy to show: its 0% (failed answers
        # score 0) would read as a measured quality. "-" here, 100% in the failed column.
        answered = row.arm not in failed
        rows.append(
            (
                row.arm,
                row.n,
                row.accuracy if answered else None,
                row.ci_low if answered else None,
                row.ci_high if answered else None,
                row.failure_rate,
                None if cost is None else cost.per_request_usd,
                None if cost is None else cost.per_correct_usd,
                None if cost is None else cost.latency_s.p50,
            )
        )
    columns = (
        Column("arm", numeric=False),
        Column("graded (n)", fmt_int),
        Column("accuracy (%)", fmt_pct),
        Column("CI low (%)", fmt_pct),
        Column("CI high (%)", fmt_pct),
        Column("failed (%)", fmt_pct),
        Column("cost per request (USD)", fmt_usd),
        Column("cost per correct (USD)", fmt_usd),
        Column("latency p50 (s)", fmt_s),
    )
    confidence = evaluation.accuracy.confidence
    note = f"accuracy over graded prompts, {confidence:.0%} percentile-bootstrap CI"
    if failed:
        note += f"; no answer arrived from {', '.join(sorted(failed))}: no accuracy (-)"
    title = f"Quality and cost per arm: {part.name}"
    return Table(_key("accuracy", part.name), title, columns, tuple(rows), note)


def category_table(part: Part) -> Table | None:
    evaluation = part.evaluation
    rows_in = evaluation.accuracy_by_category.rows if evaluation is not None else ()
    if not rows_in:
        return None
    categories = sorted({r.category for r in rows_in if r.category})
    arms = list(dict.fromkeys(r.arm for r in rows_in))
    cell = {(r.arm, r.category): r for r in rows_in}
    failed = set(evaluation.failed_arms) if evaluation is not None else set()
    rows = []
    for arm in arms:
        found = [cell.get((arm, c)) for c in categories]
        values: list[Any] = [arm]
        # No answer arrived from a failed arm: no accuracy ("-"), as in the quality table.
        values += [None if r is None or arm in failed else r.accuracy for r in found]
        values.append(" / ".join(fmt_int(None if r is None else r.n) for r in found))
        rows.append(tuple(values))
    columns = (
        Column("arm", numeric=False),
        *(Column(f"{c} (%)", fmt_pct) for c in categories),
        Column("n per category", numeric=False),
    )
    title = f"Accuracy by category: {part.name}"
    return Table(_key("categories", part.name), title, columns, tuple(rows))


def routing_table(part: Part) -> Table | None:
    routing = part.evaluation.routing if part.evaluation is not None else None
    if routing is None:
        return None
    rows = []
    for arm, r in routing.arms.items():
        top = sorted(r.mix.shares.items(), key=lambda kv: -kv[1])[:3]
        rows.append(
            (
                arm,
                r.quality,
                r.cost,
                r.pgr,
                None if r.position is None else r.position.quality_gain,
                None if r.position is None else r.position.cost_saving,
                ", ".join(f"{m} {s * 100:.0f}%" for m, s in top),
            )
        )
    columns = (
        Column("auto arm", numeric=False),
        Column("accuracy (%)", fmt_pct),
        Column("cost per request (USD)", fmt_usd),
        Column("PGR", lambda v: fmt_num(v, 2)),
        Column("quality gain at equal cost (%)", fmt_pct),
        Column("cost saving at equal quality (%)", fmt_pct),
        Column("routed to (top 3)", numeric=False),
    )
    note = (
        f"{routing.n_prompts} prompts answered by every arm; weak {routing.weak}, "
        f"strong {routing.strong}; PGR = (auto - weak) / (strong - weak)"
    )
    title = f"Auto routing versus fixed models: {part.name}"
    return Table(_key("routing", part.name), title, columns, tuple(rows), note)


def slo_table(run: Run) -> Table | None:
    verdicts = run.summary.slo if run.summary is not None else ()
    if not verdicts:
        return None
    rows = []
    for v in verdicts:
        # ``shown`` is the measured figure in the objective's unit, as the run wrote it; a file
        # from before it was recorded has only the base-unit number.
        shown = v.shown if v.shown is not None else fmt_num(v.measured, 4)
        row = (v.part, v.arm, v.objective, shown, v.measured, v.n)
        rows.append((*row, v.verdict.upper()))
    columns = (
        Column("part", numeric=False),
        Column("arm", numeric=False),
        Column("objective", numeric=False),
        Column("measured", numeric=False),
        # The same figure again, as a number in base units: for the CSV, not for people.
        Column("measured (s, share or USD)", lambda v: fmt_num(v, 4), csv_only=True),
        Column("n", fmt_int),
        Column("verdict", numeric=False),
    )
    note = "measured in the objective's unit; no samples = UNKNOWN, never a pass"
    return Table("slo", "Service-level objectives", columns, tuple(rows), note)


def plan_fit_table(part: Part, headroom: float = 0.3) -> Table | None:
    fit = part.plan_fit
    if fit is None:
        return None
    rows = []
    for plan in fit.plans:
        rpm_room, tpm_room = plan.headroom(fit.needed_rpm, fit.needed_tpm)
        rows.append(
            (
                plan.name,
                plan.rpm,
                fit.needed_rpm,
                rpm_room,
                plan.tpm,
                fit.needed_tpm,
                tpm_room,
                "yes" if plan.fits(fit.needed_rpm, fit.needed_tpm, headroom) else "no",
            )
        )

    def limit(value: Any) -> str:
        return "unlimited" if value is None else fmt_int(value)

    columns = (
        Column("plan", numeric=False),
        Column("limit (req/min)", limit),
        Column("needed (req/min)", lambda v: fmt_num(v, 1)),
        Column("headroom req (%)", fmt_pct),
        Column("limit (tok/min)", limit),
        Column("needed (tok/min)", lambda v: fmt_num(v, 0)),
        Column("headroom tok (%)", fmt_pct),
        Column(f"fits with {headroom:.0%} headroom", numeric=False),
    )
    window = "60 s" if fit.window_s >= 60 else f"the whole run ({fit.window_s:.0f} s)"
    interval = (
        f"; peak 95% interval {fmt_num(fit.peak_rpm_low, 1)}-{fmt_num(fit.peak_rpm_high, 1)} "
        "req/min (moving-block bootstrap over windows)"
        if fit.peak_rpm_low is not None
        else ""
    )
    short = fit.measurement.too_short()
    note = (
        f"needed: peak over a sliding window of {window}, scaled to a minute; n = "
        f"{fit.n_requests} attempts over {fit.duration_s:.1f} s (429s count: the gateway counts "
        f"them too){interval}"
        + (
            ". CAVEAT: too short to extrapolate to a month (plan needs 60 s and 200 attempts)"
            if short
            else ""
        )
    )
    title = f"Plan fit of this workload: {part.name}"
    return Table(_key("plan-fit", part.name), title, columns, tuple(rows), note)


def limits_table(part: Part) -> Table | None:
    limits = part.limits
    if limits is None or not limits.findings:
        return None
    rows = tuple(
        (f.check, f.measured, f.documented, f.unit, f.verdict.upper(), f.n, f.detail)
        for f in limits.findings
    )
    columns = (
        Column("check", numeric=False),
        Column("measured", lambda v: fmt_num(v, 2)),
        Column("documented", lambda v: fmt_num(v, 2)),
        Column("unit", numeric=False),
        Column("verdict", numeric=False),
        Column("n", fmt_int),
        Column("detail", numeric=False),
    )
    scale = limits.time_scale
    emulated = f" (emulator time scale {scale:g})" if limits.simulated and scale is not None else ""
    note = (
        f"plan {limits.plan or 'unknown'} (from {limits.plan_source or 'nowhere'}); model "
        f"{limits.model}; {limits.requests_sent} requests sent; figures in the target's time"
        + emulated
    )
    return Table(_key("limits", part.name), f"Rate limits: {part.name}", columns, rows, note)


def limit_trials_table(part: Part) -> Table | None:
    trials = part.limits.trials if part.limits is not None else {}
    rows = tuple(
        (dimension, index + 1, t.per_min, "429" if t.limited else "no 429")
        for dimension, items in trials.items()
        for index, t in enumerate(items)
    )
    if not rows:
        return None
    columns = (
        Column("limit", numeric=False),
        Column("trial", fmt_int),
        Column("rate (per min)", lambda v: fmt_num(v, 1)),
        Column("outcome", numeric=False),
    )
    note = "ramp, then bisection; each trial starts with the budget drained"
    title = f"Rate search trials: {part.name}"
    return Table(_key("limit-trials", part.name), title, columns, rows, note)


def worker_table(part: Part) -> Table | None:
    """Health of each load-generating worker of a multi-worker run (its manifest's self-check)."""
    workers = (part.manifest.get("self_check") or {}).get("workers") or []
    if not workers:
        return None
    rows = tuple(
        (
            w.get("worker"),
            w.get("host") or "-",
            w.get("requests"),
            w.get("scheduled_rate_rps"),
            w.get("achieved_rate_rps"),
            _ms(w.get("schedule_lag_p99_s")),
            None if w.get("client_cpu_share") is None else w["client_cpu_share"] * 100,
            "yes" if w.get("kept_schedule") else "NO",
            w.get("error") or w.get("stop_reason") or "-",
        )
        for w in workers
    )
    columns = (
        Column("worker", fmt_int),
        Column("host", numeric=False),
        Column("requests (n)", fmt_int),
        Column("scheduled (req/s)", lambda v: fmt_num(v, 1)),
        Column("achieved (req/s)", lambda v: fmt_num(v, 1)),
        Column("schedule lag p99 (ms)", lambda v: fmt_num(v, 2)),
        Column("CPU (% of a core)", lambda v: fmt_num(v, 0)),
        Column("kept schedule", numeric=False),
        Column("ended", numeric=False),
    )
    note = "each worker sends every N-th request of the one seeded schedule"
    return Table(_key("workers", part.name), f"Workers: {part.name}", columns, rows, note)


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000


def part_tables(part: Part) -> list[Table]:
    # Imported here: error_tables builds on this module's Table and Column.
    from auraon_bench.report.error_tables import errors_table

    if part.kind == "limits":
        return [t for t in (limits_table(part), limit_trials_table(part)) if t is not None]
    builders: Sequence[Callable[[Part], Table | None]] = (
        accuracy_table,
        category_table,
        routing_table,
        load_table,
        errors_table,  # right after the counts it explains
        stages_table,
        worker_table,
    )
    tables = [t for t in (b(part) for b in builders) if t is not None]
    if part.kind == "load":
        fit = plan_fit_table(part)
        if fit is not None:
            tables.append(fit)
    return tables
