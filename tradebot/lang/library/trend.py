"""Trend indicators: moving averages, parabolic SAR, supertrend and linear regression.

Each equals the TA-Lib function named in its `source` (tests/lang/test_talib.py), except hma, vwma and
supertrend, which TA-Lib lacks: their definitions are cited in their `source` and pinned by hand-worked
cases and the naive references here.
"""
from __future__ import annotations

import math

import numpy as np
import polars as pl

from ..builtin_spec import HL, HLC, REQUIRED, ParamSpec, indicator, length, number, price, series, window_length
from ..types import ArgKind, record
from .smoothing import ema, ema_combination, naive_ema, naive_skip, naive_sma, naive_wma, sma, sum_in_order
from .smoothing import wma
from .naive import fma_exact, naive_by_length, naive_window, naive_windows, nan_array
from .support import by_length, kernel, rolling_weighted, volume_weighted, window

CATEGORY = "trend"


def _length(default: object, minimum: int) -> ParamSpec:
    return ParamSpec("length", ArgKind.LENGTH, default, "window length in bars", minimum=minimum)


# ------------------------------------------------------------------ composite averages


def _ema_combination(name: str, weights: tuple[float, ...], doc: str, example: str):
    """dema and tema: weights[0] * e1 + weights[1] * e2 (+ weights[2] * e3), each e the ema of the
    last, declared once from the weights: the lowering, the reference (the naive emas chained),
    the warm-up (length - 1 bars per ema) and TA-Lib's function of the same name."""
    def reference(x, n):
        combined, e = 0.0, x
        for weight in weights:
            e = naive_ema(e, n)
            combined = combined + weight * e
        return combined
    return indicator(name, (series(), length()), lambda x, n: ema_combination(x, n, weights), reference,
                     doc=doc, example=example, category=CATEGORY,
                     warmup=f"{len(weights)} * (length - 1)", source=f"TA-Lib {name.upper()}")


