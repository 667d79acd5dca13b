"""Compiled kernels for the indicators of `pine.py`: Wilder's moving average (rma), Heikin-Ashi
candles (a recursion), and Pearson's correlation over a window; and the anchored running ratio
of the day or session vwap (`volume.py`).

`rma` and `heikinashi` take float64 arrays WITHOUT missing values (`support.kernel` drops the
bars where an input is missing and puts the results back: recursions skip missing bars);
`correlation` is a window kernel: it takes NaN where a value is missing and answers NaN wherever
a bar of its window is missing (`support.window`). Everything numba compiles for them lives in
this module (numba's cache checks only the timestamp of the file defining a cached function),
compiled once per installation (`cache=True`) and imported on first use.
"""
from __future__ import annotations

import numpy as np
from numba import njit

NAN = np.nan


@njit(cache=True, nogil=True)
def rma(x, n):
    """Wilder's moving average (TradingView ta.rma): the mean of the first n values, then
    (prev * (n - 1) + x) / n, dividing as TA-Lib's ATR does (so rma(tr(), n) is its ATR)."""
    out = np.full(len(x), NAN)
    if len(x) < n:
        return out
    total = 0.0
    for i in range(n):
        total += x[i]
    prev = total / n
    out[n - 1] = prev
    keep = float(n - 1)
    for i in range(n, len(x)):
        prev = (prev * keep + x[i]) / n
        out[i] = prev
    return out


@njit(cache=True, nogil=True)
def heikinashi(open_, high, low, close):
    """Heikin-Ashi candles: close = (o + h + l + c) / 4; open = (previous HA open + previous HA
    close) / 2, the first (open + close) / 2; high and low stretch to include the HA open and
    close."""
    size = len(close)
    ha_open, ha_high = np.empty(size), np.empty(size)
    ha_low, ha_close = np.empty(size), np.empty(size)
    for t in range(size):
        ha_close[t] = (open_[t] + high[t] + low[t] + close[t]) / 4.0
        if t == 0:
            ha_open[t] = (open_[t] + close[t]) / 2.0
        else:
            ha_open[t] = (ha_open[t - 1] + ha_close[t - 1]) / 2.0
        ha_high[t] = max(high[t], max(ha_open[t], ha_close[t]))
        ha_low[t] = min(low[t], min(ha_open[t], ha_close[t]))
    return ha_open, ha_high, ha_low, ha_close


@njit(cache=True, nogil=True)
def correlation(a, b, n):
    """Pearson's correlation of a and b over the last n bars, from means and deviations taken
    fresh for each window (no running sums whose rounding outlives a huge value); 0 when either
    window is flat (as TA-Lib CORREL); NaN where a bar of the window is missing."""
    size = len(a)
    out = np.full(size, NAN)
    last_missing = -1
    for t in range(size):
        if np.isnan(a[t]) or np.isnan(b[t]):
            last_missing = t
        if t - last_missing < n:  # a missing value in the window, or not n bars yet
            continue
        start = t - n + 1
        # Deviations from the window's first value, then from their mean: a flat window is
        # exactly flat (all zeros) whatever the rounding of its mean.
        first_a = a[start]
        first_b = b[start]
        mean_a = 0.0
        mean_b = 0.0
        for i in range(start, t + 1):
            mean_a += a[i] - first_a
            mean_b += b[i] - first_b
        mean_a /= n
        mean_b /= n
        sab = 0.0
        saa = 0.0
        sbb = 0.0
        for i in range(start, t + 1):
            da = (a[i] - first_a) - mean_a
            db = (b[i] - first_b) - mean_b
            sab += da * db
            saa += da * da
            sbb += db * db
        out[t] = 0.0 if saa == 0.0 or sbb == 0.0 else sab / (np.sqrt(saa) * np.sqrt(sbb))
    return out


def anchored_vwap(src, volume, key, valid):
    """The volume-weighted average of src since each anchor (vwap's day or session): the bars
    with `valid` set and the same `key`, in bar order. Not compiled itself: bar times are
    sorted, so each key's bars are one run and one pass resets at every new key; otherwise
    (a `time` argument that is not) the bars are grouped by a stable sort first."""
    rows = np.flatnonzero(valid == 1.0)
    out = np.full(len(src), NAN)
    keys = key[rows]
    if len(rows) and not np.all(keys[1:] >= keys[:-1]):
        rows = rows[np.argsort(keys, kind="stable")]
        keys = key[rows]
    out[rows] = _running_ratio(np.ascontiguousarray(src[rows]), np.ascontiguousarray(volume[rows]), keys)
    return out


@njit(cache=True, nogil=True)
def _running_ratio(src, volume, keys):
    """sum(src * volume) / sum(volume) since the last change of key, added bar by bar; NaN
    where the volume so far is 0."""
    out = np.empty(len(src))
    weighted = 0.0
    total = 0.0
    for t in range(len(src)):
        if t == 0 or keys[t] != keys[t - 1]:
            weighted = 0.0
            total = 0.0
        weighted += src[t] * volume[t]
        total += volume[t]
        out[t] = weighted / total if total != 0.0 else NAN
    return out
