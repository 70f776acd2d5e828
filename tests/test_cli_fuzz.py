"""Every command and subcommand, driven with bad and odd values for every option and argument and
with broken experiment files: no traceback ever reaches the user, a value a command refuses is
one ``Error:`` line (exit 2) naming what was wrong, and nothing already on disk is lost.

The table is generated from the commands themselves (``auraon_bench.cli.main.COMMANDS``), so a
new option is fuzzed without anyone listing it. Nothing here sends load, starts the emulator or
renders a report: targets are a closed port on 127.0.0.1 (the preflight fails at once), and the
emulator's serve loop, its child process and the report and history renderers are replaced by
stand-ins (the renderers still create their output directory, where a bad --out fails).
"""

from __future__ import annotations

import hashlib
import shutil
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auraon_bench.cli.main import COMMANDS, cli
from auraon_bench.errors import EmulatorError
from tests.conftest import FIXTURES

# Placeholders, replaced when a case runs: the workspace, and a port nothing listens on.
WS = "{ws}"
NEW = "{new}"
CLOSED = "http://127.0.0.1:{closed}/v1"
SECRET = "hunter2-secret"  # a password in a URL: never printed back


@dataclass(frozen=True)
class Case:
    args: tuple[str, ...]
    # The command must refuse it (exit 2), in an ``Error:`` line naming each of ``names`` (the
    # option, the field, the file), and not because the target is unreachable.
    refused: bool = False
    names: tuple[str, ...] = ()
    label: str = ""

    def id(self) -> str:
        return self.label or " ".join(a.removeprefix(WS) for a in self.args)[:100]


@dataclass
class Workspace:
    root: Path
    closed: int
    protected: dict[Path, str] = field(default_factory=dict)
    cases: int = 0

    def expand(self, arg: str) -> str:
        # NEW is a path that does not exist yet, a new one for every case: a command that
        # creates it (an output) must not turn it into an existing input for the next case.
        fresh = self.root / "new" / str(self.cases)
        arg = arg.replace(NEW, str(fresh)).replace(WS, str(self.root))
        return arg.replace("{closed}", str(self.closed))

    def reset(self) -> None:
        """Scratch files and directories as they were, before each case."""
        self.cases += 1
        for name, content in SCRATCH.items():
            (self.root / name).write_bytes(content)
        shutil.rmtree(self.root / "emptydir", ignore_errors=True)
        (self.root / "emptydir").mkdir()
        # Whatever a case added to the finished run (a report, a baseline): gone again.
        precious = self.root / "precious"
        for path in precious.iterdir():
            if path.name in PRECIOUS_FILES:
                continue
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()


PRECIOUS_FILES = {p.name for p in (FIXTURES / "runs" / "eval").iterdir()}
GARBAGE = b"\x00\xff\xfe garbage \x89PNG\r\n\x1a\n{[(\n"
# Files any case may name as an output (and so overwrite): rewritten before every case.
SCRATCH = {"garbage.bin": GARBAGE, "empty.txt": b"", "bad.toml": b"[x\n= = =\n"}
BAD_MANIFESTS = {
    "garbage": GARBAGE,
    "empty": b"",
    "list": b"[1, 2, 3]",
    "object": b"{}",
    "wrong-types": b'{"schema_version": "x", "run_id": 5, "parts": "no", "experiment": 3}',
    "experiment-parts": b'{"schema_version": 1, "run_id": "r", "experiment": {}, '
    b'"parts": [1, {"x": 1}, {"dir": 5, "name": null}]}',
}

