"""Shared fixtures. Every test is hermetic: no AURAON_* variables leak in from the environment,
and every server a test uses is started by the test suite on a free loopback port."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from auraon_bench.emulator.launcher import EmulatorProcess
from tests.litellm_proxy import LiteLLMProxy

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(autouse=True)
def hermetic(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in (
        "AURAON_BASE_URL",
        "AURAON_API_KEY",
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def emulator() -> Iterator[EmulatorProcess]:
    """A fast emulator (delays x0.01) with the sample dataset loaded."""
    with EmulatorProcess(time_scale=0.01, seed=7, datasets=[str(FIXTURES / "sample.jsonl")]) as emu:
        yield emu


@pytest.fixture(scope="session")
def instant_emulator() -> Iterator[EmulatorProcess]:
    """No simulated delays and no rate limits."""
    with EmulatorProcess(time_scale=0, seed=3) as emu:
        yield emu


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def litellm_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiteLLMProxy]:
    with LiteLLMProxy(tmp_path_factory.mktemp("litellm")) as proxy:
        yield proxy


@pytest.fixture
def litellm_proxy(litellm_session: LiteLLMProxy) -> LiteLLMProxy:
    """A real LiteLLM proxy (see tests/litellm_proxy.py), shared by the ``litellm`` tier; a
    fresh one when an earlier test's load crashed it, so one crash fails one test, not all."""
    if not litellm_session.alive:
        litellm_session.restart()
    return litellm_session


# Markers given by what a test uses rather than written on each test (pyproject lists them):
# a browser test is one that opens a page; an integration test starts or talks to a real server
# or process; the LiteLLM tier is slow by nature (real one-minute windows).
_SERVERS = frozenset({"emulator", "instant_emulator", "litellm_proxy", "litellm_session"})
_PROCESS_NAMES = frozenset({"EmulatorProcess", "ScriptedServer", "LiteLLMProxy", "RefServer",
                            "subprocess"})  # fmt: skip


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        code = getattr(getattr(item, "function", None), "__code__", None)
        names = set(code.co_names) if code is not None else set()
        if "check_page" in names or item.module.__name__.endswith("test_browser_support"):
            item.add_marker(pytest.mark.browser)
        if _SERVERS & set(getattr(item, "fixturenames", ())) or _PROCESS_NAMES & names:
            item.add_marker(pytest.mark.integration)
        if item.get_closest_marker("litellm") is not None:
            item.add_marker(pytest.mark.slow)
