"""Hand-worked partial exits (docs/execution.md, "Partial exits"): every part, fee and P&L worked
out here.

Conventions under test: a laddered target splits each entry into one lot per rung (its part of
the entry, with the rung's target) and a lot for the rest; each part that closes is a trade row
with its quantity and its share of the entry fee, and pays its own exit fee. A signal exit with a
portion closes that part of every open lot at the next open. A part is rounded down to the
quantity step; a part below the step or the minimum quantity closes nothing, and a lot that would
keep less than the minimum quantity closes whole.
"""
from __future__ import annotations

import numpy as np
import pytest

from tests.runtime.support import make_bars, make_signals
from tradebot.runtime import ExecutionConfig, Signals, run_backtest
from tradebot.runtime.execution import Level, Rung, SideRules, Sizing

approx = pytest.approx
CAPITAL = 10_000.0
ENTRY = (100, 101, 99, 100)  # bar 0 signals; bar 1 opens at 100: the entry


def bars_of(rows):
    o, h, l, c = zip(*rows)
    return make_bars(o, c, highs=h, lows=l)


def run(rows, signals, **config):
    if "long.exit_portion" in signals.levels:  # the exit's portion per bar (NaN: everything)
        rules = config.pop("long", SideRules())
        config["long"] = SideRules(**rules.levels(), exit_portion="long.exit_portion")
    return run_backtest(bars_of(rows), signals, ExecutionConfig(CAPITAL, **config))


def rows_of(result):
    return [(t["entry_bar"], t["exit_bar"], approx(t["qty"]), t["exit_reason"])
            for t in result.trades.to_dicts()]


def with_portion(n, portions: dict[int, float], *, enter=(0,), enter_short=()):
    """Long signals with exits on the bars of `portions` (their part per bar, as a series)."""
    base = make_signals(n, enter_long=enter, exit_long=portions, enter_short=enter_short)
    values = np.full(n, np.nan)
    for bar, part in portions.items():
        values[bar] = part
    return Signals(*base.arrays(), levels={"long.exit_portion": values})


def test_half_out_at_one_r_then_the_rest_stopped_with_fees():
    # 80 units at 100; stop 2 % = 98 (1 R = 2); rung: 50 % at 2 % = 102 (1 R).
    fee, fixed = 0.001, 1.0
    config = dict(fee=fee, fee_per_order=fixed, sizing=Sizing("units", 80),
                  long=SideRules(stop_loss=Level("percent", 0.02),
                                 ladder=(Rung(Level("percent", 0.02), 0.5),)))
    rows = [ENTRY, (100, 102.5, 99.5, 101), (101, 101.5, 97, 97.5), (97.5, 98, 97, 97.5)]
    result = run(rows, make_signals(4, enter_long=[0]), **config)
    entry_fee = fee * 80 * 100 + fixed                       # 9, one fill: half to each part
    first = 40 * (102 - 100) - entry_fee / 2 - (fee * 40 * 102 + fixed)  # 80 - 4.5 - 5.08 = 70.42
    rest = 40 * (98 - 100) - entry_fee / 2 - (fee * 40 * 98 + fixed)     # -80 - 4.5 - 4.92 = -89.42
    assert rows_of(result) == [(1, 1, 40, "target"), (1, 2, 40, "stop")]
    assert result.trades["pnl"].to_list() == [approx(70.42), approx(-89.42)]
    assert result.trades["pnl"].to_list() == [approx(first), approx(rest)]
    assert result.trades["fees"].to_list() == [approx(4.5 + 5.08), approx(4.5 + 4.92)]
    assert result.equity["equity"][-1] == approx(CAPITAL + first + rest)  # 9 981
    assert result.equity["position"].to_list() == [0, 40, 0, 0]


def test_two_rungs_and_a_plain_target_for_the_rest():
    # 100 units: 30 at +1 %, 30 at +2 %, the other 40 at the plain +3 % target.
    config = dict(sizing=Sizing("units", 100),
                  long=SideRules(take_profit=Level("percent", 0.03),
                                 ladder=(Rung(Level("percent", 0.01), 0.3),
                                         Rung(Level("distance", 2.0), 0.3))))
    rows = [ENTRY, (100, 101.5, 99.5, 101), (101, 103.5, 100.5, 103), (103, 103.2, 102, 103)]
    result = run(rows, make_signals(4, enter_long=[0]), **config)
    assert rows_of(result) == [(1, 1, 30, "target"), (1, 2, 30, "target"), (1, 2, 40, "target")]
    assert result.trades["exit_price"].to_list() == [approx(101), approx(102), approx(103)]
    assert result.equity["equity"][-1] == approx(CAPITAL + 30 * 1 + 30 * 2 + 40 * 3)


