"""The headline numbers of ``vllm bench serve``, computed from auraon-bench records.

Method: vLLM's ``calculate_metrics`` and result keys, so that a run against a gateway can be
put next to a ``vllm bench serve`` result file key by key.

* ``duration``: the measurement window, first ``t_sent`` → last ``t_done`` of the
  non-warm-up rows (vLLM times the whole benchmark the same way, warm-up excluded).
* ``completed`` = ok rows, ``failed`` = other non-warm-up rows. Each row is one HTTP
  request, as in vLLM (which does not retry).
* ``total_input_tokens`` / ``total_output_tokens``: prompt / completion tokens of ok rows.
* ``request_throughput`` = completed / duration; ``output_throughput`` = output tokens /
  duration; ``total_token_throughput`` = (input + output tokens) / duration;
  ``request_goodput`` = requests meeting the ``goodput`` SLOs / duration, or None when no
  SLOs are given (as vLLM).
* For each of ``ttft``, ``tpot``, ``itl`` (all gaps, pooled) and ``e2el`` (one attempt's
  latency: send to the response's last byte), over ok rows, in milliseconds: ``mean_*_ms``
  (``np.mean``), ``median_*_ms`` (``np.median``), ``std_*_ms`` (``np.std``, population,
  ddof=0, as vLLM) and ``p99_*_ms`` (``np.percentile``, linear).
* ``tpot`` as vLLM computes it: (e2el − TTFT) / (output tokens − 1), requests with >= 2
  output tokens, through the one TPOT function (:func:`auraon_bench.formulas.tpot`) with the
  latency as the end. The rest of auraon-bench ends TPOT at the last content event, so the
  two differ by whatever the target spends after it (finish and usage chunks, ``[DONE]``)
  divided by (output tokens − 1).

Differences from vLLM: a metric with no samples is ``None`` here, where vLLM prints 0; send
time is after connection setup here, where vLLM's clock starts before the request is handed to
its HTTP client (a cold connection's setup lands in vLLM's TTFT and e2el).
SLOs use vLLM's ``--goodput`` names and units: ``{"ttft": ms, "tpot": ms, "e2el": ms}`` (the
``tpot`` one checks the TPOT above).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from auraon_bench.analysis.records import (
    column,
    latency_column,
    measured,
    measurement_window,
    ok_mask,
    pooled_itl,
    rows,
    slo_mask,
    tpot,
    ttft_column,
)
from auraon_bench.analysis.stats import finite, rate

__all__ = ["VLLM_SLO_NAMES", "vllm_view"]

# vLLM --goodput name -> auraon-bench SLO metric (seconds).
VLLM_SLO_NAMES: dict[str, str] = {"ttft": "ttft_s", "tpot": "tpot_s", "e2el": "latency_s"}


def _ms_stats(name: str, samples: np.ndarray) -> dict[str, float | None]:
    ms = finite(samples) * 1000.0
    if not ms.size:
        return {f"{k}_{name}_ms": None for k in ("mean", "median", "std", "p99")}
    return {
        f"mean_{name}_ms": float(np.mean(ms)),
        f"median_{name}_ms": float(np.median(ms)),
        f"std_{name}_ms": float(np.std(ms)),
        f"p99_{name}_ms": float(np.percentile(ms, 99, method="linear")),
    }


def _slos_from_vllm(goodput: Mapping[str, float]) -> dict[str, float]:
    slos: dict[str, float] = {}
    for name, ms in goodput.items():
        if name not in VLLM_SLO_NAMES:
            raise ValueError(
                f"goodput: unknown metric {name!r}; expected one of {list(VLLM_SLO_NAMES)}"
            )
        slos[VLLM_SLO_NAMES[name]] = float(ms) / 1000.0
    return slos


def _vllm_tpot(df: pd.DataFrame) -> np.ndarray:
    """vLLM's TPOT per row: (e2el − TTFT) / (output tokens − 1)."""
    out = tpot(latency_column(df), ttft_column(df), column(df, "completion_tokens"))
    return np.atleast_1d(out)


def vllm_view(
    df: pd.DataFrame, goodput: Mapping[str, float] | None = None
) -> dict[str, float | int | None]:
    """vLLM ``bench serve`` result keys for the records ``df`` (all arms pooled).

    Filter ``df`` to one arm first to compare with a single-model vLLM run.
    """
    m = measured(df)
    ok = ok_mask(m)
    ok_rows = rows(m, ok)
    window = measurement_window(m)
    duration = window[1] - window[0] if window is not None else None
    completed = int(ok.sum())
    total_input = int(np.nansum(column(ok_rows, "prompt_tokens"))) if completed else 0
    total_output = int(np.nansum(column(ok_rows, "completion_tokens"))) if completed else 0

    request_goodput = None
    if goodput:
        slos = _slos_from_vllm(goodput)
        tpot_limit = slos.pop("tpot_s", None)
        good = slo_mask(m, slos)
        if tpot_limit is not None:  # vLLM's TPOT; below 2 tokens it counts as 0, as in vLLM
            good &= (_vllm_tpot(m) <= tpot_limit) | (column(m, "completion_tokens") < 2)
        request_goodput = rate(int(good.sum()), duration)

    result: dict[str, float | int | None] = {
        "duration": duration,
        "completed": completed,
        "failed": len(m) - completed,
        "total_input_tokens": total_input,
        "total_output_tokens": total_output,
        "request_throughput": rate(completed, duration),
        "request_goodput": request_goodput,
        "output_throughput": rate(total_output, duration),
        "total_token_throughput": rate(total_input + total_output, duration),
    }
    result.update(_ms_stats("ttft", ttft_column(ok_rows)))
    result.update(_ms_stats("tpot", _vllm_tpot(ok_rows)))
    result.update(_ms_stats("itl", pooled_itl(m)))
    result.update(_ms_stats("e2el", latency_column(ok_rows)))
    return result
