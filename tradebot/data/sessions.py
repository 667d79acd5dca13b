"""Market closures: which gaps in a candle file are the market being shut, not missing data.

Bybit trades around the clock, so every gap in its data is missing data. FX and exchange-traded
markets close at weekends, and their week is set in New York: FX closes on Friday at 17:00 New York
time and reopens on Sunday at 17:00 (21:00 or 22:00 UTC depending on US daylight saving time).

The rule (docs/data.md, "Weekend closures"):

- A *trading day* ends at 17:00 New York time: 17:00 on Friday is 00:00 of trading day Saturday.
  New York time, not a fixed UTC hour, is what keeps the rule exact across both DST switches.
- Closed trading days: Saturday, Sunday, and the two fixed-date holidays every FX venue and
  exchange observes, 25 December and 1 January (so a weekend running into Christmas Monday is one
  closure, while a weekend plus some ordinary Monday hours is not; 25 December on a Wednesday is a
  closure of its own).
- A gap is a closure when every missing candle *starts* in a closed trading day. Judging by the
  start is what makes coarse candles work too: a missing Saturday 00:00 UTC daily candle starts on
  Friday 19:00/20:00 New York time, inside trading day Saturday.
"""
from __future__ import annotations

import datetime as dt
from typing import Literal, Sequence

import polars as pl

NEW_YORK = "America/New_York"
# 17:00 in New York is 00:00 of the next trading day: shift wall-clock times by 7 hours.
DAY_ROLL = dt.timedelta(hours=7)
HOLIDAYS = ((12, 25), (1, 1))

ClosureKind = Literal["weekend", "holiday"]


def trading_days(starts_ms: Sequence[int]) -> list[dt.date]:
    """The trading day each candle start (ms, UTC) falls in: its New York date, rolled at 17:00."""
    stamps = pl.Series(starts_ms, dtype=pl.Int64).cast(pl.Datetime("ms", "UTC"))
    # Polars carries its own time-zone database, so this is the same on Windows.
    wall_clock = stamps.dt.convert_time_zone(NEW_YORK).dt.replace_time_zone(None)
    return (wall_clock + DAY_ROLL).dt.date().to_list()


def is_holiday(day: dt.date) -> bool:
    return (day.month, day.day) in HOLIDAYS


def is_closed(day: dt.date) -> bool:
    return day.weekday() >= 5 or is_holiday(day)


def closure_kind(first_day: dt.date, last_day: dt.date) -> ClosureKind | None:
    """'weekend' or 'holiday' (one that includes 25 Dec or 1 Jan) when every trading day from
    `first_day` to `last_day` is closed; None when the span reaches into an open day."""
    days = []
    for k in range((last_day - first_day).days + 1):
        day = first_day + dt.timedelta(days=k)
        if not is_closed(day):
            return None  # stops at the first open day, so a gap of months costs a few steps
        days.append(day)
    return "holiday" if any(is_holiday(day) for day in days) else "weekend"


def closure_kinds(spans: Sequence[tuple[int, int]]) -> list[ClosureKind | None]:
    """For each (first, last) missing candle start, ms UTC: the closure it lies in, or None."""
    if not spans:
        return []
    days = trading_days([first for first, _ in spans] + [last for _, last in spans])
    return [closure_kind(a, b) for a, b in zip(days[:len(spans)], days[len(spans):])]
