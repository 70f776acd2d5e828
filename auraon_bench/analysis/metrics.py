"""Every figure a load summary holds, defined once: the table docs/metrics.md is checked against.

Each :class:`Metric` names the summary field that holds the figure (a field of
:class:`~auraon_bench.analysis.load_summary.ArmSummary`, or a dotted path into one of its parts),
its formula, its unit, the rows it is computed over, and what it includes: warm-up (never),
retries (each attempt is its own row unless the figure spans a logical request) and connection
setup (DNS, TCP and TLS of a new connection, recorded apart as ``connect_s``).

A test checks both directions: every summary field has a definition here, and docs/metrics.md's
metric table is exactly :func:`markdown_table` (regenerate it with
``python -m auraon_bench.analysis.metrics``). Pure data.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["METRICS", "Metric", "markdown_table"]


@dataclass(frozen=True)
class Metric:
    field: str  # where a summary holds it: an ArmSummary field, or a dotted path
    name: str  # what people call it
    definition: str
    unit: str
    rows: str  # the records it is computed over (warm-up rows never count)
    retries: str  # "per attempt" or "spans retries"
    connect: str  # whether connection setup is inside the figure


_OK = "ok attempts"
_ALL = "all attempts"
_NO = "excluded"

METRICS: tuple[Metric, ...] = (
    Metric("requests", "requests", "attempts measured", "count", _ALL, "per attempt", "-"),
    Metric("warmup_requests", "warm-up requests", "attempts marked warm-up: the first "
           "`--warmup-requests`, or sent in the first `--warmup-seconds` of a stage (open and "
           "closed loops alike); counted, used by no other figure", "count", "warm-up attempts",
           "per attempt", "-"),
    Metric("ok", "ok", "attempts with status `ok`", "count", _ALL, "per attempt", "-"),
    Metric("schedule_lag_s", "schedule lag", "attempt start - scheduled send time (the "
           "load generator's own health)", "s", "first attempts (of conversations: first "
           "turns)", "first attempt only",
           "not included: stamped when the attempt starts"),
    Metric("record:t_sent", "send time", "the request written to an open connection: the "
           "origin of TTFT, time to last token and latency; when no connection was opened "
           "(refused, DNS, connect timeout), the attempt start", "s", _ALL, "per attempt",
           _NO),
    Metric("record:cost_usd", "cost of an attempt", "blockrun / auraon `cost_usd`, OpenRouter "
           "`usage.cost`, LiteLLM `x-litellm-response-cost`; otherwise catalog price x usage, "
           "flagged `cost_source = price_table`; an unknown price is no cost, never 0; every "
           "attempt has a `cost_source` and a `token_source` (`none` when nothing is known)",
           "USD", _ALL, "per attempt", "-"),
    Metric("connect_s", "connection setup", "DNS + TCP (+ TLS) time of a new connection, "
           "before the request is written; null when the connection was reused", "s",
           "attempts that opened a connection", "per attempt", "this is it"),
    Metric("connection_reused_share", "connections reused", "share of attempts sent on a "
           "connection already open", "share", "attempts whose connection is known",
           "per attempt", "-"),
    Metric("ttft_s", "TTFT", "first SSE event carrying generated content (text, reasoning "
           "or a tool call; not the role-only chunk) - send time (the request written to "
           "an open connection)", "s", _OK, "per attempt", _NO),
    Metric("ttlt_s", "time to last token", "last content event - send time", "s", _OK,
           "per attempt", _NO),
    Metric("latency_s", "latency (e2e)", "last byte of the response (streaming: the final "
           "event, `[DONE]` included; non-streaming: the full body) - send time", "s", _OK,
           "per attempt", _NO),
    Metric("tpot_s", "TPOT", "(last content event - first content event) / "
           "(completion_tokens - 1); undefined below 2 tokens", "s/token", _OK,
           "per attempt", _NO),
    Metric("itl_s", "ITL", "every gap between consecutive content events, pooled across "
           "requests (vLLM's definition)", "s", _OK, "per attempt", _NO),
    Metric("output_tokens_per_s", "output tok/s per request", "(completion_tokens - 1) / "
           "(last content event - first content event)", "tokens/s", _OK, "per attempt",
           _NO),
    Metric("gateway_overhead_s", "gateway overhead", "latency (e2e) - "
           "`blockrun.latency_ms` / 1000 (what the network and gateway add)", "s", _OK,
           "per attempt", _NO),
    Metric("window_s", "measurement window", "first send -> last completion", "s", _ALL,
           "spans retries", _NO),
    Metric("request_throughput", "request throughput", "ok attempts / window", "requests/s",
           _OK, "per attempt", _NO),
    Metric("output_token_throughput", "output token throughput", "sum of completion_tokens "
           "of ok attempts / window", "tokens/s", _OK, "per attempt", _NO),
    Metric("send_window_s", "send window", "first send -> last send of first attempts", "s",
           "first attempts (of conversations: first turns)", "first attempt only", _NO),
    Metric("achieved_rate", "achieved rate", "(first attempts sent - 1) / send window",
           "requests/s (conversations/s)", "first attempts (of conversations: first turns)",
           "first attempt only", _NO),
    Metric("goodput", "goodput", "attempts that are ok and meet every per-request SLO, per "
           "second of window, and as a share of all attempts", "requests/s, share", _ALL,
           "per attempt", _NO),
    Metric("errors", "errors", "count and share of each status per attempt; 429s are "
           "`rate_limited`", "count, share", _ALL, "per attempt", "-"),
    Metric("logical", "logical requests", "outcome of each logical request (its last "
           "attempt); e2e latency = last attempt's end - first attempt's send", "count, s",
           "last attempts", "spans retries", "included in the e2e latency"),
    Metric("tokens", "tokens", "sums of prompt and completion tokens from server usage "
           "(`token_source` says where each count came from)", "tokens", _OK,
           "per attempt", "-"),
    Metric("cost.total_usd", "total cost", "sum of `cost_usd` over every attempt with a "
           "cost, billed failures included", "USD", "attempts with a cost", "per attempt",
           "-"),
    Metric("cost.per_request_usd", "cost per request", "mean `cost_usd` of ok attempts that "
           "have one (the price of an answer; the same figure in load and eval tables)",
           "USD", "ok attempts with a cost", "per attempt", "-"),
    Metric("cost.per_1k_requests_usd", "cost per 1k requests", "1000 x cost per request",
           "USD", "ok attempts with a cost", "per attempt", "-"),
    Metric("cost.per_1m_tokens_usd", "cost per 1M tokens", "1e6 x sum of cost / sum of "
           "prompt + completion tokens, over attempts with both", "USD",
           "attempts with cost and tokens", "per attempt", "-"),
    Metric("cache.hit_rate", "cache hit rate", "sum of cached_tokens / sum of prompt_tokens "
           "(the target's usage.prompt_tokens_details.cached_tokens)", "share",
           "ok attempts reporting cached_tokens", "per attempt", _NO),
    Metric("cache.cost_without_cache_usd", "cost without caching", "measured cost + cached "
           "tokens x (input - cache-read price) of the serving model (catalog for the "
           "emulator, price table for a real target); also cache.cost_usd, the same rows' "
           "measured cost", "USD", "ok attempts reporting cached_tokens, priced", "per attempt",
           _NO),
    Metric("cache.ttft_cached_s", "TTFT cached / uncached", "TTFT percentiles of attempts "
           "with cached_tokens > 0, and (ttft_uncached_s) of the rest", "s",
           "ok attempts reporting cached_tokens", "per attempt", _NO),
    Metric("conversations.switches_per_conversation", "model switches per conversation",
           "ok turns served by another model than the conversation's previous ok turn / "
           "conversations with two or more ok turns", "count", _OK, "last attempt", _NO),
    Metric("conversations.lost_discount_usd", "cache discount lost to switches", "per switch: "
           "the previous turn's prompt_tokens rounded down to 128 (0 below 1,024), less the "
           "new turn's cached_tokens (at least 0), x the previous model's input - cache-read "
           "price; an estimate", "USD", _OK, "last attempt", _NO),
    Metric("conversations.by_turn", "per turn", "TTFT percentiles, mean prompt and cached "
           "tokens, cache hit rate, mean cost and serving models of the attempts of turn k",
           "per turn", _ALL, "per attempt", _NO),
    Metric("output_caps.within_cap", "max_tokens honoured", "ok attempts whose "
           "completion_tokens <= the max_tokens sent (also at_cap: equal, over_cap: above)",
           "count", "ok attempts with max_tokens", "per attempt", _NO),
)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def markdown_table() -> str:
    """The metric table of docs/metrics.md, one row per :data:`METRICS` entry."""
    head = (
        "| metric | summary field | definition | unit | rows | retries | connection setup |\n"
        "|---|---|---|---|---|---|---|\n"
    )
    body = "".join(
        f"| {_cell(m.name)} | `{m.field}` | {_cell(m.definition)} | {m.unit} | {m.rows} | "
        f"{m.retries} | {m.connect} |\n"
        for m in METRICS
    )
    return head + body


if __name__ == "__main__":
    print(markdown_table(), end="")
