"""A session forgets its oldest bars (live/window.py) without changing a decision: random scripts
on random bars with a tiny horizon (many moves of the first bar, many refused), restarts from the
journal included, give the trades and equity of a backtest over every bar, bit for bit; a real
script on a float random walk keeps a bounded number of bars; a script that never forgets (a
running total, `bar_index`) keeps them all."""
from __future__ import annotations

import datetime as dt
import math
import tempfile
from pathlib import Path

import numpy as np
import polars as pl
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.lang.strategies import ohlcv
from tests.live.support import (HOUR_MS, assert_files_match, assert_same_as_backtest, bar_rows, compiled, new_session,
                                scripts)
from tradebot.lang.lookback import lookback
from tradebot.live.session import PaperSession, backtest_of_session
from tradebot.live.window import Retention, convergence_horizon, same_state
from tradebot.pipeline import Strategy, engine_nodes


def _run(strategy: Strategy, bars: pl.DataFrame, folder: Path, warmup: int, restarts: set[int],
         horizon: int | None = None) -> PaperSession:
    session = new_session(strategy, folder, horizon)
    session.start(bars.head(warmup))
    for i, row in enumerate(bar_rows(bars)[warmup:]):
        session.on_bar(row)
        if i in restarts:  # dropped as by a kill; the same command resumes it
            session = new_session(strategy, folder, horizon)
            session.resume()
    return session


def _walk(n: int, seed: int = 5) -> pl.DataFrame:
    """A float random walk (not on a binary grid: window sums round differently by their split)."""
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.004, n)))
    start = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    return pl.DataFrame({"timestamp": pl.Series([start + dt.timedelta(hours=i) for i in range(n)]).cast(
        pl.Datetime("ms", "UTC")), "open": np.concatenate([[100.0], close[:-1]]), "high": close * 1.003,
        "low": close * 0.997, "close": close, "volume": rng.uniform(1, 100, n)})


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(scripts(), ohlcv(min_bars=40, max_bars=160), st.integers(1, 6), st.sets(st.integers(0, 150), max_size=3))
def test_forgetting_bars_changes_no_decision(text, bars, horizon, restarts) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        strategy = compiled(text, Path(tmp) / "s.tbs")
        warmup = min(lookback(engine_nodes(strategy.checked).values()).bars(HOUR_MS), 8)
        session = _run(strategy, bars, Path(tmp) / "session", warmup, restarts, horizon)
        event("forgot bars" if session.frame.first else "kept every bar")
        result = session.result()
        session.close()
        expected = backtest_of_session(strategy, bars, warmup, interval_ms=HOUR_MS)
        assert_same_as_backtest(result, expected, bars.height - 1)
        assert_files_match(Path(tmp) / "session", expected, bars.height - 1)


SCRIPT = """fast = ema(close, 12)
slow = sma(close, 30)
enter long when fast crosses above slow and rsi(close, 14) < 70
exit long when fast crosses below slow
enter short when close < lowest(low, 20)[1]
exit short when close > highest(high, 20)[1]
stop_loss 2 * atr(14)
take_profit stdev(close, 20) * 3
"""


def test_a_real_script_keeps_a_bounded_window_and_trades_as_the_backtest(tmp_path: Path) -> None:
    strategy = compiled(SCRIPT, tmp_path / "s.tbs")
    bars = _walk(9000)
    session = _run(strategy, bars, tmp_path / "session", 40, {4000, 6100})
    retention = session.retention
    assert retention.period == 420  # lcm(12, 30, 14, 20) and the 1-bar history offsets
    assert retention.horizon == convergence_horizon(1 / 30)  # no check failed
    assert session.frame.first >= 5000  # bars were forgotten, also after the restarts
    assert session.frame.held < retention.keep + retention.step
    result = session.result()
    session.close()
    assert result.trades.height > 20
    assert_same_as_backtest(result, backtest_of_session(strategy, bars, 40, interval_ms=HOUR_MS), 8999)


def test_a_long_warm_up_is_cut_to_the_window_before_the_first_live_bar(tmp_path: Path) -> None:
    strategy = compiled(SCRIPT, tmp_path / "s.tbs")
    bars = _walk(8000)
    warm = new_session(strategy, tmp_path / "warm")
    warm.start(bars.head(7000))
    assert 7000 - warm.retention.keep - warm.retention.period < warm.frame.first  # before any live bar
    warm.close()
    session = _run(strategy, bars, tmp_path / "session", 7000, set())
    resumed = new_session(strategy, tmp_path / "session")
    resumed.resume()
    assert (resumed.frame.first, resumed.frame.held) == (session.frame.first, session.frame.held)
    assert_same_as_backtest(session.result(), backtest_of_session(strategy, bars, 7000, interval_ms=HOUR_MS), 7999)


def test_a_running_total_or_bar_index_keeps_every_bar(tmp_path: Path) -> None:
    for name, text in (("cum", "enter long when cum(close - open) > 0\nexit long when cum(close - open) < 0\n"),
                       ("index", "enter long when bar_index % 7 == 0\nexit long when bar_index % 5 == 0\n")):
        strategy = compiled(text, tmp_path / f"{name}.tbs")
        bars = _walk(600)
        session = _run(strategy, bars, tmp_path / name, 0, set(), horizon=2)
        assert session.frame.first == 0 and session.frame.held == 600
        assert session.retention.never_forgets == (name if name == "cum" else "bar_index",)
        assert_same_as_backtest(session.result(), backtest_of_session(strategy, bars, 0, interval_ms=HOUR_MS), 599)


def test_a_slow_filter_gets_more_bars_after_a_failed_check(tmp_path: Path) -> None:
    """A horizon far too short for an EMA of 20: the check refuses, the horizon doubles until
    the EMA has converged, then bars are forgotten, and nothing differs."""
    strategy = compiled("enter long when ema(close, 20) > sma(close, 5)\nexit long when close < sma(close, 5)\n",
                        tmp_path / "s.tbs")
    bars = _walk(3000)
    session = _run(strategy, bars, tmp_path / "session", 0, {1500}, horizon=3)
    assert session.retention.horizon >= 3 * 2 ** 6  # refused at 3, 6, ..., 96 at least
    assert 0 < session.frame.first
    assert_same_as_backtest(session.result(), backtest_of_session(strategy, bars, 0, interval_ms=HOUR_MS), 2999)


def test_the_check_refuses_a_start_that_splits_the_window_sums_differently(tmp_path: Path) -> None:
    strategy = compiled("enter long when close > sma(close, 30) + stdev(close, 30)\n", tmp_path / "s.tbs")
    bars = _walk(1000)
    assert same_state(strategy.plan, bars, 300, 200, interval_ms=HOUR_MS)  # a multiple of 30
    assert not same_state(strategy.plan, bars, 301, 200, interval_ms=HOUR_MS)


def test_convergence_horizon_is_below_one_ulp() -> None:
    alpha = 2 / 21  # an EMA of 20
    h = convergence_horizon(alpha)
    assert h == math.ceil(-53 * math.log(2) / math.log(19 / 21))
    assert (1 - alpha) ** h < 2 ** -53 <= (1 - alpha) ** (h - 1)
    retention = Retention(10, 100, 7)
    assert retention.keep == 210 and retention.step == 210 and retention.longer().horizon == 200
    strategy = compiled("enter long when barssince(close > open) > 3 and ema(close, 9) > close\n",
                        Path(tempfile.mkdtemp()) / "s.tbs")
    nodes = list(engine_nodes(strategy.checked).values())
    assert Retention.of(strategy.plan, nodes, HOUR_MS).never_forgets == ("barssince",)
