"""Tests for manifest.json, secret redaction, run ids and run directories (results.manifest)."""

from __future__ import annotations

import errno
import os
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import orjson
import pytest

import auraon_bench
from auraon_bench.errors import ConfigError
from auraon_bench.results import layout
from auraon_bench.results.manifest import (
    CLOCK,
    Manifest,
    create_run_dir,
    git_sha,
    mask_secret,
    new_run_id,
    redact_secrets,
)
from auraon_bench.results.schema import SCHEMA_VERSION
from auraon_bench.results.sink import ResultsWriteError

KEY = "br-Zq8xLm2Pv7Rt5Wn3abcd"
OTHER_KEY = "sk-proj-AAAAbbbbCCCCddddWXYZ"


def on_disk(run_dir: Path) -> dict:
    return orjson.loads((run_dir / "manifest.json").read_bytes())


# --- creating and updating ------------------------------------------------------------


def test_create_writes_every_fixed_field(tmp_path: Path):
    manifest = Manifest.create(tmp_path, "20261125-181500-3fa2", ["auraon-bench", "run"])
    data = on_disk(tmp_path)
    assert data == manifest.data
    assert data["schema_version"] == SCHEMA_VERSION
    assert data["tool_version"] == auraon_bench.__version__
    assert data["run_id"] == "20261125-181500-3fa2"
    assert data["command"] == ["auraon-bench", "run"]
    assert data["status"] == "running"
    assert data["clock"] == CLOCK
    created = datetime.fromisoformat(data["created_utc"])
    assert created.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - created) < timedelta(minutes=5)
    env = data["environment"]
    assert set(env) == {
        "python_version",
        "implementation",
        "platform",
        "machine",
        "cpu_count",
        "cpu_model",
        "hostname",
    }
    assert env["python_version"].startswith("3.") and env["cpu_count"] >= 1
    assert data["git_sha"] is None  # the tests run in tmp_path, outside any repository


def test_sections_are_set_at_create_and_replaced_by_update(tmp_path: Path):
    manifest = Manifest.create(
        tmp_path, "r", [], target={"base_url": "http://127.0.0.1:9"}, options={"rate": 5}
    )
    manifest.update(
        status="complete",
        counts={"ok": np.int64(98), "timeout": 2},
        cost={"total_usd": np.float64(0.25)},
        self_check={"passed": True},
        warnings=["clock skew"],
    )
    manifest.add_warning("two arms")
    data = on_disk(tmp_path)
    assert data["target"] == {"base_url": "http://127.0.0.1:9"}
    assert data["options"] == {"rate": 5}
    assert data["status"] == "complete"
    assert data["counts"] == {"ok": 98, "timeout": 2}
    assert data["cost"] == {"total_usd": 0.25}
    assert data["warnings"] == ["clock skew", "two arms"]
    assert data["updated_utc"] >= data["created_utc"]
    assert Manifest.load(tmp_path).data == data


def test_update_replaces_the_file_atomically_and_leaves_no_temp_file(tmp_path: Path):
    manifest = Manifest.create(tmp_path, "r", [])
    inode_before = (tmp_path / "manifest.json").stat().st_ino
    manifest.update(status="complete")
    assert (tmp_path / "manifest.json").stat().st_ino != inode_before  # a new file, renamed in
    assert sorted(os.listdir(tmp_path)) == ["manifest.json"]


def test_a_failed_update_keeps_the_old_file_and_the_old_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    manifest = Manifest.create(tmp_path, "r", [], status="running")
    before = (tmp_path / "manifest.json").read_bytes()

    def disk_full(src, dst):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dst))

    monkeypatch.setattr(layout.os, "replace", disk_full)
    with pytest.raises(ResultsWriteError, match=r"manifest\.json: cannot write the manifest"):
        manifest.update(status="failed")
    assert (tmp_path / "manifest.json").read_bytes() == before
    assert os.listdir(tmp_path) == ["manifest.json"]
    assert manifest["status"] == "running"


def test_a_value_json_cannot_hold_fails_before_touching_the_file(tmp_path: Path):
    manifest = Manifest.create(tmp_path, "r", [])
    before = (tmp_path / "manifest.json").read_bytes()
    with pytest.raises(TypeError, match="object"):
        manifest.update(options={"callback": object()})
    assert (tmp_path / "manifest.json").read_bytes() == before
    assert os.listdir(tmp_path) == ["manifest.json"]


def test_create_refuses_to_replace_another_runs_manifest(tmp_path: Path):
    Manifest.create(tmp_path, "first", [])
    with pytest.raises(ConfigError, match="already has a manifest"):
        Manifest.create(tmp_path, "second", [])
    assert on_disk(tmp_path)["run_id"] == "first"


def test_unknown_sections_and_bad_values_are_refused(tmp_path: Path):
    manifest = Manifest.create(tmp_path, "r", [])
    with pytest.raises(TypeError, match="unknown manifest section"):
        manifest.update(run_id="other")
    with pytest.raises(ValueError, match="status"):
        manifest.update(status="done")
    with pytest.raises(TypeError, match="warnings"):
        manifest.update(warnings="one string")


# --- loading --------------------------------------------------------------------------


