"""Experiment files (``experiments/*.toml``): read with tomllib, validated up front, frozen.

Everything is checked before a request is sent: unknown keys (with a close-match hint), wrong
types, missing dataset or trace files, and combinations that cannot run (a rate profile without
a rate, a reference model that is not an arm, an emulator setting beside a real target...). Each
problem is one :class:`~auraon_bench.errors.ConfigError` naming the file, the line and the field.

The format is documented in ``experiments/README.md``; relative paths in a file are relative to
the file's own directory, so an experiment runs the same from any working directory. API keys
are never read from a file (files get committed): they come from ``--api-key`` or
``AURAON_API_KEY``.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from auraon_bench.analysis.slo import Slo, parse_slo
from auraon_bench.client.http import Timeouts
from auraon_bench.data.lengths import LengthSpec, as_setting, parse_length
from auraon_bench.data.prompts import MAX_TURNS, prefix_problem
from auraon_bench.data.tokenizers import DEFAULT_ENCODING, ENCODINGS
from auraon_bench.errors import ConfigError
from auraon_bench.experiment.capacity_part import CapacityPart, read_capacity_part
from auraon_bench.experiment.fields import (
    Fields,
    TomlText,
    at_least,
    non_empty,
    positive,
    read_toml,
)
from auraon_bench.load.arrivals import Profile, ScheduleSpec
from auraon_bench.load.retry import POLICIES, RetryPolicy
from auraon_bench.load.spec import build_spec, read_trace, sweep_stages
from auraon_bench.load.split import check_workers
from auraon_bench.load.target import check_base_url
from auraon_bench.prices.file import load_price_file

PLANS = ("starter", "pro", "enterprise")
REPORT_FORMATS = ("html", "md", "png", "svg", "csv")
DEFAULT_ARMS = ("auto", "gpt-4o")

# Documented defaults of `auraon-bench regress` (ratios are current / baseline).
REGRESS_DEFAULTS: dict[str, float] = {
    "latency_ratio": 1.10,  # TTFT, latency and TPOT percentiles
    "latency_min_delta_s": 0.002,  # ... which must also move by this much (seconds)
    "throughput_ratio": 0.90,  # lower is worse
    "cost_ratio": 1.05,
    "accuracy_drop": 0.02,  # absolute, in accuracy units (0.02 = 2 points)
    "error_rate_increase": 0.01,  # absolute share of attempts
    "routing_shift": 0.10,  # total variation distance of auto's routing mix
    "alpha": 0.05,  # significance level of every test
    "min_samples": 20,  # fewer per arm: "too few samples", never a regression
}


@dataclass(frozen=True)
class TargetSettings:
    base_url: str | None = None
    plan: str = "enterprise"  # the emulator's demo key; a real key has its own plan
    time_scale: float = 1.0  # emulator only
    catalog: str | None = None  # emulator only: a catalog overlay file
    timeouts: Timeouts = field(default_factory=Timeouts)
    max_cost_usd: float | None = None
    # Arms the target's /models does not list are sent with a warning instead of refused.
    allow_unlisted_models: bool = False
    prices: str | None = None  # a prices file (auraon_bench/prices/file.py), checked on load


@dataclass(frozen=True)
class EvalPart:
    datasets: tuple[str, ...]
    arms: tuple[str, ...]
    items_per_dataset: int | None = None
    repeat: int = 1
    concurrency: int = 8
    max_tokens: int = 1024
    reference: str | None = None
    judge: str | None = None
    name: str = "eval"
    kind: str = "eval"


@dataclass(frozen=True)
class LoadPart:
    name: str
    arms: tuple[str, ...]
    spec: ScheduleSpec
    stream: bool = True
    dataset: str | None = None
    items_per_dataset: int | None = None
    input_tokens: int | LengthSpec = 128
    output_tokens: int | LengthSpec = 64
    tokenizer: str = "o200k_base"
    turns: int | LengthSpec = 1
    think_time: float | LengthSpec = 0.0
    shared_prefix_tokens: int = 0
    prefix_groups: int = 1
    repeat: int = 0  # > 0: paired, every arm on every prompt this many times (a closed loop)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    plan: str | None = None  # emulator demo key for this part; None: the target's
    workers: int = 1  # load-generating processes sharing this part's schedule
    executor: str = "local"  # "local" processes or "ray" (the cluster from RAY_ADDRESS)
    pin_output: bool | None = None  # synthetic answers of exactly max_tokens; None: emulator only
    kind: str = "load"


@dataclass(frozen=True)
class LimitsPart:
    """The rate-limit probe (``auraon-bench limits``) as a part of an experiment."""

    model: str = "gpt-4o-mini"
    plan_hint: str | None = None
    dimensions: tuple[str, ...] = ("requests", "tokens")
    max_requests: int = 10_000
    max_tokens: int = 10_000_000
    max_duration: float = 600.0
    plan: str | None = None  # emulator only: this part's demo key
    name: str = "limits"
    kind: str = "limits"


@dataclass(frozen=True)
class OutputSettings:
    dir: str = "results"  # relative to the working directory, like every command's default
    report: tuple[str, ...] = REPORT_FORMATS
    metrics_port: int | None = None  # live Prometheus metrics while it runs (0: any free port)
    otel_out: str | None = None  # one OpenTelemetry span per attempt, OTLP JSON lines
    otel_endpoint: str | None = None  # ... or exported to an OTLP/HTTP endpoint


@dataclass(frozen=True)
class Experiment:
    path: Path
    text: str
    sha256: str
    name: str
    description: str
    seed: int
    repetitions: int
    target: TargetSettings
    arms: tuple[str, ...]
    eval: EvalPart | None
    loads: tuple[LoadPart, ...]
    limits: LimitsPart | None
    slos: tuple[Slo, ...]
    regress: dict[str, float]
    output: OutputSettings
    capacity: CapacityPart | None = None

    @property
    def parts(self) -> tuple[EvalPart | LoadPart | CapacityPart | LimitsPart, ...]:
        """In run order: the evaluation first (it also warms the target), then the loads and
        the capacity search, then the rate-limit probe (it leaves the key's budget empty)."""
        return (
            ((self.eval,) if self.eval else ())
            + self.loads
            + ((self.capacity,) if self.capacity else ())
            + ((self.limits,) if self.limits else ())
        )

    @property
    def datasets(self) -> tuple[str, ...]:
        names = list(self.eval.datasets) if self.eval else []
        names += [p.dataset for p in self.loads if p.dataset]
        if self.capacity is not None and self.capacity.workload.dataset:
            names.append(self.capacity.workload.dataset)
        return tuple(dict.fromkeys(names))

    def with_pin_output(self, pin: bool) -> Experiment:
        """Every load part, and the capacity search's workload, whose file sets no
        ``pin_output`` gets ``pin`` (``run --pin-output/--no-pin-output``): what the file says
        stays, so a twin re-running a gateway's experiment asks for what the gateway got."""

        def unset(part: LoadPart) -> LoadPart:
            kept = part.pin_output is not None
            return part if kept else dataclasses.replace(part, pin_output=pin)

        capacity = self.capacity
        if capacity is not None:
            capacity = dataclasses.replace(capacity, workload=unset(capacity.workload))
        loads = tuple(unset(p) for p in self.loads)
        return dataclasses.replace(self, loads=loads, capacity=capacity)

    def describe(self) -> dict[str, Any]:
        """For the manifest: the file itself, its hash, and what was read from it."""
        return {
            "name": self.name,
            "description": self.description,
            "file": self.path.name,
            "sha256": self.sha256,
            "content": self.text,
            "seed": self.seed,
            "repetitions": self.repetitions,
            "slo": [s.to_dict() for s in self.slos],
            "regress": self.regress,
        }


def load_experiment(path: str | Path) -> Experiment:
    """Read and validate an experiment file; ``ConfigError`` naming file, line and field."""
    path = Path(path)
    text, data = read_toml(path, "experiment file")
    return _Reader(path, text, data).experiment(hashlib.sha256(text.encode()).hexdigest())


class _Reader:
    def __init__(self, path: Path, text: str, data: dict[str, Any]) -> None:
        self.path = path
        self.base = path.parent
        self.text = TomlText(str(path), text)
        self.raw = text
        self.top = Fields(data, self.text, "")

    def experiment(self, sha256: str) -> Experiment:
        top = self.top
        name = top.get("name", "str", self.path.stem)
        description = top.get("description", "str", "")
        seed = top.get("seed", "int", 0, check=at_least(0))
        repetitions = top.get("repetitions", "int", 1, check=at_least(1))
        arms = tuple(top.get("arms", "list[str]", list(DEFAULT_ARMS), check=non_empty))
        target = self.target(top.get("target", "table", {}))
        evaluation = self.evaluation(top.get("eval", "table"), arms)
        loads = self.loads(top.get("load", "list[table]"), arms, target, evaluation)
        limits = self.limits(top.get("limits", "table"), target)
        slos = self.slos(top.get("slo", "table", {}))
        capacity = read_capacity_part(self, top.get("capacity", "table"), arms, target, slos)
        regress = self.regress(top.get("regress", "table", {}))
        output = self.output(top.get("output", "table", {}))
        top.done()
        if evaluation is None and not loads and limits is None and capacity is None:
            top.fail(None, "nothing to run: add an [eval], [[load]], [capacity] or [limits] table")
        for table, other in (("limits", limits), ("capacity", capacity)):
            if other is not None and any(p.name == table for p in loads):
                top.fail("load", f"a [[load]] part may not be called {table!r} beside [{table}]")
        return Experiment(
            self.path, self.raw, sha256, name, description, seed, repetitions, target, arms,
            evaluation, loads, limits, slos, regress, output, capacity,
        )  # fmt: skip

    def length(
        self,
        f: Fields,
        key: str,
        default: float,
        *,
        integer: bool = True,
        floor: float = 1,
        maximum: float | None = None,
    ) -> Any:
        """A number or a distribution string (:mod:`auraon_bench.data.lengths`); a constant
        stays a plain number. A bad one fails naming the key and its line."""
        value = f.get(key, "any", default)
        try:
            spec = parse_length(value, field=key, integer=integer, floor=floor, base=self.base)
        except ConfigError as exc:
            where = "" if exc.source is None else f" ({exc.source}, line {exc.line})"
            f.fail(key, f"{exc.message}{where}")
        try:
            return as_setting(spec, maximum)
        except ValueError as exc:
            f.fail(key, str(exc))

    def file(self, fields: Fields, key: str, value: str) -> str:
        resolved = (self.base / value) if not Path(value).is_absolute() else Path(value)
        if not resolved.is_file():
            fields.fail(key, f"no such file: {value} (looked for {resolved})")
        return str(resolved)

    def target(self, table: Any) -> TargetSettings:
        f = Fields(table, self.text, "target", table_name="target")
        if "api_key" in f.table:
            f.fail(
                "api_key",
                "API keys are never read from experiment files; set AURAON_API_KEY or pass "
                "--api-key",
            )
        base_url = f.get("base_url", "str")
        if base_url is not None:
            try:
                base_url = check_base_url(base_url, "base_url")
            except ConfigError as exc:
                f.fail("base_url", exc.message)
        plan = f.choice("plan", PLANS, "enterprise")
        time_scale = f.get("time_scale", "float", 1.0, check=at_least(0))
        catalog = f.get("catalog", "str")
        if catalog is not None:
            catalog = self.file(f, "catalog", catalog)
        for key in ("time_scale", "catalog"):
            if base_url and f.has(key):
                f.fail(key, "applies to the built-in emulator only, not beside base_url")
        timeouts = Timeouts(
            connect=f.get("connect_timeout", "float", 10.0, check=positive),
            read=f.get("read_timeout", "float", 120.0, check=positive),
            total=f.get("timeout", "float", 600.0, check=positive),
        )
        max_cost = f.get("max_cost_usd", "float", check=at_least(0))
        allow_unlisted = f.get("allow_unlisted_models", "bool", False)
        prices = f.get("prices", "str")
        if prices is not None:
            prices = self.file(f, "prices", prices)
            load_price_file(prices)  # its own one-line errors name its file, line and field
        f.done()
        return TargetSettings(
            base_url, plan, time_scale, catalog, timeouts, max_cost, allow_unlisted, prices
        )

    def arms_of(self, f: Fields, default: tuple[str, ...]) -> tuple[str, ...]:
        arms = tuple(f.get("arms", "list[str]", list(default), check=non_empty))
        if len(set(arms)) != len(arms):
            f.fail("arms", "lists an arm twice")
        return arms

    def evaluation(self, table: Any, arms: tuple[str, ...]) -> EvalPart | None:
        if table is None:
            return None
        f = Fields(table, self.text, "eval", table_name="eval")
        datasets = f.require("datasets", "list[str]", check=non_empty)
        part = EvalPart(
            datasets=tuple(self.file(f, "datasets", d) for d in datasets),
            arms=self.arms_of(f, arms),
            items_per_dataset=f.get("items_per_dataset", "int", check=at_least(1)),
            repeat=f.get("repeat", "int", 1, check=at_least(1)),
            concurrency=f.get("concurrency", "int", 8, check=at_least(1)),
            max_tokens=f.get("max_tokens", "int", 1024, check=at_least(1)),
            reference=f.get("reference", "str"),
            judge=f.get("judge", "str"),
        )
        if part.reference is not None and part.reference not in part.arms:
            f.fail("reference", f"{part.reference!r} is not one of the arms {list(part.arms)}")
        f.done()
        return part

    def loads(
        self,
        tables: Any,
        arms: tuple[str, ...],
        target: TargetSettings,
        evaluation: EvalPart | None,
    ) -> tuple[LoadPart, ...]:
        if tables is None:
            return ()
        names = {"eval"} if evaluation else set()
        parts = []
        for index, table in enumerate(tables):
            name = table.get("name") if isinstance(table, dict) else None
            label = f"load.{name}" if isinstance(name, str) and name else f"load[{index}]"
            f = Fields(table, self.text, label, table_name="load", index=index)
            name = f.require("name", "str", check=_part_name)
            if name in names:
                f.fail("name", f"part name {name!r} is used twice")
            names.add(name)
            parts.append(self.load(f, name, arms, target))
            f.done()
        return tuple(parts)

    def load(self, f: Fields, name: str, arms: tuple[str, ...], target: TargetSettings) -> LoadPart:
        sweep_rates = f.get("sweep", "list[float]", check=non_empty)
        sweep_concurrency = f.get("sweep_concurrency", "list[int]", check=non_empty)
        try:
            stages = sweep_stages(sweep_rates, None, "sweep") + sweep_stages(
                None, sweep_concurrency, "sweep_concurrency"
            )
        except ConfigError as exc:
            f.fail(exc.field, exc.message)
        trace = f.get("trace", "str")
        values = {
            "profile": f.choice("profile", [p.value for p in Profile]),
            "rate": f.get("rate", "float"),
            "concurrency": f.get("concurrency", "int"),
            "requests": f.get("requests", "int"),
            "duration": f.get("duration", "float"),
            "burstiness": f.get("burstiness", "float"),
            "ramp_to": f.get("ramp_to", "float"),
            "warmup_requests": f.get("warmup_requests", "int"),
            "warmup_seconds": f.get("warmup_seconds", "float"),
            "max_concurrency": f.get("max_concurrency", "int"),
            "seed": self.top.table.get("seed", 0),
            "stages": stages or None,
            "trace": read_trace(self.file(f, "trace", trace), f.field("trace")) if trace else None,
        }
        key_of = {"stages": "sweep", "trace": "trace"}

        try:
            spec = build_spec(values, lambda spec_field: key_of.get(spec_field, spec_field))
        except ConfigError as exc:
            f.fail(exc.field, exc.message)
        dataset = f.get("dataset", "str")
        plan = f.choice("plan", PLANS)
        if plan is not None and target.base_url:
            f.fail("plan", "picks an emulator demo key; a real target's key has its own plan")
        retry_kind = f.choice("retry", POLICIES, "none")
        max_attempts = f.get("max_attempts", "int", 3, check=at_least(1))
        workers = f.get("workers", "int", 1, check=at_least(1))
        try:
            check_workers(workers, spec)
        except ValueError as exc:
            f.fail("workers", str(exc))
        return LoadPart(
            name=name,
            arms=self.arms_of(f, arms),
            spec=spec,
            stream=f.get("stream", "bool", True),
            dataset=self.file(f, "dataset", dataset) if dataset else None,
            items_per_dataset=f.get("items_per_dataset", "int", check=at_least(1)),
            input_tokens=self.length(f, "input_tokens", 128),
            output_tokens=self.length(f, "output_tokens", 64),
            tokenizer=f.choice("tokenizer", ENCODINGS, DEFAULT_ENCODING),
            turns=self.length(f, "turns", 1, maximum=MAX_TURNS),
            think_time=self.length(f, "think_time", 0.0, integer=False, floor=0),
            shared_prefix_tokens=f.get("shared_prefix_tokens", "int", 0, check=_prefix_check),
            prefix_groups=f.get("prefix_groups", "int", 1, check=at_least(1)),
            repeat=f.get("repeat", "int", 0, check=at_least(0)),
            retry=RetryPolicy(kind=retry_kind, max_attempts=max_attempts),
            plan=plan,
            workers=workers,
            executor=f.choice("executor", ("local", "ray"), "local"),
            pin_output=f.get("pin_output", "bool"),
        )

    def limits(self, table: Any, target: TargetSettings) -> LimitsPart | None:
        if table is None:
            return None
        f = Fields(table, self.text, "limits", table_name="limits")
        only = f.choice("only", ("requests", "tokens"))
        plan = f.choice("plan", PLANS)
        if plan is not None and target.base_url:
            f.fail("plan", "picks an emulator demo key; a real target's key has its own plan")
        part = LimitsPart(
            model=f.get("model", "str", "gpt-4o-mini"),
            plan_hint=f.choice("plan_hint", PLANS),
            dimensions=(only,) if only else ("requests", "tokens"),
            max_requests=f.get("max_requests", "int", 10_000, check=at_least(10)),
            max_tokens=f.get("max_tokens", "int", 10_000_000, check=at_least(1000)),
            max_duration=f.get("max_duration", "float", 600.0, check=at_least(1)),
            plan=plan,
        )
        f.done()
        return part

    def slos(self, table: Any) -> tuple[Slo, ...]:
        f = Fields(table, self.text, "slo", table_name="slo")
        slos = []
        for key in list(f.table):
            value = f.get(key, "float", check=at_least(0))
            slo = parse_slo(key, value)
            if slo is None:
                f.fail(
                    key,
                    "unknown SLO; use <ttft|tpot|itl|latency>_p<50|90|95|99>_<ms|s>, "
                    "error_rate, rate_limited_rate, accuracy or cost_per_1k_usd",
                )
            slos.append(slo)
        f.done()
        return tuple(slos)

    def regress(self, table: Any) -> dict[str, float]:
        f = Fields(table, self.text, "regress", table_name="regress")
        thresholds = {
            key: f.get(key, "float", default, check=at_least(0))
            for key, default in REGRESS_DEFAULTS.items()
        }
        if not 0 < thresholds["alpha"] < 1:
            f.fail("alpha", "must be between 0 and 1")
        f.done()
        return thresholds

    def output(self, table: Any) -> OutputSettings:
        f = Fields(table, self.text, "output", table_name="output")

        def formats(values: list[str]) -> str | None:
            bad = [v for v in values if v not in REPORT_FORMATS]
            return (
                f"unknown format {bad[0]!r} (known: {', '.join(REPORT_FORMATS)})" if bad else None
            )

        settings = OutputSettings(
            dir=f.get("dir", "str", "results"),
            report=tuple(f.get("report", "list[str]", list(REPORT_FORMATS), check=formats)),
            metrics_port=f.get("metrics_port", "int", check=_port),
            otel_out=f.get("otel_out", "str"),
            otel_endpoint=f.get("otel_endpoint", "str", check=_http_url),
        )
        f.done()
        return settings


def _port(value: int) -> str | None:
    return None if 0 <= value <= 65535 else "must be a port, 0 to 65535 (0: any free port)"


def _http_url(value: str) -> str | None:
    return None if value.startswith(("http://", "https://")) else "must be an http(s) URL"


def _part_name(value: str) -> str | None:
    ok = value and all(c.isalnum() or c in "-_" for c in value) and value != "report"
    return None if ok else "must be letters, digits, '-' or '_' (and not 'report')"


def _prefix_check(value: int) -> str | None:
    return "must be >= 0" if value < 0 else prefix_problem(value)
