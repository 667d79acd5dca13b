"""Momentum indicators: oscillators and rate-of-change measures, each equal to the TA-Lib
function named in its `source` (tests/lang/test_talib.py).

Where TA-Lib answers 0 instead of dividing by zero (a flat window, a zero price) so does tradebot,
with TA-Lib's tests: a range is "flat" within 1e-14 of its own price level (TA_IS_ZERO_SCALED),
a ratio of averages within the fixed band 1e-14.
"""
from __future__ import annotations

import numpy as np
import polars as pl

from ..builtin_spec import HL, HLC, OHLC, indicator, length, price, series
from ..types import record
from .smoothing import naive_ema, naive_skip, naive_sma, sum_in_order
from .naive import arr, lag, naive_window, naive_windows, nan_array
from .support import TA_EPSILON, difference, kernel, rolling_extreme, share, window

CATEGORY = "momentum"


# ------------------------------------------------------------------ shared pieces


def naive_flat(high: float, low: float) -> bool:
    return abs(high - low) <= TA_EPSILON * (abs(high) + abs(low))


def _stochastic(n: int, smooth_k: int, smooth_d: int, close, high, low) -> dict[str, pl.Expr]:
    """The slow stochastic's fields, one kernel each (TA-Lib STOCH with SMA smoothing): as Polars
    columns and expressions they took 32 ms for 1M bars."""
    return {field: window("stochastic", [close, high, low], n, smooth_k, smooth_d, field == "d")
            for field in ("k", "d")}


def _ref_stochastic(close, high, low, n):
    def k(h, l, c):
        hh, ll = np.max(h), np.min(l)
        return 0.0 if naive_flat(hh, ll) else (c - ll) / (hh - ll) * 100.0
    return naive_windows([high, low], n, k, at_bar=[close])  # only the bar's own close is read


def bars_since_extreme(x: pl.Expr, n: int, *, highest: bool) -> pl.Expr:
    """Bars since the highest (lowest) of the last n values, 0..n-1; ties go to the most recent."""
    return rolling_extreme(x, n, highest=highest, ages=True)


def naive_bars_since_extreme(x, n: int, *, highest: bool) -> np.ndarray:
    def since(window):
        target = np.max(window) if highest else np.min(window)
        return float(next(k for k in range(n) if window[n - 1 - k] == target))
    return naive_window(x, n, since)


# ------------------------------------------------------------------ lowerings


def _macd(x: pl.Expr, fast: int, slow: int, signal: int) -> dict[str, pl.Expr]:
    # One kernel per field (the three EMAs side by side): as three EMA kernels and Polars
    # arithmetic the histogram took 13 ms for 1M bars, TA-Lib's MACD 2.6.
    fast, slow = min(fast, slow), max(fast, slow)  # TA-Lib swaps them
    return {field: kernel("macd", [x], fast, slow, signal, code, probed=True, summed=True)
            for code, field in enumerate(("macd", "signal", "hist"))}


def _ref_macd(x, fast, slow, signal):
    fast, slow = min(fast, slow), max(fast, slow)
    line = naive_ema(x, fast, slow) - naive_ema(x, slow)
    trigger = naive_ema(line, signal)
    gate = np.isnan(trigger)
    return {name: np.where(gate, np.nan, v) for name, v in
            (("macd", line), ("signal", trigger), ("hist", line - trigger))}


def _stoch(n: int, smooth_k: int, smooth_d: int, high, low, close) -> dict[str, pl.Expr]:
    return _stochastic(n, smooth_k, smooth_d, close, high, low)


def _ref_stoch(n, smooth_k, smooth_d, high, low, close):
    k = naive_sma(_ref_stochastic(close, high, low, n), smooth_k)
    d = naive_sma(k, smooth_d)
    return {"k": np.where(np.isnan(d), np.nan, k), "d": d}


def _rsi(x: pl.Expr, n: int) -> pl.Expr:
    return kernel("wilder_oscillator", [x], n, False, module="wilder", probed=True, summed=True)


def _cmo(x: pl.Expr, n: int) -> pl.Expr:
    return kernel("wilder_oscillator", [x], n, True, module="wilder", probed=True, summed=True)


def _stochrsi(x: pl.Expr, n: int, k_length: int, d_length: int) -> dict[str, pl.Expr]:
    r = share(_rsi(x, n))
    return _stochastic(k_length, 1, d_length, r, r, r)  # the fast stochastic of the rsi


