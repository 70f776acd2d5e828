"""Where a run's files live, and the one way they are replaced: write aside, then rename.

A run directory holds::

    RUN_DIR/
        manifest.json               what ran, where, with which options (manifest.py)
        requests.parquet            every request record, written once when the run closes
        requests.parts/             while the run goes (or after a crash) instead:
            part-000001.parquet     one complete Parquet file per flush, numbered in order
            .part-000002.parquet.tmp  a flush in progress: never read

Every file is first written under a dot-prefixed ``.tmp`` name in the directory it ends up in,
then moved into place with ``os.replace``, which is atomic within one file system. A process
killed at any moment (SIGKILL included) therefore leaves each file either absent, or old, or
complete; never half-written. Readers simply ignore names that do not match
:data:`PART_PATTERN`. ``fsync`` is only needed to survive a power cut or kernel crash: data a
killed process has written is already in the kernel's page cache and stays readable.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable
from pathlib import Path

MANIFEST_FILE = "manifest.json"
REQUESTS_FILE = "requests.parquet"
PARTS_DIR = "requests.parts"
PART_PATTERN = re.compile(r"^part-(\d{6,})\.parquet$")
TMP_SUFFIX = ".tmp"


def part_name(number: int) -> str:
    """``part-000001.parquet``: zero-padded so a plain listing sorts in write order."""
    return f"part-{number:06d}.parquet"


def temp_path_for(path: Path) -> Path:
    """The hidden name a file is written under before it is moved into place."""
    return path.with_name(f".{path.name}{TMP_SUFFIX}")


def list_parts(parts_dir: Path) -> list[tuple[int, Path]]:
    """Complete part files of ``parts_dir`` as ``(number, path)``, in write order.

    Sorted by the parsed number, not the name, so part 1,000,000 still follows 999,999.
    A missing directory has no parts.
    """
    try:
        names = os.listdir(parts_dir)
    except (FileNotFoundError, NotADirectoryError):
        return []
    parts = []
    for name in names:
        match = PART_PATTERN.match(name)
        if match:
            parts.append((int(match.group(1)), parts_dir / name))
    parts.sort()
    return parts


def fsync_dir(directory: Path) -> None:
    """Persist a rename in ``directory`` (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def replace_atomically(tmp: Path, final: Path, *, fsync: bool) -> None:
    """Move a fully written ``tmp`` onto ``final``; with ``fsync``, make both durable first."""
    if fsync:
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    os.replace(tmp, final)
    if fsync:
        fsync_dir(final.parent)


def write_atomically(final: Path, write: Callable[[Path], None], *, fsync: bool = False) -> None:
    """Call ``write(tmp)`` to fill a temporary file, then move it onto ``final``.

    Raises the ``OSError`` of any step; the temporary file is removed on failure so a full
    disk is not filled further by leftovers.
    """
    tmp = temp_path_for(final)
    try:
        write(tmp)
        replace_atomically(tmp, final, fsync=fsync)
    except BaseException:
        remove_quietly(tmp)
        raise


def remove_quietly(path: Path) -> None:
    """Delete ``path`` if it exists; cleanup must never mask the error that caused it."""
    with contextlib.suppress(OSError):
        path.unlink()
