"""Run model-written Python against assert-style tests, and the pass@k estimator.

Methods:
    run_python(source, timeout_s, memory_mb, *, tests, tmp_root, output_limit_bytes) -> RunResult
    extract_code(text) -> (code, method)
    pass_at_k(n, c, k) -> float

How ``run_python`` isolates the code (best effort: this is NOT a security sandbox):

* a fresh ``python -I -B`` process (isolated mode: no user site-packages, no PYTHON* variables,
  no current directory on ``sys.path``), in a new temporary directory that is removed afterwards,
  with stdin closed and an environment holding only ``PATH``;
* ``resource.setrlimit`` in ``preexec_fn``: RLIMIT_CPU (timeout + 1 s), RLIMIT_AS (``memory_mb``),
  RLIMIT_FSIZE (``output_limit_bytes``; stdout and stderr are files, so it bounds them too),
  RLIMIT_CORE 0 and RLIMIT_NPROC 0 (no fork; the kernel ignores it for root, and root can raise
  every limit again, so run benchmarks as an unprivileged user);
* no new processes and no writes outside the work directory: the prelude replaces ``os.fork``,
  ``os.system``, the ``exec``/``spawn`` family and ``subprocess.Popen`` with functions that raise,
  and wraps ``open``, ``os.open`` and the ``os`` functions that create, change or delete files so
  that a path outside the work directory raises ``PermissionError`` (``TMPDIR`` points inside);
  like the rest, Python-level and best effort: ctypes or ``_posixsubprocess`` get around it;
* no network: a prelude replaces ``socket.socket`` with a class that refuses internet families
  (AF_UNIX stays usable, so ``asyncio`` and ``import ssl`` still work) and ``getaddrinfo`` and
  ``create_connection`` with functions that raise; the low-level ``_socket`` module is untouched;
* a wall-clock timeout that kills the whole process group;
* the verdict needs a per-run random token printed after the last test, so code that exits early
  (``sys.exit(0)``, ``os._exit(0)``) before the tests ran does not count as passing.

Statuses: ``passed`` (exit 0 and the token seen), ``failed`` (an AssertionError), ``timeout``
(wall clock or CPU limit) and ``error`` (anything else: syntax error, exception, MemoryError,
early exit, output limit, the interpreter could not start).
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

STATUSES = ("passed", "failed", "timeout", "error")

# The harness runs as ``python -c``: the solution and the tests are separate files so a traceback
# names which of the two failed. The token arrives in argv and is removed before any model code
# runs; code that reads its own process memory can still find it (best effort, see above).
_HARNESS = r"""
import socket as _s, sys as _sys
_INET = {_s.AF_INET, _s.AF_INET6, -1}
class _NoNetworkSocket(_s.socket):
    def __init__(self, family=-1, type=-1, proto=-1, fileno=None):
        if family in _INET:
            raise PermissionError("network access is disabled in the code runner")
        super().__init__(family, type, proto, fileno)
def _no_network(*args, **kwargs):
    raise PermissionError("network access is disabled in the code runner")
_s.socket = _s.SocketType = _NoNetworkSocket
_s.getaddrinfo = _s.create_connection = _s.gethostbyname = _no_network
import builtins as _b, io as _io, os as _os, subprocess as _sp
_HOME = _os.path.realpath(_os.getcwd())
def _no_process(*args, **kwargs):
    raise PermissionError("starting processes is disabled in the code runner")
for _name in ("fork", "forkpty", "system", "popen", "posix_spawn", "posix_spawnp", "execv",
              "execve", "execl", "execle", "execlp", "execlpe", "execvp", "execvpe", "spawnv",
              "spawnve", "spawnl", "spawnle", "spawnvp", "spawnvpe", "spawnlp", "spawnlpe"):
    if hasattr(_os, _name):
        setattr(_os, _name, _no_process)
class _NoPopen:
    def __init__(self, *args, **kwargs):
        _no_process()
_sp.Popen = _NoPopen
def _inside(path):
    if isinstance(path, int):
        return True  # an already open descriptor
    real = _os.path.realpath(_os.fsdecode(path))
    return real == _HOME or real.startswith(_HOME + _os.sep)
