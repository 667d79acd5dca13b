"""Multi-timeframe evaluation: `expr @ 4h` computes `expr` on higher-timeframe bars built from the
data and shows each higher bar's value only once that bar has closed.

The rules (docs/builtins.md, "Multi-timeframe"):

- Buckets are aligned to the UTC epoch: `Nm`/`Nh`/`Nd` buckets start at multiples of their length
  since 1970-01-01 00:00 UTC (4h: 00:00, 04:00, ...; 1d: 00:00 UTC); `Nw` at multiples of N weeks
  from Monday 1970-01-05 (1w: Monday 00:00 UTC); `NM` at multiples of N calendar months from
  January 1970 (3M: January, April, July, October).
- A base bar belongs to the bucket containing its timestamp (its open time). A higher bar is
  open = first open, high = max high, low = min low, close = last close, volume = sum of volume of
  the base bars it contains; its time is the bucket's start. Buckets without bars do not exist.
- When the data starts inside a bucket, that first higher bar is incomplete and is dropped.
- Visibility: a base bar at time t covers [t, t + interval), where interval is the data's
  interval (the smallest step between its timestamps). The higher bar [T, T + H) is complete when
  the base bar that ends at or after T + H closes, so its value is used from the first base bar
  with t + interval >= T + H (with regular bars, the last base bar inside the bucket) and on
  every later bar until the next higher bar completes. The higher bar still forming at the end
  of the data is never visible: appending bars never changes an earlier bar's value.
- The timeframe must be a whole multiple of the data's interval (4h on 1h data, not 30m or 90m);
  inside `(... @ 1d)`, nested timeframes must be multiples of 1d.
"""
from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from ..errors import ScriptError

if TYPE_CHECKING:
    from .compiler import Plan

MINUTE_MS = 60_000
UNIT_MS = {"m": MINUTE_MS, "h": 60 * MINUTE_MS, "d": 1440 * MINUTE_MS, "w": 7 * 1440 * MINUTE_MS}
DAY_MS = UNIT_MS["d"]
WEEK_ANCHOR_MS = 4 * DAY_MS  # Monday 1970-01-05 00:00 UTC
UNIT_NAMES = {"m": "minute", "h": "hour", "d": "day", "w": "week", "M": "month"}
_TEXT = re.compile(r"(\d+)(m|h|d|w|M)")
NEVER = -(2**62)  # an end time before any bar


