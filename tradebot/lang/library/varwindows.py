"""Compiled kernels for windows whose length is a series (`highest(high, barssince(c) + 1)`): the
extremes, and the sum / mean / standard deviation, one numba pass over the whole series.

At bar t the window is the last floor(length[t]) bars, this one included; it is missing where
the length is missing or below 1, where the data has fewer bars than that, and where a bar of
the window is missing (the window rule; `support`). A constant length never comes here: it keeps
the block kernels of `extremes.py`, `windows.py` and `sums.py`.

The extremes scan each window when the windows are short (O(length) a bar, without a branch
that depends on the data), and otherwise answer it from a monotonic stack of the bars that are
still someone's extreme, searched back from the newest (O(log k) a bar for the k stacked bars in
the window);
the sums are taken fresh for each window, oldest bar first (O(length) a bar, and no running sum whose rounding residue
outlives a huge value). Like `windows`, these take float64 arrays with NaN where a value is
missing. Everything numba compiles for them lives in this module (numba's cache checks only the
timestamp of the file defining a cached function), compiled once per installation.
"""
from __future__ import annotations

import numpy as np
from numba import njit

NAN = np.nan


@njit(cache=True, nogil=True)
def _start(lengths, t, last_missing):
    """The first bar of bar t's window, or -1 when the window is missing."""
    length = lengths[t]
    if not length >= 1.0 or length >= t + 2:  # NaN fails the first test; fewer than floor(length) bars the second
        return -1
    start = t - int(np.floor(length)) + 1
    return -1 if start <= last_missing else start


# Up to this mean window length the extremes scan each window. On a million bars of a random
# walk, the scan took 6.4 ms for windows of 1-20 bars in turn against 17.2 for the stack, 17.4
# against 18.5 for 64 bars on every bar, and 25 against 19 for 128: the stack costs a handful of
# unpredictable branches a bar whatever the length, the scan grows with it.
SCAN_UP_TO = 64.0


@njit(cache=True, nogil=True)
def variable_extreme(x, lengths, highest):
    """The highest (lowest) of each bar's window."""
    if _mean_length(lengths) <= SCAN_UP_TO:
        return _scanned_extremes(x, lengths, highest)
    return _stacked_extremes(x, lengths, highest)


@njit(cache=True, nogil=True)
def _mean_length(lengths):
    """The mean number of bars a window holds (bars without a window left out)."""
    total, count = 0.0, 0
    for t in range(len(lengths)):
        if lengths[t] >= 1.0:
            total += min(np.floor(lengths[t]), t + 1.0)
            count += 1
    return total / count if count else 0.0


@njit(cache=True, nogil=True)
def _scanned_extremes(x, lengths, highest):
    size = len(x)
    out = np.full(size, NAN)
    sign = 1.0 if highest else -1.0  # the lowest is minus the highest of minus x (exact)
    last_missing = -1
    for t in range(size):
        if np.isnan(x[t]):
            last_missing = t
        start = _start(lengths, t, last_missing)
        if start >= 0:
            out[t] = sign * _scan(x, sign, start, t + 1)
    return out


@njit(cache=True, nogil=True, inline="always")
def _scan(x, sign, start, end):
    """The highest of sign * x[start:end] (no value missing), four running maxima at a time: one
    maximum waits for the one before, four overlap."""
    m0 = m1 = m2 = m3 = sign * x[end - 1]
    i = start
    while i + 4 <= end:
        m0, m1 = max(m0, sign * x[i]), max(m1, sign * x[i + 1])
        m2, m3 = max(m2, sign * x[i + 2]), max(m3, sign * x[i + 3])
        i += 4
    while i < end:
        m0 = max(m0, sign * x[i])
        i += 1
    return max(max(m0, m1), max(m2, m3))


@njit(cache=True, nogil=True)
def _stacked_extremes(x, lengths, highest):
    size = len(x)
    out = np.full(size, NAN)
    sign = 1.0 if highest else -1.0
    stack = np.empty(size, np.int64)  # bars whose value beats every later bar's, oldest first
    top = 0
    last_missing = -1
    for t in range(size):
        if np.isnan(x[t]):
            last_missing = t
        else:
            while top > 0 and sign * x[stack[top - 1]] <= sign * x[t]:
                top -= 1
            stack[top] = t
            top += 1
        start = _start(lengths, t, last_missing)
        if start < 0:
            continue
        out[t] = x[stack[_first_at_or_after(stack, top, start)]]
    return out


@njit(cache=True, nogil=True, inline="always")
def _first_at_or_after(stack, top, start):
    """The first of the `top` stacked bars (increasing) at or after `start`, given that the last
    one is. Galloping back from the newest, then bisecting: O(log k) for the k stacked bars in
    the window, so a short window costs a step or two where a bisection of the whole stack took
    a dozen unpredictable branches: 23.5 -> 19 ms on a million bars of 1-20 bar windows."""
    high, step = top - 1, 1  # stack[high] >= start
    low = high - step
    while low >= 0 and stack[low] >= start:
        high, step = low, step * 2
        low = high - step
    low = max(low + 1, 0)  # the answer is in [low, high]
    while low < high:
        middle = (low + high) // 2
        if stack[middle] < start:
            low = middle + 1
        else:
            high = middle
    return low


@njit(cache=True, nogil=True)
def variable_sums(x, lengths, mode):
    """Each window's sum (mode 0), mean (1) or population standard deviation (2)."""
    size = len(x)
    out = np.full(size, NAN)
    last_missing = -1
    for t in range(size):
        if np.isnan(x[t]):
            last_missing = t
        start = _start(lengths, t, last_missing)
        if start < 0:
            continue
        total = 0.0
        for i in range(start, t + 1):
            total += x[i]
        count = t - start + 1
        if mode == 0:
            out[t] = total
            continue
        mean = total / count
        if mode == 1:
            out[t] = mean
            continue
        squares = 0.0
        for i in range(start, t + 1):
            squares += (x[i] - mean) * (x[i] - mean)
        out[t] = np.sqrt(squares / count)
    return out
