"""Prices for targets that report no cost: genai-prices, under a ``--prices`` file.

Expected figures are the providers' published prices (USD per 1M tokens) as genai-prices 0.2
carries them: gpt-4o-mini $0.15 / $0.60 ($0.075 cached), gpt-4o $2.50 / $10, Claude Sonnet 4
$3 / $15, Gemini 2.5 Pro $1.25 / $10 up to 200K prompt tokens and $2.50 / $15 beyond.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from genai_prices import Usage, calc_price

from auraon_bench.catalog import PriceTable as CatalogPriceTable
from auraon_bench.errors import ConfigError
from auraon_bench.prices.file import load_price_file
from auraon_bench.prices.table import Price, PriceTable, genai_quote, genai_source


def test_genai_prices_by_plain_and_provider_prefixed_names() -> None:
    table = PriceTable.builtin()
    assert table.source == genai_source() and genai_source().startswith("genai-prices 0.")
    assert table.lookup("gpt-4o-mini") == Price(0.15, 0.6, 0.075)
    # A LiteLLM / OpenRouter style name is the provider's own price, not a guess.
    assert table.lookup("openai/gpt-4o-mini") == Price(0.15, 0.6, 0.075)
    sonnet = table.quote("anthropic/claude-sonnet-4")
    assert sonnet is not None and sonnet.priced_as.startswith("anthropic/claude-sonnet-4")
    assert sonnet.price.input_per_mtok == 3.0 and sonnet.price.output_per_mtok == 15.0


@pytest.mark.parametrize(
    "name", ["fast-mock", "auto", "auto:cheap", "llama-3.1-8b", "house-model", "", None]
)
def test_an_unknown_model_has_no_price_and_no_cost(name: str | None) -> None:
    table = PriceTable.builtin()
    assert table.quote(name) is None and table.lookup(name) is None
    assert table.cost(name, 1000, 100) is None


def test_flat_costs_match_genai_prices_own_calculation() -> None:
    table = PriceTable.builtin()
    for model, prompt, completion in [("gpt-4o-mini", 86, 7), ("gpt-4o", 12_345, 678)]:
        expected = float(
            calc_price(
                Usage(input_tokens=prompt, output_tokens=completion), model_ref=model
            ).total_price
        )
        assert table.cost(model, prompt, completion) == pytest.approx(expected, rel=1e-12)
    assert table.cost("gpt-4o", 1000, 100) == pytest.approx((1000 * 2.5 + 100 * 10) / 1e6)


def test_cached_prompt_tokens_are_billed_at_the_cache_rate() -> None:
    table = PriceTable.builtin()
    # 1,000 prompt tokens of which 600 cached: 400 x 0.15 + 600 x 0.075 + 100 x 0.6 per 1M.
    assert table.cost("gpt-4o-mini", 1000, 100, 600) == pytest.approx(
        (400 * 0.15 + 600 * 0.075 + 100 * 0.6) / 1e6
    )
    # More cached tokens than prompt tokens (a confused target) cannot make a negative cost.
    assert table.cost("gpt-4o-mini", 100, 0, 10_000) == pytest.approx(100 * 0.075 / 1e6)


def test_tiered_prices_apply_the_tier_of_the_request() -> None:
    quote = genai_quote("gemini-2.5-pro")
    assert quote is not None and quote.tiered
    assert quote.cost(1000, 1000) == pytest.approx((1000 * 1.25 + 1000 * 10) / 1e6)
    assert quote.cost(300_000, 1000) == pytest.approx((300_000 * 2.5 + 1000 * 15) / 1e6)


def test_the_catalog_module_keeps_the_names_but_not_the_emulator_prices() -> None:
    assert CatalogPriceTable is PriceTable
    # claude-haiku is priced in the emulator's catalog; genai-prices has no such model.
    assert PriceTable.builtin().lookup("claude-haiku") is None


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "prices.toml"
    path.write_text(text)
    return path


def test_a_prices_file_prices_what_genai_prices_does_not_know(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """# our prices, USD per 1M tokens
[models."fast-mock"]
input = 0.15
output = 0.60

[models.house]
same_as = "openai/gpt-4o-mini"

[models."gpt-4o"]
input = 1
output = 2
cache_read = 0.5
""",
    )
    table = load_price_file(path)
    assert table.cost("fast-mock", 1000, 100) == pytest.approx((1000 * 0.15 + 100 * 0.6) / 1e6)
    assert table.cost("openai/fast-mock", 1000, 100) == table.cost("fast-mock", 1000, 100)
    assert table.lookup("house") == Price(0.15, 0.6, 0.075)
    # The file wins over genai-prices; genai-prices still prices everything else.
    assert table.lookup("gpt-4o") == Price(1.0, 2.0, 0.5)
    assert table.lookup("claude-sonnet-4-6") == PriceTable.builtin().lookup("claude-sonnet-4-6")
    assert table.lookup("unpriced-mock") is None
    assert str(path) in table.source and table.source.endswith(genai_source())
    assert "sha256" in table.source and table.describe()["file_models"] == [
        "fast-mock",
        "gpt-4o",
        "house",
    ]


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('[models."a"]\ninput = 0.1\noutptu = 0.2\n', ":3, field 'models.a.outptu'"),
        ('[models."a"]\ninput = -1\noutput = 0.2\n', ":2, field 'models.a.input'"),
        ('[models."a"]\ninput = "cheap"\noutput = 0.2\n', ":2, field 'models.a.input'"),
        ('[models."a"]\ninput = true\noutput = 0.2\n', ":2, field 'models.a.input'"),
        ('[models."a"]\ninput = 0.1\n', ":1, field 'models.a'"),
        ('[models."a"]\nsame_as = "no-such-model-anywhere"\n', ":2, field 'models.a.same_as'"),
        ('[models."a"]\nsame_as = "gpt-4o"\ninput = 1\n', ":2, field 'models.a.same_as'"),
        ('[models]\n"a" = { input = 1, output = -2 }\n', ":2, field 'models.a.output'"),
        ("# nothing\n[models]\n", ":2, field 'models'"),
        ("model = 1\n", ":1, field 'model'"),
        ('[models."a"\n', "not valid TOML"),
    ],
)
def test_a_bad_prices_file_is_one_line_naming_file_line_and_field(
    tmp_path: Path, text: str, where: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_price_file(path)
    message = str(info.value)
    assert message.startswith(str(path)) and where in message
    assert "\n" not in message


def test_a_missing_prices_file_names_the_flag(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="field '--prices': no such prices file"):
        load_price_file(tmp_path / "absent.toml")


def test_a_free_cache_read_is_a_rate_not_no_rate(tmp_path: Path) -> None:
    path = write(tmp_path, '[models."m"]\ninput = 1.0\noutput = 2.0\ncache_read = 0\n')
    # 1,000 prompt tokens of which 600 cached for free: only 400 are billed.
    assert load_price_file(path).cost("m", 1000, 0, 600) == pytest.approx(400 * 1.0 / 1e6)