EXPERIMENTS: dict[str, str] = {
    "valid": '[[load]]\nname = "a"\nrequests = 5\n',
    "invalid-toml": "[[load]\nname = ",
    "not-utf8": "\udcff",
    "empty": "",
    "unknown-key": '[[load]]\nname = "a"\nrequests = 5\nrequets = 6\n',
    "unknown-top": 'nmae = "x"\n[[load]]\nname = "a"\n',
    "unknown-table": '[lod]\nname = "a"\n',
    "wrong-type-requests": '[[load]]\nname = "a"\nrequests = "many"\n',
    "wrong-type-load": "load = 5\n",
    "wrong-type-load-table": '[load]\nname = "a"\n',
    "wrong-type-arms": 'arms = "auto"\n[[load]]\nname = "a"\n',
    "wrong-type-target": 'target = 3\n[[load]]\nname = "a"\n',
    "zero-requests": '[[load]]\nname = "a"\nrequests = 0\n',
    "negative-requests": '[[load]]\nname = "a"\nrequests = -5\n',
    "zero-concurrency": '[[load]]\nname = "a"\nconcurrency = 0\nrequests = 5\n',
    "negative-concurrency": '[[load]]\nname = "a"\nconcurrency = -3\nrequests = 5\n',
    "zero-max-attempts": '[[load]]\nname = "a"\nmax_attempts = 0\nrequests = 5\n',
    "negative-max-attempts": '[[load]]\nname = "a"\nmax_attempts = -1\nrequests = 5\n',
    "zero-rate": '[[load]]\nname = "a"\nrate = 0.0\nrequests = 5\n',
    "nan-rate": '[[load]]\nname = "a"\nrate = nan\nrequests = 5\n',
    "inf-rate": '[[load]]\nname = "a"\nrate = inf\nrequests = 5\n',
    "inf-duration": '[[load]]\nname = "a"\nrate = 1.0\nduration = inf\n',
    "zero-sweep-rate": '[[load]]\nname = "a"\nsweep = [0.0, 1.0]\nrequests = 5\n',
    "negative-sweep-rate": '[[load]]\nname = "a"\nsweep = [-1.0]\nrequests = 5\n',
    "zero-sweep-concurrency": '[[load]]\nname = "a"\nsweep_concurrency = [0]\nrequests = 5\n',
    "empty-sweep": '[[load]]\nname = "a"\nsweep = []\nrequests = 5\n',
    "ramp-without-ramp-to": '[[load]]\nname = "a"\nprofile = "ramp"\nrate = 1.0\nduration = 2.0\n',
    "ramp-without-rate": '[[load]]\nname = "a"\nprofile = "ramp"\nramp_to = 1.0\nduration = 2.0\n',
    "constant-without-rate": '[[load]]\nname = "a"\nprofile = "constant"\nrequests = 5\n',
    "replay-without-trace": '[[load]]\nname = "a"\nprofile = "replay"\n',
    "missing-trace": '[[load]]\nname = "a"\ntrace = "nowhere.txt"\n',
    "zero-workers": '[[load]]\nname = "a"\nworkers = 0\nrequests = 5\n',
    "zero-input-tokens": '[[load]]\nname = "a"\ninput_tokens = 0\nrequests = 5\n',
    "warmup-over-requests": '[[load]]\nname = "a"\nrequests = 5\nwarmup_requests = 9\n',
    "negative-seed": 'seed = -1\n[[load]]\nname = "a"\nrequests = 5\n',
    "zero-repetitions": 'repetitions = 0\n[[load]]\nname = "a"\nrequests = 5\n',
    "nothing-to-run": 'name = "x"\n',
    "missing-name": "[[load]]\nrequests = 5\n",
    "duplicate-name": '[[load]]\nname = "a"\n[[load]]\nname = "a"\n',
    "bad-name": '[[load]]\nname = "a/b"\n',
    "eval-zero-concurrency": '[eval]\ndatasets = ["{sample}"]\nconcurrency = 0\n',
    "eval-missing-dataset": '[eval]\ndatasets = ["nowhere.jsonl"]\n',
    "eval-no-datasets": "[eval]\n",
    "eval-zero-repeat": '[eval]\ndatasets = ["{sample}"]\nrepeat = 0\n',
    "limits-small-caps": "[limits]\nmax_requests = 1\nmax_tokens = 1\nmax_duration = 0.0\n",
    "limits-unknown-only": '[limits]\nonly = "bananas"\n',
    "target-api-key": '[target]\napi_key = "sk-x"\n[[load]]\nname = "a"\n',
    "target-nan-time-scale": '[target]\ntime_scale = nan\n[[load]]\nname = "a"\n',
    "target-inf-time-scale": '[target]\ntime_scale = inf\n[[load]]\nname = "a"\n',
    "target-zero-timeout": '[target]\ntimeout = 0.0\n[[load]]\nname = "a"\n',
    "target-inf-timeout": '[target]\ntimeout = inf\n[[load]]\nname = "a"\n',
    "target-nan-cost": '[target]\nmax_cost_usd = nan\n[[load]]\nname = "a"\n',
    "target-no-scheme": '[target]\nbase_url = "127.0.0.1:4011/v1"\n[[load]]\nname = "a"\n',
    "target-ftp": '[target]\nbase_url = "ftp://127.0.0.1/v1"\n[[load]]\nname = "a"\n',
    "target-userinfo": f'[target]\nbase_url = "http://u:{SECRET}@127.0.0.1:1/v1"\n'
    '[[load]]\nname = "a"\n',
    "target-missing-prices": '[target]\nprices = "nowhere.toml"\n[[load]]\nname = "a"\n',
    "slo-unknown": '[slo]\nspeed = 1\n[[load]]\nname = "a"\n',
    "slo-negative": '[slo]\nerror_rate = -1\n[[load]]\nname = "a"\n',
    "regress-alpha": '[regress]\nalpha = 2\n[[load]]\nname = "a"\n',
    "output-bad-format": '[output]\nreport = ["pdf"]\n[[load]]\nname = "a"\n',
    "output-wrong-type": '[output]\ndir = 5\n[[load]]\nname = "a"\n',
    "deep-nesting": "a = " + "[" * 50 + "]" * 50 + "\n",
    "huge-number": '[[load]]\nname = "a"\nrequests = 99999999999999999999\n',
}

