"""What a reader sees of prompt caching and conversations: the report's section (tables, CSV,
chart, output-cap line), the headline sentence and the console table, each checked against the
summary objects they read; and nothing of it for a run without those figures."""

from __future__ import annotations

import csv
import io
import logging
import warnings
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import numpy as np
import orjson
import pytest
from matplotlib.figure import Figure
from rich.console import Console

from auraon_bench.analysis.load_summary import INPUT_COLUMNS, RunSummary, summarize_run
from auraon_bench.cli import render as console
from auraon_bench.report import charts
from auraon_bench.report.build import write_report
from auraon_bench.report.conversations import TITLE, output_cap_line, section_tables
from auraon_bench.report.document import ChartBlock, Heading, Paragraph, build_document
from auraon_bench.report.headline import headline
from auraon_bench.report.palette import Palette
from auraon_bench.results.manifest import Manifest
from auraon_bench.results.reader import read_compact
from auraon_bench.results.run import Run, read_run
from auraon_bench.results.schema import RequestRecord
from auraon_bench.results.sink import RecordSink
from tests.browser import check_page
from tests.chart_runs import Shape, write_run

DISCOUNTS = {"gpt-4o": 1.25, "gpt-4o-mini": 0.075}  # USD per 1M cached tokens
# Per arm, per conversation: the model serving each of its three turns. auto's second
# conversation moves to gpt-4o-mini at turn 2 and back at turn 3: two switches.
PLAN = {
    "auto": (("gpt-4o", "gpt-4o", "gpt-4o"), ("gpt-4o", "gpt-4o-mini", "gpt-4o")),
    "gpt-4o-mini": (("gpt-4o-mini",) * 3, ("gpt-4o-mini",) * 3),
}


def _records(
    run_id: str, *, turns: bool = True, cached: bool = True, hits: bool = True
) -> list[RequestRecord]:
    out = []
    request_id = 0
    for arm, conversations in PLAN.items():
        for session, models in enumerate(conversations):
            for turn, model in enumerate(models, start=1):
                prompt = 1200 + 200 * turn + 100 * session
                hit = cached and hits and turn > 1 and model == models[turn - 2]
                sent = 0.5 * request_id
                ttft = 0.1 if hit else 0.3 + 0.01 * turn
                over = arm == "auto" and session == 1 and turn == 3  # one answer past its cap
                values: dict = {
                    "run_id": run_id,
                    "arm": arm,
                    "attempt": 1,
                    "request_id": request_id,
                    "stage": 0,
                    "warmup": False,
                    "model_requested": arm,
                    "model_reported": model,
                    "routed_to": model if arm == "auto" else None,
                    "status": "ok",
                    "http_status": 200,
                    "t_scheduled": sent,
                    "t_sent": sent,
                    "t_first_token": sent + ttft,
                    "t_last_token": sent + ttft + 0.2,
                    "t_done": sent + ttft + 0.2,
                    "ttft_s": ttft,
                    "ttlt_s": ttft + 0.2,
                    "latency_s": ttft + 0.2,
                    "tpot_s": 0.01,
                    "n_events": 20,
                    "stream": True,
                    "prompt_tokens": prompt,
                    "completion_tokens": 45 if over else 20,
                    "max_tokens": 40 if over else 20,
                    "token_source": "usage",
                    "cost_usd": (0.004 if model == "gpt-4o" else 0.0003) * (0.6 if hit else 1.0),
                    "cost_source": "auraon",
                }
                if cached:
                    values["cached_tokens"] = (prompt - 200) // 128 * 128 if hit else 0
                if turns:
                    values.update(session_id=session, turn=turn)
                out.append(RequestRecord(**values))
                request_id += 1
    return out


