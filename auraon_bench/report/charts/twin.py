"""The twin validation's chart: real and twin distributions overlaid, one row per arm.

Each panel draws a metric's empirical CDF on both sides (TTFT, inter-token gap, latency, in the
target's seconds), real solid and twin dashed, with the two-sample KS distance D and both n in
the legend. The CDFs are the 101 quantiles ``validation.json`` keeps: the chart reads the typed
validation, never the records.
"""

from __future__ import annotations

from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter, ScalarFormatter

from auraon_bench.report.charts.base import chart, finish, format_n, new_figure
from auraon_bench.results.labels import simulated_label
from auraon_bench.twin.validate import QUANTILES, TwinValidation

METRIC_TITLES = {"ttft": "TTFT", "itl": "inter-token gap", "latency": "latency"}
REAL_COLOUR = "#1f4e79"
TWIN_COLOUR = "#c55a11"


@chart
def real_and_twin(validation: TwinValidation) -> Figure | None:
    arms = [a for a in validation.arms if a.metrics]
    if not arms:
        return None
    metrics = list(METRIC_TITLES)
    fig, axes = new_figure(ncols=len(metrics), nrows=len(arms), size=(12.0, 2.9 * len(arms) + 0.6))
    for row, arm in enumerate(arms):
        by_name = {m.metric: m for m in arm.metrics}
        for col, name in enumerate(metrics):
            ax = axes[row * len(metrics) + col]
            metric = by_name.get(name)
            if metric is None:
                ax.set_axis_off()
                continue
            ax.plot([v * 1e3 for v in metric.real], QUANTILES, color=REAL_COLOUR,
                    label=f"real ({format_n(metric.n_real)})")  # fmt: skip
            ax.plot([v * 1e3 for v in metric.twin], QUANTILES, color=TWIN_COLOUR,
                    linestyle="--", label=f"twin ({format_n(metric.n_twin)})")  # fmt: skip
            verdict = "" if metric.good else f" (over {metric.threshold:.3f})"
            ax.set_title(f"{arm.part} {arm.arm}: {METRIC_TITLES[name]}, D {metric.judged:.3f}"
                         f"{verdict}", fontsize=9)  # fmt: skip
            ax.set_xlabel(f"{METRIC_TITLES[name]} (ms, target time)")
            ax.set_ylabel("share of samples")
            if metric.real[-1] > 20 * max(metric.real[0], 1e-9):
                ax.set_xscale("log")
                ax.xaxis.set_major_formatter(ScalarFormatter())
                ax.xaxis.set_minor_formatter(NullFormatter())
            ax.legend(fontsize=7, loc="lower right")
    title = f"Real and twin distributions (a good twin keeps every D <= {validation.ks_good:g})"
    return finish(fig, title, simulated=simulated_label(validation.twin_of))
