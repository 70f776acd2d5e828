"""The answer first: three to five sentences computed from a run's summary objects.

A report and the console end of ``auraon-bench run`` open with them, so a reader who stops
after the first paragraph still leaves with what the figures say and not more than they
say. Every sentence is built from a figure a table of the same report holds (a part's
:class:`~auraon_bench.analysis.load_summary.RunSummary`, an
:class:`~auraon_bench.eval.report.EvalReport`, the experiment's SLO verdicts, a part's plan
fit), never from prose that could contradict them. In order, as far as the run has them:

1. what happened: failed parts and arms, else how many attempts failed;
2. the SLO verdicts (experiments);
3. quality: the most accurate arm of each evaluation and the cheapest arm whose accuracy lies
   within the best arm's 95% interval ("equal quality" at the report's sample size); for a run
   without an evaluation, the load arms' tail latency and cost instead;
4. auto against the reference fixed model: the paired accuracy difference with its interval
   and clustered McNemar p (Holm-adjusted across the fixed arms), and the cost ratio;
5. prompt caching and conversations, when a part has them (its arms'
   :class:`~auraon_bench.analysis.conversations.CacheSummary` and
   :class:`~auraon_bench.analysis.conversations.ConversationSummary`): the share of prompt
   tokens served from cache and what it saved, and how often conversations switched models
   with the cache discount that cost;
6. the plan: the cheapest documented plan with 30% headroom over the busiest part's peak
   minute, with the caveat when the run is too short to extrapolate.

Pure: reads a :class:`~auraon_bench.results.run.Run`, returns strings; nothing is drawn or
written here.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from auraon_bench.analysis.load_summary import ArmSummary
from auraon_bench.analysis.plan_fit import MIN_MEASURED_REQUESTS, MIN_MEASURED_S
from auraon_bench.eval.report import EvalReport, is_auto
from auraon_bench.report.conversations import has_figures
from auraon_bench.results.run import Part, Run

MAX_SENTENCES = 5
PLAN_HEADROOM = 0.3  # the headroom `plan` recommends with (30% below both limits)
SIGNIFICANCE = 0.05


def headline(run: Run) -> tuple[str, ...]:
    """Up to :data:`MAX_SENTENCES` sentences answering the run's question from its figures."""
    measured = [p for p in run.parts if p.kind != "limits"]
    several = len(run.parts) > 1
    sentences = [_outcome(run, measured, several), _slos(run)]
    evals = [p for p in measured if p.evaluation is not None]
    for part in evals:
        sentences.append(_quality(part, part.evaluation, several))
        sentences.append(_auto_versus_reference(part.evaluation))
    if not evals:
        sentences += [_load_arms(p, several) for p in measured]
    sentences += [_limits(p) for p in run.parts if p.kind == "limits"]
    sentences.append(_caching(measured, several))
    sentences.append(_plan(measured, several))
    return tuple(s for s in sentences if s)[:MAX_SENTENCES]


def _where(part: Part, several: bool) -> str:
    return f"In {part.name}, " if several else ""


def _outcome(run: Run, parts: Sequence[Part], several: bool) -> str | None:
    failed_parts, failed_arms = [], []
    attempts = failures = limited = cancelled = 0
    for part in parts:
        summary = part.load_summary
        errors = summary.overall.errors
        attempts += errors.attempts
        failures += errors.not_ok
        limited += errors.rate_limited
        cancelled += errors.status_counts.get("cancelled", 0)
        if errors.all_failed:
            failed_parts.append(f"{part.name} ({errors.attempts} attempts)")
            continue
        failed_arms += [
            f"{part.name + '/' if several else ''}{a.arm} ({a.errors.attempts} attempts)"
            for a in summary.arms
            if a.errors.all_failed
        ]
    if failed_parts or failed_arms:
        what = []
        if failed_parts:
            what.append("every attempt of " + _join(failed_parts) + " failed")
        if failed_arms:
            what.append("every attempt of arm " + _join(failed_arms) + " failed")
        return f"Not a result: {'; '.join(what)}, so there is nothing to measure there."
    if not attempts:
        return None
    stopped = (
        ""
        if run.complete
        else f" The run is incomplete (status {run.status}): the figures cover what it measured."
    )
    if failures == 0:
        return f"All {attempts:,} measured attempts succeeded.{stopped}".strip()
    other = failures - limited - cancelled
    bits = [f"{other:,} failed"] if other else []
    if limited:
        bits.append(f"{limited:,} were rate limited (429)")
    if cancelled:
        bits.append(f"{cancelled:,} were cancelled in flight")
    return f"Of {attempts:,} measured attempts, {_join(bits)}.{stopped}"


