"""Where load goes: a URL and key from flags or the environment, or the embedded emulator.

No ``--base-url`` and no ``--api-key`` (nor ``AURAON_BASE_URL`` / ``AURAON_API_KEY``) means: start
the built-in emulator in a child process on a free loopback port, use it, stop it, and mark every
figure as simulated. A key without a URL means Auraon's public API.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from auraon_bench.client.http import redact
from auraon_bench.emulator.launcher import DEMO_KEYS, EmulatorProcess

AURAON_BASE_URL = "https://api.auraon.ai/v1"


@dataclass(frozen=True)
class Target:
    base_url: str
    api_key: str | None
    simulated: bool
    time_scale: float | None = None
    plan: str | None = None

    def describe(self) -> dict[str, object]:
        """For the manifest: never the key itself."""
        return {
            "base_url": self.base_url,
            "api_key": redact(self.api_key),
            "simulated": self.simulated,
            "emulator_time_scale": self.time_scale,
            "emulator_plan": self.plan,
        }


@contextmanager
def open_target(
    base_url: str | None,
    api_key: str | None,
    *,
    plan: str = "enterprise",
    time_scale: float = 1.0,
    seed: int = 0,
    datasets: Sequence[str] = (),
    catalog: str | None = None,
) -> Iterator[Target]:
    if base_url or api_key:
        yield Target(
            base_url=(base_url or AURAON_BASE_URL).rstrip("/"), api_key=api_key, simulated=False
        )
        return
    with EmulatorProcess(
        seed=seed, time_scale=time_scale, datasets=datasets, catalog=catalog
    ) as emulator:
        yield Target(
            base_url=emulator.base_url,
            api_key=DEMO_KEYS[plan],
            simulated=True,
            time_scale=time_scale,
            plan=plan,
        )
