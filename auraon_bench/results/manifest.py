"""``manifest.json``: what a run was, beside its records, kept current while it goes.

The manifest answers "what produced these numbers?" long after the run: the exact command (with
secrets redacted), tool version and git commit, the machine, the target and options, and how the
run ended. It is written when the run starts (``status: running``) and rewritten atomically at
each change, so a killed run still has a manifest, either the previous one or the new one,
never a truncated file; a reader that finds ``running`` on a dead run knows it was cut short.

Fixed fields, set by :meth:`Manifest.create`: ``schema_version``, ``tool_version``, ``run_id``,
``created_utc``, ``updated_utc``, ``command``, ``git_sha``, ``environment``, ``clock``. Sections
the caller owns and sets by :meth:`Manifest.create` or :meth:`Manifest.update`: see
:data:`SECTIONS`. Every string written is passed through :func:`redact_secrets`' key pattern and
every value under a secret-looking key (``api_key``, ``authorization``, ...) is masked, so an
API key cannot leak into a results directory that gets shared or committed.
"""

from __future__ import annotations

import os
import platform
import re
import secrets
import socket
import subprocess
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

import orjson

from auraon_bench.errors import ConfigError
from auraon_bench.results.layout import MANIFEST_FILE, write_atomically
from auraon_bench.results.schema import SCHEMA_VERSION
from auraon_bench.results.sink import ResultsWriteError

SECTIONS = frozenset(
    {
        "target",
        "options",
        "status",
        "self_check",
        "cost",
        "counts",
        "warnings",
        "experiment",  # an experiment run: the file's name, sha256 and content
        "parts",  # an experiment run: its parts, in run order
        "error",  # a failed run: the one-line reason
    }
)
RUN_STATUSES = frozenset({"running", "complete", "interrupted", "failed"})
CLOCK = "time.perf_counter_ns, monotonic; timestamps are seconds since run start"

_KEY_PATTERN = re.compile(r"(?<![A-Za-z0-9_])(sk|br|ar)-[A-Za-z0-9_-]{8,}")
_SECRET_FLAGS = ("--api-key",)
_SECRET_NAME = re.compile(r"api[_-]?key|authorization|secret|password|token$", re.IGNORECASE)
_GIT_TIMEOUT_S = 2.0


# --- redaction --------------------------------------------------------------------------


def mask_secret(secret: str) -> str:
    """``br-…abcd``: the key's prefix and last four characters, enough to tell keys apart and
    never enough to use one. Short secrets keep no tail at all."""
    match = re.match(r"(sk|br|ar)-", secret)
    prefix = match.group(0) if match else ""
    tail = secret[-4:] if len(secret) - len(prefix) >= 8 else ""
    return f"{prefix}…{tail}"


def redact_text(text: str) -> str:
    """``text`` with every API-key-shaped substring masked."""
    return _KEY_PATTERN.sub(lambda m: mask_secret(m.group(0)), text)


def redact_secrets(argv: Sequence[str]) -> list[str]:
    """A copy of ``argv`` safe to store: the value after ``--api-key`` (or in
    ``--api-key=VALUE``) is masked whatever its shape, and anything shaped like a key
    (``sk-``/``br-``/``ar-`` then 8 or more of ``[A-Za-z0-9_-]``) is masked wherever it is."""
    redacted: list[str] = []
    mask_next = False
    for arg in map(str, argv):
        if mask_next:
            redacted.append(mask_secret(arg))
            mask_next = False
            continue
        flag, eq, value = arg.partition("=")
        if flag in _SECRET_FLAGS:
            if eq:
                redacted.append(f"{flag}={mask_secret(value)}")
            else:
                redacted.append(arg)
                mask_next = True
            continue
        redacted.append(redact_text(arg))
    return redacted


def _redact_tree(value: Any) -> Any:
    """A JSON-like tree with key-shaped strings masked and secret-named values masked."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            name = str(key)
            secret = _SECRET_NAME.search(name) and isinstance(item, str) and item
            out[name] = mask_secret(item) if secret else _redact_tree(item)
        return out
    if isinstance(value, list | tuple):
        return [_redact_tree(item) for item in value]
    return value


# --- facts about this process -----------------------------------------------------------


def git_sha(cwd: Path | str | None = None) -> str | None:
    """``git rev-parse HEAD`` of the repository around ``cwd`` (default: the current working
    directory), or None when there is none, git is missing, or it does not answer in time."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=_GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    sha = done.stdout.strip()
    return sha if done.returncode == 0 and re.fullmatch(r"[0-9a-f]{40,64}", sha) else None


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as cpuinfo:
            for line in cpuinfo:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Hardware", "Processor", "cpu model"):
                    return value.strip() or None
    except OSError:
        pass
    return platform.processor() or None


def environment_info() -> dict[str, Any]:
    """The machine and interpreter a run's numbers came from."""
    return {
        "python_version": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "hostname": socket.gethostname(),
    }


# --- run ids and directories ------------------------------------------------------------


def new_run_id(now: datetime | None = None) -> str:
    """``20261125-181500-3fa2``: UTC start time, sortable, plus 4 random hex characters so
    two runs started in the same second do not collide. A naive ``now`` is taken as UTC."""
    now = datetime.now(UTC) if now is None else now
    if now.tzinfo is not None:
        now = now.astimezone(UTC)
    return f"{now:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


def new_run_dir(out: Path | None, results_dir: Path | str) -> tuple[str, Path]:
    """A new run id and its directory: ``out`` when given, else ``results_dir/<run id>``."""
    run_id = new_run_id()
    if out is not None:
        return run_id, create_run_dir(out.parent, out.name)
    return run_id, create_run_dir(results_dir, run_id)


