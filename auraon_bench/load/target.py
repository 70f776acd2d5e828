"""Where load goes: a URL and key from flags or the environment, or the embedded emulator.

No ``--base-url`` and no ``--api-key`` (nor ``AURAON_BASE_URL`` / ``AURAON_API_KEY``) means: start
the built-in emulator in a child process on a free loopback port, use it, stop it, and mark every
figure as simulated. A key without a URL means Auraon's public API.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

from auraon_bench.catalog import load_catalog
from auraon_bench.catalog.schema import TWIN_PLAN
from auraon_bench.client.http import redact
from auraon_bench.emulator.launcher import DEMO_KEYS, EmulatorProcess
from auraon_bench.errors import ConfigError
from auraon_bench.results.labels import simulated_label

AURAON_BASE_URL = "https://api.auraon.ai/v1"
SCHEMES = ("http", "https")
# Up to the last "@": a password may itself hold "/" or "@", and hiding a path is harmless.
_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)?.*@", re.DOTALL)


def shown_url(url: str) -> str:
    """``url`` fit to print: everything between its scheme and its last ``@`` (a user and a
    password) replaced by ``***``, so an error message never repeats a credential."""
    return _USERINFO.sub(lambda m: f"{m.group(1) or ''}***@", url, count=1)


def check_base_url(url: str, field: str = "--base-url") -> str:
    """The base URL with its trailing slashes removed, or a ``ConfigError`` naming ``field``
    that says what is wrong with it, checked before anything connects (pure). Credentials in
    the URL are refused, not used: they would be sent to every gateway the URL is given to,
    and the URL is printed in messages and written to the manifest; the key goes in
    --api-key. Every message shows the URL through :func:`shown_url`."""
    text = url.strip()
    shown = shown_url(text)
    if not text:
        raise ConfigError(
            "is empty; give the target's URL, e.g. http://127.0.0.1:4011/v1", field=field
        )
    if "@" in text:
        # Refused before anything echoes the URL: a password may hold "/", "?" or "@", so any
        # "@" counts (one in a base URL's path would be rare, and is refused all the same).
        raise ConfigError(
            "a user or password in the base URL is not accepted (it would be sent and "
            "printed); pass the key with --api-key or AURAON_API_KEY",
            field=field,
        )
    if "://" not in text:
        raise ConfigError(
            f"base URL needs http:// or https:// (got {shown!r}; did you mean "
            f"'http://{shown.lstrip('/')}'?)",
            field=field,
        )
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"not a valid URL ({exc}): {shown!r}", field=field) from None
    if parts.scheme not in SCHEMES:
        raise ConfigError(
            f"base URL needs http:// or https://, not {parts.scheme}:// (got {shown!r})",
            field=field,
        )
    if not parts.hostname or any(c.isspace() for c in text):
        what = "has no host" if not parts.hostname else "holds a space"
        raise ConfigError(f"base URL {what}: {shown!r}", field=field)
    if port == 0:
        raise ConfigError(f"port 0 cannot be connected to: {shown!r}", field=field)
    if parts.query or parts.fragment:
        raise ConfigError(
            f"a base URL ends at its path, without ?query or #fragment: {shown!r}", field=field
        )
    return text.rstrip("/")


def check_time_scale(time_scale: float, field: str = "--time-scale") -> float:
    if not (math.isfinite(time_scale) and time_scale >= 0):
        raise ConfigError(f"must be a finite number >= 0, got {time_scale}", field=field)
    return time_scale


@dataclass(frozen=True)
class Target:
    base_url: str
    api_key: str | None
    simulated: bool
    time_scale: float | None = None
    plan: str | None = None
    catalog: str | None = None  # the embedded emulator's catalog file (None: the built-in)
    twin_of: str | None = None  # the catalog is a twin fitted to this run ([meta] twin_of)

    def describe(self) -> dict[str, object]:
        """For the manifest: never the key itself."""
        return {
            "base_url": self.base_url,
            "api_key": redact(self.api_key),
            "simulated": self.simulated,
            "emulator_time_scale": self.time_scale,
            "emulator_plan": self.plan,
            "emulator_catalog": self.catalog,
            "twin_of": self.twin_of,
        }

    @property
    def label(self) -> str:
        """What the target is, in words: its URL, or the simulated label."""
        return simulated_label(self.twin_of) if self.simulated else self.base_url


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
    check_time_scale(time_scale)  # ignored by a real target, but never silently nonsense
    if base_url is not None:
        base_url = check_base_url(base_url)
    if base_url or api_key:
        yield Target(base_url=base_url or AURAON_BASE_URL, api_key=api_key, simulated=False)
        return
    twin_of = None
    if catalog is not None:
        loaded = load_catalog(catalog)  # a bad file fails here, in one line, before any start
        twin_of = loaded.twin_of
        if DEMO_KEYS.get(plan) not in loaded.keys:
            raise ConfigError(
                f"plan {plan!r} has no demo key in the catalog {catalog}"
                + (" (a twin fitted from a limits run has one)" if plan == TWIN_PLAN else ""),
                field="--plan",
            )
    elif plan == TWIN_PLAN:
        raise ConfigError(
            "plan 'twin' needs --catalog with a twin fitted from a limits run", field="--plan"
        )
    with EmulatorProcess(
        seed=seed, time_scale=time_scale, datasets=datasets, catalog=catalog
    ) as emulator:
        yield Target(
            base_url=emulator.base_url,
            api_key=DEMO_KEYS[plan],
            simulated=True,
            time_scale=time_scale,
            plan=plan,
            catalog=catalog,
            twin_of=twin_of,
        )
