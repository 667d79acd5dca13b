"""Compiled window sums: the rolling sum and mean, the standard deviation, CCI's mean deviation and
the ratio of two sums (vwma, vwap_rolling, cmf), one numba pass over the whole series.

Polars' `rolling_sum` / `rolling_std` measured 6.5 / 18 ms for 1M bars where TA-Lib's SUM / STDDEV
take 1.3 / 3.2 (docs/benchmarks.md, "Indicators"). TA-Lib keeps a running sum (add the new bar,
subtract the oldest); these kernels do not, because a running sum carries the rounding residue of
a huge value long after it has left the window (a window of 100s after one of 1e11 is off by
1e-5), which the naive reference (tests/lang/test_compiler_reference.py, 1e-9 absolute) catches.
Instead they cut the series into blocks of n bars, as `extremes.rolling_extreme` does: the window
ending at bar t is the tail of the previous block joined to the head of t's block, so its sum is
a suffix sum of the one plus a prefix sum of the other, each a sum of bars of the window alone.
That is as exact as a fresh sum, O(1) a bar whatever n, and its two scans (forward over a block,
backward over the same block for the next one) are independent chains the CPU overlaps.

Like `windows`, these take float64 arrays with NaN where a value is missing: a NaN reaches exactly
the prefix and suffix sums whose bars include it, so a window with a missing bar is NaN, and the
first n - 1 bars are NaN (they read the NaN-filled "previous block" of block 0).

Everything numba compiles for these kernels lives in this module (numba's cache checks only the
timestamp of the file defining a cached function); it is imported on first use.
"""
from __future__ import annotations

import numpy as np
from numba import njit

NAN = np.nan
TA_EPSILON = 1e-14  # support.TA_EPSILON: TA-Lib's zero band, scaled by the series' level
BLOCK = 2048  # outputs per block of fresh sums: the block's accumulators stay in L1
FRESH = 8  # up to this many bars a window is summed fresh (the block scans pay off from 10 on)
PROBED = 1024  # results a block kernel writes between two of its sums of them (`total_of`)
RATIO_CHUNK = 16384  # outputs per chunk of `_divide_by_sums` (128 KB of sums)


# The public functions are plain Python: they allocate with numpy, which asks the kernel for huge
# pages (two 8 MB temporaries from numba's allocator measured 3,900 page faults and 5-7 ms a
# call, from numpy none), and hand the compiled steps read-only inputs, as Polars' arrays are, so
# each step compiles once (an in-place step reads through a read-only view of what it writes).


def rolling_sum(x: np.ndarray, n: int, divisor: float) -> np.ndarray:
    """The sum of the last n values divided by `divisor` (1 for a sum, n for a mean)."""
    return window_sums(x, n, divisor)[0]


def window_sums(x: np.ndarray, n: int, divisor: float) -> tuple[np.ndarray, float]:
    """`rolling_sum` and the sum of its results after the n - 1 leading NaN, taken a block at a
    time while the block is in L1: NaN when a result is, so a sum that is not NaN vouches for
    every result (`support.window(..., summed=True)`: no `nan_to_null` copy, 0.2-0.35 ms for 1M
    values)."""
    out = np.empty(len(x))
    return out, _window_sums(x, n, divisor, out)


def smooth(x: np.ndarray, n: int) -> None:
    """x replaced by its mean over the last n bars, in place (as `rolling_sum`)."""
    _window_sums(_read_only(x), n, float(n), x)


def trima(x: np.ndarray, first: int, second: int) -> np.ndarray:
    """TA-Lib TRIMA: the mean over `second` bars of the mean over `first` bars."""
    out = rolling_sum(x, first, float(first))
    smooth(out, second)
    return out


