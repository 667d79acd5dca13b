"""A binary copy of each loaded CSV's validated frame, so the next run skips parsing and validation.

Reading a million-bar CSV costs about a third of a second (parse, timestamps, the checks of
schema.py); reading the same frame back from Arrow IPC costs a few hundredths. The cache holds the
frame AFTER validation, so a hit skips the checks too — which is only sound if a hit can never
be stale. The safety argument (docs/data.md repeats it for users):

- The key is the SHA-256 of the exact bytes the loader has just read from the file, plus their
  size, the file's mtime_ns, the polars version, FORMAT and a digest of tradebot's version and of
  the source of the parsing and checking modules (so a change to the parsing rules invalidates
  every entry, even in a development checkout). The frame stored under a key was
  parsed from the very bytes that were hashed, so a file rewritten between the stat and the read,
  or edited with its size and mtime restored, still gives the frame of the bytes being run on:
  a different byte is a different SHA-256 (collisions are not a practical concern), and size and
  mtime only add invalidations. Nothing but the content decides which frame comes back.
- The entry also carries the SHA-256 of its own payload, checked before the frame is used: a
  truncated, corrupted or half-written entry (a crash, a full disk, another program) is a miss,
  and the entry is rewritten from the CSV.
- Entries are written to a temporary sibling and renamed over the old one (files.atomic_write), so
  concurrent runs on the same file never see half an entry; the last writer wins, and both wrote
  the same content. Any error reading or writing the cache only costs the speed-up.

Where: the user's cache folder (platformdirs: ~/.cache/tradebot/data on Linux, ~/Library/Caches
on macOS, %LOCALAPPDATA% on Windows), or `[run] cache_dir` / TRADEBOT_RUN_CACHE_DIR; one entry per
source file (named by a hash of its absolute path, so a changed file replaces its own entry), the
MAX_ENTRIES most recently written kept. Files under MIN_BYTES are not cached: they parse in less
time than the hash and the entry would save.
"""
from __future__ import annotations

import hashlib
import io
import json
import logging
import os
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import polars as pl

from .. import __version__
from ..config import Config, as_bool
from ..errors import UsageError
from .files import atomic_write

log = logging.getLogger(__name__)

FORMAT = 1  # bump when the entry layout or anything the cached frame depends on changes
MAGIC = b"TBCACHE\n"
MIN_BYTES = 1 << 20
MAX_ENTRIES = 16
SUFFIX = ".tbc"


@dataclass(frozen=True)
class SourceKey:
    """What a cache entry must match: the source's bytes (by SHA-256), size and mtime, and the
    versions of the code that turned them into a frame."""

    sha256: str
    size: int
    mtime_ns: int
    code: str = ""
    polars: str = pl.__version__
    format: int = FORMAT

    @classmethod
    def of(cls, data: bytes, stat: os.stat_result) -> SourceKey:
        # hashlib releases the GIL on large inputs, so this overlaps numba's warm-up thread.
        return cls(hashlib.sha256(data).hexdigest(), len(data), stat.st_mtime_ns, _code_digest())


def mapped_key(source: Path) -> SourceKey | None:
    """The key of `source` read through a memory map, or None (not a regular file of at least
    MIN_BYTES, unreadable: the loader then reads it as usual and reports any problem).

    On a hit the file's bytes are only hashed, never parsed: mapping them hashes the page cache
    in place, where reading them would first copy 100 MB into a new buffer (0.05 s of CPU for a
    million bars, about half of what the key costs). A miss reads the file again and keys the
    bytes it parses (`SourceKey.of`), so what is stored is always the frame of the hashed bytes."""
    import mmap
    import stat

    try:
        fd = os.open(source, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except (OSError, ValueError):
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size < MIN_BYTES:
            return None
        with mmap.mmap(fd, 0, access=mmap.ACCESS_READ) as mapped:
            return SourceKey(hashlib.sha256(mapped).hexdigest(), len(mapped), info.st_mtime_ns, _code_digest())
    except (OSError, ValueError):
        return None
    finally:
        os.close(fd)


# The modules that turn bytes into the validated frame: editing any of them (a new parsing rule, a
# new check) invalidates every entry, even in a development checkout where the version stays put.
_PARSING_CODE = ("data/loader.py", "data/formats.py", "data/timestamps.py", "data/schema.py",
                 "data/access.py", "data/cache.py", "market/bars.py")


@lru_cache(maxsize=1)
def _code_digest() -> str:
    package = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256(__version__.encode())
    for name in _PARSING_CODE:
        digest.update((package / name).read_bytes())
    return digest.hexdigest()


def default_dir() -> Path:
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("tradebot", appauthor=False)) / "data"