def create_run_dir(base: Path | str, run_id: str) -> Path:
    """Create ``base/run_id`` and return it; refuse one that exists and is not empty, so a
    run never mixes its files with an earlier run's."""
    if run_id in ("", ".", "..") or any(c in run_id for c in "/\\\0"):
        raise ConfigError(
            f"{run_id!r} is not a valid run directory name (one plain path component)",
            field="run_id",
        )
    run_dir = Path(base) / run_id
    try:
        if run_dir.is_dir() and any(run_dir.iterdir()):
            raise ConfigError("run directory already exists and is not empty", source=str(run_dir))
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ResultsWriteError(run_dir, "create the run directory", exc) from exc
    return run_dir


# --- the manifest -----------------------------------------------------------------------


class Manifest:
    """The manifest of one run directory; every change is written to disk at once."""

    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self._path = path
        self._data = data

    @property
    def path(self) -> Path:
        return self._path

    @property
    def data(self) -> dict[str, Any]:
        """A copy of the manifest as written (already redacted)."""
        return orjson.loads(_encode(self._data))

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    @classmethod
    def create(
        cls, run_dir: Path | str, run_id: str, command: Sequence[str], **sections: Any
    ) -> Self:
        """Write a new manifest for ``run_dir`` (``status`` defaults to ``running``); refuse to
        replace an existing one, which belongs to another run."""
        path = Path(run_dir) / MANIFEST_FILE
        if path.exists():
            raise ConfigError("already has a manifest; use a new run directory", source=str(path))
        # Imported here: the package root may import this layer, and defines __version__ last.
        from auraon_bench import __version__

        now = _utc_now()
        data: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "tool_version": __version__,
            "run_id": run_id,
            "created_utc": now,
            "updated_utc": now,
            # The program's name without its install path: manifests get shared and committed.
            "command": redact_secrets([Path(command[0]).name, *command[1:]] if command else []),
            "git_sha": git_sha(),
            "environment": environment_info(),
            "clock": CLOCK,
            "status": "running",
        }
        data.update(_checked_sections(sections))
        manifest = cls(path, data)
        manifest._write()
        return manifest

    def update(self, **sections: Any) -> None:
        """Set or replace sections and rewrite the file atomically (old or new, never half)."""
        data = {**self._data, **_checked_sections(sections), "updated_utc": _utc_now()}
        _write_json(self._path, data)
        self._data = data

    def add_warning(self, message: str) -> None:
        """Append one line to ``warnings`` and rewrite the file."""
        self.update(warnings=[*self._data.get("warnings", []), message])

    @classmethod
    def load(cls, run_dir: Path | str) -> Self:
        """Read ``run_dir/manifest.json``; ``ConfigError`` naming the file if it is missing,
        not JSON, or from a newer results schema."""
        path = Path(run_dir) / MANIFEST_FILE
        data = read_json(path, "manifest", required=True)
        assert data is not None
        version = data.get("schema_version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise ConfigError("manifest has no integer schema_version", source=str(path))
        if version > SCHEMA_VERSION:
            raise ConfigError(
                f"written with results schema version {version}, but this auraon-bench reads "
                f"up to version {SCHEMA_VERSION}; upgrade auraon-bench to read it",
                source=str(path),
                field="schema_version",
            )
        return cls(path, data)

    def _write(self) -> None:
        _write_json(self._path, self._data)


def _checked_sections(sections: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(sections) - SECTIONS)
    if unknown:
        raise TypeError(f"unknown manifest section(s): {', '.join(unknown)}")
    if "status" in sections and sections["status"] not in RUN_STATUSES:
        raise ValueError(f"manifest status must be one of {sorted(RUN_STATUSES)}")
    warnings = sections.get("warnings")
    if warnings is not None and (
        isinstance(warnings, str) or not all(isinstance(w, str) for w in warnings)
    ):
        raise TypeError("manifest warnings must be a list of strings")
    return {name: _redact_tree(value) for name, value in sections.items()}


def read_json(path: Path, what: str = "file", *, required: bool = False) -> dict[str, Any] | None:
    """A JSON object file; None when absent and not ``required``; else ``ConfigError`` naming
    the file when it is missing, unreadable, not JSON or not an object."""
    try:
        data = orjson.loads(path.read_bytes())
    except FileNotFoundError as exc:
        if not required:
            return None
        raise ConfigError(f"cannot read {what}: {exc.strerror}", source=str(path)) from exc
    except OSError as exc:
        raise ConfigError(f"cannot read {what}: {exc.strerror}", source=str(path)) from exc
    except orjson.JSONDecodeError as exc:
        raise ConfigError(f"{what} is not valid JSON: {exc}", source=str(path)) from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{what} is not a JSON object", source=str(path))
    return data


def _utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _json_default(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    raise TypeError(f"cannot store {type(value).__name__} in the manifest")


def _encode(data: Mapping[str, Any]) -> bytes:
    """Indented JSON; NumPy scalars and arrays, datetimes and Paths are accepted, and a final
    text-level redaction catches key-shaped strings inside objects the tree walk cannot see."""
    option = orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_APPEND_NEWLINE
    text = orjson.dumps(data, default=_json_default, option=option).decode("utf-8")
    return redact_text(text).encode("utf-8")


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    payload = _encode(data)  # before touching the disk: a TypeError must not leave a temp file
    try:
        write_atomically(path, lambda tmp: tmp.write_bytes(payload))
    except OSError as exc:
        raise ResultsWriteError(path, "write the manifest", exc) from exc