def _slos(run: Run) -> str | None:
    verdicts = run.summary.slo if run.summary is not None else ()
    if not verdicts:
        return None
    failed = [v for v in verdicts if v.verdict == "fail"]
    unknown = sum(v.verdict == "unknown" for v in verdicts)
    tail = f" ({unknown} without samples to judge)" if unknown else ""
    if not failed:
        return f"Every SLO holds: {len(verdicts) - unknown} of {len(verdicts)} pass{tail}."
    shown = [
        f"{v.part}/{v.arm} {v.objective} (measured {v.shown or v.measured}, n={v.n})"
        for v in failed[:2]
    ]
    more = f"; and {len(failed) - 2} more" if len(failed) > 2 else ""
    return f"{len(failed)} of {len(verdicts)} SLOs fail: {'; '.join(shown)}{more}{tail}."


def _quality(part: Part, report: EvalReport, several: bool) -> str | None:
    best = report.best()
    if best is None or best.accuracy is None:
        return None
    where = _where(part, several)
    ci = (
        f", 95% CI {best.ci_low:.1%}-{best.ci_high:.1%}"
        if best.ci_low is not None and best.ci_high is not None
        else ""
    )
    sentence = f"{where}{best.arm} is the most accurate ({best.accuracy:.1%}{ci}, n={best.n})"
    cheapest = _cheapest_within(report, best.ci_low if best.ci_low is not None else best.accuracy)
    if cheapest is None:
        return sentence + "; no arm within its interval has a cost to compare."
    arm, accuracy, cost = cheapest
    best_cost = _cost(report, str(best.arm))
    if arm == best.arm:
        return sentence + f" and also the cheapest arm within its interval (${cost:.6f}/request)."
    ratio = f", {cost / best_cost:.2g}x its cost" if best_cost else ""
    return (
        sentence + f"; the cheapest arm within its interval is {arm} ({accuracy:.1%}, "
        f"${cost:.6f}/request{ratio})."
    )


def _cost(report: EvalReport, arm: str) -> float | None:
    row = report.cost.rows.get(arm)
    return row.per_request_usd if row is not None else None


def _cheapest_within(report: EvalReport, floor: float) -> tuple[str, float, float] | None:
    failed = set(report.failed_arms)
    candidates = []
    for row in report.accuracy.rows:
        if row.arm is None or row.arm in failed or row.accuracy is None:
            continue
        cost = _cost(report, str(row.arm))
        if cost is not None and row.accuracy >= floor:
            candidates.append((cost, -row.accuracy, str(row.arm)))
    if not candidates:
        return None
    cost, negative_accuracy, arm = min(candidates)
    return arm, -negative_accuracy, cost


def _auto_versus_reference(report: EvalReport) -> str | None:
    routing = report.routing
    if routing is None or routing.reference is None:
        return None
    bits = []
    for arm, auto in routing.arms.items():
        paired = auto.versus_reference
        if paired is None or paired.difference is None:
            continue
        p = paired.mcnemar_p_holm if paired.mcnemar_p_holm is not None else paired.mcnemar_p
        if p is None:
            verdict = "untested"
        elif p < SIGNIFICANCE:
            verdict = f"significant, p={p:.2g}"
        else:
            verdict = f"not significant, p={p:.2g}"
        low, high = paired.difference_ci
        interval = (
            f", 95% CI {low * 100:+.1f} to {high * 100:+.1f}"
            if low is not None and high is not None
            else ""
        )
        cost = (
            f" at {paired.cost_ratio:.2g}x its cost per request"
            if paired.cost_ratio is not None
            else ""
        )
        points = paired.difference * 100
        direction = "lower" if points < 0 else "higher"
        change = f"{abs(points):.1f} points {direction}" if points else "the same accuracy"
        tested = f"({verdict}, {paired.n_prompts} prompts)"
        bits.append(f"{arm} scores {change}{interval} {tested}{cost}")
    if not bits:
        return None
    return f"Against {routing.reference}, the reference: {'; '.join(bits)}."


def _load_arms(part: Part, several: bool) -> str | None:
    arms = [a for a in part.load_summary.arms if a.arm is not None and a.ok]
    if not arms:
        return None
    where = _where(part, several)
    if len(arms) == 1:
        arm = arms[0]
        bits = []
        if arm.latency_s.n:
            bits.append(f"latency p95 {arm.latency_s.get(95):.3g} s (n={arm.latency_s.n})")
        if arm.cost.per_1k_requests_usd is not None:
            bits.append(f"${arm.cost.per_1k_requests_usd:.4f} per 1k requests")
        return f"{where}{arm.arm} answered with {_join(bits)}." if bits else None
    tail = _extremes(arms, lambda a: a.latency_s.get(95) if a.latency_s.n else None)
    cost = _extremes(arms, lambda a: a.cost.per_1k_requests_usd)
    bits = []
    if tail:
        (lo, lo_v), (hi, hi_v) = tail
        bits.append(
            f"latency p95 runs from {lo_v:.3g} s ({lo.arm}, n={lo.latency_s.n})"
            + (f" to {hi_v:.3g} s ({hi.arm}, n={hi.latency_s.n})" if hi is not lo else "")
        )
    if cost:
        (lo, lo_v), (hi, hi_v) = cost
        bits.append(
            f"cost per 1k requests from ${lo_v:.4f} ({lo.arm})"
            + (f" to ${hi_v:.4f} ({hi.arm})" if hi is not lo else "")
        )
    if not bits:
        return None
    text = _join(bits)
    return f"{where}{text}." if where else f"{text[0].upper()}{text[1:]}."