# Experiment files that must be refused for what they hold (not for the target): the field
# each one's error must name.
EXPERIMENT_FIELDS = {
    "zero-concurrency": "concurrency",
    "negative-concurrency": "concurrency",
    "zero-max-attempts": "max_attempts",
    "negative-max-attempts": "max_attempts",
    "zero-sweep-rate": "sweep",
    "negative-sweep-rate": "sweep",
    "zero-sweep-concurrency": "sweep",
    "ramp-without-ramp-to": "ramp_to",
    "ramp-without-rate": "rate",
    "constant-without-rate": "rate",
    "replay-without-trace": "trace",
    "nan-rate": "rate",
    "inf-rate": "rate",
    "inf-duration": "duration",
    "zero-requests": "requests",
    "target-nan-time-scale": "time_scale",
    "target-inf-time-scale": "time_scale",
    "target-inf-timeout": "timeout",
    "target-nan-cost": "max_cost_usd",
    "target-no-scheme": "base_url",
    "target-ftp": "base_url",
    "target-userinfo": "base_url",
}


def _build_workspace(root: Path) -> None:
    for name in ("eval", "load-sweep", "load-sweep-b", "experiment"):
        shutil.copytree(FIXTURES / "runs" / name, root / "runs" / name)
    # A finished run that cases name as --out, as an output file's directory, as an input.
    shutil.copytree(FIXTURES / "runs" / "eval", root / "precious")
    (root / "emptydir").mkdir()
    (root / "inputs").mkdir()
    (root / "inputs" / "trace.txt").write_text("0\n0.5\nnot-a-number\n")
    (root / "inputs" / "neg-trace.txt").write_text("-1\n")
    (root / "inputs" / "empty-trace.txt").write_text("# nothing\n")
    (root / "inputs" / "twin.toml").write_text('[meta]\nextends = "builtin"\ntwin_of = "r"\n')
    shutil.copy(FIXTURES / "sample.jsonl", root / "inputs" / "sample.jsonl")
    (root / "inputs" / "workload.toml").write_text(
        "peak_requests_per_min = 120\nprompt_tokens = 800\ncompletion_tokens = 300\n"
    )
    for name, content in BAD_MANIFESTS.items():
        (root / "badruns" / name).mkdir(parents=True)
        (root / "badruns" / name / "manifest.json").write_bytes(content)
    (root / "experiments").mkdir()
    for name, text in EXPERIMENTS.items():
        text = text.replace("{sample}", str(root / "inputs" / "sample.jsonl"))
        path = root / "experiments" / f"{name}.toml"
        path.write_bytes(text.encode("utf-8", "surrogateescape"))


