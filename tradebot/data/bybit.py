"""Bybit V5 public REST over aiohttp: `/v5/market/kline` and `/v5/market/time`, with retries.

How each response is treated (PROTOCOL.md §5 and §8):

| response                               | action                                                   |
|----------------------------------------|----------------------------------------------------------|
| HTTP 403 (IP ban; body is not JSON)    | pause ALL requests `ban_pause` s, then retry (few times) |
| HTTP 429 / 5xx, network error, timeout | exponential backoff with jitter, retry                   |
| bad JSON in an HTTP 200                | backoff, retry                                           |
| retCode 10006 (rate limit)             | wait until X-Bapi-Limit-Reset-Timestamp if present and   |
|                                        | in the future (capped), else backoff; pause everyone     |
| retCode 10000, 10016 (server busy)     | backoff, retry                                           |
| retCode 10001 "Not supported symbols"  | UnknownSymbol (a UsageError), no retry                   |
| other retCode                          | ExchangeRejected (a UsageError), no retry                |

When attempts run out the caller gets a NetworkError (exit code 4) naming the last failure.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Mapping

import aiohttp
import polars as pl

from ..errors import NetworkError, UsageError
from ..market.bars import OHLCV_COLUMNS, TIMESTAMP_DTYPE
from .intervals import Interval
from .ratelimit import Backoff, RateLimiter

log = logging.getLogger("tradebot.data")

KLINE_PATH = "/v5/market/kline"
TIME_PATH = "/v5/market/time"
MAX_LIMIT = 1000
RETRY_CODES = frozenset({10000, 10006, 10016})
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
RESET_HEADER = "X-Bapi-Limit-Reset-Timestamp"


class UnknownSymbol(UsageError):
    """Bybit answered 10001 "Not supported symbols" for this category."""


class ExchangeRejected(UsageError):
    """Bybit refused the request with a non-retryable retCode (the message is Bybit's)."""


@dataclass(frozen=True)
class RestSettings:
    """Everything that shapes REST traffic; tests shrink the times."""

    base_url: str = "https://api.bybit.com"
    timeout: float = 10.0
    rate: float = 10.0
    burst: int = 5
    max_attempts: int = 6
    ban_pause: float = 600.0
    ban_attempts: int = 2
    backoff: Backoff = field(default_factory=Backoff)  # retry delays; its cap also bounds a 10006 wait


@dataclass(frozen=True)
class KlinePage:
    """One kline response: rows oldest first as (start_ms, o, h, l, c, volume), and server time."""

    rows: tuple[tuple[int, float, float, float, float, float], ...]
    server_ms: int


@dataclass(frozen=True)
class _Retry:
    """A retryable failure: why, and how long the whole client should wait (None = backoff)."""

    reason: str
    wait: float | None = None
    pause_all: bool = False
    is_ban: bool = False


def kline_rows(items: list[list[str]], *, category: str) -> tuple[tuple[int, float, float,
                                                                    float, float, float], ...]:
    """Bybit's newest-first string arrays -> oldest-first typed tuples.

    Volume is in the base coin: index 5 for spot/linear, but index 6 ("turnover") for inverse,
    where index 5 counts USD contracts (PROTOCOL.md §2.2; ccxt does the same).
    """
    vol = 6 if category == "inverse" else 5
    rows = [(int(r[0]), float(r[1]), float(r[2]), float(r[3]), float(r[4]), float(r[vol]))
            for r in items]
    rows.sort(key=lambda r: r[0])
    return tuple(rows)


def rows_to_frame(rows: tuple[tuple[int, float, float, float, float, float], ...]) -> pl.DataFrame:
    """Typed kline tuples -> the canonical OHLCV frame."""
    columns = list(zip(*rows)) if rows else [()] * len(OHLCV_COLUMNS)
    return pl.DataFrame({
        "timestamp": pl.Series(columns[0], dtype=pl.Int64).cast(TIMESTAMP_DTYPE),
        **{name: pl.Series(columns[i], dtype=pl.Float64)
           for i, name in enumerate(OHLCV_COLUMNS) if i},
    })


def _server_ms(body: Mapping[str, Any]) -> int:
    """The envelope's `time` (ms; sometimes a string), or our clock if it is missing."""
    raw = body.get("time")
    return int(raw) if raw not in (None, "") else int(time.time() * 1000)


def ret_code(body: Mapping[str, Any]) -> int:
    """retCode as an int; some captures carry it as a string (PROTOCOL.md §1)."""
    return int(body.get("retCode", -1))


class BybitRest:
    """An aiohttp session with pacing and retries; use as `async with BybitRest(settings) as rest`."""

    def __init__(self, settings: RestSettings, *, limiter: RateLimiter | None = None) -> None:
        self.settings = settings
        self.limiter = limiter or RateLimiter(rate=settings.rate, burst=settings.burst)
        self._session: aiohttp.ClientSession | None = None
        self.requests = 0

    async def __aenter__(self) -> BybitRest:
        timeout = aiohttp.ClientTimeout(total=self.settings.timeout)
        self._session = aiohttp.ClientSession(
            base_url=self.settings.base_url.rstrip("/") + "/", timeout=timeout,
            headers={"Accept": "application/json"})
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def kline(self, category: str, symbol: str, interval: Interval, *,
                    start: int | None = None, end: int | None = None,
                    limit: int = MAX_LIMIT) -> KlinePage:
        params = {"category": category, "symbol": symbol, "interval": interval.code,
                  "limit": str(limit)}
        if start is not None:
            params["start"] = str(start)
        if end is not None:
            params["end"] = str(end)
        body = await self.get(KLINE_PATH, params)
        items = (body.get("result") or {}).get("list") or []
        return KlinePage(rows=kline_rows(items, category=category), server_ms=_server_ms(body))

    async def server_time(self) -> int:
        return _server_ms(await self.get(TIME_PATH, {}))

    async def get(self, path: str, params: Mapping[str, str]) -> dict[str, Any]:
        """GET with pacing and retries; returns a retCode-0 body or raises a UserError."""
        attempts = bans = 0
        while True:
            await self.limiter.acquire()
            outcome = await self._attempt(path, params)
            if isinstance(outcome, dict):
                return outcome
            attempts, bans = attempts + (not outcome.is_ban), bans + outcome.is_ban
            if attempts >= self.settings.max_attempts or bans > self.settings.ban_attempts:
                raise NetworkError(f"Bybit {path} failed after {attempts + bans} attempts: "
                                   f"{outcome.reason} ({self.settings.base_url})")
            wait = outcome.wait if outcome.wait is not None else \
                self.settings.backoff.delay(attempts - 1)
            log.debug("retrying %s in %.2fs: %s", path, wait, outcome.reason)
            if outcome.pause_all:
                self.limiter.pause_for(wait)
            else:
                await asyncio.sleep(wait)

    async def _attempt(self, path: str, params: Mapping[str, str]) -> dict[str, Any] | _Retry:
        assert self._session is not None, "use BybitRest as an async context manager"
        self.requests += 1
        try:
            async with self._session.get(path.lstrip("/"), params=params) as response:
                return await self._judge(response, params)
        except (aiohttp.ClientError, asyncio.TimeoutError, ConnectionError) as exc:
            return _Retry(f"network error: {type(exc).__name__} {exc}".strip())

    async def _judge(self, response: aiohttp.ClientResponse,
                     params: Mapping[str, str]) -> dict[str, Any] | _Retry:
        if response.status == 403:
            # Not JSON (a CloudFront page), and it bans the whole IP: everyone waits.
            log.warning("Bybit answered HTTP 403 (IP rate limit or region block); pausing all "
                        "requests for %g s (config bybit.ban_pause)", self.settings.ban_pause)
            return _Retry("HTTP 403 (IP banned or region blocked)", wait=self.settings.ban_pause,
                          pause_all=True, is_ban=True)
        if response.status in RETRY_STATUSES:
            return _Retry(f"HTTP {response.status}")
        if response.status != 200:
            raise NetworkError(f"Bybit answered HTTP {response.status} for {response.url}")
        try:
            body = json.loads(await response.text())
            code = ret_code(body)
        except (ValueError, TypeError, AttributeError):
            return _Retry("response was not valid JSON")
        if code == 0:
            return body
        return self._judge_code(code, str(body.get("retMsg", "")), response.headers, params)

    def _judge_code(self, code: int, message: str, headers: Mapping[str, str],
                    params: Mapping[str, str]) -> _Retry:
        if code == 10006:
            return _Retry(f"retCode 10006 {message}", wait=self._reset_wait(headers),
                          pause_all=True)
        if code in RETRY_CODES:
            return _Retry(f"retCode {code} {message}")
        if code == 10001 and "not supported symbol" in message.lower():
            raise UnknownSymbol(f"Bybit does not list {params.get('symbol')} in category "
                                f"'{params.get('category')}' (retCode 10001: {message})")
        raise ExchangeRejected(f"Bybit rejected {dict(params)}: retCode {code}: {message}")

    def _reset_wait(self, headers: Mapping[str, str]) -> float | None:
        """Seconds until the limit resets per the header, capped; None (= back off) when the
        header is missing (public endpoints may omit it, pybit#340), unreadable or in the past."""
        try:
            wait = int(headers[RESET_HEADER]) / 1000 - time.time()
        except (KeyError, ValueError):
            return None
        return min(wait, self.settings.backoff.cap) if wait > 0 else None
