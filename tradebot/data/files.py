"""Durable writes: whole lines appended in one call, and whole files replaced atomically.

The lowest layer of `data/`: the candle store (store.py), the data cache (cache.py), repairs
(repair.py) and a paper session's outputs (live/outputs.py) all write through these, so a crash
leaves either the old bytes or the new ones, never a torn file.
"""
from __future__ import annotations

import contextlib
import os
import secrets
import time
from pathlib import Path

_O_BINARY = getattr(os, "O_BINARY", 0)  # Windows would otherwise turn \n into \r\n


def append_bytes(path: Path, data: bytes, *, fsync: bool = True) -> None:
    """Append whole lines with one write call (looping only if the OS writes partially)."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | _O_BINARY)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        if fsync:
            os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes | memoryview, *, fsync: bool = True) -> None:
    """Write `data` to a temporary sibling, fsync it, then rename it over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _create_temporary(path)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            if fsync:
                os.fsync(handle.fileno())
        _replace_with_retry(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if fsync:
        _fsync_dir(path.parent)


def _create_temporary(path: Path) -> tuple[int, str]:
    """A new sibling file, created with mode 0666 minus the umask like any other file (0644 under
    the usual umask 022); `tempfile.mkstemp` would make it 0600, unreadable to other users and
    services once it replaces `path`."""
    while True:
        tmp = str(path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp"))
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_BINARY, 0o666), tmp
        except FileExistsError:
            continue


def _replace_with_retry(src: str, dst: Path) -> None:
    # On Windows a reader holding the target open makes os.replace fail for a moment.
    for attempt in range(20):
        try:
            os.replace(src, dst)
            return
        except PermissionError:
            if os.name != "nt" or attempt == 19:
                raise
            time.sleep(0.05)


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (POSIX only; Windows cannot open a directory)."""
    if os.name == "nt":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
