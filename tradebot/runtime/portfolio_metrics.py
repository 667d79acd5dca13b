"""The metrics only a portfolio has: pure functions over its trades, equity and per-symbol
matrices (docs/execution.md, "Portfolios", defines each one).

- `turnover`: traded notional (every entry and exit fill) over the account's mean equity;
- `concurrency`: how many symbols are held, on average and at most;
- `return_correlation`: Pearson's correlation of every pair of symbols' bar returns, over the
  bars both have a return on; `mean_correlation` its average off the diagonal (per symbol: with
  the others);
- `basket_return_pct`: the equal-weight basket's buy and hold.

As in metrics.py, none of them gives NaN into the metrics: an undefined value is 0.0 (the
correlation matrix itself keeps NaN for a pair without enough common returns: it is shown, not
ranked).
"""
from __future__ import annotations

import numpy as np
import polars as pl


def turnover(trades: pl.DataFrame, equity: np.ndarray) -> float:
    """Traded notional (every entry and exit fill) over the mean equity: 2.0 is the account
    bought and sold in full once."""
    traded = float((trades["qty"] * (trades["entry_price"] + trades["exit_price"])).sum())
    mean = float(equity.mean()) if len(equity) else 0.0
    return traded / mean if mean > 0 else 0.0


def concurrency(held: np.ndarray) -> dict[str, float | int]:
    """`held`: the number of symbols with a position after each bar."""
    return {"avg_positions": float(held.mean()) if len(held) else 0.0,
            "max_positions_held": int(held.max()) if len(held) else 0}


def basket_return_pct(close: np.ndarray) -> float:
    """The equal-weight basket's return: the mean of each symbol's first-to-last close return."""
    returns = []
    for column in close.T:
        seen = column[~np.isnan(column)]
        if len(seen):
            returns.append(seen[-1] / seen[0] - 1.0)
    return float(100.0 * np.mean(returns)) if returns else 0.0


CHUNK_BARS = 32_768  # returns are summed in chunks of bars: memory bounded, few matrix products


def return_correlation(close: np.ndarray) -> np.ndarray:
    """Pearson correlation of the symbols' close-to-close returns, each pair over the bars both
    have a return on (a return spans a symbol's consecutive timeline bars; a gap gives none).
    NaN for a pair with fewer than 3 common returns or a constant one. All pairs at once: sums
    over the common bars are matrix products of the returns (0 where missing) and the masks,
    accumulated chunk by chunk of bars (memory independent of the number of bars)."""
    m = close.shape[1]
    count, sum_a, sum_sq, products = (np.zeros((m, m)) for _ in range(4))
    for start in range(0, max(len(close) - 1, 0), CHUNK_BARS):
        part = close[start:start + CHUNK_BARS + 1]
        x = part[1:] / part[:-1] - 1.0
        valid = ~np.isnan(x)
        if valid.all():  # the usual case: every pair has every return, one product is enough
            count += len(x)
            sum_a += x.sum(axis=0)[:, None]
            sum_sq += (x * x).sum(axis=0)[:, None]
        else:
            mask = valid.astype(np.float64)
            x = np.where(valid, x, 0.0)
            count += mask.T @ mask                # common returns of a and b
            sum_a += x.T @ mask                   # [a, b]: a's returns where b has one
            sum_sq += (x * x).T @ mask
        products += x.T @ x
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_a, mean_b = sum_a / count, sum_a.T / count
        covariance = products / count - mean_a * mean_b
        var_a = sum_sq / count - mean_a ** 2
        out = covariance / np.sqrt(var_a * var_a.T)
    out[(count < 3) | ~(var_a > 0) | ~(var_a.T > 0)] = np.nan
    np.fill_diagonal(out, 1.0)
    return out


def mean_correlation(matrix: np.ndarray) -> float:
    """The mean of the defined pairs off the diagonal (each pair once); 0.0 without one."""
    upper = matrix[np.triu_indices(len(matrix), k=1)]
    upper = upper[np.isfinite(upper)]
    return float(upper.mean()) if len(upper) else 0.0


def correlation_to_others(matrix: np.ndarray) -> np.ndarray:
    """Each symbol's mean correlation with every other symbol (its defined pairs); 0.0 without one."""
    off = matrix.copy()
    np.fill_diagonal(off, np.nan)
    defined = np.isfinite(off)
    counts = defined.sum(axis=1)
    sums = np.where(defined, off, 0.0).sum(axis=1)
    return np.divide(sums, counts, out=np.zeros(len(matrix)), where=counts > 0)
