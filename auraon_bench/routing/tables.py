"""Per-prompt outcome tables, from any of the layouts routing research uses, as one long frame.

The long frame (:class:`OutcomeTable`) has one row per (prompt, model)::

    prompt_id   str     required
    model       str     required: the model (or router) that answered
    correct     float   1/0 (or NaN); or ``score`` in [0, 1]: one of the two is required
    score       float
    cost_usd    float   optional: cost of that answer
    latency_s   float   optional
    routed_to   str     optional: for a router's rows, the model it chose
    category    str     optional
    prompt_tokens, completion_tokens   optional: needed to re-price
    any other numeric column: a per-prompt signal (a difficulty, a router's score, a
    confidence) that threshold and cascade routers can use

Readers, chosen by :func:`read_table` from the file's columns:

* **long** (CSV or Parquet), the layout above;
* **RouterBench wide**: one column per model holding its score and ``MODEL|total_cost`` beside
  it (``sample_id`` or ``prompt`` names the prompt, ``eval_name`` the category); every other
  numeric column is a signal;
* **RouteLLM-style**: one correctness column per model (booleans or 0/1), a ``prompt_id`` (or
  ``prompt``) column, no costs (re-price them, or compare by strong share alone);
* an **eval run directory** (``auraon-bench eval``): its graded records, arm = model.

Every problem is a one-line :class:`~auraon_bench.errors.ConfigError` naming the file, and the
row (1-based, header = row 1) and column where one is at fault.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from auraon_bench.errors import ConfigError

TEXT = ("prompt_id", "model", "routed_to", "category")
NUMBERS = ("correct", "score", "cost_usd", "latency_s", "prompt_tokens", "completion_tokens")
KNOWN = (*TEXT, *NUMBERS)
COST_SUFFIX = "|total_cost"
PROMPT_KEYS = ("prompt_id", "sample_id", "prompt", "question_id", "id")


@dataclass(frozen=True)
class OutcomeTable:
    frame: pd.DataFrame  # the long layout above
    source: str  # the file(s) it came from
    layout: str  # long, routerbench, routellm, eval-run
    signals: tuple[str, ...] = ()  # numeric per-prompt columns besides the outcomes
    simulated: bool = False  # answers from the built-in emulator (an eval run says so)
    twin_of: str | None = None  # ... fitted to this run (emulator fit), when every one was

    @property
    def models(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.frame["model"]))

    def records(self) -> pd.DataFrame:
        """The table as the analysis reads records: one ok, graded attempt per row."""
        f = self.frame
        return pd.DataFrame(
            {
                "arm": f["model"],
                "prompt_id": f["prompt_id"],
                "category": f.get("category"),
                "routed_to": f["routed_to"].fillna(f["model"]),
                "status": "ok",
                "correct": f["correct"],
                "score": f["score"].fillna(f["correct"]),
                "cost_usd": f["cost_usd"],
                "latency_s": f.get("latency_s"),
            }
        )


def read_table(path: str | Path) -> OutcomeTable:
    """Any supported layout, told apart by what the file holds (module docstring)."""
    path = Path(path)
    if path.is_dir():
        return read_eval_run(path)
    frame = _read_frame(path)
    columns = set(frame.columns)
    if {"prompt_id", "model"} <= columns:
        return read_long(path, frame)
    if any(str(c).endswith(COST_SUFFIX) for c in frame.columns):
        return read_routerbench(path, frame)
    return read_routellm(path, frame)


def _read_frame(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise ConfigError("no such file or run directory", source=str(path))
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path)
        if path.suffix.lower() == ".csv":
            return pd.read_csv(path)
        if path.suffix.lower() in (".jsonl", ".json"):
            return pd.read_json(path, lines=path.suffix.lower() == ".jsonl")
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        message = f"cannot read the table: {str(exc).splitlines()[0]}"
        raise ConfigError(message, source=str(path)) from None
    raise ConfigError("a table must be .csv, .parquet or .jsonl", source=str(path))


def _numeric(frame: pd.DataFrame, column: str, path: Path, *, unit: bool = False) -> pd.Series:
    """``column`` as floats; the first value that is not a number (or not in [0, 1] when
    ``unit``) fails naming its row and column."""
    raw = frame[column]
    if raw.dtype == bool:
        raw = raw.astype(float)
    values = pd.to_numeric(raw, errors="coerce")
    bad = values.isna() & raw.notna()
    if unit:
        bad |= (values < 0) | (values > 1)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise ConfigError(
            f"{raw.iloc[row]!r} is not {'a number in [0, 1]' if unit else 'a number'}",
            source=f"{path}, row {row + 2}",
            field=str(column),
        )
    return values.astype(float)


def _required_text(frame: pd.DataFrame, column: str, path: Path) -> pd.Series:
    values = frame[column]
    missing = values.isna() | (values.astype(str).str.strip() == "")
    if missing.any():
        row = int(np.flatnonzero(missing.to_numpy())[0])
        raise ConfigError("is empty", source=f"{path}, row {row + 2}", field=column)
    return values.astype(str)


def read_long(path: Path, frame: pd.DataFrame | None = None) -> OutcomeTable:
    frame = _read_frame(path) if frame is None else frame
    if "correct" not in frame.columns and "score" not in frame.columns:
        raise ConfigError(
            "needs a 'correct' or a 'score' column", source=str(path), field="correct"
        )
    out = pd.DataFrame({"prompt_id": _required_text(frame, "prompt_id", path),
                        "model": _required_text(frame, "model", path)})  # fmt: skip
    for name in NUMBERS:
        unit = name in ("correct", "score")
        out[name] = _numeric(frame, name, path, unit=unit) if name in frame else np.nan
    for name in ("routed_to", "category"):
        out[name] = frame[name].astype(object).where(frame[name].notna(), None) \
            if name in frame else None  # fmt: skip
    duplicated = out.duplicated(["prompt_id", "model"])
    if duplicated.any():
        row = int(np.flatnonzero(duplicated.to_numpy())[0])
        raise ConfigError("a second row for the same prompt_id and model",
                          source=f"{path}, row {row + 2}", field="prompt_id")  # fmt: skip
    signals = _signals(frame, KNOWN, path)
    for name in signals:  # per prompt: the first value each prompt has
        out[name] = _numeric(frame, name, path)
    return OutcomeTable(out, str(path), "long", signals)


def _signals(frame: pd.DataFrame, skip: Sequence[str], path: Path) -> tuple[str, ...]:
    return tuple(
        str(c) for c in frame.columns
        if c not in skip and pd.api.types.is_numeric_dtype(frame[c]) and frame[c].dtype != bool
    )  # fmt: skip


def _prompt_ids(frame: pd.DataFrame, path: Path) -> tuple[pd.Series, str | None]:
    for key in PROMPT_KEYS:
        if key in frame.columns:
            return _required_text(frame, key, path), key
    return pd.Series([f"row{i + 2}" for i in range(len(frame))]), None


def _wide_to_long(
    frame: pd.DataFrame, path: Path, models: Sequence[str], costs: dict[str, str],
    layout: str, category: str | None, used: set[str],
) -> OutcomeTable:  # fmt: skip
    ids, key = _prompt_ids(frame, path)
    if ids.duplicated().any():
        row = int(np.flatnonzero(ids.duplicated().to_numpy())[0])
        raise ConfigError("a prompt appears twice", source=f"{path}, row {row + 2}",
                          field=key or "row")  # fmt: skip
    skip = {*used, *(c for c in PROMPT_KEYS if c in frame.columns)}
    signals = _signals(frame, tuple(skip), path)
    parts = []
    for model in models:
        score = _numeric(frame, model, path, unit=True)
        part = pd.DataFrame({"prompt_id": ids.to_numpy(), "model": model})
        part["correct"] = np.where(score.isna(), np.nan, (score >= 0.5).astype(float))
        part["score"] = score.to_numpy()
        part["cost_usd"] = _numeric(frame, costs[model], path).to_numpy() if model in costs \
            else np.nan  # fmt: skip
        for name in ("latency_s", "prompt_tokens", "completion_tokens", "routed_to"):
            part[name] = np.nan if name != "routed_to" else None
        part["category"] = frame[category].astype(str).to_numpy() if category else None
        for name in signals:
            part[name] = _numeric(frame, name, path).to_numpy()
        parts.append(part)
    return OutcomeTable(pd.concat(parts, ignore_index=True), str(path), layout, signals)


def read_routerbench(path: Path, frame: pd.DataFrame | None = None) -> OutcomeTable:
    frame = _read_frame(path) if frame is None else frame
    costs = {str(c)[: -len(COST_SUFFIX)]: str(c) for c in frame.columns
             if str(c).endswith(COST_SUFFIX)}  # fmt: skip
    missing = [m for m in costs if m not in frame.columns]
    if missing:
        raise ConfigError(f"has a cost column but no score column {missing[0]!r}",
                          source=str(path), field=costs[missing[0]])  # fmt: skip
    category = "eval_name" if "eval_name" in frame.columns else None
    used = {*costs, *costs.values(), *([category] if category else [])}
    return _wide_to_long(frame, path, list(costs), costs, "routerbench", category, used)


def read_routellm(path: Path, frame: pd.DataFrame | None = None) -> OutcomeTable:
    frame = _read_frame(path) if frame is None else frame
    models = [str(c) for c in frame.columns if _zero_one(frame[c])]
    models = [m for m in models if m not in PROMPT_KEYS]
    if len(models) < 2:
        raise ConfigError(
            "not a table this tool reads: no prompt_id/model columns (long), no "
            "MODEL|total_cost columns (RouterBench), fewer than two 0/1 columns (RouteLLM)",
            source=str(path),
        )
    category = "category" if "category" in frame.columns else None
    used = {*models, *([category] if category else [])}
    return _wide_to_long(frame, path, models, {}, "routellm", category, used)


def _zero_one(values: pd.Series) -> bool:
    """A correctness column: booleans, or numbers that are all 0 or 1."""
    if values.dtype == bool:
        return True
    if not pd.api.types.is_numeric_dtype(values):
        return False
    return bool(values.dropna().isin((0, 1)).all()) and values.notna().any()


def read_eval_run(path: Path) -> OutcomeTable:
    """An ``auraon-bench eval`` run directory: its graded records, one row per answer."""
    from auraon_bench.results.reader import read_records

    records = read_records(path)
    if "correct" not in records.columns or records["correct"].isna().all():
        raise ConfigError("holds no graded records (is it an eval run?)", source=str(path))
    records = records[~records["warmup"].fillna(False).astype(bool)] if "warmup" in records \
        else records  # fmt: skip
    records = records[records["prompt_id"].notna()]
    out = pd.DataFrame({
        "prompt_id": records["prompt_id"].astype(str).to_numpy(),
        "model": records["arm"].astype(str).to_numpy(),
    })  # fmt: skip
    ok = (records["status"].astype(object) == "ok").to_numpy()
    for name in NUMBERS:
        values = pd.to_numeric(records[name], errors="coerce").to_numpy(dtype=float) \
            if name in records else np.full(len(records), np.nan)  # fmt: skip
        if name in ("correct", "score"):
            values = np.where(ok, values, 0.0)  # a failed answer scores 0, as in eval
        out[name] = values
    for name in ("routed_to", "category"):
        out[name] = records[name].astype(object).where(records[name].notna(), None).to_numpy()
    # repeats: the mean per (prompt, model), as the eval analysis takes them
    numbers = out.groupby(["prompt_id", "model"], sort=False)[list(NUMBERS)].mean()
    text = out.groupby(["prompt_id", "model"], sort=False)[["routed_to", "category"]].first()
    from auraon_bench.results.run import read_run

    run = read_run(path)
    return OutcomeTable(numbers.join(text).reset_index(), str(path), "eval-run", (),
                        run.simulated, run.twin_of)  # fmt: skip


def join_tables(tables: Sequence[OutcomeTable]) -> OutcomeTable:
    """Several tables (e.g. two eval runs) joined on prompt id: a model may appear in one."""
    if len(tables) == 1:
        return tables[0]
    frame = pd.concat([t.frame for t in tables], ignore_index=True)
    twice = frame.duplicated(["prompt_id", "model"])
    if twice.any():
        row = frame.loc[twice].iloc[0]
        raise ConfigError(
            f"model {row['model']!r} answered prompt {row['prompt_id']!r} in two inputs: "
            "give each model once",
            source=" + ".join(t.source for t in tables),
        )
    signals = tuple(dict.fromkeys(s for t in tables for s in t.signals))
    layouts = "+".join(dict.fromkeys(t.layout for t in tables))
    simulated = any(t.simulated for t in tables)
    twins = {t.twin_of for t in tables if t.simulated}
    twin_of = twins.pop() if len(twins) == 1 else None  # a twin only when all simulated share it
    return OutcomeTable(frame, " + ".join(t.source for t in tables), layouts, signals, simulated,
                        twin_of)  # fmt: skip
