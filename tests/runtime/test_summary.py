"""The compiled metrics pass (runtime/summary.py) against the numpy definitions in metrics.py:
every metric of every section, on random backtests (ruined accounts included), and on trades
given as a frame or as the kernel's records."""
from __future__ import annotations

import math

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from tradebot.runtime import run_backtest, summary
from tradebot.runtime.metrics import equity_metrics, trade_metrics

from .support import scenarios


def numpy_metrics(result, close: np.ndarray) -> dict[str, dict]:
    """metrics.py's definitions, section by section, on a result's frames."""
    equity, position = result.equity["equity"].to_numpy(), result.equity["position"].to_numpy()
    everything = {**equity_metrics(equity, result.equity["timestamp"], capital=result.config.capital,
                                   bars_per_year=result.bars_per_year),
                  "buy_and_hold_return_pct": 100.0 * (close[-1] / close[0] - 1.0),
                  **trade_metrics(result.trades, exposed=position != 0)}
    sides = {side: trade_metrics(result.trades.filter(pl.col("side") == side), exposed=position * sign > 0)
             for side, sign in (("long", 1.0), ("short", -1.0))}
    return {"all": everything, **sides}


def same(a: float, b: float) -> bool:
    if math.isinf(a) or math.isinf(b):
        return a == b
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


@settings(max_examples=150, deadline=None)
@given(scenarios(min_bars=1))
def test_the_compiled_pass_equals_the_numpy_definitions(scenario) -> None:
    bars, signals, config = scenario
    result = run_backtest(bars, signals, config)
    expected = numpy_metrics(result, bars["close"].to_numpy())
    assert {s: list(m) for s, m in result.metrics.items()} == {s: list(m) for s, m in expected.items()}
    for section, metrics in expected.items():
        for key, value in metrics.items():
            got = result.metrics[section][key]
            assert same(got, value), (section, key, got, value)
            assert type(got) is type(value) or isinstance(value, float), (section, key)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(-1.0, 1.0), max_size=40), st.integers(0, 40))
def test_the_return_sums_add_what_the_arrays_would_in_the_same_order(moves, broke) -> None:
    """The equity pass recomputes each bar return instead of storing them: its sums must be those
    of `_sum4` over the arrays, bit for bit (a bar after non-positive equity returns 0)."""
    equity = 100.0 * np.cumprod(1.0 + np.array(moves, dtype=np.float64) * 0.5)
    if broke < len(equity):
        equity[broke] = 0.0
    returns = np.array([equity[t] / equity[t - 1] - 1.0 if equity[t - 1] > 0 else 0.0
                        for t in range(1, len(equity))], dtype=np.float64)
    total, losses = summary._returns_and_losses(equity)
    assert total == summary._sum4(returns, 0.0, False)
    assert losses == summary._sum4(np.minimum(returns, 0.0), 0.0, True)
    mean = total / len(returns) if len(returns) else 0.0
    assert summary._deviations(equity, mean) == summary._sum4(returns, mean, True)
