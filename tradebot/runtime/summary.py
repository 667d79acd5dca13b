"""Every metric of a backtest in one compiled pass: the one implementation behind a plain run, a
live session and each trial of a sweep, so a sweep's numbers equal a plain run's by construction.

`summarize` takes plain arrays — the equity curve (equity, position, drawdown, timestamps in ms)
and the closed trades as columns (side, net P&L, return %, bars held, fees, ambiguous) — and
returns the metrics as numbers in the order of `EQUITY_KEYS` and `TRADE_KEYS`. A sweep calls it
straight on the kernel's output; a plain run calls it through `metrics.compute_metrics`, from its
frames' columns. The definitions are those of metrics.py (`equity_metrics`, `trade_metrics`,
written with numpy, which docs/execution.md states): tests/runtime/test_summary.py holds the two
equal on random runs, so either is the other's check.

Why the trade columns arrive computed rather than as the kernel's records: `trade_columns` is the
one place that derives P&L and returns from a record (engine.trades_frame uses it too), so the
trade list a report shows and the metrics a sweep ranks cannot disagree on a trade's P&L.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

# The metrics of the equity curve, then of the trades, in the order `compute_metrics` lists them
# ("buy_and_hold_return_pct" is the data's, computed by the caller).
EQUITY_KEYS = ("start_equity", "final_equity", "total_return_pct", "annualized_return_pct", "cagr_pct",
               "volatility_pct", "sharpe", "sortino", "calmar", "max_drawdown_pct", "max_drawdown_bars",
               "max_drawdown_days", "bars", "bars_per_year")
TRADE_KEYS = ("trades", "win_rate_pct", "profit_factor", "expectancy", "sqn", "net_pnl", "avg_trade_pct",
              "best_trade_pct", "worst_trade_pct", "avg_bars_held", "fees_paid", "exposure_pct",
              "ambiguous_trades", "ambiguous_pnl")
# The "all" section of `as_dicts`, in its order: one row of numbers per trial in a sweep.
ALL_KEYS = (*EQUITY_KEYS, "buy_and_hold_return_pct", *TRADE_KEYS)
COUNT_KEYS = frozenset({"max_drawdown_bars", "bars", "trades", "ambiguous_trades"})  # ints, not floats
MS_PER_DAY = 86_400_000.0


@njit(cache=True, error_model="numpy")
def _ratio(numerator, denominator, zero_denominator):
    """numerator / denominator; a zero denominator gives `zero_denominator` unless it is NaN,
    then +inf for a positive numerator and 0.0 otherwise (metrics._ratio)."""
    if denominator > 0:
        return numerator / denominator
    if zero_denominator == zero_denominator:
        return zero_denominator
    return math.inf if numerator > 0 else 0.0


@njit(cache=True, error_model="numpy")
def _mean_std(values):
    """(mean, sample standard deviation): 0.0 for what fewer values leave undefined. Two-pass,
    as numpy computes it; four running sums, so that the additions do not wait on each other."""
    n = values.shape[0]
    if n == 0:
        return 0.0, 0.0
    mean = _sum4(values, 0.0, False) / n
    if n < 2:
        return mean, 0.0
    return mean, math.sqrt(_sum4(values, mean, True) / (n - 1))


@njit(cache=True, error_model="numpy")
def _sum4(values, center, squared):
    """The sum of `values` (or of their squared deviations from `center`) in four lanes."""
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
    """The return of bar t (t >= 1): 0 after a bar whose equity is not positive."""
    r = equity[t] / equity[t - 1] - 1.0
    return r if equity[t - 1] > 0 else 0.0


@njit(cache=True, error_model="numpy")
def _returns_and_losses(equity):
    """(the sum of the bar returns, the sum of the squares of their losses, min(r, 0)), each
    return computed once from the equity: the same additions in the same lanes as `_sum4` over
    arrays of them (`_mean_std`'s first pass, and the downside deviation's), without the two
    arrays (16 MB for 1M bars, fresh pages on every run: 10-12 ms of page faults)."""
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
    """The sum of the bar returns' squared deviations from `mean`, as `_sum4` adds them
    (`_mean_std`'s second pass)."""
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
def _cagr(growth, years):
    if years <= 0:
        return 0.0
    if growth <= 0:
        return -1.0
    return math.exp(math.log(growth) / years) - 1.0  # overflows to +inf, as metrics._cagr says


@njit(cache=True, error_model="numpy")
def _underwater(drawdown, ms):
    """(bars, days) of the longest stretch under water (metrics.drawdown_durations): from the
    peak bar before a run of bars under water to the first bar back at or above it, or to the
    last bar if the equity never recovers."""
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
    """metrics.equity_metrics into `out` (EQUITY_KEYS order)."""
    n = equity.shape[0]
    count = max(n - 1, 0)  # bar returns
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
    """metrics.trade_metrics of the trades given into `out` (TRADE_KEYS order)."""
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
    """(equity metrics, trade metrics of all / long / short trades as a (3, len(TRADE_KEYS))
    matrix), as module docstring says."""
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


def trade_columns(records: np.ndarray, fields: dict[str, int]) -> dict[str, np.ndarray]:
    """side, entry/exit bar and price, qty, fees, net P&L, return % and bars held of each trade
    record (`fields`: the record's column of each, the kernel's T_* numbers)."""
    side, qty = records[:, fields["side"]], records[:, fields["qty"]]
    entry_price, exit_price = records[:, fields["entry_price"]], records[:, fields["exit_price"]]
    fees = records[:, fields["entry_fee"]] + records[:, fields["exit_fee"]]
    # Net P&L of a round trip: the signed price move times quantity, less both fees
    # (equal to the change in cash from entry to exit; docs/execution.md "Result frames").
    pnl = side * qty * (exit_price - entry_price) - fees
    entry_bar = records[:, fields["entry_bar"]].astype(np.int64)
    exit_bar = records[:, fields["exit_bar"]].astype(np.int64)
    return {"side": side, "qty": qty, "entry_price": entry_price, "exit_price": exit_price,
            "fees": fees, "pnl": pnl,
            # Net return on the entry notional, in percent.
            "return_pct": 100.0 * pnl / (qty * entry_price),
            "entry_bar": entry_bar, "exit_bar": exit_bar, "bars_held": exit_bar - entry_bar,
            "ambiguous": records[:, fields["ambiguous"]] > 0}


def summary_arrays(equity: np.ndarray, position: np.ndarray, drawdown: np.ndarray, ms: np.ndarray, *,
                   capital: float, bars_per_year: float, trades: dict[str, np.ndarray]
                   ) -> tuple[np.ndarray, np.ndarray]:
    """`summarize` on numpy arrays of any layout (`trades`: `trade_columns`' output, or a trade
    frame's columns)."""
    f64 = lambda a: np.ascontiguousarray(a, dtype=np.float64)  # noqa: E731 — one numba signature
    return summarize(f64(equity), f64(position), f64(drawdown), np.ascontiguousarray(ms, dtype=np.int64),
                     float(capital), float(bars_per_year), f64(trades["side"]), f64(trades["pnl"]),
                     f64(trades["return_pct"]), f64(trades["bars_held"]), f64(trades["fees"]),
                     np.ascontiguousarray(trades["ambiguous"], dtype=np.bool_))


def as_dicts(equity_part: np.ndarray, trade_part: np.ndarray, buy_and_hold_pct: float) -> dict[str, dict]:
    """`summarize`'s numbers as compute_metrics' {"all": ..., "long": ..., "short": ...}."""
    everything = {**_named(EQUITY_KEYS, equity_part), "buy_and_hold_return_pct": float(buy_and_hold_pct),
                  **_named(TRADE_KEYS, trade_part[0])}
    return {"all": everything, "long": _named(TRADE_KEYS, trade_part[1]),
            "short": _named(TRADE_KEYS, trade_part[2])}


def all_row(equity_part: np.ndarray, trade_part: np.ndarray, buy_and_hold_pct: float) -> np.ndarray:
    """The "all" section of `as_dicts` as numbers in ALL_KEYS order."""
    return np.concatenate([equity_part, [buy_and_hold_pct], trade_part[0]])


def _named(keys: tuple[str, ...], values: np.ndarray) -> dict[str, float | int]:
    return {k: (int(v) if k in COUNT_KEYS else float(v)) for k, v in zip(keys, values.tolist())}