def _digests(root: Path) -> dict[Path, str]:
    return {
        path: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    root = tmp_path_factory.mktemp("fuzz")
    _build_workspace(root)
    with socket.socket() as sock:  # a free port, closed again: connecting is refused at once
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    ws = Workspace(root, closed)
    for name in ("runs", "precious", "inputs", "badruns", "experiments"):
        ws.protected.update(_digests(root / name))
    yield ws


@pytest.fixture(autouse=True)
def stand_ins(monkeypatch: pytest.MonkeyPatch) -> None:
    """No emulator, no rendering: each would take seconds, and neither is what is fuzzed."""

    def refuse_serve(config: object, announce: object = None) -> None:
        raise EmulatorError("fuzz: not serving")

    class RefusedProcess:
        def __init__(self, *args: object, **kwargs: object) -> None:
            pass

        def __enter__(self) -> RefusedProcess:
            raise EmulatorError("fuzz: no emulator process")

        def __exit__(self, *exc: object) -> None:
            pass

    from auraon_bench.report.build import FORMATS, prepare_output

    def render(what: str) -> object:
        def write(data: object, out: Path, *args: object, **kwargs: object) -> list[Path]:
            prepare_output(out, FORMATS, what)  # the formats were checked by the command
            return []

        return write

    monkeypatch.setattr("auraon_bench.emulator.server.run", refuse_serve)
    monkeypatch.setattr("auraon_bench.emulator.launcher.EmulatorProcess", RefusedProcess)
    monkeypatch.setattr("auraon_bench.load.target.EmulatorProcess", RefusedProcess)
    monkeypatch.setattr("auraon_bench.report.build.write_report", render("report"))
    monkeypatch.setattr("auraon_bench.history.report.write_history", render("history"))
    # --validate re-runs a workload in a child process: a stand-in that runs nothing.
    monkeypatch.setattr("auraon_bench.twin.validate.rerun", lambda argv, log: 1)


# --- the table ------------------------------------------------------------------------------

TARGET = ("--base-url", CLOSED, "--api-key", "sk-fuzz", "--yes")
# Command -> (its positional arguments, its options): as far as validation, and no further.
BASE: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "load": ((), (*TARGET, "--requests", "5")),
    "eval": ((), (*TARGET, "--dataset", f"{WS}/inputs/sample.jsonl")),
    "limits": ((), TARGET),
    "capacity": ((), (*TARGET, "--slo", "ttft_p95<=1s")),
    "run": ((f"{WS}/experiments/valid.toml",), TARGET),
    "emulator serve": ((), ("--port", "0")),
    "emulator demo": ((), ()),
    "emulator fit": ((f"{WS}/runs/load-sweep",), ("--out", f"{WS}/out/twin.toml")),
    "emulator validate": ((f"{WS}/runs/load-sweep",), ("--catalog", f"{WS}/inputs/twin.toml")),
    "report": ((f"{WS}/runs/load-sweep",), ("--out", f"{WS}/out/report")),
    "history": ((f"{WS}/runs",), ("--out", f"{WS}/out/history")),
    "plan": ((f"{WS}/runs/load-sweep",), ("--out", f"{WS}/out/plan.json", "--force")),
    "regress": ((f"{WS}/runs/load-sweep", f"{WS}/runs/load-sweep-b"), ()),
    "baseline set": ((f"{WS}/runs/load-sweep",), ("--dir", f"{WS}/out/baselines")),
    "routing analyze": ((f"{WS}/runs/eval",), ("--out", f"{WS}/out/routing")),
}


def base(path: str) -> tuple[str, ...]:
    positionals, options = BASE[path]
    return (*path.split(), *positionals, *options)


