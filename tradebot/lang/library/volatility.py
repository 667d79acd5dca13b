"""Volatility indicators and bands: true range, ATR, standard deviation, Bollinger, Keltner and
Donchian channels.

tr, trange, atr, natr, stdev and bbands equal their TA-Lib functions (tests/lang/test_talib.py);
keltner and donchian, which TA-Lib lacks, follow the definitions cited in their `source`.
"""
from __future__ import annotations

import numpy as np
import polars as pl

from ..builtin_spec import HL, HLC, indicator, length, number, series, window_length
from ..types import record
from .smoothing import naive_ema, naive_skip, naive_sma, sma, sum_in_order
from .naive import arr, naive_by_length, naive_window, nan_array
from .support import by_length, compressed, kernel, rolling_extreme, window

CATEGORY = "volatility"


def true_range(high: pl.Expr, low: pl.Expr, close: pl.Expr) -> pl.Expr:
    # A kernel: as a Polars when/then chain it took 11-13 ms for 1M bars, TA-Lib's TRANGE 1.1.
    return window("true_range", [high, low, close], summed=True)


def naive_true_range(high, low, close) -> np.ndarray:
    high, low, close = arr(high), arr(low), arr(close)
    out = nan_array(len(close))
    for t in range(1, len(close)):
        # np.max (not max()) so a missing input gives a missing range whatever its position.
        out[t] = np.max([high[t] - low[t], abs(high[t] - close[t - 1]), abs(low[t] - close[t - 1])])
    return out


def atr(high: pl.Expr, low: pl.Expr, close: pl.Expr, n: int) -> pl.Expr:
    return kernel("atr", [high, low, close], n, module="wilder", probed=True, summed=True)


def naive_atr(high, low, close, n: int) -> np.ndarray:
    """Wilder's ATR over bars that have high, low and close (missing bars are skipped)."""
    def run(high, low, close):
        ranges = naive_true_range(high, low, close)
        out = nan_array(len(close))
        if len(close) <= n:
            return out
        value = sum_in_order(ranges[1: n + 1]) / n
        out[n] = value
        for t in range(n + 1, len(close)):
            value = (value * (n - 1) + ranges[t]) / n
            out[t] = value
        return out
    return naive_skip(run, [high, low, close])


def _natr(n: int, high, low, close) -> pl.Expr:
    return kernel("natr", [high, low, close], n, module="wilder", probed=True, summed=True)  # atr / close * 100, 0 if close is 0


def _ref_natr(n, high, low, close):
    average, close = naive_atr(high, low, close, n), arr(close)
    with np.errstate(all="ignore"):
        return np.where(np.isnan(average) | np.isnan(close), np.nan,
                        np.where(close != 0, average / close * 100.0, 0.0))


def stdev(x: pl.Expr, n: int) -> pl.Expr:
    return _mean_and_deviation(x, n, 0.0, 1.0)


def _mean_and_deviation(x: pl.Expr, n: int, mean_weight: float, deviation_weight: float) -> pl.Expr:
    """mean_weight * sma + deviation_weight * stdev (population) of the last n values, one
    kernel: Polars' `rolling_std` took 18 ms for 1M bars where TA-Lib's STDDEV takes 3.2."""
    return window("mean_and_deviation", [x], n, mean_weight, deviation_weight, module="sums")


def naive_stdev(x, n: int) -> np.ndarray:
    return naive_window(x, n, lambda w: float(np.std(w)))


def _bbands(x: pl.Expr, n: int, mult: float) -> dict[str, pl.Expr]:
    # One kernel per field, so a script pays only for the bands it reads.
    mult = float(mult)
    return {"upper": _mean_and_deviation(x, n, 1.0, mult), "middle": sma(x, n),
            "lower": _mean_and_deviation(x, n, 1.0, -mult)}


def _ref_bbands(x, n, mult):
    middle = naive_sma(x, n)
    width = mult * naive_stdev(x, n)
    return {"upper": middle + width, "middle": middle, "lower": middle - width}


def _keltner(n: int, mult: float, atr_length: int, high, low, close) -> dict[str, pl.Expr]:
    # A kernel per field (one result array each), the EMA and the ATR side by side in it.
    return {name: kernel("keltner", [high, low, close], n, float(mult), atr_length, side, module="wilder",
                         probed=True, apart=_keltner_apart)
            for name, side in (("upper", 1), ("middle", 0), ("lower", -1))}


