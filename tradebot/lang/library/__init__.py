"""The builtin library, one module per family; each exports BUILTINS (see lang/builtins.py) and
`warmup=`/`source=` on each builtin (warm-up and the definition followed, for docs/builtins.md).

    prices      open high low close volume hl2 hlc3 ohlc4 time bar_index
    calendar    hour minute dayofweek dayofmonth month year in_session (time zones)
    math        abs min max log exp sqrt round floor ceil clip sign nz
    trend       moving averages, sar, supertrend, linreg
    momentum    oscillators: rsi, macd, stoch, adx, aroon, ...
    volatility  tr, atr, stdev, bollinger / keltner / donchian bands
    volume      obv, ad, adosc, cmf, vwap
    signals     series and signal functions: highest, barssince, valuewhen, latch, ...
    pine        what Pine users reach for: rma alma tsi dmi median variance correlation
                pivothigh pivotlow heikinashi ichimoku
    position    position state: entry_price, bars_since_entry, highest_since_entry, ...

Shared plumbing: support.py (missing values, kernels glue), naive.py (the references' building
blocks), smoothing.py (moving averages).
Compiled kernels (numba): kernels.py (the EMA family, KAMA, SAR) and wilder.py (Wilder's
smoothing, running totals) for the recursions; windows.py (weighted sums, few-bar formulas),
extremes.py (highest, lowest, their ages, donchian) and sums.py (window sums, standard deviation,
CCI) for the windows; pine_kernels.py
(rma, Heikin-Ashi, correlation) for `pine`.
"""
from __future__ import annotations

from . import calendar, math, momentum, pine, position, prices, signals, trend, volatility, volume

LIBRARY_MODULES = (prices, calendar, math, trend, momentum, volatility, volume, signals, pine, position)
