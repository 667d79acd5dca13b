"""The indicators TradingView (Pine Script) users reach for that the other families lack: rma,
alma, tsi, dmi, median, variance, correlation, pivothigh / pivotlow, heikinashi and ichimoku;
and Pine's `na(x)`, which tests for a missing value (how a pivot is detected).

Each equals its TA-Lib function where TA-Lib has one (rma(tr(), n) is ATR, dmi's fields are
PLUS_DI / MINUS_DI / ADX, variance is VAR, correlation is CORREL; tests/lang/test_talib.py) and
otherwise follows the published definition cited in their `source`, pinned by hand-worked cases
(tests/lang/test_pine_indicators.py) and by the naive references here.

Two Pine habits are deliberately not copied, because they read the future: `ichimoku` reports
each span on the bar it is computed (TradingView draws the cloud 25 bars ahead; the cloud over
a bar is `ichimoku().span_a[25]`), and `pivothigh` / `pivotlow` report a pivot on the bar that confirms
it, `right` bars after the pivot itself (as Pine does).
"""
from __future__ import annotations

import math

import numpy as np
import polars as pl

from ..builtin_spec import HL, HLC, OHLC, indicator, length, number, series
from ..types import BOOL_SERIES, record
from .momentum import _naive_directional
from .smoothing import ema, naive_ema, naive_skip, sum_in_order
from .naive import arr, lag, naive_window, naive_windows, nan_array
from .support import divide, kernel, rolling_extreme, rolling_weighted, share, window

MODULE = "pine_kernels"


# ------------------------------------------------------------------ averages


def _rma(x: pl.Expr, n: int) -> pl.Expr:
    return kernel("rma", [x], n, module=MODULE)


def naive_rma(x, n: int) -> np.ndarray:
    def run(x):
        out = nan_array(len(x))
        if len(x) < n:
            return out
        value = sum_in_order(x[:n]) / n
        out[n - 1] = value
        for t in range(n, len(x)):
            value = (value * (n - 1) + x[t]) / n
            out[t] = value
        return out
    return naive_skip(run, [x])


def alma_weights(n: int, offset: float, sigma: float) -> list[float]:
    """Arnaud Legoux's Gaussian weights, the oldest bar first: exp(-(i - m)^2 / (2 s^2)) with
    m = offset * (n - 1) and s = n / sigma."""
    m, s = offset * (n - 1), n / sigma
    return [math.exp(-((i - m) ** 2) / (2 * s * s)) for i in range(n)]


def _alma(x: pl.Expr, n: int, offset: float, sigma: float) -> pl.Expr:
    weights = alma_weights(n, float(offset), float(sigma))
    return rolling_weighted(x, weights, sum(weights))


def _ref_alma(x, n, offset, sigma):
    weights = alma_weights(n, float(offset), float(sigma))
    return naive_window(x, n, lambda w: sum_in_order(wi * xi for wi, xi in zip(weights, w)) / sum(weights))


# ------------------------------------------------------------------ momentum


def _tsi(x: pl.Expr, short: int, long: int) -> pl.Expr:
    move = share(x - x.shift(1))
    smoothed = ema(ema(move, long), short)
    magnitude = ema(ema(move.abs(), long), short)
    return divide(100.0 * smoothed, magnitude)


def _ref_tsi(x, short, long):
    move = arr(x) - lag(x, 1)
    smoothed = naive_ema(naive_ema(move, long), short)
    magnitude = naive_ema(naive_ema(np.abs(move), long), short)
    with np.errstate(all="ignore"):
        return np.where(magnitude == 0, np.nan, 100.0 * smoothed / magnitude)


DMI_FIELDS = ("plus", "minus", "adx")


