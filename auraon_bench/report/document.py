"""What a report says, before it is rendered: a list of blocks built from one or more runs.

Order: the simulated banner; the headline of a single run (:mod:`auraon_bench.report.headline`);
every warning (failed parts and arms, whose every attempt failed, before anything else; then
incomplete runs, client-bound runs, missed SLOs, too few samples under an SLO verdict, errors);
sample notes (few samples where no verdict rests on them, high variance: information, not
alarms); then what was run, then one section per part (or per matched part when runs are
compared) with its tables and charts, closed, for parts with prompt-cache or conversation
figures, by "Conversations and prompt caching" (:mod:`auraon_bench.report.conversations`);
then how the figures were computed. Markdown and HTML
render the same blocks, so they never disagree.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from auraon_bench.report import conversations
from auraon_bench.report.comparison import Source, comparison_table, matched_parts
from auraon_bench.report.error_tables import failure_warnings
from auraon_bench.report.headline import headline
from auraon_bench.report.methods import cost_sentence, merge_counts
from auraon_bench.report.palette import Palette
from auraon_bench.report.tables import (
    Table,
    arm_names,
    overview_table,
    part_tables,
    slo_table,
)
from auraon_bench.results.labels import simulated_label
from auraon_bench.results.run import Part, Run

MIN_SAMPLES = 30  # fewer ok attempts per arm: percentiles beyond p90 rest on a handful of values
HIGH_CV = 1.0  # latency standard deviation above its mean
ERROR_SHARE = 0.01

SIMULATED_TEXT = (
    "SIMULATED: these figures come from the built-in Auraon emulator, not a real gateway. "
    "They show how the tool measures, not how Auraon performs."
)


def simulated_text(twin_of: str | None = None) -> str:
    """The SIMULATED callout: :data:`SIMULATED_TEXT`, or a fitted twin's own words."""
    if not twin_of:
        return SIMULATED_TEXT
    return (
        f"SIMULATED (twin of {twin_of}): these figures come from the built-in Auraon emulator "
        f"fitted to run {twin_of} (auraon-bench emulator fit), not from a gateway. They "
        "rehearse that gateway as it was measured; loads, models and plans it was never "
        "measured at are the emulator's assumptions."
    )


def common_twin(runs: Sequence[Run]) -> str | None:
    """The run every simulated run of ``runs`` is a twin of, if they share one."""
    twins = {r.twin_of for r in runs if r.simulated}
    return next(iter(twins)) if len(twins) == 1 else None


def runs_simulated(runs: Sequence[Run]) -> bool | str:
    """What a page of ``runs`` stamps: False (none simulated), the twin label when every
    simulated run is a twin of the same run, else True (the built-in emulator's footer)."""
    if not any(r.simulated for r in runs):
        return False
    twin = common_twin(runs)
    return simulated_label(twin) if twin else True


METHODS = (
    "Latency figures are percentiles (linear interpolation) of ok attempts, warm-up excluded; "
    "TTFT is the first content event minus the send time (the request written to an open "
    "connection: connection setup is measured apart), latency runs to the last byte, TPOT is "
    "(last content event - first content event) / (completion tokens - 1). Throughput is ok "
    "attempts (or their completion tokens) over the window from the first send to the last "
    "completion. Accuracy intervals are 95% percentile-bootstrap intervals over prompts. Plan "
    "fit uses the peak 60 s window of sent attempts. Every table states its n."
)


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Callout:
    kind: str  # "simulated" or "warning"
    lines: tuple[str, ...]


@dataclass(frozen=True)
class TableBlock:
    table: Table


@dataclass(frozen=True)
class ChartBlock:
    key: str  # file-safe name of the chart's files
    title: str
    # -> a matplotlib Figure; a charts.Note (one line: why there is nothing to show), which the
    # report prints in the chart's place; or None, and the block is left out.
    make: Callable[[], Any]


Block = Heading | Paragraph | Callout | TableBlock | ChartBlock


@dataclass
class Document:
    title: str
    blocks: list[Block] = field(default_factory=list)
    simulated: bool = False

    def add(self, *blocks: Block | None) -> None:
        self.blocks.extend(b for b in blocks if b is not None)

    def tables(self) -> list[Table]:
        return [b.table for b in self.blocks if isinstance(b, TableBlock)]


