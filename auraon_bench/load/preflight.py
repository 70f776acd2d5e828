"""Before any load: are the arms served, and what may the run cost?

**Arms against the model list.** :func:`check_arms` compares the arms with the target's
``GET /models`` (:class:`~auraon_bench.client.listing.ModelListing`), purely:

* every arm listed: nothing to say;
* an arm not listed: an error naming the arm and what *is* listed (closest names first), unless
  the user allowed unlisted models (``--allow-unlisted-models``, ``allow_unlisted_models = true``
  in an experiment's ``[target]``) for a gateway whose list is incomplete: then a warning;
* no usable list (a 404, a body that is not a model list): a warning that the check could not be
  done; the arms go out unchecked;
* Auraon's ``auto``: checked like any other arm (the emulator lists ``auto`` and its three modes).
  One exception: Auraon's public API (:data:`~auraon_bench.load.target.AURAON_BASE_URL`),
  whose API reference documents ``"auto"`` as a model id without saying that ``/models`` lists
  it: there a missing ``auto`` is a warning, not an error. ``auto:MODE`` and every other arm
  must be listed everywhere.

**The estimate.** :func:`load_demand` turns a load's options and prompts into the demand rows of
:func:`auraon_bench.prices.estimate.estimate_cost`, from the seeded schedule itself: exactly the
(arm, prompt) pairs that will be sent, warm-up included (it is billed).
"""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from auraon_bench.client.listing import ModelListing
from auraon_bench.data.prompts import MESSAGE_OVERHEAD, Prompt
from auraon_bench.data.replay import RECORDED_ARM
from auraon_bench.data.tokenizers import REPLY_PRIMER
from auraon_bench.errors import ConfigError
from auraon_bench.load.target import AURAON_BASE_URL
from auraon_bench.load.worker import schedules_for
from auraon_bench.prices.estimate import (
    UNBOUNDED_OUTPUT_TOKENS,
    CostEstimate,
    Demand,
    TokenCounter,
    counter_for,
    estimate_cost,
    unknown_estimate,
)
from auraon_bench.prices.file import load_price_file
from auraon_bench.prices.table import PriceTable

if TYPE_CHECKING:
    from auraon_bench.load.session import LoadOptions

ALLOW_FLAG = "--allow-unlisted-models"
UNCHECKED = "could not check the arms against the target's model list"
SHOWN_MODELS = 20  # listed names an error shows; a gateway may list hundreds


@dataclass(frozen=True)
class ArmCheck:
    """The outcome of :func:`check_arms`: ``unlisted`` arms (refused unless allowed) and the
    warnings for the console and the manifest."""

    unlisted: tuple[str, ...]
    warnings: tuple[str, ...]
    refused: bool

    def error(self, listing: ModelListing, hint: str = f"pass {ALLOW_FLAG}") -> str:
        """One line: which arms, what the target lists instead, and how to go on anyway."""
        listed = listing.ids or ()
        arms = ", ".join(repr(a) for a in self.unlisted)
        close = [
            m for a in self.unlisted for m in difflib.get_close_matches(a, listed, n=3, cutoff=0.5)
        ]
        shown = list(dict.fromkeys([*close, *listed]))[:SHOWN_MODELS]
        more = f" and {len(listed) - len(shown)} more" if len(listed) > len(shown) else ""
        what = f"{len(listed)} models: {', '.join(shown)}{more}" if listed else "no models"
        noun = "arm" if len(self.unlisted) == 1 else "arms"
        return (
            f"{noun} {arms} not served by the target: {listing.url} lists {what} "
            f"({hint} if that list is incomplete)"
        )


def check_arms(
    listing: ModelListing,
    arms: Iterable[str],
    allow_unlisted: bool,
    *,
    base_url: str | None = None,
) -> ArmCheck:
    """Compare ``arms`` with ``listing`` (pure). ``base_url``: the target, for Auraon's ``auto``."""
    arms = list(dict.fromkeys(arms))
    if listing.ids is None:
        return ArmCheck(
            (),
            (f"{UNCHECKED}: {listing.problem}; sent unchecked: {', '.join(arms)}",),
            False,
        )
    listed = set(listing.ids)
    unlisted = [a for a in arms if a not in listed]
    warnings: list[str] = []
    if "auto" in unlisted and _is_auraon(base_url or listing.url):
        unlisted.remove("auto")
        warnings.append(
            f"'auto' is not in the target's model list ({listing.url}); sent anyway: Auraon's "
            "API reference documents it as the smart-routing model id"
        )
    if not unlisted:
        return ArmCheck((), tuple(warnings), False)
    names = ", ".join(unlisted)
    if allow_unlisted:
        warnings.append(
            f"not in the target's model list ({listing.url}), sent anyway ({ALLOW_FLAG}): {names}"
        )
        return ArmCheck(tuple(unlisted), tuple(warnings), False)
    if not listing.complete:
        warnings.append(
            f"not in the part of the target's model list that could be read "
            f"({listing.problem}), sent anyway: {names}"
        )
        return ArmCheck(tuple(unlisted), tuple(warnings), False)
    return ArmCheck(tuple(unlisted), tuple(warnings), True)


def require_listed(
    listing: ModelListing,
    arms: Iterable[str],
    allow_unlisted: bool,
    *,
    base_url: str | None = None,
    field: str = "--model",
    hint: str = f"pass {ALLOW_FLAG}",
    source: str | None = None,
    line: int | None = None,
) -> tuple[str, ...]:
    """:func:`check_arms`, raising the refusal as a one-line ``ConfigError``; the warnings."""
    check = check_arms(listing, arms, allow_unlisted, base_url=base_url)
    if check.refused:
        raise ConfigError(check.error(listing, hint), source=source, line=line, field=field)
    return check.warnings


