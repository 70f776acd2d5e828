"""The catalog: the shipped file, overlays, validation messages and pricing."""

from __future__ import annotations

from pathlib import Path

import pytest

from auraon_bench.emulator.catalog import AUTO_MODES, load_catalog
from auraon_bench.errors import CatalogError


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
