"""One colour per arm and one line style per run, the same in every chart of a report.

Arms are coloured in the order they are first met across the runs of a report, from a
colour-blind-safe qualitative palette (Okabe & Ito, 2008); runs are told apart by line style and
marker, so an arm keeps its colour when several runs are overlaid.
"""

from __future__ import annotations

from collections.abc import Iterable

# Okabe-Ito, then the darker half of matplotlib's tab20 for reports with many arms.
_COLOURS = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#D55E00",
    "#CC79A7",
    "#56B4E9",
    "#F0E442",
    "#000000",
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
_LINE_STYLES = ("-", "--", ":", "-.")
_MARKERS = ("o", "s", "^", "D", "v", "P")


class Palette:
    """Colours for arms, styles for runs; unknown arms get the next free colour."""

    def __init__(self, arms: Iterable[str] = ()) -> None:
        self._arms: dict[str, str] = {}
        for arm in arms:
            self.colour(arm)

    @property
    def arms(self) -> tuple[str, ...]:
        return tuple(self._arms)

    def colour(self, arm: str) -> str:
        if arm not in self._arms:
            self._arms[arm] = _COLOURS[len(self._arms) % len(_COLOURS)]
        return self._arms[arm]

    @staticmethod
    def line_style(run_index: int) -> str:
        return _LINE_STYLES[run_index % len(_LINE_STYLES)]

    @staticmethod
    def marker(run_index: int) -> str:
        return _MARKERS[run_index % len(_MARKERS)]
