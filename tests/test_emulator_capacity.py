"""Simulated model capacity: catalog keys and their errors, the pool's FIFO hand-over, and a real
emulator whose slots make requests queue in waves, refuse at once when the queue is full, and
push ``auto`` to its next model."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from auraon_bench.catalog import ModelCapacity, load_catalog
from auraon_bench.emulator.capacity import ModelPool, typical_service_s
from auraon_bench.emulator.gateway import Gateway, GatewayHeaders
from auraon_bench.emulator.launcher import EmulatorProcess
from auraon_bench.emulator.protocol import ApiError, parse_chat_request
from auraon_bench.errors import CatalogError

EXTENDS = '[meta]\nextends = "builtin"\n'
AUTH = {"Authorization": "Bearer br-demo-enterprise"}  # unlimited plan: only capacity refuses
SCALE = 0.2
# Deterministic service: no TTFT spread, no gap jitter, no slow tail.
OVERLAY = (
    EXTENDS
    + "[defaults]\nttft_sigma = 0\nitl_jitter = 0\nslow_tail_prob = 0\n"
    # waves: S = 1.0 + 10 / 20 = 1.5 simulated s for 11 tokens (0.3 s real)
    + '[models."gpt-4o-mini"]\nttft_s = 1.0\noutput_tok_s = 20\ncapacity = { slots = 2 }\n'
    + '[models."llama-3-3-70b"]\nttft_s = 1.0\noutput_tok_s = 20\n'
    + "capacity = { slots = 1, queue = 1 }\n"
    + '[models."llama-3.1-8b"]\nttft_s = 1.0\noutput_tok_s = 20\n'
    + 'capacity = { slots = 1, queue = 1, when_full = "429" }\n'
    + '[models."gemini-2.5-flash"]\ncapacity = { slots = 1, queue = 0 }\n'
)
N_TOKENS = 11
SERVICE_S = (1.0 + (N_TOKENS - 1) / 20) * SCALE  # real seconds a request holds its slot
TTFT_S = 1.0 * SCALE


def write(tmp_path: Path, text: str, name: str = "cap.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# -- catalog ------------------------------------------------------------------------------------
def test_builtin_models_are_unlimited_and_the_emulator_builds_no_pool_for_them() -> None:
    catalog = load_catalog()
    assert catalog.defaults.capacity is None
    assert all(m.capacity is None for m in catalog.models.values())
    assert Gateway(catalog, clock=time.perf_counter).pools == {}


def test_capacity_keys_defaults_and_overrides(tmp_path: Path) -> None:
    catalog = load_catalog(
        write(
            tmp_path,
            EXTENDS
            + '[defaults.capacity]\nslots = 8\nwhen_full = "429"\n'
            + '[models."gpt-4o"]\ncapacity = { slots = 2 }\n'
            + '[models."gpt-4o-mini"]\ncapacity = { slots = 3, queue = 0, when_full = 503 }\n'
            + '[models."claude-opus-4"]\ncapacity = false\n',
        )
    )
    models = catalog.models
    assert catalog.defaults.capacity == ModelCapacity(8, 32, "429")
    assert models["gemini-2.5-pro"].capacity == ModelCapacity(8, 32, "429")
    # A model's own slots set its default queue; the keys it omits come from the defaults.
    assert models["gpt-4o"].capacity == ModelCapacity(2, 8, "429")
    assert models["gpt-4o-mini"].capacity == ModelCapacity(3, 0, "503")
    assert models["claude-opus-4"].capacity is None
    only_one = load_catalog(write(tmp_path, EXTENDS + '[models."gpt-4o".capacity]\nslots = 1\n'))
    assert only_one.models["gpt-4o"].capacity == ModelCapacity(1, 4, "503")
    assert only_one.models["gpt-4o-mini"].capacity is None


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('[models."gpt-4o".capacity]\nslots = 0\n', "'models.gpt-4o.capacity.slots': must be >= 1"),
        ('[models."gpt-4o".capacity]\nslots = 1.5\n', "capacity.slots': must be an integer"),
        ('[models."gpt-4o".capacity]\nqueue = 3\n', "'models.gpt-4o.capacity.slots': is required"),
        (
            '[models."gpt-4o".capacity]\nslots = 2\nqueue = -1\n',
            "'models.gpt-4o.capacity.queue': must be >= 0, got -1",
        ),
        (
            '[models."gpt-4o".capacity]\nslots = 2\nwhen_full = "500"\n',
            "'models.gpt-4o.capacity.when_full': must be \"503\" or \"429\", got '500'",
        ),
        (
            '[models."gpt-4o".capacity]\nslots = 2\nwhen_full = true\n',
            '\'models.gpt-4o.capacity.when_full\': must be "503" or "429", got True',
        ),
        (
            '[models."gpt-4o".capacity]\nslots = 2\nqueu = 3\n',
            "'models.gpt-4o.capacity.queu': unknown key (known: queue, slots, when_full)",
        ),
        (
            '[models."gpt-4o"]\ncapacity = true\n',
            "'models.gpt-4o.capacity': must be a table or false, got True",
        ),
        ("[defaults]\ncapacity = 4\n", "'defaults.capacity': must be a table, got int"),
        ("[defaults.capacity]\nslots = -2\n", "'defaults.capacity.slots': must be >= 1"),
        ("[defaults.capacity]\nslot = 2\n", "'defaults.capacity.slot': unknown key"),
    ],
)
def test_bad_capacity_is_a_one_line_error_naming_the_key(
    tmp_path: Path, text: str, fragment: str
) -> None:
    path = write(tmp_path, EXTENDS + text)
    with pytest.raises(CatalogError) as info:
        load_catalog(path)
    message = str(info.value)
    assert fragment in message and str(path) in message and "\n" not in message


# -- the pool -----------------------------------------------------------------------------------
def test_pool_hands_slots_over_in_arrival_order_and_forgets_cancelled_waiters() -> None:
    async def main() -> list[str]:
        pool = ModelPool("m", ModelCapacity(slots=1, queue=3), retry_after_s=1.0)
        order: list[str] = []

        async def request(name: str, hold: float) -> None:
            seat = pool.enter()
            try:
                await seat.taken()
                order.append(name)
                await asyncio.sleep(hold)
            finally:
                seat.leave()

        first = asyncio.create_task(request("a", 0.05))
        await asyncio.sleep(0)
        waiters = [asyncio.create_task(request(n, 0.0)) for n in ("b", "c", "d")]
        await asyncio.sleep(0.01)
        assert pool.busy == 1 and len(pool.waiting) == 3 and pool.full()
        waiters[1].cancel()  # "c" gives up while queued: its place is freed at once
        await asyncio.sleep(0)
        assert len(pool.waiting) == 2 and not pool.full()
        await asyncio.gather(first, waiters[0], waiters[2])
        assert pool.busy == 0 and not pool.waiting
        return order

    assert asyncio.run(main()) == ["a", "b", "d"]


# -- the gateway, without HTTP -----------------------------------------------------------------
def chat(model: str, **extra: Any) -> Any:
    catalog_ids = load_catalog().model_ids()
    body = {"model": model, "messages": [{"role": "user", "content": "Say hi."}], **extra}
    return parse_chat_request(orjson.dumps(body), catalog_ids)


def test_gateway_refuses_a_full_model_and_falls_back_along_the_chain(tmp_path: Path) -> None:
    catalog = load_catalog(write(tmp_path, OVERLAY))
    gateway = Gateway(catalog, time_scale=SCALE, clock=time.perf_counter)
    plan = catalog.plans["enterprise"]
    held = gateway.simulate(chat("gemini-2.5-flash"), None, plan, GatewayHeaders())
    assert held.seat is not None and held.seat.held
    with pytest.raises(ApiError) as info:
        gateway.simulate(chat("gemini-2.5-flash"), None, plan, GatewayHeaders())
    assert (info.value.status, info.value.code) == (503, "model_overloaded")
    assert info.value.message == "gemini-2.5-flash is at capacity: 1 in service, 0 waiting"
    rescued = gateway.simulate(
        chat("gemini-2.5-flash"), None, plan, GatewayHeaders(fallbacks=("gpt-4o",))
    )
    assert rescued.model == "gpt-4o" and rescued.seat is None  # gpt-4o: no capacity, no seat
    assert "fallback:gemini-2.5-flash=503" in rescued.routing_reason
    held.seat.leave()
    again = gateway.simulate(chat("gemini-2.5-flash"), None, plan, GatewayHeaders())
    assert again.seat is not None and again.seat.held
    # A 429 model: the refusal advertises about one typical service time, in real seconds.
    model = catalog.models["llama-3.1-8b"]
    seats = [
        gateway.simulate(chat("llama-3.1-8b"), None, plan, GatewayHeaders()).seat for _ in range(2)
    ]
    assert [s.held for s in seats if s] == [True, False]
    with pytest.raises(ApiError) as info:
        gateway.simulate(chat("llama-3.1-8b"), None, plan, GatewayHeaders())
    expected = typical_service_s(model, catalog.defaults) * SCALE
    assert info.value.status == 429
    assert info.value.headers["retry-after-ms"] == str(math.ceil(expected * 1000))
    assert info.value.headers["retry-after"] == str(max(1, math.ceil(expected)))


def test_time_scale_zero_ignores_capacity(tmp_path: Path) -> None:
    catalog = load_catalog(write(tmp_path, OVERLAY))
    gateway = Gateway(catalog, time_scale=0, clock=time.perf_counter)
    plan = catalog.plans["enterprise"]
    sims = [gateway.simulate(chat("gemini-2.5-flash"), None, plan, GatewayHeaders()) for _ in "ab"]
    assert gateway.pools == {} and all(s.seat is None for s in sims)


# -- over HTTP ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    path = tmp_path_factory.mktemp("capacity") / "cap.toml"
    path.write_text(OVERLAY)
    with EmulatorProcess(time_scale=SCALE, catalog=str(path)) as emulator:
        yield emulator


async def timed_stream(
    client: httpx.AsyncClient, url: str, model: str, t0: float, max_tokens: int = N_TOKENS
) -> dict[str, Any]:
    """One streamed request read to the end: status, headers, and times from ``t0`` to the
    answer's first content event and to its end, as a plain client measures them."""
    body = {
        "model": model,
        "messages": [{"role": "user", "content": "Say hi."}],
        "max_tokens": max_tokens,
        "ignore_eos": True,
        "stream": True,
    }
    first = None
    async with client.stream("POST", url, json=body, headers=AUTH) as response:
        if response.status_code != 200:
            await response.aread()
            return {
                "status": response.status_code,
                "end": time.perf_counter() - t0,
                "headers": response.headers,
                "error": response.json()["error"],
            }
        async for line in response.aiter_lines():
            if first is None and line.startswith("data: ") and '"content":"' in line:
                first = time.perf_counter() - t0
    return {
        "status": 200,
        "ttft": first,
        "end": time.perf_counter() - t0,
        "headers": response.headers,
    }


