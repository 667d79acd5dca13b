"""A portfolio run in the terminal, in JSON and in files (the single-symbol forms in report.py,
with the account's extra metrics, a table per symbol and the symbol of each trade)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

import polars as pl

from ..textkit import text_table
from .metrics import PORTFOLIO_METRICS
from .portfolio import PortfolioResult
from .report import (ISO_FORMAT, _key_values, _metrics_table, _number, _time, _underlined,
                     json_safe, metric_cell, trade_records)

# The account's metrics beyond the single-symbol ones: (key, label, unit).
PORTFOLIO_ROWS = tuple((m.key, m.label, m.unit) for m in PORTFOLIO_METRICS)
SYMBOL_COLUMNS = (("bars", "Bars", "count"), ("trades", "Trades", "count"),
                  ("pnl", "P&L", "money"), ("win_rate_pct", "Win rate", "pct"),
                  ("exposure_pct", "Exposure", "pct"), ("turnover", "Turnover", "ratio"),
                  ("fees_paid", "Fees", "money"), ("buy_and_hold_return_pct", "Buy & hold", "pct"),
                  ("avg_correlation", "Corr. to others", "ratio"))


def format_portfolio(result: PortfolioResult, *, title: str, settings: Mapping[str, Any],
                     last_trades: int = 10, price_decimals: int = 5) -> str:
    """The account's metrics, each symbol's row, the correlation of their returns and the last
    trades with their symbol."""
    account = result.metrics["all"]
    extra = text_table(["Portfolio", ""], [[label, metric_cell(account[key], unit)]
                                            for key, label, unit in PORTFOLIO_ROWS], right_from=1)
    sections = [_underlined(title), _key_values("Settings", {**result.config.as_dict(), **settings}),
                _metrics_table(result.metrics), extra, _symbols_table(result),
                _correlation_table(result), _trades_table(result, last_trades, price_decimals)]
    return "\n\n".join(section for section in sections if section) + "\n"


def _symbols_table(result: PortfolioResult) -> str:
    header = ["Symbol", *(label for _, label, _ in SYMBOL_COLUMNS)]
    rows = [[symbol, *(metric_cell(stats[key], unit) for key, _, unit in SYMBOL_COLUMNS)]
            for symbol, stats in result.per_symbol.items()]
    return "Per symbol:\n" + text_table(header, rows, right_from=1)


def _correlation_table(result: PortfolioResult) -> str:
    if len(result.symbols) < 2:
        return ""
    rows = [[symbol, *(f"{value:.2f}" for value in row)]
            for symbol, row in zip(result.symbols, result.correlation())]
    return ("Correlation of the symbols' bar returns:\n"
            + text_table(["", *result.symbols], rows, right_from=1))


def _trades_table(result: PortfolioResult, last: int, decimals: int) -> str:
    trades = result.trades
    if last <= 0:
        return ""
    if trades.height == 0:
        return "Trades: none"
    shown = trades.tail(last)
    header = ["Symbol", "Side", "Entry time", "Entry", "Exit time", "Exit", "Qty", "P&L", "Reason"]
    rows = [[row["symbol"], row["side"], _time(row["entry_time"]), _number(row["entry_price"], decimals),
             _time(row["exit_time"]), _number(row["exit_price"], decimals), _number(row["qty"], 4),
             _number(row["pnl"], 2), row["exit_reason"] + ("*" if row["ambiguous"] else "")]
            for row in shown.iter_rows(named=True)]
    return f"Last {shown.height:,} of {trades.height:,} trades:\n" + text_table(header, rows, right_from=3)


def portfolio_to_dict(result: PortfolioResult, *, settings: Mapping[str, Any]) -> dict[str, Any]:
    return json_safe({
        "settings": {**result.config.as_dict(), **settings},
        "symbols": list(result.symbols),
        "metrics": result.metrics,
        "per_symbol": result.per_symbol,
        "correlation": {a: dict(zip(result.symbols, map(float, row)))
                        for a, row in zip(result.symbols, result.correlation())},
        "trades": portfolio_trade_records(result.trades),
    })


def portfolio_trade_records(trades: pl.DataFrame) -> list[dict[str, Any]]:
    """Trades as dicts (`trade_records`) with their symbol first."""
    return [{"symbol": symbol, **record}
            for symbol, record in zip(trades["symbol"].to_list(), trade_records(trades))]


def write_portfolio(result: PortfolioResult, out_dir: Path, *,
                    settings: Mapping[str, Any]) -> dict[str, Path]:
    """trades.csv (with the symbol), equity.csv (the account), symbol_equity.csv (each symbol's
    position and P&L per bar) and result.json into `out_dir`."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    names = ("trades.csv", "equity.csv", "symbol_equity.csv", "result.json")
    paths = {name: out_dir / name for name in names}
    result.trades.write_csv(paths["trades.csv"], datetime_format=ISO_FORMAT)
    result.equity.write_csv(paths["equity.csv"], datetime_format=ISO_FORMAT)
    result.symbol_equity().write_csv(paths["symbol_equity.csv"], datetime_format=ISO_FORMAT)
    text = json.dumps(portfolio_to_dict(result, settings=settings), indent=2, allow_nan=False)
    paths["result.json"].write_text(text + "\n", encoding="utf-8")
    return paths
