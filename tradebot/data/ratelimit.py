"""Client-side pacing for Bybit: a token bucket, a shared pause, and exponential backoff with jitter.

Why each piece exists (PROTOCOL.md §5):
- the IP limit is 600 requests per 5 s and going over it earns a ~10 minute HTTP 403 ban, so we
  pace ourselves well below it (default 10 requests/s, as ccxt does) with a token bucket;
- a 403 or a 10006 with a reset time applies to every request from this process, not just the one
  that saw it, so the limiter has one shared `pause_until` all requests wait behind;
- retries back off exponentially with "equal jitter" (half fixed, half random) so concurrent
  workers that failed together do not retry together.
"""
from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field


class RateLimiter:
    """Token bucket of `rate` requests per second with bursts up to `burst`, plus a global pause.

    Times use the monotonic clock; `pause_for` converts a wall-clock deadline into it.
    """

    def __init__(self, *, rate: float, burst: int = 1) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.burst = max(1, burst)
        self._tokens = float(self.burst)
        self._stamp = time.monotonic()
        self._paused_until = 0.0
        self._lock = asyncio.Lock()

    def pause_for(self, seconds: float) -> None:
        """Hold every request (current waiters included) for at least `seconds` from now."""
        self._paused_until = max(self._paused_until, time.monotonic() + max(0.0, seconds))

    async def acquire(self) -> None:
        """Wait for the pause to end and for a token; requests are served first come first served."""
        async with self._lock:
            while True:
                now = time.monotonic()
                if now < self._paused_until:
                    await asyncio.sleep(self._paused_until - now)
                    continue
                self._refill(now)
                if self._tokens >= 1.0:
                    self._tokens -= 1.0
                    return
                await asyncio.sleep((1.0 - self._tokens) / self.rate)

    def _refill(self, now: float) -> None:
        self._tokens = min(float(self.burst), self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now


@dataclass(frozen=True)
class Backoff:
    """Delays for attempt 0, 1, 2, ...: base * 2**attempt capped at `cap`, with equal jitter."""

    base: float = 0.5
    cap: float = 30.0
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def delay(self, attempt: int) -> float:
        ceiling = min(self.cap, self.base * (2 ** attempt))
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)
