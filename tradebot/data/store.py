"""The candle store: one CSV per category/symbol/interval that `load_ohlcv` reads directly.

Layout: `<root>/<category>/<SYMBOL>/<interval>.csv` (e.g. `data/bybit/linear/BTCUSDT/1h.csv`),
header `timestamp,open,high,low,close,volume`, one closed candle per line, timestamps written as
`2024-01-01T00:00:00Z`, chronological and unique.

Crash safety, and why it holds:
- Every line the store writes ends in `\\n`, and an append is one `os.write` of whole lines followed
  by fsync. A crash can therefore only leave an unterminated last line (or, after power loss,
  trailing NUL bytes). Before every write the store truncates such a torn tail; the candle it held
  lies past the store's end, so the next fetch or stream catch-up fetches it again.
- Anything that is not a pure append (a new file, a merge into the middle, retention, repair)
  writes a temporary file in the same folder, fsyncs it, and `os.replace`s the original: readers
  see the old file or the new one, never a mix.
- A lock file beside each CSV (`filelock`: flock on POSIX, msvcrt locking on Windows; the OS drops
  it when a process dies, even by SIGKILL) makes read-modify-write sequences exclusive across
  processes and threads.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import polars as pl
from filelock import FileLock, Timeout

from ..errors import DataError
from ..market.bars import OHLCV_COLUMNS, empty_ohlcv
from .files import append_bytes, atomic_write
from .intervals import Interval, format_ms, to_ms
from .loader import load_ohlcv, parse_ohlcv_bytes

TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
HEADER = (",".join(OHLCV_COLUMNS) + "\n").encode()
_TAIL_PROBE = 4096  # bytes read from the end to find the last line; rows are ~60-120 bytes


@dataclass(frozen=True)
class SeriesKey:
    """Which candle series: e.g. linear / BTCUSDT / 1h."""

    category: str
    symbol: str
    interval: Interval

    def relpath(self) -> Path:
        return Path(self.category) / self.symbol / f"{self.interval.name}.csv"

    def __str__(self) -> str:
        return f"{self.category} {self.symbol} {self.interval.name}"


def frame_to_csv_bytes(frame: pl.DataFrame, *, header: bool) -> bytes:
    """Rows in the store's exact text form (the one function that formats store lines)."""
    text = frame.select(OHLCV_COLUMNS).write_csv(
        include_header=header, datetime_format=TIMESTAMP_FORMAT, line_terminator="\n")
    return text.encode()


def merge_frames(old: pl.DataFrame, new: pl.DataFrame) -> pl.DataFrame:
    """Union by timestamp, sorted; where both have a candle, `new` wins (it is fresher)."""
    both = pl.concat([old.select(OHLCV_COLUMNS), new.select(OHLCV_COLUMNS)], how="vertical")
    return both.unique(subset="timestamp", keep="last", maintain_order=True).sort("timestamp")


