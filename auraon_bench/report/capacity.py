"""The report of a capacity search (``auraon-bench capacity``): ``auraon-bench report OUT``.

A capacity run directory holds ``capacity.json`` and one ordinary load run per step under
``steps/<arm>-<k>/``; :func:`is_capacity_run` tells it from the other run directories and
:func:`write_capacity_report` writes the same files as every report (``index.html``,
``report.md``, ``charts/*.png|svg``, ``tables/*.csv``) through
:func:`~auraon_bench.report.build.write_document`.

The document, in order: the SIMULATED banner; warnings (an incomplete search, void and
unjudged steps, steps short of their n); "In short", one sentence per arm (its capacity, the
bracket, n per step and the binding SLO); what was searched, with a table of the arms; the
charts against the offered rate (:mod:`auraon_bench.report.charts.capacity`); per arm its steps,
their SLO verdicts, the routing mix when answers came from several models, and the plan table
with the traffic sentence; then the method.

Every figure is read from the typed :class:`~auraon_bench.capacity.session.CapacityRun`
(``read_capacity``), never recomputed: a table cannot disagree with ``capacity.json``. Each
figure states its unit and n. Nothing here imports matplotlib; the charts do, when drawn.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from auraon_bench.analysis.slo import parse_slo
from auraon_bench.capacity.search import FAIL, PASS, VOID
from auraon_bench.capacity.session import CAPACITY_FILE, CapacityRun, read_capacity
from auraon_bench.capacity.steps import CapacityResult, CapacityStep
from auraon_bench.report.capacity_plans import (
    fmt_money,
    fmt_rate,
    key_text,
    plans_table,
    table_key,
    traffic_text,
)
from auraon_bench.report.document import (
    Block,
    Callout,
    ChartBlock,
    Document,
    Heading,
    Paragraph,
    TableBlock,
    simulated_text,
)
from auraon_bench.report.palette import Palette
from auraon_bench.report.tables import (
    Column,
    Table,
    fmt_int,
    fmt_ms,
    fmt_pct,
    fmt_s,
    fmt_text,
)
from auraon_bench.results.typed import directory_of, holds_file

REPORT_DIR = "report"


def is_capacity_run(path: Path | str) -> bool:
    """Whether ``path`` is a capacity run directory (or its ``capacity.json``)."""
    return holds_file(path, CAPACITY_FILE)


def run_directory(path: Path | str) -> Path:
    return directory_of(path, CAPACITY_FILE)


def write_capacity_report(
    path: Path | str, out: Path | str | None = None, formats: Sequence[str] | None = None
) -> list[Path]:
    """Read ``capacity.json`` under ``path`` and write its report into ``out`` (default
    ``path/report``); the files written. A malformed file is one ``ConfigError``."""
    from auraon_bench.report.build import write_directory_report

    directory = run_directory(path)
    run = read_capacity(directory)
    return write_directory_report(capacity_document(run, directory.name), directory, out, formats)


# ---------------------------------------------------------------- what the figures say


def slo_name(key: str | None) -> str:
    """``ttft_p95_ms`` -> ``ttft p95``; a share or cost key as it is."""
    if not key:
        return "-"
    slo = parse_slo(key, 0.0)
    if slo is None:
        return key
    return f"{slo.metric} p{slo.percentile}" if slo.percentile else slo.metric


def slo_figure(step: CapacityStep, key: str | None, at_rate: bool = False) -> str:
    """``ttft p95: 199 ms (n=100)``, or with ``at_rate`` ``ttft p95 (199 ms at 80/s, n=100)``:
    what the step measured for SLO ``key``, with its n."""
    for result in step.slos:
        if result.slo == key:
            shown = result.shown or ("-" if result.measured is None else f"{result.measured:g}")
            if at_rate:
                return f"{slo_name(key)} ({shown} at {fmt_rate(step.rate)}/s, n={result.n:,})"
            return f"{slo_name(key)}: {shown} (n={result.n:,})"
    return slo_name(key)


def _listed(items: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return ", ".join(items[:-1]) + f" and {items[-1]}" if len(items) > 1 else "".join(items)


def _step_at(result: CapacityResult, rate: float | None, verdict: str) -> CapacityStep | None:
    return next((s for s in result.steps if s.rate == rate and s.verdict == verdict), None)


def arm_headline(run: CapacityRun, result: CapacityResult) -> str:
    """One sentence: what the arm carries within the SLOs, its bracket, n and binding SLO."""
    arm, cap, failing = result.arm, result.capacity, result.first_failing
    if not result.steps:
        return f"{arm}: no step ran ({result.stop_reason or 'nothing was offered'})."
    slos = _listed(run.slos) or "its SLOs"
    counts = f"n >= {min(s.requests for s in result.steps):,} per step"
    if cap is None and failing is not None:
        text = f"{arm} met {slos} at no rate offered: the lowest failed ({counts})"
    elif cap is None:
        text = f"{arm}: no step was judged, so there is no capacity figure ({counts})"
    else:
        least = "" if failing is not None else "at least "
        bracket = "" if failing is None else f"bracket {fmt_rate(cap)}-{fmt_rate(failing)}/s, "
        text = f"{arm} carries {least}{fmt_rate(cap)} requests/s within {slos} ({bracket}{counts})"
    fail_step = _step_at(result, failing, FAIL)
    pass_step = _step_at(result, cap, PASS)
    if fail_step is not None and result.binding:
        text += f"; binding: {slo_figure(fail_step, result.binding, at_rate=True)}"
    elif pass_step is not None and pass_step.binding:
        text += f"; closest to its limit: {slo_figure(pass_step, pass_step.binding, True)}"
    if result.client_bound_at is not None:
        text += (
            f"; client-bound at {fmt_rate(result.client_bound_at)}/s (the load generator could "
            "not keep that schedule: the step is void and the search stopped there)"
        )
    elif cap is not None and failing is None:
        text += "; every step passed, so the search ceiling, not the target, set this figure"
    return text + "." + quality_sentence(result)


def quality_sentence(result: CapacityResult) -> str:
    """Accuracy and the number of serving models at the lowest and the highest graded rate."""
    graded = sorted((s for s in result.steps if s.accuracy is not None and s.graded),
                    key=lambda s: s.rate)  # fmt: skip
    if not graded:
        return ""

    def at(step: CapacityStep) -> str:
        models = sum(1 for count in step.routed_to.values() if count)
        served = f", answered by {models} model{'s' if models != 1 else ''}" if models else ""
        return f"{fmt_pct(step.accuracy)} at {fmt_rate(step.rate)}/s (n={step.graded:,}{served})"

    low, high = graded[0], graded[-1]
    span = at(low) if low is high else f"{at(low)} and {at(high)}"
    return f" {result.arm}'s accuracy: {span}."


def capacity_warnings(run: CapacityRun) -> list[str]:
    """What makes the search's figures incomplete or shaky, read from the run."""
    warnings = []
    if run.status != "complete":
        warnings.append(
            f"INCOMPLETE CAPACITY SEARCH: status {run.status!r}; the figures cover the steps "
            "measured before it stopped"
        )
    for result in run.results:
        arm = result.arm
        if result.client_bound_at is not None:
            warnings.append(
                f"CLIENT-BOUND: {arm} at {fmt_rate(result.client_bound_at)}/s: the load "
                "generator could not keep the step's schedule; the step is void (neither pass "
                "nor fail) and the search stopped there"
            )
        elif result.steps and result.capacity is None:
            warnings.append(f"NO RATE PASSED: {arm} ({result.stop_reason})")
        for step in result.steps:
            if step.requests < run.min_requests:
                warnings.append(
                    f"TOO FEW SAMPLES: {arm} at {fmt_rate(step.rate)}/s has n={step.requests} "
                    f"(a step needs {run.min_requests} for its tail percentile)"
                )
            for slo in step.slos:
                if slo.verdict not in (PASS, FAIL):
                    warnings.append(
                        f"UNJUDGED: {arm} at {fmt_rate(step.rate)}/s: {slo.objective} has "
                        f"no figure (n={slo.n}), which is no pass"
                    )
    return warnings