def ratio_of_sums(top: np.ndarray, bottom: np.ndarray, n: int, weigh: bool) -> tuple[np.ndarray, float]:
    """sum(top) / sum(bottom) over the last n bars, or sum(top * bottom) / sum(bottom) when
    `weigh` (a volume-weighted mean); NaN where the bottom sum is 0. Also the sum of the
    results after the n - 1 leading NaN (`window_sums`' probe, for `support.window(...,
    summed=True)`)."""
    with np.errstate(over="ignore"):  # a product past 1.8e308 is inf, as in the reference: no warning
        weighted = np.multiply(top, bottom) if weigh else np.array(top)
    return _ratio(weighted, bottom, n)


def money_flow_ratio(high, low, close, volume, n: int) -> tuple[np.ndarray, float]:
    """Chaikin money flow: sum(money-flow volume) / sum(volume) over n bars, where a bar's
    money-flow volume is ((close - low) - (high - close)) / (high - low) * volume, 0 when high
    equals low; NaN where the volume sum is 0. With the sum of the results (`ratio_of_sums`)."""
    flow = np.empty(len(close))
    _money_flow_volume(high, low, close, volume, flow)
    return _ratio(flow, volume, n)


def cci(high, low, close, n: int) -> np.ndarray:
    """TA-Lib CCI: (typical price - its mean) / (0.015 * its mean absolute deviation) over n
    bars; 0 when either is within 1e-14 of the mean's level (a flat window)."""
    with np.errstate(over="ignore", invalid="ignore"):  # overflow and inf - inf, as in the reference
        typical = np.add(high, low)
        np.add(typical, close, out=typical)
        np.divide(typical, 3.0, out=typical)  # ((high + low) + close) / 3, as hlc3
    typical = _read_only(typical)
    out = rolling_sum(typical, n, float(n))  # the means, replaced by the results
    _cci(typical, n, out)
    return out


def _ratio(numerator: np.ndarray, bottom: np.ndarray, n: int) -> tuple[np.ndarray, float]:
    """Window sums of numerator (summed in place: the result) / those of bottom, NaN where those
    are 0; bottom's sums a chunk at a time (`_divide_by_sums`), not a second 8 MB array. With
    the sum of the results after the n - 1 leading NaN."""
    _window_sums(_read_only(numerator), n, 1.0, numerator)
    return numerator, _divide_by_sums(numerator, bottom, n)


def _read_only(x: np.ndarray) -> np.ndarray:
    """A read-only view of x (x stays writable)."""
    view = x.view()
    view.flags.writeable = False
    return view


@njit(cache=True, nogil=True)
def _window_sums(x, n, divisor, out):
    """out[t] = (x[t - n + 1] + ... + x[t]) / divisor, as the module docstring says (short
    windows summed fresh); `out` may be `x` itself. Returns the sum of the results after the
    leading NaN (`window_sums`)."""
    if n <= FRESH:
        return _fresh_sums(x, n, divisor, out)
    return _block_sums(x, n, divisor, out)


@njit(cache=True, nogil=True)
def _fresh_sums(x, n, divisor, out):
    """`_window_sums` for short windows: each sum fresh, oldest bar first, a block of outputs at
    a time (one vectorisable pass per bar of the window; 1.3 ms for 1M bars and n = 3, where
    the block scans take 2.8). Blocks go from the end backwards, so `out` may be `x`: a block
    reads only bars at or before its own."""
    size = len(x)
    total = np.empty(BLOCK)
    probe = 0.0  # the sum of the results (`window_sums`)
    stop = size
    while stop > n - 1:
        start = max(n - 1, stop - BLOCK)
        count = stop - start
        first = start - n + 1
        total[:count] = x[first: first + count]
        for j in range(1, n):
            window = x[first + j: first + j + count]
            for k in range(count):
                total[k] += window[k]
        for k in range(count):
            out[start + k] = total[k] / divisor
        probe += total_of(out[start: stop])
        stop = start
    out[:min(n - 1, size)] = NAN
    return probe


