"""Read a finished, interrupted or crashed run directory back: ``read_run(path)``.

A run directory is one of three kinds, told apart by what it holds:

* a **load** run (``auraon-bench load``): manifest, records, ``summary.json``;
* an **eval** run (``auraon-bench eval``): the same plus ``evaluation.json``;
* a **limits** run (``auraon-bench limits``): manifest, records and ``limits.json``;
* an **experiment** run (``auraon-bench run``): a manifest with an ``experiment`` section and one
  sub-directory per part, each a load or eval run of its own.

:class:`Run` presents all three the same way: a tuple of :class:`Part`\\ s, and ``records``, every
part's rows in one DataFrame with a ``part`` column. A part whose ``summary.json`` is missing (the
process was killed before writing it) is summarised from whatever records were flushed, and the
run says it is incomplete. Nothing here writes, plots or talks to the network.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from auraon_bench.analysis.limits import LimitsSummary
from auraon_bench.analysis.load_summary import RunSummary
from auraon_bench.errors import ConfigError
from auraon_bench.eval.report import EvalReport
from auraon_bench.experiment.summary import ExperimentSummary
from auraon_bench.results.files import read_result
from auraon_bench.results.labels import twin_of_target
from auraon_bench.results.manifest import Manifest
from auraon_bench.results.reader import read_records
from auraon_bench.results.schema import COLUMN_NAMES

if TYPE_CHECKING:
    from auraon_bench.analysis.plan_fit import PlanFit

SUMMARY_FILE = "summary.json"
EVALUATION_FILE = "evaluation.json"
LIMITS_FILE = "limits.json"

# What reports and notebooks usually need; the answers' text and inter-token gaps are large.
REPORT_COLUMNS = tuple(c for c in COLUMN_NAMES if c not in ("itl_s", "response_text"))


@dataclass(frozen=True)
class Part:
    """One load test or evaluation: a run directory of its own."""

    name: str
    kind: str  # "load", "eval" or "limits"
    path: Path
    manifest: dict[str, Any]
    summary: RunSummary | None  # summary.json; None when the run ended before writing it
    evaluation: EvalReport | None  # evaluation.json of an eval
    limits: LimitsSummary | None = None  # limits.json of a rate-limit probe
    columns: tuple[str, ...] = REPORT_COLUMNS

    @property
    def status(self) -> str:
        return str(self.manifest.get("status", "unknown"))

    @property
    def complete(self) -> bool:
        return self.status == "complete"

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.manifest.get("options") or {})

    @cached_property
    def records(self) -> pd.DataFrame:
        """This part's records (without answer text and inter-token gaps)."""
        return read_records(self.path, list(self.columns))

    @cached_property
    def load_summary(self) -> RunSummary:
        """``summary.json``, or the same computed (once) from the flushed records of a part
        that ended before writing it."""
        if self.summary is not None:
            return self.summary
        from auraon_bench.analysis.load_summary import summarize_run

        return summarize_run(self.records)

    @cached_property
    def plan_fit(self) -> PlanFit | None:
        """How this part's measured traffic fits each plan (computed once; None: no records)."""
        from auraon_bench.analysis.plan_fit import plan_fit

        records = self.records
        return None if records.empty else plan_fit(records)


@dataclass(frozen=True)
class Run:
    """A run directory read back: its manifest, its parts and their records."""

    path: Path
    manifest: dict[str, Any]
    parts: tuple[Part, ...]
    kind: str  # "load", "eval" or "experiment"
    problems: tuple[str, ...] = field(default=())  # why the run is incomplete, if it is
    summary: ExperimentSummary | None = None  # an experiment's summary.json (SLO verdicts)
    # an experiment's capacity searches: (part name, the directory holding its capacity.json)
    searches: tuple[tuple[str, Path], ...] = ()

    @property
    def run_id(self) -> str:
        return str(self.manifest.get("run_id", self.path.name))

    @property
    def label(self) -> str:
        experiment = self.manifest.get("experiment") or {}
        name = experiment.get("name")
        return f"{name} {self.run_id}" if name else self.run_id

    @property
    def status(self) -> str:
        return str(self.manifest.get("status", "unknown"))

    @property
    def complete(self) -> bool:
        return not self.problems

    @property
    def simulated(self) -> bool:
        target = self.manifest.get("target") or {}
        return bool(target.get("simulated")) or any(
            (p.manifest.get("target") or {}).get("simulated") for p in self.parts
        )

    @property
    def twin_of(self) -> str | None:
        """The run this one rehearsed on a fitted twin (``emulator fit``); None otherwise."""
        for manifest in (self.manifest, *(p.manifest for p in self.parts)):
            twin = twin_of_target(manifest.get("target"))
            if twin:
                return twin
        return None

    @property
    def warnings(self) -> list[str]:
        """The run's own warnings, then each part's, without repeats."""
        seen = dict.fromkeys(self.manifest.get("warnings") or [])
        for part in self.parts:
            seen.update(dict.fromkeys(part.manifest.get("warnings") or []))
        return list(seen)

    def part(self, name: str) -> Part:
        for part in self.parts:
            if part.name == name:
                return part
        raise KeyError(f"no part {name!r} in {self.path}; parts: {[p.name for p in self.parts]}")

    @cached_property
    def records(self) -> pd.DataFrame:
        """Every part's records in one frame, with a ``part`` column naming where each row is."""
        frames = [p.records.assign(part=p.name) for p in self.parts]
        if not frames:
            return pd.DataFrame(columns=[*REPORT_COLUMNS, "part"])
        return pd.concat(frames, ignore_index=True)


