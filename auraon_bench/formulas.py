"""Per-request decode metrics, each defined once, for the measuring client and the analysis alike.

The client calls these with plain numbers for one attempt (on its hot path: no pandas, no NumPy
work for a number); the analysis calls them with NumPy arrays of many attempts. Both get the
same formula from the same function (docs/metrics.md):

* TPOT = (last content event − first content event) / (completion_tokens − 1);
* output tok/s of one request = (completion_tokens − 1) / (last content event − first content
  event), the inverse of TPOT.

Content events are the SSE events carrying generated content; the times may be given relative to
any common origin (``ttft_s`` and ``ttlt_s`` of one record, or its ``t_first_token`` and
``t_last_token``). Both metrics are undefined below 2 completion tokens (one token has no
inter-token time), when a time or the token count is unknown, and output tok/s also when the
decode span is not positive: ``None`` for numbers, NaN in arrays.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["output_tps", "tpot"]


_SCALAR = (int, float, type(None))  # one attempt's values: plain numbers, None when unknown


def tpot(first_content: Any, last_content: Any, completion_tokens: Any) -> Any:
    """(last_content − first_content) / (completion_tokens − 1), see the module.

    Numbers in, ``float | None`` out; arrays (or array-likes) in, a float64 array out,
    elementwise, with NaN where undefined.
    """
    known = _scalars(first_content, last_content, completion_tokens)
    if known is not None:
        if not known or not completion_tokens >= 2:
            return None
        return (last_content - first_content) / (completion_tokens - 1)
    first, last, tokens = _arrays(first_content, last_content, completion_tokens)
    steps = np.where(tokens >= 2, tokens - 1, np.nan)
    return (last - first) / steps


def output_tps(first_content: Any, last_content: Any, completion_tokens: Any) -> Any:
    """(completion_tokens − 1) / (last_content − first_content), see the module; types as
    :func:`tpot`."""
    known = _scalars(first_content, last_content, completion_tokens)
    if known is not None:
        if not known:
            return None
        span = last_content - first_content
        if not (completion_tokens >= 2 and span > 0):
            return None
        return (completion_tokens - 1) / span
    first, last, tokens = _arrays(first_content, last_content, completion_tokens)
    span = last - first
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((tokens >= 2) & (span > 0), (tokens - 1) / span, np.nan)


def _scalars(*values: Any) -> bool | None:
    """None when any value is not a plain number (the array path); else whether all are known."""
    if not all(isinstance(v, _SCALAR) for v in values):
        return None
    return all(v is not None for v in values)


def _arrays(*values: Any) -> tuple[np.ndarray, ...]:
    """float64 arrays, None as NaN (an unknown value beside arrays is a missing value)."""
    return tuple(np.asarray(np.nan if v is None else v, dtype=np.float64) for v in values)