def _ref_stochrsi(x, n, k_length, d_length):
    r = _ref_rsi(x, n)
    k = _ref_stochastic(r, r, r, k_length)
    d = naive_sma(k, d_length)
    return {"k": np.where(np.isnan(d), np.nan, k), "d": d}


def _cci(n: int, high: pl.Expr, low: pl.Expr, close: pl.Expr) -> pl.Expr:
    # A kernel: the Polars form (n shifted deviations summed) took 85-100 ms for 1M bars.
    return window("cci", [high, low, close], n, module="sums")


def _ref_cci(n, high, low, close):
    def cci(tp):
        mean = sum_in_order(tp) / n
        deviation = sum_in_order(abs(v - mean) for v in tp) / n
        above = tp[-1] - mean
        scale = TA_EPSILON * abs(mean)
        return 0.0 if abs(above) <= scale or abs(deviation) <= scale else above / (0.015 * deviation)
    return naive_window((arr(high) + arr(low) + arr(close)) / 3, n, cci)


def _roc(x: pl.Expr, n: int) -> pl.Expr:
    # A kernel: the Polars when/then form took 3.8 ms for 1M bars, TA-Lib's ROC 1.4.
    return window("rate_of_change", [x], n, summed=True)


def _ref_roc(x, n):
    x, before = arr(x), lag(x, n)
    with np.errstate(all="ignore"):
        return np.where(before == 0, 0.0, (x / before - 1.0) * 100.0)


def _willr(n: int, high, low, close) -> pl.Expr:
    return window("range_position", [close, high, low], n, True)


def _ref_willr(n, high, low, close):
    def r(h, l, c):
        hh, ll = np.max(h), np.min(l)
        return 0.0 if naive_flat(hh, ll) else (hh - c) / (hh - ll) * -100.0
    return naive_windows([high, low], n, r, at_bar=[close])  # only the bar's own close is read


def _mfi(n: int, high, low, close, volume) -> pl.Expr:
    # A kernel, though MFI is a window: TA-Lib keeps its sums by adding and subtracting, and the
    # rounding residue those carry shows in the result when the window's flow is small.
    return kernel("mfi", [high, low, close, volume], n, module="wilder")


def _ref_mfi(n, high, low, close, volume):
    def run(high, low, close, volume):
        typical = (high + low + close) / 3.0
        before = lag(typical, 1)
        change = typical - before
        flow = np.where(np.abs(change) <= TA_EPSILON * (np.abs(typical) + np.abs(before)), 0.0,
                        typical * volume)
        flow = np.where(np.isnan(change), np.nan, flow)
        up, down = np.where(change < 0, 0.0, flow), np.where(change < 0, flow, 0.0)

        def mfi(u, d):
            total = sum_in_order(u) + sum_in_order(d)
            return 0.0 if total <= 0 else 100.0 * (min(max(sum_in_order(u), 0.0), total) / total)
        return naive_windows([up, down], n, mfi)
    return naive_skip(run, [high, low, close, volume])


def _directional(field: str):
    def lower(n: int, high, low, close) -> pl.Expr:
        code = ("plus_di", "minus_di", "adx").index(field)
        return kernel("directional", [high, low, close], n, code, module="wilder")
    return lower


def _ref_directional(field: str):
    def reference(n, high, low, close):
        return naive_skip(_naive_directional, [high, low, close], n, outputs=3)[
            ("plus_di", "minus_di", "adx").index(field)]
    return reference


def _naive_directional(high, low, close, n):
    size = len(close)
    plus, minus, adx = nan_array(size), nan_array(size), nan_array(size)
    if size <= n:
        return plus, minus, adx
    dms, trs = [(0.0, 0.0)], [np.nan]
    for t in range(1, size):
        up, down = high[t] - high[t - 1], low[t - 1] - low[t]
        dms.append((0.0, down) if down > 0 and up < down else (up, 0.0) if up > 0 and up > down else (0.0, 0.0))
        trs.append(max(high[t] - low[t], abs(high[t] - close[t - 1]), abs(low[t] - close[t - 1])))
    pdm = sum_in_order(dm[0] for dm in dms[1:n])
    mdm = sum_in_order(dm[1] for dm in dms[1:n])
    tr = sum_in_order(trs[1:n])
    dxs = []
    for t in range(n, size):
        pdm, mdm = pdm - pdm / n + dms[t][0], mdm - mdm / n + dms[t][1]
        tr = tr - tr / n + trs[t]
        plus[t], minus[t] = (100.0 * (pdm / tr), 100.0 * (mdm / tr)) if tr > 0 else (0.0, 0.0)
        total = plus[t] + minus[t]
        dx = 100.0 * (abs(minus[t] - plus[t]) / total) if tr > 0 and abs(total) >= TA_EPSILON else None
        if t < 2 * n:
            dxs.append(dx or 0.0)
            if t == 2 * n - 1:
                adx[t] = sum_in_order(dxs) / n
        else:
            adx[t] = adx[t - 1] if dx is None else (adx[t - 1] * (n - 1) + dx) / n
    return plus, minus, adx