def _option(run: CapacityRun, name: str) -> float | None:
    value = run.options.get(name) if isinstance(run.options, dict) else None
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok else None


def searched_text(run: CapacityRun, name: str) -> str:
    bits = [f"capacity search {name}", f"status {run.status}"]
    if run.simulated:
        twin = run.twin_of
        bits.append(
            f"target {run.simulated_label}" if twin else "target the built-in emulator (SIMULATED)"
        )
    else:
        bits.append("a real target")
    bits.append(f"SLOs {', '.join(run.slos) or '-'}")
    bits.append(f"{run.arrivals} arrivals")
    low, high, factor, tol = (_option(run, k) for k in ("low", "high", "factor", "tolerance"))
    if low is not None and high is not None:
        ramp = f"rates {fmt_rate(low)} to {fmt_rate(high)} requests/s"
        if factor is not None and tol is not None:
            ramp += f" (ramp x{factor:g}, bisection to {tol:.0%} of the bracket's lower end)"
        bits.append(ramp)
    bits.append(f"at least {run.min_requests:,} requests per step (confidence {run.confidence:g})")
    return "; ".join(bits) + (
        ". Each step is an ordinary load run kept under steps/<arm>-<k>/; `auraon-bench report "
        "OUT/steps/<arm>-<k>` reports one in full."
    )


