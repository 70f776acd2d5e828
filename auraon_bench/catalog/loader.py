"""Loading the catalog: the built-in ``catalog.toml``, optionally overlaid by a user file whose
``[meta] extends = "builtin"``, validated once and frozen. Every error names the file and the
dotted field.

Defaults of the keys a catalog may leave out: ``[defaults] tokenizer = "o200k_base"``,
``[defaults.prompt_cache] min_tokens = 1024, step_tokens = 128, ttl_s = 300``; per model
``tokenizer`` and ``prompt_cache`` (``false``, or a table overriding those three) inherit them and
``cache_read_per_mtok`` is half of ``input_per_mtok`` (OpenAI's discount); per auto mode,
``affinity = false``.

Capacity (``[defaults.capacity]`` and per model ``capacity``): absent means unlimited, as every
built-in model is. A table has ``slots`` (required, >= 1), ``queue`` (>= 0, default
``DEFAULT_QUEUE_PER_SLOT`` times ``slots``) and ``when_full`` ("503", the default, or "429"). A
model's table takes the keys it does not give from ``[defaults.capacity]`` (``queue`` following
the model's own ``slots`` unless one of them names it); ``capacity = false`` opts a model out.
"""

from __future__ import annotations

import copy
import itertools
import re
import tomllib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from auraon_bench.catalog.schema import (
    AUTO_MODES,
    FAULT_RATES,
    LIMITER_KINDS,
    METADATA_KEYS,
    TIERS,
    WHEN_FULL,
    Catalog,
    Defaults,
    Faults,
    ModelCapacity,
    ModelProfile,
    ModelTiming,
    Plan,
    PromptCachePolicy,
    Routing,
)
from auraon_bench.data.tokenizers import check_encoding
from auraon_bench.errors import CatalogError, ConfigError

BUILTIN_FILE = "catalog.toml"
BUILTIN = "builtin"
_TOP_LEVEL = frozenset({"meta", "defaults", "plans", "keys", "faults", "models", "routing"})
_MODEL_FIELDS = frozenset(
    {
        "owned_by",
        "input_per_mtok",
        "output_per_mtok",
        "context",
        "ttft_s",
        "output_tok_s",
        "skill",
        "faults",
        "source",
        "cache_read_per_mtok",
        "prompt_cache",
        "tokenizer",
        "capacity",
        "timing",
    }
)
# A model's own timing keys (schema.ModelTiming), each overriding [defaults]' when given.
_TIMING_NUMBERS = {
    "ttft_sigma": 0.0,
    "prefill_tok_s": 1e-9,
    "itl_jitter": 0.0,
    "slow_tail_prob": 0.0,
    "slow_tail_factor": 1.0,
    "output_tokens": 1.0,
    "output_sigma": 0.0,
    "tail_s": 0.0,
    "tail_sigma": 0.0,
}
_QUANTILE_FIELDS = ("ttft_quantiles", "tail_quantiles")
_TIMING_FIELDS = frozenset({*_TIMING_NUMBERS, *_QUANTILE_FIELDS})
_DEFAULT_NUMBERS = {
    "ttft_sigma": 0.5,
    "itl_jitter": 0.25,
    "slow_tail_prob": 0.01,
    "slow_tail_factor": 4.0,
    "prefill_tok_s": 20000.0,
    "typical_output_tokens": 180,
    "default_max_tokens": 1024,
    "upstream_failure_s": 0.05,
}
_DEFAULTS_FIELDS = frozenset({*_DEFAULT_NUMBERS, "tokenizer", "prompt_cache", "capacity"})
_CACHE_FIELDS = frozenset({"min_tokens", "step_tokens", "ttl_s"})
_CAPACITY_FIELDS = frozenset({"slots", "queue", "when_full"})
# A queue of four service times' worth of requests per slot: deep enough that TTFT climbs well
# past any sensible SLO before requests are refused (so a search sees latency rise, then errors),
# bounded so that an overloaded emulator holds a known number of waiting connections.
DEFAULT_QUEUE_PER_SLOT = 4
# Share of the input price a cached prompt token costs when the catalog gives no
# cache_read_per_mtok: OpenAI's discount (50%).
DEFAULT_CACHE_READ_SHARE = 0.5
_MODE_FIELDS = frozenset({*TIERS, "affinity", "extends", "mix"})
_CUSTOM_MODE = re.compile(r"auto:[A-Za-z0-9][A-Za-z0-9_-]*")
_PLAN_FIELDS = frozenset({"requests_per_min", "tokens_per_min", "retry_after_factor", "limiter"})


