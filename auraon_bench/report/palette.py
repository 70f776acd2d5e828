"""One colour per arm *name*, the same in every chart, report and history; one style per run.

Colours come from two qualitative palettes designed for colour-blind readers: Okabe & Ito (2008)
without its black and yellow (black reads as the charts' own ink, yellow vanishes on white), then
Paul Tol's "muted" scheme (2021). :data:`COLOURS` lists the fifteen in that order.

How an arm gets its colour, a pure function of its name (:func:`arm_colour`):

1. A name the built-in catalog knows (a model, an ``auto`` routing mode) has a fixed colour in
   :data:`FIXED`, each a different one: ``gpt-4o`` is orange in every report there is.
2. ``provider/model`` (a LiteLLM-style name) takes the colour of ``model`` when that is known.
3. Any other name takes ``COLOURS[sha256(name) mod 15]``: stable across processes and machines
   (unlike Python's ``hash``), and independent of which other arms a report holds or their order.

The price of stability: two names outside the catalog can share a colour, or share one with a
catalog model. Every series is labelled with its arm's name, so such a pair is still told apart
by its legend entry and annotations; a colour never moves to make room.

Runs are told apart by line style and marker (:meth:`Palette.line_style`, :meth:`Palette.marker`),
so an arm keeps its colour when several runs are overlaid.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

_OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9")
_TOL_MUTED = (
    "#332288", "#117733", "#44AA99", "#88CCEE", "#DDCC77", "#CC6677", "#AA4499", "#882255",
    "#999933",
)  # fmt: skip
COLOURS: tuple[str, ...] = (*_OKABE_ITO, *_TOL_MUTED)

# Every model and routing mode of auraon_bench/catalog/catalog.toml (a test keeps this in step),
# the most often compared ones on the Okabe-Ito colours. A new catalog name needs an entry here;
# an existing entry must never change, or old reports and new ones disagree.
FIXED: dict[str, str] = {
    "auto": "#0072B2",
    "gpt-4o": "#E69F00",
    "gemini-2.5-flash": "#009E73",
    "gpt-4o-mini": "#D55E00",
    "claude-haiku": "#CC79A7",
    "auto:cheap": "#56B4E9",
    "auto:fast": "#332288",
    "gemini-2.5-pro": "#117733",
    "llama-3-3-70b": "#44AA99",
    "auto:quality": "#88CCEE",
    "deepseek-r1": "#DDCC77",
    "claude-sonnet-4-6": "#CC6677",
    "claude-opus-4": "#AA4499",
    "llama-3.1-8b": "#999933",
}

_LINE_STYLES = ("-", "--", ":", "-.")
_MARKERS = ("o", "s", "^", "D", "v", "P")


def arm_colour(name: str) -> str:
    """The colour of arm ``name`` (see the module docstring for the rule)."""
    if name in FIXED:
        return FIXED[name]
    model = name.rsplit("/", 1)[-1]
    if model in FIXED:
        return FIXED[model]
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    return COLOURS[int.from_bytes(digest[:8], "big") % len(COLOURS)]


class Palette:
    """Colours for arms (by name: :func:`arm_colour`), styles for runs.

    It also remembers the order in which arms were first met (:attr:`arms`), which charts use
    to list arms and routed-to models in the order of the report, never to pick a colour.
    """

    def __init__(self, arms: Iterable[str] = ()) -> None:
        self._arms: dict[str, str] = {}
        for arm in arms:
            self.colour(arm)

    @property
    def arms(self) -> tuple[str, ...]:
        return tuple(self._arms)

    def colour(self, arm: str) -> str:
        if arm not in self._arms:
            self._arms[arm] = arm_colour(str(arm))
        return self._arms[arm]

    @staticmethod
    def line_style(run_index: int) -> str:
        return _LINE_STYLES[run_index % len(_LINE_STYLES)]

    @staticmethod
    def marker(run_index: int) -> str:
        return _MARKERS[run_index % len(_MARKERS)]