def test_a_signal_exit_with_a_portion_closes_that_part_at_the_next_open_with_its_fee_share():
    fee = 0.002
    rows = [ENTRY, (100, 101, 99, 100), (104, 105, 103, 104), (106, 107, 105, 106)]
    result = run(rows, with_portion(4, {1: 0.25}), fee=fee, sizing=Sizing("units", 80))
    entry_fee = fee * 80 * 100
    part = 20 * (104 - 100) - entry_fee / 4 - fee * 20 * 104
    rest = 60 * (106 - 100) - entry_fee * 3 / 4 - fee * 60 * 106
    assert rows_of(result) == [(1, 2, 20, "signal"), (1, 3, 60, "end_of_data")]
    assert result.trades["pnl"].to_list() == [approx(part), approx(rest)]
    assert result.equity["equity"][-1] == approx(CAPITAL + part + rest)


def test_a_portion_is_rounded_down_to_the_step_and_below_the_minimum_closes_nothing():
    rows = [ENTRY] + [(100, 101, 99, 100)] * 4
    sizing = Sizing("units", 15, min_qty=5, qty_step=1)
    # 50 % of 15 = 7.5 -> 7 (8 left); 50 % of 8 = 4 < 5: nothing; then everything.
    result = run(rows, with_portion(5, {1: 0.5, 2: 0.5, 3: 1.0}), sizing=sizing)
    assert rows_of(result) == [(1, 2, 7, "signal"), (1, 4, 8, "signal")]


def test_a_lot_that_would_keep_less_than_the_minimum_closes_whole():
    rows = [ENTRY] + [(100, 101, 99, 100)] * 3
    sizing = Sizing("units", 12, min_qty=5, qty_step=1)
    result = run(rows, with_portion(4, {1: 0.7}), sizing=sizing)  # 8.4 -> 8 would leave 4 < 5
    assert rows_of(result) == [(1, 2, 12, "signal")]


def test_a_portion_applies_to_every_pyramided_lot():
    rows = [ENTRY, (100, 101, 99, 100), (110, 111, 109, 110), (120, 121, 119, 120), ENTRY]
    signals = with_portion(5, {2: 0.5}, enter=(0, 1))
    result = run(rows, signals, sizing=Sizing("units", 10), pyramiding=2)
    assert rows_of(result) == [(1, 3, 5, "signal"), (2, 3, 5, "signal"),
                               (1, 4, 5, "end_of_data"), (2, 4, 5, "end_of_data")]


def test_a_partial_exit_with_an_opposite_entry_closes_everything_and_reverses():
    rows = [ENTRY, (100, 101, 99, 100), (104, 105, 103, 104), (106, 107, 105, 106)]
    result = run(rows, with_portion(4, {1: 0.5}, enter_short=(1,)), sizing=Sizing("units", 10))
    assert [(t["side"], t["qty"], t["exit_reason"]) for t in result.trades.to_dicts()] == [
        ("long", 10, "signal"), ("short", 10, "end_of_data")]


def test_the_partial_exit_at_the_open_comes_before_the_stop_inside_the_bar():
    # Half goes at the bar-2 open (99.5); the other half is stopped at 98 inside that bar.
    config = dict(sizing=Sizing("units", 10), long=SideRules(stop_loss=Level("percent", 0.02)))
    rows = [ENTRY, (100, 101, 99, 100), (99.5, 100, 97, 97.5), (97.5, 98, 97, 97.5)]
    result = run(rows, with_portion(4, {1: 0.5}), **config)
    assert rows_of(result) == [(1, 2, 5, "signal"), (1, 2, 5, "stop")]
    assert result.trades["exit_price"].to_list() == [approx(99.5), approx(98)]


def test_a_laddered_entry_counts_once_for_pyramiding():
    # pyramiding 1: the second entry signal is ignored while either part of the first is open.
    config = dict(sizing=Sizing("units", 10),
                  long=SideRules(ladder=(Rung(Level("percent", 0.01), 0.5),)))
    rows = [ENTRY, (100, 101.5, 99.5, 101), (101, 101.5, 100.5, 101), (101, 101.5, 100.5, 101)]
    result = run(rows, make_signals(4, enter_long=[0, 1, 2]), **config)
    assert rows_of(result) == [(1, 1, 5, "target"), (1, 3, 5, "end_of_data")]