def _is_auraon(url: str) -> bool:
    return url.rstrip("/").startswith(AURAON_BASE_URL)


# --- the estimate of one load -------------------------------------------------------------
def token_counts(prompts: Sequence[Prompt], counter: TokenCounter) -> list[int]:
    return [counter.count(p.messages, p.extra.get("tools")) for p in prompts]


def _demand(arm: str, prompt: Prompt, tokens: int, cap: int | None, n: int) -> Demand:
    """A demand row; a replayed body of the ``recorded`` arm is priced as its own model, one
    row per model (``recorded (gpt-4o)``)."""
    if arm == RECORDED_ARM and prompt.body is not None:
        model = str(prompt.body.get("model"))
        return Demand(f"{arm} ({model})", tokens, cap, n, model)
    return Demand(arm, tokens, cap, n)


def turn_sizes(prompt: Prompt, counter: TokenCounter) -> list[tuple[int, int | None]]:
    """(prompt tokens, max_tokens) of each turn of a conversation, the history assumed to hold
    answers as long as their caps allow (an upper bound, as the money guard wants)."""
    size = counter.count(prompt.messages, prompt.extra.get("tools"))
    sizes = [(size, prompt.cap(1))]
    for turn, follow_up in enumerate(prompt.follow_ups, start=2):
        cap = prompt.cap(turn - 1)
        answer = MESSAGE_OVERHEAD + (UNBOUNDED_OUTPUT_TOKENS if cap is None else cap)
        message = counter.count([{"role": "user", "content": follow_up.text}], None)
        size += answer + message - REPLY_PRIMER
        sizes.append((size, prompt.cap(turn)))
    return sizes


def planned_pairs(options: LoadOptions, n_prompts: int) -> Counter[tuple[str, int]] | None:
    """How many requests each (arm, prompt index) gets; None when the count is open-ended
    (a closed loop bounded by duration alone)."""
    pairs: Counter[tuple[str, int]] = Counter()
    for schedule in schedules_for(options, n_prompts):
        if schedule.arm_index is None or schedule.prompt_index is None:
            return None
        keys = schedule.arm_index.astype(np.int64) * n_prompts + schedule.prompt_index
        values, counts = np.unique(keys, return_counts=True)
        for key, count in zip(values.tolist(), counts.tolist(), strict=True):
            pairs[(schedule.arms[key // n_prompts], key % n_prompts)] += count
    return pairs


def load_demand(
    options: LoadOptions, prompts: Sequence[Prompt], counter: TokenCounter
) -> list[Demand] | None:
    """The load's demand rows, or None when its request count is not known up front."""
    pairs = planned_pairs(options, len(prompts))
    if pairs is None:
        return None
    if not any(p.follow_ups for p in prompts):
        counts = token_counts(prompts, counter)
        return [
            _demand(arm, prompts[index], counts[index], prompts[index].max_tokens, n)
            for (arm, index), n in sorted(pairs.items())
        ]
    sizes = [turn_sizes(p, counter) for p in prompts]
    return [
        Demand(arm, tokens, cap, n)
        for (arm, index), n in sorted(pairs.items())
        for tokens, cap in sizes[index]
    ]


def estimate_load(
    options: LoadOptions,
    prompts: Sequence[Prompt],
    prices: PriceTable,
    listing: ModelListing | None,
    *,
    emulator: bool,
    extra: Callable[[TokenCounter], Sequence[Demand]] | None = None,
) -> CostEstimate:
    """The money guard's estimate of one load (``extra``: further requests, e.g. a judge's)."""
    counter = counter_for(emulator or bool(listing and listing.emulator))
    demand = load_demand(options, prompts, counter)
    if demand is None:
        return unknown_estimate(
            "cost cannot be estimated: the request count is open-ended (a closed loop bounded "
            "only by --duration); give --requests, or rely on --max-cost"
        )
    if extra is not None:
        demand += extra(counter)
    listed = listing.ids if listing is not None else None
    return estimate_cost(demand, prices, counter=counter, listed=listed)


@dataclass(frozen=True)
class ExtraRequests:
    """Requests a job sends besides its load (an evaluation's judge): their models are checked
    against the target's list (``field`` names the flag) and their demand is in the estimate."""

    models: tuple[str, ...]
    field: str
    demand: Callable[[TokenCounter], Sequence[Demand]]


def price_table(prices_file: str | None) -> PriceTable:
    """genai-prices, under the ``--prices`` file when one is given (a bad file fails here)."""
    if prices_file is None:
        return PriceTable.builtin()
    return load_price_file(prices_file)


def confirm_text(max_cost_usd: float | None, base_url: str, estimate: CostEstimate) -> str:
    """The money guard's question: the figure, the limit, and what the figure rests on."""
    limit = f"; stops at ${max_cost_usd:g}" if max_cost_usd else ""
    basis = "".join(f"\n  {line}" for line in estimate.basis_lines())
    return f"{estimate.headline()} against {base_url}{limit}{basis}"


def cost_section(
    max_cost_usd: float | None, estimate: CostEstimate, prices: PriceTable
) -> dict[str, Any]:
    """The manifest's ``cost`` section as the run starts (the end adds what was spent)."""
    return {
        "estimated_usd": estimate.total_usd,
        "estimate": estimate.to_dict(),
        "price_table": prices.describe(),
        "max_cost_usd": max_cost_usd,
    }