def burst(emu: EmulatorProcess, model: str, n: int) -> list[dict[str, Any]]:
    async def main() -> list[dict[str, Any]]:
        async with httpx.AsyncClient(timeout=30) as client:
            url = f"{emu.base_url}/chat/completions"
            await client.get(f"{emu.url}/health")  # warm one connection; the rest open at once
            t0 = time.perf_counter()
            return list(
                await asyncio.gather(*(timed_stream(client, url, model, t0) for _ in range(n)))
            )

    return asyncio.run(main())


@pytest.mark.slow
def test_six_requests_on_two_slots_start_in_three_waves(emu: EmulatorProcess) -> None:
    results = burst(emu, "gpt-4o-mini", 6)
    assert [r["status"] for r in results] == [200] * 6
    ttfts = sorted(r["ttft"] for r in results)
    # Two at once, two one service time later, two after two: within a wave requests differ by
    # their arrival spread only, between waves by a whole service time (0.3 s real).
    within = max(ttfts[1] - ttfts[0], ttfts[3] - ttfts[2], ttfts[5] - ttfts[4])
    between = min(ttfts[2] - ttfts[1], ttfts[4] - ttfts[3])
    assert within < SERVICE_S / 3 < between
    assert ttfts[0] < TTFT_S + SERVICE_S / 2
    assert TTFT_S + 1.5 * SERVICE_S < ttfts[4] < TTFT_S + 4 * SERVICE_S
    queued = sorted(float(r["headers"]["x-emulator-queue-ms"]) / 1000 for r in results)
    assert queued[:2] == pytest.approx([0, 0], abs=SERVICE_S / 3)
    assert queued[2:4] == pytest.approx([SERVICE_S] * 2, abs=SERVICE_S / 3)
    assert queued[4:] == pytest.approx([2 * SERVICE_S] * 2, abs=SERVICE_S / 2)
    # The first-token header counts the wait, so it still says what the client measures.
    for r in results:
        due = float(r["headers"]["x-emulator-first-token-ms"]) / 1000
        queued_s = float(r["headers"]["x-emulator-queue-ms"]) / 1000
        assert due == pytest.approx(queued_s + TTFT_S, abs=0.01)
        assert r["ttft"] >= due - 0.01


