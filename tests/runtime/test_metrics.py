"""Metrics against hand-computed values, a naive standard-library computation, and edge cases."""
from __future__ import annotations

import math
import statistics
from datetime import datetime, timedelta, timezone

import numpy as np
import polars as pl
import pytest
from hypothesis import assume, given, settings

from tests.runtime.reference import reference_metrics
from tests.runtime.support import HOUR_MS, START_MS, load_eurusd, make_bars, scenarios
from tradebot.runtime import Signals, bars_per_year, compute_metrics, run_backtest
from tradebot.runtime.engine import TRADE_SCHEMA, equity_curve

approx = pytest.approx


def hourly(n: int) -> pl.Series:
    return pl.Series(START_MS + HOUR_MS * np.arange(n)).cast(pl.Datetime("ms", "UTC"))


def trades_of(rows: list[tuple[str, float, float, int, float]]) -> pl.DataFrame:
    """A trade frame from (side, pnl, return_pct, bars_held, fees); other columns are dummies."""
    columns = {name: [] for name in TRADE_SCHEMA}
    for side, pnl, ret, held, fees in rows:
        values = {"side": side, "pnl": pnl, "return_pct": ret, "bars_held": held, "fees": fees,
                  "entry_time": datetime(2024, 1, 1, tzinfo=timezone.utc),
                  "exit_time": datetime(2024, 1, 1, tzinfo=timezone.utc),
                  "entry_price": 1.0, "exit_price": 1.0, "qty": 1.0, "exit_reason": "signal",
                  "entry_bar": 0, "exit_bar": held, "ambiguous": False}
        for name in TRADE_SCHEMA:
            columns[name].append(values[name])
    return pl.DataFrame(columns, schema=TRADE_SCHEMA)


def test_metrics_by_hand():
    equity = np.array([100.0, 110.0, 99.0, 120.0])
    frame = equity_curve(hourly(4), equity, np.array([0.0, 1.0, -1.0, 0.0]))
    trades = trades_of([("long", 20.0, 20.0, 2, 1.0), ("short", -5.0, -5.0, 1, 0.5),
                        ("long", 5.0, 4.0, 3, 0.5)])
    # bars_per_year = 3 makes the 3 intervals exactly one year.
    m = compute_metrics(trades, frame, capital=100.0, bars_per_year=3.0,
                        close=np.array([1.0, 1.2, 1.1, 1.5]))
    r = [0.1, -0.1, 120 / 99 - 1]
    mean, std = sum(r) / 3, statistics.stdev(r)
    everything = m["all"]
    assert everything["total_return_pct"] == approx(20.0)
    assert everything["cagr_pct"] == approx(20.0)                       # (120/100)^(1/1) - 1
    assert everything["annualized_return_pct"] == approx(100 * mean * 3)
    assert everything["volatility_pct"] == approx(100 * std * math.sqrt(3))
    assert everything["sharpe"] == approx(mean / std * math.sqrt(3))
    assert everything["sortino"] == approx(mean / math.sqrt(0.01 / 3) * math.sqrt(3))
    assert everything["max_drawdown_pct"] == approx(-10.0)              # 99 / 110 - 1
    assert everything["calmar"] == approx(0.2 / 0.1)
    assert everything["max_drawdown_bars"] == 2                         # peak bar 1, back at bar 3
    assert everything["max_drawdown_days"] == approx(2 / 24)
    assert everything["buy_and_hold_return_pct"] == approx(50.0)
    assert everything["exposure_pct"] == approx(50.0)
    assert everything["trades"] == 3 and everything["win_rate_pct"] == approx(200 / 3)
    assert everything["profit_factor"] == approx(25 / 5)
    assert everything["expectancy"] == approx(20 / 3)
    assert everything["sqn"] == approx(math.sqrt(3) * (20 / 3) / statistics.stdev([20, -5, 5]))
    assert everything["avg_trade_pct"] == approx(19 / 3)
    assert (everything["best_trade_pct"], everything["worst_trade_pct"]) == (20.0, -5.0)
    assert everything["avg_bars_held"] == 2.0 and everything["fees_paid"] == 2.0
    long, short = m["long"], m["short"]
    assert long["trades"] == 2 and long["profit_factor"] == math.inf   # no losing long trade
    assert long["sqn"] == approx(math.sqrt(2) * 12.5 / statistics.stdev([20, 5]))
    assert long["exposure_pct"] == approx(25.0) and short["exposure_pct"] == approx(25.0)
    assert short["profit_factor"] == 0.0 and short["sqn"] == 0.0        # one trade: no spread
    assert short["win_rate_pct"] == 0.0 and short["expectancy"] == -5.0


def test_zero_trades_give_defined_values_never_nan():
    frame = equity_curve(hourly(5), np.full(5, 1000.0), np.zeros(5))
    m = compute_metrics(trades_of([]), frame, capital=1000.0, bars_per_year=8766.0,
                        close=np.ones(5))
    for column in m.values():
        for key, value in column.items():
            assert value == 0 or key in ("start_equity", "final_equity", "bars", "bars_per_year")


def test_a_single_bar_has_no_annualization():
    frame = equity_curve(hourly(1), np.array([50.0]), np.zeros(1))
    m = compute_metrics(trades_of([]), frame, capital=50.0, bars_per_year=0.0, close=np.ones(1))
    assert all(math.isfinite(v) for column in m.values() for v in column.values())
    assert m["all"]["cagr_pct"] == 0.0 and m["all"]["sharpe"] == 0.0


def test_bars_per_year_of_regular_hourly_data_is_8766():
    assert bars_per_year(hourly(1000)) == approx(365.25 * 24)
    assert bars_per_year(hourly(1)) == 0.0


def test_bars_per_year_follows_weekend_gaps():
    # One year of Monday-Friday hourly bars, as FX has: 5 * 24 bars a week, not 7 * 24.
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)  # a Monday
    hours = [start + timedelta(hours=h) for h in range(366 * 24)]
    weekdays = pl.Series([t for t in hours if t.weekday() < 5]).cast(pl.Datetime("ms", "UTC"))
    assert bars_per_year(weekdays) == approx(5 * 24 * 365.25 / 7, rel=0.01)


def test_bars_per_year_of_the_bundled_eurusd_data():
    per_year = bars_per_year(load_eurusd()["timestamp"])
    assert 5000 < per_year < 6500  # hourly, weekdays only (8766 if it were 24/7)


@settings(max_examples=100, deadline=None)
@given(scenarios(min_bars=2))
def test_metrics_match_a_naive_computation(scenario):
    bars, signals, config = scenario
    result = run_backtest(bars, signals, config)
    equity = result.equity["equity"].to_list()
    assume(min(equity) > 0)  # the naive version does not model ruin
    per_year = float(bars.height - 1)  # a one-year span keeps CAGR finite on short samples
    metrics = compute_metrics(result.trades, result.equity, capital=config.capital,
                              bars_per_year=per_year, close=bars["close"].to_numpy())["all"]
    naive = reference_metrics(equity, result.trades["pnl"].to_list(),
                              result.trades["return_pct"].to_list(),
                              capital=config.capital, bars_per_year=per_year)
    for key, value in naive.items():
        assert metrics[key] == approx(value, rel=1e-9, abs=1e-9), key


def test_metric_keys_are_the_same_for_every_run():
    bars = make_bars([1, 2, 3], [1, 2, 3])
    keys = {side: set(column) for side, column in
            run_backtest(bars, Signals.none(3)).metrics.items()}
    assert keys["long"] == keys["short"] and keys["long"] < keys["all"]