def _keltner_apart(high, low, close, n: int, mult: float, atr_length: int, side: int) -> np.ndarray:
    """A Keltner line where an input is missing: the EMA over the bars with a close, the ATR over
    the bars with all three (as `ema` and `atr`), the line missing where either is."""
    from . import kernels, wilder  # compiled code, imported when a plan runs (support._compiled)
    middle = compressed(lambda x, length: kernels.ema(x, length, length)[0], [close], (n,))
    width = mult * compressed(lambda *args: wilder.atr(*args)[0], [high, low, close], (atr_length,))
    line = middle if side == 0 else middle + width if side > 0 else middle - width
    return np.where(np.isnan(middle + width), np.nan, line)


def _ref_keltner(n, mult, atr_length, high, low, close):
    middle = naive_ema(close, n)
    width = mult * naive_atr(high, low, close, atr_length)
    gate = np.isnan(middle + width)
    return {name: np.where(gate, np.nan, v) for name, v in
            (("upper", middle + width), ("middle", middle), ("lower", middle - width))}


def _donchian(n: int, high, low) -> dict[str, pl.Expr]:
    # The middle line is a kernel of its own (both extremes and their mean in one pass), not
    # the mean of the other two fields: a script reading only it computes one column.
    return {"upper": rolling_extreme(high, n, highest=True),
            "middle": window("channel_middle", [high, low], n, module="extremes", summed=True, into=True),
            "lower": rolling_extreme(low, n, highest=False)}


def _ref_donchian(n, high, low):
    upper, lower = naive_window(high, n, np.max), naive_window(low, n, np.min)
    return {"upper": upper, "middle": (upper + lower) / 2, "lower": lower}


BUILTINS = (
    indicator("tr", HLC, true_range, naive_true_range,
              doc="True range: the largest of high - low, |high - previous close| and |low - previous "
                  "close|; missing on the first bar.",
              example="tr() > 2 * atr(14)", category=CATEGORY, see_also=("trange", "atr"),
              warmup="1", source="TA-Lib TRANGE"),
    indicator("trange", HLC, true_range, naive_true_range,
              doc="True range (the TA-Lib name for `tr`).",
              example="trange() > atr(14)", category=CATEGORY, see_also=("tr",),
              warmup="1", source="TA-Lib TRANGE"),
    indicator("atr", (length(default=14), *HLC), lambda n, h, l, c: atr(h, l, c, n),
              lambda n, h, l, c: naive_atr(h, l, c, n),
              doc="Average true range (Wilder): the mean of the first `length` true ranges, then "
                  "Wilder-smoothed.",
              example="close - 3 * atr(14)", category=CATEGORY,
              warmup="length", source="TA-Lib ATR"),
    indicator("natr", (length(default=14), *HLC), _natr, _ref_natr,
              doc="Normalized ATR: atr(length) / close * 100; 0 when close is 0.",
              example="natr(14) > 1", category=CATEGORY,
              warmup="length", source="TA-Lib NATR"),
    indicator("stdev", (series(), window_length()), by_length(stdev, "variable_sums", 2),
              naive_by_length(naive_stdev, np.std),
              doc="Population standard deviation of the last `length` values; `length` may be a series.",
              example="sma(close, 20) + 2 * stdev(close, 20)", category=CATEGORY,
              warmup="length - 1", source="TA-Lib STDDEV (nbdev 1)"),
    indicator("bbands", (series(), length(default=20), number("mult", 2.0, "band width in standard "
                                                               "deviations", minimum=0.0)),
              _bbands, _ref_bbands, returns=record("upper", "middle", "lower"),
              doc="Bollinger bands: `.middle` = sma(src, length), `.upper` / `.lower` = middle -/+ "
                  "mult * stdev(src, length).",
              example="close < bbands(close, 20, 2).lower", category=CATEGORY,
              warmup="length - 1", source="TA-Lib BBANDS with an SMA middle band and nbdevup = nbdevdn = mult"),
    indicator("keltner", (length(default=20), number("mult", 2.0, "band width in ATRs", minimum=0.0),
                          length("atr_length", 10), *HLC),
              _keltner, _ref_keltner, returns=record("upper", "middle", "lower"),
              doc="Keltner channel: `.middle` = ema(close, length), `.upper` / `.lower` = middle -/+ "
                  "mult * atr(atr_length).",
              example="close > keltner(20, 2, 10).upper", category=CATEGORY,
              warmup="max(length - 1, atr_length)",
              source="StockCharts ChartSchool, \"Keltner Channels\" (Linda Raschke's version): EMA(20) +/- 2 * "
                     "ATR(10); fields missing together"),
    indicator("donchian", (length(default=20), *HL), _donchian,
              _ref_donchian, returns=record("upper", "middle", "lower"),
              doc="Donchian channel: `.upper` = highest high, `.lower` = lowest low of the last `length` "
                  "bars (this bar included), `.middle` their mean.",
              example="close >= donchian(20).upper", category=CATEGORY,
              warmup="length - 1",
              source="Richard Donchian's channel as TradingView's Donchian Channels (current bar included)"),
)
