"""Position state inside a portfolio (issue 15): every symbol runs the script's rules and risk
values that read position state against its own position, as the single-symbol engine does
(docs/execution.md, "Portfolios"): a one-symbol universe equals the single-symbol engine bit for
bit, and a hand-worked two-symbol case shows each symbol's own entry, exit and bar count."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from tests.lang.strategies import ohlcv
from tests.runtime.test_position_state import position_scripts
from tradebot.data.panel import aligned
from tradebot.errors import UserError
from tradebot.pipeline import backtest, compile_source
from tradebot.portfolio_pipeline import backtest_portfolio

ROOT = Path(__file__).resolve().parents[2]

# The forms issue 13 names, each a whole script (atr(5): the generated bars are short).
NAMED = (
    # chandelier exit
    "enter long when close > highest(high, 3)[1]\n"
    "exit long when close < highest_since_entry(high) - 2 * atr(5)\n",
    # give up on a slow trade
    "enter long when close > open\nexit long when bars_since_entry >= 4 and open_profit_pct < 0.5%\n",
    # a stop at the entry price less a multiple of the ATR, and a short side's
    "stop_loss long at entry_price - 1.5 * atr(5)\nstop_loss short at entry_price + 1 * atr(5)\n"
    "enter long when close > close[1]\nenter short when close < close[1] and close < open\n",
    # a recursion reading the position, and the last exit
    "held = if position_side != 0 then held[1] + 1 else 0 starting 0\n"
    "pyramiding 2\nsize 40% of equity\n"
    'enter long when close > open and (bars_since_exit > 1 or last_exit_reason != "stop")\n'
    "exit long when held >= 3 and open_profit < open_profit[1]\n"
    "trailing_stop long at 2 * atr(5)\n",
)


def panel_of(frames: dict[str, pl.DataFrame]):
    return aligned(frames, 3_600_000)


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.one_of(st.sampled_from(NAMED), position_scripts().map(lambda script: script[0])),
       ohlcv(min_bars=5, max_bars=40))
def test_a_one_symbol_universe_reading_position_state_equals_the_single_symbol_engine(text, bars):
    try:
        single = backtest(compile_source(text, "s.tbs"), bars)
    except UserError:
        reject()  # a window longer than the bars
    strategy = compile_source('universe "*.csv"\n' + text, "u.tbs")
    portfolio = backtest_portfolio(strategy, panel_of({"X": bars}))
    assert portfolio.trades.drop("symbol").equals(single.trades), text
    for name in ("equity", "drawdown"):
        assert portfolio.equity[name].to_numpy().tobytes() == single.equity[name].to_numpy().tobytes()
    assert portfolio.position[:, 0].tobytes() == single.equity["position"].to_numpy().tobytes()
    assert portfolio.ruin == single.ruin


def frame(hours: list[int], rows: list[tuple[float, float, float, float]]) -> pl.DataFrame:
    start = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    o, h, l, c = ([float(x) for x in column] for column in zip(*rows))
    return pl.DataFrame({
        "timestamp": pl.Series([start + dt.timedelta(hours=t) for t in hours]).cast(pl.Datetime("ms", "UTC")),
        "open": o, "high": h, "low": l, "close": c, "volume": [1.0] * len(rows)})


HAND_WORKED = """universe "*.csv"
max_positions 2
size 50% of equity
leverage 2
enter long when bar_index == 0 or (bars_since_exit == 1 and last_exit_reason == "signal")
exit long when close < highest_since_entry(high) - 3 or bars_since_entry >= 3
"""


def test_hand_worked_two_symbols_each_with_its_own_position_state():
    """A has a bar every hour 0..8; B is listed an hour later and has no bar at hour 4, so its
    own bars (those `bar_index` counts) are hours 1, 2, 3, 5, 6, 7, 8. Capital 10,000, no fees,
    leverage 2 (so that the cap on the gross position never binds).

    A: bar_index 0 at hour 0 -> filled at hour 1's open 10: 5,000 / 10 = 500 units.
       highest_since_entry(high) from its entry bar: 11 (h1), 14 (h2), 14 (h3); at h3 the close
       10.8 < 14 - 3: out at h4's open 11 ("signal", +500). At h5 bars_since_exit is 1 and the
       last exit a signal: in again at h6's open 11, sized from the equity then: cash 5,250 plus
       B's 262.5 units at B's h6 open 20.6 = 10,657.5; half of it / 11 = 484.43 units; held to
       the end (h8, close 11).
    B: bar_index 0 at hour 1 -> filled at hour 2's open 20, sized from the equity at that open:
       cash 5,000 plus A's 500 units at A's h2 open 11 = 10,500; half of it / 20 = 262.5 units.
       Its entry is its own bar 1; bars_since_entry counts its own bars: 1 (h3), 2 (h5: no bar at
       h4), 3 (h6): out at h7's open 20.8 (counted on the timeline it would have been h6's open).
       Its own last exit (not A's) drives its re-entry rule: at h8 (the last bar) bars_since_exit
       is 1, a signal never filled.
    """
    flat = (11.0, 11.5, 10.5, 11.0)
    a = frame(list(range(9)), [(10, 10.5, 9.5, 10), (10, 11, 10, 11), (11, 14, 11, 13.5),
                               (13.5, 13.5, 10.5, 10.8), (11, 11.5, 10.5, 11)] + [flat] * 4)
    b = frame([1, 2, 3, 5, 6, 7, 8], [(20, 20.5, 19.5, 20), (20, 20.5, 19.8, 20.2), (20.2, 20.6, 20, 20.4),
                                      (20.4, 20.8, 20.2, 20.6), (20.6, 21, 20.4, 20.8),
                                      (20.8, 21, 20.5, 20.9), (20.9, 21, 20.8, 21)])
    result = backtest_portfolio(compile_source(HAND_WORKED, "u.tbs"), panel_of({"A": a, "B": b}))
    trades = result.trades.select("symbol", "entry_bar", "exit_bar", "entry_price", "exit_price", "qty",
                                  "exit_reason").rows()
    assert trades == [("A", 1, 4, 10.0, 11.0, 500.0, "signal"), ("B", 2, 7, 20.0, 20.8, 262.5, "signal"),
                      ("A", 6, 8, 11.0, 11.0, pytest.approx(10_657.5 / 2 / 11), "end_of_data")]
    assert result.equity["equity"][-1] == pytest.approx(10_000 + 500 + 262.5 * 0.8)
    assert result.equity["positions"].to_list() == [0, 1, 2, 2, 1, 1, 2, 1, 0]


def test_the_rotation_example_exits_each_symbol_at_its_own_first_chandelier_or_trend_signal():
    """examples/rotation_chandelier.tbs: every trade that left on a signal left at the next open of
    the first bar of *its* symbol since *its* entry where the close was under the SMA or under
    the highest high since that entry less 3 ATRs (TA-Lib's ATR, on the symbol's own bars)."""
    import talib

    from tradebot.config import Config
    from tradebot.pipeline import load_strategy
    from tradebot.portfolio_pipeline import universe_panel

    strategy = load_strategy(ROOT / "examples" / "rotation_chandelier.tbs")
    panel = universe_panel(strategy, Config())
    result = backtest_portfolio(strategy, panel)
    by_chandelier = 0
    for trade in result.trades.filter(pl.col("exit_reason") == "signal").iter_rows(named=True):
        bars, rows = panel.bars[trade["symbol"]], panel.rows[trade["symbol"]]
        high, low, close = (bars[name].to_numpy() for name in ("high", "low", "close"))
        trend, atr = talib.SMA(close, 100), talib.ATR(high, low, close, 22)
        entry, signal = np.searchsorted(rows, trade["entry_bar"]), np.searchsorted(rows, trade["exit_bar"]) - 1
        chandelier = np.maximum.accumulate(high[entry:signal + 1]) - 3 * atr[entry:signal + 1]
        below = close[entry:signal + 1]
        fired = (below < trend[entry:signal + 1]) | (below < chandelier)
        assert fired[-1] and not fired[:-1].any(), trade
        by_chandelier += bool(close[signal] >= trend[signal])
    assert by_chandelier > 0  # the chandelier, not the trend, closed some of them