class TimeframeError(ScriptError):
    """A timeframe that does not fit the data (exit code 2, like other script errors)."""


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

    # -- buckets, one timestamp at a time (the reference evaluator)
    def bucket_start(self, t_ms: int) -> int:
        if self.unit != "M":
            return (t_ms - self.anchor_ms) // self.ms * self.ms + self.anchor_ms
        moment = dt.datetime.fromtimestamp(t_ms / 1000, tz=dt.timezone.utc)
        index = ((moment.year - 1970) * 12 + moment.month - 1) // self.count * self.count
        return _month_start_ms(index)

    def bucket_end(self, start_ms: int) -> int:
        if self.unit != "M":
            return start_ms + self.ms
        moment = dt.datetime.fromtimestamp(start_ms / 1000, tz=dt.timezone.utc)
        return _month_start_ms((moment.year - 1970) * 12 + moment.month - 1 + self.count)

    # -- buckets as Polars expressions (the compiler)
    def start_expr(self, t_ms: pl.Expr) -> pl.Expr:
        if self.unit != "M":
            return (t_ms - self.anchor_ms) // self.ms * self.ms + self.anchor_ms
        stamp = pl.from_epoch(t_ms, time_unit="ms")
        index = ((stamp.dt.year().cast(pl.Int64) - 1970) * 12 + stamp.dt.month().cast(pl.Int64) - 1)
        return _month_start_expr(index // self.count * self.count)

    def end_expr(self, start_ms: pl.Expr) -> pl.Expr:
        if self.unit != "M":
            return start_ms + self.ms
        stamp = pl.from_epoch(start_ms, time_unit="ms")
        index = (stamp.dt.year().cast(pl.Int64) - 1970) * 12 + stamp.dt.month().cast(pl.Int64) - 1
        return _month_start_expr(index + self.count)


def parse_timeframe(text: str) -> Timeframe:
    """`4h` -> Timeframe(4, "h"); ValueError with a readable message otherwise."""
    match = _TEXT.fullmatch(text)
    if match is None:
        raise ValueError(f"`{text}` is not a timeframe; write a count and a unit: 15m, 4h, 1d, 1w, 1M")
    count = int(match.group(1))
    if count == 0:
        raise ValueError(f"the timeframe `{text}` is empty; use a count of at least 1")
    return Timeframe(count, match.group(2))


def _month_start_ms(index: int) -> int:
    year, month = divmod(index, 12)
    return calendar.timegm((1970 + year, month + 1, 1, 0, 0, 0)) * 1000


def _month_start_expr(index: pl.Expr) -> pl.Expr:
    year, month = index // 12 + 1970, index % 12 + 1
    return pl.datetime(year, month, 1, time_zone="UTC").dt.epoch("ms")


# ------------------------------------------------------------------ the data's interval


def interval_ms(timestamps_ms: np.ndarray) -> int | None:
    """The data's interval: the smallest positive step between consecutive bars (None for fewer
    than two bars). Gaps only make steps longer, so they never change it."""
    steps = np.diff(np.asarray(timestamps_ms, dtype=np.int64))
    steps = steps[steps > 0]
    return int(steps.min()) if len(steps) else None


def check_fits(frame: Timeframe, interval: int | None, where: str) -> None:
    if interval is None or frame.fits_interval(interval):
        return
    shown = _duration(interval)
    smaller = frame.ms is not None and frame.ms < interval
    raise TimeframeError(
        f"{where}: error: `@ {frame.text}` needs a whole multiple of the data's interval ({shown}); "
        f"{frame.text} is {'smaller than' if smaller else 'not a multiple of'} it\n"
        f"  hint: use a timeframe such as {_suggest(interval)}, or data with a shorter interval")


def _duration(ms: int) -> str:
    for unit in ("w", "d", "h", "m"):
        if ms % UNIT_MS[unit] == 0:
            return f"{ms // UNIT_MS[unit]}{unit}"
    return f"{ms / 1000:g}s"


def _suggest(interval: int) -> str:
    return f"{_duration(interval * 4)} or {_duration(interval * 24)}"


# ------------------------------------------------------------------ the compiled resampling step


@dataclass(frozen=True)
class ResampleStep:
    """Computes one timeframe's `@` expressions: aggregate the frame into higher bars, run `plan`
    on them, and join each result back onto the bars where it is visible."""

    frame: Timeframe
    plan: Plan  # outputs named as the columns they become in the base frame
    where: str  # "line L, column C" of the first `@` using this timeframe, for errors

    def apply(self, frame: pl.LazyFrame, bar_end: pl.Expr) -> pl.LazyFrame:
        higher = self.higher_bars(frame)
        values = self.plan.lazy(higher, bar_end=pl.col("__end"), keep=("__end",))
        # (The frame may itself be a higher timeframe with its own `__end`: join on other names.)
        done = values.rename({"__end": "__done"})
        # A first row that every bar matches: Polars 2.1 turns a join column without any match
        # into a one-value column that comparisons with literals then mishandle.
        schema = done.collect_schema()
        first = pl.LazyFrame({name: [NEVER if name == "__done" else None] for name in schema}, schema=schema)
        done = pl.concat([first, done]).with_columns(pl.col("__done").set_sorted())
        visible = frame.with_columns(bar_end.cast(pl.Int64).alias("__visible").set_sorted())
        joined = visible.join_asof(done, left_on="__visible", right_on="__done", strategy="backward")
        return joined.drop("__visible", "__done")

    def higher_bars(self, frame: pl.LazyFrame) -> pl.LazyFrame:
        t_ms = pl.col("timestamp").dt.epoch("ms")
        buckets = frame.with_columns(self.frame.start_expr(t_ms).alias("__start"))
        bars = buckets.group_by("__start", maintain_order=True).agg(
            pl.col("open").first(), pl.col("high").max(), pl.col("low").min(),
            pl.col("close").last(), pl.col("volume").sum(), t_ms.min().alias("__first"))
        # The data starting inside the first bucket makes that higher bar incomplete.
        partial_first = (pl.int_range(pl.len()) == 0) & (pl.col("__first") > pl.col("__start"))
        return bars.filter(~partial_first).select(
            pl.from_epoch("__start", time_unit="ms").dt.replace_time_zone("UTC").alias("timestamp"),
            "open", "high", "low", "close", "volume",
            self.frame.end_expr(pl.col("__start")).cast(pl.Int64).alias("__end"))


# ------------------------------------------------------------------ the naive reference


def naive_higher_bars(frame: Timeframe, bars: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Higher bars (a bars dict, timestamps in ms) and each one's end time, by plain loops."""
    times = [int(t) for t in bars["timestamp"]]
    groups: dict[int, list[int]] = {}
    for i, t in enumerate(times):
        groups.setdefault(frame.bucket_start(t), []).append(i)
    starts = sorted(groups)
    if starts and starts[0] < times[0]:
        starts = starts[1:]  # incomplete first higher bar
    pick = {
        "open": lambda rows: bars["open"][rows[0]], "high": lambda rows: max(bars["high"][r] for r in rows),
        "low": lambda rows: min(bars["low"][r] for r in rows), "close": lambda rows: bars["close"][rows[-1]],
        "volume": lambda rows: sum(bars["volume"][r] for r in rows),
    }
    higher = {name: np.array([fn(groups[s]) for s in starts], dtype=float) for name, fn in pick.items()}
    higher["timestamp"] = np.array(starts, dtype=float)
    return higher, np.array([frame.bucket_end(s) for s in starts], dtype=float)


def naive_visible(values: np.ndarray, ends: np.ndarray, bar_ends: np.ndarray) -> np.ndarray:
    """On each base bar, the value of the latest higher bar that ended by the base bar's end."""
    out = np.full(len(bar_ends), np.nan)
    for t, bar_end in enumerate(bar_ends):
        done = [i for i, end in enumerate(ends) if end <= bar_end]
        if done:
            out[t] = values[done[-1]]
    return out