def _aroon(n: int, high, low) -> dict[str, pl.Expr]:
    factor = 100.0 / n
    return {"up": factor * (n - bars_since_extreme(high, n + 1, highest=True)),
            "down": factor * (n - bars_since_extreme(low, n + 1, highest=False))}


def _ref_aroon(n, high, low):
    factor = 100.0 / n
    return {"up": factor * (n - naive_bars_since_extreme(high, n + 1, highest=True)),
            "down": factor * (n - naive_bars_since_extreme(low, n + 1, highest=False))}


def _aroonosc(n: int, high, low) -> pl.Expr:
    # TA-Lib: factor * (index of the highest - index of the lowest).
    return (100.0 / n) * (bars_since_extreme(low, n + 1, highest=False)
                          - bars_since_extreme(high, n + 1, highest=True))


def _ref_aroonosc(n, high, low):
    return (100.0 / n) * (naive_bars_since_extreme(low, n + 1, highest=False)
                          - naive_bars_since_extreme(high, n + 1, highest=True))


def _trix(x: pl.Expr, n: int) -> pl.Expr:
    # The rate of change of the triple ema in one kernel; a rate of change reads the bar before,
    # so the bar after a missing one is missing (`gaps`), as a window over the ema would be.
    return kernel("trix", [x], n, gaps=1, probed=True, summed=True)


def _ref_trix(x, n):
    return _ref_roc(naive_ema(naive_ema(naive_ema(x, n), n), n), 1)


def _ultosc(fast: int, mid: int, slow: int, high, low, close) -> pl.Expr:
    # A kernel with TA-Lib's running totals: six Polars rolling sums took 67 ms for 1M bars.
    return window("ultosc", [high, low, close], fast, mid, slow, summed=True)


def _ref_ultosc(fast, mid, slow, high, low, close):
    high, low, close = arr(high), arr(low), arr(close)
    prev = lag(close, 1)
    true_low = np.minimum(low, prev)
    # TA-Lib's terms as written, not max(high, prev) - true low: the two differ when a script
    # passes a "high" below its "low" (ultosc(1, 1, 1, 1, open, open) on two bars: 0.126 against 0).
    true_range = np.maximum(np.maximum(high - low, np.abs(prev - high)), np.abs(prev - low))
    buying = close - true_low
    longest = max(fast, mid, slow)

    def osc(b, r):
        total = 0.0
        for weight, n in zip((4.0, 2.0, 1.0), sorted((fast, mid, slow))):
            rs = np.sum(r[-n:])
            total += weight * (np.sum(b[-n:]) / rs) if abs(rs) >= 1e-14 else 0.0  # TA_IS_ZERO
        return 100.0 * (total / 7.0)
    return naive_windows([buying, true_range], longest, osc)


def _apo(x: pl.Expr, fast: int, slow: int) -> pl.Expr:
    return kernel("price_oscillator", [x], min(fast, slow), max(fast, slow), False, probed=True, summed=True)  # ema - ema


def _ref_apo(x, fast, slow):
    fast, slow = min(fast, slow), max(fast, slow)
    return naive_ema(x, fast) - naive_ema(x, slow)


def _ppo(x: pl.Expr, fast: int, slow: int) -> pl.Expr:
    return kernel("price_oscillator", [x], min(fast, slow), max(fast, slow), True, probed=True, summed=True)  # (ema - ema) / ema


def _ref_ppo(x, fast, slow):
    fast, slow = min(fast, slow), max(fast, slow)
    quick, base = naive_ema(x, fast), naive_ema(x, slow)
    with np.errstate(all="ignore"):
        ppo = np.where(np.abs(base) >= 1e-14, (quick - base) / base * 100.0, 0.0)
    return np.where(np.isnan(quick) | np.isnan(base), np.nan, ppo)


def _bop(open_, high, low, close) -> pl.Expr:
    # A kernel: the Polars when/then form took 3.5 ms for 1M bars, TA-Lib's BOP 1.4.
    return window("balance_of_power", [open_, high, low, close], summed=True)


