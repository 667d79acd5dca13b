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

from ..builtins import indicator, price, text
from ..diagnostics import did_you_mean
from ..types import BOOL_SERIES
from .support import Note, arr, nan_array, share

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


def local_time(time: pl.Expr, tz: str) -> pl.Expr:
    """The bar's open time (ms since the epoch, UTC) as a datetime in `tz`."""
    inside = (time >= EARLIEST_MS) & (time <= LATEST_MS)
    moment = pl.from_epoch(pl.when(inside).then(time).cast(pl.Int64), time_unit="ms")
    if tz == "UTC":
        return moment
    return moment.dt.replace_time_zone("UTC").dt.convert_time_zone(tz)


def _part(pick: Callable[[pl.Expr], pl.Expr]) -> Callable[[str, pl.Expr], pl.Expr]:
    return lambda tz, time: pick(local_time(time, tz)).cast(pl.Float64)


def minute_of_day(time: pl.Expr, tz: str) -> pl.Expr:
    local = share(local_time(time, tz))  # one time-zone conversion for both parts
    return local.dt.hour().cast(pl.Int32) * 60 + local.dt.minute().cast(pl.Int32)


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


def _calendar(name: str, pick, naive_pick, doc: str, example: str):
    return indicator(name, (zone(), price("time")), _part(pick), _naive_part(naive_pick),
                     doc=doc, example=example, category=CATEGORY, bare=True)


BUILTINS = (
    _calendar("hour", lambda d: d.dt.hour(), lambda m: m.hour,
              "The hour of the bar's open time, 0..23, in UTC or in the time zone `tz`; `hour` alone "
              "is `hour(\"UTC\")`.", 'hour("Europe/London") >= 8'),
    _calendar("minute", lambda d: d.dt.minute(), lambda m: m.minute,
              "The minute of the bar's open time, 0..59 (in `tz`).", "minute == 0"),
    _calendar("dayofweek", lambda d: d.dt.weekday(), lambda m: m.isoweekday(),
              "The day of the week of the bar's open time, ISO numbering: 1 = Monday ... 7 = Sunday "
              "(in `tz`).", "dayofweek != 5"),
    _calendar("dayofmonth", lambda d: d.dt.day(), lambda m: m.day,
              "The day of the month of the bar's open time, 1..31 (in `tz`).", "dayofmonth <= 7"),
    _calendar("month", lambda d: d.dt.month(), lambda m: m.month,
              "The month of the bar's open time, 1 = January ... 12 = December (in `tz`).", "month != 8"),
    _calendar("year", lambda d: d.dt.year(), lambda m: m.year,
              "The year of the bar's open time (in `tz`).", "year >= 2020"),
    indicator("in_session", (text("session", doc="\"HH:MM-HH:MM\", start included, end excluded",
                                  validate=check_session), zone(), price("time")),
              _in_session, _ref_in_session, returns=BOOL_SERIES, category=CATEGORY,
              doc="True when the bar opens inside the daily session, in the time zone `tz` (daylight "
                  "saving included); a session whose end is before its start runs past midnight "
                  "(\"22:00-02:00\"), and \"00:00-00:00\" is the whole day.",
              example='in_session("09:30-16:00", "America/New_York")'),
)

NOTES = {
    "hour": Note("0", "the bar's open time (TradingView hour(time, tz))"),
    "minute": Note("0", "the bar's open time (TradingView minute(time, tz))"),
    "dayofweek": Note("0", "ISO 8601 weekday, 1 = Monday (TradingView's dayofweek counts 1 = Sunday)"),
    "dayofmonth": Note("0", "the bar's open time (TradingView dayofmonth(time, tz))"),
    "month": Note("0", "the bar's open time (TradingView month(time, tz))"),
    "year": Note("0", "the bar's open time (TradingView year(time, tz))"),
    "in_session": Note("0", "TradingView's session strings (time(timeframe.period, \"0930-1600\", tz) "
                            "is not na), on the bar's open time"),
}
