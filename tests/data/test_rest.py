"""REST client and backfill against the fake: pagination, open candle, retries per error code."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from bybit_testkit import H1, HOUR, M1, NOW_MS, fast_rest, run
from fake_bybit import FakeBybit
from tradebot.data.backfill import backfill, fetch_closed
from tradebot.config import Config
from tradebot.data.bybit import RESET_HEADER, BybitRest, ExchangeRejected, UnknownSymbol
from tradebot.data.integrity import check_file
from tradebot.data.settings import load_settings
from tradebot.data.store import CandleStore, SeriesKey
from tradebot.errors import NetworkError

BTC_M1 = SeriesKey("linear", "BTCUSDT", M1)
MINUTE = 60_000
LAST_CLOSED = NOW_MS - MINUTE  # NOW_MS is a minute boundary: the candle starting there is open
START = NOW_MS - 2500 * MINUTE


async def closed(fake: FakeBybit, key: SeriesKey = BTC_M1, **kw: Any) -> tuple[Any, int]:
    async with BybitRest(fast_rest(fake.rest_url, **kw)) as rest:
        frame = await fetch_closed(rest, key, start=START)
        return frame, rest.requests


def expected_rows(fake: FakeBybit, key: SeriesKey, first: int, last: int) -> list[tuple]:
    return [(t, *fake.candle(key.symbol, key.interval, t))
            for t in fake.closed_starts(key.symbol, key.interval, first, last)]


def as_rows(frame: Any) -> list[tuple]:
    return [(int(r[0].timestamp() * 1000), *r[1:]) for r in frame.iter_rows()]


def test_pagination_walks_end_back_and_drops_open_candle(fake: FakeBybit) -> None:
    frame, requests = run(closed(fake))
    assert as_rows(frame) == expected_rows(fake, BTC_M1, START, LAST_CLOSED)
    assert requests == 3  # 2500 closed candles + the open one: 1000 + 1000 + 501
    kline_calls = [q for p, q in fake.rest.requests if p.endswith("kline")]
    assert all(int(q["limit"]) <= 1000 for q in kline_calls)
    assert [int(q["end"]) for q in kline_calls[1:]] == sorted(
        (int(q["end"]) for q in kline_calls[1:]), reverse=True)


def test_short_pages_and_holes_do_not_lose_candles(fake: FakeBybit) -> None:
    fake.config.holes.update({("BTCUSDT", LAST_CLOSED - 5 * MINUTE),
                              ("BTCUSDT", LAST_CLOSED - 1500 * MINUTE)})
    fake.config.rest_faults.extend(["short", "short"])
    frame, _ = run(closed(fake))
    assert as_rows(frame) == expected_rows(fake, BTC_M1, START, LAST_CLOSED)


@pytest.mark.parametrize("faults", [
    ["10006"] * 4, ["429", "500", "502"], ["10016", "10000"], ["badjson"], ["slow:0.6"],
])
def test_retryable_faults_recover(fake: FakeBybit, faults: list[str]) -> None:
    fake.config.rest_faults.extend(faults)
    frame, requests = run(closed(fake, timeout=0.3))
    assert as_rows(frame) == expected_rows(fake, BTC_M1, START, LAST_CLOSED)
    assert requests == 3 + len(faults)


def test_10006_without_reset_header_backs_off(fake: FakeBybit) -> None:
    fake.config.reset_header = "never"
    fake.config.rest_faults.extend(["10006"] * 3)
    frame, requests = run(closed(fake))
    assert requests == 6 and frame.height == 2500


def test_403_pauses_every_request(fake: FakeBybit) -> None:
    fake.config.rest_faults.append("403")
    fake.config.ban_seconds = 0.1
    start = time.monotonic()
    frame, _ = run(closed(fake, ban_pause=0.3))
    assert time.monotonic() - start >= 0.3  # waited out the ban before trying again
    assert frame.height == 2500


def test_exhausted_retries_raise_network_error(fake: FakeBybit) -> None:
    fake.config.rest_faults.extend(["500"] * 10)
    with pytest.raises(NetworkError, match="HTTP 500"):
        run(closed(fake, max_attempts=3))


def test_unreachable_endpoint_is_network_error() -> None:
    async def go() -> None:
        async with BybitRest(fast_rest("http://127.0.0.1:9", max_attempts=2)) as rest:
            await rest.server_time()

    with pytest.raises(NetworkError, match="network error"):
        run(go())


def test_unknown_symbol_and_bad_params(fake: FakeBybit) -> None:
    with pytest.raises(UnknownSymbol, match="NOPEUSDT"):
        run(closed(fake, key=SeriesKey("linear", "NOPEUSDT", H1)))
    fake.config.limit_out_of_range = "reject"

    async def bad_limit() -> None:
        async with BybitRest(fast_rest(fake.rest_url)) as rest:
            await rest.kline("linear", "BTCUSDT", H1, limit=5000)

    with pytest.raises(ExchangeRejected, match="10001"):
        run(bad_limit())


def test_ip_window_limit_leads_to_ban_and_recovery(make_fake: Any) -> None:
    fake = make_fake(ip_limit=(5, 1.0), ban_seconds=0.1)
    frame, _ = run(closed(fake, ban_pause=0.15, rate=4000.0))
    assert frame.height == 2500


def test_backfill_is_incremental_and_concurrent(fake: FakeBybit, tmp_path: Path) -> None:
    store = CandleStore(tmp_path)
    keys = [SeriesKey("linear", s, M1) for s in ("BTCUSDT", "ETHUSDT", "SOLUSDT")]

    async def go(since_minutes: int) -> list[Any]:
        async with BybitRest(fast_rest(fake.rest_url)) as rest:
            return await backfill(rest, store, keys, since=NOW_MS - since_minutes * 60_000,
                                  concurrency=4)

    first = run(go(3000))
    assert [r.added for r in first] == [3000] * 3
    before = len(fake.rest.requests)
    again = run(go(3000))
    assert [r.added for r in again] == [0] * 3
    assert len(fake.rest.requests) - before <= 1 + 3  # server time + one tail probe per symbol
    older = run(go(4000))
    assert [r.added for r in older] == [1000] * 3
    for key in keys:
        frame = store.read(key)
        assert as_rows(frame) == expected_rows(fake, key, NOW_MS // 60_000 * 60_000 - 4000 * 60_000,
                                               NOW_MS // 60_000 * 60_000 - 60_000)
        assert check_file(store.path(key)).clean


def test_backfill_before_listing_starts_at_listing(make_fake: Any, tmp_path: Path) -> None:
    listing = NOW_MS - 50 * HOUR
    fake = make_fake(symbols={"spot": {"NEWUSDT": listing}})
    store = CandleStore(tmp_path)
    key = SeriesKey("spot", "NEWUSDT", H1)

    async def go() -> list[Any]:
        async with BybitRest(fast_rest(fake.rest_url)) as rest:
            return await backfill(rest, store, [key], since=NOW_MS - 5000 * HOUR)

    result = run(go())[0]
    # Listed at hh:30, so the first candle is the next full hour; the current hour is open.
    assert result.windows == 1 and result.added == 49


class _PagedClock:
    """A stub REST client whose clock moves on between pages (as a real exchange's does)."""

    def __init__(self, pages: list[Any]) -> None:
        self.pages = pages
        self.calls: list[dict[str, Any]] = []

    async def kline(self, category: str, symbol: str, interval: Any, **params: Any) -> Any:
        self.calls.append(params)
        return self.pages[len(self.calls) - 1]


def test_a_candle_open_when_read_is_not_passed_off_as_closed_by_a_later_page() -> None:
    """Regression (found by the stream's stall test under load): the newest page holds the open
    candle's partial values; by the time an older page is read, the exchange's clock has passed
    that candle's end. It must still be dropped: its values were read while it was open."""
    from tradebot.data.bybit import KlinePage
    from tradebot.data.store import SeriesKey

    t = [NOW_MS - 5 * 60_000 + i * 60_000 for i in range(5)]  # five 1m candles, the last one open
    row = lambda start, high: (start, 100.0, high, 99.0, 100.5, 10.0)  # noqa: E731
    newest = KlinePage(rows=tuple(row(s, 101.0) for s in t[2:]), server_ms=t[4] + 30_000)
    older = KlinePage(rows=tuple(row(s, 101.0) for s in t[:3]), server_ms=t[4] + 90_000)
    rest = _PagedClock([newest, older])
    frame = run(fetch_closed(rest, SeriesKey("linear", "BTCUSDT", M1), start=t[0]))
    starts = [int(ts.timestamp() * 1000) for ts in frame["timestamp"].to_list()]
    assert starts == t[:4]  # t[4] was open when read: not delivered, however late the last page
    assert len(rest.calls) == 2


def test_a_candle_that_ended_within_the_margin_waits_for_the_next_read() -> None:
    """A response stamped 0.5 s after a candle's end may have read it a moment before it closed:
    it is not delivered yet (backfill.CLOSE_MARGIN_MS); 1 s after, it is."""
    from tradebot.data.backfill import CLOSE_MARGIN_MS
    from tradebot.data.bybit import KlinePage
    from tradebot.data.store import SeriesKey

    t = [NOW_MS - 3 * 60_000 + i * 60_000 for i in range(4)]
    rows = tuple((s, 100.0, 101.0, 99.0, 100.5, 10.0) for s in t)
    key = SeriesKey("linear", "BTCUSDT", M1)
    early = run(fetch_closed(_PagedClock([KlinePage(rows, t[3] + CLOSE_MARGIN_MS // 2)]), key, start=t[0]))
    late = run(fetch_closed(_PagedClock([KlinePage(rows, t[3] + CLOSE_MARGIN_MS)]), key, start=t[0]))
    assert early.height == 2 and late.height == 3


def test_backfill_fills_holes_inside_the_store(fake: FakeBybit, tmp_path: Path) -> None:
    store = CandleStore(tmp_path)
    key = SeriesKey("linear", "BTCUSDT", M1)
    first = NOW_MS - 600 * MINUTE

    async def go(since: int) -> Any:
        async with BybitRest(fast_rest(fake.rest_url)) as rest:
            return (await backfill(rest, store, [key], since=since))[0]

    run(go(first))
    whole = store.read(key)
    holed = whole.filter(~whole["timestamp"].dt.epoch("ms").is_between(first + 100 * MINUTE,
                                                                       first + 130 * MINUTE))
    lone = first + 400 * MINUTE
    holed = holed.filter(holed["timestamp"].dt.epoch("ms") != lone)
    store.replace(key, holed)  # as if a crash or a lost stream message left two holes
    assert len(check_file(store.path(key)).gaps) == 2

    assert run(go(first + 200 * MINUTE)).added == 1  # only the hole inside the asked range
    assert run(go(first)).added == 31
    assert store.read(key).equals(whole) and check_file(store.path(key)).clean


def test_configured_retry_and_reconnect_delays_are_each_clients_one_backoff() -> None:
    settings = load_settings(Config(tables={"bybit": {"retry_base": 0.25, "retry_cap": 4.0,
                                                      "reconnect_base": 0.125, "reconnect_cap": 2.0}}))
    assert (settings.rest.backoff.base, settings.rest.backoff.cap) == (0.25, 4.0)
    assert (settings.stream.reconnect.base, settings.stream.reconnect.cap) == (0.125, 2.0)
    assert all(settings.rest.backoff.delay(n) <= 4.0 for n in range(12))
    # The same cap bounds a 10006 reset wait: an hour away is waited 4 s, then asked again.
    rest = BybitRest(settings.rest)
    assert rest._reset_wait({RESET_HEADER: str(int(time.time() * 1000) + 3_600_000)}) == 4.0
