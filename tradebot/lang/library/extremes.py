"""Compiled rolling extremes: the highest and lowest of the last n values, how many bars ago
they were (aroon, highestbars), and donchian's middle line, one numba pass over the whole series.

Polars' `rolling_max` took 23 ms for 1M bars where TA-Lib's MAX takes 0.85 (docs/benchmarks.md,
"Indicators"). These kernels follow the window rule of `support` themselves: they take float64
arrays with NaN where a value is missing and answer NaN wherever a bar of the window is missing,
and before the window is full. Up to DOUBLING bars the values come from growing windows over
chunks that stay in L1 (`_doubled`), longer windows and the ages from van Herk's blocks.

Everything numba compiles for these kernels lives in this module (numba's cache checks only the
timestamp of the file defining a cached function; `sums.total_of` is the one outside step); it is
imported on first use.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .sums import total_of

NAN = np.nan
CHUNK = 512  # outputs per chunk of the growing windows (`_doubled`): its scratch stays in L1
DOUBLING = 64  # the longest window taken by growing windows (about log4(n) passes); longer ones by blocks


@njit(cache=True, nogil=True)
def rolling_extreme(x, n, highest, ages):
    """The highest (lowest) of the last n values, or with `ages` how many bars ago it was (ties:
    the most recent bar, as TA-Lib's AROON).

    Van Herk / Gil-Werman: cut the series into blocks of n bars. A window ending at bar t of
    block B is the suffix of the block before (from its first bar on) joined to the prefix of B
    up to t, so the best of each prefix (a forward scan) and of each suffix (a backward scan of
    the previous block, kept in an n-bar scratch) answer every window with one more comparison:
    O(len(x)) whatever n. A monotonic queue, also O(len(x)), measured 15 ms for 1M bars (its pops
    are unpredictable branches on a random walk); this index version 4 ms (10 when it read
    x[best] back on every bar: a load in the chain from one bar to the next, now the best value
    rides along in a register, and selects replace the branches). The values alone
    (`_extreme_values`) go by growing windows up to 64 bars."""
    size = len(x)
    sign = 1.0 if highest else -1.0
    if not ages:
        return _extreme_values(x, n, sign, np.empty(size))[0]
    out = np.full(size, NAN)
    suffix = np.empty(n, np.int64)  # suffix[j]: the best from bar block_start - n + j to block_start - 1
    last_missing = -1
    for block in range(0, size, n):
        stop = min(block + n, size)
        best, value = block, sign * x[block]
        for t in range(block, stop):
            newer = sign * x[t] >= value  # >=: a tie goes to the newer bar
            best = t if newer else best
            value = sign * x[t] if newer else value
            if np.isnan(x[t]):
                last_missing = t
            if t - last_missing < n:  # a missing value in the window, or not n bars yet
                continue
            first = best
            start = t - n + 1
            if start < block:
                older = suffix[start - block + n]
                if sign * x[older] > value:
                    first = older
            out[t] = float(t - first)
        _suffixes(x, block, stop, sign, suffix)
    return out


@njit(cache=True, nogil=True)
def extreme_values(x, n, highest, out):
    """rolling_extreme's values alone, into `out` (`support.window`'s `into`: numpy's array, on
    huge pages), and the sum of the inputs, which is NaN when one is (or
    when infinities of both signs meet): a sum that is not NaN vouches that no value after the
    n - 1 leading NaN is (`support.window(..., summed=True)`), so Polars gets the array without
    a copy (0.2-0.35 ms for 1M values). The kernel sums the values anyway, to choose its passes."""
    return _extreme_values(x, n, 1.0 if highest else -1.0, out)


@njit(cache=True, nogil=True)
def _extreme_values(x, n, sign, out):
    """rolling_extreme's values (into `out`) and the sum of x: by growing windows up to DOUBLING
    bars, by van Herk's blocks (`_blocked_extremes`) above, where the growing windows' passes
    cost more."""
    if n > DOUBLING:
        return _blocked_extremes(x, n, sign, out)
    size = len(x)
    out[:min(n - 1, size)] = NAN
    scratch, other = np.empty(CHUNK + n), np.empty(CHUNK + n)
    probe = 0.0
    for first in range(n - 1, size, CHUNK):
        count = min(CHUNK, size - first)
        probe += _doubled(x, n, sign > 0.0, first, out[first:first + count], scratch, other)
    return out, probe


@njit(cache=True, nogil=True)
def channel_middle(high, low, n, out):
    """(highest high + lowest low) / 2 of the last n bars (Donchian's middle line), NaN where a
    value of the window is missing, into `out` (len(high) values; `support.window`'s `into`).
    The highest highs first, straight into `out`; then the lowest lows a chunk at a time and
    the mean while the chunk is in L1, one result array: the two extremes as columns and a
    Polars formula took 4.8 ms for 1M bars (TA-Lib's MAX + MIN 2.4). Both extremes chunk by
    chunk, two input series in turn, took 3.0-3.7 ms where the highs first take 2.0-2.5 (the
    same numbers). Also the sum of the results after the n - 1 leading NaN, each chunk's while
    in L1 (`support.window(..., summed=True)`: no `nan_to_null` copy, 0.2-0.35 ms for 1M bars)."""
    if n > DOUBLING:
        _blocked_extremes(high, n, 1.0, out)
        out += _blocked_extremes(low, n, -1.0, np.empty(len(low)))[0]
        out /= 2.0
        return out, total_of(out[n - 1:])
    _extreme_values(high, n, 1.0, out)
    size = len(high)
    scratch, other, lower = np.empty(CHUNK + n), np.empty(CHUNK + n), np.empty(CHUNK)
    probe = 0.0
    for first in range(n - 1, size, CHUNK):
        count = min(CHUNK, size - first)
        target = out[first:first + count]
        _doubled(low, n, False, first, lower[:count], scratch, other)
        for k in range(count):
            target[k] = (target[k] + lower[k]) / 2.0
        probe += total_of(target)
    return out, probe


@njit(cache=True, nogil=True)
def _doubled(x, n, highest, first, target, scratch, other):
    """target[k] = the highest (lowest) of the n-bar window ending at bar first + k, NaN where
    the window has a NaN; `scratch` and `other` hold len(target) + n values. Returns the sum of
    the window's values (NaN when one is).

    Growing windows: the extreme of each four neighbours (windows of 4 bars), then of each four
    of those (16 bars), and so on, then once of two neighbours if that still fits, up to the
    largest width p <= n; an n-bar window is then the extreme of two overlapping p-bar windows.
    Every pass is a branch-free select over arrays in L1 that the CPU runs several lanes wide
    (highest(high, 20) 0.8 ms for 1M bars against 1.2-1.35 by van Herk's blocks, whose prefix
    and suffix scans are chains from one bar to the next; TA-Lib's MAX 0.85). Four at a time,
    not two: half the passes, each storing once what two stored twice, which matters when the
    bars come from memory rather than the caches (20 bars: 3 passes instead of 5; 1.45-1.6 ms
    -> 1.2-1.35 with the caches flushed before each call, TA-Lib 0.9). The first pass reads the
    bars from memory and adds them up as it goes, instead of a pass of its own to add them up
    first: the memory's latency then hides behind the selects (cold 1.2-1.3 -> 0.8-0.9 ms, warm
    0.84-0.92 -> 0.68-0.70). A chunk with a NaN (the sum of its values is NaN exactly then, or
    when infinities meet) is done again with the passes that keep a NaN from any side. (Two
    separate 1-D scratch arrays and the last pass straight into `target`: rows of one 2-D array
    and a copy at the end measured 30 % slower.)"""
    count = len(target)
    window = x[first - n + 1: first + count]
    if n >= 4:  # the first pass reads the bars from memory and adds them up on the way
        window_sum = _fourwise_summed(window, scratch, count + n - 4, highest)
        if not np.isnan(window_sum):
            _grow(scratch, other, scratch, 4, count + n - 4, n, highest, target, False)
            return window_sum
    else:
        window_sum = total_of(window)
    if n == 1:
        target[:] = window
        return window_sum
    _grow(window, scratch, other, 1, count + n - 1, n, highest, target, np.isnan(window_sum))
    return window_sum


@njit(cache=True, nogil=True)
def _grow(source, spare, other, width, total, n, highest, target, careful):
    """`_doubled`'s passes from `source`, which holds `total` windows of `width` bars, into
    `target`: fours, then a pair, then two overlapping windows. Each pass writes into `spare`,
    which then becomes the source, and the other buffer the spare (`source` may be `other`,
    never written while it is read)."""
    count = len(target)
    while width * 4 <= n:
        total -= 3 * width
        _fourwise(source, spare, total, width, highest, careful)
        source, spare, other = spare, other, spare
        width *= 4
    if width * 2 <= n:
        total -= width
        _pairwise(source, spare, total, width, highest, careful)
        source = spare
        width *= 2
    if width < n:
        _pairwise(source, target, count, n - width, highest, careful)
    else:
        target[:] = source[:count]


@njit(cache=True, nogil=True, fastmath={"reassoc"})
def _fourwise_summed(source, target, count, highest):
    """`_fourwise` of width 1, not careful, and the sum of source[:count + 3] (NaN when a value
    is, or when infinities meet), added on the way. `reassoc` lets the sum run several lanes
    wide beside the selects; it touches nothing else (the selects are comparisons)."""
    a, b = source[:count], source[1:1 + count]
    c, d = source[2:2 + count], source[3:3 + count]
    out = target[:count]
    total = 0.0
    if highest:
        for k in range(count):
            total += a[k]
            out[k] = _better(_better(a[k], b[k], True, False), _better(c[k], d[k], True, False), True, False)
    else:
        for k in range(count):
            total += a[k]
            out[k] = _better(_better(a[k], b[k], False, False), _better(c[k], d[k], False, False), False, False)
    return total + (source[count] + source[count + 1] + source[count + 2])


@njit(cache=True, nogil=True, inline="always")
def _better(u, v, highest, careful):
    """The larger (smaller) of u and v; with `careful`, u if it is NaN and v if that is (a NaN
    wins from either side). `highest` and `careful` are constants where it is inlined."""
    if highest:
        return u if (u > v) | (careful & (u != u)) else v
    return u if (u < v) | (careful & (u != u)) else v


@njit(cache=True, nogil=True)
def _pairwise(source, target, count, width, highest, careful):
    """target[k] = the larger (smaller) of source[k] and source[k + width], k < count; with
    `careful`, NaN if either is. Slices, not offsets in the index, so the loops vectorize; one
    loop per case, so each is a plain select."""
    older, newer, out = source[:count], source[width: width + count], target[:count]
    if highest and careful:
        for k in range(count):
            out[k] = _better(older[k], newer[k], True, True)
    elif highest:
        for k in range(count):
            out[k] = _better(older[k], newer[k], True, False)
    elif careful:
        for k in range(count):
            out[k] = _better(older[k], newer[k], False, True)
    else:
        for k in range(count):
            out[k] = _better(older[k], newer[k], False, False)


@njit(cache=True, nogil=True)
def _fourwise(source, target, count, width, highest, careful):
    """target[k] = the largest (smallest) of source[k + j * width], j < 4, k < count; with
    `careful`, NaN if one is. As `_pairwise`, one loop per case."""
    a, b = source[:count], source[width:width + count]
    c, d = source[2 * width:2 * width + count], source[3 * width:3 * width + count]
    out = target[:count]
    if highest and careful:
        for k in range(count):
            out[k] = _better(_better(a[k], b[k], True, True), _better(c[k], d[k], True, True), True, True)
    elif highest:
        for k in range(count):
            out[k] = _better(_better(a[k], b[k], True, False), _better(c[k], d[k], True, False), True, False)
    elif careful:
        for k in range(count):
            out[k] = _better(_better(a[k], b[k], False, True), _better(c[k], d[k], False, True), False, True)
    else:
        for k in range(count):
            out[k] = _better(_better(a[k], b[k], False, False), _better(c[k], d[k], False, False), False, False)


@njit(cache=True, nogil=True)
def _blocked_extremes(x, n, sign, out):
    """rolling_extreme's values and the sum of sign * x, the same blocks with branch-free max()
    on sign * x (a negation is exact): the comparisons of the index version mispredict on a random walk.

    First without looking for missing values (1.25 ms for 1M bars against 2.0 with the window
    rule applied bar by bar; TA-Lib's MAX 0.85): the sum of the values rides along off the
    chain and is NaN when one is (or when infinities meet: then the careful pass is merely
    slower), and only then does `_extreme_values_missing` run."""
    size = len(x)
    suffix = np.full(n + 1, -np.inf)  # suffix[j]: the best of the previous block from its bar j - 1 on
    probe = 0.0
    for block in range(0, size, n):
        stop = min(block + n, size)
        best = -np.inf
        for t in range(block, stop):
            value = sign * x[t]
            probe += value
            best = max(best, value)
            out[t] = sign * max(best, suffix[t - block + 1])
        best = -np.inf
        for i in range(stop - 1, block - 1, -1):
            best = max(best, sign * x[i])
            suffix[i - block] = best
    if np.isnan(probe):
        out[:] = _extreme_values_missing(x, n, sign)
        return out, probe
    out[:min(n - 1, size)] = NAN
    return out, probe


@njit(cache=True, nogil=True)
def _extreme_values_missing(x, n, sign):
    """`_extreme_values` where a value may be missing (NaN): the window rule bar by bar."""
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
    best, value = stop - 1, sign * x[stop - 1]
    for i in range(stop - 1, start - 1, -1):
        older = sign * x[i] > value  # >: a tie keeps the newer bar
        best = i if older else best
        value = sign * x[i] if older else value
        suffix[i - start] = best