def load_catalog(
    path: str | Path | None = None, overrides: Mapping[str, Any] | None = None
) -> Catalog:
    """Load the built-in catalog, or ``path`` (overlaid on the built-in one if it extends it).

    ``overrides`` is a nested table merged last (used by flags such as ``--fault``).
    """
    builtin_text = resources.files("auraon_bench.catalog").joinpath(BUILTIN_FILE).read_text()
    raw = tomllib.loads(builtin_text)
    source = f"{BUILTIN_FILE} (built-in)"
    if path is not None:
        source = str(path)
        try:
            user = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise CatalogError("file not found", source=source) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise CatalogError(f"cannot read: {exc}", source=source) from None
        except tomllib.TOMLDecodeError as exc:
            raise CatalogError(f"invalid TOML: {exc}", source=source) from None
        extends = user.get("meta", {}).get("extends")
        if extends not in (None, BUILTIN):
            raise CatalogError(
                f"must be '{BUILTIN}' or absent, got {extends!r}",
                source=source,
                field="meta.extends",
            )
        raw = merge_tables(raw, user) if extends == BUILTIN else user
    if overrides:
        raw = merge_tables(raw, overrides)
    return _Parser(raw, source).catalog()


def merge_tables(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """Deep merge: tables merge key by key, anything else in ``overlay`` replaces."""
    out = copy.deepcopy(dict(base))
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge_tables(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


class _Parser:
    """Validates the raw TOML tables; every error names ``source`` and the dotted field."""

    def __init__(self, raw: Mapping[str, Any], source: str) -> None:
        self.raw = raw
        self.source = source

    def fail(self, field_name: str, message: str) -> CatalogError:
        return CatalogError(message, source=self.source, field=field_name)

    def table(self, value: Any, name: str) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(name, f"must be a table, got {type(value).__name__}")
        return value

    def known(self, table: Mapping[str, Any], allowed: frozenset[str], name: str) -> None:
        unknown = sorted(set(table) - allowed)
        if unknown:
            where = f"{name}.{unknown[0]}" if name else unknown[0]
            raise self.fail(where, f"unknown key (known: {', '.join(sorted(allowed))})")

    def number(
        self,
        table: Mapping[str, Any],
        key: str,
        name: str,
        *,
        default: Any = None,
        lo: float | None = 0.0,
        hi: float | None = None,
        integer: bool = False,
    ) -> Any:
        value = table.get(key, default)
        full = f"{name}.{key}"
        if value is None:
            raise self.fail(full, "is required")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(full, f"must be a number, got {value!r}")
        if integer and not isinstance(value, int):
            raise self.fail(full, f"must be an integer, got {value!r}")
        if lo is not None and value < lo:
            raise self.fail(full, f"must be >= {lo}, got {value}")
        if hi is not None and value > hi:
            raise self.fail(full, f"must be <= {hi}, got {value}")
        return value

    def catalog(self) -> Catalog:
        self.known(self.raw, _TOP_LEVEL, "")
        meta = self.table(self.raw.get("meta", {}), "meta")
        fault_defaults = self.table(self.raw.get("faults", {}), "faults")
        models_raw = self.table(self.raw.get("models", {}), "models")
        if not models_raw:
            raise self.fail("models", "at least one model is required")
        defaults = self.defaults()
        models = {
            mid: self.model(mid, m, fault_defaults, defaults) for mid, m in models_raw.items()
        }
        plans = {
            name: self.plan(name, p)
            for name, p in self.table(self.raw.get("plans", {}), "plans").items()
        }
        keys: dict[str, str] = {}
        for key, plan in self.table(self.raw.get("keys", {}), "keys").items():
            if plan not in plans:
                raise self.fail(f"keys.{key}", f"unknown plan {plan!r} (known: {', '.join(plans)})")
            keys[key] = plan
        metadata_keys = tuple(meta.get("metadata_keys", ["blockrun"]))
        bad = [k for k in metadata_keys if k not in METADATA_KEYS]
        if bad or not metadata_keys:
            raise self.fail("meta.metadata_keys", f"must be a non-empty subset of {METADATA_KEYS}")
        sources = {k: str(v) for k, v in meta.items() if k.endswith("_source")}
        twin_of = meta.get("twin_of")
        if twin_of is not None and (not isinstance(twin_of, str) or not twin_of.strip()):
            raise self.fail("meta.twin_of", f"must be a run id, got {twin_of!r}")
        return Catalog(
            name=str(meta.get("name", self.source)),
            models=models,
            plans=plans,
            keys=keys,
            defaults=defaults,
            routing=self.routing(models),
            metadata_keys=metadata_keys,
            sources=sources,
            twin_of=twin_of,
        )

    def model(
        self, mid: str, m: Any, fault_defaults: Mapping[str, Any], defaults: Defaults
    ) -> ModelProfile:
        name = f"models.{mid}"
        m = self.table(m, name)
        self.known(m, _MODEL_FIELDS, name)
        if mid.startswith("auto"):
            raise self.fail(name, "ids starting with 'auto' are reserved for routing modes")
        skill_raw = self.table(m.get("skill", {}), f"{name}.skill")
        if "default" not in skill_raw:
            raise self.fail(f"{name}.skill.default", "is required ([easy, medium, hard])")
        skill = {}
        for category, levels in skill_raw.items():
            if (
                not isinstance(levels, list)
                or len(levels) != 3
                or not all(isinstance(x, int | float) and 0 <= x <= 1 for x in levels)
            ):
                raise self.fail(
                    f"{name}.skill.{category}", "must be [easy, medium, hard], each between 0 and 1"
                )
            skill[category] = tuple(float(x) for x in levels)
        merged_faults = merge_tables(fault_defaults, m.get("faults", {}))
        input_price = float(self.number(m, "input_per_mtok", name))
        cache_read = float(
            self.number(
                m,
                "cache_read_per_mtok",
                name,
                default=input_price * DEFAULT_CACHE_READ_SHARE,
                hi=input_price,
            )
        )
        policy: PromptCachePolicy | None = defaults.prompt_cache
        raw_policy = m.get("prompt_cache", True)
        if raw_policy is False:
            policy = None
        elif raw_policy is not True:
            policy = self.cache_policy(raw_policy, f"{name}.prompt_cache", defaults.prompt_cache)
        capacity = defaults.capacity
        if "capacity" in m:
            raw_capacity = m["capacity"]
            if raw_capacity is False:
                capacity = None
            elif isinstance(raw_capacity, Mapping):
                # Checked on its own first, so an error names the model's key, not a merge.
                self.known(raw_capacity, _CAPACITY_FIELDS, f"{name}.capacity")
                base = self.raw.get("defaults", {}).get("capacity", {})
                capacity = self.capacity({**base, **raw_capacity}, f"{name}.capacity")
            else:
                raise self.fail(
                    f"{name}.capacity", f"must be a table or false, got {raw_capacity!r}"
                )
        return ModelProfile(
            id=mid,
            owned_by=str(m.get("owned_by", "auraon")),
            input_per_mtok=input_price,
            output_per_mtok=float(self.number(m, "output_per_mtok", name)),
            context=self.number(m, "context", name, lo=1, integer=True),
            ttft_s=float(self.number(m, "ttft_s", name)),
            output_tok_s=float(self.number(m, "output_tok_s", name, lo=1e-6)),
            skill=skill,
            faults=self.faults(merged_faults, f"{name}.faults"),
            source=str(m.get("source", "")),
            cache_read_per_mtok=cache_read,
            prompt_cache=policy,
            tokenizer=self.encoding(m.get("tokenizer", defaults.tokenizer), f"{name}.tokenizer"),
            capacity=capacity,
            timing=self.timing(m.get("timing", {}), f"{name}.timing"),
        )

    def timing(self, value: Any, name: str) -> ModelTiming:
        """A model's ``timing`` table (schema.ModelTiming); every key optional."""
        value = self.table(value, name)
        self.known(value, _TIMING_FIELDS, name)
        numbers = {
            key: float(self.number(value, key, name, lo=lo))
            for key, lo in _TIMING_NUMBERS.items()
            if key in value
        }
        if "slow_tail_prob" in numbers and numbers["slow_tail_prob"] > 1:
            raise self.fail(f"{name}.slow_tail_prob", "must be <= 1")
        lists = {}
        for key in _QUANTILE_FIELDS:
            quantiles = value.get(key, [])
            ok = (
                isinstance(quantiles, list)
                and all(isinstance(q, int | float) and not isinstance(q, bool) for q in quantiles)
                and (not quantiles or len(quantiles) >= 2)
                and all(q >= 0 for q in quantiles)
                and all(a <= b for a, b in itertools.pairwise(quantiles))
            )
            if not ok:
                raise self.fail(
                    f"{name}.{key}",
                    "must be a list of at least 2 non-decreasing seconds >= 0 (quantiles at "
                    "evenly spaced probabilities from 0 to 1)",
                )
            lists[key] = tuple(float(q) for q in quantiles)
        return ModelTiming(**lists, **numbers)

    def mix(self, value: Any, name: str, models: Mapping[str, ModelProfile]) -> dict:
        """A mode's ``mix`` table: mix key -> {model: share}; shares are normalised to sum 1."""
        value = self.table(value, name)
        out = {}
        for key, shares in value.items():
            where = f"{name}.{key}"
            shares = self.table(shares, where)
            pairs = []
            for model in shares:
                if model not in models:
                    raise self.fail(f"{where}.{model}", f"unknown model {model!r}")
                pairs.append((model, float(self.number(shares, model, where))))
            total = sum(share for _, share in pairs)
            if total <= 0:
                raise self.fail(where, "needs at least one model with a share > 0")
            out[str(key)] = tuple((m, share / total) for m, share in pairs if share > 0)
        return out

    def capacity(self, value: Any, name: str) -> ModelCapacity:
        """A capacity table: ``slots``, ``queue`` (default per slot) and ``when_full``."""
        value = self.table(value, name)
        self.known(value, _CAPACITY_FIELDS, name)
        slots = self.number(value, "slots", name, lo=1, integer=True)
        queue = self.number(
            value, "queue", name, default=DEFAULT_QUEUE_PER_SLOT * slots, lo=0, integer=True
        )
        when_full = value.get("when_full", WHEN_FULL[0])
        if isinstance(when_full, int) and not isinstance(when_full, bool):
            when_full = str(when_full)  # 429 and "429" mean the same status
        if when_full not in WHEN_FULL:
            raise self.fail(
                f"{name}.when_full", f'must be "503" or "429", got {value.get("when_full")!r}'
            )
        return ModelCapacity(slots=slots, queue=queue, when_full=when_full)

    def encoding(self, value: Any, name: str) -> str:
        """A tokenizer name, checked against auraon_bench.data.tokenizers' encodings."""
        if not isinstance(value, str):
            raise self.fail(name, f"must be a string, got {value!r}")
        try:
            return check_encoding(value, field=name)
        except ConfigError as exc:
            raise self.fail(name, exc.message) from None

    def cache_policy(
        self, value: Any, name: str, base: PromptCachePolicy | None = None
    ) -> PromptCachePolicy:
        """A ``prompt_cache`` table over ``base`` (the defaults' policy, or the built-in one)."""
        if not isinstance(value, Mapping):
            raise self.fail(name, f"must be a table or false, got {value!r}")
        self.known(value, _CACHE_FIELDS, name)
        base = base or PromptCachePolicy()
        return PromptCachePolicy(
            min_tokens=self.number(
                value, "min_tokens", name, default=base.min_tokens, lo=1, integer=True
            ),
            step_tokens=self.number(
                value, "step_tokens", name, default=base.step_tokens, lo=1, integer=True
            ),
            ttl_s=float(self.number(value, "ttl_s", name, default=base.ttl_s, lo=1e-9)),
        )

    def faults(self, f: Mapping[str, Any], name: str) -> Faults:
        known = {*FAULT_RATES, "slow_headers_s", "outages"}
        unknown = sorted(set(f) - known)
        if unknown:
            raise self.fail(
                f"{name}.{unknown[0]}", f"unknown fault (known: {', '.join(sorted(known))})"
            )
        rates = {k: float(self.number(f, k, name, default=0.0, hi=1.0)) for k in FAULT_RATES}
        outages = []
        for i, window in enumerate(f.get("outages", [])):
            ok = (
                isinstance(window, list)
                and len(window) == 2
                and all(isinstance(x, int | float) for x in window)
                and 0 <= window[0] < window[1]
            )
            if not ok:
                raise self.fail(
                    f"{name}.outages[{i}]", "must be [start_s, end_s] with 0 <= start < end"
                )
            outages.append((float(window[0]), float(window[1])))
        return Faults(
            **rates,
            slow_headers_s=float(self.number(f, "slow_headers_s", name, default=5.0)),
            outages=tuple(outages),
        )

    def plan(self, name: str, p: Any) -> Plan:
        full = f"plans.{name}"
        p = self.table(p, full)
        self.known(p, _PLAN_FIELDS, full)
        limits = {}
        for key in ("requests_per_min", "tokens_per_min"):
            limits[key] = (
                None if p.get(key) is None else self.number(p, key, full, lo=1, integer=True)
            )
        factor = float(self.number(p, "retry_after_factor", full, default=1.0, lo=0.0))
        limiter = p.get("limiter", LIMITER_KINDS[0])
        if limiter not in LIMITER_KINDS:
            raise self.fail(
                f"{full}.limiter", f"must be one of {', '.join(LIMITER_KINDS)}, got {limiter!r}"
            )
        return Plan(name=name, retry_after_factor=factor, limiter=limiter, **limits)

    def defaults(self) -> Defaults:
        d = self.table(self.raw.get("defaults", {}), "defaults")
        self.known(d, _DEFAULTS_FIELDS, "defaults")
        values = {k: self.number(d, k, "defaults", default=v) for k, v in _DEFAULT_NUMBERS.items()}
        for k in ("typical_output_tokens", "default_max_tokens"):
            values[k] = int(values[k])
        if values["prefill_tok_s"] <= 0:
            raise self.fail("defaults.prefill_tok_s", "must be > 0")
        return Defaults(
            **values,
            tokenizer=self.encoding(d.get("tokenizer", "o200k_base"), "defaults.tokenizer"),
            prompt_cache=self.cache_policy(d.get("prompt_cache", {}), "defaults.prompt_cache"),
            capacity=(
                self.capacity(d["capacity"], "defaults.capacity") if "capacity" in d else None
            ),
        )

    def routing(self, models: Mapping[str, ModelProfile]) -> Routing:
        r = self.table(self.raw.get("routing", {}), "routing")

        def chain(value: Any, name: str) -> tuple[str, ...]:
            if not isinstance(value, list) or not value:
                raise self.fail(name, "must be a non-empty list of model ids")
            for mid in value:
                if mid not in models:
                    raise self.fail(name, f"unknown model {mid!r}")
            return tuple(value)

        modes_raw = self.table(r.get("modes", {}), "routing.modes")
        modes = {}
        affinity = {}
        mixes = {}
        # A mode that extends another takes its tier chains, so an overlay can add a variant
        # (e.g. "auto:sticky" = auto with affinity) to compare with it in one run.
        pending, ordered = dict(modes_raw), []
        while pending:  # every mode after the one it extends, however long the chain
            ready = [
                m
                for m, t in pending.items()
                if not (isinstance(t, dict) and t.get("extends") in pending)
            ]
            if not ready:
                first = next(iter(pending))
                raise self.fail(
                    f"routing.modes.{first}.extends", "modes extend each other in a cycle"
                )
            ordered += [(m, pending.pop(m)) for m in ready]
        for mode, tiers in ordered:
            if mode not in AUTO_MODES and not _CUSTOM_MODE.fullmatch(mode):
                raise self.fail(
                    f"routing.modes.{mode}",
                    f"unknown mode (known: {', '.join(AUTO_MODES)}, or auto:<name> of your own "
                    "with letters, digits, - and _)",
                )
            tiers = self.table(tiers, f"routing.modes.{mode}")
            self.known(tiers, _MODE_FIELDS, f"routing.modes.{mode}")
            if "mix" in tiers:
                mixes[mode] = self.mix(tiers["mix"], f"routing.modes.{mode}.mix", models)
            base = tiers.get("extends")
            if base is not None:
                if base not in modes:
                    raise self.fail(
                        f"routing.modes.{mode}.extends",
                        f"unknown mode {base!r} (modes: {', '.join(modes)})",
                    )
                tiers = {**dict(modes[base]), **{k: v for k, v in tiers.items() if k != "extends"}}
                tiers = {k: list(v) if isinstance(v, tuple) else v for k, v in tiers.items()}
            missing = [t for t in TIERS if t not in tiers]
            if missing:
                raise self.fail(f"routing.modes.{mode}.{missing[0]}", "is required")
            modes[mode] = {t: chain(tiers[t], f"routing.modes.{mode}.{t}") for t in TIERS}
            affinity[mode] = tiers.get("affinity", False)
            if not isinstance(affinity[mode], bool):
                raise self.fail(
                    f"routing.modes.{mode}.affinity",
                    f"must be true or false, got {affinity[mode]!r}",
                )
        if "auto" not in modes:
            raise self.fail("routing.modes.auto", "is required")
        return Routing(
            modes=modes,
            long_context=chain(
                r.get("long_context", [max(models, key=lambda m: models[m].context)]),
                "routing.long_context",
            ),
            cooldown_after_429_s=float(
                self.number(r, "cooldown_after_429_s", "routing", default=60)
            ),
            cooldown_after_error_s=float(
                self.number(r, "cooldown_after_error_s", "routing", default=15)
            ),
            affinity=affinity,
            mix=mixes,
        )