def _ref_bop(open_, high, low, close):
    span = arr(high) - arr(low)
    with np.errstate(all="ignore"):
        return np.where(np.isnan(span), np.nan, np.where(span <= 0, 0.0, (arr(close) - arr(open_)) / span))


def _ref_rsi(x, n):
    return naive_skip(_naive_oscillator, [x], n, False)


def _ref_cmo(x, n):
    return naive_skip(_naive_oscillator, [x], n, True)


def _naive_oscillator(x, n, cmo):
    out = nan_array(len(x))
    if len(x) <= n:
        return out
    gain = loss = 0.0
    for t in range(1, len(x)):
        diff = x[t] - x[t - 1]
        if t > n:  # Wilder: (previous * (n-1) + today) / n, after a plain-mean seed
            gain, loss = gain * (n - 1), loss * (n - 1)
        if diff < 0:
            loss -= diff
        else:
            gain += diff
        if t >= n:
            gain, loss = gain / n, loss / n
            total = gain + loss
            out[t] = 100.0 * (((gain - loss) if cmo else gain) / total) if total > 0 else 0.0
    return out


# ------------------------------------------------------------------ the table

BUILTINS = (
    indicator("rsi", (series(), length(default=14)), _rsi, _ref_rsi,
              doc="Relative Strength Index (Wilder): 100 * average gain / (average gain + average loss) "
                  "of one-bar changes, Wilder-smoothed after a plain-mean seed. 0 when flat.",
              example="rsi(close, 14) < 30", category=CATEGORY,
              warmup="length", source="TA-Lib RSI"),
    indicator("macd", (series(), length("fast", 12), length("slow", 26), length("signal", 9)),
              _macd, _ref_macd, returns=record("macd", "signal", "hist"),
              doc="Moving average convergence/divergence: `.macd` = ema(fast) - ema(slow), `.signal` its "
                  "ema, `.hist` their difference.",
              example="macd(close).hist > 0", category=CATEGORY,
              warmup="max(fast, slow) + signal - 2",
              source="TA-Lib MACD (all three fields from the same bar; the fast EMA is seeded at the slow period, "
                     "as TA-Lib does)"),
    indicator("stoch", (length(default=14), length("smooth_k", 3), length("smooth_d", 3), *HLC),
              _stoch, _ref_stoch, returns=record("k", "d"),
              doc="Slow stochastic: `.k` is the sma of 100 * (close - lowest low) / (highest high - lowest "
                  "low) over `length` bars, `.d` the sma of `.k`. 0 when the range is flat.",
              example="stoch(14, 3, 3).k crosses above stoch(14, 3, 3).d", category=CATEGORY,
              warmup="length + smooth_k + smooth_d - 3", source="TA-Lib STOCH with SMA smoothing"),
    indicator("stochrsi", (series(), length(default=14), length("k_length", 14), length("d_length", 3)),
              _stochrsi, _ref_stochrsi, returns=record("k", "d"),
              doc="Stochastic RSI: the fast stochastic of rsi(src, length) over `k_length` bars (`.k`) "
                  "and its sma over `d_length` bars (`.d`).",
              example="stochrsi(close).k < 20", category=CATEGORY,
              warmup="length + k_length + d_length - 2", source="TA-Lib STOCHRSI with SMA %D"),
    indicator("cci", (length(default=20), *HLC), _cci, _ref_cci,
              doc="Commodity Channel Index (Lambert): (typical price - its sma) / (0.015 * mean absolute "
                  "deviation), over `length` bars. 0 when flat.",
              example="cci(20) > 100", category=CATEGORY,
              warmup="length - 1", source="TA-Lib CCI"),
    indicator("roc", (series(), length(default=10)), _roc, _ref_roc,
              doc="Rate of change in percent: (src / src[length] - 1) * 100; 0 when src[length] is 0.",
              example="roc(close, 10) > 2", category=CATEGORY,
              warmup="length", source="TA-Lib ROC"),
    indicator("mom", (series(), length(default=10)), difference,
              lambda x, n: arr(x) - lag(x, n),
              doc="Momentum: src - src[length].", example="mom(close, 10) > 0", category=CATEGORY,
              warmup="length", source="TA-Lib MOM"),
    indicator("willr", (length(default=14), *HLC), _willr, _ref_willr,
              doc="Williams %R: -100 * (highest high - close) / (highest high - lowest low) over `length` "
                  "bars, from -100 to 0. 0 when the range is flat.",
              example="willr(14) < -80", category=CATEGORY,
              warmup="length - 1", source="TA-Lib WILLR"),
    indicator("mfi", (length(default=14), *HLC, price("volume")), _mfi, _ref_mfi,
              doc="Money Flow Index: 100 * up money flow / total money flow of the typical price over "
                  "`length` bars; 0 when the total flow is below 1 (as TA-Lib).",
              example="mfi(14) > 80", category=CATEGORY,
              warmup="length", source="TA-Lib MFI"),
    indicator("adx", (length(default=14), *HLC), _directional("adx"), _ref_directional("adx"),
              doc="Average Directional Index (Wilder): the smoothed |+DI - -DI| / (+DI + -DI), 0..100; "
                  "trend strength whatever its direction.",
              example="adx(14) > 25", category=CATEGORY,
              warmup="2 * length - 1", source="TA-Lib ADX"),
    indicator("plus_di", (length(default=14), *HLC), _directional("plus_di"),
              _ref_directional("plus_di"),
              doc="Plus directional indicator (Wilder): 100 * smoothed +DM / smoothed true range.",
              example="plus_di(14) > minus_di(14)", category=CATEGORY,
              warmup="length", source="TA-Lib PLUS_DI"),
    indicator("minus_di", (length(default=14), *HLC), _directional("minus_di"),
              _ref_directional("minus_di"),
              doc="Minus directional indicator (Wilder): 100 * smoothed -DM / smoothed true range.",
              example="minus_di(14) > 30", category=CATEGORY,
              warmup="length", source="TA-Lib MINUS_DI"),
    indicator("aroon", (length(default=14), *HL), _aroon, _ref_aroon,
              returns=record("up", "down"),
              doc="Aroon (Chande): `.up` = 100 * (length - bars since the highest high) / length over "
                  "the last length + 1 bars, `.down` likewise for the lowest low.",
              example="aroon(25).up > 70", category=CATEGORY,
              warmup="length", source="TA-Lib AROON (ties go to the most recent bar)"),
    indicator("aroonosc", (length(default=14), *HL), _aroonosc,
              _ref_aroonosc,
              doc="Aroon oscillator: aroon up - aroon down, -100..100.",
              example="aroonosc(25) > 50", category=CATEGORY,
              warmup="length", source="TA-Lib AROONOSC"),
    indicator("trix", (series(), length(default=30)), _trix, _ref_trix,
              doc="TRIX: the one-bar rate of change, in percent, of a triple ema.",
              example="trix(close, 15) crosses above 0", category=CATEGORY,
              warmup="3 * (length - 1) + 1", source="TA-Lib TRIX"),
    indicator("ultosc", (length("fast", 7), length("mid", 14), length("slow", 28), *HLC),
              _ultosc, _ref_ultosc,
              doc="Ultimate Oscillator (Williams): weighted 4:2:1 average of buying pressure / true "
                  "range over three lengths, 0..100.",
              example="ultosc() < 30", category=CATEGORY,
              warmup="max(fast, mid, slow)", source="TA-Lib ULTOSC"),
    indicator("cmo", (series(), length(default=14)), _cmo, _ref_cmo,
              doc="Chande Momentum Oscillator: 100 * (gains - losses) / (gains + losses), Wilder-smoothed "
                  "as in rsi; -100..100.",
              example="cmo(close, 14) > 50", category=CATEGORY,
              warmup="length", source="TA-Lib CMO"),
    indicator("apo", (series(), length("fast", 12), length("slow", 26)), _apo, _ref_apo,
              doc="Absolute price oscillator: ema(fast) - ema(slow).",
              example="apo(close, 12, 26) > 0", category=CATEGORY,
              warmup="max(fast, slow) - 1", source="TA-Lib APO with EMA averages (matype 1)"),
    indicator("ppo", (series(), length("fast", 12), length("slow", 26)), _ppo, _ref_ppo,
              doc="Percentage price oscillator: (ema(fast) - ema(slow)) / ema(slow) * 100.",
              example="ppo(close, 12, 26) > 1", category=CATEGORY,
              warmup="max(fast, slow) - 1", source="TA-Lib PPO with EMA averages (matype 1)"),
    indicator("bop", OHLC, _bop, _ref_bop,
              doc="Balance of power: (close - open) / (high - low); 0 when high equals low.",
              example="sma(bop(), 14) > 0", category=CATEGORY,
              source="TA-Lib BOP"),
)
