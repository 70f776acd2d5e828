"""The report of a twin validation (``emulator fit --validate``): ``auraon-bench report DIR``.

The document, in order: the SIMULATED (twin of RUN-ID) banner (the twin side is simulated; the
real side is whatever the fitted runs measured); "In short" (good or not, and the worst KS
distance); the distributions table (p50, p90, p99 real and twin, D, n, per arm and metric); the
cost, error and routing-mix table; the overlaid distributions; the re-runs and the method.
Every figure is read from the typed ``validation.json``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from auraon_bench.report.document import (
    Callout,
    ChartBlock,
    Document,
    Heading,
    Paragraph,
    TableBlock,
    simulated_text,
)
from auraon_bench.report.tables import Column, Table, fmt_int, fmt_ms, fmt_num, fmt_pct, fmt_usd
from auraon_bench.results.typed import directory_of, holds_file
from auraon_bench.twin.validate import KS_GOOD, VALIDATION_FILE, TwinValidation, read_validation


def is_validation_dir(path: Path | str) -> bool:
    """Whether ``path`` is a twin validation directory (or its ``validation.json``)."""
    return holds_file(path, VALIDATION_FILE)


def _three(value: object) -> str:
    return fmt_num(value, 3)


def distributions_table(validation: TwinValidation) -> Table:
    rows = []
    for arm in validation.arms:
        for m in arm.metrics:
            rows.append((
                f"{arm.part} {arm.arm}", m.metric,
                m.quantile("real", 0.5), m.quantile("twin", 0.5),
                m.quantile("real", 0.9), m.quantile("twin", 0.9),
                m.quantile("real", 0.99), m.quantile("twin", 0.99),
                m.judged, m.ks, m.resolution, m.n_real, m.n_twin, m.threshold,
                "yes" if m.good else "NO",
            ))  # fmt: skip
    columns = (
        Column("arm", numeric=False), Column("metric", numeric=False),
        Column("real p50 (ms)", fmt_ms), Column("twin p50 (ms)", fmt_ms),
        Column("real p90 (ms)", fmt_ms), Column("twin p90 (ms)", fmt_ms),
        Column("real p99 (ms)", fmt_ms), Column("twin p99 (ms)", fmt_ms),
        Column("KS D within resolution", _three), Column("plain KS D", _three),
        Column("resolution (ms)", fmt_ms), Column("n real", fmt_int), Column("n twin", fmt_int),
        Column("threshold", _three), Column("good", numeric=False),
    )  # fmt: skip
    note = (
        "times in the target's seconds (each side divided by its emulator time scale); "
        "judged: the KS distance where shifts up to the resolution, max(1 ms, 2% of the real "
        "median), do not count; "
        "percentiles are linear interpolations of the 101 kept quantiles; n is ok answers "
        "(TTFT, latency) or gaps (a seeded subsample of at most 50,000 a side)"
    )
    return Table("twin-distributions", "Real and twin distributions", columns, tuple(rows), note)


def outcomes_table(validation: TwinValidation) -> Table:
    rows = tuple(
        (
            f"{arm.part} {arm.arm}", arm.n_real, arm.n_twin, arm.cost_real, arm.cost_twin,
            arm.errors_real, arm.errors_twin, "yes" if arm.errors_good else "NO",
            arm.mix_distance,
        )
        for arm in validation.arms
    )  # fmt: skip
    columns = (
        Column("arm", numeric=False), Column("attempts real", fmt_int),
        Column("attempts twin", fmt_int), Column("cost/request real (USD)", fmt_usd),
        Column("cost/request twin (USD)", fmt_usd), Column("errors real (%)", fmt_pct),
        Column("errors twin (%)", fmt_pct), Column("errors within 5 points", numeric=False),
        Column("routing mix distance", _three),
    )  # fmt: skip
    note = (
        "cost: mean over ok answers (shown, not judged); errors: share of attempts not ok, "
        "judged (a good twin's differ by at most 5 points); routing mix distance: total "
        "variation between the real and twin shares of served models (auto arms; shown, not "
        "judged)"
    )
    return Table("twin-outcomes", "Cost, errors and routing", columns, rows, note)


def limits_table(validation: TwinValidation) -> Table:
    rows = tuple(
        (lim.dimension, lim.kind_real, lim.kind_twin, lim.per_min_real, lim.per_min_twin,
         "yes" if lim.good else "NO")
        for lim in validation.limits
    )  # fmt: skip
    columns = (
        Column("limit", numeric=False), Column("kind real", numeric=False),
        Column("kind twin", numeric=False), Column("sustainable real (/min)", fmt_num),
        Column("sustainable twin (/min)", fmt_num), Column("same kind, within 10%", numeric=False),
    )  # fmt: skip
    note = "per target minute; requests or tokens, as the limits probe identified them"
    return Table("twin-limits", "Rate limits", columns, rows, note)


def in_short(validation: TwinValidation) -> str:
    worst = validation.worst
    if worst is None and validation.limits:
        verdict = "good" if validation.good else "NOT good"
        return f"The twin of {validation.twin_of}'s rate limits are {verdict}."
    if worst is None:
        return "No arm could be compared: " + " ".join(validation.notes or ("no records",))
    where = next(f"{a.part} {a.arm}" for a in validation.arms if worst in a.metrics)
    verdict = "good" if validation.good else "NOT good"
    return (
        f"The twin of {validation.twin_of} is {verdict}: the largest KS distance is "
        f"{worst.judged:.3f} ({worst.metric} of {where}; threshold {worst.threshold:.3f}) over "
        f"{len(validation.arms)} arm(s)."
    )


def validation_document(validation: TwinValidation, name: str) -> Document:
    from auraon_bench.report.charts.twin import real_and_twin

    doc = Document(f"auraon-bench twin validation: {name}", simulated=True)
    doc.add(Callout("simulated", (simulated_text(validation.twin_of),)))
    doc.add(Heading("In short"), Paragraph(in_short(validation)))
    if validation.arms:
        doc.add(TableBlock(distributions_table(validation)))
        doc.add(TableBlock(outcomes_table(validation)))
    if validation.limits:
        doc.add(TableBlock(limits_table(validation)))
    if any(a.metrics for a in validation.arms):
        doc.add(ChartBlock("twin-distributions", "Real and twin distributions overlaid",
                           lambda: real_and_twin(validation)))  # fmt: skip
    doc.add(Heading("Re-runs"))
    for rerun in validation.reruns:
        doc.add(Paragraph(f"{rerun.source_run} ({rerun.source_path}) on the twin "
                          f"{validation.catalog}: {rerun.twin_dir}, {rerun.status}; "
                          f"auraon-bench {' '.join(rerun.argv)}"))  # fmt: skip
    problems = [f"{m}: measured, but absent from the twin's run." for m in validation.missing]
    problems += [f"The re-run of {r.source_run} {r.status}." for r in validation.reruns
                 if not r.ran]  # fmt: skip
    if validation.notes or problems:
        doc.add(Heading("Notes"), Paragraph(" ".join([*problems, *validation.notes])))
    doc.add(Heading("Method"), Paragraph(
        "Each measured run's own command re-ran on the twin (same seed, prompts, arms and "
        "profile). Per arm and metric, the two-sample Kolmogorov-Smirnov distance D between "
        "real and twin samples, where shifts up to a resolution of max(1 ms, 2% of the real "
        "median) do not count (a deterministic server's TTFT spreads over less than a "
        "millisecond, which another server's own overhead exceeds); a twin is good when every "
        f"such D is at most {KS_GOOD:g} (or, for samples too small to tell that from chance, "
        "the two-sample 5% critical value 1.358 sqrt((n + m) / (n m))). The plain D is shown "
        "beside it. D is a "
        "distance, not a test: at thousands of samples a tiny difference is significant, so "
        "it is judged against the threshold, not a p-value."))  # fmt: skip
    return doc


def write_validation_report(
    path: Path | str, out: Path | str | None = None, formats: Sequence[str] | None = None
) -> list[Path]:
    from auraon_bench.report.build import write_directory_report

    directory = directory_of(path, VALIDATION_FILE)
    validation = read_validation(directory)
    return write_directory_report(
        validation_document(validation, directory.name), directory, out, formats
    )
