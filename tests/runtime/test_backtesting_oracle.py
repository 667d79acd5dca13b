"""Cross-check against backtesting.py, an independent engine run only as a test oracle.

The strategy is the always-in-the-market SMA cross written in backtesting.py's own idiom: on a
cross up, close and buy; on a cross down, close and sell. Both engines get the same indicator
arrays, so any difference comes from execution. Conventions aligned (docs/execution.md,
"Cross-check with backtesting.py"):

- fills at the next bar's open (backtesting.py's default, `trade_on_close=False`);
- `commission=fee`, charged on each fill's notional like ours;
- all-in sizing: `buy()`/`sell()` default to the whole available equity, and `exclusive_orders`
  is not needed because the close order is queued before the new one;
- whole units: backtesting.py rounds quantities down to an integer; `FractionalBacktest` with a
  1e-9 unit makes that rounding ~1e-13 relative, which the 1e-9 tolerances absorb.

Not aligned, asserted separately: backtesting.py charges its `spread` on entries only, so the
cross-check runs with zero slippage (our slippage is covered by the hand-worked tests); it leaves
the last trade open where we close it at the last close (`end_of_data`), so its trade list has one
trade fewer and its last equity value lacks that exit's fee.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from tests.runtime.support import load_eurusd
from tradebot.runtime import ExecutionConfig, Signals, run_backtest
from tradebot.runtime.metrics import trade_metrics

backtesting = pytest.importorskip("backtesting")
from backtesting import Strategy  # noqa: E402
from backtesting.lib import FractionalBacktest, crossover  # noqa: E402

FAST, SLOW, FEE, CAPITAL = 10, 30, 0.0002, 10_000.0


def sma(values: np.ndarray, length: int) -> np.ndarray:
    return pd.Series(values).rolling(length).mean().to_numpy()


def cross_signals(fast: np.ndarray, slow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(crosses up, crosses down), defined like backtesting.lib.crossover (strict both bars)."""
    up = np.zeros(len(fast), dtype=bool)
    down = np.zeros(len(fast), dtype=bool)
    up[1:] = (fast[:-1] < slow[:-1]) & (fast[1:] > slow[1:])
    down[1:] = (fast[:-1] > slow[:-1]) & (fast[1:] < slow[1:])
    return up, down


class SmaCross(Strategy):
    fast_values: np.ndarray = None
    slow_values: np.ndarray = None

    def init(self):
        self.fast = self.I(lambda: self.fast_values, name="fast")
        self.slow = self.I(lambda: self.slow_values, name="slow")

    def next(self):
        if crossover(self.fast, self.slow):
            self.position.close()
            self.buy()
        elif crossover(self.slow, self.fast):
            self.position.close()
            self.sell()


@pytest.fixture(scope="module")
def both_runs():
    bars = load_eurusd()
    close = bars["close"].to_numpy()
    fast, slow = sma(close, FAST), sma(close, SLOW)
    up, down = cross_signals(fast, slow)
    ours = run_backtest(bars, Signals(enter_long=up, exit_long=down, enter_short=down,
                                      exit_short=up),
                        ExecutionConfig(capital=CAPITAL, fee=FEE, slippage=0.0))
    # Built column by column: polars' to_pandas() would need pyarrow, which is not installed.
    frame = pd.DataFrame({name.capitalize(): bars[name].to_numpy()
                          for name in ("open", "high", "low", "close", "volume")},
                         index=pd.DatetimeIndex(bars["timestamp"].to_numpy()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "some trades remain open" is expected here
        oracle = FractionalBacktest(frame, SmaCross, cash=CAPITAL, commission=FEE,
                                    fractional_unit=1e-9)
        stats = oracle.run(fast_values=fast, slow_values=slow)
    return ours, stats


def test_same_trades(both_runs):
    ours, stats = both_runs
    theirs = stats["_trades"].sort_values("ExitBar", kind="stable")
    closed = ours.trades.head(len(theirs))
    assert ours.trades.height == len(theirs) + 1 > 100
    assert ours.trades["exit_reason"][-1] == "end_of_data"
    assert closed["entry_bar"].to_list() == theirs["EntryBar"].tolist()
    assert closed["exit_bar"].to_list() == theirs["ExitBar"].tolist()
    assert closed["side"].to_list() == ["long" if s > 0 else "short" for s in theirs["Size"]]
    for ours_column, their_column in [("entry_price", "EntryPrice"), ("exit_price", "ExitPrice"),
                                      ("pnl", "PnL"), ("fees", "Commission")]:
        assert closed[ours_column].to_numpy() == pytest.approx(theirs[their_column].to_numpy(),
                                                               rel=1e-9), ours_column
    assert closed["qty"].to_numpy() == pytest.approx(theirs["Size"].abs().to_numpy(), rel=1e-9)
    assert closed["return_pct"].to_numpy() == pytest.approx(100 * theirs["ReturnPct"].to_numpy(),
                                                            rel=1e-7)


def test_same_equity_curve_until_our_end_of_data_close(both_runs):
    ours, stats = both_runs
    their_equity = stats["_equity_curve"]["Equity"].to_numpy()
    our_equity = ours.equity["equity"].to_numpy()
    assert our_equity[:-1] == pytest.approx(their_equity[:-1], rel=1e-9)
    # On the last bar backtesting.py marks the open trade at the close; we sell it there and pay
    # the exit fee: the only difference.
    last = ours.trades.row(-1, named=True)
    assert our_equity[-1] == pytest.approx(their_equity[-1] - FEE * last["qty"] * last["exit_price"],
                                           rel=1e-9)


def test_same_trade_statistics_on_the_closed_trades(both_runs):
    ours, stats = both_runs
    closed = ours.trades.filter(ours.trades["exit_reason"] != "end_of_data")
    ours_stats = trade_metrics(closed, exposed=np.zeros(1, dtype=bool))
    assert ours_stats["trades"] == stats["# Trades"]
    assert ours_stats["win_rate_pct"] == pytest.approx(stats["Win Rate [%]"], rel=1e-12)
    assert ours_stats["sqn"] == pytest.approx(stats["SQN"], rel=1e-7)
    assert ours_stats["avg_trade_pct"] == pytest.approx(stats["Expectancy [%]"], rel=1e-7)
    assert ours_stats["best_trade_pct"] == pytest.approx(stats["Best Trade [%]"], rel=1e-7)
    assert ours_stats["worst_trade_pct"] == pytest.approx(stats["Worst Trade [%]"], rel=1e-7)
    assert ours_stats["fees_paid"] == pytest.approx(stats["Commissions [$]"], rel=1e-9)
