"""Preflight: the arms against the target's ``/models``, before any load is sent.

An arm the target does not list is one line naming the arm and what is listed (for ``load``,
``eval`` and every part of ``run``), ``--allow-unlisted-models`` / ``allow_unlisted_models``
turns it into a warning, and a target without a usable list is a warning that the check could
not be done: on the console and in the manifest.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from auraon_bench.cli.main import cli
from auraon_bench.client.http import MeasuringClient
from auraon_bench.client.listing import ModelListing, parse_page
from auraon_bench.errors import ConfigError, TargetError
from auraon_bench.experiment.runner import run_experiment
from auraon_bench.experiment.schema import load_experiment
from auraon_bench.load.arrivals import ScheduleSpec
from auraon_bench.load.preflight import UNCHECKED, check_arms, price_table, require_listed
from auraon_bench.load.session import LoadOptions, run_load
from auraon_bench.load.target import AURAON_BASE_URL
from auraon_bench.prices.table import PriceTable
from tests.conftest import FIXTURES
from tests.scripted_server import ScriptedServer, http, read_request, serving_in_thread

URL = "http://gw.test/v1/models"


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


LISTED = ModelListing(URL, ("gpt-4o", "gpt-4o-mini", "claude-sonnet-4-6"))


# --- pure: the page parser and the check --------------------------------------------------
def test_parse_page_says_why_an_answer_is_not_a_model_list() -> None:
    assert parse_page(200, b'{"data": [{"id": "a"}, {"id": "b"}]}', URL) == (["a", "b"], None)
    more = b'{"data": [{"id": "a"}], "has_more": true, "last_id": "a"}'
    assert parse_page(200, more, URL) == (["a"], "a")
    assert "HTTP 404" in parse_page(404, b'{"error": {"message": "Not Found"}}', URL)
    assert "not JSON" in parse_page(200, b"<html>hello</html>", URL)
    assert "without a 'data' list" in parse_page(200, b'{"models": ["a"]}', URL)


def test_listed_arms_pass_silently() -> None:
    check = check_arms(LISTED, ["gpt-4o", "claude-sonnet-4-6"], False)
    assert (check.unlisted, check.warnings, check.refused) == ((), (), False)


def test_an_unlisted_arm_is_refused_naming_it_and_what_is_listed() -> None:
    check = check_arms(LISTED, ["gpt-4o", "gpt-4o-minii"], False)
    assert check.refused and check.unlisted == ("gpt-4o-minii",)
    message = check.error(LISTED)
    assert "'gpt-4o-minii'" in message and URL in message
    # The closest listed name comes first, then the rest; and the way out is named.
    assert "lists 3 models: gpt-4o-mini, gpt-4o, claude-sonnet-4-6" in message
    assert "--allow-unlisted-models" in message and "\n" not in message
    with pytest.raises(ConfigError, match="field '--judge'"):
        require_listed(LISTED, ["judge-model"], False, field="--judge")


def test_a_long_model_list_is_shortened_in_the_error() -> None:
    listing = ModelListing(URL, tuple(f"model-{i}" for i in range(300)))
    message = check_arms(listing, ["nope"], False).error(listing)
    assert "lists 300 models" in message and "and 280 more" in message


def test_allowing_unlisted_models_turns_the_refusal_into_a_warning() -> None:
    check = check_arms(LISTED, ["gpt-4o", "house-model"], True)
    assert not check.refused and check.unlisted == ("house-model",)
    assert len(check.warnings) == 1 and "house-model" in check.warnings[0]
    assert "--allow-unlisted-models" in check.warnings[0]


def test_no_usable_list_is_a_warning_that_the_check_was_not_done() -> None:
    listing = ModelListing(URL, None, f"GET {URL} answered HTTP 404")
    check = check_arms(listing, ["anything", "auto"], False)
    assert not check.refused
    assert check.warnings == (
        f"{UNCHECKED}: GET {URL} answered HTTP 404; sent unchecked: anything, auto",
    )


def test_auto_must_be_listed_except_at_auraons_documented_api() -> None:
    # Elsewhere auto is an arm like any other (LiteLLM has no "auto").
    assert check_arms(LISTED, ["auto"], False).refused
    # Auraon's API reference documents "auto" as a model id: unlisted there, it is a warning.
    auraon = ModelListing(f"{AURAON_BASE_URL}/models", ("gpt-4o",))
    check = check_arms(auraon, ["auto", "gpt-4o"], False)
    assert not check.refused and "documents it" in check.warnings[0]
    # Its modes are not documented there: they must be listed.
    assert check_arms(auraon, ["auto:fast"], False).refused


def test_a_list_cut_short_warns_instead_of_refusing() -> None:
    partial = ModelListing(URL, ("a",), "GET ... answered HTTP 500", complete=False)
    check = check_arms(partial, ["b"], False)
    assert not check.refused and "could be read" in check.warnings[0]


# --- the list over HTTP -------------------------------------------------------------------
def models_page(ids: list[str], *, more: bool, seen: list[bytes]):
    async def behave(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        seen.append(head.split(b"\r\n")[0])
        body = orjson.dumps(
            {"data": [{"id": i} for i in ids], "has_more": more, "last_id": ids[-1]}
        )
        await http("200 OK", body)(_reader(head), writer)

    return behave


def _reader(head: bytes) -> asyncio.StreamReader:
    replay = asyncio.StreamReader()
    replay.feed_data(head)
    replay.feed_eof()
    return replay


@pytest.mark.anyio
async def test_every_page_of_the_list_is_read() -> None:
    seen: list[bytes] = []
    pages = [
        models_page(["a", "b"], more=True, seen=seen),
        models_page(["c"], more=False, seen=seen),
    ]
    async with ScriptedServer(pages) as server:
        async with MeasuringClient(server.base_url) as client:
            listing = await client.list_models(timeout=5)
    assert listing.ids == ("a", "b", "c") and listing.complete and not listing.emulator
    assert seen[1].startswith(b"GET /v1/models?after=b ")


@pytest.mark.anyio
async def test_a_gateway_that_ignores_after_gives_its_one_page_as_the_list() -> None:
    seen: list[bytes] = []
    same = [models_page(["a", "b"], more=True, seen=seen) for _ in range(3)]
    async with ScriptedServer(same) as server:
        async with MeasuringClient(server.base_url) as client:
            listing = await client.list_models(timeout=5)
    # The second page added nothing: stop there, and the list still refuses unknown arms.
    assert listing.ids == ("a", "b") and listing.complete and len(seen) == 2
    assert check_arms(listing, ["c"], False).refused


@pytest.mark.anyio
async def test_a_404_or_non_json_list_is_unavailable_not_an_error() -> None:
    answers = [http("404 Not Found", b"not here", "text/plain"), http("200 OK", b"<html/>")]
    async with ScriptedServer(answers) as server:
        async with MeasuringClient(server.base_url) as client:
            missing = await client.list_models(timeout=5)
            garbled = await client.list_models(timeout=5)
    assert missing.ids is None and "HTTP 404" in (missing.problem or "")
    assert garbled.ids is None and "not JSON" in (garbled.problem or "")


@pytest.mark.anyio
async def test_the_old_check_target_still_answers_a_list(emulator) -> None:
    async with MeasuringClient(emulator.base_url, emulator.demo_key("pro")) as client:
        listing = await client.list_models()
        ids = await client.check_target()
    # The emulator lists auto and its modes; it marks its answers, so estimates count its way.
    assert ids == list(listing.ids or ()) and {"auto", "auto:fast", "gpt-4o"} <= set(ids)
    assert listing.emulator
    async with MeasuringClient(emulator.base_url, "br-not-a-key-0000") as client:
        with pytest.raises(TargetError, match="rejected the API key"):
            await client.list_models()


# --- load, eval, run ----------------------------------------------------------------------
@pytest.mark.slow
def test_load_refuses_an_unlisted_arm_before_writing_anything(tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = invoke(
        "load", "--time-scale", "0", "--model", "gpt-4o", "--model", "gpt-5-nope",
        "--requests", "2", "--out", str(out),
    )  # fmt: skip
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "'gpt-5-nope' not served" in result.output and "gpt-4o-mini" in result.output
    assert not out.exists()


@pytest.mark.slow
def test_eval_checks_the_judge_model_too(tmp_path: Path) -> None:
    result = invoke(
        "eval", "--time-scale", "0", "--dataset", str(FIXTURES / "sample.jsonl"),
        "--model", "gpt-4o", "--judge", "judge-nope", "--out", str(tmp_path / "run"),
    )  # fmt: skip
    assert result.exit_code != 0 and "field '--judge'" in result.output
    assert "'judge-nope' not served" in result.output
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_allowed_unlisted_arm_warns_on_the_console_and_in_the_manifest(tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = invoke(
        "load", "--time-scale", "0", "--model", "gpt-5-nope", "--requests", "2",
        "--allow-unlisted-models", "--out", str(out),
    )  # fmt: skip
    output = " ".join(result.output.split())  # the console wraps long lines
    assert "Traceback" not in output
    assert "WARNING: not in the target's model list" in output
    assert "sent anyway (--allow-unlisted-models): gpt-5-nope" in output
    manifest = json.loads((out / "manifest.json").read_text())
    assert any("gpt-5-nope" in w and "sent anyway" in w for w in manifest["warnings"])
    assert "gpt-4o" in manifest["target"]["models"]["listed"]
    assert manifest["options"]["allow_unlisted_models"] is True


CHAT = orjson.dumps(
    {
        "id": "x",
        "model": "house-model",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 12, "completion_tokens": 2},
    }
)


def test_a_target_without_a_model_list_is_run_with_a_warning(tmp_path: Path) -> None:
    async def no_models(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await http("404 Not Found", b'{"error": {"message": "no such route"}}')(
            _reader(b"GET / HTTP/1.1\r\n\r\n"), writer
        )

    answers = [no_models, http("200 OK", CHAT), http("200 OK", CHAT)]
    with serving_in_thread(ScriptedServer(answers)) as server:
        out = tmp_path / "run"
        result = invoke(
            "load", "--base-url", server.base_url, "--api-key", "sk-test-0000000000",
            "--model", "house-model", "--requests", "2", "--no-stream", "--yes",
            "--concurrency", "1", "--out", str(out),
        )  # fmt: skip
    output = " ".join(result.output.split())  # the console wraps long lines
    assert "Traceback" not in output, output
    assert f"WARNING: {UNCHECKED}" in output and "HTTP 404" in output
    manifest = json.loads((out / "manifest.json").read_text())
    assert any(w.startswith(UNCHECKED) for w in manifest["warnings"])
    assert manifest["target"]["models"]["listed"] is None
    # Nobody priced house-model: no cost, and the estimate said so instead of inventing one.
    assert manifest["cost"]["estimate"]["unpriced_arms"] == ["house-model"]
    assert manifest["cost"]["estimated_usd"] is None


EXPERIMENT = """\
name = "preflight"
arms = ["gpt-4o-mini", "{arm}"]

