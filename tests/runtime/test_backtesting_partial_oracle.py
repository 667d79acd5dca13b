"""Partial exits cross-checked against backtesting.py (a test-only dependency run as an oracle;
none of its code is copied): its `Position.close(portion)` and one bracket order per rung.

- `exit long 50% when ...`: backtesting.py closes `portion` of the open trade at the next open,
  as ours closes that part of every lot (one lot here: no pyramiding); each part is a closed trade
  there and a trade row here. Their quantities are whole fractional units (1e-9), ours exact.
- `take_profit long 0.3% exit 50%` + `take_profit long 0.6%`: backtesting.py places two orders at
  the next open, half each, with the same stop and their own targets; ours splits the entry into
  the same two lots. Sized `size 1000 cash`, which the oracle computes from the fill itself.
Conventions otherwise as tests/runtime/test_backtesting_risk_oracle.py (absolute stops read on
the signal bar, the stop first when a bar reaches both).
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import polars as pl
import pytest

from tests.runtime.oracles import (DATASETS, assert_same_trades, final_equity_if_left_open,
                                   run_ours)
from tests.runtime.test_backtesting_risk_oracle import their_trades

pytest.importorskip("backtesting")
from backtesting import Strategy  # noqa: E402
from backtesting.lib import FractionalBacktest  # noqa: E402

UNIT = 1e-9

SCALE_OUT_BY_SIGNAL = """
fee 0.05%
param upper = 70 in 50..80
r = rsi(close, 14)
enter long when r crosses above 30
exit  long 50% when r crosses above 50
exit  long 25% when r crosses above 60
exit  long when r crosses above upper
"""

LADDER = """
fee 0.05%
size 1000 cash
param sl = 2% in 0.25%..5%
r = rsi(close, 14)
stop_loss long at close * (1 - sl)
take_profit long 0.3% exit 50%
take_profit long 0.6%
enter long when r crosses above 30
exit  long when r crosses above 70
"""


class ScaleOut(Strategy):
    """Long only, from our signals: the exit closes the portion our plan computed for the bar."""

    enter = exit_ = portion = opens = stops = None  # arrays, set per run
    ladder = False
    fee = 0.0

    def init(self):
        pass

    def next(self):
        i = len(self.data) - 1
        if i + 1 >= len(self.opens):
            return  # a signal on the last bar is never filled
        if self.position and self.exit_[i]:
            part = 1.0 if self.portion is None else self.portion[i]
            self.position.close(part if 0.0 < part < 1.0 else 1.0)
        elif not self.position and self.enter[i] and not self.exit_[i]:
            self._enter(i)

    def _enter(self, i):
        if not self.ladder:
            self.buy()
            return
        fill = self.opens[i + 1]  # the next open (no slippage, no spread)
        units = 1000.0 / (fill * (1.0 + self.fee))  # `size 1000 cash`, in fractional units
        half = round(units * 0.5)
        sl = self.stops[i]
        self.buy(size=half, sl=sl, tp=fill * 1.003)
        self.buy(size=int(units) - half, sl=sl, tp=fill * 1.006)


def run_backtesting(bars, ours, *, ladder: bool) -> pd.Series:
    frame = pd.DataFrame({name.capitalize(): bars[name].to_numpy() for name in
                          ("open", "high", "low", "close", "volume")},
                         index=pd.DatetimeIndex(bars["timestamp"].to_numpy()))
    portion = ours.levels.get("long.exit_portion")
    stops = ours.levels.get("long.stop_loss")
    options = dict(enter=ours.signals["enter_long"], exit_=ours.signals["exit_long"],
                   portion=portion, opens=UNIT * bars["open"].to_numpy(),
                   stops=None if stops is None else UNIT * stops, ladder=ladder, fee=ours.fee)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        oracle = FractionalBacktest(frame, ScaleOut, cash=ours.result.config.capital,
                                    commission=ours.fee, fractional_unit=UNIT)
        return oracle.run(**options)


def same_trades(ours: pl.DataFrame, theirs: dict[str, np.ndarray]) -> None:
    """`assert_same_trades`, with quantities equal to within one of backtesting.py's whole
    fractional units (repeated halving makes parts of a few units)."""
    qty = theirs.pop("qty")
    assert_same_trades(ours, theirs, rel=1e-7)
    np.testing.assert_allclose(ours["qty"].to_numpy(), qty, rtol=1e-7, atol=UNIT)


def settled(trades: pl.DataFrame) -> pl.DataFrame:
    """Our trades but those closed by the end of the data: backtesting.py (0.6) leaves them out
    of its trade list, and marks them at the last close in its equity (as
    `final_equity_if_left_open` does with ours)."""
    return trades.filter(pl.col("exit_reason") != "end_of_data")


@pytest.mark.parametrize("data", sorted(DATASETS))
def test_exits_by_portion_match_backtesting_py(data):
    load, values = DATASETS[data]
    bars = load()
    ours = run_ours(SCALE_OUT_BY_SIGNAL, bars, values)
    trades = ours.result.trades
    assert trades.height > 40
    # Some entries were scaled out before the last exit: more rows than entries.
    assert trades["entry_bar"].n_unique() < trades.height
    stats = run_backtesting(bars, ours, ladder=False)
    same_trades(settled(trades), their_trades(stats))
    final = stats["_equity_curve"]["Equity"].to_numpy()[-1]
    assert final_equity_if_left_open(ours) == pytest.approx(final, rel=1e-6)


def test_a_two_rung_ladder_matches_two_bracket_orders_in_backtesting_py():
    load, values = DATASETS["eurusd"]  # hourly gaps far below the rungs: brackets stay valid
    bars = load()
    ours = run_ours(LADDER, bars, values)
    trades = ours.result.trades
    reasons = set(trades["exit_reason"].to_list())
    assert {"target", "stop", "signal"} <= reasons
    stats = run_backtesting(bars, ours, ladder=True)
    same_trades(settled(trades), their_trades(stats))
    final = stats["_equity_curve"]["Equity"].to_numpy()[-1]
    assert final_equity_if_left_open(ours) == pytest.approx(final, rel=1e-6)