NOT_INTS = ["", "abc", "1.5"]
NOT_FLOATS = ["", "abc", "nan", "inf", "-inf", "1e400"]
DIRECTORIES = ("emptydir", "precious")
PATHS = [
    NEW,
    f"{WS}/garbage.bin/child",
    f"{WS}/emptydir",
    f"{WS}/garbage.bin",
    f"{WS}/empty.txt",
    f"{WS}/bad.toml",
    f"{WS}/precious",
    f"{WS}/precious/manifest.json",
]
STRINGS = ["", " ", "bogus", "x" * 5000, "ünï[bold]c[/]ode"]
URLS = [
    "127.0.0.1:4011/v1",
    "localhost:4011/v1",
    "ftp://127.0.0.1:4011/v1",
    "file:///etc/passwd",
    f"http://user:{SECRET}@127.0.0.1:{{closed}}/v1",
    f"ftp://user:{SECRET}@127.0.0.1/v1",
    "http://",
    "http:///v1",
    "http://[::1",
    "http://127.0.0.1:99999/v1",
    "http://127.0.0.1:port/v1",
    "http://127.0.0.1:{closed}/v1?key=1",
    "http://127.0.0.1 :{closed}/v1",
    "//127.0.0.1:{closed}/v1",
]
# Option -> values beside its type's, each refused (and named) when True.
SPECIAL: dict[str, list[tuple[str, bool]]] = {
    "--base-url": [(url, True) for url in URLS],
    "--sweep": [(v, True) for v in ("c0", "0,1", "-1", "c-1", ",", "cx", "nan", "inf", "c1.5")],
    "--fault": [(v, True) for v in ("x", "error=", "error=nan", "error=2", "=0.1")],
    "--metric": [(",", False), ("bogus", True), ("latency_p95_s,bogus", True)],
    "--format": [(v, True) for v in (",", "pdf", "html,pdf")],
    "--name": [(v, True) for v in (".", "..", "a/b", ".hidden")],
    "--host": [("nowhere.invalid", False), ("0.0.0.0", True)],
    "--slo": [(v, True) for v in ("bogus", "ttft_p95<=", "error_rate>=1%", "ttft_p95<=1")],
    "--traffic": [(v, True) for v in ("fast", "3/week", "-1/s", "0/min")],
}

LOAD = base("load")
# The cases and every profile's required flags: refused, naming the flag.
NAMED_CASES = [
    Case((*LOAD, "--sweep", "c0"), True, ("--sweep",)),
    Case((*LOAD, "--sweep", "0,1"), True, ("--sweep",)),
    Case((*LOAD, "--sweep=-1"), True, ("--sweep",)),
    Case((*LOAD, "--profile", "ramp"), True, ("--rate",)),
    Case((*LOAD, "--profile", "ramp", "--rate", "1"), True, ("--ramp-to",)),
    Case((*LOAD, "--profile", "ramp", "--ramp-to", "5", "--duration", "2"), True, ("--rate",)),
    Case((*LOAD, "--profile", "ramp", "--rate", "1", "--ramp-to", "5"), True, ("--duration",)),
    Case((*LOAD, "--profile", "constant"), True, ("--rate",)),
    Case((*LOAD, "--profile", "poisson"), True, ("--rate",)),
    Case((*LOAD, "--profile", "gamma"), True, ("--rate",)),
    Case((*LOAD, "--profile", "concurrent"), True, ("--concurrency",)),
    Case((*LOAD, "--profile", "sweep"), True, ("--sweep",)),
    Case((*LOAD, "--profile", "replay"), True, ("--trace",)),
    Case((*LOAD, "--trace", f"{WS}/inputs/trace.txt"), True, ("trace.txt",)),
    Case((*LOAD, "--trace", f"{WS}/inputs/neg-trace.txt"), True, ("--trace",)),
    Case((*LOAD, "--trace", f"{WS}/inputs/empty-trace.txt"), True, ("--trace",)),
    Case((*LOAD, "--warmup-requests", "9"), True, ("--warmup-requests",)),
    Case((*LOAD, "--seed", "-1"), True, ("--seed",)),
    Case((*LOAD, "--api-key", "", "--base-url", ""), True, ("--base-url",)),
    Case(("emulator", "serve", "--port", "-1"), True, ("--port",)),
    Case(("emulator", "serve", "--port", "70000"), True, ("--port",)),
    Case(("emulator", "serve", "--time-scale", "nan"), True, ("--time-scale",)),
    Case(("emulator", "serve", "--time-scale", "inf"), True, ("--time-scale",)),
    Case(("emulator", "serve", "--time-scale", "-1"), True, ("--time-scale",)),
    Case(("emulator", "demo", "--time-scale", "nan"), True, ("--time-scale",)),
    Case(("plan",), True, ("RUN",)),
    Case(("plan", f"{WS}/runs/eval", "--workload", f"{WS}/inputs/workload.toml"), True, ("RUN",)),
    Case(
        ("plan", "--workload", f"{WS}/inputs/workload.toml", "--out", f"{WS}/inputs/workload.toml"),
        True,
        ("--out",),
    ),
    Case(
        ("plan", f"{WS}/precious", "--force", "--out", f"{WS}/precious/manifest.json"),
        True,
        ("--out",),
    ),
    Case(
        ("plan", "--workload", f"{WS}/inputs/workload.toml", "--out", f"{WS}/garbage.bin/p.json"),
        True,
        ("--out",),
    ),
    Case(
        (*base("regress"), "--json", f"{WS}/precious/summary.json"),
        True,
        ("--json",),
    ),
    Case(
        (*base("regress"), "--json", f"{WS}/out/same.json", "--junit", f"{WS}/out/same.json"),
        True,
        ("--junit",),
    ),
    Case(("baseline", "set", f"{WS}/precious", "--dir", WS, "--name", "runs"), True, ("--name",)),
    Case(
        ("baseline", "set", f"{WS}/precious", "--dir", WS, "--name", "precious"), True, ("--name",)
    ),
    Case(("baseline", "set", f"{WS}/precious", "--dir", f"{WS}/precious/b"), True, ("--dir",)),
]