def _read_part(path: Path, name: str, manifest: dict[str, Any] | None = None) -> Part:
    manifest = manifest if manifest is not None else Manifest.load(path).data
    evaluation = read_result(path / EVALUATION_FILE, EvalReport)
    limits = read_result(path / LIMITS_FILE, LimitsSummary)
    kind = "eval" if evaluation is not None else ("limits" if limits is not None else "load")
    return Part(
        name=name,
        kind=kind,
        path=path,
        manifest=manifest,
        summary=read_result(path / SUMMARY_FILE, RunSummary),
        evaluation=evaluation,
        limits=limits,
    )


def _problems(
    manifest: dict[str, Any], parts: Sequence[Part], expected: Sequence[str]
) -> list[str]:
    problems = []
    status = manifest.get("status")
    if status != "complete":
        problems.append(
            "INCOMPLETE RUN: status is 'running' but nothing is running it (killed?); "
            "figures cover the records flushed before it stopped"
            if status == "running"
            else f"INCOMPLETE RUN: status {status!r}"
        )
    present = {p.name for p in parts}
    missing = [name for name in expected if name not in present]
    if missing:
        problems.append(f"INCOMPLETE RUN: parts never started: {', '.join(missing)}")
    for part in parts:
        if part.status != "complete" and part.status != status:
            problems.append(f"INCOMPLETE PART {part.name}: status {part.status!r}")
    return problems


def read_run(path: Path | str) -> Run:
    """Read a run directory of any kind; ``ConfigError`` naming the file if it is not one."""
    path = Path(path)
    if not path.is_dir():
        raise ConfigError("no such run directory", source=str(path))
    manifest = Manifest.load(path).data
    experiment = manifest.get("experiment")
    if experiment is None:
        part = _read_part(path, path.name, manifest)
        return Run(path, manifest, (part,), part.kind, tuple(_problems(manifest, [part], [])))
    listed = _listed_parts(manifest.get("parts"), path)
    kinds = {e.get("name"): e.get("kind") for e in manifest.get("parts") or []}
    searches = tuple((n, path / d) for n, d in listed if kinds.get(n) == "capacity")
    listed = [(n, d) for n, d in listed if kinds.get(n) != "capacity"]
    parts = []
    for name, directory in listed:
        part_dir = path / directory
        if (part_dir / "manifest.json").is_file():
            parts.append(_read_part(part_dir, name))
    expected = [name for name, _ in listed]
    problems = _problems(manifest, parts, expected)
    problems += [
        f"INCOMPLETE RUN: parts never started: {name}"
        for name, directory in searches
        if not (directory / "capacity.json").is_file()
    ]
    summary = read_result(path / SUMMARY_FILE, ExperimentSummary)
    return Run(path, manifest, tuple(parts), "experiment", tuple(problems), summary, searches)


def _listed_parts(listed: object, path: Path) -> list[tuple[str, str]]:
    """(name, directory) of each part an experiment manifest lists; ``ConfigError`` naming the
    manifest and the entry when the list is not what ``run`` writes (an edited file)."""
    source = str(path / "manifest.json")
    if listed is None:
        return []
    if not isinstance(listed, list):
        raise ConfigError("'parts' must be a list of tables", source=source, field="parts")
    out = []
    for i, entry in enumerate(listed):
        name = entry.get("name") if isinstance(entry, dict) else None
        directory = entry.get("dir") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not isinstance(directory, str) or not directory:
            raise ConfigError(
                "each part needs a string 'name' and 'dir'", source=source, field=f"parts[{i}]"
            )
        if Path(directory).is_absolute() or ".." in Path(directory).parts:
            raise ConfigError(
                f"part directory {directory!r} is outside the run", source=source,
                field=f"parts[{i}].dir",
            )  # fmt: skip
        out.append((name, directory))
    return out
