"""Stops, targets and an ATR trailing stop cross-checked against backtesting.py (a test-only
dependency run as an oracle; none of its code is copied), on EURUSD and generated data.

Conventions aligned (docs/execution.md, "Cross-check with backtesting.py"):
- an entry is a market order at the next open with `sl=`/`tp=` brackets; backtesting.py tests
  the brackets on the entry bar too, the stop before the target (our `fill pessimistic`), and
  fills a gap through either at the open. Its brackets are prices, checked against the signal
  bar's close when the order is placed, so the scripts use absolute levels (`stop_loss at close
  * (1 - sl)`: read on the signal bar) and the oracle is handed our level arrays;
- backtesting.py has no trailing stop order: the oracle strategy moves the trade's `sl` at each
  close to (best price so far) - distance, the best price being the fill, the highs of finished
  bars and the next open (our definition);
- `FractionalBacktest` with a 1e-9 unit for fractional quantities, `commission=fee`, no spread.
Not aligned: a limit/stop *entry* filled inside a bar: backtesting.py defers its brackets to the
next bar where we test the part of the bar that surely followed the fill (hand-worked tests).
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from tests.runtime.oracles import (BREAKOUT_ATR_TRAILING, DATASETS, RSI_BRACKET_AT, SHORT_SIDE_AT,
                                   OurRun, assert_same_trades, final_equity_if_left_open, run_ours)

pytest.importorskip("backtesting")
from backtesting import Strategy  # noqa: E402
from backtesting.lib import FractionalBacktest  # noqa: E402

UNIT = 1e-9  # FractionalBacktest multiplies prices by the unit: every price handed over is scaled


class Bracketed(Strategy):
    """Trades one side from our signals; brackets and trailing from our levels (all scaled)."""

    side = 1
    enter = exit_ = opens = highs = lows = None  # arrays, set per run
    stops = targets = trail = None  # per-bar levels and trailing distances (scaled), or None

    def init(self):
        self.best = np.nan

    def next(self):
        i = len(self.data) - 1
        if i + 1 >= len(self.opens):
            return  # a signal on the last bar is never filled (ours ignores it too)
        if self.position and self.exit_[i]:
            self.position.close()
        elif self.position and self.trail is not None:
            self._trail(i)
        elif not self.position and self.enter[i] and not self.exit_[i]:
            self._enter(i)

    def _enter(self, i):
        fill, s = self.opens[i + 1], self.side  # the next open, our fill (no slippage)
        sl = None if self.stops is None else self.stops[i]  # levels read on the signal bar
        tp = None if self.targets is None else self.targets[i]
        if self.trail is not None:
            self.distance = self.trail[i]  # read on the signal bar
            self.best, sl = fill, fill - s * self.distance
        (self.buy if s > 0 else self.sell)(sl=sl, tp=tp)

    def _trail(self, i):
        """Move the stop to best - distance; best = fill, finished bars' highs, the next open."""
        trade = self.trades[0]
        extreme = self.highs[i] if self.side > 0 else self.lows[i]
        pick = max if self.side > 0 else min
        self.best = pick(self.best, extreme, self.opens[i + 1])
        trade.sl = self.best - self.side * self.distance


def run_backtesting(bars, ours: OurRun, *, side: int) -> pd.Series:
    frame = pd.DataFrame({name.capitalize(): bars[name].to_numpy() for name in
                          ("open", "high", "low", "close", "volume")},
                         index=pd.DatetimeIndex(bars["timestamp"].to_numpy()))
    prefix = "long" if side > 0 else "short"
    scaled = {kind: UNIT * ours.levels[f"{prefix}.{kind}"] if f"{prefix}.{kind}" in ours.levels else None
              for kind in ("stop_loss", "take_profit", "trailing_stop")}
    options = dict(side=side, enter=ours.signals[f"enter_{prefix}"], exit_=ours.signals[f"exit_{prefix}"],
                   opens=UNIT * bars["open"].to_numpy(), highs=UNIT * bars["high"].to_numpy(),
                   lows=UNIT * bars["low"].to_numpy(), stops=scaled["stop_loss"],
                   targets=scaled["take_profit"], trail=scaled["trailing_stop"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        oracle = FractionalBacktest(frame, Bracketed, cash=ours.result.config.capital,
                                    commission=ours.fee, fractional_unit=UNIT)
        return oracle.run(**options)


def their_trades(stats: pd.Series) -> dict[str, np.ndarray]:
    trades = stats["_trades"].sort_values("EntryBar", kind="stable")
    return {"side": np.where(trades["Size"] > 0, "long", "short"),
            "entry_bar": trades["EntryBar"].to_numpy(), "exit_bar": trades["ExitBar"].to_numpy(),
            "entry_price": trades["EntryPrice"].to_numpy(), "exit_price": trades["ExitPrice"].to_numpy(),
            "qty": trades["Size"].abs().to_numpy()}


CASES = {"rsi_stop_target": (RSI_BRACKET_AT, 1),
         "short_side": (SHORT_SIDE_AT, -1),
         "breakout_atr_trailing": (BREAKOUT_ATR_TRAILING, 1)}


@pytest.mark.parametrize("data", sorted(DATASETS))
@pytest.mark.parametrize("case", sorted(CASES))
def test_same_trades_and_final_equity_as_backtesting_py(case, data):
    load, values = DATASETS[data]
    script, side = CASES[case]
    bars = load()
    ours = run_ours(script, bars, values)
    stats = run_backtesting(bars, ours, side=side)
    theirs = their_trades(stats)
    # backtesting.py lists the trade left open at the end as well (its exit: the last close).
    assert ours.result.trades.height > 20
    assert_same_trades(ours.result.trades, theirs, rel=1e-7)
    final = stats["_equity_curve"]["Equity"].to_numpy()[-1]
    assert final_equity_if_left_open(ours) == pytest.approx(final, rel=1e-6)