def _refuse(path):
    raise PermissionError(f"writing outside the code runner's directory is disabled: {path!r}")
_real_open = _b.open
def _open(file, mode="r", *args, **kwargs):
    if any(c in mode for c in "wax+") and not _inside(file):
        _refuse(file)
    return _real_open(file, mode, *args, **kwargs)
_b.open = _io.open = _open
_real_os_open = _os.open
_WRITE = _os.O_WRONLY | _os.O_RDWR | _os.O_CREAT | _os.O_APPEND | _os.O_TRUNC
def _os_open(path, flags, *args, **kwargs):
    if flags & _WRITE and not _inside(path):
        _refuse(path)
    return _real_os_open(path, flags, *args, **kwargs)
_os.open = _os_open
def _guard(function):
    def guarded(*paths, **kwargs):
        for path in paths[:2]:
            if isinstance(path, (str, bytes, _os.PathLike)) and not _inside(path):
                _refuse(path)
        return function(*paths, **kwargs)
    return guarded
for _name in ("remove", "unlink", "rmdir", "rename", "replace", "mkdir", "makedirs", "chmod",
              "chown", "symlink", "link", "truncate", "utime"):
    if hasattr(_os, _name):
        setattr(_os, _name, _guard(getattr(_os, _name)))
def _run(token):
    sources = []
    for name in ("solution.py", "tests.py"):  # both read first: the code may chdir or rewrite
        with open(name, encoding="utf-8") as f:
            sources.append(compile(f.read(), name, "exec"))
    namespace = {"__name__": "__main__", "__builtins__": __builtins__}
    for code in sources:
        exec(code, namespace)
    _sys.stdout.flush()
    _sys.stdout.write("\n" + token + "\n")
    _sys.stdout.flush()
_run(_sys.argv.pop())
"""

_FENCE = re.compile(r"```[ \t]*([\w+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)
_PYTHON_TAGS = frozenset({"python", "py", "python3", "py3"})
_TAIL_CHARS = 2000


@dataclass(frozen=True, slots=True)
class RunResult:
    """One run's verdict: ``status`` is one of STATUSES, ``message`` a one-line reason."""

    status: str
    message: str
    duration_s: float
    stdout: str = ""
    stderr: str = ""

    @property
    def passed(self) -> bool:
        return self.status == "passed"


def extract_code(text: str) -> tuple[str, str]:
    """The last ```python (or ```py) fence; else the last untagged fence; else the whole text.

    Returns (code, method) with method ``fenced_python``, ``fenced_block`` or ``whole_text``.
    An unterminated last fence (an answer cut off by max_tokens) still counts as a fence.
    """
    python_blocks: list[str] = []
    plain_blocks: list[str] = []
    for match in _FENCE.finditer(text):
        tag = match.group(1).lower()
        if tag in _PYTHON_TAGS:
            python_blocks.append(match.group(2))
        elif not tag:
            plain_blocks.append(match.group(2))
    if python_blocks:
        return python_blocks[-1].strip("\n"), "fenced_python"
    if plain_blocks:
        return plain_blocks[-1].strip("\n"), "fenced_block"
    return text.strip(), "whole_text"


def _limits(timeout_s: float, memory_mb: int, output_limit_bytes: int) -> None:
    """preexec_fn body: runs in the child between fork and exec, so it must not raise late."""
    import resource

    def lower(which: int, soft: int, hard: int) -> None:
        # Never ask for more than the current hard limit: raising it would fail unprivileged.
        _, current = resource.getrlimit(which)
        if current != resource.RLIM_INFINITY:
            soft, hard = min(soft, current), min(hard, current)
        resource.setrlimit(which, (soft, hard))

    cpu = math.ceil(timeout_s) + 1
    lower(resource.RLIMIT_CPU, cpu, cpu + 1)
    memory = memory_mb * 1024 * 1024
    lower(resource.RLIMIT_AS, memory, memory)
    lower(resource.RLIMIT_FSIZE, output_limit_bytes, output_limit_bytes)
    lower(resource.RLIMIT_CORE, 0, 0)
    # Some kernels or containers refuse it; the other limits still hold.
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))


