"""Compiled window kernels: rolling extremes, weighted sums, linear regression and the Ultimate
Oscillator's sums, one numba pass over the whole series.

Polars' rolling windows measured 10-20x slower than TA-Lib on 1M bars on a 2-core machine
(`rolling_max` 23 ms vs TA-Lib MAX 1.1 ms; docs/benchmarks.md, "Indicators"). These kernels
follow the window rule of `support` themselves: they take float64 arrays with NaN where a value
is missing and answer NaN wherever a bar of the window is missing, and before the window is full.

Everything numba compiles for these kernels lives in this module (numba's cache checks only the
timestamp of the file defining a cached function); it is imported on first use.
"""
from __future__ import annotations

import numpy as np
from numba import njit

NAN = np.nan
BLOCK = 2048  # outputs per block of a weighted sum: the block's accumulators stay in L1


@njit(cache=True, nogil=True)
def rolling_extreme(x, n, highest, ages):
    """The highest (lowest) of the last n values, or with `ages` how many bars ago it was (ties:
    the most recent bar, as TA-Lib's AROON).

    Van Herk / Gil-Werman: cut the series into blocks of n bars. A window ending at bar t of
    block B is the suffix of the block before (from its first bar on) joined to the prefix of B
    up to t, so the best of each prefix (a forward scan) and of each suffix (a backward scan of
    the previous block, kept in an n-bar scratch) answer every window with one more comparison:
    O(len(x)) whatever n. A monotonic queue, also O(len(x)), measured 15 ms for 1M bars (its pops
    are unpredictable branches on a random walk); this index version 11 ms, the value version
    (`_extreme_values`) 2.8 ms."""
    size = len(x)
    sign = 1.0 if highest else -1.0
    if not ages:
        return _extreme_values(x, n, sign)
    out = np.full(size, NAN)
    suffix = np.empty(n, np.int64)  # suffix[j]: the best from bar block_start - n + j to block_start - 1
    last_missing = -1
    for block in range(0, size, n):
        best = block
        for t in range(block, min(block + n, size)):
            if sign * x[t] >= sign * x[best]:  # >=: a tie goes to the newer bar
                best = t
            if np.isnan(x[t]):
                last_missing = t
            if t - last_missing < n:  # a missing value in the window, or not n bars yet
                continue
            first = best
            start = t - n + 1
            if start < block:
                older = suffix[start - block + n]
                if sign * x[older] > sign * x[best]:
                    first = older
            out[t] = float(t - first) if ages else x[first]
        _suffixes(x, block, min(block + n, size), sign, suffix)
    return out


@njit(cache=True, nogil=True)
def _extreme_values(x, n, sign):
    """rolling_extreme's values alone, the same blocks with branch-free max() on sign * x (a
    negation is exact): the comparisons of the index version mispredict on a random walk."""
    size = len(x)
    out = np.full(size, NAN)
    suffix = np.empty(n)  # suffix[j]: the best of the previous block from its bar j on
    last_missing = -1
    for block in range(0, size, n):
        stop = min(block + n, size)
        best = -np.inf
        for t in range(block, stop):
            best = max(best, sign * x[t])
            if np.isnan(x[t]):
                last_missing = t
            if t - last_missing >= n:  # else a missing value in the window, or not n bars yet
                start = t - n + 1
                value = max(best, suffix[start - block + n]) if start < block else best
                out[t] = sign * value
        best = -np.inf
        for i in range(stop - 1, block - 1, -1):
            best = max(best, sign * x[i])
            suffix[i - block] = best
    return out


@njit(cache=True, nogil=True)
def _suffixes(x, start, stop, sign, suffix):
    """suffix[i - start] = index of the best of x[i:stop], ties to the newer bar."""
    best = stop - 1
    for i in range(stop - 1, start - 1, -1):
        if sign * x[i] > sign * x[best]:  # >: a tie keeps the newer bar
            best = i
        suffix[i - start] = best


@njit(cache=True, nogil=True)
def weighted_sum(x, weights):
    """sum(weights[j] * x[t - n + 1 + j]) over the window ending at t, oldest bar first, taken
    fresh at every bar (no running sum whose rounding residue would outlive a huge value). NaN
    propagates, so a window with a missing value is missing. Computed a block of outputs at a
    time, one weight per pass, so the inner loop is a vectorisable multiply-add."""
    size = len(x)
    n = len(weights)
    out = np.full(size, NAN)
    for start in range(n - 1, size, BLOCK):
        stop = min(start + BLOCK, size)
        _weighted_block(x, weights, out[start:stop], start - n + 1)
    return out


