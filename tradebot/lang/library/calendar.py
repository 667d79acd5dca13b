"""Time and calendar: hour, minute, dayofweek, dayofmonth, month, year and in_session, read from
the bar's open time (`time`), in UTC or in a named time zone.

The time zone is an argument of each call (`hour("America/New_York")`), not a script-wide
setting: one script can read London and New York hours side by side, and a bare `hour` always
means UTC, the zone of the data's timestamps and of the `@ 4h` buckets. Conversions go through
Polars' time-zone database (IANA, daylight saving included); the references through Python's
`zoneinfo`, an independent implementation of the same database.

dayofweek follows ISO 8601 (Python's isoweekday, Polars' weekday): 1 = Monday ... 7 = Sunday.
"""
from __future__ import annotations

import datetime as dt
import functools
import re
from typing import Callable

import numpy as np
import polars as pl

from ..builtin_spec import indicator, price, text
from ..diagnostics import did_you_mean
from ..types import BOOL_SERIES
from .naive import arr, nan_array
from .support import share

CATEGORY = "time"
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
# Times outside 1900..9000 are missing: beyond what a bar's time can be, and where Python's
# datetime (the references) runs out of range.
EARLIEST_MS, LATEST_MS = -2_208_988_800_000, 221_845_392_000_000
_SESSION = re.compile(r"^(\d{1,2}):?(\d{2})-(\d{1,2}):?(\d{2})$")


# ------------------------------------------------------------------ checks of the string arguments


@functools.lru_cache(maxsize=None)
def check_timezone(name: str) -> tuple[str, str | None] | None:
    """None when Polars knows the zone, else (message, hint)."""
    try:
        pl.Series([0], dtype=pl.Int64).cast(pl.Datetime("ms", "UTC")).dt.convert_time_zone(name)
    except Exception:  # noqa: BLE001 — Polars raises several types for an unknown zone
        return (f"unknown time zone `{name}`",
                _zone_hint(name) or 'use an IANA name such as "America/New_York", "Europe/London" or "UTC"')
    return None


def _zone_hint(name: str) -> str | None:
    try:
        from zoneinfo import available_timezones
        zones = available_timezones()
    except Exception:  # noqa: BLE001 — no zone list on this machine: no suggestion
        return None
    return did_you_mean(name, zones)