@njit(cache=True, nogil=True)
def _block_sums(x, n, divisor, out):
    """`_window_sums` by blocks of n bars.

    The loop over block i adds up its prefixes (forward) and, in the same loop, the suffixes of
    block i + 1 (backward): two independent chains of additions the CPU overlaps, and block i + 1
    is read before anything of it is overwritten. Block i's windows need block i - 1's
    suffixes, so three n + 1 scratch rows rotate: [j] is the sum from the block's bar j on, [n]
    is 0 (none of it).

    While four blocks are left, two at a time (`_block_pairs`): four chains, not two, for the
    CPU to overlap, the same additions in the same order, and the divisions by `divisor` in a
    pass of their own, with unsigned indices (sma(close, 20) 1.8 ms for 1M bars, TA-Lib's SMA
    1.65; now 1.4)."""
    size = len(x)
    before = np.full(n + 1, NAN)  # block -1: NaN makes the first n - 1 outputs NaN
    before[n] = 0.0
    probe, checked = 0.0, n - 1  # the sum of the results after the leading NaN, up to `checked`
    current = np.zeros(n + 1)
    after = np.zeros(n + 1)
    start = 0
    if 4 * n <= size:
        start, probe, checked, before, current = _block_pairs(x, n, divisor, out, before)
    elif n <= size:
        _suffix_sums(x, 0, n, current)
    for block in range(start, size, n):
        count = min(n, size - block)
        ahead = block + n
        forward = 0.0
        if ahead + n <= size:
            backward = 0.0
            for j in range(n):
                forward += x[block + j]
                out[block + j] = (forward + before[j + 1]) / divisor
                backward += x[ahead + n - 1 - j]
                after[n - 1 - j] = backward
        else:  # the next block is partial or absent: nothing will read its suffixes
            for j in range(count):
                forward += x[block + j]
                out[block + j] = (forward + before[j + 1]) / divisor
        if block + count - checked >= PROBED:  # the results' sum while in L1 (`total_of`)
            probe += total_of(out[checked: block + count])
            checked = block + count
        before, current, after = current, after, before
    return probe + total_of(out[checked:])


@njit(cache=True, nogil=True)
def _block_pairs(x, n, divisor, out, before):
    """`_block_sums`' loop two blocks at a time while four full blocks are left (len(x) >= 4 n):
    blocks b and b + 1 forward, the suffixes of b + 2 and b + 3 backward (read before anything
    of them is written, so `out` may be `x`). Returns the first block left, the results' sum
    and how far it reached, and the suffixes of the blocks before it and of it (`before`: block
    -1's)."""
    size = len(x)
    first, second, third = np.empty(n + 1), np.empty(n + 1), np.empty(n + 1)
    for row in (first, second, third):
        row[n] = 0.0
    _suffix_sums(x, 0, n, first)  # blocks 0 and 1
    _suffix_sums(x, n, n, second)
    older, old, new = before, first, second  # the suffixes of blocks b - 1, b and b + 1
    spare_a, spare_b = third, np.empty(n + 1)
    spare_b[n] = 0.0
    probe, checked = 0.0, n - 1
    block = 0
    while block + 4 * n <= size:
        # Unsigned indices: numba wraps a negative signed index around, a fix-up on every load
        # and store whose index it cannot prove non-negative (`wilder.atr`).
        zero, one = np.uint64(block), np.uint64(block + n)
        two, three, last = np.uint64(block + 3 * n - 1), np.uint64(block + 4 * n - 1), np.uint64(n - 1)
        forward = forward_next = backward = backward_next = 0.0
        for j in range(np.uint64(n)):  # the sums; divided below, several lanes wide
            forward += x[zero + j]
            out[zero + j] = forward + older[j + np.uint64(1)]
            forward_next += x[one + j]
            out[one + j] = forward_next + old[j + np.uint64(1)]
            backward += x[two - j]
            spare_a[last - j] = backward
            backward_next += x[three - j]
            spare_b[last - j] = backward_next
        block += 2 * n
        if block - checked >= PROBED:  # divided and added up while in L1
            probe += _divide_and_total(out[checked: block], divisor)
            checked = block
        older, old, new, spare_a, spare_b = new, spare_a, spare_b, older, old
    probe += _divide_and_total(out[checked: block], divisor)
    return block, probe, block, older, old


