"""Helpers shared by the data tests: the fake in a background thread, fast client settings."""
from __future__ import annotations

import asyncio
import random
import threading
from typing import Any, Coroutine

from fake_bybit import CATEGORIES, FakeBybit, FakeConfig

from tradebot.data.bybit import RestSettings
from tradebot.data.intervals import INTERVALS
from tradebot.data.ratelimit import Backoff

HOUR = 3_600_000
# A fixed virtual "now" keeps REST tests deterministic: 2024-03-01T00:30:00Z (mid-candle).
NOW_MS = 1_709_253_000_000
H1 = INTERVALS["1h"]
M1 = INTERVALS["1m"]


class FakeThread:
    """Runs FakeBybit on its own event loop, so sync code (the CLI) and asyncio.run both reach it."""

    def __init__(self, config: FakeConfig) -> None:
        self.loop = asyncio.new_event_loop()
        self.fake = FakeBybit(config)
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> FakeBybit:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.fake.__aenter__(), self.loop).result(10)
        return self.fake

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.fake.__aexit__(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


def market_config(**overrides: Any) -> FakeConfig:
    """BTCUSDT/ETHUSDT/SOLUSDT listed 2024-01-01 in every category; the clock frozen-ish just after
    NOW_MS (a candle boundary): the candles ending at NOW_MS are closed by more than the client's
    closing margin (backfill.CLOSE_MARGIN_MS), the one starting there is open."""
    listing = 1_704_067_200_000
    symbols = {c: {s: listing for s in ("BTCUSDT", "ETHUSDT", "SOLUSDT")} for c in CATEGORIES}
    base: dict[str, Any] = {"symbols": symbols, "start_ms": NOW_MS + 5_000, "speed": 1.0}
    base.update(overrides)
    return FakeConfig(**base)


def fast_rest(url: str, **overrides: Any) -> RestSettings:
    """Client settings with every wait shrunk to milliseconds and a seeded jitter."""
    base: dict[str, Any] = dict(base_url=url, timeout=2.0, rate=2000.0, burst=50, max_attempts=6,
                                ban_pause=0.25,
                                backoff=Backoff(base=0.005, cap=0.05, rng=random.Random(7)))
    base.update(overrides)
    return RestSettings(**base)


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(coro)

