"""Multi-timeframe evaluation: `expr @ 4h` computes `expr` on higher-timeframe bars built from the
data and shows each higher bar's value only once that bar has closed.

The rules (docs/builtins.md, "Multi-timeframe"):

- Buckets are those of the one calendar (`market/timeframe.py`): aligned to the UTC epoch, weeks
  from Monday 1970-01-05, `NM` at multiples of N calendar months from January 1970.
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

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable

import numpy as np
import polars as pl

from ..errors import ScriptError
from ..market.timeframe import UNIT_MS, Timeframe, parse_timeframe
from . import ir
from .ast import Span
from .diagnostics import Diagnostic, render_one

if TYPE_CHECKING:
    from .compiler import Plan

NEVER = -(2**62)  # an end time before any bar


class TimeframeError(ScriptError):
    """A timeframe that does not fit the data (exit code 2, like other script errors): found when
    the plan meets the bars, so it carries its one diagnostic and, when known, the script's text."""

    def __init__(self, diagnostic: Diagnostic, filename: str, source: str | None = None) -> None:
        self.diagnostic = diagnostic
        self.filename = filename
        self.source = source
        super().__init__(self.render())

    def render(self) -> str:
        return render_one(self.diagnostic, self.source, self.filename)


def check_fits(frame: Timeframe, interval: int | None, span: Span, filename: str,
               source: str | None = None) -> None:
    """TimeframeError at `span` (the first `@ frame`) when bars `interval` ms apart cannot build it."""
    problem = misfit(frame, interval)
    if problem is not None:
        raise TimeframeError(Diagnostic(problem[0], span, problem[1]), filename, source)


def misfit(frame: Timeframe, interval: int | None) -> tuple[str, str] | None:
    """(message, hint) when `@ frame` cannot be built from bars `interval` ms apart, else None."""
    if interval is None or frame.fits_interval(interval):
        return None
    shown = _duration(interval)
    smaller = frame.ms is not None and frame.ms < interval
    return (f"`@ {frame.text}` needs a whole multiple of the data's interval ({shown}); "
            f"{frame.text} is {'smaller than' if smaller else 'not a multiple of'} it",
            f"use a timeframe such as {_suggest(interval)}, or data with a shorter interval")


def timeframe_diagnostics(roots: Iterable[ir.Node], interval: int | None) -> list[Diagnostic]:
    """Every `expr @ timeframe` under `roots` that the data's interval cannot build, at its span
    (checked before a run, so the error shows the script's line; the plan's own check cannot)."""
    found: list[Diagnostic] = []
    for node in ir.walk(*roots):
        if isinstance(node, ir.Resample):
            problem = misfit(parse_timeframe(node.timeframe), interval)
            if problem is not None:
                found.append(Diagnostic(problem[0], node.span, problem[1]))
    # (Spans compare equal by design, so their offsets are the key.)
    return list({(d.span.start, d.span.end, d.message): d for d in found}.values())


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
    span: Span  # the first `@` using this timeframe: where a timeframe the data cannot build is shown
    filename: str  # the script's, for that error

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
