"""A protocol-faithful fake of Bybit V5 public market data, for tests (PROTOCOL.md §9 checklist).

REST (aiohttp.web) and the public stream (websockets) on 127.0.0.1, random free ports. The
market is a deterministic function of (symbol, interval, start) on a virtual clock that can run
faster than real time, so REST pages and stream pushes always agree and tests can compute the
exact expected candles with `FakeBybit.candle`.

[UNK] protocol points are knobs on `FakeConfig` (limit out of range, start > end, the 10006 reset
header, pushing the open candle right after subscribe, W anchor, multi-arg subscribe failures).
Faults are queued, so each test states exactly which requests or connections misbehave.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
import zlib
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from tradebot.data.intervals import BY_CODE, Interval

CATEGORIES = ("spot", "linear", "inverse")
FORBIDDEN_BODY = "<HTML><HEAD><TITLE>403 ERROR</TITLE></HEAD><BODY>The request could not be satisfied. access too frequent</BODY></HTML>"


@dataclass
class WsFault:
    """Misbehaviour of one stream connection (connections take faults from a queue, in order)."""

    drop_after: int | None = None       # abort the TCP connection after N kline pushes
    stall_after: int | None = None      # after N pushes send nothing at all, not even pongs
    duplicate_confirms: bool = False    # every confirm:true twice
    reorder: bool = False               # after each confirm, replay stale older messages
    skip_confirms: int = 0              # swallow the first N confirm:true pushes (gaps)
    close_code: int | None = None       # with drop_after: a clean close with this code instead


@dataclass
class FakeConfig:
    """Market, [UNK] knobs and fault queues. Mutate freely between requests."""

    symbols: dict[str, dict[str, int]] = field(default_factory=dict)   # category -> symbol -> listing ms
    speed: float = 1.0                  # virtual ms per real ms
    start_ms: int | None = None         # virtual time at server start (default: real now)
    holes: set[tuple[str, int]] = field(default_factory=set)          # (symbol, start) never traded
    zero_volume: set[tuple[str, int]] = field(default_factory=set)    # (symbol, start) flat, vol 0
    limit_out_of_range: str = "reject"  # or "clamp"                    [UNK]
    start_after_end: str = "empty"      # or "reject"                   [UNK]
    reset_header: str = "always"        # on 10006: "always", "never"   [UNK]
    push_on_subscribe: bool = True      # push the open candle right after the ack [UNK]
    week_anchor_ms: int = 4 * 86_400_000  # Monday                       [UNK]
    ip_limit: tuple[int, float] | None = None   # (requests, seconds) -> 403 ban
    ban_seconds: float = 0.2
    push_interval: float = 0.02         # real seconds between pushes
    idle_timeout: float = 600.0         # close a connection that has not pinged for this long
    rest_faults: deque[str] = field(default_factory=deque)  # "10006" "403" "429" "500" "502"
    # "10000" "10016" "badjson" "short" "slow:<s>": consumed one per kline request
    ws_faults: deque[WsFault] = field(default_factory=deque)
    failing_symbols: dict[str, str] = field(default_factory=dict)  # symbol -> fault on every kline request
    refuse_handshakes: int = 0          # answer the next N handshakes with HTTP 502


def _price(symbol: str, interval: str, start: int, salt: str) -> float:
    return zlib.crc32(f"{symbol}|{interval}|{start}|{salt}".encode()) / 2**32


class Market:
    """Deterministic candles on a virtual clock."""

    def __init__(self, config: FakeConfig) -> None:
        self.config = config
        self._real0 = time.monotonic()
        self._virtual0 = config.start_ms if config.start_ms is not None else int(time.time() * 1000)

    def now_ms(self) -> int:
        return int(self._virtual0 + (time.monotonic() - self._real0) * 1000 * self.config.speed)

    def floor(self, interval: Interval, t: int) -> int:
        if interval.ms == 7 * 86_400_000:
            anchor = self.config.week_anchor_ms
            return (t - anchor) // interval.ms * interval.ms + anchor
        return interval.floor(t)

    def candle(self, symbol: str, interval: Interval, start: int, *, now: int | None = None
               ) -> tuple[str, str, str, str, str, str]:
        """(open, high, low, close, volume, turnover) as strings; partial if still open at `now`."""
        base = 100 + 1000 * _price(symbol, interval.code, start // 86_400_000, "day")
        o = round(base * (1 + (_price(symbol, interval.code, start, "o") - 0.5) / 50), 1)
        c = round(base * (1 + (_price(symbol, interval.code, start, "c") - 0.5) / 50), 1)
        h = round(max(o, c) + 10 * _price(symbol, interval.code, start, "h"), 1)
        lo = round(min(o, c) - 10 * _price(symbol, interval.code, start, "l"), 1)
        v = round(1000 * _price(symbol, interval.code, start, "v"), 3)
        if (symbol, start) in self.config.zero_volume:
            h = lo = c = o
            v = 0.0
        end = interval.next_start(start)
        if now is not None and now < end:
            frac = (now - start) / (end - start)
            c = round(o + (c - o) * frac, 1)
            h, lo, v = max(o, c), min(o, c), round(v * frac, 3)
        return (_num(o), _num(h), _num(lo), _num(c), _num(v), _num(round(v * c, 4)))

    def starts(self, symbol: str, listing: int, interval: Interval, *, start: int | None,
               end: int | None, limit: int) -> list[int]:
        """Candle starts per the reference algorithm of PROTOCOL.md §2.3, ascending."""
        now = self.now_ms()
        first = self.floor(interval, listing)
        first = first if first >= listing else interval.next_start(first)
        last = self.floor(interval, now)  # the open candle is included
        if end is not None:
            last = min(last, self.floor(interval, end))
        if start is not None:  # the candle containing `start` is included
            first = max(first, self.floor(interval, start))
        if start is not None and end is None:
            picked = self._walk_up(symbol, interval, first, last, limit)
        else:
            picked = self._walk_down(symbol, interval, first, last, limit)
        return sorted(picked)

    def _walk_up(self, symbol: str, interval: Interval, first: int, last: int, limit: int) -> list[int]:
        out, t = [], first
        while t <= last and len(out) < limit:
            if (symbol, t) not in self.config.holes:
                out.append(t)
            t = interval.next_start(t)
        return out

    def _walk_down(self, symbol: str, interval: Interval, first: int, last: int, limit: int) -> list[int]:
        out, t = [], last
        while t >= first and len(out) < limit:
            if (symbol, t) not in self.config.holes:
                out.append(t)
            t = self._previous(interval, t)
        return out

    def _previous(self, interval: Interval, t: int) -> int:
        if interval.ms is not None:
            return t - interval.ms
        return interval.floor(t - 1)


def _num(x: float) -> str:
    text = repr(float(x))
    return text[:-2] if text.endswith(".0") else text


def envelope(result: Any, *, code: int = 0, msg: str = "OK", now: int) -> dict[str, Any]:
    return {"retCode": code, "retMsg": msg, "result": result, "retExtInfo": {}, "time": now}


class FakeRest:
    """`/v5/market/kline`, `/v5/market/time`, `/v5/market/instruments-info`, with faults."""

    def __init__(self, market: Market) -> None:
        self.market = market
        self.config = market.config
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._window: deque[float] = deque()
        self._banned_until = 0.0

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._ip_limit])
        app.router.add_get("/v5/market/kline", self.kline)
        app.router.add_get("/v5/market/time", self.time)
        app.router.add_get("/v5/market/instruments-info", self.instruments)
        return app

    def ban(self) -> web.Response:
        self._banned_until = time.monotonic() + self.config.ban_seconds
        return web.Response(status=403, text=FORBIDDEN_BODY, content_type="text/html")

    @web.middleware
    async def _ip_limit(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests.append((request.path, dict(request.query)))
        now = time.monotonic()
        if now < self._banned_until:
            return web.Response(status=403, text=FORBIDDEN_BODY, content_type="text/html")
        if self.config.ip_limit is not None:
            count, seconds = self.config.ip_limit
            self._window.append(now)
            while self._window and self._window[0] < now - seconds:
                self._window.popleft()
            if len(self._window) > count:
                return self.ban()
        return await handler(request)

    def reply(self, result: Any, *, code: int = 0, msg: str = "OK",
              headers: dict[str, str] | None = None, now: int | None = None) -> web.Response:
        # `now`: the instant the result was built from. A real server stamps a response about when
        # it reads its data; on the fake's fast clock a later reading would be seconds later.
        now = self.market.now_ms() if now is None else now
        body = envelope(result, code=code, msg=msg, now=now)
        return web.json_response(body, headers=headers)

    async def time(self, request: web.Request) -> web.Response:
        now = self.market.now_ms()
        return self.reply({"timeSecond": str(now // 1000), "timeNano": str(now * 1_000_000)})

    async def kline(self, request: web.Request) -> web.Response:
        fault = self.config.failing_symbols.get(request.query.get("symbol", ""))
        if fault is None and self.config.rest_faults:
            fault = self.config.rest_faults.popleft()
        if fault is not None and (early := await self._fault(fault)) is not None:
            return early
        q = request.query
        problem = self._validate(q)
        if problem is not None:
            return self.reply({}, code=10001, msg=problem)
        return self._kline_page(q, short=fault == "short")

    async def _fault(self, fault: str) -> web.Response | None:
        if fault.startswith("slow:"):
            await asyncio.sleep(float(fault.split(":", 1)[1]))
            return None
        if fault == "403":
            return self.ban()
        if fault in ("429", "500", "502"):
            return web.Response(status=int(fault), text="error")
        if fault == "badjson":
            return web.Response(status=200, text='{"retCode":0,"retMsg":"OK","res', content_type="application/json")
        if fault == "10006":
            return self._rate_limited()
        if fault in ("10000", "10016"):
            return self.reply({}, code=int(fault), msg="Request timeout, please try again later")
        return None  # "short" is applied to the page itself

    def _rate_limited(self) -> web.Response:
        headers = None
        if self.config.reset_header == "always":
            reset = int(time.time() * 1000) + 50
            headers = {"X-Bapi-Limit": "10", "X-Bapi-Limit-Status": "0",
                       "X-Bapi-Limit-Reset-Timestamp": str(reset)}
        return self.reply({}, code=10006, msg="Too many visits. Exceeded the API Rate Limit.",
                          headers=headers)

    def _validate(self, q: Any) -> str | None:
        category = q.get("category", "linear")
        if category not in CATEGORIES:
            return "params error: category invalid"
        if not q.get("symbol"):
            return "params error: symbol is empty"
        if q.get("interval") not in BY_CODE:
            return "params error: interval invalid"
        if q["symbol"] not in self.config.symbols.get(category, {}):
            return "Not supported symbols"
        limit = int(q.get("limit", "200"))
        if not 1 <= limit <= 1000 and self.config.limit_out_of_range == "reject":
            return "params error: limit invalid"
        start, end = q.get("start"), q.get("end")
        if start and end and int(start) > int(end) and self.config.start_after_end == "reject":
            return "params error: start must be less than end"
        return None

    def _kline_page(self, q: Any, *, short: bool) -> web.Response:
        category = q.get("category", "linear")
        symbol, interval = q["symbol"], BY_CODE[q["interval"]]
        limit = min(1000, max(1, int(q.get("limit", "200"))))
        start = int(q["start"]) if q.get("start") else None
        end = int(q["end"]) if q.get("end") else None
        starts = [] if start is not None and end is not None and start > end else \
            self.market.starts(symbol, self.config.symbols[category][symbol], interval,
                               start=start, end=end, limit=limit)
        if short:
            starts = starts[len(starts) // 2:]  # keep the newest half: a glitchy short page
        now = self.market.now_ms()
        rows = [[str(t), *self.market.candle(symbol, interval, t, now=now)] for t in reversed(starts)]
        return self.reply({"symbol": symbol, "category": category, "list": rows}, now=now)

    async def instruments(self, request: web.Request) -> web.Response:
        category = request.query.get("category")
        if category not in CATEGORIES:
            return self.reply({}, code=10001, msg="params error: category invalid")
        names = sorted(self.config.symbols.get(category, {}))
        if request.query.get("symbol"):
            names = [n for n in names if n == request.query["symbol"]]
        limit = int(request.query.get("limit", "500"))
        offset = int(request.query.get("cursor") or 0) if category != "spot" else 0
        page = names if category == "spot" else names[offset:offset + limit]
        items = [{"symbol": n, "status": "Trading", "baseCoin": n[:-4], "quoteCoin": n[-4:]}
                 for n in page]
        result: dict[str, Any] = {"category": category, "list": items}
        if category != "spot":
            more = offset + limit < len(names)
            result["nextPageCursor"] = str(offset + limit) if more else ""
        return self.reply(result)


class FakeStream:
    """The public stream: subscribe/unsubscribe/ping acks per category, kline pushes, faults."""

    def __init__(self, market: Market) -> None:
        self.market = market
        self.config = market.config
        self.connections = 0
        self.received: list[dict[str, Any]] = []

    async def process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        if self.config.refuse_handshakes > 0:
            self.config.refuse_handshakes -= 1
            return Response(502, "Bad Gateway", Headers(), b"Bad Gateway")
        category = request.path.rsplit("/", 1)[-1]
        if not request.path.startswith("/v5/public/") or category not in CATEGORIES:
            return Response(404, "Not Found", Headers(), b"Cannot find path")
        return None

    async def handler(self, ws: ServerConnection) -> None:
        self.connections += 1
        session = _StreamSession(self, ws, ws.request.path.rsplit("/", 1)[-1],
                                 self.config.ws_faults.popleft() if self.config.ws_faults else WsFault())
        await session.run()


class _StreamSession:
    """One client connection."""

    def __init__(self, stream: FakeStream, ws: ServerConnection, category: str, fault: WsFault) -> None:
        self.stream, self.ws, self.category, self.fault = stream, ws, category, fault
        self.market, self.config = stream.market, stream.config
        self.conn_id = str(uuid.uuid4())
        self.topics: dict[str, int] = {}     # topic -> start of the next candle to confirm
        self.pushes = 0
        self.stalled = False
        self.last_ping = time.monotonic()

    async def run(self) -> None:
        pusher = asyncio.create_task(self._push_loop())
        try:
            async for raw in self.ws:
                if not self.stalled:
                    await self._on_message(raw)
        except Exception:  # noqa: BLE001 - a dropped client is normal here
            pass
        finally:
            pusher.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pusher

    def _ack(self, op: str, *, success: bool = True, msg: str | None = None,
             req_id: str | None = None) -> dict[str, Any]:
        ack: dict[str, Any] = {"success": success, "ret_msg": msg if msg is not None else
                               ("subscribe" if self.category == "spot" and op == "subscribe" else ""),
                               "conn_id": self.conn_id, "op": op}
        if req_id is not None or self.category != "spot":
            ack["req_id"] = req_id or ""
        return ack

    async def _on_message(self, raw: str | bytes) -> None:
        try:
            msg = json.loads(raw)
        except ValueError:
            await self._send({"success": False, "ret_msg": "error:invalid op", "conn_id": self.conn_id})
            return
        self.stream.received.append(msg)
        op, req_id = msg.get("op"), msg.get("req_id")
        if op == "ping":
            self.last_ping = time.monotonic()
            await self._send(self._ack("ping", msg="pong", req_id=req_id))
        elif op == "subscribe":
            await self._subscribe(list(msg.get("args") or []), req_id)
        elif op == "unsubscribe":
            for topic in msg.get("args") or []:
                self.topics.pop(topic, None)
            await self._send(self._ack("unsubscribe", req_id=req_id))
        else:
            await self._send({"success": False, "ret_msg": "error:invalid op", "conn_id": self.conn_id,
                              "request": msg})

    def _topic_error(self, topic: str) -> str | None:
        parts = topic.split(".")
        if len(parts) != 3 or parts[0] != "kline":
            return f"error:handler not found,topic:{topic}"
        if parts[1] not in BY_CODE or parts[2] not in self.config.symbols.get(self.category, {}):
            return f"Invalid symbol :[{topic}]"
        if topic in self.topics:
            return f"error:already subscribed,topic:{topic}"
        return None

    async def _subscribe(self, args: list[str], req_id: str | None) -> None:
        if self.category == "spot" and len(args) > 10:
            await self._send(self._ack("subscribe", success=False, msg="args size >10", req_id=req_id))
            return
        errors = [e for e in map(self._topic_error, args) if e]
        if errors:  # one ack names one failing topic; none of the batch becomes active [UNK]
            await self._send(self._ack("subscribe", success=False, msg=errors[0], req_id=req_id))
            return
        now = self.market.now_ms()
        for topic in args:
            self.topics[topic] = self.market.floor(BY_CODE[topic.split(".")[1]], now)
        await self._send(self._ack("subscribe", req_id=req_id))
        if self.config.push_on_subscribe:
            for topic in args:
                await self._push(topic, self.topics[topic], now, confirm=False)

    async def _send(self, obj: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(obj))

    async def _push(self, topic: str, start: int, now: int, *, confirm: bool) -> None:
        _, code, symbol = topic.split(".")
        interval = BY_CODE[code]
        o, h, lo, c, v, turnover = self.market.candle(symbol, interval, start,
                                                      now=None if confirm else now)
        item = {"start": start, "end": interval.next_start(start) - 1, "interval": code,
                "open": o, "close": c, "high": h, "low": lo, "volume": v, "turnover": turnover,
                "confirm": confirm, "timestamp": now}
        await self._send({"topic": topic, "data": [item], "ts": now, "type": "snapshot"})

    async def _push_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.push_interval)
            if time.monotonic() - self.last_ping > self.config.idle_timeout:
                await self.ws.close(1000, "idle")
                return
            if self.stalled:
                continue
            for topic in list(self.topics):
                if topic in self.topics:
                    await self._tick(topic)
            if await self._maybe_break():
                return

    async def _tick(self, topic: str) -> None:
        interval = BY_CODE[topic.split(".")[1]]
        symbol = topic.split(".")[2]
        now = self.market.now_ms()
        while interval.next_start(self.topics[topic]) <= now:
            start = self.topics[topic]
            self.topics[topic] = interval.next_start(start)
            if (symbol, start) not in self.config.holes:
                await self._confirm(topic, start, now)
        await self._push(topic, self.topics[topic], now, confirm=False)
        self.pushes += 1

    async def _confirm(self, topic: str, start: int, now: int) -> None:
        if self.fault.skip_confirms > 0:
            self.fault.skip_confirms -= 1
            return
        await self._push(topic, start, now, confirm=True)
        if self.fault.duplicate_confirms:
            await self._push(topic, start, now, confirm=True)
        if self.fault.reorder:
            interval = BY_CODE[topic.split(".")[1]]
            await self._push(topic, start, now - 1, confirm=False)   # stale snapshot of a closed candle
            await self._push(topic, self.market.floor(interval, start - 1), now, confirm=True)

    async def _maybe_break(self) -> bool:
        fault = self.fault
        if fault.stall_after is not None and self.pushes >= fault.stall_after:
            self.stalled = True
        if fault.drop_after is not None and self.pushes >= fault.drop_after:
            if fault.close_code is not None:
                await self.ws.close(fault.close_code, "going away")
            else:
                self.ws.transport.abort()  # abrupt TCP drop, mid-candle
            return True
        return False


class FakeBybit:
    """REST and stream servers on 127.0.0.1 sharing one market; `async with FakeBybit(cfg) as f`."""

    def __init__(self, config: FakeConfig | None = None) -> None:
        self.config = config or FakeConfig(symbols={c: {"BTCUSDT": 0, "ETHUSDT": 0} for c in CATEGORIES})
        self.market = Market(self.config)
        self.rest = FakeRest(self.market)
        self.stream = FakeStream(self.market)
        self.rest_url = self.ws_url = ""

    async def __aenter__(self) -> FakeBybit:
        self._runner = web.AppRunner(self.rest.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.rest_url = f"http://127.0.0.1:{port}"
        self._ws_server = await serve(self.stream.handler, "127.0.0.1", 0,
                                      process_request=self.stream.process_request,
                                      ping_interval=None, compression=None)
        ws_port = next(iter(self._ws_server.sockets)).getsockname()[1]
        self.ws_url = f"ws://127.0.0.1:{ws_port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._ws_server.close()
        await self._ws_server.wait_closed()
        await self._runner.cleanup()

    def now_ms(self) -> int:
        return self.market.now_ms()

    def candle(self, symbol: str, interval: Interval, start: int) -> tuple[float, ...]:
        """The final (closed) candle as floats: open, high, low, close, volume (base coin)."""
        o, h, lo, c, v, _ = self.market.candle(symbol, interval, start)
        return (float(o), float(h), float(lo), float(c), float(v))

    def closed_starts(self, symbol: str, interval: Interval, first: int, last: int) -> list[int]:
        """Every candle the exchange has between first and last (inclusive), holes left out."""
        out, t = [], first
        while t <= last:
            if (symbol, t) not in self.config.holes:
                out.append(t)
            t = interval.next_start(t)
        return out
