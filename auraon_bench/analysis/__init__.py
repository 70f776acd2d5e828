"""Statistics of load-test results: pure functions of the request-records frame.

No I/O, plotting or network: modules take a pandas DataFrame (one row per HTTP attempt)
and return frozen dataclasses whose ``to_dict()`` is JSON-ready.

* :mod:`.stats`: percentiles (numpy linear, with n), percentile-bootstrap CI, safe rates.
* :mod:`.records`: per-row metrics (TTFT, TPOT, ITL, overhead), windows, logical requests.
* :mod:`.accounting`: errors, retries, tokens and cost.
* :mod:`.load_summary`: per-arm / per-stage / run summaries (``summary.json``).
* :mod:`.vllm_compat`: the same run in ``vllm bench serve`` terms.
* :mod:`.quality`: graded evaluations: accuracy with CIs, cost per correct answer, paired
  comparisons (bootstrap, McNemar, Holm), the oracle.
* :mod:`.routing`: auto against fixed models: frontier, PGR, APGR, CPT, AIQ, shuffled control.
* :mod:`.compare`: differences between runs with bootstrap intervals (reports).
* :mod:`.regression`: regression verdicts between a baseline and a current run.
* :mod:`.steps`: step detection over a series of runs (history).
* :mod:`.slo`, :mod:`.plan_fit`, :mod:`.plan_advice`, :mod:`.limits`: SLO checks, plan fit and
  advice, rate-limit probe verdicts.
"""

from auraon_bench.analysis.accounting import (
    CostSummary,
    ErrorSummary,
    LogicalSummary,
    TokenSummary,
    summarize_cost,
    summarize_errors,
    summarize_logical,
    summarize_tokens,
)
from auraon_bench.analysis.load_summary import (
    SCHEMA_VERSION,
    ArmSummary,
    Goodput,
    RunSummary,
    StageSummary,
    summarize_arm,
    summarize_run,
)
from auraon_bench.analysis.quality import (
    AccuracyTable,
    CostTable,
    PairedComparison,
    accuracy_table,
    cost_table,
    holm,
    oracle,
    paired_comparison,
    versus_all,
    versus_reference,
)
from auraon_bench.analysis.records import (
    SLO_METRICS,
    STATUSES,
    logical_requests,
    measured,
    measurement_window,
    output_tps,
    pooled_itl,
    send_window,
    slo_mask,
    tpot,
)
from auraon_bench.analysis.routing import (
    RoutingReport,
    aiq,
    apgr,
    cpt,
    evaluate_routing,
    frontier,
    pgr,
    routing_mix,
    shuffled_control,
)
from auraon_bench.analysis.stats import (
    P999_MIN_N,
    Percentiles,
    bootstrap_ci,
    percentiles,
    rate,
)
from auraon_bench.analysis.vllm_compat import vllm_view

__all__ = [
    "P999_MIN_N",
    "SCHEMA_VERSION",
    "SLO_METRICS",
    "STATUSES",
    "AccuracyTable",
    "ArmSummary",
    "CostSummary",
    "CostTable",
    "ErrorSummary",
    "Goodput",
    "LogicalSummary",
    "PairedComparison",
    "Percentiles",
    "RoutingReport",
    "RunSummary",
    "StageSummary",
    "TokenSummary",
    "accuracy_table",
    "aiq",
    "apgr",
    "bootstrap_ci",
    "cost_table",
    "cpt",
    "evaluate_routing",
    "frontier",
    "holm",
    "logical_requests",
    "measured",
    "measurement_window",
    "oracle",
    "output_tps",
    "paired_comparison",
    "percentiles",
    "pgr",
    "pooled_itl",
    "rate",
    "routing_mix",
    "send_window",
    "shuffled_control",
    "slo_mask",
    "summarize_arm",
    "summarize_cost",
    "summarize_errors",
    "summarize_logical",
    "summarize_run",
    "summarize_tokens",
    "tpot",
    "versus_all",
    "versus_reference",
    "vllm_view",
]