def _dmi(n: int, high, low, close) -> dict[str, pl.Expr]:
    # Three fields of Wilder's directional system, missing together until ADX has its first
    # value (the rule of every multi-output builtin); each a `directional` kernel as plus_di,
    # minus_di and adx.
    fields = {f: share(kernel("directional", [high, low, close], n, code, module="wilder"))
              for code, f in enumerate(DMI_FIELDS)}
    ready = fields["adx"].is_not_null()
    return {f: pl.when(ready).then(expr) for f, expr in fields.items()}


def _ref_dmi(n, high, low, close):
    values = naive_skip(_naive_directional, [high, low, close], n, outputs=3)
    adx = values[2]
    return {f: np.where(np.isnan(adx), np.nan, v) for f, v in zip(DMI_FIELDS, values)}


# ------------------------------------------------------------------ statistics


def _variance(x: pl.Expr, n: int) -> pl.Expr:
    deviation = window("mean_and_deviation", [x], n, 0.0, 1.0, module="sums")
    return deviation * deviation


def _ref_correlation(a, b, n):
    def pearson(x, y):
        if np.all(x == x[0]) or np.all(y == y[0]):
            return 0.0
        dx, dy = x - np.mean(x), y - np.mean(y)
        return float(np.sum(dx * dy) / math.sqrt(float(np.sum(dx * dx)) * float(np.sum(dy * dy))))
    return naive_windows([a, b], n, pearson)


# ------------------------------------------------------------------ pivots


def _pivot(highest: bool):
    def lower(src: pl.Expr, left: int, right: int) -> pl.Expr:
        src = share(src)
        center = src.shift(right)
        before = rolling_extreme(src.shift(right + 1), left, highest=highest)
        after = rolling_extreme(src, right, highest=highest)
        above = (center > before) & (center >= after) if highest else (center < before) & (center <= after)
        return pl.when(above).then(center)
    return lower


def _ref_pivot(highest: bool):
    sign = 1.0 if highest else -1.0

    def reference(src, left, right):
        def test(w):
            center = sign * w[left]
            beats_before = all(center > sign * v for v in w[:left])
            beats_after = all(center >= sign * v for v in w[left + 1:])
            return w[left] if beats_before and beats_after else np.nan
        return naive_window(src, left + 1 + right, test)
    return reference


def _pivot_builtin(name: str, highest: bool, rule: str, example: str, warmup: str, source: str):
    kind = "high" if highest else "low"
    return indicator(name, (series(), length("left", doc="bars before the pivot"),
                            length("right", doc="bars after it, waited for")),
                     _pivot(highest), _ref_pivot(highest), category="series", example=example,
                     warmup=warmup, source=source,
                     doc=f"A pivot {kind}'s price, reported `right` bars after the pivot (when those bars "
                         f"have confirmed it, so no lookahead), missing on every other bar: the bar `right` "
                         f"bars ago is {rule} the `right` bars after it.")


# ------------------------------------------------------------------ candles and clouds


HA_FIELDS = ("open", "high", "low", "close")


def _heikinashi(open_, high, low, close) -> dict[str, pl.Expr]:
    return kernel("heikinashi", [open_, high, low, close], fields=HA_FIELDS, module=MODULE)


def _ref_heikinashi(open_, high, low, close):
    def run(o, h, l, c):
        ha_open, ha_high, ha_low, ha_close = (nan_array(len(c)) for _ in range(4))
        for t in range(len(c)):
            ha_close[t] = (o[t] + h[t] + l[t] + c[t]) / 4.0
            ha_open[t] = (o[t] + c[t]) / 2.0 if t == 0 else (ha_open[t - 1] + ha_close[t - 1]) / 2.0
            ha_high[t] = max(h[t], ha_open[t], ha_close[t])
            ha_low[t] = min(l[t], ha_open[t], ha_close[t])
        return ha_open, ha_high, ha_low, ha_close
    return dict(zip(HA_FIELDS, naive_skip(run, [open_, high, low, close], outputs=4)))


ICHIMOKU_FIELDS = ("conversion", "base", "span_a", "span_b")


