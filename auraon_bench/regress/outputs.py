"""What ``regress`` writes: a markdown summary for a CI job page, JSON, and JUnit XML.

Every check is listed in JSON and JUnit (one test case per part, arm and metric, failed when it
regressed, skipped with its reason when it had too few samples); markdown leads with the verdict
and the regressions, then the improvements, then every other check grouped by verdict.
"""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree as ET

from auraon_bench.analysis.regression import Check
from auraon_bench.regress.compare import Comparison


def describe_value(check: Check, value: float | None) -> str:
    if value is None:
        return "-"
    if check.unit == "s":
        return f"{value * 1000:.1f} ms"
    if check.unit in ("share", "TVD"):
        return f"{value * 100:.1f}%"
    if check.unit == "USD":
        return f"${value:.6f}"
    return f"{value:.2f} {check.unit}"


def describe_change(check: Check, with_limit: bool = True) -> str:
    if check.change is None:
        return "-"
    if check.change_kind == "ratio":
        # A lower-is-worse metric's threshold is stored inverted (x1/0.9): show it as stated.
        limit = 1 / check.threshold if check.worse_when == "lower" else check.threshold
        text, bound = f"x{check.change:.3f}", f"x{limit:.3g}"
    else:
        text, bound = f"{check.change * 100:+.1f} pts", f"{check.threshold * 100:g} pts"
    return f"{text} (limit {bound})" if with_limit else text


def _p(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


def to_dict(result: Comparison) -> dict[str, Any]:
    return {
        "baseline": str(result.baseline.path),
        "current": str(result.current.path),
        "baseline_run_id": result.baseline.run_id,
        "current_run_id": result.current.run_id,
        "simulated": result.current.simulated or result.baseline.simulated,
        "thresholds": result.thresholds,
        "forced_despite": result.not_comparable,
        "verdict": "regression" if result.regressions else "ok",
        "counts": result.counts(),
        "checks": [c.to_dict() for c in result.checks],
    }


def _row(c: Check) -> str:
    return (
        f"| {c.part} | {c.arm} | {c.metric} | {describe_value(c, c.baseline)} | "
        f"{describe_value(c, c.current)} | {describe_change(c)} | {_p(c.p_adjusted)} | "
        f"{c.n_baseline} / {c.n_current} | {c.verdict} |"
    )


HEADER = (
    "| part | arm | metric | baseline | current | change | p (Holm) | n | verdict |\n"
    "|:---|:---|:---|---:|---:|---:|---:|---:|:---|"
)


def to_markdown(result: Comparison) -> str:
    counts = result.counts()
    verdict = (
        f"**REGRESSION**: {len(result.regressions)} of {len(result.checks)} checks"
        if result.regressions
        else f"**No regression** in {len(result.checks)} checks"
    )
    lines = [
        f"## auraon-bench regress: {result.current.label} against {result.baseline.label}",
        "",
        verdict + " (" + ", ".join(f"{v}: {n}" for v, n in counts.items() if n) + ")",
        "",
    ]
    if result.current.simulated or result.baseline.simulated:
        lines += ["> SIMULATED: at least one run measured the built-in emulator.", ""]
    if result.not_comparable:
        lines += ["> Compared with --force although: " + "; ".join(result.not_comparable), ""]
    groups = [
        ("Regressions", [c for c in result.checks if c.verdict == "regression"]),
        ("Improvements", [c for c in result.checks if c.verdict == "improvement"]),
        ("Beyond the threshold but not significant",
         [c for c in result.checks if c.verdict == "not significant"]),
        ("Too few samples", [c for c in result.checks if c.verdict == "too few samples"]),
        ("Within the thresholds", [c for c in result.checks if c.verdict == "no change"]),
    ]  # fmt: skip
    for title, checks in groups:
        if checks:
            lines += [f"### {title} ({len(checks)})", "", HEADER, *map(_row, checks), ""]
    t = result.thresholds
    lines.append(
        f"_A regression is a change beyond its threshold AND significant at alpha {t['alpha']:g} "
        "after Holm's adjustment over all checks; latency: Mann-Whitney U, rates: two-proportion "
        "z-test, cost: bootstrap, accuracy: exact McNemar on paired prompts, routing: chi-square._"
    )
    return "\n".join(lines) + "\n"


def to_junit(result: Comparison) -> bytes:
    suite = ET.Element(
        "testsuite",
        name="auraon-bench regress",
        tests=str(len(result.checks)),
        failures=str(len(result.regressions)),
        skipped=str(result.counts()["too few samples"]),
    )
    for c in result.checks:
        case = ET.SubElement(
            suite, "testcase", classname=f"{c.part}.{c.arm}", name=c.metric, time="0"
        )
        detail = (
            f"baseline {describe_value(c, c.baseline)}, current {describe_value(c, c.current)}, "
            f"change {describe_change(c)}, p (Holm) {_p(c.p_adjusted)}, n {c.n_baseline}/"
            f"{c.n_current}"
        )
        if c.verdict == "regression":
            ET.SubElement(case, "failure", message=f"regression: {detail}", type="regression")
        elif c.verdict == "too few samples":
            ET.SubElement(case, "skipped", message=f"too few samples: {detail}")
        else:
            ET.SubElement(case, "system-out").text = f"{c.verdict}: {detail}"
    return ET.tostring(suite, encoding="utf-8", xml_declaration=True)
