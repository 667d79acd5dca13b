"""Compiled kernels for the recursions without fused multiply-adds: Wilder's smoothing (RSI, CMO,
ATR, NATR, the DIs and ADX, supertrend's ATR) and the running totals (MFI's window sums, AD, OBV).
Split from `kernels.py` (the EMA family, KAMA, SAR), whose conventions these follow.

ADX and supertrend carry state and branches; AD and OBV are running totals; MFI's window sums are
running sums whose rounding residue TA-Lib's output shows. These kernels follow TA-Lib's update
order and rounding (ADX, the DIs and ATR agree bit for bit); RSI multiplies by 1/n instead of
dividing (twice as fast, within an ulp a step). ATR uses `kernels.fma`, an intrinsic (inlined
code, nothing cached in kernels.py's name).

Kernels take float64 arrays WITHOUT missing values (`support.kernel` drops the bars where an input
is missing and puts the results back) and return arrays of the same length, NaN before the first
value. Everything numba compiles for them lives in this module (numba's cache checks only the
timestamp of the file defining a cached function); it is imported on first use.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .kernels import ema_step, flow, fma, leading_nan, mean_of, probe

NAN = np.nan
CHUNK = 8192  # bars of a chunk of `_smoothed_ranges` (64 kB of results and as much of closes)


@njit(cache=True, nogil=True)
def wilder_oscillator(x, n, cmo):
    """TA-Lib RSI (cmo=False) and CMO (cmo=True): Wilder-smoothed gains and losses of x's
    one-bar changes, seeded with their plain means over the first n changes. Probed."""
    out = leading_nan(len(x), n)
    if len(x) <= n:
        return out, 0.0
    gain = 0.0
    loss = 0.0
    for i in range(1, n + 1):
        diff = x[i] - x[i - 1]
        if diff < 0.0:
            loss -= diff
        else:
            gain += diff
    gain /= n
    loss /= n
    out[n] = _oscillator(gain, loss, cmo)
    keep = float(n - 1)
    inverse = 1.0 / n  # a multiplication, not a division, in the loop: twice as fast (~1 ulp)
    seen, results = probe(x, 0, n + 1), out[n]
    for i in range(n + 1, len(x)):
        # Both averages take a term, one of them 0: the same values as adding to one only, and
        # no branch to mispredict on a random walk (8.8 ms for 1M bars with it, 3.6 without).
        value = x[i]
        seen += value
        diff = value - x[i - 1]
        gain = (gain * keep + max(diff, 0.0)) * inverse
        loss = (loss * keep + max(-diff, 0.0)) * inverse
        out[i] = _oscillator(gain, loss, cmo)
        results += out[i]
    return out, seen + results


@njit(cache=True, nogil=True, error_model="numpy")  # no raise: inlined (see `kernels.kama`)
def _oscillator(gain, loss, cmo):
    total = gain + loss
    if not total > 0.0:  # no movement since the seed: 0, as TA-Lib (an exact test, not a band)
        return 0.0
    if cmo:
        return 100.0 * ((gain - loss) / total)
    return 100.0 * (gain / total)


@njit(cache=True, nogil=True)
def _true_range(high, low, prev_close):
    # max(), not comparisons and branches: they mispredict on a random walk. (No NaN here.)
    return max(max(high - low, abs(high - prev_close)), abs(low - prev_close))


@njit(cache=True, nogil=True)
def atr(high, low, close, n):
    """TA-Lib ATR: the mean of the first n true ranges (bars 1..n), then Wilder's smoothing.
    Probed (`kernels.probe`), the last result added to the probe: a finite probe also says every
    result is a finite number (`support.kernel(..., summed=True)`)."""
    return _smoothed_ranges(high, low, close, n, False)


@njit(cache=True, nogil=True)
def natr(high, low, close, n):
    """TA-Lib NATR: atr / close * 100, 0 where close is 0 (one kernel: the Polars formula after
    the ATR kernel took 2.5 ms for 1M bars). Probed as `atr`: a finite probe says every input
    and every ATR is a finite number, so the division meets no 0/0, inf/inf or 0 * inf and no
    result here is NaN."""
    return _smoothed_ranges(high, low, close, n, True)


@njit(cache=True, nogil=True)
def _smoothed_ranges(high, low, close, n, percent):
    """`atr`, or with `percent` `natr`. NATR's division is a pass of its own over each chunk of
    CHUNK results while they and their closes are in L2, which numba vectorizes (one division a
    bar inside the loop: 1.7 ms for 1M bars; a pass after the whole ATR, reading both 8 MB
    arrays back: 1.6, ATR + 0.45 in the benchmark; by chunks 1.55, TA-Lib's NATR 1.56)."""
    size = len(close)
    out = leading_nan(size, n)
    if size <= n:
        return out, 0.0
    total = 0.0
    for i in range(1, n + 1):
        total += _true_range(high[i], low[i], close[i - 1])
    prev = total / n
    out[n] = prev
    if percent:
        _percent_of(close[n:n + 1], out[n:n + 1])
    # TA-Lib 0.6's own step (its fma build): fma(prev, (n-1)/n, tr * (1 - (n-1)/n)), one
    # fused multiply-add on the chain from one bar to the next, bit for bit its values. 1.4 ms
    # for 1M bars against 1.9 for prev * ((n-1)/n) + tr / n and 5.7 with the division.
    decay = (n - 1) / n
    weight = 1.0 - decay
    seen = (probe(high, 0, n + 1) + probe(low, 0, n + 1)) + probe(close, 0, n + 1)
    prev_close = close[n]
    for start in range(n + 1, size, CHUNK):
        stop = min(start + CHUNK, size)
        # An unsigned index: numba wraps a negative signed index around, and with a start it
        # cannot prove non-negative each load carried that fix-up (1.5 ms for 1M bars, now 1.1
        # as TA-Lib). The previous close rides along in a register; the probe reads what the
        # range reads (high - low and high - previous close), and the last close, which no
        # range reads; and the last result, which is not finite if any is (an inf stays inf
        # through the recursion, or becomes NaN at length 1, and a NaN stays NaN).
        for i in range(np.uint64(start), np.uint64(stop)):
            h, l = high[i], low[i]
            seen += (h - l) + (h - prev_close)
            prev = fma(prev, decay, _true_range(h, l, prev_close) * weight)
            prev_close = close[i]
            out[i] = prev
        if percent:
            _percent_of(close[start:stop], out[start:stop])
    return out, (seen + prev_close) + prev


@njit(cache=True, nogil=True, error_model="numpy")
def _percent_of(close, values):
    """values[k] = values[k] / close[k] * 100, 0 where close[k] is 0 (NATR), in place."""
    for k in range(len(values)):
        c = close[k]
        values[k] = values[k] / c * 100.0 if c != 0.0 else 0.0


@njit(cache=True, nogil=True)
def keltner(high, low, close, n, mult, atr_length, side):
    """One Keltner line: ema(close, n) + side * mult * atr(atr_length), side 1 (upper), 0
    (middle) or -1 (lower), from the first bar where both exist; `kernels.ema`'s and `atr`'s
    arithmetic, the two recursions side by side in one pass, one result array (the two kernels
    and the Polars formula took 6.8 ms for 1M bars, TA-Lib's EMA + ATR 3.8). For bars without a
    missing value: with one, each recursion skips its own missing bars (`support.kernel`'s
    `careful`). Probed."""
    size = len(close)
    first = max(n - 1, atr_length)
    out = leading_nan(size, first)
    if size <= first:
        return out, 0.0
    middle = mean_of(close, 0, n)
    for i in range(n, first + 1):
        middle = ema_step(middle, close[i], n, n)
    total = 0.0
    for i in range(1, atr_length + 1):
        total += _true_range(high[i], low[i], close[i - 1])
    average = total / atr_length
    decay = (atr_length - 1) / atr_length
    weight = 1.0 - decay
    for i in range(atr_length + 1, first + 1):
        average = fma(average, decay, _true_range(high[i], low[i], close[i - 1]) * weight)
    out[first] = _keltner_line(middle, mult * average, side)
    seen = (probe(high, 0, first + 1) + probe(low, 0, first + 1)) + probe(close, 0, first + 1)
    prev_close = close[first]
    for i in range(np.uint64(first + 1), np.uint64(size)):  # unsigned: see `atr`
        h, l, c = high[i], low[i], close[i]
        seen += (h + l) + c
        middle = ema_step(middle, c, n, n)
        average = fma(average, decay, _true_range(h, l, prev_close) * weight)
        prev_close = c
        out[i] = _keltner_line(middle, mult * average, side)
    return out, seen


@njit(cache=True, nogil=True)
def _keltner_line(middle, width, side):
    if side == 0:
        return middle
    return middle + width if side > 0 else middle - width


@njit(cache=True, nogil=True)
def _directional(high, low, i):
    """(+DM, -DM) of bar i: the part of its range outside the previous bar's (Wilder)."""
    up = high[i] - high[i - 1]
    down = low[i - 1] - low[i]
    # Selects, not branches (they mispredict on a random walk); the two cases exclude each other.
    plus = up if (up > 0) & (up > down) else 0.0
    minus = down if (down > 0) & (up < down) else 0.0
    return plus, minus


@njit(cache=True, nogil=True)
def directional(high, low, close, n, field):
    """TA-Lib PLUS_DI (field 0), MINUS_DI (1) or ADX (2). One output array, not all three: each
    is a builtin of its own, and three 8 MB results cost a page fault storm on every call.

    DM and TR are Wilder running sums seeded with the sum of their first n-1 values; the DIs
    start at bar n, ADX (the mean of the first n DX, then Wilder-smoothed) at bar 2n-1. A bar
    whose DI sum is 0 leaves ADX unchanged, and a zero TR sum gives DIs of 0, as in TA-Lib.
    """
    size = len(close)
    out = np.full(size, NAN)
    if size <= n:
        return out
    pdm = 0.0
    mdm = 0.0
    tr = 0.0
    for i in range(1, n):
        up, down = _directional(high, low, i)
        pdm += up
        mdm += down
        tr += _true_range(high[i], low[i], close[i - 1])
    sum_dx = 0.0
    prev_adx = 0.0
    for i in range(n, size):
        up, down = _directional(high, low, i)
        pdm = pdm - pdm / n + up
        mdm = mdm - mdm / n + down
        tr = tr - tr / n + _true_range(high[i], low[i], close[i - 1])
        p = m = 0.0
        if tr > 0.0:
            p = 100.0 * (pdm / tr)
            m = 100.0 * (mdm / tr)
        if field < 2:
            out[i] = p if field == 0 else m
            continue
        total = m + p  # 0 when tr is 0: no DX, as then in TA-Lib
        dx = -1.0 if -1e-14 < total < 1e-14 else 100.0 * (abs(m - p) / total)
        if i < 2 * n:
            if dx >= 0.0:
                sum_dx += dx
            if i == 2 * n - 1:
                prev_adx = sum_dx / n
                out[i] = prev_adx
        else:
            if dx >= 0.0:
                prev_adx = (prev_adx * (n - 1) + dx) / n
            out[i] = prev_adx
    return out


@njit(cache=True, nogil=True)
def supertrend(high, low, close, factor, n):
    """Supertrend (Olivier Seban; TradingView's ta.supertrend): hl2 -/+ factor * ATR(n) bands
    that only tighten while the trend lasts. Returns (line, direction), direction +1 up, -1 down."""
    size = len(close)
    line = np.full(size, NAN)
    direction = np.full(size, NAN)
    band_atr = atr(high, low, close, n)[0]
    upper = 0.0
    lower = 0.0
    trend = -1.0
    for i in range(n, size):
        mid = (high[i] + low[i]) / 2.0
        up = mid + factor * band_atr[i]
        dn = mid - factor * band_atr[i]
        if i == n:
            trend = -1.0
        else:
            if not (dn > lower or close[i - 1] < lower):
                dn = lower
            if not (up < upper or close[i - 1] > upper):
                up = upper
            if trend < 0.0:  # the line was the upper band
                trend = 1.0 if close[i] > up else -1.0
            else:
                trend = -1.0 if close[i] < dn else 1.0
        upper = up
        lower = dn
        direction[i] = trend
        line[i] = dn if trend > 0.0 else up
    return line, direction


@njit(cache=True, nogil=True)
def mfi(high, low, close, volume, n):
    """TA-Lib MFI with its running sums (the same adds and subtracts in the same order, so the
    same rounding residue): money flow up / total over n bars, first value at bar n."""
    size = len(close)
    out = np.full(size, NAN)
    if size <= n:
        return out
    ups = np.zeros(n)
    downs = np.zeros(n)
    up_sum = 0.0
    down_sum = 0.0
    flat_run = 0
    slot = 0
    prev = (high[0] + low[0] + close[0]) / 3.0
    for i in range(1, size):
        if i > n:  # slide: drop the oldest bar's flows first
            up_sum -= ups[slot]
            down_sum -= downs[slot]
        typical = (high[i] + low[i] + close[i]) / 3.0
        change = typical - prev
        scale = abs(typical) + abs(prev)
        prev = typical
        flow = 0.0 if abs(change) <= 1e-14 * scale else typical * volume[i]
        up = 0.0 if change < 0.0 else flow
        down = flow if change < 0.0 else 0.0
        ups[slot] = up
        downs[slot] = down
        up_sum += up
        down_sum += down
        # A whole window without flow: the sums are exactly 0, whatever residue they carry.
        flat_run = flat_run + 1 if flow == 0.0 else 0
        if flat_run >= n:
            flat_run = n
            up_sum = 0.0
            down_sum = 0.0
        slot = slot + 1 if slot + 1 < n else 0
        if i >= n:
            total = up_sum + down_sum
            clamped = 0.0 if up_sum < 0.0 else (total if up_sum > total else up_sum)
            out[i] = 0.0 if total <= 0.0 else 100.0 * (clamped / total)
    return out


@njit(cache=True, nogil=True)
def running_flow(high, low, close, volume):
    """TA-Lib AD: the running total of ((close - low) - (high - close)) / (high - low) * volume,
    adding nothing on a bar whose high equals its low. Probed by the total itself (`kernels.flow`),
    which vouches for every result too: once a total is inf or NaN, so is the last one."""
    out = np.empty(len(close))
    total = 0.0
    for i in range(len(close)):
        total += flow(high[i], low[i], close[i], volume[i])
        out[i] = total
    return out, total


@njit(cache=True, nogil=True)
def obv(src, volume):
    """TA-Lib OBV: starts at the first bar's volume, then adds the volume when src rose and
    subtracts it when src fell."""
    out = np.empty(len(src))
    if len(src) == 0:
        return out
    total = volume[0]
    out[0] = total
    for i in range(1, len(src)):
        if src[i] > src[i - 1]:
            total += volume[i]
        elif src[i] < src[i - 1]:
            total -= volume[i]
        out[i] = total
    return out
