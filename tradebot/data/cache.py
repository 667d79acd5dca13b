"""A binary copy of each loaded CSV's validated frame, so the next run skips parsing and validation.

Reading a million-bar CSV costs about a third of a second (parse, timestamps, the checks of
schema.py); reading the same frame back from Arrow IPC costs a few hundredths. The cache holds the
frame AFTER validation, so a hit skips the checks too — which is only sound if a hit can never
be stale. The safety argument (docs/data.md repeats it for users):

- The key is the 128-bit XXH3 digest of the exact bytes the loader has just read from the file,
  plus their size, the file's mtime_ns, the polars version, FORMAT and a digest of tradebot's
  version and of the source of the parsing and checking modules (so a change to the parsing rules
  invalidates every entry, even in a development checkout). The frame stored under a key was
  parsed from the very bytes that were hashed, so a file rewritten between the stat and the read,
  or edited with its size and mtime restored, still gives the frame of the bytes being run on:
  a different byte is a different digest, and size and mtime only add invalidations. Nothing but
  the content decides which frame comes back.
- Why XXH3 and not SHA-256: the digest guards against accidents (an edit, a download, a
  truncation), where a 128-bit hash of good quality misses one change in 2**128; it cannot guard
  against a person set on deceiving it, who could as well write the cache entry itself. XXH3
  hashes a 100 MB file in 4-5 ms where SHA-256 takes 55-60 (docs/benchmarks.md).
- The entry also carries the digest of its payload, checked before the frame is used: a
  truncated, corrupted or half-written payload (a crash, a full disk, another program) is a miss,
  and the entry is rewritten from the CSV.
- An entry is two files: the payload (`<name>.arrow`, the frame in Arrow IPC, which polars reads
  straight from the file) and its header (`<name>.tbc`: the key and the payload's digest). Each
  is written to a temporary sibling and renamed over the old one (files.atomic_write), the payload
  first; a reader hashes the payload through the same open file it then reads, so a header and a
  payload of two different writes never pass for an entry (their digests differ), and concurrent
  runs on the same file never see half an entry. Any error reading or writing the cache only
  costs the speed-up.

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
import mmap
import os
import time
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import polars as pl
import xxhash

from .. import __version__
from ..config import Config, as_bool
from ..errors import UsageError
from .files import atomic_write

log = logging.getLogger(__name__)

FORMAT = 2  # bump when the entry layout or anything the cached frame depends on changes
MAGIC = b"TBCACHE2\n"  # a header of FORMAT 1 (header and payload in one file) is a miss
MIN_BYTES = 1 << 20
MAX_ENTRIES = 16
SUFFIX = ".tbc"  # the header; the payload beside it has PAYLOAD_SUFFIX
PAYLOAD_SUFFIX = ".arrow"


@dataclass(frozen=True)
class SourceKey:
    """What a cache entry must match: the source's bytes (by their XXH3-128 digest), size and
    mtime, and the versions of the code that turned them into a frame."""

    digest: str
    size: int
    mtime_ns: int
    code: str = ""
    polars: str = pl.__version__
    format: int = FORMAT

    @classmethod
    def of(cls, data: bytes, stat: os.stat_result) -> SourceKey:
        return cls(content_digest(data), len(data), stat.st_mtime_ns, _code_digest())


def mapped_key(source: Path) -> SourceKey | None:
    """The key of `source` read through a memory map, or None (not a regular file of at least
    MIN_BYTES, unreadable: the loader then reads it as usual and reports any problem).

    On a hit the file's bytes are only hashed, never parsed: mapping them hashes the page cache
    in place, where reading them would first copy 100 MB into a new buffer (0.05 s of CPU for a
    million bars, about half of what the key costs). A miss reads the file again and keys the
    bytes it parses (`SourceKey.of`), so what is stored is always the frame of the hashed bytes."""
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
            return SourceKey(content_digest(mapped), len(mapped), info.st_mtime_ns, _code_digest())
    except (OSError, ValueError):
        return None
    finally:
        os.close(fd)


def content_digest(data: bytes | mmap.mmap) -> str:
    """The 128-bit XXH3 digest of `data` in hex (the module docstring says why not SHA-256)."""
    return xxhash.xxh3_128_hexdigest(data)


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
    """The header of `source`'s entry: a hash of its absolute path (no separators, case or length
    limits to worry about on any system). The payload is `payload_path` of it."""
    name = hashlib.sha256(str(source.absolute()).encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return folder / f"{name}{SUFFIX}"


def payload_path(entry: Path) -> Path:
    """The frame's file beside the header `entry`."""
    return entry.with_suffix(PAYLOAD_SUFFIX)


