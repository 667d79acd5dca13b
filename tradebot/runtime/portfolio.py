"""Portfolio backtest: many symbols on one timeline, one account (docs/execution.md, "Portfolios").

`run_portfolio` stacks each symbol's prices and signals into (bars, symbols) matrices, hands them
to the compiled `kernel.simulate_portfolio` (the single-symbol kernel's transitions, with an inner
loop over the symbols in each bar and a shared cash) and turns its arrays into frames and metrics:
the account's, and each symbol's. A symbol without a bar at a time has NaN prices there (the
caller never fills them forward); its signals there are ignored. Rules and risk values that read
position state run per symbol: each symbol's `RuleProgram` (the script's one program over that
symbol's inputs) runs against its own position (`portfolio_program`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import polars as pl

from ..arrays import read_only
from .engine import Ruin, _kernel, _kernel_array, kernel_settings, ruin_of, trades_frame
from .execution import ExecutionConfig, level_values
from .metrics import bars_per_year, equity_metrics, trade_metrics
from .portfolio_metrics import (basket_return_pct, concurrency, correlation_to_others, mean_correlation,
                                return_correlation, turnover)
from .signals import SIGNAL_NAMES, Signals

if TYPE_CHECKING:
    from .program import RuleProgram

PRICES = ("open", "high", "low", "close")


@dataclass(frozen=True)
class PortfolioBars:
    """N symbols on one timeline: `prices[name]` is a (bars, symbols) matrix, NaN where a
    symbol has no bar. Symbols are in the order their ties are broken (by name)."""

    timestamps: pl.Series
    symbols: tuple[str, ...]
    prices: dict[str, np.ndarray]


@dataclass(frozen=True)
class PortfolioResult:
    """trades: one row per closed trade with its `symbol` (else as `BacktestResult.trades`).
    equity: timestamp, equity, drawdown, positions (how many symbols are held).
    position, pnl: (bars, symbols) matrices: each symbol's signed quantity held and its realized
    plus open P&L after each bar (`symbol_equity()` as one long frame, built on demand: it has
    bars × symbols rows). metrics: {"all", "long", "short"} for the account; `per_symbol`: one
    row of metrics per symbol; `correlation()`: the symbols' bar-return correlation matrix."""

    symbols: tuple[str, ...]
    trades: pl.DataFrame
    equity: pl.DataFrame
    position: np.ndarray
    pnl: np.ndarray
    close: np.ndarray
    metrics: dict[str, dict[str, Any]]
    per_symbol: dict[str, dict[str, Any]]
    config: ExecutionConfig
    bars_per_year: float
    ruin: Ruin | None = None

    def symbol_equity(self) -> pl.DataFrame:
        """timestamp, symbol, position, pnl: one row per bar and symbol."""
        return _symbol_equity(self.equity["timestamp"], self.symbols, self.position, self.pnl)

    def correlation(self) -> np.ndarray:
        return return_correlation(self.close)


def run_portfolio(bars: PortfolioBars, signals: Sequence[Signals], rank: np.ndarray,
                  config: ExecutionConfig, max_positions: int,
                  programs: Sequence[RuleProgram] | None = None) -> PortfolioResult:
    """Simulate each symbol's `signals` (aligned on `bars.timestamps`) with one account.
    `programs`: each symbol's rules and risk values that read position state (runtime/program.py,
    its inputs aligned on the timeline like the signals), or None for a script without them."""
    n, m = len(bars.timestamps), len(bars.symbols)
    if len(signals) != m or rank.shape != (n, m):
        raise ValueError(f"{len(signals)} signal sets and rank {rank.shape} for {m} symbols × {n} bars")
    if max_positions < 1:
        raise ValueError(f"max_positions must be >= 1, got {max_positions}")
    prices = [_kernel_array(bars.prices[name], np.float64) for name in PRICES]
    flags = [_kernel_array(np.column_stack([getattr(s, name) for s in signals]), np.bool_)
             for name in SIGNAL_NAMES]
    levels = tuple(_level_matrix(value, signals) for value in level_values(config))
    modes, ints, floats = kernel_settings(config)
    modes, program = portfolio_program(programs, config, modes, m)
    kn = _kernel()
    records, tags, equity, position, pnl, drawdowns, ruin = kn.simulate_portfolio(
        *prices, *flags, _kernel_array(rank, np.float64), levels, modes, ints, floats,
        np.int64(max_positions), program, np.empty((n + m, kn.TRADE_FIELDS)), np.empty(n + m, dtype=np.int64),
        np.empty(n), np.empty(n), np.zeros((n, m)), np.zeros((n, m)))
    timestamps = bars.timestamps
    trades = trades_frame(records, timestamps)
    trades = trades.insert_column(0, pl.Series("symbol", bars.symbols, dtype=pl.String).gather(tags))
    held = np.count_nonzero(position, axis=1)
    equity_frame = pl.DataFrame({"timestamp": timestamps, "equity": equity,
                                 "drawdown": drawdowns, "positions": held})
    per_year = bars_per_year(timestamps)
    close = bars.prices["close"]
    correlation = return_correlation(close)
    metrics = _account_metrics(trades, equity_frame, position, close, correlation, config, per_year)
    return PortfolioResult(
        symbols=bars.symbols, trades=trades, equity=equity_frame, position=position, pnl=pnl,
        close=close, metrics=metrics,
        per_symbol=_symbol_metrics(trades, bars.symbols, position, pnl, close, correlation,
                                   equity_frame["equity"].to_numpy()),
        config=config, bars_per_year=per_year,
        ruin=ruin_of(ruin, timestamps))


