"""Multi-timeframe `expr @ tf`: hand-computed alignments (partial first and last higher bars, gaps
in the data, weeks and months), no repainting (prefix invariance), the compiler against the naive
reference, and the errors (a timeframe the data cannot make, a record, a nested smaller one)."""
from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tradebot.lang import reference
from tradebot.lang.diagnostics import ScriptDiagnostics
from tradebot.lang.timeframes import TimeframeError
from tradebot.market.timeframe import Timeframe, parse_timeframe
from tradebot.pipeline import compile_source

UTC = dt.timezone.utc
HOUR = dt.timedelta(hours=1)
NAN = np.nan


def bars_at(times: list[dt.datetime], close: list[float] | None = None) -> pl.DataFrame:
    """Bars at the given times; close = 100, 101, ... unless given; high = close + 0.5,
    low = close - 0.5, open = close - 0.25, volume = 1, 2, 3, ..."""
    n = len(times)
    c = np.array(close if close is not None else [100.0 + i for i in range(n)])
    return pl.DataFrame({
        "timestamp": pl.Series(times).cast(pl.Datetime("ms", "UTC")),
        "open": c - 0.25, "high": c + 0.5, "low": c - 0.5, "close": c,
        "volume": np.arange(1.0, n + 1),
    })


def hourly(start_hour: int, count: int, *, skip: tuple[int, ...] = (), day: int = 1) -> list[dt.datetime]:
    start = dt.datetime(2024, 1, day, start_hour, tzinfo=UTC)
    return [start + i * HOUR for i in range(count) if i not in skip]


def series(script: str, bars: pl.DataFrame, *names: str, interval=None) -> dict[str, np.ndarray]:
    strategy = compile_source(script, "mtf.tbs", series=list(names))
    frame = strategy.plan.evaluate(bars, interval=interval)
    out = {}
    for name in names:
        compiled = frame[name].cast(pl.Float64).fill_null(NAN).to_numpy()
        expected = reference.evaluate(strategy.checked.series[name], bars_dict(bars),
                                      interval=None if interval is None else int(interval.total_seconds() * 1000))
        assert (np.isnan(compiled) == np.isnan(expected)).all(), f"{name}: missing values differ"
        np.testing.assert_allclose(compiled, expected, rtol=1e-9, err_msg=f"{name}: compiler vs reference")
        out[name] = compiled
    return out


def bars_dict(bars: pl.DataFrame) -> dict[str, np.ndarray]:
    return {c: bars[c].to_numpy() for c in bars.columns}


# ------------------------------------------------------------------ hand-computed alignments


def test_four_hour_bars_on_hourly_data_are_visible_from_their_last_hour() -> None:
    # 00:00 .. 11:00: buckets [00,04) [04,08) [08,12); each complete when its 03/07/11 bar closes.
    bars = bars_at(hourly(0, 12))
    got = series("c = close @ 4h\nh = high @ 4h\nl = low @ 4h\no = open @ 4h\nv = volume @ 4h\n"
                 "t = time @ 4h\n", bars, "c", "h", "l", "o", "v", "t")
    np.testing.assert_array_equal(got["c"], [NAN] * 3 + [103] * 4 + [107] * 4 + [111])
    np.testing.assert_array_equal(got["h"], [NAN] * 3 + [103.5] * 4 + [107.5] * 4 + [111.5])
    np.testing.assert_array_equal(got["l"], [NAN] * 3 + [99.5] * 4 + [103.5] * 4 + [107.5])
    np.testing.assert_array_equal(got["o"], [NAN] * 3 + [99.75] * 4 + [103.75] * 4 + [107.75])
    np.testing.assert_array_equal(got["v"], [NAN] * 3 + [10] * 4 + [26] * 4 + [42])
    midnight = dt.datetime(2024, 1, 1, tzinfo=UTC).timestamp() * 1000
    np.testing.assert_array_equal(got["t"], [NAN] * 3 + [midnight] * 4 + [midnight + 4 * 3.6e6] * 4
                                  + [midnight + 8 * 3.6e6])


