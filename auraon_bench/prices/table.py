"""What a model costs, for targets that report no cost, and for the money guard's estimate.

Prices come from the maintained ``genai-prices`` package (its bundled data: no network), with an
optional ``--prices FILE`` (see :mod:`auraon_bench.prices.file`) whose entries win over it. An
unknown model has no price: :meth:`PriceTable.quote` answers ``None`` and the caller records no
cost (``cost_source = "none"``), never a price borrowed from a similar name. The emulator's
catalog is not a price source here: it holds the *simulated* gateway's prices, which the
emulator reports itself (``blockrun.cost_usd``).

Lookups, in order, each tried only while nothing was found:

1. the file's entry for the exact name, then for the name without a provider prefix
   (``openai/fast-mock`` -> ``fast-mock``);
2. genai-prices with the name as given; a ``provider/model`` name goes through genai-prices'
   own LiteLLM-style split (provider ``litellm``), so ``anthropic/claude-sonnet-4`` is Anthropic's
   price, not a guess across providers.

Costs use the rates in force today. Flat prices are computed here (a few float operations: the
client prices every answer of a target without cost reporting); tiered prices (a higher rate past
a prompt size) and per-request fees go through ``genai_prices.calc_price`` with the actual usage.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

# genai-prices is imported on first use, not here: the catalog package re-exports this table,
# and the emulator, which imports the catalog, never prices anything (importing genai-prices
# takes about a quarter of a second).


@functools.cache
def genai_source() -> str:
    """``genai-prices <version>``: the price data's source, as every output names it."""
    import genai_prices

    return f"genai-prices {genai_prices.__version__}"


# Token prices this table applies. Anything else in a genai-prices entry (audio, images, web
# searches) is never in a chat completion's usage as recorded, except per-request fees, which
# send the entry through genai-prices' own calculation.
_TOKEN_KEYS = ("input_mtok", "output_mtok", "cache_read_mtok")
_FEE_KEYS = ("requests_kcount",)


@dataclass(frozen=True, slots=True)
class Price:
    """USD per 1M tokens. ``cache_read_per_mtok``: cached prompt tokens, when the target says
    how many there were (OpenAI's ``usage.prompt_tokens_details.cached_tokens``)."""

    input_per_mtok: float
    output_per_mtok: float
    cache_read_per_mtok: float | None = None

    def cost(self, prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0) -> float:
        cached = (
            min(max(cached_tokens, 0), prompt_tokens)
            if self.cache_read_per_mtok is not None  # a free cache read is a rate too
            else 0
        )
        return (
            (prompt_tokens - cached) * self.input_per_mtok
            + cached * (self.cache_read_per_mtok or 0.0)
            + completion_tokens * self.output_per_mtok
        ) / 1e6

    def describe(self) -> str:
        cache = (
            f", ${self.cache_read_per_mtok:g} cached"
            if self.cache_read_per_mtok is not None
            else ""
        )
        return f"${self.input_per_mtok:g} in / ${self.output_per_mtok:g} out{cache} per 1M tokens"


@dataclass(frozen=True, slots=True)
class Quote:
    """A model's price as found: ``priced_as`` names the entry used (genai-prices'
    ``provider/model`` id, or the file's model name) and ``source`` where it came from."""

    model: str
    priced_as: str
    source: str
    price: Price  # the base rates (the first tier when ``tiered``)
    tiered: bool = False  # rates depend on the request's size, or a per-request fee applies
    genai_ref: tuple[str, str | None] | None = None  # (model_ref, provider_id) for calc_price

    def cost(self, prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0) -> float:
        if not self.tiered or self.genai_ref is None:
            return self.price.cost(prompt_tokens, completion_tokens, cached_tokens)
        from genai_prices import Usage, calc_price

        ref, provider = self.genai_ref
        usage = Usage(
            input_tokens=prompt_tokens,
            output_tokens=completion_tokens,
            cache_read_tokens=min(max(cached_tokens, 0), prompt_tokens) or None,
        )
        return float(calc_price(usage, model_ref=ref, provider_id=provider).total_price)

    def describe(self) -> str:
        tiers = ", rising with prompt size" if self.tiered else ""
        return f"{self.priced_as}: {self.price.describe()}{tiers} ({self.source})"


