"""The catalog: the shipped file, overlays, validation messages, pricing, and who imports what."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import auraon_bench
from auraon_bench.catalog import AUTO_MODES, Price, PriceTable, load_catalog
from auraon_bench.errors import CatalogError

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