@pytest.mark.parametrize(("model", "status"), [("llama-3-3-70b", 503), ("llama-3.1-8b", 429)])
@pytest.mark.slow
def test_a_full_queue_refuses_at_once(emu: EmulatorProcess, model: str, status: int) -> None:
    results = burst(emu, model, 4)
    served = [r for r in results if r["status"] == 200]
    refused = [r for r in results if r["status"] != 200]
    assert len(served) == 2 and len(refused) == 2
    assert {r["status"] for r in refused} == {status}
    for r in refused:
        assert r["end"] < min(s["ttft"] for s in served)  # before anyone got a token
        assert r["error"] == {
            "message": f"{model} is at capacity: 1 in service, 1 waiting",
            "type": "server_error",
            "param": None,
            "code": "model_overloaded",
        }
        assert ("retry-after" in r["headers"]) == (status == 429)
    if status == 429:
        # About one typical service time: (1.0 + 180 / 20) simulated s at the time scale.
        assert int(refused[0]["headers"]["retry-after-ms"]) == round(
            (1.0 + 180 / 20) * SCALE * 1000
        )
    second = max(served, key=lambda r: r["ttft"])
    assert float(second["headers"]["x-emulator-queue-ms"]) / 1000 > SERVICE_S * 2 / 3


def test_auto_falls_back_when_its_first_choice_is_full(emu: EmulatorProcess) -> None:
    def auto() -> httpx.Response:
        return httpx.post(
            f"{emu.base_url}/chat/completions",
            json={
                "model": "auto",
                "messages": [{"role": "user", "content": "Say hi."}],
                "max_tokens": 3,
            },
            headers=AUTH,
            timeout=30,
        )

    idle = auto().json()["blockrun"]
    assert idle["routed_to"] == "gemini-2.5-flash"  # the first choice, when it has room

    async def main() -> tuple[dict[str, Any], httpx.Response, float]:
        async with httpx.AsyncClient(timeout=30) as client:
            url = f"{emu.base_url}/chat/completions"
            t0 = time.perf_counter()
            # gemini-2.5-flash: one slot, no queue; this answer holds it about 0.45 s real.
            holder = asyncio.create_task(timed_stream(client, url, "gemini-2.5-flash", t0, 400))
            await asyncio.sleep(0.05)  # the request is in: the slot is taken
            sent = time.perf_counter() - t0
            pushed = await asyncio.to_thread(auto)
            return await holder, pushed, sent

    holder, pushed, sent = asyncio.run(main())
    assert holder["status"] == 200 and holder["end"] > sent + 0.1  # being served meanwhile
    meta = pushed.json()["blockrun"]
    assert pushed.status_code == 200 and meta["routed_to"] != "gemini-2.5-flash"
    assert "fallback:gemini-2.5-flash=503" in meta["routing_reason"]


def test_a_client_that_leaves_mid_stream_frees_its_slot(emu: EmulatorProcess) -> None:
    async def main() -> float:
        async with httpx.AsyncClient(timeout=30) as client:
            url = f"{emu.base_url}/chat/completions"
            body = {
                "model": "llama-3-3-70b",  # one slot; this answer would hold it 2.2 s real
                "messages": [{"role": "user", "content": "Say hi."}],
                "max_tokens": 200,
                "ignore_eos": True,
                "stream": True,
            }
            async with client.stream("POST", url, json=body, headers=AUTH) as response:
                async for line in response.aiter_lines():
                    if line.startswith("data: "):
                        break  # the first token came: hang up
            t0 = time.perf_counter()
            after = await timed_stream(client, url, "llama-3-3-70b", t0)
            assert after["status"] == 200
            return float(after["headers"]["x-emulator-queue-ms"]) / 1000

    assert asyncio.run(main()) < SERVICE_S / 2