def portfolio_program(programs: Sequence[RuleProgram] | None, config: ExecutionConfig,
                      modes: np.ndarray, m: int) -> tuple[np.ndarray, tuple[Any, ...]]:
    """(the kernel's modes, its `program` argument) for `m` symbols: the single-symbol program's
    arrays (`program.kernel_program`), with what each symbol keeps of its own - its inputs, its
    members' ring of recent bars, their starts, its position registers - stacked along a first
    axis of symbols (kernel.PR_PER_SYMBOL). Without programs: one empty program (never run)."""
    from . import kernel as kn
    from .program import kernel_program

    if programs is None:
        built = [kernel_program(None, config, modes)]
    else:
        if len(programs) != m:
            raise ValueError(f"{len(programs)} position programs for {m} symbols")
        built = [kernel_program(p, config, modes) for p in programs]
    arrays = list(built[0][1])
    for slot in kn.PR_PER_SYMBOL:
        stacked = np.ascontiguousarray(np.stack([b[1][slot] for b in built]))
        arrays[slot] = read_only(stacked) if slot == kn.PR_INPUTS else stacked
    return built[0][0], tuple(arrays)


def _level_matrix(value: float | str, signals: Sequence[Signals]) -> np.ndarray:
    """A risk level slot for the kernel: (symbols, bars) for a named series, (symbols, 1) for a
    constant."""
    if isinstance(value, str):
        return read_only(np.ascontiguousarray(np.vstack([s.levels[value] for s in signals]),
                                              dtype=np.float64))
    return read_only(np.full((len(signals), 1), value, dtype=np.float64))


def _account_metrics(trades: pl.DataFrame, equity: pl.DataFrame, position: np.ndarray,
                     close: np.ndarray, correlation: np.ndarray, config: ExecutionConfig,
                     per_year: float) -> dict[str, dict[str, Any]]:
    """The single-symbol metrics for the account, plus turnover, concurrency and the symbols'
    mean correlation (metrics.PORTFOLIO_METRICS)."""
    values = equity["equity"].to_numpy()
    held = equity["positions"].to_numpy()
    everything = {
        **equity_metrics(values, equity["timestamp"], capital=config.capital,
                         bars_per_year=per_year, drawdowns=equity["drawdown"].to_numpy()),
        "buy_and_hold_return_pct": basket_return_pct(close),
        **trade_metrics(trades, exposed=held > 0),
        "turnover": turnover(trades, values),
        **concurrency(held),
        "avg_correlation": mean_correlation(correlation),
    }
    result = {"all": everything}
    for side, sign in (("long", 1.0), ("short", -1.0)):
        result[side] = trade_metrics(trades.filter(pl.col("side") == side),
                                     exposed=(position * sign > 0).any(axis=1))
    return result


def _symbol_equity(timestamps: pl.Series, symbols: tuple[str, ...], position: np.ndarray,
                   pnl: np.ndarray) -> pl.DataFrame:
    n, m = position.shape
    return pl.DataFrame({
        "timestamp": pl.concat([timestamps] * m) if m else timestamps.clear(),
        "symbol": pl.Series(symbols, dtype=pl.String).gather(np.repeat(np.arange(m), n)),
        "position": position.T.reshape(-1), "pnl": pnl.T.reshape(-1)})


def _symbol_metrics(trades: pl.DataFrame, symbols: tuple[str, ...], position: np.ndarray,
                    pnl: np.ndarray, close: np.ndarray, correlation: np.ndarray,
                    equity: np.ndarray) -> dict[str, dict[str, Any]]:
    """Each symbol's trade statistics, exposure, final P&L (realized plus open), its own
    buy-and-hold return, its turnover (of the account's mean equity: the symbols' add up to the
    account's) and its mean correlation with the other symbols."""
    out = {}
    to_others = correlation_to_others(correlation)
    for j, symbol in enumerate(symbols):
        mine = trades.filter(pl.col("symbol") == symbol)
        stats = trade_metrics(mine, exposed=position[:, j] != 0)
        stats["turnover"] = turnover(mine, equity)
        stats["avg_correlation"] = float(to_others[j])
        stats["pnl"] = float(pnl[-1, j]) if len(pnl) else 0.0
        stats["buy_and_hold_return_pct"] = basket_return_pct(close[:, j:j + 1])
        stats["bars"] = int(np.count_nonzero(~np.isnan(close[:, j])))
        out[symbol] = stats
    return out

