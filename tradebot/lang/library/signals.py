"""Series and signal functions: windows (highest, sum, zscore ...), changes, running state
(barssince, valuewhen, latch, ffill) and conditions (rising, between, cross).

All are causal: the value on a bar reads only that bar and earlier ones. Conditions that are
missing count as not true in barssince, valuewhen and latch (a warm-up never sets a state); the
other functions follow the window rule (missing if any bar they read is missing).
"""
from __future__ import annotations

import numpy as np
import polars as pl

from ..builtin_spec import condition, indicator, integer, length, series, window_length
from ..types import BOOL_SERIES
from .momentum import bars_since_extreme, naive_bars_since_extreme
from .naive import arr, lag, naive_by_length, naive_window, nan_array
from .support import any_missing, by_length, difference, divide, rolling_extreme, rolling_sum, share

SERIES, SIGNAL = "series", "signal"
NAN = float("nan")


def _is_true(c) -> np.ndarray:
    return arr(c) == 1.0  # missing (NaN) and false (0.0) are not true


def _bool(values: np.ndarray, missing: np.ndarray) -> np.ndarray:
    return np.where(missing, np.nan, values.astype(float))


# ------------------------------------------------------------------ lowerings and references


def _pct_change(x: pl.Expr, n: int) -> pl.Expr:
    before = x.shift(int(n))
    return divide((x - before).fill_nan(None), before)  # inf - inf: missing, not NaN


def _ref_pct_change(x, n):
    x, before = arr(x), lag(x, int(n))
    with np.errstate(all="ignore"):
        return np.where(before == 0, np.nan, (x - before) / before)


def _ref_cum(x):
    out, total = nan_array(len(x)), 0.0
    for t, value in enumerate(arr(x)):
        if not np.isnan(value):
            total += value
            out[t] = total
    return out


def _zscore(x: pl.Expr, n: int) -> pl.Expr:
    return divide((x - x.rolling_mean(n)).fill_nan(None), x.rolling_std(n, ddof=0).fill_nan(None))


def _ref_zscore(x, n):
    def z(w):
        sd = float(np.std(w))
        return (w[-1] - float(np.mean(w))) / sd if sd != 0 else np.nan
    return naive_window(x, n, z)


def _percentrank(x: pl.Expr, n: int) -> pl.Expr:
    at_or_below = [(x.shift(i) <= x).cast(pl.Float64) for i in range(1, n + 1)]
    return pl.sum_horizontal(at_or_below, ignore_nulls=False) * (100.0 / n)


def _ref_percentrank(x, n):
    return naive_window(x, n + 1, lambda w: float(np.sum(w[:-1] <= w[-1])) * (100.0 / n))


def _rising(x: pl.Expr, n: int) -> pl.Expr:
    return x > x.shift(1).rolling_max(n)


def _falling(x: pl.Expr, n: int) -> pl.Expr:
    return x < x.shift(1).rolling_min(n)


def _ref_rising(x, n, sign=1.0):
    def test(w):
        return float(np.all(sign * w[-1] > sign * w[:-1]))
    return naive_window(x, n + 1, test)


def _barssince(cond: pl.Expr) -> pl.Expr:
    index = pl.int_range(pl.len())
    last = pl.when(cond.fill_null(False)).then(index).forward_fill()
    return (index - last).cast(pl.Float64)


def _ref_barssince(cond):
    out, last = nan_array(len(cond)), None
    for t, hit in enumerate(_is_true(cond)):
        last = t if hit else last
        if last is not None:
            out[t] = float(t - last)
    return out


def _valuewhen(cond: pl.Expr, x: pl.Expr, occurrence: int) -> pl.Expr:
    hits = share(cond.fill_null(False))
    nth = hits.cast(pl.Int64).cum_sum() - 1 - int(occurrence)  # which hit, counting from the first
    where = pl.int_range(pl.len()).filter(hits).gather(pl.when(nth >= 0).then(nth))
    return x.gather(where)


def _ref_valuewhen(cond, x, occurrence):
    x, out, hits = arr(x), nan_array(len(x)), []
    for t, hit in enumerate(_is_true(cond)):
        if hit:
            hits.append(t)
        if len(hits) > occurrence:
            out[t] = x[hits[-1 - int(occurrence)]]
    return out


