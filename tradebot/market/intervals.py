"""Candle intervals as users write them (`1m`, `4h`, `1M`) mapped to Bybit's codes (PROTOCOL.md §2.1).

An interval is a timeframe of the one calendar (`timeframe.py`) with a name and a venue code, so a
Bybit candle and an `@ 4h` bucket start at the same instants by construction.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass

from ..errors import UsageError
from .timeframe import Timeframe, parse_timeframe


@dataclass(frozen=True)
class Interval:
    """One candle length: the user's name, Bybit's code, and its timeframe."""

    name: str
    code: str
    frame: Timeframe

    @property
    def ms(self) -> int | None:
        """The length in milliseconds (None for a month, whose length varies)."""
        return self.frame.ms

    @property
    def polars_every(self) -> str:
        """The same length in Polars' duration language (`1mo` for a month)."""
        return f"{self.frame.count}mo" if self.frame.unit == "M" else self.frame.text

    def floor(self, t_ms: int) -> int:
        """Start of the candle containing `t_ms`."""
        return self.frame.bucket_start(t_ms)

    def next_start(self, start_ms: int) -> int:
        """Start of the candle after the one starting at `start_ms`."""
        return self.frame.bucket_end(start_ms)

    def count_between(self, first_ms: int, last_ms: int) -> int:
        """How many candle starts lie in [first_ms, last_ms] (both aligned)."""
        return self.frame.count_between(first_ms, last_ms)


def _interval(name: str, code: str) -> Interval:
    return Interval(name=name, code=code, frame=parse_timeframe(name))


# The registry: user spelling -> interval. Bybit codes from PROTOCOL.md §2.1.
INTERVALS: dict[str, Interval] = {
    i.name: i
    for i in (
        _interval("1m", "1"), _interval("3m", "3"), _interval("5m", "5"), _interval("15m", "15"),
        _interval("30m", "30"), _interval("1h", "60"), _interval("2h", "120"), _interval("4h", "240"),
        _interval("6h", "360"), _interval("12h", "720"), _interval("1d", "D"), _interval("1w", "W"),
        _interval("1M", "M"),
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
