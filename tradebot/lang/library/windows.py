"""Compiled window kernels: the stochastic's range position, weighted sums, linear regression,
the Ultimate Oscillator's sums, and the few-bar formulas (true range, rate of change, balance of
power), one numba pass over the whole series. The plain window sums (sum, mean, standard
deviation, CCI) are in `sums.py`, the rolling extremes (highest, lowest, donchian) in
`extremes.py`.

Polars' rolling windows measured 10-20x slower than TA-Lib on 1M bars on a 2-core machine
(`rolling_max` 23 ms vs TA-Lib MAX 1.1 ms; docs/benchmarks.md, "Indicators"), and a formula of
a few Polars operations costs about 1 ms an operation (the true range's when/then chain 11 ms,
TA-Lib's TRANGE 1.1). These kernels follow the window rule of `support` themselves: they take
float64 arrays with NaN where a value is missing and answer NaN wherever a bar of the window is
missing, and before the window is full (where a formula answers 0 whatever a missing input, as
TA-Lib's flat-range cases, the docstring says so).

Everything numba compiles for these kernels lives in this module (numba's cache checks only the
timestamp of the file defining a cached function); it is imported on first use. (`stochastic`
is plain Python chaining compiled steps from here and from `sums`.)
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .sums import PROBED, smooth, total_of

NAN = np.nan
BLOCK = 2048  # outputs per block of a weighted sum: the block's accumulators stay in L1


@njit(cache=True, nogil=True)
def weighted_sum(x, weights, divisor):
    """sum(weights[j] * x[t - n + 1 + j]) / divisor over the window ending at t, oldest bar
    first, taken fresh at every bar (no running sum whose rounding residue would outlive a huge
    value). NaN propagates, so a window with a missing value is missing. Computed a block of
    outputs at a time, the weights a few per pass, so the inner loop is a vectorisable
    multiply-add. Also the sum of the results after the n - 1 leading NaN, a block at a time
    while it is in L1: NaN when a result is (`support.window(..., summed=True)`)."""
    out = np.empty(len(x))
    return out, _weighted_into(x, weights, divisor, out)


@njit(cache=True, nogil=True)
def _weighted_into(x, weights, divisor, out):
    """`weighted_sum` into out (len(x) values); returns the sum of the results."""
    size = len(x)
    n = len(weights)
    out[:min(n - 1, size)] = NAN  # every later value is written below
    probe = 0.0
    for start in range(n - 1, size, BLOCK):
        stop = min(start + BLOCK, size)
        block = out[start:stop]
        _weighted_block(x, weights, block, start - n + 1)
        for k in range(len(block)):
            block[k] = block[k] / divisor
        probe += total_of(block)
    return probe


@njit(cache=True, nogil=True)
def hull(x, half, n, root, out):
    """The Hull moving average, wma(2 * wma(x, half) - wma(x, n), root), and `weighted_sum`'s
    sum of its results. A block at a time: the two inner WMAs, combined while the block is in
    L1, then the outer WMA over them and the root - 1 combined values before the block (carried
    over), straight into the result: the same operations in the same order as three WMAs and
    Polars' `2.0 * a - b` (bit for bit), with one 8 MB array for 1M bars instead of four
    written and read back (hma(close, 20) 11-13 ms that way in a plan; TA-Lib's three WMAs
    7.5-8.0, much of both in page faults for the fresh arrays, about 2.5 us each here). Into
    `out` (len(x) values, `support.window`'s `into`: numpy's array, in huge pages)."""
    size = len(x)
    first = min(n - 1 + root - 1, size)  # the inner warm-up, then the outer's
    out[:first] = NAN
    short, long, outer = np.arange(1.0, half + 1.0), np.arange(1.0, n + 1.0), np.arange(1.0, root + 1.0)
    short_divisor, long_divisor = half * (half + 1) / 2.0, n * (n + 1) / 2.0
    outer_divisor = root * (root + 1) / 2.0
    fast, slow = np.empty(BLOCK), np.empty(BLOCK)
    inner = np.full(BLOCK + root - 1, NAN)  # the root - 1 combined values before the block, then its own
    probe = 0.0
    for start in range(n - 1, size, BLOCK):
        stop = min(start + BLOCK, size)
        count = stop - start
        quick, steady = fast[:count], slow[:count]
        _weighted_block(x, short, quick, start - half + 1)
        _weighted_block(x, long, steady, start - n + 1)
        for k in range(count):
            inner[root - 1 + k] = 2.0 * (quick[k] / short_divisor) - steady[k] / long_divisor
        block = out[start:stop]
        _weighted_block(inner, outer, block, 0)
        for k in range(count):
            block[k] = block[k] / outer_divisor
        probe += total_of(out[max(start, first):stop])
        inner[:root - 1] = inner[count: count + root - 1]
    return out, probe


@njit(cache=True, nogil=True)
def _weighted_block(x, weights, out, first):
    """out[k] = sum(weights[j] * x[first + k + j]), j ascending. Eight, then four weights a
    pass: each output still takes its terms one at a time in order (the same sums), but is
    loaded and stored an eighth as often (WMA's kernel 2.3 ms for n = 20 and 1M bars with four
    a pass, 1.95 with eight, 4.1 with one; TA-Lib's WMA 1.7)."""
    out[:] = 0.0
    size = len(out)
    j = 0
    while j + 8 <= len(weights):
        w0, w1, w2, w3 = weights[j], weights[j + 1], weights[j + 2], weights[j + 3]
        w4, w5, w6, w7 = weights[j + 4], weights[j + 5], weights[j + 6], weights[j + 7]
        at = first + j
        x0, x1, x2, x3 = x[at: at + size], x[at + 1: at + 1 + size], x[at + 2: at + 2 + size], x[at + 3: at + 3 + size]
        x4, x5, x6, x7 = x[at + 4: at + 4 + size], x[at + 5: at + 5 + size], x[at + 6: at + 6 + size], x[at + 7: at + 7 + size]
        for k in range(size):
            low = (((out[k] + w0 * x0[k]) + w1 * x1[k]) + w2 * x2[k]) + w3 * x3[k]
            out[k] = (((low + w4 * x4[k]) + w5 * x5[k]) + w6 * x6[k]) + w7 * x7[k]
        j += 8
    while j + 4 <= len(weights):
        w0, w1, w2, w3 = weights[j], weights[j + 1], weights[j + 2], weights[j + 3]
        x0, x1 = x[first + j: first + j + size], x[first + j + 1: first + j + 1 + size]
        x2, x3 = x[first + j + 2: first + j + 2 + size], x[first + j + 3: first + j + 3 + size]
        for k in range(size):
            out[k] = (((out[k] + w0 * x0[k]) + w1 * x1[k]) + w2 * x2[k]) + w3 * x3[k]
        j += 4
    for j in range(j, len(weights)):
        w = weights[j]
        window = x[first + j: first + j + size]
        for k in range(size):
            out[k] += w * window[k]


@njit(cache=True, nogil=True, error_model="numpy")
def linreg(x, n, field):
    """TA-Lib LINEARREG (field 0), LINEARREG_SLOPE (1), LINEARREG_INTERCEPT (2): its formulas
    over SumY and SumXY (the oldest bar's x-coordinate is n-1), with the sums taken by blocks
    of n bars as `sums.mean_and_deviation` takes its own: of the values minus the first bar of
    the window's block (a bar of every window ending in it; the slope does not move with a
    shift, the intercept moves by it), a prefix of this block joined to a suffix of the one
    before, as exact as fresh sums and closer to the exact line than TA-Lib's running sums.
    SumXY of a window ending at bar j of its block is j * SumY - sum(i * y) over the prefix's
    bars i plus sum((n - i) * y) over the suffix's (bars i of the previous block), so both
    scans are running sums too, one loop for the four chains. 2.5 ms for 1M bars and n = 14
    (TA-Lib's LINEARREG_SLOPE 2.0; fresh sums took 3.6, 3.0 with the division by the
    divisor and by n, now multiplied by their reciprocals: within an ulp of the quotients)."""
    size = len(x)
    out = np.empty(size)
    sum_x = n * (n - 1) * 0.5
    divisor = sum_x * sum_x - n * (n * (n - 1) * (2 * n - 1) // 6)
    inverse, per_bar = 1.0 / divisor, 1.0 / n
    # The previous block's suffix sums from its bar j on ([n]: none of it); NaN before block 1,
    # which makes the first n - 1 outputs NaN.
    old_y, old_xy = np.full(n + 1, NAN), np.full(n + 1, NAN)
    old_y[n] = old_xy[n] = 0.0
    new_y, new_xy = np.zeros(n + 1), np.zeros(n + 1)
    sum_y, sum_iy = np.empty(n), np.empty(n)  # this block's prefixes: sum(y), sum(i * y)
    probe, checked = 0.0, n - 1  # the sum of the results after the leading NaN, up to `checked`
    for block in range(0, size, n):
        count = min(n, size - block)
        shift = x[block]
        total = weighted = 0.0
        if block + n < size:  # and the suffixes for the next block, shifted by its first bar
            following = x[block + n]
            back = back_weighted = 0.0
            # Unsigned indices: numba wraps a negative signed index around, a fix-up on every
            # load and store it cannot prove non-negative (`wilder.atr`; the slope 2.40 -> 2.26 ms).
            base, last = np.uint64(block), np.uint64(n - 1)
            for j in range(np.uint64(n)):
                value = x[base + j] - shift
                total += value
                weighted += j * value
                sum_y[j], sum_iy[j] = total, weighted
                k = last - j
                other = x[base + k] - following
                back += other
                back_weighted += (j + np.uint64(1)) * other
                new_y[k], new_xy[k] = back, back_weighted
        else:
            for j in range(count):
                value = x[block + j] - shift
                total += value
                weighted += j * value
                sum_y[j], sum_iy[j] = total, weighted
        done = out[block: block + count]
        at = n - 1.0 if field == 0 else 0.0  # the line's x-coordinate (intercept: 0)
        for j in range(count):  # no chain: vectorized
            y = sum_y[j] + old_y[j + 1]
            xy = j * y - sum_iy[j] + old_xy[j + 1]
            slope = (n * xy - sum_x * y) * inverse
            done[j] = slope if field == 1 else shift + ((y - slope * sum_x) * per_bar + slope * at)
        if block + count - checked >= PROBED:  # the results' sum while in L1 (`sums.total_of`)
            probe += total_of(out[checked: block + count])
            checked = block + count
        old_y, new_y = new_y, old_y
        old_xy, new_xy = new_xy, old_xy
    return out, probe + total_of(out[checked:])


@njit(cache=True, nogil=True)
def ultosc(high, low, close, fast, mid, slow):
    """TA-Lib ULTOSC: 100 * (4 a1/b1 + 2 a2/b2 + a3/b3) / 7, where a and b are the sums of buying
    pressure (close - true low) and true range over the periods sorted shortest first.

    The sums are TA-Lib's running totals, each started from 0 `period - 1` bars before the first
    output and updated in its order (add today's terms, subtract the trailing bar's after the
    output), so they carry the same rounding residue; a total within 1e-14 of 0 contributes
    nothing (TA_IS_ZERO). A bar with a missing input restarts everything after it. The totals
    are scalars and each bar's terms are computed once, kept for the trailing reads in a ring
    of the longest period's bars (19 ms for 1M bars with arrays of totals and the trailing terms
    recomputed, 8 ms so; TA-Lib 5.5).

    SPAN bars at a time, in three steps: the span's terms (a loop that vectorizes), the totals
    bar by bar (the chain, now free of the terms' arithmetic and of the divisions), each bar's
    totals kept, then the outputs from them (divisions that vectorize): 6.8 -> 6.0-6.3 ms.
    Also the sum of the outputs from the first one on, each span's while in L1, NaN exactly
    when one of them is (`support.window(..., summed=True)`: Polars gets the array without a
    `nan_to_null` copy)."""
    size = len(close)
    out = np.empty(size)
    if size:
        out[0] = NAN
    short, longest = min(fast, mid, slow), max(fast, mid, slow)
    middle = fast + mid + slow - short - longest
    short_signed, middle_signed = short, middle
    buys = np.empty(longest)  # buys[i % longest]: bar i's terms, until bar i + longest
    ranges = np.empty(longest)
    span_buys, span_ranges = np.empty(SPAN), np.empty(SPAN)
    totals = np.zeros((6, SPAN))  # a1, b1, a2, b2, a3, b3 after each bar of the span
    outputs = np.zeros(SPAN, np.bool_)  # whether the bar has an output
    a1 = a2 = a3 = b1 = b2 = b3 = 0.0
    first_output = size
    # The ring's slots unsigned: numba wraps a negative signed index around, a fix-up on every
    # load and store it cannot prove non-negative (`wilder.atr`; 7.05 -> 6.8 ms for 1M bars).
    slot, ring = np.uint64(0), np.uint64(longest)  # i % longest
    short, middle = np.uint64(short), np.uint64(middle)
    total, started = 0.0, False  # the sum of the outputs from the first one on
    for start in range(1, size, SPAN):
        stop = min(start + SPAN, size)
        _span_terms(high, low, close, start, stop, span_buys, span_ranges)
        for i in range(start, stop):
            k = i - start
            slot = slot + np.uint64(1) if slot + np.uint64(1) < ring else np.uint64(0)
            buy, rng = span_buys[k], span_ranges[k]
            outputs[k] = False
            if np.isnan(buy):
                first_output = size
                continue
            if first_output == size:  # a new run of complete bars
                first_output = i + longest - 1
                a1 = a2 = a3 = b1 = b2 = b3 = 0.0
            if i > first_output:  # TA-Lib removes the trailing bar after each output
                a1, b1 = a1 - buys[_back(slot, short, ring)], b1 - ranges[_back(slot, short, ring)]
                a2, b2 = a2 - buys[_back(slot, middle, ring)], b2 - ranges[_back(slot, middle, ring)]
                a3, b3 = a3 - buys[slot], b3 - ranges[slot]
            if i > first_output - short_signed:  # this period's window has begun
                a1, b1 = a1 + buy, b1 + rng
            if i > first_output - middle_signed:
                a2, b2 = a2 + buy, b2 + rng
            a3, b3 = a3 + buy, b3 + rng
            buys[slot], ranges[slot] = buy, rng
            totals[0, k], totals[1, k], totals[2, k] = a1, b1, a2
            totals[3, k], totals[4, k], totals[5, k] = b2, a3, b3
            outputs[k] = i >= first_output
        _ultosc_outputs(totals, outputs, out[start:stop])
        if not started:  # the leading NaN are not summed: from this span's first output on
            for k in range(stop - start):
                if outputs[k]:
                    started = True
                    total += total_of(out[start + k:stop])
                    break
        else:
            total += total_of(out[start:stop])
    return out, total


SPAN = 512  # bars per span of `ultosc`: its terms and totals stay in L1


@njit(cache=True, nogil=True)
def _back(slot, bars, ring):
    """The ring slot of the bar `bars` before the one in `slot` (bars <= ring; unsigned)."""
    return slot - bars if slot >= bars else slot + (ring - bars)


@njit(cache=True, nogil=True)
def _span_terms(high, low, close, start, stop, buys, ranges):
    """(close - true low, true range) of bars start..stop-1 as TA-Lib's ULTOSC computes them,
    into buys and ranges from 0; both NaN where an input is missing. No branches: it vectorizes
    (max(), not comparisons, which mispredict on a random walk)."""
    top, bottom, last, before = high[start:stop], low[start:stop], close[start:stop], close[start - 1:stop - 1]
    for k in range(stop - start):
        missing = np.isnan(before[k]) | np.isnan(top[k]) | np.isnan(bottom[k]) | np.isnan(last[k])
        true_range = max(max(top[k] - bottom[k], abs(before[k] - top[k])), abs(before[k] - bottom[k]))
        buys[k] = NAN if missing else last[k] - min(bottom[k], before[k])
        ranges[k] = NAN if missing else true_range


@njit(cache=True, nogil=True, error_model="numpy")  # no raise: a division by a zero total is dropped
def _ultosc_outputs(totals, outputs, target):
    """ULTOSC of each bar from its totals (rows a1, b1, a2, b2, a3, b3), NaN where `outputs` is
    False, into target (one value per bar of the span)."""
    count = len(target)
    a1, b1, a2, b2 = totals[0, :count], totals[1, :count], totals[2, :count], totals[3, :count]
    a3, b3 = totals[4, :count], totals[5, :count]
    for k in range(count):
        value = 100.0 * (_weigh(a1[k], b1[k], 4.0) + _weigh(a2[k], b2[k], 2.0) + _weigh(a3[k], b3[k], 1.0)) / 7.0
        target[k] = value if outputs[k] else NAN


@njit(cache=True, nogil=True, error_model="numpy")  # no raise: inlined (see `kernels.kama`)
def _weigh(a, b, weight):
    return 0.0 if -1e-14 < b < 1e-14 else weight * (a / b)


@njit(cache=True, nogil=True, fastmath={"reassoc"})
def true_range(high, low, close):
    """TA-Lib TRANGE: high - low, replaced by a larger |high - previous close|, then by a larger
    |low - previous close|; NaN on the first bar and wherever one of the three is missing (a
    missing high or low fails every comparison and reaches the result). Also the sum of the
    ranges from bar 1 on, NaN exactly when one of them is (`support.window(..., summed=True)`);
    `reassoc` lets that sum run several lanes wide and touches nothing else."""
    size = len(close)
    out = np.empty(size)
    total = 0.0
    if size:
        out[0] = NAN
    for t in range(1, size):
        prev_close = close[t - 1]
        span = high[t] - low[t]
        up = abs(high[t] - prev_close)
        down = abs(low[t] - prev_close)
        larger = up if up > span else span
        value = NAN if np.isnan(prev_close) else (down if down > larger else larger)
        out[t] = value
        total += value
    return out, total


@njit(cache=True, nogil=True)
def typical_price(high, low, close):
    """hlc3: ((high + low) + close) / 3, as Polars adds it; NaN where one is missing. One pass
    and one result: Polars' formula makes a column per operation (1.6 ms for 1M bars). Also
    the sum of the values, a chunk at a time while in L1 (`support.window(..., summed=True)`)."""
    size = len(close)
    out = np.empty(size)
    probe = 0.0
    for start in range(0, size, PROBED):
        stop = min(start + PROBED, size)  # slices indexed from 0: see `rate_of_change`
        top, bottom, last, target = high[start:stop], low[start:stop], close[start:stop], out[start:stop]
        for k in range(len(target)):
            target[k] = (top[k] + bottom[k] + last[k]) / 3.0
        probe += total_of(target)
    return out, probe


@njit(cache=True, nogil=True)
def range_position(close, high, low, n, willr):
    """Where close sits in the range of the last n bars: 100 * (close - lowest low) / (highest
    high - lowest low) (the stochastic's raw %K), or with `willr` -100 * (highest high - close) /
    the range (Williams %R); 0 when the range is flat within 1e-14 of its level (TA-Lib), even
    if close is missing. NaN where a high or low of the window is missing.

    The highest high and lowest low come from `_blocked_extremes`' blocks, both in one pass (two
    Polars columns and a Polars formula took 14 ms for 1M bars, TA-Lib's WILLR 3.4), first as
    there without looking for missing values (the probe sums the highs and lows), then, only
    if one is missing, with the window rule bar by bar. (`_doubled` for both extremes, then
    the formula over each chunk, measured slower: 4.0 ms against 3.6 for willr(14).)"""
    size = len(close)
    out = np.empty(size)
    high_suffix = np.full(n + 1, -np.inf)  # the highest of the previous block from its bar j - 1 on
    low_suffix = np.full(n + 1, np.inf)
    probe = 0.0
    for block in range(0, size, n):
        stop = min(block + n, size)
        highest = -np.inf
        lowest = np.inf
        # Unsigned indices: numba wraps a negative signed index around, a fix-up on every load
        # and store it cannot prove non-negative (`wilder.atr`; willr(14) 3.3 -> 2.7 ms for 1M bars).
        base = np.uint64(block)
        for t in range(base, np.uint64(stop)):
            top, bottom = high[t], low[t]
            probe += top + bottom
            highest = max(highest, top)
            lowest = min(lowest, bottom)
            older = t - base + np.uint64(1)
            out[t] = _position(close[t], max(highest, high_suffix[older]), min(lowest, low_suffix[older]), willr)
        _range_suffixes(high, low, block, stop, high_suffix, low_suffix)
    if np.isnan(probe):
        return _range_position_missing(close, high, low, n, willr)
    out[:min(n - 1, size)] = NAN
    return out


@njit(cache=True, nogil=True)
def _range_suffixes(high, low, block, stop, high_suffix, low_suffix):
    """The highest high and lowest low of high[i:stop] and low[i:stop], at [i - block]."""
    highest = -np.inf
    lowest = np.inf
    base = np.uint64(block)
    for j in range(np.uint64(stop - block)):  # unsigned, see `range_position`
        i = np.uint64(stop - 1) - j
        highest = max(highest, high[i])
        lowest = min(lowest, low[i])
        high_suffix[i - base] = highest
        low_suffix[i - base] = lowest


@njit(cache=True, nogil=True)
def _range_position_missing(close, high, low, n, willr):
    """`range_position` where a high or low may be missing (NaN): the window rule bar by bar."""
    size = len(close)
    out = np.empty(size)
    high_suffix = np.empty(n)  # the highest of the previous block from its bar j on
    low_suffix = np.empty(n)
    last_missing = -1
    for block in range(0, size, n):
        stop = min(block + n, size)
        highest = -np.inf
        lowest = np.inf
        for t in range(block, stop):
            highest = max(highest, high[t])
            lowest = min(lowest, low[t])
            if np.isnan(high[t]) or np.isnan(low[t]):
                last_missing = t
            out[t] = NAN
            if t - last_missing >= n:  # else a missing value in the window, or not n bars yet
                start = t - n + 1
                top = max(highest, high_suffix[start - block + n]) if start < block else highest
                bottom = min(lowest, low_suffix[start - block + n]) if start < block else lowest
                out[t] = _position(close[t], top, bottom, willr)
        _range_suffixes(high, low, block, stop, high_suffix, low_suffix)
    return out


def stochastic(close, high, low, n, smooth_k, smooth_d, d_field):
    """The stochastic's %K, the mean of `range_position` over smooth_k bars, or with `d_field`
    %D, the mean of %K over smooth_d bars; %K is missing wherever %D is (the fields are missing
    together). Not compiled itself: it chains compiled steps, in place."""
    k = range_position(close, high, low, n, False)
    if smooth_k > 1:
        smooth(k, smooth_k)
    d = k if d_field else k.copy()
    smooth(d, smooth_d)
    if not d_field:
        k[np.isnan(d)] = NAN
    return d if d_field else k


@njit(cache=True, nogil=True, error_model="numpy")  # no raise: inlined (see `kernels.kama`)
def _position(close, highest, lowest, willr):
    span = highest - lowest
    if abs(span) <= 1e-14 * (abs(highest) + abs(lowest)):
        return 0.0
    if willr:
        return (highest - close) / span * -100.0
    return (close - lowest) / span * 100.0


@njit(cache=True, nogil=True)
def rate_of_change(x, n):
    """TA-Lib ROC: (x / x[n] - 1) * 100, 0 where x[n] is 0 (even if x is missing); NaN for the
    first n bars and where x[n] is missing. Also the sum of the values from bar n on, a chunk
    at a time while in L1 (`support.window(..., summed=True)`: no `nan_to_null` copy, 0.2-0.35
    ms for 1M values)."""
    size = len(x)
    out = np.empty(size)
    out[:min(n, size)] = NAN
    probe = 0.0
    for start in range(n, size, PROBED):
        # Slices indexed from 0, not offsets in the index: numba's check for a negative index
        # kept the loop over offsets scalar (1.1 ms for 1M bars and n = 10, now 0.4).
        stop = min(start + PROBED, size)
        now, before, target = x[start:stop], x[start - n:stop - n], out[start:stop]
        for k in range(len(target)):
            target[k] = 0.0 if before[k] == 0.0 else (now[k] / before[k] - 1.0) * 100.0
        probe += total_of(target)
    return out, probe


@njit(cache=True, nogil=True, fastmath={"reassoc"})
def difference(x, n, out):
    """x[t] - x[t - n] for t from n on (TA-Lib MOM after its warm-up) into `out` (len(x) - n
    values; numpy's array, on huge pages: see `support.window`'s `into`), and the sum of those
    values: an infinity n bars after one of the same sign makes inf - inf, NaN from numbers that
    are not missing, and only that sum says so (`support.difference`). Summed as `true_range`'s
    (one loop over two views: 0.22 ms for 1M bars, numpy's subtraction alone 0.21; in chunks
    with `total_of`, 0.25)."""
    now, before = x[n:], x[:len(out)]
    total = 0.0
    for t in range(len(out)):
        value = now[t] - before[t]
        out[t] = value
        total += value
    return total


@njit(cache=True, nogil=True, fastmath={"reassoc"})
def balance_of_power(open_, high, low, close):
    """TA-Lib BOP: (close - open) / (high - low), 0 where high - low <= 0 (even if close or open
    is missing). Also the sum of the values, summed as `true_range`'s."""
    out = np.empty(len(close))
    total = 0.0
    for t in range(len(close)):
        span = high[t] - low[t]
        value = 0.0 if span <= 0.0 else (close[t] - open_[t]) / span
        out[t] = value
        total += value
    return out, total
