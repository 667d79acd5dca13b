"""Time and calendar builtins (hour ... year, bar_index, in_session, session vwap), floor / ceil
and the `%` operator, on hand-worked times: New York's daylight-saving switches, sessions across
midnight, ISO weekdays; each also checked against the naive reference (zoneinfo, not Polars)."""
from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from tradebot.lang import parser, unparse
from tradebot.lang.diagnostics import ScriptDiagnostics
from tradebot.pipeline import compile_source

from .test_indicators_hand import evaluate

NAN = np.nan
UTC = dt.timezone.utc


def at(*moments: str, close=None, volume=None) -> pl.DataFrame:
    """Bars opening at the given UTC times ("2024-03-10 06:30")."""
    stamps = [dt.datetime.fromisoformat(m).replace(tzinfo=UTC) for m in moments]
    n = len(stamps)
    close = np.asarray(close if close is not None else np.arange(1, n + 1), float)
    return pl.DataFrame({
        "timestamp": pl.Series(stamps).cast(pl.Datetime("ms", "UTC")),
        "open": close, "high": close, "low": close, "close": close,
        "volume": np.asarray(volume if volume is not None else np.ones(n), float),
    })


# New York switches to daylight time at 2024-03-10 07:00 UTC (02:00 EST -> 03:00 EDT) and back
# at 2024-11-03 06:00 UTC (02:00 EDT -> 01:00 EST).
SPRING = at("2024-03-10 06:30", "2024-03-10 07:30", "2024-11-03 05:30", "2024-11-03 06:30")


def test_hour_in_utc_and_in_new_york_across_daylight_saving() -> None:
    np.testing.assert_array_equal(evaluate("hour", SPRING), [6, 7, 5, 6])
    np.testing.assert_array_equal(evaluate('hour("UTC")', SPRING), [6, 7, 5, 6])
    # 01:30 EST, 03:30 EDT (02:xx does not exist that night), 01:30 EDT, 01:30 EST again
    np.testing.assert_array_equal(evaluate('hour("America/New_York")', SPRING), [1, 3, 1, 1])
    np.testing.assert_array_equal(evaluate('minute("America/New_York")', SPRING), [30, 30, 30, 30])


def test_calendar_parts_and_iso_weekdays() -> None:
    # 2024-01-01 was a Monday; 2024-01-08 03:00 UTC is Sunday 2024-01-07 22:00 in New York.
    bars = at("2024-01-01 00:00", "2024-01-06 12:15", "2024-01-07 23:59", "2024-01-08 03:00",
              "2024-12-31 23:00")
    np.testing.assert_array_equal(evaluate("dayofweek", bars), [1, 6, 7, 1, 2])
    np.testing.assert_array_equal(evaluate('dayofweek("America/New_York")', bars), [7, 6, 7, 7, 2])
    np.testing.assert_array_equal(evaluate("dayofmonth", bars), [1, 6, 7, 8, 31])
    np.testing.assert_array_equal(evaluate('dayofmonth("America/New_York")', bars), [31, 6, 7, 7, 31])
    np.testing.assert_array_equal(evaluate("month", bars), [1, 1, 1, 1, 12])
    np.testing.assert_array_equal(evaluate('month("Pacific/Kiritimati")', bars), [1, 1, 1, 1, 1])  # UTC+14
    np.testing.assert_array_equal(evaluate('year("America/New_York")', bars), [2023, 2024, 2024, 2024, 2024])
    np.testing.assert_array_equal(evaluate("minute", bars), [0, 15, 59, 0, 0])
    np.testing.assert_array_equal(evaluate('year("Asia/Tokyo")', bars), [2024, 2024, 2024, 2024, 2025])


def test_bar_index_counts_bars_from_zero() -> None:
    bars = at("2024-01-01 00:00", "2024-01-01 01:00", "2024-01-01 05:00", "2024-01-02 00:00")
    np.testing.assert_array_equal(evaluate("bar_index", bars), [0, 1, 2, 3])
    np.testing.assert_array_equal(evaluate("bar_index % 2", bars), [0, 1, 0, 1])


def test_new_york_session_follows_daylight_saving() -> None:
    # Friday 2024-03-08 (EST, UTC-5): 09:30 NY is 14:30 UTC; Monday 2024-03-11 (EDT, UTC-4): 13:30 UTC.
    bars = at("2024-03-08 14:29", "2024-03-08 14:30", "2024-03-08 20:59", "2024-03-08 21:00",
              "2024-03-11 13:29", "2024-03-11 13:30", "2024-03-11 19:59", "2024-03-11 20:00")
    expected = [0, 1, 1, 0, 0, 1, 1, 0]
    np.testing.assert_array_equal(evaluate('if in_session("09:30-16:00", "America/New_York") then 1 else 0',
                                            bars), expected)
    np.testing.assert_array_equal(evaluate('if in_session("0930-1600", "America/New_York") then 1 else 0',
                                            bars), expected)  # Pine's spelling


