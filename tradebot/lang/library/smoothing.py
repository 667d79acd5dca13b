"""Seeded recursive smoothing shared by EMA, RSI and ATR (Polars lowering and naive reference).

TA-Lib seeds these averages with the simple mean of the first `n` values, then recurses
y[t] = y[t-1] + alpha * (x[t] - y[t-1]); alpha = 2/(n+1) for EMA, 1/n for Wilder's smoothing (RSI,
ATR). Leading missing values (the warm-up of an input indicator) are skipped before seeding.
"""
from __future__ import annotations

import numpy as np
import polars as pl


def seeded_ewm(x: pl.Expr, n: int, alpha: float) -> pl.Expr:
    """EWM seeded by the SMA of the first n valid values; missing before that."""
    seen = x.is_not_null().cast(pl.Int64).cum_sum()
    seeded = pl.when(seen < n).then(None).when(seen == n).then(x.rolling_mean(n)).otherwise(x)
    return seeded.ewm_mean(alpha=alpha, adjust=False)


def naive_seeded_ewm(x: np.ndarray, n: int, alpha: float) -> np.ndarray:
    """Bar-by-bar reference of `seeded_ewm` (a plain loop)."""
    out = np.full(len(x), np.nan)
    valid: list[float] = []
    value = np.nan
    for t, xt in enumerate(np.asarray(x, float)):
        if np.isnan(xt) and not valid:
            continue
        if len(valid) < n:
            valid.append(xt)
            if len(valid) == n:
                value = sum(valid) / n
                out[t] = value
            continue
        value = value + alpha * (xt - value)
        out[t] = value
    return out
