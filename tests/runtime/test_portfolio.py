"""The portfolio kernel against the single-symbol engine and hand-worked multi-symbol cases."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.runtime.test_stepper import CASES
from tradebot.runtime import ExecutionConfig, Signals, run_backtest
from tradebot.runtime.execution import Sizing
from tradebot.runtime.portfolio import PRICES, PortfolioBars, run_portfolio

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def one_symbol(bars: pl.DataFrame) -> PortfolioBars:
    return PortfolioBars(bars["timestamp"], ("X",),
                         {name: bars[name].to_numpy()[:, None] for name in PRICES})


@SETTINGS
@given(CASES)
def test_a_one_symbol_universe_equals_the_single_symbol_engine_bit_for_bit(case):
    bars, signals, config = case
    single = run_backtest(bars, signals, config)
    portfolio = run_portfolio(one_symbol(bars), [signals], np.zeros((bars.height, 1)), config, 1)
    assert portfolio.trades.drop("symbol").equals(single.trades)
    for name in ("equity", "drawdown"):
        assert portfolio.equity[name].to_numpy().tobytes() == single.equity[name].to_numpy().tobytes()
    assert (portfolio.symbol_equity()["position"].to_numpy().tobytes()
            == single.equity["position"].to_numpy().tobytes())
    assert portfolio.ruin == single.ruin
    assert set(portfolio.trades["symbol"]) <= {"X"}


def bars_of(rows: dict[str, list[float]], n: int) -> PortfolioBars:
    """Symbols whose bars open and close at the given prices (high/low around them); NaN: no bar."""
    close = np.column_stack([rows[s] for s in rows])
    open_ = np.vstack([close[:1], close[:-1]])  # each bar opens at the previous close
    open_ = np.where(np.isnan(close), np.nan, np.where(np.isnan(open_), close, open_))
    prices = {"open": open_, "high": np.fmax(open_, close) + 0.5, "low": np.fmin(open_, close) - 0.5,
              "close": close}
    times = pl.datetime_range(pl.datetime(2024, 1, 1), pl.datetime(2024, 1, 1, n - 1),
                              "1h", eager=True, time_zone="UTC").cast(pl.Datetime("ms", "UTC"))
    return PortfolioBars(times, tuple(rows), prices)


def entries(n: int, at: list[int], exits: list[int] = ()) -> Signals:
    enter, leave = np.zeros(n, bool), np.zeros(n, bool)
    enter[list(at)] = True
    leave[list(exits)] = True
    return Signals(enter, leave, np.zeros(n, bool), np.zeros(n, bool))


def test_hand_worked_rank_order_slots_and_equity_sizing():
    """Three symbols signal on bar 0, two slots: B (rank 3) and C (rank 2) fill at bar 1's open,
    each sized 50% of the account's equity; A (rank 1) gets no slot. B exits on bar 2's signal
    at bar 3's open; A's new signal on bar 3 fills at bar 4's open, sized from the equity then
    (cash plus C marked at its bar-4 open)."""
    n = 6
    bars = bars_of({"A": [10, 10, 10, 10, 10, 11], "B": [20, 20, 22, 24, 24, 24],
                    "C": [40, 40, 40, 44, 48, 48]}, n)
    signals = [entries(n, [0, 3]), entries(n, [0], exits=[2]), entries(n, [0])]
    rank = np.tile([1.0, 3.0, 2.0], (n, 1))
    config = ExecutionConfig(10_000.0, 0.0, 0.0, sizing=Sizing("equity", 0.5))
    result = run_portfolio(bars, signals, rank, config, max_positions=2)
    t = result.trades.sort("entry_bar", "symbol")
    # B: 5000 / 20 = 250 units at 20, sold at bar 3's open 22 (the bar-2 close): +500.
    # C: 5000 / 40 = 125 units at 40, held to the end (48): +1000.
    # A at bar 4: equity = cash 5500 + 125 * 44 (C's bar-4 open) = 11000; 50% / 10 = 550 units.
    assert t.select("symbol", "entry_bar", "exit_bar", "entry_price", "exit_price", "qty").rows() == [
        ("B", 1, 3, 20.0, 22.0, 250.0), ("C", 1, 5, 40.0, 48.0, 125.0),
        ("A", 4, 5, 10.0, 11.0, 550.0)]
    assert result.equity["equity"].to_list()[-1] == 10_000 + 500 + 1000 + 550
    assert result.equity["positions"].to_list() == [0, 2, 2, 1, 2, 0]


def test_ties_are_broken_by_symbol_order_and_a_symbol_without_a_bar_gets_no_fill():
    """Equal ranks: the first symbol (by name) takes the only slot. B has no bar at 1: its
    order waits for its next bar (2) and fills there at the open, once A has left."""
    n = 5
    nan = np.nan
    bars = bars_of({"A": [10, 10, 10, 10, 10], "B": [20, nan, 20, 20, 20]}, n)
    signals = [entries(n, [0], exits=[1]), entries(n, [0])]
    config = ExecutionConfig(1_000.0, 0.0, 0.0, sizing=Sizing("equity", 0.5))
    result = run_portfolio(bars, signals, np.zeros((n, 2)), config, max_positions=1)
    t = result.trades.sort("entry_bar")
    assert t.select("symbol", "entry_bar", "exit_bar").rows() == [("A", 1, 2), ("B", 2, 4)]
    assert np.isnan(bars.prices["close"][1, 1])


def test_the_leverage_cap_counts_every_symbols_position():
    """All-in sizing on two symbols at leverage 1: the second entry finds no room left."""
    n = 4
    bars = bars_of({"A": [10.0] * n, "B": [20.0] * n}, n)
    signals = [entries(n, [0]), entries(n, [0])]
    config = ExecutionConfig(1_000.0, 0.0, 0.0, sizing=Sizing("equity", 1.0))
    result = run_portfolio(bars, signals, np.zeros((n, 2)), config, max_positions=2)
    assert result.trades["symbol"].to_list() == ["A"]
    assert result.trades["qty"].to_list() == [100.0]


@SETTINGS
@given(CASES, st.integers(0, 2**32 - 1))
def test_symbols_that_cannot_compete_trade_as_if_alone(case, seed):
    """Two symbols on the same bars with different signals, sized in units with leverage to
    spare and a slot each: every symbol's trades equal its own single-symbol run (stops,
    targets, trailing, entry orders, time exits and pyramiding included)."""
    bars, first, config = case
    config = replace(config, capital=1e7, sizing=Sizing("units", 10.0), leverage=100.0)
    flags = np.random.default_rng(seed).random((4, bars.height)) < 0.3
    second = Signals(*flags, levels=dict(first.levels))
    two = PortfolioBars(bars["timestamp"], ("X", "Y"),
                        {name: np.column_stack([bars[name].to_numpy()] * 2) for name in PRICES})
    portfolio = run_portfolio(two, [first, second], np.zeros((bars.height, 2)), config, 2)
    if (portfolio.trades["exit_reason"] == "liquidation").any():
        # The shared account was liquidated by both symbols' losses together (seen: prices up
        # 5000x in 39 bars) where neither account alone was: not a case of independence either.
        return
    for symbol, signals in (("X", first), ("Y", second)):
        alone = run_backtest(bars, signals, config)
        if alone.ruin is not None:
            return  # one symbol's ruin ends the shared account: not a case of independence
        mine = portfolio.trades.filter(pl.col("symbol") == symbol).drop("symbol")
        assert mine.sort("exit_bar", "entry_bar", maintain_order=True).equals(
            alone.trades.sort("exit_bar", "entry_bar", maintain_order=True))
