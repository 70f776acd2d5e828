"""The cases of issue 16, one by one: each used to end in a traceback, a silent misreading or a
message that ran on over several lines, and each is now one ``Error:`` line (exit 2) naming the
flag, the field or the file. tests/test_cli_fuzz.py drives every option the same way; these
pin the exact wording and the behaviour behind it."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import aiohttp
import pytest
from click.testing import CliRunner, Result

from auraon_bench.analysis.limits import Finding
from auraon_bench.cli.limits import documented_cell
from auraon_bench.cli.main import cli
from auraon_bench.client.transport import not_http
from auraon_bench.emulator.server import EmulatorConfig
from auraon_bench.errors import ConfigError
from auraon_bench.experiment.schema import load_experiment
from auraon_bench.load.spec import build_spec, implied_profile, missing_settings
from auraon_bench.load.target import check_base_url, shown_url
from tests.conftest import FIXTURES

SECRET = "s3cret-pw"


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def one_error_line(result: Result) -> str:
    """The single line a refused command prints; fails on a traceback or a longer message."""
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error")]
    assert len(errors) == 1 and lines[-1] == errors[0], result.output
    return errors[0]


@contextmanager
def tcp_server(behave: Callable[[socket.socket], None]) -> Iterator[tuple[int, list[int]]]:
    """A loopback TCP server on a free port, answering each connection with ``behave`` in a
    thread; yields (port, connections accepted so far) and stops on exit."""
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.1)
    accepted: list[int] = []
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except (TimeoutError, OSError):
                continue
            accepted.append(1)
            with conn:
                conn.settimeout(2)
                with suppress(OSError):  # a client that hung up early
                    behave(conn)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1], accepted
    finally:
        stop.set()
        thread.join(5)
        server.close()


def ssh_greeting(conn: socket.socket) -> None:
    conn.sendall(b"SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13\r\n")
    conn.recv(65536)
    conn.sendall(b"Invalid SSH identification string.\r\n")


def garbage_after_request(conn: socket.socket) -> None:
    conn.recv(65536)
    conn.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http\r\n\r\n")


def close_at_once(conn: socket.socket) -> None:
    conn.recv(65536)


def http_models(conn: socket.socket) -> None:
    conn.recv(65536)
    body = b'{"object": "list", "data": [{"id": "auto"}]}'
    conn.sendall(
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def closed_url() -> str:
    return f"http://127.0.0.1:{free_port()}/v1"


# --- sweeps, profiles, experiment counts -------------------------------------------------------


@pytest.mark.parametrize(
    ("sweep", "says"),
    [
        ("c0", "'c0': a concurrency stage is c<integer >= 1>"),
        ("0,1", "'0': a rate stage must be a finite number of requests/s > 0"),
        ("-1", "'-1': a rate stage must be a finite number of requests/s > 0"),
        ("nan", "'nan': a rate stage must be a finite number"),
        ("c", "'c': a concurrency stage"),
    ],
)
def test_a_sweep_stage_that_cannot_run_is_one_line(sweep: str, says: str) -> None:
    result = invoke("load", "--base-url", closed_url(), "--api-key", "k", f"--sweep={sweep}")
    line = one_error_line(result)
    assert "--sweep" in line and says in line


@pytest.mark.parametrize(
    ("flags", "needs"),
    [
        (
            ("--profile", "ramp"),
            "--rate (the starting rate, requests/s), --ramp-to (the final rate, requests/s) "
            "and --duration (the ramp's length, s)",
        ),
        (("--profile", "ramp", "--rate", "1", "--duration", "9"), "--ramp-to (the final rate"),
        (("--profile", "ramp", "--rate", "1"), "--ramp-to (the final rate"),
        (("--profile", "ramp", "--rate", "1", "--ramp-to", "5"), "--duration (the ramp's"),
        (("--profile", "constant"), "--rate (requests per second)"),
        (("--profile", "poisson"), "--rate"),
        (("--profile", "gamma"), "--rate"),
        (("--profile", "concurrent"), "--concurrency (requests in flight)"),
        (("--profile", "sweep"), "--sweep"),
        (("--profile", "replay"), "--trace"),
    ],
)
def test_each_profile_names_the_flag_it_needs(flags: tuple[str, ...], needs: str) -> None:
    result = invoke("load", "--base-url", closed_url(), "--api-key", "k", *flags)
    line = one_error_line(result)
    profile = flags[1]
    assert f"profile '{profile}' needs {needs}" in line, line
    assert "got None" not in line


def test_profile_requirements_are_pure() -> None:
    assert missing_settings("ramp", {"rate": 0.0, "duration": 5.0}) == [
        ("ramp_to", "the final rate, requests/s")
    ]
    assert missing_settings("ramp", {"rate": 0.0, "ramp_to": 2.0, "duration": 5.0}) == []
    assert missing_settings("synchronous", {}) == []
    # A setting that is given counts, whatever its value: 0 is not "unset".
    assert implied_profile({"concurrency": 0}) == "concurrent"
    assert implied_profile({"trace": ()}) == "replay"
    with pytest.raises(ConfigError, match=r"concurrency.*>= 1, got 0"):
        build_spec({"concurrency": 0}, str)


def test_an_empty_trace_file_is_refused_not_ignored(tmp_path: Path) -> None:
    trace = tmp_path / "t.txt"
    trace.write_text("# no send times\n")
    result = invoke("load", "--base-url", closed_url(), "--api-key", "k", "--trace", str(trace))
    assert "replay needs at least one send time" in one_error_line(result)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "exp.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("table", "field", "says"),
    [
        ("concurrency = 0\nrequests = 5", "load.a.concurrency", "must be an integer >= 1, got 0"),
        ("max_attempts = 0\nrequests = 5", "load.a.max_attempts", "must be >= 1"),
        ("sweep = [0.0, 1.0]\nrequests = 5", "load.a.sweep", "a rate stage must be > 0"),
        ("sweep_concurrency = [0]", "load.a.sweep_concurrency", "a concurrency stage must be"),
        # Missing: the line of its table's header.
        ('profile = "ramp"\nrate = 1.0\nduration = 2.0', "load.a.ramp_to", "needs ramp_to"),
        ("rate = inf\nrequests = 5", "load.a.rate", "must be > 0, got inf"),
    ],
)
def test_an_experiments_impossible_count_names_file_line_and_field(
    tmp_path: Path, table: str, field: str, says: str
) -> None:
    path = write(tmp_path, f'[[load]]\nname = "a"\n{table}\n')
    with pytest.raises(ConfigError) as caught:
        load_experiment(path)
    error = caught.value
    line_number = 1 if "needs" in says else 3
    assert (error.source, error.field, error.line) == (str(path), field, line_number)
    assert says in error.message
    # Through the CLI: one line, before anything is sent (the target is a closed port).
    line = one_error_line(invoke("run", str(path), "--base-url", closed_url(), "--api-key", "k"))
    assert f"{path}:{line_number}, field '{field}'" in line


@pytest.mark.parametrize(
    ("target", "says"),
    [
        ("time_scale = nan", "must be a finite number >= 0, got nan"),
        ("timeout = inf", "must be a finite number > 0, got inf"),
        ('base_url = "127.0.0.1:4011/v1"', "needs http:// or https://"),
        ('base_url = "ftp://127.0.0.1/v1"', "not ftp://"),
        (f'base_url = "http://u:{SECRET}@127.0.0.1/v1"', "--api-key"),
    ],
)
def test_an_experiments_target_is_checked_before_it_runs(
    tmp_path: Path, target: str, says: str
) -> None:
    path = write(tmp_path, f'[target]\n{target}\n[[load]]\nname = "a"\n')
    with pytest.raises(ConfigError) as caught:
        load_experiment(path)
    assert caught.value.line == 2 and says in caught.value.message
    assert SECRET not in str(caught.value)


# --- the base URL ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "says"),
    [
        (
            "127.0.0.1:4011/v1",
            "base URL needs http:// or https:// (got '127.0.0.1:4011/v1'; did you mean "
            "'http://127.0.0.1:4011/v1'?)",
        ),
        ("ftp://127.0.0.1:4011/v1", "base URL needs http:// or https://, not ftp://"),
        ("http://", "has no host"),
        ("http://127.0.0.1:99999/v1", "Port out of range"),
        ("http://127.0.0.1:8080/v1?x=1", "without ?query or #fragment"),
        ("", "is empty"),
    ],
)
def test_a_base_url_says_what_is_wrong_with_it(url: str, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        check_base_url(url)
    assert caught.value.field == "--base-url" and says in caught.value.message


def test_a_base_url_keeps_its_path_and_loses_trailing_slashes() -> None:
    assert check_base_url(" https://gw.example/v1/ ") == "https://gw.example/v1"
    assert check_base_url("http://[::1]:8080/v1") == "http://[::1]:8080/v1"


@pytest.mark.parametrize(
    "url",
    [
        f"http://user:{SECRET}@127.0.0.1:{{port}}/v1",
        f"http://{SECRET}@127.0.0.1:{{port}}/v1",
        f"ftp://user:{SECRET}@127.0.0.1:{{port}}/v1",
        f"127.0.0.1:{SECRET}@127.0.0.1:{{port}}/v1",
        f"http://u:{SECRET}/x@127.0.0.1:{{port}}/v1",
        f"http://u:{SECRET}?x@127.0.0.1:{{port}}/v1",
    ],
)
@pytest.mark.parametrize("command", ["load", "limits", "eval"])
@pytest.mark.slow
def test_credentials_in_a_base_url_are_refused_and_never_printed(url: str, command: str) -> None:
    with tcp_server(http_models) as (port, accepted):  # a reachable target
        args = [command, "--base-url", url.format(port=port), "--api-key", "k", "--yes"]
        if command == "eval":
            args += ["--dataset", str(FIXTURES / "sample.jsonl")]
        result = invoke(*args)
    line = one_error_line(result)
    assert SECRET not in result.output
    assert "--base-url" in line
    assert accepted == [], "the target must not be contacted"
    if "://" in url:
        assert "pass the key with --api-key or AURAON_API_KEY" in line


def test_a_printed_url_hides_what_precedes_the_at_sign() -> None:
    assert shown_url(f"http://u:{SECRET}@h/v1") == "http://***@h/v1"
    assert shown_url(f"u:{SECRET}@h:1/v1") == "***@h:1/v1"
    assert shown_url(f"https://u:{SECRET}/x@y@h/v1") == "https://***@h/v1"
    assert shown_url("http://h/v1") == "http://h/v1"


@pytest.mark.parametrize(
    ("behave", "says"),
    [
        (ssh_greeting, "is this the port of an HTTP server?"),
        (garbage_after_request, "the answer is not HTTP (it began"),
        (close_at_once, "closed the connection without an HTTP answer"),
    ],
)
def test_a_port_that_does_not_speak_http_is_one_line(
    behave: Callable[[socket.socket], None], says: str
) -> None:
    with tcp_server(behave) as (port, _):
        result = invoke(
            "load", "--base-url", f"http://127.0.0.1:{port}/v1", "--api-key", "k", "--yes"
        )
    line = one_error_line(result)
    assert line.startswith(f"Error: cannot reach http://127.0.0.1:{port}/v1/models: ")
    assert says in line


def test_an_unparseable_status_line_is_one_line() -> None:
    message = "Bad status line:\n  Expected HTTP/:\n\n  b'SSH-2.0-OpenSSH_9.6'\n    ^"
    exc = aiohttp.ClientResponseError(None, (), status=400, message=message)  # type: ignore[arg-type]
    text = not_http(exc)
    assert "\n" not in text
    assert text == (
        "the answer is not HTTP (it began 'SSH-2.0-OpenSSH_9.6'): is this the port of an HTTP "
        "server?"
    )


# --- the emulator ------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-1", "1e400"])
@pytest.mark.parametrize("command", ["serve", "demo"])
def test_the_emulator_refuses_a_time_scale_that_is_not_a_finite_number(
    command: str, value: str
) -> None:
    port = ("--port", "0") if command == "serve" else ()
    line = one_error_line(invoke("emulator", command, *port, f"--time-scale={value}"))
    assert "--time-scale" in line


def test_the_emulator_config_refuses_nan_itself() -> None:
    for value in (float("nan"), float("inf"), -0.5):
        with pytest.raises(ConfigError, match="finite number >= 0"):
            EmulatorConfig(port=0, time_scale=value).validate()


@pytest.mark.slow
def test_serving_on_a_busy_port_is_one_line() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        # A process of its own: were the bind to succeed, it would serve until killed.
        done = subprocess.run(
            [sys.executable, "-m", "auraon_bench", "emulator", "serve", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        f"Error: field '--port': cannot listen on 127.0.0.1:{port}: address already in use "
        "(another server holds the port; 0 picks a free one)"
    ]


# --- plan, limits, baseline --------------------------------------------------------------------

WORKLOAD = "peak_requests_per_min = 120\nprompt_tokens = 800\ncompletion_tokens = 300\n"


def test_plan_into_a_place_it_cannot_write_is_one_line(tmp_path: Path) -> None:
    workload = tmp_path / "w.toml"
    workload.write_text(WORKLOAD)
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = invoke("plan", "--workload", str(workload), "--out", str(blocker / "plan.json"))
    line = one_error_line(result)
    assert "field '--out'" in line and "cannot write" in line


def test_plan_of_a_run_into_a_read_only_directory_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = tmp_path / "run"
    shutil.copytree(FIXTURES / "runs" / "load-sweep", run)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    if os.geteuid() == 0:  # root writes anywhere: the refusal a user would meet, simulated

        def refused(path: Path, payload: object) -> None:
            raise PermissionError(13, "Permission denied", str(path))

        monkeypatch.setattr("auraon_bench.load.session.write_json", refused)
    try:
        result = invoke("plan", str(run), "--force", "--out", str(locked / "plan.json"))
    finally:
        locked.chmod(0o755)
    line = one_error_line(result)
    assert line == f"Error: field '--out': cannot write {locked / 'plan.json'}: Permission denied"


def test_plan_never_overwrites_its_input_or_a_runs_files(tmp_path: Path) -> None:
    workload = tmp_path / "w.toml"
    workload.write_text(WORKLOAD)
    line = one_error_line(invoke("plan", "--workload", str(workload), "--out", str(workload)))
    assert "is also an input" in line
    assert workload.read_text() == WORKLOAD


def finding(check: str, documented: float | None) -> Finding:
    return Finding(check, 50.0, documented, "requests/min", "unknown", "", 10)


def test_limits_says_unknown_for_an_unknown_plan_and_unlimited_only_when_documented() -> None:
    sustainable = finding("sustainable requests/min", None)
    assert documented_cell(sustainable, None) == "unknown (plan unknown)"
    assert documented_cell(sustainable, "enterprise") == "unlimited"
    assert documented_cell(finding("sustainable requests/min", 60.0), "starter") == "60.0"
    assert documented_cell(finding("sustainable tokens/min", None), "enterprise") == "unlimited"
    assert documented_cell(finding("burst recovery", None), None) == "-"


def test_baseline_set_never_replaces_what_is_not_a_baseline(tmp_path: Path) -> None:
    run = tmp_path / "results" / "run-1"
    shutil.copytree(FIXTURES / "runs" / "eval", run)
    other = tmp_path / "results" / "notes"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    line = one_error_line(
        invoke("baseline", "set", str(run), "--dir", str(tmp_path / "results"), "--name", "notes")
    )
    assert "not a stored run" in line and (other / "keep.txt").read_text() == "mine"
    line = one_error_line(
        invoke("baseline", "set", str(run), "--dir", str(tmp_path), "--name", "results")
    )
    assert "the run being stored" in line and (run / "manifest.json").is_file()
    # A baseline of that name is replaced, as before.
    for _ in range(2):
        result = invoke("baseline", "set", str(run), "--dir", str(tmp_path / "b"), "--name", "x")
        assert result.exit_code == 0, result.output
    assert (tmp_path / "b" / "x" / "manifest.json").is_file()


# --- regress on two short runs -----------------------------------------------------------------


@pytest.mark.slow
def test_regress_on_two_short_runs_writes_every_artefact(tmp_path: Path) -> None:
    runs = []
    for name in ("a", "b"):
        out = tmp_path / name
        flags = ("--requests", "100", "--concurrency", "4", "--time-scale", "0.01")
        result = invoke("load", *flags, "--out", str(out))
        assert result.exit_code == 0, result.output
        runs.append(out)
    paths = {k: tmp_path / f"x.{k}" for k in ("json", "xml", "md")}
    outputs = ("--json", paths["json"], "--junit", paths["xml"], "--markdown", paths["md"])
    result = invoke("regress", *map(str, runs), *map(str, outputs))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    checks = json.loads(paths["json"].read_text())
    # The right code: 1 exactly when a check is a regression, else 0 (never 2: valid input).
    assert result.exit_code == (1 if checks["counts"]["regression"] else 0), result.output
    suite = ET.fromstring(paths["xml"].read_bytes())
    assert int(suite.get("tests", "0")) == len(checks["checks"]) > 0
    assert paths["md"].read_text().startswith("## auraon-bench regress")