def _commands() -> list[tuple[str, click.Command]]:
    """Every leaf command with its words (``load``, ``emulator serve``, ``baseline set``...)."""
    ctx = click.Context(cli)
    leaves = []
    for name in COMMANDS:
        command = cli.get_command(ctx, name)
        assert command is not None
        if isinstance(command, click.Group):
            leaves += [(f"{name} {sub}", command.commands[sub]) for sub in command.commands]
        else:
            leaves.append((name, command))
    return leaves


def _type_values(param: click.Parameter) -> list[tuple[str, bool]]:
    """(value, must be refused) pairs for a parameter, from its type."""
    kind = param.type
    if isinstance(kind, click.Choice):
        return [("", True), ("bogus", True)]
    if isinstance(kind, click.types.IntParamType):
        low, high = (kind.min, kind.max) if isinstance(kind, click.IntRange) else (None, None)
        return [
            *((v, True) for v in NOT_INTS),
            ("0", low is not None and low > 0),
            ("-1", low is not None and low > -1),
            ("99999999999999999999", high is not None),
        ]
    if isinstance(kind, click.types.FloatParamType):
        low = kind.min if isinstance(kind, click.FloatRange) else None
        open_zero = low == 0 and isinstance(kind, click.FloatRange) and kind.min_open
        return [
            *((v, True) for v in NOT_FLOATS),
            ("0", low is not None and (low > 0 or open_zero)),
            ("-1", low is not None and low > -1),
            ("1e308", isinstance(kind, click.FloatRange) and kind.max is not None),
        ]
    if isinstance(kind, click.Path):
        values = []
        for path in PATHS:
            is_dir = Path(path).name in DIRECTORIES
            missing = path == NEW or path.endswith("child")
            refused = (missing and bool(kind.exists)) or (
                not missing
                and ((is_dir and not kind.dir_okay) or (not is_dir and not kind.file_okay))
            )
            values.append((path, refused))
        return values
    return [(v, False) for v in STRINGS]


def _cases_of(path: str, command: click.Command) -> Iterator[Case]:
    positionals, options = BASE[path]
    words = tuple(path.split())
    arguments = [p for p in command.params if isinstance(p, click.Argument)]
    for param in command.params:
        if isinstance(param, click.Argument):
            index = arguments.index(param)
            for value in ARGUMENTS:
                given = (*positionals[:index], value, *positionals[index + 1 :])
                label = f"{path} {param.name}={value.removeprefix(WS)!r}"
                yield Case((*words, *given, *options), True, label=label)
            continue
        if not isinstance(param, click.Option) or param.name == "help":
            continue
        flag = max(param.opts, key=len)
        if param.is_flag:
            for name in (*param.opts[:1], *param.secondary_opts):
                yield Case((*words, *positionals, *options, name), label=f"{path} {name}")
            continue
        for value, refused in _type_values(param) + SPECIAL.get(flag, []):
            yield Case(
                (*words, *positionals, *options, f"{flag}={value}"),
                refused,
                (flag,),
                label=f"{path} {flag}={value.removeprefix(WS)[:40]!r}",
            )


ARGUMENTS = [
    NEW,
    f"{WS}/emptydir",
    f"{WS}/garbage.bin",
    "",
    *(f"{WS}/badruns/{name}" for name in BAD_MANIFESTS),
]


