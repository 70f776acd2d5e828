"""The exit codes of auraon-bench's commands, and the rules that choose one from a run's outcome.

====  ==============  ==========================================================================
code  name            meaning
====  ==============  ==========================================================================
0     ``OK``          the command did what it was asked and nothing it measured failed
1     ``FAILED``      it ran, and the result is a failure: an SLO missed, a part or an arm whose
                      every attempt failed, or a run that ended ``failed`` (a load worker died)
2     ``USAGE``       it could not run as asked: a bad flag or file, an unreachable target or a
                      rejected key, an unwritable results directory (one ``Error:`` line)
130   ``INTERRUPTED`` stopped by Ctrl-C (SIGINT) or SIGTERM; what was measured is kept, printed
                      and written, marked ``interrupted`` (128 + SIGINT, the shell convention)
====  ==============  ==========================================================================

An interruption outranks a failure: a run cut short is first of all incomplete, whatever it
measured before. ``load``, ``eval`` and ``run`` all end this way on Ctrl-C or SIGTERM: sending
stops, requests in flight get a grace period and those still in flight are recorded as
``cancelled``; a second Ctrl-C ends the grace at once, and still exits 130 with the records
written and the manifest saying ``interrupted``. ``regress`` keeps its own documented codes (0 no
regression, 1 regression, 2 invalid input), which fit the same table.

Light on purpose (it imports nothing of auraon_bench: the analysis package loads pandas): the
root command imports it at start-up, and ``--help`` must stay fast. The rules read the typed
results the commands already hold (``ErrorSummary.all_failed``), never the records.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from auraon_bench.analysis.load_summary import ArmSummary, RunSummary

__all__ = [
    "FAILED",
    "INTERRUPTED",
    "OK",
    "USAGE",
    "failed_arms",
    "outcome_code",
    "run_summary_code",
]

OK = 0
FAILED = 1
USAGE = 2
INTERRUPTED = 130


def outcome_code(*, interrupted: bool, failed: bool) -> int:
    """The code of a command that ran to its end: interrupted first, then failed, else OK."""
    if interrupted:
        return INTERRUPTED
    return FAILED if failed else OK


def failed_arms(arms: Iterable[ArmSummary]) -> list[str]:
    """Names of the arms whose every measured attempt failed, in the summary's order."""
    return [str(a.arm) for a in arms if a.errors.all_failed]


def run_summary_code(status: str, summary: RunSummary) -> int:
    """``load`` and ``eval``: 130 when the run was interrupted; 1 when it ended ``failed`` or an
    arm (or the whole run, when its rows carry no arm) failed on every attempt; else 0."""
    failed = (
        status == "failed" or bool(failed_arms(summary.arms)) or summary.overall.errors.all_failed
    )
    return outcome_code(interrupted=status == "interrupted", failed=failed)
