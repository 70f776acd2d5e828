"""The report's Method section, the part about money: where each attempt's cost came from.

Pure functions of counts the results already hold (``cost.cost_sources`` of a run summary: every
attempt's ``cost_source``) and of the price table's source (the manifest's
``cost.price_table.source``). The sentence names only the sources actually seen, with their
counts, so a report never claims a gateway figure it did not get, nor hides that some attempts
have no cost at all.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

# Every cost_source a record can hold (auraon_bench.results.schema.COST_SOURCES), in the order
# the sentence names them: the gateway's own figures, then computed ones, then none.
ORDER = ("blockrun", "auraon", "litellm", "openrouter", "price_table", "none")

_WHAT = {
    "blockrun": "the gateway's own figure (Auraon's blockrun.cost_usd)",
    "auraon": "the gateway's own figure (the auraon.cost_usd object)",
    "litellm": (
        "LiteLLM's own figure (the x-litellm-response-cost header, or usage.cost in a "
        "stream's last chunk)"
    ),
    "openrouter": "OpenRouter's usage.cost",
}


# Names older result files used for what is now ``none``.
LEGACY = {"missing": "none"}


def merge_counts(counts: Iterable[Mapping[str, int]]) -> dict[str, int]:
    """Several parts' (or runs') source counts as one, legacy names under today's."""
    total: Counter[str] = Counter()
    for part in counts:
        total.update({LEGACY.get(k, k): int(v) for k, v in part.items() if v})
    return dict(total)


def cost_sentence(counts: Mapping[str, int], price_sources: Sequence[str] = ()) -> str:
    """One paragraph: how many attempts got their cost from where. ``price_sources``: where
    ``price_table`` costs came from (``genai-prices 0.2.3``, a prices file), as recorded."""
    seen = {k: int(v) for k, v in counts.items() if v and int(v) > 0}
    total = sum(seen.values())
    if total == 0:
        return "Cost: no attempt was recorded, so no cost was measured."
    parts = []
    for source in (*ORDER, *sorted(set(seen) - set(ORDER))):
        n = seen.get(source)
        if not n:
            continue
        if source in _WHAT:
            parts.append(f"{_count(n, total)} from {_WHAT[source]}")
        elif source == "price_table":
            table = "; ".join(dict.fromkeys(price_sources)) or "a price table (source not recorded)"
            parts.append(
                f"{_count(n, total)} computed from the answer's token usage and {table}, "
                "because the target reported no cost"
            )
        elif source == "none":
            parts.append(
                f"{_count(n, total)} without a cost (a failed attempt, or no reported cost and "
                "no known price): unknown, not counted as $0"
            )
        else:
            parts.append(f"{_count(n, total)} labelled {source!r}")
    return f"Cost source of the {total:,} attempts: {_join(parts)}."


def _count(n: int, total: int) -> str:
    return "all" if n == total else f"{n:,}"


def _join(parts: Sequence[str]) -> str:
    if len(parts) == 1:
        return parts[0]
    return "; ".join(parts[:-1]) + "; and " + parts[-1]
