"""Hand-worked trade lists: every fill, fee, P&L and equity value computed in the test.

Conventions under test (docs/execution.md): a signal on bar t's close fills at bar t+1's open;
buys pay open * (1 + slippage), sells get open * (1 - slippage); fee = fee * qty * fill per side;
qty = equity / (fill * (1 + fee)); an open position is closed at the last close ("end_of_data").
"""
from __future__ import annotations

import pytest

from tests.runtime.support import make_bars, make_signals
from tradebot.runtime import ExecutionConfig, run_backtest

CAPITAL, FEE, SLIP = 10_000.0, 0.001, 0.002
CONFIG = ExecutionConfig(capital=CAPITAL, fee=FEE, slippage=SLIP)
approx = pytest.approx


def trade_dicts(result):
    return result.trades.to_dicts()


def test_long_trade_by_hand():
    opens = [100, 100, 110, 120, 130]
    closes = [100, 105, 115, 125, 128]
    result = run_backtest(make_bars(opens, closes), make_signals(5, enter_long=[0], exit_long=[2]),
                          CONFIG)

    entry = 100 * (1 + SLIP)                        # bar 1 open, bought: 100.2
    qty = CAPITAL / (entry * (1 + FEE))             # 10_000 / 100.3002 = 99.7007...
    entry_fee = FEE * qty * entry                   # 9.99001...
    cash = CAPITAL - qty * entry - entry_fee        # 0: all equity went into the position
    exit_ = 120 * (1 - SLIP)                        # bar 3 open, sold: 119.76
    exit_fee = FEE * qty * exit_
    pnl = qty * (exit_ - entry) - entry_fee - exit_fee

    assert cash == approx(0.0, abs=1e-9)
    [trade] = trade_dicts(result)
    assert trade["side"] == "long"
    assert (trade["entry_bar"], trade["exit_bar"], trade["bars_held"]) == (1, 3, 2)
    assert trade["entry_price"] == approx(100.2) and trade["exit_price"] == approx(119.76)
    assert trade["qty"] == approx(qty)
    assert trade["fees"] == approx(entry_fee + exit_fee)
    assert trade["pnl"] == approx(pnl)
    assert trade["return_pct"] == approx(100 * pnl / (qty * entry))
    assert trade["exit_reason"] == "signal"
    expected_equity = [CAPITAL, cash + qty * 105, cash + qty * 115, CAPITAL + pnl, CAPITAL + pnl]
    assert result.equity["equity"].to_list() == approx(expected_equity)
    assert result.equity["position"].to_list() == approx([0, qty, qty, 0, 0])


def test_short_trade_by_hand():
    opens = [50, 50, 40, 45, 30, 31]
    closes = [50, 48, 42, 40, 31, 30]
    result = run_backtest(make_bars(opens, closes),
                          make_signals(6, enter_short=[1], exit_short=[3]), CONFIG)

    entry = 40 * (1 - SLIP)                         # bar 2 open, sold short: 39.92
    qty = CAPITAL / (entry * (1 + FEE))
    entry_fee = FEE * qty * entry
    cash = CAPITAL + qty * entry - entry_fee        # the sale's proceeds are credited
    exit_ = 30 * (1 + SLIP)                         # bar 4 open, bought back: 30.06
    exit_fee = FEE * qty * exit_
    pnl = qty * (entry - exit_) - entry_fee - exit_fee

    [trade] = trade_dicts(result)
    assert trade["side"] == "short"
    assert (trade["entry_bar"], trade["exit_bar"], trade["bars_held"]) == (2, 4, 2)
    assert trade["entry_price"] == approx(39.92) and trade["exit_price"] == approx(30.06)
    assert trade["pnl"] == approx(pnl) and trade["fees"] == approx(entry_fee + exit_fee)
    # Marked to market: cash + position * close, with position = -qty.
    expected_equity = [CAPITAL, CAPITAL, cash - qty * 42, cash - qty * 40, CAPITAL + pnl,
                       CAPITAL + pnl]
    assert result.equity["equity"].to_list() == approx(expected_equity)
    assert result.equity["position"].to_list() == approx([0, 0, -qty, -qty, 0, 0])


def test_reversal_then_end_of_data_by_hand():
    opens = [10, 10, 11, 12, 13, 12]
    closes = [10, 10.5, 11.5, 12.5, 12.5, 11]
    result = run_backtest(make_bars(opens, closes),
                          make_signals(6, enter_long=[0], enter_short=[2]), CONFIG)

    # Leg 1: long from bar 1's open, closed by the reversal at bar 3's open.
    long_entry = 10 * (1 + SLIP)
    long_qty = CAPITAL / (long_entry * (1 + FEE))
    long_fees = FEE * long_qty * long_entry
    sell = 12 * (1 - SLIP)                          # both legs sell at bar 3's open
    long_fees += FEE * long_qty * sell
    long_pnl = long_qty * (sell - long_entry) - long_fees
    equity_at_reversal = CAPITAL + long_pnl
    # Leg 2: short sized from the equity left after closing leg 1, same fill price.
    short_qty = equity_at_reversal / (sell * (1 + FEE))
    short_entry_fee = FEE * short_qty * sell
    cash = equity_at_reversal + short_qty * sell - short_entry_fee
    cover = 11 * (1 + SLIP)                         # end of data: bought back at the last close
    short_fees = short_entry_fee + FEE * short_qty * cover
    short_pnl = short_qty * (sell - cover) - short_fees

    long, short = trade_dicts(result)
    assert (long["side"], long["exit_reason"], long["exit_bar"]) == ("long", "reversal", 3)
    assert (short["side"], short["entry_bar"], short["exit_bar"]) == ("short", 3, 5)
    assert short["exit_reason"] == "end_of_data" and short["bars_held"] == 2
    assert long["exit_price"] == approx(sell) and short["entry_price"] == approx(sell)
    assert long["pnl"] == approx(long_pnl) and long["fees"] == approx(long_fees)
    assert short["qty"] == approx(short_qty) and short["exit_price"] == approx(cover)
    assert short["pnl"] == approx(short_pnl) and short["fees"] == approx(short_fees)
    equity = result.equity["equity"].to_list()
    assert equity[3] == approx(cash - short_qty * 12.5)
    assert equity[-1] == approx(CAPITAL + long_pnl + short_pnl)
    assert result.equity["position"][-1] == 0.0


