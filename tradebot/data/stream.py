"""Live candles: one connection manager per process, shared by every consumer (the stream writer,
the REPL, paper trading).

    async with StreamManager(settings, rest) as manager:
        sub = await manager.subscribe("linear", "BTCUSDT", INTERVALS["1m"], since_ms=...)
        async for event in sub:          # CandleEvent, in start order per subscription
            if event.confirmed: ...      # final candle, delivered exactly once
            else: ...                    # a snapshot of the still-open candle

Guarantees to each subscription: confirmed candles arrive once each, in order, without holes from
`since_ms` (or from the moment of subscribing) on, even across reconnects and dropped pushes,
because every hole is filled over REST before later candles are delivered. Unconfirmed snapshots
are best effort (latest wins; stale ones are dropped). Socket handling (subscribe batches, pings,
dead-connection detection, reconnect with backoff) lives in `wsconn.py`; this module keeps the
per-topic state machine.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any, AsyncIterator

import polars as pl

from ..errors import UsageError, UserError
from .backfill import fetch_closed
from .bybit import BybitRest
from .intervals import Interval, to_datetime, to_ms
from .store import SeriesKey
from .wsconn import CategoryConnection, StreamSettings

log = logging.getLogger("tradebot.data")

__all__ = ["CandleEvent", "StreamManager", "StreamSettings", "Subscription"]


@dataclass(frozen=True)
class CandleEvent:
    """One candle update; `confirmed` means closed and final. `source` is "stream" or "rest"."""

    category: str
    symbol: str
    interval: Interval
    start_ms: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    confirmed: bool
    source: str = "stream"

    @property
    def timestamp(self) -> dt.datetime:
        return to_datetime(self.start_ms)

    def row(self) -> tuple[int, float, float, float, float, float]:
        return (self.start_ms, self.open, self.high, self.low, self.close, self.volume)


_END = object()


class Subscription:
    """A consumer's view of one topic: an async iterator of CandleEvents plus `latest`."""

    def __init__(self, manager: StreamManager, category: str, symbol: str, interval: Interval,
                 *, confirmed_only: bool) -> None:
        self.manager = manager
        self.category, self.symbol, self.interval = category, symbol, interval
        self.confirmed_only = confirmed_only
        self.latest: CandleEvent | None = None
        self.error: Exception | None = None
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._last_confirmed = -1
        self._held: list[CandleEvent] | None = None

    @property
    def topic(self) -> str:
        return f"kline.{self.interval.code}.{self.symbol}"

    def __aiter__(self) -> AsyncIterator[CandleEvent]:
        return self

    async def __anext__(self) -> CandleEvent:
        item = await self._queue.get()
        if item is _END:
            self._queue.put_nowait(_END)  # stay ended for later calls
            if self.error is not None:
                raise self.error
            raise StopAsyncIteration
        return item  # type: ignore[no-any-return]

    async def get(self, timeout: float | None = None) -> CandleEvent:
        """The next event; raises TimeoutError after `timeout` s, StopAsyncIteration when closed."""
        return await asyncio.wait_for(self.__anext__(), timeout)

    async def close(self) -> None:
        await self.manager.unsubscribe(self)

    def offer(self, event: CandleEvent, *, held_ok: bool = False) -> None:
        """Deliver unless already seen (confirmed) or older than the last confirmed candle.

        While a catch-up runs, live events are held back (`held_ok` marks the catch-up's own)."""
        if self._held is not None and not held_ok:
            self._held.append(event)
            return
        if event.start_ms <= self._last_confirmed:
            return
        if event.confirmed:
            self._last_confirmed = event.start_ms
        elif self.confirmed_only:
            self.latest = event
            return
        self.latest = event
        self._queue.put_nowait(event)

    def end(self, error: Exception | None = None) -> None:
        self.error = self.error or error
        self._queue.put_nowait(_END)

    def hold(self) -> None:
        self._held = []

    def release(self) -> None:
        held, self._held = self._held or [], None
        for event in held:
            self.offer(event)


class _Topic:
    """Per-topic state: `cursor` is the start of the oldest candle not yet confirmed."""

    def __init__(self, category: str, symbol: str, interval: Interval, cursor: int) -> None:
        self.category, self.symbol, self.interval = category, symbol, interval
        self.cursor = cursor
        self.subs: list[Subscription] = []
        self.inbox: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.latest: tuple[int, int] = (-1, -1)  # (start, ts) of the newest snapshot seen
        self.worker: asyncio.Task[None] | None = None

    @property
    def name(self) -> str:
        return f"kline.{self.interval.code}.{self.symbol}"

    def event(self, row: tuple[int, float, float, float, float, float], *, confirmed: bool,
              source: str) -> CandleEvent:
        return CandleEvent(self.category, self.symbol, self.interval, row[0], *row[1:],
                           confirmed=confirmed, source=source)

    def rest_events(self, frame: pl.DataFrame) -> list[CandleEvent]:
        """Closed candles fetched over REST (a canonical frame) as confirmed events."""
        return [self.event((to_ms(row[0]), *row[1:]), confirmed=True, source="rest")
                for row in frame.iter_rows()]


RESYNC: None = None  # inbox marker: the connection was re-established, fill what was missed