def write_conversation_run(
    path: Path, *, turns: bool = True, cached: bool = True, hits: bool = True, prefix: int = 0
) -> Run:
    """A run directory written as a load run writes itself, its summary with cache discounts;
    ``cached``: the target reports cached_tokens, ``hits``: some are above 0, ``prefix``: the
    shared prefix the manifest says was sent."""
    path.mkdir(parents=True)
    target = {"base_url": "http://127.0.0.1:1/v1", "simulated": True}
    options = {"arms": list(PLAN), "stream": True, "stages": [], "turns": 3 if turns else 1}
    options["shared_prefix_tokens"] = prefix
    manifest = Manifest.create(
        path, path.name, ["auraon-bench", "load"], target=target, options=options
    )
    with RecordSink(path) as sink:
        sink.add_many(_records(path.name, turns=turns, cached=cached, hits=hits))
    summary = summarize_run(read_compact(path, list(INPUT_COLUMNS)), discounts=DISCOUNTS)
    (path / "summary.json").write_bytes(orjson.dumps(summary.to_dict()))
    manifest.update(status="complete")
    return read_run(path)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return write_conversation_run(tmp_path_factory.mktemp("conv") / "conv")


@pytest.fixture(scope="module")
def report(run: Run, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("conv-report")
    write_report([run], out)
    return out


def _summary(run: Run) -> RunSummary:
    return run.parts[0].load_summary


def test_the_fixture_has_the_figures_the_tests_read(run: Run) -> None:
    auto = _summary(run).arm("auto")
    assert auto.cache is not None and auto.conversations is not None
    assert auto.conversations.switches == 2 and auto.output_caps is not None
    assert auto.output_caps.over_cap == 1
    assert auto.cache.saved_usd is not None and auto.cache.saved_usd > 0


def test_the_per_arm_table_shows_the_summary(run: Run) -> None:
    table, *turns = section_tables(run.parts[0])
    assert [row[0] for row in table.rows] == ["auto", "gpt-4o-mini"]
    names = [c.name for c in table.columns]
    cells = table.cells()
    shown = [c.name for c in table.display_columns]
    for row, cell, arm in zip(table.rows, cells, _summary(run).arms, strict=True):
        cache, conv = arm.cache, arm.conversations
        assert cache is not None and conv is not None and arm.output_caps is not None
        value = dict(zip(names, row, strict=True))
        text = dict(zip(shown, cell, strict=True))
        assert value["cache hit rate (%)"] == cache.hit_rate
        assert text["cache hit rate (%)"] == f"{cache.hit_rate * 100:.1f}%"
        assert (
            text["cached / prompt tokens"] == f"{cache.cached_tokens:,} / {cache.prompt_tokens:,}"
        )
        assert value["cost with caching (USD)"] == cache.cost_usd
        assert value["cost without caching (USD)"] == cache.cost_without_cache_usd
        assert value["saved (USD)"] == pytest.approx(cache.saved_usd)
        assert value["saved (%)"] == pytest.approx(cache.saved_usd / cache.cost_without_cache_usd)
        hit, miss = cache.ttft_cached_s, cache.ttft_uncached_s
        assert text["TTFT cached p50 / p95 (ms)"] == (
            f"{hit.p50 * 1000:.1f} / {hit.p95 * 1000:.1f} (n={hit.n})"
        )
        assert text["TTFT uncached p50 / p95 (ms)"].endswith(f"(n={miss.n})")
        assert value["model switches per conversation"] == conv.switches_per_conversation
        assert value["lost cache discount (USD)"] == conv.lost_discount_usd
        assert value["over max_tokens (n)"] == arm.output_caps.over_cap
    auto = dict(zip(shown, cells[0], strict=True))
    assert auto["model switches per conversation"] == "1.00"  # two switches, two conversations
    # Hand-checked: switching away after turn 1 (prompt 1500: 1408 cacheable at gpt-4o's $1.25
    # per 1M) and back after turn 2 (prompt 1700: 1664 at gpt-4o-mini's $0.075).
    assert auto["lost cache discount (USD)"] == f"${(1408 * 1.25 + 1664 * 0.075) / 1e6:.6f}"
    assert [t.key for t in turns] == ["turns-conv-auto", "turns-conv-gpt-4o-mini"]


def test_the_by_turn_table_shows_each_turn_and_where_it_was_routed(run: Run) -> None:
    _, auto_turns, _ = section_tables(run.parts[0])
    conv = _summary(run).arm("auto").conversations
    assert conv is not None
    assert [row[0] for row in auto_turns.rows] == [t.turn for t in conv.by_turn] == [1, 2, 3]
    shown = [c.name for c in auto_turns.display_columns]
    for row, cells, turn in zip(auto_turns.rows, auto_turns.cells(), conv.by_turn, strict=True):
        text = dict(zip(shown, cells, strict=True))
        assert (
            row[2] == turn.ok and row[4] == turn.ttft_s.p50 and row[9] == turn.cost_per_request_usd
        )
        assert text["cache hit rate (%)"] == (
            "-" if turn.cache_hit_rate is None else f"{turn.cache_hit_rate * 100:.1f}%"
        )
        assert text["prompt tokens (mean)"] == f"{turn.prompt_tokens_mean:,.0f}"
    routed = [
        dict(zip(shown, c, strict=True))["routed to (ok requests)"] for c in auto_turns.cells()
    ]
    assert routed == ["gpt-4o 2", "gpt-4o 1, gpt-4o-mini 1", "gpt-4o 2"]


@pytest.mark.slow
def test_the_report_has_the_section_its_csv_and_its_chart(run: Run, report: Path) -> None:
    markdown = (report / "report.md").read_text()
    section = markdown.split(f"### {TITLE}")[1].split("## Method")[0]
    assert "**Prompt caching and conversations per arm: conv**" in section
    assert "**By turn: auto (conv)**" in section and "**By turn: gpt-4o-mini (conv)**" in section
    assert "| gpt-4o 1, gpt-4o-mini 1 |" in section
    caps = _summary(run).arm("auto").output_caps
    assert caps is not None
    assert f"auto by {caps.honoured_share * 100:.1f}% of {caps.rows} answers, 1 over the cap" in (
        section
    )
    assert "](charts/load-conversation-turns.png)" in section
    assert "cached_tokens" in markdown.split("## Method")[1]  # the method says how
    with open(report / "tables" / "cache-conv.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        arm = _summary(run).arm(row["arm"])
        assert arm.cache is not None and arm.conversations is not None
        assert float(row["cache hit rate (share)"]) == pytest.approx(arm.cache.hit_rate)
        assert float(row["cost without caching (USD)"]) == pytest.approx(
            arm.cache.cost_without_cache_usd
        )
        assert int(float(row["cached tokens (n)"])) == arm.cache.cached_tokens
        assert float(row["TTFT cached p50 (s)"]) == pytest.approx(arm.cache.ttft_cached_s.p50)
        assert int(float(row["model switches (n)"])) == arm.conversations.switches
    assert (report / "tables" / "turns-conv-auto.csv").is_file()
    png = (report / "charts" / "load-conversation-turns.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5_000
    svg = ET.parse(report / "charts" / "load-conversation-turns.svg").getroot()
    words = " ".join(el.text or "" for el in svg.iter() if el.tag.endswith("text"))
    assert "auto (n=6)" in words and "gpt-4o-mini (n=6)" in words
    html = (report / "index.html").read_text()
    assert f"<h3>{TITLE}</h3>" in html and 'id="cache-conv"' in html
    assert 'id="load-conversation-turns"' in html


@pytest.mark.slow
def test_the_html_section_renders_in_chromium(report: Path) -> None:
    page = check_page(report / "index.html")
    assert page.console_errors == [] and page.external_requests == []
    assert len(page.images) == len(list((report / "charts").glob("*.png")))
    assert all(loaded and width > 300 for _, loaded, width in page.images)
    assert any(src.startswith("data:image/png") for src, _, _ in page.images)


def test_the_chart_draws_the_summary_by_turn(run: Run, caplog) -> None:
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="matplotlib"), warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = charts.conversation_turns([("run", run.parts[0])], Palette(), simulated=True)
        assert isinstance(fig, Figure)
        charts.freeze_layout(fig)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    ttft, cost, hits = fig.axes[:3]
    conv = _summary(run).arm("auto").conversations
    assert conv is not None
    (line,) = [ln for ln in ttft.lines if ln.get_label() == "auto (n=6)"]
    assert list(line.get_xdata()) == [1, 2, 3]
    assert np.allclose(line.get_ydata(), [t.ttft_s.p50 * 1000 for t in conv.by_turn])
    (line,) = [ln for ln in cost.lines if ln.get_label() == "auto (n=6)"]
    assert np.allclose(line.get_ydata(), [t.cost_per_request_usd for t in conv.by_turn])
    (line,) = [ln for ln in hits.lines if ln.get_label() == "auto (n=6)"]
    assert np.allclose(line.get_ydata(), [t.cache_hit_rate * 100 for t in conv.by_turn])
    labels = " | ".join(ax.get_xlabel() + " | " + ax.get_ylabel() for ax in fig.axes)
    spec = next(s for s in charts.CHARTS if s.function is charts.conversation_turns)
    assert spec.section == "conversations"
    assert all(unit in labels for unit in spec.units), labels


def test_a_run_without_a_cache_report_draws_no_hit_rate_and_says_so(tmp_path: Path) -> None:
    run = write_conversation_run(tmp_path / "nocache", cached=False)
    summary = _summary(run)
    assert summary.arm("auto").cache is None and summary.arm("auto").conversations is not None
    fig = charts.conversation_turns([("run", run.parts[0])], Palette())
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    assert "not shown, no turn has a value: cache hit rate" in fig.get_suptitle()
    table, *_ = section_tables(run.parts[0])
    assert table.cells()[0][1] == "-"  # no hit rate, not 0%


def test_cache_without_conversations_gets_the_section_and_a_note_for_the_chart(
    tmp_path: Path,
) -> None:
    run = write_conversation_run(tmp_path / "single", turns=False)
    assert _summary(run).arm("auto").conversations is None
    tables = section_tables(run.parts[0])
    assert len(tables) == 1  # no by-turn tables
    note = charts.conversation_turns([("run", run.parts[0])], Palette())
    assert isinstance(note, charts.Note) and "single-turn" in note.text


def test_nothing_is_added_for_a_run_without_these_figures(tmp_path: Path) -> None:
    plain = write_run(tmp_path / "plain", Shape())
    summary = _summary(plain)
    assert all(a.cache is None and a.conversations is None for a in summary.arms)
    doc = build_document([plain])
    assert not any(isinstance(b, Heading) and b.text == TITLE for b in doc.blocks)
    assert not any(isinstance(b, ChartBlock) and "conversation" in b.key for b in doc.blocks)
    assert not any(t.key.startswith(("cache-", "turns-")) for t in doc.tables())
    assert "cached_tokens" not in " ".join(b.text for b in doc.blocks if isinstance(b, Paragraph))
    assert not any("prompt tokens" in s for s in headline(plain))
    assert console.caching_table(summary) is None and console.caching_notes(summary) == []
    assert output_cap_line(plain.parts[0]) is None  # these records sent no max_tokens


def test_a_cache_that_never_hit_shows_only_when_a_shared_prefix_asked_for_it(
    tmp_path: Path,
) -> None:
    """Targets report cached_tokens = 0 on every miss: an ordinary run must not grow a section
    of zeros, but a run that sent a shared prefix to find the cache has found it missing."""
    plain = write_conversation_run(tmp_path / "zero", turns=False, hits=False)
    summary = _summary(plain)
    assert all(a.cache is not None and a.cache.cached_tokens == 0 for a in summary.arms)
    doc = build_document([plain])
    assert not any(isinstance(b, Heading) and b.text == TITLE for b in doc.blocks)
    assert section_tables(plain.parts[0]) == []
    assert not any("prompt tokens" in s for s in headline(plain))
    assert console.caching_table(summary) is None
    asked = write_conversation_run(tmp_path / "asked", turns=False, hits=False, prefix=1500)
    assert any(isinstance(b, Heading) and b.text == TITLE for b in build_document([asked]).blocks)
    (table,) = section_tables(asked.parts[0])
    assert [cells[1] for cells in table.cells()] == ["0.0%", "0.0%"]
    assert "served 0% of prompt tokens on auto" in " ".join(headline(asked))
    assert console.caching_table(_summary(asked), prefix_asked=True) is not None


def test_output_caps_alone_print_a_line_only_when_an_answer_ran_over(tmp_path: Path) -> None:
    run = write_conversation_run(tmp_path / "caps", turns=False, cached=False)
    summary = _summary(run)
    assert all(a.cache is None and a.conversations is None for a in summary.arms)
    caps = summary.arm("auto").output_caps
    assert caps is not None and caps.over_cap == 1
    doc = build_document([run])
    assert not any(isinstance(b, Heading) and b.text == TITLE for b in doc.blocks)
    lines = [b.text for b in doc.blocks if isinstance(b, Paragraph) and "max_tokens" in b.text]
    assert lines == [output_cap_line(run.parts[0])]
    assert "1 over the cap" in lines[0]
    notes = console.caching_notes(summary)
    assert notes == [
        f"max_tokens: auto honoured it in 83.3% of {caps.rows} answers; 1 ran over the cap"
    ]
    honest = replace(caps, within_cap=caps.rows, over_cap=0)
    arms = tuple(replace(a, output_caps=honest) if a.arm == "auto" else a for a in summary.arms)
    assert console.caching_notes(replace(summary, arms=arms)) == []


def test_the_headline_states_the_cache_and_the_switches(run: Run) -> None:
    sentence = next(s for s in headline(run) if s.startswith("Prompt caching served"))
    auto = _summary(run).arm("auto")
    assert auto.cache is not None and auto.conversations is not None
    assert auto.cache.hit_rate is not None and auto.cache.saved_usd is not None
    assert f"served {auto.cache.hit_rate:.0%} of prompt tokens on auto (n={auto.cache.rows}" in (
        sentence
    )
    share = auto.cache.saved_usd / auto.cache.cost_without_cache_usd
    assert f"{share:.0%} of the cost" in sentence
    assert "auto switched models 1.00 times per conversation (n=2)" in sentence
    # $0.0018848 (see the per-arm table's test), to two significant digits.
    assert auto.conversations.lost_discount_usd == pytest.approx(0.0018848)
    assert "losing an estimated $0.0019 of cache discount" in sentence
    assert len(headline(run)) <= 5


def _console_text(summary: RunSummary) -> str:
    table = console.caching_table(summary)
    assert table is not None
    capture = Console(file=io.StringIO(), width=80, color_system=None)
    capture.print(table)
    return capture.file.getvalue()


def _rows(text: str) -> dict[str, str]:
    """The first arm's cell of each metric row of a printed rich table of two arms."""
    lines = [line.split("│") for line in text.splitlines() if line.count("│") == 4]
    return {cells[1].strip(): cells[2].strip() for cells in lines}


def test_the_console_table_states_each_figure_with_its_n(run: Run) -> None:
    summary = _summary(run)
    text = _console_text(summary)
    assert max(len(line) for line in text.splitlines()) <= 80
    auto = summary.arm("auto")
    assert auto.cache is not None and auto.conversations is not None and auto.output_caps
    rows = _rows(text)
    assert rows["cache hit (% prompt tok)"] == f"{auto.cache.hit_rate * 100:.1f}% (n=6)"
    assert rows["cost with caching (USD)"] == f"{auto.cache.cost_usd:.6f}"
    assert rows["cost w/o caching (USD)"] == f"{auto.cache.cost_without_cache_usd:.6f}"
    hit = auto.cache.ttft_cached_s
    assert rows["TTFT p50 cache hit (ms)"] == f"{hit.p50 * 1000:.1f} (n={hit.n})"
    assert rows["switches / conversation"] == "1.00 (n=2)"
    assert rows["lost cache discount (USD)"] == f"{auto.conversations.lost_discount_usd:.6f}"
    assert rows["max_tokens honoured"] == f"{auto.output_caps.honoured_share * 100:.1f}% (n=6)"
    assert rows["over max_tokens (n)"] == "1"


def test_models_without_a_known_discount_are_named_where_the_costs_are(run: Run) -> None:
    records = read_compact(run.parts[0].path, list(INPUT_COLUMNS))
    summary = summarize_run(records, discounts={"gpt-4o": 1.25})  # gpt-4o-mini has none
    assert summary.arm("gpt-4o-mini").cache.unpriced_models == ("gpt-4o-mini",)  # type: ignore[union-attr]
    assert console.caching_notes(summary) == [
        "cache costs leave out requests of models without a known cache discount: gpt-4o-mini"
    ]
    part = replace(run.parts[0], summary=summary)
    table, *_ = section_tables(part)
    assert "no cache discount known for gpt-4o-mini" in table.note
    mini = dict(zip([c.name for c in table.columns], table.rows[1], strict=True))
    assert mini["cost with caching (USD)"] is None and mini["saved (USD)"] is None
    assert table.cells()[1][4:7] == ["-", "-", "-"]  # unknown, never $0


def test_a_comparison_relabels_the_section_per_run(run: Run, tmp_path: Path) -> None:
    other = write_conversation_run(tmp_path / "conv-b")
    doc = build_document([run, other])
    keys = [t.key for t in doc.tables() if t.key.startswith(("cache-", "turns-"))]
    assert len(keys) == 6 and len(set(keys)) == 6
    fig = charts.conversation_turns([("a", run.parts[0]), ("b", other.parts[0])], Palette())
    assert isinstance(fig, Figure)
    labels = {ln.get_label() for ln in fig.axes[0].lines}
    assert {"auto · a (n=6)", "auto · b (n=6)"} <= labels


@pytest.mark.slow
def test_a_multi_turn_emulator_run_gets_the_section(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """End to end: the built-in emulator, four-turn conversations over a shared prefix."""
    from auraon_bench.load.arrivals import ScheduleSpec
    from auraon_bench.load.session import LoadOptions, run_load

    options = LoadOptions(
        arms=("auto", "gpt-4o-mini"),
        spec=ScheduleSpec(profile="concurrent", concurrency=4, requests=8),
        turns=4,
        shared_prefix_tokens=1500,
        input_tokens=60,
        output_tokens=40,
        time_scale=0.01,
        out=tmp_path / "run",
    )
    result = run_load(options)
    summary = result.summary
    assert all(a.conversations is not None for a in summary.arms)
    capture = Console(file=io.StringIO(), width=80, color_system=None)
    monkeypatch.setattr(console, "out", capture)
    console.print_run_summary(result)
    printed = capture.file.getvalue()
    assert "prompt caching and conversations" in printed
    first = summary.arms[0].conversations
    assert first is not None
    assert _rows(printed)["conversations (n)"] == f"{first.conversations:,}"
    out = tmp_path / "report"
    write_report([result.run_dir], out, ("md", "html", "csv", "png"))
    markdown = (out / "report.md").read_text()
    assert f"### {TITLE}" in markdown
    assert (out / "charts" / "load-conversation-turns.png").read_bytes()[:4] == b"\x89PNG"
    name = read_run(result.run_dir).parts[0].name
    with open(out / "tables" / f"cache-{name}.csv", newline="") as handle:
        rows = {row["arm"]: row for row in csv.DictReader(handle)}
    for arm in summary.arms:
        row, conv = rows[str(arm.arm)], arm.conversations
        assert conv is not None and int(row["conversations (n)"]) == conv.conversations
        if arm.cache is not None:  # the emulator reports cached_tokens once it has a cache
            assert float(row["cache hit rate (share)"]) == pytest.approx(arm.cache.hit_rate)
            assert int(float(row["cached tokens (n)"])) == arm.cache.cached_tokens
        else:
            assert row["cache hit rate (share)"] == ""
    assert (out / "tables" / f"turns-{name}-auto.csv").is_file()