def _between(x: pl.Expr, lo: pl.Expr, hi: pl.Expr) -> pl.Expr:
    return pl.when(any_missing(x, lo, hi)).then(None).otherwise((x >= lo) & (x <= hi))


def _ref_between(x, lo, hi):
    x, lo, hi = arr(x), arr(lo), arr(hi)
    return _bool((x >= lo) & (x <= hi), np.isnan(x) | np.isnan(lo) | np.isnan(hi))


def _cross(a: pl.Expr, b: pl.Expr) -> pl.Expr:
    now = share((a - b).fill_nan(None))  # inf - inf: missing, as `-` makes it
    before = now.shift(1)
    return pl.when(any_missing(now, before)).then(None).otherwise(
        ((now > 0) & (before <= 0)) | ((now < 0) & (before >= 0)))


def _ref_cross(a, b):
    now, before = arr(a) - arr(b), lag(a, 1) - lag(b, 1)
    hit = ((now > 0) & (before <= 0)) | ((now < 0) & (before >= 0))
    return _bool(hit, np.isnan(now) | np.isnan(before))


def _latch(set_: pl.Expr, reset: pl.Expr) -> pl.Expr:
    state = pl.when(reset.fill_null(False)).then(False).when(set_.fill_null(False)).then(True)
    return state.forward_fill().fill_null(False)


def _ref_latch(set_, reset):
    out, state = nan_array(len(set_)), False
    for t, (on, off) in enumerate(zip(_is_true(set_), _is_true(reset))):
        state = False if off else True if on else state
        out[t] = float(state)
    return out


def _ref_fill(x):
    out, last = nan_array(len(x)), NAN
    for t, value in enumerate(arr(x)):
        last = last if np.isnan(value) else value
        out[t] = last
    return out


# ------------------------------------------------------------------ the table


def _fn(name, params, lower, reference, doc, example, category=SERIES, returns=None, **notes):
    """`notes`: the builtin's `warmup` and `source` (builtins.Builtin)."""
    extra = {"returns": returns} if returns is not None else {}
    return indicator(name, params, lower, reference, doc=doc, example=example, category=category, **extra, **notes)


def _bars_since_extreme(highest: bool):
    """highestbars / lowestbars: one declaration, the extreme named once."""
    name, word, price_name = ("highestbars", "highest", "high") if highest else ("lowestbars", "lowest", "low")
    oldest = "MAXINDEX" if highest else "MININDEX"
    return _fn(name, (series(), length()), lambda x, n: bars_since_extreme(x, n, highest=highest),
               lambda x, n: naive_bars_since_extreme(x, n, highest=highest),
               f"How many bars ago the {word} of the last `length` values was (0 = this bar; ties: the "
               "most recent).", f"{name}({price_name}, 20) {'== 0' if highest else '> 10'}",
               warmup="length - 1",
               source=f"TA-Lib AROON's bars since the {word} (ties: the most recent bar; TA-Lib {oldest} would "
                      "take the oldest)")


BARS_BACK = integer("length", 1, "bars back", minimum=1)