class StreamManager:
    """Owns one CategoryConnection per category and the topics consumers asked for."""

    def __init__(self, settings: StreamSettings, rest: BybitRest) -> None:
        self.settings = settings
        self.rest = rest
        self._connections: dict[str, CategoryConnection] = {}
        self._topics: dict[tuple[str, str], _Topic] = {}
        self.backfilled = 0

    async def __aenter__(self) -> StreamManager:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def connects(self) -> int:
        return sum(c.connects for c in self._connections.values())

    async def subscribe(self, category: str, symbol: str, interval: Interval, *,
                        since_ms: int | None = None, confirmed_only: bool = False) -> Subscription:
        """Start receiving `symbol`'s candles; with `since_ms`, closed candles from then on first."""
        sub = Subscription(self, category, symbol, interval, confirmed_only=confirmed_only)
        topic = await self._topic(category, symbol, interval)
        if since_ms is not None:
            sub.hold()  # live events wait until the catch-up below has been delivered
        topic.subs.append(sub)
        if since_ms is not None:
            try:
                await self._catch_up(topic, sub, since_ms)
            finally:
                sub.release()
        return sub

    async def unsubscribe(self, sub: Subscription) -> None:
        key = (sub.category, sub.topic)
        topic = self._topics.get(key)
        if topic is not None and sub in topic.subs:
            topic.subs.remove(sub)
            if not topic.subs:
                await self._drop_topic(key, topic)
        sub.end()

    async def close(self) -> None:
        for key, topic in list(self._topics.items()):
            for sub in topic.subs:
                sub.end()
            await self._drop_topic(key, topic, notify=False)
        for connection in self._connections.values():
            await connection.close()
        self._connections.clear()

    async def _topic(self, category: str, symbol: str, interval: Interval) -> _Topic:
        key = (category, f"kline.{interval.code}.{symbol}")
        if key in self._topics:
            return self._topics[key]
        # Start at the exchange's current candle: anything older is the consumer's `since_ms`.
        cursor = interval.floor(await self.rest.server_time())
        topic = self._topics[key] = _Topic(category, symbol, interval, cursor)
        topic.worker = asyncio.create_task(self._work(topic), name=f"topic {topic.name}")
        connection = self._connection(category)
        try:
            await connection.add(topic.name)
        except UserError:
            await self._drop_topic(key, topic, notify=False)
            raise
        return topic

    def _connection(self, category: str) -> CategoryConnection:
        if category not in self._connections:
            self._connections[category] = CategoryConnection(
                self.settings, category, on_message=self._on_message,
                on_reconnect=self._on_reconnect, on_rejected=self._on_rejected)
        return self._connections[category]

    async def _drop_topic(self, key: tuple[str, str], topic: _Topic, *, notify: bool = True) -> None:
        self._topics.pop(key, None)
        if topic.worker is not None:
            topic.worker.cancel()
        connection = self._connections.get(key[0])
        if notify and connection is not None:
            await connection.remove(topic.name)

    def _on_message(self, category: str, message: dict[str, Any]) -> None:
        topic = self._topics.get((category, str(message.get("topic"))))
        if topic is None:
            return
        for item in message.get("data") or []:
            topic.inbox.put_nowait(item)

    def _on_reconnect(self, category: str) -> None:
        for (cat, _), topic in self._topics.items():
            if cat == category:
                topic.inbox.put_nowait(RESYNC)

    def _on_rejected(self, category: str, topic_name: str, reason: str) -> None:
        topic = self._topics.pop((category, topic_name), None)
        if topic is None:
            return
        if topic.worker is not None:
            topic.worker.cancel()
        error = UsageError(f"Bybit refused the subscription {topic_name} ({category}): {reason}")
        for sub in topic.subs:
            sub.end(error)

    async def _work(self, topic: _Topic) -> None:
        """Apply the topic's pushes in arrival order; may pause to backfill over REST."""
        while True:
            item = await topic.inbox.get()
            try:
                if item is RESYNC:
                    await self._fill(topic, upto=None)
                else:
                    await self._apply(topic, item)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a failed backfill must not kill the topic
                log.warning("%s: %s; will retry after the next push", topic.name, exc)

    async def _apply(self, topic: _Topic, item: dict[str, Any]) -> None:
        row = (int(item["start"]), float(item["open"]), float(item["high"]), float(item["low"]),
               float(item["close"]), float(item["volume" if topic.category != "inverse" else
                                                   "turnover"]))
        start = row[0]
        if start < topic.cursor:
            return  # a repeated or out-of-order message about a candle already final
        if item.get("confirm"):
            if start > topic.cursor:
                await self._fill(topic, upto=start - 1)  # pushes were lost: REST first
            if start >= topic.cursor:
                self._deliver(topic, topic.event(row, confirmed=True, source="stream"))
            return
        stamp = (start, int(item.get("timestamp") or 0))
        if stamp >= topic.latest:
            topic.latest = stamp
            self._deliver(topic, topic.event(row, confirmed=False, source="stream"))

    async def _fill(self, topic: _Topic, *, upto: int | None) -> None:
        """Deliver every closed candle from the cursor up to `upto` (None: up to now) from REST."""
        key = SeriesKey(topic.category, topic.symbol, topic.interval)
        frame = await fetch_closed(self.rest, key, start=topic.cursor, end=upto)
        for event in topic.rest_events(frame):
            self.backfilled += 1
            self._deliver(topic, event)

    def _deliver(self, topic: _Topic, event: CandleEvent) -> None:
        if event.confirmed:
            topic.cursor = max(topic.cursor, topic.interval.next_start(event.start_ms))
        for sub in list(topic.subs):
            sub.offer(event)

    async def _catch_up(self, topic: _Topic, sub: Subscription, since_ms: int) -> None:
        key = SeriesKey(topic.category, topic.symbol, topic.interval)
        frame = await fetch_closed(self.rest, key, start=since_ms)
        for event in topic.rest_events(frame):
            sub.offer(event, held_ok=True)