@njit(cache=True, nogil=True)
def _divide_and_total(sums, divisor):
    """sums /= divisor in place (nothing to do for 1), then `total_of` them. A pass of its own
    over results in L1 runs several lanes wide: in the block loop, one division a bar bound
    it (the leading n - 1 are NaN and never divided: NaN / divisor is that NaN)."""
    if divisor != 1.0:
        for i in range(len(sums)):
            sums[i] = sums[i] / divisor
    return total_of(sums)


@njit(cache=True, nogil=True)
def _suffix_sums(x, start, n, suffixes):
    total = 0.0
    for j in range(n - 1, -1, -1):
        total += x[start + j]
        suffixes[j] = total


@njit(cache=True, nogil=True, error_model="numpy")
def _divide_by_sums(out, bottom, n):
    """out[t] /= the sum of bottom's last n bars, NaN where that is 0, for t >= n - 1 (out is
    NaN before). The sums a chunk of RATIO_CHUNK outputs at a time into a scratch that stays in
    L2: the whole sums as a second array cost a fresh 8 MB per call for 1M bars, and vwma(close,
    20) took 6-8 ms (TA-Lib's SUM / SUM 4.1-6), page faults included; now 4.5. Returns the
    sum of the results from t = n - 1 on, each chunk's while in L2: NaN when a result is, so
    `support.window(..., summed=True)` needs no `nan_to_null` copy (0.2-0.35 ms for 1M bars)."""
    size = len(out)
    scratch = np.empty(RATIO_CHUNK + n - 1)
    probe = 0.0
    for start in range(n - 1, size, RATIO_CHUNK):
        stop = min(start + RATIO_CHUNK, size)
        window = bottom[start - n + 1: stop]
        sums = scratch[:len(window)]
        _window_sums(window, n, 1.0, sums)
        target, totals = out[start:stop], sums[n - 1:]
        # Slices, not offsets in the index, and numpy's error model (no check for a zero divisor,
        # which the select does): the divisions vectorize (1.3 ms for 1M bars, now 0.6).
        for k in range(len(target)):
            total = totals[k]
            target[k] = target[k] / total if total != 0.0 else NAN
        probe += total_of(target)
    return probe


@njit(cache=True, nogil=True)
def _money_flow_volume(high, low, close, volume, out):
    for t in range(len(close)):
        span = high[t] - low[t]
        if np.isnan(span) or np.isnan(close[t]) or np.isnan(volume[t]):
            out[t] = NAN
        else:
            out[t] = (close[t] - low[t] - (high[t] - close[t])) / span * volume[t] if span > 0.0 else 0.0


def mean_and_deviation(x: np.ndarray, n: int, mean_weight: float, deviation_weight: float) -> np.ndarray:
    """mean_weight * mean + deviation_weight * (population) standard deviation of the last n
    values: stdev (0, 1) and the Bollinger bands (1, -/+mult)."""
    out = np.empty(len(x))
    _mean_and_deviation(x, n, mean_weight, deviation_weight, out)
    return out