def test_load_refuses_a_newer_schema_version_naming_the_file(tmp_path: Path):
    Manifest.create(tmp_path, "r", [])
    path = tmp_path / "manifest.json"
    data = orjson.loads(path.read_bytes())
    data["schema_version"] = SCHEMA_VERSION + 1
    path.write_bytes(orjson.dumps(data))
    with pytest.raises(ConfigError, match=f"schema version {SCHEMA_VERSION + 1}") as info:
        Manifest.load(tmp_path)
    assert str(info.value).startswith(f"{path}, field 'schema_version': ")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "cannot read manifest"), (b"{not json", "not valid JSON"), (b"[]", "not a JSON")],
)
def test_load_reports_a_missing_or_broken_manifest(tmp_path: Path, content, message):
    if content is not None:
        (tmp_path / "manifest.json").write_bytes(content)
    with pytest.raises(ConfigError, match=message) as info:
        Manifest.load(tmp_path)
    assert str(tmp_path / "manifest.json") in str(info.value)
    assert "\n" not in str(info.value)


# --- redaction ------------------------------------------------------------------------


def test_redact_secrets_masks_api_key_values_and_key_shaped_strings():
    argv = [
        "auraon-bench",
        "run",
        "--api-key",
        KEY,
        "--api-key=hunter2-is-my-password",
        "--header",
        f"Authorization: Bearer {OTHER_KEY}",
        "--api-key",
        "short",
        "--model",
        "task-abcdefghijkl",  # "sk-" inside a word is not a key
    ]
    assert redact_secrets(argv) == [
        "auraon-bench",
        "run",
        "--api-key",
        "br-…abcd",
        "--api-key=…word",
        "--header",
        "Authorization: Bearer sk-…WXYZ",
        "--api-key",
        "…",
        "--model",
        "task-abcdefghijkl",
    ]
    assert argv[3] == KEY  # the input is not modified


def test_mask_secret_keeps_no_tail_of_a_short_secret():
    assert mask_secret("ar-12345678") == "ar-…5678"
    assert mask_secret("ar-1234567") == "ar-…"
    assert mask_secret("abc") == "…"


def test_no_key_reaches_the_file_wherever_it_was_put(tmp_path: Path):
    manifest = Manifest.create(
        tmp_path,
        "r",
        ["auraon-bench", "run", "--api-key", KEY, "--target", "http://x"],
        target={"base_url": "http://x", "api_key": KEY, "headers": {"Authorization": "Bearer x"}},
        options={"argv_copy": [f"--api-key={KEY}"], "note": f"using {OTHER_KEY}"},
    )
    manifest.update(warnings=[f"key {KEY} is rate limited"], self_check={"token": "opaque123456"})
    text = (tmp_path / "manifest.json").read_text(encoding="utf-8")
    for secret in (KEY, OTHER_KEY, KEY[3:-4], "opaque123456", "Bearer x"):
        assert secret not in text
    assert "br-…abcd" in text and "sk-…WXYZ" in text
    assert on_disk(tmp_path)["target"]["base_url"] == "http://x"


# --- git ------------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_git_sha_is_the_head_of_the_repository_around_the_working_directory(tmp_path: Path):
    assert git_sha(tmp_path) is None
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    ident = ["-c", "user.name=t", "-c", "user.email=t@example.com"]
    for args in (["init", "-q"], [*ident, "commit", "-q", "--allow-empty", "-m", "x"]):
        subprocess.run(["git", *args], cwd=tmp_path, env=env, check=True)
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert git_sha(tmp_path) == head
    (tmp_path / "run").mkdir()
    Manifest.create(tmp_path / "run", "r", [])
    assert on_disk(tmp_path / "run")["git_sha"] == head  # the cwd is tmp_path (conftest)


# --- run ids and directories ----------------------------------------------------------


def test_new_run_id_is_utc_time_plus_four_hex_characters():
    now = datetime(2026, 11, 25, 19, 15, 0, tzinfo=timezone(timedelta(hours=1)))
    run_id = new_run_id(now)
    assert re.fullmatch(r"20261125-181500-[0-9a-f]{4}", run_id)
    assert re.fullmatch(r"\d{8}-\d{6}-[0-9a-f]{4}", new_run_id())
    assert len({new_run_id(now) for _ in range(50)}) > 1


def test_create_run_dir_creates_parents_and_accepts_an_empty_directory(tmp_path: Path):
    run_dir = create_run_dir(tmp_path / "results" / "nested", "20261125-181500-3fa2")
    assert run_dir == tmp_path / "results" / "nested" / "20261125-181500-3fa2"
    assert run_dir.is_dir()
    assert create_run_dir(tmp_path / "results" / "nested", "20261125-181500-3fa2") == run_dir


def test_create_run_dir_refuses_a_non_empty_directory(tmp_path: Path):
    run_dir = create_run_dir(tmp_path, "run-1")
    (run_dir / "manifest.json").write_text("{}")
    with pytest.raises(ConfigError, match="already exists and is not empty") as info:
        create_run_dir(tmp_path, "run-1")
    assert str(info.value).startswith(f"{run_dir}: ")


@pytest.mark.parametrize("run_id", ["", ".", "..", "../escape", "a/b", "a\\b", "nul\0"])
def test_create_run_dir_refuses_a_name_that_is_not_one_plain_component(tmp_path: Path, run_id):
    with pytest.raises(ConfigError, match="not a valid run directory name"):
        create_run_dir(tmp_path, run_id)


def test_create_run_dir_accepts_any_other_name_a_user_may_pass_as_out(tmp_path: Path):
    assert create_run_dir(tmp_path, "my run+v2 (ü)").name == "my run+v2 (ü)"


def test_create_run_dir_under_a_file_is_a_write_error_naming_the_path(tmp_path: Path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ResultsWriteError) as info:
        create_run_dir(tmp_path / "file", "r")
    assert str(info.value).startswith(f"{tmp_path / 'file' / 'r'}: cannot create the run dir")
