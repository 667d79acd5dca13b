"""Core indicators every example needs: sma, ema, rsi, stdev, highest, lowest, change, tr, atr.

Definitions follow TA-Lib (the oracle in tests/lang/test_talib.py): Wilder's RSI and ATR seeded
with a simple mean, population standard deviation, EMA seeded with an SMA.
"""
from __future__ import annotations

import numpy as np
import polars as pl

from ..builtins import indicator, integer, length, price, series
from .smoothing import naive_seeded_ewm, seeded_ewm

TREND, MOMENTUM, VOLATILITY, SERIES = "trend", "momentum", "volatility", "series"


def _window(x: np.ndarray, n: int, fn) -> np.ndarray:
    """Naive rolling window: fn over the last n values, missing if any of them is missing."""
    x = np.asarray(x, float)
    out = np.full(len(x), np.nan)
    for t in range(n - 1, len(x)):
        window = x[t - n + 1: t + 1]
        if not np.isnan(window).any():
            out[t] = fn(window)
    return out


def _ref_change(x, n):
    x = np.asarray(x, float)
    out = np.full(len(x), np.nan)
    out[n:] = x[n:] - x[:-n] if n else 0.0
    return out


def _rsi(src: pl.Expr, n: int) -> pl.Expr:
    delta = src.diff()
    gain = seeded_ewm(delta.clip(lower_bound=0.0), n, 1.0 / n)
    loss = seeded_ewm((-delta).clip(lower_bound=0.0), n, 1.0 / n)
    total = gain + loss
    # TA-Lib returns 0 when there was no movement at all in the window.
    return pl.when(total > 0).then(100.0 * gain / total).when(total.is_not_null()).then(0.0)


def _ref_rsi(src, n):
    src = np.asarray(src, float)
    delta = np.concatenate([[np.nan], np.diff(src)])
    gain = naive_seeded_ewm(np.where(np.isnan(delta), np.nan, np.maximum(delta, 0.0)), n, 1.0 / n)
    loss = naive_seeded_ewm(np.where(np.isnan(delta), np.nan, np.maximum(-delta, 0.0)), n, 1.0 / n)
    out = np.full(len(src), np.nan)
    for t in range(len(src)):
        if not np.isnan(gain[t]):
            total = gain[t] + loss[t]
            out[t] = 100.0 * gain[t] / total if total > 0 else 0.0
    return out


def _true_range(high: pl.Expr, low: pl.Expr, close: pl.Expr) -> pl.Expr:
    prev_close = close.shift(1)
    ranges = pl.max_horizontal(high - low, (high - prev_close).abs(), (low - prev_close).abs())
    missing = prev_close.is_null() | high.is_null() | low.is_null()
    return pl.when(missing).then(None).otherwise(ranges)


def _ref_true_range(high, low, close):
    tr = np.full(len(close), np.nan)
    for t in range(1, len(close)):
        # np.max (not max()) so a missing input gives a missing range whatever its position.
        tr[t] = np.max([high[t] - low[t], abs(high[t] - close[t - 1]), abs(low[t] - close[t - 1])])
    return tr


OHLC = (price("high"), price("low"), price("close"))


BUILTINS = (
    indicator("sma", (series(), length()), lambda src, n: src.rolling_mean(n),
              lambda src, n: _window(src, n, np.mean),
              doc="Simple moving average: the mean of the last `length` values.",
              example="sma(close, 20)", category=TREND),
    indicator("ema", (series(), length()), lambda src, n: seeded_ewm(src, n, 2.0 / (n + 1)),
              lambda src, n: naive_seeded_ewm(src, n, 2.0 / (n + 1)),
              doc="Exponential moving average, alpha = 2/(length+1), seeded with the SMA of the "
                  "first `length` values (as TA-Lib).",
              example="ema(close, 21)", category=TREND),
    indicator("rsi", (series(), length(default=14)), _rsi, _ref_rsi,
              doc="Relative Strength Index (Wilder): 100 * average gain / (average gain + average "
                  "loss), Wilder-smoothed, seeded with simple means (as TA-Lib). 0 when flat.",
              example="rsi(close, 14) < 30", category=MOMENTUM),
    indicator("stdev", (series(), length()), lambda src, n: src.rolling_std(n, ddof=0),
              lambda src, n: _window(src, n, lambda w: float(np.std(w))),
              doc="Population standard deviation of the last `length` values (as TA-Lib STDDEV).",
              example="sma(close, 20) + 2 * stdev(close, 20)", category=VOLATILITY),
    indicator("highest", (series(), length()), lambda src, n: src.rolling_max(n),
              lambda src, n: _window(src, n, np.max),
              doc="The highest value of the last `length` bars, this bar included.",
              example="close > highest(high, 20)[1]", category=SERIES),
    indicator("lowest", (series(), length()), lambda src, n: src.rolling_min(n),
              lambda src, n: _window(src, n, np.min),
              doc="The lowest value of the last `length` bars, this bar included.",
              example="close < lowest(low, 20)[1]", category=SERIES),
    indicator("change", (series(), integer("length", 1, "bars back", minimum=1)),
              lambda src, n: src - src.shift(int(n)), _ref_change,
              doc="The difference from `length` bars ago: src - src[length].",
              example="change(close, 5) > 0", category=SERIES),
    indicator("tr", OHLC, _true_range, _ref_true_range,
              doc="True range: the largest of high - low, |high - previous close| and |low - "
                  "previous close|; missing on the first bar (as TA-Lib TRANGE).",
              example="tr() > 2 * atr(14)", category=VOLATILITY),
    indicator("atr", (length(default=14), *OHLC),
              lambda n, h, l, c: seeded_ewm(_true_range(h, l, c), n, 1.0 / n),
              lambda n, h, l, c: naive_seeded_ewm(_ref_true_range(h, l, c), n, 1.0 / n),
              doc="Average true range (Wilder), seeded with the mean of the first `length` true "
                  "ranges (as TA-Lib ATR).",
              example="close - 3 * atr(14)", category=VOLATILITY),
)
