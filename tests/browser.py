"""Open a local HTML file in headless Chromium and report what a reader would see go wrong.

Tests use this to check that generated HTML pages render and are self-contained: no console
errors, every image decodes, and nothing is fetched from the network. It speaks the Chrome
DevTools Protocol (CDP) directly over aiohttp's WebSocket client, so the suite needs only a
Chromium binary (CI installs Debian's `chromium`) and no browser-automation package.

POSIX only (process groups). `check_page` calls `asyncio.run`, so call it from synchronous code.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

_CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome")
_FLAGS = (
    "--headless",
    "--no-sandbox",  # CI runs as root: "Running as root without --no-sandbox is not supported"
    "--disable-gpu",  # there is no GPU on CI; software rendering is all a static page needs
    "--disable-quic",
    "--no-first-run",
    # Keep the browser itself off the network (the machine may have none) so that any
    # request we see comes from the page under test.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-port=0",  # the OS picks a free port; Chromium prints it on stderr
)
_DEVTOOLS_LINE = re.compile(rb"DevTools listening on ws://127\.0\.0\.1:(\d+)/")
# Schemes that never leave the machine; anything else the page requests is external.
_LOCAL_SCHEMES = ("file:", "data:", "about:", "blob:")
# After the load event, failed-resource log entries and errors thrown from timers still trickle in.
SETTLE_SECONDS = 0.5

_PAGE_FACTS_JS = """(() => ({
  readyState: document.readyState,
  protocol: location.protocol,
  title: document.title,
  svgCount: document.querySelectorAll("svg").length,
  images: Array.from(document.querySelectorAll("img"), (img) => [
    (img.getAttribute("src") || img.currentSrc || "").slice(0, 80),  // as authored
    img.complete && img.naturalWidth > 0,
    img.naturalWidth,
  ]),
}))()"""


class BrowserError(RuntimeError):
    """Chromium is missing, would not start, or the page could not be checked in time."""


@dataclass
class PageReport:
    console_errors: list[str] = field(default_factory=list)
    images: list[tuple[str, bool, int]] = field(default_factory=list)  # (src prefix, loaded, w)
    svg_count: int = 0
    title: str = ""
    external_requests: list[str] = field(default_factory=list)


def find_chromium() -> str:
    """The Chromium executable: $CHROMIUM (path or name on PATH) if set, else the usual names."""
    override = os.environ.get("CHROMIUM")
    if override:
        # An explicit choice that does not work is an error, never a silent fallback.
        found = shutil.which(override)
        if found is None:
            raise BrowserError(f"CHROMIUM={override!r} is not an executable file")
        return found
    for candidate in _CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    raise BrowserError(
        f"no Chromium found (tried {', '.join(_CANDIDATES)}); "
        "install it (apt-get install chromium) or set CHROMIUM=/path/to/chrome"
    )


def check_page(
    path: Path, timeout: float = 30.0, screenshot: Path | None = None, height: int = 2400
) -> PageReport:
    """Load `path` in a fresh headless Chromium and report errors, images, SVGs and requests;
    with `screenshot`, also save the page's top `height` CSS pixels (1200 wide) as a PNG."""
    page = Path(path).resolve()
    if not page.is_file():
        raise FileNotFoundError(page)
    binary = find_chromium()
    deadline = time.monotonic() + timeout
    workdir = Path(tempfile.mkdtemp(prefix="chromium-check-"))
    stderr_log = workdir / "stderr.log"
    # Debian's Chromium writes crash reports under $XDG_CONFIG_HOME/chromium and dconf state
    # under $XDG_CACHE_HOME whatever --user-data-dir says; keep those in the temp dir too.
    env = {**os.environ, "HOME": str(workdir)}
    env |= {"XDG_CONFIG_HOME": str(workdir / "config"), "XDG_CACHE_HOME": str(workdir / "cache")}
    proc: subprocess.Popen[bytes] | None = None
    try:
        # stderr goes to a file, not a pipe: Chromium logs a lot and would block on a full
        # pipe once we stop reading it, and the file gives us a tail for error messages.
        with stderr_log.open("wb") as err:
            try:
                proc = subprocess.Popen(
                    [binary, *_FLAGS, f"--user-data-dir={workdir / 'profile'}", "about:blank"],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=err,
                    env=env,
                    start_new_session=True,  # own process group, so cleanup reaches renderers
                )
            except OSError as exc:
                raise BrowserError(f"cannot run {binary}: {exc}") from exc
        port = _wait_for_devtools_port(proc, stderr_log, deadline, timeout)
        try:
            return asyncio.run(
                asyncio.wait_for(
                    _inspect(port, page.as_uri(), deadline, screenshot, height), _left(deadline)
                )
            )
        except TimeoutError as exc:
            raise BrowserError(f"checking {page} took longer than {timeout}s") from exc
    finally:
        if proc is not None:
            _kill(proc)
        shutil.rmtree(workdir, ignore_errors=True)


