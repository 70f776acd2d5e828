"""The report's "Conversations and prompt caching" section: its tables and lines.

Every figure is read from an arm's :class:`~auraon_bench.analysis.conversations.CacheSummary`,
:class:`~auraon_bench.analysis.conversations.ConversationSummary` and
:class:`~auraon_bench.analysis.conversations.OutputCapSummary` as the part's ``summary.json``
holds them (:attr:`~auraon_bench.analysis.load_summary.ArmSummary.cache` and its siblings); no
figure is recomputed from the records here, so the section cannot disagree with the file. The
only arithmetic is the share a saving is of the cost without caching.

A part gets the section when its arms have conversations (a multi-turn run), a cache hit, or a
reported cache the run asked for by sending a shared prefix (:func:`shows_caching`); a part with
none of them gets nothing, not an empty section: a target that reports ``cached_tokens`` of 0
on every request of an ordinary run has nothing to say about caching. Output caps alone (every
synthetic request sends ``max_tokens``) earn a line only when an answer ran past its cap.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from auraon_bench.analysis.conversations import CacheSummary
from auraon_bench.analysis.load_summary import ArmSummary
from auraon_bench.analysis.stats import Percentiles
from auraon_bench.report.tables import (
    Column,
    Table,
    fmt_int,
    fmt_ms,
    fmt_num,
    fmt_pct,
    fmt_usd,
)
from auraon_bench.results.run import Part

TITLE = "Conversations and prompt caching"
METHOD = (
    "Prompt caching: hit rate = cached / prompt tokens of the ok requests whose target reported "
    "cached_tokens; cost without caching adds each request's cached tokens back at its serving "
    "model's input price minus its cache-read price (requests of a model without a known "
    "discount are left out of both costs). A model switch is a conversation's turn served by "
    "another model than its previous ok turn; its lost discount is an estimate: the previous "
    "turn's prompt (from 1,024 tokens, rounded down to 128-token steps), less what the new "
    "model read from its own cache anyway, at the old model's discount."
)


def _safe(*parts: str) -> str:
    """A file-safe table key: arm names may hold ``/``, ``:`` or spaces."""
    return "-".join(re.sub(r"[^A-Za-z0-9_-]+", "_", p) for p in parts if p)


def shows_caching(arms: Iterable[ArmSummary], prefix_asked: bool = False) -> bool:
    """Whether arms have figures worth a section (the report) or a table (the console): a
    conversation, a cache hit, or a cache that was asked for (a shared prefix was sent) and
    reported. A target that reports ``cached_tokens`` of 0 on every request of an ordinary
    run has nothing to say about caching, and says nothing."""
    return any(
        a.conversations is not None
        or (a.cache is not None and (a.cache.cached_tokens > 0 or prefix_asked))
        for a in arms
    )


def prefix_asked(part: Part) -> bool:
    """Whether the part sent a shared prefix (its manifest's ``shared_prefix_tokens``)."""
    return bool(part.options.get("shared_prefix_tokens"))


def has_figures(part: Part) -> bool:
    """Whether the part gets the section (:func:`shows_caching`)."""
    return part.kind != "limits" and shows_caching(part.load_summary.arms, prefix_asked(part))


def figure_arms(part: Part) -> list[ArmSummary]:
    """The arms of the section's tables: those with cache or conversation figures, in the
    summary's order (an arm without a hit beside one with hits is a comparison, so it stays)."""
    if not has_figures(part):
        return []
    return [a for a in part.load_summary.arms if a.cache is not None or a.conversations is not None]


def ttft_pair(dist: Percentiles | None) -> str:
    """``"5.4 / 8.9 (n=15)"``: p50 / p95 in ms with the sample count, ``"-"`` without one."""
    if dist is None or not dist.n:
        return "-"
    return f"{fmt_ms(dist.p50)} / {fmt_ms(dist.p95)} (n={dist.n:,})"


def routed_mix(routed_to: dict[str, int]) -> str:
    """``"gpt-4o 12, gpt-4o-mini 3"``: ok requests per serving model, the most used first."""
    ordered = sorted(routed_to.items(), key=lambda kv: (-kv[1], kv[0]))
    return ", ".join(f"{model} {count:,}" for model, count in ordered) or "-"


def _cache_cells(c: CacheSummary | None) -> tuple[Any, ...]:
    if c is None:
        return (None,) * 5
    return (
        c.hit_rate,
        f"{c.cached_tokens:,} / {c.prompt_tokens:,}",
        f"{c.hit_requests:,} / {c.rows:,}",
        c.cost_usd,
        c.cost_without_cache_usd,
    )


def cache_table(part: Part) -> Table | None:
    """Per arm: cache hit rate, costs with and without caching, TTFT of hits and misses,
    conversations and model switches (display); the raw numbers behind them (CSV only)."""
    arms = figure_arms(part)
    if not arms:
        return None
    rows = []
    for s in arms:
        c, v, o = s.cache, s.conversations, s.output_caps
        rows.append(
            (
                s.arm,
                *_cache_cells(c),
                None if c is None else c.saved_usd,
                None if c is None else c.saved_share,
                ttft_pair(None if c is None else c.ttft_cached_s),
                ttft_pair(None if c is None else c.ttft_uncached_s),
                None if v is None else v.conversations,
                None if v is None else v.turns_mean,
                None if v is None else v.switches_per_conversation,
                None if v is None else v.lost_discount_usd,
                # CSV only: the raw figures the cells above show.
                None if c is None else c.rows,
                None if c is None else c.hit_requests,
                None if c is None else c.cached_tokens,
                None if c is None else c.prompt_tokens,
                None if c is None else c.priced_rows,
                None if c is None else c.ttft_cached_s.n,
                None if c is None else c.ttft_cached_s.p50,
                None if c is None else c.ttft_cached_s.p95,
                None if c is None else c.ttft_uncached_s.n,
                None if c is None else c.ttft_uncached_s.p50,
                None if c is None else c.ttft_uncached_s.p95,
                None if v is None else v.multi_turn,
                None if v is None else v.switches,
                None if v is None else v.switched_share,
                None if o is None else o.rows,
                None if o is None else o.within_cap,
                None if o is None else o.over_cap,
            )
        )
    columns = (
        Column("arm", numeric=False),
        Column("cache hit rate (%)", fmt_pct),
        Column("cached / prompt tokens"),
        Column("requests with a hit / reporting (n)"),
        Column("cost with caching (USD)", fmt_usd),
        Column("cost without caching (USD)", fmt_usd),
        Column("saved (USD)", fmt_usd),
        Column("saved (%)", fmt_pct),
        Column("TTFT cached p50 / p95 (ms)"),
        Column("TTFT uncached p50 / p95 (ms)"),
        Column("conversations (n)", fmt_int),
        Column("turns per conversation (mean)", lambda x: fmt_num(x, 1)),
        Column("model switches per conversation", lambda x: fmt_num(x, 2)),
        Column("lost cache discount (USD)", fmt_usd),
        *(
            Column(name, fmt_num, csv_only=True)
            for name in (
                "cache rows (n)",
                "cache hit requests (n)",
                "cached tokens (n)",
                "prompt tokens (n)",
                "priced rows (n)",
                "TTFT cached n",
                "TTFT cached p50 (s)",
                "TTFT cached p95 (s)",
                "TTFT uncached n",
                "TTFT uncached p50 (s)",
                "TTFT uncached p95 (s)",
                "multi-turn conversations (n)",
                "model switches (n)",
                "switched turns (share)",
                "max_tokens answers (n)",
                "max_tokens honoured (n)",
                "over max_tokens (n)",
            )
        ),
    )
    return Table(
        _safe("cache", part.name),
        f"Prompt caching and conversations per arm: {part.name}",
        columns,
        tuple(rows),
        _cache_note(arms),
    )


def _cache_note(arms: list[ArmSummary]) -> str:
    note = (
        "ok requests, warm-up excluded; hit rate = cached / prompt tokens; saved = cost without "
        "caching - cost with it, (%) of the cost without; switches per conversation over "
        "conversations with 2+ ok turns; lost discount: an estimate (Method)"
    )
    unpriced = sorted({m for a in arms if a.cache is not None for m in a.cache.unpriced_models})
    if unpriced:
        note += (
            f"; no cache discount known for {', '.join(unpriced)}: their requests are left out "
            "of the cost columns"
        )
    return note


def turn_table(part: Part, arm: ArmSummary) -> Table | None:
    """One arm's conversations turn by turn (None without conversations)."""
    conv = arm.conversations
    if conv is None or not conv.by_turn:
        return None
    rows = tuple(
        (
            t.turn,
            t.requests,
            t.ok,
            t.ttft_s.n,
            t.ttft_s.p50,
            t.ttft_s.p95,
            t.prompt_tokens_mean,
            t.cached_tokens_mean,
            t.cache_hit_rate,
            t.cost_per_request_usd,
            routed_mix(t.routed_to),
        )
        for t in conv.by_turn
    )
    columns = (
        Column("turn", fmt_int),
        Column("requests (n)", fmt_int),
        Column("ok (n)", fmt_int),
        Column("TTFT n", fmt_int),
        Column("TTFT p50 (ms)", fmt_ms),
        Column("TTFT p95 (ms)", fmt_ms),
        Column("prompt tokens (mean)", lambda x: fmt_num(x, 0)),
        Column("cached tokens (mean)", lambda x: fmt_num(x, 0)),
        Column("cache hit rate (%)", fmt_pct),
        Column("cost per request (USD)", fmt_usd),
        Column("routed to (ok requests)", numeric=False),
    )
    note = (
        f"{conv.conversations:,} conversations, {fmt_num(conv.turns_mean, 1)} turns each on "
        "average; figures of each turn's ok requests (cost: mean over those with a known cost)"
    )
    return Table(
        _safe("turns", part.name, str(arm.arm)),
        f"By turn: {arm.arm} ({part.name})",
        columns,
        rows,
        note,
    )


def section_tables(part: Part) -> list[Table]:
    """The section's tables: per arm, then each arm's turns."""
    first = cache_table(part)
    if first is None:
        return []
    turns = [turn_table(part, arm) for arm in figure_arms(part)]
    return [first, *(t for t in turns if t is not None)]


def output_cap_line(part: Part, *, only_over: bool = False) -> str | None:
    """``"max_tokens honoured by 98.5% of 400 answers on auto (6 over the cap) ..."``, per arm
    with output caps; ``only_over``: None unless some answer ran past its cap."""
    arms = [] if part.kind == "limits" else part.load_summary.arms
    caps = [(str(a.arm), a.output_caps) for a in arms if a.output_caps is not None]
    caps = [(arm, o) for arm, o in caps if o.rows]
    if not caps or (only_over and not any(o.over_cap for _, o in caps)):
        return None
    bits = []
    for arm, o in caps:
        over = f", {o.over_cap:,} over the cap" if o.over_cap else ""
        mean = (
            f" (mean {fmt_num(o.received_mean, 1)} tokens received of "
            f"{fmt_num(o.requested_mean, 1)} asked)"
            if o.received_mean is not None and o.requested_mean is not None
            else ""
        )
        bits.append(f"{arm} by {fmt_pct(o.honoured_share)} of {o.rows:,} answers{over}{mean}")
    return f"max_tokens honoured: {'; '.join(bits)}."