def method_text(run: CapacityRun) -> str:
    """The method, short, from the capacity modules (search, steps, plans), with this run's
    settings."""
    headroom = _option(run, "headroom")
    return (
        f"Each step offers one rate ({run.arrivals} arrivals, seeded) as an ordinary load run, "
        f"for at least {run.min_requests:,} requests: the smallest n whose sample bounds the "
        f"tightest SLO percentile at {run.confidence:g} confidence (distribution-free, from order "
        "statistics: n >= ln(alpha/2) / ln(p); 100 at least), and at least the minimum step "
        "duration of arrivals. A geometric ramp brackets the knee, then bisection (geometric "
        "mean) narrows the bracket; the capacity is the highest passing rate, shown with the "
        "lowest failing one. A step passes when every SLO holds (a figure without samples is no "
        "pass); it is void, neither pass nor fail, when the client could not keep its schedule "
        "(its self-check), and the search stops there. The binding SLO of a failing step is the "
        "first that failed; of a passing one, the one closest to its limit. Percentiles: linear "
        "interpolation over ok, non-warm-up attempts. Goodput (vLLM's definition): ok requests "
        "meeting every per-request SLO (an SLO on a latency percentile becomes that limit per "
        "request; shares and cost only judge the step) per second of the step's window; "
        "throughput counts every ok request. Accuracy (graded datasets): correct / graded ok "
        "answers, n = graded; quality goodput: ok, within the per-request SLOs and correct, per "
        "second; routing mix: ok answers per serving model. Plans: the capacity under a plan is "
        "min(measured capacity, requests/min / 60, tokens/min / 60 / tokens per request), tokens "
        "and cost per request the mean of the ok requests at the highest passing step; $/month = "
        "rate x 30 days x cost per request; a plan meets the traffic when its capacity keeps "
        f"{'the' if headroom is None else f'{headroom:.0%}'} headroom above it. Plan fees are "
        "not published and not included."
    )


# ---------------------------------------------------------------- tables