def configured_dir(config: Config, *, disabled: bool = False) -> Path | None:
    """The cache folder `tradebot run` uses, or None when `--no-cache` or `[run] cache = false`."""
    try:
        enabled = as_bool(config.get("run", "cache", True))
    except ValueError as exc:
        raise UsageError(f"[run] cache (or TRADEBOT_RUN_CACHE): {exc}") from None
    if disabled or not enabled:
        return None
    folder = config.get("run", "cache_dir")
    return Path(folder) if folder else default_dir()


def entry_path(folder: Path, source: Path) -> Path:
    """The entry of `source`: a hash of its absolute path (no separators, case or length limits
    to worry about on any system)."""
    name = hashlib.sha256(str(source.absolute()).encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return folder / f"{name}{SUFFIX}"


def lookup(folder: Path, source: Path, key: SourceKey) -> pl.DataFrame | None:
    """The cached frame of `source`, if the entry matches `key` and is intact; None otherwise
    (never an exception: a cache only ever saves time)."""
    try:
        header, payload = _read_entry(entry_path(folder, source))
        if header.get("key") != asdict(key) or header.get("payload") != hashlib.sha256(payload).hexdigest():
            return None
        return pl.read_ipc(io.BytesIO(payload))
    except Exception:  # noqa: BLE001 — missing, truncated, corrupt, unreadable: all just a miss
        log.debug("no usable cache entry for %s", source, exc_info=True)
        return None


def store(folder: Path, source: Path, key: SourceKey, frame: pl.DataFrame) -> None:
    """Write the entry of `source` atomically; on any failure (read-only or full disk) say so at
    debug level and carry on."""
    try:
        sink = io.BytesIO()
        frame.write_ipc(sink, compression="uncompressed")
        payload = sink.getvalue()
        header = json.dumps({"key": asdict(key), "payload": hashlib.sha256(payload).hexdigest(),
                             "source": str(source)}).encode()
        atomic_write(entry_path(folder, source),
                     MAGIC + len(header).to_bytes(4, "little") + header + payload, fsync=False)
        _prune(folder)
    except Exception:  # noqa: BLE001 — see the docstring
        log.debug("could not write the cache entry of %s", source, exc_info=True)


def _read_entry(path: Path) -> tuple[dict, bytes]:
    """The header and the payload of an entry, each read straight into its own buffer (slicing
    one read of the file would copy the payload again)."""
    with path.open("rb") as handle:
        if handle.read(len(MAGIC)) != MAGIC:
            raise ValueError("not a cache entry")
        size = int.from_bytes(handle.read(4), "little")
        header = handle.read(size)
        if len(header) != size:
            raise ValueError("truncated header")
        return json.loads(header), handle.read()


def _prune(folder: Path) -> None:
    """Keep the MAX_ENTRIES most recently written entries (a deleted or renamed CSV's entry
    would otherwise stay forever)."""
    entries = sorted(folder.glob(f"*{SUFFIX}"), key=_mtime, reverse=True)
    for old in entries[MAX_ENTRIES:]:
        try:
            old.unlink()
        except OSError:  # another run pruned it first, or Windows has it open
            pass


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0
