"""Hypothesis properties of the engine on random bars and random signals.

- the compiled kernel agrees with the naive bar-by-bar reference (tests/runtime/reference.py);
- final equity = capital + sum of trade P&L (+ the shortfall of a ruin: cash accounting loses
  nothing) and the equity is never negative;
- trades never overlap (one position at a time) and the position column agrees with them;
- prefix invariance: running on the first m bars reproduces every trade the full run closed at
  or before bar m - 1 by a signal, and the same equity on bars 0 .. m - 2.
"""
from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.runtime.reference import reference_backtest
from tests.runtime.support import money_tolerance, scenarios
from tradebot.runtime import Signals, run_backtest

SETTINGS = settings(max_examples=150, deadline=None)


@SETTINGS
@given(scenarios())
def test_kernel_matches_the_naive_reference(scenario):
    bars, signals, config = scenario
    result = run_backtest(bars, signals, config)
    trades, equity, position, ruined = reference_backtest(
        bars["open"].to_list(), bars["close"].to_list(), *signals.arrays(),
        capital=config.capital, fee=config.fee, slippage=config.slippage,
        highs=bars["high"].to_list(), lows=bars["low"].to_list())
    assert (result.ruin.bar if result.ruin else None) == ruined
    ours = result.trades.select("side", "entry_bar", "exit_bar", "exit_reason").rows()
    assert ours == [(t["side"], t["entry_bar"], t["exit_bar"], t["exit_reason"]) for t in trades]
    for column in ("entry_price", "exit_price", "qty", "fees", "pnl"):
        assert result.trades[column].to_list() == pytest.approx([t[column] for t in trades],
                                                                rel=1e-9, abs=1e-9)
    money = money_tolerance(result.trades, config.capital)
    assert result.equity["equity"].to_list() == pytest.approx(equity, rel=1e-9, abs=money)
    assert result.equity["position"].to_list() == pytest.approx(position, rel=1e-9, abs=1e-12)


@SETTINGS
@given(scenarios())
def test_final_equity_is_capital_plus_trade_pnl(scenario):
    bars, signals, config = scenario
    result = run_backtest(bars, signals, config)
    final = result.equity["equity"][-1]
    shortfall = result.ruin.shortfall if result.ruin else 0.0  # a loss beyond the equity: not carried
    assert final == pytest.approx(config.capital + result.trades["pnl"].sum() + shortfall,
                                  rel=1e-9, abs=money_tolerance(result.trades, config.capital))
    assert result.equity["position"][-1] == 0.0  # everything is closed at the end
    assert result.equity["equity"].min() >= 0.0  # "Ruin": the equity never goes below zero


@SETTINGS
@given(scenarios())
def test_trades_never_overlap_and_match_the_position_column(scenario):
    bars, signals, config = scenario
    result = run_backtest(bars, signals, config)
    trades, n = result.trades, bars.height
    entries, exits = trades["entry_bar"].to_numpy(), trades["exit_bar"].to_numpy()
    assert np.all(entries[1:] >= exits[:-1])  # the next trade opens when (or after) one closes
    assert np.all(exits >= entries) and np.all(trades["qty"].to_numpy() > 0)
    assert np.all(trades["fees"].to_numpy() >= 0)
    expected = np.zeros(n)
    for side, qty, entry, exit_ in trades.select("side", "qty", "entry_bar", "exit_bar").rows():
        expected[entry:exit_] = qty if side == "long" else -qty  # held at the closes entry..exit-1
    assert result.equity["position"].to_numpy() == pytest.approx(expected)


@SETTINGS
@given(scenarios(min_bars=2), st.data())
def test_prefix_invariance(scenario, data):
    bars, signals, config = scenario
    m = data.draw(st.integers(1, bars.height), label="prefix length")
    full = run_backtest(bars, signals, config)
    prefix = run_backtest(bars.head(m), Signals(*(a[:m] for a in signals.arrays())), config)
    by_signal = pl.col("exit_reason") != "end_of_data"
    settled = full.trades.filter(by_signal, pl.col("exit_bar") <= m - 1)
    assert prefix.trades.filter(by_signal).rows() == settled.rows()
    assert prefix.equity["equity"].to_list()[:-1] == full.equity["equity"].to_list()[:m - 1]
