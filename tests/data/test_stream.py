"""The stream manager against the fake on a fast clock (1 minute = 0.1 s): every fault ends with
each confirmed candle delivered exactly once, in order, with the exchange's final values."""
from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from bybit_testkit import M1, NOW_MS, fast_rest, run
from fake_bybit import FakeBybit, WsFault
from tradebot.data.bybit import BybitRest
from tradebot.data.ratelimit import Backoff
from tradebot.data.stream import CandleEvent, StreamManager, StreamSettings
from tradebot.errors import NetworkError, UsageError

SPEED = 600.0  # virtual ms per real ms: a 1m candle closes every 0.1 s
MINUTE = 60_000


def settings(fake: FakeBybit) -> StreamSettings:
    return StreamSettings(ws_url=fake.ws_url, ping_interval=0.05, dead_after=0.3, ack_timeout=1.0,
                          open_timeout=1.0, reconnect=Backoff(base=0.02, cap=0.1))


async def collect(fake: FakeBybit, *, seconds: float, symbols: tuple[str, ...] = ("BTCUSDT",),
                  since_ms: int | None = None, category: str = "linear", until: Any = None,
                  ) -> tuple[dict[str, list[CandleEvent]], int, list[CandleEvent]]:
    """Collect events for `seconds`, or — when `until(got, connects)` is given — until it holds,
    with `seconds` as a cap: a loaded CI machine stretches the timeline, so tests that need an
    outcome (a reconnect, enough candles) wait for it instead of for a fixed time."""
    async with BybitRest(fast_rest(fake.rest_url)) as rest, \
            StreamManager(settings(fake), rest) as manager:
        subs = [await manager.subscribe(category, s, M1, since_ms=since_ms) for s in symbols]
        live = await manager.subscribe(category, symbols[0], M1)  # a second consumer
        got: dict[str, list[CandleEvent]] = {s: [] for s in symbols}
        unconfirmed: list[CandleEvent] = []
        deadline = time.monotonic() + seconds

        def finished() -> bool:
            if time.monotonic() >= deadline:
                return True
            return until is not None and until(got, manager.connects)

        async def drain(sub: Any, out: list[CandleEvent]) -> None:
            while not finished():
                try:
                    event = await sub.get(0.05)
                except asyncio.TimeoutError:
                    continue
                (out if event.confirmed else unconfirmed).append(event)

        await asyncio.gather(*(drain(s, got[s.symbol]) for s in subs), drain(live, []))
        return got, manager.connects, unconfirmed


def assert_exact(fake: FakeBybit, events: list[CandleEvent], *, first: int | None = None) -> None:
    starts = [e.start_ms for e in events]
    assert len(starts) >= 5
    assert starts == list(range(starts[0], starts[-1] + 1, MINUTE)), "gap, duplicate or disorder"
    if first is not None:
        assert starts[0] == first
    for event in events:
        assert event.row()[1:] == fake.candle(event.symbol, M1, event.start_ms), event


def test_plain_stream_with_catch_up_and_two_consumers(make_fake: Any) -> None:
    fake = make_fake(speed=SPEED)
    since = NOW_MS - 30 * MINUTE
    got, connects, unconfirmed = run(collect(fake, seconds=1.5, symbols=("BTCUSDT", "ETHUSDT"),
                                             since_ms=since))
    for events in got.values():
        assert_exact(fake, events, first=since)
        assert {e.source for e in events} == {"rest", "stream"}
    assert connects == 1
    assert unconfirmed and all(not e.confirmed for e in unconfirmed)


@pytest.mark.parametrize("fault", [
    WsFault(drop_after=6),                           # TCP dropped mid-candle
    WsFault(drop_after=6, close_code=1001),          # clean close "going away"
    WsFault(stall_after=4),                          # silent: no pushes, no pongs
    WsFault(duplicate_confirms=True, reorder=True),  # repeated and stale messages
    WsFault(skip_confirms=3),                        # lost pushes: a gap to refill
], ids=["drop", "close1001", "stall", "dup-reorder", "skip"])
def test_faults_lose_nothing(make_fake: Any, fault: WsFault) -> None:
    fake = make_fake(speed=SPEED)
    fake.config.ws_faults.append(fault)
    reconnects = bool(fault.drop_after or fault.stall_after)

    def enough(got: dict[str, list[CandleEvent]], connects: int) -> bool:
        # well past the fault: it struck after at most 6 messages, and a reconnect was needed
        return len(got["BTCUSDT"]) >= 12 and (connects >= 2 or not reconnects)

    got, connects, _ = run(collect(fake, seconds=20.0, until=enough))
    assert_exact(fake, got["BTCUSDT"])
    if reconnects:
        assert connects >= 2


def test_refused_handshakes_then_connect(make_fake: Any) -> None:
    fake = make_fake(speed=SPEED, refuse_handshakes=2)
    got, connects, _ = run(collect(fake, seconds=1.2))
    assert_exact(fake, got["BTCUSDT"])


def test_subscribe_batches_of_ten_on_spot(make_fake: Any) -> None:
    names = [f"C{i:02d}USDT" for i in range(23)]
    fake = make_fake(speed=SPEED, symbols={"spot": {n: 0 for n in names}})

    async def go() -> None:
        async with BybitRest(fast_rest(fake.rest_url)) as rest, \
                StreamManager(settings(fake), rest) as manager:
            await asyncio.gather(*(manager.subscribe("spot", n, M1) for n in names))
            fake.config.ws_faults.append(WsFault(drop_after=2))
            await asyncio.sleep(0.1)

    run(go())
    batches = [m["args"] for m in fake.stream.received if m.get("op") == "subscribe"]
    assert all(len(b) <= 10 for b in batches)
    assert sorted(t for b in batches for t in b) == sorted(f"kline.1.{n}" for n in names)


def test_unknown_symbol_is_refused(make_fake: Any) -> None:
    fake = make_fake(speed=SPEED)

    async def go() -> None:
        async with BybitRest(fast_rest(fake.rest_url)) as rest, \
                StreamManager(settings(fake), rest) as manager:
            ok = await manager.subscribe("linear", "BTCUSDT", M1)
            with pytest.raises(UsageError, match="Invalid symbol"):
                await manager.subscribe("linear", "NOPEUSDT", M1)
            assert (await ok.get(1.0)).symbol == "BTCUSDT"  # the connection stayed usable

    run(go())


def test_unreachable_stream_is_network_error(fake: FakeBybit) -> None:
    async def go() -> None:
        stream = StreamSettings(ws_url="ws://127.0.0.1:9", open_timeout=0.2, ack_timeout=0.2,
                                reconnect=Backoff(base=0.01, cap=0.02))
        async with BybitRest(fast_rest(fake.rest_url)) as rest, StreamManager(stream, rest) as m:
            await m.subscribe("linear", "BTCUSDT", M1)

    with pytest.raises(NetworkError, match="cannot reach"):
        run(go())
