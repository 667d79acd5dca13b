"""Hand-worked trade lists for the risk engine: every level, fill, quantity and P&L worked out here.

Conventions under test (docs/execution.md, "Risk exits", "Intrabar fills", "Entry orders",
"Sizing"): levels are fixed at the entry fill from their value on the signal bar; a gap through a
level fills at the open; a stop fills at its level, a target at its level with no slippage; when a
bar reaches both, the fill policy decides and the trade is flagged ambiguous; the best price seen
(fill, later opens, highs of finished bars) drives trailing stops and break-even.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from tests.runtime.support import make_bars, make_signals
from tradebot.runtime import ExecutionConfig, run_backtest
from tradebot.runtime.execution import EntryOrder, Level, SideRules, Sizing

approx = pytest.approx
CAPITAL = 10_000.0


def bars_of(rows):
    """Bars from (open, high, low, close) rows."""
    o, h, l, c = zip(*rows)
    return make_bars(o, c, highs=h, lows=l)


def one_trade(result):
    [trade] = result.trades.to_dicts()
    return trade


def long_run(rows, *, signals=None, **config):
    signals = signals or make_signals(len(rows), enter_long=[0])
    return run_backtest(bars_of(rows), signals, ExecutionConfig(CAPITAL, **config))


# Bar 0 signals; bar 1 opens at 100, the entry. Stop 2 % = 98, target 4 % = 104.
ENTRY = (100, 101, 99, 100)
HOLD = (100, 103, 98.5, 102)          # low 98.5 > 98, high 103 < 104: nothing
BRACKET = SideRules(stop_loss=Level("percent", 0.02), take_profit=Level("percent", 0.04))


def test_target_hit_inside_a_bar_fills_at_the_target():
    fee = 0.001
    result = long_run([ENTRY, HOLD, (102, 104.5, 101, 104), (104, 105, 103, 104)], fee=fee,
                      long=BRACKET)
    qty = CAPITAL / (100 * (1 + fee))                       # all-in at the bar-1 open
    pnl = qty * (104 - 100) - fee * qty * 100 - fee * qty * 104
    trade = one_trade(result)
    assert (trade["entry_bar"], trade["exit_bar"], trade["exit_reason"]) == (1, 2, "target")
    assert (trade["entry_price"], trade["exit_price"]) == (100, approx(104))
    assert trade["pnl"] == approx(pnl) and not trade["ambiguous"]
    assert result.equity["equity"][-1] == approx(CAPITAL + pnl)


def test_a_gap_through_the_stop_fills_at_the_open_not_at_the_stop():
    result = long_run([ENTRY, HOLD, (97, 99, 96, 98), (98, 99, 97, 98)], long=BRACKET)
    trade = one_trade(result)
    assert (trade["exit_bar"], trade["exit_price"], trade["exit_reason"]) == (2, 97, "stop")
    assert trade["pnl"] == approx(CAPITAL / 100 * (97 - 100))  # 100 units lose 3 each


@pytest.mark.parametrize(("policy", "opening", "price", "reason"), [
    ("pessimistic", 101, 98, "stop"),
    ("optimistic", 101, 104, "target"),
    ("open_proximity", 101, 98, "stop"),       # |101 - 98| = 3 = |104 - 101|: a tie goes to the stop
    ("open_proximity", 102, 104, "target"),    # |102 - 104| = 2 < |102 - 98| = 4
])
def test_a_bar_reaching_both_levels_is_decided_by_the_fill_policy(policy, opening, price, reason):
    both = (opening, 104.5, 97.5, 100)         # high >= 104 and low <= 98
    result = long_run([ENTRY, HOLD, both, (100, 101, 99, 100)], long=BRACKET, fill=policy)
    trade = one_trade(result)
    assert (trade["exit_bar"], trade["exit_price"], trade["exit_reason"]) == (2, approx(price), reason)
    assert trade["ambiguous"]
    everything = result.metrics["all"]
    assert everything["ambiguous_trades"] == 1
    assert everything["ambiguous_pnl"] == approx(100 * (price - 100))


def test_trailing_stop_follows_the_highs_of_finished_bars_and_each_open():
    rules = SideRules(trailing_stop=Level("percent", 0.05))
    rows = [ENTRY,
            (100, 106, 99, 105),     # entry bar: level 100 * 0.95 = 95; low 99 holds; best -> 106
            (110, 111, 105, 107),    # the open 110 is a new best: level 104.5; low 105 holds; best 111
            (108, 109, 105, 106)]    # level 111 * 0.95 = 105.45; low 105 reaches it
    trade = one_trade(long_run(rows + [(106, 107, 105, 106)], long=rules))
    assert (trade["exit_bar"], trade["exit_price"], trade["exit_reason"]) == (3, approx(105.45), "trailing")


def test_distance_trailing_stop_reads_its_distance_on_the_signal_bar():
    atr = np.array([3.0, 50.0, 50.0, 50.0, 50.0])        # only the signal bar's 3.0 counts
    rules = SideRules(trailing_stop=Level("distance", "atr3"))
    rows = [ENTRY, (100, 104, 99, 103), (103, 103.5, 100.5, 101), (101, 102, 100, 101), ENTRY]
    signals = make_signals(5, enter_long=[0])
    signals = type(signals)(*signals.arrays(), levels={"atr3": atr})
    result = run_backtest(bars_of(rows), signals, ExecutionConfig(CAPITAL, long=rules))
    trade = one_trade(result)   # best 104 after bar 1: level 104 - 3 = 101; bar 2's low 100.5 reaches it
    assert (trade["exit_bar"], trade["exit_price"], trade["exit_reason"]) == (2, approx(101), "trailing")


def test_fixed_stop_and_trailing_stop_the_tighter_one_fills_with_its_reason():
    rules = SideRules(stop_loss=Level("percent", 0.02), trailing_stop=Level("percent", 0.03))
    # Entry bar: trailing 97 is looser than the stop 98. Best 106 after bar 1: trailing 102.82.
    rows = [ENTRY, (100, 106, 99, 105), (104, 104, 97, 98), (98, 99, 97, 98)]
    trade = one_trade(long_run(rows, long=rules))
    assert (trade["exit_price"], trade["exit_reason"]) == (approx(106 * 0.97), "trailing")
    rows = [ENTRY, (100, 100.5, 97, 99), (99, 99, 98, 98)]   # best 100: trailing 97 < stop 98
    trade = one_trade(long_run(rows, long=rules))
    assert (trade["exit_bar"], trade["exit_price"], trade["exit_reason"]) == (1, 98, "stop")


def test_break_even_moves_the_stop_to_the_entry_once_the_trigger_is_reached():
    rules = SideRules(break_even=Level("percent", 0.02))
    rows = [ENTRY,
            (100, 101, 99, 100.5),    # best 101 < 102: no stop at all yet (low 99 is harmless)
            (100.5, 102.5, 100.2, 102),  # high 102.5 >= 102: armed at the end of the bar
            (101, 101.5, 99.5, 100)]  # stop at the entry price 100; low 99.5 reaches it
    trade = one_trade(long_run(rows + [ENTRY], long=rules))
    assert (trade["exit_bar"], trade["exit_price"], trade["exit_reason"]) == (3, 100, "stop")
    assert trade["pnl"] == approx(0.0)


def test_time_exit_closes_at_the_open_after_the_bars_held():
    rules = SideRules(exit_after=2)
    rows = [ENTRY, (100, 101, 99, 100), (101, 102, 100, 101), (103, 104, 102, 103), ENTRY]
    trade = one_trade(long_run(rows, long=rules))
    assert (trade["entry_bar"], trade["exit_bar"], trade["bars_held"]) == (1, 3, 2)
    assert (trade["exit_price"], trade["exit_reason"]) == (103, "time")


LIMIT_98 = EntryOrder("limit", 98.0, expire=2)   # placed at the bar-0 close, live on bars 1 and 2


def test_limit_entry_fills_at_its_price_inside_the_bar_and_expires():
    rows = [ENTRY, (99, 100, 98.5, 99), (99, 99.5, 97, 98.5), (98.5, 99, 98, 98.5)]
    trade = one_trade(long_run(rows, long=SideRules(entry=LIMIT_98)))
    assert (trade["entry_bar"], trade["entry_price"]) == (2, 98)
    too_late = long_run(rows, long=SideRules(entry=EntryOrder("limit", 98.0, expire=1)))
    assert too_late.trades.height == 0                      # bar 2 is past its one bar
    gapped = long_run([ENTRY, (97, 98, 96.5, 97.5), ENTRY], long=SideRules(entry=LIMIT_98))
    assert one_trade(gapped)["entry_price"] == 97          # an open below the limit fills at the open


def test_exits_on_a_limit_entry_bar_count_only_touches_that_surely_followed_the_fill():
    # The price came down to 98 to fill, so the low (95) followed the fill: the stop 98 * 0.98 =
    # 96.04 is surely hit. The high 102 may have come before the fill: the target 101.92 is unsure.
    rules = dict(stop_loss=Level("percent", 0.02), take_profit=Level("percent", 0.04), entry=LIMIT_98)
    falls = [ENTRY, (99, 99.5, 95, 96.5), ENTRY]
    trade = one_trade(long_run(falls, long=SideRules(**rules)))
    assert (trade["exit_bar"], trade["exit_price"], trade["exit_reason"]) == (1, approx(96.04), "stop")
    assert not trade["ambiguous"]
    unsure = [ENTRY, (99, 102, 97.5, 100), (100, 100.5, 99.5, 100), (100, 100.5, 99.5, 100)]
    kept = one_trade(long_run(unsure, long=SideRules(**rules)))          # pessimistic: not taken
    assert (kept["exit_reason"], kept["ambiguous"]) == ("end_of_data", True)
    taken = one_trade(long_run(unsure, long=SideRules(**rules), fill="optimistic"))
    assert (taken["exit_bar"], taken["exit_price"], taken["exit_reason"]) == (1, approx(101.92), "target")


def test_stop_entry_fills_at_its_price_plus_slippage():
    order = EntryOrder("stop", 101.0)
    trade = one_trade(long_run([ENTRY, (100, 102, 99.5, 101.5), ENTRY], slippage=0.001,
                               long=SideRules(entry=order)))
    assert (trade["entry_bar"], trade["entry_price"]) == (1, approx(101 * 1.001))


@pytest.mark.parametrize(("sizing", "leverage", "qty"), [
    (Sizing("units", 2.0), 1.0, 2.0),
    (Sizing("cash", 1_000.0), 1.0, 1_000 / (100 * 1.001)),
    (Sizing("equity", 0.5), 1.0, 5_000 / (100 * 1.001)),
    (Sizing("risk", 0.01), 1.0, 100 / 2),                 # lose 1 % = 100 at 2 per unit (stop 98)
    (Sizing("risk", 0.05), 1.0, 10_000 / (100 * 1.001)),  # 500 / 2 = 250 units cost too much: capped
    (Sizing("risk", 0.05), 3.0, 250.0),                   # 3x leverage affords 299.7
    (Sizing("equity", 0.5, qty_step=10.0), 1.0, 40.0),    # 49.95 rounded down to the lot size
    (Sizing("units", 2.0, min_qty=5.0), 1.0, 0.0),        # below the minimum: skipped
])
def test_sizing_modes(sizing, leverage, qty):
    result = long_run([ENTRY, HOLD, HOLD], fee=0.001, sizing=sizing, leverage=leverage,
                      long=SideRules(stop_loss=Level("percent", 0.02)))
    assert result.trades["qty"].to_list() == ([approx(qty)] if qty else [])


def test_pyramiding_adds_lots_each_with_its_own_trade():
    rows = [ENTRY, (100, 101, 99, 100), (110, 111, 109, 110), (120, 121, 119, 120), ENTRY]
    signals = make_signals(5, enter_long=[0, 1], exit_long=[2])
    result = long_run(rows, signals=signals, sizing=Sizing("equity", 0.5), pyramiding=2)
    first = 0.5 * CAPITAL / 100                      # 50 units at 100; cash 5 000
    equity = 5_000 + first * 110                     # 10 500 at the bar-2 open
    second = (equity - first * 110) / 110            # wants 0.5 * 10 500 / 110 = 47.7; 5 000 buys 45.45
    trades = result.trades.to_dicts()
    assert [(t["entry_bar"], t["exit_bar"], t["exit_reason"]) for t in trades] == [(1, 3, "signal"), (2, 3, "signal")]
    assert [t["qty"] for t in trades] == [approx(first), approx(second)]
    assert result.equity["equity"][-1] == approx(CAPITAL + first * 20 + second * 10)


def test_costs_fixed_fee_spread_and_slippage_in_price_units():
    config = dict(fee_per_order=1.0, spread=0.002, slippage_price=0.05, long=BRACKET)
    trade = one_trade(long_run([ENTRY, HOLD, (102, 110, 101, 104), ENTRY], **config))
    entry = 100 * (1 + 0.001) + 0.05                 # market buy: half the spread and the slippage
    target = entry * 1.04                            # levels are fixed from the fill
    exit_ = target * (1 - 0.001)                     # a target is a limit order: half the spread only
    qty = (CAPITAL - 1.0) / entry                    # all-in after the fixed fee
    assert (trade["entry_price"], trade["exit_price"]) == (approx(entry), approx(exit_))
    assert trade["qty"] == approx(qty) and trade["fees"] == approx(2.0)
    assert trade["pnl"] == approx(qty * (exit_ - entry) - 2.0)


def test_short_levels_mirror_the_long_ones():
    rules = SideRules(stop_loss=Level("percent", 0.02), take_profit=Level("percent", 0.04))
    rows = [ENTRY, (100, 101, 97, 98), (98, 99, 95.5, 96), ENTRY]   # target 96 reached at bar 2
    result = run_backtest(bars_of(rows), make_signals(4, enter_short=[0]),
                          ExecutionConfig(CAPITAL, short=rules))
    trade = one_trade(result)
    assert (trade["side"], trade["exit_bar"], trade["exit_price"], trade["exit_reason"]) == (
        "short", 2, approx(96), "target")
    assert trade["pnl"] == approx(100 * (100 - 96))
    stopped = run_backtest(bars_of([ENTRY, (100, 102.5, 99, 101), ENTRY]), make_signals(3, enter_short=[0]),
                           ExecutionConfig(CAPITAL, short=rules))
    assert one_trade(stopped)["exit_price"] == approx(102) and one_trade(stopped)["exit_reason"] == "stop"


def test_levels_from_series_are_read_on_the_signal_bar_and_missing_ones_block_the_entry():
    floor = np.array([97.0, 90.0, math.nan, 90.0, 90.0])   # a `stop_loss at` level per bar
    signals = make_signals(5, enter_long=[0, 2])
    signals = type(signals)(*signals.arrays(), levels={"floor": floor})
    rows = [ENTRY, (100, 101, 96.5, 97), (97, 98, 96, 97), (97, 98, 96, 97), ENTRY]
    rules = SideRules(stop_loss=Level("price", "floor"))
    result = run_backtest(bars_of(rows), signals, ExecutionConfig(CAPITAL, long=rules))
    trade = one_trade(result)          # stop 97 from bar 0 (not 90 from bar 1); bar 2's signal: NaN
    assert (trade["entry_bar"], trade["exit_bar"], trade["exit_price"]) == (1, 1, 97)


# Issue 10.1: a level already on the wrong side of an inside-the-bar fill closes the trade at the
# fill's own price on the entry bar (docs/execution.md, "The first price"), never at the level.
# Bar 0 closes at 100: a stop `at close` (100) above a long limit at 99.8. Bar 1 comes down to
# 99.8 and never trades as high as 100 (high 99.95).
WRONG_SIDE_BAR = (99.9, 99.95, 99.5, 99.7)


def test_a_stop_above_a_long_limit_fill_closes_at_the_fill_price_not_above_the_bar():
    rules = SideRules(stop_loss=Level("price", 100.0), entry=EntryOrder("limit", 99.8))
    trade = one_trade(long_run([ENTRY, WRONG_SIDE_BAR, ENTRY], fee=0.001, slippage=0.002,
                               long=rules))
    sold = 99.8 * (1 - 0.002)                       # a stop is market-type: slippage on the exit
    assert (trade["entry_bar"], trade["exit_bar"], trade["exit_reason"]) == (1, 1, "stop")
    assert (trade["entry_price"], trade["exit_price"]) == (99.8, approx(sold))  # limit: no slippage
    qty = CAPITAL / (99.8 * 1.001)
    assert trade["pnl"] == approx(qty * (sold - 99.8) - 0.001 * qty * (99.8 + sold))


def test_a_stop_below_a_short_limit_fill_closes_at_the_fill_price():
    rules = SideRules(stop_loss=Level("price", 100.0), entry=EntryOrder("limit", 100.2))
    rows = [ENTRY, (100.1, 100.5, 100.05, 100.3), ENTRY]          # never as low as 100
    result = run_backtest(bars_of(rows), make_signals(3, enter_short=[0]),
                          ExecutionConfig(CAPITAL, short=rules))
    trade = one_trade(result)
    assert (trade["exit_bar"], trade["entry_price"], trade["exit_price"], trade["exit_reason"]) == (
        1, 100.2, 100.2, "stop")
    assert trade["pnl"] == approx(0.0)


def test_a_target_below_a_long_stop_entry_fill_closes_at_the_fill_price_as_a_limit():
    # A stop entry bought at 101 on the way up; the target `at` 100.5 is already below it. The
    # optimistic policy used to take it at 100.5, under the bar's low of 100.8.
    rules = SideRules(take_profit=Level("price", 100.5), entry=EntryOrder("stop", 101.0))
    trade = one_trade(long_run([ENTRY, (100.9, 101.5, 100.8, 101.2), ENTRY], spread=0.002,
                               fill="optimistic", long=rules))
    assert (trade["exit_bar"], trade["exit_reason"], trade["ambiguous"]) == (1, "target", False)
    assert trade["exit_price"] == approx(101 * (1 - 0.001))        # half the spread only


# Issue 10.2, docs/execution.md "Ruin": 10 000 short at 100 (100 units, cash 20 000) is
# liquidated at 20 000 / 100 = 200; nothing trades afterwards; the equity never goes below zero.
RISING = [(100, 100, 100, 100), (100, 100, 100, 100), (100, 120, 100, 120), (120, 150, 120, 150),
          (150, 180, 150, 180)]


def short_run(rows, **config):
    n = len(rows)
    signals = make_signals(n, enter_short=[0], enter_long=[n - 2])
    return run_backtest(bars_of(rows), signals, ExecutionConfig(CAPITAL, **config))


def test_a_short_is_liquidated_where_its_equity_reaches_zero():
    result = short_run(RISING + [(180, 220, 180, 220), (220, 260, 220, 260), (260, 300, 250, 300)])
    trade = one_trade(result)
    assert (trade["exit_bar"], trade["exit_price"], trade["exit_reason"]) == (5, 200, "liquidation")
    assert trade["pnl"] == approx(-10_000)
    assert result.equity["equity"].to_list()[4:] == [2_000, 0, 0, 0]
    assert (result.ruin.bar, result.ruin.shortfall) == (5, 0.0)


def test_a_gap_past_the_liquidation_price_fills_at_the_open_and_the_excess_is_the_shortfall():
    result = short_run(RISING + [(210, 220, 205, 215), (215, 216, 200, 210)])
    trade = one_trade(result)
    assert (trade["exit_bar"], trade["exit_price"], trade["exit_reason"]) == (5, 210, "liquidation")
    assert trade["pnl"] == approx(-11_000)
    assert result.equity["equity"].to_list()[5:] == [0, 0]
    assert result.ruin.shortfall == approx(1_000)


def test_liquidation_with_costs_leaves_exactly_zero_after_the_exit_fee():
    result = short_run(RISING + [(180, 220, 180, 220), (220, 260, 220, 260)], fee=0.001,
                       slippage=0.002, fee_per_order=1.0)
    entry = 100 * (1 - 0.002)
    qty = (CAPITAL - 1.0) / (entry * 1.001)
    cash = CAPITAL + qty * entry * (1 - 0.001) - 1.0
    exit_fill = (cash - 1.0) / (qty * 1.001)          # cash - qty * fill * 1.001 - 1 = 0
    trade = one_trade(result)
    assert (trade["exit_bar"], trade["exit_reason"]) == (5, "liquidation")
    assert trade["exit_price"] == approx(exit_fill)
    assert result.equity["equity"][-1] == approx(0.0, abs=1e-9) and result.ruin.bar == 5


def test_a_leveraged_long_is_liquidated_a_third_below_its_entry_with_leverage_3():
    # 300 units at 100 with 10 000 of equity: cash -20 000, liquidation at 20 000 / 300.
    rows = [ENTRY, (100, 101, 99, 100), (90, 91, 80, 85), (85, 86, 60, 70), (70, 71, 69, 70)]
    result = long_run(rows, sizing=Sizing("equity", 3.0), leverage=3.0)
    trade = one_trade(result)
    assert (trade["exit_bar"], trade["exit_price"], trade["exit_reason"]) == (
        3, approx(20_000 / 300), "liquidation")
    assert result.equity["equity"].to_list()[3:] == [approx(0.0, abs=1e-9)] * 2
    unleveraged = long_run(rows)                         # bought with its own cash: never
    assert one_trade(unleveraged)["exit_reason"] == "end_of_data" and unleveraged.ruin is None