def _left(deadline: float) -> float:
    return max(0.0, deadline - time.monotonic())


def _stderr_tail(stderr_log: Path) -> str:
    return "\n".join(stderr_log.read_bytes().decode(errors="replace").splitlines()[-15:])


def _wait_for_devtools_port(
    proc: subprocess.Popen[bytes], stderr_log: Path, deadline: float, timeout: float
) -> int:
    while True:
        match = _DEVTOOLS_LINE.search(stderr_log.read_bytes())
        if match:
            return int(match.group(1))
        if proc.poll() is not None:
            raise BrowserError(
                f"chromium exited with status {proc.returncode} before DevTools started:\n"
                + _stderr_tail(stderr_log)
            )
        if time.monotonic() >= deadline:
            raise BrowserError(
                f"chromium did not start DevTools within {timeout}s:\n" + _stderr_tail(stderr_log)
            )
        time.sleep(0.05)


def _kill(proc: subprocess.Popen[bytes]) -> None:
    # The profile is throwaway, so SIGKILL the whole group (browser, zygotes, renderers, GPU)
    # rather than a clean shutdown that could hang; SIGTERM was tried and orphans the helpers
    # just the same. (Crashpad handlers detach into their own groups and exit by themselves.)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)


async def _inspect(
    port: int, url: str, deadline: float, screenshot: Path | None = None, height: int = 2400
) -> PageReport:
    report = PageReport()
    # trust_env stays False: a proxy must never sit between us and the local browser.
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        ws_url = await _page_websocket_url(http, f"http://127.0.0.1:{port}")
        # max_msg_size=0: request events carry whole data: URLs, which can exceed 4 MB.
        async with http.ws_connect(ws_url, max_msg_size=0) as ws:
            cdp = _Cdp(ws, report)
            for domain in ("Runtime", "Log", "Page", "Network"):
                await cdp.call(f"{domain}.enable")
            cdp.loaded = False  # forget any late load event from the initial about:blank
            navigation = await cdp.call("Page.navigate", {"url": url})
            if navigation.get("errorText"):
                raise BrowserError(f"navigating to {url} failed: {navigation['errorText']}")
            try:
                while not cdp.loaded:
                    await cdp.receive(_left(deadline))
            except TimeoutError as exc:
                raise BrowserError(f"{url} never fired its load event") from exc
            await cdp.drain(SETTLE_SECONDS)
            facts = await cdp.evaluate(_PAGE_FACTS_JS)
            # The load event could in principle be a stale one; trust only the page's own word.
            while facts["readyState"] != "complete" or facts["protocol"] != "file:":
                await cdp.drain(min(0.1, _left(deadline)))
                facts = await cdp.evaluate(_PAGE_FACTS_JS)
            if screenshot is not None:
                await _capture(cdp, screenshot, height)
    report.title = facts["title"]
    report.svg_count = facts["svgCount"]
    report.images = [(src, loaded, int(width)) for src, loaded, width in facts["images"]]
    return report