def _tail(path: Path) -> str:
    data = path.read_bytes()[-_TAIL_CHARS * 2 :]
    return data.decode("utf-8", errors="replace")[-_TAIL_CHARS:]


def _last_error_line(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""


def _verdict(returncode: int, stdout: str, stderr: str, token: str) -> tuple[str, str]:
    """Classify a finished run from its exit code, the token and the last traceback line."""
    if returncode == 0 and stdout.rstrip().endswith(token):
        return "passed", "all tests passed"
    if returncode in (-signal.SIGXCPU, -signal.SIGKILL):
        return "timeout", "CPU time limit exceeded"
    if returncode == -signal.SIGXFSZ:
        return "error", "output or file size limit exceeded"
    last = _last_error_line(stderr)
    if last.startswith("AssertionError"):
        return "failed", last
    if last.startswith("MemoryError"):
        return "error", "MemoryError: memory limit exceeded"
    if "File too large" in last:
        return "error", "output or file size limit exceeded"
    if returncode == 0:
        return "error", "exited before the tests finished"
    if returncode < 0:
        return "error", f"killed by signal {-returncode}"
    return "error", last or f"exit status {returncode}"


def run_python(
    source: str,
    timeout_s: float = 10.0,
    memory_mb: int = 512,
    *,
    tests: str = "",
    tmp_root: str | Path | None = None,
    output_limit_bytes: int = 1024 * 1024,
) -> RunResult:
    """Run ``source`` then ``tests`` (assert statements) in a limited child process.

    ``tmp_root`` is where the temporary working directory is created (default: the system's);
    the directory and everything the code wrote into it are removed before this returns.
    """
    if timeout_s <= 0:
        raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
    if memory_mb < 16:
        raise ValueError(f"memory_mb must be >= 16, got {memory_mb}")
    token = "AURAON-DONE-" + secrets.token_hex(16)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="auraon-code-", dir=tmp_root) as workdir:
        work = Path(workdir)
        (work / "solution.py").write_text(source, encoding="utf-8")
        (work / "tests.py").write_text(tests, encoding="utf-8")
        out_path, err_path = work / ".stdout", work / ".stderr"
        with out_path.open("wb") as out, err_path.open("wb") as err:
            try:
                proc = subprocess.Popen(
                    [sys.executable, "-I", "-B", "-c", _HARNESS, token],
                    cwd=work,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                    # tempfile then writes inside the work directory, where writes are allowed.
                    env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "TMPDIR": str(work)},
                    start_new_session=True,  # its own process group, so killpg reaches children
                    preexec_fn=lambda: _limits(timeout_s, memory_mb, output_limit_bytes),
                    close_fds=True,
                )
            except OSError as exc:
                return RunResult("error", f"could not start python: {exc}", 0.0)
            timed_out = False
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                timed_out = True
            finally:
                # Also reaps anything the code left running in its group after a normal exit.
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        duration = time.perf_counter() - started
        stdout, stderr = _tail(out_path), _tail(err_path)
    if timed_out:
        return RunResult("timeout", f"wall-clock timeout after {timeout_s:g} s", duration, stdout)
    status, message = _verdict(proc.returncode, stdout, stderr, token)
    stdout = stdout.replace(token, "").rstrip("\n")
    return RunResult(status, message, duration, stdout, stderr)


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples of which c passed: ``1 - C(n-c, k) / C(n, k)``.

    Exact (rational arithmetic) for n <= 1000; above, the product form
    ``1 - prod_{i=n-c+1..n} (1 - k/i)``, which never forms the huge binomials.
    """
    if n < 1 or not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"pass_at_k needs n >= 1, 0 <= c <= n, 1 <= k <= n; got {n}, {c}, {k}")
    if n - c < k:
        return 1.0  # every k-subset contains a passing sample
    if n <= 1000:
        return float(1 - Fraction(math.comb(n - c, k), math.comb(n, k)))
    product = 1.0
    for i in range(n - c + 1, n + 1):
        product *= 1.0 - k / i
    return 1.0 - product