def _experiment_cases() -> Iterator[Case]:
    for name in EXPERIMENTS:
        names = (f"{name}.toml", *((EXPERIMENT_FIELDS[name],) if name in EXPERIMENT_FIELDS else ()))
        yield Case(
            ("run", f"{WS}/experiments/{name}.toml", *TARGET),
            name not in ("valid", "huge-number"),
            names,
            label=f"run experiment {name}",
        )


CASES = [
    *(case for path, command in _commands() for case in _cases_of(path, command)),
    *NAMED_CASES,
    *_experiment_cases(),
]


def test_the_table_covers_every_command_and_option() -> None:
    words = {
        " ".join(c.args[:2]) if c.args[0] in ("emulator", "baseline", "routing") else c.args[0]
        for c in CASES
    }
    assert words == {path for path, _ in _commands()}
    assert {"emulator serve", "emulator demo", "baseline set"} <= words
    assert len(CASES) >= 300


def _params() -> list[object]:
    return [pytest.param(case, id=case.id()) for case in CASES]


@pytest.mark.parametrize("case", _params())
def test_no_traceback_one_error_line_nothing_lost(case: Case, workspace: Workspace) -> None:
    workspace.reset()
    result = CliRunner().invoke(cli, [workspace.expand(a) for a in case.args])
    output = result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{type(result.exception).__name__}: {result.exception}\n{output}"
    )
    assert "Traceback" not in output, output
    assert SECRET not in output, output
    assert result.exit_code in (0, 1, 2), output
    errors = [line for line in output.splitlines() if line.startswith("Error")]
    if result.exit_code == 2:
        # One error line, and the last thing said: a message must not run on over lines.
        assert len(errors) == 1 and output.rstrip().endswith(errors[0].rstrip()), output
    if case.refused:
        assert result.exit_code == 2, output
        assert "cannot reach" not in errors[0], output
        for name in case.names:
            assert name in errors[0] or workspace.expand(name) in errors[0], output
    changed = [
        path
        for path, digest in workspace.protected.items()
        if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != digest
    ]
    assert not changed, f"lost or changed: {changed}"


# --- combinations ------------------------------------------------------------------------------

# Values each load flag takes in combination: valid ones mostly, so that the combination (a
# profile without what it needs, a warm-up longer than the run, more workers than requests in
# flight...) is what is wrong, not one value.
COMBINED = {
    "--profile": ["synchronous", "concurrent", "constant", "poisson", "gamma", "ramp", "sweep",
                  "replay"],
    "--concurrency": ["1", "4", "100000"],
    "--rate": ["0.001", "1", "1e9"],
    "--requests": ["1", "5", "1000"],
    "--duration": ["0.001", "1", "1e9"],
    "--burstiness": ["0", "1", "5"],
    "--ramp-to": ["0", "1", "1e9"],
    "--sweep": ["1", "c1", "1,c2", "c0", "0"],
    "--trace": [f"{WS}/inputs/trace.txt", f"{WS}/inputs/empty-trace.txt"],
    "--warmup-requests": ["0", "1", "5", "999"],
    "--warmup-seconds": ["0", "0.5", "9"],
    "--max-concurrency": ["1", "2"],
    "--workers": ["1", "2", "64"],
    "--retry": ["none", "exponential"],
    "--max-attempts": ["1", "9"],
    "--output-tokens": ["1", "999999999"],
    "--seed": ["0", "99999999999999999999"],
    "--max-cost": ["0", "1"],
    "--model": ["auto", ""],
}  # fmt: skip


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    derandomize=True,
)
@given(
    st.lists(
        st.sampled_from(sorted(COMBINED)).flatmap(
            lambda flag: st.tuples(st.just(flag), st.sampled_from(COMBINED[flag]))
        ),
        min_size=1,
        max_size=6,
    )
)
@pytest.mark.slow
def test_combined_load_flags_never_crash(
    workspace: Workspace, flags: list[tuple[str, str]]
) -> None:
    args = [*base("load"), *(part for pair in flags for part in pair)]
    result = CliRunner().invoke(cli, [workspace.expand(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output and result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert sum(line.startswith("Error") for line in lines) == 1, result.output
    assert lines[-1].startswith("Error"), result.output
