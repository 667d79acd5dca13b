"""The metrics pass as it was before it was made faster (runtime/summary.py at a40305f): the bar
returns recomputed in each of two passes, one pass each for the deepest drawdown, the longest
stretch under water and the bars held, and each side's trades copied out with a boolean mask.
Frozen as the reference the faster pass must equal bit for bit (tests/runtime/test_summary.py):
the same numbers, not merely close ones, so that no sweep ranks its trials differently than it
did. `_ratio` and `_cagr` did not change and come from the module itself."""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from tradebot.runtime.summary import EQUITY_KEYS, MS_PER_DAY, TRADE_KEYS, _cagr, _ratio


@njit(cache=True, error_model="numpy")
def _mean_std(values):
    n = values.shape[0]
    if n == 0:
        return 0.0, 0.0
    mean = _sum4(values, 0.0, False) / n
    if n < 2:
        return mean, 0.0
    return mean, math.sqrt(_sum4(values, mean, True) / (n - 1))


@njit(cache=True, error_model="numpy")
def _sum4(values, center, squared):
    a = b = c = d = 0.0
    n = values.shape[0]
    stop = n - n % 4
    for i in range(0, stop, 4):
        if squared:
            w, x, y, z = values[i] - center, values[i + 1] - center, values[i + 2] - center, values[i + 3] - center
            a, b, c, d = a + w * w, b + x * x, c + y * y, d + z * z
        else:
            a, b, c, d = a + values[i], b + values[i + 1], c + values[i + 2], d + values[i + 3]
    for i in range(stop, n):
        a += (values[i] - center) ** 2 if squared else values[i]
    return (a + b) + (c + d)


@njit(cache=True, error_model="numpy")
def _bar_return(equity, t):
    r = equity[t] / equity[t - 1] - 1.0
    return r if equity[t - 1] > 0 else 0.0


@njit(cache=True, error_model="numpy")
def _returns_and_losses(equity):
    a = b = c = d = 0.0
    la = lb = lc = ld = 0.0
    n = max(equity.shape[0] - 1, 0)
    stop = n - n % 4
    for i in range(0, stop, 4):
        w, x = _bar_return(equity, i + 1), _bar_return(equity, i + 2)
        y, z = _bar_return(equity, i + 3), _bar_return(equity, i + 4)
        a, b, c, d = a + w, b + x, c + y, d + z
        w, x, y, z = min(w, 0.0), min(x, 0.0), min(y, 0.0), min(z, 0.0)
        la, lb, lc, ld = la + w * w, lb + x * x, lc + y * y, ld + z * z
    for i in range(stop, n):
        r = _bar_return(equity, i + 1)
        a += r
        la += min(r, 0.0) ** 2
    return (a + b) + (c + d), (la + lb) + (lc + ld)


@njit(cache=True, error_model="numpy")
def _deviations(equity, mean):
    a = b = c = d = 0.0
    n = max(equity.shape[0] - 1, 0)
    stop = n - n % 4
    for i in range(0, stop, 4):
        w, x = _bar_return(equity, i + 1) - mean, _bar_return(equity, i + 2) - mean
        y, z = _bar_return(equity, i + 3) - mean, _bar_return(equity, i + 4) - mean
        a, b, c, d = a + w * w, b + x * x, c + y * y, d + z * z
    for i in range(stop, n):
        a += (_bar_return(equity, i + 1) - mean) ** 2
    return (a + b) + (c + d)


@njit(cache=True, error_model="numpy")
def _underwater(drawdown, ms):
    n = drawdown.shape[0]
    most_bars, most_ms = 0, 0.0
    start = -1
    for t in range(n):
        under = drawdown[t] < 0.0
        if under and start < 0:
            start = t - 1 if t > 0 else 0
        elif not under and start >= 0:
            most_bars, most_ms = max(most_bars, t - start), max(most_ms, float(ms[t] - ms[start]))
            start = -1
    if start >= 0 and n >= 2:
        most_bars, most_ms = max(most_bars, n - 1 - start), max(most_ms, float(ms[n - 1] - ms[start]))
    return most_bars, most_ms / MS_PER_DAY