[target]
time_scale = 0.0
{allow}

[[load]]
name = "steady"
profile = "concurrent"
concurrency = 1
requests = 2
arms = ["gpt-4o", "{load_arm}"]
"""


def experiment(tmp_path: Path, arm: str, load_arm: str, allow: str = "") -> Path:
    path = tmp_path / "preflight.toml"
    path.write_text(EXPERIMENT.format(arm=arm, load_arm=load_arm, allow=allow))
    return path


@pytest.mark.slow
def test_run_checks_every_parts_arms_before_any_part_starts(tmp_path: Path) -> None:
    path = experiment(tmp_path, "gpt-4o", "no-such-arm")
    with pytest.raises(ConfigError) as info:
        run_experiment(load_experiment(path), out=tmp_path / "run")
    message = str(info.value)
    assert message.startswith(f"{path}:13, field 'load.steady.arms'")
    assert "'no-such-arm' not served" in message and "allow_unlisted_models" in message
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_an_inherited_arm_is_named_where_it_was_written(tmp_path: Path) -> None:
    # The evaluation takes the top-level arms: the error points at them, not at [eval].
    path = experiment(tmp_path, "no-such-arm", "gpt-4o-mini")
    path.write_text(path.read_text() + f'\n[eval]\ndatasets = ["{FIXTURES / "sample.jsonl"}"]\n')
    with pytest.raises(ConfigError) as info:
        run_experiment(load_experiment(path), out=tmp_path / "run")
    assert str(info.value).startswith(f"{path}:2, field 'arms': arm 'no-such-arm' not served")


def test_a_prices_file_reaches_every_worker_process(tmp_path: Path) -> None:
    import pickle

    path = tmp_path / "prices.toml"
    path.write_text('[models."m"]\ninput = 1\noutput = 2\n')
    table = price_table(str(path))
    # Worker processes get the coordinator's table itself (pickled), not the file's path.
    copied = pickle.loads(pickle.dumps(table))
    assert copied.cost("m", 1_000_000, 1_000_000) == table.cost("m", 1_000_000, 1_000_000) == 3.0


@pytest.mark.slow
def test_run_allows_unlisted_arms_from_the_target_table_with_a_warning(tmp_path: Path) -> None:
    path = experiment(tmp_path, "gpt-4o", "no-such-arm", "allow_unlisted_models = true")
    spec = load_experiment(path)
    assert spec.target.allow_unlisted_models is True
    result = run_experiment(spec, out=tmp_path / "run")
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    for warnings in (result.warnings, manifest["warnings"]):
        assert sum("no-such-arm" in w and "sent anyway" in w for w in warnings) == 1


def test_a_bad_allow_unlisted_models_value_names_its_line(tmp_path: Path) -> None:
    path = experiment(tmp_path, "gpt-4o", "gpt-4o-mini", 'allow_unlisted_models = "yes"')
    with pytest.raises(ConfigError, match=r":6, field 'target.allow_unlisted_models'"):
        load_experiment(path)


@pytest.mark.slow
def test_load_options_carry_a_listing_so_parts_need_not_read_it_again() -> None:
    # A listing handed in is what the arms are checked against: here it lacks the arm.
    options = LoadOptions(
        arms=("gpt-4o",),
        spec=ScheduleSpec(profile="synchronous", requests=1),
        listing=ModelListing(URL, ("other-model",)),
        time_scale=0.0,
    )
    with pytest.raises(ConfigError, match="'gpt-4o' not served by the target"):
        run_load(options)


@pytest.mark.slow
def test_limits_refuses_a_model_the_target_does_not_list(tmp_path: Path) -> None:
    out = tmp_path / "probe"
    result = CliRunner().invoke(
        cli, ["limits", "--model", "no-such-model", "--time-scale", "0.01", "--out", str(out)]
    )
    assert result.exit_code == 2, result.output
    assert "no-such-model" in result.output and "gpt-4o-mini" in result.output
    assert not (out / "requests.parquet").exists() and not (out / "limits.json").exists()


def test_the_limits_estimate_invents_no_price() -> None:
    from auraon_bench.limits.prober import Caps
    from auraon_bench.limits.session import LimitsOptions, estimate

    prices = PriceTable.builtin()
    caps = Caps(max_requests=100, max_tokens=1_000_000)
    assert estimate(LimitsOptions(model="house-model-x", caps=caps), prices)[2] is None
    n, tokens, usd = estimate(LimitsOptions(model="gpt-4o-mini", caps=caps), prices)
    price = prices.lookup("gpt-4o-mini")
    # An upper bound: every capped token at the dearer (output) rate.
    assert (n, tokens) == (100, 1_000_000) and usd == pytest.approx(price.output_per_mtok)