def lookup(folder: Path, source: Path, key: SourceKey) -> pl.DataFrame | None:
    """The cached frame of `source`, if the entry matches `key` and is intact; None otherwise
    (never an exception: a cache only ever saves time)."""
    try:
        entry = entry_path(folder, source)
        header = _read_header(entry)
        if header.get("key") != asdict(key):
            return None
        return _read_payload(payload_path(entry), header.get("payload"))
    except Exception:  # noqa: BLE001 — missing, truncated, corrupt, unreadable: all just a miss
        log.debug("no usable cache entry for %s", source, exc_info=True)
        return None


def store(folder: Path, source: Path, key: SourceKey, frame: pl.DataFrame) -> None:
    """Write the entry of `source` atomically, payload first; on any failure (read-only or full
    disk) say so at debug level and carry on."""
    try:
        payload = _ipc_bytes(frame)
        entry = entry_path(folder, source)
        atomic_write(payload_path(entry), payload, fsync=False)
        header = json.dumps({"key": asdict(key), "payload": content_digest(payload), "source": str(source)})
        atomic_write(entry, MAGIC + header.encode(), fsync=False)
        _prune(folder)
    except Exception:  # noqa: BLE001 — see the docstring
        log.debug("could not write the cache entry of %s", source, exc_info=True)


def _ipc_bytes(frame: pl.DataFrame) -> memoryview:
    """`frame` in Arrow IPC, one record batch: polars reads it back as one chunk per column, which
    kernels and `to_numpy` read in place (a polars without `record_batch_size` writes several,
    and `_read_payload` joins them)."""
    sink = io.BytesIO()
    try:
        frame.write_ipc(sink, compression="uncompressed", record_batch_size=max(frame.height, 1))
    except TypeError:  # polars before `record_batch_size`
        frame.write_ipc(sink, compression="uncompressed")
    return sink.getbuffer()


def _read_header(entry: Path) -> dict:
    data = entry.read_bytes()
    if not data.startswith(MAGIC):
        raise ValueError("not a cache entry of this format")
    return json.loads(data[len(MAGIC):])


def _read_payload(path: Path, digest: object) -> pl.DataFrame | None:
    """The frame in `path` if its content has `digest`. The digest is taken through a memory map
    of the very file polars then reads (a payload renamed over it meanwhile is another file),
    which saves copying 50 MB into a Python buffer first: 0.03 s against 0.13 for a million bars."""
    with path.open("rb") as handle:
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            if content_digest(mapped) != digest:
                return None
        return pl.read_ipc(handle).rechunk()  # (free when the payload is one record batch)


def _prune(folder: Path) -> None:
    """Keep the MAX_ENTRIES most recently written entries (a deleted or renamed CSV's entry
    would otherwise stay forever), and no payload left without its header for an hour (one a
    writer has not headed yet is younger than that)."""
    entries = sorted(folder.glob(f"*{SUFFIX}"), key=_mtime, reverse=True)
    for old in entries[MAX_ENTRIES:]:
        _remove(old)
        _remove(payload_path(old))
    kept = {entry.stem for entry in entries[:MAX_ENTRIES]}
    an_hour_ago = time.time_ns() - 3600 * 10**9
    for payload in folder.glob(f"*{PAYLOAD_SUFFIX}"):
        if payload.stem not in kept and _mtime(payload) < an_hour_ago:
            _remove(payload)


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except OSError:  # another run pruned it first, or Windows has it open
        pass


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0