def test_partial_first_bucket_gap_and_partial_last_bucket() -> None:
    # Bars 02:00 .. 15:00 without 07:00 and 08:00; 4h buckets:
    #   [00,04) 02, 03          -> the data starts inside it: dropped
    #   [04,08) 04, 05, 06      -> 07 missing: complete only once a bar at or after 08:00 closes: 09
    #   [08,12) 09, 10, 11      -> visible on 11
    #   [12,16) 12, 13, 14, 15  -> visible on 15 (the last bar)
    times = hourly(2, 14, skip=(5, 6))
    bars = bars_at(times)  # close by position: 02->100, 03->101, 04->102, 05->103, 06->104, 09->105 ...
    got = series("c = close @ 4h\nv = volume @ 4h\ns = sma(close, 2) @ 4h\n", bars, "c", "v", "s")
    np.testing.assert_array_equal(got["c"], [NAN] * 5 + [104, 104, 107, 107, 107, 107, 111])
    np.testing.assert_array_equal(got["v"], [NAN] * 5 + [12, 12, 21, 21, 21, 21, 42])  # 3+4+5, 6+7+8, 9..12
    np.testing.assert_array_equal(got["s"], [NAN] * 7 + [105.5] * 4 + [109])
    # Without its last bar the [12,16) bucket is still forming: never shown.
    np.testing.assert_array_equal(series("c = close @ 4h\n", bars.head(11), "c")["c"],
                                  [NAN] * 5 + [104, 104, 107, 107, 107, 107])


def test_same_timeframe_as_the_data_is_the_series_itself() -> None:
    bars = bars_at(hourly(0, 30))
    got = series("a = sma(close, 3) @ 1h\nb = sma(close, 3)\nc = (close > open) @ 1h\n", bars, "a", "b", "c")
    np.testing.assert_array_equal(got["a"], got["b"])
    np.testing.assert_array_equal(got["c"], np.ones(30))


def test_indicator_on_daily_bars_from_hourly_data() -> None:
    # Three full days, close rising by 1 per hour: the daily closes are 123, 147, 171.
    bars = bars_at(hourly(0, 72))
    got = series("d = close @ 1d\nm = sma(close, 2) @ 1d\n", bars, "d", "m")
    np.testing.assert_array_equal(got["d"], [NAN] * 23 + [123] * 24 + [147] * 24 + [171])
    np.testing.assert_array_equal(got["m"], [NAN] * 47 + [135] * 24 + [159])


def test_weeks_start_on_monday_and_months_on_the_first() -> None:
    # Daily bars from Wednesday 2024-01-03 to Sunday 2024-02-04.
    start = dt.datetime(2024, 1, 3, tzinfo=UTC)
    days = [start + dt.timedelta(days=i) for i in range(33)]
    bars = bars_at(days)
    week = series("w = close @ 1w\n", bars, "w")["w"]
    # Week of Jan 1 is partial (data starts on Wednesday): dropped. The week of Jan 8 (Mon) ends with
    # Sunday Jan 14 (index 11, close 111), visible from that day.
    assert np.isnan(week[:11]).all()
    assert week[11] == 111 and week[17] == 111 and week[18] == 118  # Sunday Jan 21 closes the next
    month = series("m = close @ 1M\n", bars, "m")["m"]
    assert np.isnan(month).all()  # January starts before the data: partial, dropped; February open
    full = bars_at([dt.datetime(2024, 1, 1, tzinfo=UTC) + dt.timedelta(days=i) for i in range(62)])
    month = series("m = close @ 1M\nq = close @ 2M\n", full, "m", "q")
    assert np.isnan(month["m"][:30]).all() and (month["m"][30:59] == 130).all()  # Jan 31 closes January
    assert month["m"][59] == 159  # Feb 29 (2024 is a leap year) closes February
    assert np.isnan(month["q"][:59]).all() and month["q"][59] == 159  # Jan-Feb


def test_nested_timeframes() -> None:
    bars = bars_at(hourly(0, 60))
    got = series("a = (close @ 1d) @ 4h\nb = close @ 1d\nc = (sma(close, 2) @ 1d > 110) @ 4h\n", bars,
                 "a", "b", "c")
    # The daily value reaches the 4h bars on the 20:00 bar (which closes at 24:00), and the hourly
    # bars when that 4h bar closes: the same bar as `close @ 1d` directly.
    np.testing.assert_array_equal(got["a"], got["b"])


def test_bucket_arithmetic() -> None:
    ms = lambda d: int(d.timestamp() * 1000)  # noqa: E731
    t = dt.datetime(2024, 3, 14, 15, 9, tzinfo=UTC)  # a Thursday
    assert parse_timeframe("4h").bucket_start(ms(t)) == ms(dt.datetime(2024, 3, 14, 12, tzinfo=UTC))
    assert parse_timeframe("1w").bucket_start(ms(t)) == ms(dt.datetime(2024, 3, 11, tzinfo=UTC))
    assert parse_timeframe("3M").bucket_start(ms(t)) == ms(dt.datetime(2024, 1, 1, tzinfo=UTC))
    assert parse_timeframe("3M").bucket_end(ms(dt.datetime(2024, 1, 1, tzinfo=UTC))) == \
        ms(dt.datetime(2024, 4, 1, tzinfo=UTC))
    assert parse_timeframe("1w").is_multiple_of(Timeframe(1, "d"))
    assert not parse_timeframe("1w").is_multiple_of(Timeframe(2, "d"))
    assert parse_timeframe("1M").is_multiple_of(Timeframe(4, "h"))
    assert not parse_timeframe("1M").is_multiple_of(Timeframe(1, "w"))