BUILTINS = (
    _fn("highest", (series(), window_length()),
        by_length(lambda x, n: rolling_extreme(x, n, highest=True), "variable_extreme", True),
        naive_by_length(lambda x, n: naive_window(x, n, np.max), np.max),
        "The highest value of the last `length` bars, this bar included; `length` may be a series "
        "(`highest(high, barssince(c) + 1)`), each bar's own window.",
        "close > highest(high, 20)[1]",
        warmup="length - 1", source="TA-Lib MAX"),
    _fn("lowest", (series(), window_length()),
        by_length(lambda x, n: rolling_extreme(x, n, highest=False), "variable_extreme", False),
        naive_by_length(lambda x, n: naive_window(x, n, np.min), np.min),
        "The lowest value of the last `length` bars, this bar included; `length` may be a series.",
        "close < lowest(low, 20)[1]",
        warmup="length - 1", source="TA-Lib MIN"),
    *(_bars_since_extreme(highest) for highest in (True, False)),
    _fn("change", (series(), BARS_BACK), lambda x, n: difference(x, int(n)),
        lambda x, n: arr(x) - lag(x, int(n)),
        "The difference from `length` bars ago: src - src[length].", "change(close, 5) > 0",
        warmup="length", source="TA-Lib MOM"),
    _fn("pct_change", (series(), BARS_BACK), _pct_change, _ref_pct_change,
        "The relative change from `length` bars ago as a fraction, (src - src[length]) / "
        "src[length], so it compares with percentages (`pct_change(close) > 1%`); missing when "
        "src[length] is 0.", "pct_change(close, 1) > 1%",
        warmup="length", source="pandas Series.pct_change"),
    # cum_sum skips missing bars; inf then -inf makes NaN, which is missing, not a value.
    _fn("cum", (series(),), lambda x: x.cum_sum().fill_nan(None), _ref_cum,
        "The running total of src since the first bar (missing bars are skipped).",
        "cum(volume) > 1000000",
        source="a running sum (TradingView ta.cum)"),
    _fn("sum", (series(), window_length()), by_length(lambda x, n: rolling_sum(x, n), "variable_sums", 0),
        naive_by_length(lambda x, n: naive_window(x, n, np.sum), np.sum),
        "The sum of the last `length` values; `length` may be a series.", "sum(volume, 24) > 1000",
        warmup="length - 1", source="TA-Lib SUM"),
    _fn("zscore", (series(), length()), _zscore, _ref_zscore,
        "How many (population) standard deviations src is from its mean over the last `length` "
        "bars; missing when they are all equal.", "zscore(close, 50) < -2",
        warmup="length - 1", source="(src - sma) / stdev with the population standard deviation"),
    _fn("percentrank", (series(), length()), _percentrank, _ref_percentrank,
        "The percentage of the previous `length` values that are at or below src (0..100).",
        "percentrank(close, 100) > 90",
        warmup="length", source="TradingView ta.percentrank"),
    _fn("rising", (series(), length(default=1)), _rising, lambda x, n: _ref_rising(x, n),
        "True when src is above each of its previous `length` values.", "rising(close, 3)",
        SIGNAL, BOOL_SERIES,
        warmup="length", source="TradingView ta.rising"),
    _fn("falling", (series(), length(default=1)), _falling, lambda x, n: _ref_rising(x, n, -1.0),
        "True when src is below each of its previous `length` values.", "falling(close, 3)",
        SIGNAL, BOOL_SERIES,
        warmup="length", source="TradingView ta.falling"),
    _fn("barssince", (condition(),), _barssince, _ref_barssince,
        "Bars since `cond` was last true (0 on a bar where it is true); missing until it first is.",
        "barssince(close crosses above sma(close, 20)) < 5", SIGNAL,
        warmup="until the first true", source="TradingView ta.barssince"),
    _fn("valuewhen", (condition(), series(), integer("occurrence", 0, "0 = the latest time")),
        _valuewhen, _ref_valuewhen,
        "The value src had on the bar where `cond` was true for the (occurrence+1)-th most recent "
        "time; missing until then.", "valuewhen(close crosses above sma(close, 20), low, 0)", SIGNAL,
        warmup="until the (occurrence+1)-th true", source="TradingView ta.valuewhen"),
    _fn("between", (series("x", "the value tested"), series("lo", "the lower bound"),
                    series("hi", "the upper bound")),
        _between, _ref_between,
        "True when lo <= x <= hi.", "between(rsi(close, 14), 40, 60)", SIGNAL, BOOL_SERIES,
        source="lo <= x <= hi"),
    _fn("cross", (series("a", "the first series"), series("b", "the second series")), _cross, _ref_cross,
        "True on a bar where a crosses b in either direction (a - b changes sign from the previous "
        "bar, or leaves 0).", "cross(close, sma(close, 20))", SIGNAL, BOOL_SERIES,
        warmup="1", source="TradingView ta.cross"),
    _fn("latch", (condition("set", "turns the state on"), condition("reset", "turns it off (wins "
                                                                        "over `set` on the same bar)")),
        _latch, _ref_latch,
        "A state that turns true on a bar where `set` is true and stays true until a bar where "
        "`reset` is; false before the first `set`.",
        "latch(close crosses above sma(close, 50), close crosses below sma(close, 50))",
        SIGNAL, BOOL_SERIES,
        source="a set/reset flip-flop; reset wins"),
    _fn("ffill", (series(),), lambda x: x.forward_fill(), _ref_fill,
        "src, with each missing value replaced by the last value before it (missing until the first).",
        "ffill(valuewhen(rising(volume, 5), close, 0))",
        warmup="until the first value", source="forward fill (pandas ffill)"),
)