def test_sessions_across_midnight_and_whole_day() -> None:
    bars = at("2024-01-01 21:59", "2024-01-01 22:00", "2024-01-02 01:59", "2024-01-02 02:00",
              "2024-01-02 12:00")
    np.testing.assert_array_equal(evaluate('if in_session("22:00-02:00") then 1 else 0', bars), [0, 1, 1, 0, 0])
    np.testing.assert_array_equal(evaluate('if in_session("00:00-00:00") then 1 else 0', bars), [1, 1, 1, 1, 1])


def test_vwap_anchored_to_a_session_and_a_time_zone() -> None:
    # A 22:00-02:00 UTC session: the bars at 22:00 and 01:00 are one session (started on the 1st),
    # 12:00 is outside any session (missing), 23:00 on the 2nd starts the next one.
    bars = at("2024-01-01 22:00", "2024-01-02 01:00", "2024-01-02 12:00", "2024-01-02 23:00",
              close=[10, 20, 99, 40], volume=[1, 3, 5, 2])
    np.testing.assert_allclose(evaluate('vwap(close, "22:00-02:00")', bars), [10, 17.5, NAN, 40])
    # The day in New York (UTC-5 in January): 03:00 UTC on the 2nd is still the 1st there.
    days = at("2024-01-01 12:00", "2024-01-02 03:00", "2024-01-02 06:00", close=[10, 20, 30], volume=[1, 1, 2])
    np.testing.assert_allclose(evaluate('vwap(close, tz="America/New_York")', days), [10, 15, 30])
    np.testing.assert_allclose(evaluate("vwap(close)", days), [10, 20, 80 / 3])  # UTC days


def test_floor_ceil_and_modulo() -> None:
    bars = at("2024-01-01 00:00", "2024-01-01 01:00", "2024-01-01 02:00", "2024-01-01 03:00",
              close=[-1.5, 7, 5.5, 2])
    np.testing.assert_array_equal(evaluate("floor(close)", bars), [-2, 7, 5, 2])
    np.testing.assert_array_equal(evaluate("ceil(close)", bars), [-1, 7, 6, 2])
    np.testing.assert_allclose(evaluate("close % 3", bars), [1.5, 1, 2.5, 2])  # the sign of the divisor
    np.testing.assert_allclose(evaluate("close % -3", bars), [-1.5, -2, -0.5, -1])
    np.testing.assert_allclose(evaluate("close % (close - 2)", bars), [-1.5, 2, 2, NAN])  # % 0: missing
    np.testing.assert_allclose(evaluate("7 % 3 + close * 0", bars), [1, 1, 1, 1])  # folded: 1


def test_modulo_binds_like_multiplication_and_round_trips() -> None:
    tree = parser.parse_expression("a + b % c * d")
    assert unparse.expr(tree) == "a + b % c * d"
    assert tree.right.left.op == "%"  # (b % c) * d, left-associative with *
    assert unparse.expr(parser.parse_expression("(a + b) % c")) == "(a + b) % c"


def errors(source: str) -> list[tuple[str, str | None]]:
    with pytest.raises(ScriptDiagnostics) as caught:
        compile_source(source, "bad.tbs")
    return [(d.message, d.hint) for d in caught.value.diagnostics]


def test_mistakes_in_time_arguments_are_reported_with_hints() -> None:
    (message, hint), = errors('x = hour("America/New_Yrok")\nenter long when x > 1\n')
    assert "unknown time zone `America/New_Yrok`" in message
    assert hint is None or "America/New_York" in hint
    (message, hint), = errors('enter long when in_session("9-16")\n')
    assert "`9-16` is not a session" in message and "HH:MM-HH:MM" in hint
    (message, hint), = errors("x = 7 % 0\nenter long when close > x\n")
    assert message == "division by zero"
    (message, hint), = errors("enter long when hour(3) > 1\n")
    assert "must be a string" in message


def test_whole_hours_are_exact() -> None:
    """On the hour, the hour is that hour (a float floor(ms / 3600000) in Polars gave 23 at 00:00,
    found by the property tests); 1970 London kept summer time all year (British Standard Time)."""
    bars = at("2024-01-01 00:00", "2024-01-01 01:00", "2024-01-01 02:00", "1970-01-01 00:00")
    np.testing.assert_array_equal(evaluate('hour("Europe/London")', bars), [0, 1, 2, 1])
    np.testing.assert_array_equal(evaluate("hour", bars), [0, 1, 2, 0])