def sample_findings(run: Run) -> tuple[list[str], list[str]]:
    """What makes a run's figures shaky, read from its summaries: (warnings, notes).

    Few samples are a warning only where a verdict rests on them (an SLO on a percentile of
    that part and arm); elsewhere they are a note, as is a high variance: information a reader
    weighs, not an alarm. Failures above ``ERROR_SHARE`` are always a warning."""
    judged = _percentile_verdicts(run)
    warnings, notes = [], []
    for part in run.parts:
        if part.kind == "limits":
            continue  # a probe seeks out 429s and sends few requests per phase on purpose
        for s in part.load_summary.arms:
            if s.errors.all_failed:
                continue  # failure_warnings says it, with the reason; n=0 and 100% add nothing
            latency = s.latency_s
            n = latency.n
            where = f"{part.name}/{s.arm}" if len(run.parts) > 1 else str(s.arm)
            if n < MIN_SAMPLES:
                if (part.name, s.arm) in judged:
                    warnings.append(
                        f"TOO FEW SAMPLES: {where} has n={n} ok attempts (< {MIN_SAMPLES}) and "
                        "an SLO judges its percentiles; p95/p99 rest on a handful of values"
                    )
                else:
                    notes.append(
                        f"{where} has n={n} ok attempts: its p95/p99 rest on a handful of values"
                    )
            mean, std = latency.mean, latency.std
            if mean and std and std / mean > HIGH_CV:
                notes.append(
                    f"{where} latency varies more than it averages (std {std:.3f} s, mean "
                    f"{mean:.3f} s, n={n}): read its percentiles, not its mean"
                )
            attempts = s.errors.judged  # cancelled attempts had no outcome
            failed = attempts - s.ok
            if attempts and failed / attempts > ERROR_SHARE:
                warnings.append(
                    f"ERRORS: {where} {failed} of {attempts} attempts failed "
                    f"({failed / attempts:.1%}; {s.errors.rate_limited} rate limited)"
                )
    return warnings, notes


def _percentile_verdicts(run: Run) -> set[tuple[str, str]]:
    """(part, arm) pairs that an SLO on a latency percentile judged."""
    from auraon_bench.analysis.slo import parse_slo

    verdicts = run.summary.slo if run.summary is not None else ()
    return {
        (v.part, v.arm)
        for v in verdicts
        if (slo := parse_slo(v.slo, 0.0)) is not None and slo.percentile is not None
    }


def run_warnings(run: Run) -> list[str]:
    ordered = [*failure_warnings(run), *run.problems, *run.warnings, *sample_findings(run)[0]]
    return [w for w in dict.fromkeys(ordered) if not w.startswith("SIMULATED")]


def describe_run(run: Run) -> str:
    m = run.manifest
    target = m.get("target") or {}
    where = target.get("base_url")
    if run.simulated:
        twin = run.twin_of
        where = simulated_label(twin) if twin else "the built-in emulator (SIMULATED)"
    bits = [
        f"run {run.run_id}",
        f"status {run.status}",
        f"started {m.get('created_utc')}",
        f"target {where}",
    ]
    if target.get("emulator_time_scale") not in (None, 1, 1.0):
        bits.append(f"emulator time scale {target['emulator_time_scale']:g}")
    experiment = m.get("experiment")
    if experiment:
        bits.append(f"experiment {experiment.get('name')} (sha256 {experiment['sha256'][:12]})")
    env = m.get("environment") or {}
    bits.append(
        f"auraon-bench {m.get('tool_version')}"
        + (f" ({m['git_sha'][:10]})" if m.get("git_sha") else "")
        + f", Python {env.get('python_version')}, {env.get('cpu_count')} CPUs"
    )
    return "; ".join(bits)


def _charts(
    group: str,
    sources: Sequence[Source],
    palette: Palette,
    simulated: bool,
    section: str | None = None,
) -> list:
    """One block per chart of the registry that applies to the group's part kinds, in its order:
    the group's own charts, or those of report section ``section``."""
    from auraon_bench.report.charts import CHARTS  # matplotlib only when charts are drawn

    kinds = {part.kind for _, part in sources}
    key = group.replace(".", "_").replace(":", "_")
    return [
        ChartBlock(
            f"{key}-{spec.key}",
            spec.title_for(kinds),
            lambda spec=spec: spec.draw(list(sources), palette, simulated=simulated),
        )
        for spec in CHARTS
        if spec.applies(kinds) and spec.section == section
    ]


def conversation_section(
    group: str, sources: Sequence[Source], palette: Palette, simulated: bool
) -> list[Block]:
    """The "Conversations and prompt caching" section for the group's parts with cache or
    conversation figures (:mod:`auraon_bench.report.conversations`); nothing without them."""
    shown = [(label, part) for label, part in sources if conversations.has_figures(part)]
    if not shown:
        return []
    blocks: list[Block] = [Heading(conversations.TITLE, 3)]
    for label, part in shown:
        for table in conversations.section_tables(part):
            blocks.append(TableBlock(_relabel(table, label) if len(sources) > 1 else table))
        line = conversations.output_cap_line(part)
        if line:
            prefix = f"{label}: " if len(sources) > 1 else ""
            blocks.append(Paragraph(prefix + line))
    blocks += _charts(group, shown, palette, simulated, section="conversations")
    return blocks


