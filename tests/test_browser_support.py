"""Tests for the headless-Chromium page checker (tests/browser.py): it passes a clean page and
catches each kind of problem it claims to catch, and it fails clearly and cleans up when the
browser is missing or broken."""

from __future__ import annotations

import base64
import os
import stat
import struct
import tempfile
import time
import zlib
from pathlib import Path

import pytest

from tests.browser import BrowserError, check_page

SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    '<rect width="10" height="10"/></svg>'
)


def png_bytes(width: int = 3, height: int = 2) -> bytes:
    """A minimal valid RGB PNG, built by hand so the test needs no imaging library."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(tag + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", crc)

    rows = b"".join(b"\x00" + b"\x20\x80\xe0" * width for _ in range(height))  # filter 0 + RGB
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def write_page(directory: Path, body: str, title: str = "Test page") -> Path:
    page = directory / "page.html"
    page.write_text(
        f'<!doctype html><html><head><meta charset="utf-8"><title>{title}</title></head>'
        f"<body>{body}</body></html>",
        encoding="utf-8",
    )
    return page


@pytest.mark.slow
def test_clean_page_passes(tmp_path: Path):
    (tmp_path / "local.png").write_bytes(png_bytes(width=4))
    page = write_page(
        tmp_path,
        f'<h1>Report</h1><img src="{data_uri(png_bytes())}"><img src="local.png">{SVG}'
        '<script>console.log("just info"); console.warn("just a warning");</script>',
        title="Clean report",
    )
    report = check_page(page)
    assert report.console_errors == []
    assert report.external_requests == []
    assert report.title == "Clean report"
    assert report.svg_count == 1
    assert [(loaded, width) for _, loaded, width in report.images] == [(True, 3), (True, 4)]
    assert report.images[0][0].startswith("data:image/png;base64,")
    assert report.images[1][0] == "local.png"


@pytest.mark.slow
def test_console_error_is_reported(tmp_path: Path):
    page = write_page(tmp_path, '<script>console.error("boom", 42);</script>')
    report = check_page(page)
    assert report.console_errors == ["boom 42"]


@pytest.mark.slow
def test_uncaught_exceptions_are_reported(tmp_path: Path):
    page = write_page(
        tmp_path,
        '<script>throw new Error("kaboom");</script>'
        '<script>setTimeout(() => { throw new TypeError("late"); }, 50);</script>',
    )
    report = check_page(page)
    assert len(report.console_errors) == 2, report.console_errors
    assert "Error: kaboom" in report.console_errors[0]
    assert "TypeError: late" in report.console_errors[1]


@pytest.mark.slow
def test_broken_images_are_reported(tmp_path: Path):
    page = write_page(
        tmp_path, '<img src="data:image/png;base64,AAAA"><img src="missing.png">' + SVG
    )
    report = check_page(page)
    assert [(loaded, width) for _, loaded, width in report.images] == [(False, 0), (False, 0)]
    assert report.images[0][0] == "data:image/png;base64,AAAA"
    assert report.images[1][0] == "missing.png"
    # The missing file is also a failed resource load in the browser log.
    assert any("ERR_FILE_NOT_FOUND" in e and "missing.png" in e for e in report.console_errors)
    assert report.external_requests == []
    assert report.svg_count == 1


@pytest.mark.slow
def test_external_request_is_reported(tmp_path: Path):
    # Port 9 (discard) on loopback is closed: the request is attempted and refused, and nothing
    # ever leaves the machine.
    page = write_page(tmp_path, '<img src="http://127.0.0.1:9/x.png">')
    report = check_page(page)
    assert report.external_requests == ["http://127.0.0.1:9/x.png"]
    assert report.images == [("http://127.0.0.1:9/x.png", False, 0)]


def test_missing_chromium_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CHROMIUM", str(tmp_path / "no-such-chromium"))
    page = write_page(tmp_path, "<p>hi</p>")
    with pytest.raises(BrowserError, match="CHROMIUM="):
        check_page(page)


def _fake_browser(tmp_path: Path, script: str) -> Path:
    exe = tmp_path / "fake-chromium"
    exe.write_text("#!/bin/sh\n" + script + "\n")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    return exe


def test_browser_that_exits_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    exe = _fake_browser(tmp_path, 'echo "Missing X server or $DISPLAY" >&2; exit 3')
    monkeypatch.setenv("CHROMIUM", str(exe))
    page = write_page(tmp_path, "<p>hi</p>")
    with pytest.raises(BrowserError, match=r"(?s)exited with status 3.*Missing X server"):
        check_page(page)


@pytest.mark.slow
def test_browser_that_hangs_times_out_and_is_cleaned_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    pid_file = tmp_path / "pid"
    exe = _fake_browser(tmp_path, f'echo $$ > "{pid_file}"; exec sleep 60')
    monkeypatch.setenv("CHROMIUM", str(exe))
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # where the profile dir is made
    page = write_page(tmp_path, "<p>hi</p>")
    started = time.monotonic()
    with pytest.raises(BrowserError, match=r"did not start DevTools within 1\.0s"):
        check_page(page, timeout=1.0)
    assert time.monotonic() - started < 5
    with pytest.raises(ProcessLookupError):  # killed and reaped
        os.kill(int(pid_file.read_text()), 0)
    assert list(scratch.iterdir()) == []  # temporary profile removed