def test_end_of_data_closes_an_open_long_at_the_last_close():
    result = run_backtest(make_bars([5, 5, 6, 7], [5, 5.5, 6.5, 8]),
                          make_signals(4, enter_long=[1]), CONFIG)
    entry, last = 6 * (1 + SLIP), 8 * (1 - SLIP)
    qty = CAPITAL / (entry * (1 + FEE))
    [trade] = trade_dicts(result)
    assert (trade["entry_bar"], trade["exit_bar"], trade["exit_reason"]) == (2, 3, "end_of_data")
    assert trade["exit_price"] == approx(last)
    assert trade["pnl"] == approx(qty * (last - entry) - FEE * qty * (entry + last))


def test_signal_on_the_last_bar_is_ignored():
    bars = make_bars([1, 1, 1], [1, 1, 1])
    for kind in ("enter_long", "enter_short"):
        result = run_backtest(bars, make_signals(3, **{kind: [2]}), CONFIG)
        assert result.trades.height == 0
        assert result.equity["equity"].to_list() == [CAPITAL] * 3


def test_entry_on_the_second_to_last_bar_fills_then_closes_on_the_last_bar():
    result = run_backtest(make_bars([1, 1, 2], [1, 1, 2]), make_signals(3, enter_long=[1]),
                          ExecutionConfig(capital=100.0))
    [trade] = trade_dicts(result)
    assert (trade["entry_bar"], trade["exit_bar"], trade["bars_held"]) == (2, 2, 0)
    assert trade["exit_reason"] == "end_of_data" and trade["pnl"] == approx(0.0)


# (signals on bar 1 after a long entry signalled on bar 0, expected trades as (side, reason))
# Bars: 5 flat bars at price 1, no costs, so only the trade structure matters.
SIMULTANEOUS_WHILE_LONG = [
    ({"exit_long": [1], "enter_short": [1]}, [("long", "signal"), ("short", "end_of_data")]),
    ({"enter_short": [1], "exit_short": [1]}, [("long", "end_of_data")]),
    ({"enter_long": [1], "enter_short": [1]}, [("long", "end_of_data")]),
    ({"enter_long": [1], "enter_short": [1], "exit_long": [1]}, [("long", "signal")]),
    ({"enter_long": [1], "exit_long": [1]}, [("long", "signal")]),
    ({"enter_long": [1, 2, 3]}, [("long", "end_of_data")]),
]


@pytest.mark.parametrize(("extra", "expected"), SIMULTANEOUS_WHILE_LONG)
def test_simultaneous_signals_while_long(extra, expected):
    signals = dict(extra)
    signals["enter_long"] = [0, *extra.get("enter_long", [])]
    result = run_backtest(make_bars([1] * 5, [1] * 5), make_signals(5, **signals),
                          ExecutionConfig(capital=100.0))
    trades = result.trades
    assert list(zip(trades["side"], trades["exit_reason"])) == expected
    assert trades["entry_bar"][0] == 1


@pytest.mark.parametrize("signals", [
    {"enter_long": [1], "exit_long": [1]},
    {"enter_short": [1], "exit_short": [1]},
    {"enter_long": [1], "enter_short": [1]},
    {"enter_long": [1], "enter_short": [1], "exit_long": [1], "exit_short": [1]},
    {"exit_long": [1], "exit_short": [1]},
])
def test_simultaneous_signals_while_flat_open_nothing(signals):
    result = run_backtest(make_bars([1] * 4, [1] * 4), make_signals(4, **signals), CONFIG)
    assert result.trades.height == 0


def test_a_short_that_would_lose_more_than_the_equity_is_liquidated_and_the_run_stops():
    # Issue 10.2. Sold short 10 units at 10 with 100 of capital: cash 200, so the liquidation
    # price is 200 / 10 = 20. Bar 2 opens at 20: bought back there, equity 0, ruined; the long
    # entry signalled on bar 3 never fills (it used to end at -200 %).
    result = run_backtest(make_bars([10, 10, 20, 40, 40, 40], [10, 10, 20, 40, 40, 40]),
                          make_signals(6, enter_short=[0], exit_short=[2], enter_long=[3]),
                          ExecutionConfig(capital=100.0))
    [trade] = trade_dicts(result)
    assert (trade["exit_bar"], trade["exit_price"], trade["exit_reason"]) == (2, 20, "liquidation")
    assert trade["pnl"] == approx(10 * (10 - 20))
    assert result.equity["equity"].to_list() == [100, 100, 0, 0, 0, 0]
    assert result.equity["drawdown"][-1] == -1.0
    assert (result.ruin.bar, result.ruin.shortfall) == (2, 0.0)
    assert str(result.ruin.time) == "2024-01-01 02:00:00+00:00"
    assert result.metrics["all"]["cagr_pct"] == -100.0
