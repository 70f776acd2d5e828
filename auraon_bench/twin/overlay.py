"""Write a fitted twin as a catalog overlay (``[meta] extends = "builtin"``) and its fit beside it.

The overlay names only what was fitted; everything else keeps the built-in catalog's value, and
the comments say, per model, which figure came from how many samples and how well it fits. A
model the built-in catalog does not know (a gateway's own alias) gets a full entry: what was not
measured (context window, skills) takes the placeholders :data:`NEW_MODEL`, listed as kept.

Choices for what a fit cannot see directly:

* an ``auto`` mode's fallbacks become the error rate of the models it routes to (each first
  pick then fails, and falls back, as often as was observed), unless a fixed arm measured the
  model's own error rate;
* a limits run's plan becomes ``[plans.twin]`` with the demo key ``br-demo-twin``: rehearse it
  with ``--plan twin``.
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Iterator
from pathlib import Path

import orjson

from auraon_bench.catalog import Catalog, ModelProfile, load_catalog
from auraon_bench.catalog.schema import TWIN_PLAN
from auraon_bench.emulator.launcher import DEMO_KEYS
from auraon_bench.errors import ConfigError
from auraon_bench.results.layout import write_atomically
from auraon_bench.twin.estimate import LognormalFit
from auraon_bench.twin.fit import LimitsFit, ModeFit, ModelFit, TwinFit

FIT_SUFFIX = ".fit.json"
NEW_MODEL = {"owned_by": "fitted", "context": 128000, "skill": [0.9, 0.75, 0.5]}
# Figures of a model the built-in catalog does not know and the fit could not measure.
NEW_MODEL_TTFT_S = 0.5
NEW_MODEL_TOK_S = 50.0


def _number(value: float) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def _key(name: str) -> str:
    # Unicode as itself: JSON's \ud83d-style surrogate escapes are no TOML.
    return json.dumps(name, ensure_ascii=False)


def _table(name: str, values: dict[str, object]) -> list[str]:
    if not values:
        return []
    lines = [f"[{name}]"]
    for key, value in values.items():
        if isinstance(value, list):
            text = "[" + ", ".join(_number(v) for v in value) + "]"
        elif isinstance(value, str):
            text = _key(value)
        else:
            text = _number(value)  # type: ignore[arg-type]
        lines.append(f"{key} = {text}")
    return [*lines, ""]


def _comment(fit: ModelFit) -> Iterator[str]:
    arms = ", ".join(fit.arms)
    yield f"# {fit.model}: arms {arms}; {fit.n_ok:,} ok of {fit.n_attempts:,} attempts"
    if fit.ttft is not None:
        t = fit.ttft
        what = "lognormal" if t.good else f"empirical quantiles (lognormal KS D {t.ks:.3f} too far)"
        yield (
            f"#   TTFT: {what}, median {t.median:.4g} s, sigma {t.sigma:.3f} "
            f"(n={t.n:,}, KS D={t.ks:.3f})"
        )
    if fit.prefill is not None:
        speed = (
            f"{fit.prefill.tok_s:,.0f} tokens/s"
            if fit.prefill.tok_s
            else "inside the fitted TTFT (prefill_tok_s = inf)"
        )
        yield f"#   prefill: {speed}; {fit.prefill.detail} (n={fit.prefill.n:,})"
    if fit.gaps is not None:
        g = fit.gaps
        yield (
            f"#   gaps: median {g.median * 1e3:.4g} ms, sigma {g.sigma:.3f}, slow tail "
            f"{g.tail_prob:.2%} x{g.tail_factor:.2f} (n={g.n:,} gaps, KS D={g.ks:.3f})"
        )
    if fit.output is not None:
        o = fit.output
        yield (
            f"#   output: median {o.median:.0f} tokens, sigma {o.sigma:.3f} "
            f"(n={o.n:,}; {o.capped_share:.0%} cut by max_tokens)"
        )
    if fit.tail is not None:
        t = fit.tail
        how = "lognormal" if t.good else "empirical quantiles"
        yield (
            f"#   stream tail (last token to end): {how}, median {t.median * 1e3:.4g} ms, "
            f"sigma {t.sigma:.3f} (n={t.n:,}, KS D={t.ks:.3f})"
        )
    if fit.prices is not None:
        p = fit.prices
        yield f"#   prices: from reported costs (n={p.n:,}, largest error {p.max_error:.2%})"
    if fit.error_rate is not None:
        yield f"#   5xx: {fit.n_errors:,} of the fixed arms' attempts ({fit.n_503:,} of them 503)"
    for kept in fit.kept:
        yield f"#   kept built-in: {kept}"
    for warning in fit.warnings:
        yield f"#   WARNING: {warning}"


def _spread(name: str, fit: LognormalFit) -> dict[str, object]:
    """``NAME_sigma`` of a good lognormal, else ``NAME_quantiles`` (timing keys of the catalog)."""
    if fit.good:
        return {f"{name}_sigma": fit.sigma}
    return {f"{name}_quantiles": list(fit.quantiles)}


def _model_values(fit: ModelFit, known: ModelProfile | None, fallback_rate: float | None) -> dict:
    values: dict[str, object] = {}
    timing: dict[str, object] = {}
    if known is None:
        values["owned_by"] = NEW_MODEL["owned_by"]
        values["context"] = NEW_MODEL["context"]
    if fit.ttft is not None:
        values["ttft_s"] = fit.ttft.median
        timing.update(_spread("ttft", fit.ttft))
    elif known is None:
        values["ttft_s"] = NEW_MODEL_TTFT_S
    if fit.prefill is not None and (fit.prefill.tok_s or fit.ttft is not None):
        # inf only beside a fitted TTFT that holds the prefill; a built-in TTFT keeps its own
        timing["prefill_tok_s"] = fit.prefill.tok_s or math.inf
    if fit.gaps is not None and fit.gaps.median > 0:
        values["output_tok_s"] = 1.0 / fit.gaps.median
        timing["itl_jitter"] = fit.gaps.sigma
        timing["slow_tail_prob"] = fit.gaps.tail_prob
        timing["slow_tail_factor"] = max(1.0, fit.gaps.tail_factor)
    elif known is None:
        values["output_tok_s"] = NEW_MODEL_TOK_S
    if fit.tail is not None:
        timing["tail_s"] = fit.tail.median
        timing.update(_spread("tail", fit.tail))
    if fit.output is not None:
        timing["output_tokens"] = max(1.0, fit.output.median)
        timing["output_sigma"] = fit.output.sigma
    if fit.prices is not None:
        values["input_per_mtok"] = fit.prices.input_per_mtok
        values["output_per_mtok"] = fit.prices.output_per_mtok
        cache = fit.prices.cache_read_per_mtok
        if cache is None and known is not None and known.input_per_mtok > 0:
            # no cached tokens seen: the built-in discount, on the fitted input price (the
            # built-in cache price itself may exceed it, which the catalog refuses)
            cache = (
                fit.prices.input_per_mtok
                * (known.cache_read_per_mtok or 0)
                / (known.input_per_mtok)
            )
        if cache is not None:
            values["cache_read_per_mtok"] = min(cache, fit.prices.input_per_mtok)
    elif known is None:
        values["input_per_mtok"] = 0.0
        values["output_per_mtok"] = 0.0
    rate = fit.error_rate if fit.error_rate is not None else fallback_rate
    return {"values": values, "timing": timing, "error_rate": rate}


def _fallback_rates(modes: tuple[ModeFit, ...]) -> dict[str, float]:
    """Per model, the highest fallback rate of the modes that routed to it."""
    rates: dict[str, float] = {}
    for mode in modes:
        overall = next(m for m in mode.mixes if m.key == "*")
        for model in overall.shares:
            rates[model] = max(rates.get(model, 0.0), mode.fallback_rate)
    return rates


def _limits_lines(limits: LimitsFit) -> list[str]:
    plan: dict[str, object] = {}
    if limits.requests_per_min:
        plan["requests_per_min"] = max(1, round(limits.requests_per_min))
    if limits.tokens_per_min:
        plan["tokens_per_min"] = max(1, round(limits.tokens_per_min))
    plan["limiter"] = limits.limiter or "token_bucket"
    plan["retry_after_factor"] = limits.retry_after_factor
    head = [
        f"# Plan measured by a limits run (plan {limits.source_plan or 'unknown'}, "
        f"n={limits.n:,} attempts): rehearse it with --plan {TWIN_PLAN}",
        *(f"#   {line}" for line in limits.evidence),
    ]
    if limits.limiter is None:
        head.append("#   limiter kind not identified: token_bucket assumed")
    keys = _table("keys", {_key(DEMO_KEYS[TWIN_PLAN]): TWIN_PLAN})
    return [*head, *_table(f"plans.{TWIN_PLAN}", plan), *keys]


def overlay_text(fit: TwinFit, catalog: Catalog | None = None) -> str:
    """The TOML overlay of ``fit`` over the built-in catalog (or ``catalog``)."""
    catalog = catalog or load_catalog()
    lines = [
        f"# A twin of run {fit.twin_of}, fitted by `auraon-bench emulator fit` on "
        f"{fit.fitted_utc}.",
        "# Figures in the target's own seconds. Every fitted figure names its sample size (n) "
        "and its goodness of fit",
        "# (Kolmogorov-Smirnov distance D). What is not named keeps the built-in catalog's "
        "value. Methods: docs/twin.md.",
        "",
        *_table(
            "meta",
            {
                "extends": "builtin",
                "name": f"twin of {fit.twin_of}",
                "twin_of": fit.twin_of,
                "fit_source": f"auraon-bench emulator fit, {fit.fitted_utc[:10]}",
            },
        ),
    ]
    fallback = _fallback_rates(fit.modes)
    for model in fit.models:
        known = catalog.models.get(model.model)
        parts = _model_values(model, known, fallback.get(model.model))
        name = f"models.{_key(model.model)}"
        lines += list(_comment(model))
        values = parts["values"]
        if known is None:
            lines.append("#   not a built-in model: context window and skills are placeholders")
            lines += _table(name, values)[:-1]
            lines += [f"skill.default = [{', '.join(map(str, NEW_MODEL['skill']))}]", ""]
        else:
            lines += _table(name, values) or [f"[{name}]", ""]
        lines += _table(f"{name}.timing", parts["timing"])
        if parts["error_rate"] is not None:
            lines += _table(f"{name}.faults", {"error_rate": min(1.0, parts["error_rate"])})
    for mode in fit.modes:
        if mode.mode not in catalog.routing.modes:
            lines.append(f"# mode {mode.mode}: not in the catalog, its mix is not written")
            continue
        lines.append(
            f"# {mode.mode}: {mode.n:,} answers, {mode.n_fallbacks:,} from a fallback "
            f"({mode.fallback_rate:.2%})"
        )
        mix = {}
        for entry in mode.mixes:
            lines.append(f"#   {entry.key}: n={entry.n:,}, largest share SE {entry.max_se:.3f}")
            mix[_key(entry.key)] = entry.shares
        lines.append(f"[routing.modes.{_key(mode.mode)}.mix]")
        for key, shares in mix.items():
            inner = ", ".join(f"{_key(m)} = {_number(s)}" for m, s in shares.items())
            lines.append(f"{key} = {{ {inner} }}")
        lines.append("")
    if fit.limits is not None:
        lines += _limits_lines(fit.limits)
    for note in fit.notes:
        lines.append(f"# note: {note}")
    return "\n".join(lines).rstrip() + "\n"


def fit_file(catalog_path: Path | str) -> Path:
    """Where the fit of the overlay ``catalog_path`` is written: ``<name>.fit.json`` beside it."""
    path = Path(catalog_path)
    return path.with_name(path.stem + FIT_SUFFIX)


def write_twin(fit: TwinFit, out: Path | str, replace: bool = False) -> tuple[Path, Path]:
    """Write the overlay to ``out`` and the fit beside it; both atomically, and over existing
    files only with ``replace``. Checks that the overlay loads."""
    out = Path(out)
    text = overlay_text(fit)
    side = fit_file(out)
    for path in (out, side):
        if path.exists() and not (replace and path.is_file()):
            raise ConfigError(
                f"{path} already exists" + ("" if path.is_dir() else " (--force replaces it)"),
                field="--out",
            )
    data = orjson.dumps(fit.to_dict(), option=orjson.OPT_INDENT_2)
    with tempfile.TemporaryDirectory() as scratch:  # a twin that cannot load is never written
        check = Path(scratch) / out.name
        check.write_text(text, encoding="utf-8")
        load_catalog(check)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(out, lambda tmp: tmp.write_text(text, encoding="utf-8"))
        write_atomically(side, lambda tmp: tmp.write_bytes(data))
    except OSError as exc:
        raise ConfigError(f"cannot write {out}: {exc.strerror or exc}", field="--out") from None
    return out, side