async def _capture(cdp: _Cdp, out: Path, height: int) -> None:
    width = 1200
    await cdp.call(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
    )
    shot = await cdp.call(
        "Page.captureScreenshot",
        {"format": "png", "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}},
    )
    out.write_bytes(base64.b64decode(shot["data"]))


async def _page_websocket_url(http: aiohttp.ClientSession, base: str) -> str:
    async with http.get(f"{base}/json/list") as resp:
        targets = await resp.json(content_type=None)
    for target in targets:
        if target.get("type") == "page" and target.get("webSocketDebuggerUrl"):
            return target["webSocketDebuggerUrl"]
    # The about:blank tab may not be listed yet; recent Chromium needs PUT for /json/new.
    async with http.put(f"{base}/json/new?about:blank") as resp:
        target = await resp.json(content_type=None)
    return target["webSocketDebuggerUrl"]


class _Cdp:
    """One CDP session, read inline: every wait pumps messages, so no event is missed."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, report: PageReport) -> None:
        self._ws = ws
        self._report = report
        self._ids = itertools.count(1)
        self.loaded = False

    async def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        call_id = next(self._ids)
        await self._ws.send_json({"id": call_id, "method": method, "params": params or {}})
        while True:
            message = await self.receive(None)  # bounded by the caller's overall timeout
            if message.get("id") == call_id:
                if "error" in message:
                    raise BrowserError(f"{method} failed: {message['error']}")
                return message.get("result", {})

    async def evaluate(self, expression: str) -> Any:
        result = await self.call(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True}
        )
        if "exceptionDetails" in result:
            raise BrowserError(f"page check script failed: {result['exceptionDetails']}")
        return result["result"]["value"]

    async def drain(self, seconds: float) -> None:
        """Handle whatever events arrive during the next `seconds`."""
        end = time.monotonic() + seconds
        with contextlib.suppress(TimeoutError):
            while (left := end - time.monotonic()) > 0:
                await self.receive(left)

    async def receive(self, timeout: float | None) -> dict[str, Any]:
        message = await self._ws.receive(timeout=timeout)
        if message.type is not aiohttp.WSMsgType.TEXT:
            raise BrowserError(f"DevTools connection ended unexpectedly: {message.type.name}")
        data: dict[str, Any] = message.json()
        if "method" in data:
            self._on_event(data["method"], data.get("params", {}))
        return data

    def _on_event(self, method: str, params: dict[str, Any]) -> None:
        errors = self._report.console_errors
        if method == "Page.loadEventFired":
            self.loaded = True
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            prefix = "Assertion failed: " if params["type"] == "assert" else ""
            errors.append(prefix + " ".join(_describe(arg) for arg in params.get("args", [])))
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            description = details.get("exception", {}).get("description", "")
            # description holds "Error: msg\n    at ..." and text is "Uncaught"; keep it short.
            errors.append(f"{details.get('text', '')} {description.partition(chr(10))[0]}".strip())
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]  # e.g. "Failed to load resource: net::ERR_FILE_NOT_FOUND"
            where = f" ({entry['url']})" if entry.get("url") else ""
            errors.append(f"{entry.get('text', '')}{where}")
        elif method in ("Network.requestWillBeSent", "Network.webSocketCreated"):
            # WebSockets never pass through requestWillBeSent, so their creation counts too.
            url = params.get("request", params).get("url", "")
            external = self._report.external_requests
            if not url.startswith(_LOCAL_SCHEMES) and url not in external:
                external.append(url)


def _describe(arg: dict[str, Any]) -> str:
    # Primitives arrive by value (strings bare, like the console prints them); objects only
    # as a short description such as "Object" or "Error: msg\n    at ...".
    if "value" in arg:
        value = arg["value"]
        return value if isinstance(value, str) else json.dumps(value)
    return str(arg.get("unserializableValue") or arg.get("description") or arg.get("type", ""))