def arms_table(run: CapacityRun) -> Table:
    rows = []
    for r in run.results:
        verdicts = [s.verdict for s in r.steps]
        rows.append((
            r.arm, r.capacity, r.first_failing, slo_name(r.binding) if r.binding else None,
            r.client_bound_at, len(r.steps), verdicts.count(PASS), verdicts.count(FAIL),
            verdicts.count(VOID), sum(s.requests for s in r.steps), r.stop_reason,
        ))  # fmt: skip
    columns = (
        Column("arm", numeric=False),
        Column("capacity (req/s)", fmt_rate),
        Column("first failing (req/s)", fmt_rate),
        Column("binding SLO", numeric=False),
        Column("client-bound at (req/s)", fmt_rate),
        Column("steps (n)", fmt_int),
        Column("pass (n)", fmt_int),
        Column("fail (n)", fmt_int),
        Column("void (n)", fmt_int),
        Column("requests (n)", fmt_int),
        Column("why the search stopped", numeric=False),
    )
    note = "capacity: the highest passing offered rate; requests: measured attempts of all steps"
    return Table("capacity", "Capacity per arm", columns, tuple(rows), note)


def steps_table(result: CapacityResult) -> Table | None:
    if not result.steps:
        return None
    graded = any(s.graded for s in result.steps)
    rows = []
    for k, s in enumerate(result.steps, start=1):
        row: tuple[Any, ...] = (
            k, s.rate, s.verdict, slo_figure(s, s.binding) if s.binding else None, s.requests,
            s.achieved_rate, s.throughput, s.goodput, s.ttft_p50_s, s.ttft_p95_s,
            s.latency_p95_s, s.error_rate, s.rate_limited_rate, s.cost_per_1k_usd,
        )  # fmt: skip
        if graded:
            row += (s.accuracy, s.graded, s.quality_goodput)
        rows.append((*row, f"steps/{Path(s.run_dir).name}"))
    columns = [
        Column("step", fmt_int),
        Column("offered (req/s)", fmt_rate),
        Column("verdict", numeric=False),
        Column("binding SLO: measured (n)", numeric=False),
        Column("requests (n)", fmt_int),
        Column("achieved (req/s)", fmt_rate),
        Column("throughput (req/s)", fmt_rate),
        Column("goodput (req/s)", fmt_rate),
        Column("TTFT p50 (ms)", fmt_ms),
        Column("TTFT p95 (ms)", fmt_ms),
        Column("latency p95 (s)", fmt_s),
        Column("errors (%)", fmt_pct),
        Column("429 (%)", fmt_pct),
        Column("cost per 1k req (USD)", fmt_money),
    ]
    if graded:
        columns += [
            Column("accuracy (%)", fmt_pct),
            Column("graded (n)", fmt_int),
            Column("quality goodput (req/s)", fmt_rate),
        ]
    columns.append(Column("run directory", numeric=False, csv_only=True))
    note = (
        "in the order run; percentiles of ok attempts, n = requests; goodput: ok and within "
        "every per-request SLO, per second (- without a latency SLO); errors exclude 429s"
    )
    title = f"{result.arm}: steps"
    return Table(table_key("capacity-steps", result.arm), title, tuple(columns), tuple(rows), note)


def slo_steps_table(result: CapacityResult) -> Table | None:
    rows = [
        (k, s.rate, v.objective, v.shown, v.measured, v.n, v.verdict)
        for k, s in enumerate(result.steps, start=1)
        for v in s.slos
    ]
    if not rows:
        return None
    columns = (
        Column("step", fmt_int),
        Column("offered (req/s)", fmt_rate),
        Column("objective", numeric=False),
        Column("measured", fmt_text),
        Column("measured (base unit)", csv_only=True),
        Column("n", fmt_int),
        Column("verdict", numeric=False),
    )
    note = "measured in the objective's unit; the CSV adds it in seconds, shares or USD"
    title = f"{result.arm}: SLO verdicts per step"
    return Table(table_key("capacity-slos", result.arm), title, columns, tuple(rows), note)


