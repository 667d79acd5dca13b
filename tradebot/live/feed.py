"""Bars into sessions: the warm-up history (the store, with missing candles fetched over REST
through the backfill the `fetch` command uses), the confirmed candles of the shared stream, or a
stored file replayed as if live.
"""
from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Iterator

import polars as pl

from ..data.backfill import backfill
from ..data.bybit import BybitRest
from ..data.intervals import Interval, format_ms
from ..data.store import CandleStore, SeriesKey
from ..errors import DataError, NetworkError, UsageError
from ..market.timeframe import infer_interval_ms as interval_ms
from ..pipeline import load_bars

log = logging.getLogger("tradebot")

Row = tuple[int, float, float, float, float, float]
START_ATTEMPTS = 3  # rounds of the client's own retries before giving up at start (exit 4)


def rows(bars: pl.DataFrame) -> Iterator[Row]:
    """Bars as (start_ms, open, high, low, close, volume) tuples."""
    epoch = bars.select(pl.col("timestamp").dt.epoch("ms"), "open", "high", "low", "close", "volume")
    yield from epoch.iter_rows()  # type: ignore[misc]


def check_continuous(bars: pl.DataFrame, step_ms: int, where: str, *, skipped: int = 0) -> None:
    """A hole in the bars would shift every window: refuse it, naming the first one (its row in
    the file `where`, whose first `skipped` data rows come before `bars`)."""
    starts = bars["timestamp"].dt.epoch("ms").to_numpy()
    for i in range(1, len(starts)):
        if starts[i] - starts[i - 1] != step_ms:
            raise DataError(where, f"gap in the bars: {format_ms(int(starts[i]))} follows "
                            f"{format_ms(int(starts[i - 1]))}", row=skipped + i + 2,
                            hint="fill it first (tradebot data repair, tradebot fetch)")


def replay_bars(path: Path) -> tuple[pl.DataFrame, int]:
    """A stored file for `--replay`, checked continuous, and its bar length in ms."""
    bars = load_bars(path)
    step = interval_ms(bars["timestamp"].dt.epoch("ms").to_numpy())
    if step is None:
        raise DataError(path, "fewer than 2 bars: nothing to replay")
    check_continuous(bars, step, str(path))
    return bars, step


def split_warmup(bars: pl.DataFrame, warmup: int, where: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    if bars.height <= warmup:
        raise DataError(where, f"the script's warm-up needs {warmup} bars before the first live "
                        f"one; the data has {bars.height}")
    return bars.head(warmup), bars.slice(warmup)


async def server_time(rest: BybitRest, *, pause: float = 2.0) -> int:
    """The exchange's clock, retried a few rounds with a message each time (exit 4 after)."""
    for attempt in range(1, START_ATTEMPTS + 1):
        try:
            return await rest.server_time()
        except NetworkError as exc:
            if attempt == START_ATTEMPTS:
                raise NetworkError(f"the exchange is unreachable at start ({START_ATTEMPTS} rounds "
                                   f"of retries): {exc}") from None
            log.warning("exchange unreachable (%s); retrying in %g s (%d/%d)", exc, pause,
                        attempt, START_ATTEMPTS)
            await asyncio.sleep(pause)
    raise AssertionError("unreachable")


async def warm_history(rest: BybitRest, store: CandleStore, key: SeriesKey, *, warmup: int,
                       now_ms: int) -> pl.DataFrame:
    """The last `warmup` closed bars of `key` from the store, fetching what it lacks."""
    interval: Interval = key.interval
    if interval.ms is None:
        raise UsageError(f"--interval {interval.name}: paper trading needs a fixed bar length")
    open_start = interval.floor(now_ms)
    since = open_start - warmup * interval.ms
    await backfill(rest, store, [key], since=since, until=open_start - interval.ms, now_ms=now_ms)
    stored = await asyncio.to_thread(store.read, key)
    start = pl.lit(since).cast(pl.Datetime("ms", "UTC"))
    history = stored.filter((pl.col("timestamp") >= start)
                            & (pl.col("timestamp").dt.epoch("ms") < open_start))
    # A hole first: the exchange skipped a candle (nothing traded), which is not a young listing.
    check_continuous(history, interval.ms, str(store.path(key)),
                     skipped=stored.filter(pl.col("timestamp") < start).height)
    if history.height < warmup:
        raise DataError(store.path(key), f"the script's warm-up needs {warmup} {interval.name} "
                        f"bars; the exchange has {history.height} since {key.symbol}'s listing")
    return history
