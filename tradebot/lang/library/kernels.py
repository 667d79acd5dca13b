"""Compiled kernels: one numba pass over the whole series for the recursive indicators.

A recursion (each value depends on the previous one) can only be written in Polars through
`ewm_mean`, whose arithmetic is not TA-Lib's (TA-Lib updates an EMA as `fma(x - prev, k, prev)`)
and which measured slower (docs/benchmarks.md, "Indicators": 23.9 ms vs 4.0 ms for an EMA of 1M
values). ADX, SAR, KAMA, T3 and supertrend carry state and branches; AD and OBV are running totals;
MFI's window sums are running sums whose rounding residue TA-Lib's output shows. These kernels
follow TA-Lib's update order and rounding (EMA, KAMA, SAR, T3, ADX, the DIs and ADOSC agree bit
for bit); RSI and ATR multiply by 1/n instead of dividing (twice as fast, within an ulp a step).

Kernels take float64 arrays WITHOUT missing values (`support.kernel` drops the bars where an input
is missing and puts the results back: recursions skip missing bars) and return arrays of the same
length, NaN before the first value. Everything numba compiles for them lives in this module
(numba's cache checks only the timestamp of the file defining a cached function; the window
kernels, which take missing values as NaN, live in `windows.py` for the same reason); it is
imported on first use.
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit
from numba.core import types
from numba.extending import intrinsic

NAN = np.nan


@intrinsic
def fma(typingctx, a, b, c):
    """a * b + c with a single rounding (LLVM's fma intrinsic), as TA-Lib computes it."""
    sig = types.float64(types.float64, types.float64, types.float64)

    def codegen(context, builder, signature, args):
        double = ir.DoubleType()
        fn = builder.module.declare_intrinsic("llvm.fma", [double], ir.FunctionType(double, [double] * 3))
        return builder.call(fn, args)

    return sig, codegen


@njit(cache=True, nogil=True)
def ema(x, n, seed_at):
    """TA-Lib EMA, k = 2/(n+1): seeded at index seed_at-1 with the mean of the n values ending
    there (seed_at = n for a plain EMA; MACD seeds its fast EMA at the slow period)."""
    out = np.full(len(x), NAN)
    if len(x) < seed_at:
        return out
    if n == 1 and seed_at == 1:  # TA-Lib: no smoothing at period 1, a copy
        return x.copy()
    k = 2.0 / (n + 1)
    total = 0.0
    for i in range(seed_at - n, seed_at):
        total += x[i]
    prev = total / n
    out[seed_at - 1] = prev
    for i in range(seed_at, len(x)):
        prev = fma(x[i] - prev, k, prev)
        out[i] = prev
    return out


@njit(cache=True, nogil=True)
def wilder_oscillator(x, n, cmo):
    """TA-Lib RSI (cmo=False) and CMO (cmo=True): Wilder-smoothed gains and losses of x's
    one-bar changes, seeded with their plain means over the first n changes."""
    out = np.full(len(x), NAN)
    if len(x) <= n:
        return out
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
    for i in range(n + 1, len(x)):
        diff = x[i] - x[i - 1]
        if diff < 0.0:
            loss = (loss * keep - diff) * inverse
            gain = gain * keep * inverse
        else:
            gain = (gain * keep + diff) * inverse
            loss = loss * keep * inverse
        out[i] = _oscillator(gain, loss, cmo)
    return out


@njit(cache=True, nogil=True)
def _oscillator(gain, loss, cmo):
    total = gain + loss
    if not total > 0.0:  # no movement since the seed: 0, as TA-Lib (an exact test, not a band)
        return 0.0
    if cmo:
        return 100.0 * ((gain - loss) / total)
    return 100.0 * (gain / total)


@njit(cache=True, nogil=True)
def _true_range(high, low, prev_close):
    value = high - low
    up = abs(high - prev_close)
    if up > value:
        value = up
    down = abs(low - prev_close)
    if down > value:
        value = down
    return value


@njit(cache=True, nogil=True)
def atr(high, low, close, n):
    """TA-Lib ATR: the mean of the first n true ranges (bars 1..n), then Wilder's smoothing."""
    out = np.full(len(close), NAN)
    if len(close) <= n:
        return out
    total = 0.0
    for i in range(1, n + 1):
        total += _true_range(high[i], low[i], close[i - 1])
    prev = total / n
    out[n] = prev
    keep = float(n - 1)
    inverse = 1.0 / n  # see wilder_oscillator
    for i in range(n + 1, len(close)):
        prev = (prev * keep + _true_range(high[i], low[i], close[i - 1])) * inverse
        out[i] = prev
    return out


@njit(cache=True, nogil=True)
def _directional(high, low, i):
    """(+DM, -DM) of bar i: the part of its range outside the previous bar's (Wilder)."""
    up = high[i] - high[i - 1]
    down = low[i - 1] - low[i]
    if down > 0 and up < down:
        return 0.0, down
    if up > 0 and up > down:
        return up, 0.0
    return 0.0, 0.0


@njit(cache=True, nogil=True)
def directional(high, low, close, n):
    """TA-Lib PLUS_DI / MINUS_DI / ADX in one pass: returns (plus_di, minus_di, adx).

    DM and TR are Wilder running sums seeded with the sum of their first n-1 values; the DIs
    start at bar n, ADX (the mean of the first n DX, then Wilder-smoothed) at bar 2n-1. A bar
    whose DI sum is 0 leaves ADX unchanged, and a zero TR sum gives DIs of 0, as in TA-Lib.
    """
    size = len(close)
    plus_di = np.full(size, NAN)
    minus_di = np.full(size, NAN)
    adx = np.full(size, NAN)
    if size <= n:
        return plus_di, minus_di, adx
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
        dx = -1.0
        if tr > 0.0:
            p = 100.0 * (pdm / tr)
            m = 100.0 * (mdm / tr)
            plus_di[i] = p
            minus_di[i] = m
            total = m + p
            if not (-1e-14 < total < 1e-14):
                dx = 100.0 * (abs(m - p) / total)
        else:
            plus_di[i] = 0.0
            minus_di[i] = 0.0
        if i < 2 * n:
            if dx >= 0.0:
                sum_dx += dx
            if i == 2 * n - 1:
                prev_adx = sum_dx / n
                adx[i] = prev_adx
        else:
            if dx >= 0.0:
                prev_adx = (prev_adx * (n - 1) + dx) / n
            adx[i] = prev_adx
    return plus_di, minus_di, adx


@njit(cache=True, nogil=True)
def kama(x, n):
    """TA-Lib KAMA (Kaufman): an EMA whose factor adapts to the efficiency ratio
    |x - x[n]| / sum |x - x[1]| over n bars, between 2/(2+1) and 2/(30+1); first value at bar n."""
    size = len(x)
    out = np.full(size, NAN)
    if n == 1:
        return x.copy()
    if size <= n:
        return out
    fastest = 2.0 / (30.0 + 1.0)
    spread = 2.0 / (2.0 + 1.0) - fastest
    noise = 0.0
    flat_run = 0
    for i in range(n):
        step = x[i] - x[i + 1]
        noise += abs(step)
        flat_run = flat_run + 1 if step == 0.0 else 0
    prev = x[n - 1]
    for i in range(n, size):
        change = x[i] - x[i - n]
        if i > n:
            noise -= abs(x[i - n - 1] - x[i - n])
            step = x[i] - x[i - 1]
            noise += abs(step)
            # A whole window of exactly flat bars: the sliding sum holds only rounding residue.
            flat_run = flat_run + 1 if step == 0.0 else 0
            if flat_run >= n:
                flat_run = n
                noise = 0.0
        ratio = 1.0 if noise <= change else abs(change / noise)
        factor = fma(ratio, spread, fastest)
        factor *= factor
        prev = fma(x[i] - prev, factor, prev)
        out[i] = prev
    return out


@njit(cache=True, nogil=True)
def sar(high, low, acceleration, maximum):
    """TA-Lib SAR (Wilder's parabolic stop and reverse). The first bar sets the initial extreme;
    the direction starts long unless bar 1's -DM is positive; first value at bar 1."""
    size = len(high)
    out = np.full(size, NAN)
    if size < 2:
        return out
    if acceleration > maximum:
        acceleration = maximum
    af = acceleration
    long = not (low[0] - low[1] > 0 and low[0] - low[1] > high[1] - high[0])
    if long:
        ep = high[1]
        value = low[0]
    else:
        ep = low[1]
        value = high[0]
    new_low = low[1]
    new_high = high[1]
    for i in range(1, size):
        prev_low = new_low
        prev_high = new_high
        new_low = low[i]
        new_high = high[i]
        if long:
            if new_low <= value:  # reverse to short at the extreme point
                long = False
                value = max(ep, prev_high, new_high)
                out[i] = value
                af = acceleration
                ep = new_low
                value = max(fma(af, ep - value, value), prev_high, new_high)
            else:
                out[i] = value
                if new_high > ep:
                    ep = new_high
                    af = min(af + acceleration, maximum)
                value = min(fma(af, ep - value, value), prev_low, new_low)
        elif new_high >= value:  # reverse to long
            long = True
            value = min(ep, prev_low, new_low)
            out[i] = value
            af = acceleration
            ep = new_high
            value = min(fma(af, ep - value, value), prev_low, new_low)
        else:
            out[i] = value
            if new_low < ep:
                ep = new_low
                af = min(af + acceleration, maximum)
            value = max(fma(af, ep - value, value), prev_high, new_high)
    return out


@njit(cache=True, nogil=True)
def supertrend(high, low, close, factor, n):
    """Supertrend (Olivier Seban; TradingView's ta.supertrend): hl2 -/+ factor * ATR(n) bands
    that only tighten while the trend lasts. Returns (line, direction), direction +1 up, -1 down."""
    size = len(close)
    line = np.full(size, NAN)
    direction = np.full(size, NAN)
    band_atr = atr(high, low, close, n)
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
def t3(x, n, volume_factor):
    """TA-Lib T3 (Tillson): six chained EMAs (k = 2/(n+1)), each seeded with the mean of the
    previous one's first n values, combined with the volume factor's coefficients."""
    size = len(x)
    out = np.full(size, NAN)
    lookback = 6 * (n - 1)
    if size <= lookback:
        return out
    if n == 1:
        return x.copy()
    k = 2.0 / (n + 1.0)
    keep = 1.0 - k
    e = np.zeros(6)
    total = 0.0
    for i in range(n):
        total += x[i]
    e[0] = total / n
    today = n
    for level in range(1, 6):
        # Seed level `level` with the mean of its first n inputs (the seed below it, then n-1
        # more), advancing every level below on each new bar.
        total = e[level - 1]
        for _ in range(n - 1):
            e[0] = fma(keep, e[0], k * x[today])
            today += 1
            for below in range(1, level):
                e[below] = fma(keep, e[below], k * e[below - 1])
            total += e[level - 1]
        e[level] = total / n
    a2 = volume_factor * volume_factor
    c1 = 0.0 - a2 * volume_factor
    c2 = 3.0 * (a2 - c1)
    c3 = -6.0 * a2 - 3.0 * (volume_factor - c1)
    c4 = fma(3.0, a2, fma(3.0, volume_factor, 1.0) - c1)
    out[lookback] = fma(c4, e[2], fma(c3, e[3], fma(c1, e[5], c2 * e[4])))
    for i in range(lookback + 1, size):
        e[0] = fma(keep, e[0], k * x[i])
        for level in range(1, 6):
            e[level] = fma(keep, e[level], k * e[level - 1])
        out[i] = fma(c4, e[2], fma(c3, e[3], fma(c1, e[5], c2 * e[4])))
    return out


@njit(cache=True, nogil=True)
def adosc(high, low, close, volume, fast, slow):
    """TA-Lib ADOSC: ema(fast) - ema(slow) of the accumulation/distribution line, both seeded
    with its first value (not a mean); first value at bar max(fast, slow) - 1."""
    size = len(close)
    out = np.full(size, NAN)
    lookback = max(fast, slow) - 1
    if size <= lookback:
        return out
    fast_k = 2.0 / (fast + 1.0)
    slow_k = 2.0 / (slow + 1.0)
    line = 0.0
    fast_ema = 0.0
    slow_ema = 0.0
    for i in range(size):
        span = high[i] - low[i]
        if span > 0.0:
            line += (close[i] - low[i] - (high[i] - close[i])) / span * volume[i]
        if i == 0:
            fast_ema = line
            slow_ema = line
        else:
            fast_ema = fma(1.0 - fast_k, fast_ema, fast_k * line)
            slow_ema = fma(1.0 - slow_k, slow_ema, slow_k * line)
        if i >= lookback:
            out[i] = fast_ema - slow_ema
    return out


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
def ema_chain(x, n, depth):
    """ema(x), ema(ema(x)), ... `depth` levels in one pass (DEMA, TEMA, TRIX): each level seeded
    with the mean of the previous level's first n values and updated as TA-Lib's EMA. Returns a
    (depth, len(x)) array."""
    size = len(x)
    out = np.full((depth, size), NAN)
    if n == 1:
        for level in range(depth):
            out[level, :] = x
        return out
    k = 2.0 / (n + 1)
    value = np.zeros(depth)
    total = np.zeros(depth)
    seen = np.zeros(depth, dtype=np.int64)
    for i in range(size):
        below = x[i]
        for level in range(depth):
            if seen[level] < n:
                total[level] += below
                seen[level] += 1
                if seen[level] < n:
                    break  # this level is still seeding: nothing for the levels above yet
                value[level] = total[level] / n
            else:
                value[level] = fma(below - value[level], k, value[level])
            out[level, i] = value[level]
            below = value[level]
    return out


@njit(cache=True, nogil=True)
def running_flow(high, low, close, volume):
    """TA-Lib AD: the running total of ((close - low) - (high - close)) / (high - low) * volume,
    adding nothing on a bar whose high equals its low."""
    out = np.empty(len(close))
    total = 0.0
    for i in range(len(close)):
        span = high[i] - low[i]
        if span > 0.0:
            total += (close[i] - low[i] - (high[i] - close[i])) / span * volume[i]
        out[i] = total
    return out


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