def _rate(value: Any) -> tuple[float | None, bool]:
    """(base rate, tiered?) of one genai-prices price value."""
    if value is None:
        return None, False
    if isinstance(value, Decimal | int | float):
        return float(value), False
    base = getattr(value, "base", None)  # genai_prices.types.TieredPrices
    return (float(base), True) if base is not None else (None, False)


def genai_quote(model: str, at: datetime | None = None) -> Quote | None:
    """genai-prices' price of ``model`` now (or ``at``: some providers price by the hour, e.g.
    DeepSeek's off-peak discount), or None when it has none."""
    from genai_prices import Usage, calc_price

    name = model.strip()
    if not name:
        return None
    attempts: list[tuple[str, str | None]] = []
    if "/" in name:
        attempts.append((name, "litellm"))  # genai-prices splits "provider/model" itself
    attempts.append((name, None))
    now = at or datetime.now(tz=UTC)
    for ref, provider in attempts:
        try:
            found = calc_price(
                Usage(input_tokens=1, output_tokens=1),
                model_ref=ref,
                provider_id=provider,
                genai_request_timestamp=now,
            )
        except LookupError:
            continue
        prices = found.model_price
        (inp, tier_in), (out, tier_out), (cache, tier_cache) = (
            _rate(getattr(prices, key, None)) for key in _TOKEN_KEYS
        )
        if inp is None or out is None:
            return None  # not priced per token (an image or embedding model): no chat price
        fees = any(getattr(prices, key, None) for key in _FEE_KEYS)
        return Quote(
            model=model,
            priced_as=f"{found.provider.id}/{found.model.id}",
            source=genai_source(),
            price=Price(inp, out, cache),
            tiered=tier_in or tier_out or tier_cache or fees,
            genai_ref=(ref, provider),
        )
    return None


class PriceTable:
    """Prices by model name: the file's entries (``overrides``), then genai-prices.

    ``source`` says where prices come from, for the console, the manifest and the report."""

    def __init__(
        self,
        overrides: Mapping[str, Quote] | None = None,
        *,
        file: str | None = None,
        use_genai: bool = True,
    ) -> None:
        self.overrides = dict(overrides or {})
        self.file = file
        self.use_genai = use_genai
        self._cache: dict[str, Quote | None] = {}

    @classmethod
    def builtin(cls) -> PriceTable:
        """genai-prices alone (no file)."""
        return cls()

    @property
    def source(self) -> str:
        parts = [f"prices file {self.file}"] if self.file else []
        if self.use_genai:
            parts.append(genai_source())
        return ", then ".join(parts) or "no price source"

    def describe(self) -> dict[str, Any]:
        """For the manifest's cost section."""
        return {
            "source": self.source,
            "file": self.file,
            "file_models": sorted(self.overrides),
            "genai_prices": genai_source().split()[-1] if self.use_genai else None,
        }

    def quote(self, model: str | None) -> Quote | None:
        if not model:
            return None
        if model not in self._cache:
            self._cache[model] = self._find(model)
        return self._cache[model]

    def _find(self, model: str) -> Quote | None:
        entry = self._file_entry(model)
        if entry is not None:
            return entry
        return genai_quote(model) if self.use_genai else None

    def _file_entry(self, model: str) -> Quote | None:
        return self.overrides.get(model) or self.overrides.get(model.rsplit("/", 1)[-1])

    def quote_answer(self, names: Sequence[str | None]) -> Quote | None:
        """The price of one answer known by several names, most specific first (the billed
        deployment, the model that answered, the arm requested). The user's file may name any
        of them; genai-prices is asked for the most specific only, so a name without a price
        is never priced as another model that shares a shorter name."""
        given = [n for n in names if n]
        for name in given:
            entry = self._file_entry(name)
            if entry is not None:
                return entry
        return self.quote(given[0]) if given else None

    def lookup(self, model: str | None) -> Price | None:
        """The base rates of ``model`` (for callers that show or bound a price)."""
        found = self.quote(model)
        return found.price if found is not None else None

    def cost(
        self,
        model: str | None,
        prompt_tokens: int | None,
        completion_tokens: int | None,
        cached_tokens: int | None = None,
    ) -> float | None:
        """USD of one answer, or None when the model has no price or a count is unknown."""
        found = self.quote(model)
        if found is None or prompt_tokens is None or completion_tokens is None:
            return None
        return found.cost(prompt_tokens, completion_tokens, cached_tokens or 0)