@njit(cache=True, error_model="numpy")
def _equity_part(equity, drawdown, ms, capital, bars_per_year, out):
    n = equity.shape[0]
    count = max(n - 1, 0)
    total, losses = _returns_and_losses(equity)
    mean = total / count if count else 0.0
    std = math.sqrt(_deviations(equity, mean) / (count - 1)) if count >= 2 else 0.0
    downside = math.sqrt(losses / count) if count else 0.0
    final = equity[n - 1] if n else capital
    years = (n - 1) / bars_per_year if bars_per_year > 0 else 0.0
    cagr = _cagr(final / capital, years)
    max_dd = drawdown.min() if n else 0.0
    bars, days = _underwater(drawdown, ms) if n >= 2 else (0, 0.0)
    root = math.sqrt(bars_per_year)
    out[0], out[1], out[2] = capital, final, 100.0 * (final / capital - 1.0)
    out[3], out[4], out[5] = 100.0 * mean * bars_per_year, 100.0 * cagr, 100.0 * std * root
    out[6] = _ratio(mean * root, std, 0.0)
    out[7] = _ratio(mean * root, downside, np.nan)
    out[8] = _ratio(cagr, -max_dd, np.nan)
    out[9], out[10], out[11], out[12], out[13] = 100.0 * max_dd, bars, days, n, bars_per_year


@njit(cache=True, error_model="numpy")
def _trade_part(pnl, returns, held, fees, ambiguous, exposed_bars, bars, out):
    count = pnl.shape[0]
    wins, profit, loss, ambiguous_count, ambiguous_pnl = 0, 0.0, 0.0, 0, 0.0
    for i in range(count):
        if pnl[i] > 0:
            wins += 1
            profit += pnl[i]
        elif pnl[i] < 0:
            loss -= pnl[i]
        if ambiguous[i]:
            ambiguous_count += 1
            ambiguous_pnl += pnl[i]
    mean, std = _mean_std(pnl)
    out[0] = count
    out[1] = 100.0 * wins / count if count else 0.0
    out[2] = _ratio(profit, loss, np.nan)
    out[3] = mean
    out[4] = math.sqrt(count) * _ratio(mean, std, 0.0)
    out[5] = pnl.sum()
    out[6] = returns.sum() / count if count else 0.0
    out[7] = returns.max() if count else 0.0
    out[8] = returns.min() if count else 0.0
    out[9] = held.sum() / count if count else 0.0
    out[10] = fees.sum()
    out[11] = 100.0 * exposed_bars / bars if bars else 0.0
    out[12], out[13] = ambiguous_count, ambiguous_pnl


@njit(cache=True, error_model="numpy")
def summarize(equity, position, drawdown, ms, capital, bars_per_year,
              side, pnl, returns, held, fees, ambiguous):
    out_equity = np.empty(len(EQUITY_KEYS))
    _equity_part(equity, drawdown, ms, capital, bars_per_year, out_equity)
    out_trades = np.empty((3, len(TRADE_KEYS)))
    n = position.shape[0]
    long_bars = short_bars = 0
    for t in range(n):
        long_bars += position[t] > 0
        short_bars += position[t] < 0
    _trade_part(pnl, returns, held, fees, ambiguous, long_bars + short_bars, n, out_trades[0])
    _side_part(side, 1.0, pnl, returns, held, fees, ambiguous, long_bars, n, out_trades[1])
    _side_part(side, -1.0, pnl, returns, held, fees, ambiguous, short_bars, n, out_trades[2])
    return out_equity, out_trades


@njit(cache=True, error_model="numpy")
def _side_part(side, sign, pnl, returns, held, fees, ambiguous, exposed_bars, bars, out):
    mine = side == sign
    _trade_part(pnl[mine], returns[mine], held[mine], fees[mine], ambiguous[mine], exposed_bars, bars, out)


@njit(cache=True, error_model="numpy")
def deepest(drawdown):
    """The deepest drawdown as `_equity_part` took it (numba's min: the first of equal minima)."""
    return drawdown.min() if drawdown.shape[0] else 0.0
