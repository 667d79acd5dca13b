"""One Bybit public WebSocket per category: subscribe in batches, ping, detect death, reconnect.

Protocol facts followed (PROTOCOL.md §6, §8):
- at most 10 args per subscribe request (the spot limit; we use it everywhere, so one code path);
  each request has its own `req_id` and we wait for the matching ack;
- a failed ack names at most one topic (`...,topic:<t>` or `Invalid symbol :[<t>]`): that topic is
  rejected, the rest of its batch is sent again, one by one if no topic was named;
  `already subscribed` counts as success;
- a JSON `{"op":"ping"}` every `ping_interval` (20 s) is the liveness check; a connection that sends
  no frame at all for `dead_after` seconds is presumed dead and dropped;
- reconnects back off exponentially with jitter (reset after `stable_after` s of good connection),
  resubscribe everything in batches, then tell the owner so it can refill missed candles over REST.
"""
from __future__ import annotations

import asyncio
import itertools
import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any, Callable

import websockets
from websockets.asyncio.client import ClientConnection

from ..errors import NetworkError, UsageError
from .ratelimit import Backoff

log = logging.getLogger("tradebot.data")

_NAMED_TOPIC = re.compile(r"topic:([\w.\-]+)|\[([\w.\-]+)\]")


@dataclass(frozen=True)
class StreamSettings:
    """Stream timing; tests shrink every number."""

    ws_url: str = "wss://stream.bybit.com"
    ping_interval: float = 20.0
    dead_after: float = 30.0
    ack_timeout: float = 10.0
    open_timeout: float = 10.0
    reconnect: Backoff = field(default_factory=Backoff)  # delays between reconnects
    stable_after: float = 60.0
    batch_size: int = 10


def stream_url(base: str, category: str) -> str:
    """`wss://stream.bybit.com` -> `wss://stream.bybit.com/v5/public/linear` (full URLs kept)."""
    base = base.rstrip("/")
    if re.search(r"/v5/public/\w+$", base):
        return base
    return f"{base}/v5/public/{category}"


def named_topic(reason: str) -> str | None:
    found = _NAMED_TOPIC.search(reason)
    return (found.group(1) or found.group(2)) if found else None


