"""Performance metrics of a backtest: one pure function over its trades and equity curve.

`compute_metrics` returns {"all": {...}, "long": {...}, "short": {...}}. "all" holds the metrics
of the equity curve plus the trade statistics over every trade; "long" and "short" hold the trade
statistics of that side only. Every definition (formula, units, degenerate cases) is written out
in docs/execution.md, "Metrics"; the comments here only name them.

Conventions, in short:
- Keys ending in `_pct` are percentages (12.5 means 12.5 %); ratios are plain numbers.
- Per-bar returns r_t = E_t / E_{t-1} - 1 over the marked-to-market equity E.
- Annualization uses `bars_per_year` measured from the data (`bars_per_year()` below), so
  markets with gaps (FX weekends, exchange hours) are annualized by the bars they really have.
- No NaN ever: an undefined statistic (no trades, zero variance) is 0.0. Only a ratio with a
  zero "bad" denominator and a positive numerator is +inf (profit factor with no losing trade,
  Sortino with no down bar, Calmar with no drawdown), and `report` writes it as JSON null.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

MS_PER_YEAR = 365.25 * 24 * 3600 * 1000  # Julian year: the calendar average, leap years included
SIDES = ("long", "short")


@dataclass(frozen=True)
class Metric:
    """One metric a run reports: its key in `compute_metrics`' result, the label a report shows,
    its unit (money, pct, ratio, count, number, bars, days), and whether a higher value is the
    better one (None: a fact about the run, not a goal)."""

    key: str
    label: str
    unit: str
    higher_is_better: bool | None


# The one list of metrics, in display order: the report's table and the optimizer's objectives
# derive from it; docs/execution.md defines each one (tests/runtime/test_report.py checks both).
METRICS: tuple[Metric, ...] = (
    Metric("start_equity", "Start equity", "money", None),
    Metric("final_equity", "Final equity", "money", True),
    Metric("total_return_pct", "Total return", "pct", True),
    Metric("annualized_return_pct", "Annualized return", "pct", True),
    Metric("cagr_pct", "CAGR", "pct", True),
    Metric("volatility_pct", "Volatility (ann.)", "pct", False),
    Metric("sharpe", "Sharpe", "ratio", True),
    Metric("sortino", "Sortino", "ratio", True),
    Metric("calmar", "Calmar", "ratio", True),
    Metric("max_drawdown_pct", "Max drawdown", "pct", True),  # a negative percentage: nearer 0 is better
    Metric("max_drawdown_bars", "Max drawdown duration", "bars", False),
    Metric("max_drawdown_days", "Max drawdown duration (time)", "days", False),
    Metric("buy_and_hold_return_pct", "Buy & hold return", "pct", None),
    Metric("exposure_pct", "Exposure", "pct", None),
    Metric("trades", "Trades", "count", None),
    Metric("win_rate_pct", "Win rate", "pct", True),
    Metric("profit_factor", "Profit factor", "ratio", True),
    Metric("expectancy", "Expectancy (per trade)", "money", True),
    Metric("sqn", "SQN", "ratio", True),
    Metric("net_pnl", "Net P&L", "money", True),
    Metric("avg_trade_pct", "Average trade", "pct", True),
    Metric("best_trade_pct", "Best trade", "pct", True),
    Metric("worst_trade_pct", "Worst trade", "pct", True),
    Metric("avg_bars_held", "Average bars held", "bars", None),
    Metric("fees_paid", "Fees paid", "money", False),
    Metric("ambiguous_trades", "Ambiguous trades", "count", False),
    Metric("ambiguous_pnl", "P&L of ambiguous trades", "money", None),
    Metric("bars", "Bars", "count", None),
    Metric("bars_per_year", "Bars per year", "number", None),
)

# What a portfolio run (a script with a `universe`) adds for the account, after METRICS; the
# optimizer may rank by them too (portfolio_metrics.py computes them).
PORTFOLIO_METRICS: tuple[Metric, ...] = (
    Metric("turnover", "Turnover (traded / mean equity)", "ratio", None),
    Metric("avg_positions", "Average positions held", "number", None),
    Metric("max_positions_held", "Most positions held", "count", None),
    Metric("avg_correlation", "Mean correlation of the symbols' returns", "ratio", False),
)


def bars_per_year(timestamps: pl.Series) -> float:
    """Bar intervals per calendar year actually present in the data: (n - 1) / span in years.

    n - 1 intervals, not n bars: each per-bar return spans one interval, and regular hourly
    24/7 data then gives exactly 8766. Fewer than two bars (no span) give 0.0, which turns every
    annualized metric into 0.0.
    """
    n = timestamps.len()
    if n < 2:
        return 0.0
    ms = timestamps.dt.epoch("ms")
    span_years = (ms[-1] - ms[0]) / MS_PER_YEAR
    return (n - 1) / span_years if span_years > 0 else 0.0


def compute_metrics(trades: pl.DataFrame, equity: pl.DataFrame, *, capital: float,
                    bars_per_year: float, close: np.ndarray) -> dict[str, dict[str, Any]]:
    """All metrics of one backtest (see the module docstring and docs/execution.md).

    `trades` and `equity` are `BacktestResult.trades` / `.equity`; `capital` is the starting
    equity; `close` the bars' close prices, for the buy-and-hold benchmark. Computed by the
    compiled pass every backtest uses (runtime/summary.py; `equity_metrics` and `trade_metrics`
    below are its definitions, kept equal to it by tests/runtime/test_summary.py).
    """
    from .summary import as_dicts, summary_arrays

    columns = {name: trades[name].to_numpy() for name in ("pnl", "return_pct", "bars_held", "fees", "ambiguous")}
    columns["side"] = np.where(trades["side"].to_numpy() == "long", 1.0, -1.0)
    values = equity["equity"].to_numpy()
    drawdowns = equity["drawdown"].to_numpy() if "drawdown" in equity.columns else drawdown(values)
    equity_part, trade_part = summary_arrays(values, equity["position"].to_numpy(), drawdowns,
                                             equity["timestamp"].dt.epoch("ms").to_numpy(), capital=capital,
                                             bars_per_year=bars_per_year, trades=columns)
    return as_dicts(equity_part, trade_part, _pct(close[-1] / close[0] - 1.0) if len(close) else 0.0)


def equity_metrics(equity: np.ndarray, timestamps: pl.Series, *, capital: float,
                   bars_per_year: float, drawdowns: np.ndarray | None = None) -> dict[str, Any]:
    """Return, risk and drawdown metrics of the equity curve (`drawdowns`: `drawdown(equity)`
    when the caller already has it)."""
    drawdowns = drawdown(equity) if drawdowns is None else drawdowns
    returns = bar_returns(equity)
    final = float(equity[-1]) if len(equity) else capital
    years = (len(equity) - 1) / bars_per_year if bars_per_year > 0 else 0.0
    cagr = _cagr(final / capital, years)
    mean, std = _mean(returns), _std(returns)
    downside = math.sqrt(_mean(np.minimum(returns, 0.0) ** 2))
    max_dd = float(np.min(drawdowns)) if len(equity) else 0.0
    bars_underwater, days_underwater = drawdown_durations(equity, timestamps, drawdowns=drawdowns)
    root = math.sqrt(bars_per_year)
    return {
        "start_equity": float(capital),
        "final_equity": final,
        "total_return_pct": _pct(final / capital - 1.0),
        "annualized_return_pct": _pct(mean * bars_per_year),
        "cagr_pct": _pct(cagr),
        "volatility_pct": _pct(std * root),
        "sharpe": _ratio(mean * root, std, zero_denominator=0.0),
        "sortino": _ratio(mean * root, downside),
        "calmar": _ratio(cagr, -max_dd),
        "max_drawdown_pct": _pct(max_dd),
        "max_drawdown_bars": bars_underwater,
        "max_drawdown_days": days_underwater,
        "bars": int(len(equity)),
        "bars_per_year": float(bars_per_year),
    }


def trade_metrics(trades: pl.DataFrame, *, exposed: np.ndarray) -> dict[str, Any]:
    """Statistics over a list of closed trades; `exposed` marks bars with a position held."""
    pnl = trades["pnl"].to_numpy()
    returns = trades["return_pct"].to_numpy()
    ambiguous = trades["ambiguous"].to_numpy().astype(bool)
    gross_profit = float(pnl[pnl > 0].sum())
    gross_loss = float(-pnl[pnl < 0].sum())
    count = len(pnl)
    return {
        "trades": count,
        "win_rate_pct": _pct(np.count_nonzero(pnl > 0) / count) if count else 0.0,
        "profit_factor": _ratio(gross_profit, gross_loss),
        "expectancy": _mean(pnl),
        "sqn": math.sqrt(count) * _ratio(_mean(pnl), _std(pnl), zero_denominator=0.0),
        "net_pnl": float(pnl.sum()),
        "avg_trade_pct": _mean(returns),
        "best_trade_pct": float(returns.max()) if count else 0.0,
        "worst_trade_pct": float(returns.min()) if count else 0.0,
        "avg_bars_held": _mean(trades["bars_held"].to_numpy()),
        "fees_paid": float(trades["fees"].sum()),
        "exposure_pct": _pct(np.count_nonzero(exposed) / len(exposed)) if len(exposed) else 0.0,
        # How fragile the result is: trades whose exit depended on the unknown order of touches
        # inside a bar (decided by the fill policy), and their net P&L.
        "ambiguous_trades": int(np.count_nonzero(ambiguous)),
        "ambiguous_pnl": float(pnl[ambiguous].sum()),
    }


def bar_returns(equity: np.ndarray) -> np.ndarray:
    """r_t = E_t / E_{t-1} - 1 for t >= 1; 0 where E_{t-1} <= 0 (after ruin nothing compounds)."""
    previous, current = equity[:-1], equity[1:]
    if len(previous) == 0 or previous.min() > 0:  # the usual case: one division, no masks
        return current / previous - 1.0
    out = np.zeros(len(current))
    np.divide(current, previous, out=out, where=previous > 0)
    return np.where(previous > 0, out - 1.0, 0.0)


def drawdown(equity: np.ndarray) -> np.ndarray:
    """E_t / max_{s <= t} E_s - 1: a fraction <= 0; -1 where the peak itself is <= 0."""
    peak = np.maximum.accumulate(equity)
    ratio = np.zeros(len(equity))
    np.divide(equity, peak, out=ratio, where=peak > 0)
    return ratio - 1.0


def drawdown_durations(equity: np.ndarray, timestamps: pl.Series, *,
                       drawdowns: np.ndarray | None = None) -> tuple[int, float]:
    """Longest stretch under water, in bars and in days (`drawdowns`: `drawdown(equity)` when the
    caller already has it).

    A stretch runs from the bar of a peak to the first bar back at or above it (or to the last
    bar if equity never recovers): peak at bar p, recovery at bar r gives r - p bars.
    """
    if len(equity) < 2:
        return 0, 0.0
    # Under water: below the running peak. The peak starts at the (positive) capital, so this
    # is exactly `drawdown < 0`.
    under = (drawdown(equity) if drawdowns is None else drawdowns) < 0.0
    if not under.any():
        return 0, 0.0
    # Runs of under-water bars p+1 .. r-1: p is the peak before a run, r the recovery after it.
    edges = np.diff(under.view(np.int8))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1) + 1
    if under[-1]:
        ends = np.append(ends, len(equity) - 1)  # never recovered: the stretch runs to the end
    ms = timestamps.dt.epoch("ms").to_numpy()
    days = (ms[ends] - ms[starts]) / 86_400_000.0
    return int((ends - starts).max()), float(days.max())


def _cagr(growth: float, years: float) -> float:
    """Compound annual growth rate (a fraction); 0 without a span, -1 when equity is gone."""
    if years <= 0:
        return 0.0
    if growth <= 0:
        return -1.0
    try:
        return math.exp(math.log(growth) / years) - 1.0
    except OverflowError:
        # A short, strongly positive sample annualized: the honest value is +inf.
        return math.inf


def _ratio(numerator: float, denominator: float, *, zero_denominator: float | None = None) -> float:
    """numerator / denominator; a zero denominator gives `zero_denominator` if given, else
    +inf for a positive numerator and 0.0 otherwise."""
    if denominator > 0:
        return float(numerator / denominator)
    if zero_denominator is not None:
        return zero_denominator
    return math.inf if numerator > 0 else 0.0


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if len(values) else 0.0


def _std(values: np.ndarray) -> float:
    """Sample standard deviation (ddof=1); 0.0 with fewer than two values."""
    return float(values.std(ddof=1)) if len(values) > 1 else 0.0


def _pct(fraction: float) -> float:
    return float(100.0 * fraction)
