"""Candle intervals as users write them (`1m`, `4h`, `1M`) mapped to Bybit's codes, plus time parsing.

Times inside the data layer are integer milliseconds since the Unix epoch, UTC, because that is
what Bybit sends and what makes window arithmetic exact. Conversions to `datetime` happen at the
edges (CLI, frames).

Alignment follows PROTOCOL.md §2.1: candles start on UTC epoch multiples of their length [INF]; the
weekly and monthly anchors are [UNK] there, so we assume the usual Monday 00:00 UTC and the 1st of
the month 00:00 UTC and keep both in this one module.
"""
from __future__ import annotations

import datetime as dt
import difflib
import re
from dataclasses import dataclass

from ..errors import UsageError

MINUTE_MS = 60_000
DAY_MS = 86_400_000
WEEK_MS = 7 * DAY_MS
# 1970-01-01 was a Thursday; the first Monday 00:00 UTC after the epoch is 4 days later.
WEEK_ANCHOR_MS = 4 * DAY_MS
UTC = dt.timezone.utc


@dataclass(frozen=True)
class Interval:
    """One candle length: the user's name, Bybit's code, and its length (None for a month)."""

    name: str
    code: str
    ms: int | None
    polars_every: str

    def floor(self, t_ms: int) -> int:
        """Start of the candle containing `t_ms`."""
        if self.ms is None:
            day = to_datetime(t_ms)
            return to_ms(dt.datetime(day.year, day.month, 1, tzinfo=UTC))
        anchor = WEEK_ANCHOR_MS if self.ms == WEEK_MS else 0
        return (t_ms - anchor) // self.ms * self.ms + anchor

    def next_start(self, start_ms: int) -> int:
        """Start of the candle after the one starting at `start_ms`."""
        if self.ms is not None:
            return start_ms + self.ms
        day = to_datetime(start_ms)
        year, month = divmod(day.month, 12)  # month is 1..12, so this rolls December over
        return to_ms(dt.datetime(day.year + year, month + 1, 1, tzinfo=UTC))

    def count_between(self, first_ms: int, last_ms: int) -> int:
        """How many candle starts lie in [first_ms, last_ms] (both aligned)."""
        if last_ms < first_ms:
            return 0
        if self.ms is not None:
            return (last_ms - first_ms) // self.ms + 1
        a, b = to_datetime(first_ms), to_datetime(last_ms)
        return (b.year - a.year) * 12 + b.month - a.month + 1


def _fixed(name: str, code: str, minutes: int, every: str) -> Interval:
    return Interval(name=name, code=code, ms=minutes * MINUTE_MS, polars_every=every)


# The registry: user spelling -> interval. Bybit codes from PROTOCOL.md §2.1.
INTERVALS: dict[str, Interval] = {
    i.name: i
    for i in (
        _fixed("1m", "1", 1, "1m"), _fixed("3m", "3", 3, "3m"), _fixed("5m", "5", 5, "5m"),
        _fixed("15m", "15", 15, "15m"), _fixed("30m", "30", 30, "30m"),
        _fixed("1h", "60", 60, "1h"), _fixed("2h", "120", 120, "2h"), _fixed("4h", "240", 240, "4h"),
        _fixed("6h", "360", 360, "6h"), _fixed("12h", "720", 720, "12h"),
        _fixed("1d", "D", 1440, "1d"), _fixed("1w", "W", 7 * 1440, "1w"),
        Interval(name="1M", code="M", ms=None, polars_every="1mo"),
    )
}
BY_CODE: dict[str, Interval] = {i.code: i for i in INTERVALS.values()}
_ALIASES = {"1D": "1d", "1W": "1w", "1mo": "1M", "1mon": "1M", "1month": "1M"}


def parse_interval(text: str) -> Interval:
    """`1m`..`1M` (case matters only for m/M: minute vs month). Raises UsageError with a suggestion."""
    name = _ALIASES.get(text, text)
    if name in INTERVALS:
        return INTERVALS[name]
    close = difflib.get_close_matches(text, list(INTERVALS), n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    raise UsageError(f"unknown interval '{text}': {hint}choose one of {', '.join(INTERVALS)}")


def to_ms(moment: dt.datetime) -> int:
    """Milliseconds since the epoch; a naive datetime is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def to_datetime(t_ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(t_ms / 1000, tz=UTC)


def format_ms(t_ms: int) -> str:
    """The store's timestamp spelling, e.g. `2024-01-01T00:00:00Z`."""
    return to_datetime(t_ms).strftime("%Y-%m-%dT%H:%M:%SZ")


_RELATIVE = re.compile(r"^(\d+)\s*(m|h|d|w)$")
_RELATIVE_MS = {"m": MINUTE_MS, "h": 60 * MINUTE_MS, "d": DAY_MS, "w": WEEK_MS}


def parse_time(text: str, *, now_ms: int, flag: str = "--since") -> int:
    """`2024-01-01`, an ISO-8601 time (naive = UTC), epoch ms, or relative `90d`/`12h`/`30m`/`2w` ago."""
    text = text.strip()
    relative = _RELATIVE.match(text)
    if relative:
        return now_ms - int(relative.group(1)) * _RELATIVE_MS[relative.group(2)]
    if text.isdigit() and len(text) >= 11:
        return int(text)
    try:
        return to_ms(dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00")))
    except ValueError:
        raise UsageError(
            f"{flag}: cannot read '{text}' as a time; use a date (2024-01-01), an ISO-8601 time "
            f"(2024-01-01T12:00:00Z) or a relative age (90d, 12h, 30m, 2w)"
        ) from None
