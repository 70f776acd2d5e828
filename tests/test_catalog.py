"""The catalog: the shipped file, overlays, validation messages, pricing, and who imports what."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

import auraon_bench
from auraon_bench.catalog import AUTO_MODES, Price, PriceTable, PromptCachePolicy, load_catalog
from auraon_bench.errors import CatalogError
from auraon_bench.prices.table import genai_quote

PACKAGE = Path(auraon_bench.__file__).resolve().parent
# Subpackages that must stand without the emulator: the measuring client, the analysis, and the
# catalog both of them and the emulator share.
WITHOUT_EMULATOR = ("client", "analysis", "catalog")


def test_builtin_catalog_has_the_documented_models_plans_and_keys() -> None:
    catalog = load_catalog()
    for model in ("gpt-4o", "claude-opus-4", "claude-sonnet-4-6", "llama-3-3-70b", "deepseek-r1"):
        assert model in catalog.models
    assert set(AUTO_MODES) <= set(catalog.model_ids())
    assert catalog.plans["starter"].requests_per_min == 60
    assert catalog.plans["starter"].tokens_per_min == 100_000
    assert catalog.plans["pro"].requests_per_min == 1000
    assert catalog.plans["pro"].tokens_per_min == 2_000_000
    assert catalog.plans["enterprise"].requests_per_min is None
    assert catalog.plan_for_key("br-demo-pro").name == "pro"
    assert catalog.plan_for_key("ar-demo-starter").name == "starter"
    assert catalog.plan_for_key("br-nope") is None
    assert "price_source" in catalog.sources and "2026" in catalog.sources["price_source"]


def test_cost_is_usage_times_catalog_price() -> None:
    catalog = load_catalog()
    # gpt-4o: $2.50 in, $10.00 out per 1M tokens
    assert catalog.models["gpt-4o"].cost_usd(1000, 500) == pytest.approx(0.0025 + 0.005)
    # claude-opus-4: $15 in, $75 out
    assert catalog.models["claude-opus-4"].cost_usd(2_000_000, 0) == pytest.approx(30.0)


def test_cached_prompt_tokens_are_billed_at_the_cache_read_price() -> None:
    gpt = load_catalog().models["gpt-4o"]  # $2.50 in, $1.25 cached, $10 out
    assert gpt.cost_usd(2000, 100, cached_tokens=1024) == pytest.approx(
        (976 * 2.5 + 1024 * 1.25 + 100 * 10) / 1e6
    )
    assert gpt.cost_usd(2000, 100, cached_tokens=5000) == gpt.cost_usd(2000, 100, 2000)
    assert gpt.cost_usd(2000, 100, cached_tokens=-3) == gpt.cost_usd(2000, 100)


def test_prompt_cache_tokenizer_and_cache_price_defaults_and_overrides(tmp_path: Path) -> None:
    base = load_catalog()
    assert base.defaults.tokenizer == "o200k_base"
    assert base.defaults.prompt_cache == PromptCachePolicy(1024, 128, 300.0)
    assert all(m.prompt_cache == base.defaults.prompt_cache for m in base.models.values())
    assert all(m.tokenizer == "o200k_base" for m in base.models.values())
    overlay = tmp_path / "cache.toml"
    overlay.write_text(
        '[meta]\nextends = "builtin"\n[defaults.prompt_cache]\nttl_s = 600\n'
        '[models."gpt-4o"]\nprompt_cache = false\ntokenizer = "cl100k_base"\n'
        '[models."gpt-4o-mini".prompt_cache]\nmin_tokens = 2048\n'
    )
    changed = load_catalog(overlay)
    assert changed.models["gpt-4o"].prompt_cache is None
    assert changed.models["gpt-4o"].tokenizer == "cl100k_base"
    assert changed.models["gpt-4o-mini"].prompt_cache == PromptCachePolicy(2048, 128, 600.0)
    assert changed.models["claude-opus-4"].prompt_cache == PromptCachePolicy(1024, 128, 600.0)
    # A catalog of its own that gives no cache price: half the input price.
    own = tmp_path / "own.toml"
    own.write_text(
        "[models.m]\ninput_per_mtok = 3.0\noutput_per_mtok = 6.0\ncontext = 1000\nttft_s = 0.1\n"
        "output_tok_s = 10\nskill.default = [1, 1, 1]\n"
        "[routing.modes.auto]\n"
        + "".join(f'{tier} = ["m"]\n' for tier in ("SIMPLE", "MEDIUM", "COMPLEX", "REASONING"))
        + 'AGENTIC = ["m"]\n'
    )
    model = load_catalog(own).models["m"]
    assert model.cache_read_per_mtok == 1.5 and model.prompt_cache == PromptCachePolicy()


def test_cache_read_prices_match_genai_prices_or_the_documented_rule() -> None:
    """Each model genai-prices knows has its cache-read price; the others follow the rule in
    catalog.toml: the discount of the same provider's known models, else half the input."""
    catalog = load_catalog()
    known: dict[str, float] = {}
    # The catalog holds standard prices: read them at a fixed peak hour, since genai-prices
    # prices DeepSeek lower off-peak (16:30-00:30 UTC) and this test would change with the clock.
    peak = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    for model in catalog.models.values():
        quote = genai_quote(model.id, at=peak)
        if quote is not None and quote.price.cache_read_per_mtok is not None:
            known[model.id] = quote.price.cache_read_per_mtok
            assert model.cache_read_per_mtok == pytest.approx(known[model.id]), model.id
    assert {"gpt-4o", "gpt-4o-mini", "claude-opus-4", "gemini-2.5-flash"} <= set(known)
    for model in catalog.models.values():
        if model.id in known:
            continue
        ratios = {
            round(known[m.id] / m.input_per_mtok, 6)
            for m in catalog.models.values()
            if m.id in known and m.owned_by == model.owned_by
        }
        ratio = ratios.pop() if len(ratios) == 1 else 0.5
        assert model.cache_read_per_mtok == pytest.approx(model.input_per_mtok * ratio), model.id