# ------------------------------------------------------------------ no repainting


@st.composite
def gappy_hourly_bars(draw) -> pl.DataFrame:
    n = draw(st.integers(2, 90))
    first = draw(st.integers(0, 23))
    steps = draw(st.lists(st.sampled_from([1, 1, 1, 1, 2, 3, 5]), min_size=n - 1, max_size=n - 1))
    hours = np.concatenate([[first], first + np.cumsum(steps)]).astype(int)
    start = dt.datetime(2024, 1, 1, tzinfo=UTC)
    moves = np.array(draw(st.lists(st.integers(-8, 8), min_size=n, max_size=n))) / 8
    return bars_at([start + int(h) * HOUR for h in hours], list(100 + np.cumsum(moves)))


EXPRESSIONS = ("close @ 4h", "rsi(close, 3) @ 4h", "ema(close, 2) @ 2h", "(close > sma(close, 2)) @ 3h",
               "atr(2) @ 1d", "macd(close, 2, 3, 2).hist @ 4h", "(close @ 1d) @ 4h",
               "highest(high, 2) @ 6h - close", "barssince(close > open) @ 4h")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bars=gappy_hourly_bars(), expression=st.sampled_from(EXPRESSIONS), data=st.data())
def test_values_never_change_when_bars_are_appended(bars: pl.DataFrame, expression: str, data) -> None:
    """With the data's interval fixed (1h, as a live feed knows it), a prefix of the bars gives
    the same values as the full data on the bars they share, however gappy the data."""
    plan = compile_source(f"x = {expression}\n", "p.tbs", series=["x"]).plan
    t = data.draw(st.integers(1, bars.height), label="t")
    full = plan.evaluate(bars, interval=HOUR)["x"].cast(pl.Float64).fill_null(NAN).to_numpy()
    prefix = plan.evaluate(bars.head(t), interval=HOUR)["x"].cast(pl.Float64).fill_null(NAN).to_numpy()
    np.testing.assert_array_equal(prefix, full[:t], err_msg=f"{expression} changed within the first {t} bars")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bars=gappy_hourly_bars(), expression=st.sampled_from(EXPRESSIONS))
def test_compiled_equals_reference_on_gappy_data(bars: pl.DataFrame, expression: str) -> None:
    series(f"x = {expression}\n", bars, "x", interval=HOUR)


# ------------------------------------------------------------------ errors


@pytest.mark.parametrize("script, message", [
    ("x = close @ 30m\n", "smaller than"),
    ("x = close @ 90m\n", "not a multiple of"),
])
def test_a_timeframe_the_data_cannot_make_is_an_error(script: str, message: str) -> None:
    plan = compile_source(script, "tf.tbs", series=["x"]).plan
    with pytest.raises(TimeframeError) as err:
        plan.evaluate(bars_at(hourly(0, 5)))
    text = err.value.render()
    assert text.startswith("tf.tbs:1:5: error:") and message in text and "(1h)" in text
    assert err.value.exit_code == 2
    # Rendered like every script error: the line, a caret under the `@` expression, the hint.
    lines = text.splitlines()
    assert lines[1].endswith(f"| {script.rstrip()}") and lines[2].endswith("|     " + "^" * len("close @ 30m"))
    assert lines[-1].startswith("  hint: use a timeframe such as 4h or 1d")


@pytest.mark.parametrize("script, message", [
    ("x = macd(close) @ 4h\n", "gives several series"),
    ("x = close @ 0h\n", "empty"),
    ("x = (close @ 1h) @ 4h\n", "`@ 1h` inside `@ 4h` must be a whole multiple of 4h"),
    ("x = (close @ 1M) @ 1w\n", "inside `@ 1w`"),
])
def test_compile_errors(script: str, message: str) -> None:
    with pytest.raises(ScriptDiagnostics) as err:
        compile_source(script, "tf.tbs")
    assert message in err.value.render()


def test_a_constant_is_the_same_on_every_timeframe() -> None:
    strategy = compile_source("x = 2 @ 4h\n", "c.tbs", series=["x"])
    assert strategy.checked.series["x"].value == 2


def test_interval_unknown_with_one_bar() -> None:
    got = series("x = close @ 1h\n", bars_at(hourly(0, 1)), "x")
    assert np.isnan(got["x"]).all()
