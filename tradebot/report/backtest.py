"""A `BacktestPage` from what a backtest produced: its result, the bars and the named series.

The numbers come from the runtime (metrics, trades, equity); this module only arranges them:
the metrics table rows are the terminal report's `SUMMARY_ROWS` with its cell format, the stop and
target of each trade are recomputed by the kernel's rule from the execution config, and the
calendar returns are the equity's month-end and year-end changes.
"""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np
import polars as pl

from ..runtime.engine import BacktestResult
from ..runtime.execution import ExecutionConfig, Level
from ..runtime.report import (COLUMNS, SUMMARY_ROWS, json_safe, merged_settings, metric_cell, setting_text,
                              trade_records)
from .model import BacktestPage, NamedSeries, PriceBars, Table

# A named series is drawn over the candles when it typically stays within this fraction of the close
# (a moving average, a band, a stop level); otherwise (an oscillator, a volume, a 0/1 condition)
# it gets a pane of its own. Judged bar by bar: a price range alone would take an RSI of 30..70 for
# a price series that wanders from 50 to 200.
OVERLAY_DISTANCE = 0.2

def backtest_page(result: BacktestResult, *, title: str, bars: pl.DataFrame | None,
                  series: Mapping[str, np.ndarray] | None = None, settings: Mapping[str, Any] | None = None,
                  params: Mapping[str, Any] | None = None,
                  levels: Mapping[str, np.ndarray] | None = None,
                  notes: Sequence[str] = ()) -> BacktestPage:
    """The page of one backtest. `bars` None (prices unavailable) leaves out the candles and the
    buy-and-hold curve; `levels` are the per-bar risk series the run read (`long.stop_loss`...)."""
    stops, targets, level_notes = trade_levels(result.trades, result.config, levels or {})
    return page_from_parts(title=title, capital=result.config.capital, equity=result.equity,
                           trades=result.trades, metrics=result.metrics, bars=bars, series=series,
                           stops=stops, targets=targets, settings=merged_settings(result, settings or {}),
                           params=params,
                           notes=[*notes, *level_notes])


def page_from_parts(*, title: str, capital: float, equity: pl.DataFrame, trades: pl.DataFrame,
                    metrics: Mapping[str, Mapping[str, Any]], bars: pl.DataFrame | None,
                    series: Mapping[str, np.ndarray] | None, stops: np.ndarray, targets: np.ndarray,
                    settings: Mapping[str, Any] | None = None, params: Mapping[str, Any] | None = None,
                    notes: Sequence[str] = ()) -> BacktestPage:
    """The page from a run's frames (`BacktestResult.equity`/`.trades` or the files `--out` wrote)."""
    prices = None
    if bars is not None:
        prices = PriceBars(*(bars[name].to_numpy() for name in ("open", "high", "low", "close")))
    records = [{**json_safe(record), "entry_bar": int(entry), "exit_bar": int(exit_),
                "stop": _finite(stop), "target": _finite(target)}
               for record, entry, exit_, stop, target in zip(
                   trade_records(trades), trades["entry_bar"], trades["exit_bar"], stops, targets)]
    monthly, yearly = calendar_returns(equity, capital)
    return BacktestPage(
        title=title, capital=float(capital), time=equity["timestamp"].dt.epoch("ms").to_numpy(),
        equity=equity["equity"].to_numpy(), bars=prices, metrics=metrics_table(metrics),
        trades=records, settings={key: setting_text(key, value) for key, value in (settings or {}).items()},
        params=json_safe(dict(params or {})),
        series=named_series(series or {}, prices), monthly=monthly, yearly=yearly,
        notes=(*notes, *_missing(trades, equity, prices)))


def metrics_table(metrics: Mapping[str, Mapping[str, Any]]) -> Table:
    """The terminal report's all / long / short table, cell for cell."""
    header = ["Metric", *(name.capitalize() for name in COLUMNS)]
    rows = [[label, *(metric_cell(metrics.get(column, {}).get(key), unit) for column in COLUMNS)]
            for key, label, unit in SUMMARY_ROWS]
    return Table(header, rows)


def named_series(series: Mapping[str, np.ndarray], prices: PriceBars | None) -> list[NamedSeries]:
    """Numeric named series, each placed on the price scale or in its own pane."""
    return [NamedSeries(name, values, prices is not None and _on_price_scale(values, prices.close))
            for name, values in ((name, np.asarray(v, dtype=np.float64)) for name, v in series.items())]


def _on_price_scale(values: np.ndarray, close: np.ndarray) -> bool:
    both = np.isfinite(values) & np.isfinite(close) & (close > 0)
    if not both.any():
        return False
    return bool(np.median(np.abs(values[both] - close[both]) / close[both]) <= OVERLAY_DISTANCE)


