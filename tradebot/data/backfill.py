"""History backfill: plan what the store lacks, fetch it in windows, write it in order.

Pagination walks `end` backwards (PROTOCOL.md §8.5): each request asks for `[start, end]` with
limit 1000; Bybit answers with the newest 1000 of that range (inclusive bounds, anchored at `end`),
so the next request ends 1 ms before the oldest row received. We stop at `start` or at an empty
page, never on a short page alone, because a short page can be a glitch rather than the listing
start.

Concurrency: a range is cut into windows of 1000 candles that are fetched in parallel under one
semaphore shared by all symbols, in chronological batches, so each batch is a plain append to the
store and a crash loses at most one batch. The still-open candle is dropped using the server's
clock from the response envelope.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Awaitable, Callable, TypeVar

import polars as pl

from ..errors import UserError
from .bybit import MAX_LIMIT, BybitRest, rows_to_frame
from .integrity import find_gaps
from .intervals import Interval
from .progress import Progress
from .store import CandleStore, SeriesKey

Row = tuple[int, float, float, float, float, float]
T = TypeVar("T")


@dataclass(frozen=True)
class Window:
    """An inclusive range of candle starts to fetch; `end` None means "up to now"."""

    key: SeriesKey
    start: int
    end: int | None


@dataclass(frozen=True)
class FetchResult:
    """What one backfill did for one series."""

    key: SeriesKey
    added: int
    windows: int
    first_ms: int | None
    last_ms: int | None
    failed: UserError | None = None  # with `keep_going`: why this series stopped (what was retried)


# A candle counts as closed only this long after its end by the response's clock: the server reads
# its data a moment before it stamps the response, so a candle ending right in between would be
# read open but look closed. The cost is that a just-closed candle waits for the next read.
CLOSE_MARGIN_MS = 1_000


async def fetch_closed(rest: BybitRest, key: SeriesKey, *, start: int,
                       end: int | None = None) -> pl.DataFrame:
    """Every closed candle with start in [start, end] (end None = up to now), oldest first."""
    # Each row keeps the server time of the response it came from: a candle is closed only if it
    # had ended by *that* response's clock. Judging it by a later page's clock would pass off the
    # partial values of a candle that was still open when it was read as final.
    rows: dict[int, tuple[Row, int]] = {}
    cursor = end
    while True:
        # Without `end`, a request with `start` is anchored at `start` (oldest first); so the
        # first open-ended request sends neither and gets the newest page, open candle included.
        page = await rest.kline(key.category, key.symbol, key.interval,
                                start=start if cursor is not None else None, end=cursor,
                                limit=MAX_LIMIT)
        for row in page.rows:
            if row[0] not in rows or rows[row[0]][1] < page.server_ms:
                rows[row[0]] = (row, page.server_ms)  # keep the freshest reading of each candle
        if not page.rows or page.rows[0][0] <= start:
            break
        if cursor is not None and page.rows[0][0] > cursor:
            break  # the server ignored `end`; going on would loop forever
        cursor = page.rows[0][0] - 1  # `end` is inclusive: step 1 ms past the oldest row
    closed = [row for t, (row, read_at) in sorted(rows.items())
              if t >= start and (end is None or t <= end)
              and key.interval.next_start(t) + CLOSE_MARGIN_MS <= read_at]
    return rows_to_frame(tuple(closed))


def ceil_start(interval: Interval, t_ms: int) -> int:
    """The first candle start at or after `t_ms`."""
    floor = interval.floor(t_ms)
    return floor if floor == t_ms else interval.next_start(floor)


def split_windows(key: SeriesKey, start: int, end: int | None, *, now_ms: int) -> list[Window]:
    """Cut [start, end] into windows of at most MAX_LIMIT candles (months: a single window)."""
    step = key.interval.ms
    if step is None:
        return [Window(key, start, end)]
    limit = end if end is not None else now_ms
    windows = []
    cursor = start
    while cursor <= limit:
        stop = cursor + (MAX_LIMIT - 1) * step
        windows.append(Window(key, cursor, stop if stop < limit else end))
        cursor = stop + step
    return windows


def missing_ranges(store: CandleStore, key: SeriesKey, since: int,
                   until: int | None) -> list[tuple[int, int | None]]:
    """The parts of [since, until] the store lacks: before its first candle, the holes between
    its candles (a crashed run, a stream that lost a candle), and after its last."""
    first, last = store.first_start(key), store.last_start(key)
    if first is None or last is None:
        return [(since, until)]
    ranges: list[tuple[int, int | None]] = []
    if since < first:
        ranges.append((since, min(first - 1, until) if until is not None else first - 1))
    ranges += _holes(store, key, since, until, first=first, last=last)
    after = key.interval.next_start(last)
    if until is None or until >= after:
        ranges.append((max(since, after), until))
    return [(a, b) for a, b in ranges if b is None or a <= b]


def _holes(store: CandleStore, key: SeriesKey, since: int, until: int | None, *,
           first: int, last: int) -> list[tuple[int, int | None]]:
    """Gaps between stored candles, clipped to [since, until]. Reads the file only when the range
    reaches inside the store, so a plain "fetch what is new" does not pay for it."""
    if since > last or (until is not None and until < first):
        return []
    top = last if until is None else until
    holes = [(max(gap.first_ms, since), min(gap.last_ms, top))
             for gap in find_gaps(store.read(key), key.interval)]
    return [(a, b) for a, b in holes if a <= b]


async def listing_start(rest: BybitRest, key: SeriesKey, since: int) -> int | None:
    """The oldest candle at or after `since` (start-anchored, limit 1), or None if there is none.

    Saves one empty request per window when `since` predates the symbol's listing.
    """
    page = await rest.kline(key.category, key.symbol, key.interval, start=since, limit=1)
    starts = [r[0] for r in page.rows if r[0] >= since]
    return min(starts) if starts else None


async def plan(rest: BybitRest, store: CandleStore, key: SeriesKey, *, since: int,
               until: int | None, now_ms: int) -> list[Window]:
    """Windows covering what the store lacks between `since` and `until`."""
    since = ceil_start(key.interval, since)
    windows: list[Window] = []
    for start, end in missing_ranges(store, key, since, until):
        if start == since:
            listed = await listing_start(rest, key, start)
            if listed is None or (end is not None and listed > end):
                continue
            start = listed
        windows += split_windows(key, start, end, now_ms=now_ms)
    return windows


async def backfill(rest: BybitRest, store: CandleStore, keys: list[SeriesKey], *, since: int,
                   until: int | None = None, now_ms: int | None = None, concurrency: int = 4,
                   progress: Progress | None = None, keep_going: bool = False,
                   on_done: Callable[[FetchResult], None] | None = None) -> list[FetchResult]:
    """Fetch what each series lacks in [since, until] and merge it into the store.

    `now_ms` should be the exchange's clock (`rest.server_time()`); it is fetched when omitted,
    because windows must end at the exchange's present, not at a skewed local clock.
    `keep_going`: a series that fails (its retries spent) is returned with `failed` set while the
    others go on; what it merged before failing stays. `on_done`: called as each series ends.
    """
    now_ms = now_ms if now_ms is not None else await rest.server_time()
    guard = _Guard(store, keep_going)
    plans = await asyncio.gather(*(guard.run(k, plan(rest, store, k, since=since, until=until,
                                                      now_ms=now_ms)) for k in keys))
    if progress is not None:
        progress.start(sum(len(p) for p in plans if isinstance(p, list)))
    gate = asyncio.Semaphore(max(1, concurrency))

    async def series(key: SeriesKey, windows: list[Window] | FetchResult) -> FetchResult:
        result = windows if isinstance(windows, FetchResult) else await guard.run(
            key, _run_series(rest, store, key, windows, gate=gate, batch=max(1, concurrency),
                             progress=progress))
        if on_done is not None:
            on_done(result)
        return result

    return list(await asyncio.gather(*(series(key, windows) for key, windows in zip(keys, plans))))


@dataclass(frozen=True)
class _Guard:
    """Runs one series' step; with `keep_going`, a user-facing failure becomes its result."""

    store: CandleStore
    keep_going: bool

    async def run(self, key: SeriesKey, step: Awaitable[T]) -> T | FetchResult:
        try:
            return await step
        except UserError as err:
            if not self.keep_going:
                raise
            return FetchResult(key=key, added=0, windows=0, first_ms=self.store.first_start(key),
                               last_ms=self.store.last_start(key), failed=err)


async def _run_series(rest: BybitRest, store: CandleStore, key: SeriesKey, windows: list[Window],
                      *, gate: asyncio.Semaphore, batch: int,
                      progress: Progress | None) -> FetchResult:
    added = 0

    async def one(window: Window) -> pl.DataFrame:
        async with gate:
            frame = await fetch_closed(rest, key, start=window.start, end=window.end)
        if progress is not None:
            progress.advance(candles=frame.height)
        return frame

    for i in range(0, len(windows), batch):
        frames = await asyncio.gather(*(one(w) for w in windows[i:i + batch]))
        fetched = pl.concat(frames)
        if fetched.height:
            added += await asyncio.to_thread(store.merge, key, fetched)
    return FetchResult(key=key, added=added, windows=len(windows),
                       first_ms=store.first_start(key), last_ms=store.last_start(key))
