"""The data model of a report page: what the page shows, as plain values.

Nothing here knows where the numbers came from. Arrays are numpy (one value per bar, aligned
with `time`); everything else is JSON-ready. `to_json()` gives the document embedded in the page
(arrays encoded by tradebot.charts), which the golden test pins.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from ..charts import encode_array, encode_times
from ..charts.heatmap import Heatmap


@dataclass(frozen=True)
class PriceBars:
    """OHLC prices, one row per bar of the page's `time`."""

    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray


@dataclass(frozen=True)
class NamedSeries:
    """A script's named series; `overlay`: drawn on the price scale, else in its own pane."""

    name: str
    values: np.ndarray
    overlay: bool


@dataclass(frozen=True)
class Table:
    """Rows of display strings under a header (the Performance tab, fold and trial tables)."""

    header: Sequence[str]
    rows: Sequence[Sequence[Any]]


@dataclass(frozen=True)
class BacktestPage:
    """One backtest: equity, metrics, trades on the price, calendar returns.

    `time` is epoch milliseconds per bar; `equity` the marked equity per bar; `bars` None when the
    prices are unavailable (the page then says so instead of drawing candles). `trades` are dicts
    with the terminal report's trade columns plus entry_bar, exit_bar, stop and target (None when
    the trade had none). `monthly` rows are (year, month 1-12, return %), `yearly` (year, return %).
    `notes` say what is missing or approximate.
    """

    title: str
    capital: float
    time: np.ndarray
    equity: np.ndarray
    bars: PriceBars | None
    metrics: Table
    trades: Sequence[Mapping[str, Any]]
    settings: Mapping[str, Any] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)
    series: Sequence[NamedSeries] = ()
    monthly: Sequence[tuple[int, int, float]] = ()
    yearly: Sequence[tuple[int, float]] = ()
    notes: Sequence[str] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            **_account("backtest", self),
            "bars": None if self.bars is None else _prices(self.bars),
            "series": [{"name": s.name, "overlay": s.overlay, "values": encode_array(s.values)}
                       for s in self.series],
            **_results(self),
        }


@dataclass(frozen=True)
class SymbolView:
    """One symbol of a portfolio page: its prices on the page's timeline (NaN where it has no bar)
    and its P&L (realized plus open) after each bar."""

    name: str
    bars: PriceBars
    pnl: np.ndarray


@dataclass(frozen=True)
class PortfolioPage:
    """A portfolio backtest: the account's equity beside the equal-weight basket (`hold`), the
    symbols held per bar, the metrics (the account's table plus `portfolio`), one row per symbol,
    the correlation of their returns, each symbol's prices and P&L, and the trades with their
    `symbol` (entry_bar/exit_bar index the page's `time`)."""

    title: str
    capital: float
    time: np.ndarray
    equity: np.ndarray
    hold: np.ndarray
    positions: np.ndarray
    metrics: Table
    portfolio: Table
    symbol_table: Table
    correlation: Table
    symbols: Sequence[SymbolView]
    trades: Sequence[Mapping[str, Any]]
    settings: Mapping[str, Any] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)
    monthly: Sequence[tuple[int, int, float]] = ()
    yearly: Sequence[tuple[int, float]] = ()
    notes: Sequence[str] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            **_account("portfolio", self),
            "hold": encode_array(self.hold),
            "positions": encode_array(self.positions),
            "bars": None,
            "series": [],
            "portfolio": _table(self.portfolio),
            "symbol_table": _table(self.symbol_table),
            "correlation": _table(self.correlation),
            "symbols": [{"name": s.name, "pnl": encode_array(s.pnl), "bars": _prices(s.bars)}
                        for s in self.symbols],
            **_results(self),
        }


@dataclass(frozen=True)
class SweepPage:
    """An optimizer sweep: trials, heatmaps, the overfitting checks, validation, the manifest, and
    the best params' own backtest page (a portfolio's for a universe; None when no trial
    qualified)."""

    title: str
    summary: Sequence[str]
    objective: str
    maximize: bool
    trials: Table
    param_names: Sequence[str]
    heatmaps: Sequence[Heatmap]
    checks: Sequence[tuple[str, str]]
    folds: Table | None
    oos_time: np.ndarray
    oos_equity: np.ndarray
    oos_fold: np.ndarray
    manifest: Mapping[str, Any]
    best: BacktestPage | PortfolioPage | None
    notes: Sequence[str] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "sweep",
            "title": self.title,
            "summary": list(self.summary),
            "objective": self.objective,
            "maximize": self.maximize,
            "trials": _table(self.trials),
            "param_names": list(self.param_names),
            "heatmaps": [h.to_json() for h in self.heatmaps],
            "checks": [list(c) for c in self.checks],
            "folds": _table(self.folds) if self.folds else None,
            "oos": {"time": encode_times(self.oos_time), "equity": encode_array(self.oos_equity),
                    "fold": encode_array(self.oos_fold)} if len(self.oos_time) else None,
            "manifest": dict(self.manifest),
            "best": self.best.to_json() if self.best else None,
            "notes": list(self.notes),
        }


def _account(kind: str, page: BacktestPage | PortfolioPage) -> dict[str, Any]:
    """What every run's page starts with: its kind, title, capital, settings, params and equity."""
    return {"kind": kind, "title": page.title, "capital": page.capital, "settings": dict(page.settings),
            "params": dict(page.params), "time": encode_times(page.time), "equity": encode_array(page.equity)}


def _results(page: BacktestPage | PortfolioPage) -> dict[str, Any]:
    """What every run's page ends with: its metrics, trades, returns by month and year, and notes."""
    return {"metrics": _table(page.metrics), "trades": _columns(page.trades),
            "monthly": [list(m) for m in page.monthly], "yearly": [list(y) for y in page.yearly],
            "notes": list(page.notes)}


def _prices(bars: PriceBars) -> dict[str, Any]:
    return {name: encode_array(getattr(bars, name)) for name in ("open", "high", "low", "close")}


def _columns(rows: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
    """Records as one list per field: a key is written once, not once per trade (12 k trades of a
    million bars are 2 MB smaller); the page turns them back into records."""
    return {key: [row[key] for row in rows] for key in (rows[0] if rows else {})}


def _table(table: Table) -> dict[str, Any]:
    return {"header": list(table.header), "rows": [list(row) for row in table.rows]}