def trade_levels(trades: pl.DataFrame, config: ExecutionConfig,
                 levels: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Each trade's stop and target price as the kernel fixed them at the fill (kernel.new_lot):
    percent of the fill, a distance from it, or an absolute price, read on the signal bar.

    The signal bar of a market entry is the bar before the fill; a limit or stop entry may have
    been placed earlier, so a per-bar level of such a trade is left out (NaN) rather than guessed.
    A trailing or break-even stop moves; the stop at the entry is shown (the tighter of the fixed and
    the trailing stop, as `kernel.stop_level` takes it) and a note says so.
    """
    n = trades.height
    stops, targets = np.full(n, np.nan), np.full(n, np.nan)
    notes: set[str] = set()
    for i, row in enumerate(trades.iter_rows(named=True)):
        sign = 1.0 if row["side"] == "long" else -1.0
        rules = config.side(row["side"])
        bar = row["entry_bar"] - 1 if rules.entry.kind == "market" else None
        if rules.trailing_stop is not None or rules.break_even is not None:
            notes.add("trailing and break-even stops move during a trade: the chart shows the stop "
                      "as it was set at the entry")
        fixed, trail, targets[i] = (_trade_level(level, levels, bar, row["entry_price"], direction, notes)
                                    for level, direction in ((rules.stop_loss, -sign), (rules.trailing_stop, -sign),
                                                             (rules.take_profit, sign)))
        # The tighter stop: the higher one under a long, the lower one over a short (NaN: none).
        stops[i] = fixed if np.isnan(trail) or sign * fixed > sign * trail else trail
    return stops, targets, sorted(notes)


def _trade_level(level: Level | None, levels: Mapping[str, np.ndarray], bar: int | None, fill: float,
                 direction: float, notes: set[str]) -> float:
    """One level's price for a fill (NaN when there is none or it cannot be known)."""
    value = _level_value(level, levels, bar)
    if level is not None and value is None:
        notes.add("stop/target series of limit or stop entries are not drawn "
                  "(the bar the order was placed on is not recorded)")
    return math.nan if value is None else _price(level.mode, value, fill, direction)  # type: ignore[union-attr]


def _level_value(level: Level | None, levels: Mapping[str, np.ndarray], bar: int | None) -> float | None:
    if level is None:
        return None
    if not isinstance(level.value, str):
        return float(level.value)
    if bar is None or level.value not in levels or not 0 <= bar < len(levels[level.value]):
        return None
    return float(levels[level.value][bar])


def _price(mode: str, value: float, fill: float, direction: float) -> float:
    if mode == "percent":
        return fill * (1.0 + direction * value)
    if mode == "distance":
        return fill + direction * value
    return value


def calendar_returns(equity: pl.DataFrame, capital: float) -> tuple[list[tuple[int, int, float]],
                                                                      list[tuple[int, float]]]:
    """Return % of each calendar month and year: its last equity over the previous period's last
    (the starting capital before the first)."""
    if equity.height == 0:
        return [], []
    frame = equity.select("timestamp", "equity").with_columns(
        year=pl.col("timestamp").dt.year(), month=pl.col("timestamp").dt.month())
    months = frame.group_by("year", "month", maintain_order=True).agg(pl.col("equity").last())
    years = frame.group_by("year", maintain_order=True).agg(pl.col("equity").last())
    return ([(y, m, r) for (y, m), r in zip(months.select("year", "month").iter_rows(),
                                             _changes(months["equity"].to_numpy(), capital))],
            list(zip(years["year"].to_list(), _changes(years["equity"].to_numpy(), capital))))


def _changes(ends: np.ndarray, capital: float) -> list[float]:
    previous = np.concatenate([[capital], ends[:-1]])
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = np.where(previous > 0, 100.0 * (ends / previous - 1.0), 0.0)
    return [round(float(x), 6) for x in pct]


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _missing(trades: pl.DataFrame, equity: pl.DataFrame, prices: PriceBars | None) -> list[str]:
    notes = []
    if trades.height == 0:
        notes.append("no trades: the strategy never entered a position, so there are no markers, "
                     "trade table or per-trade statistics")
    if equity.height < 2:
        notes.append("one bar only: there is no period to draw a curve or compute returns over")
    elif float(equity["equity"].max()) == float(equity["equity"].min()):
        notes.append("the equity is flat: it never changed, so there is no drawdown to show")
    if prices is None:
        notes.append("the bars are unavailable: no candles and no buy-and-hold curve")
    return notes
