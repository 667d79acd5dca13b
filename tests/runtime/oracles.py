"""Shared pieces of the cross-checks against independent engines (vectorbt, backtesting.py).

The four strategies are .tbs scripts run through the whole pipeline (parse, check, compile,
`backtest_from_frame`); the oracles get the very signal and level arrays our plan computed, so a
difference can only come from execution. Data: the bundled EURUSD hours and a generated random
walk with opening gaps and wide bars (so that stops, targets and gaps all happen).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from tests.runtime.support import HOUR_MS, START_MS, load_eurusd
from tradebot.lang.checker import SIGNALS
from tradebot.pipeline import backtest_from_frame, compile_source, engine_nodes
from tradebot.runtime import BacktestResult

SMA_CROSS = """
fee 0.02%
fast = sma(close, 10)
slow = sma(close, 30)
enter long  when fast crosses above slow
enter short when fast crosses below slow
"""

RSI_BRACKET = """
fee 0.05%
param sl = 2% in 0.25%..5%
param tp = 4% in 0.5%..10%
param upper = 70 in 50..80
r = rsi(close, 14)
stop_loss sl
take_profit tp
enter long when r crosses above 30
exit  long when r crosses above upper
"""

# The same two strategies with absolute levels (`at`), read on the signal bar: backtesting.py
# wants its brackets on the right side of the signal bar's close when the order is placed.
RSI_BRACKET_AT = """
fee 0.05%
param sl = 2% in 0.25%..5%
param tp = 4% in 0.5%..10%
param upper = 70 in 50..80
r = rsi(close, 14)
stop_loss at close * (1 - sl)
take_profit at close * (1 + tp)
enter long when r crosses above 30
exit  long when r crosses above upper
"""

SHORT_SIDE_AT = """
fee 0.04%
param sl = 1% in 0.25%..5%
param tp = 2% in 0.5%..10%
m = sma(close, 50)
stop_loss short at close * (1 + sl)
take_profit short at close * (1 - tp)
enter short when close crosses below m
exit  short when close crosses above m
"""

BREAKOUT_TRAILING = """
fee 0.03%
param trail = 1% in 0.1%..5%
trailing_stop trail
enter long when close > highest(high, 20)[1]
"""

BREAKOUT_ATR_TRAILING = """
fee 0.03%
param k = 3 in 1..6
trailing_stop k * atr(14)
enter long when close > highest(high, 20)[1]
"""

SHORT_SIDE = """
fee 0.04%
param sl = 1% in 0.25%..5%
param tp = 2% in 0.5%..10%
m = sma(close, 50)
stop_loss short sl
take_profit short tp
enter short when close crosses below m
exit  short when close crosses above m
"""

# Stops sized to each data set's volatility (EURUSD moves ~0.1 % an hour; the generated data ~1 %).
# On the generated data some bars reach both a stop and a target (ambiguous: the stop fills).
EURUSD_LEVELS = {"sl": 0.004, "tp": 0.006, "upper": 70, "trail": 0.004, "k": 3}
GENERATED_LEVELS = {"sl": 0.01, "tp": 0.015, "upper": 65, "trail": 0.015, "k": 3}


def generated_bars(n: int = 4_000, *, seed: int = 7) -> pl.DataFrame:
    """A random walk with opening gaps and wicks: hourly bars, 1 % moves, 0.5 % gaps."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n)))
    open_ = np.r_[100.0, close[:-1]] * np.exp(rng.normal(0.0, 0.005, n))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0.0, 0.006, n)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0.0, 0.006, n)))
    times = pl.Series(START_MS + HOUR_MS * np.arange(n, dtype=np.int64)).cast(pl.Datetime("ms", "UTC"))
    return pl.DataFrame({"timestamp": times, "open": open_, "high": high, "low": low, "close": close,
                         "volume": np.ones(n)})


DATASETS = {"eurusd": (load_eurusd, EURUSD_LEVELS), "generated": (generated_bars, GENERATED_LEVELS)}


@dataclass(frozen=True)
class OurRun:
    """Our backtest of a script plus the arrays the oracles are given."""

    result: BacktestResult
    signals: dict[str, np.ndarray]
    levels: dict[str, np.ndarray]
    fee: float


def run_ours(script: str, bars: pl.DataFrame, values: dict[str, float]) -> OurRun:
    params = {name: value for name, value in values.items() if f"param {name} " in script}
    strategy = compile_source(script, "oracle.tbs", overrides=params)
    frame = strategy.plan.evaluate(bars)
    result = backtest_from_frame(strategy.checked, bars, frame)
    names = engine_nodes(strategy.checked)
    signals = {name: frame[name].fill_null(False).to_numpy() for name in SIGNALS}
    levels = {name: frame[name].to_numpy() for name in names if name not in SIGNALS}
    return OurRun(result, signals, levels, strategy.checked.settings["fee"])


def final_equity_if_left_open(run: OurRun) -> float:
    """Our final equity as an engine that leaves the last trade open (marked at the last close)
    reports it: ours closes it there and pays the exit fee (docs/execution.md, cross-checks)."""
    trades, final = run.result.trades, run.result.equity["equity"][-1]
    if trades.height and trades["exit_reason"][-1] == "end_of_data":
        last = trades.row(-1, named=True)
        return final + run.fee * last["qty"] * last["exit_price"]
    return final


def assert_same_trades(ours: pl.DataFrame, theirs: dict[str, np.ndarray], *, rel: float = 1e-9) -> None:
    """Identical trades: side, entry and exit bar, entry and exit price (and quantity if given)."""
    assert ours.height == len(theirs["entry_bar"]), (ours.height, len(theirs["entry_bar"]))
    np.testing.assert_array_equal(ours["side"].to_numpy(), theirs["side"])
    for column in ("entry_bar", "exit_bar"):
        mismatch = np.nonzero(ours[column].to_numpy() != theirs[column])[0]
        assert mismatch.size == 0, f"{column} differs first at trade {mismatch[:1]}"
    for column in ("entry_price", "exit_price", "qty"):
        if column in theirs:
            np.testing.assert_allclose(ours[column].to_numpy(), theirs[column], rtol=rel, err_msg=column)
