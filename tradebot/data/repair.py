"""Repair a store file: drop a torn tail, duplicates and invalid rows, put rows in order, refetch
every gap from Bybit, and only if asked, fill what the exchange does not have with flagged flat
candles. Any other OHLCV file gets the offline part alone (`repair_offline`).

Never invents prices silently: a fill is opt-in (`--fill`), each filled candle is flat at the
previous close with zero volume (what Bybit itself returns for no-trade periods), and its start is
recorded in the `<interval>.filled.csv` sidecar that `data check` reports.

Network work happens without the file lock; the lock is held only to re-read the file (a stream
may have appended meanwhile), merge and replace it atomically.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from ..errors import DataError, UsageError
from ..market.bars import empty_ohlcv
from .backfill import fetch_closed
from .bybit import BybitRest
from .files import atomic_write
from .integrity import Gap, find_gaps, split_torn
from .intervals import Interval, parse_interval, to_datetime
from .loader import parse_ohlcv_bytes, read_bytes
from .schema import VALUE_CHECKS, validate_ohlcv
from .store import HEADER, CandleStore, SeriesKey, filled_path, frame_to_csv_bytes, merge_frames

CATEGORIES = ("spot", "linear", "inverse")


@dataclass(frozen=True)
class RepairResult:
    path: Path
    dropped: int          # torn, duplicate or invalid rows removed
    refetched: int        # candles that came back from Bybit
    filled: int           # synthetic candles written (only with fill=True)
    remaining: tuple[Gap, ...]
    offline: bool = False  # no symbol: gaps were neither refetched nor filled

    def render(self) -> str:
        if self.offline:
            return (f"{self.path}: removed {self.dropped} bad row(s); gaps are not refetched "
                    "(pass --symbol and --category to refetch them from Bybit)")
        text = (f"{self.path}: removed {self.dropped} bad row(s), refetched {self.refetched} "
                f"candle(s), filled {self.filled}")
        if self.remaining:
            text += (f"; {len(self.remaining)} gap(s) Bybit has no data for "
                     "(re-run with --fill to fill them with flagged flat candles)")
        return text


def key_from_path(path: Path, *, category: str | None = None, symbol: str | None = None,
                  interval: str | None = None) -> SeriesKey:
    """Store layout `<root>/<category>/<SYMBOL>/<interval>.csv`; flags override each part."""
    parts = path.resolve().parts
    category = category or (parts[-3] if len(parts) >= 3 else None)
    symbol = symbol or (parts[-2] if len(parts) >= 2 else None)
    if category not in CATEGORIES or not symbol:
        raise UsageError(f"{path}: not in the store layout <category>/<SYMBOL>/<interval>.csv; "
                         "pass --category, --symbol and --interval")
    return SeriesKey(category, symbol, parse_interval(interval or path.stem))


def clean_rows(data: bytes, path: Path, *, whole_last_line: bool = False) -> tuple[pl.DataFrame, int]:
    """Parsed rows minus torn tail, invalid rows and duplicates (last wins), sorted; and how many
    rows were dropped (a torn tail counts as one).

    `whole_last_line`: keep a last line without a newline when it holds a whole valid row. A file
    from elsewhere often simply lacks the final newline; the store always writes one, so for a
    store file such a line is a write that was cut short (its last number may be cut too)."""
    complete, torn = split_torn(data)
    if torn and whole_last_line and _whole_row(complete, data[len(complete):], path):
        complete, torn = data + b"\n", 0
    frame = parse_ohlcv_bytes(complete, path)
    bad = pl.any_horizontal(*[c.bad.fill_null(True) for c in VALUE_CHECKS])
    valid = frame.filter(~bad)
    ordered = valid.unique("timestamp", keep="last", maintain_order=True).sort("timestamp")
    return ordered, frame.height - ordered.height + (1 if torn else 0)


def _whole_row(complete: bytes, tail: bytes, path: Path) -> bool:
    header = complete.split(b"\n", 1)[0] + b"\n"
    try:
        row = parse_ohlcv_bytes(header + tail + b"\n", path)
    except DataError:
        return False
    bad = pl.any_horizontal(*[c.bad.fill_null(True) for c in VALUE_CHECKS])
    return row.height == 1 and not row.select(bad).item()


def repair_offline(path: Path, *, fsync: bool = True) -> RepairResult:
    """The repairs that need no exchange, for any OHLCV file: cut a torn tail, drop invalid and
    duplicate rows, sort. The result is written in the store's layout; a file in another layout
    (a vendor export) is first kept as `<name>.orig`, so no column is lost."""
    data = read_bytes(path)
    ordered, dropped = clean_rows(data, path, whole_last_line=True)
    rewritten = frame_to_csv_bytes(ordered, header=True)
    if rewritten != data:
        if not data.startswith(HEADER):
            backup = path.with_name(path.name + ".orig")
            if backup.exists():
                raise UsageError(f"{backup} already exists; move it away first (data repair keeps "
                                 "the original of a file it rewrites in the standard layout)")
            atomic_write(backup, data, fsync=fsync)
        atomic_write(path, rewritten, fsync=fsync)
    return RepairResult(path, dropped, 0, 0, (), offline=True)


async def refetch(rest: BybitRest, key: SeriesKey, gaps: list[Gap], *,
                  concurrency: int = 4) -> pl.DataFrame:
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(gap: Gap) -> pl.DataFrame:
        async with gate:
            return await fetch_closed(rest, key, start=gap.first_ms, end=gap.last_ms)

    frames = await asyncio.gather(*(one(g) for g in gaps))
    return pl.concat(frames) if frames else empty_ohlcv()


def flat_fill(frame: pl.DataFrame, gaps: list[Gap], interval: Interval) -> pl.DataFrame:
    """Flat candles (O=H=L=C=previous close, volume 0) for every missing start in `gaps`."""
    pieces = []
    for gap in gaps:
        before = frame.filter(pl.col("timestamp") < to_datetime(gap.first_ms)).tail(1)
        price = before["close"][0] if before.height else None
        if price is None:
            continue
        stamps = pl.datetime_range(to_datetime(gap.first_ms), to_datetime(gap.last_ms),
                                   interval.polars_every, eager=True, time_unit="ms",
                                   time_zone="UTC")
        pieces.append(pl.DataFrame({"timestamp": stamps}).with_columns(
            *[pl.lit(price, dtype=pl.Float64).alias(c) for c in ("open", "high", "low", "close")],
            pl.lit(0.0).alias("volume")))
    return pl.concat(pieces) if pieces else frame.clear()


async def repair_file(path: Path, rest: BybitRest, *, store: CandleStore, key: SeriesKey,
                      fill: bool = False, concurrency: int = 4) -> RepairResult:
    """Repair `path` (which holds `key`'s candles); `store` supplies the lock and fsync settings."""
    ordered, _ = clean_rows(path.read_bytes(), path)
    fetched = await refetch(rest, key, find_gaps(ordered, key.interval), concurrency=concurrency)
    with store.locked(path):
        current, dropped = clean_rows(path.read_bytes(), path)
        merged = merge_frames(current, fetched)
        remaining = find_gaps(merged, key.interval)
        synthetic = flat_fill(merged, remaining, key.interval) if fill and remaining else \
            merged.clear()
        if synthetic.height:
            merged = merge_frames(merged, synthetic)
            _record_filled(path, synthetic)
        validate_ohlcv(merged, path)
        atomic_write(path, frame_to_csv_bytes(merged, header=True), fsync=store.fsync)
    refetched = merged.height - current.height - synthetic.height
    left = tuple(find_gaps(merged, key.interval))
    return RepairResult(path, dropped, refetched, synthetic.height, left)


def _record_filled(path: Path, synthetic: pl.DataFrame) -> None:
    sidecar = filled_path(path)
    stamps = synthetic.select("timestamp")
    if sidecar.exists():
        old = pl.read_csv(sidecar, schema={"timestamp": pl.String}).select(
            pl.col("timestamp").str.strptime(pl.Datetime("ms", "UTC"), "%Y-%m-%dT%H:%M:%SZ"))
        stamps = pl.concat([old, stamps]).unique().sort("timestamp")
    text = stamps.write_csv(datetime_format="%Y-%m-%dT%H:%M:%SZ", line_terminator="\n")
    atomic_write(sidecar, text.encode())
