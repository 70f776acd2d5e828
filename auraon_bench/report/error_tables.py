"""What went wrong, in the report: the most frequent errors per arm, and the failures that must
be read before any figure (a part or an arm whose every attempt failed).

Both read the error groups a part's ``summary.json`` holds (``ErrorSummary.top_errors``,
computed once by the analysis; see :mod:`auraon_bench.analysis.error_groups`), never the
records: the report shows the very groups the console printed. A summary written before the
groups were recorded has none (``top_errors`` is None), and its part gets no errors table; its
counts are still in the load table.
"""

from __future__ import annotations

from collections.abc import Sequence

from auraon_bench.analysis.error_groups import MESSAGE_CHARS, TOP_GROUPS
from auraon_bench.analysis.load_summary import ArmSummary
from auraon_bench.report.tables import Column, Table, fmt_int, fmt_text
from auraon_bench.results.run import Part, Run

__all__ = ["errors_table", "failure_warnings"]


def _key(*parts: str) -> str:
    return "-".join(p.replace(".", "_").replace(":", "_") for p in parts if p)


def _verdict(arm: ArmSummary) -> str:
    """How the arm fared, as a word the table can be sorted and scanned by."""
    return "ALL FAILED" if arm.errors.all_failed else "some failed"


def errors_table(part: Part) -> Table | None:
    """One row per error group of each arm that had failed attempts: the arm, how many of its
    attempts failed, then the group (status, HTTP status, type, message) and its count.

    None when no arm has a recorded group (every attempt ok, or an older summary)."""
    rows = []
    for arm in part.load_summary.arms:
        errors = arm.errors
        for group in errors.top_errors or ():
            rows.append(
                (
                    arm.arm,
                    _verdict(arm),
                    errors.not_ok,
                    errors.attempts,
                    group.count,
                    group.status,
                    group.http_status,
                    group.error_type,
                    group.message,
                )
            )
    if not rows:
        return None
    columns = (
        Column("arm", numeric=False),
        Column("arm outcome", numeric=False),
        Column("failed (n)", fmt_int),
        Column("attempts (n)", fmt_int),
        Column("count (n)", fmt_int),
        Column("status", numeric=False),
        Column("HTTP status", fmt_text),
        Column("error type", numeric=False),
        Column("message", numeric=False),
    )
    shown = {str(a.arm): len(a.errors.top_errors or ()) for a in part.load_summary.arms}
    hidden = [
        f"{a.arm} {a.errors.distinct_errors - shown[str(a.arm)]}"
        for a in part.load_summary.arms
        if a.errors.distinct_errors is not None and a.errors.distinct_errors > shown[str(a.arm)]
    ]
    note = (
        f"per attempt, warm-up excluded, 429s included; up to {TOP_GROUPS} kinds per arm, most "
        "frequent first; numbers and ids in messages shown as {n} and {id}, messages cut at "
        f"{MESSAGE_CHARS} characters; ALL FAILED: not one ok attempt, so the arm's other "
        "figures measure nothing"
    )
    if hidden:
        note += "; less frequent kinds not shown: " + ", ".join(hidden)
    title = f"Most frequent errors per arm: {part.name}"
    return Table(_key("errors", part.name), title, columns, tuple(rows), note)


def _most_frequent(arms: Sequence[ArmSummary]) -> str:
    """The largest error group over ``arms`` (ties: the first arm's), for a one-line warning."""
    groups = [g for a in arms for g in (a.errors.top_errors or ())[:1]]
    if not groups:
        return ""
    top = max(groups, key=lambda g: g.count)
    return f"; most frequent: {top.describe()} (x{top.count})"


def failure_warnings(run: Run) -> list[str]:
    """The failures a reader must see before any table: each part (or the run, when it is a
    single load or eval) whose every attempt failed, then each arm whose every attempt failed
    in a part that is not failed as a whole."""
    parts, arms = [], []  # failed parts first: the larger failure, then failed arms of others
    for part in run.parts:
        if part.kind == "limits":
            continue  # a probe provokes 429s on purpose and has verdicts of its own
        summary = part.load_summary
        overall = summary.overall
        if overall.errors.all_failed:
            what = f"FAILED PART {part.name}" if run.kind == "experiment" else "FAILED RUN"
            parts.append(
                f"{what}: all {overall.errors.attempts} attempts failed, not one answer to "
                f"measure{_most_frequent(summary.arms)}"
            )
            continue  # its arms failed too: one line says it
        for arm in summary.arms:
            if arm.errors.all_failed:
                where = f"{part.name}/{arm.arm}" if len(run.parts) > 1 else str(arm.arm)
                arms.append(
                    f"ARM FAILED: {where}: all {arm.errors.attempts} attempts failed"
                    + _most_frequent([arm])
                )
    return parts + arms
