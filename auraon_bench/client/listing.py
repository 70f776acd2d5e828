"""The target's model list (``GET /models``), read before any load: what the preflight checks
the arms against, and the candidates a router arm's cost is bounded by.

An answer is one of three things, and nothing in between:

* **listed**: a 200 with OpenAI's list shape (``{"data": [{"id": ...}, ...]}``). Pages are
  followed the OpenAI way (``has_more`` and ``after=<last_id>``) up to :data:`MAX_PAGES`; a list
  cut short there is ``complete = False``;
* **unavailable**: any other status (404: the gateway has no models endpoint), a body that is not
  JSON, or JSON of another shape. Not an error: ``problem`` says why the check could not be done,
  and the run warns;
* **refused**: unreachable, too slow, or 401/403 (the key): :class:`TargetError`, one line, since
  nothing else would work either.

The Auraon emulator marks every answer with ``x-emulator-time-scale``; ``emulator`` records it,
so an estimate can count tokens as the emulator bills them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import anyio
import httpx
import orjson

from auraon_bench.client.transport import Transport
from auraon_bench.client.wire import parse_error_body
from auraon_bench.errors import TargetError

MAX_PAGES = 50  # 50 pages of OpenAI's default 100: far beyond any gateway's model count
EMULATOR_HEADER = "x-emulator-time-scale"


@dataclass(frozen=True)
class ModelListing:
    """What ``GET {url}`` said. ``ids`` is None when the list could not be read (``problem``
    says why)."""

    url: str
    ids: tuple[str, ...] | None
    problem: str | None = None
    complete: bool = True
    emulator: bool = False

    @property
    def checked(self) -> bool:
        return self.ids is not None

    def describe(self) -> dict[str, Any]:
        """For the manifest: enough to tell later what the arms were checked against."""
        return {
            "url": self.url,
            "listed": list(self.ids) if self.ids is not None else None,
            "complete": self.complete,
            "problem": self.problem,
        }


def parse_page(status: int, raw: bytes, url: str) -> tuple[list[str], str | None] | str:
    """One page: ``(ids, cursor of the next page or None)``, or why it is not a model list."""
    if status != 200:
        detail = parse_error_body(raw).message if raw else ""
        return f"GET {url} answered HTTP {status}" + (f" ({detail[:120]})" if detail else "")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return f"GET {url} answered 200 with a body that is not JSON ({raw[:60]!r})"
    data = body.get("data") if isinstance(body, Mapping) else None
    if not isinstance(data, list):
        return f"GET {url} answered JSON without a 'data' list (not an OpenAI model list)"
    ids = [m["id"] for m in data if isinstance(m, Mapping) and isinstance(m.get("id"), str)]
    cursor = None
    if body.get("has_more") is True and ids:
        last = body.get("last_id")
        cursor = last if isinstance(last, str) and last else ids[-1]
    return ids, cursor


def unreachable(exc: httpx.HTTPError) -> str:
    """Why a request got no HTTP answer, in one line: a server that speaks another protocol
    (SSH greets first, so aiohttp sees its greeting before it sends) or closes at once is
    named as such, and no library message runs on over several lines."""
    text = " ".join((str(exc) or type(exc).__name__).split())
    if not isinstance(exc, httpx.ConnectError | httpx.TimeoutException) and (
        "disconnected" in text.lower() or "closing transport" in text.lower()
    ):
        return (
            f"the server closed the connection without an HTTP answer ({text}): is this the "
            "port of an HTTP server?"
        )
    return text if len(text) <= 300 else text[:297] + "..."


async def fetch_listing(
    transport: Transport,
    base_url: str,
    headers: Mapping[str, str],
    timeout: float = 10.0,
) -> ModelListing:
    """Read every page of ``{base_url}/models`` within ``timeout`` seconds in all."""
    url = f"{base_url}/models"
    ids: dict[str, None] = {}  # ordered, without repeats
    emulator = False
    cursor: str | None = None
    try:
        with anyio.fail_after(timeout):
            for _ in range(MAX_PAGES):
                page_url = url if cursor is None else f"{url}?after={quote(cursor, safe='')}"
                response = await transport.send("GET", page_url, headers, None)
                try:
                    raw = await response.aread()
                finally:
                    await response.aclose()
                emulator = emulator or EMULATOR_HEADER in response.headers
                if response.status_code in (401, 403):
                    error = parse_error_body(raw)
                    raise TargetError(
                        f"the target rejected the API key (HTTP {response.status_code} at "
                        f"{url}): {error.message}"
                    )
                page = parse_page(response.status_code, raw, page_url)
                if isinstance(page, str):
                    if ids:  # a later page failed: what was read is a partial list
                        return ModelListing(url, tuple(ids), page, False, emulator)
                    return ModelListing(url, None, page, True, emulator)
                found, cursor = page
                before = len(ids)
                ids.update(dict.fromkeys(found))
                # A gateway that ignores ``after`` sends the same page forever: its list is
                # what it sent, not an unfinished one.
                if cursor is None or len(ids) == before:
                    return ModelListing(url, tuple(ids), None, True, emulator)
    except TimeoutError:
        raise TargetError(f"no answer from {url} within {timeout:g}s") from None
    except httpx.HTTPError as exc:
        raise TargetError(f"cannot reach {url}: {unreachable(exc)}") from None
    problem = f"GET {url} still had more pages after {MAX_PAGES}"
    return ModelListing(url, tuple(ids), problem, False, emulator)