def routing_table(result: CapacityResult) -> Table | None:
    """Ok answers per serving model and step, when the arm's answers came from several."""
    models = list(dict.fromkeys(m for s in result.steps for m in s.routed_to))
    if len(models) < 2:
        return None
    rows = [
        (k, s.rate, sum(s.routed_to.values()), *(s.routed_to.get(m, 0) for m in models))
        for k, s in enumerate(result.steps, start=1)
    ]
    columns = (
        Column("step", fmt_int),
        Column("offered (req/s)", fmt_rate),
        Column("ok answers (n)", fmt_int),
        *(Column(f"{m} (n)", fmt_int) for m in models),
    )
    title = f"{result.arm}: routing mix per step (ok answers per serving model)"
    return Table(table_key("capacity-routing", result.arm), title, columns, tuple(rows))


# ---------------------------------------------------------------- the document


def _stamp(run: CapacityRun) -> bool | str:
    """What the charts' footer says: nothing, or the run's simulated label."""
    return run.simulated_label if run.simulated else False


def _charts(run: CapacityRun, palette: Palette) -> list[Block]:
    return [
        ChartBlock(spec.key, spec.title,
                   lambda spec=spec: spec.draw(run, palette, simulated=_stamp(run)))
        for spec in _chart_specs()
    ]  # fmt: skip


def arm_section(result: CapacityResult, time_scale: float = 1.0) -> list[Block]:
    blocks: list[Block] = [Heading(f"{result.arm}", 2)]
    for table in (steps_table(result), slo_steps_table(result), routing_table(result)):
        if table is not None:
            blocks.append(TableBlock(table))
    plans = result.plans
    if plans is not None:
        basis = _step_at(result, result.capacity, PASS)
        blocks += [Heading(f"{result.arm}: plans", 3),
                   TableBlock(plans_table(plans, basis, time_scale))]  # fmt: skip
        blocks += [Paragraph(line) for line in (key_text(result), traffic_text(plans)) if line]
    return blocks


def search_section(name: str, run: CapacityRun) -> list[Block]:
    """A capacity search inside an experiment's report: its headline, charts (keys prefixed by
    the part's name, so repetitions do not collide) and arm sections."""
    palette = Palette(r.arm for r in run.results)
    charts = [
        ChartBlock(table_key(name, spec.key), f"{name}: {spec.title}",
                   lambda spec=spec: spec.draw(run, palette, simulated=_stamp(run)))
        for spec in _chart_specs()
    ]  # fmt: skip
    warnings = capacity_warnings(run)
    return [
        Heading(f"{name} (capacity)"),
        Paragraph(" ".join(arm_headline(run, r) for r in run.results) or "No arm was searched."),
        Callout("warning", tuple(warnings)) if warnings else None,
        TableBlock(arms_table(run)),
        *charts,
        *(block for r in run.results for block in arm_section(r, run.time_scale)),
    ]


def _chart_specs() -> Sequence[Any]:
    from auraon_bench.report.charts import CAPACITY_CHARTS  # matplotlib: only when drawn

    return CAPACITY_CHARTS


def capacity_document(run: CapacityRun, name: str) -> Document:
    """The report of one capacity search (module docstring for the order)."""
    doc = Document(f"auraon-bench capacity report: {name}", simulated=run.simulated)
    if run.simulated:
        doc.add(Callout("simulated", (simulated_text(run.twin_of),)))
    warnings = capacity_warnings(run)
    doc.add(Callout("warning", tuple(warnings)) if warnings else None)
    sentences = [arm_headline(run, r) for r in run.results]
    doc.add(Heading("In short"), Paragraph(" ".join(sentences) or "No arm was searched."))
    doc.add(Heading("What was searched"), Paragraph(searched_text(run, name)))
    doc.add(TableBlock(arms_table(run)))
    palette = Palette(r.arm for r in run.results)
    doc.add(Heading("Versus offered rate"), *_charts(run, palette))
    for result in run.results:
        doc.add(*arm_section(result, run.time_scale))
    doc.add(Heading("Method"), Paragraph(method_text(run)))
    return doc
