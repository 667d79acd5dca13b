"""The one calendar: the data's candles and the language's buckets are the same instants, and the
data's interval is inferred by one rule."""
from __future__ import annotations

import datetime as dt

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from tradebot.market.intervals import INTERVALS
from tradebot.market.timeframe import DAY_MS, WEEK_ANCHOR_MS, infer_interval_ms, parse_timeframe

UTC = dt.timezone.utc
MS = st.integers(0, 4_102_444_800_000)  # 1970 .. 2100


def ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


def test_the_week_starts_on_monday_and_the_month_on_the_first() -> None:
    assert dt.datetime.fromtimestamp(WEEK_ANCHOR_MS / 1000, tz=UTC).strftime("%A %H:%M") == "Monday 00:00"
    assert DAY_MS == 24 * 3600 * 1000
    t = ms(dt.datetime(2024, 2, 29, 17, 3, tzinfo=UTC))
    assert INTERVALS["1w"].floor(t) == ms(dt.datetime(2024, 2, 26, tzinfo=UTC))
    assert INTERVALS["1M"].floor(t) == ms(dt.datetime(2024, 2, 1, tzinfo=UTC))
    assert INTERVALS["1M"].next_start(ms(dt.datetime(2024, 12, 1, tzinfo=UTC))) == ms(dt.datetime(2025, 1, 1, tzinfo=UTC))


@given(t=MS, name=st.sampled_from(sorted(INTERVALS)))
def test_a_candle_contains_its_time_and_the_next_one_follows_it(t: int, name: str) -> None:
    interval = INTERVALS[name]
    start = interval.floor(t)
    end = interval.next_start(start)
    assert start <= t < end
    assert interval.floor(end) == end and interval.floor(end - 1) == start


@given(first=MS, steps=st.integers(0, 40), name=st.sampled_from(sorted(INTERVALS)))
def test_count_between_counts_the_starts_one_by_one(first: int, steps: int, name: str) -> None:
    interval = INTERVALS[name]
    start = last = interval.floor(first)
    for _ in range(steps):
        last = interval.next_start(last)
    assert interval.count_between(start, last) == steps + 1
    assert interval.count_between(last, start) == (1 if steps == 0 else 0)


def test_every_interval_is_a_language_timeframe() -> None:
    for name, interval in INTERVALS.items():
        assert interval.frame == parse_timeframe(name)
        assert interval.polars_every == ("1mo" if name == "1M" else name)


def test_the_interval_is_the_smallest_step_even_when_longer_steps_are_more_common() -> None:
    """Bars 1h apart with one stretch of 30m bars: the interval is 30m, not the commoner 1h. With 1h,
    the 30m bar at 11:00 would be taken to close at 12:00 and show the 08:00-12:00 bar before
    the 11:30 bar inside it had happened."""
    hour = 3_600_000
    stamps = np.array([8 * hour, 9 * hour, 10 * hour, 11 * hour, 11 * hour + hour // 2, 12 * hour])
    assert infer_interval_ms(stamps) == hour // 2
    assert infer_interval_ms(np.array([0, 5, 10, 20, 25]) * 60_000) == 5 * 60_000  # gaps never matter
    assert infer_interval_ms(np.array([3, 3, 1])) is None  # no positive step
    assert infer_interval_ms(np.array([7])) is None