class CategoryConnection:
    """Keeps the wanted topics subscribed on one endpoint, reconnecting as long as it is open."""

    def __init__(self, settings: StreamSettings, category: str, *,
                 on_message: Callable[[str, dict[str, Any]], None],
                 on_reconnect: Callable[[str], None],
                 on_rejected: Callable[[str, str, str], None]) -> None:
        self.settings = settings
        self.category = category
        self.url = stream_url(settings.ws_url, category)
        self.on_message, self.on_reconnect, self.on_rejected = on_message, on_reconnect, on_rejected
        self.topics: list[str] = []
        self.connects = 0
        self.last_error: BaseException | None = None
        self._ws: ClientConnection | None = None
        self._task: asyncio.Task[None] | None = None
        self._acks: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._waiters: dict[str, asyncio.Future[None]] = {}
        self._req_ids = itertools.count(1)
        self._last_frame = 0.0
        self._backoff = settings.reconnect

    async def add(self, topic: str) -> None:
        """Want `topic`; returns once it is subscribed. Raises UsageError if Bybit refuses it, or
        NetworkError if the endpoint was never reachable within the open and ack timeouts."""
        if topic in self.topics:
            return
        self.topics.append(topic)
        waiter = self._waiters[topic] = asyncio.get_running_loop().create_future()
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"bybit ws {self.category}")
        elif self._ws is not None:
            asyncio.create_task(self._subscribe_quietly(self._ws, [topic]))
        try:
            await asyncio.wait_for(asyncio.shield(waiter), self.settings.open_timeout
                                   + self.settings.ack_timeout)
        except asyncio.TimeoutError:
            if self.connects == 0:
                await self.close()
                raise NetworkError(f"cannot reach the Bybit stream at {self.url}: "
                                   f"{self.last_error or 'no answer'}") from None
            log.warning("%s not acknowledged yet; it will be subscribed on reconnect", topic)

    async def remove(self, topic: str) -> None:
        if topic not in self.topics:
            return
        self.topics.remove(topic)
        if self._ws is not None:
            try:
                await self._ws.send(json.dumps({"op": "unsubscribe", "args": [topic],
                                                "req_id": f"u{next(self._req_ids)}"}))
            except websockets.ConnectionClosed:
                pass

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 - closing anyway
                pass
            self._task = None

    async def _run(self) -> None:
        attempt = 0
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            try:
                await self._session()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - every failure means "reconnect"
                self.last_error = exc
                log.warning("Bybit stream %s: %s: %s", self.category, type(exc).__name__, exc)
            if loop.time() - started > self.settings.stable_after:
                attempt = 0
            delay = self._backoff.delay(attempt)
            attempt += 1
            log.info("reconnecting to %s in %.2f s", self.url, delay)
            await asyncio.sleep(delay)

    async def _session(self) -> None:
        async with websockets.connect(self.url, ping_interval=None, compression=None,
                                      open_timeout=self.settings.open_timeout,
                                      close_timeout=1, max_queue=None) as ws:
            self._ws = ws
            self.connects += 1
            reader = asyncio.create_task(self._read(ws))
            pinger = asyncio.create_task(self._ping(ws))
            try:
                await self._subscribe(ws, list(self.topics))
                if self.connects > 1:
                    self.on_reconnect(self.category)
                await reader
            finally:
                self._ws = None
                for task in (reader, pinger):
                    task.cancel()
                for future in self._acks.values():
                    future.cancel()
                self._acks.clear()

    async def _read(self, ws: ClientConnection) -> None:
        # Liveness is watched by a separate task rather than `wait_for(ws.recv())`: on 3.10/3.11
        # wait_for can swallow a cancellation that races with a message, hanging shutdown.
        self._last_frame = asyncio.get_running_loop().time()
        watchdog = asyncio.create_task(self._watch(ws))
        try:
            async for raw in ws:
                self._last_frame = asyncio.get_running_loop().time()
                self._dispatch(json.loads(raw))
        except websockets.ConnectionClosed as exc:
            self.last_error = exc
        finally:
            watchdog.cancel()

    async def _watch(self, ws: ClientConnection) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.settings.dead_after / 4)
            if loop.time() - self._last_frame > self.settings.dead_after:
                log.warning("Bybit stream %s silent for %g s: presumed dead", self.category,
                            self.settings.dead_after)
                ws.transport.abort()  # no closing handshake with a dead peer
                return

    def _dispatch(self, message: dict[str, Any]) -> None:
        if "topic" in message and "data" in message:
            self.on_message(self.category, message)
        elif message.get("op") in ("subscribe", "unsubscribe") and message.get("ret_msg") != "pong":
            self._resolve_ack(message)
        # pongs (ret_msg "pong" or op "pong") need no handling: any frame proves liveness

    def _resolve_ack(self, message: dict[str, Any]) -> None:
        req_id = str(message.get("req_id") or "")
        if req_id not in self._acks:  # some failure acks carry no req_id: oldest waiter
            req_id = next(iter(self._acks), "")
        future = self._acks.pop(req_id, None)
        if future is not None and not future.done():
            future.set_result(message)

    async def _ping(self, ws: ClientConnection) -> None:
        while True:
            await asyncio.sleep(self.settings.ping_interval)
            await ws.send(json.dumps({"op": "ping", "req_id": f"p{next(self._req_ids)}"}))

    async def _subscribe_quietly(self, ws: ClientConnection, topics: list[str]) -> None:
        try:
            await self._subscribe(ws, topics)
        except Exception as exc:  # noqa: BLE001 - the reconnect path resubscribes
            log.debug("subscribe %s failed: %s", topics, exc)

    async def _subscribe(self, ws: ClientConnection, topics: list[str]) -> None:
        size = self.settings.batch_size
        for i in range(0, len(topics), size):
            await self._subscribe_batch(ws, topics[i:i + size])

    async def _subscribe_batch(self, ws: ClientConnection, batch: list[str]) -> None:
        batch = [t for t in batch if t in self.topics]
        if not batch:
            return
        req_id = f"s{next(self._req_ids)}"
        future = self._acks[req_id] = asyncio.get_running_loop().create_future()
        await ws.send(json.dumps({"req_id": req_id, "op": "subscribe", "args": batch}))
        ack = await asyncio.wait_for(future, self.settings.ack_timeout)
        reason = str(ack.get("ret_msg", ""))
        if ack.get("success") or "already subscribed" in reason:
            for topic in batch:
                self._settle(topic)
            return
        await self._handle_refusal(ws, batch, reason)

    async def _handle_refusal(self, ws: ClientConnection, batch: list[str], reason: str) -> None:
        culprit = named_topic(reason)
        if culprit in batch or len(batch) == 1:
            culprit = culprit if culprit in batch else batch[0]
            self._reject(culprit, reason)
            rest = [t for t in batch if t != culprit]
            if rest:
                await self._subscribe_batch(ws, rest)
            return
        for topic in batch:  # no topic named: find the bad one(s) one at a time
            await self._subscribe_batch(ws, [topic])

    def _settle(self, topic: str) -> None:
        waiter = self._waiters.pop(topic, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _reject(self, topic: str, reason: str) -> None:
        if topic in self.topics:
            self.topics.remove(topic)
        waiter = self._waiters.pop(topic, None)
        error = UsageError(f"Bybit refused the subscription {topic} ({self.category}): {reason}")
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)
        self.on_rejected(self.category, topic, reason)