def _trima_lengths(n: int) -> tuple[int, int]:
    # TA-Lib TRIMA: an SMA of an SMA whose lengths add up to n + 1.
    return ((n + 1) // 2, (n + 1) // 2) if n % 2 else (n // 2, n // 2 + 1)


# Up to this length TRIMA is one fresh weighted sum (n multiply-adds a bar, vectorized: 2.0 ms
# for n = 20 and 1M bars, TA-Lib 2.5); above, the two block sums (3.7 ms whatever n).
FRESH_TRIMA = 32


def _trima(x: pl.Expr, n: int) -> pl.Expr:
    first, second = _trima_lengths(n)
    if n <= FRESH_TRIMA:
        # sma(sma(x, first), second) weighs each of its n bars by how many inner windows hold
        # it: the convolution of the two windows, every weight positive, so a missing bar
        # reaches exactly the outputs it reaches through the two means.
        return rolling_weighted(x, lambda: np.convolve(np.ones(first), np.ones(second)), first * second)
    return window("trima", [x], first, second, module="sums")  # sma(sma(x, first), second)


def _ref_trima(x, n):
    first, second = _trima_lengths(n)
    return naive_sma(naive_sma(x, first), second)


def _hull_lengths(n: int) -> tuple[int, int]:
    return max(1, n // 2), max(1, math.isqrt(n))


def _hma(x: pl.Expr, n: int) -> pl.Expr:
    half, root = _hull_lengths(n)
    return window("hull", [x], half, n, root, summed=True, into=True)  # the three WMAs in one kernel


def _ref_hma(x, n):
    half, root = _hull_lengths(n)
    return naive_wma(2.0 * naive_wma(x, half) - naive_wma(x, n), root)


def _vwma(x: pl.Expr, n: int, volume: pl.Expr) -> pl.Expr:
    return volume_weighted(x, volume, n)


def _ref_vwma(x, n, volume):
    def weighted(w, v):
        return float(np.sum(w * v) / np.sum(v)) if np.sum(v) != 0 else np.nan
    return naive_windows([x, volume], n, weighted)


# ------------------------------------------------------------------ linear regression


def _linreg(x: pl.Expr, n: int) -> dict[str, pl.Expr]:
    # TA-Lib LINEARREG*: x-coordinates count bars back (the oldest is n-1), sums taken fresh.
    # One kernel per field, so a script pays only for the fields it reads.
    return {field: window("linreg", [x], n, code, summed=True)
            for code, field in enumerate(("value", "slope", "intercept"))}


def _ref_linreg(x, n):
    def fit(window):
        t = np.arange(n, dtype=float)  # bar 0 = the oldest in the window
        slope = float(np.sum((t - t.mean()) * (window - window.mean())) / np.sum((t - t.mean()) ** 2))
        intercept = float(window.mean() - slope * t.mean())
        return intercept, slope
    fits = [naive_window(x, n, lambda w, i=i: fit(w)[i]) for i in range(2)]
    return {"value": fits[0] + fits[1] * (n - 1), "slope": fits[1], "intercept": fits[0]}


# ------------------------------------------------------------------ compiled recursions


def _ref_kama(x, n):
    def run(x):
        out = nan_array(len(x))
        if n == 1:
            return x.copy()
        fastest, slowest = 2.0 / 31.0, 2.0 / 3.0
        value = x[n - 1] if len(x) > n else np.nan
        for t in range(n, len(x)):
            noise = sum_in_order(abs(x[i] - x[i - 1]) for i in range(t - n + 1, t + 1))
            change = x[t] - x[t - n]
            ratio = 1.0 if noise <= change else abs(change / noise)
            factor = fma_exact(ratio, slowest - fastest, fastest) ** 2
            value = fma_exact(x[t] - value, factor, value)
            out[t] = value
        return out
    return naive_skip(run, [x])


def _ref_sar(acceleration, maximum, high, low):
    def run(high, low):
        out = nan_array(len(high))
        if len(high) < 2:
            return out
        step = min(acceleration, maximum)
        af = step
        falling = low[0] - low[1]
        long = not (falling > 0 and falling > high[1] - high[0])
        extreme, value = (high[1], low[0]) if long else (low[1], high[0])
        for t in range(1, len(high)):
            range_low, range_high = min(low[t - 1], low[t]), max(high[t - 1], high[t])
            if t == 1:
                range_low, range_high = low[1], high[1]
            if long and low[t] <= value or not long and high[t] >= value:
                long = not long
                value = min(extreme, range_low) if long else max(extreme, range_high)
                out[t] = value
                af, extreme = step, high[t] if long else low[t]
            else:
                out[t] = value
                if long and high[t] > extreme or not long and low[t] < extreme:
                    extreme = high[t] if long else low[t]
                    af = min(af + step, maximum)
            value = fma_exact(af, extreme - value, value)
            value = min(value, range_low) if long else max(value, range_high)
        return out
    return naive_skip(run, [high, low])


def _ref_t3(x, n, volume_factor):
    e = [np.asarray(x, float)]
    for _ in range(6):
        e.append(naive_ema(e[-1], n))
    if n == 1:
        return naive_skip(lambda v: v, [x])
    a = volume_factor
    c1, c2 = -a ** 3, 3 * (a * a + a ** 3)
    c3, c4 = -6 * a * a - 3 * (a + a ** 3), 1 + 3 * a + a ** 3 + 3 * a * a
    return c1 * e[6] + c2 * e[5] + c3 * e[4] + c4 * e[3]


def _ref_supertrend(factor, n, high, low, close):
    from .volatility import naive_atr  # the ATR used for the bands

    def run(high, low, close):
        line, direction = nan_array(len(close)), nan_array(len(close))
        atr = naive_atr(high, low, close, n)
        upper = lower = np.nan
        trend = -1.0
        for t in range(n, len(close)):
            mid = (high[t] + low[t]) / 2.0
            up, down = mid + factor * atr[t], mid - factor * atr[t]
            if t > n:
                down = down if down > lower or close[t - 1] < lower else lower
                up = up if up < upper or close[t - 1] > upper else upper
                trend = (1.0 if close[t] > up else -1.0) if trend < 0 else (-1.0 if close[t] < down else 1.0)
            upper, lower = up, down
            direction[t], line[t] = trend, (down if trend > 0 else up)
        return line, direction
    line, direction = naive_skip(run, [high, low, close], outputs=2)
    return {"line": line, "direction": direction}


def _supertrend(factor: float, n: int, high: pl.Expr, low: pl.Expr, close: pl.Expr):
    return kernel("supertrend", [high, low, close], float(factor), n, fields=("line", "direction"),
                  module="wilder")


# ------------------------------------------------------------------ the table


BUILTINS = (
    indicator("sma", (series(), window_length()), by_length(sma, "variable_sums", 1),
              naive_by_length(naive_sma, np.mean),
              doc="Simple moving average: the mean of the last `length` values; `length` may be a series.",
              example="sma(close, 20)", category=CATEGORY,
              warmup="length - 1", source="TA-Lib SMA"),
    indicator("ema", (series(), length()), lambda x, n: ema(x, n), lambda x, n: naive_ema(x, n),
              doc="Exponential moving average, alpha = 2/(length+1), seeded with the mean of the first "
                  "`length` values.",
              example="ema(close, 21)", category=CATEGORY,
              warmup="length - 1", source="TA-Lib EMA (seeded with the SMA of the first `length` values)"),
    indicator("wma", (series(), length()), wma, naive_wma,
              doc="Linearly weighted moving average: the newest value weighs `length`, the oldest 1.",
              example="wma(close, 10)", category=CATEGORY,
              warmup="length - 1", source="TA-Lib WMA"),
    _ema_combination("dema", (2.0, -1.0), "Double exponential moving average: 2 * ema - ema(ema).",
                     "dema(close, 20)"),
    _ema_combination("tema", (3.0, -3.0, 1.0),
                     "Triple exponential moving average: 3 * e1 - 3 * e2 + e3, each e the ema of the last.",
                     "tema(close, 20)"),
    indicator("trima", (series(), length()), _trima, _ref_trima,
              doc="Triangular moving average: an sma of an sma, weighting the middle of the window most.",
              example="trima(close, 20)", category=CATEGORY,
              warmup="length - 1", source="TA-Lib TRIMA"),
    indicator("kama", (series(), length(default=30)),
              lambda x, n: kernel("kama", [x], n, probed=True, summed=True), _ref_kama,
              doc="Kaufman adaptive moving average: an ema whose speed follows the efficiency ratio "
                  "(net change / total movement over `length` bars), between 2/3 and 2/31.",
              example="close > kama(close, 30)", category=CATEGORY,
              warmup="length", source="TA-Lib KAMA (fast 2, slow 30)"),
    indicator("hma", (series(), length()), _hma, _ref_hma,
              doc="Hull moving average: wma(2 * wma(src, length/2) - wma(src, length), sqrt(length)), "
                  "lengths rounded down.",
              example="hma(close, 16)", category=CATEGORY,
              warmup="length + floor(sqrt(length)) - 2",
              source="Alan Hull, \"How to reduce lag in a moving average\" (alanhull.com, 2005); as "
                     "TradingView ta.hma"),
    indicator("vwma", (series(), length(), price("volume")), _vwma, _ref_vwma,
              doc="Volume-weighted moving average: sum(src * volume) / sum(volume) over `length` bars; "
                  "missing when the volume sum is 0.",
              example="vwma(close, 20)", category=CATEGORY,
              warmup="length - 1", source="TradingView ta.vwma: sum(src * volume, n) / sum(volume, n)"),
    indicator("t3", (series(), length(default=5), number("vfactor", 0.7, "the volume factor, 0..1",
                                                         minimum=0.0)),
              lambda x, n, v: kernel("t3", [x], n, float(v), probed=True, summed=True), _ref_t3,
              doc="Tillson T3: six chained emas combined with weights set by the volume factor.",
              example="t3(close, 5, 0.7)", category=CATEGORY,
              warmup="6 * (length - 1)", source="TA-Lib T3"),
    indicator("sar", (number("acceleration", 0.02, "the step of the acceleration factor", minimum=0.0),
                      number("maximum", 0.2, "the largest acceleration factor", minimum=0.0),
                      *HL),
              lambda a, m, h, l: kernel("sar", [h, l], float(a), float(m)), _ref_sar,
              doc="Parabolic SAR (Wilder): a trailing stop that accelerates towards price and flips "
                  "side when price crosses it.",
              example="close crosses above sar()", category=CATEGORY,
              warmup="1", source="TA-Lib SAR (initial direction from bar 1's directional movement)"),
    indicator("supertrend", (number("factor", 3.0, "band width in ATRs", minimum=0.0),
                             length(default=10, doc="ATR length"),
                             *HLC),
              _supertrend, _ref_supertrend, returns=record("line", "direction"),
              doc="Supertrend: hl2 -/+ factor * atr(length) bands that only tighten while a trend "
                  "lasts; `.line` is the active band, `.direction` +1 in an uptrend, -1 in a downtrend.",
              example="supertrend(3, 10).direction > 0", category=CATEGORY,
              warmup="length",
              source="Olivier Seban's Supertrend as TradingView ta.supertrend (bands from hl2, ratcheting rule, "
                     "flip on a close beyond the band), with atr() as defined here; direction is +1 up / -1 down "
                     "(Pine's is the opposite sign)"),
    indicator("linreg", (series(), _length(REQUIRED, 2)),
              lambda x, n: _linreg(x, n), _ref_linreg, returns=record("value", "slope", "intercept"),
              doc="Least-squares line through the last `length` values: `.value` is the line at this "
                  "bar, `.slope` its change per bar, `.intercept` its value at the oldest bar.",
              example="linreg(close, 20).slope > 0", category=CATEGORY,
              warmup="length - 1", source="TA-Lib LINEARREG / LINEARREG_SLOPE / LINEARREG_INTERCEPT"),
)