def test_skill_falls_back_to_default_category() -> None:
    model = load_catalog().models["gpt-4o"]
    assert model.skill_for("math", "hard") == 0.55
    assert model.skill_for("never-seen", "easy") == model.skill["default"][0]


def test_overlay_changes_only_what_it_names(tmp_path: Path) -> None:
    overlay = tmp_path / "slow.toml"
    overlay.write_text(
        '[meta]\nextends = "builtin"\n[models."gpt-4o"]\nttft_s = 0.6\n'
        "[plans.starter]\nrequests_per_min = 30\n"
    )
    base, changed = load_catalog(), load_catalog(overlay)
    assert changed.models["gpt-4o"].ttft_s == 0.6
    assert changed.models["gpt-4o"].input_per_mtok == base.models["gpt-4o"].input_per_mtok
    assert changed.plans["starter"].requests_per_min == 30
    assert changed.models.keys() == base.models.keys()


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (
            '[meta]\nextends = "builtin"\n[models."gpt-4o"]\nttft_s = "fast"\n',
            "field 'models.gpt-4o.ttft_s': must be a number",
        ),
        (
            '[meta]\nextends = "builtin"\n[models."gpt-4o"]\nprice = 1\n',
            "field 'models.gpt-4o.price': unknown key",
        ),
        (
            '[meta]\nextends = "builtin"\n[keys]\n"br-x" = "gold"\n',
            "field 'keys.br-x': unknown plan",
        ),
        (
            '[meta]\nextends = "builtin"\n[routing.modes.auto]\nSIMPLE = ["gpt-5"]\n',
            "field 'routing.modes.auto.SIMPLE': unknown model 'gpt-5'",
        ),
        ('[meta]\nextends = "builtin"\n[faults]\nerror_rate = 2\n', "must be <= 1.0"),
        ('[meta]\nextends = "builtin"\n[faults]\nexplode = 0.1\n', "unknown fault"),
        ('[meta]\nextends = "other"\n', "field 'meta.extends'"),
        ("not toml [", "invalid TOML"),
        (
            '[meta]\nextends = "builtin"\n[defaults.prompt_cache]\nmin_tokens = 0\n',
            "field 'defaults.prompt_cache.min_tokens': must be >= 1, got 0",
        ),
        (
            '[meta]\nextends = "builtin"\n[defaults.prompt_cache]\nstep_tokens = 1.5\n',
            "field 'defaults.prompt_cache.step_tokens': must be an integer",
        ),
        (
            '[meta]\nextends = "builtin"\n[defaults.prompt_cache]\nttl_s = -1\n',
            "field 'defaults.prompt_cache.ttl_s': must be >= ",
        ),
        (
            '[meta]\nextends = "builtin"\n[defaults.prompt_cache]\nttl = 5\n',
            "field 'defaults.prompt_cache.ttl': unknown key",
        ),
        (
            '[meta]\nextends = "builtin"\n[defaults]\ntokenizer = "gpt2"\n',
            "field 'defaults.tokenizer': unknown tokenizer 'gpt2' (known: o200k_base,",
        ),
        (
            '[meta]\nextends = "builtin"\n[defaults]\nprefil_tok_s = 1\n',
            "field 'defaults.prefil_tok_s': unknown key",
        ),
        (
            '[meta]\nextends = "builtin"\n[models."gpt-4o"]\ntokenizer = "p50k"\n',
            "field 'models.gpt-4o.tokenizer': unknown tokenizer 'p50k'",
        ),
        (
            '[meta]\nextends = "builtin"\n[models."gpt-4o"]\ntokenizer = 5\n',
            "field 'models.gpt-4o.tokenizer': must be a string",
        ),
        (
            '[meta]\nextends = "builtin"\n[models."gpt-4o"]\nprompt_cache = "yes"\n',
            "field 'models.gpt-4o.prompt_cache': must be a table or false",
        ),
        (
            '[meta]\nextends = "builtin"\n[models."gpt-4o".prompt_cache]\nmin_tokens = 0\n',
            "field 'models.gpt-4o.prompt_cache.min_tokens': must be >= 1, got 0",
        ),
        (
            '[meta]\nextends = "builtin"\n[models."gpt-4o"]\ncache_read_per_mtok = 3\n',
            "field 'models.gpt-4o.cache_read_per_mtok': must be <= 2.5, got 3",
        ),
        (
            '[meta]\nextends = "builtin"\n[models."gpt-4o"]\ncache_read_per_mtok = -1\n',
            "field 'models.gpt-4o.cache_read_per_mtok': must be >= 0",
        ),
        (
            '[meta]\nextends = "builtin"\n[routing.modes.auto]\nsticky = true\n',
            "field 'routing.modes.auto.sticky': unknown key",
        ),
    ],
)
def test_bad_catalog_names_file_and_field(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(CatalogError) as info:
        load_catalog(path)
    assert str(path) in str(info.value)
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_catalog_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="file not found"):
        load_catalog(tmp_path / "absent.toml")


