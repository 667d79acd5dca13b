"""What a data file may be, and which files a script may name: docs/security.md explains why.

A script is untrusted (it may come from a forum or a pull request); its `data` line may name only
files under the script's own folder or a configured data folder. The user's own `--data` flag may
name any file. Either way only regular files are read: a device (`/dev/zero`), a FIFO or a
`/proc` pseudo-file could hang the run, grow without bound, or hold secrets.

Error messages never show a file's content beyond a short excerpt of something that already
looks like a CSV header, so naming the wrong file cannot print it to a terminal or a CI log.
"""
from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Iterable

from ..config import Config
from ..errors import DataError

EXCERPT_CHARS = 80
DEFAULT_ROOT = "data/bybit"  # the candle store's folder (`[bybit] store`) when not configured
# Printable fields joined by one separator: what a CSV header or data line looks like.
_CSV_LIKE = re.compile(r"^[\w .:/<>()%+\-\"'#]+([,;\t][\w .:/<>()%+\-\"'#]*)+$")
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # POSIX: opening a FIFO must not wait for a writer
_O_BINARY = getattr(os, "O_BINARY", 0)


def read_regular_file(path: Path) -> bytes:
    """The whole file, if it is a regular file; a DataError a user can act on otherwise."""
    if "\x00" in str(path):
        raise DataError(repr(str(path)), "the file name contains a NUL character",
                        hint="check how the path was written; a NUL is never part of a file name")
    try:
        fd = os.open(path, os.O_RDONLY | _O_NONBLOCK | _O_BINARY)
    except FileNotFoundError:
        raise DataError(path, "file not found") from None
    except IsADirectoryError:
        raise DataError(path, "is a directory, not a CSV file") from None
    except OSError as exc:
        raise DataError(path, f"cannot read file: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as handle:
        mode = os.fstat(handle.fileno()).st_mode
        if stat.S_ISDIR(mode):
            raise DataError(path, "is a directory, not a CSV file")
        if not stat.S_ISREG(mode):
            raise DataError(path, "is not a regular file (a device, pipe or socket); "
                            "only CSV files on disk are read")
        try:
            return handle.read()
        except OSError as exc:
            raise DataError(path, f"cannot read file: {exc.strerror}") from None


def header_excerpt(text: str) -> str | None:
    """`text` shortened, if it looks like separated printable fields; else None (say nothing)."""
    text = text.strip()
    if not _CSV_LIKE.match(text):
        return None
    return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS - 1] + "…"


def value_excerpt(value: object, limit: int = 24) -> str:
    """A field's value for an error message: printable, quoted and short."""
    text = "".join(ch if ch.isprintable() else "?" for ch in str(value))
    return repr(text if len(text) <= limit else text[:limit - 1] + "…")


def script_data_roots(script_folder: Path, config: Config, *extra: Path) -> tuple[Path, ...]:
    """The folders a script's `data` line may reach: its own folder, the folder of the configured
    `[run] data` file, the candle store, and any `extra` (the bundled sample's folder)."""
    roots = [script_folder, Path(config.get("bybit", "store", DEFAULT_ROOT))]
    configured = config.get("run", "data")
    if configured:
        roots.append(Path(configured).parent)
    return (*roots, *extra)


def refusal(path: Path, roots: Iterable[Path]) -> str | None:
    """Why a script may not read `path` (None when it may): symlinks and `..` are resolved
    first, so neither can lead out of an allowed folder."""
    if "\x00" in str(path):
        return "the file name contains a NUL character"
    try:
        target = path.resolve()
        allowed = [root.resolve() for root in roots]
    except (OSError, RuntimeError, ValueError):  # a symlink loop, an unreadable folder
        return "the path cannot be resolved"
    if not any(target.is_relative_to(root) for root in allowed):
        return "a script may only read files under its own folder or a configured data folder"
    if target.exists() and not target.is_file():
        return "a script may only read regular files"
    return None