def _midpoint(high: pl.Expr, low: pl.Expr, n: int) -> pl.Expr:
    # inf + -inf (an infinite high and low in one window) is not a number: missing, not NaN.
    return share(((rolling_extreme(high, n, highest=True) + rolling_extreme(low, n, highest=False)) / 2.0)
                 .fill_nan(None))


def _ichimoku(conversion: int, base: int, span_b: int, high, low) -> dict[str, pl.Expr]:
    high, low = share(high), share(low)
    lines = {"conversion": _midpoint(high, low, conversion), "base": _midpoint(high, low, base),
             "span_b": _midpoint(high, low, span_b)}
    lines["span_a"] = (lines["conversion"] + lines["base"]) / 2.0
    ready = lines["conversion"].is_not_null() & lines["base"].is_not_null() & lines["span_b"].is_not_null()
    return {f: pl.when(ready).then(lines[f]) for f in ICHIMOKU_FIELDS}


def _ref_ichimoku(conversion, base, span_b, high, low):
    def mid(n):
        return (naive_window(high, n, np.max) + naive_window(low, n, np.min)) / 2.0
    lines = {"conversion": mid(conversion), "base": mid(base), "span_b": mid(span_b)}
    lines["span_a"] = (lines["conversion"] + lines["base"]) / 2.0
    missing = np.isnan(lines["conversion"]) | np.isnan(lines["base"]) | np.isnan(lines["span_b"])
    return {f: np.where(missing, np.nan, lines[f]) for f in ICHIMOKU_FIELDS}


# ------------------------------------------------------------------ the table