def parse_session(session: str) -> tuple[int, int] | None:
    """"09:30-16:00" (or Pine's "0930-1600") -> (570, 960) minutes after midnight."""
    found = _SESSION.match(session.strip())
    if not found:
        return None
    h1, m1, h2, m2 = (int(g) for g in found.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
        return None
    return h1 * 60 + m1, h2 * 60 + m2


def check_session(session: str) -> tuple[str, str | None] | None:
    if parse_session(session) is None:
        return (f"`{session}` is not a session",
                'write it as "HH:MM-HH:MM" in 24-hour time, e.g. "09:30-16:00" (or "22:00-02:00" across midnight)')
    return None


# ------------------------------------------------------------------ Polars side


DAY_MS, HOUR_MS, MINUTE_MS = 86_400_000, 3_600_000, 60_000


def local_ms(values: np.ndarray, tz: str) -> np.ndarray:
    """Bar times (ms since the epoch, UTC; NaN where missing) as wall-clock ms in `tz` (NaN
    where missing, and out of range: before 1900, after 9000)."""
    out = np.full(len(values), np.nan)
    inside = (values >= EARLIEST_MS) & (values <= LATEST_MS)
    out[inside] = wall_clock(values[inside].astype(np.int64), tz)  # toward zero, as a Polars cast
    return out


def wall_clock(ms: np.ndarray, tz: str) -> np.ndarray:
    """UTC ms (int64) as wall-clock ms in `tz`.

    Converting every bar through the time-zone database took 270 ms for 1M bars (Polars'
    convert_time_zone); the offset only changes at daylight-saving switches, so it is looked up
    at both ends of each UTC day the data touches, and bar by bar only on the days whose two
    ends differ (a switch that day)."""
    if tz == "UTC" or not len(ms):
        return ms
    days = np.floor_divide(ms, DAY_MS)
    if np.all(days[1:] >= days[:-1]):  # sorted, as bar times are: no sort needed
        change = np.empty(len(days), dtype=bool)
        change[0] = True
        np.not_equal(days[1:], days[:-1], out=change[1:])
        unique, which = days[change], np.cumsum(change) - 1
    else:
        unique, which = np.unique(days, return_inverse=True)
    first = unique * DAY_MS
    offset_first = _offsets(first, tz)
    switching = offset_first != _offsets(first + DAY_MS - 1, tz)
    offset = offset_first[which]
    if switching.any():
        bars = switching[which]
        offset[bars] = _offsets(ms[bars], tz)
    return ms + offset


def _offsets(ms: np.ndarray, tz: str) -> np.ndarray:
    """The UTC offset (ms) in `tz` at each instant, from Polars' time-zone database."""
    moments = pl.Series(ms, dtype=pl.Int64).cast(pl.Datetime("ms", "UTC"))
    wall = moments.dt.convert_time_zone(tz).dt.replace_time_zone(None).dt.epoch("ms")
    return wall.to_numpy() - ms


def local_clock(time: pl.Expr, tz: str) -> pl.Expr:
    """The bar's open time as whole wall-clock ms in `tz` (Int64; missing where the time is).
    Whole numbers, so the clock's parts are exact integer divisions: Polars 2.1 computed
    floor(x / 3600000) of a float x as one less than the exact quotient 473352 (a rewrite of
    the floor of a division), which put 00:00 in hour 23."""
    def run(series: pl.Series, **_options: object) -> pl.Series:  # options: see `support.kernel`
        values = series.cast(pl.Float64)
        # (An empty series has no min: a `@ 3h` over data with no complete 3h bar gives one.)
        whole = (values.len() > 0 and values.null_count() == 0 and not values.is_nan().any()
                 and values.min() >= EARLIEST_MS and values.max() <= LATEST_MS)
        if whole:  # the usual case (bar times): no masks
            return pl.Series(wall_clock(values.cast(pl.Int64).to_numpy(), tz), dtype=pl.Int64)
        return pl.Series(local_ms(values.fill_null(np.nan).to_numpy(), tz), nan_to_null=True).cast(pl.Int64)
    return share(time.map_batches(run, return_dtype=pl.Int64))


def local_time(time: pl.Expr, tz: str) -> pl.Expr:
    """The bar's open time as a (naive, wall-clock) datetime in `tz`."""
    return pl.from_epoch(local_clock(time, tz), time_unit="ms")


def _clock(unit: int, modulo: int, shift: int = 0) -> Callable[[str, pl.Expr], pl.Expr]:
    """A part of the wall clock by integer arithmetic: (ms // unit + shift) % modulo (floored)."""
    return lambda tz, time: ((local_clock(time, tz) // unit + shift) % modulo).cast(pl.Float64)


def _part(pick: Callable[[pl.Expr], pl.Expr]) -> Callable[[str, pl.Expr], pl.Expr]:
    return lambda tz, time: pick(local_time(time, tz)).cast(pl.Float64)


def minute_of_day(time: pl.Expr, tz: str) -> pl.Expr:
    return (local_clock(time, tz) // MINUTE_MS) % 1440


def session_mask(minute: pl.Expr, session: str) -> pl.Expr:
    """Whether a minute of the day lies in [start, end): wrapping past midnight when end <=
    start; a session starting where it ends ("00:00-00:00") is the whole day."""
    start, end = parse_session(session)  # type: ignore[misc]  # validated when checked
    if start < end:
        return (minute >= start) & (minute < end)
    if start > end:
        return (minute >= start) | (minute < end)
    return pl.when(minute.is_not_null()).then(True)


def _in_session(session: str, tz: str, time: pl.Expr) -> pl.Expr:
    return session_mask(minute_of_day(time, tz), session)


# ------------------------------------------------------------------ naive side (references)


def naive_local(time_ms: float, tz: str) -> dt.datetime | None:
    """One bar's open time in `tz` (zoneinfo), None when missing or out of range."""
    if np.isnan(time_ms) or not EARLIEST_MS <= time_ms <= LATEST_MS:
        return None
    moment = EPOCH + dt.timedelta(milliseconds=int(time_ms))
    if tz == "UTC":
        return moment
    from zoneinfo import ZoneInfo

    return moment.astimezone(ZoneInfo(tz))


def naive_in_session(minute: int, session: str) -> bool:
    start, end = parse_session(session)  # type: ignore[misc]
    if start < end:
        return start <= minute < end
    if start > end:
        return minute >= start or minute < end
    return True


def _naive_part(pick: Callable[[dt.datetime], int]) -> Callable[[str, np.ndarray], np.ndarray]:
    def reference(tz: str, time) -> np.ndarray:
        out = nan_array(len(time))
        for t, value in enumerate(arr(time)):
            moment = naive_local(value, tz)
            if moment is not None:
                out[t] = float(pick(moment))
        return out
    return reference


def _ref_in_session(session: str, tz: str, time) -> np.ndarray:
    out = nan_array(len(time))
    for t, value in enumerate(arr(time)):
        moment = naive_local(value, tz)
        if moment is not None:
            out[t] = float(naive_in_session(moment.hour * 60 + moment.minute, session))
    return out


# ------------------------------------------------------------------ the table

TZ_DOC = "an IANA time zone, e.g. \"America/New_York\""


def zone() -> object:
    return text("tz", "UTC", TZ_DOC, validate=check_timezone)


def _calendar(name: str, lower, naive_pick, doc: str, example: str, source: str):
    return indicator(name, (zone(), price("time")), lower, _naive_part(naive_pick),
                     doc=doc, example=example, category=CATEGORY, bare=True, source=source)


BUILTINS = (
    _calendar("hour", _clock(HOUR_MS, 24), lambda m: m.hour,
              "The hour of the bar's open time, 0..23, in UTC or in the time zone `tz`; `hour` alone "
              "is `hour(\"UTC\")`.", 'hour("Europe/London") >= 8',
              source="the bar's open time (TradingView hour(time, tz))"),
    _calendar("minute", _clock(MINUTE_MS, 60), lambda m: m.minute,
              "The minute of the bar's open time, 0..59 (in `tz`).", "minute == 0",
              source="the bar's open time (TradingView minute(time, tz))"),
    _calendar("dayofweek", lambda tz, time: _clock(DAY_MS, 7, 3)(tz, time) + 1.0, lambda m: m.isoweekday(),
              "The day of the week of the bar's open time, ISO numbering: 1 = Monday ... 7 = Sunday "
              "(in `tz`).", "dayofweek != 5",
              source="ISO 8601 weekday, 1 = Monday (TradingView's dayofweek counts 1 = Sunday)"),
    _calendar("dayofmonth", _part(lambda d: d.dt.day()), lambda m: m.day,
              "The day of the month of the bar's open time, 1..31 (in `tz`).", "dayofmonth <= 7",
              source="the bar's open time (TradingView dayofmonth(time, tz))"),
    _calendar("month", _part(lambda d: d.dt.month()), lambda m: m.month,
              "The month of the bar's open time, 1 = January ... 12 = December (in `tz`).", "month != 8",
              source="the bar's open time (TradingView month(time, tz))"),
    _calendar("year", _part(lambda d: d.dt.year()), lambda m: m.year,
              "The year of the bar's open time (in `tz`).", "year >= 2020",
              source="the bar's open time (TradingView year(time, tz))"),
    indicator("in_session", (text("session", doc="\"HH:MM-HH:MM\", start included, end excluded",
                                  validate=check_session), zone(), price("time")),
              _in_session, _ref_in_session, returns=BOOL_SERIES, category=CATEGORY,
              doc="True when the bar opens inside the daily session, in the time zone `tz` (daylight "
                  "saving included); a session whose end is before its start runs past midnight "
                  "(\"22:00-02:00\"), and \"00:00-00:00\" is the whole day.",
              example='in_session("09:30-16:00", "America/New_York")',
              source="TradingView's session strings (time(timeframe.period, \"0930-1600\", tz) is not na), on the "
                     "bar's open time"),
)
