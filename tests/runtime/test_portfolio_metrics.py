"""A portfolio's own metrics (turnover, concurrency, the symbols' return correlation), worked by
hand and against pandas' pairwise correlation."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest

from tests.runtime.test_portfolio import bars_of, entries
from tradebot.runtime import ExecutionConfig
from tradebot.runtime.execution import Sizing
from tradebot.runtime.metrics import PORTFOLIO_METRICS
from tradebot.runtime.portfolio import run_portfolio
from tradebot.runtime import portfolio_metrics
from tradebot.runtime.portfolio_metrics import (CHUNK_BARS, concurrency, correlation_to_others, mean_correlation,
                                                return_correlation, turnover)


def test_turnover_is_every_fills_notional_over_the_mean_equity():
    # 10 units bought at 100 and sold at 110 (2,100 traded), 5 at 20 and 20 (200): 2,300 over a
    # mean equity of (1,000 + 1,300) / 2 = 1,150 is 2.0.
    trades = pl.DataFrame({"qty": [10.0, 5.0], "entry_price": [100.0, 20.0], "exit_price": [110.0, 20.0]})
    assert turnover(trades, np.array([1_000.0, 1_300.0])) == pytest.approx(2.0)
    assert turnover(trades.clear(), np.array([1_000.0])) == 0.0
    assert turnover(trades, np.array([])) == 0.0


def test_concurrency_is_the_mean_and_the_most_of_the_symbols_held():
    assert concurrency(np.array([0, 2, 2, 1, 2, 0])) == {"avg_positions": 7 / 6, "max_positions_held": 2}
    assert concurrency(np.array([], dtype=np.int64)) == {"avg_positions": 0.0, "max_positions_held": 0}


def test_correlation_hand_worked_same_and_opposite_moves():
    """A and B (twice A's price) have the same returns, +100 %, -50 %, ...: correlation 1. C moves
    the other way each bar: -1 with both. Mean over the three pairs (1 - 1 - 1) / 3; per symbol,
    the mean with the others: A (1 - 1) / 2 = 0, B 0, C -1."""
    a = np.array([1.0, 2.0, 1.0, 2.0, 1.0])
    close = np.column_stack([a, 2 * a, 3.0 - a])
    matrix = return_correlation(close)
    assert matrix == pytest.approx(np.array([[1, 1, -1], [1, 1, -1], [-1, -1, 1]]))
    assert mean_correlation(matrix) == pytest.approx(-1 / 3)
    assert correlation_to_others(matrix) == pytest.approx([0.0, 0.0, -1.0])


@pytest.mark.parametrize("chunk", [CHUNK_BARS, 7])
def test_correlation_with_gaps_equals_pandas_pairwise_correlation(chunk, monkeypatch):
    """Missing bars (NaN) leave a symbol without the returns around them; each pair is correlated
    over the returns both have, as pandas' `corr(min_periods=3)` does. With chunks of 7 bars,
    chunks without a gap (summed without masks) and chunks with one add up alike."""
    monkeypatch.setattr(portfolio_metrics, "CHUNK_BARS", chunk)
    rng = np.random.default_rng(5)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, (300, 4)), axis=0))
    close[rng.random(close.shape) < 0.2] = np.nan
    close[100:200] = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, (100, 4)), axis=0))  # no gap here
    close[:290, 3] = np.nan  # D: too few common returns with anyone
    returns = close[1:] / close[:-1] - 1.0
    expected = pd.DataFrame(returns).corr(min_periods=3).to_numpy()
    got = return_correlation(close)
    off = ~np.eye(4, dtype=bool)
    assert np.allclose(got[off], expected[off], equal_nan=True, atol=1e-12)
    assert np.isnan(got[0, 3]) == np.isnan(expected[0, 3])
    assert mean_correlation(got) == pytest.approx(np.nanmean(expected[np.triu_indices(4, 1)]))


def test_undefined_correlation_gives_zero_not_nan():
    assert mean_correlation(np.array([[1.0]])) == 0.0
    assert mean_correlation(np.array([[1.0, np.nan], [np.nan, 1.0]])) == 0.0
    assert correlation_to_others(np.array([[1.0, np.nan], [np.nan, 1.0]])).tolist() == [0.0, 0.0]


def test_the_hand_worked_rotation_reports_its_portfolio_metrics():
    """The slots case of test_portfolio.py: B 250 at 20 → 22, C 125 at 40 → 48, A 550 at 10 → 11;
    positions held 0, 2, 2, 1, 2, 0."""
    n = 6
    bars = bars_of({"A": [10, 10, 10, 10, 10, 11], "B": [20, 20, 22, 24, 24, 24],
                    "C": [40, 40, 40, 44, 48, 48]}, n)
    signals = [entries(n, [0, 3]), entries(n, [0], exits=[2]), entries(n, [0])]
    config = ExecutionConfig(10_000.0, 0.0, 0.0, sizing=Sizing("equity", 0.5))
    result = run_portfolio(bars, signals, np.tile([1.0, 3.0, 2.0], (n, 1)), config, max_positions=2)
    account = result.metrics["all"]
    mean_equity = float(result.equity["equity"].mean())
    traded = {"A": 550 * (10 + 11), "B": 250 * (20 + 22), "C": 125 * (40 + 48)}
    assert account["turnover"] == pytest.approx(sum(traded.values()) / mean_equity)
    assert account["avg_positions"] == pytest.approx(7 / 6)
    assert account["max_positions_held"] == 2
    assert account["exposure_pct"] == pytest.approx(100 * 4 / 6)
    for symbol, notional in traded.items():
        assert result.per_symbol[symbol]["turnover"] == pytest.approx(notional / mean_equity)
    # Per symbol, bars ending with a position (the last bar closes everything): A 4; B 1, 2; C 1..4.
    assert [result.per_symbol[s]["exposure_pct"] for s in "ABC"] == pytest.approx([100 / 6, 100 * 2 / 6, 100 * 4 / 6])
    assert account["avg_correlation"] == pytest.approx(mean_correlation(result.correlation()))
    assert {m.key for m in PORTFOLIO_METRICS} <= set(account)


def test_every_portfolio_metric_is_documented():
    docs = (Path(__file__).resolve().parents[2] / "docs" / "execution.md").read_text(encoding="utf-8")
    assert not [m.key for m in PORTFOLIO_METRICS if f"`{m.key}`" not in docs]