BUILTINS = (
    indicator("rma", (series(), length()), _rma, naive_rma, category="trend",
              doc="Wilder's moving average (TradingView ta.rma): alpha = 1/length, seeded with the mean "
                  "of the first `length` values; the smoothing inside rsi and atr.",
              example="rma(tr(), 14)",
              warmup="length - 1",
              source="TradingView ta.rma (Wilder's smoothing, as inside TA-Lib RSI/ATR; rma(tr(), n) equals TA-Lib "
                     "ATR)"),
    indicator("alma", (series(), length(default=9), number("offset", 0.85, "where the weights peak, 0 "
                                                           "(oldest bar) .. 1 (newest)", minimum=0.0),
                       number("sigma", 6.0, "sharpness: larger is a narrower bell", minimum=0.01)),
              _alma, _ref_alma, category="trend",
              doc="Arnaud Legoux moving average: a Gaussian-weighted mean of the last `length` values, "
                  "its peak at offset * (length - 1) bars from the oldest, width length / sigma.",
              example="alma(close, 9, 0.85, 6)",
              warmup="length - 1",
              source="Arnaud Legoux & Dimitrios Kouzis-Loukas' ALMA as TradingView ta.alma (m = offset * (length - "
                     "1), s = length / sigma)"),
    indicator("tsi", (series(), length("short", 13, "the second (outer) smoothing"),
                      length("long", 25, "the first (inner) smoothing")),
              _tsi, _ref_tsi, category="momentum",
              doc="True strength index (Blau): 100 * ema(ema(change, long), short) / ema(ema(|change|, "
                  "long), short) of the one-bar change, -100..100; missing when price has not moved.",
              example="tsi(close, 13, 25) crosses above 0",
              warmup="long + short - 1",
              source="William Blau's True Strength Index (Stocks & Commodities, 1991), each EMA seeded with its "
                     "first `length` values' mean"),
    indicator("dmi", (length(default=14), *HLC), _dmi, _ref_dmi, category="momentum",
              returns=record(*DMI_FIELDS),
              doc="Wilder's directional movement system in one call: `.plus` (+DI), `.minus` (-DI) and "
                  "`.adx`, all from the bar ADX has its first value.",
              example="dmi(14).plus > dmi(14).minus and dmi(14).adx > 25", see_also=("adx", "plus_di"),
              warmup="2 * length - 1",
              source="TA-Lib PLUS_DI, MINUS_DI and ADX (TradingView ta.dmi with equal lengths)"),
    indicator("median", (series(), length()), lambda x, n: x.rolling_median(n),
              lambda x, n: naive_window(x, n, np.median), category="series",
              doc="The median of the last `length` values (the mean of the two middle ones when "
                  "`length` is even).", example="close > median(close, 21)",
              warmup="length - 1", source="the window's median (TradingView ta.median)"),
    indicator("variance", (series(), length()), _variance, lambda x, n: naive_window(x, n, np.var),
              category="series",
              doc="The (population) variance of the last `length` values: stdev squared.",
              example="variance(close, 20) > 0",
              warmup="length - 1", source="TA-Lib VAR (population; TradingView ta.variance)"),
    indicator("correlation", (series("a", "the first series"), series("b", "the second series"), length()),
              lambda a, b, n: window("correlation", [a, b], n, module=MODULE), _ref_correlation,
              category="series",
              doc="Pearson's correlation of a and b over the last `length` bars, -1..1; 0 when either "
                  "is flat over the window.", example="correlation(close, volume, 20) > 0.5",
              warmup="length - 1", source="TA-Lib CORREL (Pearson); a flat window is 0"),
    indicator("na", (series("x", "any number series"),), lambda x: x.is_null(),
              lambda x: np.isnan(arr(x)).astype(float), category="signal", returns=BOOL_SERIES,
              doc="True on bars where x is missing (warm-up, no pivot, a division by zero), false "
                  "elsewhere: never missing itself.",
              example="not na(pivothigh(high, 5, 5))",
              source="TradingView na(x)"),
    _pivot_builtin("pivothigh", True, "above each of the `left` bars before it and at least as high as",
                   "close > ffill(pivothigh(high, 5, 5))",
                   warmup="left + right",
                   source="TradingView ta.pivothigh(src, left, right): a value on the confirming bar; strict on "
                          "the left, ties allowed on the right"),
    _pivot_builtin("pivotlow", False, "below each of the `left` bars before it and at most as low as",
                   "close < ffill(pivotlow(low, 5, 5))",
                   warmup="left + right", source="TradingView ta.pivotlow(src, left, right), mirrored"),
    indicator("heikinashi", OHLC, _heikinashi, _ref_heikinashi, category="trend",
              returns=record(*HA_FIELDS),
              doc="Heikin-Ashi candles: `.close` = ohlc4, `.open` = the mean of the previous HA open and "
                  "close (the first: (open + close) / 2), `.high` / `.low` the bar's extremes stretched "
                  "to include the HA open and close.",
              example="heikinashi().close > heikinashi().open",
              source="Dan Valcu, \"Using the Heikin-Ashi technique\" (Stocks & Commodities, 2004), as TradingView's "
                     "Heikin-Ashi chart"),
    indicator("ichimoku", (length("conversion", 9, "the conversion line's window"),
                           length("base", 26, "the base line's window"),
                           length("span_b", 52, "the second span's window"), *HL),
              _ichimoku, _ref_ichimoku, category="trend", returns=record(*ICHIMOKU_FIELDS),
              doc="Ichimoku lines, each the midpoint of the highest high and lowest low of its window: "
                  "`.conversion` (tenkan), `.base` (kijun), `.span_a` (their mean) and `.span_b`; spans "
                  "are reported on the bar they are computed, never shifted forward (the cloud TradingView "
                  "draws over this bar is `.span_a[25]`, `.span_b[25]`). No lagging span: it reads "
                  "the future.",
              example="close > ichimoku().span_a[25]",
              warmup="max(conversion, base, span_b) - 1",
              source="Goichi Hosoda's Ichimoku Kinko Hyo lines as TradingView's Ichimoku Cloud, without the "
                     "forward and backward displacement"),
)
