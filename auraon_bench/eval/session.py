"""One evaluation from options to a graded run directory: the library side of ``eval``.

Every arm gets every prompt (paired design) in one seeded order through the same client, runner,
records and embedded default as ``load``; then the answers are graded, the grades written into
the records, and the quality, cost and routing analysis written to ``evaluation.json``.

Interruptions (Ctrl-C, SIGTERM) are the load's (:mod:`auraon_bench.load.session`): requests in
flight get the grace period, those still in flight are recorded as ``cancelled``, and the run is
``interrupted``. The answers that arrived are still graded; the judge, which would send more
requests, is not started after an interruption, and a signal while it runs cuts it short (its
grades are then missing, the others kept). A cancelled attempt has no answer: its grade columns
say ``grade_failure = "cancelled"`` and it is left out of the quality analysis, where it would
otherwise count as a wrong answer of the arm that was slowest to finish.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import anyio
import pandas as pd

from auraon_bench.client.http import MeasuringClient, Timeouts
from auraon_bench.client.listing import ModelListing
from auraon_bench.data.dataset import PromptItem, load_items
from auraon_bench.data.graders import judge_prompt
from auraon_bench.eval import DEFAULT_ARMS
from auraon_bench.eval.grading import GRADE_COLUMNS, grade_records, write_grades
from auraon_bench.eval.judge import JUDGE_MAX_TOKENS, judge_answers
from auraon_bench.eval.report import EvalReport, JudgeSummary, build_report
from auraon_bench.load.arrivals import ScheduleSpec
from auraon_bench.load.preflight import ExtraRequests
from auraon_bench.load.runner import GRACE_S, LoadRunner
from auraon_bench.load.session import LoadOptions, LoadResult, run_load, write_json
from auraon_bench.load.target import Target
from auraon_bench.prices.estimate import UNBOUNDED_OUTPUT_TOKENS, Demand, TokenCounter
from auraon_bench.results.reader import read_records

EVALUATION_FILE = "evaluation.json"


@dataclass(frozen=True)
class EvalOptions:
    datasets: tuple[str, ...]
    items_per_dataset: int | None = None  # a seeded sample of N items of each dataset file
    arms: tuple[str, ...] = DEFAULT_ARMS
    repeat: int = 1
    concurrency: int = 8
    max_tokens: int | None = 1024
    reference: str | None = None
    seed: int = 0
    out: Path | None = None
    base_url: str | None = None
    api_key: str | None = None
    plan: str = "enterprise"
    time_scale: float = 1.0
    catalog: str | None = None  # embedded emulator only: a catalog overlay (e.g. a fitted twin)
    timeouts: Timeouts = field(default_factory=Timeouts)
    max_cost_usd: float | None = None
    grace_s: float = GRACE_S  # after Ctrl-C, how long answers in flight may finish
    judge: str | None = None  # model that rates judge-graded answers (through the same target)
    command: Sequence[str] = ()
    prices_file: str | None = None  # --prices FILE (see auraon_bench.prices.file)
    allow_unlisted_models: bool = False
    listing: ModelListing | None = None  # the target's model list, when already read


@dataclass
class EvalResult:
    load: LoadResult
    report: EvalReport
    judge: JudgeSummary | None = None


def run_eval(
    options: EvalOptions,
    *,
    confirm: Callable[[str], bool] = lambda _: True,
    on_start: Callable[..., None] | None = None,
    on_tick: Callable[..., None] | None = None,
    target: Target | None = None,
) -> EvalResult:
    # A bad file fails here, before anything starts; the same seeded sample as the load's
    # prompts (load_prompts samples with the schedule's seed), so every answer has its item.
    items = load_items(options.datasets, options.items_per_dataset, options.seed)
    load_options = eval_load_options(options, len(items))
    by_id = {item.id: item for item in items}
    runners: list[LoadRunner] = []
    graded: list[tuple[pd.DataFrame, pd.DataFrame]] = []  # kept if the hook is cut short

    def started(runner: LoadRunner, target: Target, run_dir: Path) -> None:
        runners.append(runner)
        if on_start is not None:
            on_start(runner, target, run_dir)

    async def grade_while_the_target_is_up(client: MeasuringClient, run_dir: Path) -> Any:
        records = read_records(run_dir)
        # Code answers run in subprocesses: grade in a worker thread, the loop stays free.
        grades = await anyio.to_thread.run_sync(grade_answers, records, by_id)
        graded.append((records, grades))
        judge = None
        if options.judge and not any(r.interrupted for r in runners):  # no new sends
            judge = await judge_answers(client, run_dir, records, grades, by_id, options.judge)
        write_grades(run_dir, grades)
        return records.assign(**{name: grades[name] for name in grades.columns}), judge

    loaded = run_load(
        load_options,
        confirm=confirm,
        on_start=started,
        on_tick=on_tick,
        after=grade_while_the_target_is_up,
        target=target,
        extra=judge_requests(options, items),
    )
    if loaded.after is None:  # an interruption cut the grading or the judge short
        records, grades = graded[0] if graded else _graded_now(loaded.run_dir, by_id)
        write_grades(loaded.run_dir, grades)
        loaded.after = records.assign(**{n: grades[n] for n in grades.columns}), None
    graded_records, judge = loaded.after
    answered = graded_records.loc[graded_records["status"].astype(object) != "cancelled"]
    report = build_report(answered, options.arms, reference=options.reference, seed=options.seed)
    report = replace(
        report,
        simulated=loaded.target.simulated,
        status=loaded.status,
        warnings=tuple(loaded.warnings),
        judge=judge,
    )
    write_json(loaded.run_dir / EVALUATION_FILE, report.to_dict())
    return EvalResult(loaded, report, judge)


def grade_answers(records: pd.DataFrame, items: dict[str, PromptItem]) -> pd.DataFrame:
    """The grades of every record; a cancelled attempt (cut in flight by an interruption) has
    no answer, so no grade: not a wrong answer, only a missing one."""
    grades = grade_records(records, items)
    cancelled = (records["status"].astype(object) == "cancelled").to_numpy(dtype=bool)
    if cancelled.any():
        grades = grades.astype(object)
        grades.loc[cancelled, list(GRADE_COLUMNS)] = None
        grades.loc[cancelled, "grade_failure"] = "cancelled"
    return grades


def _graded_now(run_dir: Path, items: dict[str, PromptItem]) -> tuple[pd.DataFrame, pd.DataFrame]:
    records = read_records(run_dir)
    return records, grade_answers(records, items)


def eval_load_options(options: EvalOptions, n_items: int) -> LoadOptions:
    """The load an evaluation sends: every arm on every item, ``repeat`` times (also what the
    experiment runner estimates)."""
    pairs = n_items * len(options.arms) * options.repeat
    return LoadOptions(
        arms=options.arms,
        spec=ScheduleSpec(
            profile="concurrent", concurrency=options.concurrency, requests=pairs, seed=options.seed
        ),
        stream=True,
        datasets=options.datasets,
        items_per_dataset=options.items_per_dataset,
        output_tokens=options.max_tokens,
        keep_text=True,
        repeat=options.repeat,
        timeouts=options.timeouts,
        max_cost_usd=options.max_cost_usd,
        grace_s=options.grace_s,
        out=options.out,
        base_url=options.base_url,
        api_key=options.api_key,
        plan=options.plan,
        time_scale=options.time_scale,
        catalog=options.catalog,
        command=options.command,
        prices_file=options.prices_file,
        allow_unlisted_models=options.allow_unlisted_models,
        listing=options.listing,
    )


def judge_requests(options: EvalOptions, items: Sequence[PromptItem]) -> ExtraRequests | None:
    """The judge's requests, for the preflight: its model must be served, and its cost is in
    the estimate. At most one per answer to a judge-graded item, each holding the question and
    an answer as long as ``max_tokens`` allows."""
    judge = options.judge
    if judge is None:
        return None
    judged = [item for item in items if item.grader == "judge"]
    answers = len(options.arms) * options.repeat
    answer_tokens = options.max_tokens or UNBOUNDED_OUTPUT_TOKENS

    def demand(counter: TokenCounter) -> list[Demand]:
        return [
            Demand(
                arm=f"judge:{judge}",
                prompt_tokens=counter.count(judge_prompt(item, ""), None) + answer_tokens,
                output_tokens=JUDGE_MAX_TOKENS,
                requests=answers,
                model=judge,
            )
            for item in judged
        ]

    return ExtraRequests(models=(judge,), field="--judge", demand=demand)