def test_the_clients_price_table_is_not_the_emulator_catalog() -> None:
    # The catalog prices the *simulated* gateway (which reports its cost itself); a real
    # target without cost reporting is priced from genai-prices, never the catalog by name.
    catalog = load_catalog()
    prices = PriceTable.builtin()
    assert prices.source.startswith("genai-prices ")
    assert "llama-3.1-8b" in catalog.models and prices.lookup("llama-3.1-8b") is None
    assert prices.cost("llama-3.1-8b", 1000, 500) is None
    assert prices.lookup("gpt-4o") == Price(2.5, 10.0, 1.25)
    assert prices.lookup("openai/gpt-4o") == prices.lookup("gpt-4o")
    assert prices.lookup("no-such-model") is None and prices.lookup(None) is None
    assert prices.cost("gpt-4o", None, 10) is None


def test_the_catalog_file_ships_with_the_catalog_package() -> None:
    assert (PACKAGE / "catalog" / "catalog.toml").is_file()
    assert not (PACKAGE / "emulator" / "catalog.toml").exists()
    assert load_catalog().name == "builtin"


def imported_names(source: str, package: str) -> Iterator[tuple[int, str]]:
    """(line, dotted name) of everything ``source`` imports, anywhere in it: ``import a.b``,
    ``from a import b`` (as ``a`` and ``a.b``), relative imports resolved against ``package``,
    and ``import_module("a.b")`` / ``__import__("a.b")`` with a literal name."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join([*parts, *([node.module] if node.module else [])])
            yield node.lineno, base
            for alias in node.names:
                yield node.lineno, f"{base}.{alias.name}"
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            first = node.args[0]
            if name in ("import_module", "__import__") and isinstance(first, ast.Constant):
                yield node.lineno, str(first.value)


def emulator_imports(path: Path) -> list[str]:
    package = ".".join(path.relative_to(PACKAGE.parent).parent.parts)
    return [
        f"{path.relative_to(PACKAGE.parent)}:{line}: {name}"
        for line, name in imported_names(path.read_text(encoding="utf-8"), package)
        if name == "auraon_bench.emulator" or name.startswith("auraon_bench.emulator.")
    ]


def test_the_import_scan_sees_every_form_of_import() -> None:
    source = (
        "import auraon_bench.emulator.server as s\n"
        "from auraon_bench import emulator\n"
        "def f():\n    from ..emulator.gateway import Gateway\n"
        "    from .. import emulator\n"
        "importlib.import_module('auraon_bench.emulator.launcher')\n"
        "from auraon_bench.catalog import load_catalog\n"
    )
    names = [name for _, name in imported_names(source, "auraon_bench.client")]
    assert "auraon_bench.emulator.server" in names
    assert names.count("auraon_bench.emulator") == 2
    assert "auraon_bench.emulator.gateway" in names
    assert "auraon_bench.emulator.launcher" in names
    assert "auraon_bench.catalog.load_catalog" in names


@pytest.mark.parametrize("subpackage", WITHOUT_EMULATOR)
def test_client_analysis_and_catalog_never_import_the_emulator(subpackage: str) -> None:
    files = sorted((PACKAGE / subpackage).rglob("*.py"))
    assert files
    assert [hit for path in files for hit in emulator_imports(path)] == []


@pytest.mark.slow
def test_client_analysis_and_catalog_load_no_emulator_module_indirectly() -> None:
    modules = [
        ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
        for sub in WITHOUT_EMULATOR
        for path in sorted((PACKAGE / sub).rglob("*.py"))
    ]
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n    importlib.import_module(name)\n"
        "print(*sorted(m for m in sys.modules if m.startswith('auraon_bench.emulator')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == []


def test_an_overlay_adds_modes_that_extend_others_in_any_order(tmp_path: Path) -> None:
    overlay = tmp_path / "modes.toml"
    overlay.write_text(
        '[meta]\nextends = "builtin"\n'
        '[routing.modes."auto:a"]\nextends = "auto:b"\naffinity = true\n'
        '[routing.modes."auto:b"]\nextends = "auto:cheap"\n'
    )
    catalog = load_catalog(overlay)
    assert catalog.routing.modes["auto:a"] == catalog.routing.modes["auto:cheap"]
    assert catalog.routing.affinity["auto:a"] and not catalog.routing.affinity["auto:b"]
    assert {"auto:a", "auto:b"} <= set(catalog.model_ids())
    for text, words in (
        ('[routing.modes."auto:x"]\nextends = "auto:y"\n[routing.modes."auto:y"]\n'
         'extends = "auto:x"\n', "cycle"),
        ('[routing.modes."auto:x"]\nextends = "auto:nope"\n', "unknown mode 'auto:nope'"),
        ('[routing.modes."fast lane"]\nextends = "auto"\n', "auto:<name>"),
    ):  # fmt: skip
        overlay.write_text('[meta]\nextends = "builtin"\n' + text)
        with pytest.raises(CatalogError, match=words):
            load_catalog(overlay)
