"""code_runner: the limited child process, code extraction and pass@k."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auraon_bench.data.code_runner import extract_code, pass_at_k, run_python

ADD = "def add(a, b):\n    return a + b\n"


def test_passing_code_passes() -> None:
    result = run_python(ADD, 10, 256, tests="assert add(2, 3) == 5\nassert add(-1, 1) == 0")
    assert result.status == "passed" and result.passed
    assert result.message == "all tests passed"


def test_failing_assert_is_failed_with_the_assert_message() -> None:
    result = run_python(ADD, 10, 256, tests="assert add(2, 2) == 5, 'two plus two'")
    assert result.status == "failed" and not result.passed
    assert result.message == "AssertionError: two plus two"
    assert "tests.py" in result.stderr  # the traceback names the tests file


def test_exception_in_solution_is_an_error() -> None:
    result = run_python(
        "def add(a, b):\n    return a + c\n", 10, 256, tests="assert add(1, 2) == 3"
    )
    assert result.status == "error"
    assert result.message.startswith("NameError")


def test_syntax_error_is_an_error() -> None:
    assert run_python("def add(a, b:\n", 10, 256, tests="assert True").status == "error"


@pytest.mark.slow
def test_infinite_loop_is_killed_by_the_wall_clock() -> None:
    result = run_python("while True:\n    pass\n", timeout_s=1.0, memory_mb=256)
    assert result.status == "timeout"
    assert result.duration_s < 5


def test_sleeping_process_is_killed_too() -> None:
    # No CPU used: only the wall-clock timeout can stop it.
    result = run_python("import time\ntime.sleep(60)\n", timeout_s=0.5, memory_mb=256)
    assert result.status == "timeout"
    assert result.duration_s < 5


def test_memory_hog_is_stopped_by_the_address_space_limit() -> None:
    hog = "chunks = []\nwhile True:\n    chunks.append(bytearray(16 * 1024 * 1024))\n"
    result = run_python(hog, timeout_s=10, memory_mb=128)
    assert result.status == "error"
    assert "MemoryError" in result.message


@pytest.mark.parametrize(
    "source",
    [
        "import socket\nsocket.socket(socket.AF_INET6).connect(('::1', 9))",
        "import socket\nsocket.socket()",
        "import socket\nsocket.create_connection(('127.0.0.1', 9), timeout=1)",
        "import socket\nsocket.getaddrinfo('example.com', 80)",
        "import urllib.request\nurllib.request.urlopen('http://127.0.0.1:9/', timeout=1)",
    ],
)
def test_opening_a_network_socket_fails(source: str) -> None:
    result = run_python(source, 10, 256)
    assert result.status == "error"
    assert "network access is disabled" in result.message or "network access" in result.stderr


def test_local_socketpair_and_asyncio_still_work() -> None:
    source = "import asyncio\nasync def f():\n    return 3\nvalue = asyncio.run(f())\n"
    assert run_python(source, 10, 256, tests="assert value == 3").status == "passed"


def test_no_files_are_left_behind(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    root.mkdir()
    source = (
        "with open('scratch.txt', 'w') as f:\n    f.write('x' * 100)\nimport os\nos.mkdir('d')\n"
    )
    result = run_python(
        source, 10, 256, tests="import os\nassert os.path.exists('scratch.txt')", tmp_root=root
    )
    assert result.status == "passed"
    assert list(root.iterdir()) == []


def test_environment_is_emptied_and_stdin_closed() -> None:
    source = "import os, sys\nenv = dict(os.environ)\nline = sys.stdin.read()\n"
    tests = "assert set(env) <= {'PATH', 'LC_CTYPE', 'TMPDIR'}, env\nassert line == ''"
    assert run_python(source, 10, 256, tests=tests).status == "passed"


def test_early_exit_before_the_tests_does_not_pass() -> None:
    for source in ("import sys\nsys.exit(0)\n", "import os\nos._exit(0)\n"):
        result = run_python(source, 10, 256, tests="assert False")
        assert result.status == "error"
        assert result.message == "exited before the tests finished"


def test_the_code_cannot_rewrite_the_tests() -> None:
    source = "open('tests.py', 'w').write('pass')\n"
    assert run_python(source, 10, 256, tests="assert False").status == "failed"


def test_output_is_bounded_by_the_file_size_limit() -> None:
    result = run_python("print('x' * 10_000_000)\n", 10, 256, output_limit_bytes=64 * 1024)
    assert result.status == "error"
    assert "limit" in result.message


def test_stdout_is_returned_without_the_token() -> None:
    result = run_python("print('hello')\n", 10, 256)
    assert result.passed
    assert result.stdout == "hello"


def test_bad_limits_are_rejected() -> None:
    with pytest.raises(ValueError):
        run_python("pass", timeout_s=0)
    with pytest.raises(ValueError):
        run_python("pass", memory_mb=1)


def test_extract_code_prefers_the_last_python_fence() -> None:
    text = "First try:\n```python\nx = 1\n```\nBetter:\n```py\nx = 2\n```\nDone."
    assert extract_code(text) == ("x = 2", "fenced_python")


def test_extract_code_falls_back_to_a_plain_fence_then_the_whole_text() -> None:
    assert extract_code("```\nx = 3\n```") == ("x = 3", "fenced_block")
    assert extract_code("```bash\nls\n```\nx = 4") == ("```bash\nls\n```\nx = 4", "whole_text")
    assert extract_code("  x = 5\n") == ("x = 5", "whole_text")


def test_extract_code_accepts_an_unterminated_fence() -> None:
    assert extract_code("```python\ndef f():\n    return 1\n") == (
        "def f():\n    return 1",
        "fenced_python",
    )


@pytest.mark.parametrize(
    ("n", "c", "k", "expected"),
    [
        (10, 3, 1, 0.3),
        (10, 3, 5, 1 - math.comb(7, 5) / math.comb(10, 5)),  # 1 - 21/252 = 0.91666...
        (10, 0, 1, 0.0),
        (10, 0, 10, 0.0),
        (10, 10, 1, 1.0),
        (10, 10, 10, 1.0),
        (5, 1, 2, 0.4),  # 1 - C(4,2)/C(5,2) = 1 - 6/10
        (4, 2, 2, 1 - 1 / 6),  # 1 - C(2,2)/C(4,2)
        (10, 8, 3, 1.0),  # n - c < k: every 3-subset has a passing sample
    ],
)
def test_pass_at_k_hand_computed(n: int, c: int, k: int, expected: float) -> None:
    assert pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-12)


def test_pass_at_k_10_3_5_value() -> None:
    assert pass_at_k(10, 3, 5) == pytest.approx(0.9166666666666666, abs=1e-12)


@pytest.mark.parametrize(("n", "c", "k"), [(0, 0, 1), (5, 6, 1), (5, -1, 1), (5, 2, 0), (5, 2, 6)])
def test_pass_at_k_rejects_bad_arguments(n: int, c: int, k: int) -> None:
    with pytest.raises(ValueError):
        pass_at_k(n, c, k)


def test_pass_at_k_large_n_uses_the_product_form_and_agrees_with_exact() -> None:
    n, c, k = 2000, 37, 100
    exact = 1 - math.comb(n - c, k) / math.comb(n, k)
    assert pass_at_k(n, c, k) == pytest.approx(exact, rel=1e-9)


@given(
    st.integers(1, 60).flatmap(
        lambda n: st.tuples(st.just(n), st.integers(0, n), st.integers(1, n))
    )
)
def test_pass_at_k_is_a_probability_monotone_in_k(args: tuple[int, int, int]) -> None:
    n, c, k = args
    value = pass_at_k(n, c, k)
    assert 0.0 <= value <= 1.0
    if k < n:
        assert pass_at_k(n, c, k + 1) >= value - 1e-15
    if k == 1:
        assert value == pytest.approx(c / n)


def test_hostile_code_cannot_fork_or_start_processes(tmp_path: Path) -> None:
    for attack in (
        "import os\nos.fork()",
        "import os\nos.system('true')",
        "import subprocess\nsubprocess.run(['true'])",
        "import multiprocessing as m\np = m.Process(target=print)\np.start()",
    ):
        result = run_python(attack, timeout_s=10, tmp_root=tmp_path)
        assert result.status == "error", (attack, result)
        assert "PermissionError" in result.message or "disabled" in result.stderr, attack


def test_hostile_code_cannot_write_outside_its_directory(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    attacks = [
        f"open({str(outside)!r}, 'w').write('x')",
        f"import os\nos.open({str(outside)!r}, os.O_WRONLY | os.O_CREAT)",
        f"import os\nos.remove({str(victim)!r})",
        f"import pathlib\npathlib.Path({str(outside)!r}).write_text('x')",
        f"import shutil\nshutil.copy('solution.py', {str(outside)!r})",
        "open('../escape.txt', 'w').write('x')",
    ]
    for attack in attacks:
        result = run_python(attack, timeout_s=10, tmp_root=tmp_path)
        assert result.status == "error", (attack, result)
    assert not outside.exists() and victim.read_text() == "keep me"
    assert not (tmp_path / "escape.txt").exists()
    legit = run_python(
        "import tempfile, pathlib\npathlib.Path('note.txt').write_text('ok')\n"
        "with tempfile.NamedTemporaryFile('w') as f:\n    f.write('fine')",
        tests="assert open('note.txt').read() == 'ok'",
        timeout_s=10,
        tmp_root=tmp_path,
    )
    assert legit.status == "passed", legit