@njit(cache=True, nogil=True, error_model="numpy")
def _mean_and_deviation(x, n, mean_weight, deviation_weight, out):
    """`mean_and_deviation` into out, by blocks of n bars as `_block_sums`, on shifted values.

    Every window ending in a block holds that block's first bar, so its prefix sums (forward
    over the block) and the previous block's suffix sums (backward over that block) are taken
    of the values minus that bar: S1 = sum(x - shift), S2 = sum((x - shift) ** 2), and the
    variance is (S2 - S1 * S1 / n) / n. With the shift a value of the window, |mean - shift| is
    at most sqrt(n) deviations, so the cancellation costs a few ulps times n, not the level
    squared over the variance that TA-Lib's sums of x and x * x lose (1e-15 of the deviation
    against a long-double reference on 1M random-walk bars, TA-Lib 1.5e-11); a flat window is
    exactly 0, and nothing outlives the window. 2.5 ms for stdev(close, 20) on 1M bars (TA-Lib
    3.1); Welford's update in the chains with Chan's join took 6.5. A NaN reaches exactly the
    sums whose bars include it (the shift is in every window that uses it)."""
    size = len(x)
    inverse = 1.0 / n
    # The previous block's suffix sums from its bar j on ([n]: none of it), shifted by this
    # block's first bar; NaN before block 1, which makes the first n - 1 outputs NaN.
    old_sums, old_squares = np.full(n + 1, NAN), np.full(n + 1, NAN)
    old_sums[n] = old_squares[n] = 0.0
    new_sums, new_squares = np.zeros(n + 1), np.zeros(n + 1)
    sums, squares = np.empty(n), np.empty(n)  # this block's prefix sums up to its bar j
    for block in range(0, size, n):
        count = min(n, size - block)
        shift = x[block]
        total = square = 0.0
        for j in range(count):
            value = x[block + j] - shift
            total += value
            square += value * value
            sums[j], squares[j] = total, square
        if block + n < size:  # the suffixes for the next block, shifted by its first bar
            following = x[block + n]
            total = square = 0.0
            for j in range(n - 1, -1, -1):
                value = x[block + j] - following
                total += value
                square += value * value
                new_sums[j], new_squares[j] = total, square
        done = out[block: block + count]
        for j in range(count):  # no chain here: vectorized, square roots included
            total = sums[j] + old_sums[j + 1]
            variance = (squares[j] + old_squares[j + 1] - total * total * inverse) * inverse
            deviation = np.sqrt(variance if variance > 0.0 else 0.0)  # -1e-30 from rounding
            done[j] = mean_weight * (shift + total * inverse) + deviation_weight * deviation
        old_sums, new_sums = new_sums, old_sums
        old_squares, new_squares = new_squares, old_squares


@njit(cache=True, nogil=True)
def _cci(typical, n, out):
    """`cci` from the typical prices and their means (in out): the deviations are summed fresh,
    oldest bar first, a block of outputs at a time (one vectorisable pass per bar of the
    window), then each output replaces its mean."""
    size = len(typical)
    deviation = np.empty(BLOCK)
    for start in range(n - 1, size, BLOCK):
        stop = min(start + BLOCK, size)
        _absolute_deviations(typical, out[start:stop], start - n + 1, n, deviation[:stop - start])
        for t in range(start, stop):
            mean = out[t]
            average = deviation[t - start] / n
            above = typical[t] - mean
            scale = TA_EPSILON * abs(mean)
            flat = abs(above) <= scale or abs(average) <= scale
            out[t] = 0.0 if flat else above / (0.015 * average)


@njit(cache=True, nogil=True)
def _absolute_deviations(x, means, first, n, out):
    """out[k] = sum of |x[first + k + j] - means[k]| over j < n, oldest bar first."""
    out[:] = 0.0
    for j in range(n):
        window = x[first + j: first + j + len(out)]
        for k in range(len(out)):
            out[k] += abs(window[k] - means[k])


@njit(cache=True, nogil=True, fastmath={"reassoc"})
def total_of(x):
    """The sum of x: NaN when a value is (or when infinities of both signs meet, a false alarm
    that only costs a copy). Reassociated (its rounding is never read), so it runs several lanes
    wide: a kernel adds up each block of its results this way while the block is in L1, where
    a running sum beside its own chain measured 0.7-0.9 ms slower for 1M bars."""
    total = 0.0
    for i in range(len(x)):
        total += x[i]
    return total