def build_document(runs: Sequence[Run]) -> Document:
    if not runs:
        raise ValueError("a report needs at least one run")
    simulated = runs_simulated(runs)
    title = (
        f"auraon-bench report: {runs[0].label}"
        if len(runs) == 1
        else f"auraon-bench comparison of {len(runs)} runs (baseline {runs[0].label})"
    )
    doc = Document(title, simulated=bool(simulated))
    if simulated:
        doc.add(Callout("simulated", (simulated_text(common_twin(runs)),)))
    if len(runs) == 1:
        sentences = headline(runs[0])
        doc.add(*((Heading("In short"), Paragraph(" ".join(sentences))) if sentences else ()))
    warnings, notes = [], []
    for run in runs:
        prefix = f"{run.label}: " if len(runs) > 1 else ""
        warnings += [prefix + w for w in run_warnings(run)]
        notes += [prefix + n for n in sample_findings(run)[1]]
    doc.add(Callout("warning", tuple(warnings)) if warnings else None)
    if notes:
        doc.add(Paragraph("Sample notes (information; no verdict rests on these): "
                          + "; ".join(notes) + "."))  # fmt: skip
    doc.add(Heading("What was run"))
    for run in runs:
        doc.add(Paragraph(describe_run(run)))
        doc.add(TableBlock(overview_table(run)))
        doc.add(_table(slo_table(run)))
    palette = Palette(arm for run in runs for part in run.parts for arm in arm_names(part))
    for group, sources in matched_parts(runs):
        kinds = "/".join(sorted({part.kind for _, part in sources}))
        doc.add(Heading(f"{group} ({kinds})"))
        if len(sources) > 1:
            doc.add(_table(comparison_table(group, sources)))
        for label, part in sources:
            for table in part_tables(part):
                if len(sources) > 1:
                    table = _relabel(table, label)
                doc.add(TableBlock(table))
            doc.add(_over_cap(part, f"{label}: " if len(sources) > 1 else ""))
        doc.add(*_charts(group, sources, palette, simulated))
        doc.add(*conversation_section(group, sources, palette, simulated))
    doc.add(*_searches(runs))
    doc.add(Heading("Method"), Paragraph(f"{METHODS} {cost_method(runs)}{_more_method(runs)}"))
    return doc


def _searches(runs: Sequence[Run]) -> list[Block]:
    """The experiments' capacity searches, each read from its capacity.json."""
    from auraon_bench.capacity.session import read_capacity
    from auraon_bench.report.capacity import search_section

    blocks: list[Block] = []
    for run in runs:
        for name, directory in run.searches:
            if (directory / "capacity.json").is_file():
                label = f"{run.label}: {name}" if len(runs) > 1 else name
                blocks += search_section(label, read_capacity(directory))
    return blocks


def cost_method(runs: Sequence[Run]) -> str:
    """Where the cost figures came from, with counts, as the parts' summaries hold them."""
    parts = [part for run in runs for part in run.parts]
    counts = merge_counts(part.load_summary.overall.cost.cost_sources for part in parts)
    tables = []
    for part in parts:
        table = (part.manifest.get("cost") or {}).get("price_table") or {}
        if isinstance(table, dict) and table.get("source"):
            tables.append(str(table["source"]))
    return cost_sentence(counts, tables)


def _over_cap(part: Part, prefix: str) -> Paragraph | None:
    """Output caps of a part without the conversation section: news only when an answer ran
    past its cap (every synthetic request sends max_tokens)."""
    if conversations.has_figures(part):
        return None  # the section states them
    line = conversations.output_cap_line(part, only_over=True)
    return Paragraph(prefix + line) if line else None


def _more_method(runs: Sequence[Run]) -> str:
    """The method of the conversation section, when a report has one."""
    if any(conversations.has_figures(part) for run in runs for part in run.parts):
        return f" {conversations.METHOD}"
    return ""


def _table(table: Table | None) -> TableBlock | None:
    return TableBlock(table) if table is not None else None


def _relabel(table: Table, label: str) -> Table:
    from dataclasses import replace

    safe = label.replace(" ", "_").replace(":", "_")
    return replace(table, key=f"{table.key}-{safe}", title=f"{table.title} ({label})")
