"""The one calendar: how time is cut into bars, for the language's `@ 4h` and the data's candles.

Buckets are aligned to the UTC epoch: `Nm`/`Nh`/`Nd` buckets start at multiples of their length
since 1970-01-01 00:00 UTC (4h: 00:00, 04:00, ...; 1d: 00:00 UTC); `Nw` at multiples of N weeks
from Monday 1970-01-05 (1w: Monday 00:00 UTC); `NM` at multiples of N calendar months from
January 1970 (3M: January, April, July, October). Bybit's candles follow the same rule
(PROTOCOL.md §2.1: epoch multiples [INF]; its week and month anchors are [UNK] there, so we assume
the usual Monday 00:00 UTC and the 1st of the month 00:00 UTC, here and nowhere else).

Times are integer milliseconds since the Unix epoch, UTC: what Bybit sends, and what makes window
arithmetic exact.
"""
from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

import numpy as np
import polars as pl

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
WEEK_MS = 7 * DAY_MS
# 1970-01-01 was a Thursday; the first Monday 00:00 UTC after the epoch is 4 days later.
WEEK_ANCHOR_MS = 4 * DAY_MS
UNIT_MS = {"m": MINUTE_MS, "h": HOUR_MS, "d": DAY_MS, "w": WEEK_MS}
UNIT_NAMES = {"m": "minute", "h": "hour", "d": "day", "w": "week", "M": "month"}
_TEXT = re.compile(r"(\d+)(m|h|d|w|M)")


@dataclass(frozen=True)
class Timeframe:
    """`count` units of m (minutes), h, d, w (weeks) or M (calendar months)."""

    count: int
    unit: str

    @property
    def text(self) -> str:
        return f"{self.count}{self.unit}"

    @property
    def ms(self) -> int | None:
        """The length in milliseconds (None for months, whose length varies)."""
        return None if self.unit == "M" else self.count * UNIT_MS[self.unit]

    @property
    def anchor_ms(self) -> int:
        return WEEK_ANCHOR_MS if self.unit == "w" else 0

    def describe(self) -> str:
        name = UNIT_NAMES[self.unit]
        return f"{self.count} {name}{'s' if self.count != 1 else ''}"

    # -- compatibility
    def is_multiple_of(self, other: Timeframe) -> bool:
        """Whether each of this timeframe's buckets is a union of `other`'s buckets."""
        if self.unit == "M":
            return (self.count % other.count == 0) if other.unit == "M" else DAY_MS % other.ms == 0
        if other.unit == "M":
            return False
        return self.ms % other.ms == 0 and (self.anchor_ms - other.anchor_ms) % other.ms == 0

    def fits_interval(self, interval_ms: int) -> bool:
        """Whether bars `interval_ms` long can be grouped into this timeframe's buckets."""
        if self.unit == "M":
            return DAY_MS % interval_ms == 0
        return self.ms >= interval_ms and self.ms % interval_ms == 0

    # -- buckets, one timestamp at a time (the reference evaluator, the data layer)
    def bucket_start(self, t_ms: int) -> int:
        """Start of the bucket containing `t_ms`."""
        if self.unit != "M":
            return (t_ms - self.anchor_ms) // self.ms * self.ms + self.anchor_ms
        return _month_start_ms(month_index(t_ms) // self.count * self.count)

    def bucket_end(self, start_ms: int) -> int:
        """End of the bucket starting at `start_ms`: the start of the next one."""
        if self.unit != "M":
            return start_ms + self.ms
        return _month_start_ms(month_index(start_ms) + self.count)

    def count_between(self, first_ms: int, last_ms: int) -> int:
        """How many bucket starts lie in [first_ms, last_ms] (both bucket starts)."""
        if last_ms < first_ms:
            return 0
        if self.unit != "M":
            return (last_ms - first_ms) // self.ms + 1
        return (month_index(last_ms) - month_index(first_ms)) // self.count + 1

    # -- buckets as Polars expressions (the compiler)
    def start_expr(self, t_ms: pl.Expr) -> pl.Expr:
        if self.unit != "M":
            return (t_ms - self.anchor_ms) // self.ms * self.ms + self.anchor_ms
        return _month_start_expr(_month_index_expr(t_ms) // self.count * self.count)

    def end_expr(self, start_ms: pl.Expr) -> pl.Expr:
        if self.unit != "M":
            return start_ms + self.ms
        return _month_start_expr(_month_index_expr(start_ms) + self.count)


def parse_timeframe(text: str) -> Timeframe:
    """`4h` -> Timeframe(4, "h"); ValueError with a readable message otherwise."""
    match = _TEXT.fullmatch(text)
    if match is None:
        raise ValueError(f"`{text}` is not a timeframe; write a count and a unit: 15m, 4h, 1d, 1w, 1M")
    count = int(match.group(1))
    if count == 0:
        raise ValueError(f"the timeframe `{text}` is empty; use a count of at least 1")
    return Timeframe(count, match.group(2))


def month_index(t_ms: int) -> int:
    """Calendar months from January 1970 to the month containing `t_ms` (UTC)."""
    moment = dt.datetime.fromtimestamp(t_ms / 1000, tz=dt.timezone.utc)
    return (moment.year - 1970) * 12 + moment.month - 1


def _month_start_ms(index: int) -> int:
    year, month = divmod(index, 12)
    return calendar.timegm((1970 + year, month + 1, 1, 0, 0, 0)) * 1000


def _month_index_expr(t_ms: pl.Expr) -> pl.Expr:
    stamp = pl.from_epoch(t_ms, time_unit="ms")
    return (stamp.dt.year().cast(pl.Int64) - 1970) * 12 + stamp.dt.month().cast(pl.Int64) - 1


def _month_start_expr(index: pl.Expr) -> pl.Expr:
    year, month = index // 12 + 1970, index % 12 + 1
    return pl.datetime(year, month, 1, time_zone="UTC").dt.epoch("ms")


def infer_interval_ms(timestamps_ms: np.ndarray) -> int | None:
    """The data's interval: the smallest positive step between consecutive bars (None for fewer
    than two distinct timestamps).

    The one rule for every layer. Gaps only make steps longer, so they never change it. And it is
    the safe rule for `@`: a bar is taken to close `interval` after it opens, and with the smallest
    step that is never after the next bar opens, so a higher bar is never shown before its last
    base bar has closed (the most common step would do that wherever the bars are denser)."""
    steps = np.diff(np.asarray(timestamps_ms, dtype=np.int64))
    steps = steps[steps > 0]
    return int(steps.min()) if len(steps) else None
