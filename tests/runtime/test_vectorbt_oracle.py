"""Cross-check against vectorbt (`Portfolio.from_signals`), an independent engine run only as a
test oracle (none of its code is copied). Four strategies x two data sets (EURUSD, generated).

Conventions aligned (docs/execution.md, "Cross-check with vectorbt"):
- Split bars. vectorbt fills an order at a price *within* the bar it is given and checks stops
  only from the next bar on; we fill at the open and then test the rest of that bar. Each of our
  bars becomes two vectorbt bars: A = (open, open, open, open), then B = the full bar. A signal on
  our bar t is given to A of t + 1 with `price=open`: the fill happens at the open and B tests
  the whole range, as we do. A's open is a traded price for vectorbt's trailing peak, as for ours.
- Stops relative to the fill (`stop_entry_price="fillprice"`), `sl_trail` for a percent trailing
  stop; vectorbt checks the stop before the target (our default, `fill pessimistic`).
- All-in sizing (`size=inf`), fee on each fill's notional, no slippage (vectorbt applies one
  slippage to both stops and targets; ours spares the target, a limit order).
- End of data: vectorbt leaves the last trade open, marked at the last close; we close it there
  and pay its fee, so final equity is compared with that fee added back.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from tests.runtime.oracles import (BREAKOUT_TRAILING, DATASETS, RSI_BRACKET, SHORT_SIDE, SMA_CROSS,
                                   OurRun, assert_same_trades, final_equity_if_left_open, run_ours)

try:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import vectorbt as vbt
except ImportError:  # a test-only dependency (pyproject's test extras)
    pytest.skip("vectorbt is not installed: `pip install vectorbt` runs these cross-checks",
                allow_module_level=True)


def split(values: np.ndarray, opens: np.ndarray) -> np.ndarray:
    """Our bar t as vectorbt bars 2t (the open only) and 2t + 1 (the bar)."""
    out = np.empty(2 * len(values))
    out[0::2], out[1::2] = opens, values
    return out


def at_next_open(flags: np.ndarray) -> np.ndarray:
    """A signal on our bar t's close acts at vectorbt bar 2(t + 1), our bar t + 1's open."""
    out = np.zeros(2 * len(flags), dtype=bool)
    out[2::2] = flags[:-1]
    return out


def run_vectorbt(bars, ours: OurRun, **stops):
    o = bars["open"].to_numpy()
    prices = {name: pd.Series(split(bars[name].to_numpy(), o)) for name in ("open", "high", "low", "close")}
    s = ours.signals
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return vbt.Portfolio.from_signals(
            prices["close"], entries=at_next_open(s["enter_long"]), exits=at_next_open(s["exit_long"]),
            short_entries=at_next_open(s["enter_short"]), short_exits=at_next_open(s["exit_short"]),
            price=prices["open"], open=prices["open"], high=prices["high"], low=prices["low"],
            size=np.inf, fees=ours.fee, init_cash=ours.result.config.capital,
            stop_entry_price="fillprice", freq="1h", **stops)


def their_trades(portfolio) -> dict[str, np.ndarray]:
    records = portfolio.trades.records_readable
    return {"side": np.where(records["Direction"] == "Long", "long", "short"),
            "entry_bar": records["Entry Timestamp"].to_numpy() // 2,
            "exit_bar": records["Exit Timestamp"].to_numpy() // 2,
            "entry_price": records["Avg Entry Price"].to_numpy(),
            "exit_price": records["Avg Exit Price"].to_numpy(),
            "qty": records["Size"].to_numpy()}


CASES = {
    "sma_cross": (SMA_CROSS, lambda v: {}),
    "rsi_stop_target": (RSI_BRACKET, lambda v: {"sl_stop": v["sl"], "tp_stop": v["tp"]}),
    "breakout_trailing": (BREAKOUT_TRAILING, lambda v: {"sl_stop": v["trail"], "sl_trail": True}),
    "short_side": (SHORT_SIDE, lambda v: {"sl_stop": v["sl"], "tp_stop": v["tp"]}),
}


@pytest.fixture(scope="module", params=sorted(DATASETS))
def dataset(request):
    load, values = DATASETS[request.param]
    return request.param, load(), values


@pytest.mark.parametrize("case", sorted(CASES))
def test_same_trades_and_final_equity_as_vectorbt(case, dataset):
    name, bars, values = dataset
    script, stops = CASES[case]
    ours = run_ours(script, bars, values)
    portfolio = run_vectorbt(bars, ours, **stops(values))
    trades = ours.result.trades
    assert trades.height > 20, "too few trades to compare"
    assert_same_trades(trades, their_trades(portfolio))
    assert final_equity_if_left_open(ours) == pytest.approx(portfolio.final_value(), rel=1e-6)
    reasons = set(trades["exit_reason"].to_list())
    expected = {"sma_cross": {"reversal"}, "rsi_stop_target": {"stop", "target"},
                "breakout_trailing": {"trailing"}, "short_side": {"stop", "target", "signal"}}[case]
    assert expected <= reasons, f"{case} on {name} never exits by {expected - reasons}"