class CandleStore:
    """Reads and writes store files; every write holds the file's lock."""

    def __init__(self, root: str | Path, *, lock_timeout: float = 30.0,
                 retention_days: float | None = None, fsync: bool = True) -> None:
        self.root = Path(root)
        self.lock_timeout = lock_timeout
        self.retention_days = retention_days
        self.fsync = fsync

    def path(self, key: SeriesKey) -> Path:
        return self.root / key.relpath()

    @contextlib.contextmanager
    def locked(self, path: Path) -> Iterator[None]:
        """Hold the cross-process lock of one store file."""
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(path) + ".lock", timeout=self.lock_timeout)
        try:
            with lock:
                yield
        except Timeout:
            raise DataError(path, f"another process has held this file's lock for over "
                            f"{self.lock_timeout:g} s", hint="is another `tradebot fetch` or "
                            "`tradebot stream` writing it? (config: bybit.lock_timeout)") from None

    def read(self, key: SeriesKey) -> pl.DataFrame:
        """The stored candles (empty frame if none). Does not repair; see `repair_tail`."""
        path = self.path(key)
        return load_ohlcv(path, allow_empty=True) if path.exists() else empty_ohlcv()

    def last_start(self, key: SeriesKey) -> int | None:
        """Start (ms) of the newest complete stored candle, reading only the file's tail."""
        return last_start_of(self.path(key))

    def first_start(self, key: SeriesKey) -> int | None:
        return first_start_of(self.path(key))

    def merge(self, key: SeriesKey, frame: pl.DataFrame) -> int:
        """Add candles (a canonical frame); returns how many were new.

        Candles already stored win over incoming ones with the same start: a closed candle is
        final, so re-delivery (a repeated confirm, an overlapping page) changes nothing. New
        candles past the end are appended; new candles inside the file's range cost a rewrite.
        """
        path = self.path(key)
        incoming = frame.select(OHLCV_COLUMNS).unique("timestamp", keep="last").sort("timestamp")
        with self.locked(path):
            repair_tail(path)
            if not path.exists():
                self._replace(path, incoming)
                added = incoming.height
            else:
                added = self._merge_existing(path, incoming)
            self._apply_retention(path)
        return added

    def _merge_existing(self, path: Path, incoming: pl.DataFrame) -> int:
        last = last_start_of(path)
        if last is None:
            return self._append(path, incoming)
        cut = dt.datetime.fromtimestamp(last / 1000, tz=dt.timezone.utc)
        inner = incoming.filter(pl.col("timestamp") <= cut)
        tail = incoming.filter(pl.col("timestamp") > cut)
        if inner.height:
            old = load_ohlcv(path, allow_empty=True)
            fresh = inner.join(old.select("timestamp"), on="timestamp", how="anti")
            if fresh.height:
                self._replace(path, merge_frames(old, pl.concat([fresh, tail])))
                return fresh.height + tail.height
        return self._append(path, tail)

    def replace(self, key: SeriesKey, frame: pl.DataFrame) -> None:
        """Atomically make the file hold exactly `frame` (which must already be valid)."""
        path = self.path(key)
        with self.locked(path):
            self._replace(path, frame)

    def _append(self, path: Path, frame: pl.DataFrame) -> int:
        if frame.height:
            append_bytes(path, frame_to_csv_bytes(frame, header=False), fsync=self.fsync)
        return frame.height

    def _replace(self, path: Path, frame: pl.DataFrame) -> None:
        atomic_write(path, frame_to_csv_bytes(frame, header=True), fsync=self.fsync)

    def _apply_retention(self, path: Path) -> None:
        """Drop rows older than the retention window, but only once they are a tenth of the
        window (at most a day) past it, so a stream does not rewrite the file on every append."""
        if self.retention_days is None:
            return
        cutoff = to_ms(dt.datetime.now(dt.timezone.utc)) - int(self.retention_days * 86_400_000)
        slack = min(86_400_000, int(self.retention_days * 8_640_000))
        first = first_start_of(path)
        if first is None or first >= cutoff - slack:
            return
        frame = load_ohlcv(path, allow_empty=True)
        kept = frame.filter(pl.col("timestamp") >= dt.datetime.fromtimestamp(cutoff / 1000,
                                                                            tz=dt.timezone.utc))
        self._replace(path, kept)


def filled_path(path: Path) -> Path:
    """Sidecar listing candles that `data repair --fill` invented (`1h.csv` -> `1h.filled.csv`)."""
    return path.with_name(path.stem + ".filled.csv")


def first_start_of(path: Path) -> int | None:
    if not path.exists():
        return None
    with path.open("rb") as handle:
        handle.readline()
        line = handle.readline()
    return _line_start(line, path) if line.endswith(b"\n") else None


def last_start_of(path: Path) -> int | None:
    """Start (ms) of the last newline-terminated data line, or None if there is none."""
    if not path.exists():
        return None
    with path.open("rb") as handle:
        size = handle.seek(0, os.SEEK_END)
        handle.seek(max(0, size - _TAIL_PROBE))
        tail = handle.read()
    lines = tail.split(b"\n")[:-1]  # the part after the last \n is torn (or empty)
    if not lines or (size <= _TAIL_PROBE and len(lines) < 2):
        return None  # only the header is complete
    return _line_start(lines[-1] + b"\n", path)


def _line_start(line: bytes, path: Path) -> int:
    frame = parse_ohlcv_bytes(HEADER + line, path)
    if frame.height == 0 or frame["timestamp"][0] is None:
        raise DataError(path, "cannot read the timestamp of the last line",
                        hint="run `tradebot data repair` on this file")
    return to_ms(frame["timestamp"][0])


def repair_tail(path: Path) -> int:
    """Cut an unterminated last line and trailing NUL bytes; return how many bytes were removed.

    Store lines always end in \\n, so anything after the last \\n was being written when the
    writer died.
    """
    if not path.exists():
        return 0
    with path.open("r+b") as handle:
        size = handle.seek(0, os.SEEK_END)
        keep = _complete_length(handle, size)
        if keep < size:
            handle.truncate(keep)
            handle.flush()
            os.fsync(handle.fileno())
    return size - keep


def _complete_length(handle: object, size: int) -> int:
    """Length of the file up to and including its last newline (0 if there is none)."""
    pos = size
    while pos > 0:
        start = max(0, pos - _TAIL_PROBE)
        handle.seek(start)  # type: ignore[attr-defined]
        chunk = handle.read(pos - start)  # type: ignore[attr-defined]
        newline = chunk.rfind(b"\n")
        if newline >= 0:
            return start + newline + 1
        pos = start
    return 0


def describe_range(first_ms: int | None, last_ms: int | None) -> str:
    if first_ms is None or last_ms is None:
        return "no candles"
    return f"{format_ms(first_ms)} .. {format_ms(last_ms)}"