@njit(cache=True, nogil=True)
def _weighted_block(x, weights, out, first):
    out[:] = 0.0
    for j in range(len(weights)):
        w = weights[j]
        window = x[first + j: first + j + len(out)]
        for k in range(len(out)):
            out[k] += w * window[k]


@njit(cache=True, nogil=True)
def linreg(x, n, field):
    """TA-Lib LINEARREG (field 0), LINEARREG_SLOPE (1), LINEARREG_INTERCEPT (2) with its sums
    (SumY and SumXY taken fresh each bar, oldest bar first, whose x-coordinate is n-1) and its
    formulas."""
    size = len(x)
    out = np.full(size, NAN)
    sum_x = n * (n - 1) * 0.5
    divisor = sum_x * sum_x - n * (n * (n - 1) * (2 * n - 1) // 6)
    ones = np.ones(n)
    backwards = np.arange(n - 1, -1, -1).astype(np.float64)
    sum_y = np.empty(BLOCK)
    sum_xy = np.empty(BLOCK)
    for start in range(n - 1, size, BLOCK):
        count = min(BLOCK, size - start)
        _weighted_block(x, ones, sum_y[:count], start - n + 1)
        _weighted_block(x, backwards, sum_xy[:count], start - n + 1)
        for k in range(count):
            slope = (n * sum_xy[k] - sum_x * sum_y[k]) / divisor
            intercept = (sum_y[k] - slope * sum_x) / n
            out[start + k] = slope if field == 1 else intercept if field == 2 else intercept + slope * (n - 1)
    return out


@njit(cache=True, nogil=True)
def ultosc(high, low, close, fast, mid, slow):
    """TA-Lib ULTOSC: 100 * (4 a1/b1 + 2 a2/b2 + a3/b3) / 7, where a and b are the sums of buying
    pressure (close - true low) and true range over the periods sorted shortest first.

    The sums are TA-Lib's running totals, each started from 0 `period - 1` bars before the first
    output and updated in its order (add today's terms, subtract the trailing bar's, recomputed,
    after the output), so they carry the same rounding residue; a total within 1e-14 of 0
    contributes nothing (TA_IS_ZERO). A bar with a missing input restarts everything after it."""
    size = len(close)
    out = np.full(size, NAN)
    periods = sorted((fast, mid, slow))
    a = np.zeros(3)
    b = np.zeros(3)
    first_output = size
    for i in range(1, size):
        buy, rng = _terms(high, low, close, i)
        if np.isnan(buy):
            first_output = size
            continue
        if first_output == size:  # a new run of complete bars
            first_output = i + periods[2] - 1
            a[:] = 0.0
            b[:] = 0.0
        for k in range(3):
            if i > first_output:  # TA-Lib removes the trailing bar after each output
                old_buy, old_rng = _terms(high, low, close, i - periods[k])
                a[k] -= old_buy
                b[k] -= old_rng
            if i > first_output - periods[k]:  # this period's window has begun
                a[k] += buy
                b[k] += rng
        if i >= first_output:
            out[i] = 100.0 * (_weigh(a[0], b[0], 4.0) + _weigh(a[1], b[1], 2.0) + _weigh(a[2], b[2], 1.0)) / 7.0
    return out


@njit(cache=True, nogil=True)
def _weigh(a, b, weight):
    return 0.0 if -1e-14 < b < 1e-14 else weight * (a / b)


@njit(cache=True, nogil=True)
def _terms(high, low, close, i):
    """(close - true low, true range) of bar i as TA-Lib's ULTOSC computes them; NaN if missing."""
    prev_close = close[i - 1]
    if np.isnan(prev_close) or np.isnan(high[i]) or np.isnan(low[i]) or np.isnan(close[i]):
        return NAN, NAN
    true_low = min(low[i], prev_close)
    true_range = high[i] - low[i]
    up = abs(prev_close - high[i])
    if up > true_range:
        true_range = up
    down = abs(prev_close - low[i])
    if down > true_range:
        true_range = down
    return close[i] - true_low, true_range