def _extremes(arms: Iterable[ArmSummary], value) -> tuple | None:  # type: ignore[no-untyped-def]
    pairs = [(a, v) for a in arms for v in [value(a)] if v is not None]
    if not pairs:
        return None
    return min(pairs, key=lambda p: p[1]), max(pairs, key=lambda p: p[1])


def _limits(part: Part) -> str | None:
    limits = part.limits
    if limits is None or not limits.findings:
        return None
    counts = {v: sum(f.verdict == v for f in limits.findings) for v in ("pass", "fail", "unknown")}
    plan = limits.plan or "an unknown plan"
    failed = [f.check for f in limits.findings if f.verdict == "fail"]
    detail = f" ({_join(failed[:3])})" if failed else ""
    return (
        f"The rate-limit probe of {plan} ({limits.status}): {counts['pass']} checks pass, "
        f"{counts['fail']} fail{detail}, {counts['unknown']} unknown."
    )


def _money(value: float) -> str:
    """Two significant digits, never an exponent: ``$0.012``, ``$0.0031``, ``$1.20``."""
    if value == 0:
        return "$0"
    decimals = max(2, 1 - math.floor(math.log10(abs(value))))
    return f"${value:,.{decimals}f}"


def _caching(parts: Sequence[Part], several: bool) -> str | None:
    """One sentence on the first part whose arms have cache or conversation figures."""
    shown = [p for p in parts if has_figures(p)]
    if not shown:
        return None
    part = shown[0]
    arms = [a for a in part.load_summary.arms if a.arm is not None]
    cached = [a for a in arms if a.cache is not None and a.cache.hit_rate is not None]
    talks = [a for a in arms if a.conversations is not None]
    bits = []
    served = []
    for a in cached:
        cache = a.cache
        assert cache is not None and cache.hit_rate is not None
        saved, share = cache.saved_usd, cache.saved_share
        saving = (
            f"; saved {_money(saved)}, {share:.0%} of the cost"
            if saved is not None and share is not None
            else ""
        )
        tokens = "" if served else " of prompt tokens"
        served.append(f"{cache.hit_rate:.0%}{tokens} on {a.arm} (n={cache.rows:,}{saving})")
    if served:
        bits.append(f"prompt caching served {_join(served)}")
    switching = [a for a in talks if a.conversations is not None and a.conversations.switches]
    for a in switching:
        conv = a.conversations
        assert conv is not None and conv.switches_per_conversation is not None
        lost = (
            f", losing an estimated {_money(conv.lost_discount_usd)} of cache discount"
            if conv.lost_discount_usd is not None
            else ""
        )
        bits.append(
            f"{a.arm} switched models {conv.switches_per_conversation:.2f} times per "
            f"conversation (n={conv.multi_turn:,}){lost}"
        )
    for a in talks:
        # A fixed model cannot switch; an auto arm that never did is worth saying.
        if a in switching or not is_auto(str(a.arm)) or a.conversations is None:
            continue
        bits.append(
            f"{a.arm} kept each of its {a.conversations.conversations:,} conversations on one model"
        )
    text = "; ".join(bits)
    if several:
        return f"In {part.name}, {text}."
    return f"{text[0].upper()}{text[1:]}."


def _plan(parts: Sequence[Part], several: bool) -> str | None:
    fits = [(p, p.plan_fit) for p in parts if p.kind == "load"]
    fits = [(p, f) for p, f in fits if f is not None and f.n_requests]
    if not fits:
        return None
    part, fit = max(fits, key=lambda pf: pf[1].needed_rpm)
    plan = fit.cheapest_fit(PLAN_HEADROOM)
    answer = (
        f"the cheapest plan with {PLAN_HEADROOM:.0%} headroom is {plan}"
        if plan
        else f"no documented plan has {PLAN_HEADROOM:.0%} headroom"
    )
    caveat = (
        f" (from {fit.duration_s:.0f} s and {fit.n_requests:,} attempts: too little to choose a "
        f"plan by; measure {MIN_MEASURED_S:.0f} s and {MIN_MEASURED_REQUESTS} attempts or more)"
        if fit.measurement.too_short()
        else ""
    )
    whose = f"{part.name}'s" if several else "the run's"
    return (
        f"At {whose} peak of {fit.needed_rpm:,.0f} requests/min and "
        f"{fit.needed_tpm:,.0f} tokens/min, {answer}{caveat}."
    )


def _join(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]
