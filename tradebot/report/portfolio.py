"""A `PortfolioPage` from what a portfolio backtest produced: its result and its symbols' prices.

The numbers come from the runtime (metrics, per-symbol metrics, trades, equity, P&L); this module
arranges them: the metric tables are the terminal report's rows and cells
(runtime/portfolio_report.py), and the basket beside the equity is the equal-weight buy and hold
whose return the metrics report.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import polars as pl

from ..runtime.portfolio import PortfolioResult
from ..runtime.portfolio_report import PORTFOLIO_ROWS, SYMBOL_COLUMNS, portfolio_trade_records
from ..runtime.report import json_safe, metric_cell, setting_text
from .backtest import calendar_returns, metrics_table
from .model import PortfolioPage, PriceBars, SymbolView, Table

PRICE_NAMES = ("open", "high", "low", "close")


def portfolio_page(result: PortfolioResult, *, title: str, prices: Mapping[str, np.ndarray],
                   settings: Mapping[str, Any] | None = None, params: Mapping[str, Any] | None = None,
                   notes: Sequence[str] = ()) -> PortfolioPage:
    """The page of one portfolio run; `prices[name]` are the (bars, symbols) matrices it ran on."""
    return page_from_parts(
        title=title, capital=result.config.capital, equity=result.equity, trades=result.trades,
        metrics=result.metrics, per_symbol=result.per_symbol, symbols=result.symbols,
        correlation=result.correlation(), prices=prices, pnl=result.pnl,
        settings={**result.config.as_dict(), **(settings or {})}, params=params, notes=notes)


def page_from_parts(*, title: str, capital: float, equity: pl.DataFrame, trades: pl.DataFrame,
                    metrics: Mapping[str, Mapping[str, Any]], per_symbol: Mapping[str, Mapping[str, Any]],
                    symbols: Sequence[str], correlation: np.ndarray, prices: Mapping[str, np.ndarray] | None,
                    pnl: np.ndarray, settings: Mapping[str, Any] | None = None,
                    params: Mapping[str, Any] | None = None, notes: Sequence[str] = ()) -> PortfolioPage:
    """The page from a run's frames (`PortfolioResult` or the files `--out` wrote); `prices` None
    (the files are gone) leaves out the candles and the basket."""
    n = equity.height
    nan = np.full(n, np.nan)
    views = [SymbolView(symbol, PriceBars(*(prices[name][:, j] if prices is not None else nan
                                            for name in PRICE_NAMES)), pnl[:, j])
             for j, symbol in enumerate(symbols)]
    monthly, yearly = calendar_returns(equity, capital)
    account = metrics.get("all", {})
    return PortfolioPage(
        title=title, capital=float(capital), time=equity["timestamp"].dt.epoch("ms").to_numpy(),
        equity=equity["equity"].to_numpy(),
        hold=basket_equity(prices["close"], capital) if prices is not None else nan,
        positions=equity["positions"].to_numpy().astype(np.float64),
        metrics=metrics_table(metrics),
        portfolio=Table(["Metric", "Value"], [[label, metric_cell(account.get(key), unit)]
                                            for key, label, unit in PORTFOLIO_ROWS]),
        symbol_table=symbol_table(per_symbol),
        correlation=Table(["", *symbols], [[a, *(None if not np.isfinite(v) else round(float(v), 4) for v in row)]
                                           for a, row in zip(symbols, correlation)]),
        symbols=views, trades=[{**json_safe(record), "entry_bar": int(entry), "exit_bar": int(exit_)}
                               for record, entry, exit_ in zip(portfolio_trade_records(trades),
                                                               trades["entry_bar"], trades["exit_bar"])],
        settings={key: setting_text(key, value) for key, value in (settings or {}).items()},
        params=json_safe(dict(params or {})), monthly=monthly, yearly=yearly,
        notes=(*notes, *_missing(trades, prices)))


def symbol_table(per_symbol: Mapping[str, Mapping[str, Any]]) -> Table:
    """The terminal report's per-symbol table, cell for cell."""
    return Table(["Symbol", *(label for _, label, _ in SYMBOL_COLUMNS)],
                 [[symbol, *(metric_cell(stats.get(key), unit) for key, _, unit in SYMBOL_COLUMNS)]
                  for symbol, stats in per_symbol.items()])


def basket_equity(close: np.ndarray, capital: float) -> np.ndarray:
    """The capital split equally over the symbols, each share bought at the symbol's first close
    and marked at its latest close (held as cash before its first bar): it ends at the basket's
    buy-and-hold return (`basket_return_pct`)."""
    if close.shape[1] == 0:
        return np.full(len(close), float(capital))
    frame = pl.DataFrame(close, schema=[str(j) for j in range(close.shape[1])], orient="row")
    marked = frame.select(pl.all().fill_nan(None).forward_fill()).to_numpy().astype(np.float64)
    first = np.array([col[~np.isnan(col)][0] if (~np.isnan(col)).any() else np.nan for col in close.T])
    growth = np.where(np.isnan(marked), 1.0, marked / first)
    return capital * growth.mean(axis=1)


def _missing(trades: pl.DataFrame, prices: Mapping[str, np.ndarray] | None) -> list[str]:
    notes = []
    if trades.height == 0:
        notes.append("no trades: no symbol was ever entered, so there are no markers or trade table")
    if prices is None:
        notes.append("the symbols' bars are unavailable: no candles and no basket curve")
    return notes
